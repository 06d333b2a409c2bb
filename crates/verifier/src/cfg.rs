//! Control-flow checks done before exploration, in the kernel's order: subprogram discovery
//! (`add_subprog_and_kfunc`), jumps staying inside their subprogram and subprograms ending in
//! exit or goto (`check_subprogs`), then a depth-first walk (`check_cfg`) that finds unreachable
//! instructions, jumps into the middle of `ld_imm64` and, for unprivileged programs, back-edges.
//! The walk also marks the prune points where exploration saves states.

use crate::error::VerifierError;
use crate::input::FuncInfo;
use lull_isa::{CallTarget, Insn, LdImm64Kind, Located};

/// The helper id of `bpf_tail_call`.
const TAIL_CALL: i32 = 12;

/// A subprogram: the slots `[start, end)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Subprog {
    /// First slot.
    pub start: usize,
    /// One past the last slot.
    pub end: usize,
    /// Name from func info, if any.
    pub name: Option<String>,
    /// Global linkage (from func info).
    pub global: bool,
    /// Contains `bpf_tail_call`.
    pub has_tail_call: bool,
    /// Contains `LD_ABS`/`LD_IND`.
    pub has_ld_abs: bool,
    /// The program's exception callback (`is_exception_cb`).
    pub exception_cb: bool,
}

/// The program as the explorer sees it: instructions by slot plus per-slot flags.
pub(crate) struct Program {
    /// `Some(insn)` at the first slot of each instruction, `None` in the second slot of `ld_imm64`.
    pub slots: Vec<Option<Insn>>,
    /// Subprograms, sorted by start; `subprogs[0]` is the main program.
    pub subprogs: Vec<Subprog>,
    /// Where exploration may save and compare states.
    pub prune_point: Vec<bool>,
    /// Where a checkpoint is always taken (callback-calling helpers, `may_goto`).
    pub force_checkpoint: Vec<bool>,
    /// Live-in registers per slot (see [`crate::liveness`]), filled after `check_cfg`.
    pub live_regs: Vec<u16>,
}

impl Program {
    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    /// Index of the subprogram starting at `slot`, if one does.
    pub fn subprog_at(&self, slot: usize) -> Option<usize> {
        self.subprogs.binary_search_by(|s| s.start.cmp(&slot)).ok()
    }
}

/// Builds the slot table from located instructions. Gaps or overlaps are malformed input.
fn slot_table(insns: &[Located]) -> Result<Vec<Option<Insn>>, VerifierError> {
    let mut slots = Vec::with_capacity(insns.len() + 4);
    for l in insns {
        if l.slot != slots.len() {
            return Err(VerifierError::Malformed(format!(
                "instruction stream has a gap or overlap at slot {} (expected {})",
                l.slot,
                slots.len()
            )));
        }
        slots.push(Some(l.insn));
        if l.insn.slots() == 2 {
            slots.push(None);
        }
    }
    Ok(slots)
}

/// Relative target of a jump-like instruction at `t`, if it is one (not call/exit).
fn jump_target(t: usize, insn: &Insn) -> Option<i64> {
    let off = match insn {
        Insn::Ja { off, .. } => *off as i64,
        Insn::Jump { off, .. } | Insn::MayGoto { off } => *off as i64,
        _ => return None,
    };
    Some(t as i64 + off + 1)
}

