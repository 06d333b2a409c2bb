//! The packet of a run ([`PacketView`]) and the legacy packet loads (`LD_ABS`/`LD_IND`) of
//! socket-buffer programs, with the semantics
//! of the kernel's `bpf_skb_load_helper_{8,16,32}` (`net/core/filter.c`), which the verifier
//! rewrites those instructions into.
//!
//! A non-negative offset is relative to `skb->data` and must leave `size` bytes inside the
//! linear data. Negative offsets address the headers: from `SKF_NET_OFF` (-0x100000) on,
//! relative to the network header; from `SKF_LL_OFF` (-0x200000) on, relative to the MAC
//! header; the bytes must lie between the MAC header and the end of the packet. Values are read
//! in network byte order. Failure is `-EFAULT`, which the interpreter turns into "the current
//! function returns 0", as the kernel's rewrite does.

use lull_interp::{Helper, HelperContext, HelperError};

use super::{env, errno};

/// `SKF_NET_OFF`.
pub const SKF_NET_OFF: i32 = -0x100000;
/// `SKF_LL_OFF`.
pub const SKF_LL_OFF: i32 = -0x200000;

/// What kind of buffer a packet is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// A socket buffer; `l2` when `data` starts at the MAC header (tc).
    Skb {
        /// The program sees the frame from its Ethernet header.
        l2: bool,
    },
    /// An XDP buffer.
    Xdp,
}

/// The packet of a run as the kernel's `sk_buff`/`xdp_buff` would describe it (addresses in
/// program memory). The context struct holds the authoritative copy (see
/// [`crate::context`]); the run's [`RunEnv`](crate::RunEnv) caches it for `LD_ABS` and the
/// packet helpers, which update both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketView {
    /// Which buffer.
    pub kind: PacketKind,
    /// The context struct (r1 of the run).
    pub ctx: u64,
    /// The first byte of the buffer (`skb->head`, `xdp->data_hard_start`).
    pub head: u64,
    /// One past the last byte the packet may reach (the end of the socket buffer's memory,
    /// `xdp_data_hard_end`).
    pub limit: u64,
    /// XDP: `data_meta` (socket buffers carry no metadata in a test run).
    pub meta: u64,
    /// `data`.
    pub data: u64,
    /// `data_end`: one past the last byte of the (linear) packet.
    pub end: u64,
    /// skb: the MAC (Ethernet) header.
    pub mac: u64,
    /// skb: the network header.
    pub network: u64,
    /// skb: the transport header, once something set it.
    pub transport: Option<u64>,
    /// skb: `skb->protocol` (host order).
    pub protocol: u16,
    /// skb: an encapsulation header was pushed (`skb->encapsulation`).
    pub encapsulated: bool,
    /// skb: the headroom the kernel's buffer would have (`skb_headroom`): it decides when
    /// the kernel reallocates the buffer, which has visible effects (see
    /// [`crate::helpers::skb`]). Lull's own buffer always has room.
    pub headroom: u64,
}

impl PacketView {
    /// Bytes from `data` to `data_end`.
    pub fn len(&self) -> u64 {
        self.end - self.data
    }

    /// Whether the packet is empty (never, for a packet a test run built).
    pub fn is_empty(&self) -> bool {
        self.end == self.data
    }

    /// The address of `size` bytes at `offset` as the kernel's load helpers resolve it.
    pub fn resolve(&self, offset: i32, size: u64) -> Option<u64> {
        let addr = if offset >= 0 {
            self.data.checked_add(offset as u64)?
        } else if offset >= SKF_NET_OFF {
            self.network
                .checked_add(u64::try_from(i64::from(offset) - i64::from(SKF_NET_OFF)).ok()?)?
        } else if offset >= SKF_LL_OFF {
            self.mac
                .checked_add(u64::try_from(i64::from(offset) - i64::from(SKF_LL_OFF)).ok()?)?
        } else {
            return None;
        };
        let low = if offset >= 0 { self.data } else { self.mac };
        (addr >= low && addr.checked_add(size)? <= self.end).then_some(addr)
    }
}

