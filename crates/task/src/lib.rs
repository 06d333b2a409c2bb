//! The *current task* and its *user memory*, as Lull's BPF helpers see them.
//!
//! A BPF program always runs on behalf of some task: `bpf_get_current_pid_tgid`,
//! `bpf_get_current_uid_gid` and `bpf_get_current_comm` describe it ([`Task`]), and the user-copy
//! helpers read its address space ([`UserMemory`]). This crate owns both abstractions and the
//! kernel semantics of those helpers ([`helpers`]); it knows nothing about programs, maps or
//! the engine that runs them.
//!
//! # How this maps the kernel
//!
//! The kernel reads user memory in two ways, and the difference is the reason sleepable
//! programs exist:
//!
//! * `bpf_probe_read_user` (and `_str`) runs `copy_from_user_nofault`: the copy executes with
//!   page faults *disabled*, so any page that is not mapped by a present page-table entry —
//!   unmapped, swapped out, or simply never touched (a file page not yet faulted in) — makes it
//!   fail with `-EFAULT` on the spot. It never sleeps, so any program may call it.
//! * `bpf_copy_from_user` (and `_task`, `_str`, `_task_str`) runs `copy_from_user` or
//!   `access_process_vm`: a missing page is *faulted in*, which may read a file or swap and
//!   therefore sleep. Such helpers are marked `might_sleep` (kfuncs `KF_SLEEPABLE`), and the
//!   verifier allows them only in sleepable programs, outside RCU/preempt/lock regions.
//!
//! Lull reproduces both with [`UserMemory::read_nofault`] and [`UserMemory::read_may_fault`]:
//!
//! * For a real process ([`ProcessMemory`], [`SelfMemory`]) the may-fault read is
//!   `process_vm_readv`, which makes the kernel fault the target's pages in through
//!   `get_user_pages_remote` — blocking on I/O for a file page that is not in the page cache,
//!   exactly like the kernel helper would. The no-fault read first consults `/proc/PID/pagemap`
//!   (bit 63: present) for every page of the range and fails with `EFAULT` without touching the
//!   memory if any page is not present; a never-touched file-backed page gives `-EFAULT` to
//!   `bpf_probe_read_user` and its data to a following `bpf_copy_from_user`, as observed on the
//!   6.18 kernel.
//! * For a host ([`BlockingSource`]) "not resident" means "not supplied yet": the may-fault read
//!   blocks until the host supplies the bytes (a request body still arriving), the no-fault read
//!   fails at once.
//!
//! A blocking read is only ever reached from a sleepable program (the verifier's rules), which
//! runs in a sleepable read section; atomic programs on other threads and the host are not held
//! up by it.

#![deny(unsafe_code)]

pub mod errno;
pub mod error;
pub mod helpers;
pub mod memory;
pub mod pagemap;
mod sys;
pub mod task;

pub use errno::Errno;
pub use error::TaskError;
pub use memory::{BlockingSource, NoMemory, ProcessMemory, SelfMemory, UserMemory};
pub use pagemap::PageEntry;
pub use task::{TASK_COMM_LEN, Task};

/// The size of a virtual-memory page on this machine (the granule of residency).
pub fn page_size() -> u64 {
    sys::page_size()
}
