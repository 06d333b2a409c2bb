//! Program memory: the regions a program may touch and the two access models, with every raw
//! pointer dereference of the crate.
//!
//! BPF programs hold raw 64-bit host addresses (the stack, the input buffer, later map values)
//! and load/store through them. [`Regions`] lists the memory a run may touch: the stack window
//! of the live frames (the current frame and its callers, so pointers to a caller's stack work),
//! the input memory, and host-registered regions. Two [`MemoryModel`]s share it:
//! - [`Checked`] validates every access against the regions and reports the faulting address;
//!   pointers are derived from the region's base pointer (strict provenance).
//! - [`Trusted`] dereferences the address directly (exposed provenance). It is only reachable
//!   through the `unsafe` [`crate::Vm::run_trusted`], whose caller promises every access is valid.
//!
//! Atomics are real atomic operations (`SeqCst`; acquire/release for load-acquire and
//! store-release) since region memory may be shared with other threads; they must be aligned in
//! both models (as the kernel's verifier requires).
#![allow(unsafe_code)]

use std::sync::atomic::{
    AtomicU8, AtomicU16, AtomicU32, AtomicU64,
    Ordering::{Acquire, Release, SeqCst},
};

use crate::fault::Access;
use crate::helpers::MemoryError;
use crate::op::AtomicKind;

/// One contiguous block of accessible memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    /// Address of the first byte as the program sees it.
    start: u64,
    /// Length in bytes.
    len: u64,
    /// Pointer to the first byte (carries the provenance).
    base: *mut u8,
    /// Whether stores are allowed.
    writable: bool,
}

impl Region {
    /// Describes `len` bytes at `base`.
    ///
    /// # Safety
    /// `base` must be valid for reads (and writes if `writable`) of `len` bytes for as long as
    /// the region is in a [`Regions`] used by a run.
    pub(crate) unsafe fn new(base: *mut u8, len: usize, writable: bool) -> Region {
        Region {
            start: base.expose_provenance() as u64,
            len: len as u64,
            base,
            writable,
        }
    }

    /// An empty region (matches nothing).
    pub(crate) const fn empty() -> Region {
        Region {
            start: 0,
            len: 0,
            base: std::ptr::null_mut(),
            writable: false,
        }
    }

    /// Address of the first byte.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// Pointer to `size` bytes at `addr` if they all lie inside this region.
    #[inline(always)]
    fn locate(&self, addr: u64, size: u64) -> Option<*mut u8> {
        let off = addr.wrapping_sub(self.start);
        if off < self.len && size <= self.len - off {
            Some(self.base.wrapping_add(off as usize))
        } else {
            None
        }
    }
}

/// The memory a run may touch. Built by [`crate::Vm`] for each run, without allocating.
#[derive(Debug)]
pub(crate) struct Regions {
    /// Lowest address of the live stack window (the current frame's bottom).
    stack_floor: u64,
    /// `stack top - stack_floor`.
    stack_span: u64,
    /// Pointer at `stack_floor`.
    stack_floor_ptr: *mut u8,
    /// The whole stack (all frames); the window is its top `stack_span` bytes.
    stack: Region,
    /// The input memory (r1), if any.
    input: Region,
    /// The VM's host-registered regions, sorted by start.
    host: Vec<Region>,
    /// Regions helpers added during the run, sorted by start (the VM's allocation, reused).
    added: Vec<Region>,
    /// The largest stack window of the run: only those top bytes of the stack can have been
    /// written.
    max_span: u64,
}

impl Regions {
    /// Regions made of a stack, the input memory and host regions; the stack window starts
    /// with the top `frame_size` bytes of `stack`. `added` is an empty list whose allocation
    /// the run's added regions reuse.
    pub(crate) fn new(
        stack: Region,
        frame_size: u64,
        input: Region,
        host: Vec<Region>,
        mut added: Vec<Region>,
    ) -> Self {
        added.clear();
        let mut r = Regions {
            stack_floor: 0,
            stack_span: 0,
            stack_floor_ptr: stack.base,
            stack,
            input,
            host,
            added,
            max_span: 0,
        };
        r.set_stack_window(frame_size);
        r
    }

    /// Ends the run: gives back the VM's host regions and the (cleared) added-region list, to
    /// reuse their allocations, and the number of top stack bytes the run could have written.
    pub(crate) fn finish(mut self) -> (Vec<Region>, Vec<Region>, u64) {
        self.added.clear();
        (self.host, self.added, self.max_span)
    }

