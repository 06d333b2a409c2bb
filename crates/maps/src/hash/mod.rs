//! The hash-map family (`kernel/bpf/hashtab.c`): `HASH` (preallocated or
//! `BPF_F_NO_PREALLOC`), `PERCPU_HASH`, `LRU_HASH`, `LRU_PERCPU_HASH`, and the storage of
//! `HASH_OF_MAPS`. This module holds the update/delete policy (flags, replace-vs-in-place,
//! full-map rules, LRU eviction); `table` holds the concurrent bucket lists and memory.
//!
//! Semantics kept from the kernel:
//! - updating an existing key of a non-per-CPU map links a *new* element and unlinks the old
//!   one (a program holding the old value pointer keeps reading the old element);
//!   per-CPU maps update in place;
//! - a new key in a full map fails with `-E2BIG` (LRU maps evict instead);
//! - preallocated elements are reused at once after deletion (memory stays valid, contents may
//!   change); `BPF_F_NO_PREALLOC` elements are freed after both RCU grace periods;
//! - program updates of per-CPU maps write only the current CPU's value (a new element's other
//!   CPUs are zeroed); host updates write every CPU's value.

pub(crate) mod lru;
pub(crate) mod table;

use crate::error::{MapError, MapResult};
use crate::mem::Skip;
use crate::spec::{MapSpec, round_up8, update_flags as uf};
use lru::Lru;
use lull_abi::MapType;
use lull_abi::map_flags as mf;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use table::{Elem, KeyWords, Table};

/// Called with the first value word of every element that leaves the map (hash-of-maps uses
/// it to drop its reference on the inner map).
pub(crate) type ReleaseFn = Box<dyn Fn(u64) + Send + Sync>;

/// One hash map of any flavour.
pub(crate) struct HashMap {
    table: Table,
    lru: Option<Lru>,
    percpu: bool,
    value_size: usize,
    slot: usize,
    nr_cpus: u32,
    max_entries: u32,
    count: AtomicU32,
    lock_off: Option<usize>,
    release: Option<ReleaseFn>,
    domain: lull_rcu::Domain,
}

/// A page of batch results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// `count * key_size` bytes of keys.
    pub keys: Vec<u8>,
    /// `count * value_size` bytes of values (host value size).
    pub values: Vec<u8>,
    /// Number of elements returned.
    pub count: u32,
    /// The `out_batch` token to pass as `in_batch` for the next call.
    pub next: Vec<u8>,
    /// `Err(NotFound)` when the end was reached (the kernel returns `-ENOENT` together with the
    /// last elements), other errors as the kernel returns them; `Ok` when more may follow.
    pub status: Result<(), crate::MapError>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            keys: Vec::new(),
            values: Vec::new(),
            count: 0,
            next: Vec::new(),
            status: Ok(()),
        }
    }
}

fn check_flags(exists: bool, flags: u64) -> MapResult<()> {
    let f = flags & !uf::BPF_F_LOCK;
    if exists && f == uf::BPF_NOEXIST {
        return Err(MapError::Exists);
    }
    if !exists && f == uf::BPF_EXIST {
        return Err(MapError::NotFound);
    }
    Ok(())
}

