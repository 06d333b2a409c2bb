//! Helper-function prototypes as data: what each argument must be, what the call returns,
//! whether the helper is GPL-only or may sleep, and which program types may call it.
//!
//! Sources: the `bpf_func_proto` definitions in `kernel/bpf/helpers.c`,
//! `kernel/trace/bpf_trace.c`, `kernel/bpf/ringbuf.c` and `net/core/filter.c`, and the
//! `*_func_proto` availability functions of each program type (Linux 6.12/6.18).

pub mod iters;
pub mod kfuncs;
mod names;
mod table;

pub use names::{MAX_ID, helper_name};
pub use table::lookup;

use lull_abi::ProgType;

/// What an argument register must hold (the kernel's `enum bpf_arg_type`, with flags folded in).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// No argument in this position.
    None,
    /// `ARG_ANYTHING`: any initialised value.
    Anything,
    /// `ARG_SCALAR`: any number.
    Scalar,
    /// `ARG_CONST_MAP_PTR`: a map pointer from `ld_imm64`.
    ConstMapPtr,
    /// `ARG_PTR_TO_MAP_KEY`: readable memory of the map's key size.
    MapKey,
    /// `ARG_PTR_TO_MAP_VALUE`: readable memory of the map's value size.
    MapValue,
    /// `ARG_PTR_TO_MAP_VALUE | MEM_UNINIT`: writable memory of the map's value size.
    MapValueUninit,
    /// `ARG_PTR_TO_MEM`: readable memory of the size given by the next argument.
    Mem {
        /// `PTR_MAYBE_NULL`: NULL is accepted (with size 0).
        maybe_null: bool,
    },
    /// `ARG_PTR_TO_UNINIT_MEM`: memory the helper writes, size in the next argument.
    UninitMem,
    /// `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_UNINIT`: writable memory of a fixed size.
    FixedUninitMem(u32),
    /// `ARG_PTR_TO_FIXED_SIZE_MEM | MEM_WRITE`: initialised memory the helper also writes.
    FixedMem(u32),
    /// `ARG_CONST_SIZE`: a bounded size > 0 for the previous memory argument.
    ConstSize,
    /// `ARG_CONST_SIZE_OR_ZERO`: as `ConstSize`, 0 allowed.
    ConstSizeOrZero,
    /// `ARG_CONST_ALLOC_SIZE_OR_ZERO`: a constant allocation size.
    ConstAllocSizeOrZero,
    /// `ARG_PTR_TO_CTX`: the unmodified context pointer.
    Ctx,
    /// `ARG_PTR_TO_FUNC`: a subprogram address (a callback).
    Func,
    /// `ARG_PTR_TO_STACK_OR_NULL`: a stack pointer or NULL (callback context).
    StackOrNull,
    /// `ARG_PTR_TO_SPIN_LOCK`: the `bpf_spin_lock` inside a map value.
    SpinLock,
    /// `ARG_PTR_TO_TIMER`: the `bpf_timer` inside a map value.
    Timer,
    /// `ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`: a reserved ring-buffer record.
    RingbufMemRelease,
    /// `ARG_PTR_TO_CONST_STR`: a NUL-terminated string in a read-only map value.
    ConstStr,
    /// `ARG_PTR_TO_CTX_OR_NULL`.
    CtxOrNull,
    /// `ARG_PTR_TO_SOCK_COMMON` (optionally `PTR_MAYBE_NULL`).
    SockCommon {
        /// NULL is accepted.
        maybe_null: bool,
    },
    /// `ARG_PTR_TO_BTF_ID_SOCK_COMMON`, optionally with `OBJ_RELEASE`.
    BtfSockCommon {
        /// The helper releases the reference.
        release: bool,
    },
    /// `ARG_PTR_TO_MAP_VALUE_OR_NULL`.
    MapValueOrNull,
    /// `ARG_PTR_TO_DYNPTR` with its flags: a `struct bpf_dynptr` on the stack (or one the
    /// kernel passed to a callback); see `check::dynptr`.
    Dynptr {
        /// `MEM_UNINIT`: the helper constructs the dynptr.
        uninit: bool,
        /// `MEM_RDONLY`: the helper does not mutate the dynptr.
        rdonly: bool,
        /// `DYNPTR_TYPE_*`: the kind required or constructed (`None`: any).
        kind: Option<crate::state::DynptrKind>,
        /// `OBJ_RELEASE`: the helper releases the dynptr.
        release: bool,
    },
    /// `ARG_PTR_TO_BTF_ID_OR_NULL`: NULL or a plain, trusted or RCU BTF pointer (not an
    /// untrusted one).
    BtfPtrOrNull,
    /// `ARG_PTR_TO_BTF_ID` and other BTF-typed pointers (not modelled yet: any pointer accepted).
    BtfId,
}

