//! Global (non-static) functions, which the kernel verifies once each, on their own, rather
//! than at every call site.
//!
//! - [`prepare`] turns a function's BTF prototype (and its `arg:` decl tags) into argument
//!   kinds, with the kernel's rules and messages (`btf_prepare_func_args`), and checks the
//!   return types of subprograms using `LD_ABS` or tail calls (`check_btf_func`).
//! - At a call site ([`Verifier::call_global`]) the caller's registers are only checked against
//!   the prototype (`btf_check_func_arg_match`); the call then returns an unknown scalar.
//! - After the main program, every global function that was called is explored from a state
//!   built from its prototype ([`Verifier::verify_globals`], `do_check_subprogs`).
//!
//! Prototypes Lull cannot model yet (arena arguments) keep the function inlined like a static
//! one, which accepts at least what the kernel accepts on those paths.

use crate::cfg::Program;
use crate::error::VerifierError as E;
use crate::explore::{Flow, Res, Verifier};
use crate::input::VerifyInput;
use crate::prog_types::Access;
use crate::state::{DynptrKind, Frame, PtrTrust, Reg, RegKind, State};
use lull_abi::ProgType;
use lull_btf::{Btf, FuncLinkage, Kind, TypeKind};
use lull_isa::{CallTarget, Reg as IsaReg};

/// How an argument of a global function is passed (`bpf_subprog_arg_info.arg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// An integer or enum (`ARG_ANYTHING`): any scalar.
    Scalar,
    /// The program's context (`ARG_PTR_TO_CTX`).
    Ctx,
    /// A pointer to `size` bytes the function may read and write (`ARG_PTR_TO_MEM`), NULL
    /// allowed unless tagged `arg:nonnull`.
    Mem { size: u32, nullable: bool },
    /// `arg:trusted`: a trusted pointer to the kernel struct `btf_id` (`ARG_PTR_TO_BTF_ID |
    /// PTR_TRUSTED`), NULL allowed with `arg:nullable`.
    Trusted { btf_id: u32, nullable: bool },
    /// A `struct bpf_dynptr *` (`ARG_PTR_TO_DYNPTR | MEM_RDONLY`): an initialised dynptr,
    /// seen by the function as a local `CONST_PTR_TO_DYNPTR`.
    Dynptr,
}

/// Why a prototype gives no argument list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PrepareError {
    /// The kernel rejects the prototype with this log line.
    Invalid(String),
    /// Lull does not model an argument kind of it yet.
    Unsupported,
}

/// The canonical context struct of a program type as BPF C names it, and the kernel's own
/// struct it projects (`bpf_types.h`, `btf_is_projection_of`).
fn ctx_struct_names(pt: ProgType) -> &'static [&'static str] {
    use ProgType as P;
    match pt {
        P::SocketFilter
        | P::SchedCls
        | P::SchedAct
        | P::CgroupSkb
        | P::LwtIn
        | P::LwtOut
        | P::LwtXmit
        | P::LwtSeg6local
        | P::SkSkb
        | P::FlowDissector => &["__sk_buff", "sk_buff"],
        P::Xdp => &["xdp_md", "xdp_buff"],
        P::CgroupSock => &["bpf_sock", "sock"],
        P::CgroupSockAddr => &["bpf_sock_addr", "bpf_sock_addr_kern"],
        P::SockOps => &["bpf_sock_ops", "bpf_sock_ops_kern"],
        P::SkMsg => &["sk_msg_md", "sk_msg"],
        // The UAPI name itself (a struct of that name matches), or the typedef's struct.
        P::Kprobe => &["bpf_user_pt_regs_t", "pt_regs"],
        P::PerfEvent => &["bpf_perf_event_data", "bpf_perf_event_data_kern"],
        P::RawTracepoint | P::RawTracepointWritable => &["bpf_raw_tracepoint_args"],
        P::CgroupDevice => &["bpf_cgroup_dev_ctx"],
        P::CgroupSysctl => &["bpf_sysctl", "bpf_sysctl_kern"],
        P::CgroupSockopt => &["bpf_sockopt", "bpf_sockopt_kern"],
        P::SkReuseport => &["sk_reuseport_md", "sk_reuseport_kern"],
        P::SkLookup => &["bpf_sk_lookup", "bpf_sk_lookup_kern"],
        P::Netfilter => &["bpf_nf_ctx"],
        _ => &[],
    }
}

