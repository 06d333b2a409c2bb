//! Program types: what each one's context looks like to the program, what it must return and
//! whether it may be sleepable (the kernel's `bpf_verifier_ops` and `check_return_code` rules).
//!
//! Sources: `is_valid_access` callbacks in `net/core/filter.c`, `kernel/trace/bpf_trace.c`,
//! `kernel/bpf/syscall.c`; `check_return_code` and `can_be_sleepable` in `kernel/bpf/verifier.c`.

mod skb;
mod sock;

pub use sock::sock_access;

use lull_abi::{AttachType, ProgType};

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
}

/// What a valid context load yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtxField {
    /// A number (zero-extended to the access size).
    Scalar,
    /// `skb->data` / `xdp->data`: start of the packet.
    PacketData,
    /// `data_end`: one past the packet.
    PacketEnd,
    /// `data_meta`: start of the metadata area.
    PacketMeta,
    /// A pointer to a kernel object (`PTR_TO_BTF_ID`...), not modelled in detail.
    KernelPtr,
    /// `PTR_TO_SOCK_COMMON_OR_NULL` (`skb->sk`).
    SockCommonOrNull,
    /// `PTR_TO_SOCKET` (`msg->sk`).
    Socket,
}

/// The inclusive range a program's `r0` must be in at exit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetRange {
    /// Smallest allowed value.
    pub min: i64,
    /// Largest allowed value.
    pub max: i64,
}

/// The verifier's view of one program type (with its expected attach type).
#[derive(Clone, Copy, Debug)]
pub struct ProgTypeInfo {
    /// The program type.
    pub prog_type: ProgType,
    /// The expected attach type, if any.
    pub attach: Option<AttachType>,
    /// Whether the program runs with `CAP_BPF` rules (affects some context fields).
    pub privileged: bool,
}

/// `bpf_ctx_narrow_access_ok`: a power-of-two size no wider than the field.
fn narrow_ok(size: u32, field: u32) -> bool {
    size <= field && size.is_power_of_two()
}

impl ProgTypeInfo {
    /// The description for a type.
    pub fn new(prog_type: ProgType, attach: Option<AttachType>, privileged: bool) -> Self {
        ProgTypeInfo {
            prog_type,
            attach,
            privileged,
        }
    }

    /// Whether the kernel's verifier knows how to check this type at all.
    pub fn supported(&self) -> bool {
        !matches!(self.prog_type, ProgType::Unspec)
    }

    /// `is_valid_access` of the type: whether `size` bytes at `off` of the context may be
    /// accessed, and what a load yields. `sx` is a sign-extending load.
    pub fn ctx_access(&self, off: i64, size: u32, access: Access, sx: bool) -> Option<CtxField> {
        use ProgType as P;
        let read = access == Access::Read;
        let aligned = off >= 0 && off % size as i64 == 0;
        match self.prog_type {
            P::SocketFilter => skb::socket_filter(off, size, access, sx),
            P::SchedCls | P::SchedAct => skb::tc(off, size, access, sx),
            P::CgroupSkb => skb::cgroup_skb(off, size, access, sx, self.privileged),
            P::Xdp => {
                // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index,
                // egress_ifindex (devmap programs only); all u32, read-only.
                if !read || !(0..24).contains(&off) || !aligned || size != 4 {
                    return None;
                }
                match off {
                    0 if !sx => Some(CtxField::PacketData),
                    4 if !sx => Some(CtxField::PacketEnd),
                    8 if !sx => Some(CtxField::PacketMeta),
                    0 | 4 | 8 => None,
                    20 if self.attach != Some(AttachType::XdpDevmap) => None,
                    _ => Some(CtxField::Scalar),
                }
            }
            // struct pt_regs (168 bytes on x86-64), read-only.
            P::Kprobe => (read && aligned && off + size as i64 <= 168).then_some(CtxField::Scalar),
            // Tracepoint records: the common header (first 8 bytes) is hidden.
            P::Tracepoint => {
                (read && aligned && (8..2048).contains(&off)).then_some(CtxField::Scalar)
            }
            // u64 args[12], read-only.
            // Iterator contexts (`struct bpf_iter__*`) hold only pointers.
            P::Tracing if self.attach == Some(AttachType::TraceIter) => {
                (read && aligned && off < 96 && size == 8).then_some(CtxField::KernelPtr)
            }
            // u64 args[12], read-only (`bpf_tracing_ctx_access`; BTF-typed arguments are
            // numbers until Lull reads the attach target's BTF).
            P::RawTracepoint
            | P::RawTracepointWritable
            | P::Tracing
            | P::Lsm
            | P::StructOps
            | P::Ext => (read && aligned && off < 96).then_some(CtxField::Scalar),
            // struct bpf_perf_event_data: pt_regs (168) + sample_period (u64) + addr (u64).
            P::PerfEvent => {
                if !read || !aligned || off >= 184 {
                    return None;
                }
                if off >= 168 {
                    return narrow_ok(size, 8).then_some(CtxField::Scalar);
                }
                (size == 8).then_some(CtxField::Scalar)
            }
            P::LwtIn | P::LwtOut | P::LwtXmit | P::LwtSeg6local => {
                skb::lwt(off, size, access, sx, self.prog_type)
            }
            P::SkMsg => skb::sk_msg(off, size, access, sx),
            // struct bpf_nf_ctx { const struct nf_hook_state *state; struct sk_buff *skb; }
            P::Netfilter => {
                (read && !sx && size == 8 && (off == 0 || off == 8)).then_some(CtxField::KernelPtr)
            }
            // struct bpf_sockopt: sk, optval, optval_end pointers, then level, optname, optlen, retval.
            P::CgroupSockopt => match off {
                0 if read && size == 8 => Some(CtxField::KernelPtr),
                8 if read && size == 8 => Some(CtxField::PacketData),
                16 if read && size == 8 => Some(CtxField::PacketEnd),
                24 | 28 | 32 | 36 if size == 4 => Some(CtxField::Scalar),
                _ => None,
            },
            // User-supplied memory of up to 64 KiB.
            P::Syscall => (aligned && off < u16::MAX as i64).then_some(CtxField::Scalar),
            _ => (read && aligned && off < 64).then_some(CtxField::Scalar),
        }
    }

