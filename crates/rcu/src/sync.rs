//! Synchronisation primitives of the protocol core (section words, the slot registry, the
//! grace-period wait): `std`'s normally, loom's when model checking (`--cfg loom`), so the core is
//! the same code in both builds.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Mutex};
// Loom has no compiler fence; under loom the membarrier mode is never chosen, so it is never used.
#[cfg(loom)]
pub(crate) use std::sync::atomic::compiler_fence;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, compiler_fence, fence};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Mutex};

/// Lets other threads run while a grace period waits (a loom scheduling point under loom).
pub(crate) fn yield_now() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    std::thread::yield_now();
}