/// `btf_is_prog_ctx_type`: `ptr` (a PTR type) points to the program type's context struct.
fn is_prog_ctx_type(btf: &Btf, ptr_target: u32, pt: ProgType) -> bool {
    if pt == ProgType::Kprobe {
        // bpf_user_pt_regs_t is checked before typedefs are skipped.
        let mut id = ptr_target;
        while let Ok(t) = btf.type_by_id(id) {
            match t.kind {
                TypeKind::Const(n) | TypeKind::Volatile(n) | TypeKind::Restrict(n) => id = n,
                TypeKind::TypeTag(n) => id = n,
                TypeKind::Typedef(_) => {
                    if btf.name(t) == "bpf_user_pt_regs_t" {
                        return true;
                    }
                    break;
                }
                _ => break,
            }
        }
    }
    let Ok((_, t)) = btf.skip_mods_and_typedefs(ptr_target) else {
        return false;
    };
    t.kind() == Kind::Struct && ctx_struct_names(pt).contains(&btf.name(t))
}

/// The prototype of subprogram `sp`: `btf_prepare_func_args` for a function with BTF type
/// `type_id` in `btf`. `global` selects the rules (static functions never log).
pub(crate) fn prepare(
    input: &VerifyInput<'_>,
    btf: &Btf,
    type_id: u32,
    global: bool,
) -> Result<Vec<ArgKind>, PrepareError> {
    let invalid = |m: String| Err(PrepareError::Invalid(m));
    let fn_t = btf
        .type_by_id(type_id)
        .map_err(|_| PrepareError::Invalid("Global functions need valid BTF".into()))?;
    let TypeKind::Func { proto, .. } = fn_t.kind else {
        return invalid("BTF of func doesn't point to KIND_FUNC".into());
    };
    let name = btf.name(fn_t);
    let Some(TypeKind::FuncProto(fp)) = btf.type_by_id(proto).ok().map(|t| &t.kind) else {
        return invalid(format!("Invalid type of function {name}()"));
    };
    if fp.params.len() > 5 {
        return invalid(format!(
            "Global function {name}() with {} > 5 args. Buggy compiler.",
            fp.params.len()
        ));
    }
    let scalar = |id: u32| {
        btf.skip_mods_and_typedefs(id)
            .is_ok_and(|(_, t)| matches!(t.kind(), Kind::Int | Kind::Enum | Kind::Enum64))
    };
    if fp.ret_type == 0 || !scalar(fp.ret_type) {
        return invalid(format!(
            "Global function {name}() doesn't return scalar. Only those are supported."
        ));
    }
    let tags: Vec<(i32, &str)> = btf.decl_tags_for(type_id).collect();
    let mut args = Vec::with_capacity(fp.params.len());
    for (i, p) in fp.params.iter().enumerate() {
        let (mut ctx, mut trusted, mut nonnull, mut nullable) = (false, false, false, false);
        for (_, tag) in tags.iter().filter(|(c, _)| *c == i as i32) {
            let Some(tag) = tag.strip_prefix("arg:") else {
                continue;
            };
            if !global {
                return invalid(format!(
                    "arg#{i} type tag is not supported in static functions"
                ));
            }
            match tag {
                "ctx" => ctx = true,
                "trusted" => trusted = true,
                "nonnull" => nonnull = true,
                "nullable" => nullable = true,
                "arena" => return Err(PrepareError::Unsupported),
                _ => return invalid(format!("arg#{i} has unsupported set of tags")),
            }
        }
        let any_tag = ctx || trusted || nonnull || nullable;
        let Ok((_, t)) = btf.skip_mods_and_typedefs(p.type_id) else {
            return invalid(format!("arg#{i} has an invalid type"));
        };
        let TypeKind::Ptr(target) = t.kind else {
            if any_tag {
                return invalid(format!(
                    "arg#{i} has pointer tag, but is not a pointer type"
                ));
            }
            if scalar(p.type_id) {
                args.push(ArgKind::Scalar);
                continue;
            }
            return invalid(format!(
                "Arg#{i} type {} in {name}() is not supported yet.",
                t.kind().name()
            ));
        };
        if ctx || is_prog_ctx_type(btf, target, input.prog_type) {
            if trusted || nonnull || nullable {
                return invalid(format!("arg#{i} has invalid combination of tags"));
            }
            args.push(ArgKind::Ctx);
            continue;
        }
        let pointee = btf.skip_mods_and_typedefs(target).ok();
        if pointee.is_some_and(|(_, t)| t.kind() == Kind::Struct && btf.name(t) == "bpf_dynptr") {
            args.push(ArgKind::Dynptr);
            continue;
        }
        if trusted {
            if nonnull {
                return invalid(format!("arg#{i} has invalid combination of tags"));
            }
            let kernel_id = pointee
                .filter(|(_, t)| t.kind() == Kind::Struct)
                .and_then(|(_, t)| {
                    // Flavours (`task_struct___local`) name the kernel type before `___`.
                    let name = btf.name(t);
                    let essential = name.find("___").map_or(name, |i| &name[..i]);
                    input
                        .kernel_btf?
                        .find_by_name(essential, Some(Kind::Struct))
                });
            let Some(btf_id) = kernel_id else {
                return Err(PrepareError::Unsupported);
            };
            args.push(ArgKind::Trusted { btf_id, nullable });
            continue;
        }
        if !global {
            return invalid(format!("arg#{i} is not supported in static functions"));
        }
        // A generic pointer to user data: its size must be known.
        let size = match btf.skip_mods_and_typedefs(target) {
            Ok((id, _)) if id != 0 && target != 0 => btf.resolve_size(id).ok(),
            _ => None,
        };
        let Some(size) = size else {
            let (kind, tname) = match btf.skip_mods_and_typedefs(target) {
                _ if target == 0 => ("UNKNOWN", ""),
                Ok((id, t)) if id != 0 => (t.kind().name(), btf.name(t)),
                _ => ("UNKNOWN", ""),
            };
            return invalid(format!(
                "arg#{i} reference type('{kind} {tname}') size cannot be determined: -22"
            ));
        };
        args.push(ArgKind::Mem {
            size,
            nullable: !nonnull,
        });
    }
    Ok(args)
}

