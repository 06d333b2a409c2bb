//! Host memory a checked interpreter run may touch: exactly-sized heap buffers (map values) and
//! a mapping below 2 GiB (packets, whose 32-bit `data`/`data_end` context fields must hold the
//! address), registered with [`Vm::add_region`]. Every `unsafe` of the soundness oracle.
#![allow(unsafe_code)]

use lull_interp::{Permission, Vm};

/// A heap buffer of an exact length, owned through a raw pointer so that no Rust reference
/// to its bytes exists while a program may access them.
pub(super) struct HostBuf {
    ptr: *mut u8,
    len: usize,
}

impl HostBuf {
    /// `len` zeroed bytes (at least one byte is allocated).
    pub(super) fn new(len: usize) -> HostBuf {
        let b: Box<[u8]> = vec![0u8; len.max(1)].into_boxed_slice();
        HostBuf {
            ptr: Box::into_raw(b).cast::<u8>(),
            len,
        }
    }

    /// The address programs see.
    pub(super) fn addr(&self) -> u64 {
        self.ptr.expose_provenance() as u64
    }

    /// Overwrites the contents with `data` (truncated or zero-padded to the length).
    pub(super) fn set(&mut self, data: &[u8]) {
        let n = data.len().min(self.len);
        // SAFETY: `ptr` is valid for `len` bytes (allocated in `new`, freed only in `drop`);
        // `&mut self` means no run is in progress (runs borrow the `Sandbox` that owns us), and
        // no reference to the bytes exists.
        unsafe {
            std::ptr::write_bytes(self.ptr, 0, self.len);
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, n);
        }
    }
}

impl Drop for HostBuf {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.len.max(1));
        // SAFETY: `ptr`/`len.max(1)` is exactly the boxed slice leaked in `new`, freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// An anonymous mapping in the low 2 GiB of the address space (`MAP_32BIT`).
pub(super) struct LowMem {
    ptr: *mut u8,
    len: usize,
}

impl LowMem {
    /// Maps `len` bytes (rounded up to pages); `None` if the kernel refuses.
    pub(super) fn new(len: usize) -> Option<LowMem> {
        let len = len.max(1).next_multiple_of(4096);
        // SAFETY: an anonymous private mapping at an address of the kernel's choosing; the
        // arguments are valid and nothing is aliased.
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
            return None;
        }
        Some(LowMem {
            ptr: p.cast::<u8>(),
            len,
        })
    }

    /// The address of the first byte (below 2^31).
    pub(super) fn addr(&self) -> u64 {
        self.ptr.expose_provenance() as u64
    }

    /// Writes `data` at the start of the mapping (truncated to its length).
    pub(super) fn set(&mut self, data: &[u8]) {
        let n = data.len().min(self.len);
        // SAFETY: the mapping is valid for `len` bytes until `drop`; `&mut self` means no run
        // is in progress and no reference to the bytes exists.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, n) };
    }
}

impl Drop for LowMem {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`, once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// A VM together with the memory it was given: the regions are cleared before the memory is
/// freed, so the VM never holds a dangling region.
pub(super) struct Sandbox {
    pub(super) vm: Vm,
    pub(super) values: Vec<HostBuf>,
    pub(super) packet: LowMem,
}

impl Sandbox {
    /// Makes the map values and the first `pkt_len` bytes of the packet mapping accessible.
    pub(super) fn register(&mut self, pkt_len: usize) {
        self.vm.clear_regions();
        for v in &self.values {
            // SAFETY: the buffer stays allocated while `self` lives, and `Drop for Sandbox`
            // clears the regions before the buffers are freed; between runs the bytes are only
            // written through the raw pointer (`HostBuf::set`), never through references.
            unsafe { self.vm.add_region(v.ptr, v.len, Permission::ReadWrite) };
        }
        let len = pkt_len.min(self.packet.len);
        if len > 0 {
            // SAFETY: as above, for the first `len <= mapping length` bytes of the mapping.
            unsafe {
                self.vm
                    .add_region(self.packet.ptr, len, Permission::ReadWrite)
            };
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.vm.clear_regions();
    }
}
