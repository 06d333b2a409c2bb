//! The reader side: per-thread registrations, the section guards and their nesting counts.
//!
//! Each (thread, domain) pair has one [`Local`]: the thread's [`registry::Slot`](crate::registry::Slot)
//! plus two plain nesting counters that only this thread touches. The thread-local cache maps a
//! domain id to its `Local`; a guard keeps an `Rc` to it, which makes guards `!Send` (a section
//! must end on the thread that opened it) and costs no atomic operation. Only the outermost enter
//! and exit of each flavour touch the shared slot.

use crate::Flavor;
use crate::registry::{Registry, SlotRef};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

/// One thread's registration with one domain.
#[derive(Debug)]
pub(crate) struct Local {
    domain_id: u64,
    slot: SlotRef,
    registry: Arc<Registry>,
    atomic_nest: Cell<u32>,
    sleepable_nest: Cell<u32>,
}

impl Local {
    fn new(domain_id: u64, registry: &Arc<Registry>) -> Self {
        Self {
            domain_id,
            slot: registry.acquire(),
            registry: registry.clone(),
            atomic_nest: Cell::new(0),
            sleepable_nest: Cell::new(0),
        }
    }

    #[inline(always)]
    fn enter_atomic(&self) {
        let n = self.atomic_nest.get();
        if n == 0 {
            self.slot.atomic.enter();
        }
        self.atomic_nest.set(n + 1);
    }

    #[inline(always)]
    fn exit_atomic(&self) {
        let n = self.atomic_nest.get() - 1;
        self.atomic_nest.set(n);
        if n == 0 {
            self.slot.atomic.exit();
        }
    }

    #[inline(always)]
    fn enter_sleepable(&self) {
        let n = self.sleepable_nest.get();
        if n == 0 {
            self.slot.sleepable.enter();
        }
        self.sleepable_nest.set(n + 1);
    }

    #[inline(always)]
    fn exit_sleepable(&self) {
        let n = self.sleepable_nest.get() - 1;
        self.sleepable_nest.set(n);
        if n == 0 {
            self.slot.sleepable.exit();
        }
    }

    /// The flavour of the sections this thread holds, if any.
    pub(crate) fn held(&self) -> Option<Flavor> {
        match (self.atomic_nest.get() > 0, self.sleepable_nest.get() > 0) {
            (true, true) => Some(Flavor::Both),
            (true, false) => Some(Flavor::Atomic),
            (false, true) => Some(Flavor::Sleepable),
            (false, false) => None,
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        // Guards hold an `Rc`, so no section of this registration is open any more.
        self.registry.release(&self.slot);
    }
}

thread_local! {
    static LOCALS: RefCell<Vec<Rc<Local>>> = const { RefCell::new(Vec::new()) };
}

/// This thread's registration with the domain, created on first use.
#[inline]
pub(crate) fn local(domain_id: u64, registry: &Arc<Registry>) -> Rc<Local> {
    let cached = LOCALS.try_with(|locals| {
        let found = locals
            .borrow()
            .iter()
            .find(|l| l.domain_id == domain_id)
            .cloned();
        found.unwrap_or_else(|| {
            let l = Rc::new(Local::new(domain_id, registry));
            locals.borrow_mut().push(l.clone());
            l
        })
    });
    // During thread teardown the cache is gone: use a registration owned by the guard alone.
    cached.unwrap_or_else(|_| Rc::new(Local::new(domain_id, registry)))
}

/// This thread's registration if it already has one (never registers).
pub(crate) fn existing(domain_id: u64) -> Option<Rc<Local>> {
    LOCALS
        .try_with(|locals| {
            locals
                .borrow()
                .iter()
                .find(|l| l.domain_id == domain_id)
                .cloned()
        })
        .ok()
        .flatten()
}

/// Drops this thread's cached registration of a domain that is going away.
pub(crate) fn forget(domain_id: u64) {
    let _ = LOCALS.try_with(|locals| {
        if let Ok(mut locals) = locals.try_borrow_mut() {
            locals.retain(|l| l.domain_id != domain_id);
        }
    });
}

/// Proof that the current thread is inside a read section.
pub trait Section {
    /// Which grace periods wait for this section.
    fn flavor(&self) -> Flavor;
}

/// An open atomic read section (the `rcu_read_lock()` analogue). The holder must not block.
#[derive(Debug)]
#[must_use = "the section ends when the guard is dropped"]
pub struct AtomicGuard {
    local: Rc<Local>,
}

impl AtomicGuard {
    #[inline]
    pub(crate) fn enter(local: Rc<Local>) -> Self {
        local.enter_atomic();
        Self { local }
    }
}

impl Drop for AtomicGuard {
    #[inline]
    fn drop(&mut self) {
        self.local.exit_atomic();
    }
}

impl Section for AtomicGuard {
    fn flavor(&self) -> Flavor {
        Flavor::Atomic
    }
}

/// An open sleepable read section (the `rcu_read_lock_trace()` analogue). The holder may block.
#[derive(Debug)]
#[must_use = "the section ends when the guard is dropped"]
pub struct SleepableGuard {
    local: Rc<Local>,
}

impl SleepableGuard {
    #[inline]
    pub(crate) fn enter(local: Rc<Local>) -> Self {
        local.enter_sleepable();
        Self { local }
    }
}

impl Drop for SleepableGuard {
    #[inline]
    fn drop(&mut self) {
        self.local.exit_sleepable();
    }
}

impl Section for SleepableGuard {
    fn flavor(&self) -> Flavor {
        Flavor::Sleepable
    }
}

/// This thread's registration with a domain: enters sections without the thread-local lookup.
/// `!Send`; create one per worker thread with [`crate::Domain::register`].
#[derive(Debug, Clone)]
pub struct Reader {
    local: Rc<Local>,
}

impl Reader {
    pub(crate) fn new(local: Rc<Local>) -> Self {
        Self { local }
    }

    /// Opens an atomic read section.
    #[inline]
    pub fn read_atomic(&self) -> AtomicGuard {
        AtomicGuard::enter(self.local.clone())
    }

    /// Opens a sleepable read section.
    #[inline]
    pub fn read_sleepable(&self) -> SleepableGuard {
        SleepableGuard::enter(self.local.clone())
    }

    /// The flavour of the sections this thread holds in this domain, if any.
    pub fn held(&self) -> Option<Flavor> {
        self.local.held()
    }
}
