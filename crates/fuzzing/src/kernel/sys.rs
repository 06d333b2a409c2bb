//! The `bpf()` system call for map creation and program loading: every `unsafe` of the kernel
//! oracle, each with its safety argument. The attribute layouts are those of
//! `union bpf_attr` (`include/uapi/linux/bpf.h`); fields not written stay zero, which the
//! kernel reads as "not used".
#![allow(unsafe_code)]

use std::os::fd::{FromRawFd, OwnedFd};

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
/// Size of the attribute block passed (the kernel zero-extends shorter blocks).
const ATTR_SIZE: usize = 144;

fn put32(a: &mut [u8; ATTR_SIZE], off: usize, v: u32) {
    a[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(a: &mut [u8; ATTR_SIZE], off: usize, v: u64) {
    a[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

/// Runs `bpf(cmd, attr)`; a non-negative result is a new file descriptor.
fn bpf(cmd: libc::c_long, attr: &mut [u8; ATTR_SIZE]) -> Result<OwnedFd, i32> {
    // SAFETY: `attr` is a valid, writable block of ATTR_SIZE bytes for the duration of the
    // call; every pointer stored inside it was taken by the caller from a live borrow that
    // outlives this call (see `prog_load`), with the length stored next to it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr.as_mut_ptr(),
            ATTR_SIZE as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    let fd = i32::try_from(r).map_err(|_| libc::EBADF)?;
    // SAFETY: on success BPF_MAP_CREATE and BPF_PROG_LOAD return a new file descriptor that
    // nothing else owns; `OwnedFd` closes it exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `BPF_MAP_CREATE`.
pub(super) fn map_create(
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    flags: u32,
) -> Result<OwnedFd, i32> {
    let mut a = [0u8; ATTR_SIZE];
    put32(&mut a, 0, map_type);
    put32(&mut a, 4, key_size);
    put32(&mut a, 8, value_size);
    put32(&mut a, 12, max_entries);
    put32(&mut a, 16, flags);
    bpf(BPF_MAP_CREATE, &mut a)
}

/// What `BPF_PROG_LOAD` gets.
pub(super) struct ProgLoad<'a> {
    pub prog_type: u32,
    pub expected_attach_type: u32,
    pub prog_flags: u32,
    /// Raw instructions, 8 bytes each.
    pub insns: &'a [u8],
    pub license: &'a std::ffi::CStr,
    pub log_level: u32,
    /// The log buffer (empty: no log).
    pub log: &'a mut [u8],
}

/// `BPF_PROG_LOAD`.
pub(super) fn prog_load(p: ProgLoad<'_>) -> Result<OwnedFd, i32> {
    let mut a = [0u8; ATTR_SIZE];
    put32(&mut a, 0, p.prog_type);
    put32(&mut a, 4, (p.insns.len() / 8) as u32);
    put64(&mut a, 8, p.insns.as_ptr() as u64);
    put64(&mut a, 16, p.license.as_ptr() as u64);
    if !p.log.is_empty() {
        put32(&mut a, 24, p.log_level);
        put32(&mut a, 28, p.log.len() as u32);
        put64(&mut a, 32, p.log.as_mut_ptr() as u64);
    }
    put32(&mut a, 44, p.prog_flags);
    put32(&mut a, 68, p.expected_attach_type);
    // The borrows in `p` (instructions, license, log) live until this function returns, i.e.
    // past the system call that reads and writes them.
    bpf(BPF_PROG_LOAD, &mut a)
}

/// The effective user id.
pub(super) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