impl HashMap {
    pub(crate) fn new(
        spec: &MapSpec,
        nr_cpus: u32,
        domain: lull_rcu::Domain,
        release: Option<ReleaseFn>,
    ) -> MapResult<HashMap> {
        let percpu = spec.is_percpu();
        let lru = matches!(spec.map_type, MapType::LruHash | MapType::LruPercpuHash);
        let prealloc = spec.flags & mf::NO_PREALLOC == 0;
        let slot = round_up8(spec.value_size) as usize;
        let value_area = if percpu {
            slot * nr_cpus as usize
        } else {
            slot
        };
        let mut max_entries = spec.max_entries;
        let per_cpu_lru = lru && spec.flags & mf::NO_COMMON_LRU != 0;
        if per_cpu_lru {
            // Every CPU's list gets the same number of elements (kernel: round up, or down on
            // overflow, to a multiple of the CPU count).
            let n = nr_cpus;
            max_entries = max_entries
                .checked_next_multiple_of(n)
                .unwrap_or(max_entries / n * n)
                .max(n);
        }
        let seed = if spec.flags & mf::ZERO_SEED != 0 {
            0
        } else {
            random_seed()
        };
        let (pool, all_free) = match (prealloc, lru, percpu) {
            (false, ..) => (None, false),
            (true, true, _) => (Some(max_entries), false),
            (true, false, true) => (Some(max_entries), true),
            // Spare elements so replacing a key never needs a free slot of the map's own
            // budget (the kernel's per-CPU `extra_elems`).
            (true, false, false) => (Some(max_entries.saturating_add(nr_cpus)), true),
        };
        let table = Table::new(
            spec.key_size,
            value_area,
            max_entries,
            pool,
            all_free,
            seed,
            domain.clone(),
        )?;
        let lru = lru.then(|| Lru::new(max_entries, if per_cpu_lru { nr_cpus } else { 1 }));
        Ok(HashMap {
            table,
            lru,
            percpu,
            value_size: spec.value_size as usize,
            slot,
            nr_cpus,
            max_entries,
            count: AtomicU32::new(0),
            lock_off: spec.spin_lock_off.map(|o| o as usize),
            release,
            domain,
        })
    }

    /// Effective capacity (LRU with per-CPU lists rounds it to a multiple of the CPU count).
    pub(crate) fn max_entries(&self) -> u32 {
        self.max_entries
    }

    fn skip(&self) -> Skip {
        self.lock_off.map(|o| (o, o + 4))
    }

    /// Program-side lookup: pointer to the value (this CPU's, for per-CPU maps). `mark` sets
    /// the LRU reference bit (programs do, host lookups don't). The caller is inside a read
    /// section of the map's domain for as long as it uses the pointer.
    #[inline]
    pub(crate) fn lookup(&self, key: &[u8], cpu: u32, mark: bool) -> Option<NonNull<u8>> {
        let kw = self.table.key(key);
        let e = self.table.lookup(&kw)?;
        if mark && let Some(lru) = &self.lru {
            lru.mark(self.table.index_of(e));
        }
        if self.percpu {
            if cpu >= self.nr_cpus {
                return None;
            }
            return Some(self.table.value_ptr(e, cpu as usize * self.slot));
        }
        Some(self.table.value_ptr(e, 0))
    }

    /// The first value word of `key`'s element (hash-of-maps: the inner map's address).
    /// The caller is inside a read section.
    pub(crate) fn lookup_word(&self, key: &[u8]) -> Option<u64> {
        let kw = self.table.key(key);
        self.table.lookup(&kw).map(|e| self.table.value_word(e))
    }

    /// Copies an element's host value (all CPUs for per-CPU maps) into `out`.
    fn copy_out(&self, e: Elem, out: &mut [u8], lock: bool) {
        if self.percpu {
            for cpu in 0..self.nr_cpus as usize {
                let dst = &mut out[cpu * self.slot..][..self.slot];
                self.table.load_value(e, cpu * self.slot, dst, self.skip());
            }
            return;
        }
        let dst = &mut out[..self.value_size];
        match (lock, self.lock_off) {
            (true, Some(off)) => self
                .table
                .with_value_lock(e, off, || self.table.load_value(e, 0, dst, self.skip())),
            _ => self.table.load_value(e, 0, dst, self.skip()),
        }
    }

    /// Writes a value into element `e`: host (`cpu == None`) per-CPU values carry every
    /// CPU's slot; a program writes its CPU's slot and, for a new element, zeroes the others.
    fn copy_in(&self, e: Elem, value: &[u8], cpu: Option<u32>, fresh: bool, lock: bool) {
        if self.percpu {
            match cpu {
                None => {
                    for c in 0..self.nr_cpus as usize {
                        let src = &value[c * self.slot..][..self.slot];
                        self.table.store_value(e, c * self.slot, src, self.skip());
                    }
                }
                Some(cur) => {
                    for c in 0..self.nr_cpus {
                        if c == cur {
                            let src = &value[..self.value_size];
                            self.table
                                .store_value(e, c as usize * self.slot, src, self.skip());
                        } else if fresh {
                            self.table.zero_value(e, c as usize * self.slot, self.slot);
                        }
                    }
                }
            }
            return;
        }
        let src = &value[..self.value_size];
        let copy = || self.table.store_value(e, 0, src, self.skip());
        match (lock, self.lock_off) {
            (true, Some(off)) => self.table.with_value_lock(e, off, copy),
            _ => copy(),
        }
    }

