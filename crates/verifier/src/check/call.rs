//! Calls and exits: helper calls checked against their prototypes (`check_helper_call`,
//! `check_func_arg`), bpf-to-bpf calls with a new frame (`check_func_call`), callbacks of
//! `bpf_loop`-style helpers and timers (`push_callback_call`), and `exit` from a subprogram,
//! a callback or the program (`prepare_func_exit`, `check_return_code`, reference leaks).

use super::dynptr::{DynptrArg, DynptrInfo};
use super::mem::{Src, check_packet, check_region};
use crate::domain::Scalar;
use crate::error::VerifierError as E;
use crate::explore::{Flow, Res, Verifier};
use crate::prog_types::Access;
use crate::proto::{self, ArgKind, HelperProto, RetKind};
use crate::state::{
    Callback, DynptrKind, Frame, MAX_CALL_FRAMES, PtrTrust, RefState, Reg, RegKind, SlotType, State,
};
use lull_abi::MapType;
use lull_isa::{CallTarget, Reg as IsaReg};
use std::fmt::Write as _;

/// The kernel's `BPF_MAX_VAR_SIZ`.
const MAX_VAR_SIZ: u64 = 1 << 29;
/// `MAX_ERRNO`.
const MAX_ERRNO: i64 = 4095;

/// What argument checking learned (`struct bpf_call_arg_meta`).
#[derive(Default)]
struct Meta {
    map: Option<u32>,
    /// Register and size of an uninitialised-memory argument, written after the checks.
    raw: Option<(IsaReg, i64)>,
    raw_mode: bool,
    release_reg: Option<IsaReg>,
    ref_obj_id: u32,
    mem_size: u64,
    msize_max: u64,
    subprog: Option<u32>,
    /// The map key when it is a known constant on the stack (`const_map_key`), for maps whose
    /// lookups of in-range constant keys never return NULL.
    const_key: Option<u64>,
    /// The dynptr argument, once checked.
    dynptr: Option<DynptrInfo>,
    /// The dynptr argument the helper releases.
    release_dynptr: Option<IsaReg>,
}

/// The machine's `nr_cpu_ids` (the kernel bounds `bpf_get_smp_processor_id` by it).
fn nr_cpu_ids() -> u64 {
    static N: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .ok()
            .and_then(|s| {
                s.trim()
                    .rsplit(['-', ','])
                    .next()
                    .and_then(|x| x.parse::<u64>().ok())
            })
            .map_or(1, |last| last + 1)
    })
}

/// `may_update_sockmap` (the common cases): which programs may update or delete sockmap entries.
fn sockmap_update_ok(
    pt: lull_abi::ProgType,
    attach: Option<lull_abi::AttachType>,
    id: i32,
) -> bool {
    use lull_abi::ProgType as P;
    match pt {
        P::Tracing => attach == Some(lull_abi::AttachType::TraceIter),
        P::SockOps => id == 3,
        P::SocketFilter
        | P::SchedCls
        | P::SchedAct
        | P::Xdp
        | P::SkReuseport
        | P::FlowDissector
        | P::SkLookup => true,
        _ => false,
    }
}

/// `compatible_reg_types` of an argument kind, as the kernel names them in its message.
fn expected_types(kind: ArgKind) -> &'static str {
    match kind {
        ArgKind::ConstMapPtr => "map_ptr",
        ArgKind::Ctx => "ctx",
        ArgKind::Func => "func",
        ArgKind::StackOrNull => "fp",
        ArgKind::ConstStr | ArgKind::Timer => "map_value",
        ArgKind::SpinLock => "map_value, ptr_",
        ArgKind::RingbufMemRelease => "ringbuf_mem",
        ArgKind::Dynptr { .. } => "fp, dynptr_ptr",
        ArgKind::BtfPtrOrNull => "ptr_, trusted_ptr_, rcu_ptr_",
        ArgKind::CtxOrNull => "ctx",
        ArgKind::SockCommon { .. } => "sock_common, sock, tcp_sock, xdp_sock",
        ArgKind::BtfSockCommon { .. } => {
            "sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_"
        }
        ArgKind::ConstSize
        | ArgKind::ConstSizeOrZero
        | ArgKind::ConstAllocSizeOrZero
        | ArgKind::Scalar => "scalar",
        _ => "fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
    }
}

/// `check_reg_type`: whether a register fits an argument kind.
fn type_ok(kind: ArgKind, r: &Reg) -> bool {
    let mem_like = |r: &Reg, rdonly_ok: bool| {
        !r.maybe_null
            && match r.kind {
                RegKind::Stack { .. }
                | RegKind::Packet
                | RegKind::PacketMeta
                | RegKind::MapKey { .. }
                | RegKind::MapValue { .. } => true,
                // `mem_types` lists `PTR_TO_BTF_ID | PTR_TRUSTED` only.
                RegKind::KernelPtr { trust, .. } => trust == PtrTrust::Trusted,
                RegKind::Mem { rdonly, .. } => rdonly_ok || !rdonly,
                _ => false,
            }
    };
    match kind {
        ArgKind::None | ArgKind::Anything => true,
        ArgKind::Scalar
        | ArgKind::ConstSize
        | ArgKind::ConstSizeOrZero
        | ArgKind::ConstAllocSizeOrZero => r.is_scalar(),
        ArgKind::ConstMapPtr => matches!(r.kind, RegKind::ConstMap { .. }),
        ArgKind::MapKey | ArgKind::MapValue | ArgKind::MapValueOrNull => mem_like(r, true),
        ArgKind::CtxOrNull => r.kind == RegKind::Ctx,
        ArgKind::SockCommon { .. } => matches!(r.kind, RegKind::Sock(_)) && !r.maybe_null,
        ArgKind::BtfSockCommon { .. } => {
            matches!(r.kind, RegKind::Sock(_) | RegKind::KernelPtr { .. }) && !r.maybe_null
        }
        ArgKind::MapValueUninit
        | ArgKind::UninitMem
        | ArgKind::FixedUninitMem(_)
        | ArgKind::FixedMem(_) => mem_like(r, false),
        ArgKind::Mem { .. } => mem_like(r, true),
        ArgKind::Ctx => r.kind == RegKind::Ctx,
        ArgKind::Func => matches!(r.kind, RegKind::Func { .. }),
        ArgKind::StackOrNull => matches!(r.kind, RegKind::Stack { .. }),
        ArgKind::SpinLock | ArgKind::Timer | ArgKind::ConstStr => {
            matches!(r.kind, RegKind::MapValue { .. }) && !r.maybe_null
        }
        ArgKind::RingbufMemRelease => {
            matches!(r.kind, RegKind::Mem { ringbuf: true, .. }) && !r.maybe_null
        }
        ArgKind::BtfId => r.is_pointer(),
        ArgKind::Dynptr { .. } => {
            matches!(r.kind, RegKind::Stack { .. } | RegKind::ConstDynptr(_)) && !r.maybe_null
        }
        ArgKind::BtfPtrOrNull => {
            matches!(r.kind, RegKind::KernelPtr { trust, .. } if trust != PtrTrust::Untrusted)
        }
    }
}

