//! Every raw pointer and system call the runtime handles, each with its safety argument:
//! map handles (the value an `ld_imm64` of a map loads), memory below 2 GiB for packet
//! contexts, the `bpf_spin_lock` word, clocks, and the `Send` wrapper of a CPU's VM.
#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use lull_maps::Map;

/// The handle a program holds for `map`: the address of the [`Map`] (what the kernel loads
/// too: the `struct bpf_map *`). Map-in-map lookups return the same kind of address.
pub(crate) fn map_handle(map: &Arc<Map>) -> u64 {
    Arc::as_ptr(map).expose_provenance() as u64
}

/// The map behind a handle.
///
/// # Safety
/// `handle` must come from [`map_handle`] of a map that is alive for `'a` (the loaded object
/// keeps its maps; an inner map returned by a map-in-map lookup lives until the grace period
/// after its removal, which the run's read section holds off).
pub(crate) unsafe fn map_from_handle<'a>(handle: u64) -> &'a Map {
    // SAFETY: forwarded from this function's contract.
    unsafe { &*std::ptr::with_exposed_provenance::<Map>(handle as usize) }
}

/// The `bpf_spin_lock` word at `p` (4 bytes, 4-aligned, inside a map value).
///
/// # Safety
/// `p` must be valid for atomic reads and writes of 4 bytes for `'a` and aligned to 4.
unsafe fn lock_word<'a>(p: *mut u8) -> &'a AtomicU32 {
    // SAFETY: forwarded from the caller; all other accesses to the word are atomic too (the
    // verifier forbids plain loads and stores of a `bpf_spin_lock`).
    unsafe { AtomicU32::from_ptr(p.cast::<u32>()) }
}

/// Takes the test-and-set lock at `p` (0 = free), spinning.
///
/// # Safety
/// As for [`lock_word`].
pub(crate) unsafe fn spin_lock(p: *mut u8) {
    // SAFETY: forwarded.
    let w = unsafe { lock_word(p) };
    while w
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        while w.load(Ordering::Relaxed) != 0 {
            std::hint::spin_loop();
        }
    }
}

/// Releases the lock at `p`.
///
/// # Safety
/// As for [`lock_word`].
pub(crate) unsafe fn spin_unlock(p: *mut u8) {
    // SAFETY: forwarded.
    unsafe { lock_word(p) }.store(0, Ordering::Release);
}

/// Reads a clock (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`, …) in nanoseconds.
pub(crate) fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    if r != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// Zeroed, page-aligned memory mapped below 2 GiB (`MAP_32BIT`), so that a pointer into it
/// fits the 32-bit `data`/`data_end` fields of `__sk_buff` and `xdp_md`.
pub(crate) struct Low32 {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: `Low32` owns its mapping exclusively (like a `Box<[u8]>`).
unsafe impl Send for Low32 {}
// SAFETY: shared access only reads through `&self` methods that hand out `&[u8]`.
unsafe impl Sync for Low32 {}

impl Low32 {
    /// Maps `len` bytes (rounded up to pages) below 2 GiB.
    pub(crate) fn new(len: usize) -> std::io::Result<Low32> {
        #[cfg(target_arch = "x86_64")]
        {
            let len = len.max(1).next_multiple_of(4096);
            // SAFETY: an anonymous private mapping at an address the kernel chooses; no
            // existing memory is affected.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(std::io::Error::last_os_error)?;
            Ok(Low32 { ptr, len })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = len;
            Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "packet contexts need MAP_32BIT (x86-64 only)",
            ))
        }
    }

    /// The memory.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` readable and writable bytes owned by `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The memory, read-only.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: as for `as_mut_slice`, shared.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Address of byte `off` as the program sees it (fits in 32 bits).
    pub(crate) fn addr(&self, off: usize) -> u64 {
        self.ptr.as_ptr().wrapping_add(off).expose_provenance() as u64
    }

    /// Pointer to the first byte.
    pub(crate) fn as_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Low32 {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` created; no reference to it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A CPU's engines, movable between threads.
pub(crate) struct SendVm(pub(crate) crate::engine::Vm);

// SAFETY: the engines' VMs are `!Send` only because of the host regions they may hold (raw
// pointers). The runtime registers regions just before a run and clears them before the CPU is released
// (`cpu::CpuState::finish_run`), so no pointer travels with the VM to another thread.
unsafe impl Send for SendVm {}