/// What the call leaves in `r0` (the kernel's `enum bpf_return_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetKind {
    /// `RET_INTEGER`: an unknown number.
    Integer,
    /// `RET_VOID`: `r0` is not readable after the call.
    Void,
    /// `RET_PTR_TO_MAP_VALUE_OR_NULL`.
    MapValueOrNull,
    /// `RET_PTR_TO_MAP_VALUE` (never NULL: `bpf_get_local_storage`).
    MapValue,
    /// `RET_PTR_TO_DYNPTR_MEM_OR_NULL`: a slice of the dynptr argument (`bpf_dynptr_data`).
    DynptrMemOrNull,
    /// `RET_PTR_TO_RINGBUF_MEM_OR_NULL`: acquires a reference.
    RingbufMemOrNull,
    /// A trusted BTF-typed kernel pointer (`RET_PTR_TO_BTF_ID_TRUSTED`).
    BtfPtr,
    /// `RET_PTR_TO_BTF_ID_OR_NULL` (e.g. the `bpf_skc_to_*` casts).
    BtfPtrOrNull,
    /// `RET_PTR_TO_SOCKET_OR_NULL` etc.; `acquire` when the helper takes a reference,
    /// `cast` when the result shares the argument's reference.
    SockOrNull {
        /// The socket view.
        kind: crate::state::SockKind,
        /// Acquires a reference (`is_acquire_function`).
        acquire: bool,
        /// Shares the reference of its argument (`is_ptr_cast_function`).
        cast: bool,
    },
}

/// One helper's prototype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperProto {
    /// The helper id (`BPF_FUNC_*`).
    pub id: i32,
    /// Return kind.
    pub ret: RetKind,
    /// Kinds of `r1`..`r5`.
    pub args: [ArgKind; 5],
    /// Only callable from GPL-compatible programs.
    pub gpl_only: bool,
    /// May sleep: only sleepable programs may call it.
    pub might_sleep: bool,
    /// May be passed packet pointers as memory arguments.
    pub pkt_access: bool,
}

impl HelperProto {
    /// The kernel's name of the helper.
    pub fn name(&self) -> &'static str {
        helper_name(self.id)
    }
}

/// Whether Lull has a precise prototype for helper `id` (others have unchecked arguments).
pub fn is_modelled(id: i32) -> bool {
    table::is_listed(id)
}

/// Helpers that call a callback subprogram synchronously (`is_sync_callback_calling_function`).
pub fn calls_callback(id: i32) -> bool {
    matches!(
        id,
        table::LOOP | table::FOR_EACH_MAP_ELEM | table::FIND_VMA | table::USER_RINGBUF_DRAIN
    )
}

/// Helpers that change packet data, invalidating packet pointers (`bpf_helper_changes_pkt_data`;
/// since Linux 6.13 this includes `bpf_tail_call`).
pub fn changes_pkt_data(id: i32) -> bool {
    matches!(
        id,
        9 | 10
            | 11
            | 12
            | 13
            | 18
            | 19
            | 31
            | 38
            | 39
            | 43
            | 44
            | 50
            | 54
            | 63
            | 65
            | 73
            | 74
            | 75
            | 76
            | 90
            | 91
            | 143
            | 144
            | 152
            | 155
            | 190
    )
}

