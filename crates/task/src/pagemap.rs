//! `/proc/PID/pagemap`: which virtual pages of a process are present in RAM right now.
//!
//! Each virtual page has a 64-bit entry at file offset `(vaddr / page_size) * 8`. Bit 63 says the
//! page is present (mapped by a present page-table entry), bit 62 that it is swapped out. Without
//! `CAP_SYS_ADMIN` the frame number reads as zero, but the flag bits are always there, which is
//! all the no-fault path needs: a page whose entry is not present is exactly one on which a
//! kernel read with page faults disabled (`copy_from_user_nofault`) fails.

use crate::{Errno, TaskError};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// One page's pagemap entry.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct PageEntry(pub u64);

impl PageEntry {
    const PRESENT: u64 = 1 << 63;
    const SWAPPED: u64 = 1 << 62;
    const FILE_OR_SHARED_ANON: u64 = 1 << 61;
    const EXCLUSIVE: u64 = 1 << 56;
    const PFN_MASK: u64 = (1 << 55) - 1;

    /// The page is in RAM and mapped: a no-fault read of it succeeds (if the mapping is readable).
    pub fn present(self) -> bool {
        self.0 & Self::PRESENT != 0
    }

    /// The page is swapped out: reading it faults and waits for swap-in.
    pub fn swapped(self) -> bool {
        self.0 & Self::SWAPPED != 0
    }

    /// The page is file-backed or shared anonymous memory.
    pub fn file_or_shared_anon(self) -> bool {
        self.0 & Self::FILE_OR_SHARED_ANON != 0
    }

    /// The page is mapped exclusively by this process.
    pub fn exclusive(self) -> bool {
        self.0 & Self::EXCLUSIVE != 0
    }

    /// The page frame number when present (zero unless the reader has `CAP_SYS_ADMIN`).
    pub fn pfn(self) -> Option<u64> {
        self.present().then_some(self.0 & Self::PFN_MASK)
    }
}

/// An open `/proc/PID/pagemap` (it stays bound to the address space it was opened for).
#[derive(Debug)]
pub(crate) struct Pagemap {
    file: File,
    path: PathBuf,
}

/// Entries read per `pread`: one 4 KiB buffer's worth.
const BATCH: usize = 512;

impl Pagemap {
    pub(crate) fn open(path: &Path) -> Result<Pagemap, TaskError> {
        let file = File::open(path).map_err(|source| TaskError::Proc {
            path: path.to_owned(),
            source,
        })?;
        Ok(Pagemap {
            file,
            path: path.to_owned(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The entry of the page holding `addr`. Beyond the end of the address space (where the file
    /// ends) or once the process has exited (the file then reads empty), the entry is all zero.
    pub(crate) fn entry(&self, addr: u64, page_size: u64) -> Result<PageEntry, Errno> {
        let mut found = None;
        self.for_each(addr / page_size, 1, |e| {
            found = Some(e);
            true
        })?;
        Ok(found.unwrap_or(PageEntry(0)))
    }

    /// Whether every page overlapping `[addr, addr + len)` is present. `len` must be nonzero and
    /// the range must not wrap (the caller checks both).
    pub(crate) fn all_present(&self, addr: u64, len: u64, page_size: u64) -> Result<bool, Errno> {
        let first = addr / page_size;
        let last = (addr + (len - 1)) / page_size;
        let mut all = true;
        let seen = self.for_each(first, last - first + 1, |e| {
            all &= e.present();
            all
        })?;
        Ok(all && seen == last - first + 1)
    }

    /// Feeds the entries of `count` pages from page index `first` to `f` until it returns false;
    /// returns how many entries the file had (fewer than `count` past the end of the file).
    fn for_each(
        &self,
        first: u64,
        count: u64,
        mut f: impl FnMut(PageEntry) -> bool,
    ) -> Result<u64, Errno> {
        let mut buf = [0u8; BATCH * 8];
        let mut done = 0u64;
        while done < count {
            let want = usize::try_from((count - done).min(BATCH as u64)).unwrap_or(BATCH) * 8;
            let offset = (first + done).checked_mul(8).ok_or(Errno::EFAULT)?;
            let got = self
                .file
                .read_at(&mut buf[..want], offset)
                .map_err(|e| Errno::from_io(&e))?;
            let entries = got / 8;
            for chunk in buf[..entries * 8].chunks_exact(8) {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                done += 1;
                if !f(PageEntry(u64::from_ne_bytes(word))) {
                    return Ok(done);
                }
            }
            if entries * 8 < want {
                break;
            }
        }
        Ok(done)
    }
}
