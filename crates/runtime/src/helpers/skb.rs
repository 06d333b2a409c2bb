//! The helpers that resize or reshape a socket buffer, with the semantics of
//! `net/core/filter.c` on a test run's linear, unshared, non-GSO buffer:
//! `bpf_skb_change_tail` (38), `bpf_skb_pull_data` (39), `bpf_skb_change_head` (43) and
//! `bpf_skb_adjust_room` (50).
//!
//! The kernel grows a buffer by reallocating it; Lull's buffer ([`crate::context`]) has room
//! for the longest packet a helper may make ([`BPF_SKB_MAX_LEN`]) and moves the packet within
//! it when one end runs out. Either way the packet may move, so every success writes the new
//! `len`, `data`, `data_end` (and `protocol`, which encapsulation may change) to the
//! `__sk_buff`; the verifier has invalidated the program's packet pointers. Bytes a helper
//! adds are zeroed. The MAC, network and transport headers and the encapsulation flag the
//! kernel keeps in the `sk_buff` live in the context's private words.
//!
//! One effect of the kernel's reallocation shows: Lull tracks the headroom the kernel's
//! buffer would have (64 bytes before the frame in a test run) and reallocates it the same
//! way (`skb_cow`: by the missing room rounded up to `NET_SKB_PAD`). Reallocation moves
//! every header offset, including the unset transport header's `~0`, which wraps to "set,
//! one byte before the old head" — from then on `bpf_skb_change_tail` may not cut the
//! packet before that byte.

use lull_interp::{HelperContext, HelperError, HelperFn};

use super::packet::{self, PacketView};
use super::{errno, ret};
use crate::context::{BPF_SKB_MAX_LEN, ETH_HLEN};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (38, change_tail),
    (39, pull_data),
    (43, change_head),
    (50, adjust_room),
];

/// `-ENOMEM`.
const ENOMEM: i64 = -12;
/// `-EALREADY`.
const EALREADY: i64 = -114;
/// `-ENOTSUPP` (the kernel-internal 524 that BPF helpers return).
const ENOTSUPP: i64 = -524;

/// `ETH_P_IP`.
const ETH_P_IP: u16 = 0x0800;
/// `ETH_P_IPV6`.
const ETH_P_IPV6: u16 = 0x86dd;
/// `sizeof(struct iphdr)`.
const IPV4_HLEN: u64 = 20;
/// `sizeof(struct ipv6hdr)`.
const IPV6_HLEN: u64 = 40;

/// `bpf_skb_adjust_room` modes and flags (`include/uapi/linux/bpf.h`).
mod room {
    pub const MODE_NET: u64 = 0;
    pub const MODE_MAC: u64 = 1;
    pub const FIXED_GSO: u64 = 1 << 0;
    pub const ENCAP_L3_IPV4: u64 = 1 << 1;
    pub const ENCAP_L3_IPV6: u64 = 1 << 2;
    pub const ENCAP_L4_GRE: u64 = 1 << 3;
    pub const ENCAP_L4_UDP: u64 = 1 << 4;
    pub const NO_CSUM_RESET: u64 = 1 << 5;
    pub const ENCAP_L2_ETH: u64 = 1 << 6;
    pub const DECAP_L3_IPV4: u64 = 1 << 7;
    pub const DECAP_L3_IPV6: u64 = 1 << 8;
    pub const ENCAP_L2_SHIFT: u32 = 56;
    pub const ENCAP_L2_MASK: u64 = 0xff << ENCAP_L2_SHIFT;
    pub const ENCAP_L3: u64 = ENCAP_L3_IPV4 | ENCAP_L3_IPV6;
    pub const DECAP_L3: u64 = DECAP_L3_IPV4 | DECAP_L3_IPV6;
    /// Every flag the helper knows.
    pub const KNOWN: u64 = FIXED_GSO
        | ENCAP_L3
        | ENCAP_L4_GRE
        | ENCAP_L4_UDP
        | ENCAP_L2_ETH
        | ENCAP_L2_MASK
        | DECAP_L3
        | NO_CSUM_RESET;
}

const MAX_LEN: u64 = BPF_SKB_MAX_LEN as u64;
/// `NET_SKB_PAD`: the granularity of the kernel's headroom reallocations.
const NET_SKB_PAD: u64 = 64;

/// `skb_cow(skb, need)` as the kernel's buffer would do it: without `need` bytes of
/// headroom, the buffer is reallocated with the missing room (rounded up to `NET_SKB_PAD`)
/// added at the front, and `skb_headers_offset_update` moves every header offset by it —
/// including an unset transport header (`0xffff` as a `u16`), which wraps to one byte
/// before the old head.
fn cow(v: &mut PacketView, need: u64) {
    if need <= v.headroom {
        return;
    }
    let nhead = (need - v.headroom).next_multiple_of(NET_SKB_PAD);
    if v.transport.is_none() {
        v.transport = Some(v.data - v.headroom - 1);
    }
    v.headroom += nhead;
}

