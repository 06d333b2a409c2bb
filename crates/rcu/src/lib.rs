//! Two-flavour read-copy-update for Lull: the user-space analogue of the kernel's RCU (which
//! protects non-sleepable BPF programs) and RCU tasks trace (which protects sleepable ones).
//!
//! This crate owns *when memory may be reclaimed*; it knows nothing about maps or programs.
//!
//! # Model
//! * An **atomic read section** ([`Domain::read_atomic`]) is what a non-sleepable program runs in:
//!   the holder must not block.
//! * A **sleepable read section** ([`Domain::read_sleepable`]) is what a sleepable program runs in:
//!   the holder may block (sleep, wait for I/O, fault in user memory) for as long as it likes.
//! * A **grace period** of a flavour ends once every section of that flavour that was open when it
//!   started has closed ([`Domain::synchronize_atomic`], [`Domain::synchronize_sleepable`],
//!   [`Domain::synchronize_both`]).
//! * **Deferred reclamation** ([`Domain::defer_free_both`] and friends) queues a destructor that a
//!   background reclaimer runs after the grace period(s); [`Domain::barrier`] waits until all
//!   work queued so far has run (the `rcu_barrier` analogue).
//!
//! Both flavours cost the same to enter and leave; they differ only in which grace periods wait for
//! them, so a thread blocked in a sleepable section delays sleepable (and "both") grace periods
//! only, never an atomic one, and never any reader or writer: only the reclaimer and explicit
//! `synchronize_*`/`barrier` callers ever wait.
//!
//! ```no_run
//! # // (`no_run`: loom builds cannot run it; `tests/grace.rs` exercises the same calls.)
//! use lull_rcu::Domain;
//! use std::sync::{Arc, Mutex};
//!
//! let domain = Domain::new();
//! let current = Mutex::new(Arc::new(String::from("v1")));
//! {
//!     let _section = domain.read_sleepable(); // may block in here
//!     assert_eq!(current.lock().unwrap().as_str(), "v1");
//! }
//! let old = std::mem::replace(&mut *current.lock().unwrap(), Arc::new("v2".into()));
//! domain.defer_free_both(Box::new(old)); // dropped once both grace periods have passed
//! domain.barrier().unwrap();
//! assert_eq!(domain.pending(), 0);
//! ```
//!
//! # Protocol
//! Every (thread, domain) pair owns a cache-line-padded [`registry`] slot with one 64-bit
//! *section word* per flavour. The word is even outside a section and odd inside one; only the
//! owning thread writes it, and it only ever increases, so a value identifies one section:
//!
//! * enter (outermost): `word.store(v + 1, Release)`, then the *light fence* `Fr`;
//! * exit (outermost): `word.store(v + 2, Release)`; nested sections only bump a thread-local count;
//! * grace period: the *heavy fence* `Fw`, then read every slot's word (`Acquire`) and remember the
//!   odd ones; the grace period is over once each remembered word has changed value.
//!
//! The light/heavy pair is asymmetric like the kernel's: where `membarrier(2)` with
//! `MEMBARRIER_CMD_PRIVATE_EXPEDITED` is available, `Fr` is only a compiler fence and `Fw` is the
//! system call, which makes every running thread of the process execute a full barrier (threads
//! not running have passed through a context switch, itself a full barrier). Otherwise (or under
//! loom) `Fr` and `Fw` are both `fence(SeqCst)`. See [`fence`].
//!
//! # Why it is correct (which fence pairs with which)
//! A writer first unlinks an object (store `W` to the shared pointer), then — in its own thread,
//! or in the reclaimer after a mutex hand-off, either way `W` *happens before* `Fw` — runs a grace
//! period and finally frees the object. Take any reader section that loads the pointer (`L`,
//! after its enter store `E` and its fence `Fr`). The SeqCst fences `Fr` and `Fw` are totally
//! ordered:
//!
//! 1. `Fw` before `Fr`: if `L` read the old pointer, `L` would be coherence-ordered before `W`;
//!    since `Fr` happens before `L` and `W` happens before `Fw`, C++20 [atomics.order]/4.4 would
//!    put `Fr` before `Fw` — contradiction. So the section sees the new pointer and never the
//!    freed object.
//! 2. `Fr` before `Fw`: the writer's snapshot read `S` of the word comes after `Fw`; if `S` read a
//!    value older than `E`, the same rule (with `S` and `E`) would put `Fw` before `Fr` —
//!    contradiction. So `S` sees `E` (the section is remembered and waited for) or a later value.
//!    Every later value was written by a `Release` store sequenced after this section's last
//!    access, and the writer reads it with `Acquire`, so all of the section's accesses happen
//!    before the free.
//!
//! With membarrier, `Fr` is a compiler fence that the system call promotes to a full barrier on
//! the reader's CPU at a point between two of its instructions, which gives the same two cases.
//!
//! A thread that registers a slot does so under the registry mutex, which a grace period also
//! takes to scan: a snapshot that missed the slot released the mutex before the new reader took
//! it, so the unlink `W` happens before everything the new reader does.
//!
//! The protocol core ([`registry::SectionWord`]) is model-checked with loom
//! (`RUSTFLAGS="--cfg loom" cargo test -p lull-rcu --release`), including a deliberately broken
//! variant the model must reject.
//!
//! # Safety
//! The only `unsafe` is the `membarrier` system call in [`fence`]'s private `sys` module.
#![deny(unsafe_code)]

pub mod cost;
mod domain;
mod error;
pub mod fence;
mod local;
mod reclaim;
pub mod registry;
mod sync;

pub use domain::{Domain, Stats};
pub use error::RcuError;
pub use local::{AtomicGuard, Reader, Section, SleepableGuard};

/// Which read sections a grace period (or a deferred free) waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Atomic sections only: what non-sleepable programs run in (`call_rcu`).
    Atomic,
    /// Sleepable sections only: what sleepable programs run in (`call_rcu_tasks_trace`).
    Sleepable,
    /// Both kinds: anything a sleepable program may reach (maps, map elements, programs).
    Both,
}

impl Flavor {
    /// Whether a grace period of this flavour waits for atomic sections.
    pub fn covers_atomic(self) -> bool {
        matches!(self, Flavor::Atomic | Flavor::Both)
    }

    /// Whether a grace period of this flavour waits for sleepable sections.
    pub fn covers_sleepable(self) -> bool {
        matches!(self, Flavor::Sleepable | Flavor::Both)
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Flavor::Atomic => "atomic",
            Flavor::Sleepable => "sleepable",
            Flavor::Both => "atomic+sleepable",
        })
    }
}

#[cfg(all(test, loom))]
mod loom_tests;
