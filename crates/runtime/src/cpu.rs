//! Virtual CPUs: a fixed set of execution slots. An atomic run takes one slot for its whole
//! duration (the analogue of `migrate_disable()` with preemption off): `bpf_get_smp_processor_id`
//! returns the slot's number and per-CPU maps select that CPU's values, so two atomic runs never
//! share a CPU's per-CPU data at the same time. Each slot owns its engines (stacks, frames)
//! and its per-run helper state, reused run after run without allocating.
//!
//! A sleepable run stays on one CPU number too, but like a preemptible task in the kernel it
//! does not own the CPU: it runs on a spare state (pooled), so a program blocked for seconds
//! never keeps atomic runs, which need a slot, waiting.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::env::RunEnv;
use crate::raw::SendVm;

/// What one virtual CPU owns.
pub(crate) struct CpuState {
    /// The engines of this CPU (interpreter and JIT).
    pub(crate) vm: SendVm,
    /// Helper-visible state of the run in progress.
    pub(crate) env: RunEnv,
}

impl CpuState {
    fn new(cpu: u32) -> CpuState {
        CpuState {
            vm: SendVm(crate::engine::Vm::new()),
            env: RunEnv::new(cpu),
        }
    }
}

/// The virtual CPUs of a runtime.
pub struct Cpus {
    slots: Box<[Mutex<CpuState>]>,
    /// States of finished sleepable runs, for reuse (boxed: a guard moves them in and out).
    #[allow(clippy::vec_box)]
    spare: Mutex<Vec<Box<CpuState>>>,
    /// Round-robin CPU numbers for sleepable runs on a thread without a previous CPU.
    next: AtomicUsize,
}

impl std::fmt::Debug for Cpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cpus")
            .field("count", &self.slots.len())
            .finish()
    }
}

thread_local! {
    /// The CPU this thread ran on last: tried first, for cache locality.
    static LAST_CPU: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The state a run uses: a CPU's own (atomic runs) or a spare one (sleepable runs).
pub(crate) enum StateRef<'a> {
    Slot(MutexGuard<'a, CpuState>),
    Spare(Box<CpuState>),
    /// A spare state already given back to the pool (only while its guard is dropped).
    Returned,
}

impl Deref for StateRef<'_> {
    type Target = CpuState;
    fn deref(&self) -> &CpuState {
        match self {
            StateRef::Slot(g) => g,
            StateRef::Spare(b) => b,
            StateRef::Returned => unreachable!("a CPU state is used after its guard was dropped"),
        }
    }
}

impl DerefMut for StateRef<'_> {
    fn deref_mut(&mut self) -> &mut CpuState {
        match self {
            StateRef::Slot(g) => g,
            StateRef::Spare(b) => b,
            StateRef::Returned => unreachable!("a CPU state is used after its guard was dropped"),
        }
    }
}

/// A virtual CPU held for one run.
pub(crate) struct CpuGuard<'a> {
    pub(crate) id: u32,
    pub(crate) state: StateRef<'a>,
    cpus: &'a Cpus,
}

impl Drop for CpuGuard<'_> {
    fn drop(&mut self) {
        // Taking the state out also releases a slot's lock (as dropping it would).
        if let StateRef::Spare(b) = std::mem::replace(&mut self.state, StateRef::Returned) {
            let mut spare = self.cpus.spare.lock().unwrap_or_else(|p| p.into_inner());
            spare.push(b);
        }
    }
}

impl Cpus {
    /// `n` virtual CPUs (at least one).
    pub(crate) fn new(n: u32) -> Cpus {
        let n = n.max(1);
        Cpus {
            slots: (0..n).map(|i| Mutex::new(CpuState::new(i))).collect(),
            spare: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
        }
    }

