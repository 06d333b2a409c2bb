//! The user address space of a task, as BPF helpers read it: the [`UserMemory`] trait and its
//! sources — a real process ([`ProcessMemory`], [`SelfMemory`]), a host-fed source that may block
//! ([`BlockingSource`]), and a task without user memory ([`NoMemory`]).
//!
//! Every source offers the kernel's two ways of reading user memory:
//! * **no-fault** (`copy_from_user_nofault`, behind `bpf_probe_read_user`): succeeds only if every
//!   byte is readable *right now*; a page that is mapped but not resident fails with `EFAULT`. It
//!   never blocks, so atomic (non-sleepable) programs may use it.
//! * **may-fault** (`copy_from_user`, behind `bpf_copy_from_user`): brings missing pages in, which
//!   can block for as long as the I/O (or the host) takes; `EFAULT` only when the range cannot be
//!   read at all. Only sleepable programs may call it.
//!
//! The string forms copy like the kernel's `strncpy_from_user`: byte after byte until a NUL has
//! been copied or the buffer is full, failing only if an unreadable byte is reached first.

mod blocking;
mod process;

pub use blocking::BlockingSource;
pub use process::{ProcessMemory, SelfMemory};

use crate::Errno;

/// A task's user address space.
///
/// Addresses are user virtual addresses of the task. On failure a read may have written part of
/// `dst` (as the kernel's user-copy routines may); the helper functions decide what the program
/// sees (see [`crate::helpers`]).
pub trait UserMemory: Send + Sync {
    /// Reads `dst.len()` bytes at `addr` without faulting anything in and without blocking.
    /// `Err(EFAULT)` when any byte is unmapped, unreadable or not resident.
    fn read_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno>;

    /// Reads `dst.len()` bytes at `addr`, faulting pages in as needed; may block (sleep).
    /// `Err(EFAULT)` when any byte is unmapped or unreadable.
    fn read_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno>;

    /// Copies a NUL-terminated string at `addr` into `dst` without faulting: returns the string's
    /// length `n` (the NUL is copied to `dst[n]`) when a NUL is found within `dst.len()` bytes,
    /// or `dst.len()` when none is (no NUL written). Fails if it reaches a byte the no-fault read
    /// cannot read before either; the bytes before it have then been copied.
    fn read_str_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<usize, Errno> {
        read_str_in_chunks(addr, dst, self.granule(), |a, b| self.read_nofault(a, b))
    }

    /// [`read_str_nofault`](Self::read_str_nofault), but faulting pages in; may block.
    fn read_str_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<usize, Errno> {
        read_str_in_chunks(addr, dst, self.granule(), |a, b| self.read_may_fault(a, b))
    }

    /// The unit in which readability changes (the page size for a process). The default string
    /// reads never read across a granule boundary in one go, so a string that ends before an
    /// unreadable granule is read successfully, as in the kernel.
    fn granule(&self) -> u64 {
        crate::sys::page_size()
    }
}

/// Length of the part of `[addr, addr + want)` that lies in `addr`'s granule.
fn in_granule(addr: u64, want: usize, granule: u64) -> usize {
    let room = granule - addr % granule;
    usize::try_from(room).map_or(want, |room| room.min(want))
}

/// The string copy of the default [`UserMemory`] methods, one granule at a time with `read`.
pub(crate) fn read_str_in_chunks(
    addr: u64,
    dst: &mut [u8],
    granule: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> Result<(), Errno>,
) -> Result<usize, Errno> {
    // Read into a scratch buffer so that nothing past the NUL lands in `dst`.
    let mut scratch = vec![0u8; in_granule(addr, dst.len(), granule).max(1)];
    let mut done = 0usize;
    while done < dst.len() {
        let at = addr.checked_add(done as u64).ok_or(Errno::EFAULT)?;
        let len = in_granule(at, dst.len() - done, granule);
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        read(at, &mut scratch[..len])?;
        if let Some(nul) = scratch[..len].iter().position(|&b| b == 0) {
            dst[done..=done + nul].copy_from_slice(&scratch[..=nul]);
            return Ok(done + nul);
        }
        dst[done..done + len].copy_from_slice(&scratch[..len]);
        done += len;
    }
    Ok(done)
}

/// The user memory of a task that has none (a kernel thread, or a host task without a source):
/// every read fails with `EFAULT`, as user copies do in the kernel when there is no user mm.
#[derive(Copy, Clone, Debug, Default)]
pub struct NoMemory;

impl UserMemory for NoMemory {
    fn read_nofault(&self, _addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        if dst.is_empty() {
            Ok(())
        } else {
            Err(Errno::EFAULT)
        }
    }

    fn read_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        self.read_nofault(addr, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake address space: bytes readable from `start` up to (not including) `end`.
    fn window(start: u64, end: u64) -> impl FnMut(u64, &mut [u8]) -> Result<(), Errno> {
        move |addr, buf: &mut [u8]| {
            if addr < start || addr + buf.len() as u64 > end {
                return Err(Errno::EFAULT);
            }
            for (i, b) in buf.iter_mut().enumerate() {
                *b = b'a' + ((addr + i as u64) % 26) as u8;
                if addr + i as u64 == end - 1 {
                    *b = 0;
                }
            }
            Ok(())
        }
    }

    #[test]
    fn string_ending_before_an_unreadable_granule_is_read() {
        // Readable [0x1000, 0x2000), the last byte is the NUL; the string starts 10 bytes before.
        let mut dst = [0xffu8; 64];
        let n = read_str_in_chunks(0x2000 - 10, &mut dst, 0x1000, window(0x1000, 0x2000));
        assert_eq!(n, Ok(9));
        assert_eq!(dst[9], 0);
        assert_eq!(dst[10], 0xff, "nothing written past the NUL");
    }

    #[test]
    fn string_running_into_an_unreadable_granule_fails_after_partial_copy() {
        let mut dst = [0xffu8; 64];
        // Readable up to 0x2000 but without a NUL there: make the window end at 0x2001.
        let n = read_str_in_chunks(0x2000 - 4, &mut dst, 0x1000, |a, b: &mut [u8]| {
            if a >= 0x2000 {
                return Err(Errno::EFAULT);
            }
            b.fill(b'x');
            Ok(())
        });
        assert_eq!(n, Err(Errno::EFAULT));
        assert_eq!(&dst[..4], b"xxxx");
        assert_eq!(dst[4], 0xff);
    }

    #[test]
    fn full_buffer_without_nul_returns_its_length() {
        let mut dst = [0u8; 5];
        let n = read_str_in_chunks(0x1000, &mut dst, 0x1000, |_, b: &mut [u8]| {
            b.fill(b'y');
            Ok(())
        });
        assert_eq!(n, Ok(5));
        assert_eq!(&dst, b"yyyyy");
    }

    #[test]
    fn no_memory_fails_every_nonempty_read() {
        assert_eq!(
            NoMemory.read_nofault(0x1000, &mut [0; 1]),
            Err(Errno::EFAULT)
        );
        assert_eq!(NoMemory.read_may_fault(0x1000, &mut []), Ok(()));
        assert_eq!(
            NoMemory.read_str_may_fault(0x1000, &mut [0; 8]),
            Err(Errno::EFAULT)
        );
    }
}
