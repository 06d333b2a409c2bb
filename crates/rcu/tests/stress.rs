//! Stress: readers of both flavours follow a pointer that a writer keeps replacing and
//! defer-freeing; freed objects are poisoned in `Drop` and readers check they never reach one.
//! Afterwards every deferred free has run (memory does not grow without bound).
#![cfg(not(loom))]
#![allow(unsafe_code)] // Raw-pointer publication is what the domain protects; see each SAFETY.

use lull_rcu::{Domain, Flavor};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const LIVE: u64 = 0x11FE_11FE_11FE_11FE;
const POISON: u64 = 0xDEAD_DEAD_DEAD_DEAD;

/// A published object: its words must all read `LIVE` while anyone can reach it.
struct Obj {
    state: AtomicU64,
    payload: [AtomicU64; 4],
    drops: Arc<AtomicUsize>,
}

impl Obj {
    fn new(drops: &Arc<AtomicUsize>, gen_: u64) -> *mut Obj {
        Box::into_raw(Box::new(Obj {
            state: AtomicU64::new(LIVE),
            payload: [(); 4].map(|_| AtomicU64::new(gen_)),
            drops: drops.clone(),
        }))
    }

    fn check(&self) {
        assert_eq!(
            self.state.load(Ordering::Relaxed),
            LIVE,
            "reader reached a freed object"
        );
        let g = self.payload[0].load(Ordering::Relaxed);
        for w in &self.payload {
            assert_eq!(
                w.load(Ordering::Relaxed),
                g,
                "object overwritten while reachable"
            );
        }
    }
}

impl Drop for Obj {
    fn drop(&mut self) {
        self.state.store(POISON, Ordering::Relaxed);
        for w in &self.payload {
            w.store(POISON, Ordering::Relaxed);
        }
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

/// Owns a raw object pointer so it can cross into the reclaimer.
struct Owned(*mut Obj);
// SAFETY: `Obj` is `Send + Sync` (atomics and an `Arc`); the pointer is uniquely owned here.
unsafe impl Send for Owned {}
impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: created by `Box::into_raw` and unlinked; the grace period passed, so no reader
        // holds it, and this is its only owner.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

fn run(
    domain: &Domain,
    flavor: Flavor,
    atomic_readers: usize,
    sleepable_readers: usize,
    dur: Duration,
) {
    let drops = Arc::new(AtomicUsize::new(0));
    let ptr = Arc::new(AtomicPtr::new(Obj::new(&drops, 0)));
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for r in 0..atomic_readers + sleepable_readers {
        let sleepable = r >= atomic_readers;
        let (d, p, s, n) = (domain.clone(), ptr.clone(), stop.clone(), reads.clone());
        handles.push(thread::spawn(move || {
            let reader = d.register();
            let mut i = 0u64;
            while !s.load(Ordering::Relaxed) {
                let (_a, _s) = if sleepable {
                    (None, Some(reader.read_sleepable()))
                } else {
                    (Some(reader.read_atomic()), None)
                };
                let o = p.load(Ordering::Acquire);
                // SAFETY: loaded inside a section; the writer frees only after a grace period
                // that covers this section's flavour.
                let o = unsafe { &*o };
                o.check();
                if sleepable && i.is_multiple_of(16) {
                    thread::sleep(Duration::from_micros(200)); // block while holding it
                } else {
                    std::hint::spin_loop();
                }
                o.check();
                i += 1;
                drop((_a, _s));
                if i.is_multiple_of(256) {
                    thread::yield_now(); // outside the section: let the writer run on 2 cores
                }
            }
            n.fetch_add(i, Ordering::Relaxed);
        }));
    }
    let start = Instant::now();
    let mut replaced = 0u64;
    let mut max_pending = 0;
    while start.elapsed() < dur {
        let new = Obj::new(&drops, replaced + 1);
        let old = ptr.swap(new, Ordering::AcqRel);
        domain.defer_free(flavor, Box::new(Owned(old)));
        replaced += 1;
        if replaced.is_multiple_of(64) {
            thread::yield_now();
        }
        max_pending = max_pending.max(domain.pending());
        assert!(
            domain.pending() < 250_000,
            "deferred frees pile up without bound"
        );
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    domain.barrier().unwrap();
    assert_eq!(domain.pending(), 0, "deferred frees left after barrier");
    assert_eq!(
        drops.load(Ordering::Relaxed) as u64,
        replaced,
        "every replaced object freed"
    );
    assert!(reads.load(Ordering::Relaxed) > 0);
    // The last object is still published: free it directly.
    drop(Owned(ptr.load(Ordering::Acquire)));
    eprintln!(
        "{flavor}: {replaced} replacements, {} reads, {} grace periods, at most {max_pending} pending",
        reads.load(Ordering::Relaxed),
        domain.stats().grace_periods
    );
}

#[test]
fn stress_both_flavours_defer_both() {
    run(
        &Domain::new(),
        Flavor::Both,
        2,
        2,
        Duration::from_millis(1500),
    );
}

#[test]
fn stress_atomic_readers_defer_atomic() {
    run(
        &Domain::new(),
        Flavor::Atomic,
        2,
        0,
        Duration::from_millis(800),
    );
}

#[test]
fn stress_sleepable_readers_defer_sleepable() {
    run(
        &Domain::new(),
        Flavor::Sleepable,
        0,
        3,
        Duration::from_millis(800),
    );
}
