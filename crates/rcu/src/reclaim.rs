//! Deferred reclamation: the queue of destructors waiting for grace periods, the batches they
//! move through, the background reclaimer thread and the barrier.
//!
//! `defer` appends to `incoming` under a short mutex and never waits. A *step* (run by the
//! reclaimer thread, or by a `barrier()` caller helping it) takes everything queued, issues one
//! heavy fence, snapshots the open sections of both flavours once, and splits the items into up to
//! three batches (atomic, sleepable, both) that each wait for their part of the snapshot only. So
//! an atomic-only free is never held up by a sleepable reader. Each step also polls the older
//! batches and runs the destructors of those whose grace period is over, outside every lock.
//!
//! Every item has a ticket (queue order). A batch is *outstanding* from creation until its
//! destructors have run; the *low-water mark* is the smallest ticket not yet run, and `barrier()`
//! waits until it passes the tickets handed out before the call.

use crate::Flavor;
use crate::registry::{Backoff, Registry, Snapshot};
use std::collections::{BTreeSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// What to do once the grace period is over.
pub(crate) enum Work {
    /// Drop the object.
    Drop(Box<dyn Send>),
    /// Call the function.
    Call(Box<dyn FnOnce() + Send>),
}

impl Work {
    fn run(self) {
        match self {
            Work::Drop(obj) => drop(obj),
            Work::Call(f) => f(),
        }
    }
}

struct Item {
    ticket: u64,
    flavor: Flavor,
    work: Work,
}

struct Batch {
    first_ticket: u64,
    waits: Snapshot,
    items: Vec<Item>,
}

#[derive(Default)]
struct Incoming {
    items: Vec<Item>,
    next_ticket: u64,
    /// Items queued and not yet run (here, in batches, or running).
    pending: usize,
    /// The reclaimer thread sleeps until notified.
    idle: bool,
    shutdown: bool,
}

#[derive(Default)]
struct Engine {
    batches: VecDeque<Batch>,
    /// First tickets of batches whose destructors have not all run yet.
    outstanding: BTreeSet<u64>,
}

/// Counters for [`crate::Domain::stats`].
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) reclaimed: AtomicU64,
    pub(crate) grace_periods: AtomicU64,
    pub(crate) panicked: AtomicU64,
}

/// The deferred-work machinery of one domain.
pub(crate) struct Reclaimer {
    registry: Arc<Registry>,
    incoming: Mutex<Incoming>,
    wake: Condvar,
    engine: Mutex<Engine>,
    pub(crate) counters: Counters,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long the reclaimer waits between steps while batches are outstanding.
const MIN_PAUSE: Duration = Duration::from_micros(100);
const MAX_PAUSE: Duration = Duration::from_millis(1);

impl Reclaimer {
    pub(crate) fn new(registry: Arc<Registry>) -> Self {
        Self {
            registry,
            incoming: Mutex::new(Incoming::default()),
            wake: Condvar::new(),
            engine: Mutex::new(Engine::default()),
            counters: Counters::default(),
        }
    }

