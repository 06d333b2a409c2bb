//! LRU bookkeeping for `BPF_MAP_TYPE_LRU_HASH` / `LRU_PERCPU_HASH` (`kernel/bpf/bpf_lru_list.c`).
//!
//! The kernel's scheme, kept here: lookups from programs only set a per-element reference bit
//! (no lock, no list move). Elements live on an *inactive* or an *active* list (newest at the
//! head); all ordering work happens when a free element is needed and none is left:
//! 1. if the inactive list is shorter than the active one, the active list is rotated from its
//!    tail: referenced elements go back to the active head (bit cleared), others to the
//!    inactive head;
//! 2. the inactive list is rotated: referenced elements move to the active head (bit cleared);
//! 3. the inactive list is shrunk from its tail: the first unreferenced element that can still
//!    be removed from the table is evicted (referenced ones move to active);
//! 4. if nothing was evicted, the oldest removable element is taken regardless of its bit
//!    (inactive list first, then active) — so an update of a full LRU map never fails.
//!
//! New elements start on the inactive list with the bit clear. There is one list pair, or one
//! per CPU with `BPF_F_NO_COMMON_LRU` (each owning `max_entries / nr_cpus` elements).
//!
//! Differences from the kernel (documented approximation): the kernel moves freed elements
//! through per-CPU local free/pending lists and, when it must evict, frees up to
//! `target_free` (≤ 128) elements in one go; its inactive rotation resumes from a cursor.
//! Lull evicts exactly one element per insertion into a full map and rotates the whole
//! inactive list, so it keeps at least as many elements as the kernel and evicts in the same
//! "unreferenced, oldest first" order for simple sequences.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};

const NIL: u32 = u32::MAX;
const INACTIVE: usize = 0;
const ACTIVE: usize = 1;

struct Link {
    prev: AtomicU32,
    next: AtomicU32,
    /// Which list the element is on (`INACTIVE`/`ACTIVE`), while in use.
    on: AtomicU8,
}

#[derive(Clone, Copy)]
struct Ends {
    head: u32,
    tail: u32,
    len: u32,
}

struct List {
    lists: [Ends; 2],
    free: Vec<u32>,
}

/// The LRU lists of one map.
pub(crate) struct Lru {
    lists: Box<[Mutex<List>]>,
    links: Box<[Link]>,
    refs: Box<[AtomicU8]>,
}

impl Lru {
    /// `slots` pool elements split over `n_lists` lists (slot `i` belongs to list `i % n`).
    pub(crate) fn new(slots: u32, n_lists: u32) -> Lru {
        let n_lists = n_lists.max(1);
        let empty = Ends {
            head: NIL,
            tail: NIL,
            len: 0,
        };
        let lists = (0..n_lists)
            .map(|l| {
                let free = (0..slots).rev().filter(|i| i % n_lists == l).collect();
                Mutex::new(List {
                    lists: [empty; 2],
                    free,
                })
            })
            .collect();
        let links = (0..slots)
            .map(|_| Link {
                prev: AtomicU32::new(NIL),
                next: AtomicU32::new(NIL),
                on: AtomicU8::new(0),
            })
            .collect();
        let refs = (0..slots).map(|_| AtomicU8::new(0)).collect();
        Lru { lists, links, refs }
    }

    fn list_of(&self, idx: u32) -> usize {
        idx as usize % self.lists.len()
    }

    /// The list a CPU allocates from.
    pub(crate) fn list_for_cpu(&self, cpu: u32) -> usize {
        cpu as usize % self.lists.len()
    }

    /// `bpf_lru_node_set_ref`: cheap, lock-free.
    #[inline]
    pub(crate) fn mark(&self, idx: u32) {
        let r = &self.refs[idx as usize];
        if r.load(Ordering::Relaxed) == 0 {
            r.store(1, Ordering::Relaxed);
        }
    }

    fn link(&self, idx: u32) -> &Link {
        &self.links[idx as usize]
    }

