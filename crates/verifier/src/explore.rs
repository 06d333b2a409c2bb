//! Path exploration (the kernel's `do_check`): run the abstract machine instruction by
//! instruction, push the other side of every undecided branch on a stack, and finish when every
//! path has reached `exit` or been pruned against an equivalent state already proven safe.

use crate::cfg::Program;
use crate::error::VerifierError;
use crate::input::VerifyInput;
use crate::log::Log;
use crate::prog_types::ProgTypeInfo;
use crate::prune::Checkpoints;
use crate::state::{Reg, State};
use lull_isa::{Insn, Reg as IsaReg};

/// The kernel's `BPF_COMPLEXITY_LIMIT_INSNS`.
pub const COMPLEXITY_LIMIT: u64 = 1_000_000;
/// The kernel's `BPF_COMPLEXITY_LIMIT_JMP_SEQ`: pending branches at most.
pub const JMP_SEQ_LIMIT: usize = 8192;

pub(crate) type Res<T> = Result<T, VerifierError>;

/// A path waiting to be explored.
pub(crate) struct Branch {
    pub state: State,
    pub insn: usize,
    pub prev: usize,
    pub parent: Option<usize>,
    pub log_pos: usize,
    /// Where the branch's state starts in the instruction history.
    pub pos: crate::precision::PathPos,
}

/// What executing one instruction did to control flow.
pub(crate) enum Flow {
    /// Continue at `insn_idx` (already updated).
    Continue,
    /// This path is finished (exit from the main program, or pruned).
    PathDone,
}

/// The verifier's environment (`struct bpf_verifier_env`).
pub(crate) struct Verifier<'a> {
    pub input: &'a VerifyInput<'a>,
    pub prog: Program,
    pub pt: ProgTypeInfo,
    pub log: Log,
    pub cur: State,
    /// Checkpoint the current path descends from.
    pub parent: Option<usize>,
    pub insn_idx: usize,
    pub prev_insn_idx: usize,
    pub branches: Vec<Branch>,
    pub ckpts: Checkpoints,
    pub id_gen: u32,
    pub insn_processed: u64,
    pub prev_insn_processed: u64,
    pub jmps_processed: u64,
    pub prev_jmps_processed: u64,
    /// The maps: the input's, then the inner-map templates of map-in-map types.
    pub maps: Vec<crate::input::MapInfo>,
    /// For each map, the index of its inner map, if it has one.
    pub inner: Vec<Option<u32>>,
    pub stack_depth: Vec<u32>,
    /// `perfmon_capable()`: `allow_ptr_leaks`, `allow_uninit_stack`, `bypass_spec_v1`.
    pub perfmon: bool,
    /// `bpf_capable()`.
    pub bpf_capable: bool,
    /// `BPF_F_STRICT_ALIGNMENT` (and not `BPF_F_ANY_ALIGNMENT`).
    pub strict_alignment: bool,
    /// Per instruction: how unprivileged pointer arithmetic there is masked (`alu_state`,
    /// `alu_limit` of `bpf_insn_aux_data`).
    pub alu_aux: Vec<Option<(u32, u64)>>,
    /// Helpers called without a precise prototype.
    pub unmodelled: Vec<i32>,
    /// Registers written by the current instruction (for the log).
    pub scratched: u16,
    /// The next instruction starts a new path (log "from X to Y").
    pub print_state: bool,
    /// Instruction history and precision backtracking (see [`crate::precision`]).
    pub prec: crate::precision::Precision,
    /// Per instruction: a call of an iterator's `_next` kfunc (`insn_aux_data.is_iter_next`).
    pub iter_next: Vec<bool>,
    /// Global functions, verified on their own (see [`crate::global_func`]).
    pub globals: crate::global_func::Globals,
    /// Per `bpf_tail_call` instruction: the prog array seen there and whether another one was
    /// seen too (`insn_aux_data.map_ptr_state`).
    pub tail_call_maps: std::collections::HashMap<usize, (u32, bool)>,
    /// `bpf_fastcall` spill/fill patterns (see [`crate::fastcall`]).
    pub fastcall: crate::fastcall::Fastcall,
    /// Per load/store instruction: the pointer type it accessed first, whether accesses of
    /// that type are rewritten (context, socket, kernel pointer), and whether it is a kernel
    /// pointer (`insn_aux_data.ptr_type`).
    pub insn_ptr_types: std::collections::HashMap<usize, (String, bool, bool)>,
}