/// Subprogram discovery and per-subprogram checks (`add_subprog_and_kfunc` + `check_subprogs`).
/// `exception_cb` is the slot of the exception callback (see
/// [`crate::exception::find_exception_cb`]); it starts a subprogram although nothing calls it.
pub(crate) fn build(
    insns: &[Located],
    privileged: bool,
    func_info: Option<&[FuncInfo]>,
    exception_cb: Option<usize>,
) -> Result<Program, VerifierError> {
    let slots = slot_table(insns)?;
    let n = slots.len();
    if n == 0 {
        return Err(VerifierError::EmptyProgram);
    }
    let mut starts = vec![0usize];
    for (t, insn) in slots.iter().enumerate() {
        let rel = match insn {
            Some(Insn::Call(CallTarget::Local(imm))) => *imm as i64,
            Some(Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            }) => *imm as i64,
            Some(Insn::Call(CallTarget::Kfunc { .. })) => {
                if !privileged {
                    return Err(VerifierError::CallsNeedCapBpf);
                }
                continue;
            }
            _ => continue,
        };
        if !privileged {
            return Err(VerifierError::CallsNeedCapBpf);
        }
        let target = t as i64 + rel + 1;
        if target < 0 || target >= n as i64 {
            return Err(VerifierError::InvalidCallDestination);
        }
        starts.push(target as usize);
    }
    if let Some(cb) = exception_cb {
        if cb >= n {
            return Err(VerifierError::InvalidCallDestination);
        }
        starts.push(cb);
    }
    starts.sort_unstable();
    starts.dedup();
    let mut subprogs: Vec<Subprog> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| Subprog {
            start: s,
            end: starts.get(i + 1).copied().unwrap_or(n),
            name: None,
            global: false,
            has_tail_call: false,
            has_ld_abs: false,
            exception_cb: Some(s) == exception_cb,
        })
        .collect();
    if let Some(fi) = func_info {
        for f in fi {
            if let Ok(i) = subprogs.binary_search_by(|s| s.start.cmp(&f.slot)) {
                subprogs[i].name = Some(f.name.clone());
                subprogs[i].global = f.global && i != 0;
            }
        }
    }
    // check_subprogs: jumps stay inside, the last instruction is exit or goto.
    for sp in subprogs.iter_mut() {
        for (t, insn) in slots.iter().enumerate().take(sp.end).skip(sp.start) {
            let Some(insn) = insn else { continue };
            match insn {
                Insn::Call(CallTarget::Helper(TAIL_CALL)) => sp.has_tail_call = true,
                Insn::LdAbs { .. } | Insn::LdInd { .. } => sp.has_ld_abs = true,
                _ => {}
            }
            if let Some(to) = jump_target(t, insn)
                && (to < sp.start as i64 || to >= sp.end as i64)
            {
                return Err(VerifierError::JumpOutOfRange { from: t, to });
            }
        }
        let last = sp.end - 1;
        let ok = match &slots[last] {
            Some(Insn::Exit) | Some(Insn::Ja { .. }) => true,
            // The second slot of an ld_imm64 has opcode 0: not an exit.
            _ => false,
        };
        if !ok {
            return Err(VerifierError::LastInsnNotExit);
        }
    }
    Ok(Program {
        slots,
        prune_point: vec![false; n],
        force_checkpoint: vec![false; n],
        live_regs: vec![u16::MAX; n],
        subprogs,
    })
}

const DISCOVERED: u8 = 0x10;
const EXPLORED: u8 = 0x20;
const FALLTHROUGH: u8 = 1;
const BRANCH: u8 = 2;

enum Visit {
    Done,
    Keep,
}

struct Walk<'p> {
    prog: &'p mut Program,
    state: Vec<u8>,
    stack: Vec<usize>,
    privileged: bool,
}

