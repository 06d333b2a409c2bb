//! Raw value memory: the only place (with `hash::table` and `ringbuf::region`) where map
//! storage is touched through raw pointers.
//!
//! Map values are memory programs read and write directly, from many threads, with plain and
//! atomic instructions. Host-side copies in and out of that memory therefore go through
//! relaxed atomic word/byte accesses, so a host copy racing with a program store is a race
//! on atomics (as in the kernel: torn values possible, undefined behaviour not).
//!
//! Owns: [`RawBuf`] (zeroed, 8-byte-aligned, fixed-address allocations), the copy helpers,
//! the `bpf_spin_lock` word used by `BPF_F_LOCK`, and [`RcuSlot`] (a pointer slot whose old
//! contents are dropped after both grace periods).
#![allow(unsafe_code)]

use crate::poison;
use lull_rcu::{Domain, Section};
use std::alloc::{Layout, alloc_zeroed};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering};

/// A range of a value the host must not copy (the `bpf_spin_lock` word).
pub(crate) type Skip = Option<(usize, usize)>;

/// A zero-initialised, 8-byte-aligned heap allocation with a fixed address.
pub(crate) struct RawBuf {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: RawBuf is plain memory; all concurrent access goes through atomics (host side) or
// through program memory accesses whose synchronisation is the program's business, exactly as
// for kernel map memory.
unsafe impl Send for RawBuf {}
// SAFETY: see above.
unsafe impl Sync for RawBuf {}

impl RawBuf {
    /// Allocates `len` zeroed bytes (at least 8) aligned to `align` (a power of two >= 8).
    pub(crate) fn zeroed(len: usize, align: usize) -> Option<RawBuf> {
        let layout = Layout::from_size_align(len.max(8), align.max(8)).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) })?;
        poison::allocated(layout.size());
        Some(RawBuf { ptr, layout })
    }

    /// Address of byte `off`; `off` must be below the length (checked in debug builds).
    #[inline]
    pub(crate) fn at(&self, off: usize) -> *mut u8 {
        debug_assert!(off < self.layout.size());
        // SAFETY: `off` is inside the allocation (caller contract, debug-checked).
        unsafe { self.ptr.as_ptr().add(off) }
    }

    /// Gives up ownership; the memory lives until [`RawBuf::from_raw`] takes it back.
    pub(crate) fn into_raw(self) -> NonNull<u8> {
        let p = self.ptr;
        std::mem::forget(self);
        p
    }

    /// Takes back memory given up by [`RawBuf::into_raw`].
    ///
    /// # Safety
    /// `ptr` must come from `into_raw` of a RawBuf with exactly this layout, and be taken back
    /// once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<u8>, layout: Layout) -> RawBuf {
        RawBuf { ptr, layout }
    }

    /// Host copy into bytes `off..off + src.len()` (8-aligned `off`), skipping `skip`.
    pub(crate) fn store(&self, off: usize, src: &[u8], skip: Skip) {
        assert!(
            off.is_multiple_of(8) && off + src.len() <= self.len(),
            "store out of bounds"
        );
        // SAFETY: bounds and alignment checked above.
        unsafe { store_bytes(self.at(off), src, skip) }
    }

    /// Host copy out of bytes `off..off + dst.len()` (8-aligned `off`), skipping `skip`.
    pub(crate) fn load(&self, off: usize, dst: &mut [u8], skip: Skip) {
        assert!(
            off.is_multiple_of(8) && off + dst.len() <= self.len(),
            "load out of bounds"
        );
        // SAFETY: bounds and alignment checked above.
        unsafe { load_bytes(self.at(off), dst, skip) }
    }

    /// Runs `f` holding the spin lock word at byte `off` (4-aligned).
    pub(crate) fn locked<R>(&self, off: usize, f: impl FnOnce() -> R) -> R {
        assert!(
            off.is_multiple_of(4) && off + 4 <= self.len(),
            "lock word out of bounds"
        );
        // SAFETY: bounds and alignment checked above.
        unsafe { with_spin_lock(self.at(off), f) }
    }

    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.layout.size()
    }
}

impl Drop for RawBuf {
    fn drop(&mut self) {
        // SAFETY: the memory is ours and nobody references it any more (owners drop a RawBuf
        // only after the grace periods that cover every reader); `release` poisons it and
        // frees or quarantines it (see `poison`).
        unsafe { poison::release(self.ptr, self.layout) }
    }
}

/// Copies `src` into value memory at `dst`, skipping the `skip` byte range.
///
/// # Safety
/// `dst` must be 8-byte aligned and valid for `src.len()` bytes for the whole call.
pub(crate) unsafe fn store_bytes(dst: *mut u8, src: &[u8], skip: Skip) {
    let words = src.len() / 8;
    for w in 0..words {
        let off = w * 8;
        if overlaps(skip, off, 8) {
            for (b, &byte) in src[off..off + 8].iter().enumerate() {
                if !overlaps(skip, off + b, 1) {
                    // SAFETY: inside the value (caller contract); u8 atomics need no alignment.
                    unsafe { AtomicU8::from_ptr(dst.add(off + b)) }.store(byte, Ordering::Relaxed);
                }
            }
            continue;
        }
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&src[off..off + 8]);
        // SAFETY: `dst + off` is 8-aligned (dst is, off is a multiple of 8) and in bounds.
        unsafe { AtomicU64::from_ptr(dst.add(off).cast::<u64>()) }
            .store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
    }
    for (off, &byte) in src.iter().enumerate().skip(words * 8) {
        if !overlaps(skip, off, 1) {
            // SAFETY: in bounds (caller contract).
            unsafe { AtomicU8::from_ptr(dst.add(off)) }.store(byte, Ordering::Relaxed);
        }
    }
}

