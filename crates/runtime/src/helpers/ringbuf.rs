//! Ring buffer helpers: `bpf_ringbuf_output` (130), `_reserve` (131), `_submit` (132),
//! `_discard` (133), `_query` (134). A reserved record is writable program memory until it is
//! submitted or discarded; the run remembers which ring each record belongs to.

use lull_interp::{HelperContext, HelperError, HelperFn, Permission};

use super::{env, errno, map_arg, read_vec, ret};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (130, ringbuf_output),
    (131, ringbuf_reserve),
    (132, ringbuf_submit),
    (133, ringbuf_discard),
    (134, ringbuf_query),
];

fn ringbuf_output(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let Some(rb) = map.ringbuf() else {
        return ret(errno::EINVAL);
    };
    let data = read_vec(ctx, a[1], a[2] as usize)?;
    match rb.output(&data, a[3]) {
        Ok(()) => Ok(0),
        Err(e) => ret(i64::from(e.errno())),
    }
}

#[allow(unsafe_code)] // see the SAFETY comment inside
fn ringbuf_reserve(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    let Some(rb) = map.ringbuf() else {
        return Ok(0);
    };
    let Some(p) = rb.reserve(a[1], a[2]) else {
        return Ok(0);
    };
    // SAFETY: the record stays reserved for this program until it submits or discards it
    // (the verifier requires that before exit), and the ring's memory lives as long as the map.
    unsafe { ctx.add_region(p.as_ptr(), a[1] as usize, Permission::ReadWrite) };
    let addr = p.as_ptr().expose_provenance() as u64;
    env(ctx)?.reservations.push((addr, a[0]));
    Ok(addr)
}

fn commit(ctx: &mut HelperContext<'_>, a: [u64; 5], discard: bool) -> Result<u64, HelperError> {
    let e = env(ctx)?;
    let Some(i) = e.reservations.iter().position(|&(p, _)| p == a[0]) else {
        return Err(HelperError::Failed(format!(
            "{:#x} is not a ring buffer record reserved by this run",
            a[0]
        )));
    };
    let (sample, handle) = e.reservations.swap_remove(i);
    let map = map_arg(ctx, handle)?;
    let rb = map
        .ringbuf()
        .ok_or_else(|| HelperError::Failed("reservation map is not a ring buffer".into()))?;
    let p = std::ptr::with_exposed_provenance::<u8>(sample as usize);
    rb.commit(p, a[1], discard)
        .map_err(|e| HelperError::Failed(e.to_string()))?;
    Ok(0)
}

fn ringbuf_submit(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    commit(ctx, a, false)
}

fn ringbuf_discard(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    commit(ctx, a, true)
}

fn ringbuf_query(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = map_arg(ctx, a[0])?;
    Ok(map.ringbuf().map_or(0, |rb| rb.query(a[1])))
}
