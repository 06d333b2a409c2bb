//! Calls to kernel functions (kfuncs): the kernel's `check_kfunc_call` and `check_kfunc_args`.
//!
//! The prototype comes from the kernel's BTF (`FUNC` → `FUNC_PROTO`), the flags and the program
//! types that may call it from [`crate::proto::kfuncs`]. Arguments are checked by their BTF
//! type and name suffix (`__sz`, `__szk`, `__k`, `__ign`, `__nullable`, `__opt`, `__str`,
//! `__map`); pointers to kernel structs must hold a matching `PTR_TO_BTF_ID`, trusted or RCU as
//! the flags demand. Acquired objects become references that must be released; the RCU and
//! preemption regions opened by `bpf_rcu_read_lock` / `bpf_preempt_disable` are tracked in the
//! state and constrain sleepable calls. Open-coded iterator arguments go to [`super::iter`].
//! Argument kinds Lull does not model yet (dynptrs, graph nodes, allocated objects, callbacks,
//! IRQ flags) are reported as unsupported rather than judged.

use super::dynptr::{DynptrArg, DynptrInfo};
use super::iter::{IterError, IterRef, IterRole, IterType};
use crate::btf_ptr::{btf_ptr, is_rcu_reg, is_trusted_reg, ptr_to_struct};
use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::prog_types::Access;
use crate::proto::kfuncs::{
    self, KF_ACQUIRE, KF_ITER_DESTROY, KF_ITER_NEW, KF_ITER_NEXT, KF_RCU, KF_RCU_PROTECTED,
    KF_RELEASE, KF_RET_NULL, KF_SLEEPABLE, KF_TRUSTED_ARGS,
};
use crate::state::{DynptrKind, PtrTrust, Reg, RegKind};
use lull_btf::{Btf, Param, TypeId, TypeKind};
use lull_isa::Reg as IsaReg;

/// The kernel's `BPF_MAX_VAR_SIZ`.
const MAX_VAR_SIZ: u64 = 1 << 29;

/// Struct names of argument kinds Lull does not model yet.
const UNMODELLED_STRUCTS: &[&str] = &[
    "bpf_list_head",
    "bpf_list_node",
    "bpf_rb_root",
    "bpf_rb_node",
    "bpf_refcount",
    "bpf_wq",
    "bpf_task_work",
    "bpf_res_spin_lock",
];

/// Parameter-name suffixes of argument kinds Lull does not model yet.
const UNMODELLED_SUFFIXES: &[&str] = &[
    "__irq_flag",
    "__alloc",
    "__refcounted_kptr",
    "__prog",
    "__aux",
];

/// kfuncs callable while a `bpf_spin_lock` is held (`kfunc_spin_allowed`: the graph API and
/// the numeric iterator).
fn spin_allowed(name: &str) -> bool {
    name.starts_with("bpf_list_")
        || name.starts_with("bpf_rbtree_")
        || name.starts_with("bpf_iter_num_")
        || name.starts_with("bpf_res_spin_")
}

/// The name of a parameter.
fn param_name<'b>(btf: &'b Btf, p: &Param) -> &'b str {
    btf.try_str_at(p.name_off).unwrap_or("")
}

/// `btf_type_str`: the kernel's upper-case kind name.
fn kind_str(btf: &Btf, id: TypeId) -> &'static str {
    btf.type_by_id(id).map_or("UNKNOWN", |t| t.kind().name())
}

/// The kernel context struct a program type's `bpf_cast_to_kern_ctx` yields
/// (`get_kern_ctx_btf_id`, via `bpf_ctx_convert`).
fn kern_ctx_struct(pt: lull_abi::ProgType) -> Option<&'static str> {
    use lull_abi::ProgType as P;
    Some(match pt {
        P::SocketFilter
        | P::SchedCls
        | P::SchedAct
        | P::CgroupSkb
        | P::SkSkb
        | P::LwtIn
        | P::LwtOut
        | P::LwtXmit
        | P::LwtSeg6local => "sk_buff",
        P::Xdp => "xdp_buff",
        P::Kprobe | P::PerfEvent => "pt_regs",
        P::Tracing | P::Lsm | P::RawTracepoint | P::Tracepoint | P::Syscall | P::StructOps => {
            return None;
        }
        P::SockOps => "bpf_sock_ops_kern",
        P::CgroupSockAddr => "bpf_sock_addr_kern",
        P::CgroupSock => "sock",
        P::Netfilter => "bpf_nf_ctx",
        _ => return None,
    })
}

