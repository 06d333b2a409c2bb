//! Translation of one BPF function into Cranelift IR.
//!
//! Registers are `cranelift-frontend` variables (SSA is built for us); each basic-block leader
//! gets a Cranelift block. ALU semantics follow RFC 9669 exactly, without traps: division and
//! modulo guard zero and `-1` divisors before Cranelift's trapping `udiv`/`sdiv`/`urem`/`srem`.
//!
//! In [`Mode::Checked`] every memory access is guarded inline (current stack window, then the
//! input memory) with a cold call into [`crate::runtime::jit_mem`] for everything else, and
//! fuel (the instruction budget) is charged per basic block and tested at backward jumps.

use std::collections::{BTreeMap, HashMap};

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I8, I16, I32, I64};
use cranelift_codegen::ir::{
    AbiParam, AtomicRmwOp, Block, BlockArg, FuncRef, InstBuilder, MemFlagsData, SigRef, Signature,
    Type, Value,
};
use cranelift_codegen::isa::TargetFrontendConfig;
use cranelift_frontend::{FunctionBuilder, Variable};
use lull_interp::{Access, FRAME_SIZE, MAY_GOTO_BUDGET};
use lull_isa::{AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, Operand, Reg, Size, Width};

use crate::cfg::{Cfg, Function};
use crate::code::Mode;
use crate::ctx;
use crate::intrinsics::{Intrinsics, LoopIntrinsic, NOT_HANDLED};
use crate::runtime::{self, access_code, fault_kind};

/// What every function of a program shares.
pub(crate) struct Program<'a> {
    /// Control-flow facts.
    pub cfg: &'a Cfg<'a>,
    /// Checked or trusted code.
    pub mode: Mode,
    /// Per instruction: the value of an `lddw` (resolved at compile time).
    pub lddw: &'a [u64],
    /// Per instruction: the call-table index of a helper/kfunc `call`.
    pub call_index: &'a [u32],
    /// Helpers to inline.
    pub intrinsics: &'a Intrinsics,
}

/// Signatures of the trampolines and of compiled functions.
pub(crate) struct Signatures {
    /// `fn(*mut JitCtx) -> u64`.
    pub func: Signature,
    mem: Signature,
    fault: Signature,
    call: Signature,
    callx: Signature,
    lookup: Signature,
}

impl Signatures {
    /// Signatures in the target's default calling convention (the C one).
    pub(crate) fn new(base: Signature) -> Signatures {
        let sig = |params: usize, ret: bool| {
            let mut s = base.clone();
            s.params = vec![AbiParam::new(I64); params];
            s.returns = if ret {
                vec![AbiParam::new(I64)]
            } else {
                vec![]
            };
            s
        };
        Signatures {
            func: sig(1, true),
            mem: sig(4, true),
            fault: sig(3, false),
            call: sig(8, true),
            callx: sig(9, true),
            lookup: sig(2, true),
        }
    }
}

/// Imported signatures inside one function.
struct Sigs {
    mem: SigRef,
    fault: SigRef,
    call: SigRef,
    callx: SigRef,
    lookup: SigRef,
}

/// Values checked code computes once per function entry.
#[derive(Clone, Copy)]
struct Bounds {
    /// Lowest address of the stack window (the current frame's bottom).
    floor: Value,
    /// Size of the stack window.
    span: Value,
    /// Address of the input memory.
    in_start: Value,
    /// See [`crate::ctx::JitCtx::input_lim`].
    in_lim: Value,
}

fn flags() -> MemFlagsData {
    MemFlagsData::new()
}

fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Translates `f` into `b`'s function. `local` gives the function reference of each
/// function entry (for local calls).
pub(crate) fn translate(
    b: FunctionBuilder<'_>,
    prog: &Program<'_>,
    sigs: &Signatures,
    f: &Function,
    local: &HashMap<usize, FuncRef>,
    target: TargetFrontendConfig,
) {
    let mut b = b;
    let sigs = Sigs {
        mem: b.import_signature(sigs.mem.clone()),
        fault: b.import_signature(sigs.fault.clone()),
        call: b.import_signature(sigs.call.clone()),
        callx: b.import_signature(sigs.callx.clone()),
        lookup: b.import_signature(sigs.lookup.clone()),
    };
    let regs: [Variable; 11] = std::array::from_fn(|_| b.declare_var(I64));
    let fuel = b.declare_var(I64);
    let may_goto = b.declare_var(I64);

    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let ctx = b.block_params(entry)[0];
    for (i, &r) in regs.iter().enumerate() {
        let v = b.ins().load(I64, trusted(), ctx, ctx::reg_offset(i));
        b.def_var(r, v);
    }
    let budget = b.ins().iconst(I64, MAY_GOTO_BUDGET as i64);
    b.def_var(may_goto, budget);
    let checked = prog.mode == Mode::Checked;
    let bounds = if checked {
        let v = b.ins().load(I64, trusted(), ctx, ctx::FUEL);
        b.def_var(fuel, v);
        let top = b.ins().load(I64, trusted(), ctx, ctx::STACK_TOP);
        let r10 = b.use_var(regs[10]);
        let floor = b.ins().iadd_imm_s(r10, -(FRAME_SIZE as i64));
        let span = b.ins().isub(top, floor);
        let in_start = b.ins().load(I64, trusted(), ctx, ctx::INPUT_START);
        let in_lim = b.ins().load(I64, trusted(), ctx, ctx::INPUT_LIM);
        Some(Bounds {
            floor,
            span,
            in_start,
            in_lim,
        })
    } else {
        let zero = b.ins().iconst(I64, 0);
        b.def_var(fuel, zero);
        None
    };
    let blocks: BTreeMap<usize, Block> = f.leaders.iter().map(|&i| (i, b.create_block())).collect();
    let unwind = b.create_block();
    b.set_cold_block(unwind);
    b.ins().jump(blocks[&f.entry], &[]);

    let mut t = Translator {
        b,
        prog,
        sigs,
        local,
        regs,
        fuel,
        may_goto,
        ctx,
        bounds,
        blocks,
        unwind,
        pending: Vec::new(),
        consts: [None; 11],
    };
    let mut open = false;
    for &i in &f.body {
        if let Some(&blk) = t.blocks.get(&i) {
            if open {
                t.b.ins().jump(blk, &[]);
            }
            t.b.switch_to_block(blk);
            t.consts = [None; 11];
            if checked {
                let n = f.block_len(prog.cfg, i);
                let v = t.b.use_var(fuel);
                let v = t.b.ins().iadd_imm_s(v, -(n as i64));
                t.b.def_var(fuel, v);
            }
        } else if !open {
            // Unreachable by construction (a non-leader follows a non-terminator).
            continue;
        }
        open = t.insn(i);
        t.track_consts(i);
    }
    if open {
        // Unreachable by construction (the last instruction is `exit` or `ja`).
        t.b.ins().jump(t.unwind, &[]);
    }
    t.emit_faults();
    t.b.switch_to_block(t.unwind);
    let zero = t.b.ins().iconst(I64, 0);
    t.b.ins().return_(&[zero]);
    t.b.seal_all_blocks();
    t.b.finalize(target);
}

/// A fault block to fill once the function body is done.
struct PendingFault {
    block: Block,
    idx: usize,
    kind: u64,
    detail: u64,
    arg: Option<Value>,
}

struct Translator<'a, 'b> {
    b: FunctionBuilder<'b>,
    prog: &'a Program<'a>,
    sigs: Sigs,
    local: &'a HashMap<usize, FuncRef>,
    regs: [Variable; 11],
    fuel: Variable,
    may_goto: Variable,
    ctx: Value,
    bounds: Option<Bounds>,
    blocks: BTreeMap<usize, Block>,
    unwind: Block,
    pending: Vec<PendingFault>,
    /// Registers known to hold a constant (`mov` of an immediate, `lddw`) since the start of
    /// the current basic block.
    consts: [Option<u64>; 11],
}

