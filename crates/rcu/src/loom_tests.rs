//! Loom models of the protocol core (`RUSTFLAGS="--cfg loom" cargo test -p lull-rcu --release`).
//!
//! Each model has a shared pointer (an index into two objects), a writer that publishes the second
//! object, waits for a grace period with the real [`Registry`] and [`Snapshot`](crate::registry::Snapshot)
//! code and then marks the first object freed, and readers that open a section on a real slot,
//! load the pointer and check that the object they reach is not freed. The last model removes the
//! reader's fence and must fail: the models are sensitive to the ordering they claim to check.

use crate::Flavor;
use crate::registry::{Registry, SlotRef};
use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;

/// Two objects, a pointer to one of them, and the domain's reader registry.
struct World {
    ptr: AtomicUsize,
    freed: [AtomicBool; 2],
    registry: Registry,
}

impl World {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            ptr: AtomicUsize::new(0),
            freed: [AtomicBool::new(false), AtomicBool::new(false)],
            registry: Registry::default(),
        })
    }

    /// A reader's access: follow the pointer and use the object.
    fn read(&self) {
        let i = self.ptr.load(Ordering::Acquire);
        assert!(
            !self.freed[i].load(Ordering::Relaxed),
            "reader saw a freed object"
        );
    }

    /// The writer: unlink object 0, wait for a grace period of `flavor`, free object 0.
    fn replace(&self, flavor: Flavor) {
        self.ptr.store(1, Ordering::Release);
        self.registry.snapshot(flavor).wait();
        self.freed[0].store(true, Ordering::Relaxed);
    }

    /// A reader thread doing `sections` sections of `flavor` on `slot` (or on a slot it registers
    /// itself, racing with the writer's scan, when `slot` is `None`).
    fn spawn_reader(
        world: &Arc<Self>,
        slot: Option<SlotRef>,
        flavor: Flavor,
        sections: usize,
    ) -> thread::JoinHandle<()> {
        let world = world.clone();
        thread::spawn(move || {
            let own = slot.is_none();
            let slot = slot.unwrap_or_else(|| world.registry.acquire());
            let word = match flavor {
                Flavor::Sleepable => &slot.sleepable,
                _ => &slot.atomic,
            };
            for _ in 0..sections {
                word.enter();
                world.read();
                word.exit();
            }
            if own {
                world.registry.release(&slot);
            }
        })
    }
}

#[test]
fn atomic_reader_never_sees_freed_object() {
    loom::model(|| {
        let world = World::new();
        let reader = World::spawn_reader(&world, Some(world.registry.acquire()), Flavor::Atomic, 1);
        world.replace(Flavor::Atomic);
        reader.join().unwrap();
    });
}

#[test]
fn reader_with_two_sections_is_tracked_across_reentry() {
    // A later section's enter store must also publish the earlier section's accesses.
    loom::model(|| {
        let world = World::new();
        let reader =
            World::spawn_reader(&world, Some(world.registry.acquire()), Flavor::Sleepable, 2);
        world.replace(Flavor::Sleepable);
        reader.join().unwrap();
    });
}

#[test]
fn both_flavours_wait_for_atomic_and_sleepable_readers() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(|| {
        let world = World::new();
        let slot = world.registry.acquire();
        let a = World::spawn_reader(&world, Some(slot.clone()), Flavor::Atomic, 1);
        let s = World::spawn_reader(&world, Some(world.registry.acquire()), Flavor::Sleepable, 1);
        world.replace(Flavor::Both);
        a.join().unwrap();
        s.join().unwrap();
    });
}

#[test]
fn reader_registering_during_a_scan_is_safe() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(|| {
        let world = World::new();
        let reader = World::spawn_reader(&world, None, Flavor::Atomic, 1);
        world.replace(Flavor::Atomic);
        reader.join().unwrap();
    });
}

#[test]
fn open_section_holds_the_grace_period() {
    loom::model(|| {
        let registry = Registry::default();
        let slot = registry.acquire();
        slot.atomic.enter();
        let mut snap = registry.snapshot(Flavor::Both);
        assert!(!snap.poll(), "an open section must hold the grace period");
        assert!(registry.snapshot(Flavor::Sleepable).poll());
        slot.atomic.exit();
        assert!(snap.poll());
        registry.release(&slot);
    });
}

#[test]
#[should_panic(expected = "reader saw a freed object")]
fn model_rejects_a_reader_without_the_fence() {
    loom::model(|| {
        let world = World::new();
        let slot = world.registry.acquire();
        let w2 = world.clone();
        let s2 = slot.clone();
        let reader = thread::spawn(move || {
            s2.atomic.enter_unfenced();
            w2.read();
            s2.atomic.exit();
        });
        world.replace(Flavor::Atomic);
        reader.join().unwrap();
    });
}
