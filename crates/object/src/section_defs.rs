//! Program types from ELF section names: libbpf's `section_defs` table and its matching rules.
//!
//! The table mirrors `tools/lib/bpf/libbpf.c` (Linux 6.18's libbpf) entry for entry and in the
//! same order, since the first match wins. Three pattern forms exist:
//! - `"name+"`: the section is exactly `name`, or `name/<target>` (the target is what follows
//!   the `/`, e.g. the function of `kprobe/do_unlinkat`);
//! - `"name/"`: any section starting with `name/`;
//! - `"name"`: exactly `name`.
//!
//! A leading `?` (libbpf's "do not autoload" marker) is not part of the name matched.

use lull_abi::{AttachType, ProgType, prog_flags};

/// Flags of a table entry (libbpf's `enum sec_def_flags`).
pub mod flags {
    /// The expected attach type may be dropped on kernels that do not know it.
    pub const EXP_ATTACH_OPT: u32 = 1;
    /// Attachable with `BPF_PROG_ATTACH` (informational).
    pub const ATTACHABLE: u32 = 2;
    /// [`ATTACHABLE`] and [`EXP_ATTACH_OPT`].
    pub const ATTACHABLE_OPT: u32 = ATTACHABLE | EXP_ATTACH_OPT;
    /// The attach target is a BTF id, named after the `/`.
    pub const ATTACH_BTF: u32 = 4;
    /// The program is sleepable (`BPF_F_SLEEPABLE`).
    pub const SLEEPABLE: u32 = 8;
    /// XDP program that handles multi-buffer packets (`BPF_F_XDP_HAS_FRAGS`).
    pub const XDP_FRAGS: u32 = 16;
    /// USDT probe (libbpf may switch it to `uprobe_multi` at load time).
    pub const USDT: u32 = 32;
}

/// One entry of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionDef {
    /// The pattern, in libbpf's spelling (`"fentry.s+"`, `"cgroup/connect4"`, …).
    pub pattern: &'static str,
    /// Program type.
    pub prog_type: ProgType,
    /// Expected attach type; `None` where libbpf leaves it 0 because the program type has no
    /// attach type (0 is also `BPF_CGROUP_INET_INGRESS`, which only `cgroup_skb/ingress` means).
    pub expected_attach_type: Option<AttachType>,
    /// [`flags`] bits.
    pub flags: u32,
}

impl SectionDef {
    /// Whether programs of this section are sleepable.
    pub const fn sleepable(&self) -> bool {
        self.flags & flags::SLEEPABLE != 0
    }
    /// The `prog_flags` libbpf passes to `BPF_PROG_LOAD` for this section.
    pub const fn prog_flags(&self) -> u32 {
        let mut f = 0;
        if self.flags & flags::SLEEPABLE != 0 {
            f |= prog_flags::SLEEPABLE;
        }
        if self.flags & flags::XDP_FRAGS != 0 {
            f |= prog_flags::XDP_HAS_FRAGS;
        }
        f
    }
    /// Whether `sec_name` (without a leading `?`) matches this entry (libbpf's `sec_def_matches`).
    pub fn matches(&self, sec_name: &str) -> bool {
        let p = self.pattern;
        if let Some(prefix) = p.strip_suffix('+') {
            match sec_name.strip_prefix(prefix) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            }
        } else if p.ends_with('/') {
            sec_name.starts_with(p)
        } else {
            sec_name == p
        }
    }
    /// The attach target named in the section: what follows the `/` of a `"name+"` entry.
    pub fn attach_target<'s>(&self, sec_name: &'s str) -> Option<&'s str> {
        let prefix = self.pattern.strip_suffix('+')?;
        sec_name
            .strip_prefix(prefix)?
            .strip_prefix('/')
            .filter(|t| !t.is_empty())
    }
}

/// What a section name tells about its programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionInfo {
    /// The section name without a leading `?`.
    pub name: String,
    /// Whether the name had libbpf's `?` prefix (program not loaded by default).
    pub optional: bool,
    /// The matching table entry.
    pub def: &'static SectionDef,
    /// The attach target, if the section names one.
    pub attach_target: Option<String>,
}

/// Looks a section name up in the table (first match wins, like libbpf's `find_sec_def`).
pub fn find(sec_name: &str) -> Option<SectionInfo> {
    let (name, optional) = match sec_name.strip_prefix('?') {
        Some(rest) => (rest, true),
        None => (sec_name, false),
    };
    let def = SECTION_DEFS.iter().find(|d| d.matches(name))?;
    Some(SectionInfo {
        name: name.to_string(),
        optional,
        def,
        attach_target: def.attach_target(name).map(str::to_string),
    })
}

