//! Program contexts, built the way `BPF_PROG_TEST_RUN` builds them (`net/bpf/test_run.c`).
//!
//! * Packet programs get a UAPI context struct and packet memory. `__sk_buff` (socket filter,
//!   tc, cgroup_skb, lwt) and `xdp_md` (XDP) hold `data`/`data_end`/`data_meta` as 32-bit
//!   fields, which the kernel rewrites into 64-bit pointer loads. Lull instead places the
//!   context and the packet in one mapping below 2 GiB, so the zero-extended 32-bit value *is*
//!   the pointer and no rewriting is needed.
//!   - skb: the packet must hold an Ethernet header (14 bytes); `protocol` comes from it
//!     (`eth_type_trans`), `pkt_type` from the destination address, `ifindex` is the loopback
//!     device (1), `family` and the IP addresses come from an IPv4/IPv6 header. Socket filters
//!     (not L2) see the packet after the Ethernet header, and get it back with that header
//!     zeroed; tc programs see the whole frame. A context given by the caller may set only
//!     `mark`, `priority`, `ingress_ifindex`, `ifindex`, `cb`, `tstamp`, `wire_len`,
//!     `gso_segs`, `gso_size` and `hwtstamp` (other bytes must be zero: `-EINVAL`).
//!   - xdp: 256 bytes of headroom, `data_meta == data`, `ingress_ifindex` = 1 (loopback's rx
//!     queue 0) unless the caller's `xdp_md` says otherwise.
//! * Every other program gets the caller's context bytes as they are (tracing programs: their
//!   argument array of u64s), or 256 zeroed bytes.

use lull_abi::ProgType;

use crate::raw::Low32;

/// Ethernet header length.
pub const ETH_HLEN: usize = 14;
/// Headroom before an XDP packet (`XDP_PACKET_HEADROOM`).
pub const XDP_PACKET_HEADROOM: usize = 256;
/// `sizeof(struct __sk_buff)`.
pub const SKB_SIZE: usize = 192;
/// `sizeof(struct xdp_md)`.
pub const XDP_MD_SIZE: usize = 24;
/// Default context size for non-packet programs.
pub const DEFAULT_CTX_SIZE: usize = 256;
/// Largest packet accepted (what fits a page after headroom in the kernel).
pub const MAX_PACKET: usize = 65536;

/// Byte offsets in `struct __sk_buff`.
mod skb {
    pub const LEN: usize = 0;
    pub const PKT_TYPE: usize = 4;
    pub const MARK: usize = 8;
    pub const PROTOCOL: usize = 16;
    pub const PRIORITY: usize = 32;
    pub const INGRESS_IFINDEX: usize = 36;
    pub const IFINDEX: usize = 40;
    pub const CB: usize = 48;
    pub const DATA: usize = 76;
    pub const DATA_END: usize = 80;
    pub const FAMILY: usize = 88;
    pub const REMOTE_IP4: usize = 92;
    pub const LOCAL_IP4: usize = 96;
    pub const REMOTE_IP6: usize = 100;
    pub const LOCAL_IP6: usize = 116;
    pub const DATA_META: usize = 140;
    pub const TSTAMP: usize = 152;
    pub const WIRE_LEN: usize = 160;
    pub const GSO_SEGS: usize = 164;
    pub const GSO_SIZE: usize = 176;
    pub const HWTSTAMP: usize = 184;
    /// Byte ranges a caller's context may set.
    pub const SETTABLE: &[(usize, usize)] = &[
        (MARK, 4),
        (PRIORITY, 4),
        (INGRESS_IFINDEX, 4),
        (IFINDEX, 4),
        (CB, 20),
        (TSTAMP, 8),
        (WIRE_LEN, 4),
        (GSO_SEGS, 4),
        (GSO_SIZE, 4),
        (HWTSTAMP, 8),
    ];
}

/// How a program type's context is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextKind {
    /// `__sk_buff` over a packet; `l2` when the program sees the Ethernet header (tc).
    Skb {
        /// tc programs see the frame from its Ethernet header.
        l2: bool,
    },
    /// `xdp_md` over a packet.
    Xdp,
    /// The caller's bytes as they are.
    Raw,
}

impl ContextKind {
    /// The context of `prog_type`.
    pub fn of(prog_type: ProgType) -> ContextKind {
        match prog_type {
            ProgType::SchedCls | ProgType::SchedAct => ContextKind::Skb { l2: true },
            ProgType::SocketFilter
            | ProgType::CgroupSkb
            | ProgType::LwtIn
            | ProgType::LwtOut
            | ProgType::LwtXmit => ContextKind::Skb { l2: false },
            ProgType::Xdp => ContextKind::Xdp,
            _ => ContextKind::Raw,
        }
    }
}

