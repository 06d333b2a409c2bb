//! The hash table core shared by every hash-map flavour: buckets of singly linked,
//! RCU-traversed element lists with "nulls" terminators, and element storage (a preallocated
//! pool whose slots are reused at once, or individually allocated elements reclaimed through
//! lull-rcu after both grace periods).
//!
//! Readers (programs, host lookups) walk a bucket without locks inside a read section.
//! Writers take the bucket's lock, publish new elements at the head with release stores and
//! unlink old ones without touching their `next`, so a reader standing on an unlinked element
//! can still finish its walk. A preallocated element may be reused for another key while a
//! reader stands on it (the kernel does the same); the reader then reaches the terminator of
//! another bucket — the terminator encodes its bucket index — and restarts.
//!
//! Element layout (8-byte aligned): `ElemHdr` (16 bytes) | key rounded to 8 | value area
//! (one 8-byte-rounded value, or one per CPU for per-CPU maps). Keys are compared and copied
//! with relaxed atomic word accesses because a reused element's key may change under a reader.
#![allow(unsafe_code)]

use crate::error::{MapError, MapResult};
use crate::mem::{self, RawBuf};
use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Header at the start of every element.
#[repr(C)]
struct ElemHdr {
    /// Next element's address, or a nulls terminator `(bucket << 1) | 1`.
    next: AtomicUsize,
    /// The key's hash.
    hash: AtomicU32,
    /// Pool index (preallocated tables), `u32::MAX` otherwise.
    index: u32,
}

const HDR: usize = std::mem::size_of::<ElemHdr>();

/// A reference to an element; valid while the caller's read section (or bucket lock) lasts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Elem(NonNull<ElemHdr>);

// SAFETY: an Elem is an address; all access through it is atomic or to value memory.
unsafe impl Send for Elem {}

struct Bucket {
    head: AtomicUsize,
    lock: Mutex<()>,
}

/// A held bucket lock.
pub(crate) struct Locked<'a> {
    bucket: &'a Bucket,
    _guard: MutexGuard<'a, ()>,
}

/// A key as padded native-endian words, plus its hash.
pub(crate) struct KeyWords {
    inline: [u64; 8],
    heap: Vec<u64>,
    n: usize,
    pub(crate) hash: u32,
}

impl KeyWords {
    #[inline]
    fn words(&self) -> &[u64] {
        if self.heap.is_empty() {
            &self.inline[..self.n]
        } else {
            &self.heap
        }
    }
}

enum Storage {
    /// `max` slots (+ spares) in one allocation; `free` holds unused slot indices (unused by
    /// LRU tables, whose free lists live in the LRU).
    Pool {
        buf: RawBuf,
        free: Mutex<Vec<u32>>,
        slots: u32,
    },
    /// Elements allocated one by one, reclaimed after both grace periods.
    Dynamic { layout: Layout },
}