fn may_be_null(kind: ArgKind) -> bool {
    matches!(
        kind,
        ArgKind::Mem { maybe_null: true }
            | ArgKind::StackOrNull
            | ArgKind::CtxOrNull
            | ArgKind::SockCommon { maybe_null: true }
            | ArgKind::MapValueOrNull
            | ArgKind::BtfPtrOrNull
    )
}

/// Map types a helper accepts and helpers a map type accepts (`check_map_func_compatibility`,
/// the common cases).
fn map_func_ok(
    mt: MapType,
    id: i32,
    pt: lull_abi::ProgType,
    attach: Option<lull_abi::AttachType>,
) -> bool {
    use MapType as M;
    let by_map = match mt {
        M::ProgArray => matches!(id, 12),
        M::PerfEventArray => matches!(id, 22 | 25 | 55 | 111 | 121),
        M::Ringbuf => matches!(id, 130 | 131 | 134 | 198),
        M::UserRingbuf => matches!(id, 209),
        M::StackTrace => id == 27,
        M::CgroupStorage | M::PercpuCgroupStorage => id == 81,
        M::Queue | M::Stack => matches!(id, 87 | 88 | 89 | 2),
        M::BloomFilter => matches!(id, 89 | 87),
        M::ArrayOfMaps | M::HashOfMaps => matches!(id, 1..=3),
        M::SkStorage => matches!(id, 107 | 108 | 194),
        M::InodeStorage => matches!(id, 145 | 146 | 194),
        M::TaskStorage => matches!(id, 156 | 157 | 194),
        M::CgrpStorage => matches!(id, 210 | 211 | 194),
        M::Sockmap => {
            matches!(id, 52 | 53 | 60 | 82 | 1)
                || (matches!(id, 2 | 3) && sockmap_update_ok(pt, attach, id))
        }
        M::Sockhash => {
            matches!(id, 72 | 70 | 71 | 82 | 1)
                || (matches!(id, 2 | 3) && sockmap_update_ok(pt, attach, id))
        }
        M::CgroupArray => matches!(id, 33 | 37),
        M::Devmap | M::DevmapHash => matches!(id, 51 | 1),
        M::Cpumap | M::Xskmap => matches!(id, 51 | 1),
        _ => true,
    };
    if !by_map {
        return false;
    }
    match id {
        12 => mt == M::ProgArray,
        22 | 25 | 55 | 111 | 121 => mt == M::PerfEventArray,
        130 | 131 | 134 | 198 => mt == M::Ringbuf,
        209 => mt == M::UserRingbuf,
        27 => mt == M::StackTrace,
        87 => matches!(mt, M::Queue | M::Stack | M::BloomFilter),
        88 => matches!(mt, M::Queue | M::Stack),
        89 => matches!(mt, M::Queue | M::Stack | M::BloomFilter),
        195 => matches!(mt, M::PercpuArray | M::PercpuHash | M::LruPercpuHash),
        164 => matches!(
            mt,
            M::Hash | M::LruHash | M::Array | M::PercpuHash | M::LruPercpuHash | M::PercpuArray
        ),
        107 | 108 => mt == M::SkStorage,
        145 | 146 => mt == M::InodeStorage,
        156 | 157 => mt == M::TaskStorage,
        210 | 211 => mt == M::CgrpStorage,
        52 | 53 => mt == M::Sockmap,
        70..=72 => mt == M::Sockhash,
        33 | 37 => mt == M::CgroupArray,
        81 => matches!(mt, M::CgroupStorage | M::PercpuCgroupStorage),
        _ => true,
    }
}

/// Whether the kernel rewrites context accesses of this program type (`convert_ctx_access`).
fn ctx_converted(pt: lull_abi::ProgType) -> bool {
    use lull_abi::ProgType as P;
    !matches!(
        pt,
        P::Kprobe
            | P::Tracepoint
            | P::RawTracepoint
            | P::RawTracepointWritable
            | P::Tracing
            | P::Lsm
            | P::StructOps
            | P::Ext
            | P::Syscall
    )
}

/// `BPF_FUNC_tail_call`.
const TAIL_CALL: i32 = 12;
/// `bpf_per_cpu_ptr`.
const PER_CPU_PTR: i32 = 153;
/// `bpf_this_cpu_ptr`.
const THIS_CPU_PTR: i32 = 154;