/// Why a context cannot be built (`BPF_PROG_TEST_RUN` returns `-EINVAL`).
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The packet is shorter than an Ethernet header or too large.
    #[error("packet of {0} bytes: packet programs need {ETH_HLEN}..={MAX_PACKET} bytes")]
    PacketSize(usize),
    /// The caller's context sets a field the kernel does not let it set.
    #[error("context byte {0} may not be set by the caller (-EINVAL)")]
    Field(usize),
    /// The caller's context is larger than the context struct.
    #[error("context of {got} bytes is larger than {max}")]
    CtxSize {
        /// Given.
        got: usize,
        /// Maximum.
        max: usize,
    },
    /// Packet memory could not be mapped.
    #[error("mapping packet memory: {0}")]
    Map(#[from] std::io::Error),
}

/// A built context: what r1 points to, the memory to expose, and how to read results back.
pub(crate) struct Context {
    kind: ContextKind,
    storage: Storage,
    /// Offset of the context struct in the storage.
    ctx_len: usize,
    /// Packet start and length in the storage (packet contexts).
    pkt: (usize, usize),
    /// The context struct as built (to report changes).
    initial_ctx: Vec<u8>,
}

enum Storage {
    Low(Low32),
    Heap(Vec<u8>),
}

fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

impl Context {
    /// Builds the context of `kind` for `data` and the caller's context bytes.
    pub(crate) fn build(
        kind: ContextKind,
        data: &[u8],
        ctx_in: Option<&[u8]>,
    ) -> Result<Context, ContextError> {
        match kind {
            ContextKind::Skb { l2 } => Self::skb(l2, data, ctx_in),
            ContextKind::Xdp => Self::xdp(data, ctx_in),
            ContextKind::Raw => {
                let mut bytes = ctx_in.map_or_else(|| vec![0u8; DEFAULT_CTX_SIZE], <[u8]>::to_vec);
                if bytes.is_empty() {
                    bytes.push(0);
                }
                let len = bytes.len();
                Ok(Context {
                    kind,
                    initial_ctx: bytes.clone(),
                    storage: Storage::Heap(bytes),
                    ctx_len: len,
                    pkt: (0, 0),
                })
            }
        }
    }

    fn check_packet(data: &[u8]) -> Result<(), ContextError> {
        if data.len() < ETH_HLEN || data.len() > MAX_PACKET {
            return Err(ContextError::PacketSize(data.len()));
        }
        Ok(())
    }

