//! The prototype table and the per-program-type availability lists (helper ids).
//!
//! Prototypes follow the `bpf_func_proto` definitions of Linux 6.12/6.18 (`kernel/bpf/helpers.c`,
//! `kernel/bpf/ringbuf.c`, `kernel/trace/bpf_trace.c`, `net/core/filter.c`). Helpers not listed
//! here get a permissive fallback prototype (see [`lookup`]).

use super::{ArgKind as A, HelperProto, RetKind as R};
use crate::state::{DynptrKind, SockKind as K};

pub(super) const FOR_EACH_MAP_ELEM: i32 = 164;
pub(super) const LOOP: i32 = 181;
pub(super) const FIND_VMA: i32 = 180;
pub(super) const USER_RINGBUF_DRAIN: i32 = 209;

const N: A = A::None;

const fn p(id: i32, ret: R, args: [A; 5], gpl_only: bool) -> HelperProto {
    HelperProto {
        id,
        ret,
        args,
        gpl_only,
        might_sleep: false,
        pkt_access: false,
    }
}
const fn pkt(mut h: HelperProto) -> HelperProto {
    h.pkt_access = true;
    h
}
const fn pkt_p(id: i32, ret: R, args: [A; 5], gpl_only: bool) -> HelperProto {
    pkt(p(id, ret, args, gpl_only))
}
const fn sleeps(mut h: HelperProto) -> HelperProto {
    h.might_sleep = true;
    h
}

const MEM_RO: A = A::Mem { maybe_null: false };
const MEM_RO_NULL: A = A::Mem { maybe_null: true };