/// The global functions of a program: their prototypes and which were called / verified.
pub(crate) struct Globals {
    /// Per subprogram: `Some` when it is verified separately (a global function), holding its
    /// prototype or the reason the kernel refuses it.
    protos: Vec<Option<Result<Vec<ArgKind>, String>>>,
    /// Per subprogram: called from code already verified (`func_info_aux.called`).
    called: Vec<bool>,
    /// Per subprogram: verified on its own (`func_info_aux.verified`).
    verified: Vec<bool>,
    /// The main program's prototype problem, logged as the kernel does.
    main_note: Option<String>,
    /// Per subprogram: it or a function it calls changes packet data (`changes_pkt_data`),
    /// so calling it as a global function invalidates packet pointers.
    changes_pkt: Vec<bool>,
}

/// `changes_pkt_data` of every subprogram: it calls a packet-changing helper (tail calls
/// included), directly or through the functions it calls.
fn changes_pkt_data(prog: &Program) -> Vec<bool> {
    use lull_isa::{CallTarget, Insn};
    let n = prog.subprogs.len();
    let mut changes = vec![false; n];
    let mut callees: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (sp, s) in prog.subprogs.iter().enumerate() {
        for t in s.start..s.end {
            match prog.slots[t] {
                Some(Insn::Call(CallTarget::Helper(id))) if crate::proto::changes_pkt_data(id) => {
                    changes[sp] = true;
                }
                Some(Insn::Call(CallTarget::Local(imm))) => {
                    let target = t as i64 + i64::from(imm) + 1;
                    if let Some(c) = usize::try_from(target)
                        .ok()
                        .and_then(|t| prog.subprog_at(t))
                    {
                        callees[sp].push(c);
                    }
                }
                _ => {}
            }
        }
    }
    let mut changed = true;
    while changed {
        changed = false;
        for sp in 0..n {
            if !changes[sp] && callees[sp].iter().any(|&c| changes[c]) {
                changes[sp] = true;
                changed = true;
            }
        }
    }
    changes
}