/// Bucket array + element storage.
pub(crate) struct Table {
    buckets: Box<[Bucket]>,
    mask: u32,
    seed: u64,
    key_size: usize,
    key_words: usize,
    value_off: usize,
    elem_size: usize,
    storage: Storage,
    domain: lull_rcu::Domain,
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xBF58_476D_1CE4_E5B9;

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

impl Table {
    /// A table for `max_entries` elements of the given key size and value-area size.
    /// `pool_slots`: `Some(n)` preallocates `n` elements (`all_free` puts them on the table's
    /// free list); `None` allocates elements on demand.
    pub(crate) fn new(
        key_size: u32,
        value_area: usize,
        max_entries: u32,
        pool_slots: Option<u32>,
        all_free: bool,
        seed: u64,
        domain: lull_rcu::Domain,
    ) -> MapResult<Table> {
        let n_buckets = max_entries.max(1).next_power_of_two();
        let key_words = (key_size as usize).div_ceil(8);
        let value_off = HDR + key_words * 8;
        let elem_size = (value_off + value_area).next_multiple_of(8);
        let buckets: Box<[Bucket]> = (0..n_buckets)
            .map(|i| Bucket {
                head: AtomicUsize::new(nulls(i)),
                lock: Mutex::new(()),
            })
            .collect();
        let storage = match pool_slots {
            Some(slots) => {
                let total = elem_size
                    .checked_mul(slots as usize)
                    .ok_or(MapError::TooBig("hash pool size overflows"))?;
                let buf = RawBuf::zeroed(total, 64).ok_or(MapError::NoMemory("hash pool"))?;
                for i in 0..slots {
                    // SAFETY: slot i is inside the pool; the header's `index` field is written
                    // before the table is shared.
                    unsafe {
                        let h = buf.at(i as usize * elem_size).cast::<ElemHdr>();
                        (*h).index = i;
                    }
                }
                let free = if all_free {
                    (0..slots).rev().collect()
                } else {
                    Vec::new()
                };
                Storage::Pool {
                    buf,
                    free: Mutex::new(free),
                    slots,
                }
            }
            None => Storage::Dynamic {
                layout: Layout::from_size_align(elem_size, 8)
                    .map_err(|_| MapError::TooBig("element too large"))?,
            },
        };
        Ok(Table {
            buckets,
            mask: n_buckets - 1,
            seed,
            key_size: key_size as usize,
            key_words,
            value_off,
            elem_size,
            storage,
            domain,
        })
    }

    /// Number of buckets.
    pub(crate) fn n_buckets(&self) -> u32 {
        self.mask + 1
    }

    /// The key's words and hash.
    #[inline]
    pub(crate) fn key(&self, key: &[u8]) -> KeyWords {
        // Fast paths for the common 4- and 8-byte keys.
        let small = match (self.key_size, key) {
            (4, &[a, b, c, d, ..]) => Some(u64::from(u32::from_ne_bytes([a, b, c, d]))),
            (8, &[a, b, c, d, e, f, g, h, ..]) => {
                Some(u64::from_ne_bytes([a, b, c, d, e, f, g, h]))
            }
            _ => None,
        };
        if let Some(w) = small {
            let mut inline = [0; 8];
            inline[0] = w;
            let h = fold_mul(self.seed ^ w, K1);
            let hash = fold_mul(h ^ self.key_size as u64, K2) as u32;
            return KeyWords {
                inline,
                heap: Vec::new(),
                n: 1,
                hash,
            };
        }
        let mut kw = KeyWords {
            inline: [0; 8],
            heap: Vec::new(),
            n: self.key_words,
            hash: 0,
        };
        let dst: &mut [u64] = if self.key_words <= 8 {
            &mut kw.inline[..self.key_words]
        } else {
            kw.heap = vec![0; self.key_words];
            &mut kw.heap
        };
        let mut h = self.seed;
        for (i, w) in dst.iter_mut().enumerate() {
            let chunk = &key[i * 8..key.len().min(i * 8 + 8)];
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_ne_bytes(bytes);
            h = fold_mul(h ^ *w, K1);
        }
        kw.hash = fold_mul(h ^ self.key_size as u64, K2) as u32;
        kw
    }

    #[inline]
    fn hdr(&self, e: Elem) -> &ElemHdr {
        // SAFETY: every Elem handed out points at a live element header: pool slots live as
        // long as the table, dynamic elements until a grace period after their unlinking,
        // which outlasts the caller's read section or bucket lock.
        unsafe { e.0.as_ref() }
    }

    #[inline]
    fn key_word(&self, e: Elem, i: usize) -> &AtomicU64 {
        // SAFETY: word i < key_words of a live element; 8-aligned (HDR is 16, elements 8-aligned).
        unsafe { AtomicU64::from_ptr(e.0.as_ptr().cast::<u8>().add(HDR + i * 8).cast::<u64>()) }
    }

    #[inline]
    fn key_eq(&self, e: Elem, kw: &KeyWords) -> bool {
        kw.words()
            .iter()
            .enumerate()
            .all(|(i, w)| self.key_word(e, i).load(Ordering::Relaxed) == *w)
    }