macro_rules! defs {
    ($($pat:literal, $pt:ident, $eat:tt, $flags:expr;)*) => {
        /// libbpf's `section_defs`, in order.
        pub static SECTION_DEFS: &[SectionDef] = &[
            $(SectionDef {
                pattern: $pat,
                prog_type: ProgType::$pt,
                expected_attach_type: defs!(@eat $eat),
                flags: $flags,
            },)*
        ];
    };
    (@eat 0) => { None };
    (@eat $e:ident) => { Some(AttachType::$e) };
}

use flags::*;
const NONE: u32 = 0;

defs! {
    "socket", SocketFilter, 0, NONE;
    "sk_reuseport/migrate", SkReuseport, SkReuseportSelectOrMigrate, ATTACHABLE;
    "sk_reuseport", SkReuseport, SkReuseportSelect, ATTACHABLE;
    "kprobe+", Kprobe, 0, NONE;
    "uprobe+", Kprobe, 0, NONE;
    "uprobe.s+", Kprobe, 0, SLEEPABLE;
    "kretprobe+", Kprobe, 0, NONE;
    "uretprobe+", Kprobe, 0, NONE;
    "uretprobe.s+", Kprobe, 0, SLEEPABLE;
    "kprobe.multi+", Kprobe, TraceKprobeMulti, NONE;
    "kretprobe.multi+", Kprobe, TraceKprobeMulti, NONE;
    "kprobe.session+", Kprobe, TraceKprobeSession, NONE;
    "uprobe.multi+", Kprobe, TraceUprobeMulti, NONE;
    "uretprobe.multi+", Kprobe, TraceUprobeMulti, NONE;
    "uprobe.session+", Kprobe, TraceUprobeSession, NONE;
    "uprobe.multi.s+", Kprobe, TraceUprobeMulti, SLEEPABLE;
    "uretprobe.multi.s+", Kprobe, TraceUprobeMulti, SLEEPABLE;
    "uprobe.session.s+", Kprobe, TraceUprobeSession, SLEEPABLE;
    "ksyscall+", Kprobe, 0, NONE;
    "kretsyscall+", Kprobe, 0, NONE;
    "usdt+", Kprobe, 0, USDT;
    "usdt.s+", Kprobe, 0, USDT | SLEEPABLE;
    "tc/ingress", SchedCls, TcxIngress, NONE;
    "tc/egress", SchedCls, TcxEgress, NONE;
    "tcx/ingress", SchedCls, TcxIngress, NONE;
    "tcx/egress", SchedCls, TcxEgress, NONE;
    "tc", SchedCls, 0, NONE;
    "classifier", SchedCls, 0, NONE;
    "action", SchedAct, 0, NONE;
    "netkit/primary", SchedCls, NetkitPrimary, NONE;
    "netkit/peer", SchedCls, NetkitPeer, NONE;
    "tracepoint+", Tracepoint, 0, NONE;
    "tp+", Tracepoint, 0, NONE;
    "raw_tracepoint+", RawTracepoint, 0, NONE;
    "raw_tp+", RawTracepoint, 0, NONE;
    "raw_tracepoint.w+", RawTracepointWritable, 0, NONE;
    "raw_tp.w+", RawTracepointWritable, 0, NONE;
    "tp_btf+", Tracing, TraceRawTp, ATTACH_BTF;
    "fentry+", Tracing, TraceFentry, ATTACH_BTF;
    "fmod_ret+", Tracing, ModifyReturn, ATTACH_BTF;
    "fexit+", Tracing, TraceFexit, ATTACH_BTF;
    "fentry.s+", Tracing, TraceFentry, ATTACH_BTF | SLEEPABLE;
    "fmod_ret.s+", Tracing, ModifyReturn, ATTACH_BTF | SLEEPABLE;
    "fexit.s+", Tracing, TraceFexit, ATTACH_BTF | SLEEPABLE;
    "freplace+", Ext, 0, ATTACH_BTF;
    "lsm+", Lsm, LsmMac, ATTACH_BTF;
    "lsm.s+", Lsm, LsmMac, ATTACH_BTF | SLEEPABLE;
    "lsm_cgroup+", Lsm, LsmCgroup, ATTACH_BTF;
    "iter+", Tracing, TraceIter, ATTACH_BTF;
    "iter.s+", Tracing, TraceIter, ATTACH_BTF | SLEEPABLE;
    "syscall", Syscall, 0, SLEEPABLE;
    "xdp.frags/devmap", Xdp, XdpDevmap, XDP_FRAGS;
    "xdp/devmap", Xdp, XdpDevmap, ATTACHABLE;
    "xdp.frags/cpumap", Xdp, XdpCpumap, XDP_FRAGS;
    "xdp/cpumap", Xdp, XdpCpumap, ATTACHABLE;
    "xdp.frags", Xdp, Xdp, XDP_FRAGS;
    "xdp", Xdp, Xdp, ATTACHABLE_OPT;
    "perf_event", PerfEvent, 0, NONE;
    "lwt_in", LwtIn, 0, NONE;
    "lwt_out", LwtOut, 0, NONE;
    "lwt_xmit", LwtXmit, 0, NONE;
    "lwt_seg6local", LwtSeg6local, 0, NONE;
    "sockops", SockOps, CgroupSockOps, ATTACHABLE_OPT;
    "sk_skb/stream_parser", SkSkb, SkSkbStreamParser, ATTACHABLE_OPT;
    "sk_skb/stream_verdict", SkSkb, SkSkbStreamVerdict, ATTACHABLE_OPT;
    "sk_skb/verdict", SkSkb, SkSkbVerdict, ATTACHABLE_OPT;
    "sk_skb", SkSkb, 0, NONE;
    "sk_msg", SkMsg, SkMsgVerdict, ATTACHABLE_OPT;
    "lirc_mode2", LircMode2, LircMode2, ATTACHABLE_OPT;
    "flow_dissector", FlowDissector, FlowDissector, ATTACHABLE_OPT;
    "cgroup_skb/ingress", CgroupSkb, CgroupInetIngress, ATTACHABLE_OPT;
    "cgroup_skb/egress", CgroupSkb, CgroupInetEgress, ATTACHABLE_OPT;
    "cgroup/skb", CgroupSkb, 0, NONE;
    "cgroup/sock_create", CgroupSock, CgroupInetSockCreate, ATTACHABLE;
    "cgroup/sock_release", CgroupSock, CgroupInetSockRelease, ATTACHABLE;
    "cgroup/sock", CgroupSock, CgroupInetSockCreate, ATTACHABLE_OPT;
    "cgroup/post_bind4", CgroupSock, CgroupInet4PostBind, ATTACHABLE;
    "cgroup/post_bind6", CgroupSock, CgroupInet6PostBind, ATTACHABLE;
    "cgroup/bind4", CgroupSockAddr, CgroupInet4Bind, ATTACHABLE;
    "cgroup/bind6", CgroupSockAddr, CgroupInet6Bind, ATTACHABLE;
    "cgroup/connect4", CgroupSockAddr, CgroupInet4Connect, ATTACHABLE;
    "cgroup/connect6", CgroupSockAddr, CgroupInet6Connect, ATTACHABLE;
    "cgroup/connect_unix", CgroupSockAddr, CgroupUnixConnect, ATTACHABLE;
    "cgroup/sendmsg4", CgroupSockAddr, CgroupUdp4Sendmsg, ATTACHABLE;
    "cgroup/sendmsg6", CgroupSockAddr, CgroupUdp6Sendmsg, ATTACHABLE;
    "cgroup/sendmsg_unix", CgroupSockAddr, CgroupUnixSendmsg, ATTACHABLE;
    "cgroup/recvmsg4", CgroupSockAddr, CgroupUdp4Recvmsg, ATTACHABLE;
    "cgroup/recvmsg6", CgroupSockAddr, CgroupUdp6Recvmsg, ATTACHABLE;
    "cgroup/recvmsg_unix", CgroupSockAddr, CgroupUnixRecvmsg, ATTACHABLE;
    "cgroup/getpeername4", CgroupSockAddr, CgroupInet4Getpeername, ATTACHABLE;
    "cgroup/getpeername6", CgroupSockAddr, CgroupInet6Getpeername, ATTACHABLE;
    "cgroup/getpeername_unix", CgroupSockAddr, CgroupUnixGetpeername, ATTACHABLE;
    "cgroup/getsockname4", CgroupSockAddr, CgroupInet4Getsockname, ATTACHABLE;
    "cgroup/getsockname6", CgroupSockAddr, CgroupInet6Getsockname, ATTACHABLE;
    "cgroup/getsockname_unix", CgroupSockAddr, CgroupUnixGetsockname, ATTACHABLE;
    "cgroup/sysctl", CgroupSysctl, CgroupSysctl, ATTACHABLE;
    "cgroup/getsockopt", CgroupSockopt, CgroupGetsockopt, ATTACHABLE;
    "cgroup/setsockopt", CgroupSockopt, CgroupSetsockopt, ATTACHABLE;
    "cgroup/dev", CgroupDevice, CgroupDevice, ATTACHABLE_OPT;
    "struct_ops+", StructOps, 0, NONE;
    "struct_ops.s+", StructOps, 0, SLEEPABLE;
    "sk_lookup", SkLookup, SkLookup, ATTACHABLE;
    "netfilter", Netfilter, Netfilter, NONE;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(s: &str) -> (ProgType, Option<AttachType>, bool, Option<String>) {
        let i = find(s).unwrap_or_else(|| panic!("{s} not found"));
        (
            i.def.prog_type,
            i.def.expected_attach_type,
            i.def.sleepable(),
            i.attach_target,
        )
    }

    #[test]
    fn every_sleepable_form_is_sleepable_and_its_plain_form_is_not() {
        let pairs = [
            ("lsm.s/file_open", "lsm/file_open"),
            ("fentry.s/f", "fentry/f"),
            ("fexit.s/f", "fexit/f"),
            ("fmod_ret.s/f", "fmod_ret/f"),
            ("iter.s/task", "iter/task"),
            ("uprobe.s/bin:f", "uprobe/bin:f"),
            ("uretprobe.s/bin:f", "uretprobe/bin:f"),
            ("uprobe.multi.s/bin:f*", "uprobe.multi/bin:f*"),
            ("uretprobe.multi.s/bin:f*", "uretprobe.multi/bin:f*"),
            ("uprobe.session.s/bin:f", "uprobe.session/bin:f"),
            ("usdt.s/bin:p:n", "usdt/bin:p:n"),
            ("struct_ops.s/op", "struct_ops/op"),
        ];
        for (s, plain) in pairs {
            let (t, e, sl, tgt) = lookup(s);
            let (pt, pe, psl, ptgt) = lookup(plain);
            assert!(sl, "{s}");
            assert!(!psl, "{plain}");
            assert_eq!((t, e, tgt), (pt, pe, ptgt), "{s} vs {plain}");
        }
        assert_eq!(lookup("syscall"), (ProgType::Syscall, None, true, None));
    }

    #[test]
    fn plus_patterns_need_an_exact_name_or_a_slash() {
        assert_eq!(lookup("kprobe").0, ProgType::Kprobe);
        assert_eq!(lookup("kprobe/x").3.as_deref(), Some("x"));
        assert!(find("kprobex").is_none());
        assert!(find("kprobe.foo").is_none());
        // "uprobe.multi" must not be taken by "uprobe+".
        assert_eq!(
            lookup("uprobe.multi/b:f").1,
            Some(AttachType::TraceUprobeMulti)
        );
    }

    #[test]
    fn exact_patterns_and_order() {
        assert_eq!(
            lookup("sk_reuseport/migrate").1,
            Some(AttachType::SkReuseportSelectOrMigrate)
        );
        assert!(find("socket/x").is_none());
        assert!(find("xdp/foo").is_none());
        assert_eq!(lookup("tc/ingress").1, Some(AttachType::TcxIngress));
        assert_eq!(
            lookup("cgroup/sock").1,
            Some(AttachType::CgroupInetSockCreate)
        );
        assert_eq!(
            lookup("cgroup/sock_release").1,
            Some(AttachType::CgroupInetSockRelease)
        );
        assert_eq!(
            lookup("tracepoint/syscalls/sys_enter_openat").3.as_deref(),
            Some("syscalls/sys_enter_openat")
        );
    }

    #[test]
    fn question_mark_prefix_is_optional_marker() {
        let i = find("?fentry.s/do_x").unwrap();
        assert!(i.optional);
        assert_eq!(i.name, "fentry.s/do_x");
        assert!(i.def.sleepable());
        assert_eq!(i.attach_target.as_deref(), Some("do_x"));
    }

    #[test]
    fn xdp_frags_sets_the_frags_flag() {
        assert_eq!(
            find("xdp.frags").unwrap().def.prog_flags(),
            prog_flags::XDP_HAS_FRAGS
        );
        assert_eq!(find("xdp").unwrap().def.prog_flags(), 0);
    }
}
