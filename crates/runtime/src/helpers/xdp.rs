//! The helpers that move the edges of an XDP buffer or reach its bytes, with the semantics
//! of `net/core/filter.c`: `bpf_xdp_adjust_head` (44), `bpf_xdp_adjust_meta` (54),
//! `bpf_xdp_adjust_tail` (65), `bpf_xdp_get_buff_len` (188), `bpf_xdp_load_bytes` (189) and
//! `bpf_xdp_store_bytes` (190); the last two see the linear data and the fragments as one
//! run of bytes.
//!
//! The buffer is the page [`crate::context`] lays out: `data_hard_start`, then room for a
//! `struct xdp_frame` the data and metadata may not reach, the metadata (`data_meta` ..
//! `data`), the packet (`data` .. `data_end`), and the `skb_shared_info` tailroom that
//! `data_end` may not reach; longer packets continue in fragments. Each helper checks its
//! bounds first and changes nothing on failure (`-EINVAL`; `-EACCES` for metadata of a bad
//! length). Success updates `data_meta`/`data`/`data_end` in the `xdp_md` the program reads:
//! the verifier has invalidated every packet pointer the program held, so it loads them
//! again.

use lull_interp::{HelperContext, HelperError, HelperFn};

use super::packet::{self, PacketView};
use super::{errno, ret};
use crate::context::{ETH_HLEN, PAGE_SIZE, XDP_FRAME_SIZE, XDP_META_MAX, XdpFrags};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (44, adjust_head),
    (54, adjust_meta),
    (65, adjust_tail),
    (188, get_buff_len),
    (189, load_bytes),
    (190, store_bytes),
];

/// `-EACCES`.
const EACCES: i64 = -13;

/// The second argument, an `int` offset.
fn offset(a: [u64; 5]) -> i64 {
    i64::from(a[1] as i32)
}

/// Where the data (plus any metadata) may start: after the `xdp_frame` at the head.
fn frame_end(v: &PacketView) -> u64 {
    v.head + XDP_FRAME_SIZE as u64
}

/// `bpf_xdp_adjust_head(ctx, offset)`: moves `data` by `offset` (and the metadata with it),
/// keeping at least an Ethernet header and leaving the `xdp_frame` alone.
fn adjust_head(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut v = packet::current(hctx, a[0], true)?;
    let metalen = v.data - v.meta;
    let data = v.data as i64 + offset(a);
    if data < (frame_end(&v) + metalen) as i64 || data > v.end as i64 - ETH_HLEN as i64 {
        return ret(errno::EINVAL);
    }
    let meta = (v.meta as i64 + offset(a)) as u64;
    packet::move_bytes(hctx, meta, v.meta, metalen)?;
    v.meta = meta;
    v.data = data as u64;
    packet::commit(hctx, v)?;
    Ok(0)
}

/// `bpf_xdp_adjust_meta(ctx, offset)`: moves `data_meta` by `offset`, between the
/// `xdp_frame` and `data`; the metadata must stay a multiple of 4 bytes, at most 255.
fn adjust_meta(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut v = packet::current(hctx, a[0], true)?;
    let meta = v.meta as i64 + offset(a);
    if meta < frame_end(&v) as i64 || meta > v.data as i64 {
        return ret(errno::EINVAL);
    }
    let metalen = v.data - meta as u64;
    if !metalen.is_multiple_of(4) || metalen > XDP_META_MAX as u64 {
        return ret(EACCES);
    }
    v.meta = meta as u64;
    packet::commit(hctx, v)?;
    Ok(0)
}

/// `bpf_xdp_adjust_tail(ctx, offset)`: moves the end of the packet by `offset`. Linear
/// buffers keep an Ethernet header and stay out of the tailroom; grown bytes are zeroed. A
/// fragmented buffer grows its last fragment within its page, or shrinks from the last
/// fragment backwards, releasing emptied fragments (the linear part shrinks only once none
/// is left).
fn adjust_tail(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut v = packet::current(hctx, a[0], true)?;
    let offset = a[1] as i32;
    let mut frags = XdpFrags::load(&v, hctx)?;
    if !frags.sizes.is_empty() {
        return if offset < 0 {
            // The kernel negates the `int` (so `INT_MIN` stays negative and shrinks nothing).
            shrink_frags(hctx, &mut v, &mut frags, offset.wrapping_neg())
        } else {
            grow_last_frag(hctx, &mut frags, offset as u32)
        };
    }
    let end = v.end as i64 + i64::from(offset);
    if end > v.limit as i64 || end < (v.data + ETH_HLEN as u64) as i64 {
        return ret(errno::EINVAL);
    }
    if offset > 0 {
        packet::zero_bytes(hctx, v.end, offset as u64)?;
    }
    v.end = end as u64;
    packet::commit(hctx, v)?;
    Ok(0)
}