impl Globals {
    /// Reads the prototypes of the global functions of `prog`.
    pub(crate) fn new(input: &VerifyInput<'_>, prog: &Program) -> Globals {
        let n = prog.subprogs.len();
        let mut g = Globals {
            protos: vec![None; n],
            called: vec![false; n],
            verified: vec![false; n],
            main_note: None,
            changes_pkt: changes_pkt_data(prog),
        };
        // The exception callback is presumed to be always called (`do_check_subprogs`).
        if let Some(sp) = prog.subprogs.iter().position(|s| s.exception_cb) {
            g.called[sp] = true;
        }
        let (Some(btf), Some(fi)) = (input.btf, input.func_info.as_deref()) else {
            return g;
        };
        for f in fi {
            let Some(sp) = prog.subprog_at(f.slot) else {
                continue;
            };
            let is_global = btf.type_by_id(f.type_id).is_ok_and(|t| {
                matches!(t.kind, TypeKind::Func { linkage, .. } if linkage == FuncLinkage::Global)
            });
            if !is_global || f.type_id == 0 {
                continue;
            }
            match (sp, prepare(input, btf, f.type_id, true)) {
                (0, Err(PrepareError::Invalid(m))) => g.main_note = Some(m),
                (0, _) => {}
                (_, Ok(args)) => g.protos[sp] = Some(Ok(args)),
                (_, Err(PrepareError::Invalid(m))) => g.protos[sp] = Some(Err(m)),
                (_, Err(PrepareError::Unsupported)) => {}
            }
        }
        g
    }

    /// Whether subprogram `sp` is verified on its own.
    pub(crate) fn separate(&self, sp: usize) -> bool {
        self.protos.get(sp).is_some_and(Option::is_some)
    }

    /// The next called global function not verified yet.
    fn next_pending(&self) -> Option<usize> {
        (1..self.protos.len()).find(|&i| self.separate(i) && self.called[i] && !self.verified[i])
    }
}

/// `check_btf_func`: a subprogram (not the main program) that uses `LD_ABS`/`LD_IND` or tail
/// calls must return a scalar.
pub(crate) fn check_return_types(input: &VerifyInput<'_>, prog: &Program) -> Result<(), E> {
    let (Some(btf), Some(fi)) = (input.btf, input.func_info.as_deref()) else {
        return Ok(());
    };
    for f in fi {
        let Some(sp) = prog.subprog_at(f.slot).filter(|&sp| sp != 0) else {
            continue;
        };
        let s = &prog.subprogs[sp];
        if !s.has_ld_abs && !s.has_tail_call {
            continue;
        }
        let ret = btf.type_by_id(f.type_id).ok().and_then(|t| match t.kind {
            TypeKind::Func { proto, .. } => match &btf.type_by_id(proto).ok()?.kind {
                TypeKind::FuncProto(fp) => Some(fp.ret_type),
                _ => None,
            },
            _ => None,
        });
        let Some(ret) = ret else { continue };
        let scalar = ret != 0
            && btf
                .skip_mods_and_typedefs(ret)
                .is_ok_and(|(_, t)| match &t.kind {
                    TypeKind::Int(i) => i.size <= 8,
                    TypeKind::Enum(_) | TypeKind::Enum64(_) => true,
                    _ => false,
                });
        if scalar {
            continue;
        }
        return Err(E::Malformed(if s.has_ld_abs {
            "LD_ABS is only allowed in functions that return 'int'.".into()
        } else {
            "tail_call is only allowed in functions that return 'int'.".into()
        }));
    }
    Ok(())
}