/// Prototypes of the helpers modelled precisely, most used first.
static PROTOS: &[HelperProto] = &[
    pkt(p(
        1,
        R::MapValueOrNull,
        [A::ConstMapPtr, A::MapKey, N, N, N],
        false,
    )),
    pkt(p(
        2,
        R::Integer,
        [A::ConstMapPtr, A::MapKey, A::MapValue, A::Anything, N],
        false,
    )),
    pkt(p(
        3,
        R::Integer,
        [A::ConstMapPtr, A::MapKey, N, N, N],
        false,
    )),
    p(
        4,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        true,
    ),
    p(5, R::Integer, [N; 5], false),
    p(6, R::Integer, [MEM_RO, A::ConstSize, N, N, N], true),
    p(7, R::Integer, [N; 5], false),
    p(8, R::Integer, [N; 5], false),
    p(
        9,
        R::Integer,
        [A::Ctx, A::Anything, MEM_RO, A::ConstSize, A::Anything],
        false,
    ),
    p(
        10,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, A::Anything, A::Anything],
        false,
    ),
    p(
        11,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, A::Anything, A::Anything],
        false,
    ),
    p(
        12,
        R::Void,
        [A::Ctx, A::ConstMapPtr, A::Anything, N, N],
        false,
    ),
    p(
        13,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, N, N],
        false,
    ),
    p(14, R::Integer, [N; 5], false),
    p(15, R::Integer, [N; 5], false),
    p(16, R::Integer, [A::UninitMem, A::ConstSize, N, N, N], false),
    p(17, R::Integer, [A::Ctx, N, N, N, N], false),
    p(
        18,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, N, N],
        false,
    ),
    p(19, R::Integer, [A::Ctx, N, N, N, N], false),
    p(23, R::Integer, [A::Anything, A::Anything, N, N, N], false),
    p(
        31,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, N, N],
        false,
    ),
    p(
        33,
        R::Integer,
        [A::Ctx, A::ConstMapPtr, A::Anything, N, N],
        false,
    ),
    p(
        38,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, N, N],
        false,
    ),
    p(39, R::Integer, [A::Ctx, A::Anything, N, N, N], false),
    p(40, R::Integer, [A::Ctx, A::Anything, N, N, N], false),
    p(41, R::Integer, [A::Ctx, N, N, N, N], false),
    p(
        43,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, N, N],
        false,
    ),
    p(47, R::Integer, [A::Ctx, N, N, N, N], false),
    p(
        50,
        R::Integer,
        [A::Ctx, A::Anything, A::Anything, A::Anything, N],
        false,
    ),
    p(
        68,
        R::Integer,
        [A::Ctx, A::Anything, A::UninitMem, A::ConstSize, A::Anything],
        false,
    ),
    p(135, R::Integer, [A::Ctx, A::Anything, N, N, N], false),
    p(
        163,
        R::Integer,
        [
            A::Ctx,
            A::Anything,
            A::FixedMem(4),
            A::Anything,
            A::Anything,
        ],
        false,
    ),
    p(46, R::Integer, [A::Ctx, N, N, N, N], false),
    pkt_p(
        84,
        R::SockOrNull {
            kind: K::Full,
            acquire: true,
            cast: false,
        },
        [A::Ctx, MEM_RO, A::ConstSize, A::Anything, A::Anything],
        false,
    ),
    pkt_p(
        85,
        R::SockOrNull {
            kind: K::Full,
            acquire: true,
            cast: false,
        },
        [A::Ctx, MEM_RO, A::ConstSize, A::Anything, A::Anything],
        false,
    ),
    p(
        86,
        R::Integer,
        [A::BtfSockCommon { release: true }, N, N, N, N],
        false,
    ),
    p(
        95,
        R::SockOrNull {
            kind: K::Full,
            acquire: false,
            cast: true,
        },
        [A::SockCommon { maybe_null: false }, N, N, N, N],
        false,
    ),
    p(
        96,
        R::SockOrNull {
            kind: K::Tcp,
            acquire: false,
            cast: true,
        },
        [A::SockCommon { maybe_null: false }, N, N, N, N],
        false,
    ),
    p(
        98,
        R::SockOrNull {
            kind: K::Full,
            acquire: false,
            cast: false,
        },
        [A::SockCommon { maybe_null: false }, N, N, N, N],
        false,
    ),
    pkt_p(
        99,
        R::SockOrNull {
            kind: K::Common,
            acquire: true,
            cast: false,
        },
        [A::Ctx, MEM_RO, A::ConstSize, A::Anything, A::Anything],
        false,
    ),
    p(
        107,
        R::MapValueOrNull,
        [
            A::ConstMapPtr,
            A::BtfSockCommon { release: false },
            A::MapValueOrNull,
            A::Anything,
            N,
        ],
        false,
    ),
    p(
        108,
        R::Integer,
        [A::ConstMapPtr, A::BtfSockCommon { release: false }, N, N, N],
        false,
    ),
    p(122, R::Integer, [A::CtxOrNull, N, N, N, N], false),
    p(
        124,
        R::Integer,
        [
            A::Ctx,
            A::SockCommon { maybe_null: true },
            A::Anything,
            N,
            N,
        ],
        false,
    ),
    p(
        25,
        R::Integer,
        [
            A::Ctx,
            A::ConstMapPtr,
            A::Anything,
            MEM_RO,
            A::ConstSizeOrZero,
        ],
        true,
    ),
    p(
        26,
        R::Integer,
        [A::Ctx, A::Anything, A::UninitMem, A::ConstSize, N],
        false,
    ),
    p(
        27,
        R::Integer,
        [A::Ctx, A::ConstMapPtr, A::Anything, N, N],
        true,
    ),
    pkt(p(
        28,
        R::Integer,
        [
            MEM_RO_NULL,
            A::ConstSizeOrZero,
            MEM_RO_NULL,
            A::ConstSizeOrZero,
            A::Anything,
        ],
        false,
    )),
    p(34, R::Integer, [A::Ctx, N, N, N, N], false),
    p(35, R::Integer, [N; 5], true),
    p(42, R::Integer, [N; 5], false),
    p(44, R::Integer, [A::Ctx, A::Anything, N, N, N], false),
    p(
        45,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        true,
    ),
    p(
        51,
        R::Integer,
        [A::ConstMapPtr, A::Anything, A::Anything, N, N],
        false,
    ),
    p(54, R::Integer, [A::Ctx, A::Anything, N, N, N], false),
    p(65, R::Integer, [A::Ctx, A::Anything, N, N, N], false),
    p(
        67,
        R::Integer,
        [A::Ctx, A::UninitMem, A::ConstSizeOrZero, A::Anything, N],
        true,
    ),
    p(80, R::Integer, [N; 5], false),
    p(
        81,
        R::MapValue,
        [A::ConstMapPtr, A::Anything, N, N, N],
        false,
    ),
    pkt(p(
        87,
        R::Integer,
        [A::ConstMapPtr, A::MapValue, A::Anything, N, N],
        false,
    )),
    p(
        88,
        R::Integer,
        [A::ConstMapPtr, A::MapValueUninit, N, N, N],
        false,
    ),
    p(
        89,
        R::Integer,
        [A::ConstMapPtr, A::MapValueUninit, N, N, N],
        false,
    ),
    p(93, R::Void, [A::SpinLock, N, N, N, N], false),
    p(94, R::Void, [A::SpinLock, N, N, N, N], false),
    p(
        112,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        true,
    ),
    p(
        113,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        true,
    ),
    p(
        114,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        true,
    ),
    p(
        115,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        true,
    ),
    p(
        105,
        R::Integer,
        [MEM_RO, A::ConstSize, A::Anything, A::FixedUninitMem(8), N],
        false,
    ),
    p(
        106,
        R::Integer,
        [MEM_RO, A::ConstSize, A::Anything, A::FixedUninitMem(8), N],
        false,
    ),
    p(118, R::Integer, [N; 5], false),
    p(
        126,
        R::Integer,
        [
            A::BtfId,
            MEM_RO,
            A::ConstSize,
            MEM_RO_NULL,
            A::ConstSizeOrZero,
        ],
        true,
    ),
    p(
        127,
        R::Integer,
        [A::BtfId, MEM_RO, A::ConstSizeOrZero, N, N],
        true,
    ),
    p(
        141,
        R::Integer,
        [A::BtfId, A::UninitMem, A::ConstSizeOrZero, A::Anything, N],
        false,
    ),
    p(125, R::Integer, [N; 5], false),
    p(
        130,
        R::Integer,
        [A::ConstMapPtr, MEM_RO, A::ConstSizeOrZero, A::Anything, N],
        false,
    ),
    p(
        131,
        R::RingbufMemOrNull,
        [A::ConstMapPtr, A::ConstAllocSizeOrZero, A::Anything, N, N],
        false,
    ),
    p(
        132,
        R::Void,
        [A::RingbufMemRelease, A::Anything, N, N, N],
        false,
    ),
    p(
        133,
        R::Void,
        [A::RingbufMemRelease, A::Anything, N, N, N],
        false,
    ),
    p(
        134,
        R::Integer,
        [A::ConstMapPtr, A::Anything, N, N, N],
        false,
    ),
    sleeps(p(
        148,
        R::Integer,
        [A::UninitMem, A::ConstSizeOrZero, A::Anything, N, N],
        false,
    )),
    p(158, R::BtfPtr, [N; 5], true),
    p(160, R::Integer, [N; 5], false),
    p(
        136,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        137,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        138,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        139,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        140,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        178,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        196,
        R::BtfPtrOrNull,
        [A::BtfSockCommon { release: false }, N, N, N, N],
        false,
    ),
    p(
        FOR_EACH_MAP_ELEM,
        R::Integer,
        [A::ConstMapPtr, A::Func, A::StackOrNull, A::Anything, N],
        false,
    ),
    p(
        165,
        R::Integer,
        [
            MEM_RO_NULL,
            A::ConstSizeOrZero,
            A::ConstStr,
            MEM_RO_NULL,
            A::ConstSizeOrZero,
        ],
        true,
    ),
    p(
        169,
        R::Integer,
        [A::Timer, A::ConstMapPtr, A::Anything, N, N],
        true,
    ),
    p(170, R::Integer, [A::Timer, A::Func, N, N, N], true),
    p(
        171,
        R::Integer,
        [A::Timer, A::Anything, A::Anything, N, N],
        true,
    ),
    p(172, R::Integer, [A::Timer, N, N, N, N], true),
    p(173, R::Integer, [A::Ctx, N, N, N, N], false),
    p(174, R::Integer, [A::Ctx, N, N, N, N], false),
    p(
        FIND_VMA,
        R::Integer,
        [A::BtfId, A::Anything, A::Func, A::StackOrNull, A::Anything],
        false,
    ),
    p(
        USER_RINGBUF_DRAIN,
        R::Integer,
        [A::ConstMapPtr, A::Func, A::StackOrNull, A::Anything, N],
        false,
    ),
    p(
        LOOP,
        R::Integer,
        [A::Scalar, A::Func, A::StackOrNull, A::Anything, N],
        false,
    ),
    p(
        182,
        R::Integer,
        [MEM_RO, A::ConstSize, A::ConstStr, N, N],
        false,
    ),
    p(
        183,
        R::Integer,
        [A::Ctx, A::Anything, A::FixedUninitMem(8), N, N],
        false,
    ),
    p(
        184,
        R::Integer,
        [A::Ctx, A::FixedUninitMem(8), N, N, N],
        false,
    ),
    p(185, R::Integer, [A::Ctx, N, N, N, N], false),
    sleeps(p(
        191,
        R::Integer,
        [
            A::UninitMem,
            A::ConstSizeOrZero,
            A::Anything,
            A::BtfId,
            A::Anything,
        ],
        true,
    )),
    pkt(p(
        195,
        R::MapValueOrNull,
        [A::ConstMapPtr, A::MapKey, A::Anything, N, N],
        false,
    )),
    p(208, R::Integer, [N; 5], false),
    // The dynptr helpers (`kernel/bpf/helpers.c`, `kernel/bpf/ringbuf.c`).
    p(
        197,
        R::Integer,
        [
            A::UninitMem,
            A::ConstSizeOrZero,
            A::Anything,
            dynptr_new(DynptrKind::Local),
            N,
        ],
        false,
    ),
    p(
        198,
        R::Integer,
        [
            A::ConstMapPtr,
            A::Anything,
            A::Anything,
            dynptr_new(DynptrKind::Ringbuf),
            N,
        ],
        false,
    ),
    p(
        199,
        R::Void,
        [DYNPTR_RINGBUF_RELEASE, A::Anything, N, N, N],
        false,
    ),
    p(
        200,
        R::Void,
        [DYNPTR_RINGBUF_RELEASE, A::Anything, N, N, N],
        false,
    ),
    p(
        201,
        R::Integer,
        [
            A::UninitMem,
            A::ConstSizeOrZero,
            DYNPTR_RO,
            A::Anything,
            A::Anything,
        ],
        false,
    ),
    p(
        202,
        R::Integer,
        [
            DYNPTR_RO,
            A::Anything,
            MEM_RO,
            A::ConstSizeOrZero,
            A::Anything,
        ],
        false,
    ),
    p(
        203,
        R::DynptrMemOrNull,
        [DYNPTR_RO, A::Anything, A::ConstAllocSizeOrZero, N, N],
        false,
    ),
];