/// Finds the calls of iterator `_next` kfuncs and makes each a forced checkpoint (as the
/// kernel's `visit_insn` does): iterator loops converge by comparing states there.
fn mark_iter_next_calls(input: &VerifyInput<'_>, prog: &mut Program) -> Vec<bool> {
    let mut marks = vec![false; prog.len()];
    let Some(btf) = input.kernel_btf else {
        return marks;
    };
    for (i, slot) in prog.slots.iter().enumerate() {
        let Some(Insn::Call(lull_isa::CallTarget::Kfunc { btf_id, module: 0 })) = slot else {
            continue;
        };
        let is_next = btf
            .type_by_id(*btf_id as lull_btf::TypeId)
            .ok()
            .and_then(|t| crate::proto::kfuncs::kfunc(btf.name(t)))
            .is_some_and(|k| k.flags & crate::proto::kfuncs::KF_ITER_NEXT != 0);
        if is_next {
            marks[i] = true;
            prog.prune_point[i] = true;
            prog.force_checkpoint[i] = true;
        }
    }
    marks
}

impl<'a> Verifier<'a> {
    pub fn new(input: &'a VerifyInput<'a>, mut prog: Program) -> Self {
        let n = prog.len();
        let iter_next = mark_iter_next_calls(input, &mut prog);
        let nsub = prog.subprogs.len();
        let mut maps = input.maps.clone();
        let mut inner = vec![None; maps.len()];
        for i in 0..input.maps.len() {
            if let Some(m) = &input.maps[i].inner {
                inner[i] = Some(maps.len() as u32);
                maps.push((**m).clone());
                inner.push(None);
            }
        }
        Verifier {
            pt: ProgTypeInfo::new(
                input.prog_type,
                input.expected_attach,
                input.effective_caps().bpf_capable(),
            ),
            log: Log::new(input.log_level),
            cur: State::entry(),
            parent: None,
            insn_idx: 0,
            prev_insn_idx: 0,
            branches: Vec::new(),
            ckpts: Checkpoints::new(n),
            id_gen: 0,
            insn_processed: 0,
            prev_insn_processed: 0,
            jmps_processed: 0,
            prev_jmps_processed: 0,
            maps,
            inner,
            stack_depth: vec![0; nsub],
            perfmon: input.effective_caps().perfmon_capable(),
            bpf_capable: input.effective_caps().bpf_capable(),
            strict_alignment: input.prog_flags & lull_abi::prog_flags::STRICT_ALIGNMENT != 0
                && input.prog_flags & lull_abi::prog_flags::ANY_ALIGNMENT == 0,
            unmodelled: Vec::new(),
            alu_aux: vec![None; n],
            scratched: 0,
            print_state: false,
            prec: crate::precision::Precision::new(&prog),
            iter_next,
            globals: crate::global_func::Globals::new(input, &prog),
            tail_call_maps: std::collections::HashMap::new(),
            fastcall: crate::fastcall::Fastcall::find(&prog),
            insn_ptr_types: std::collections::HashMap::new(),
            input,
            prog,
        }
    }

    /// A fresh id for null checks, packet ranges and references.
    pub fn new_id(&mut self) -> u32 {
        self.id_gen += 1;
        self.id_gen
    }

    /// The instruction at the current slot.
    pub fn insn(&self) -> Res<Insn> {
        self.prog.slots[self.insn_idx].ok_or(VerifierError::InvalidLdImm)
    }

    /// Pushes the other side of a branch: `state` continues at `insn` (`push_stack`).
    pub fn push_branch(&mut self, state: State, insn: usize) -> Res<()> {
        if self.branches.len() >= JMP_SEQ_LIMIT {
            return Err(VerifierError::Malformed(format!(
                "The sequence of {} jumps is too complex.",
                self.branches.len()
            )));
        }
        if let Some(p) = self.parent {
            self.ckpts.get_mut(p).branches += 1;
        }
        self.branches.push(Branch {
            state,
            insn,
            prev: self.insn_idx,
            parent: self.parent,
            log_pos: self.log.len(),
            pos: self.prec.pos(),
        });
        Ok(())
    }

    /// Finishes the current path and takes the next pending one; `false` when none is left.
    fn pop_branch(&mut self) -> bool {
        self.ckpts.path_done(self.parent);
        let Some(b) = self.branches.pop() else {
            return false;
        };
        self.cur = b.state;
        self.insn_idx = b.insn;
        self.prev_insn_idx = b.prev;
        self.parent = b.parent;
        self.prec.restore(b.pos);
        if self.log.level() == 1 {
            self.log.truncate(b.log_pos);
        }
        self.print_state = true;
        true
    }