    /// Address of the value area of `e`, plus `off`.
    #[inline]
    pub(crate) fn value_ptr(&self, e: Elem, off: usize) -> NonNull<u8> {
        // SAFETY: value_off + off stays inside the element (callers pass a CPU slot offset).
        unsafe { NonNull::new_unchecked(e.0.as_ptr().cast::<u8>().add(self.value_off + off)) }
    }

    /// Host copy into the value area at `off` (a CPU slot offset), skipping `skip`.
    pub(crate) fn store_value(&self, e: Elem, off: usize, src: &[u8], skip: mem::Skip) {
        assert!(off.is_multiple_of(8) && self.value_off + off + src.len() <= self.elem_size);
        // SAFETY: inside the element's value area (checked), 8-aligned.
        unsafe { mem::store_bytes(self.value_ptr(e, off).as_ptr(), src, skip) }
    }

    /// Host copy out of the value area at `off`, skipping `skip`.
    pub(crate) fn load_value(&self, e: Elem, off: usize, dst: &mut [u8], skip: mem::Skip) {
        assert!(off.is_multiple_of(8) && self.value_off + off + dst.len() <= self.elem_size);
        // SAFETY: inside the element's value area (checked), 8-aligned.
        unsafe { mem::load_bytes(self.value_ptr(e, off).as_ptr(), dst, skip) }
    }

    /// The first 8 value bytes as one atomic word (fd maps store a pointer there).
    pub(crate) fn value_word(&self, e: Elem) -> u64 {
        assert!(self.value_off + 8 <= self.elem_size);
        // SAFETY: 8 bytes inside the value area, 8-aligned.
        unsafe { AtomicU64::from_ptr(self.value_ptr(e, 0).as_ptr().cast::<u64>()) }
            .load(Ordering::Acquire)
    }

    /// Runs `f` holding the `bpf_spin_lock` at value byte `lock_off`.
    pub(crate) fn with_value_lock<R>(&self, e: Elem, lock_off: usize, f: impl FnOnce() -> R) -> R {
        assert!(lock_off.is_multiple_of(4) && self.value_off + lock_off + 4 <= self.elem_size);
        // SAFETY: 4 bytes inside the value area (checked), 4-aligned.
        unsafe { mem::with_spin_lock(self.value_ptr(e, lock_off).as_ptr(), f) }
    }

    /// The element's pool index (`u32::MAX` for dynamic elements).
    pub(crate) fn index_of(&self, e: Elem) -> u32 {
        self.hdr(e).index
    }

    /// The element's hash.
    pub(crate) fn hash_of(&self, e: Elem) -> u32 {
        self.hdr(e).hash.load(Ordering::Relaxed)
    }

    /// Copies the element's key into `out` (`key_size` bytes).
    pub(crate) fn copy_key(&self, e: Elem, out: &mut [u8]) {
        for (i, chunk) in out[..self.key_size].chunks_mut(8).enumerate() {
            let w = self.key_word(e, i).load(Ordering::Relaxed).to_ne_bytes();
            chunk.copy_from_slice(&w[..chunk.len()]);
        }
    }

    /// Lock-free lookup. The caller is inside a read section of the table's domain.
    #[inline]
    pub(crate) fn lookup(&self, kw: &KeyWords) -> Option<Elem> {
        let b = kw.hash & self.mask;
        let bucket = &self.buckets[b as usize];
        'restart: loop {
            let mut cur = bucket.head.load(Ordering::Acquire);
            while cur & 1 == 0 {
                // SAFETY: non-terminator values are element addresses published with release.
                let e = Elem(unsafe { NonNull::new_unchecked(cur as *mut ElemHdr) });
                let h = self.hdr(e);
                if h.hash.load(Ordering::Relaxed) == kw.hash && self.key_eq(e, kw) {
                    return Some(e);
                }
                cur = h.next.load(Ordering::Acquire);
            }
            if cur != nulls(b) {
                // We were carried into another bucket by a reused element: start over.
                continue 'restart;
            }
            return None;
        }
    }

