//! Program contexts, built the way `BPF_PROG_TEST_RUN` builds them (`net/bpf/test_run.c`).
//!
//! * Packet programs get a UAPI context struct and packet memory. `__sk_buff` (socket filter,
//!   tc, cgroup_skb, lwt) and `xdp_md` (XDP) hold `data`/`data_end`/`data_meta` as 32-bit
//!   fields, which the kernel rewrites into 64-bit pointer loads. Lull instead places the
//!   context and the packet in one mapping below 2 GiB, so the zero-extended 32-bit value *is*
//!   the pointer and no rewriting is needed. The context struct is the state of the packet:
//!   helpers that move or resize it ([`crate::helpers::xdp`], [`crate::helpers::skb`]) update
//!   those fields (through [`PacketView::store`]), and the packet a run returns is read back
//!   from them.
//!   - skb: the packet must hold an Ethernet header (14 bytes) and fit a page with the
//!     kernel's headroom and tailroom (at most [`MAX_SKB_PACKET`] bytes); `protocol` comes
//!     from it (`eth_type_trans`), `pkt_type` from the destination address, `ifindex` is the
//!     loopback device (1), `family` and the IP addresses come from an IPv4/IPv6 header,
//!     which must be complete. Socket filters (not L2) see the packet after the Ethernet
//!     header, and get it back with that header zeroed; tc programs see the whole frame. A
//!     context given by the caller may set only `mark`, `priority`, `ingress_ifindex`,
//!     `ifindex`, `cb`, `tstamp`, `wire_len`, `gso_segs`, `gso_size` and `hwtstamp` (other
//!     bytes must be zero: `-EINVAL`). The buffer leaves room for the longest packet helpers
//!     may make ([`BPF_SKB_MAX_LEN`]) at either end; the headers the UAPI struct does not show
//!     (MAC, network, transport, encapsulation) are kept in private words after it.
//!   - xdp: one page per frame, as the kernel's test run lays it out: 256 bytes of headroom
//!     (less the metadata the caller's `xdp_md` asks for with its `data` offset), at most
//!     [`MAX_XDP_LINEAR`] bytes of linear data (`data_end` of the caller's `xdp_md`, or the
//!     whole packet), the `skb_shared_info` tailroom; the rest of a longer packet continues in
//!     page-sized fragments. `ingress_ifindex` = 1 (loopback's rx queue 0) unless the caller
//!     says otherwise. The packet returned starts at `data_meta`; the returned `xdp_md` holds
//!     `data` and `data_end` as offsets from it.
//! * Every other program gets the caller's context bytes as they are (tracing programs: their
//!   argument array of u64s), or 256 zeroed bytes.

use lull_abi::ProgType;
use lull_interp::{HelperContext, MemoryError};

