//! The attachment list of a hook, published read-copy-update style: an immutable array of
//! [`Attachment`]s behind an atomic pointer. Runs read it with no lock and no shared write,
//! inside a read section of the runtime's RCU domain; attach and detach build a new array under
//! the hook's writer lock, publish it with one atomic swap and hand the old one to the domain,
//! which frees it after *both* grace periods (a run may hold it in either kind of section).
//!
//! This is the only module of the hook code with `unsafe`: turning the published pointer back
//! into a reference, and into a `Box` when it is retired.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use lull_rcu::{Domain, Flavor, Section};

use super::inflight::InFlight;
use crate::program::LoadedProgram;

/// One program attached to a hook (shared by the hook's list and the [`super::Link`]).
pub(crate) struct Attachment {
    pub(crate) program: Arc<LoadedProgram>,
    /// Set first thing by a detach: a run that sees it does not start the program.
    pub(crate) detached: AtomicBool,
    /// Runs under way (sleepable programs only; atomic ones are covered by a grace period).
    pub(crate) inflight: InFlight,
}

impl Attachment {
    pub(crate) fn new(program: Arc<LoadedProgram>) -> Attachment {
        Attachment {
            program,
            detached: AtomicBool::new(false),
            inflight: InFlight::default(),
        }
    }
}

type Entries = Box<[Arc<Attachment>]>;

/// The published list.
pub(crate) struct Published {
    /// Always a pointer from `Box::into_raw(Box<Entries>)`, never null.
    current: AtomicPtr<Entries>,
    /// Serialises writers (attach and detach); never taken by runs.
    writer: Mutex<()>,
    domain: Domain,
}

impl Published {
    /// An empty list whose retired versions are freed through `domain`.
    pub(crate) fn new(domain: Domain) -> Published {
        let empty: Box<Entries> = Box::new(Box::new([]));
        Published {
            current: AtomicPtr::new(Box::into_raw(empty)),
            writer: Mutex::new(()),
            domain,
        }
    }

    /// The list as of now, valid while `section` (a read section of this list's domain, of
    /// either flavour) is open.
    pub(crate) fn read<'a>(&'a self, _section: &'a dyn Section) -> &'a [Arc<Attachment>] {
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: `p` came from `Box::into_raw` and was published with a Release swap after
        // its contents were written (the Acquire load makes them visible). It is freed only by
        // `update`, through `defer_free(Flavor::Both, …)` after it was unpublished, i.e. once
        // every read section open at that time (of either flavour, the caller's included) has
        // ended, or by `drop`, which cannot run while `&self` is borrowed. The returned
        // borrow is tied to the section guard.
        unsafe { &*p }
    }

    /// Replaces the list by `f(current)`, under the writer lock. `f` may refuse (its error is
    /// returned and nothing changes).
    pub(crate) fn update<E>(
        &self,
        f: impl FnOnce(&[Arc<Attachment>]) -> Result<Vec<Arc<Attachment>>, E>,
    ) -> Result<(), E> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let p = self.current.load(Ordering::Acquire);
        // SAFETY: only writers retire lists, and we hold the writer lock, so `p` stays valid
        // while we use it.
        let next = f(unsafe { &*p })?;
        let next: Box<Entries> = Box::new(next.into_boxed_slice());
        let old = self.current.swap(Box::into_raw(next), Ordering::AcqRel);
        debug_assert_eq!(old, p);
        // SAFETY: `old` came from `Box::into_raw` and is no longer published; readers that
        // loaded it are inside read sections, which the deferred free waits for.
        let old: Box<Entries> = unsafe { Box::from_raw(old) };
        self.domain.defer_free(Flavor::Both, Box::new(old));
        Ok(())
    }

    /// Unpublishes `a` (if it is in the list).
    pub(crate) fn remove(&self, a: &Arc<Attachment>) {
        let kept = |current: &[Arc<Attachment>]| {
            Ok::<_, std::convert::Infallible>(
                current
                    .iter()
                    .filter(|x| !Arc::ptr_eq(x, a))
                    .cloned()
                    .collect(),
            )
        };
        let Ok(()) = self.update(kept);
    }

    /// The current entries, for inspection by the host (cloned under the writer lock).
    pub(crate) fn snapshot(&self) -> Vec<Arc<Attachment>> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: as in `update`: writers hold the lock, so the list is not retired meanwhile.
        unsafe { &*self.current.load(Ordering::Acquire) }.to_vec()
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reader or writer can hold the list any more; the pointer
        // came from `Box::into_raw` and is freed exactly once, here.
        drop(unsafe { Box::from_raw(*self.current.get_mut()) });
    }
}