    /// Queues `work` to run after a grace period of `flavor`. Never blocks on readers.
    pub(crate) fn defer(&self, flavor: Flavor, work: Work) {
        let mut inc = lock(&self.incoming);
        let ticket = inc.next_ticket;
        inc.next_ticket += 1;
        inc.pending += 1;
        inc.items.push(Item {
            ticket,
            flavor,
            work,
        });
        let wake = inc.idle;
        inc.idle = false;
        drop(inc);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Moves queued items into batches and runs the batches whose grace period is over.
    /// Returns whether anything happened.
    pub(crate) fn step(&self) -> bool {
        let mut engine = lock(&self.engine);
        let new = {
            let mut inc = lock(&self.incoming);
            // Keep the queue's capacity so that busy producers do not regrow it after every step.
            let capacity = inc.items.capacity();
            std::mem::replace(&mut inc.items, Vec::with_capacity(capacity.min(4096)))
        };
        let mut progressed = !new.is_empty();
        if !new.is_empty() {
            let needed = needed_flavor(&new);
            let snapshot = self.registry.snapshot(needed);
            self.counters.grace_periods.fetch_add(1, Ordering::Relaxed);
            let (mut atomic, mut sleepable, mut both) = (Vec::new(), Vec::new(), Vec::new());
            for item in new {
                match item.flavor {
                    Flavor::Atomic => atomic.push(item),
                    Flavor::Sleepable => sleepable.push(item),
                    Flavor::Both => both.push(item),
                }
            }
            for (flavor, items) in [
                (Flavor::Atomic, atomic),
                (Flavor::Sleepable, sleepable),
                (Flavor::Both, both),
            ] {
                if let Some(first) = items.first() {
                    let first_ticket = first.ticket;
                    engine.outstanding.insert(first_ticket);
                    engine.batches.push_back(Batch {
                        first_ticket,
                        waits: snapshot.restrict(flavor),
                        items,
                    });
                }
            }
        }
        let mut ready = Vec::new();
        engine.batches.retain_mut(|b| {
            if b.waits.poll() {
                ready.push((b.first_ticket, std::mem::take(&mut b.items)));
                false
            } else {
                true
            }
        });
        drop(engine);
        for (first_ticket, items) in ready {
            progressed = true;
            let n = items.len();
            for item in items {
                if std::panic::catch_unwind(AssertUnwindSafe(|| item.work.run())).is_err() {
                    self.counters.panicked.fetch_add(1, Ordering::Relaxed);
                }
            }
            self.counters
                .reclaimed
                .fetch_add(n as u64, Ordering::Relaxed);
            lock(&self.incoming).pending -= n;
            lock(&self.engine).outstanding.remove(&first_ticket);
        }
        progressed
    }

    /// Items ever queued.
    pub(crate) fn deferred(&self) -> u64 {
        lock(&self.incoming).next_ticket
    }

    /// Items queued and not yet run.
    pub(crate) fn pending(&self) -> usize {
        lock(&self.incoming).pending
    }

    /// The ticket every item before which has run.
    fn low_water(&self) -> u64 {
        let engine = lock(&self.engine);
        let inc = lock(&self.incoming);
        let queued = inc.items.first().map_or(inc.next_ticket, |i| i.ticket);
        engine
            .outstanding
            .first()
            .map_or(queued, |&t| t.min(queued))
    }

    /// Runs steps until every item queued before the call has run.
    pub(crate) fn barrier(&self) {
        let target = lock(&self.incoming).next_ticket;
        let mut backoff = Backoff::default();
        loop {
            self.step();
            if self.low_water() >= target {
                return;
            }
            backoff.snooze();
        }
    }

    /// The reclaimer thread's body: steps while work is outstanding, sleeps when there is none,
    /// returns after a shutdown request once everything queued has run.
    pub(crate) fn run(&self) {
        let mut pause = MIN_PAUSE;
        loop {
            if self.step() {
                pause = MIN_PAUSE;
            } else {
                pause = (pause * 2).min(MAX_PAUSE);
            }
            let busy = !lock(&self.engine).batches.is_empty();
            let mut inc = lock(&self.incoming);
            if inc.items.is_empty() && !busy {
                if inc.shutdown {
                    return;
                }
                inc.idle = true;
                while inc.idle && !inc.shutdown {
                    inc = self.wake.wait(inc).unwrap_or_else(PoisonError::into_inner);
                }
                pause = MIN_PAUSE;
                // Let a burst of frees gather so that one grace period covers it: this bounds the
                // rate of heavy fences (each one interrupts every CPU running this process).
                if !inc.shutdown {
                    let _ = self
                        .wake
                        .wait_timeout(inc, MIN_PAUSE)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            } else {
                // Let items accumulate and readers finish; a shutdown request cuts it short.
                let (_inc, _) = self
                    .wake
                    .wait_timeout(inc, pause)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Asks the reclaimer thread to finish the queued work and exit.
    pub(crate) fn shutdown(&self) {
        let mut inc = lock(&self.incoming);
        inc.shutdown = true;
        inc.idle = false;
        drop(inc);
        self.wake.notify_all();
    }
}

fn needed_flavor(items: &[Item]) -> Flavor {
    let atomic = items.iter().any(|i| i.flavor.covers_atomic());
    let sleepable = items.iter().any(|i| i.flavor.covers_sleepable());
    match (atomic, sleepable) {
        (true, false) => Flavor::Atomic,
        (false, true) => Flavor::Sleepable,
        _ => Flavor::Both,
    }
}
