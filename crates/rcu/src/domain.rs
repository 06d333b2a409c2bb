//! [`Domain`]: one RCU instance (readers' registry, grace periods, deferred reclamation and the
//! background reclaimer thread). A runtime owns one; [`Domain::global`] is a process-wide default.

use crate::error::RcuError;
use crate::local::{self, AtomicGuard, Reader, SleepableGuard};
use crate::reclaim::{Reclaimer, Work};
use crate::registry::Registry;
use crate::{Flavor, fence};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A cheap, cloneable handle to one RCU domain. The last handle to go waits for the deferred work
/// queued so far to run (unless the dropping thread is itself inside a section of the domain).
#[derive(Clone)]
pub struct Domain {
    inner: Arc<Inner>,
}

struct Inner {
    id: u64,
    registry: Arc<Registry>,
    reclaimer: Arc<Reclaimer>,
    /// The reclaimer thread, started by the first deferred item. `None` inside: spawning failed,
    /// and deferred work is then done by later `defer_*` and `barrier` calls.
    thread: OnceLock<Option<JoinHandle<()>>>,
}

/// Counters of a domain's deferred work.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Items ever queued with `defer_*`.
    pub deferred: u64,
    /// Items whose destructor or callback has run.
    pub reclaimed: u64,
    /// Grace periods started by the reclaimer (one per step that found new items).
    pub grace_periods: u64,
    /// Destructors or callbacks that panicked (the panic was caught; the rest still ran).
    pub panicked: u64,
}

impl Default for Domain {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain")
            .field("id", &self.inner.id)
            .field("readers", &self.inner.registry.len())
            .field("pending", &self.pending())
            .finish()
    }
}

