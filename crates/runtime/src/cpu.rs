//! Virtual CPUs: a fixed set of execution slots. A run takes one slot for its whole duration
//! (the analogue of `migrate_disable()`): `bpf_get_smp_processor_id` returns the slot's number
//! and per-CPU maps select that CPU's values, so two runs never share a CPU's per-CPU data at
//! the same time. Each slot owns its interpreter (stack, frames) and its per-run helper state,
//! reused run after run without allocating.

use std::cell::Cell;
use std::sync::{Mutex, MutexGuard, TryLockError};

use crate::env::RunEnv;
use crate::raw::SendVm;

/// What one virtual CPU owns.
pub(crate) struct CpuState {
    /// The interpreter instance of this CPU.
    pub(crate) vm: SendVm,
    /// Helper-visible state of the run in progress.
    pub(crate) env: RunEnv,
}

/// The virtual CPUs of a runtime.
pub struct Cpus {
    slots: Box<[Mutex<CpuState>]>,
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

/// A virtual CPU held for one run.
pub(crate) struct CpuGuard<'a> {
    pub(crate) id: u32,
    pub(crate) state: MutexGuard<'a, CpuState>,
}

impl Cpus {
    /// `n` virtual CPUs (at least one).
    pub(crate) fn new(n: u32) -> Cpus {
        let n = n.max(1);
        Cpus {
            slots: (0..n)
                .map(|i| {
                    Mutex::new(CpuState {
                        vm: SendVm(lull_interp::Vm::new()),
                        env: RunEnv::new(i),
                    })
                })
                .collect(),
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
            state,
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
    fn a_thread_returns_to_its_cpu() {
        let cpus = Cpus::new(4);
        let first = cpus.acquire().id;
        assert_eq!(cpus.acquire().id, first);
        assert!(cpus.acquire_on(4).is_none());
        assert_eq!(cpus.acquire_on(2).map(|g| g.id), Some(2));
    }
}