use crate::helpers::packet::{PacketKind, PacketView};
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
/// `PAGE_SIZE`: an XDP frame or fragment, and what a test run's linear data must fit in.
pub const PAGE_SIZE: usize = 4096;
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))`: the tailroom every buffer keeps.
pub const SHARED_INFO_SIZE: usize = 320;
/// `NET_SKB_PAD + NET_IP_ALIGN` (x86-64): the headroom of a test run's socket buffer.
pub const SKB_HEADROOM: usize = 64;
/// Longest socket-buffer packet a test run accepts (one page less headroom and tailroom).
pub const MAX_SKB_PACKET: usize = PAGE_SIZE - SKB_HEADROOM - SHARED_INFO_SIZE;
/// Longest linear XDP packet without metadata; the rest goes to fragments.
pub const MAX_XDP_LINEAR: usize = PAGE_SIZE - XDP_PACKET_HEADROOM - SHARED_INFO_SIZE;
/// `MAX_SKB_FRAGS` (`CONFIG_MAX_SKB_FRAGS` of the reference kernel).
pub const MAX_FRAGS: usize = 17;
/// `sizeof(struct xdp_frame)`, which the kernel keeps at the start of an XDP frame.
pub const XDP_FRAME_SIZE: usize = 40;
/// Most metadata an XDP buffer may carry (`skb_shared_info::meta_len` is a `u8`).
pub const XDP_META_MAX: usize = 255;
/// `BPF_SKB_MAX_LEN` (`SKB_MAX_ALLOC`): the longest a helper may make a socket buffer.
pub const BPF_SKB_MAX_LEN: usize = 4 * PAGE_SIZE - SHARED_INFO_SIZE;
/// Largest packet accepted at all (an XDP packet of a full page and every fragment).
pub const MAX_PACKET: usize = MAX_XDP_LINEAR + MAX_FRAGS * PAGE_SIZE;

/// Where things sit in a packet context's mapping (offsets from its start, where the context
/// struct is).
mod layout {
    use super::PAGE_SIZE;
    /// skb: private words after `__sk_buff`: MAC and network header addresses, the
    /// transport header (from `data`, an `i32`), flags (bit 0: encapsulated, bit 1: the
    /// transport header is set), the kernel's headroom.
    pub const SKB_PRIV: usize = super::SKB_SIZE;
    /// skb: the first byte of the buffer (`skb->head`).
    pub const SKB_HEAD: usize = 256;
    /// skb: the buffer's size: twice the longest packet, so that helpers can grow it at
    /// either end (moving it when one end runs out).
    pub const SKB_BUF: usize = 8 * PAGE_SIZE;
    /// xdp: the fragment table: count, then the size of each fragment (u32s).
    pub const XDP_FRAGS: usize = 64;
    /// xdp: `data_hard_start`.
    pub const XDP_HARD_START: usize = 256;
    /// xdp: the first fragment page (the others follow).
    pub const XDP_FRAG_PAGES: usize = XDP_HARD_START + PAGE_SIZE;
}

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
    /// Byte ranges the kernel returns from the `sk_buff` (`convert_skb_to___skb`).
    pub const RETURNED: &[(usize, usize)] = &[
        (MARK, 4),
        (PRIORITY, 4),
        (INGRESS_IFINDEX, 4),
        (IFINDEX, 4),
        (CB, 20),
        (TSTAMP, 8),
        (WIRE_LEN, 4),
        (GSO_SEGS, 4),
        (HWTSTAMP, 8),
    ];
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

/// Byte offsets in `struct xdp_md`.
mod xdp_md {
    pub const DATA: usize = 0;
    pub const DATA_END: usize = 4;
    pub const DATA_META: usize = 8;
    pub const INGRESS_IFINDEX: usize = 12;
    pub const RX_QUEUE_INDEX: usize = 16;
    pub const EGRESS_IFINDEX: usize = 20;
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

/// Why a context cannot be built (`BPF_PROG_TEST_RUN` returns `-EINVAL` unless said
/// otherwise).
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    /// The packet is shorter than an Ethernet header or too large.
    #[error("packet of {got} bytes: this program type takes {ETH_HLEN}..={max} bytes")]
    PacketSize {
        /// Given.
        got: usize,
        /// Largest accepted.
        max: usize,
    },
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
    /// The inputs are inconsistent in a way the kernel refuses with `-EINVAL`.
    #[error("{0} (-EINVAL)")]
    Invalid(&'static str),
    /// An XDP packet needs more fragments than a buffer has (`-ENOMEM`).
    #[error("XDP packet of {0} bytes needs more than {MAX_FRAGS} fragments (-ENOMEM)")]
    TooManyFrags(usize),
    /// Packet memory could not be mapped.
    #[error("mapping packet memory: {0}")]
    Map(#[from] std::io::Error),
}

/// A built context: what r1 points to, the memory to expose, and how to read results back.
pub(crate) struct Context {
    kind: ContextKind,
    storage: Storage,
    /// Length of the context struct (at the start of the storage).
    ctx_len: usize,
    /// The context struct as built (to report changes).
    initial_ctx: Vec<u8>,
    /// Packet contexts: the caller's context struct (zero-padded), which the kernel returns
    /// with the fields it owns updated.
    caller_ctx: Option<Vec<u8>>,
}

enum Storage {
    Low(Low32),
    Heap(Vec<u8>),
}

fn put32(buf: &mut [u8], off: usize, v: u32) {
    buf[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn get32(buf: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes([buf[off], buf[off + 1], buf[off + 2], buf[off + 3]])
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
                    caller_ctx: None,
                })
            }
        }
    }

    fn skb(l2: bool, data: &[u8], ctx_in: Option<&[u8]>) -> Result<Context, ContextError> {
        if data.len() < ETH_HLEN || data.len() > MAX_SKB_PACKET {
            return Err(ContextError::PacketSize {
                got: data.len(),
                max: MAX_SKB_PACKET,
            });
        }
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
        let ctx_in_padded = ctx.to_vec();
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
        put32(&mut ctx, skb::PKT_TYPE, pkt_type);
        put32(&mut ctx, skb::PROTOCOL, u32::from(protocol));
        if ctx_in.is_none_or(|c| {
            c.get(skb::IFINDEX..skb::IFINDEX + 4)
                .is_none_or(|b| b == [0; 4])
        }) {
            put32(&mut ctx, skb::IFINDEX, 1);
        }
        let ip = &data[ETH_HLEN..];
        match proto {
            0x0800 => {
                if ip.len() < 20 {
                    return Err(ContextError::Invalid(
                        "IPv4 packet without a full IP header",
                    ));
                }
                put32(&mut ctx, skb::FAMILY, 2);
                ctx[skb::LOCAL_IP4..skb::LOCAL_IP4 + 4].copy_from_slice(&ip[12..16]);
                ctx[skb::REMOTE_IP4..skb::REMOTE_IP4 + 4].copy_from_slice(&ip[16..20]);
            }
            0x86dd => {
                if ip.len() < 40 {
                    return Err(ContextError::Invalid(
                        "IPv6 packet without a full IPv6 header",
                    ));
                }
                put32(&mut ctx, skb::FAMILY, 10);
                ctx[skb::LOCAL_IP6..skb::LOCAL_IP6 + 16].copy_from_slice(&ip[8..24]);
                ctx[skb::REMOTE_IP6..skb::REMOTE_IP6 + 16].copy_from_slice(&ip[24..40]);
            }
            _ => {}
        }
        let mut mem = Low32::new(layout::SKB_HEAD + layout::SKB_BUF)?;
        let base = mem.addr(0);
        let mac_off = layout::SKB_HEAD + SKB_HEADROOM;
        mem.as_mut_slice()[mac_off..mac_off + data.len()].copy_from_slice(data);
        let mac = base + mac_off as u64;
        let network = mac + ETH_HLEN as u64;
        let view = PacketView {
            kind: PacketKind::Skb { l2 },
            ctx: base,
            head: base + layout::SKB_HEAD as u64,
            limit: base + (layout::SKB_HEAD + layout::SKB_BUF) as u64,
            meta: 0,
            data: if l2 { mac } else { network },
            end: mac + data.len() as u64,
            mac,
            network,
            transport: None,
            protocol: proto,
            encapsulated: false,
            headroom: (SKB_HEADROOM + if l2 { 0 } else { ETH_HLEN }) as u64,
        };
        let len = view.len() as u32;
        if ctx_in.is_some() && ctx[skb::WIRE_LEN..skb::WIRE_LEN + 4] == [0; 4] {
            put32(&mut ctx, skb::WIRE_LEN, len);
        }
        let buf = mem.as_mut_slice();
        buf[..SKB_SIZE].copy_from_slice(&ctx);
        for (off, v) in view.words() {
            put32(buf, off, v);
        }
        Ok(Context {
            kind: ContextKind::Skb { l2 },
            initial_ctx: buf[..SKB_SIZE].to_vec(),
            storage: Storage::Low(mem),
            ctx_len: SKB_SIZE,
            caller_ctx: ctx_in.map(|_| ctx_in_padded),
        })
    }

    fn xdp(data: &[u8], ctx_in: Option<&[u8]>) -> Result<Context, ContextError> {
        let md_in = match ctx_in {
            Some(c) if c.len() > XDP_MD_SIZE => {
                return Err(ContextError::CtxSize {
                    got: c.len(),
                    max: XDP_MD_SIZE,
                });
            }
            Some(c) => {
                let mut md = [0u8; XDP_MD_SIZE];
                md[..c.len()].copy_from_slice(c);
                Some(md)
            }
            None => None,
        };
        let field = |o: usize| md_in.map_or(0, |md| get32(&md, o) as usize);
        // The caller's `data` is the metadata length and `data_end` the linear length, both
        // from the start of the metadata.
        let (meta_len, mut linear) = match md_in {
            Some(_) => {
                let (start, end) = (field(xdp_md::DATA), field(xdp_md::DATA_END));
                if field(xdp_md::DATA_META) != 0 || end > data.len() || start > end {
                    return Err(ContextError::Invalid(
                        "xdp_md data/data_end/data_meta do not describe the packet",
                    ));
                }
                if !start.is_multiple_of(4)
                    || start > XDP_META_MAX
                    || start > XDP_PACKET_HEADROOM - XDP_FRAME_SIZE
                {
                    return Err(ContextError::Invalid("invalid XDP metadata length"));
                }
                (start, end)
            }
            None => (0, data.len()),
        };
        let headroom = XDP_PACKET_HEADROOM - meta_len;
        linear = linear.min(PAGE_SIZE - headroom - SHARED_INFO_SIZE);
        if data.len() - meta_len < ETH_HLEN {
            return Err(ContextError::PacketSize {
                got: data.len(),
                max: MAX_PACKET,
            });
        }
        if field(xdp_md::EGRESS_IFINDEX) != 0 {
            return Err(ContextError::Invalid("xdp_md egress_ifindex is set"));
        }
        let (ingress, rx_queue) = (
            field(xdp_md::INGRESS_IFINDEX),
            field(xdp_md::RX_QUEUE_INDEX),
        );
        if (ingress == 0 && rx_queue != 0) || (ingress == 1 && rx_queue >= 1) {
            return Err(ContextError::Invalid(
                "xdp_md rx_queue_index is not a queue of the device",
            ));
        }
        let rest = &data[linear..];
        let nr_frags = rest.len().div_ceil(PAGE_SIZE);
        if nr_frags > MAX_FRAGS {
            return Err(ContextError::TooManyFrags(data.len()));
        }
        let mut mem = Low32::new(layout::XDP_FRAG_PAGES + nr_frags * PAGE_SIZE)?;
        let base = mem.addr(0);
        let buf = mem.as_mut_slice();
        let meta_off = layout::XDP_HARD_START + headroom;
        buf[meta_off..meta_off + linear].copy_from_slice(&data[..linear]);
        put32(buf, layout::XDP_FRAGS, nr_frags as u32);
        for (i, chunk) in rest.chunks(PAGE_SIZE).enumerate() {
            let page = layout::XDP_FRAG_PAGES + i * PAGE_SIZE;
            buf[page..page + chunk.len()].copy_from_slice(chunk);
            put32(buf, layout::XDP_FRAGS + 4 * (i + 1), chunk.len() as u32);
        }
        let hard_start = base + layout::XDP_HARD_START as u64;
        let meta = base + meta_off as u64;
        let view = PacketView {
            kind: PacketKind::Xdp,
            ctx: base,
            head: hard_start,
            limit: hard_start + (PAGE_SIZE - SHARED_INFO_SIZE) as u64,
            meta,
            data: meta + meta_len as u64,
            end: meta + linear as u64,
            mac: 0,
            network: 0,
            transport: None,
            protocol: 0,
            encapsulated: false,
            headroom: 0,
        };
        for (off, v) in view.words() {
            put32(buf, off, v);
        }
        put32(buf, xdp_md::INGRESS_IFINDEX, (ingress as u32).max(1));
        put32(buf, xdp_md::RX_QUEUE_INDEX, rx_queue as u32);
        Ok(Context {
            kind: ContextKind::Xdp,
            initial_ctx: buf[..XDP_MD_SIZE].to_vec(),
            storage: Storage::Low(mem),
            ctx_len: XDP_MD_SIZE,
            caller_ctx: md_in.map(|md| md.to_vec()),
        })
    }

    /// r1: the context's address.
    pub(crate) fn ctx_addr(&mut self) -> u64 {
        match &mut self.storage {
            Storage::Low(m) => m.addr(0),
            Storage::Heap(v) => v.as_mut_ptr().expose_provenance() as u64,
        }
    }

    fn base(&self) -> u64 {
        match &self.storage {
            Storage::Low(m) => m.addr(0),
            Storage::Heap(v) => v.as_ptr().expose_provenance() as u64,
        }
    }

    /// The packet as the context struct describes it now (packet contexts only): where the
    /// run's helpers find it, and `LD_ABS`/`LD_IND` its headers.
    pub(crate) fn packet_view(&mut self) -> Option<PacketView> {
        let base = self.base();
        let bytes = self.bytes();
        let word = |off: usize| u64::from(get32(bytes, off));
        match self.kind {
            ContextKind::Raw => None,
            ContextKind::Skb { l2 } => {
                let p = layout::SKB_PRIV;
                let data = word(skb::DATA);
                let flags = word(p + 12);
                let transport = (flags & 2 != 0)
                    .then(|| data.wrapping_add_signed(i64::from(get32(bytes, p + 8) as i32)));
                Some(PacketView {
                    kind: PacketKind::Skb { l2 },
                    ctx: base,
                    head: base + layout::SKB_HEAD as u64,
                    limit: base + (layout::SKB_HEAD + layout::SKB_BUF) as u64,
                    meta: word(skb::DATA_META),
                    data,
                    end: word(skb::DATA_END),
                    mac: word(p),
                    network: word(p + 4),
                    transport,
                    protocol: u16::from_be(word(skb::PROTOCOL) as u16),
                    encapsulated: flags & 1 != 0,
                    headroom: word(p + 16),
                })
            }
            ContextKind::Xdp => {
                let hard_start = base + layout::XDP_HARD_START as u64;
                Some(PacketView {
                    kind: PacketKind::Xdp,
                    ctx: base,
                    head: hard_start,
                    limit: hard_start + (PAGE_SIZE - SHARED_INFO_SIZE) as u64,
                    meta: word(xdp_md::DATA_META),
                    data: word(xdp_md::DATA),
                    end: word(xdp_md::DATA_END),
                    mac: 0,
                    network: 0,
                    transport: None,
                    protocol: 0,
                    encapsulated: false,
                    headroom: 0,
                })
            }
        }
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

    /// The bytes of the mapping from address `from` to `to` (empty if they are not in it).
    fn span(&self, from: u64, to: u64) -> &[u8] {
        let base = self.base();
        let bytes = self.bytes();
        let (Some(a), Some(b)) = (from.checked_sub(base), to.checked_sub(base)) else {
            return &[];
        };
        bytes.get(a as usize..b as usize).unwrap_or(&[])
    }

    /// The context struct as `BPF_PROG_TEST_RUN` returns it: the caller's `__sk_buff` with
    /// the fields `convert_skb_to___skb` copies back, the caller's `xdp_md` with `data` and
    /// `data_end` as offsets from `data_meta`, other contexts as they are in memory.
    pub(crate) fn ctx_out(&self) -> Vec<u8> {
        let bytes = &self.bytes()[..self.ctx_len];
        match self.kind {
            ContextKind::Xdp => self.xdp_md_out(bytes),
            ContextKind::Skb { .. } => {
                let mut out = self.caller_ctx.clone().unwrap_or_else(|| vec![0; SKB_SIZE]);
                for &(off, len) in skb::RETURNED {
                    out[off..off + len].copy_from_slice(&bytes[off..off + len]);
                }
                out
            }
            ContextKind::Raw => bytes.to_vec(),
        }
    }

    fn xdp_md_out(&self, now: &[u8]) -> Vec<u8> {
        let mut out = self
            .caller_ctx
            .clone()
            .unwrap_or_else(|| vec![0; XDP_MD_SIZE]);
        let meta = get32(now, xdp_md::DATA_META);
        put32(&mut out, xdp_md::DATA, get32(now, xdp_md::DATA) - meta);
        put32(
            &mut out,
            xdp_md::DATA_END,
            get32(now, xdp_md::DATA_END) - meta,
        );
        out
    }

    /// Whether the run changed the context struct (packet contexts: whether the one returned
    /// differs from the caller's; never without one, as the kernel then returns none).
    pub(crate) fn ctx_changed(&self) -> bool {
        match self.kind {
            ContextKind::Raw => self.bytes()[..self.ctx_len] != self.initial_ctx[..],
            _ => self
                .caller_ctx
                .as_ref()
                .is_some_and(|c| self.ctx_out() != *c),
        }
    }

    /// The packet as `BPF_PROG_TEST_RUN` returns it (`None` for non-packet contexts): from
    /// `data` (socket filters: after 14 zeroed bytes standing for the Ethernet header the
    /// kernel pushes back) or, for XDP, from `data_meta`, then the XDP fragments.
    pub(crate) fn data_out(&self) -> Option<Vec<u8>> {
        let bytes = self.bytes();
        let word = |off: usize| u64::from(get32(bytes, off));
        match self.kind {
            ContextKind::Raw => None,
            ContextKind::Skb { l2 } => {
                let linear = self.span(word(skb::DATA), word(skb::DATA_END));
                let mut out = Vec::with_capacity(ETH_HLEN + linear.len());
                if !l2 {
                    out.resize(ETH_HLEN, 0);
                }
                out.extend_from_slice(linear);
                Some(out)
            }
            ContextKind::Xdp => {
                let mut out = self
                    .span(word(xdp_md::DATA_META), word(xdp_md::DATA_END))
                    .to_vec();
                let nr = (get32(bytes, layout::XDP_FRAGS) as usize).min(MAX_FRAGS);
                for i in 0..nr {
                    let size = get32(bytes, layout::XDP_FRAGS + 4 * (i + 1)) as usize;
                    let page = layout::XDP_FRAG_PAGES + i * PAGE_SIZE;
                    out.extend_from_slice(&bytes[page..page + size.min(PAGE_SIZE)]);
                }
                Some(out)
            }
        }
    }
}

impl PacketView {
    /// The context words that describe this packet: (offset from the context, value).
    fn words(&self) -> Vec<(usize, u32)> {
        let a = |v: u64| v as u32;
        match self.kind {
            PacketKind::Xdp => vec![
                (xdp_md::DATA, a(self.data)),
                (xdp_md::DATA_END, a(self.end)),
                (xdp_md::DATA_META, a(self.meta)),
            ],
            PacketKind::Skb { .. } => {
                let p = layout::SKB_PRIV;
                vec![
                    (skb::LEN, self.len() as u32),
                    (skb::DATA, a(self.data)),
                    (skb::DATA_END, a(self.end)),
                    // No skb metadata in a test run: `data_meta` is `data`.
                    (skb::DATA_META, a(self.data)),
                    (skb::PROTOCOL, u32::from(u16::to_be(self.protocol))),
                    (p, a(self.mac)),
                    (p + 4, a(self.network)),
                    (
                        p + 8,
                        self.transport
                            .map_or(0, |t| t.wrapping_sub(self.data) as u32),
                    ),
                    (
                        p + 12,
                        u32::from(self.encapsulated) | u32::from(self.transport.is_some()) << 1,
                    ),
                    (p + 16, self.headroom as u32),
                ]
            }
        }
    }

    /// Writes the packet's description back to the context (after a helper moved or
    /// resized the packet).
    pub(crate) fn store(&self, hctx: &mut HelperContext<'_>) -> Result<(), MemoryError> {
        for (off, v) in self.words() {
            hctx.write(self.ctx + off as u64, &v.to_ne_bytes())?;
        }
        Ok(())
    }
}

/// An XDP buffer's fragments (the `frags` of its `skb_shared_info`), kept in its mapping:
/// a table of sizes, and one page per fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XdpFrags {
    /// Context address (the mapping's start).
    ctx: u64,
    /// Size of each fragment, in order.
    pub(crate) sizes: Vec<u32>,
}

impl XdpFrags {
    /// The fragments of the buffer `view` describes.
    pub(crate) fn load(view: &PacketView, hctx: &HelperContext<'_>) -> Result<Self, MemoryError> {
        let table = view.ctx + layout::XDP_FRAGS as u64;
        let mut w = [0u8; 4];
        hctx.read(table, &mut w)?;
        let nr = (u32::from_ne_bytes(w) as usize).min(MAX_FRAGS);
        let mut sizes = Vec::with_capacity(nr);
        for i in 0..nr {
            hctx.read(table + 4 * (i as u64 + 1), &mut w)?;
            sizes.push(u32::from_ne_bytes(w));
        }
        Ok(XdpFrags {
            ctx: view.ctx,
            sizes,
        })
    }

    /// Writes the table back.
    pub(crate) fn store(&self, hctx: &mut HelperContext<'_>) -> Result<(), MemoryError> {
        let table = self.ctx + layout::XDP_FRAGS as u64;
        hctx.write(table, &(self.sizes.len() as u32).to_ne_bytes())?;
        for (i, s) in self.sizes.iter().enumerate() {
            hctx.write(table + 4 * (i as u64 + 1), &s.to_ne_bytes())?;
        }
        Ok(())
    }

    /// Address of fragment `i`'s first byte.
    pub(crate) fn page(&self, i: usize) -> u64 {
        self.ctx + (layout::XDP_FRAG_PAGES + i * PAGE_SIZE) as u64
    }

    /// Bytes in fragments (`xdp_frags_size`).
    pub(crate) fn total(&self) -> u64 {
        self.sizes.iter().map(|&s| u64::from(s)).sum()
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

    /// A field of the context struct in memory (what the program reads).
    fn field(c: &Context, off: usize) -> u32 {
        get32(c.bytes(), off)
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
        let view = c.packet_view().unwrap();
        assert_eq!(u64::from(data), view.head + SKB_HEADROOM as u64);
        assert_eq!((view.mac, view.network), (view.data, view.data + 14));
        assert_eq!(c.data_out().unwrap(), ipv4_frame());
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
            Err(ContextError::PacketSize { got: 13, .. })
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
        let mut c = Context::build(ContextKind::Xdp, &ipv4_frame(), None).unwrap();
        let raw = |c: &Context, off: usize| get32(c.bytes(), off);
        assert_eq!(raw(&c, xdp_md::DATA), raw(&c, xdp_md::DATA_META));
        assert_eq!(raw(&c, xdp_md::DATA_END) - raw(&c, xdp_md::DATA), 42);
        assert_eq!(raw(&c, xdp_md::INGRESS_IFINDEX), 1);
        let v = c.packet_view().unwrap();
        assert_eq!(v.data - v.head, XDP_PACKET_HEADROOM as u64);
        assert_eq!(v.limit - v.head, (PAGE_SIZE - SHARED_INFO_SIZE) as u64);
        // Without a caller's xdp_md there is none to return changed.
        assert!(!c.ctx_changed());
        assert_eq!(
            get32(&c.ctx_out(), xdp_md::DATA_END),
            42,
            "returned as an offset"
        );
    }

    #[test]
    fn skb_context_comes_back_with_the_fields_the_kernel_owns() {
        let mut ctx = vec![0u8; 12];
        ctx[skb::MARK] = 7;
        let mut c =
            Context::build(ContextKind::Skb { l2: true }, &ipv4_frame(), Some(&ctx)).unwrap();
        let out = c.ctx_out();
        assert_eq!(out.len(), SKB_SIZE);
        assert_eq!(get32(&out, skb::MARK), 7);
        assert_eq!(get32(&out, skb::IFINDEX), 1, "the loopback device");
        assert_eq!(get32(&out, skb::WIRE_LEN), 42);
        assert_eq!(get32(&out, skb::LEN), 0, "not returned");
        assert!(c.ctx_changed(), "ifindex and wire_len were filled in");
        let (p, _) = c.memory();
        // The program writes the mark (offset 8 of the mapping's start).
        let mem = match &mut c.storage {
            Storage::Low(m) => m.as_mut_slice(),
            Storage::Heap(v) => v.as_mut_slice(),
        };
        assert_eq!(mem.as_ptr(), p.cast_const());
        put32(mem, skb::MARK, 9);
        assert_eq!(get32(&c.ctx_out(), skb::MARK), 9);
        let c = Context::build(ContextKind::Skb { l2: true }, &ipv4_frame(), None).unwrap();
        assert!(!c.ctx_changed(), "no context given, none returned");
    }

    fn md(data: u32, data_end: u32) -> Vec<u8> {
        let mut m = vec![0u8; XDP_MD_SIZE];
        put32(&mut m, xdp_md::DATA, data);
        put32(&mut m, xdp_md::DATA_END, data_end);
        m
    }

    #[test]
    fn xdp_metadata_comes_from_the_callers_xdp_md() {
        let frame = ipv4_frame();
        let mut c = Context::build(ContextKind::Xdp, &frame, Some(&md(8, 42))).unwrap();
        let v = c.packet_view().unwrap();
        assert_eq!((v.data - v.meta, v.end - v.data), (8, 34));
        assert_eq!(v.meta, v.head + (XDP_PACKET_HEADROOM - 8) as u64);
        assert_eq!(c.data_out().unwrap(), frame, "returned from data_meta");
        assert_eq!(c.ctx_out(), md(8, 42));
        assert!(!c.ctx_changed());
        // The linear part ends at the caller's data_end; the rest is a fragment.
        let c = Context::build(ContextKind::Xdp, &frame, Some(&md(0, 20))).unwrap();
        assert_eq!(c.data_out().unwrap(), frame);
    }

    #[test]
    fn bad_xdp_md_is_refused() {
        let frame = ipv4_frame();
        for (len, m, why) in [
            (42, md(2, 42), "metadata not a multiple of 4"),
            (42, md(8, 43), "data_end past the packet"),
            (42, md(20, 10), "data after data_end"),
            (300, md(220, 240), "metadata into the xdp_frame"),
        ] {
            assert!(
                matches!(
                    Context::build(ContextKind::Xdp, &vec![0u8; len], Some(&m)),
                    Err(ContextError::Invalid(_))
                ),
                "{why}"
            );
        }
        let mut m = md(0, 42);
        put32(&mut m, xdp_md::DATA_META, 4);
        assert!(Context::build(ContextKind::Xdp, &frame, Some(&m)).is_err());
        let mut m = md(0, 42);
        put32(&mut m, xdp_md::EGRESS_IFINDEX, 1);
        assert!(Context::build(ContextKind::Xdp, &frame, Some(&m)).is_err());
        let mut m = md(0, 42);
        put32(&mut m, xdp_md::RX_QUEUE_INDEX, 1);
        assert!(Context::build(ContextKind::Xdp, &frame, Some(&m)).is_err());
    }

    #[test]
    fn long_xdp_packets_continue_in_fragments() {
        let frame: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut c = Context::build(ContextKind::Xdp, &frame, None).unwrap();
        let v = c.packet_view().unwrap();
        assert_eq!(v.len(), MAX_XDP_LINEAR as u64);
        assert_eq!(
            v.limit - v.end,
            0,
            "a full linear part reaches the tailroom"
        );
        assert_eq!(c.data_out().unwrap(), frame);
        let too_long = vec![0u8; MAX_PACKET + 1];
        assert!(matches!(
            Context::build(ContextKind::Xdp, &too_long, None),
            Err(ContextError::TooManyFrags(_))
        ));
    }

    #[test]
    fn skb_packets_are_limited_like_the_kernels() {
        assert!(Context::build(ContextKind::Skb { l2: true }, &[0; MAX_SKB_PACKET], None).is_ok());
        assert!(matches!(
            Context::build(
                ContextKind::Skb { l2: true },
                &[0; MAX_SKB_PACKET + 1],
                None
            ),
            Err(ContextError::PacketSize { .. })
        ));
        let mut short_ip = vec![0u8; 30];
        short_ip[12] = 0x08;
        assert!(matches!(
            Context::build(ContextKind::Skb { l2: true }, &short_ip, None),
            Err(ContextError::Invalid(_))
        ));
    }
}