    fn skb(l2: bool, data: &[u8], ctx_in: Option<&[u8]>) -> Result<Context, ContextError> {
        Self::check_packet(data)?;
        let pkt_off = 256;
        let mut mem = Low32::new(pkt_off + data.len())?;
        let base = mem.addr(0);
        let buf = mem.as_mut_slice();
        buf[pkt_off..pkt_off + data.len()].copy_from_slice(data);
        let mut ctx = [0u8; SKB_SIZE];
        if let Some(c) = ctx_in {
            if c.len() > SKB_SIZE {
                return Err(ContextError::CtxSize {
                    got: c.len(),
                    max: SKB_SIZE,
                });
            }
            for (i, &b) in c.iter().enumerate() {
                let settable = skb::SETTABLE
                    .iter()
                    .any(|&(off, len)| i >= off && i < off + len);
                if b != 0 && !settable {
                    return Err(ContextError::Field(i));
                }
            }
            ctx[..c.len()].copy_from_slice(c);
        }
        // eth_type_trans: the protocol as it sits in the frame (network order), 802.2/802.3
        // for length fields; pkt_type from the destination address (loopback's is all zero).
        let proto_be = [data[12], data[13]];
        let proto = u16::from_be_bytes(proto_be);
        let protocol = if proto >= 0x600 {
            u16::from_ne_bytes(proto_be)
        } else if data.get(14..16) == Some(&[0xff, 0xff]) {
            u16::from_ne_bytes(0x0001u16.to_be_bytes())
        } else {
            u16::from_ne_bytes(0x0004u16.to_be_bytes())
        };
        let dest = &data[..6];
        let pkt_type = if dest[0] & 1 != 0 {
            if dest.iter().all(|&b| b == 0xff) {
                1
            } else {
                2
            }
        } else if dest.iter().any(|&b| b != 0) {
            3
        } else {
            0
        };
        let (start, len) = if l2 {
            (pkt_off, data.len())
        } else {
            (pkt_off + ETH_HLEN, data.len() - ETH_HLEN)
        };
        put32(&mut ctx, skb::LEN, len as u32);
        put32(&mut ctx, skb::PKT_TYPE, pkt_type);
        put32(&mut ctx, skb::PROTOCOL, u32::from(protocol));
        if ctx_in.is_none_or(|c| {
            c.get(skb::IFINDEX..skb::IFINDEX + 4)
                .is_none_or(|b| b == [0; 4])
        }) {
            put32(&mut ctx, skb::IFINDEX, 1);
        }
        if ctx_in.is_some() && ctx[skb::WIRE_LEN..skb::WIRE_LEN + 4] == [0; 4] {
            put32(&mut ctx, skb::WIRE_LEN, len as u32);
        }
        let ip = &data[ETH_HLEN..];
        match proto {
            0x0800 => {
                put32(&mut ctx, skb::FAMILY, 2);
                if ip.len() >= 20 {
                    ctx[skb::LOCAL_IP4..skb::LOCAL_IP4 + 4].copy_from_slice(&ip[12..16]);
                    ctx[skb::REMOTE_IP4..skb::REMOTE_IP4 + 4].copy_from_slice(&ip[16..20]);
                }
            }
            0x86dd => {
                put32(&mut ctx, skb::FAMILY, 10);
                if ip.len() >= 40 {
                    ctx[skb::LOCAL_IP6..skb::LOCAL_IP6 + 16].copy_from_slice(&ip[8..24]);
                    ctx[skb::REMOTE_IP6..skb::REMOTE_IP6 + 16].copy_from_slice(&ip[24..40]);
                }
            }
            _ => {}
        }
        let data_addr = (base + start as u64) as u32;
        put32(&mut ctx, skb::DATA, data_addr);
        put32(&mut ctx, skb::DATA_END, data_addr + len as u32);
        put32(&mut ctx, skb::DATA_META, data_addr);
        buf[..SKB_SIZE].copy_from_slice(&ctx);
        Ok(Context {
            kind: ContextKind::Skb { l2 },
            storage: Storage::Low(mem),
            ctx_len: SKB_SIZE,
            pkt: (pkt_off, data.len()),
            initial_ctx: ctx.to_vec(),
        })
    }

    fn xdp(data: &[u8], ctx_in: Option<&[u8]>) -> Result<Context, ContextError> {
        Self::check_packet(data)?;
        let pkt_off = XDP_MD_SIZE.next_multiple_of(64) + XDP_PACKET_HEADROOM;
        let mut mem = Low32::new(pkt_off + data.len())?;
        let base = mem.addr(0);
        let buf = mem.as_mut_slice();
        buf[pkt_off..pkt_off + data.len()].copy_from_slice(data);
        let mut ctx = [0u8; XDP_MD_SIZE];
        let mut ingress = 1u32;
        let mut rx_queue = 0u32;
        if let Some(c) = ctx_in {
            if c.len() > XDP_MD_SIZE {
                return Err(ContextError::CtxSize {
                    got: c.len(),
                    max: XDP_MD_SIZE,
                });
            }
            let mut full = [0u8; XDP_MD_SIZE];
            full[..c.len()].copy_from_slice(c);
            let field =
                |o: usize| u32::from_ne_bytes([full[o], full[o + 1], full[o + 2], full[o + 3]]);
            if field(12) != 0 {
                ingress = field(12);
            }
            rx_queue = field(16);
        }
        let data_addr = (base + pkt_off as u64) as u32;
        put32(&mut ctx, 0, data_addr);
        put32(&mut ctx, 4, data_addr + data.len() as u32);
        put32(&mut ctx, 8, data_addr);
        put32(&mut ctx, 12, ingress);
        put32(&mut ctx, 16, rx_queue);
        buf[..XDP_MD_SIZE].copy_from_slice(&ctx);
        Ok(Context {
            kind: ContextKind::Xdp,
            storage: Storage::Low(mem),
            ctx_len: XDP_MD_SIZE,
            pkt: (pkt_off, data.len()),
            initial_ctx: ctx.to_vec(),
        })
    }

    /// r1: the context's address.
    pub(crate) fn ctx_addr(&mut self) -> u64 {
        match &mut self.storage {
            Storage::Low(m) => m.addr(0),
            Storage::Heap(v) => v.as_mut_ptr().expose_provenance() as u64,
        }
    }

    /// Where a socket buffer's headers and data are, for `LD_ABS`/`LD_IND` (skb contexts only):
    /// the frame starts with its Ethernet header, the network header follows it, and `data`
    /// is the frame (tc) or the network header (socket filters, after `eth_type_trans`).
    pub(crate) fn packet_view(&mut self) -> Option<crate::helpers::packet::PacketView> {
        let ContextKind::Skb { l2 } = self.kind else {
            return None;
        };
        let (off, len) = self.pkt;
        let mac = self.ctx_addr() + off as u64;
        let network = mac + ETH_HLEN as u64;
        Some(crate::helpers::packet::PacketView {
            mac,
            network,
            data: if l2 { mac } else { network },
            end: mac + len as u64,
        })
    }

