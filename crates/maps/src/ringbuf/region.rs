//! The ring buffer's data area, mapped twice back to back (as the kernel maps its data pages
//! twice) so a record that wraps past the end is still one contiguous range of memory for the
//! program writing it and the consumer reading it. This is the ring buffer's only raw-memory
//! code.
#![allow(unsafe_code)]

use std::io;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU32;

/// `size` bytes of shared memory visible at `base` and again at `base + size`.
pub(crate) struct Region {
    base: NonNull<u8>,
    size: usize,
}

// SAFETY: the region is plain shared memory; record headers are accessed atomically and record
// bodies are handed over through the header's release/acquire protocol.
unsafe impl Send for Region {}
// SAFETY: see above.
unsafe impl Sync for Region {}

impl Region {
    /// Maps `size` bytes (a multiple of the page size) twice.
    pub(crate) fn new(size: usize) -> io::Result<Region> {
        let total = size
            .checked_mul(2)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: plain libc calls; every result is checked and every resource released on error.
        unsafe {
            let fd = libc::memfd_create(c"lull-ringbuf".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let close = |e: io::Error| {
                libc::close(fd);
                e
            };
            if libc::ftruncate(fd, size as libc::off_t) != 0 {
                return Err(close(io::Error::last_os_error()));
            }
            let base = libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(close(io::Error::last_os_error()));
            }
            for half in 0..2 {
                let at = base.cast::<u8>().add(half * size).cast();
                let p = libc::mmap(
                    at,
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_FIXED,
                    fd,
                    0,
                );
                if p == libc::MAP_FAILED {
                    let e = io::Error::last_os_error();
                    libc::munmap(base, total);
                    return Err(close(e));
                }
            }
            libc::close(fd);
            Ok(Region {
                base: NonNull::new_unchecked(base.cast()),
                size,
            })
        }
    }

    /// The 32-bit word at data offset `off` (8-aligned, `< size`): a record header's length.
    #[inline]
    pub(crate) fn word(&self, off: usize) -> &AtomicU32 {
        assert!(
            off.is_multiple_of(4) && off + 4 <= self.size,
            "ring buffer word out of range"
        );
        // SAFETY: inside the first mapping, 4-aligned (mmap is page-aligned).
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(off).cast()) }
    }

    /// Address of data offset `off` (`< size`); up to `size` bytes after it are contiguous.
    #[inline]
    pub(crate) fn ptr(&self, off: usize) -> NonNull<u8> {
        assert!(off < self.size, "ring buffer offset out of range");
        // SAFETY: inside the mapping.
        unsafe { NonNull::new_unchecked(self.base.as_ptr().add(off)) }
    }

    /// Offset of `p` from the start of the data area, if `p` lies in either mapping.
    pub(crate) fn offset_of(&self, p: *const u8) -> Option<usize> {
        let a = p as usize;
        let b = self.base.as_ptr() as usize;
        (a >= b && a < b + 2 * self.size).then(|| (a - b) % self.size)
    }

    /// Copies `src` to data offset `off` (may run into the second mapping).
    pub(crate) fn write(&self, off: usize, src: &[u8]) {
        assert!(
            off < self.size && src.len() <= self.size,
            "ring buffer write out of range"
        );
        // SAFETY: `off + len <= 2 * size` stays inside the double mapping; the range is a
        // reserved record no one else writes or reads until it is committed.
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.base.as_ptr().add(off), src.len())
        }
    }

    /// The committed bytes at data offset `off` (may run into the second mapping).
    ///
    /// The caller (the single consumer) must not advance the consumer position past this
    /// record while the slice lives, so producers cannot reuse the bytes.
    pub(crate) fn read(&self, off: usize, len: usize) -> &[u8] {
        assert!(
            off < self.size && len <= self.size,
            "ring buffer read out of range"
        );
        // SAFETY: inside the double mapping; the record was committed (release/acquire on its
        // header) and stays untouched until the consumer position moves past it.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(off), len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours; the owner drops the region after every reader is gone.
        unsafe {
            libc::munmap(self.base.as_ptr().cast(), self.size * 2);
        }
    }
}
