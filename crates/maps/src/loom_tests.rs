//! Loom models of hash-element reclamation
//! (`RUSTFLAGS="--cfg loom" cargo test -p lull-maps --release --lib loom`).
//!
//! A model of one bucket of `hash::table` with the table's orderings — writers publish a new
//! element with a relaxed store of its `next` and a release store of the head, unlink with a
//! release store into the predecessor's link, all under the bucket lock; readers walk with
//! acquire loads — and of `Table::free` for `BPF_F_NO_PREALLOC` elements: the unlinked element
//! is reclaimed (modelled: its value is overwritten with the poison word) only after a grace
//! period of the real `lull_rcu` registry (`Flavor::Both`, as `defer_free_both` waits for).
//!
//! Readers open a section on a real reader slot, look the key up, read the value, "block"
//! (a scheduling point), read it again through the held reference and check both reads. The
//! last two models must fail: a free without a grace period, and a grace period of the wrong
//! flavour (sleepable only) under an atomic reader — so the models are sensitive to what they
//! claim to check.

use crate::poison::POISON_WORD;
use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use lull_rcu::Flavor;
use lull_rcu::registry::{Registry, SlotRef};

/// Bucket terminator (odd, like the table's "nulls" value).
const NULLS: usize = 1;
const KEY: u64 = 7;
const OLD: u64 = 11;
const NEW: u64 = 22;

struct Elem {
    next: AtomicUsize,
    key: AtomicU64,
    value: AtomicU64,
}

/// One bucket, two element slots (addresses 2 and 4; odd values terminate), the reader
/// registry of the map's domain.
struct Bucket {
    head: AtomicUsize,
    lock: Mutex<()>,
    elems: [Elem; 2],
    registry: Registry,
}

fn addr(i: usize) -> usize {
    (i + 1) * 2
}

impl Bucket {
    /// A bucket holding element 0 = (KEY, OLD); element 1 is free.
    fn new() -> Arc<Bucket> {
        let elem = |key, value| Elem {
            next: AtomicUsize::new(NULLS),
            key: AtomicU64::new(key),
            value: AtomicU64::new(value),
        };
        Arc::new(Bucket {
            head: AtomicUsize::new(addr(0)),
            lock: Mutex::new(()),
            elems: [elem(KEY, OLD), elem(0, 0)],
            registry: Registry::default(),
        })
    }

    fn elem(&self, a: usize) -> &Elem {
        &self.elems[a / 2 - 1]
    }

    /// `Table::lookup`: the element holding `key`, if linked.
    fn lookup(&self, key: u64) -> Option<&Elem> {
        let mut cur = self.head.load(Ordering::Acquire);
        while cur & 1 == 0 {
            let e = self.elem(cur);
            if e.key.load(Ordering::Relaxed) == key {
                return Some(e);
            }
            cur = e.next.load(Ordering::Acquire);
        }
        None
    }

    /// `Table::link_head` (bucket lock held): key and value were written before.
    fn link_head(&self, a: usize) {
        let head = self.head.load(Ordering::Relaxed);
        self.elem(a).next.store(head, Ordering::Relaxed);
        self.head.store(a, Ordering::Release);
    }

    /// `Table::unlink` (bucket lock held).
    fn unlink(&self, a: usize) {
        let next = self.elem(a).next.load(Ordering::Relaxed);
        let mut link = &self.head;
        loop {
            let cur = link.load(Ordering::Relaxed);
            assert_eq!(cur & 1, 0, "element to unlink is not in the bucket");
            if cur == a {
                link.store(next, Ordering::Release);
                return;
            }
            link = &self.elem(cur).next;
        }
    }

    /// Reclaims element `a`: what the reader would see of freed memory.
    fn free(&self, a: usize) {
        self.elem(a).value.store(POISON_WORD, Ordering::Relaxed);
    }

    /// `htab_map_delete_elem` + `Table::free` of a dynamic element; `wait` is the grace period
    /// the free is deferred past (`None`: a broken immediate free).
    fn delete(&self, wait: Option<Flavor>) {
        {
            let _l = self.lock.lock().unwrap();
            self.unlink(addr(0));
        }
        if let Some(flavor) = wait {
            self.registry.snapshot(flavor).wait();
        }
        self.free(addr(0));
    }

    /// `update_plain` of an existing key: a new element replaces the old one, which is then
    /// freed after both grace periods.
    fn replace(&self) {
        let new = &self.elems[1];
        new.key.store(KEY, Ordering::Relaxed);
        new.value.store(NEW, Ordering::Relaxed);
        {
            let _l = self.lock.lock().unwrap();
            self.link_head(addr(1));
            self.unlink(addr(0));
        }
        self.registry.snapshot(Flavor::Both).wait();
        self.free(addr(0));
    }

    /// A program: look up, read, block, read again through the held element.
    fn reader(bucket: &Arc<Bucket>, flavor: Flavor, slot: SlotRef) -> thread::JoinHandle<()> {
        let b = bucket.clone();
        thread::spawn(move || {
            let word = match flavor {
                Flavor::Atomic => &slot.atomic,
                _ => &slot.sleepable,
            };
            word.enter();
            if let Some(e) = b.lookup(KEY) {
                let first = e.value.load(Ordering::Relaxed);
                assert_ne!(first, POISON_WORD, "reader saw a freed element");
                assert!(first == OLD || first == NEW, "value never written: {first}");
                thread::yield_now(); // blocks in a helper
                let again = e.value.load(Ordering::Relaxed);
                assert_ne!(again, POISON_WORD, "reader saw a freed element");
                assert_eq!(again, first, "held element changed");
            }
            word.exit();
            b.registry.release(&slot);
        })
    }
}

#[test]
fn deleted_element_outlives_a_sleepable_reader() {
    loom::model(|| {
        let b = Bucket::new();
        let r = Bucket::reader(&b, Flavor::Sleepable, b.registry.acquire());
        b.delete(Some(Flavor::Both));
        r.join().unwrap();
    });
}

#[test]
fn deleted_element_outlives_an_atomic_reader() {
    loom::model(|| {
        let b = Bucket::new();
        let r = Bucket::reader(&b, Flavor::Atomic, b.registry.acquire());
        b.delete(Some(Flavor::Both));
        r.join().unwrap();
    });
}

#[test]
fn replaced_element_reader_sees_old_or_new_never_freed() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(|| {
        let b = Bucket::new();
        let r = Bucket::reader(&b, Flavor::Sleepable, b.registry.acquire());
        b.replace();
        r.join().unwrap();
    });
}

#[test]
fn two_flavours_of_readers_during_one_delete() {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(|| {
        let b = Bucket::new();
        let a = Bucket::reader(&b, Flavor::Atomic, b.registry.acquire());
        let s = Bucket::reader(&b, Flavor::Sleepable, b.registry.acquire());
        b.delete(Some(Flavor::Both));
        a.join().unwrap();
        s.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "reader saw a freed element")]
fn model_rejects_a_free_without_grace_period() {
    loom::model(|| {
        let b = Bucket::new();
        let r = Bucket::reader(&b, Flavor::Sleepable, b.registry.acquire());
        b.delete(None);
        r.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "reader saw a freed element")]
fn model_rejects_a_grace_period_of_the_wrong_flavour() {
    loom::model(|| {
        let b = Bucket::new();
        let r = Bucket::reader(&b, Flavor::Atomic, b.registry.acquire());
        b.delete(Some(Flavor::Sleepable));
        r.join().unwrap();
    });
}
