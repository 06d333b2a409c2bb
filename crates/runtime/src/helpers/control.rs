//! Control-flow and synchronisation helpers: `bpf_tail_call` (12), `bpf_loop` (181),
//! `bpf_for_each_map_elem` (164), `bpf_spin_lock`/`unlock` (93/94), `bpf_strncmp` (182),
//! `bpf_get_func_ip` (173) and `bpf_get_attach_cookie` (174).
//!
//! A tail call follows the kernel: an index outside the array or an exhausted budget
//! ([`lull_maps::MAX_TAIL_CALL_CNT`] = 33 tail calls per run, counted even when the slot is
//! empty) falls through to the next instruction; otherwise the target replaces the calling
//! function — from the main function that ends the program, from a subprogram its caller
//! continues with the target's r0 ([`LoadedProgram::tail_call`]).
//! Callbacks run in a new frame through [`HelperContext::call`].

use std::sync::Arc;

use lull_abi::MapType;
use lull_interp::{Access, HelperContext, HelperError, HelperFn, Permission};

use super::{env, errno, map_arg, ret};
use crate::program::LoadedProgram;

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (12, tail_call),
    (93, spin_lock),
    (94, spin_unlock),
    (164, for_each_map_elem),
    (173, get_func_ip),
    (174, get_attach_cookie),
    (181, bpf_loop),
    (182, strncmp),
];

/// `BPF_MAX_LOOPS`: iterations `bpf_loop` accepts.
pub const BPF_MAX_LOOPS: u64 = 8 * 1024 * 1024;

fn tail_call(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[1])?;
    if map.map_type() != MapType::ProgArray {
        return Ok(0);
    }
    let Ok(index) = u32::try_from(a[2] & 0xffff_ffff) else {
        return Ok(0);
    };
    if index >= map.spec().max_entries {
        return Ok(0);
    }
    let e = env(ctx)?;
    if e.tail_calls >= lull_maps::MAX_TAIL_CALL_CNT {
        return Ok(0);
    }
    e.tail_calls += 1;
    let target = {
        let section = map.domain().read_atomic();
        map.tail_call_target(&section, index).cloned()
    };
    let Some(target) = target.and_then(|t| Arc::downcast::<LoadedProgram>(t).ok()) else {
        return Ok(0);
    };
    match target.tail_call(e, a[0]) {
        Ok(r0) => Err(HelperError::Return(r0)),
        Err(fault) => Err(HelperError::Fault(Box::new(fault))),
    }
}

fn lock_ptr(ctx: &HelperContext<'_>, addr: u64) -> Result<*mut u8, HelperError> {
    if !addr.is_multiple_of(4) {
        return Err(HelperError::Failed(format!(
            "bpf_spin_lock at misaligned address {addr:#x}"
        )));
    }
    Ok(ctx.resolve(addr, 4, Access::ReadWrite)?)
}

#[allow(unsafe_code)] // see the SAFETY comment inside
fn spin_lock(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let p = lock_ptr(ctx, a[0])?;
    // SAFETY: `p` is 4 aligned bytes of a map value (validated in checked runs, proved by the
    // verifier in trusted runs) that outlive the run.
    unsafe { crate::raw::spin_lock(p) };
    Ok(0)
}

#[allow(unsafe_code)] // see the SAFETY comment inside
fn spin_unlock(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let p = lock_ptr(ctx, a[0])?;
    // SAFETY: as for `spin_lock`.
    unsafe { crate::raw::spin_unlock(p) };
    Ok(0)
}

fn callback(ctx: &mut HelperContext<'_>, func: u64, args: [u64; 5]) -> Result<u64, HelperError> {
    ctx.call(func, args)
        .map_err(|f| HelperError::Fault(Box::new(f)))
}

fn bpf_loop(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (nr, func, cb_ctx, flags) = (a[0] & 0xffff_ffff, a[1], a[2], a[3]);
    if flags != 0 {
        return ret(errno::EINVAL);
    }
    if nr > BPF_MAX_LOOPS {
        // With flags 0 the kernel's verifier inlines bpf_loop (inline_bpf_loop), whose code
        // sets r0 with a 32-bit move: programs see -E2BIG zero-extended, 0x0000_0000_ffff_fff9.
        return Ok(u64::from(errno::E2BIG as u32));
    }
    for i in 0..nr {
        if callback(ctx, func, [i, cb_ctx, 0, 0, 0])? != 0 {
            return Ok(i + 1);
        }
    }
    Ok(nr)
}

#[allow(unsafe_code)] // see the SAFETY comment inside
fn for_each_map_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (handle, func, cb_ctx, flags) = (a[0], a[1], a[2], a[3]);
    if flags != 0 {
        return ret(errno::EINVAL);
    }
    let map = map_arg(ctx, handle)?;
    let cpu = env(ctx)?.cpu;
    // Snapshot the elements first: the callback may update or delete elements of this map,
    // which must not happen under the map's iteration locks. Values stay valid memory for the
    // whole run (read section); keys are copied to buffers that live until the run ends.
    let mut elems: Vec<(Box<[u8]>, *mut u8)> = Vec::new();
    let r = map.for_each(cpu, |k, v| {
        elems.push((k.into(), v.as_ptr()));
        true
    });
    if r.is_err() {
        return ret(errno::EINVAL);
    }
    let value_size = map.spec().value_size as usize;
    let perm = if map.prog_can_write() {
        Permission::ReadWrite
    } else {
        Permission::ReadOnly
    };
    let mut n = 0u64;
    for (key, value) in elems {
        let key_addr = key.as_ptr().expose_provenance() as u64;
        // SAFETY: the key buffer is kept in the run's scratch list below until the run ends;
        // the value lives until the end of the run's read section.
        unsafe {
            ctx.add_region(key.as_ptr().cast_mut(), key.len(), Permission::ReadOnly);
            ctx.add_region(value, value_size, perm);
        }
        env(ctx)?.scratch.push(key);
        let value_addr = value.expose_provenance() as u64;
        n += 1;
        if callback(ctx, func, [handle, key_addr, value_addr, cb_ctx, 0])? != 0 {
            break;
        }
    }
    Ok(n)
}

fn strncmp(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let n = a[1] as usize;
    let mut s1 = vec![0u8; n];
    ctx.read(a[0], &mut s1)?;
    let s2 = ctx.read_cstr(a[2], 4096)?;
    for (i, &c1) in s1.iter().enumerate() {
        let c2 = s2.get(i).copied().unwrap_or(0);
        if c1 != c2 {
            return Ok(if c1 < c2 { -1i64 as u64 } else { 1 });
        }
        if c1 == 0 {
            break;
        }
    }
    Ok(0)
}

fn get_func_ip(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(env(ctx)?.func_ip)
}

fn get_attach_cookie(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(env(ctx)?.cookie)
}
