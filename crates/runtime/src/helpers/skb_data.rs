//! Reading, writing and checksumming packet bytes, with the semantics of `net/core/filter.c`
//! on a test run's linear socket buffer: `bpf_skb_store_bytes` (9), `bpf_skb_load_bytes`
//! (26), `bpf_csum_diff` (28), `bpf_get_hash_recalc` (34) and `bpf_csum_update` (40).
//!
//! Offsets are from `data` (the MAC header for tc, the network header for socket filters)
//! and must leave the bytes inside the packet. A failed load zeroes the destination and
//! returns `-EFAULT`; a store out of the packet returns `-EFAULT` and changes nothing.
//! Checksums are ones'-complement sums computed as the kernel's `csum_partial` does.

use lull_interp::{HelperContext, HelperError, HelperFn};

use super::packet::{self, PacketView};
use super::{errno, read_vec, ret};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (9, store_bytes),
    (26, load_bytes),
    (28, csum_diff),
    (34, get_hash_recalc),
    (40, csum_update),
];

/// `-ENOTSUPP` (the kernel-internal 524 that BPF helpers return).
const ENOTSUPP: i64 = -524;
/// `BPF_F_RECOMPUTE_CSUM`.
const F_RECOMPUTE_CSUM: u64 = 1 << 0;
/// `BPF_F_INVALIDATE_HASH`.
const F_INVALIDATE_HASH: u64 = 1 << 1;

/// The address of `len` packet bytes at `offset` from `data`, if they are in the packet
/// (offsets beyond `INT_MAX` never are).
fn span(v: &PacketView, offset: u64, len: u64) -> Option<u64> {
    (offset <= i32::MAX as u64 && offset + len <= v.len()).then(|| v.data + offset)
}

/// `bpf_skb_load_bytes(skb, offset, to, len)`.
fn load_bytes(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], false)?;
    let (offset, to, len) = (a[1] & 0xffff_ffff, a[2], a[3] & 0xffff_ffff);
    match span(&v, offset, len) {
        Some(from) => {
            packet::move_bytes(hctx, to, from, len)?;
            Ok(0)
        }
        None => {
            packet::zero_bytes(hctx, to, len)?;
            ret(errno::EFAULT)
        }
    }
}

/// `bpf_skb_store_bytes(skb, offset, from, len, flags)`. The checksum flags have nothing to
/// update in a test run (no checksum is carried, the hash is not computed yet).
fn store_bytes(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], false)?;
    let (offset, from, len, flags) = (a[1] & 0xffff_ffff, a[2], a[3] & 0xffff_ffff, a[4]);
    if flags & !(F_RECOMPUTE_CSUM | F_INVALIDATE_HASH) != 0 {
        return ret(errno::EINVAL);
    }
    let Some(to) = span(&v, offset, len) else {
        return ret(errno::EFAULT);
    };
    packet::move_bytes(hctx, to, from, len)?;
    Ok(0)
}

/// The ones'-complement sum of `bytes` and `seed`, folded to 32 bits with end-around carry,
/// as `csum_partial` computes it: little-endian 32-bit words, then a trailing 16-bit word
/// and byte.
pub(crate) fn csum_partial(bytes: &[u8], seed: u32) -> u32 {
    let mut sum = u64::from(seed);
    let words = bytes.chunks_exact(4);
    let tail = words.remainder();
    for w in words {
        sum += u64::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]));
    }
    if tail.len() >= 2 {
        sum += u64::from(u16::from_le_bytes([tail[0], tail[1]]));
    }
    if tail.len() % 2 == 1 {
        sum += u64::from(tail[tail.len() - 1]);
    }
    while sum >> 32 != 0 {
        sum = (sum & 0xffff_ffff) + (sum >> 32);
    }
    sum as u32
}

/// `csum_add`: 32-bit ones'-complement addition.
fn csum_add(a: u32, b: u32) -> u32 {
    let (r, carry) = a.overflowing_add(b);
    r + u32::from(carry)
}

/// `csum_from32to16`: a 32-bit sum folded to 16 bits.
fn csum_from32to16(sum: u32) -> u32 {
    let s = (sum & 0xffff) + (sum >> 16);
    (s & 0xffff) + (s >> 16)
}

/// `bpf_csum_diff(from, from_size, to, to_size, seed)`: the checksum of `to` less that of
/// `from`, from `seed`, folded to 16 bits (Linux 6.13 on; any sizes). With neither buffer
/// it is the seed itself.
fn csum_diff(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (from, from_size, to, to_size) = (a[0], a[1] & 0xffff_ffff, a[2], a[3] & 0xffff_ffff);
    let seed = a[4] as u32;
    let sum = |hctx: &HelperContext<'_>, addr: u64, size: u64, seed: u32| {
        read_vec(hctx, addr, size as usize).map(|b| csum_partial(&b, seed))
    };
    let r = match (from_size, to_size) {
        (0, 0) => seed,
        (0, _) => csum_from32to16(sum(hctx, to, to_size, seed)?),
        (_, 0) => csum_from32to16(!sum(hctx, from, from_size, !seed)?),
        _ => csum_from32to16(csum_add(
            sum(hctx, to, to_size, seed)?,
            !sum(hctx, from, from_size, 0)?,
        )),
    };
    Ok(u64::from(r))
}

/// `bpf_csum_update(skb, csum)`: only a buffer carrying a complete checksum has one to
/// update, and a test run's does not (`-ENOTSUPP`).
fn csum_update(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    packet::current(hctx, a[0], false)?;
    ret(ENOTSUPP)
}

/// `bpf_get_hash_recalc(skb)`: the flow hash. The kernel's is a `jhash` of the dissected
/// flow keys under a random per-boot seed, so no value is "the" kernel's; Lull's is a
/// 32-bit FNV-1a hash of the protocol and the first 40 bytes after the MAC header (which
/// hold the addresses and ports of IPv4/IPv6 TCP/UDP flows), never 0 as in the kernel.
fn get_hash_recalc(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let v = packet::current(hctx, a[0], false)?;
    let len = v.end.saturating_sub(v.network).min(40);
    let mut bytes = v.protocol.to_be_bytes().to_vec();
    bytes.extend(read_vec(hctx, v.network, len as usize)?);
    let hash = bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    Ok(u64::from(hash.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csum_partial_folds_with_end_around_carry() {
        assert_eq!(csum_partial(&[], 0), 0);
        assert_eq!(csum_partial(&[0xff; 8], 0), 0xffff_ffff);
        assert_eq!(csum_partial(&[1, 0, 0, 0], 0xffff_ffff), 1);
        let words = [0x8000_0000u32, 0x8000_0000, 5];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert_eq!(
            csum_partial(&bytes, 2),
            8,
            "the carry out of bit 31 comes back in"
        );
    }
}