impl Verifier<'_> {
    /// `do_misc_fixups` on tail calls: for maps without `bypass_spec_v1` (created without
    /// `CAP_PERFMON`) the call is patched with the bounds of its one prog array, which is
    /// impossible when several prog arrays reach the same call.
    pub(crate) fn check_tail_call_maps(&self) -> Result<(), (E, usize)> {
        if self.perfmon {
            return Ok(());
        }
        let mut poisoned: Vec<usize> = self
            .tail_call_maps
            .iter()
            .filter(|(_, (_, p))| *p)
            .map(|(&i, _)| i)
            .collect();
        poisoned.sort_unstable();
        match poisoned.first() {
            Some(&i) => Err((E::Malformed("tail_call abusing map_ptr".into()), i)),
            None => Ok(()),
        }
    }

    pub(crate) fn check_call(&mut self, target: CallTarget) -> Res<Flow> {
        if self.cur.lock.is_some() && matches!(target, CallTarget::Helper(id) if id != 94) {
            return Err(E::CallWhileLocked);
        }
        match target {
            CallTarget::Helper(id) => {
                self.check_helper_call(id)?;
                self.insn_idx += 1;
                Ok(Flow::Continue)
            }
            CallTarget::Local(imm) => {
                let target = (self.insn_idx as i64 + imm as i64 + 1) as usize;
                let sp = self
                    .prog
                    .subprog_at(target)
                    .ok_or(E::InvalidCallDestination)?;
                if self.globals.separate(sp) {
                    return self.call_global(sp);
                }
                self.enter_subprog(sp, None)?;
                Ok(Flow::Continue)
            }
            CallTarget::Kfunc { btf_id, module } => {
                let cookie = self.cur.regs()[IsaReg::R1.index()];
                self.check_kfunc_call(btf_id, module)?;
                if crate::exception::is_bpf_throw(self.input, btf_id, module) {
                    return self.exception_exit(cookie);
                }
                self.insn_idx += 1;
                Ok(Flow::Continue)
            }
        }
    }

    /// `setup_func_entry` + `set_callee_state` for a bpf-to-bpf call; with `callback`, the
    /// new frame runs a callback of the helper at the current instruction (on `state`).
    fn enter_subprog(&mut self, sp: usize, _callback: Option<Callback>) -> Res<()> {
        let st = &mut self.cur;
        if st.curframe() + 1 >= MAX_CALL_FRAMES {
            return Err(E::CallStackTooDeepCall(st.curframe() + 2));
        }
        let frameno = st.frames.len() as u8;
        let mut callee = Frame::new(frameno, sp, self.insn_idx);
        for r in 1..=5 {
            callee.regs[r] = st.regs()[r];
        }
        for r in 0..=5 {
            st.regs_mut()[r] = Reg::NOT_INIT;
        }
        st.frames.push(callee);
        self.insn_idx = self.prog.subprogs[sp].start;
        Ok(())
    }

    /// Checks one argument (`check_func_arg`).
    fn check_arg(&mut self, h: &HelperProto, i: usize, meta: &mut Meta) -> Res<()> {
        let mut kind = h.args[i];
        // resolve_map_arg_type: the value of a sockmap/sockhash update is a socket.
        if matches!(kind, ArgKind::MapValue)
            && meta.map.is_some_and(|m| {
                matches!(
                    self.maps[m as usize].map_type,
                    MapType::Sockmap | MapType::Sockhash
                )
            })
        {
            kind = ArgKind::BtfSockCommon { release: false };
        }
        // Tracing programs get `bpf_sk_storage_{get,delete}_tracing_proto`: the socket is a
        // BTF pointer to `sock_common`, or NULL.
        if matches!(h.id, 107 | 108)
            && i == 1
            && self.input.prog_type == lull_abi::ProgType::Tracing
        {
            kind = ArgKind::BtfPtrOrNull;
        }
        if kind == ArgKind::None {
            return Ok(());
        }
        let regno = IsaReg::new(i as u8 + 1).expect("r1..r5");
        let rn = regno.num();
        let reg = self.src_reg(regno)?;
        let privileged = self.perfmon;
        if kind == ArgKind::Anything {
            if reg.is_pointer() && !privileged {
                return Err(E::Malformed(format!(
                    "R{rn} leaks addr into helper function"
                )));
            }
            return Ok(());
        }
        // may_access_direct_pkt_data with a helper: the helper must declare pkt_access.
        if reg.kind.is_pkt() && !(self.pt.packet_access().0 && h.pkt_access) {
            return Err(E::Malformed(
                "helper access to the packet is not allowed".into(),
            ));
        }
        let null_ok = reg.is_null() && may_be_null(kind);
        if null_ok {
            self.mark_chain_precision(regno)?;
        }
        if !null_ok {
            if !type_ok(kind, &reg) {
                return Err(E::ArgType {
                    reg: rn,
                    ty: reg.type_str(),
                    expected: expected_types(kind).into(),
                });
            }
            // A kernel object is memory a helper may read, never write.
            let writes = matches!(
                kind,
                ArgKind::UninitMem
                    | ArgKind::FixedUninitMem(_)
                    | ArgKind::FixedMem(_)
                    | ArgKind::MapValueUninit
            );
            if writes && matches!(reg.kind, RegKind::KernelPtr { .. }) {
                return Err(E::Malformed(format!(
                    "{}() may write into memory pointed by R{rn} type={}",
                    h.name(),
                    reg.type_str()
                )));
            }
            // check_func_arg_reg_off
            let release = matches!(
                kind,
                ArgKind::RingbufMemRelease | ArgKind::BtfSockCommon { release: true }
            );
            if release && reg.off != 0 {
                return Err(E::ReleaseNonZeroOff { reg: rn });
            }
            let offsets_ok = matches!(
                reg.kind,
                RegKind::Stack { .. }
                    | RegKind::Packet
                    | RegKind::PacketMeta
                    | RegKind::MapKey { .. }
                    | RegKind::MapValue { .. }
                    | RegKind::Mem { .. }
                    | RegKind::Scalar
            ) && !release;
            if !offsets_ok && reg.is_pointer() && !matches!(reg.kind, RegKind::KernelPtr { .. }) {
                fixed_off_is_zero(&reg, rn)?;
                if reg.var.const_value() != Some(0) {
                    return Err(E::VarPtrAccess {
                        ty: reg.type_str(),
                        var: reg.var.var_off.to_string(),
                    });
                }
            }
        }
        if null_ok
            && matches!(
                kind,
                ArgKind::MapValueOrNull
                    | ArgKind::StackOrNull
                    | ArgKind::CtxOrNull
                    | ArgKind::SockCommon { .. }
                    | ArgKind::BtfPtrOrNull
            )
        {
            return Ok(());
        }
        if matches!(
            kind,
            ArgKind::RingbufMemRelease | ArgKind::BtfSockCommon { release: true }
        ) {
            if reg.ref_obj_id == 0 && !reg.is_null() {
                return Err(E::NotReferenced { reg: rn });
            }
            meta.release_reg = Some(regno);
        }
        if reg.ref_obj_id != 0 {
            meta.ref_obj_id = reg.ref_obj_id;
        }
        match kind {
            ArgKind::ConstMapPtr => {
                if let RegKind::ConstMap { map } = reg.kind {
                    meta.map = Some(map);
                }
            }
            ArgKind::MapKey => {
                let map = meta.map.ok_or(E::MissingMapForKey)?;
                let ks = self.maps[map as usize].key_size;
                self.helper_mem_access(regno, ks as i64, Access::Read, false, None)?;
                if can_elide_value_nullness(self.maps[map as usize].map_type) {
                    meta.const_key = self.constant_map_key(&reg, ks)?;
                }
            }
            ArgKind::MapValue | ArgKind::MapValueUninit | ArgKind::MapValueOrNull => {
                let map = meta.map.ok_or(E::MissingMapForValue)?;
                let vs = self.maps[map as usize].value_size;
                let raw = kind == ArgKind::MapValueUninit;
                let access = if raw { Access::Write } else { Access::Read };
                self.helper_mem_access(regno, vs as i64, access, false, raw.then_some(meta))?;
            }
            ArgKind::Mem { .. } => meta.raw_mode = false,
            ArgKind::UninitMem => meta.raw_mode = true,
            ArgKind::FixedMem(n) => {
                self.helper_mem_access(regno, n as i64, Access::Write, false, None)?;
            }
            ArgKind::FixedUninitMem(n) => {
                meta.raw_mode = true;
                self.helper_mem_access(regno, n as i64, Access::Write, false, Some(meta))?;
                // MEM_ALIGNED: the pointed-to u64 must be aligned.
                self.check_alignment(&reg, 0, n, true)?;
            }
            ArgKind::ConstSize | ArgKind::ConstSizeOrZero => {
                let zero_ok = kind == ArgKind::ConstSizeOrZero;
                let prev = h.args[i - 1];
                let access = if matches!(prev, ArgKind::UninitMem) {
                    Access::Write
                } else {
                    Access::Read
                };
                meta.msize_max = reg.var.umax;
                let raw_meta = reg.var.is_const() && meta.raw_mode;
                if reg.var.smin < 0 {
                    return Err(E::SizeNegative { reg: rn });
                }
                if reg.var.umin == 0 && !zero_ok {
                    return Err(E::Malformed(format!(
                        "R{rn} invalid zero-sized read: u64=[{},{}]",
                        reg.var.umin as i64, reg.var.umax as i64
                    )));
                }
                if reg.var.umax >= MAX_VAR_SIZ {
                    return Err(E::SizeUnbounded { reg: rn });
                }
                let mem_reg = IsaReg::new(i as u8).expect("r1..r4");
                self.helper_mem_access(
                    mem_reg,
                    reg.var.umax as i64,
                    access,
                    zero_ok,
                    raw_meta.then_some(meta),
                )?;
                self.mark_chain_precision(regno)?;
            }
            ArgKind::ConstAllocSizeOrZero => {
                let v = reg.var.const_value().ok_or(E::ArgNotConst { reg: rn })?;
                meta.mem_size = v;
                self.mark_chain_precision(regno)?;
            }
            ArgKind::Func => {
                if let RegKind::Func { subprog } = reg.kind {
                    meta.subprog = Some(subprog);
                }
            }
            ArgKind::SpinLock => self.process_spin_lock(regno, &reg, h.id == 93)?,
            ArgKind::Dynptr {
                uninit,
                rdonly,
                kind,
                release,
            } => {
                let arg = DynptrArg {
                    uninit,
                    rdonly,
                    kind,
                    release,
                };
                let info = self.process_dynptr_arg(rn, arg, 0)?;
                meta.dynptr = Some(info);
                if release {
                    meta.release_dynptr = Some(regno);
                }
            }
            ArgKind::Timer => {
                let RegKind::MapValue { map } = reg.kind else {
                    unreachable!("type checked")
                };
                let m = &self.maps[map as usize];
                let Some(v) = reg.var.const_value() else {
                    return Err(E::Malformed(format!(
                        "R{rn} doesn't have constant offset. bpf_timer has to be at the constant offset"
                    )));
                };
                match m.timer_off {
                    None if !m.has_btf => {
                        return Err(E::Malformed(format!(
                            "map '{}' has to have BTF in order to use bpf_timer",
                            ""
                        )));
                    }
                    None => {
                        return Err(E::Malformed(format!("map '{}' has no valid bpf_timer", "")));
                    }
                    Some(t) if t as i64 != v as i64 + reg.off as i64 => {
                        return Err(E::Malformed(format!(
                            "off {} doesn't point to 'struct bpf_timer' that is at {t}",
                            v as i64 + reg.off as i64
                        )));
                    }
                    _ => {}
                }
                meta.map = Some(map);
            }
            ArgKind::ConstStr => {
                let RegKind::MapValue { map } = reg.kind else {
                    unreachable!("type checked")
                };
                let m = &self.maps[map as usize];
                if m.flags & lull_abi::map_flags::RDONLY_PROG == 0 {
                    return Err(E::Malformed(format!(
                        "R{rn} does not point to a readonly map'"
                    )));
                }
                if !reg.var.is_const() {
                    return Err(E::Malformed(format!("R{rn} is not a constant address'")));
                }
                check_region(&reg, rn, reg.off as i64, 1, m.value_size, false)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `check_helper_mem_access` for a kfunc's memory argument.
    pub(crate) fn kfunc_mem_access(
        &mut self,
        regno: IsaReg,
        size: i64,
        access: Access,
        zero_ok: bool,
    ) -> Res<()> {
        self.helper_mem_access(regno, size, access, zero_ok, None)
    }

    /// `check_helper_mem_access` for an argument that is not a helper's (global function
    /// arguments): `size` bytes at the pointer in `regno`, zero allowed.
    pub(crate) fn arg_mem_access(&mut self, regno: IsaReg, size: i64, access: Access) -> Res<()> {
        self.helper_mem_access(regno, size, access, true, None)
    }

    /// `check_helper_mem_access`: the helper reads or writes `size` bytes through `regno`.
    fn helper_mem_access(
        &mut self,
        regno: IsaReg,
        size: i64,
        access: Access,
        zero_ok: bool,
        meta: Option<&mut Meta>,
    ) -> Res<()> {
        let reg = self.cur.regs()[regno.index()];
        let rn = regno.num();
        let size32 = size.clamp(0, u32::MAX as i64) as u32;
        match reg.kind {
            RegKind::Packet | RegKind::PacketMeta => {
                check_packet(&reg, rn, reg.off as i64, size32, zero_ok)
            }
            RegKind::MapKey { map } => {
                if access == Access::Write {
                    return Err(E::CannotWrite {
                        reg: rn,
                        ty: reg.type_str(),
                    });
                }
                check_region(
                    &reg,
                    rn,
                    reg.off as i64,
                    size32,
                    self.maps[map as usize].key_size,
                    false,
                )
            }
            RegKind::MapValue { map } => {
                let m = &self.maps[map as usize];
                if access == Access::Write && m.flags & lull_abi::map_flags::RDONLY_PROG != 0 {
                    return Err(E::MapWriteForbidden {
                        value_size: m.value_size,
                        off: reg.off as i64 + reg.var.smin,
                        size: size32,
                    });
                }
                if access == Access::Read && m.flags & lull_abi::map_flags::WRONLY_PROG != 0 {
                    return Err(E::Malformed(format!(
                        "read from map forbidden, value_size={} off={} size={size32}",
                        m.value_size,
                        reg.off as i64 + reg.var.smin
                    )));
                }
                check_region(&reg, rn, reg.off as i64, size32, m.value_size, zero_ok)
            }
            RegKind::Mem {
                size: mem, rdonly, ..
            } => {
                if rdonly && access == Access::Write {
                    return Err(E::CannotWrite {
                        reg: rn,
                        ty: reg.type_str(),
                    });
                }
                check_region(&reg, rn, reg.off as i64, size32, mem, zero_ok)
            }
            RegKind::Stack { .. } => {
                if size == 0 && !zero_ok {
                    return Err(E::ZeroSizedRead);
                }
                self.check_stack_bounds(regno, &reg, reg.off as i64, size, access, Src::Helper)?;
                let (min_off, max_off) = match reg.var.const_value() {
                    Some(v) => (v as i64 + reg.off as i64, v as i64 + reg.off as i64),
                    None => {
                        if !self.perfmon {
                            return Err(E::Malformed(format!(
                                "R{rn} indirect variable offset stack access prohibited for !root, var_off={}",
                                reg.var.var_off
                            )));
                        }
                        (reg.var.smin + reg.off as i64, reg.var.smax + reg.off as i64)
                    }
                };
                if let Some(m) = meta
                    && reg.var.is_const()
                {
                    let fr = match reg.kind {
                        RegKind::Stack { frame } => frame as usize,
                        _ => 0,
                    };
                    self.raw_write_over_dynptr(fr, min_off, max_off + size)?;
                    m.raw = Some((regno, size));
                    return Ok(());
                }
                let fr = match reg.kind {
                    RegKind::Stack { frame } => frame as usize,
                    _ => 0,
                };
                let var = (!reg.var.is_const()).then_some(reg.var);
                // Since Linux 6.13 only helper *writes* scrub spilled registers (`clobber =
                // type == BPF_WRITE`); a key or buffer the helper only reads keeps its state.
                let clobber = access == Access::Write;
                self.range_initialized(fr, rn, min_off, max_off, size, clobber, true, var.as_ref())
            }
            // check_ptr_to_btf_access: the bytes must lie within one member of the struct.
            RegKind::KernelPtr { .. } if size32 > 0 => self
                .check_btf_access(&reg, rn, reg.off as i64, size32, Access::Read)
                .map(|_| ()),
            RegKind::KernelPtr { .. } => Ok(()),
            RegKind::Ctx if self.input.prog_type == lull_abi::ProgType::Syscall => Ok(()),
            // Program types whose context is not rewritten (no `convert_ctx_access`): the
            // last byte of the range must be an accessible context byte.
            RegKind::Ctx if size > 0 && !ctx_converted(self.input.prog_type) => {
                let access = if meta.is_some_and(|m| m.raw_mode) {
                    Access::Write
                } else {
                    Access::Read
                };
                self.check_mem_access(regno, size - 1, 1, access, None, None, false)
            }
            _ => {
                if zero_ok && size == 0 && reg.is_null() {
                    return Ok(());
                }
                Err(E::ArgType {
                    reg: rn,
                    ty: reg.type_str(),
                    expected: "fp".into(),
                })
            }
        }
    }

    /// `process_spin_lock`.
    fn process_spin_lock(&mut self, regno: IsaReg, reg: &Reg, lock: bool) -> Res<()> {
        let rn = regno.num();
        let RegKind::MapValue { map } = reg.kind else {
            return Err(E::ArgType {
                reg: rn,
                ty: reg.type_str(),
                expected: "map_value, ptr_".into(),
            });
        };
        let Some(v) = reg.var.const_value() else {
            return Err(E::SpinLockVarOff { reg: rn });
        };
        let m = &self.maps[map as usize];
        if !m.has_btf {
            return Err(E::SpinLockNoBtf(m.name.clone()));
        }
        let Some(lo) = m.spin_lock_off else {
            return Err(E::NoSpinLock {
                map_kind: "map",
                name: m.name.clone(),
            });
        };
        let at = v as i64 + reg.off as i64;
        if lo as i64 != at {
            return Err(E::Malformed(format!(
                "off {at} doesn't point to 'struct bpf_spin_lock' that is at {lo}"
            )));
        }
        if lock {
            if self.cur.lock.is_some() {
                return Err(E::NestedLock);
            }
            self.cur.lock = Some(crate::state::LockState { map, id: reg.id });
        } else {
            match self.cur.lock {
                None => return Err(E::UnlockWithoutLock),
                Some(l) if l.map != map || l.id != reg.id => return Err(E::UnlockDifferentLock),
                _ => self.cur.lock = None,
            }
        }
        Ok(())
    }

    /// The arguments of `bpf_per_cpu_ptr`/`bpf_this_cpu_ptr`, which are otherwise not modelled
    /// (their result stays an unknown scalar): `r1` is `ARG_PTR_TO_PERCPU_BTF_ID`. Lull does not
    /// track `MEM_PERCPU`, so any non-NULL kernel BTF pointer passes; anything else is refused
    /// with the kernel's message.
    fn check_percpu_btf_arg(&mut self, id: i32) -> Res<()> {
        let r1 = self.src_reg(IsaReg::R1)?;
        if !matches!(r1.kind, RegKind::KernelPtr { .. }) || r1.maybe_null {
            return Err(E::ArgType {
                reg: 1,
                ty: r1.type_str(),
                expected: "percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_".into(),
            });
        }
        if id == PER_CPU_PTR {
            // The CPU number (ARG_ANYTHING) must be initialised.
            self.src_reg(IsaReg::R2)?;
        }
        Ok(())
    }

    /// `check_helper_call`.
    fn check_helper_call(&mut self, id: i32) -> Res<()> {
        if !(0..proto::MAX_ID).contains(&id) {
            return Err(E::UnknownHelper(id));
        }
        let name = proto::helper_name(id);
        if !proto::available(self.input.prog_type, id, self.bpf_capable, self.perfmon) {
            return Err(E::HelperNotAllowed { name, id });
        }
        let h = proto::lookup(id);
        if !proto::is_modelled(id) && !self.unmodelled.contains(&id) {
            self.unmodelled.push(id);
        }
        if !self.input.gpl_compatible && h.gpl_only {
            return Err(E::GplOnly);
        }
        if !crate::sleepable::helper_allowed_here(self.input, id) {
            return Err(E::Malformed("helper call is not allowed in probe".into()));
        }
        if h.might_sleep && !self.in_sleepable() {
            return Err(E::MightSleep);
        }
        if h.might_sleep && (self.cur.rcu_lock || self.cur.preempt_locks > 0) {
            return Err(E::SleepInRegion {
                name,
                id,
                region: if self.cur.rcu_lock {
                    "rcu_read_lock region"
                } else {
                    "non-preemptible region"
                },
            });
        }
        let mut meta = Meta::default();
        for i in 0..5 {
            self.check_arg(&h, i, &mut meta)?;
        }
        if matches!(id, PER_CPU_PTR | THIS_CPU_PTR) {
            self.check_percpu_btf_arg(id)?;
        }
        // record_func_map: map type and helper must agree; a tail call remembers its map.
        if let (Some(map), TAIL_CALL) = (meta.map, id) {
            let seen = self
                .tail_call_maps
                .entry(self.insn_idx)
                .or_insert((map, false));
            if seen.0 != map {
                *seen = (map, true);
            }
        }
        if let Some(map) = meta.map {
            let mt = self.maps[map as usize].map_type;
            if !map_func_ok(mt, id, self.input.prog_type, self.input.expected_attach) {
                let mismatch = E::MapFuncMismatch {
                    map_type: mt.to_u32(),
                    func: name,
                    id,
                };
                // may_update_sockmap logs why before the mismatch itself.
                let sockmap_write =
                    matches!(mt, MapType::Sockmap | MapType::Sockhash) && matches!(id, 2 | 3);
                return Err(if sockmap_write {
                    E::WithNote {
                        first: Box::new(E::Malformed(
                            "cannot update sockmap in this context".into(),
                        )),
                        note: mismatch.to_string(),
                    }
                } else {
                    mismatch
                });
            }
        }
        if let Some((regno, size)) = meta.raw {
            let reg = self.cur.regs()[regno.index()];
            self.stack_raw_write(&reg, size);
        }
        if let Some(r) = meta.release_dynptr {
            let reg = self.cur.regs()[r.index()];
            self.release_dynptr(&reg)?;
        }
        if id == 197 && !matches!(self.cur.regs()[1].kind, RegKind::MapValue { .. }) {
            return Err(E::Malformed(format!(
                "Unsupported reg type {} for bpf_dynptr_from_mem data",
                self.cur.regs()[1].type_str()
            )));
        }
        if let Some(_r) = meta.release_reg {
            let rid = meta.ref_obj_id;
            if rid != 0 {
                self.release_reference(rid)?;
            }
        }
        match id {
            81 if !self.cur.regs()[2].is_null() => {
                return Err(E::Malformed(
                    "get_local_storage() doesn't support non-zero flags".into(),
                ));
            }
            81 => self.mark_chain_precision(IsaReg::R2)?,
            12 if self.cur.rcu_lock || self.cur.preempt_locks > 0 => {
                return Err(E::InsideRegion {
                    what: "tail_call",
                    region: if self.cur.rcu_lock {
                        "bpf_rcu_read_lock"
                    } else {
                        "bpf_preempt_disable"
                    },
                });
            }
            12 if !self.cur.refs.is_empty() => {
                return Err(E::WithNote {
                    first: Box::new(E::UnreleasedRef {
                        id: self.cur.refs[0].id,
                        insn: self.cur.refs[0].insn,
                    }),
                    note: E::TailCallRefLeak.to_string(),
                });
            }
            181 => {
                // Whether the loop is finished depends on r1's value.
                self.mark_chain_precision(IsaReg::R1)?;
                let r1 = self.cur.regs()[1];
                let depth = self.cur.cur().callback_depth;
                if depth < r1.var.umax
                    && let Some(sp) = meta.subprog
                {
                    self.push_callback(sp as usize, id, &meta)?;
                } else {
                    self.cur.cur_mut().callback_depth = 0;
                }
            }
            164 | 180 | 209 => {
                if let Some(sp) = meta.subprog {
                    self.push_callback(sp as usize, id, &meta)?;
                }
            }
            170 => {
                if let Some(sp) = meta.subprog {
                    self.push_async_callback(sp as usize, &meta)?;
                }
            }
            _ => {}
        }
        // Packet-changing helpers invalidate every packet pointer.
        // bpf_dynptr_write into an skb dynptr may move the packet data.
        let skb_write = id == 202 && meta.dynptr.is_some_and(|d| d.kind == Some(DynptrKind::Skb));
        if proto::changes_pkt_data(id) || skb_write {
            // Slices of skb and XDP dynptrs point into the packet too.
            let pkt_dynptrs: Vec<u32> = self
                .cur
                .frames
                .iter()
                .flat_map(|f| &f.stack)
                .filter(|s| {
                    s.dynptr
                        .is_some_and(|d| matches!(d.kind, DynptrKind::Skb | DynptrKind::Xdp))
                })
                .map(|s| s.spilled.id)
                .collect();
            self.cur.for_each_reg(|r| {
                let pkt_slice = matches!(r.kind, RegKind::Mem { dynptr, .. }
                    if dynptr != 0 && pkt_dynptrs.contains(&dynptr));
                if r.kind.is_pkt() || r.kind == RegKind::PacketEnd || pkt_slice {
                    *r = Reg::unknown();
                }
            });
        }
        for r in 1..=5u8 {
            self.cur.regs_mut()[r as usize] = Reg::NOT_INIT;
            self.scratched |= 1 << r;
        }
        let r0 = match h.ret {
            RetKind::Integer => {
                let mut r = Reg::unknown();
                match id {
                    67 | 141 | 45 | 115 | 114 => {
                        r.var.smax = meta.msize_max as i64;
                        r.var.s32_max = meta.msize_max as i32;
                        r.var.smin = -MAX_ERRNO;
                        r.var.s32_min = -MAX_ERRNO as i32;
                        r.var.sync();
                    }
                    8 => r.var = Scalar::from_urange(0, nr_cpu_ids() - 1),
                    _ => {}
                }
                r
            }
            RetKind::Void => Reg::NOT_INIT,
            RetKind::BtfPtr => Reg::pointer(RegKind::KernelPtr {
                btf_id: crate::btf_ptr::helper_ret_struct(self.input.kernel_btf, id),
                trust: PtrTrust::Trusted,
            }),
            RetKind::BtfPtrOrNull => {
                let mut r = Reg::pointer(RegKind::kernel_ptr(PtrTrust::Plain));
                r.maybe_null = true;
                r.id = self.new_id();
                // is_ptr_cast_function: the result shares the argument's reference.
                r.ref_obj_id = meta.ref_obj_id;
                r
            }
            RetKind::MapValueOrNull
                if id == 1
                    && meta.map.is_some_and(|m| {
                        let info = &self.maps[m as usize];
                        can_elide_value_nullness(info.map_type)
                            && meta
                                .const_key
                                .is_some_and(|k| k < u64::from(info.max_entries))
                    }) =>
            {
                // Linux 6.13+: an array lookup of a constant in-range key cannot fail. The
                // value still gets an id when it holds a spin lock, so locks stay distinct.
                let map = meta.map.unwrap_or(0);
                let mut r = Reg::pointer(RegKind::MapValue { map });
                if self.maps[map as usize].spin_lock_off.is_some() {
                    r.id = self.new_id();
                }
                r
            }
            RetKind::MapValueOrNull => {
                let map = meta.map.unwrap_or(0);
                let mut r = Reg::pointer(RegKind::MapValue { map });
                r.maybe_null = true;
                r.id = self.new_id();
                let mt = self.maps.get(map as usize).map(|m| m.map_type);
                if id == 1 && matches!(mt, Some(MapType::Sockmap | MapType::Sockhash)) {
                    r.id = self.new_id();
                    r.ref_obj_id = r.id;
                    self.acquire(r.id);
                }
                r
            }
            RetKind::MapValue => Reg::pointer(RegKind::MapValue {
                map: meta.map.unwrap_or(0),
            }),
            RetKind::SockOrNull {
                kind,
                acquire,
                cast,
            } => {
                let mut r = Reg::pointer(RegKind::Sock(kind));
                r.maybe_null = true;
                r.id = self.new_id();
                if acquire {
                    r.id = self.new_id();
                    r.ref_obj_id = r.id;
                    self.acquire(r.id);
                } else if cast {
                    r.ref_obj_id = meta.ref_obj_id;
                }
                r
            }
            RetKind::DynptrMemOrNull => {
                let info = meta.dynptr.unwrap_or_default();
                let mut r = Reg::pointer(RegKind::Mem {
                    size: meta.mem_size as u32,
                    ringbuf: false,
                    rdonly: false,
                    dynptr: info.id,
                });
                r.maybe_null = true;
                r.id = self.new_id();
                r.ref_obj_id = info.ref_obj_id;
                r
            }
            RetKind::RingbufMemOrNull => {
                let mut r = Reg::pointer(RegKind::Mem {
                    size: meta.mem_size as u32,
                    ringbuf: true,
                    rdonly: false,
                    dynptr: 0,
                });
                r.maybe_null = true;
                self.new_id();
                let rid = self.new_id();
                r.id = rid;
                r.ref_obj_id = rid;
                self.acquire(rid);
                r
            }
        };
        self.set_reg(IsaReg::R0, r0);
        Ok(())
    }

    /// Records a reference acquired by a kfunc.
    pub(crate) fn acquire_ref(&mut self, id: u32) {
        self.acquire(id);
    }

    /// Records an acquired reference (`acquire_reference_state`).
    fn acquire(&mut self, id: u32) {
        let callback_frame = if self.cur.cur().callback.is_some() {
            self.cur.cur().frameno
        } else {
            0
        };
        self.cur.refs.push(RefState {
            id,
            insn: self.insn_idx,
            callback_frame,
        });
    }

    /// Whether the program runs in a sleepable context.
    pub(crate) fn in_sleepable(&self) -> bool {
        self.input.sleepable
            && !self
                .cur
                .frames
                .iter()
                .any(|f| f.callback == Some(Callback::Async))
    }

    /// `release_reference`: drops the reference and invalidates every pointer derived from it.
    pub(crate) fn release_reference(&mut self, id: u32) -> Res<()> {
        let before = self.cur.refs.len();
        self.cur.refs.retain(|r| r.id != id);
        if self.cur.refs.len() == before {
            return Err(E::Malformed(format!(
                "func reference has not been acquired before (id={id})"
            )));
        }
        // mark_reg_invalid: unknown for privileged programs, unreadable otherwise.
        let privileged = self.perfmon;
        self.cur.for_each_reg(|r| {
            if r.ref_obj_id == id {
                *r = if privileged {
                    Reg::unknown()
                } else {
                    Reg::NOT_INIT
                };
            }
        });
        Ok(())
    }

    /// `push_callback_call` for synchronous callbacks: a new path enters the callback with
    /// the helper's callback arguments; this path continues after the call.
    fn push_callback(&mut self, sp: usize, id: i32, meta: &Meta) -> Res<()> {
        let mut st: State = self.cur.clone();
        if st.curframe() + 1 >= MAX_CALL_FRAMES {
            return Err(E::CallStackTooDeepCall(st.curframe() + 2));
        }
        let caller = st.cur().regs;
        let frameno = st.frames.len() as u8;
        let mut callee = Frame::new(frameno, sp, self.insn_idx);
        callee.callback = Some(Callback::Sync);
        callee.callback_ret = (0, 1);
        match id {
            181 => {
                callee.regs[1] = Reg::unknown();
                callee.regs[2] = caller[3];
            }
            164 => {
                let map = meta.map.unwrap_or(0);
                callee.regs[1] = Reg::pointer(RegKind::ConstMap { map });
                callee.regs[2] = Reg::pointer(RegKind::MapKey { map });
                callee.regs[3] = Reg::pointer(RegKind::MapValue { map });
                callee.regs[4] = caller[3];
            }
            // bpf_find_vma: (task, vma, ctx)
            180 => {
                callee.regs[1] = Reg::pointer(RegKind::kernel_ptr(PtrTrust::Trusted));
                callee.regs[2] = Reg::pointer(RegKind::kernel_ptr(PtrTrust::Trusted));
                callee.regs[3] = caller[4];
            }
            // bpf_user_ringbuf_drain: (dynptr, ctx)
            _ => {
                let mut dynptr = Reg::pointer(RegKind::ConstDynptr(DynptrKind::Local));
                dynptr.id = self.new_id();
                callee.regs[1] = dynptr;
                callee.regs[2] = caller[3];
            }
        }
        st.cur_mut().callback_depth += 1;
        st.frames.push(callee);
        let start = self.prog.subprogs[sp].start;
        self.push_branch(st, start)?;
        self.cur.cur_mut().callback_depth = 0;
        Ok(())
    }

    /// `push_async_cb` for timer callbacks: verified as a separate path from a fresh frame.
    fn push_async_callback(&mut self, sp: usize, meta: &Meta) -> Res<()> {
        let map = meta.map.unwrap_or(0);
        let mut f = Frame::new(0, sp, self.insn_idx);
        f.callback = Some(Callback::Async);
        f.callback_ret = (0, 0);
        f.regs[1] = Reg::pointer(RegKind::ConstMap { map });
        f.regs[2] = Reg::pointer(RegKind::MapKey { map });
        f.regs[3] = Reg::pointer(RegKind::MapValue { map });
        let st = State {
            frames: vec![f],
            refs: Vec::new(),
            lock: None,
            may_goto_depth: 0,
            speculative: false,
            rcu_lock: false,
            preempt_locks: 0,
        };
        let start = self.prog.subprogs[sp].start;
        self.push_branch(st, start)
    }

    /// `exit`: return to the caller, to the helper that called a callback, or end the path.
    pub(crate) fn check_exit(&mut self) -> Res<Flow> {
        let curframe = self.cur.curframe();
        if self.cur.lock.is_some() && curframe == 0 {
            return Err(E::SpinLockMissing);
        }
        // check_reference_leak
        let cb = self.cur.cur().callback;
        let frameno = self.cur.cur().frameno;
        if curframe == 0 || cb.is_some() {
            let leaked = self
                .cur
                .refs
                .iter()
                .find(|r| curframe == 0 || r.callback_frame == frameno);
            if let Some(r) = leaked {
                let note = if curframe == 0 {
                    "BPF_EXIT instruction in main prog would lead to reference leak"
                } else {
                    "BPF_EXIT instruction in callback would lead to reference leak"
                };
                return Err(E::WithNote {
                    first: Box::new(E::UnreleasedRef {
                        id: r.id,
                        insn: r.insn,
                    }),
                    note: note.into(),
                });
            }
        }
        if curframe == 0 && (self.cur.rcu_lock || self.cur.preempt_locks > 0) {
            return Err(E::InsideRegion {
                what: "BPF_EXIT instruction in main prog",
                region: if self.cur.rcu_lock {
                    "bpf_rcu_read_lock"
                } else {
                    "bpf_preempt_disable"
                },
            });
        }
        if curframe > 0 {
            return self.exit_subprog();
        }
        let subprog = self.cur.cur().subprog;
        // The exception callback returns for the program (`in_exception_callback_fn`).
        if cb.is_none() && subprog != 0 && !self.prog.subprogs[subprog].exception_cb {
            return self.exit_global();
        }
        let r0 = self.src_reg(IsaReg::R0)?;
        if cb == Some(Callback::Async) {
            if r0.is_scalar() {
                self.mark_chain_precision(IsaReg::R0)?;
            }
            self.check_callback_ret(&r0, (0, 0), "At async callback return")?;
            return Ok(Flow::PathDone);
        }
        if r0.is_pointer() && !self.perfmon {
            return Err(E::LeakAsReturn(0));
        }
        let range = crate::lsm::return_range(self.input).unwrap_or_else(|| self.pt.return_range());
        if let Some(range) = range {
            if !r0.is_scalar() {
                return Err(E::ReturnNotKnown {
                    reg: 0,
                    ty: r0.type_str(),
                });
            }
            self.mark_chain_precision(IsaReg::R0)?;
            if r0.var.smin < range.min || r0.var.smax > range.max {
                return Err(E::ReturnRange {
                    reg: 0,
                    value: scalar_desc(&r0.var),
                    range: format!("[{}, {}]", range.min, range.max),
                });
            }
        }
        Ok(Flow::PathDone)
    }

    fn check_callback_ret(&self, r0: &Reg, range: (i64, i64), what: &str) -> Res<()> {
        if !r0.is_scalar() {
            return Err(E::Malformed("R0 not a scalar value".into()));
        }
        if r0.var.smin < range.0 || r0.var.smax > range.1 {
            return Err(E::Malformed(format!(
                "{what} the register R0 has {} should have been in [{}, {}]",
                scalar_desc(&r0.var),
                range.0,
                range.1
            )));
        }
        Ok(())
    }

    /// `prepare_func_exit`.
    fn exit_subprog(&mut self) -> Res<Flow> {
        let callee = self.cur.cur().clone();
        let r0 = callee.regs[0];
        if let RegKind::Stack { .. } = r0.kind {
            return Err(E::Malformed(
                "cannot return stack pointer to the caller".into(),
            ));
        }
        if callee.callback == Some(Callback::Sync) {
            if r0.is_scalar() {
                self.mark_chain_precision(IsaReg::R0)?;
            }
            self.check_callback_ret(&r0, callee.callback_ret, "At callback return")?;
            self.cur.frames.pop();
            self.insn_idx = callee.callsite;
            // Back at the call site for the next iteration: like `may_goto`, widen the scalars
            // that are imprecise and changed since the previous iteration, so iterations that
            // only accumulate (a sum through a stack pointer) converge.
            if let Some(prev) = self.prev_loop_entry() {
                let old = self.ckpts.arena[prev].state.clone();
                crate::prune::widen_imprecise(&old, &mut self.cur);
            }
        } else {
            self.cur.frames.pop();
            self.set_reg(IsaReg::R0, r0);
            self.insn_idx = callee.callsite + 1;
        }
        if self.log.level() > 0 {
            let mut s = String::from("returning from callee:\n");
            crate::state::fmt::write_frame(&mut s, &callee, &self.cur, &self.maps, None);
            let _ = write!(s, "\nto caller at {}:\n", self.insn_idx);
            crate::state::fmt::write_frame(&mut s, self.cur.cur(), &self.cur, &self.maps, None);
            self.log.line(format_args!("{s}"));
        }
        Ok(Flow::Continue)
    }
}

/// `verbose_invalid_scalar`'s description of a value.
/// The fixed-offset part of the kernel's `check_func_arg_reg_off`: a pointer argument of this
/// kind must point at the start of its object.
pub(crate) fn fixed_off_is_zero(reg: &Reg, rn: u8) -> Result<(), E> {
    if reg.off < 0 {
        return Err(E::Malformed(format!(
            "negative offset {} ptr R{rn} off={} disallowed",
            reg.type_str(),
            reg.off
        )));
    }
    if reg.off != 0 {
        return Err(E::ModifiedPtr {
            ty: reg.type_str(),
            reg: rn,
            off: reg.off,
        });
    }
    Ok(())
}

pub(crate) fn scalar_desc(v: &Scalar) -> String {
    let mut parts = Vec::new();
    if v.smin > i64::MIN {
        parts.push(format!("smin={}", v.smin));
    }
    if v.smax < i64::MAX {
        parts.push(format!("smax={}", v.smax));
    }
    if parts.is_empty() {
        "unknown scalar value".into()
    } else {
        parts.join(" ")
    }
}

/// `can_elide_value_nullness`: map types whose lookup of an in-range key always succeeds.
fn can_elide_value_nullness(t: MapType) -> bool {
    matches!(t, MapType::Array | MapType::PercpuArray)
}

impl Verifier<'_> {
    /// `get_constant_map_key`: the key a stack pointer points to, when it is statically known —
    /// zero bytes covering the key, or a spilled constant scalar of exactly the key's size. The
    /// slot is then marked precise, since the verdict depends on its value. Only with
    /// `CAP_BPF`, as in the kernel.
    fn constant_map_key(&mut self, key: &Reg, key_size: u32) -> Res<Option<u64>> {
        let RegKind::Stack { frame } = key.kind else {
            return Ok(None);
        };
        let Some(var) = key.var.const_value() else {
            return Ok(None);
        };
        if !self.bpf_capable {
            return Ok(None);
        }
        let stack_off = i64::from(key.off) + var as i64;
        if stack_off >= 0 {
            return Ok(None);
        }
        let slot = (-stack_off - 1) as usize;
        let (spi, byte) = (slot / 8, slot % 8);
        let Some(st) = self.cur.frames[usize::from(frame)].stack.get(spi).copied() else {
            return Ok(None);
        };
        let run = |t: SlotType| {
            st.types[..=byte]
                .iter()
                .rev()
                .take_while(|x| **x == t)
                .count()
        };
        if run(SlotType::Zero) >= key_size as usize {
            return Ok(Some(0));
        }
        if !st.is_spilled_scalar() || run(SlotType::Spill) != key_size as usize {
            return Ok(None);
        }
        let Some(value) = st.spilled.var.const_value() else {
            return Ok(None);
        };
        self.mark_slot_chain_precision(usize::from(frame), spi)?;
        Ok(Some(value))
    }
}
