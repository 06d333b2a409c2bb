//! Maps whose values are handles to other objects (the kernel's "fd maps"): `PROG_ARRAY`
//! (programs for tail calls), `ARRAY_OF_MAPS` and `HASH_OF_MAPS` (inner maps).
//!
//! A replaced or deleted handle may still be in use by a running program (it looked the inner
//! map up, or is tail-calling), so its reference is dropped only after both RCU grace periods.
//! Hash-of-maps stores each inner map as an `Arc<Map>` turned into a raw word in the hash
//! element's value; this module owns that conversion (its only raw-pointer code).
#![allow(unsafe_code)]

use crate::Map;
use crate::error::{MapError, MapResult};
use crate::hash::HashMap;
use crate::mem::RcuSlot;
use crate::spec::{MapSpec, inner_compatible, update_flags as uf};
use lull_rcu::{Domain, Section};
use std::any::Any;
use std::sync::Arc;

/// A program as stored in a `PROG_ARRAY`: whatever the runtime uses to run it.
pub type ProgHandle = Arc<dyn Any + Send + Sync>;

/// Slots of handles indexed by a `u32` key.
pub(crate) struct FdArray<T: Send + 'static> {
    slots: Box<[RcuSlot<T>]>,
}

impl<T: Send + 'static> FdArray<T> {
    pub(crate) fn new(max_entries: u32) -> FdArray<T> {
        FdArray {
            slots: (0..max_entries).map(|_| RcuSlot::empty()).collect(),
        }
    }

    /// The handle at `index`, valid while `section` lives.
    #[inline]
    pub(crate) fn get<'a>(&'a self, section: &'a impl Section, index: u32) -> Option<&'a T> {
        self.slots.get(index as usize)?.load(section)
    }

    /// Raw address of the handle at `index` (null if empty or out of range).
    #[inline]
    pub(crate) fn get_raw(&self, index: u32) -> *const T {
        self.slots
            .get(index as usize)
            .map_or(std::ptr::null(), |s| s.load_raw())
    }

    /// `bpf_fd_array_map_update_elem`: only `BPF_ANY`; index in range (`-E2BIG`).
    pub(crate) fn set(&self, index: u32, value: T, flags: u64, domain: &Domain) -> MapResult<()> {
        if flags != uf::BPF_ANY {
            return Err(MapError::invalid("fd array updates take BPF_ANY only"));
        }
        let slot = self
            .slots
            .get(index as usize)
            .ok_or(MapError::TooBig("index out of range"))?;
        slot.replace(Some(value), domain);
        Ok(())
    }

    /// `fd_array_map_delete_elem`: `-E2BIG` out of range, `-ENOENT` if empty.
    pub(crate) fn clear(&self, index: u32, domain: &Domain) -> MapResult<()> {
        let slot = self
            .slots
            .get(index as usize)
            .ok_or(MapError::TooBig("index out of range"))?;
        if slot.replace(None, domain) {
            Ok(())
        } else {
            Err(MapError::NotFound)
        }
    }

    /// Whether slot `index` holds a handle.
    pub(crate) fn is_set(&self, index: u32) -> bool {
        self.slots.get(index as usize).is_some_and(RcuSlot::is_set)
    }
}

impl FdArray<Arc<Map>> {
    /// The address of the inner map in slot `index` (null if empty). The caller is inside a
    /// read section of the map's domain.
    #[inline]
    pub(crate) fn map_raw(&self, index: u32) -> *const Map {
        let p = self.get_raw(index);
        if p.is_null() {
            return std::ptr::null();
        }
        // SAFETY: a non-null slot pointer is a live boxed Arc: it is dropped only after a grace
        // period that waits for the caller's read section.
        Arc::as_ptr(unsafe { &*p })
    }
}

/// `HASH_OF_MAPS`: a hash map whose 8-byte values are `Arc<Map>` raw pointers.
pub(crate) struct HashOfMaps {
    pub(crate) hash: HashMap,
    inner: MapSpec,
}

fn into_word(map: Arc<Map>) -> u64 {
    Arc::into_raw(map) as usize as u64
}

impl HashOfMaps {
    pub(crate) fn new(spec: &MapSpec, nr_cpus: u32, domain: Domain) -> MapResult<HashOfMaps> {
        let inner = spec
            .inner
            .as_deref()
            .cloned()
            .ok_or_else(|| MapError::invalid("no inner map spec"))?;
        let mut storage = spec.clone();
        storage.value_size = 8;
        let d = domain.clone();
        let release = Box::new(move |w: u64| {
            // SAFETY: every value word was produced by `into_word` and is released exactly
            // once (the element just left the map); readers may still use the map until the
            // grace periods end, so the reference is dropped after them.
            let arc = unsafe { Arc::from_raw(w as usize as *const Map) };
            d.defer_free_both(Box::new(arc));
        });
        let hash = HashMap::new(&storage, nr_cpus, domain, Some(release))?;
        Ok(HashOfMaps { hash, inner })
    }

    /// Inserts or replaces `key`'s inner map (kernel: inner spec must match, `-EINVAL`).
    pub(crate) fn set(&self, key: &[u8], inner: Arc<Map>, flags: u64) -> MapResult<()> {
        if !inner_compatible(&self.inner, inner.spec()) {
            return Err(MapError::invalid(
                "inner map does not match the outer map's inner spec",
            ));
        }
        let w = into_word(inner);
        let r = self.hash.update(key, &w.to_ne_bytes(), flags, None);
        if r.is_err() {
            // SAFETY: the word was not stored, so we still own the reference made above.
            drop(unsafe { Arc::from_raw(w as usize as *const Map) });
        }
        r
    }

    /// The inner map's address for a program (null if absent). Caller is in a read section.
    #[inline]
    pub(crate) fn lookup_raw(&self, key: &[u8]) -> *const Map {
        self.hash
            .lookup_word(key)
            .map_or(std::ptr::null(), |w| w as usize as *const Map)
    }

    /// A new reference to `key`'s inner map.
    pub(crate) fn get(&self, key: &[u8], domain: &Domain) -> Option<Arc<Map>> {
        let _g = domain.read_atomic();
        let p = self.lookup_raw(key);
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from Arc::into_raw and its reference is dropped only after a grace
        // period that waits for our section, so the count is still positive here.
        unsafe {
            Arc::increment_strong_count(p);
            Some(Arc::from_raw(p))
        }
    }
}

/// The id of the map whose address is the word `w` (hash-of-maps batch output).
pub(crate) fn inner_map_id_from_word(w: u64) -> u32 {
    // SAFETY: called under the bucket lock of the element holding `w`, whose reference keeps
    // the inner map alive.
    unsafe { &*(w as usize as *const Map) }.id()
}