/// `bpf_xdp_frags_increase_tail`: the last fragment grows within its page.
fn grow_last_frag(
    hctx: &mut HelperContext<'_>,
    frags: &mut XdpFrags,
    offset: u32,
) -> Result<u64, HelperError> {
    let last = frags.sizes.len() - 1;
    let size = frags.sizes[last];
    if u64::from(size) + u64::from(offset) > PAGE_SIZE as u64 {
        return ret(errno::EINVAL);
    }
    packet::zero_bytes(hctx, frags.page(last) + u64::from(size), u64::from(offset))?;
    frags.sizes[last] = size + offset;
    frags.store(hctx)?;
    Ok(0)
}

/// `bpf_xdp_frags_shrink_tail`: `shrink` bytes come off the end, from the last fragment
/// backwards; what the fragments cannot give comes off the linear part once they are gone.
fn shrink_frags(
    hctx: &mut HelperContext<'_>,
    v: &mut PacketView,
    frags: &mut XdpFrags,
    shrink: i32,
) -> Result<u64, HelperError> {
    let total = v.len() + frags.total();
    if i64::from(shrink) > total as i64 - ETH_HLEN as i64 {
        return ret(errno::EINVAL);
    }
    let mut left = i64::from(shrink);
    while left > 0 {
        let Some(size) = frags.sizes.last_mut() else {
            break;
        };
        let take = left.min(i64::from(*size));
        left -= take;
        if take == i64::from(*size) {
            frags.sizes.pop();
        } else {
            *size -= take as u32;
            break;
        }
    }
    frags.store(hctx)?;
    if frags.sizes.is_empty() && left > 0 {
        v.end -= left as u64;
        packet::commit(hctx, *v)?;
    }
    Ok(0)
}

/// `bpf_xdp_get_buff_len(ctx)`: the linear data and the fragments.
fn get_buff_len(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], true)?;
    let frags = XdpFrags::load(&v, hctx)?;
    Ok(v.len() + frags.total())
}

/// The program-memory pieces (address, length) holding `len` bytes at `offset` of the
/// buffer (linear data, then fragments), or the errno of `bpf_xdp_pointer`: `-EFAULT` for
/// an offset or length beyond 0xffff, `-EINVAL` past the end.
fn pieces(
    hctx: &HelperContext<'_>,
    v: &PacketView,
    offset: u64,
    len: u64,
) -> Result<Result<Vec<(u64, u64)>, i64>, HelperError> {
    if offset > 0xffff || len > 0xffff {
        return Ok(Err(errno::EFAULT));
    }
    let frags = XdpFrags::load(v, hctx)?;
    if offset + len > v.len() + frags.total() {
        return Ok(Err(errno::EINVAL));
    }
    let areas = std::iter::once((v.data, v.len())).chain(
        frags
            .sizes
            .iter()
            .enumerate()
            .map(|(i, &s)| (frags.page(i), u64::from(s))),
    );
    let (mut skip, mut left, mut out) = (offset, len, Vec::new());
    for (addr, size) in areas {
        if left == 0 {
            break;
        }
        if skip >= size {
            skip -= size;
            continue;
        }
        let n = (size - skip).min(left);
        out.push((addr + skip, n));
        left -= n;
        skip = 0;
    }
    Ok(Ok(out))
}

/// `bpf_xdp_load_bytes(ctx, offset, buf, len)`; the buffer is left alone on failure.
fn load_bytes(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], true)?;
    let (offset, buf, len) = (a[1] & 0xffff_ffff, a[2], a[3] & 0xffff_ffff);
    let parts = match pieces(hctx, &v, offset, len)? {
        Ok(p) => p,
        Err(e) => return ret(e),
    };
    let mut at = buf;
    for (addr, n) in parts {
        packet::move_bytes(hctx, at, addr, n)?;
        at += n;
    }
    Ok(0)
}

/// `bpf_xdp_store_bytes(ctx, offset, buf, len)`.
fn store_bytes(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], true)?;
    let (offset, buf, len) = (a[1] & 0xffff_ffff, a[2], a[3] & 0xffff_ffff);
    let parts = match pieces(hctx, &v, offset, len)? {
        Ok(p) => p,
        Err(e) => return ret(e),
    };
    let mut from = buf;
    for (addr, n) in parts {
        packet::move_bytes(hctx, addr, from, n)?;
        from += n;
    }
    Ok(0)
}
