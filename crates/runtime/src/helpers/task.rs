//! The current task and memory reads: `bpf_get_current_pid_tgid` (14), `_uid_gid` (15),
//! `_comm` (16), `bpf_probe_read_user` (112) / `_str` (114), `bpf_copy_from_user` (148,
//! sleepable), `bpf_probe_read_kernel` (113) / `_str` (115) and the legacy `bpf_probe_read`
//! (4) / `_str` (45), with the kernel semantics `lull-task` implements (zeroed destination and
//! `-EFAULT` on failure; string forms return the length including the NUL).
//!
//! "Kernel" memory is the Lull process's own memory, read without any risk of a fault
//! (`process_vm_readv` on itself), so a bad pointer gives `-EFAULT` as in the kernel.

use std::sync::{Arc, OnceLock};

use lull_interp::{HelperContext, HelperError, HelperFn};
use lull_task::{SelfMemory, Task, UserMemory, helpers as th};

use super::{env, errno};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (4, probe_read_kernel),
    (14, get_current_pid_tgid),
    (15, get_current_uid_gid),
    (16, get_current_comm),
    (45, probe_read_kernel_str),
    (112, probe_read_user),
    (113, probe_read_kernel),
    (114, probe_read_user_str),
    (115, probe_read_kernel_str),
    (148, copy_from_user),
];

/// The process's own memory, the "kernel" memory of probe_read_kernel.
pub(super) fn own_memory() -> Option<&'static SelfMemory> {
    static MEM: OnceLock<Option<SelfMemory>> = OnceLock::new();
    MEM.get_or_init(|| SelfMemory::new().ok()).as_ref()
}

fn task(ctx: &mut HelperContext<'_>) -> Result<Arc<Task>, HelperError> {
    env(ctx)?
        .task
        .clone()
        .ok_or_else(|| HelperError::Failed("no current task for this run".into()))
}

fn get_current_pid_tgid(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(th::get_current_pid_tgid(&*task(ctx)?))
}

fn get_current_uid_gid(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(th::get_current_uid_gid(&*task(ctx)?))
}

fn get_current_comm(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let t = task(ctx)?;
    let mut buf = vec![0u8; a[1] as usize];
    let r = th::get_current_comm(&t, &mut buf);
    ctx.write(a[0], &buf)?;
    Ok(r as u64)
}

/// Runs `read(dst)` for a `(dst, size, src)` helper and copies the result to `dst`.
fn with_dst(
    ctx: &mut HelperContext<'_>,
    a: [u64; 5],
    read: impl FnOnce(&mut HelperContext<'_>, &mut [u8], u64) -> Result<i64, HelperError>,
) -> Result<u64, HelperError> {
    let size = usize::try_from(a[1]).map_err(|_| HelperError::Failed("size too large".into()))?;
    let mut buf = vec![0u8; size];
    let r = read(ctx, &mut buf, a[2])?;
    ctx.write(a[0], &buf)?;
    Ok(r as u64)
}

fn user_memory(ctx: &mut HelperContext<'_>) -> Result<Arc<Task>, HelperError> {
    task(ctx)
}

fn probe_read_user(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_dst(ctx, a, |ctx, dst, src| {
        let t = user_memory(ctx)?;
        Ok(th::probe_read_user(t.memory(), dst, src))
    })
}

fn probe_read_user_str(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_dst(ctx, a, |ctx, dst, src| {
        let t = user_memory(ctx)?;
        Ok(th::probe_read_user_str(t.memory(), dst, src))
    })
}

fn copy_from_user(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_dst(ctx, a, |ctx, dst, src| {
        let t = user_memory(ctx)?;
        Ok(th::copy_from_user(t.memory(), dst, src))
    })
}

fn probe_read_kernel(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_dst(ctx, a, |_, dst, src| {
        Ok(match own_memory() {
            Some(m) => match m.read_may_fault(src, dst) {
                Ok(()) => 0,
                Err(_) => {
                    dst.fill(0);
                    errno::EFAULT
                }
            },
            None => {
                dst.fill(0);
                errno::EFAULT
            }
        })
    })
}

fn probe_read_kernel_str(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_dst(ctx, a, |_, dst, src| {
        Ok(match own_memory() {
            // The user-string semantics are the kernel-string ones (length with the NUL,
            // truncation to size - 1, zeroed destination on a fault).
            Some(m) => th::probe_read_user_str(&MayFault(m), dst, src),
            None => {
                dst.fill(0);
                errno::EFAULT
            }
        })
    })
}

/// Reads own memory with faults allowed even for the "no-fault" API (kernel memory is always
/// resident).
struct MayFault<'a>(&'a SelfMemory);

impl UserMemory for MayFault<'_> {
    fn read_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<(), lull_task::Errno> {
        self.0.read_may_fault(addr, dst)
    }
    fn read_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<(), lull_task::Errno> {
        self.0.read_may_fault(addr, dst)
    }
}