/// The run's packet, for a helper that got the context `ctx_arg` and works on buffers of
/// kind `xdp` (else socket buffers). A helper called outside such a run fails: the verifier
/// only lets packet programs call it.
pub(crate) fn current(
    hctx: &mut HelperContext<'_>,
    ctx_arg: u64,
    xdp: bool,
) -> Result<PacketView, HelperError> {
    match env(hctx)?.packet {
        Some(v) if v.ctx == ctx_arg && matches!(v.kind, PacketKind::Xdp) == xdp => Ok(v),
        _ => Err(HelperError::Failed(format!(
            "packet helper called with {ctx_arg:#x}, which is not the context of an {} run",
            if xdp { "XDP" } else { "skb" }
        ))),
    }
}

/// Makes `view` the run's packet: writes it to the context struct (where the program reads
/// the new `data`/`data_end` from) and the run's cache.
pub(crate) fn commit(hctx: &mut HelperContext<'_>, view: PacketView) -> Result<(), HelperError> {
    view.store(hctx)?;
    env(hctx)?.packet = Some(view);
    Ok(())
}

/// Copies `len` bytes of program memory from `from` to `to` (the ranges may overlap).
pub(crate) fn move_bytes(
    hctx: &mut HelperContext<'_>,
    to: u64,
    from: u64,
    len: u64,
) -> Result<(), HelperError> {
    if len == 0 || to == from {
        return Ok(());
    }
    let bytes = super::read_vec(hctx, from, len as usize)?;
    hctx.write(to, &bytes)?;
    Ok(())
}

/// Zeroes `len` bytes of program memory at `at`.
pub(crate) fn zero_bytes(
    hctx: &mut HelperContext<'_>,
    at: u64,
    len: u64,
) -> Result<(), HelperError> {
    if len > 0 {
        hctx.write(at, &vec![0u8; len as usize])?;
    }
    Ok(())
}

/// The packet loader the interpreter calls for `LD_ABS`/`LD_IND`: `[ctx, offset, size, 0, 0]`.
pub(crate) fn load(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (offset, size) = (a[1] as i32, a[2]);
    let Some(view) = env(ctx)?
        .packet
        .filter(|v| matches!(v.kind, PacketKind::Skb { .. }))
    else {
        return Err(HelperError::Failed(
            "LD_ABS/LD_IND outside a socket-buffer run".into(),
        ));
    };
    if !matches!(size, 1 | 2 | 4) {
        return Err(HelperError::Failed(format!("packet load of {size} bytes")));
    }
    let Some(addr) = view.resolve(offset, size) else {
        return Ok(errno::EFAULT as u64);
    };
    let mut b = [0u8; 4];
    ctx.read(addr, &mut b[..size as usize])?;
    Ok(match size {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_be_bytes([b[0], b[1]])),
        _ => u64::from(u32::from_be_bytes(b)),
    })
}

/// The loader as the interpreter's [`lull_interp::PrepareOptions::packet_loader`].
pub const LOADER: Helper = Helper {
    name: "bpf_skb_load_helper",
    func: load,
};

#[cfg(test)]
mod tests {
    use super::*;

    const VIEW: PacketView = PacketView {
        kind: PacketKind::Skb { l2: false },
        ctx: 0,
        head: 900,
        limit: 2000,
        meta: 1014,
        mac: 1000,
        network: 1014,
        data: 1014,
        end: 1100,
        transport: None,
        protocol: 0x800,
        encapsulated: false,
        headroom: 78,
    };

    #[test]
    fn offsets_resolve_like_the_kernel() {
        assert_eq!(VIEW.resolve(0, 4), Some(1014));
        assert_eq!(VIEW.resolve(82, 4), Some(1096));
        assert_eq!(VIEW.resolve(83, 4), None, "past the end");
        assert_eq!(VIEW.resolve(SKF_NET_OFF + 9, 1), Some(1023));
        assert_eq!(VIEW.resolve(SKF_LL_OFF + 12, 2), Some(1012), "ethertype");
        assert_eq!(VIEW.resolve(SKF_LL_OFF - 1, 1), None);
        assert_eq!(VIEW.resolve(-1, 1), None, "between the special ranges");
    }
}