/// `ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_<kind> | MEM_UNINIT`: the helper constructs a dynptr.
const fn dynptr_new(kind: DynptrKind) -> A {
    A::Dynptr {
        uninit: true,
        rdonly: false,
        kind: Some(kind),
        release: false,
    }
}
/// `ARG_PTR_TO_DYNPTR | MEM_RDONLY`: any initialised dynptr, not mutated.
const DYNPTR_RO: A = A::Dynptr {
    uninit: false,
    rdonly: true,
    kind: None,
    release: false,
};
/// `ARG_PTR_TO_DYNPTR | DYNPTR_TYPE_RINGBUF | OBJ_RELEASE`.
const DYNPTR_RINGBUF_RELEASE: A = A::Dynptr {
    uninit: false,
    rdonly: false,
    kind: Some(DynptrKind::Ringbuf),
    release: true,
};

/// The prototype of helper `id`. Helpers without a precise entry get a stand-in with unchecked
/// arguments and an integer result, so their availability can still be checked; see
/// [`super::is_modelled`].
pub fn lookup(id: i32) -> HelperProto {
    PROTOS
        .iter()
        .find(|h| h.id == id)
        .copied()
        .unwrap_or(HelperProto {
            id,
            ret: R::Integer,
            args: [A::None; 5],
            gpl_only: false,
            might_sleep: false,
            pkt_access: false,
        })
}