    /// Locks the bucket of `hash`.
    pub(crate) fn lock(&self, hash: u32) -> Locked<'_> {
        self.lock_bucket(hash & self.mask)
    }

    /// Locks bucket `index`.
    pub(crate) fn lock_bucket(&self, index: u32) -> Locked<'_> {
        let bucket = &self.buckets[index as usize];
        let guard = bucket.lock.lock().unwrap_or_else(|p| p.into_inner());
        Locked {
            bucket,
            _guard: guard,
        }
    }

    /// Elements of a locked bucket, head first.
    pub(crate) fn elems(&self, l: &Locked<'_>) -> Vec<Elem> {
        let mut out = Vec::new();
        let mut cur = l.bucket.head.load(Ordering::Acquire);
        while cur & 1 == 0 {
            // SAFETY: under the bucket lock every list node is a live element of this bucket.
            let e = Elem(unsafe { NonNull::new_unchecked(cur as *mut ElemHdr) });
            out.push(e);
            cur = self.hdr(e).next.load(Ordering::Acquire);
        }
        out
    }

    /// Finds `kw` in a locked bucket.
    pub(crate) fn find_locked(&self, l: &Locked<'_>, kw: &KeyWords) -> Option<Elem> {
        let mut cur = l.bucket.head.load(Ordering::Acquire);
        while cur & 1 == 0 {
            // SAFETY: as in `elems`.
            let e = Elem(unsafe { NonNull::new_unchecked(cur as *mut ElemHdr) });
            if self.hdr(e).hash.load(Ordering::Relaxed) == kw.hash && self.key_eq(e, kw) {
                return Some(e);
            }
            cur = self.hdr(e).next.load(Ordering::Acquire);
        }
        None
    }

    /// Publishes `e` (key and value already written) at the head of the locked bucket.
    pub(crate) fn link_head(&self, l: &Locked<'_>, e: Elem) {
        let head = l.bucket.head.load(Ordering::Relaxed);
        self.hdr(e).next.store(head, Ordering::Relaxed);
        l.bucket
            .head
            .store(e.0.as_ptr() as usize, Ordering::Release);
    }

    /// Unlinks `e` from the locked bucket; its own `next` stays intact for readers standing
    /// on it. Returns false if `e` is not in the bucket.
    pub(crate) fn unlink(&self, l: &Locked<'_>, e: Elem) -> bool {
        let target = e.0.as_ptr() as usize;
        let mut link = &l.bucket.head;
        loop {
            let cur = link.load(Ordering::Relaxed);
            if cur & 1 != 0 {
                return false;
            }
            if cur == target {
                let next = self.hdr(e).next.load(Ordering::Relaxed);
                link.store(next, Ordering::Release);
                return true;
            }
            // SAFETY: as in `elems`.
            link = &unsafe { &*(cur as *const ElemHdr) }.next;
        }
    }

    /// Takes a free element from the table's own pool free list or allocates one, and writes
    /// the key and hash. The element is not linked yet.
    pub(crate) fn alloc(&self, kw: &KeyWords) -> Option<Elem> {
        let e = match &self.storage {
            Storage::Pool { free, .. } => {
                let idx = free.lock().unwrap_or_else(|p| p.into_inner()).pop()?;
                self.slot(idx)
            }
            Storage::Dynamic { layout } => {
                let buf = RawBuf::zeroed(layout.size(), layout.align())?;
                let p = buf.into_raw();
                // SAFETY: fresh allocation, large enough for the header; not shared yet.
                unsafe { (*p.as_ptr().cast::<ElemHdr>()).index = u32::MAX };
                Elem(p.cast())
            }
        };
        self.init(e, kw);
        Some(e)
    }

    /// Writes key words and hash into an element taken from a pool by someone else (LRU).
    pub(crate) fn init(&self, e: Elem, kw: &KeyWords) {
        for (i, w) in kw.words().iter().enumerate() {
            self.key_word(e, i).store(*w, Ordering::Relaxed);
        }
        self.hdr(e).hash.store(kw.hash, Ordering::Relaxed);
    }

    /// Pool slot `idx`.
    pub(crate) fn slot(&self, idx: u32) -> Elem {
        match &self.storage {
            Storage::Pool { buf, slots, .. } => {
                assert!(idx < *slots, "pool index out of range");
                // SAFETY: inside the pool.
                Elem(unsafe {
                    NonNull::new_unchecked(buf.at(idx as usize * self.elem_size).cast())
                })
            }
            Storage::Dynamic { .. } => unreachable!("slot() on a dynamic table"),
        }
    }

    /// Returns an unlinked element: a pool slot becomes reusable at once (as in the kernel's
    /// preallocated maps); a dynamic element is poisoned and freed after both grace periods.
    pub(crate) fn free(&self, e: Elem) {
        match &self.storage {
            Storage::Pool { free, .. } => {
                free.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(self.hdr(e).index);
            }
            Storage::Dynamic { layout } => {
                // SAFETY: `e` came from `alloc` (RawBuf::into_raw with this layout) and was
                // unlinked by the caller, so from now on only existing readers can reach it.
                let buf = unsafe { RawBuf::from_raw(e.0.cast(), *layout) };
                self.domain.defer_free_both(Box::new(buf));
            }
        }
    }

    /// First element of buckets `from..`, as (bucket, element).
    fn first_from(&self, from: u32) -> Option<Elem> {
        for b in from..=self.mask {
            let head = self.buckets[b as usize].head.load(Ordering::Acquire);
            if head & 1 == 0 {
                // SAFETY: a published element address.
                return Some(Elem(unsafe {
                    NonNull::new_unchecked(head as *mut ElemHdr)
                }));
            }
        }
        None
    }

    /// `htab_map_get_next_key`: the key after `key` in bucket order; a missing or absent
    /// key restarts from the first element. Caller is inside a read section.
    pub(crate) fn next_key(&self, key: Option<&KeyWords>, out: &mut [u8]) -> MapResult<()> {
        let mut from = 0;
        if let Some(kw) = key
            && let Some(e) = self.lookup(kw)
        {
            let next = self.hdr(e).next.load(Ordering::Acquire);
            if next & 1 == 0 {
                // SAFETY: a published element address.
                let n = Elem(unsafe { NonNull::new_unchecked(next as *mut ElemHdr) });
                self.copy_key(n, out);
                return Ok(());
            }
            from = (kw.hash & self.mask) + 1;
        }
        match self.first_from(from) {
            Some(e) => {
                self.copy_key(e, out);
                Ok(())
            }
            None => Err(MapError::NotFound),
        }
    }

    /// Pool slot count (preallocated tables).
    pub(crate) fn pool_slots(&self) -> u32 {
        match &self.storage {
            Storage::Pool { slots, .. } => *slots,
            Storage::Dynamic { .. } => 0,
        }
    }

    /// Whether elements come from a pool.
    pub(crate) fn is_prealloc(&self) -> bool {
        matches!(self.storage, Storage::Pool { .. })
    }

    /// Zeroes `len` bytes of the value area at `off` (new elements start zeroed).
    pub(crate) fn zero_value(&self, e: Elem, off: usize, len: usize) {
        // SAFETY: inside the element's value area, 8-aligned.
        unsafe { mem::zero_bytes(self.value_ptr(e, off).as_ptr(), len) }
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        if let Storage::Dynamic { layout } = &self.storage {
            let layout = *layout;
            for b in self.buckets.iter() {
                let mut cur = b.head.load(Ordering::Acquire);
                while cur & 1 == 0 {
                    // SAFETY: the table is being dropped: no reader or writer remains, each
                    // linked element is freed exactly once here.
                    let next = unsafe { &*(cur as *const ElemHdr) }
                        .next
                        .load(Ordering::Acquire);
                    // SAFETY: as above; allocated by `alloc` with this layout.
                    drop(unsafe {
                        RawBuf::from_raw(NonNull::new_unchecked(cur as *mut u8), layout)
                    });
                    cur = next;
                }
            }
        }
    }
}

const fn nulls(bucket: u32) -> usize {
    ((bucket as usize) << 1) | 1
}
