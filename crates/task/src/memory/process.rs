//! A real process's address space: may-fault reads through `process_vm_readv` (which faults pages
//! in like the kernel's remote user copies), no-fault reads gated by `/proc/PID/pagemap`.

use crate::pagemap::{PageEntry, Pagemap};
use crate::{Errno, TaskError, UserMemory, sys};
use std::path::PathBuf;

/// The user memory of another process (or thread) `pid`.
///
/// * [`read_may_fault`](UserMemory::read_may_fault) is `process_vm_readv`: the kernel walks the
///   target's page tables with `get_user_pages_remote`, faulting missing pages in — for a
///   never-touched file-backed page that means reading the file, so the call blocks on I/O.
/// * [`read_nofault`](UserMemory::read_nofault) first reads the pagemap entry of every page of
///   the range and fails with `EFAULT` without touching the memory if any is not present; only
///   then does it copy. A page reclaimed between the check and the copy is faulted back in by the
///   copy (a narrow window the kernel does not have, since it copies with faults disabled).
///
/// Access needs ptrace-read rights on the target for the pagemap and ptrace-attach rights for
/// `process_vm_readv` (root, or the same user with `kernel.yama.ptrace_scope` 0).
#[derive(Debug)]
pub struct ProcessMemory {
    pid: u32,
    pagemap: Pagemap,
    page_size: u64,
}

impl ProcessMemory {
    /// Opens `/proc/<pid>/pagemap`; fails if the process does not exist or may not be inspected.
    pub fn new(pid: u32) -> Result<ProcessMemory, TaskError> {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        if !dir.exists() {
            return Err(TaskError::NoSuchProcess { pid });
        }
        Ok(ProcessMemory {
            pid,
            pagemap: Pagemap::open(&dir.join("pagemap"))?,
            page_size: sys::page_size(),
        })
    }

    /// The process (or thread) id whose memory this reads.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The pagemap entry of the page holding `addr` (all zero for an unmapped page).
    pub fn page_entry(&self, addr: u64) -> Result<PageEntry, Errno> {
        self.pagemap.entry(addr, self.page_size)
    }

    /// Whether every page overlapping `[addr, addr + len)` is present right now (`true` for an
    /// empty range, `false` for a range that wraps the address space).
    pub fn is_resident(&self, addr: u64, len: u64) -> Result<bool, Errno> {
        if len == 0 {
            return Ok(true);
        }
        if addr.checked_add(len - 1).is_none() {
            return Ok(false);
        }
        self.pagemap.all_present(addr, len, self.page_size)
    }

    /// The path of the pagemap file in use.
    pub fn pagemap_path(&self) -> &std::path::Path {
        self.pagemap.path()
    }

    /// Copies the whole range with `process_vm_readv`, continuing after short transfers; any
    /// shortfall is `EFAULT` (the kernel's user copies report no partial success either).
    fn copy(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        if addr.checked_add(dst.len() as u64).is_none() {
            return Err(Errno::EFAULT);
        }
        let mut done = 0usize;
        while done < dst.len() {
            match sys::process_vm_readv(self.pid, &mut dst[done..], addr + done as u64)? {
                0 => return Err(Errno::EFAULT),
                n => done += n,
            }
        }
        Ok(())
    }
}

impl UserMemory for ProcessMemory {
    fn read_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        if dst.is_empty() {
            return Ok(());
        }
        if !self.is_resident(addr, dst.len() as u64)? {
            return Err(Errno::EFAULT);
        }
        self.copy(addr, dst)
    }

    fn read_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        self.copy(addr, dst)
    }

    fn granule(&self) -> u64 {
        self.page_size
    }
}

/// The user memory of the calling process: [`ProcessMemory`] on our own pid, through the same
/// mechanisms (so a no-fault read of an untouched page of ours fails just like a remote one).
#[derive(Debug)]
pub struct SelfMemory(ProcessMemory);

impl SelfMemory {
    /// Opens `/proc/self/pagemap`.
    pub fn new() -> Result<SelfMemory, TaskError> {
        let pid = std::process::id();
        Ok(SelfMemory(ProcessMemory {
            pid,
            pagemap: Pagemap::open(std::path::Path::new("/proc/self/pagemap"))?,
            page_size: sys::page_size(),
        }))
    }

    /// The same memory seen as a [`ProcessMemory`] (for its residency queries).
    pub fn as_process(&self) -> &ProcessMemory {
        &self.0
    }
}

impl UserMemory for SelfMemory {
    fn read_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        self.0.read_nofault(addr, dst)
    }

    fn read_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        self.0.read_may_fault(addr, dst)
    }

    fn granule(&self) -> u64 {
        self.0.granule()
    }
}