/// Where the packet's bytes begin: the lowest of its headers and `data`.
fn first_byte(v: &PacketView) -> u64 {
    v.mac.min(v.network).min(v.data)
}

/// Moves every address of the packet by `delta` (after its bytes moved).
fn shift(v: &mut PacketView, delta: i64) {
    let s = |a: u64| a.wrapping_add_signed(delta);
    v.mac = s(v.mac);
    v.network = s(v.network);
    v.transport = v.transport.map(s);
    v.data = s(v.data);
    v.end = s(v.end);
    v.meta = v.data;
}

/// Makes sure `front` bytes can be added before the packet's first byte and `back` after its
/// end, moving the packet to the middle of the buffer if not (`pskb_expand_head`). The
/// callers' length checks keep the packet short enough for this to succeed.
fn make_room(
    hctx: &mut HelperContext<'_>,
    v: &mut PacketView,
    front: u64,
    back: u64,
) -> Result<(), HelperError> {
    let first = first_byte(v);
    if first - v.head >= front && v.limit - v.end >= back {
        return Ok(());
    }
    let span = v.end - first;
    let room = (v.limit - v.head) - span;
    if front + back > room {
        return Err(HelperError::Failed(format!(
            "socket buffer cannot hold {span} bytes with {front} more before and {back} after"
        )));
    }
    let to = v.head + front + (room - front - back) / 2;
    packet::move_bytes(hctx, to, first, span)?;
    shift(v, to as i64 - first as i64);
    Ok(())
}

/// `__bpf_skb_min_len`: a packet may not be cut before its network header, nor before its
/// transport header once one is set (offsets from `data`).
fn min_len(v: &PacketView) -> u64 {
    let mut min = v.network.saturating_sub(v.data);
    if let Some(t) = v.transport
        && t > v.data
    {
        min = t - v.data;
    }
    min
}

/// `bpf_skb_change_tail(skb, len, flags)`: the packet becomes `len` bytes long, cut or
/// zero-extended at the end.
fn change_tail(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut v = packet::current(hctx, a[0], false)?;
    let (new_len, flags) = (a[1] & 0xffff_ffff, a[2]);
    if flags != 0 || new_len > MAX_LEN || new_len < min_len(&v) {
        return ret(errno::EINVAL);
    }
    if v.encapsulated {
        return ret(ENOTSUPP);
    }
    let len = v.len();
    if new_len > len {
        make_room(hctx, &mut v, 0, new_len - len)?;
        packet::zero_bytes(hctx, v.end, new_len - len)?;
    }
    v.end = v.data + new_len;
    packet::commit(hctx, v)?;
    Ok(0)
}

/// `bpf_skb_pull_data(skb, len)`: makes `len` bytes (0: the whole packet) linear and
/// writable. A test run's packet is linear already, so only a length beyond the packet
/// fails (`-ENOMEM`).
fn pull_data(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], false)?;
    let len = a[1] & 0xffff_ffff;
    if len > v.len() {
        return ret(ENOMEM);
    }
    packet::commit(hctx, v)?;
    Ok(0)
}

/// `bpf_skb_change_head(skb, len, flags)`: `len` zeroed bytes go in front of the packet,
/// which then starts with its MAC header (the network header stays where it was).
fn change_head(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut v = packet::current(hctx, a[0], false)?;
    let (room, flags) = (a[1] & 0xffff_ffff, a[2]);
    let len = v.len();
    let new_len = (len + room) & 0xffff_ffff;
    if flags != 0 || new_len > MAX_LEN || new_len < len {
        return ret(errno::EINVAL);
    }
    cow(&mut v, room);
    make_room(hctx, &mut v, room, 0)?;
    v.headroom -= room;
    v.data -= room;
    v.meta = v.data;
    packet::zero_bytes(hctx, v.data, room)?;
    v.mac = v.data;
    packet::commit(hctx, v)?;
    Ok(0)
}

/// `bpf_skb_net_base_len`: the length of the network header `protocol` starts with.
fn net_base_len(protocol: u16) -> Option<u64> {
    match protocol {
        ETH_P_IP => Some(IPV4_HLEN),
        ETH_P_IPV6 => Some(IPV6_HLEN),
        _ => None,
    }
}