    /// The memory the program may access: (pointer, length).
    pub(crate) fn memory(&mut self) -> (*mut u8, usize) {
        match &mut self.storage {
            Storage::Low(m) => {
                let len = m.as_slice().len();
                (m.as_ptr(), len)
            }
            Storage::Heap(v) => (v.as_mut_ptr(), v.len()),
        }
    }

    fn bytes(&self) -> &[u8] {
        match &self.storage {
            Storage::Low(m) => m.as_slice(),
            Storage::Heap(v) => v,
        }
    }

    /// The context struct now.
    pub(crate) fn ctx_out(&self) -> Vec<u8> {
        self.bytes()[..self.ctx_len].to_vec()
    }

    /// Whether the program changed the context struct.
    pub(crate) fn ctx_changed(&self) -> bool {
        self.bytes()[..self.ctx_len] != self.initial_ctx[..]
    }

    /// The packet as `BPF_PROG_TEST_RUN` returns it (`None` for non-packet contexts).
    pub(crate) fn data_out(&self) -> Option<Vec<u8>> {
        let (off, len) = self.pkt;
        let bytes = self.bytes();
        match self.kind {
            ContextKind::Raw => None,
            ContextKind::Skb { l2: false } => {
                let mut out = bytes[off..off + len].to_vec();
                out[..ETH_HLEN].fill(0);
                Some(out)
            }
            _ => Some(bytes[off..off + len].to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[12] = 0x08;
        f[14] = 0x45;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f
    }

    fn field(c: &Context, off: usize) -> u32 {
        let b = c.ctx_out();
        u32::from_ne_bytes(b[off..off + 4].try_into().unwrap())
    }

    #[test]
    fn tc_skb_sees_the_whole_frame_in_low_memory() {
        let mut c = Context::build(ContextKind::Skb { l2: true }, &ipv4_frame(), None).unwrap();
        let data = field(&c, skb::DATA);
        let end = field(&c, skb::DATA_END);
        assert_eq!(end - data, 42);
        assert_eq!(field(&c, skb::LEN), 42);
        assert_eq!(
            field(&c, skb::PROTOCOL),
            u32::from(u16::from_ne_bytes([8, 0]))
        );
        assert_eq!(field(&c, skb::FAMILY), 2);
        assert_eq!(field(&c, skb::IFINDEX), 1);
        assert_eq!(field(&c, skb::LOCAL_IP4).to_ne_bytes(), [10, 0, 0, 1]);
        assert!(c.ctx_addr() < 1 << 32);
        assert_eq!(u64::from(data), c.ctx_addr() + 256);
    }

    #[test]
    fn socket_filter_skips_and_zeroes_the_ethernet_header() {
        let mut frame = ipv4_frame();
        frame[0] = 0xff;
        let c = Context::build(ContextKind::Skb { l2: false }, &frame, None).unwrap();
        assert_eq!(field(&c, skb::LEN), 28);
        assert_eq!(field(&c, skb::PKT_TYPE), 2);
        let out = c.data_out().unwrap();
        assert_eq!(out.len(), 42);
        assert!(out[..14].iter().all(|&b| b == 0));
    }

    #[test]
    fn bad_inputs_are_refused() {
        assert!(matches!(
            Context::build(ContextKind::Skb { l2: true }, &[0; 13], None),
            Err(ContextError::PacketSize(13))
        ));
        let mut ctx = vec![0u8; SKB_SIZE];
        ctx[0] = 1; // len is not settable
        assert!(matches!(
            Context::build(ContextKind::Skb { l2: true }, &ipv4_frame(), Some(&ctx)),
            Err(ContextError::Field(0))
        ));
        ctx[0] = 0;
        ctx[skb::MARK] = 7;
        let c = Context::build(ContextKind::Skb { l2: true }, &ipv4_frame(), Some(&ctx)).unwrap();
        assert_eq!(field(&c, skb::MARK), 7);
    }

    #[test]
    fn xdp_has_headroom_and_meta_equal_to_data() {
        let c = Context::build(ContextKind::Xdp, &ipv4_frame(), None).unwrap();
        assert_eq!(field(&c, 0), field(&c, 8));
        assert_eq!(field(&c, 4) - field(&c, 0), 42);
        assert_eq!(field(&c, 12), 1);
    }
}