    /// `do_check`: explores every path from the entry state.
    pub fn run(&mut self) -> Res<()> {
        loop {
            if self.insn_idx >= self.prog.len() {
                return Err(VerifierError::Malformed(format!(
                    "invalid insn idx {} insn_cnt {}",
                    self.insn_idx,
                    self.prog.len()
                )));
            }
            self.insn_processed += 1;
            if self.insn_processed > COMPLEXITY_LIMIT {
                return Err(VerifierError::TooComplex(self.insn_processed));
            }
            self.prec.new_insn();
            if self.prog.prune_point[self.insn_idx] && self.is_state_visited()? {
                if self.log.level() > 0 {
                    if self.print_state {
                        self.log.line(format_args!(
                            "\nfrom {} to {}: safe",
                            self.prev_insn_idx, self.insn_idx
                        ));
                    } else {
                        self.log.line(format_args!("{}: safe", self.insn_idx));
                    }
                }
                if !self.pop_branch() {
                    return Ok(());
                }
                continue;
            }
            self.record_jmp_point();
            if self.log.level() > 0 {
                if self.print_state && self.log.level() >= 2 {
                    let mut s = format!("\nfrom {} to {}:", self.prev_insn_idx, self.insn_idx);
                    crate::state::fmt::write_frame(
                        &mut s,
                        self.cur.cur(),
                        &self.cur,
                        &self.maps,
                        None,
                    );
                    self.log.line(format_args!("{s}"));
                } else if self.insn_idx == 0 && self.insn_processed == 1 {
                    let mut s = String::from("0:");
                    crate::state::fmt::write_frame(
                        &mut s,
                        self.cur.cur(),
                        &self.cur,
                        &self.maps,
                        None,
                    );
                    self.log.line(format_args!("{s}"));
                }
                self.print_state = false;
                self.log_insn();
            }
            self.scratched = 0;
            let idx = self.insn_idx;
            let flow = self.step()?;
            self.prev_insn_idx = idx;
            if self.log.level() > 0 {
                self.log_scratched();
            }
            if let Flow::PathDone = flow
                && !self.pop_branch()
            {
                return Ok(());
            }
        }
    }

    /// Executes the instruction at `insn_idx`.
    fn step(&mut self) -> Res<Flow> {
        let insn = self.insn()?;
        if matches!(
            insn,
            Insn::Ja { .. } | Insn::Jump { .. } | Insn::Call(_) | Insn::Exit | Insn::MayGoto { .. }
        ) {
            self.jmps_processed += 1;
        }
        let next = self.insn_idx + insn.slots();
        match insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.check_alu(width, op, dst, src)?,
            Insn::Endian { kind, dst, bits } => self.check_endian(kind, dst, bits)?,
            Insn::AddrSpaceCast { .. } => {
                return Err(VerifierError::Malformed(
                    "addr_space_cast on non-arena program".into(),
                ));
            }
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => self.check_load(size, signed, dst, src, off)?,
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => self.check_store(size, dst, off, src)?,
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.check_atomic(size, op, dst, src, off)?,
            Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm,
            } => self.check_ld_imm64(dst, kind, imm, next_imm)?,
            Insn::LdAbs { size, .. } => self.check_ld_abs(size, None)?,
            Insn::LdInd { size, src, .. } => self.check_ld_abs(size, Some(src))?,
            Insn::Ja { off, .. } => {
                self.insn_idx = (self.insn_idx as i64 + off as i64 + 1) as usize;
                return Ok(Flow::Continue);
            }
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                return self.check_cond_jmp(width, cond, dst, src, off);
            }
            Insn::MayGoto { off } => return self.check_may_goto(off),
            Insn::Call(target) => return self.check_call(target),
            Insn::CallX { .. } => return Err(VerifierError::UnknownOpcode(0x8d)),
            Insn::Exit => return self.check_exit(),
        }
        self.insn_idx = next;
        Ok(Flow::Continue)
    }

    // ---- register access helpers (check_reg_arg) ----

    /// Reads a register as a source operand: it must be initialised.
    pub fn src_reg(&self, r: IsaReg) -> Res<Reg> {
        let reg = self.cur.regs()[r.index()];
        if reg.kind == crate::state::RegKind::NotInit {
            return Err(VerifierError::NotReadOk(r.num()));
        }
        Ok(reg)
    }

    /// Checks that a register may be written (`r10` may not).
    pub fn check_dst(&self, r: IsaReg) -> Res<()> {
        if r == IsaReg::R10 {
            return Err(VerifierError::FramePointerReadOnly);
        }
        Ok(())
    }

    /// Writes a register.
    pub fn set_reg(&mut self, r: IsaReg, v: Reg) {
        self.cur.regs_mut()[r.index()] = v;
        self.scratched |= 1 << r.index();
    }
}