    fn release_value(&self, e: Elem) {
        if let Some(release) = &self.release {
            release(self.table.value_word(e));
        }
    }

    /// Frees an unlinked element according to the flavour.
    fn dispose(&self, e: Elem) {
        self.release_value(e);
        match &self.lru {
            Some(lru) => lru.push_free(self.table.index_of(e)),
            None => {
                self.count.fetch_sub(1, Ordering::Relaxed);
                self.table.free(e);
            }
        }
    }

    /// Host lookup (copies; LRU reference bit untouched, like `map_lookup_elem_sys_only`).
    pub(crate) fn lookup_copy(&self, key: &[u8], out: &mut [u8], lock: bool) -> MapResult<()> {
        let _g = self.domain.read_atomic();
        let kw = self.table.key(key);
        let e = self.table.lookup(&kw).ok_or(MapError::NotFound)?;
        self.copy_out(e, out, lock);
        Ok(())
    }

    /// Program-side pointer for `bpf_map_lookup_percpu_elem`.
    pub(crate) fn lookup_percpu(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        if !self.percpu || cpu >= self.nr_cpus {
            return None;
        }
        self.lookup(key, cpu, true)
    }

    /// Update from a program (`cpu = Some`) or the host (`None`).
    pub(crate) fn update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> MapResult<()> {
        let lock_ok = !self.percpu && self.lru.is_none();
        let bad = if lock_ok {
            flags & !uf::BPF_F_LOCK > uf::BPF_EXIST
        } else {
            flags > uf::BPF_EXIST
        };
        if bad {
            return Err(MapError::invalid(format!(
                "unknown update flags {flags:#x}"
            )));
        }
        let _g = self.domain.read_atomic();
        let kw = self.table.key(key);
        match (&self.lru, self.percpu) {
            (None, false) => self.update_plain(&kw, value, flags),
            (None, true) => self.update_percpu(&kw, value, flags, cpu),
            (Some(lru), false) => self.update_lru(lru, &kw, value, flags, cpu),
            (Some(lru), true) => self.update_lru_percpu(lru, &kw, value, flags, cpu),
        }
    }

    fn reserve(&self) -> MapResult<()> {
        let prev = self.count.fetch_add(1, Ordering::Relaxed);
        if prev >= self.max_entries {
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Err(MapError::TooBig("hash map is full"));
        }
        Ok(())
    }

    fn update_plain(&self, kw: &KeyWords, value: &[u8], flags: u64) -> MapResult<()> {
        let lock = flags & uf::BPF_F_LOCK != 0;
        if lock {
            if self.lock_off.is_none() {
                return Err(MapError::invalid(
                    "BPF_F_LOCK on a value without bpf_spin_lock",
                ));
            }
            let old = self.table.lookup(kw);
            check_flags(old.is_some(), flags)?;
            if let Some(e) = old {
                self.copy_in(e, value, None, false, true);
                return Ok(());
            }
        }
        let l = self.table.lock(kw.hash);
        let old = self.table.find_locked(&l, kw);
        check_flags(old.is_some(), flags)?;
        if let (Some(e), true) = (old, lock) {
            self.copy_in(e, value, None, false, true);
            return Ok(());
        }
        if old.is_none() {
            self.reserve()?;
        }
        let Some(new) = self.table.alloc(kw) else {
            if let Some(e) = old {
                // Pool spares exhausted by concurrent replacements: update in place.
                self.copy_in(e, value, None, false, false);
                return Ok(());
            }
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Err(if self.table.is_prealloc() {
                MapError::TooBig("hash map is full")
            } else {
                MapError::NoMemory("hash element allocation")
            });
        };
        self.copy_in(new, value, None, true, false);
        self.table.link_head(&l, new);
        if let Some(e) = old {
            self.table.unlink(&l, e);
        }
        drop(l);
        if let Some(e) = old {
            self.release_value(e);
            self.table.free(e);
        }
        Ok(())
    }