impl Verifier<'_> {
    fn subprog_name(&self, sp: usize) -> String {
        self.prog.subprogs[sp].name.clone().unwrap_or_default()
    }

    /// `subprog_info.might_sleep`: subprogram `sp`, or one it calls, calls a helper or kfunc
    /// that may sleep (`mark_subprog_might_sleep` and `merge_callee_effects`).
    fn might_sleep(&self, sp: usize) -> bool {
        let mut seen = vec![false; self.prog.subprogs.len()];
        let mut todo = vec![sp];
        while let Some(sp) = todo.pop() {
            if std::mem::replace(&mut seen[sp], true) {
                continue;
            }
            let s = &self.prog.subprogs[sp];
            for t in s.start..s.end {
                let Some(lull_isa::Insn::Call(target)) = self.prog.slots[t] else {
                    continue;
                };
                let sleeps = match target {
                    CallTarget::Helper(id) => crate::proto::lookup(id).might_sleep,
                    CallTarget::Kfunc { btf_id, module: 0 } => {
                        self.input.kernel_btf.is_some_and(|btf| {
                            btf.type_by_id(btf_id as u32).is_ok_and(|f| {
                                crate::proto::kfuncs::kfunc(btf.name(f)).is_some_and(|k| {
                                    k.flags & crate::proto::kfuncs::KF_SLEEPABLE != 0
                                })
                            })
                        })
                    }
                    CallTarget::Local(imm) => {
                        if let Some(c) = self.prog.subprog_at((t as i64 + imm as i64 + 1) as usize)
                        {
                            todo.push(c);
                        }
                        false
                    }
                    _ => false,
                };
                if sleeps {
                    return true;
                }
            }
        }
        false
    }

    /// A call of global function `sp` (`check_func_call`'s global branch).
    pub(crate) fn call_global(&mut self, sp: usize) -> Res<Flow> {
        let checked = self.check_global_args(sp);
        if self.cur.lock.is_some() {
            return Err(E::Malformed(
                "global function calls are not allowed while holding a lock,\nuse static function instead"
                    .into(),
            ));
        }
        // Linux 6.14+: only a global function that may sleep is refused outside a sleepable
        // context (in an RCU section, with preemption disabled, or in a non-sleepable program).
        if (self.cur.rcu_lock || self.cur.preempt_locks > 0 || !self.in_sleepable())
            && self.might_sleep(sp)
        {
            return Err(E::Malformed(
                "global functions that may sleep are not allowed in non-sleepable context,\ni.e., in a RCU/IRQ/preempt-disabled section, or in\na non-sleepable BPF program context"
                    .into(),
            ));
        }
        let name = self.subprog_name(sp);
        if let Err(e) = checked {
            return Err(E::WithNote {
                first: Box::new(e),
                note: format!("Caller passes invalid args into func#{sp} ('{name}')"),
            });
        }
        self.log.line(format_args!(
            "Func#{sp} ('{name}') is global and assumed valid."
        ));
        self.globals.called[sp] = true;
        if self.globals.changes_pkt[sp] {
            self.cur.for_each_reg(|r| {
                if r.kind.is_pkt() || r.kind == RegKind::PacketEnd {
                    *r = Reg::unknown();
                }
            });
        }
        let regs = self.cur.regs_mut();
        for r in regs.iter_mut().take(6).skip(1) {
            *r = Reg::NOT_INIT;
        }
        regs[0] = Reg::scalar(crate::domain::Scalar::unknown());
        self.scratched |= 0x3f;
        self.insn_idx += 1;
        Ok(Flow::Continue)
    }

    /// `btf_check_func_arg_match`: the caller's r1..r5 against the prototype.
    fn check_global_args(&mut self, sp: usize) -> Res<()> {
        let args = match &self.globals.protos[sp] {
            Some(Ok(args)) => args.clone(),
            Some(Err(m)) => return Err(E::Malformed(m.clone())),
            None => return Ok(()),
        };
        for (i, arg) in args.into_iter().enumerate() {
            let regno = IsaReg::new(i as u8 + 1).expect("at most 5 arguments");
            let rn = regno.num();
            let reg = self.cur.regs()[regno.index()];
            match arg {
                ArgKind::Scalar => {
                    if !reg.is_scalar() {
                        return Err(E::Malformed(format!("R{rn} is not a scalar")));
                    }
                }
                ArgKind::Ctx => {
                    if reg.kind == RegKind::Ctx && !reg.maybe_null && reg.off != 0 {
                        return Err(E::Malformed(format!(
                            "dereference of modified ctx ptr R{rn} off={} disallowed",
                            reg.off
                        )));
                    }
                    if reg.kind != RegKind::Ctx || reg.maybe_null {
                        return Err(E::Malformed(format!("arg#{i} expects pointer to ctx")));
                    }
                }
                ArgKind::Mem { size, nullable } => {
                    if reg.is_null() {
                        continue;
                    }
                    // check_mem_reg: the memory must be readable and writable, assuming the
                    // pointer is not NULL.
                    let saved = reg;
                    self.cur.regs_mut()[regno.index()].maybe_null = false;
                    let res = self
                        .arg_mem_access(regno, i64::from(size), Access::Read)
                        .and_then(|()| self.arg_mem_access(regno, i64::from(size), Access::Write));
                    self.cur.regs_mut()[regno.index()] = saved;
                    res?;
                    if !nullable && reg.maybe_null {
                        return Err(E::Malformed(format!("arg#{i} is expected to be non-NULL")));
                    }
                }
                ArgKind::Dynptr => {
                    // check_func_arg_reg_off, then process_dynptr_func.
                    if reg.is_pointer() && !matches!(reg.kind, RegKind::Stack { .. }) {
                        crate::check::fixed_off_is_zero(&reg, rn)?;
                    }
                    let arg = crate::check::DynptrArg {
                        rdonly: true,
                        ..Default::default()
                    };
                    self.process_dynptr_arg(rn, arg, 0)?;
                }
                ArgKind::Trusted { btf_id, nullable } => {
                    if reg.is_null() && nullable {
                        continue;
                    }
                    // check_reg_type: plain, trusted and RCU pointers; NULL-able ones only
                    // for a nullable argument.
                    let ok = match reg.kind {
                        RegKind::KernelPtr { btf_id: id, trust } => {
                            (id == btf_id || id == 0)
                                && trust != PtrTrust::Untrusted
                                && (nullable || !reg.maybe_null)
                        }
                        _ => false,
                    };
                    if !ok {
                        return Err(E::ArgType {
                            reg: rn,
                            ty: reg.type_str(),
                            expected: "ptr_, trusted_ptr_, rcu_ptr_".into(),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// `do_check_subprogs`: verifies every global function called from verified code, each
    /// from a state built from its prototype, until none is left.
    pub(crate) fn verify_globals(&mut self) -> Res<()> {
        while let Some(sp) = self.globals.next_pending() {
            let name = self.subprog_name(sp);
            self.log
                .line(format_args!("Validating {name}() func#{sp}..."));
            let args = match &self.globals.protos[sp] {
                Some(Ok(args)) => args.clone(),
                Some(Err(m)) => return Err(E::Malformed(m.clone())),
                None => continue,
            };
            if self.prog.subprogs[sp].exception_cb && args[..] != [ArgKind::Scalar] {
                return Err(E::Malformed(
                    "exception cb only supports single integer argument".into(),
                ));
            }
            let mut frame = Frame::new(0, sp, 0);
            for (i, arg) in args.iter().enumerate() {
                frame.regs[i + 1] = match *arg {
                    ArgKind::Scalar => Reg::scalar(crate::domain::Scalar::unknown()),
                    ArgKind::Ctx => Reg::pointer(RegKind::Ctx),
                    ArgKind::Mem { size, nullable } => {
                        let mut r = Reg::pointer(RegKind::Mem {
                            size,
                            ringbuf: false,
                            rdonly: false,
                            dynptr: 0,
                        });
                        r.maybe_null = nullable;
                        r.id = self.new_id();
                        r
                    }
                    ArgKind::Dynptr => {
                        let mut r = Reg::pointer(RegKind::ConstDynptr(DynptrKind::Local));
                        r.id = self.new_id();
                        r
                    }
                    ArgKind::Trusted { btf_id, nullable } => {
                        let mut r = Reg::pointer(RegKind::KernelPtr {
                            btf_id,
                            trust: PtrTrust::Trusted,
                        });
                        r.maybe_null = nullable;
                        r.id = self.new_id();
                        r
                    }
                };
            }
            let mut state = State::entry();
            state.frames = vec![frame];
            let start = self.prog.subprogs[sp].start;
            self.restart(state, start);
            if self.log.level() > 0 {
                let mut s = format!("{start}:");
                crate::state::fmt::write_frame(&mut s, self.cur.cur(), &self.cur, &self.maps, None);
                self.log.line(format_args!("{s}"));
                self.print_state = false;
            }
            self.run()?;
            self.log.line(format_args!(
                "Func#{sp} ('{name}') is safe for any args that match its prototype"
            ));
            self.globals.verified[sp] = true;
        }
        Ok(())
    }

    /// Logs the main program's prototype problem (the kernel prints it and goes on).
    pub(crate) fn log_main_prototype(&mut self) {
        if let Some(m) = self.globals.main_note.take() {
            self.log.line(format_args!("{m}"));
        }
    }

    /// Forgets the explored states and starts a new exploration (`free_states` + the entry
    /// of `do_check_common`).
    fn restart(&mut self, state: State, insn: usize) {
        self.cur = state;
        self.insn_idx = insn;
        self.prev_insn_idx = insn;
        self.parent = None;
        self.branches.clear();
        self.ckpts = crate::prune::Checkpoints::new(self.prog.len());
        self.prec = crate::precision::Precision::new(&self.prog);
        self.print_state = true;
    }

    /// An exit from a global function's own frame (`check_return_code` for a subprogram):
    /// r0 must be a scalar.
    pub(crate) fn exit_global(&mut self) -> Res<Flow> {
        let r0 = self.src_reg(IsaReg::R0)?;
        if r0.is_pointer() && !self.perfmon {
            return Err(E::LeakAsReturn(0));
        }
        if !r0.is_scalar() {
            return Err(E::Malformed(format!(
                "At subprogram exit the register R0 is not a scalar value ({})",
                r0.type_str()
            )));
        }
        Ok(Flow::PathDone)
    }
}
