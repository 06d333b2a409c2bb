//! BPF maps with the Linux kernel's semantics, for programs and for the host.
//!
//! - Programs get pointers straight into value memory ([`Map::lookup`]), 8-byte aligned,
//!   valid while they stay inside a read section of the map's RCU domain; per-CPU maps
//!   select the running virtual CPU's value.
//! - The host gets the `bpf()` syscall's behaviour: copies ([`Map::lookup_copy`], per-CPU
//!   values for every CPU, each rounded up to 8 bytes), `BPF_ANY/NOEXIST/EXIST/F_LOCK`
//!   updates, `get_next_key`, batch operations, access flags and [`Map::freeze`].
//! - Every failure is a [`MapError`] whose [`MapError::errno`] is the kernel's negative errno.
//! - Element memory a program may still point to is reclaimed only through `lull-rcu`, after
//!   both grace periods (atomic and sleepable); preallocated slots are reused at once, as in
//!   the kernel (memory stays valid, contents may change).
//! - [`poison`]: freed map memory is overwritten with [`POISON`] and, when enabled (the
//!   `poison` feature, `LULL_MAPS_POISON`, or [`poison::enable`]), kept in a quarantine so
//!   that a read after free shows the pattern; counters of live blocks and live maps
//!   ([`Map::live_count`]) show that deferred frees happen.
//!
//! Supported types: array, percpu_array, hash (preallocated or `BPF_F_NO_PREALLOC`),
//! percpu_hash, lru_hash, lru_percpu_hash, ringbuf, queue, stack, prog_array, array_of_maps,
//! hash_of_maps. Raw memory is confined to `mem`, `poison`, `hash::table`, `ringbuf::region`
//! and `fd`.
#![deny(unsafe_code)]

mod array;
mod error;
mod fd;
mod hash;
mod map;
mod mem;
pub mod poison;
mod queue_stack;
mod ringbuf;
mod spec;

pub use error::{MapError, MapResult, errno};
pub use fd::ProgHandle;
pub use hash::Batch;
pub use map::Map;
pub use poison::{POISON, POISON_WORD};
pub use ringbuf::{RingBuf, RingbufConsumer};
pub use spec::{
    KMALLOC_MAX_SIZE, MAX_TAIL_CALL_CNT, MapContext, MapSpec, PAGE_SIZE, PCPU_MIN_UNIT_SIZE,
    inner_compatible, ringbuf_flags, update_flags, validate,
};

#[cfg(all(test, loom))]
mod loom_tests;