impl Translator<'_, '_> {
    /// Updates [`Self::consts`] after instruction `idx`.
    fn track_consts(&mut self, idx: usize) {
        let insn = self.prog.cfg.insns[idx].insn;
        let forget = |c: &mut [Option<u64>; 11], r: Reg| c[r.index()] = None;
        match insn {
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst,
                src: Operand::Imm(imm),
            } => self.consts[dst.index()] = Some(i64::from(imm) as u64),
            Insn::LdImm64 { dst, .. } => self.consts[dst.index()] = Some(self.prog.lddw[idx]),
            Insn::Alu { dst, .. } | Insn::Endian { dst, .. } | Insn::Load { dst, .. } => {
                forget(&mut self.consts, dst)
            }
            Insn::AddrSpaceCast { dst, .. } => forget(&mut self.consts, dst),
            Insn::Atomic { src, .. } => {
                forget(&mut self.consts, src);
                forget(&mut self.consts, Reg::R0);
            }
            Insn::Call(_) | Insn::CallX { .. } | Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                for r in &mut self.consts[0..6] {
                    *r = None;
                }
            }
            _ => {}
        }
    }

    fn reg(&mut self, r: Reg) -> Value {
        self.b.use_var(self.regs[r.index()])
    }

    fn set(&mut self, r: Reg, v: Value) {
        self.b.def_var(self.regs[r.index()], v);
    }

    fn slot(&self, idx: usize) -> u64 {
        self.prog.cfg.slot(idx) as u64
    }

    fn iconst(&mut self, ty: Type, v: i64) -> Value {
        self.b.ins().iconst(ty, v)
    }

    /// The second operand at width `ty` (I32 or I64; immediates sign-extended to 64 bits).
    fn operand(&mut self, src: Operand, ty: Type) -> Value {
        match src {
            Operand::Reg(r) => {
                let v = self.reg(r);
                if ty == I32 {
                    self.b.ins().ireduce(I32, v)
                } else {
                    v
                }
            }
            Operand::Imm(imm) => {
                let v = if ty == I32 {
                    i64::from(imm as u32)
                } else {
                    i64::from(imm)
                };
                self.iconst(ty, v)
            }
        }
    }

    fn call_trampoline(&mut self, sig: SigRef, func: usize, args: &[Value]) -> Option<Value> {
        let callee = self.iconst(I64, func as i64);
        let inst = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(inst).first().copied()
    }

    /// Leaves the function after a trampoline reported a fault (status already set).
    fn fault(&mut self, idx: usize, kind: u64, detail: u64, arg: Value) {
        let info = self.iconst(I64, (kind | detail << 8 | self.slot(idx) << 32) as i64);
        let ctx = self.ctx;
        self.call_trampoline(
            self.sigs.fault,
            runtime::jit_fault as *const () as usize,
            &[ctx, info, arg],
        );
        self.b.ins().jump(self.unwind, &[]);
    }

    /// A cold block reporting fault `kind` at instruction `idx` (filled at the end of the
    /// function, so the current block stays open).
    fn fault_block(&mut self, idx: usize, kind: u64, detail: u64, arg: Option<Value>) -> Block {
        let blk = self.b.create_block();
        self.b.set_cold_block(blk);
        self.pending.push(PendingFault {
            block: blk,
            idx,
            kind,
            detail,
            arg,
        });
        blk
    }

    /// Fills the blocks [`Self::fault_block`] created.
    fn emit_faults(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            self.b.switch_to_block(p.block);
            let arg = p.arg.unwrap_or_else(|| self.iconst(I64, 0));
            self.fault(p.idx, p.kind, p.detail, arg);
        }
    }

    /// Checks the status after a call and unwinds if it is not OK.
    fn check_status(&mut self) {
        let status = self.b.ins().load(I64, trusted(), self.ctx, ctx::STATUS);
        let next = self.b.create_block();
        self.b.ins().brif(status, self.unwind, &[], next, &[]);
        self.b.switch_to_block(next);
    }

    fn save_fuel(&mut self) {
        if self.bounds.is_some() {
            let v = self.b.use_var(self.fuel);
            self.b.ins().store(trusted(), v, self.ctx, ctx::FUEL);
        }
    }

    fn reload_fuel(&mut self) {
        if self.bounds.is_some() {
            let v = self.b.ins().load(I64, trusted(), self.ctx, ctx::FUEL);
            self.b.def_var(self.fuel, v);
        }
    }

    /// Jumps from instruction `idx` to instruction `target` (testing the budget on backward
    /// jumps in checked code).
    fn goto(&mut self, idx: usize, target: usize) {
        let blk = self.blocks[&target];
        if target <= idx && self.bounds.is_some() {
            let fuel = self.b.use_var(self.fuel);
            let out = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, fuel, 0);
            let fault = self.fault_block(idx, fault_kind::BUDGET, 0, None);
            self.b.ins().brif(out, fault, &[], blk, &[]);
        } else {
            self.b.ins().jump(blk, &[]);
        }
    }

    /// Branches to `target` when `cond`, else falls through to the next instruction.
    fn branch(&mut self, idx: usize, cond: Value, target: usize) {
        let fall = self.blocks[&(idx + 1)];
        if target <= idx && self.bounds.is_some() {
            let check = self.b.create_block();
            self.b.ins().brif(cond, check, &[], fall, &[]);
            self.b.switch_to_block(check);
            self.goto(idx, target);
        } else {
            let blk = self.blocks[&target];
            self.b.ins().brif(cond, blk, &[], fall, &[]);
        }
    }

    /// Pointer for an access of `size` bytes at `addr` by instruction `idx`: `addr` itself
    /// in trusted code; in checked code, after validation (unwinding on a fault).
    fn mem_ptr(&mut self, idx: usize, addr: Value, size: u32, access: Access) -> Value {
        let Some(bd) = self.bounds else {
            return addr;
        };
        let join = self.b.create_block();
        let ptr = self.b.append_block_param(join, I64);
        let try_input = self.b.create_block();
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);

        let off = self.b.ins().isub(addr, bd.floor);
        let lim = self.b.ins().iadd_imm_s(bd.span, 1 - i64::from(size));
        let in_stack = self.b.ins().icmp(IntCC::UnsignedLessThan, off, lim);
        self.b
            .ins()
            .brif(in_stack, join, &[BlockArg::Value(addr)], try_input, &[]);

        self.b.switch_to_block(try_input);
        let off = self.b.ins().isub(addr, bd.in_start);
        let in_input = self.b.ins().icmp(IntCC::UnsignedLessThan, off, bd.in_lim);
        self.b
            .ins()
            .brif(in_input, join, &[BlockArg::Value(addr)], slow, &[]);

        self.b.switch_to_block(slow);
        let info = u64::from(size) | access_code(access) << 8 | self.slot(idx) << 32;
        let info = self.iconst(I64, info as i64);
        let r10 = self.reg(Reg::R10);
        let ctx = self.ctx;
        let p = self
            .call_trampoline(
                self.sigs.mem,
                runtime::jit_mem as *const () as usize,
                &[ctx, addr, info, r10],
            )
            .expect("jit_mem returns a pointer");
        self.b
            .ins()
            .brif(p, join, &[BlockArg::Value(p)], self.unwind, &[]);

        self.b.switch_to_block(join);
        ptr
    }

    /// Translates instruction `idx`; returns whether execution can fall through.
    fn insn(&mut self, idx: usize) -> bool {
        let insn = self.prog.cfg.insns[idx].insn;
        if lull_interp::writes_frame_pointer(&insn) {
            let zero = self.iconst(I64, 0);
            self.fault(idx, fault_kind::FRAME_POINTER_WRITE, 0, zero);
            return false;
        }
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width, op, dst, src),
            Insn::Endian { kind, dst, bits } => self.endian(kind, dst, bits),
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let base = self.reg(src);
                let addr = self.b.ins().iadd_imm_s(base, i64::from(off));
                let p = self.mem_ptr(idx, addr, size.bytes(), Access::Read);
                let f = flags();
                let v = match (size, signed) {
                    (Size::B, false) => self.b.ins().uload8(I64, f, p, 0),
                    (Size::H, false) => self.b.ins().uload16(I64, f, p, 0),
                    (Size::W, false) => self.b.ins().uload32(f, p, 0),
                    (Size::B, true) => self.b.ins().sload8(I64, f, p, 0),
                    (Size::H, true) => self.b.ins().sload16(I64, f, p, 0),
                    (Size::W, true) => self.b.ins().sload32(f, p, 0),
                    (Size::DW, _) => self.b.ins().load(I64, f, p, 0),
                };
                self.set(dst, v);
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => {
                let v = self.operand(src, I64);
                let base = self.reg(dst);
                let addr = self.b.ins().iadd_imm_s(base, i64::from(off));
                let p = self.mem_ptr(idx, addr, size.bytes(), Access::Write);
                let f = flags();
                match size {
                    Size::B => self.b.ins().istore8(f, v, p, 0),
                    Size::H => self.b.ins().istore16(f, v, p, 0),
                    Size::W => self.b.ins().istore32(f, v, p, 0),
                    Size::DW => self.b.ins().store(f, v, p, 0),
                };
            }
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.atomic(idx, size, op, dst, src, off),
            Insn::LdImm64 { dst, .. } => {
                let v = self.iconst(I64, self.prog.lddw[idx] as i64);
                self.set(dst, v);
            }
            Insn::LdAbs { size, imm } | Insn::LdInd { size, imm, .. } => {
                let ci = self.prog.call_index[idx];
                if ci == u32::MAX {
                    let zero = self.iconst(I64, 0);
                    self.fault(idx, fault_kind::PACKET_LOAD, 0, zero);
                    return false;
                }
                self.packet_load(idx, ci, insn, size, imm);
            }
            Insn::AddrSpaceCast { .. } => {
                let zero = self.iconst(I64, 0);
                self.fault(idx, fault_kind::ADDR_SPACE_CAST, 0, zero);
                return false;
            }
            Insn::Ja { off, .. } => {
                let t = self.target(idx, off.into());
                self.goto(idx, t);
                return false;
            }
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let t = self.target(idx, off.into());
                let c = self.condition(width, cond, dst, src);
                self.branch(idx, c, t);
                return false;
            }
            Insn::MayGoto { off } => {
                let t = self.target(idx, off.into());
                let n = self.b.use_var(self.may_goto);
                let done = self.b.ins().icmp_imm_s(IntCC::Equal, n, 0);
                let dec = self.b.ins().iadd_imm_s(n, -1);
                let n = self.b.ins().select(done, n, dec);
                self.b.def_var(self.may_goto, n);
                self.branch(idx, done, t);
                return false;
            }
            Insn::Call(CallTarget::Helper(id)) if self.inline_helper(idx, id) => {}
            Insn::Call(CallTarget::Helper(_) | CallTarget::Kfunc { .. }) => {
                let info = u64::from(self.prog.call_index[idx]) | self.slot(idx) << 32;
                let info = self.iconst(I64, info as i64);
                let args = self.args();
                let r0 = self.helper_call(
                    self.sigs.call,
                    runtime::jit_call as *const () as usize,
                    &[info],
                    args,
                );
                self.set(Reg::R0, r0);
            }
            Insn::CallX { dst } => {
                let id = self.reg(dst);
                let slot = self.iconst(I64, self.slot(idx) as i64);
                let args = self.args();
                let r0 = self.helper_call(
                    self.sigs.callx,
                    runtime::jit_callx as *const () as usize,
                    &[id, slot],
                    args,
                );
                self.set(Reg::R0, r0);
            }
            Insn::Call(CallTarget::Local(rel)) => {
                let t = self.target(idx, rel.into());
                self.local_call(idx, t);
            }
            Insn::Exit => {
                self.save_fuel();
                let r0 = self.reg(Reg::R0);
                self.leave(r0);
                return false;
            }
        }
        true
    }

    fn target(&self, idx: usize, rel: i64) -> usize {
        self.prog
            .cfg
            .target(idx, rel)
            .expect("prepare validated every target")
    }

    /// Returns from the function with `r0`, writing r1..r5 back to the context (the calling
    /// convention; fuel must already be in the context).
    fn leave(&mut self, r0: Value) {
        for r in 1..=5 {
            let v = self.b.use_var(self.regs[r]);
            self.b
                .ins()
                .store(trusted(), v, self.ctx, ctx::reg_offset(r));
        }
        self.b.ins().return_(&[r0]);
    }

    /// r1..r5.
    fn args(&mut self) -> [Value; 5] {
        std::array::from_fn(|i| self.b.use_var(self.regs[i + 1]))
    }

    /// `call` of a helper, kfunc (`jit_call`) or `callx` (`jit_callx`) with `args` as r1..r5:
    /// `lead` are the arguments between the context and r10. Returns the helper's r0. A helper
    /// that asks its caller to return ([`ctx::STATUS_RETURN`]) makes this function return
    /// that r0; any other status unwinds.
    fn helper_call(&mut self, sig: SigRef, func: usize, lead: &[Value], args: [Value; 5]) -> Value {
        self.save_fuel();
        let mut all = vec![self.ctx];
        all.extend_from_slice(lead);
        all.push(self.reg(Reg::R10));
        all.extend_from_slice(&args);
        let r0 = self
            .call_trampoline(sig, func, &all)
            .expect("helpers return r0");
        let status = self.b.ins().load(I64, trusted(), self.ctx, ctx::STATUS);
        let next = self.b.create_block();
        let stop = self.b.create_block();
        self.b.set_cold_block(stop);
        self.b.ins().brif(status, stop, &[], next, &[]);
        self.b.switch_to_block(stop);
        let ret = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, status, ctx::STATUS_RETURN as i64);
        let frame_return = self.b.create_block();
        self.b.set_cold_block(frame_return);
        self.b.ins().brif(ret, frame_return, &[], self.unwind, &[]);
        self.b.switch_to_block(frame_return);
        let ok = self.iconst(I64, ctx::STATUS_OK as i64);
        self.b.ins().store(trusted(), ok, self.ctx, ctx::STATUS);
        let v = self
            .b
            .ins()
            .load(I64, trusted(), self.ctx, ctx::reg_offset(0));
        self.leave(v);
        self.b.switch_to_block(next);
        self.reload_fuel();
        r0
    }

    /// Inlines helper `id` called at `idx` if it is an intrinsic whose conditions hold;
    /// returns whether it did.
    fn inline_helper(&mut self, idx: usize, id: i32) -> bool {
        let intr = self.prog.intrinsics;
        if let Some(l) = intr.bpf_loop
            && i32::from(l.helper) == id
            && self.consts[Reg::R4.index()] == Some(0)
            && let Some(cb) = self.consts[Reg::R2.index()]
            && let Some(entry) = self.prog.cfg.index_of_slot(cb)
            && let Some(&func) = self.local.get(&entry)
        {
            self.inline_loop(idx, l, func);
            return true;
        }
        if let Some((helper, f)) = intr.map_lookup
            && i32::from(helper) == id
            && self.prog.mode == Mode::Trusted
        {
            self.inline_lookup(idx, f as *const () as usize);
            return true;
        }
        false
    }

    /// The helper call of instruction `idx` as it would be without inlining; returns r0.
    fn plain_helper_call(&mut self, idx: usize) -> Value {
        let info = u64::from(self.prog.call_index[idx]) | self.slot(idx) << 32;
        let info = self.iconst(I64, info as i64);
        let args = self.args();
        self.helper_call(
            self.sigs.call,
            runtime::jit_call as *const () as usize,
            &[info],
            args,
        )
    }

    /// `bpf_map_lookup_elem` through the host's direct lookup (trusted code), falling back to
    /// the helper when the host declines the map.
    fn inline_lookup(&mut self, idx: usize, f: usize) {
        let map = self.reg(Reg::R1);
        let key = self.reg(Reg::R2);
        let r = self
            .call_trampoline(self.sigs.lookup, f, &[map, key])
            .expect("lookups return a value");
        let join = self.b.create_block();
        let r0 = self.b.append_block_param(join, I64);
        let slow = self.b.create_block();
        self.b.set_cold_block(slow);
        let declined = self.b.ins().icmp_imm_s(IntCC::Equal, r, NOT_HANDLED as i64);
        self.b
            .ins()
            .brif(declined, slow, &[], join, &[BlockArg::Value(r)]);
        self.b.switch_to_block(slow);
        let v = self.plain_helper_call(idx);
        self.b.ins().jump(join, &[BlockArg::Value(v)]);
        self.b.switch_to_block(join);
        self.set(Reg::R0, r0);
    }

    /// `bpf_loop(r1, callback, r3, 0)` as a native loop calling the compiled callback `func`
    /// in a new frame, with the helper's results (see [`crate::Intrinsics`]).
    fn inline_loop(&mut self, idx: usize, l: LoopIntrinsic, func: FuncRef) {
        let r1 = self.reg(Reg::R1);
        let nr = self.b.ins().band_imm_u(r1, 0xffff_ffff);
        let cb_ctx = self.reg(Reg::R3);
        let r10 = self.reg(Reg::R10);
        let done = self.b.create_block();
        let result = self.b.append_block_param(done, I64);
        let head = self.b.create_block();
        let i = self.b.append_block_param(head, I64);
        let body = self.b.create_block();
        let after = self.b.create_block();
        let ret = self.b.append_block_param(after, I64);
        let exited = self.b.create_block();
        self.b.set_cold_block(exited);

        let too_big = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedGreaterThan, nr, l.max_loops as i64);
        let e2big = self.iconst(I64, l.too_big as i64);
        let zero = self.iconst(I64, 0);
        self.b.ins().brif(
            too_big,
            done,
            &[BlockArg::Value(e2big)],
            head,
            &[BlockArg::Value(zero)],
        );

        self.b.switch_to_block(head);
        let more = self.b.ins().icmp(IntCC::UnsignedLessThan, i, nr);
        self.b
            .ins()
            .brif(more, body, &[], done, &[BlockArg::Value(nr)]);

        self.b.switch_to_block(body);
        let limit = self.b.ins().load(I64, trusted(), self.ctx, ctx::CALL_LIMIT);
        let deep = self.b.ins().icmp(IntCC::UnsignedLessThan, r10, limit);
        let fault = self.fault_block(idx, fault_kind::CALL_DEPTH, 0, None);
        let call = self.b.create_block();
        self.b.ins().brif(deep, fault, &[], call, &[]);
        self.b.switch_to_block(call);
        // The callback's registers: r1 = i, r2 = the context argument, r10 = a new frame, the
        // rest zero (as a helper-run callback starts).
        let zero = self.iconst(I64, 0);
        for r in [0, 3, 4, 5, 6, 7, 8, 9] {
            self.b
                .ins()
                .store(trusted(), zero, self.ctx, ctx::reg_offset(r));
        }
        self.b
            .ins()
            .store(trusted(), i, self.ctx, ctx::reg_offset(1));
        self.b
            .ins()
            .store(trusted(), cb_ctx, self.ctx, ctx::reg_offset(2));
        let callee_r10 = self.b.ins().iadd_imm_s(r10, -(FRAME_SIZE as i64));
        self.b
            .ins()
            .store(trusted(), callee_r10, self.ctx, ctx::reg_offset(10));
        self.save_fuel();
        let inst = self.b.ins().call(func, &[self.ctx]);
        let r = self.b.inst_results(inst)[0];
        let status = self.b.ins().load(I64, trusted(), self.ctx, ctx::STATUS);
        self.b
            .ins()
            .brif(status, exited, &[], after, &[BlockArg::Value(r)]);

        // A helper's exit request inside the callback ends the callback with that r0 (as
        // when a helper runs it); anything else unwinds.
        self.b.switch_to_block(exited);
        let is_exit = self
            .b
            .ins()
            .icmp_imm_s(IntCC::Equal, status, ctx::STATUS_EXIT as i64);
        let resume = self.b.create_block();
        self.b.set_cold_block(resume);
        self.b.ins().brif(is_exit, resume, &[], self.unwind, &[]);
        self.b.switch_to_block(resume);
        let ok = self.iconst(I64, ctx::STATUS_OK as i64);
        self.b.ins().store(trusted(), ok, self.ctx, ctx::STATUS);
        let v = self
            .b
            .ins()
            .load(I64, trusted(), self.ctx, ctx::reg_offset(0));
        self.b.ins().jump(after, &[BlockArg::Value(v)]);

        self.b.switch_to_block(after);
        self.reload_fuel();
        let next = self.b.ins().iadd_imm_s(i, 1);
        self.b.ins().brif(
            ret,
            done,
            &[BlockArg::Value(next)],
            head,
            &[BlockArg::Value(next)],
        );

        self.b.switch_to_block(done);
        self.set(Reg::R0, result);
    }

    /// `LD_ABS`/`LD_IND` through the host's packet loader (call-table entry `ci`): r0 = the
    /// loaded value, or, when the bytes are outside the packet (a negative result), the
    /// function returns 0 — the kernel's rule.
    fn packet_load(&mut self, idx: usize, ci: u32, insn: Insn, size: Size, imm: i32) {
        let base = match insn {
            Insn::LdInd { src, .. } => self.reg(src),
            _ => self.iconst(I64, 0),
        };
        // The kernel computes the offset in a 64-bit register and passes it as `int`.
        let off = self.b.ins().iadd_imm_s(base, i64::from(imm));
        let off = self.b.ins().ireduce(I32, off);
        let off = self.b.ins().sextend(I64, off);
        let info = u64::from(ci) | self.slot(idx) << 32;
        let info = self.iconst(I64, info as i64);
        let r6 = self.reg(Reg::R6);
        let bytes = self.iconst(I64, i64::from(size.bytes()));
        let zero = self.iconst(I64, 0);
        let r = self.helper_call(
            self.sigs.call,
            runtime::jit_call as *const () as usize,
            &[info],
            [r6, off, bytes, zero, zero],
        );
        let outside = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, 0);
        let ret0 = self.b.create_block();
        let next = self.b.create_block();
        self.b.set_cold_block(ret0);
        self.b.ins().brif(outside, ret0, &[], next, &[]);
        self.b.switch_to_block(ret0);
        self.save_fuel();
        let z = self.iconst(I64, 0);
        self.leave(z);
        self.b.switch_to_block(next);
        self.set(Reg::R0, r);
    }

    /// Local call of the function at instruction `target` from instruction `idx`.
    fn local_call(&mut self, idx: usize, target: usize) {
        let r10 = self.reg(Reg::R10);
        let limit = self.b.ins().load(I64, trusted(), self.ctx, ctx::CALL_LIMIT);
        let deep = self.b.ins().icmp(IntCC::UnsignedLessThan, r10, limit);
        let fault = self.fault_block(idx, fault_kind::CALL_DEPTH, 0, None);
        let ok = self.b.create_block();
        self.b.ins().brif(deep, fault, &[], ok, &[]);
        self.b.switch_to_block(ok);
        for r in 0..10 {
            let v = self.b.use_var(self.regs[r]);
            self.b
                .ins()
                .store(trusted(), v, self.ctx, ctx::reg_offset(r));
        }
        let callee_r10 = self.b.ins().iadd_imm_s(r10, -(FRAME_SIZE as i64));
        self.b
            .ins()
            .store(trusted(), callee_r10, self.ctx, ctx::reg_offset(10));
        self.save_fuel();
        let func = self.local[&target];
        let inst = self.b.ins().call(func, &[self.ctx]);
        let r0 = self.b.inst_results(inst)[0];
        self.check_status();
        self.set(Reg::R0, r0);
        for r in 1..=5 {
            let v = self
                .b
                .ins()
                .load(I64, trusted(), self.ctx, ctx::reg_offset(r));
            self.b.def_var(self.regs[r], v);
        }
        self.reload_fuel();
    }

    fn condition(&mut self, width: Width, cond: JmpCond, dst: Reg, src: Operand) -> Value {
        let ty = if width == Width::W32 { I32 } else { I64 };
        let a = self.reg(dst);
        let a = if ty == I32 {
            self.b.ins().ireduce(I32, a)
        } else {
            a
        };
        let bv = self.operand(src, ty);
        let cc = match cond {
            JmpCond::Eq => IntCC::Equal,
            JmpCond::Ne => IntCC::NotEqual,
            JmpCond::Gt => IntCC::UnsignedGreaterThan,
            JmpCond::Ge => IntCC::UnsignedGreaterThanOrEqual,
            JmpCond::Lt => IntCC::UnsignedLessThan,
            JmpCond::Le => IntCC::UnsignedLessThanOrEqual,
            JmpCond::Sgt => IntCC::SignedGreaterThan,
            JmpCond::Sge => IntCC::SignedGreaterThanOrEqual,
            JmpCond::Slt => IntCC::SignedLessThan,
            JmpCond::Sle => IntCC::SignedLessThanOrEqual,
            JmpCond::Set => {
                let m = self.b.ins().band(a, bv);
                return self.b.ins().icmp_imm_s(IntCC::NotEqual, m, 0);
            }
        };
        self.b.ins().icmp(cc, a, bv)
    }

    fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Operand) {
        let w32 = width == Width::W32;
        let ty = if w32 { I32 } else { I64 };
        // Sign-extending moves (an immediate source folds to a constant, as in the interpreter).
        if let AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 = op {
            let v = match src {
                Operand::Reg(r) => {
                    let s = self.reg(r);
                    let (narrow, to) = match op {
                        AluOp::MovSx8 => (I8, ty),
                        AluOp::MovSx16 => (I16, ty),
                        // `(s32)` of a 32-bit value is the value itself.
                        _ if w32 => (I32, I32),
                        _ => (I32, I64),
                    };
                    let n = self.b.ins().ireduce(narrow, s);
                    let x = if narrow == to {
                        n
                    } else {
                        self.b.ins().sextend(to, n)
                    };
                    if to == I32 {
                        self.b.ins().uextend(I64, x)
                    } else {
                        x
                    }
                }
                Operand::Imm(imm) => {
                    let v = match op {
                        AluOp::MovSx8 => i64::from(imm as i8),
                        AluOp::MovSx16 => i64::from(imm as i16),
                        _ => i64::from(imm),
                    };
                    let v = if w32 { i64::from(v as u32) } else { v };
                    self.iconst(I64, v)
                }
            };
            self.set(dst, v);
            return;
        }
        let a = self.reg(dst);
        let a = if w32 { self.b.ins().ireduce(I32, a) } else { a };
        let r = match op {
            AluOp::Neg => self.b.ins().ineg(a),
            AluOp::Mov => self.operand(src, ty),
            AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => self.division(op, ty, a, src),
            _ => {
                let bv = self.operand(src, ty);
                let ins = self.b.ins();
                match op {
                    AluOp::Add => ins.iadd(a, bv),
                    AluOp::Sub => ins.isub(a, bv),
                    AluOp::Mul => ins.imul(a, bv),
                    AluOp::Or => ins.bor(a, bv),
                    AluOp::And => ins.band(a, bv),
                    AluOp::Xor => ins.bxor(a, bv),
                    // Cranelift masks shift amounts to the type's width, as BPF does.
                    AluOp::Lsh => ins.ishl(a, bv),
                    AluOp::Rsh => ins.ushr(a, bv),
                    _ => ins.sshr(a, bv),
                }
            }
        };
        let r = if w32 { self.b.ins().uextend(I64, r) } else { r };
        self.set(dst, r);
    }

    /// Division and modulo without traps: `x / 0 = 0`, `x % 0 = x`, `x s/ -1 = -x`,
    /// `x s% -1 = 0`.
    fn division(&mut self, op: AluOp, ty: Type, a: Value, src: Operand) -> Value {
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let is_div = matches!(op, AluOp::Div | AluOp::SDiv);
        if let Operand::Imm(imm) = src {
            let v = if ty == I32 {
                i64::from(imm as u32)
            } else {
                i64::from(imm)
            };
            let minus_one = imm == -1;
            if imm == 0 {
                return if is_div { self.iconst(ty, 0) } else { a };
            }
            if signed && minus_one {
                return if is_div {
                    self.b.ins().ineg(a)
                } else {
                    self.iconst(ty, 0)
                };
            }
            let d = self.iconst(ty, v);
            return match op {
                AluOp::Div => self.b.ins().udiv(a, d),
                AluOp::Mod => self.b.ins().urem(a, d),
                AluOp::SDiv => self.b.ins().sdiv(a, d),
                _ => self.b.ins().srem(a, d),
            };
        }
        let d = self.operand(src, ty);
        let one = self.iconst(ty, 1);
        let zero = self.iconst(ty, 0);
        let is_zero = self.b.ins().icmp_imm_s(IntCC::Equal, d, 0);
        if !signed {
            let safe = self.b.ins().select(is_zero, one, d);
            return if is_div {
                let q = self.b.ins().udiv(a, safe);
                self.b.ins().select(is_zero, zero, q)
            } else {
                let r = self.b.ins().urem(a, safe);
                self.b.ins().select(is_zero, a, r)
            };
        }
        let is_m1 = self.b.ins().icmp_imm_s(IntCC::Equal, d, -1);
        let bad = self.b.ins().bor(is_zero, is_m1);
        let safe = self.b.ins().select(bad, one, d);
        if is_div {
            let q = self.b.ins().sdiv(a, safe);
            let neg = self.b.ins().ineg(a);
            let q = self.b.ins().select(is_m1, neg, q);
            self.b.ins().select(is_zero, zero, q)
        } else {
            let r = self.b.ins().srem(a, safe);
            let r = self.b.ins().select(is_m1, zero, r);
            self.b.ins().select(is_zero, a, r)
        }
    }

    fn endian(&mut self, kind: Endian, dst: Reg, bits: u8) {
        let v = self.reg(dst);
        let r = match (kind, bits) {
            (Endian::ToLe, 16) => self.b.ins().band_imm_u(v, 0xffff),
            (Endian::ToLe, 32) => self.b.ins().band_imm_u(v, 0xffff_ffff),
            (Endian::ToLe, _) => v,
            (_, 16) | (_, 32) => {
                let ty = if bits == 16 { I16 } else { I32 };
                let n = self.b.ins().ireduce(ty, v);
                let s = self.b.ins().bswap(n);
                self.b.ins().uextend(I64, s)
            }
            _ => self.b.ins().bswap(v),
        };
        self.set(dst, r);
    }

    #[allow(clippy::too_many_arguments)] // the fields of `Insn::Atomic`
    fn atomic(&mut self, idx: usize, size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) {
        let bytes = size.bytes();
        let ty = match size {
            Size::B => I8,
            Size::H => I16,
            Size::W => I32,
            Size::DW => I64,
        };
        // Load-acquire reads through `src`; everything else addresses through `dst`.
        let base = if op == AtomicOp::LoadAcquire {
            self.reg(src)
        } else {
            self.reg(dst)
        };
        let addr = self.b.ins().iadd_imm_s(base, i64::from(off));
        let access = match op {
            AtomicOp::LoadAcquire => Access::Read,
            AtomicOp::StoreRelease => Access::Write,
            _ => Access::ReadWrite,
        };
        if self.bounds.is_some() && bytes > 1 {
            let low = self.b.ins().band_imm_u(addr, i64::from(bytes - 1));
            let fault = self.fault_block(idx, fault_kind::MISALIGNED, bytes.into(), Some(addr));
            let ok = self.b.create_block();
            self.b.ins().brif(low, fault, &[], ok, &[]);
            self.b.switch_to_block(ok);
        }
        let p = self.mem_ptr(idx, addr, bytes, access);
        let f = flags();
        let narrow = |t: &mut Self, v: Value| {
            if ty == I64 {
                v
            } else {
                t.b.ins().ireduce(ty, v)
            }
        };
        let widen = |t: &mut Self, v: Value| {
            if ty == I64 {
                v
            } else {
                t.b.ins().uextend(I64, v)
            }
        };
        let rmw = |op: AtomicOp| match op {
            AtomicOp::Add { fetch } => Some((AtomicRmwOp::Add, fetch)),
            AtomicOp::Or { fetch } => Some((AtomicRmwOp::Or, fetch)),
            AtomicOp::And { fetch } => Some((AtomicRmwOp::And, fetch)),
            AtomicOp::Xor { fetch } => Some((AtomicRmwOp::Xor, fetch)),
            AtomicOp::Xchg => Some((AtomicRmwOp::Xchg, true)),
            _ => None,
        };
        match op {
            AtomicOp::CmpXchg => {
                let s = self.reg(src);
                let x = narrow(self, s);
                let r0 = self.reg(Reg::R0);
                let e = narrow(self, r0);
                let old = self.b.ins().atomic_cas(f, p, e, x);
                let old = widen(self, old);
                self.set(Reg::R0, old);
            }
            AtomicOp::LoadAcquire => {
                let v = self.b.ins().atomic_load(ty, f, p);
                let v = widen(self, v);
                self.set(dst, v);
            }
            AtomicOp::StoreRelease => {
                let s = self.reg(src);
                let x = narrow(self, s);
                self.b.ins().atomic_store(f, x, p);
            }
            _ => {
                let (rop, fetch) = rmw(op).expect("read-modify-write");
                let s = self.reg(src);
                let x = narrow(self, s);
                let old = self.b.ins().atomic_rmw(ty, f, rop, p, x);
                if fetch {
                    let old = widen(self, old);
                    self.set(src, old);
                }
            }
        }
    }
}