    fn update_percpu(
        &self,
        kw: &KeyWords,
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> MapResult<()> {
        let l = self.table.lock(kw.hash);
        let old = self.table.find_locked(&l, kw);
        check_flags(old.is_some(), flags)?;
        if let Some(e) = old {
            self.copy_in(e, value, cpu, false, false);
            return Ok(());
        }
        self.reserve()?;
        let Some(new) = self.table.alloc(kw) else {
            self.count.fetch_sub(1, Ordering::Relaxed);
            return Err(MapError::NoMemory("hash element allocation"));
        };
        self.copy_in(new, value, cpu, true, false);
        self.table.link_head(&l, new);
        Ok(())
    }

    /// `del_from_htab`: removes pool slot `idx` from the table if it is still linked.
    fn evict(&self, idx: u32) -> bool {
        let e = self.table.slot(idx);
        let l = self.table.lock(self.table.hash_of(e));
        self.table.unlink(&l, e)
    }

    fn lru_pop(&self, lru: &Lru, cpu: Option<u32>) -> MapResult<Elem> {
        let list = lru.list_for_cpu(cpu.unwrap_or(0));
        let idx = lru
            .pop_free(list, |i| self.evict(i))
            .ok_or(MapError::NoMemory("no free or evictable LRU element"))?;
        Ok(self.table.slot(idx))
    }

    fn update_lru(
        &self,
        lru: &Lru,
        kw: &KeyWords,
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> MapResult<()> {
        let new = self.lru_pop(lru, cpu)?;
        self.table.init(new, kw);
        self.copy_in(new, value, None, true, false);
        let l = self.table.lock(kw.hash);
        let old = self.table.find_locked(&l, kw);
        if let Err(err) = check_flags(old.is_some(), flags) {
            drop(l);
            lru.push_free(self.table.index_of(new));
            return Err(err);
        }
        self.table.link_head(&l, new);
        if let Some(e) = old {
            lru.mark(self.table.index_of(new));
            self.table.unlink(&l, e);
        }
        drop(l);
        if let Some(e) = old {
            lru.push_free(self.table.index_of(e));
        }
        Ok(())
    }

    fn update_lru_percpu(
        &self,
        lru: &Lru,
        kw: &KeyWords,
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> MapResult<()> {
        let new = if flags != uf::BPF_EXIST {
            Some(self.lru_pop(lru, cpu)?)
        } else {
            None
        };
        if let Some(n) = new {
            self.table.init(n, kw);
        }
        let l = self.table.lock(kw.hash);
        let old = self.table.find_locked(&l, kw);
        let result = check_flags(old.is_some(), flags);
        let mut leftover = new;
        if result.is_ok() {
            match old {
                Some(e) => {
                    lru.mark(self.table.index_of(e));
                    self.copy_in(e, value, cpu, false, false);
                }
                None => {
                    let n = new.expect("an element was popped unless BPF_EXIST");
                    self.copy_in(n, value, cpu, true, false);
                    self.table.link_head(&l, n);
                    leftover = None;
                }
            }
        }
        drop(l);
        if let Some(n) = leftover {
            lru.push_free(self.table.index_of(n));
        }
        result
    }

    /// `htab_map_delete_elem` / `htab_lru_map_delete_elem`.
    pub(crate) fn delete(&self, key: &[u8]) -> MapResult<()> {
        let _g = self.domain.read_atomic();
        let kw = self.table.key(key);
        let l = self.table.lock(kw.hash);
        let e = self.table.find_locked(&l, &kw).ok_or(MapError::NotFound)?;
        self.table.unlink(&l, e);
        drop(l);
        self.dispose(e);
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` for hash maps.
    pub(crate) fn lookup_and_delete(
        &self,
        key: &[u8],
        out: &mut [u8],
        flags: u64,
    ) -> MapResult<()> {
        let lock = flags & uf::BPF_F_LOCK != 0;
        let _g = self.domain.read_atomic();
        let kw = self.table.key(key);
        let l = self.table.lock(kw.hash);
        let e = self.table.find_locked(&l, &kw).ok_or(MapError::NotFound)?;
        self.copy_out(e, out, lock);
        self.table.unlink(&l, e);
        drop(l);
        self.dispose(e);
        Ok(())
    }

    /// `htab_map_get_next_key`.
    pub(crate) fn get_next_key(&self, key: Option<&[u8]>, out: &mut [u8]) -> MapResult<()> {
        let _g = self.domain.read_atomic();
        let kw = key.map(|k| self.table.key(k));
        self.table.next_key(kw.as_ref(), out)
    }

    /// `__htab_map_lookup_and_delete_batch`: whole buckets at a time; the token is the next
    /// bucket index.
    pub(crate) fn batch(
        &self,
        in_batch: Option<&[u8]>,
        max_count: u32,
        key_size: usize,
        value_size: usize,
        lock: bool,
        delete: bool,
    ) -> MapResult<Batch> {
        let mut out = Batch::default();
        if max_count == 0 {
            return Ok(out);
        }
        let mut bucket = match in_batch {
            Some(b) => u32::from_ne_bytes(
                b.get(..4)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| MapError::invalid("hash batch token is 4 bytes"))?,
            ),
            None => 0,
        };
        if bucket >= self.table.n_buckets() {
            return Err(MapError::NotFound);
        }
        let _g = self.domain.read_atomic();
        loop {
            let l = self.table.lock_bucket(bucket);
            let elems = self.table.elems(&l);
            let n = elems.len() as u32;
            if n > max_count - out.count {
                if out.count == 0 {
                    out.status = Err(MapError::NoSpace("batch too small for one bucket"));
                }
                break;
            }
            for &e in &elems {
                let mut k = vec![0u8; key_size];
                self.table.copy_key(e, &mut k);
                out.keys.extend_from_slice(&k);
                let mut v = vec![0u8; value_size];
                if self.release.is_some() {
                    let w = self.table.value_word(e);
                    v.copy_from_slice(
                        &crate::fd::inner_map_id_from_word(w).to_ne_bytes()[..value_size.min(4)],
                    );
                } else {
                    self.copy_out(e, &mut v, lock);
                }
                out.values.extend_from_slice(&v);
                if delete {
                    self.table.unlink(&l, e);
                }
            }
            drop(l);
            if delete {
                for &e in &elems {
                    self.dispose(e);
                }
            }
            out.count += n;
            bucket += 1;
            if bucket >= self.table.n_buckets() {
                out.status = Err(MapError::NotFound);
                break;
            }
            if out.count == max_count {
                break;
            }
        }
        out.next = bucket.to_ne_bytes().to_vec();
        Ok(out)
    }

    /// Calls `f(key, value_ptr)` for each element (host `for_each`; value of CPU `cpu`).
    pub(crate) fn for_each(
        &self,
        key_size: usize,
        cpu: u32,
        mut f: impl FnMut(&[u8], NonNull<u8>) -> bool,
    ) {
        let _g = self.domain.read_atomic();
        let mut key = vec![0u8; key_size];
        for b in 0..self.table.n_buckets() {
            let l = self.table.lock_bucket(b);
            let elems = self.table.elems(&l);
            drop(l);
            for e in elems {
                self.table.copy_key(e, &mut key);
                let off = if self.percpu {
                    cpu.min(self.nr_cpus - 1) as usize * self.slot
                } else {
                    0
                };
                if !f(&key, self.table.value_ptr(e, off)) {
                    return;
                }
            }
        }
    }

    /// Number of elements currently linked (walks the buckets).
    pub(crate) fn len(&self) -> usize {
        (0..self.table.n_buckets())
            .map(|b| {
                let l = self.table.lock_bucket(b);
                self.table.elems(&l).len()
            })
            .sum()
    }

    /// Pool slot count (0 for `BPF_F_NO_PREALLOC`).
    #[allow(dead_code)]
    pub(crate) fn pool_slots(&self) -> u32 {
        self.table.pool_slots()
    }
}

impl Drop for HashMap {
    fn drop(&mut self) {
        if let Some(release) = &self.release {
            for b in 0..self.table.n_buckets() {
                let l = self.table.lock_bucket(b);
                for e in self.table.elems(&l) {
                    release(self.table.value_word(e));
                }
            }
        }
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x6c75_6c6c);
    h.finish()
}