/// The UAPI context struct of the program types whose kfunc arguments of that type are
/// `KF_ARG_PTR_TO_CTX` (the ones kfuncs taking a context are registered for).
fn uapi_ctx_struct(pt: lull_abi::ProgType) -> Option<&'static str> {
    use lull_abi::ProgType as P;
    match pt {
        P::SocketFilter
        | P::SchedCls
        | P::SchedAct
        | P::CgroupSkb
        | P::SkSkb
        | P::LwtIn
        | P::LwtOut
        | P::LwtXmit
        | P::LwtSeg6local => Some("__sk_buff"),
        P::Xdp => Some("xdp_md"),
        _ => None,
    }
}

/// What argument checking learned (`struct bpf_kfunc_call_arg_meta`, the parts Lull uses).
#[derive(Default)]
struct KMeta {
    ref_obj_id: u32,
    release_regno: Option<u8>,
    r0_size: Option<u64>,
    r0_rdonly: bool,
    arg_constant: Option<u64>,
    /// The initialised iterator argument (`meta->iter`).
    iter: Option<IterRef>,
    /// The initialised dynptr argument (`meta->initialized_dynptr`).
    dynptr: Option<DynptrInfo>,
}

impl Verifier<'_> {
    /// `check_kfunc_call`.
    pub(crate) fn check_kfunc_call(&mut self, btf_id: i32, module: i16) -> Res<()> {
        let Some(btf) = self.input.kernel_btf else {
            return Err(E::KfuncUnsupported(btf_id));
        };
        if module != 0 {
            return Err(E::KfuncUnsupported(btf_id));
        }
        let id = btf_id as TypeId;
        let func = btf
            .type_by_id(id)
            .ok()
            .filter(|t| matches!(t.kind, TypeKind::Func { .. }))
            .ok_or_else(|| E::Malformed(format!("kernel btf_id {btf_id} is not a function")))?;
        let name = btf.name(func).to_string();
        let (_, proto) = btf.func_proto(id).map_err(|_| {
            E::Malformed(format!(
                "kernel function btf_id {btf_id} does not have a valid func_proto"
            ))
        })?;
        if !self.input.gpl_compatible {
            return Err(E::Malformed(
                "cannot call kernel function from non-GPL compatible program".into(),
            ));
        }
        if self.cur.lock.is_some() && !spin_allowed(&name) {
            return Err(E::CallWhileLocked);
        }
        let Some(info) = kfuncs::kfunc(&name) else {
            return Err(E::KfuncUnsupportedNamed {
                name,
                what: "unknown to Lull",
            });
        };
        let iter_only = info.set == kfuncs::KfuncSet::SkIter
            && self.input.expected_attach != Some(lull_abi::AttachType::TraceIter);
        if !kfuncs::kfunc_allowed(info, self.input.prog_type) || iter_only {
            return Err(E::KfuncNotAllowed(name));
        }
        let flags = info.flags;
        let sleepable = flags & KF_SLEEPABLE != 0;
        if sleepable && !self.in_sleepable() {
            return Err(E::KfuncNeedsSleepable(name));
        }
        if name == "bpf_obj_new_impl"
            || name == "bpf_percpu_obj_new_impl"
            || name == "bpf_rdonly_cast" && self.cur.regs()[2].const_value().is_none()
        {
            return Err(E::KfuncUnsupportedNamed {
                name,
                what: "iterator or object allocation",
            });
        }
        let params = proto.params.clone();
        let ret_type = proto.ret_type;
        let mut meta = KMeta::default();
        self.check_kfunc_args(btf, &name, flags, &params, &mut meta)?;

        let rcu_lock = name == "bpf_rcu_read_lock";
        let rcu_unlock = name == "bpf_rcu_read_unlock";
        let preempt_disable = name == "bpf_preempt_disable";
        let preempt_enable = name == "bpf_preempt_enable";
        if flags & KF_RCU_PROTECTED != 0 && !self.in_rcu_cs() {
            return Err(E::Malformed(format!(
                "kernel func {name} requires RCU critical section protection"
            )));
        }
        if self.cur.rcu_lock {
            if rcu_lock {
                return Err(E::Malformed(format!(
                    "nested rcu read lock (kernel function {name})"
                )));
            } else if rcu_unlock {
                // MEM_RCU pointers lose their protection at the unlock.
                self.cur.for_each_reg(|r| {
                    if let RegKind::KernelPtr {
                        btf_id,
                        trust: PtrTrust::Rcu,
                    } = r.kind
                    {
                        r.kind = RegKind::KernelPtr {
                            btf_id,
                            trust: PtrTrust::Untrusted,
                        };
                        r.maybe_null = false;
                    }
                });
                self.cur.rcu_lock = false;
                self.iters_leave_rcu();
            } else if sleepable {
                return Err(E::Malformed(format!(
                    "kernel func {name} is sleepable within rcu_read_lock region"
                )));
            }
        } else if rcu_lock {
            self.cur.rcu_lock = true;
        } else if rcu_unlock {
            return Err(E::Malformed(format!(
                "unmatched rcu read unlock (kernel function {name})"
            )));
        }
        if self.cur.preempt_locks > 0 {
            if preempt_disable {
                self.cur.preempt_locks += 1;
            } else if preempt_enable {
                self.cur.preempt_locks -= 1;
            } else if sleepable {
                return Err(E::Malformed(format!(
                    "kernel func {name} is sleepable within non-preemptible region"
                )));
            }
        } else if preempt_disable {
            self.cur.preempt_locks = 1;
        } else if preempt_enable {
            return Err(E::Malformed(format!(
                "unmatched attempt to enable preemption (kernel function {name})"
            )));
        }
        if meta.release_regno.is_some() && self.release_reference(meta.ref_obj_id).is_err() {
            return Err(E::Malformed(format!(
                "kfunc {name}#{btf_id} reference has not been acquired before"
            )));
        }
        for r in 0..=5u8 {
            self.cur.regs_mut()[r as usize] = Reg::NOT_INIT;
            self.scratched |= 1 << r;
        }
        let r0 = self.kfunc_ret(btf, &name, flags, ret_type, &meta)?;
        self.set_reg(IsaReg::R0, r0);
        if flags & KF_ITER_NEXT != 0
            && let Some(it) = meta.iter
        {
            self.process_iter_next_call(&it)?;
        }
        Ok(())
    }

    /// The return value of a kfunc call (the second half of `check_kfunc_call`).
    fn kfunc_ret(
        &mut self,
        btf: &Btf,
        name: &str,
        flags: u32,
        ret_type: TypeId,
        meta: &KMeta,
    ) -> Res<Reg> {
        let (_, t) = btf
            .skip_mods_and_typedefs(ret_type)
            .map_err(|e| E::Malformed(e.to_string()))?;
        let mut r = match &t.kind {
            TypeKind::Void => return Ok(Reg::NOT_INIT),
            TypeKind::Ptr(_) => {
                if name == "bpf_dynptr_slice" || name == "bpf_dynptr_slice_rdwr" {
                    return self.dynptr_slice_ret(name, flags, meta);
                } else if name == "bpf_cast_to_kern_ctx" {
                    let sname = kern_ctx_struct(self.input.prog_type);
                    let sid = sname.and_then(|s| btf.find_by_name(s, Some(lull_btf::Kind::Struct)));
                    btf_ptr(sid.unwrap_or(0), PtrTrust::Trusted)
                } else if name == "bpf_rdonly_cast" {
                    let tid = meta.arg_constant.unwrap_or(0) as TypeId;
                    match btf.composite(tid) {
                        Ok((sid, _)) => btf_ptr(sid, PtrTrust::Untrusted),
                        Err(_) => Reg::pointer(RegKind::Mem {
                            size: 0,
                            ringbuf: false,
                            rdonly: true,
                            dynptr: 0,
                        }),
                    }
                } else if let Some(sid) = ptr_to_struct(btf, ret_type) {
                    let iter_rcu = meta
                        .iter
                        .filter(|_| flags & KF_ITER_NEXT != 0)
                        .map(|it| self.iter_slot(&it).and_then(|s| s.rcu) == Some(true));
                    let trust = if let Some(rcu) = iter_rcu {
                        if rcu {
                            PtrTrust::Rcu
                        } else {
                            PtrTrust::Trusted
                        }
                    } else if name == "bpf_get_kmem_cache" {
                        PtrTrust::Untrusted
                    } else if flags & KF_RCU_PROTECTED != 0 {
                        PtrTrust::Rcu
                    } else {
                        PtrTrust::Plain
                    };
                    btf_ptr(sid, trust)
                } else {
                    let pointee = btf.ptr_target(ret_type).unwrap_or(0);
                    let (pid, pt) = btf
                        .skip_mods_and_typedefs(pointee)
                        .map_err(|e| E::Malformed(e.to_string()))?;
                    if matches!(pt.kind, TypeKind::Void) {
                        Reg::unknown()
                    } else {
                        let size = match meta.r0_size {
                            Some(s) => Some((s, meta.r0_rdonly)),
                            None => btf.resolve_size(pid).ok().map(|s| (s as u64, true)),
                        };
                        let Some((size, rdonly)) = size.filter(|(s, _)| *s > 0) else {
                            return Err(E::Malformed(format!(
                                "kernel function {name} returns pointer type {} {} is not supported",
                                kind_str(btf, pid),
                                btf.name_of(pid)
                            )));
                        };
                        let mut m = Reg::pointer(RegKind::Mem {
                            size: size as u32,
                            ringbuf: false,
                            rdonly,
                            dynptr: 0,
                        });
                        m.ref_obj_id = meta.ref_obj_id;
                        m
                    }
                }
            }
            _ => return Ok(Reg::unknown()),
        };
        if !r.is_pointer() {
            return Ok(r);
        }
        if flags & KF_RET_NULL != 0 {
            r.maybe_null = true;
            r.id = self.new_id();
        }
        if flags & KF_ACQUIRE != 0 {
            let id = self.new_id();
            self.acquire_ref(id);
            if flags & KF_RET_NULL != 0 {
                r.id = id;
            }
            r.ref_obj_id = id;
        }
        Ok(r)
    }

    /// `check_kfunc_args`.
    fn check_kfunc_args(
        &mut self,
        btf: &Btf,
        name: &str,
        flags: u32,
        params: &[Param],
        meta: &mut KMeta,
    ) -> Res<()> {
        if params.len() > 5 {
            return Err(E::Malformed(format!(
                "Function {name} has {} > 5 args",
                params.len()
            )));
        }
        let release = flags & KF_RELEASE != 0;
        let mut i = 0;
        while i < params.len() {
            let p = params[i];
            let pname = param_name(btf, &p);
            let regno = i as u8 + 1;
            let isa = IsaReg::new(regno).expect("r1..r5");
            let reg = self.src_reg(isa)?;
            let (tid, t) = btf
                .skip_mods_and_typedefs(p.type_id)
                .map_err(|e| E::Malformed(e.to_string()))?;
            if pname.ends_with("__ign") {
                i += 1;
                continue;
            }
            if UNMODELLED_SUFFIXES.iter().any(|s| pname.ends_with(s)) {
                return Err(E::KfuncUnsupportedNamed {
                    name: name.into(),
                    what: "special argument",
                });
            }
            match &t.kind {
                TypeKind::Int(_) | TypeKind::Enum(_) | TypeKind::Enum64(_) => {
                    if !reg.is_scalar() {
                        return Err(E::Malformed(format!("R{regno} is not a scalar")));
                    }
                    if pname.ends_with("__k") {
                        let v = reg.const_value().ok_or_else(|| {
                            E::Malformed(format!("R{regno} must be a known constant"))
                        })?;
                        meta.arg_constant = Some(v);
                    } else if pname == "rdonly_buf_size" || pname == "rdwr_buf_size" {
                        let v = reg
                            .const_value()
                            .ok_or_else(|| E::Malformed(format!("R{regno} is not a const")))?;
                        meta.r0_size = Some(v);
                        meta.r0_rdonly = pname == "rdonly_buf_size";
                    }
                    i += 1;
                    continue;
                }
                TypeKind::Ptr(_) => {}
                _ => {
                    return Err(E::Malformed(format!(
                        "Unrecognized arg#{i} type {}",
                        kind_str(btf, tid)
                    )));
                }
            }
            if let Some(ty) = iter_arg_type(btf, flags, i, pname, p.type_id) {
                self.kfunc_iter_arg(name, flags, regno, ty, meta)?;
                i += 1;
                continue;
            }
            let nullable = pname.ends_with("__nullable") || pname.ends_with("__opt");
            // is_kfunc_trusted_args (which includes release kfuncs) or is_kfunc_rcu.
            let trusted = flags & (KF_TRUSTED_ARGS | KF_RCU | KF_RELEASE) != 0;
            if trusted && (reg.is_null() || reg.maybe_null) && !nullable {
                return Err(E::Malformed(format!(
                    "Possibly NULL pointer passed to trusted arg{i}"
                )));
            }
            if reg.ref_obj_id != 0 {
                meta.ref_obj_id = reg.ref_obj_id;
                if release {
                    meta.release_regno = Some(regno);
                }
            }
            let pointee = btf.ptr_target(p.type_id).unwrap_or(0);
            let (ref_id, ref_t) = btf
                .skip_mods_and_typedefs(pointee)
                .map_err(|e| E::Malformed(e.to_string()))?;
            let ref_name = btf.name(ref_t).to_string();
            if ref_name == "bpf_dynptr" {
                self.kfunc_dynptr_arg(name, i, pname, meta)?;
                i += 1;
                continue;
            }
            // KF_ARG_PTR_TO_CTX: the program's context type (`btf_is_prog_ctx_type`).
            if uapi_ctx_struct(self.input.prog_type) == Some(ref_name.as_str()) {
                if reg.kind != RegKind::Ctx {
                    return Err(E::Malformed(format!(
                        "arg#{i} expected pointer to ctx, but got {}",
                        reg.type_str()
                    )));
                }
                i += 1;
                continue;
            }
            if UNMODELLED_STRUCTS.contains(&ref_name.as_str())
                || ref_name.starts_with("bpf_iter_")
                || matches!(ref_t.kind, TypeKind::FuncProto(_))
            {
                return Err(E::KfuncUnsupportedNamed {
                    name: name.into(),
                    what: "dynptr, iterator, graph or callback",
                });
            }
            // KF_ARG_PTR_TO_CTX
            if name == "bpf_cast_to_kern_ctx" {
                if reg.kind != RegKind::Ctx {
                    return Err(E::Malformed(format!(
                        "arg#{i} expected pointer to ctx, but got {}",
                        reg.type_str()
                    )));
                }
                i += 1;
                continue;
            }
            if nullable && reg.is_null() {
                i += 1;
                continue;
            }
            if pname.ends_with("__str") {
                if !matches!(reg.kind, RegKind::MapValue { .. }) {
                    return Err(E::Malformed(format!(
                        "arg#{i} doesn't point to a const string"
                    )));
                }
                i += 1;
                continue;
            }
            let is_map = pname.ends_with("__map");
            if is_map && !matches!(reg.kind, RegKind::ConstMap { .. }) {
                return Err(E::Malformed(format!(
                    "pointer in R{regno} isn't map pointer"
                )));
            }
            let btf_like = matches!(
                reg.kind,
                RegKind::KernelPtr { .. } | RegKind::Sock(_) | RegKind::ConstMap { .. }
            );
            if is_map || btf_like {
                if !is_map && !ref_t.is_composite() {
                    return Err(E::Malformed(format!(
                        "kernel function {name} args#{i} pointer type {} {ref_name} is not supported",
                        kind_str(btf, ref_id)
                    )));
                }
                self.kfunc_btf_arg(btf, name, flags, i, &reg, ref_id, &ref_name, release)?;
                i += 1;
                continue;
            }
            // KF_ARG_PTR_TO_MEM / KF_ARG_PTR_TO_MEM_SIZE
            let size_param = params.get(i + 1).map(|n| param_name(btf, n));
            let mem_size = size_param.is_some_and(|n| n.ends_with("__sz") || n.ends_with("__szk"));
            let scalar_pointee = matches!(
                ref_t.kind,
                TypeKind::Int(_) | TypeKind::Enum(_) | TypeKind::Enum64(_) | TypeKind::Float { .. }
            ) || (ref_t.is_composite() && scalar_struct(btf, ref_id, 0));
            let void_ok = mem_size && matches!(ref_t.kind, TypeKind::Void);
            if !scalar_pointee && !void_ok {
                return Err(E::Malformed(format!(
                    "arg#{i} pointer type {} {ref_name} must point to {}scalar, or struct with scalar",
                    kind_str(btf, ref_id),
                    if mem_size { "void, " } else { "" }
                )));
            }
            if mem_size {
                let size_reg = self.src_reg(IsaReg::new(regno + 1).expect("r2..r5"))?;
                if !(reg.is_null() && nullable) {
                    self.kfunc_mem_size(isa, &size_reg, regno + 1)
                        .map_err(|e| E::WithNote {
                            first: Box::new(e),
                            note: format!(
                                "arg#{i} arg#{} memory, len pair leads to invalid memory access",
                                i + 1
                            ),
                        })?;
                }
                if size_param.is_some_and(|n| n.ends_with("__szk")) {
                    let v = size_reg.const_value().ok_or_else(|| {
                        E::Malformed(format!("R{} must be a known constant", regno + 1))
                    })?;
                    meta.arg_constant = Some(v);
                }
                i += 2;
                continue;
            }
            let size = btf.resolve_size(ref_id).map_err(|_| {
                E::Malformed(format!(
                    "arg#{i} reference type('{} {ref_name}') size cannot be determined",
                    kind_str(btf, ref_id)
                ))
            })?;
            self.kfunc_mem_access(isa, size as i64, Access::Read, false)?;
            self.kfunc_mem_access(isa, size as i64, Access::Write, false)?;
            i += 1;
        }
        if release && meta.release_regno.is_none() {
            return Err(E::ReleaseExpects(name.into()));
        }
        Ok(())
    }

    /// `KF_ARG_PTR_TO_BTF_ID` (and maps): trust, register type and struct match.
    #[allow(clippy::too_many_arguments)]
    fn kfunc_btf_arg(
        &mut self,
        btf: &Btf,
        name: &str,
        flags: u32,
        i: usize,
        reg: &Reg,
        ref_id: TypeId,
        ref_name: &str,
        release: bool,
    ) -> Res<()> {
        let regno = i + 1;
        if flags & (KF_TRUSTED_ARGS | KF_RCU) != 0 && !is_trusted_reg(reg) {
            if flags & KF_RCU == 0 {
                return Err(E::Malformed(format!(
                    "R{regno} must be referenced or trusted"
                )));
            }
            if !is_rcu_reg(reg) {
                return Err(E::Malformed(format!("R{regno} must be a rcu pointer")));
            }
        }
        // check_func_arg_reg_off
        if release && reg.ref_obj_id != 0 && reg.off != 0 {
            return Err(E::ReleaseNonZeroOff { reg: regno as u8 });
        }
        if reg.var.const_value() != Some(0) {
            return Err(E::VarPtrAccess {
                ty: reg.type_str(),
                var: reg.var.var_off.to_string(),
            });
        }
        let reg_struct = match reg.kind {
            RegKind::KernelPtr { btf_id, trust } => {
                let unsafe_mods = reg.maybe_null
                    || matches!(trust, PtrTrust::Untrusted | PtrTrust::Rcu) && !is_rcu_reg(reg);
                if unsafe_mods {
                    return Err(E::Malformed(format!(
                        "arg#{i} is {} expected ptr_ or socket",
                        reg.type_str()
                    )));
                }
                btf_id
            }
            RegKind::Sock(k) => {
                use crate::state::SockKind as S;
                let s = match k {
                    S::Common => "sock_common",
                    S::Full => "sock",
                    S::Tcp => "tcp_sock",
                    S::Xdp => "xdp_sock",
                };
                btf.find_by_name(s, Some(lull_btf::Kind::Struct))
                    .unwrap_or(0)
            }
            RegKind::ConstMap { .. } => btf
                .find_by_name("bpf_map", Some(lull_btf::Kind::Struct))
                .unwrap_or(0),
            _ => 0,
        };
        if reg_struct == 0 {
            return Ok(());
        }
        let strict = release && reg.ref_obj_id != 0;
        let same = btf
            .struct_ids_match(reg_struct, reg.off.max(0) as u32, ref_id, strict, true)
            .unwrap_or(false);
        // A kfunc taking a projection (`__sk_buff`) accepts the underlying kernel type.
        let projection = matches!(
            (ref_name, btf.name_of(reg_struct)),
            ("__sk_buff", "sk_buff") | ("xdp_md", "xdp_buff")
        );
        if !same && !projection {
            return Err(E::Malformed(format!(
                "kernel function {name} args#{i} expected pointer to {} {ref_name} but R{regno} has a pointer to {} {}",
                kind_str(btf, ref_id),
                kind_str(btf, reg_struct),
                btf.name_of(reg_struct)
            )));
        }
        Ok(())
    }

    /// `check_kfunc_mem_size_reg`: the size in `size_reg` bounds the memory in `mem`.
    fn kfunc_mem_size(&mut self, mem: IsaReg, size_reg: &Reg, size_regno: u8) -> Res<()> {
        if !size_reg.is_scalar() {
            return Err(E::ArgType {
                reg: size_regno,
                ty: size_reg.type_str(),
                expected: "scalar".into(),
            });
        }
        if size_reg.var.smin < 0 {
            return Err(E::SizeNegative { reg: size_regno });
        }
        if size_reg.var.umax >= MAX_VAR_SIZ {
            return Err(E::SizeUnbounded { reg: size_regno });
        }
        let saved = self.cur.regs()[mem.index()];
        self.cur.regs_mut()[mem.index()].maybe_null = false;
        let size = size_reg.var.umax as i64;
        let res = self
            .kfunc_mem_access(mem, size, Access::Read, true)
            .and_then(|()| self.kfunc_mem_access(mem, size, Access::Write, true));
        self.cur.regs_mut()[mem.index()] = saved;
        res
    }
}

