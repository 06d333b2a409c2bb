//! The kernel's BPF UAPI numbering, as data: program types, attach types, map types, map and
//! program flags, with the names libbpf and bpftool give them.
//!
//! Source: `include/uapi/linux/bpf.h` (Linux 6.18) for the numbers and `tools/lib/bpf/libbpf.c`
//! (`prog_type_name`, `attach_type_name`, `map_type_name`) for the spellings. Every crate that
//! speaks of a program, attach or map type uses these enums, so a name means the same thing to
//! the object loader, the verifier, the runtime and the command line.
//!
//! Architecture invariant: pure data, no behaviour beyond name/number conversion.
#![forbid(unsafe_code)]

/// Defines a `#[repr(u32)]` enum with its kernel number and libbpf name for each variant,
/// plus `from_u32`, `name`, `from_name` and `ALL`.
macro_rules! uapi_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $num:literal, $s:literal;)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum $name { $($(#[$vm])* $var = $num,)* }

        impl $name {
            /// Every value, in numeric order.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];
            /// The kernel's number.
            pub const fn to_u32(self) -> u32 { self as u32 }
            /// The value for a kernel number, if this kernel version knows it.
            pub const fn from_u32(n: u32) -> Option<Self> {
                match n { $($num => Some($name::$var),)* _ => None }
            }
            /// The name libbpf and bpftool use.
            pub const fn name(self) -> &'static str {
                match self { $($name::$var => $s,)* }
            }
            /// Parses a libbpf name, or a decimal number.
            pub fn from_name(s: &str) -> Option<Self> {
                match s { $($s => Some($name::$var),)* _ => s.parse().ok().and_then(Self::from_u32) }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

uapi_enum! {
    /// `enum bpf_prog_type`.
    ProgType {
        /// `BPF_PROG_TYPE_UNSPEC`
        Unspec = 0, "unspec";
        /// `BPF_PROG_TYPE_SOCKET_FILTER`
        SocketFilter = 1, "socket_filter";
        /// `BPF_PROG_TYPE_KPROBE` (also uprobes)
        Kprobe = 2, "kprobe";
        /// `BPF_PROG_TYPE_SCHED_CLS` (tc)
        SchedCls = 3, "sched_cls";
        /// `BPF_PROG_TYPE_SCHED_ACT`
        SchedAct = 4, "sched_act";
        /// `BPF_PROG_TYPE_TRACEPOINT`
        Tracepoint = 5, "tracepoint";
        /// `BPF_PROG_TYPE_XDP`
        Xdp = 6, "xdp";
        /// `BPF_PROG_TYPE_PERF_EVENT`
        PerfEvent = 7, "perf_event";
        /// `BPF_PROG_TYPE_CGROUP_SKB`
        CgroupSkb = 8, "cgroup_skb";
        /// `BPF_PROG_TYPE_CGROUP_SOCK`
        CgroupSock = 9, "cgroup_sock";
        /// `BPF_PROG_TYPE_LWT_IN`
        LwtIn = 10, "lwt_in";
        /// `BPF_PROG_TYPE_LWT_OUT`
        LwtOut = 11, "lwt_out";
        /// `BPF_PROG_TYPE_LWT_XMIT`
        LwtXmit = 12, "lwt_xmit";
        /// `BPF_PROG_TYPE_SOCK_OPS`
        SockOps = 13, "sock_ops";
        /// `BPF_PROG_TYPE_SK_SKB`
        SkSkb = 14, "sk_skb";
        /// `BPF_PROG_TYPE_CGROUP_DEVICE`
        CgroupDevice = 15, "cgroup_device";
        /// `BPF_PROG_TYPE_SK_MSG`
        SkMsg = 16, "sk_msg";
        /// `BPF_PROG_TYPE_RAW_TRACEPOINT`
        RawTracepoint = 17, "raw_tracepoint";
        /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR`
        CgroupSockAddr = 18, "cgroup_sock_addr";
        /// `BPF_PROG_TYPE_LWT_SEG6LOCAL`
        LwtSeg6local = 19, "lwt_seg6local";
        /// `BPF_PROG_TYPE_LIRC_MODE2`
        LircMode2 = 20, "lirc_mode2";
        /// `BPF_PROG_TYPE_SK_REUSEPORT`
        SkReuseport = 21, "sk_reuseport";
        /// `BPF_PROG_TYPE_FLOW_DISSECTOR`
        FlowDissector = 22, "flow_dissector";
        /// `BPF_PROG_TYPE_CGROUP_SYSCTL`
        CgroupSysctl = 23, "cgroup_sysctl";
        /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE`
        RawTracepointWritable = 24, "raw_tracepoint_writable";
        /// `BPF_PROG_TYPE_CGROUP_SOCKOPT`
        CgroupSockopt = 25, "cgroup_sockopt";
        /// `BPF_PROG_TYPE_TRACING` (fentry, fexit, fmod_ret, iter, tp_btf)
        Tracing = 26, "tracing";
        /// `BPF_PROG_TYPE_STRUCT_OPS`
        StructOps = 27, "struct_ops";
        /// `BPF_PROG_TYPE_EXT` (freplace)
        Ext = 28, "ext";
        /// `BPF_PROG_TYPE_LSM`
        Lsm = 29, "lsm";
        /// `BPF_PROG_TYPE_SK_LOOKUP`
        SkLookup = 30, "sk_lookup";
        /// `BPF_PROG_TYPE_SYSCALL`
        Syscall = 31, "syscall";
        /// `BPF_PROG_TYPE_NETFILTER`
        Netfilter = 32, "netfilter";
    }
}

uapi_enum! {
    /// `enum bpf_attach_type` (the expected attach type of a program).
    AttachType {
        /// `BPF_CGROUP_INET_INGRESS` (also the "none" value: 0)
        CgroupInetIngress = 0, "cgroup_inet_ingress";
        /// `BPF_CGROUP_INET_EGRESS`
        CgroupInetEgress = 1, "cgroup_inet_egress";
        /// `BPF_CGROUP_INET_SOCK_CREATE`
        CgroupInetSockCreate = 2, "cgroup_inet_sock_create";
        /// `BPF_CGROUP_SOCK_OPS`
        CgroupSockOps = 3, "cgroup_sock_ops";
        /// `BPF_SK_SKB_STREAM_PARSER`
        SkSkbStreamParser = 4, "sk_skb_stream_parser";
        /// `BPF_SK_SKB_STREAM_VERDICT`
        SkSkbStreamVerdict = 5, "sk_skb_stream_verdict";
        /// `BPF_CGROUP_DEVICE`
        CgroupDevice = 6, "cgroup_device";
        /// `BPF_SK_MSG_VERDICT`
        SkMsgVerdict = 7, "sk_msg_verdict";
        /// `BPF_CGROUP_INET4_BIND`
        CgroupInet4Bind = 8, "cgroup_inet4_bind";
        /// `BPF_CGROUP_INET6_BIND`
        CgroupInet6Bind = 9, "cgroup_inet6_bind";
        /// `BPF_CGROUP_INET4_CONNECT`
        CgroupInet4Connect = 10, "cgroup_inet4_connect";
        /// `BPF_CGROUP_INET6_CONNECT`
        CgroupInet6Connect = 11, "cgroup_inet6_connect";
        /// `BPF_CGROUP_INET4_POST_BIND`
        CgroupInet4PostBind = 12, "cgroup_inet4_post_bind";
        /// `BPF_CGROUP_INET6_POST_BIND`
        CgroupInet6PostBind = 13, "cgroup_inet6_post_bind";
        /// `BPF_CGROUP_UDP4_SENDMSG`
        CgroupUdp4Sendmsg = 14, "cgroup_udp4_sendmsg";
        /// `BPF_CGROUP_UDP6_SENDMSG`
        CgroupUdp6Sendmsg = 15, "cgroup_udp6_sendmsg";
        /// `BPF_LIRC_MODE2`
        LircMode2 = 16, "lirc_mode2";
        /// `BPF_FLOW_DISSECTOR`
        FlowDissector = 17, "flow_dissector";
        /// `BPF_CGROUP_SYSCTL`
        CgroupSysctl = 18, "cgroup_sysctl";
        /// `BPF_CGROUP_UDP4_RECVMSG`
        CgroupUdp4Recvmsg = 19, "cgroup_udp4_recvmsg";
        /// `BPF_CGROUP_UDP6_RECVMSG`
        CgroupUdp6Recvmsg = 20, "cgroup_udp6_recvmsg";
        /// `BPF_CGROUP_GETSOCKOPT`
        CgroupGetsockopt = 21, "cgroup_getsockopt";
        /// `BPF_CGROUP_SETSOCKOPT`
        CgroupSetsockopt = 22, "cgroup_setsockopt";
        /// `BPF_TRACE_RAW_TP`
        TraceRawTp = 23, "trace_raw_tp";
        /// `BPF_TRACE_FENTRY`
        TraceFentry = 24, "trace_fentry";
        /// `BPF_TRACE_FEXIT`
        TraceFexit = 25, "trace_fexit";
        /// `BPF_MODIFY_RETURN`
        ModifyReturn = 26, "modify_return";
        /// `BPF_LSM_MAC`
        LsmMac = 27, "lsm_mac";
        /// `BPF_TRACE_ITER`
        TraceIter = 28, "trace_iter";
        /// `BPF_CGROUP_INET4_GETPEERNAME`
        CgroupInet4Getpeername = 29, "cgroup_inet4_getpeername";
        /// `BPF_CGROUP_INET6_GETPEERNAME`
        CgroupInet6Getpeername = 30, "cgroup_inet6_getpeername";
        /// `BPF_CGROUP_INET4_GETSOCKNAME`
        CgroupInet4Getsockname = 31, "cgroup_inet4_getsockname";
        /// `BPF_CGROUP_INET6_GETSOCKNAME`
        CgroupInet6Getsockname = 32, "cgroup_inet6_getsockname";
        /// `BPF_XDP_DEVMAP`
        XdpDevmap = 33, "xdp_devmap";
        /// `BPF_CGROUP_INET_SOCK_RELEASE`
        CgroupInetSockRelease = 34, "cgroup_inet_sock_release";
        /// `BPF_XDP_CPUMAP`
        XdpCpumap = 35, "xdp_cpumap";
        /// `BPF_SK_LOOKUP`
        SkLookup = 36, "sk_lookup";
        /// `BPF_XDP`
        Xdp = 37, "xdp";
        /// `BPF_SK_SKB_VERDICT`
        SkSkbVerdict = 38, "sk_skb_verdict";
        /// `BPF_SK_REUSEPORT_SELECT`
        SkReuseportSelect = 39, "sk_reuseport_select";
        /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE`
        SkReuseportSelectOrMigrate = 40, "sk_reuseport_select_or_migrate";
        /// `BPF_PERF_EVENT`
        PerfEvent = 41, "perf_event";
        /// `BPF_TRACE_KPROBE_MULTI`
        TraceKprobeMulti = 42, "trace_kprobe_multi";
        /// `BPF_LSM_CGROUP`
        LsmCgroup = 43, "lsm_cgroup";
        /// `BPF_STRUCT_OPS`
        StructOps = 44, "struct_ops";
        /// `BPF_NETFILTER`
        Netfilter = 45, "netfilter";
        /// `BPF_TCX_INGRESS`
        TcxIngress = 46, "tcx_ingress";
        /// `BPF_TCX_EGRESS`
        TcxEgress = 47, "tcx_egress";
        /// `BPF_TRACE_UPROBE_MULTI`
        TraceUprobeMulti = 48, "trace_uprobe_multi";
        /// `BPF_CGROUP_UNIX_CONNECT`
        CgroupUnixConnect = 49, "cgroup_unix_connect";
        /// `BPF_CGROUP_UNIX_SENDMSG`
        CgroupUnixSendmsg = 50, "cgroup_unix_sendmsg";
        /// `BPF_CGROUP_UNIX_RECVMSG`
        CgroupUnixRecvmsg = 51, "cgroup_unix_recvmsg";
        /// `BPF_CGROUP_UNIX_GETPEERNAME`
        CgroupUnixGetpeername = 52, "cgroup_unix_getpeername";
        /// `BPF_CGROUP_UNIX_GETSOCKNAME`
        CgroupUnixGetsockname = 53, "cgroup_unix_getsockname";
        /// `BPF_NETKIT_PRIMARY`
        NetkitPrimary = 54, "netkit_primary";
        /// `BPF_NETKIT_PEER`
        NetkitPeer = 55, "netkit_peer";
        /// `BPF_TRACE_KPROBE_SESSION`
        TraceKprobeSession = 56, "trace_kprobe_session";
        /// `BPF_TRACE_UPROBE_SESSION`
        TraceUprobeSession = 57, "trace_uprobe_session";
    }
}

uapi_enum! {
    /// `enum bpf_map_type`.
    MapType {
        /// `BPF_MAP_TYPE_UNSPEC`
        Unspec = 0, "unspec";
        /// `BPF_MAP_TYPE_HASH`
        Hash = 1, "hash";
        /// `BPF_MAP_TYPE_ARRAY`
        Array = 2, "array";
        /// `BPF_MAP_TYPE_PROG_ARRAY`
        ProgArray = 3, "prog_array";
        /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`
        PerfEventArray = 4, "perf_event_array";
        /// `BPF_MAP_TYPE_PERCPU_HASH`
        PercpuHash = 5, "percpu_hash";
        /// `BPF_MAP_TYPE_PERCPU_ARRAY`
        PercpuArray = 6, "percpu_array";
        /// `BPF_MAP_TYPE_STACK_TRACE`
        StackTrace = 7, "stack_trace";
        /// `BPF_MAP_TYPE_CGROUP_ARRAY`
        CgroupArray = 8, "cgroup_array";
        /// `BPF_MAP_TYPE_LRU_HASH`
        LruHash = 9, "lru_hash";
        /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`
        LruPercpuHash = 10, "lru_percpu_hash";
        /// `BPF_MAP_TYPE_LPM_TRIE`
        LpmTrie = 11, "lpm_trie";
        /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`
        ArrayOfMaps = 12, "array_of_maps";
        /// `BPF_MAP_TYPE_HASH_OF_MAPS`
        HashOfMaps = 13, "hash_of_maps";
        /// `BPF_MAP_TYPE_DEVMAP`
        Devmap = 14, "devmap";
        /// `BPF_MAP_TYPE_SOCKMAP`
        Sockmap = 15, "sockmap";
        /// `BPF_MAP_TYPE_CPUMAP`
        Cpumap = 16, "cpumap";
        /// `BPF_MAP_TYPE_XSKMAP`
        Xskmap = 17, "xskmap";
        /// `BPF_MAP_TYPE_SOCKHASH`
        Sockhash = 18, "sockhash";
        /// `BPF_MAP_TYPE_CGROUP_STORAGE` (deprecated)
        CgroupStorage = 19, "cgroup_storage";
        /// `BPF_MAP_TYPE_REUSEPORT_SOCKARRAY`
        ReuseportSockarray = 20, "reuseport_sockarray";
        /// `BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE`
        PercpuCgroupStorage = 21, "percpu_cgroup_storage";
        /// `BPF_MAP_TYPE_QUEUE`
        Queue = 22, "queue";
        /// `BPF_MAP_TYPE_STACK`
        Stack = 23, "stack";
        /// `BPF_MAP_TYPE_SK_STORAGE`
        SkStorage = 24, "sk_storage";
        /// `BPF_MAP_TYPE_DEVMAP_HASH`
        DevmapHash = 25, "devmap_hash";
        /// `BPF_MAP_TYPE_STRUCT_OPS`
        StructOps = 26, "struct_ops";
        /// `BPF_MAP_TYPE_RINGBUF`
        Ringbuf = 27, "ringbuf";
        /// `BPF_MAP_TYPE_INODE_STORAGE`
        InodeStorage = 28, "inode_storage";
        /// `BPF_MAP_TYPE_TASK_STORAGE`
        TaskStorage = 29, "task_storage";
        /// `BPF_MAP_TYPE_BLOOM_FILTER`
        BloomFilter = 30, "bloom_filter";
        /// `BPF_MAP_TYPE_USER_RINGBUF`
        UserRingbuf = 31, "user_ringbuf";
        /// `BPF_MAP_TYPE_CGRP_STORAGE`
        CgrpStorage = 32, "cgrp_storage";
        /// `BPF_MAP_TYPE_ARENA`
        Arena = 33, "arena";
    }
}

/// `BPF_F_*` flags of `map_flags` (`BPF_MAP_CREATE`).
pub mod map_flags {
    /// Do not preallocate hash elements.
    pub const NO_PREALLOC: u32 = 1 << 0;
    /// LRU: one LRU list per CPU.
    pub const NO_COMMON_LRU: u32 = 1 << 1;
    /// Memory on a given NUMA node.
    pub const NUMA_NODE: u32 = 1 << 2;
    /// Read-only from syscalls.
    pub const RDONLY: u32 = 1 << 3;
    /// Write-only from syscalls.
    pub const WRONLY: u32 = 1 << 4;
    /// Stack trace map: store build ids.
    pub const STACK_BUILD_ID: u32 = 1 << 5;
    /// Zero the seed of the hash function (tests).
    pub const ZERO_SEED: u32 = 1 << 6;
    /// Read-only from programs.
    pub const RDONLY_PROG: u32 = 1 << 7;
    /// Write-only from programs.
    pub const WRONLY_PROG: u32 = 1 << 8;
    /// Clone local storage on fork.
    pub const CLONE: u32 = 1 << 9;
    /// Memory-mappable array.
    pub const MMAPABLE: u32 = 1 << 10;
    /// Share the perf event array across programs.
    pub const PRESERVE_ELEMS: u32 = 1 << 11;
    /// Inner map: allow different max_entries.
    pub const INNER_MAP: u32 = 1 << 12;
    /// Map on a BPF token.
    pub const TOKEN_FD: u32 = 1 << 16;
    /// Arena: user-space address fixed.
    pub const SEGV_ON_FAULT: u32 = 1 << 17;
    /// Arena: no user-space mapping.
    pub const NO_USER_CONV: u32 = 1 << 18;
}

/// `BPF_F_*` flags of `prog_flags` (`BPF_PROG_LOAD`).
pub mod prog_flags {
    /// `BPF_F_STRICT_ALIGNMENT`
    pub const STRICT_ALIGNMENT: u32 = 1 << 0;
    /// `BPF_F_ANY_ALIGNMENT`
    pub const ANY_ALIGNMENT: u32 = 1 << 1;
    /// `BPF_F_TEST_RND_HI32`
    pub const TEST_RND_HI32: u32 = 1 << 2;
    /// `BPF_F_TEST_STATE_FREQ`
    pub const TEST_STATE_FREQ: u32 = 1 << 3;
    /// `BPF_F_SLEEPABLE`: the program may sleep.
    pub const SLEEPABLE: u32 = 1 << 4;
    /// `BPF_F_XDP_HAS_FRAGS`
    pub const XDP_HAS_FRAGS: u32 = 1 << 5;
    /// `BPF_F_XDP_DEV_BOUND_ONLY`
    pub const XDP_DEV_BOUND_ONLY: u32 = 1 << 6;
    /// `BPF_F_TEST_REG_INVARIANTS`
    pub const TEST_REG_INVARIANTS: u32 = 1 << 7;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names_round_trip() {
        for t in ProgType::ALL {
            assert_eq!(ProgType::from_u32(t.to_u32()), Some(*t));
            assert_eq!(ProgType::from_name(t.name()), Some(*t));
        }
        for t in AttachType::ALL {
            assert_eq!(AttachType::from_name(t.name()), Some(*t));
        }
        for t in MapType::ALL {
            assert_eq!(MapType::from_name(t.name()), Some(*t));
        }
    }

    #[test]
    fn numbers_are_dense_like_the_uapi_enums() {
        for (i, t) in ProgType::ALL.iter().enumerate() {
            assert_eq!(t.to_u32() as usize, i);
        }
        for (i, t) in AttachType::ALL.iter().enumerate() {
            assert_eq!(t.to_u32() as usize, i);
        }
        for (i, t) in MapType::ALL.iter().enumerate() {
            assert_eq!(t.to_u32() as usize, i);
        }
    }

    #[test]
    fn numeric_spellings_are_accepted() {
        assert_eq!(ProgType::from_name("31"), Some(ProgType::Syscall));
        assert_eq!(MapType::from_name("27"), Some(MapType::Ringbuf));
        assert_eq!(ProgType::from_name("bogus"), None);
    }
}
