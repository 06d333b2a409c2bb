//! The system calls std does not wrap: thread and credential ids, the page size, and
//! `process_vm_readv`. This is the only module of the crate with `unsafe` code; each block calls
//! one libc function whose contract is stated next to it.
#![allow(unsafe_code)]

use crate::Errno;
use std::sync::OnceLock;

/// The calling thread's id (`gettid(2)`), the kernel's `task->pid`.
pub(crate) fn gettid() -> u32 {
    // SAFETY: gettid takes no arguments, touches no memory of ours and cannot fail.
    let tid = unsafe { libc::gettid() };
    tid.cast_unsigned()
}

/// The real user id of the calling process (`getuid(2)`), what `current_uid_gid()` reports.
pub(crate) fn getuid() -> u32 {
    // SAFETY: getuid takes no arguments and cannot fail.
    unsafe { libc::getuid() }
}

/// The real group id of the calling process (`getgid(2)`).
pub(crate) fn getgid() -> u32 {
    // SAFETY: getgid takes no arguments and cannot fail.
    unsafe { libc::getgid() }
}

/// The size of a virtual-memory page (`sysconf(_SC_PAGESIZE)`), cached.
pub(crate) fn page_size() -> u64 {
    static PAGE_SIZE: OnceLock<u64> = OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        // SAFETY: sysconf reads a configuration value; it has no memory preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        // sysconf never fails for _SC_PAGESIZE on Linux; fall back to x86-64's 4 KiB regardless.
        u64::try_from(size)
            .ok()
            .filter(|s| s.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// One `process_vm_readv(2)` call: read up to `dst.len()` bytes at `remote` in process `pid`'s
/// address space. Returns how many bytes were read (possibly fewer than asked, at the first
/// page that cannot be read), or the call's errno when nothing could be read.
///
/// The kernel reads the remote memory through `get_user_pages_remote`, which *faults pages in*
/// (and may therefore block, e.g. on file I/O) exactly as a page fault in that process would.
pub(crate) fn process_vm_readv(pid: u32, dst: &mut [u8], remote: u64) -> Result<usize, Errno> {
    if dst.is_empty() {
        return Ok(0);
    }
    let pid = libc::pid_t::try_from(pid).map_err(|_| Errno::ESRCH)?;
    let remote = usize::try_from(remote).map_err(|_| Errno::EFAULT)?;
    let local = libc::iovec {
        iov_base: dst.as_mut_ptr().cast(),
        iov_len: dst.len(),
    };
    // The remote address is only an address in another address space (or in ours, through the
    // kernel): it is never dereferenced here, so it carries no provenance.
    let remote = libc::iovec {
        iov_base: std::ptr::without_provenance_mut(remote),
        iov_len: dst.len(),
    };
    // SAFETY: `local` describes `dst`, a live, exclusively borrowed buffer of exactly `iov_len`
    // bytes, which the kernel writes at most `iov_len` bytes into. `remote` is only read by the
    // kernel, which validates it against the target's mappings (EFAULT otherwise). One iovec each.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n < 0 {
        return Err(Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EFAULT),
        ));
    }
    Ok(n.cast_unsigned())
}