impl Domain {
    /// A new domain with its own readers and reclaimer.
    pub fn new() -> Self {
        fence::init();
        let registry = Arc::new(Registry::default());
        Self {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                reclaimer: Arc::new(Reclaimer::new(registry.clone())),
                registry,
                thread: OnceLock::new(),
            }),
        }
    }

    /// The process-wide default domain.
    pub fn global() -> &'static Domain {
        static GLOBAL: OnceLock<Domain> = OnceLock::new();
        GLOBAL.get_or_init(Domain::new)
    }

    /// This domain's unique id.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The calling thread's registration (created on first use); entering sections through it
    /// skips the thread-local lookup.
    pub fn register(&self) -> Reader {
        Reader::new(local::local(self.inner.id, &self.inner.registry))
    }

    /// Opens an atomic read section (like `rcu_read_lock()`): the holder must not block.
    #[inline]
    pub fn read_atomic(&self) -> AtomicGuard {
        AtomicGuard::enter(local::local(self.inner.id, &self.inner.registry))
    }

    /// Opens a sleepable read section (like `rcu_read_lock_trace()`): the holder may block.
    #[inline]
    pub fn read_sleepable(&self) -> SleepableGuard {
        SleepableGuard::enter(local::local(self.inner.id, &self.inner.registry))
    }

    /// Whether the calling thread holds an atomic section of this domain.
    pub fn in_atomic_section(&self) -> bool {
        self.held().is_some_and(Flavor::covers_atomic)
    }

    /// Whether the calling thread holds a sleepable section of this domain.
    pub fn in_sleepable_section(&self) -> bool {
        self.held().is_some_and(Flavor::covers_sleepable)
    }

    fn held(&self) -> Option<Flavor> {
        local::existing(self.inner.id).and_then(|l| l.held())
    }

    /// Refuses a wait for `flavor` that a section held by the caller would block forever.
    fn check_wait(&self, flavor: Flavor) -> Result<(), RcuError> {
        match self.held() {
            Some(held)
                if (held.covers_atomic() && flavor.covers_atomic())
                    || (held.covers_sleepable() && flavor.covers_sleepable()) =>
            {
                Err(RcuError::WouldDeadlock { flavor, held })
            }
            _ => Ok(()),
        }
    }

    /// Waits until every section of `flavor` open at the call has ended.
    pub fn synchronize(&self, flavor: Flavor) -> Result<(), RcuError> {
        self.check_wait(flavor)?;
        self.inner.registry.snapshot(flavor).wait();
        Ok(())
    }

    /// Waits for an atomic grace period (`synchronize_rcu`).
    pub fn synchronize_atomic(&self) -> Result<(), RcuError> {
        self.synchronize(Flavor::Atomic)
    }

    /// Waits for a sleepable grace period (`synchronize_rcu_tasks_trace`).
    pub fn synchronize_sleepable(&self) -> Result<(), RcuError> {
        self.synchronize(Flavor::Sleepable)
    }

    /// Waits for both grace periods (`synchronize_rcu_mult(call_rcu, call_rcu_tasks_trace)`).
    pub fn synchronize_both(&self) -> Result<(), RcuError> {
        self.synchronize(Flavor::Both)
    }

    /// Drops `obj` after a grace period of `flavor`, without blocking the caller.
    pub fn defer_free(&self, flavor: Flavor, obj: Box<dyn Send>) {
        self.defer(flavor, Work::Drop(obj));
    }

    /// Drops `obj` after an atomic grace period.
    pub fn defer_free_atomic(&self, obj: Box<dyn Send>) {
        self.defer_free(Flavor::Atomic, obj);
    }

    /// Drops `obj` after a sleepable grace period.
    pub fn defer_free_sleepable(&self, obj: Box<dyn Send>) {
        self.defer_free(Flavor::Sleepable, obj);
    }

    /// Drops `obj` after both grace periods: for anything a sleepable program may reach.
    pub fn defer_free_both(&self, obj: Box<dyn Send>) {
        self.defer_free(Flavor::Both, obj);
    }

    /// Calls `f` after a grace period of `flavor` (the `call_rcu` analogue), without blocking.
    pub fn defer_call(&self, flavor: Flavor, f: impl FnOnce() + Send + 'static) {
        self.defer(flavor, Work::Call(Box::new(f)));
    }

    fn defer(&self, flavor: Flavor, work: Work) {
        self.inner.reclaimer.defer(flavor, work);
        let thread = self.inner.thread.get_or_init(|| {
            let reclaimer = self.inner.reclaimer.clone();
            std::thread::Builder::new()
                .name(format!("lull-rcu-{}", self.inner.id))
                .spawn(move || reclaimer.run())
                .ok()
        });
        if thread.is_none() {
            // No background thread: piggy-back reclamation on the callers.
            self.inner.reclaimer.step();
        }
    }

    /// Waits until every deferred free and call queued before this call has run (`rcu_barrier`).
    /// Helps the reclaimer instead of only sleeping. Refused inside any section of this domain.
    pub fn barrier(&self) -> Result<(), RcuError> {
        self.check_wait(Flavor::Both)?;
        self.inner.reclaimer.barrier();
        Ok(())
    }

    /// Deferred items not yet run.
    pub fn pending(&self) -> usize {
        self.inner.reclaimer.pending()
    }

    /// Counters of deferred work.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.reclaimer.counters;
        Stats {
            deferred: self.inner.reclaimer.deferred(),
            reclaimed: c.reclaimed.load(Ordering::Relaxed),
            grace_periods: c.grace_periods.load(Ordering::Relaxed),
            panicked: c.panicked.load(Ordering::Relaxed),
        }
    }

    /// Number of reader slots ever created in this domain (threads reuse the slots of exited ones).
    pub fn reader_slots(&self) -> usize {
        self.inner.registry.len()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let inside = local::existing(self.id).is_some_and(|l| l.held().is_some());
        self.reclaimer.shutdown();
        if !inside {
            local::forget(self.id);
            match self.thread.take() {
                // A destructor run by the reclaimer dropped the last handle: it cannot wait for
                // itself; it exits by itself once the queue is empty.
                Some(Some(handle)) if handle.thread().id() == std::thread::current().id() => {}
                Some(Some(handle)) => {
                    let _ = handle.join();
                }
                _ => self.reclaimer.barrier(),
            }
        }
    }
}