    /// Number of virtual CPUs.
    pub fn len(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Always false: there is at least one CPU.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn lock(&self, i: usize) -> MutexGuard<'_, CpuState> {
        self.slots[i].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a free CPU (this thread's previous one if free), or waits for one.
    pub(crate) fn acquire(&self) -> CpuGuard<'_> {
        let n = self.slots.len();
        let last = LAST_CPU.with(Cell::get);
        let start = if last < n { last } else { 0 };
        for k in 0..n {
            let i = (start + k) % n;
            match self.slots[i].try_lock() {
                Ok(state) => return self.hold(i, state),
                Err(TryLockError::Poisoned(p)) => return self.hold(i, p.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let i = start;
        let state = self.lock(i);
        self.hold(i, state)
    }

    /// Takes CPU `cpu`, waiting until it is free (`None` if there is no such CPU).
    pub(crate) fn acquire_on(&self, cpu: u32) -> Option<CpuGuard<'_>> {
        let i = cpu as usize;
        if i >= self.slots.len() {
            return None;
        }
        let state = self.lock(i);
        Some(self.hold(i, state))
    }

    fn hold<'a>(&'a self, i: usize, state: MutexGuard<'a, CpuState>) -> CpuGuard<'a> {
        LAST_CPU.with(|c| c.set(i));
        CpuGuard {
            id: i as u32,
            state: StateRef::Slot(state),
            cpus: self,
        }
    }

    /// A CPU for a sleepable run: this thread's previous one or the next in turn. Never
    /// waits, and leaves the CPU's slot to atomic runs.
    pub(crate) fn acquire_sleepable(&self) -> CpuGuard<'_> {
        let n = self.slots.len();
        let last = LAST_CPU.with(Cell::get);
        let i = if last < n {
            last
        } else {
            self.next.fetch_add(1, Ordering::Relaxed) % n
        };
        self.spare_on(i)
    }

    /// CPU `cpu` for a sleepable run (`None` if there is no such CPU); never waits.
    pub(crate) fn acquire_sleepable_on(&self, cpu: u32) -> Option<CpuGuard<'_>> {
        ((cpu as usize) < self.slots.len()).then(|| self.spare_on(cpu as usize))
    }

    fn spare_on(&self, i: usize) -> CpuGuard<'_> {
        let spare = self.spare.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut state = spare.unwrap_or_else(|| Box::new(CpuState::new(i as u32)));
        state.env.cpu = i as u32;
        LAST_CPU.with(|c| c.set(i));
        CpuGuard {
            id: i as u32,
            state: StateRef::Spare(state),
            cpus: self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_runs_get_distinct_cpus() {
        let cpus = Cpus::new(3);
        let a = cpus.acquire();
        let b = cpus.acquire();
        let c = cpus.acquire();
        let mut ids = [a.id, b.id, c.id];
        ids.sort_unstable();
        assert_eq!(ids, [0, 1, 2]);
        drop(b);
        let d = cpus.acquire();
        assert!(d.id < 3);
        assert_ne!(d.id, a.id);
        assert_ne!(d.id, c.id);
    }

    #[test]
    fn sleepable_runs_leave_the_slots_to_atomic_runs() {
        let cpus = Cpus::new(1);
        let sleeper = cpus.acquire_sleepable();
        let other = cpus.acquire_sleepable_on(0).expect("cpu 0");
        // Both sleepers are on CPU 0, yet an atomic run gets CPU 0's slot without waiting.
        let atomic = cpus.slots[0].try_lock().is_ok();
        assert!(atomic, "a sleepable run holds the slot");
        assert_eq!((sleeper.id, other.id), (0, 0));
        assert_eq!(sleeper.state.env.cpu, 0);
        assert!(cpus.acquire_sleepable_on(1).is_none());
        drop(sleeper);
        drop(other);
        assert_eq!(cpus.spare.lock().unwrap().len(), 2, "states are pooled");
    }

    #[test]
    fn a_thread_returns_to_its_cpu() {
        let cpus = Cpus::new(4);
        let first = cpus.acquire().id;
        assert_eq!(cpus.acquire().id, first);
        assert!(cpus.acquire_on(4).is_none());
        assert_eq!(cpus.acquire_on(2).map(|g| g.id), Some(2));
    }
}