    /// Whether `BPF_LD_ABS`/`BPF_LD_IND` may be used (`may_access_skb`).
    pub fn may_access_skb(&self) -> bool {
        matches!(
            self.prog_type,
            ProgType::SocketFilter | ProgType::SchedCls | ProgType::SchedAct
        )
    }

    /// Whether direct packet access is allowed (`may_access_direct_pkt_data`), and writes.
    pub fn packet_access(&self) -> (bool, bool) {
        use ProgType as P;
        match self.prog_type {
            P::SchedCls | P::SchedAct | P::Xdp | P::LwtXmit | P::SkSkb | P::SkMsg => (true, true),
            P::CgroupSkb
            | P::SocketFilter
            | P::LwtIn
            | P::LwtOut
            | P::LwtSeg6local
            | P::SkReuseport
            | P::FlowDissector => (true, false),
            _ => (false, false),
        }
    }

    /// The range `r0` must be in at exit of the main program (`check_return_code`), if checked.
    pub fn return_range(&self) -> Option<RetRange> {
        use AttachType as A;
        use ProgType as P;
        let r = |min, max| Some(RetRange { min, max });
        match self.prog_type {
            P::CgroupSkb => match self.attach {
                Some(A::CgroupInetEgress) => r(0, 3),
                _ => r(0, 1),
            },
            P::CgroupSock | P::SockOps | P::CgroupDevice | P::CgroupSysctl | P::CgroupSockopt => {
                r(0, 1)
            }
            P::CgroupSockAddr => match self.attach {
                Some(
                    A::CgroupUdp4Recvmsg
                    | A::CgroupUdp6Recvmsg
                    | A::CgroupUnixRecvmsg
                    | A::CgroupInet4Getpeername
                    | A::CgroupInet6Getpeername
                    | A::CgroupUnixGetpeername
                    | A::CgroupInet4Getsockname
                    | A::CgroupInet6Getsockname
                    | A::CgroupUnixGetsockname,
                ) => r(1, 1),
                Some(A::CgroupInet4Bind | A::CgroupInet6Bind) => r(0, 3),
                _ => r(0, 1),
            },
            P::Tracing => match self.attach {
                Some(A::TraceFentry | A::TraceFexit) => r(0, 0),
                Some(A::TraceIter) => r(0, 1),
                _ => None,
            },
            P::SkLookup | P::Netfilter => r(0, 1),
            P::Lsm => match self.attach {
                Some(A::LsmCgroup) => r(0, 1),
                _ => r(-4095, 0),
            },
            _ => None,
        }
    }

    /// `can_be_sleepable`.
    pub fn can_be_sleepable(&self) -> bool {
        use AttachType as A;
        match self.prog_type {
            ProgType::Tracing => matches!(
                self.attach,
                Some(A::TraceFentry | A::TraceFexit | A::ModifyReturn | A::TraceIter)
            ),
            ProgType::Lsm => self.attach != Some(A::LsmCgroup),
            ProgType::Kprobe | ProgType::StructOps => true,
            _ => false,
        }
    }
}
