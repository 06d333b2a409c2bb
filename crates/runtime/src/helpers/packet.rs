//! The legacy packet loads (`LD_ABS`/`LD_IND`) of socket-buffer programs, with the semantics
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

/// Where the headers and data of the run's socket buffer are (addresses in program memory).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketView {
    /// The MAC (Ethernet) header: the first byte of the frame.
    pub mac: u64,
    /// The network header.
    pub network: u64,
    /// `skb->data`.
    pub data: u64,
    /// One past the last byte of the frame.
    pub end: u64,
}

impl PacketView {
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

/// The packet loader the interpreter calls for `LD_ABS`/`LD_IND`: `[ctx, offset, size, 0, 0]`.
pub(crate) fn load(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (offset, size) = (a[1] as i32, a[2]);
    let Some(view) = env(ctx)?.packet else {
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
        mac: 1000,
        network: 1014,
        data: 1014,
        end: 1100,
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