/// `bpf_skb_adjust_room(skb, len_diff, mode, flags)`: inserts (`len_diff` > 0) or removes
/// room after the MAC header (`BPF_ADJ_ROOM_MAC`) or after the network header
/// (`BPF_ADJ_ROOM_NET`) of an IPv4/IPv6 packet, optionally marking it encapsulated.
fn adjust_room(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut v = packet::current(hctx, a[0], false)?;
    let (len_diff, mode, flags) = (a[1] as i32, a[2] & 0xffff_ffff, a[3]);
    let shrink = len_diff < 0;
    let diff = u64::from(len_diff.unsigned_abs());
    if flags & !room::KNOWN != 0 {
        return ret(errno::EINVAL);
    }
    if diff > 0xfff {
        return ret(errno::EFAULT);
    }
    let Some(base_len) = net_base_len(v.protocol) else {
        return ret(ENOTSUPP);
    };
    let mut len_min = base_len;
    let mut off = v.network - v.mac;
    match mode {
        room::MODE_NET => off += base_len,
        room::MODE_MAC => {}
        _ => return ret(ENOTSUPP),
    }
    if flags & room::DECAP_L3 != 0 {
        if !shrink {
            return ret(errno::EINVAL);
        }
        len_min = match flags & room::DECAP_L3 {
            room::DECAP_L3_IPV4 => IPV4_HLEN,
            room::DECAP_L3_IPV6 => IPV6_HLEN,
            _ => return ret(errno::EINVAL),
        };
    }
    let len = v.len();
    let len_cur = (len as u32).wrapping_sub((v.network.wrapping_sub(v.data)) as u32);
    let len_cur = u64::from(len_cur);
    if (shrink && (diff >= len_cur || len_cur - diff < len_min))
        || (!shrink && len + diff > MAX_LEN)
    {
        return ret(ENOTSUPP);
    }
    let r = if shrink {
        net_shrink(hctx, &mut v, off, diff, flags)?
    } else {
        net_grow(hctx, &mut v, off, diff, flags)?
    };
    packet::commit(hctx, v)?;
    Ok(r)
}

/// `bpf_skb_net_grow`: checks the encapsulation flags, opens `diff` zeroed bytes at `off`
/// (from `data`), and records the encapsulation.
fn net_grow(
    hctx: &mut HelperContext<'_>,
    v: &mut PacketView,
    off: u64,
    diff: u64,
    flags: u64,
) -> Result<u64, HelperError> {
    let inner_mac_len = flags >> room::ENCAP_L2_SHIFT;
    let encap = flags & room::ENCAP_L3 != 0;
    // skb_cow_head comes before the flag checks: a failing call may still reallocate.
    cow(v, diff);
    if encap {
        if flags & room::ENCAP_L3 == room::ENCAP_L3
            || flags & (room::ENCAP_L4_GRE | room::ENCAP_L4_UDP)
                == room::ENCAP_L4_GRE | room::ENCAP_L4_UDP
            || (flags & room::ENCAP_L2_ETH != 0 && inner_mac_len < ETH_HLEN as u64)
        {
            return Ok(errno::EINVAL as u64);
        }
        if v.encapsulated {
            return Ok(EALREADY as u64);
        }
        if inner_mac_len > diff {
            return Ok(errno::EINVAL as u64);
        }
    }
    let mac_len = v.network - v.mac;
    // bpf_skb_net_hdr_push: the first `off` bytes move to the front, zeroes fill the gap.
    make_room(hctx, v, diff, 0)?;
    let trans_same = v.transport == Some(v.network);
    let old = v.data;
    v.headroom -= diff;
    v.data -= diff;
    v.meta = v.data;
    packet::move_bytes(hctx, v.data, old, off)?;
    packet::zero_bytes(hctx, v.data + off, diff)?;
    v.mac -= diff;
    v.network -= diff;
    if trans_same {
        v.transport = Some(v.network);
    }
    if encap {
        v.encapsulated = true;
        v.network = v.data + mac_len;
        if flags & (room::ENCAP_L4_GRE | room::ENCAP_L4_UDP) != 0 {
            let nh_len = if flags & room::ENCAP_L3_IPV6 != 0 {
                IPV6_HLEN
            } else {
                IPV4_HLEN
            };
            v.transport = Some(v.data + mac_len + nh_len);
        }
        if v.protocol == ETH_P_IP && flags & room::ENCAP_L3_IPV6 != 0 {
            v.protocol = ETH_P_IPV6;
        } else if v.protocol == ETH_P_IPV6 && flags & room::ENCAP_L3_IPV4 != 0 {
            v.protocol = ETH_P_IP;
        }
    }
    Ok(0)
}

/// `bpf_skb_net_shrink`: removes `diff` bytes at `off` (from `data`), the first `off` bytes
/// moving back over them.
fn net_shrink(
    hctx: &mut HelperContext<'_>,
    v: &mut PacketView,
    off: u64,
    diff: u64,
    flags: u64,
) -> Result<u64, HelperError> {
    if flags & !(room::FIXED_GSO | room::DECAP_L3 | room::NO_CSUM_RESET) != 0 {
        return Ok(errno::EINVAL as u64);
    }
    if off + diff > v.len() {
        return Ok(ENOMEM as u64);
    }
    let trans_same = v.transport == Some(v.network);
    let old = v.data;
    v.headroom += diff;
    v.data += diff;
    v.meta = v.data;
    packet::move_bytes(hctx, v.data, old, off)?;
    v.mac += diff;
    v.network += diff;
    if trans_same {
        v.transport = Some(v.network);
    }
    if v.protocol == ETH_P_IP && flags & room::DECAP_L3_IPV6 != 0 {
        v.protocol = ETH_P_IPV6;
    } else if v.protocol == ETH_P_IPV6 && flags & room::DECAP_L3_IPV4 != 0 {
        v.protocol = ETH_P_IP;
    }
    Ok(0)
}
