//! Grace-period semantics: deferred frees and `synchronize_*` wait exactly for the sections
//! that were open when they started, per flavour.
#![cfg(not(loom))]

use lull_rcu::{Domain, Flavor, RcuError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// Sets its flag when dropped.
struct Flag(Arc<AtomicBool>);

impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn flag() -> (Arc<AtomicBool>, Box<Flag>) {
    let f = Arc::new(AtomicBool::new(false));
    (f.clone(), Box::new(Flag(f)))
}

/// Polls `cond` for up to `ms` milliseconds.
fn eventually(ms: u64, cond: impl Fn() -> bool) -> bool {
    for _ in 0..ms {
        if cond() {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    cond()
}

/// A thread that opens a section of `flavor` and holds it until told to leave.
struct Holder {
    leave: mpsc::Sender<()>,
    handle: thread::JoinHandle<()>,
}

fn hold(domain: &Domain, flavor: Flavor) -> Holder {
    let (leave, rx) = mpsc::channel();
    let entered = Arc::new(Barrier::new(2));
    let (d, e) = (domain.clone(), entered.clone());
    let handle = thread::spawn(move || {
        let _a = flavor.covers_atomic().then(|| d.read_atomic());
        let _s = flavor.covers_sleepable().then(|| d.read_sleepable());
        e.wait();
        rx.recv().unwrap();
    });
    entered.wait();
    Holder { leave, handle }
}

impl Holder {
    fn release(self) {
        self.leave.send(()).unwrap();
        self.handle.join().unwrap();
    }
}

#[test]
fn atomic_free_waits_for_open_atomic_section() {
    let d = Domain::new();
    let reader = hold(&d, Flavor::Atomic);
    let (freed, obj) = flag();
    d.defer_free_atomic(obj);
    thread::sleep(Duration::from_millis(30));
    assert!(
        !freed.load(Ordering::SeqCst),
        "freed while an atomic section was open"
    );
    reader.release();
    assert!(eventually(2000, || freed.load(Ordering::SeqCst)));
    assert_eq!(d.pending(), 0);
}

#[test]
fn sleepable_free_waits_for_blocked_sleepable_section() {
    let d = Domain::new();
    let reader = hold(&d, Flavor::Sleepable);
    let (freed, obj) = flag();
    d.defer_free_sleepable(obj);
    thread::sleep(Duration::from_millis(30));
    assert!(
        !freed.load(Ordering::SeqCst),
        "freed while a sleepable section was open"
    );
    reader.release();
    d.barrier().unwrap();
    assert!(freed.load(Ordering::SeqCst));
}

#[test]
fn atomic_free_is_not_held_up_by_sleepable_reader() {
    let d = Domain::new();
    let sleeper = hold(&d, Flavor::Sleepable);
    let (freed, obj) = flag();
    d.defer_free_atomic(obj);
    assert!(
        eventually(2000, || freed.load(Ordering::SeqCst)),
        "an atomic-only free waited for a sleepable section"
    );
    // ... and an atomic grace period does not wait for it either.
    d.synchronize_atomic().unwrap();
    sleeper.release();
}

#[test]
fn both_waits_for_each_kind() {
    for flavor in [Flavor::Atomic, Flavor::Sleepable] {
        let d = Domain::new();
        let reader = hold(&d, flavor);
        let (freed, obj) = flag();
        d.defer_free_both(obj);
        thread::sleep(Duration::from_millis(30));
        assert!(
            !freed.load(Ordering::SeqCst),
            "defer_free_both ran while a {flavor} section was open"
        );
        reader.release();
        d.barrier().unwrap();
        assert!(freed.load(Ordering::SeqCst));
    }
}

#[test]
fn overlapping_readers_never_starve_a_grace_period() {
    // Two threads hold sleepable sections back to back, offset so that at every moment one of
    // them is inside. Each section is short, so a grace period that waits only for the sections
    // open when it started ends; one that waited for a moment with no reader would never end.
    let d = Domain::new();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|i| {
            let (d, stop) = (d.clone(), stop.clone());
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(5 * i));
                while !stop.load(Ordering::SeqCst) {
                    let _g = d.read_sleepable();
                    thread::sleep(Duration::from_millis(10));
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(20));
    d.synchronize_both().unwrap();
    let (freed, obj) = flag();
    d.defer_free_both(obj);
    let done = eventually(3000, || freed.load(Ordering::SeqCst));
    stop.store(true, Ordering::SeqCst);
    for r in readers {
        r.join().unwrap();
    }
    assert!(
        done,
        "continuously overlapping readers starved the grace period"
    );
}

#[test]
fn synchronize_waits_for_its_flavour_only() {
    let d = Domain::new();
    let reader = hold(&d, Flavor::Sleepable);
    let returned = Arc::new(AtomicBool::new(false));
    let (d2, r2) = (d.clone(), returned.clone());
    let waiter = thread::spawn(move || {
        d2.synchronize_both().unwrap();
        r2.store(true, Ordering::SeqCst);
    });
    d.synchronize_atomic().unwrap();
    thread::sleep(Duration::from_millis(30));
    assert!(
        !returned.load(Ordering::SeqCst),
        "synchronize_both ignored a sleepable reader"
    );
    reader.release();
    waiter.join().unwrap();
    assert!(returned.load(Ordering::SeqCst));
}

#[test]
fn nested_sections_end_at_the_outermost_exit() {
    let d = Domain::new();
    let (tx_inner_done, rx_inner_done) = mpsc::channel();
    let (tx_go, rx_go) = mpsc::channel::<()>();
    let d2 = d.clone();
    let reader = thread::spawn(move || {
        let outer = d2.read_atomic();
        {
            let _inner = d2.read_atomic();
            let _inner2 = d2.register().read_atomic();
        }
        tx_inner_done.send(()).unwrap();
        rx_go.recv().unwrap();
        drop(outer);
    });
    rx_inner_done.recv().unwrap();
    let (freed, obj) = flag();
    d.defer_free_atomic(obj);
    thread::sleep(Duration::from_millis(30));
    assert!(
        !freed.load(Ordering::SeqCst),
        "inner exit ended the outer section"
    );
    tx_go.send(()).unwrap();
    reader.join().unwrap();
    d.barrier().unwrap();
    assert!(freed.load(Ordering::SeqCst));
}

#[test]
fn waiting_inside_own_section_is_refused() {
    let d = Domain::new();
    let g = d.read_atomic();
    assert!(d.in_atomic_section() && !d.in_sleepable_section());
    assert_eq!(
        d.synchronize_atomic(),
        Err(RcuError::WouldDeadlock {
            flavor: Flavor::Atomic,
            held: Flavor::Atomic
        })
    );
    assert!(d.barrier().is_err());
    // A sleepable grace period does not wait for atomic sections: allowed.
    d.synchronize_sleepable().unwrap();
    drop(g);
    let s = d.read_sleepable();
    assert!(d.synchronize_both().is_err());
    d.synchronize_atomic().unwrap();
    drop(s);
    assert!(!d.in_atomic_section() && !d.in_sleepable_section());
    d.synchronize_both().unwrap();
    // Another domain's sections are unrelated.
    let other = Domain::new();
    let _g = other.read_atomic();
    d.synchronize_both().unwrap();
}

#[test]
fn barrier_runs_everything_queued_and_callbacks_may_defer_more() {
    let d = Domain::new();
    let count = Arc::new(AtomicUsize::new(0));
    for i in 0..1000 {
        let c = count.clone();
        let d2 = d.clone();
        let flavor = [Flavor::Atomic, Flavor::Sleepable, Flavor::Both][i % 3];
        d.defer_call(flavor, move || {
            c.fetch_add(1, Ordering::SeqCst);
            if i.is_multiple_of(100) {
                let c2 = c.clone();
                d2.defer_call(Flavor::Both, move || {
                    c2.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
    }
    d.barrier().unwrap();
    assert!(count.load(Ordering::SeqCst) >= 1000);
    d.barrier().unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1010);
    assert_eq!(d.pending(), 0);
    let s = d.stats();
    assert_eq!((s.deferred, s.reclaimed, s.panicked), (1010, 1010, 0));
}

#[test]
fn panicking_destructor_does_not_stop_reclamation() {
    let d = Domain::new();
    d.defer_call(Flavor::Atomic, || {
        panic!("destructor failure (expected in this test)")
    });
    let (freed, obj) = flag();
    d.defer_free_atomic(obj);
    d.barrier().unwrap();
    assert!(freed.load(Ordering::SeqCst));
    assert_eq!(d.stats().panicked, 1);
}

#[test]
fn exited_threads_release_their_slots() {
    let d = Domain::new();
    for _ in 0..20 {
        let d2 = d.clone();
        thread::spawn(move || drop(d2.read_sleepable()))
            .join()
            .unwrap();
    }
    assert!(d.reader_slots() <= 2, "slots leaked: {}", d.reader_slots());
}

#[test]
fn dropping_the_domain_runs_pending_frees() {
    let d = Domain::new();
    let (freed, obj) = flag();
    d.defer_free_both(obj);
    drop(d);
    assert!(freed.load(Ordering::SeqCst));
}