impl Walk<'_> {
    fn push(&mut self, t: usize, w: i64, e: u8) -> Result<Visit, VerifierError> {
        if e == FALLTHROUGH && self.state[t] >= (DISCOVERED | FALLTHROUGH) {
            return Ok(Visit::Done);
        }
        if e == BRANCH && self.state[t] >= (DISCOVERED | BRANCH) {
            return Ok(Visit::Done);
        }
        let n = self.prog.len();
        if w < 0 || w >= n as i64 {
            return Err(VerifierError::JumpOutOfRange { from: t, to: w });
        }
        let w = w as usize;
        if e == BRANCH {
            self.prog.prune_point[w] = true;
        }
        if self.state[w] == 0 {
            self.state[t] = DISCOVERED | e;
            self.state[w] = DISCOVERED;
            self.stack.push(w);
            return Ok(Visit::Keep);
        }
        if self.state[w] & 0xf0 == DISCOVERED {
            if self.privileged {
                return Ok(Visit::Done);
            }
            return Err(VerifierError::BackEdge { from: t, to: w });
        }
        self.state[t] = DISCOVERED | e;
        Ok(Visit::Done)
    }

    fn visit(&mut self, t: usize) -> Result<Visit, VerifierError> {
        let Some(insn) = self.prog.slots[t] else {
            // Only reachable through a jump into an ld_imm64; reported after the walk.
            return self.push(t, t as i64 + 1, FALLTHROUGH);
        };
        match insn {
            Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            } => self.call_like(t, 2, Some(t as i64 + imm as i64 + 1)),
            Insn::Exit => Ok(Visit::Done),
            Insn::Call(target) => {
                if let CallTarget::Helper(id) = target
                    && crate::proto::calls_callback(id)
                {
                    self.prog.force_checkpoint[t] = true;
                    self.prog.prune_point[t] = true;
                }
                let callee = match target {
                    CallTarget::Local(imm) => Some(t as i64 + imm as i64 + 1),
                    _ => None,
                };
                self.call_like(t, 1, callee)
            }
            Insn::Ja { off, .. } => {
                let w = t as i64 + off as i64 + 1;
                let r = self.push(t, w, FALLTHROUGH)?;
                if (0..self.prog.len() as i64).contains(&w) {
                    self.prog.prune_point[w as usize] = true;
                }
                Ok(r)
            }
            Insn::Jump { off, .. } | Insn::MayGoto { off } => {
                self.prog.prune_point[t] = true;
                if matches!(insn, Insn::MayGoto { .. }) {
                    self.prog.force_checkpoint[t] = true;
                }
                if let Visit::Keep = self.push(t, t as i64 + 1, FALLTHROUGH)? {
                    return Ok(Visit::Keep);
                }
                self.push(t, t as i64 + off as i64 + 1, BRANCH)
            }
            other => self.push(t, t as i64 + other.slots() as i64, FALLTHROUGH),
        }
    }

    fn call_like(
        &mut self,
        t: usize,
        sz: i64,
        callee: Option<i64>,
    ) -> Result<Visit, VerifierError> {
        if let Visit::Keep = self.push(t, t as i64 + sz, FALLTHROUGH)? {
            return Ok(Visit::Keep);
        }
        if (t as i64 + sz) < self.prog.len() as i64 {
            self.prog.prune_point[t + sz as usize] = true;
        }
        match callee {
            Some(w) => {
                self.prog.prune_point[t] = true;
                self.push(t, w, BRANCH)
            }
            None => Ok(Visit::Done),
        }
    }
}

/// The depth-first walk of `check_cfg`.
pub(crate) fn check_cfg(prog: &mut Program, privileged: bool) -> Result<(), VerifierError> {
    let n = prog.len();
    let mut walk = Walk {
        prog,
        state: vec![0; n],
        stack: Vec::with_capacity(64),
        privileged,
    };
    // The main program, then the exception callback (which nothing calls).
    let cb = walk
        .prog
        .subprogs
        .iter()
        .find(|s| s.exception_cb)
        .map(|s| s.start);
    for root in std::iter::once(0).chain(cb) {
        walk.state[root] = DISCOVERED;
        walk.stack.push(root);
        while let Some(&t) = walk.stack.last() {
            match walk.visit(t)? {
                Visit::Done => {
                    walk.state[t] = EXPLORED;
                    walk.stack.pop();
                }
                Visit::Keep => {}
            }
        }
    }
    let mut i = 0;
    while i < n {
        if walk.state[i] != EXPLORED {
            return Err(VerifierError::Unreachable(i));
        }
        if let Some(Insn::LdImm64 { .. }) = walk.prog.slots[i] {
            if walk.state.get(i + 1).copied().unwrap_or(0) != 0 {
                return Err(VerifierError::JumpIntoLdImm64(i));
            }
            i += 1;
        }
        i += 1;
    }
    Ok(())
}