/// `__btf_type_is_scalar_struct`: a struct whose members are (arrays of) scalars or such
/// structs, at most a few levels deep.
fn scalar_struct(btf: &Btf, id: TypeId, depth: u32) -> bool {
    if depth > 2 {
        return false;
    }
    let Ok(t) = btf.type_by_id(id) else {
        return false;
    };
    t.members().iter().all(|m| {
        let Ok((mid, mt)) = btf.skip_mods_and_typedefs(m.type_id) else {
            return false;
        };
        match &mt.kind {
            TypeKind::Int(_) | TypeKind::Enum(_) | TypeKind::Enum64(_) => true,
            TypeKind::Array(a) => btf
                .skip_mods_and_typedefs(a.elem_type)
                .is_ok_and(|(_, e)| matches!(e.kind, TypeKind::Int(_) | TypeKind::Enum(_))),
            TypeKind::Struct(_) | TypeKind::Union(_) => scalar_struct(btf, mid, depth + 1),
            _ => false,
        }
    })
}

/// `is_kfunc_arg_iter` + `btf_check_iter_arg`: argument `i` is an iterator (the first
/// argument of an iterator kfunc, or one named `…__iter`) of the returned type.
fn iter_arg_type(btf: &Btf, flags: u32, i: usize, pname: &str, ty: TypeId) -> Option<IterType> {
    let iter_kfunc = flags & (KF_ITER_NEW | KF_ITER_NEXT | KF_ITER_DESTROY) != 0;
    if !(iter_kfunc && i == 0 || pname.ends_with("__iter")) {
        return None;
    }
    let pointee = btf.ptr_target(ty).ok()?;
    let (sid, st) = btf.skip_mods_and_typedefs(pointee).ok()?;
    if !matches!(st.kind, TypeKind::Struct(_)) {
        return None;
    }
    let kind = crate::proto::iters::kind_of(btf.name(st))?;
    let size = btf.resolve_size(sid).ok()?;
    Some(IterType {
        btf_id: sid,
        kind,
        nr_slots: size as usize / 8,
    })
}