/// Whether a program of `prog_type` may call helper `id` (the `get_func_proto` of each type).
/// `bpf` and `perfmon` are `bpf_capable()` and `perfmon_capable()`.
pub fn available(prog_type: ProgType, id: i32, bpf: bool, perfmon: bool) -> bool {
    use ProgType as P;
    let tracing_like = matches!(
        prog_type,
        P::Kprobe
            | P::Tracepoint
            | P::RawTracepoint
            | P::RawTracepointWritable
            | P::Tracing
            | P::Lsm
            | P::Syscall
            | P::PerfEvent
            | P::StructOps
            | P::Ext
    );
    if tracing_like {
        return table::TRACING.contains(&id)
            || match prog_type {
                P::Kprobe => table::KPROBE_EXTRA.contains(&id),
                P::Tracepoint | P::RawTracepoint | P::RawTracepointWritable | P::PerfEvent => {
                    table::TP_EXTRA.contains(&id)
                }
                P::Tracing | P::Lsm | P::StructOps | P::Ext => {
                    table::TRACING_PROG_EXTRA.contains(&id)
                }
                P::Syscall => {
                    table::TRACING_PROG_EXTRA.contains(&id) || table::SYSCALL_EXTRA.contains(&id)
                }
                _ => false,
            };
    }
    let cgroup = matches!(
        prog_type,
        P::CgroupSkb
            | P::CgroupSock
            | P::CgroupSockAddr
            | P::SockOps
            | P::CgroupDevice
            | P::CgroupSysctl
            | P::CgroupSockopt
    );
    if cgroup && table::CGROUP_COMMON.contains(&id) {
        return true;
    }
    let extra: &[&[i32]] = match prog_type {
        P::SocketFilter => &[table::SOCKET_FILTER_EXTRA],
        P::SchedCls | P::SchedAct => &[table::TC_EXTRA],
        P::Xdp => &[table::XDP_EXTRA],
        P::CgroupSkb => &[table::CGROUP_SKB_EXTRA],
        P::CgroupSock => &[table::CGROUP_SOCK_EXTRA],
        P::CgroupSockAddr => &[table::SOCK_ADDR_EXTRA],
        P::SockOps => &[table::SOCK_OPS_EXTRA],
        P::SkSkb => &[table::SK_SKB_EXTRA],
        P::SkMsg => &[table::SK_MSG_EXTRA],
        P::LwtOut | P::LwtSeg6local => &[table::LWT_OUT_EXTRA],
        P::LwtIn => &[table::LWT_OUT_EXTRA, table::LWT_IN_EXTRA],
        P::LwtXmit => &[table::LWT_OUT_EXTRA, table::LWT_XMIT_EXTRA],
        P::FlowDissector => &[table::FLOW_DISSECTOR_EXTRA],
        P::SkReuseport => &[table::SK_REUSEPORT_EXTRA],
        P::SkLookup => &[table::SK_LOOKUP_EXTRA],
        P::CgroupSysctl => &[table::SYSCTL_EXTRA],
        P::CgroupSockopt => &[table::SOCKOPT_EXTRA],
        _ => &[],
    };
    if extra.iter().any(|l| l.contains(&id)) {
        return true;
    }
    base_available(id, bpf, perfmon)
}

/// `bpf_base_func_proto`: what every program type gets, by privilege.
fn base_available(id: i32, bpf: bool, perfmon: bool) -> bool {
    table::BASE.contains(&id)
        || (bpf && table::BASE_CAP_BPF.contains(&id))
        || (bpf && perfmon && table::BASE_PERFMON.contains(&id))
}
