//! Map element helpers: `bpf_map_lookup_elem` (1), `update_elem` (2), `delete_elem` (3),
//! `push_elem`/`pop_elem`/`peek_elem` (87–89) and `bpf_map_lookup_percpu_elem` (195).
//!
//! A lookup returns the address of the value in place (this CPU's value for per-CPU maps, the
//! inner map's handle for map-in-map); in checked runs the value is registered as accessible
//! memory for the rest of the run, read-only for `BPF_F_RDONLY_PROG` maps.

use lull_abi::MapType;
use lull_interp::{HelperContext, HelperError, HelperFn, Permission};
use lull_maps::Map;

use super::{KeyBuf, env, map_arg, read_vec, ret};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (1, map_lookup_elem),
    (2, map_update_elem),
    (3, map_delete_elem),
    (87, map_push_elem),
    (88, map_pop_elem),
    (89, map_peek_elem),
    (195, map_lookup_percpu_elem),
];

/// Turns a looked-up value pointer into the helper's result, registering it in checked runs.
#[allow(unsafe_code)] // see the SAFETY comment inside
fn expose(
    ctx: &mut HelperContext<'_>,
    map: &Map,
    value: Option<std::ptr::NonNull<u8>>,
) -> Result<u64, HelperError> {
    let Some(p) = value else { return Ok(0) };
    if matches!(map.map_type(), MapType::ArrayOfMaps | MapType::HashOfMaps) {
        // An inner map: the program may now pass it to map helpers.
        let handle = p.as_ptr().expose_provenance() as u64;
        let e = env(ctx)?;
        if e.checked && !e.maps.contains(&handle) {
            e.maps.push(handle);
        }
        return Ok(handle);
    }
    let perm = if map.prog_can_write() {
        Permission::ReadWrite
    } else {
        Permission::ReadOnly
    };
    // SAFETY: the value lives at least until the end of the run's read section (elements are
    // reclaimed only after a grace period) and programs access it only through the engine.
    unsafe { ctx.add_region(p.as_ptr(), map.spec().value_size as usize, perm) };
    Ok(p.as_ptr().expose_provenance() as u64)
}

fn map_lookup_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let cpu = env(ctx)?.cpu;
    let key = KeyBuf::read(ctx, a[1], map.spec().key_size as usize)?;
    let v = map.lookup(key.as_slice(), cpu);
    expose(ctx, map, v)
}

/// `bpf_map_lookup_elem` for trusted JIT code ([`lull_jit::MapLookupFn`]): the map handle and
/// the key address straight from the program's registers, no helper context. Maps whose
/// lookup depends on the CPU (per-CPU maps) are declined ([`lull_jit::NOT_HANDLED`]); the
/// helper handles them. Same result as [`map_lookup_elem`] in a trusted run, which registers
/// nothing.
#[allow(unsafe_code)] // see the SAFETY comments inside
pub(crate) extern "C" fn lookup_trusted(handle: u64, key: u64) -> u64 {
    // SAFETY: trusted code only (the JIT inlines this in code compiled for trusted runs): the
    // verifier proved r1 is a map pointer from `ld_imm64` or a map-in-map lookup, whose map
    // outlives the run's read section.
    let map = unsafe { crate::raw::map_from_handle(handle) };
    if map.spec().is_percpu() {
        return lull_jit::NOT_HANDLED;
    }
    let len = map.spec().key_size as usize;
    // SAFETY: as above, the verifier proved r2 points to `key_size` initialised, readable
    // bytes of program memory (stack or map value), which nothing writes during the call.
    let key =
        unsafe { std::slice::from_raw_parts(std::ptr::with_exposed_provenance(key as usize), len) };
    map.lookup(key, 0)
        .map_or(0, |p| p.as_ptr().expose_provenance() as u64)
}

fn map_lookup_percpu_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let key = KeyBuf::read(ctx, a[1], map.spec().key_size as usize)?;
    let Ok(cpu) = u32::try_from(a[2]) else {
        return Ok(0);
    };
    let v = map.lookup_percpu(key.as_slice(), cpu);
    expose(ctx, map, v)
}

fn map_update_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let cpu = env(ctx)?.cpu;
    let key = KeyBuf::read(ctx, a[1], map.spec().key_size as usize)?;
    let value = read_vec(ctx, a[2], map.spec().value_size as usize)?;
    match map.update_from_prog(key.as_slice(), &value, a[3], cpu) {
        Ok(()) => Ok(0),
        Err(e) => ret(i64::from(e.errno())),
    }
}

fn map_delete_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let key = KeyBuf::read(ctx, a[1], map.spec().key_size as usize)?;
    match map.delete_from_prog(key.as_slice()) {
        Ok(()) => Ok(0),
        Err(e) => ret(i64::from(e.errno())),
    }
}

fn map_push_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let value = read_vec(ctx, a[1], map.spec().value_size as usize)?;
    match map.push(&value, a[2]) {
        Ok(()) => Ok(0),
        Err(e) => ret(i64::from(e.errno())),
    }
}

fn pop_or_peek(ctx: &mut HelperContext<'_>, a: [u64; 5], pop: bool) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let mut out = vec![0u8; map.spec().value_size as usize];
    let r = if pop {
        map.pop(&mut out)
    } else {
        map.peek(&mut out)
    };
    match r {
        Ok(()) => {
            ctx.write(a[1], &out)?;
            Ok(0)
        }
        Err(e) => {
            // The kernel leaves the (uninitialised) buffer alone on failure; Lull zeroes it so
            // the program never reads stale stack bytes.
            ctx.write(a[1], &out)?;
            ret(i64::from(e.errno()))
        }
    }
}

fn map_pop_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    pop_or_peek(ctx, a, true)
}

fn map_peek_elem(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    pop_or_peek(ctx, a, false)
}