    /// Adds a region for the rest of the run, unless a region already covers it with at least
    /// its permission (a repeated lookup of the same value, a value inside global data).
    pub(crate) fn add_run_region(&mut self, r: Region) {
        let covers = |h: &Region| h.locate(r.start, r.len).is_some() && (h.writable || !r.writable);
        let covered_in = |list: &[Region]| {
            let i = list.partition_point(|h| h.start <= r.start);
            i.checked_sub(1).is_some_and(|i| covers(&list[i]))
        };
        if !covered_in(&self.added) && !covered_in(&self.host) {
            let i = self.added.partition_point(|h| h.start <= r.start);
            self.added.insert(i, r);
        }
    }

    /// Makes the top `span` bytes of the stack accessible (called on local call and return).
    #[inline(always)]
    pub(crate) fn set_stack_window(&mut self, span: u64) {
        let span = span.min(self.stack.len);
        let skip = self.stack.len - span;
        self.stack_span = span;
        self.max_span = self.max_span.max(span);
        self.stack_floor = self.stack.start.wrapping_add(skip);
        self.stack_floor_ptr = self.stack.base.wrapping_add(skip as usize);
    }

    /// Pointer to `size` bytes at `addr` if they lie inside one accessible region that allows
    /// `access`. The stack is tried first.
    #[inline(always)]
    pub(crate) fn resolve(&self, addr: u64, size: u64, access: Access) -> Option<*mut u8> {
        if let Some(p) = self.stack_ptr(addr, size) {
            return Some(p);
        }
        // Then the input, also inline in the engine's loop; host regions out of line.
        if let Some(p) = self.input.locate(addr, size) {
            return Some(p);
        }
        self.resolve_host(addr, size, access)
    }

    /// Pointer to `size` bytes at `addr` if they lie inside the live stack window.
    #[inline(always)]
    fn stack_ptr(&self, addr: u64, size: u64) -> Option<*mut u8> {
        let off = addr.wrapping_sub(self.stack_floor);
        if off < self.stack_span && size <= self.stack_span - off {
            Some(self.stack_floor_ptr.wrapping_add(off as usize))
        } else {
            None
        }
    }

    /// [`Regions::resolve`] for the host-registered and helper-added regions.
    #[inline(never)]
    fn resolve_host(&self, addr: u64, size: u64, access: Access) -> Option<*mut u8> {
        let write = access != Access::Read;
        let ok = |r: &Region| r.locate(addr, size).filter(|_| r.writable || !write);
        // Both lists are sorted by start: the region starting at or before `addr` closest to
        // it usually holds it; overlapping regions fall back to a scan.
        let nearest = |list: &[Region]| {
            let i = list.partition_point(|r| r.start <= addr);
            i.checked_sub(1).and_then(|i| ok(&list[i]))
        };
        nearest(&self.added)
            .or_else(|| nearest(&self.host))
            .or_else(|| self.added.iter().chain(&self.host).find_map(ok))
    }