impl Verifier<'_> {
    /// `KF_ARG_PTR_TO_DYNPTR`: constructors (`…__uninit` arguments) build a dynptr of the
    /// kind the kfunc makes (a clone: its parent's kind, sharing its reference); other
    /// arguments need an initialised one, remembered for the call's result.
    fn kfunc_dynptr_arg(&mut self, name: &str, i: usize, pname: &str, meta: &mut KMeta) -> Res<()> {
        let regno = i as u8 + 1;
        let reg = self.cur.regs()[regno as usize];
        let uninit = pname.ends_with("__uninit");
        let mut arg = DynptrArg {
            uninit,
            rdonly: matches!(reg.kind, RegKind::ConstDynptr(_)),
            ..DynptrArg::default()
        };
        let mut clone_ref = 0;
        match name {
            "bpf_dynptr_from_skb" => arg.kind = Some(DynptrKind::Skb),
            "bpf_dynptr_from_xdp" => arg.kind = Some(DynptrKind::Xdp),
            "bpf_dynptr_clone" if uninit => {
                let parent = meta.dynptr.unwrap_or_default();
                arg.kind = Some(parent.kind.ok_or_else(|| {
                    E::Malformed(
                        "verifier internal error: no dynptr type for parent of clone".into(),
                    )
                })?);
                clone_ref = parent.ref_obj_id;
            }
            _ => {}
        }
        let info = self.process_dynptr_arg(regno, arg, clone_ref)?;
        if !uninit {
            meta.dynptr = Some(info);
        }
        Ok(())
    }

    /// The result of `bpf_dynptr_slice` / `bpf_dynptr_slice_rdwr`: `buffer__szk` bytes of the
    /// dynptr's memory, read-only for `bpf_dynptr_slice`, NULL when out of range.
    fn dynptr_slice_ret(&mut self, name: &str, flags: u32, meta: &KMeta) -> Res<Reg> {
        let rdonly = name == "bpf_dynptr_slice";
        if !rdonly && !self.pt.packet_access().1 {
            return Err(E::Malformed(
                "the prog does not allow writes to packet data".into(),
            ));
        }
        let info = meta.dynptr.unwrap_or_default();
        let mut r = Reg::pointer(RegKind::Mem {
            size: meta.arg_constant.unwrap_or(0) as u32,
            ringbuf: false,
            rdonly,
            dynptr: info.id,
        });
        if flags & KF_RET_NULL != 0 {
            r.maybe_null = true;
            r.id = self.new_id();
        }
        Ok(r)
    }

    /// `KF_ARG_PTR_TO_ITER`.
    fn kfunc_iter_arg(
        &mut self,
        name: &str,
        flags: u32,
        regno: u8,
        ty: IterType,
        meta: &mut KMeta,
    ) -> Res<()> {
        let reg = self.cur.regs()[regno as usize];
        if flags & (KF_TRUSTED_ARGS | KF_RCU) != 0 && (reg.is_null() || reg.maybe_null) {
            return Err(E::Malformed(format!(
                "Possibly NULL pointer passed to trusted arg{}",
                regno - 1
            )));
        }
        if name == "bpf_iter_css_task_new" {
            use lull_abi::ProgType as P;
            let allowed = match self.input.prog_type {
                P::Lsm => true,
                P::Tracing => self.input.expected_attach == Some(lull_abi::AttachType::TraceIter),
                _ => false,
            };
            if !allowed && !self.in_sleepable() {
                return Err(IterError::CssTaskNotAllowed.into());
            }
        }
        let role = if flags & KF_ITER_NEW != 0 {
            IterRole::New
        } else if flags & KF_ITER_DESTROY != 0 {
            IterRole::Destroy
        } else {
            IterRole::Use
        };
        let it = self.process_iter_arg(regno, name, role, ty, flags & KF_RCU_PROTECTED != 0)?;
        if let Some(it) = it {
            meta.ref_obj_id = it.ref_obj_id;
            meta.iter = Some(it);
        }
        Ok(())
    }
}