/// Whether `id` has an entry in the prototype table.
pub(super) fn is_listed(id: i32) -> bool {
    PROTOS.iter().any(|h| h.id == id)
}

/// `bpf_base_func_proto`, unprivileged part.
pub(super) const BASE: &[i32] = &[
    1, 2, 3, 87, 88, 89, 195, 7, 8, 42, 12, 5, 125, 208, 130, 131, 132, 133, 134, 182, 105, 106,
    14, 120,
];
/// `bpf_base_func_proto`, with `CAP_BPF`.
pub(super) const BASE_CAP_BPF: &[i32] = &[
    93, 94, 118, 153, 154, 169, 170, 171, 172, 194, 164, 181, 209, 198, 199, 200, 197, 201, 202,
    203, 210, 211, 80, 123,
];
/// `bpf_base_func_proto`, with `CAP_PERFMON`.
pub(super) const BASE_PERFMON: &[i32] = &[6, 35, 158, 112, 113, 114, 115, 149, 165, 175, 177];
/// `bpf_tracing_func_proto` (tracing-like types, which are privileged anyway) plus its base.
pub(super) const TRACING: &[i32] = &[
    1, 2, 3, 87, 88, 89, 195, 5, 125, 12, 35, 158, 175, 15, 16, 6, 8, 42, 22, 7, 36, 112, 113, 114,
    115, 4, 45, 210, 211, 37, 109, 117, 55, 130, 131, 132, 133, 134, 118, 141, 148, 191, 149, 153,
    154, 156, 157, 164, 165, 173, 176, 180, 177, 208, 182, 105, 106, 14, 120, 93, 94, 169, 170,
    171, 172, 194, 181, 209, 198, 199, 200, 197, 201, 202, 203, 80, 123,
];
/// `kprobe_prog_func_proto` additions.
pub(super) const KPROBE_EXTRA: &[i32] = &[25, 27, 67, 58, 173, 174];
/// `tp_prog_func_proto` / `raw_tp_prog_func_proto` additions.
pub(super) const TP_EXTRA: &[i32] = &[25, 27, 67, 174];
/// `tracing_prog_func_proto` (+ raw_tp) and `bpf_lsm_func_proto` additions.
pub(super) const TRACING_PROG_EXTRA: &[i32] = &[
    111, 121, 136, 137, 138, 139, 140, 178, 196, 107, 108, 162, 46, 188, 126, 127, 150, 147, 183,
    184, 185, 174, 25, 27, 67, 145, 146, 161, 193, 159, 186, 187,
];
/// `syscall_prog_func_proto` additions.
pub(super) const SYSCALL_EXTRA: &[i32] = &[166, 167, 168, 179];
/// `sk_filter_func_proto` + `bpf_sk_base_func_proto` additions.
pub(super) const SOCKET_FILTER_EXTRA: &[i32] =
    &[26, 68, 46, 47, 25, 136, 137, 138, 139, 140, 178, 196, 160];