    /// Copies program memory at `addr` into `buf`.
    pub(crate) fn copy_out(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if buf.is_empty() {
            return Ok(());
        }
        let size = buf.len() as u64;
        let p = self.resolve(addr, size, Access::Read).ok_or(MemoryError {
            addr,
            size,
            access: Access::Read,
        })?;
        // SAFETY: `resolve` returned a pointer to `buf.len()` readable bytes inside a region
        // (the region contract keeps them valid for the run); `copy` tolerates overlap.
        unsafe { std::ptr::copy(p, buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into program memory at `addr`.
    pub(crate) fn copy_in(&self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        if data.is_empty() {
            return Ok(());
        }
        let size = data.len() as u64;
        let p = self.resolve(addr, size, Access::Write).ok_or(MemoryError {
            addr,
            size,
            access: Access::Write,
        })?;
        // SAFETY: `resolve` returned a pointer to `data.len()` writable bytes inside a region
        // (the region contract keeps them valid for the run); `copy` tolerates overlap.
        unsafe { std::ptr::copy(data.as_ptr(), p, data.len()) };
        Ok(())
    }
}

/// Copies `buf.len()` bytes at `addr` without validation (trusted runs).
pub(crate) fn copy_out_trusted(addr: u64, buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    let p = std::ptr::with_exposed_provenance::<u8>(addr as usize);
    // SAFETY: only reached from a trusted run, whose caller guarantees (`Vm::run_trusted`) that
    // every memory argument the verified program passes to a helper is valid for the access.
    unsafe { std::ptr::copy(p, buf.as_mut_ptr(), buf.len()) };
}

/// Copies `data` to `addr` without validation (trusted runs).
pub(crate) fn copy_in_trusted(addr: u64, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let p = std::ptr::with_exposed_provenance_mut::<u8>(addr as usize);
    // SAFETY: as for `copy_out_trusted`.
    unsafe { std::ptr::copy(data.as_ptr(), p, data.len()) };
}

/// An integer type a load or store moves (host byte order, as BPF memory is).
pub(crate) trait Word: Copy {
    /// Size in bytes.
    const SIZE: u64;
}

macro_rules! word {
    ($($t:ty),*) => {$(
        impl Word for $t {
            const SIZE: u64 = std::mem::size_of::<$t>() as u64;
        }
    )*};
}
word!(u8, u16, u32, u64);

/// How the engine reaches memory; monomorphised, so each model's checks inline into the loop.
pub(crate) trait MemoryModel {
    /// Whether accesses skip validation.
    const TRUSTED: bool;
    /// The regions (helpers always access memory through them, checked).
    fn regions(&self) -> &Regions;
    /// The regions, to move the stack window.
    fn regions_mut(&mut self) -> &mut Regions;
    /// `*(T *)addr`, or `None` if the access is not allowed.
    fn load<T: Word>(&self, addr: u64) -> Option<T>;
    /// `*(T *)addr = v`; `false` if the access is not allowed.
    fn store<T: Word>(&mut self, addr: u64, v: T) -> bool;
    /// Pointer for an atomic access of `size` bytes, or `None` if not allowed.
    fn atomic_ptr(&self, addr: u64, size: u64, access: Access) -> Option<*mut u8>;
}

/// Every access validated against [`Regions`].
pub(crate) struct Checked(pub(crate) Regions);

impl MemoryModel for Checked {
    const TRUSTED: bool = false;
    #[inline(always)]
    fn regions(&self) -> &Regions {
        &self.0
    }
    #[inline(always)]
    fn regions_mut(&mut self) -> &mut Regions {
        &mut self.0
    }
    #[inline(always)]
    fn load<T: Word>(&self, addr: u64) -> Option<T> {
        // `Regions::resolve` by hand, each region with its own read, so the engine's loop
        // branches straight from each check to its use.
        // SAFETY: each `p` comes from a check that `T::SIZE` bytes at it lie inside a readable
        // region (the stack window and the input are; `resolve_host` checks), valid for the
        // whole run by the region contract; the read is unaligned-tolerant.
        let read = |p: *mut u8| unsafe { p.cast::<T>().read_unaligned() };
        if let Some(p) = self.0.stack_ptr(addr, T::SIZE) {
            return Some(read(p));
        }
        if let Some(p) = self.0.input.locate(addr, T::SIZE) {
            return Some(read(p));
        }
        self.0.resolve_host(addr, T::SIZE, Access::Read).map(read)
    }
    #[inline(always)]
    fn store<T: Word>(&mut self, addr: u64, v: T) -> bool {
        // As in `load`.
        // SAFETY: each `p` comes from a check that `T::SIZE` bytes at it lie inside a writable
        // region (the stack window and the input are; `resolve_host` checks), valid for the
        // whole run by the region contract.
        let write = |p: *mut u8| unsafe { p.cast::<T>().write_unaligned(v) };
        if let Some(p) = self.0.stack_ptr(addr, T::SIZE) {
            write(p);
            return true;
        }
        if let Some(p) = self.0.input.locate(addr, T::SIZE) {
            write(p);
            return true;
        }
        match self.0.resolve_host(addr, T::SIZE, Access::Write) {
            Some(p) => {
                write(p);
                true
            }
            None => false,
        }
    }
    #[inline(always)]
    fn atomic_ptr(&self, addr: u64, size: u64, access: Access) -> Option<*mut u8> {
        self.0.resolve(addr, size, access)
    }
}

/// No checks: addresses are dereferenced as they are.
pub(crate) struct Trusted(pub(crate) Regions);

impl MemoryModel for Trusted {
    const TRUSTED: bool = true;
    #[inline(always)]
    fn regions(&self) -> &Regions {
        &self.0
    }
    #[inline(always)]
    fn regions_mut(&mut self) -> &mut Regions {
        &mut self.0
    }
    #[inline(always)]
    fn load<T: Word>(&self, addr: u64) -> Option<T> {
        let p = std::ptr::with_exposed_provenance::<T>(addr as usize);
        // SAFETY: a `Trusted` model exists only inside `Vm::run_trusted`, whose caller guarantees
        // that every address the program dereferences is valid for the access (the addresses
        // it starts from were exposed when the regions were built).
        Some(unsafe { p.read_unaligned() })
    }
    #[inline(always)]
    fn store<T: Word>(&mut self, addr: u64, v: T) -> bool {
        let p = std::ptr::with_exposed_provenance_mut::<T>(addr as usize);
        // SAFETY: as for `load`: the caller of `Vm::run_trusted` guarantees validity.
        unsafe { p.write_unaligned(v) };
        true
    }
    #[inline(always)]
    fn atomic_ptr(&self, addr: u64, _size: u64, _access: Access) -> Option<*mut u8> {
        Some(std::ptr::with_exposed_provenance_mut::<u8>(addr as usize))
    }
}

/// Why an atomic operation could not run.
pub(crate) enum AtomicFail {
    /// Outside every region (or a read-only one).
    Invalid,
    /// Not aligned to its size.
    Misaligned,
}

/// Performs atomic `kind` of `size` bytes (1, 2, 4 or 8) at `addr` with operand `val`; for
/// `CmpXchg`, `expected` is r0. Returns the old value (or the loaded value for load-acquire),
/// zero-extended; store-release returns 0.
#[inline(never)]
pub(crate) fn atomic<M: MemoryModel>(
    mem: &M,
    kind: AtomicKind,
    size: u64,
    addr: u64,
    val: u64,
    expected: u64,
) -> Result<u64, AtomicFail> {
    let access = match kind {
        AtomicKind::LoadAcquire => Access::Read,
        AtomicKind::StoreRelease => Access::Write,
        _ => Access::ReadWrite,
    };
    if !addr.is_multiple_of(size) {
        return Err(AtomicFail::Misaligned);
    }
    let p = mem
        .atomic_ptr(addr, size, access)
        .ok_or(AtomicFail::Invalid)?;
    if !p.addr().is_multiple_of(size as usize) {
        return Err(AtomicFail::Misaligned);
    }
    macro_rules! rmw {
        ($atomic:ty, $t:ty) => {{
            // SAFETY: `p` is valid for `size` bytes (region check, or the `run_trusted`
            // contract), aligned to `size` (checked above), and all concurrent accesses to
            // shared BPF memory are atomic or racy by the program's own design.
            let a = unsafe { <$atomic>::from_ptr(p.cast::<$t>()) };
            let v = val as $t;
            let old = match kind {
                AtomicKind::Add | AtomicKind::FetchAdd => a.fetch_add(v, SeqCst),
                AtomicKind::Or | AtomicKind::FetchOr => a.fetch_or(v, SeqCst),
                AtomicKind::And | AtomicKind::FetchAnd => a.fetch_and(v, SeqCst),
                AtomicKind::Xor | AtomicKind::FetchXor => a.fetch_xor(v, SeqCst),
                AtomicKind::Xchg => a.swap(v, SeqCst),
                AtomicKind::CmpXchg => {
                    match a.compare_exchange(expected as $t, v, SeqCst, SeqCst) {
                        Ok(old) | Err(old) => old,
                    }
                }
                AtomicKind::LoadAcquire => a.load(Acquire),
                AtomicKind::StoreRelease => {
                    a.store(v, Release);
                    0
                }
            };
            Ok(old as u64)
        }};
    }
    match size {
        1 => rmw!(AtomicU8, u8),
        2 => rmw!(AtomicU16, u16),
        4 => rmw!(AtomicU32, u32),
        _ => rmw!(AtomicU64, u64),
    }
}

/// The per-VM stack: `frames` frames of `frame_size` bytes, 8-byte aligned.
pub(crate) struct Stack {
    words: Box<[u64]>,
}

impl Stack {
    pub(crate) fn new(bytes: usize) -> Stack {
        Stack {
            words: vec![0u64; bytes.div_ceil(8)].into_boxed_slice(),
        }
    }

    /// Zeroes the top `bytes` of the stack (checked runs start from a known state; a run only
    /// writes inside the stack windows it opened, so that is all a later run must clear).
    pub(crate) fn clear_top(&mut self, bytes: u64) {
        let words = usize::try_from(bytes.div_ceil(8))
            .map_or(self.words.len(), |w| w.min(self.words.len()));
        let from = self.words.len() - words;
        self.words[from..].fill(0);
    }

    /// The whole stack as a region.
    pub(crate) fn region(&mut self) -> Region {
        let len = self.words.len() * 8;
        let base = self.words.as_mut_ptr().cast::<u8>();
        // SAFETY: `base` points to `len` bytes owned by this stack; the stack outlives each run
        // (the `Vm` owns both and is borrowed mutably for the run), and during the run the
        // slice is reached only through this pointer.
        unsafe { Region::new(base, len, true) }
    }
}

/// The input memory as a region.
pub(crate) fn input_region(mem: Option<&mut [u8]>) -> Region {
    match mem {
        // SAFETY: the slice is mutably borrowed for the whole run by `Vm::run*`, which drops
        // the regions before returning, so the pointer stays valid and unaliased.
        Some(m) => unsafe { Region::new(m.as_mut_ptr(), m.len(), true) },
        None => Region::empty(),
    }
}