/// Copies value memory at `src` into `dst`; bytes of the `skip` range read as zero (the
/// kernel's `check_and_init_map_value` hides the lock word).
///
/// # Safety
/// `src` must be 8-byte aligned and valid for `dst.len()` bytes for the whole call.
pub(crate) unsafe fn load_bytes(src: *const u8, dst: &mut [u8], skip: Skip) {
    let words = dst.len() / 8;
    for w in 0..words {
        let off = w * 8;
        // SAFETY: 8-aligned and in bounds (caller contract).
        let v = unsafe { AtomicU64::from_ptr(src.add(off).cast::<u64>().cast_mut()) }
            .load(Ordering::Relaxed);
        dst[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }
    for (off, byte) in dst.iter_mut().enumerate().skip(words * 8) {
        // SAFETY: in bounds (caller contract).
        *byte = unsafe { AtomicU8::from_ptr(src.add(off).cast_mut()) }.load(Ordering::Relaxed);
    }
    if let Some((s, e)) = skip {
        let e = e.min(dst.len());
        if s < e {
            dst[s..e].fill(0);
        }
    }
}

/// Zeroes `len` bytes of value memory at `dst`.
///
/// # Safety
/// `dst` must be 8-byte aligned and valid for `len` bytes.
pub(crate) unsafe fn zero_bytes(dst: *mut u8, len: usize) {
    for off in (0..len / 8).map(|w| w * 8) {
        // SAFETY: 8-aligned, in bounds.
        unsafe { AtomicU64::from_ptr(dst.add(off).cast::<u64>()) }.store(0, Ordering::Relaxed);
    }
    for off in len / 8 * 8..len {
        // SAFETY: in bounds.
        unsafe { AtomicU8::from_ptr(dst.add(off)) }.store(0, Ordering::Relaxed);
    }
}

fn overlaps(skip: Skip, off: usize, len: usize) -> bool {
    skip.is_some_and(|(s, e)| off < e && s < off + len)
}

/// Holds the `bpf_spin_lock` at `lock` (a 4-byte-aligned word in value memory) while `f` runs,
/// as `copy_map_value_locked` does. The lock word is a test-and-set spin lock, compatible with
/// programs' `bpf_spin_lock` if the runtime implements it the same way (0 = free, 1 = held).
///
/// # Safety
/// `lock` must be 4-byte aligned and valid for 4 bytes while `f` runs.
pub(crate) unsafe fn with_spin_lock<R>(lock: *mut u8, f: impl FnOnce() -> R) -> R {
    // SAFETY: caller contract.
    let word = unsafe { AtomicU32::from_ptr(lock.cast::<u32>()) };
    let mut spins = 0u32;
    while word
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        spins += 1;
        if spins.is_multiple_of(64) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    let r = f();
    word.store(0, Ordering::Release);
    r
}

/// A pointer slot readers load inside a read section while writers replace it; the replaced
/// object is dropped only after both grace periods (it may have been reached by a sleepable
/// program). Used for prog_array and array_of_maps entries.
pub(crate) struct RcuSlot<T: Send + 'static> {
    ptr: AtomicPtr<T>,
}

impl<T: Send + 'static> RcuSlot<T> {
    /// An empty slot.
    pub(crate) fn empty() -> Self {
        RcuSlot {
            ptr: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// The current object, valid while `section` (and `self`) live.
    #[inline]
    pub(crate) fn load<'a>(&'a self, _section: &'a impl Section) -> Option<&'a T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from Box::into_raw in `replace`; it is dropped only
        // after a grace period that waits for `_section`, or when the slot itself is dropped,
        // which `&'a self` rules out.
        unsafe { p.as_ref() }
    }

    /// Raw address of the current object (null if empty), for handing to programs.
    #[inline]
    pub(crate) fn load_raw(&self) -> *const T {
        self.ptr.load(Ordering::Acquire)
    }

    /// Whether the slot is occupied now.
    pub(crate) fn is_set(&self) -> bool {
        !self.ptr.load(Ordering::Acquire).is_null()
    }

    /// Stores `new` (or empties the slot); the previous object, if any, is dropped after both
    /// grace periods of `domain`. Returns whether there was one.
    pub(crate) fn replace(&self, new: Option<T>, domain: &Domain) -> bool {
        let new_ptr = new.map_or(std::ptr::null_mut(), |v| Box::into_raw(Box::new(v)));
        let old = self.ptr.swap(new_ptr, Ordering::AcqRel);
        if old.is_null() {
            return false;
        }
        // SAFETY: `old` came from Box::into_raw and was just unpublished: we own it.
        let boxed = unsafe { Box::from_raw(old) };
        domain.defer_free_both(boxed);
        true
    }
}

impl<T: Send + 'static> Drop for RcuSlot<T> {
    fn drop(&mut self) {
        let p = *self.ptr.get_mut();
        if !p.is_null() {
            // SAFETY: we own the object; the slot is being destroyed, so no reader can reach it
            // through us (the map owner defers the map's own drop past the grace periods).
            drop(unsafe { Box::from_raw(p) });
        }
    }
}