    fn unlink(&self, l: &mut List, idx: u32) {
        let link = self.link(idx);
        let which = link.on.load(Ordering::Relaxed) as usize;
        let (p, n) = (
            link.prev.load(Ordering::Relaxed),
            link.next.load(Ordering::Relaxed),
        );
        let ends = &mut l.lists[which];
        if p == NIL {
            ends.head = n
        } else {
            self.link(p).next.store(n, Ordering::Relaxed)
        }
        if n == NIL {
            ends.tail = p
        } else {
            self.link(n).prev.store(p, Ordering::Relaxed)
        }
        ends.len -= 1;
    }

    fn push_head(&self, l: &mut List, which: usize, idx: u32) {
        let link = self.link(idx);
        let ends = &mut l.lists[which];
        link.on.store(which as u8, Ordering::Relaxed);
        link.prev.store(NIL, Ordering::Relaxed);
        link.next.store(ends.head, Ordering::Relaxed);
        if ends.head == NIL {
            ends.tail = idx
        } else {
            self.link(ends.head).prev.store(idx, Ordering::Relaxed)
        }
        ends.head = idx;
        ends.len += 1;
    }

    /// Moves `idx` to the head of `which`, clearing its reference bit.
    fn move_to(&self, l: &mut List, which: usize, idx: u32) {
        self.unlink(l, idx);
        self.refs[idx as usize].store(0, Ordering::Relaxed);
        self.push_head(l, which, idx);
    }

    fn is_ref(&self, idx: u32) -> bool {
        self.refs[idx as usize].load(Ordering::Relaxed) != 0
    }

    /// Takes a free element of `list` (evicting one through `evict`, which removes it from the
    /// hash table and says whether it could) and puts it at the inactive head with its
    /// reference bit clear. `None` only if nothing could be evicted.
    pub(crate) fn pop_free(&self, list: usize, mut evict: impl FnMut(u32) -> bool) -> Option<u32> {
        let mut l = self.lists[list].lock().unwrap_or_else(|p| p.into_inner());
        let idx = match l.free.pop() {
            Some(i) => i,
            None => self.shrink(&mut l, &mut evict)?,
        };
        self.refs[idx as usize].store(0, Ordering::Relaxed);
        self.push_head(&mut l, INACTIVE, idx);
        Some(idx)
    }

    /// Walks list `which` from its tail over the elements present at the start.
    fn tail_walk(&self, l: &List, which: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(l.lists[which].len as usize);
        let mut cur = l.lists[which].tail;
        while cur != NIL {
            out.push(cur);
            cur = self.link(cur).prev.load(Ordering::Relaxed);
        }
        out
    }

    fn shrink(&self, l: &mut List, evict: &mut impl FnMut(u32) -> bool) -> Option<u32> {
        if l.lists[INACTIVE].len < l.lists[ACTIVE].len {
            for idx in self.tail_walk(l, ACTIVE) {
                let to = if self.is_ref(idx) { ACTIVE } else { INACTIVE };
                self.move_to(l, to, idx);
            }
        }
        for idx in self.tail_walk(l, INACTIVE) {
            if self.is_ref(idx) {
                self.move_to(l, ACTIVE, idx);
            }
        }
        for idx in self.tail_walk(l, INACTIVE) {
            if self.is_ref(idx) {
                self.move_to(l, ACTIVE, idx);
            } else if evict(idx) {
                self.unlink(l, idx);
                return Some(idx);
            }
        }
        let force = if l.lists[INACTIVE].len > 0 {
            INACTIVE
        } else {
            ACTIVE
        };
        for idx in self.tail_walk(l, force) {
            if evict(idx) {
                self.unlink(l, idx);
                return Some(idx);
            }
        }
        None
    }

    /// Returns an element (already removed from the hash table) to its list's free slots.
    pub(crate) fn push_free(&self, idx: u32) {
        let mut l = self.lists[self.list_of(idx)]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        self.unlink(&mut l, idx);
        l.free.push(idx);
    }
}