/// `tc_cls_act_func_proto` additions.
pub(super) const TC_EXTRA: &[i32] = &[
    9, 26, 68, 39, 28, 40, 135, 10, 11, 13, 17, 18, 19, 31, 32, 50, 38, 43, 20, 21, 29, 30, 23,
    152, 155, 24, 34, 41, 48, 25, 8, 33, 46, 47, 69, 163, 95, 107, 108, 66, 151, 79, 83, 84, 85,
    86, 96, 98, 99, 100, 97, 110, 124, 192, 204, 205, 206, 207, 136, 137, 138, 139, 140, 178, 196,
    160,
];
/// `xdp_func_proto` additions.
pub(super) const XDP_EXTRA: &[i32] = &[
    25, 8, 28, 44, 54, 23, 51, 65, 188, 189, 190, 69, 163, 85, 84, 86, 99, 100, 110, 204, 205, 206,
    207, 136, 137, 138, 139, 140, 178, 196, 160,
];
/// `cg_skb_func_proto` additions.
pub(super) const CGROUP_SKB_EXTRA: &[i32] = &[
    95, 107, 108, 25, 79, 83, 128, 129, 84, 85, 86, 99, 96, 98, 97, 26, 68, 46, 47, 136, 137, 138,
    139, 140, 178, 196, 160,
];
/// `cgroup_common_func_proto` + `cgroup_current_func_proto` (every cgroup program type).
pub(super) const CGROUP_COMMON: &[i32] = &[81, 186, 187, 15, 14, 16, 80, 123, 17, 37, 25];
/// `sock_filter_func_proto` (cgroup_sock).
pub(super) const CGROUP_SOCK_EXTRA: &[i32] = &[46, 122, 25, 107, 160];
/// `sock_addr_func_proto`.
pub(super) const SOCK_ADDR_EXTRA: &[i32] = &[
    64, 46, 122, 25, 84, 85, 86, 99, 107, 108, 49, 57, 136, 137, 138, 139, 140, 178, 196, 160,
];
/// `sock_ops_func_proto`.
pub(super) const SOCK_OPS_EXTRA: &[i32] = &[
    49, 57, 59, 53, 70, 46, 25, 107, 108, 122, 142, 143, 144, 96, 136, 137, 138, 139, 140, 178,
    196, 160,
];
/// `sk_skb_func_proto`.
pub(super) const SK_SKB_EXTRA: &[i32] = &[
    9, 26, 39, 38, 43, 50, 46, 47, 52, 72, 25, 84, 85, 86, 99, 136, 137, 138, 139, 140, 178, 196,
    160,
];
/// `sk_msg_func_proto`.
pub(super) const SK_MSG_EXTRA: &[i32] = &[
    60, 71, 61, 62, 63, 90, 91, 25, 15, 107, 108, 122, 17, 136, 137, 138, 139, 140, 178, 196, 160,
];
/// `lwt_out_func_proto`.
pub(super) const LWT_OUT_EXTRA: &[i32] = &[
    26, 39, 28, 17, 24, 34, 25, 8, 33, 136, 137, 138, 139, 140, 178, 196, 160,
];
/// `lwt_in_func_proto` additions.
pub(super) const LWT_IN_EXTRA: &[i32] = &[73];
/// `lwt_xmit_func_proto` additions.
pub(super) const LWT_XMIT_EXTRA: &[i32] =
    &[20, 21, 29, 30, 23, 13, 38, 43, 9, 40, 135, 10, 11, 41, 73];
/// `flow_dissector_func_proto`.
pub(super) const FLOW_DISSECTOR_EXTRA: &[i32] = &[26, 136, 137, 138, 139, 140, 178, 196, 160];
/// `sk_reuseport_func_proto`.
pub(super) const SK_REUSEPORT_EXTRA: &[i32] = &[82, 26, 68, 46, 160];
/// `sk_lookup_func_proto`.
pub(super) const SK_LOOKUP_EXTRA: &[i32] = &[25, 124, 86, 136, 137, 138, 139, 140, 178, 196, 160];
/// `sysctl_func_proto`.
pub(super) const SYSCTL_EXTRA: &[i32] = &[101, 102, 103, 104, 105, 106];
/// `cg_sockopt_func_proto`.
pub(super) const SOCKOPT_EXTRA: &[i32] = &[122, 107, 108, 49, 57, 96];
