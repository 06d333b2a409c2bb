//! Precision tracking (the kernel's `mark_chain_precision` / `backtrack_insn`).
//!
//! Scalars start imprecise: state pruning treats two imprecise scalars as equivalent whatever
//! their ranges. When a decision depends on a scalar's exact value (a branch the verifier
//! decided statically, pointer arithmetic, a helper's size argument, a checked return value,
//! ...), the explorer walks the instructions of the current path backwards — through the
//! instruction history of the current state and then of each checkpoint it descends from — to
//! find every register and spilled stack slot the value was computed from, and marks them
//! precise in those checkpoints. A later path is then pruned against a checkpoint only if its
//! precise scalars are within the checkpoint's ranges.
//!
//! The history ([`HistEntry`]) records, per state, each arrival at a jump point (with the
//! instruction that led there), stack spills and fills (frame and slot), and the registers a
//! conditional jump refined together (linked scalar ids). When backtracking meets something it
//! cannot follow, it falls back to marking every scalar of the path precise, which is always
//! sound. Unprivileged programs keep every scalar precise, as in the kernel.

use crate::cfg::Program;
use crate::explore::{Res, Verifier};
use crate::state::{MAX_CALL_FRAMES, Reg, RegKind, State};
use lull_isa::{AtomicOp, CallTarget, Insn, LdImm64Kind, Operand, Reg as IsaReg};
use std::fmt::Write;

/// A register or stack slot a conditional jump refined together with its operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Linked {
    /// Frame number.
    pub frame: u8,
    /// A register (`true`) or a spilled stack slot (`false`).
    pub is_reg: bool,
    /// Register number or slot index (`spi`).
    pub idx: u8,
}

/// One record of the instruction history (`bpf_insn_hist_entry`).
#[derive(Clone, Debug)]
pub(crate) struct HistEntry {
    /// The instruction.
    pub idx: usize,
    /// The instruction executed just before it.
    pub prev_idx: usize,
    /// A spill or fill of stack slot `(frame, spi)` (`INSN_F_STACK_ACCESS`).
    pub stack: Option<(u8, u8)>,
    /// Registers linked by a conditional jump (`linked_regs`).
    pub linked: Option<Box<[Linked]>>,
    /// A conditional jump compared a stack pointer: bit 0 its source, bit 1 its destination
    /// (`INSN_F_SRC_REG_STACK`, `INSN_F_DST_REG_STACK`).
    pub stack_ptrs: u8,
}

/// Where a state's own part of the path starts and ends (`first_insn_idx`, `last_insn_idx`,
/// `insn_hist_start`, `insn_hist_end`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PathPos {
    pub first_idx: usize,
    /// The last instruction executed in this state (-1 when none).
    pub last_idx: isize,
    pub hist_start: usize,
    pub hist_end: usize,
}

/// The explorer's precision-tracking data for the current path.
pub(crate) struct Precision {
    /// History records of the current path (states share the prefix they descend from).
    pub hist: Vec<HistEntry>,
    /// Start of the current state's records in `hist`.
    pub hist_start: usize,
    /// First instruction of the current state.
    pub first_idx: usize,
    /// The record of the instruction being executed, once one exists.
    cur_ent: Option<usize>,
    /// Instructions whose arrival is always recorded (`is_jmp_point`).
    pub jmp_point: Vec<bool>,
}

impl Precision {
    pub fn new(prog: &Program) -> Self {
        Precision {
            hist: Vec::new(),
            hist_start: 0,
            first_idx: 0,
            cur_ent: None,
            jmp_point: jmp_points(prog),
        }
    }

    /// The current state's position, for a branch pushed now.
    pub fn pos(&self) -> PathPos {
        PathPos {
            first_idx: self.first_idx,
            last_idx: -1,
            hist_start: self.hist_start,
            hist_end: self.hist.len(),
        }
    }

    /// Resumes a pushed branch.
    pub fn restore(&mut self, pos: PathPos) {
        self.hist.truncate(pos.hist_end);
        self.hist_start = pos.hist_start;
        self.first_idx = pos.first_idx;
        self.cur_ent = None;
    }

    /// A new instruction starts (`env->cur_hist_ent = NULL`).
    pub fn new_insn(&mut self) {
        self.cur_ent = None;
    }

    /// Records the current instruction (merging with its record if it has one).
    pub fn push(
        &mut self,
        idx: usize,
        prev_idx: usize,
        stack: Option<(u8, u8)>,
        linked: Option<Box<[Linked]>>,
        stack_ptrs: u8,
    ) {
        if let Some(e) = self.cur_ent.and_then(|i| self.hist.get_mut(i)) {
            if stack.is_some() {
                e.stack = stack;
            }
            if linked.is_some() {
                e.linked = linked;
            }
            e.stack_ptrs |= stack_ptrs;
            return;
        }
        self.cur_ent = Some(self.hist.len());
        self.hist.push(HistEntry {
            idx,
            prev_idx,
            stack,
            linked,
            stack_ptrs,
        });
    }

    /// Records in the current state since its checkpoint.
    pub fn state_hist_len(&self) -> usize {
        self.hist.len() - self.hist_start
    }
}

/// `mark_jmp_point`: jump targets, subprogram and callback entries, instructions after calls,
/// and callback-calling helper calls.
fn jmp_points(prog: &Program) -> Vec<bool> {
    let n = prog.len();
    let mut p = vec![false; n];
    let mut mark = |t: i64| {
        if (0..n as i64).contains(&t) {
            p[t as usize] = true;
        }
    };
    for (t, insn) in prog.slots.iter().enumerate() {
        let t = t as i64;
        match insn {
            Some(Insn::Jump { off, .. } | Insn::MayGoto { off }) => mark(t + *off as i64 + 1),
            Some(Insn::Ja { off, .. }) => mark(t + *off as i64 + 1),
            Some(Insn::Call(CallTarget::Local(imm))) => {
                mark(t + *imm as i64 + 1);
                mark(t + 1);
            }
            Some(Insn::Call(CallTarget::Helper(id))) => {
                mark(t + 1);
                if crate::proto::calls_callback(*id) {
                    mark(t);
                }
            }
            Some(Insn::Call(_)) => mark(t + 1),
            Some(Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            }) => {
                mark(t + *imm as i64 + 1);
                mark(t + 2);
            }
            _ => {}
        }
    }
    p
}

/// Registers and stack slots still to be marked, per frame (`struct backtrack_state`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bt {
    frame: usize,
    regs: [u16; MAX_CALL_FRAMES],
    stack: [u64; MAX_CALL_FRAMES],
}

/// `r1`..`r5`.
const ARGS: u16 = 0b11_1110;

/// Why backtracking stopped early.
enum Stop {
    /// Something it cannot follow (`-ENOTSUPP`): mark everything precise.
    NotSupported,
    /// An inconsistency (the kernel reports a verifier bug): also mark everything precise.
    Bug(String),
}

impl Bt {
    /// An empty request starting in `frame`.
    pub fn new(frame: usize) -> Self {
        Bt {
            frame,
            ..Bt::default()
        }
    }
    pub fn set_reg(&mut self, fr: usize, r: usize) {
        self.regs[fr] |= 1 << r;
    }
    pub fn set_slot(&mut self, fr: usize, spi: usize) {
        if spi < 64 {
            self.stack[fr] |= 1 << spi;
        }
    }
    fn clear_reg(&mut self, fr: usize, r: usize) {
        self.regs[fr] &= !(1 << r);
    }
    fn clear_slot(&mut self, fr: usize, spi: usize) {
        if spi < 64 {
            self.stack[fr] &= !(1 << spi);
        }
    }
    fn reg(&self, fr: usize, r: usize) -> bool {
        self.regs[fr] & (1 << r) != 0
    }
    fn slot(&self, fr: usize, spi: usize) -> bool {
        spi < 64 && self.stack[fr] & (1 << spi) != 0
    }
    fn empty(&self) -> bool {
        (0..=self.frame).all(|f| self.regs[f] == 0 && self.stack[f] == 0)
    }
    fn enter(&mut self) -> Result<(), Stop> {
        if self.frame + 1 >= MAX_CALL_FRAMES {
            return Err(Stop::Bug(format!(
                "subprog enter from frame {}",
                self.frame
            )));
        }
        self.frame += 1;
        Ok(())
    }
    fn exit(&mut self) -> Result<(), Stop> {
        if self.frame == 0 {
            return Err(Stop::Bug("subprog exit from frame 0".into()));
        }
        self.frame -= 1;
        Ok(())
    }
    /// `bt_sync_linked_regs`: if one linked register is wanted, all are.
    fn sync_linked(&mut self, linked: Option<&[Linked]>) {
        let Some(l) = linked else { return };
        let wanted = |b: &Bt, e: &Linked| {
            let f = e.frame as usize;
            f < MAX_CALL_FRAMES
                && if e.is_reg {
                    b.reg(f, e.idx as usize)
                } else {
                    b.slot(f, e.idx as usize)
                }
        };
        if !l.iter().any(|e| wanted(self, e)) {
            return;
        }
        for e in l {
            let f = e.frame as usize;
            if f >= MAX_CALL_FRAMES {
                continue;
            }
            if e.is_reg {
                self.set_reg(f, e.idx as usize);
            } else {
                self.set_slot(f, e.idx as usize);
            }
        }
    }
}

/// `r0,r2` for a register mask.
fn fmt_regs(mask: u16) -> String {
    let mut s = String::new();
    for i in 0..16 {
        if mask & (1 << i) != 0 {
            let _ = write!(s, "{}r{i}", if s.is_empty() { "" } else { "," });
        }
    }
    s
}

/// `-8,-24` for a stack-slot mask.
fn fmt_stack(mask: u64) -> String {
    let mut s = String::new();
    for i in 0..64 {
        if mask & (1 << i) != 0 {
            let _ = write!(s, "{}{}", if s.is_empty() { "" } else { "," }, -(i + 1) * 8);
        }
    }
    s
}

/// `mark_all_scalars_imprecise`: a new checkpoint starts without precision marks; its
/// descendants add the ones they need.
pub(crate) fn mark_all_scalars_imprecise(st: &mut State) {
    st.for_each_reg(|r| {
        if r.kind == RegKind::Scalar {
            r.precise = false;
        }
    });
}

impl Verifier<'_> {
    /// Records the arrival at the current instruction when it is a jump point.
    pub(crate) fn record_jmp_point(&mut self) {
        if self.prec.jmp_point.get(self.insn_idx).copied() == Some(true) {
            self.prec
                .push(self.insn_idx, self.prev_insn_idx, None, None, 0);
        }
    }

    /// Records that the current instruction spilled to or filled from stack slot `spi` of
    /// frame `frame` (`insn_stack_access_flags`).
    pub(crate) fn record_stack_access(&mut self, frame: usize, spi: usize) {
        if spi < 64 {
            self.prec.push(
                self.insn_idx,
                self.prev_insn_idx,
                Some((frame as u8, spi as u8)),
                None,
                0,
            );
        }
    }

    /// Records the registers and slots a conditional jump refines together with `ids`
    /// (`collect_linked_regs`); nothing when fewer than two share an id.
    pub(crate) fn record_linked_regs(&mut self, ids: &[u32]) {
        // Registers linked with a constant offset (`ADD_CONST`) share the base id.
        let base = |id: u32| id & !crate::state::ADD_CONST;
        let ids: Vec<u32> = ids.iter().copied().filter(|&i| i != 0).map(base).collect();
        if ids.is_empty() {
            return;
        }
        let mut out = Vec::new();
        for (f, fr) in self.cur.frames.iter().enumerate() {
            for (i, r) in fr.regs.iter().enumerate() {
                if r.kind == RegKind::Scalar && r.id != 0 && ids.contains(&base(r.id)) {
                    out.push(Linked {
                        frame: f as u8,
                        is_reg: true,
                        idx: i as u8,
                    });
                }
            }
            for (spi, s) in fr.stack.iter().enumerate().take(64) {
                if s.is_spilled_scalar() && s.spilled.id != 0 && ids.contains(&base(s.spilled.id)) {
                    out.push(Linked {
                        frame: f as u8,
                        is_reg: false,
                        idx: spi as u8,
                    });
                }
            }
        }
        if out.len() > 1 {
            self.prec.push(
                self.insn_idx,
                self.prev_insn_idx,
                None,
                Some(out.into_boxed_slice()),
                0,
            );
        }
    }

    /// Records that a conditional jump compares stack pointers (never precise scalars).
    pub(crate) fn record_jmp_stack_ptrs(&mut self, dst: &Reg, src: &Reg, src_op: Operand) {
        let is_stack = |r: &Reg| matches!(r.kind, RegKind::Stack { .. });
        let mut f = 0;
        if matches!(src_op, Operand::Reg(_)) && is_stack(src) {
            f |= 1;
        }
        if is_stack(dst) {
            f |= 2;
        }
        if f != 0 {
            self.prec
                .push(self.insn_idx, self.prev_insn_idx, None, None, f);
        }
    }

    /// `mark_chain_precision`: register `regno` of the current frame must be precise.
    pub(crate) fn mark_chain_precision(&mut self, regno: IsaReg) -> Res<()> {
        if !self.bpf_capable || self.cur.regs()[regno.index()].kind != RegKind::Scalar {
            return Ok(());
        }
        let mut bt = Bt::new(self.cur.curframe());
        bt.set_reg(bt.frame, regno.index());
        self.backtrack(bt)
    }

    /// Stack slot `spi` of frame `frame` must be precise (a value the verdict depends on, such
    /// as a constant map key).
    pub(crate) fn mark_slot_chain_precision(&mut self, frame: usize, spi: usize) -> Res<()> {
        if !self.bpf_capable {
            return Ok(());
        }
        let mut bt = Bt::new(self.cur.curframe());
        bt.set_slot(frame, spi);
        self.backtrack(bt)
    }

    /// `propagate_precision`: the current path was pruned against checkpoint `old`; what is
    /// precise there must be precise on the current path too.
    pub(crate) fn propagate_precision(&mut self, old: usize) -> Res<()> {
        if !self.bpf_capable {
            return Ok(());
        }
        let ck = &self.ckpts.arena[old].state;
        let mut bt = Bt::new(self.cur.curframe());
        for (fr, f) in ck.frames.iter().enumerate().rev() {
            for (i, r) in f.regs.iter().enumerate().take(10) {
                if r.kind == RegKind::Scalar && r.precise {
                    bt.set_reg(fr, i);
                }
            }
            for (spi, s) in f.stack.iter().enumerate().take(64) {
                if s.is_spilled() && s.spilled.kind == RegKind::Scalar && s.spilled.precise {
                    bt.set_slot(fr, spi);
                }
            }
        }
        // The names are only formatted when the log shows them.
        if self.log.level() >= 2 {
            for fr in (0..ck.frames.len()).rev() {
                let regs = (0..10).filter(|&i| bt.reg(fr, i)).map(|i| format!("r{i}"));
                let slots = (0..64)
                    .filter(|&spi| bt.slot(fr, spi))
                    .map(|spi| format!("fp{}", -(spi as i64 + 1) * 8));
                let names: Vec<String> = regs.chain(slots).collect();
                if !names.is_empty() {
                    self.log
                        .line(format_args!("frame {fr}: propagating {}", names.join(",")));
                }
            }
        }
        self.backtrack(bt)
    }

    /// `__mark_chain_precision`: walks back from the current instruction.
    fn backtrack(&mut self, mut bt: Bt) -> Res<()> {
        if bt.empty() {
            return Ok(());
        }
        let log2 = self.log.level() >= 2;
        // `None` is the current state, `Some(id)` a checkpoint.
        let mut st: Option<usize> = None;
        let mut first_idx = self.prec.first_idx;
        let mut last_idx = self.insn_idx as isize;
        let mut subseq_idx: isize = -1;
        let mut skip_first = true;
        let mut hist_start = self.prec.hist_start;
        let mut hist_end = self.prec.hist.len();
        loop {
            if log2 {
                self.log.line(format_args!(
                    "mark_precise: frame{}: last_idx {} first_idx {} subseq_idx {} ",
                    bt.frame, last_idx, first_idx, subseq_idx
                ));
            }
            if last_idx < 0 {
                self.force_all_precise(st, "backtracking reached a function entry");
                return Ok(());
            }
            let mut i = last_idx as usize;
            loop {
                if skip_first {
                    skip_first = false;
                } else {
                    let h = (hist_end > hist_start && self.prec.hist[hist_end - 1].idx == i)
                        .then(|| hist_end - 1);
                    match self.backtrack_insn(i, subseq_idx, h, &mut bt) {
                        Ok(()) => {}
                        Err(Stop::NotSupported) => {
                            self.force_all_precise(st, "");
                            return Ok(());
                        }
                        Err(Stop::Bug(why)) => {
                            self.force_all_precise(st, &why);
                            return Ok(());
                        }
                    }
                }
                if bt.empty() {
                    return Ok(());
                }
                subseq_idx = i as isize;
                // get_prev_insn_idx
                let cnt = hist_end - hist_start;
                if i == first_idx && (cnt == 0 || (cnt == 1 && self.prec.hist[hist_start].idx == i))
                {
                    break;
                }
                if cnt > 0 && self.prec.hist[hist_end - 1].idx == i {
                    hist_end -= 1;
                    i = self.prec.hist[hist_end].prev_idx;
                } else if i == 0 {
                    self.force_all_precise(st, "backtracking idx -1");
                    return Ok(());
                } else {
                    i -= 1;
                }
            }
            let parent = match st {
                None => self.parent,
                Some(id) => self.ckpts.arena[id].parent,
            };
            let Some(p) = parent else { break };
            st = Some(p);
            let maps = &self.maps;
            let ck = &mut self.ckpts.arena[p];
            if bt.frame >= ck.state.frames.len() {
                let why = format!("parent state has no frame {}", bt.frame);
                self.force_all_precise(st, &why);
                return Ok(());
            }
            let mut lines = Vec::new();
            for fr in (0..=bt.frame).rev() {
                let func = &mut ck.state.frames[fr];
                for i in 0..11 {
                    if !bt.reg(fr, i) {
                        continue;
                    }
                    let r = &mut func.regs[i];
                    if r.kind != RegKind::Scalar || r.precise {
                        bt.clear_reg(fr, i);
                    } else {
                        r.precise = true;
                    }
                }
                for spi in 0..64 {
                    if !bt.slot(fr, spi) {
                        continue;
                    }
                    match func.stack.get_mut(spi) {
                        Some(s) if s.is_spilled_scalar() => {
                            if s.spilled.precise {
                                bt.clear_slot(fr, spi);
                            } else {
                                s.spilled.precise = true;
                            }
                        }
                        _ => bt.clear_slot(fr, spi),
                    }
                }
                if log2 {
                    let mut s = format!(
                        "mark_precise: frame{fr}: parent state regs={} stack={}: ",
                        fmt_regs(bt.regs[fr]),
                        fmt_stack(bt.stack[fr])
                    );
                    let st = &ck.state;
                    crate::state::fmt::write_frame(&mut s, &st.frames[fr], st, maps, None);
                    lines.push(s);
                }
            }
            let pos = ck.pos;
            for l in lines {
                self.log.line(format_args!("{l}"));
            }
            if bt.empty() {
                return Ok(());
            }
            subseq_idx = first_idx as isize;
            last_idx = pos.last_idx;
            first_idx = pos.first_idx;
            hist_start = pos.hist_start;
            hist_end = pos.hist_end;
        }
        if !bt.empty() {
            self.force_all_precise(None, "");
        }
        Ok(())
    }

    /// `mark_all_scalars_precise`: every scalar in the checkpoints of the current path becomes
    /// precise (the conservative fallback).
    fn force_all_precise(&mut self, _from: Option<usize>, why: &str) {
        let log2 = self.log.level() >= 2;
        if log2 {
            if !why.is_empty() {
                self.log.line(format_args!("BUG {why}"));
            }
            self.log.line(format_args!(
                "mark_precise: frame{}: falling back to forcing all scalars precise",
                self.cur.curframe()
            ));
        }
        let mut p = self.parent;
        let mut lines = Vec::new();
        while let Some(id) = p {
            let ck = &mut self.ckpts.arena[id];
            for (fi, f) in ck.state.frames.iter_mut().enumerate() {
                for (j, r) in f.regs.iter_mut().enumerate().take(10) {
                    if r.kind == RegKind::Scalar && !r.precise {
                        r.precise = true;
                        if log2 {
                            lines.push(format!(
                                "force_precise: frame{fi}: forcing r{j} to be precise"
                            ));
                        }
                    }
                }
                for (spi, s) in f.stack.iter_mut().enumerate() {
                    if s.is_spilled() && s.spilled.kind == RegKind::Scalar && !s.spilled.precise {
                        s.spilled.precise = true;
                        if log2 {
                            lines.push(format!(
                                "force_precise: frame{fi}: forcing fp{} to be precise",
                                -(spi as i64 + 1) * 8
                            ));
                        }
                    }
                }
            }
            p = ck.parent;
        }
        for l in lines {
            self.log.line(format_args!("{l}"));
        }
    }

    /// `find_prev_entry`: the closest checkpoint above the current state's own one that was
    /// taken at the current instruction with the same call sites (the previous loop iteration).
    pub(crate) fn prev_loop_entry(&self) -> Option<usize> {
        let same_sites = |st: &State| {
            st.frames.len() == self.cur.frames.len()
                && st
                    .frames
                    .iter()
                    .zip(&self.cur.frames)
                    .all(|(a, b)| a.callsite == b.callsite)
        };
        let first = self.parent?;
        let mut p = self.ckpts.arena[first].parent;
        if self.ckpts.arena[first].insn != self.insn_idx {
            p = Some(first);
        }
        while let Some(id) = p {
            let c = &self.ckpts.arena[id];
            if c.insn == self.insn_idx && c.branches > 0 && same_sites(&c.state) {
                return Some(id);
            }
            p = c.parent;
        }
        None
    }

    /// `backtrack_insn`: what instruction `idx` needs to be precise before it, given what
    /// must be precise after it.
    fn backtrack_insn(
        &mut self,
        idx: usize,
        subseq_idx: isize,
        hist: Option<usize>,
        bt: &mut Bt,
    ) -> Result<(), Stop> {
        // By reference: this runs for every instruction walked back over.
        let Some(insn) = self.prog.slots.get(idx).and_then(Option::as_ref) else {
            return Ok(());
        };
        if self.log.level() >= 2 {
            let text = self.insn_text(insn);
            self.log.line(format_args!(
                "mark_precise: frame{}: regs={} stack={} before {idx}: {text}",
                bt.frame,
                fmt_regs(bt.regs[bt.frame]),
                fmt_stack(bt.stack[bt.frame])
            ));
        }
        let (stack, linked, stack_ptrs) = match hist.map(|h| &self.prec.hist[h]) {
            Some(h) => (h.stack, h.linked.as_deref(), h.stack_ptrs),
            None => (None, None, 0),
        };
        bt.sync_linked(linked);
        let fr = bt.frame;
        match *insn {
            Insn::Alu { op, dst, src, .. } => {
                if !bt.reg(fr, dst.index()) {
                    return Ok(());
                }
                use lull_isa::AluOp as A;
                match (op, src) {
                    (A::Neg, _) => {}
                    (A::Mov | A::MovSx8 | A::MovSx16 | A::MovSx32, Operand::Reg(s)) => {
                        bt.clear_reg(fr, dst.index());
                        if s != IsaReg::R10 {
                            bt.set_reg(fr, s.index());
                        }
                    }
                    (A::Mov | A::MovSx8 | A::MovSx16 | A::MovSx32, Operand::Imm(_)) => {
                        bt.clear_reg(fr, dst.index());
                    }
                    (_, Operand::Reg(s)) => {
                        if s != IsaReg::R10 {
                            bt.set_reg(fr, s.index());
                        }
                    }
                    (_, Operand::Imm(_)) => {}
                }
            }
            Insn::Endian { .. } => {}
            Insn::AddrSpaceCast { dst, src, .. } => {
                if bt.reg(fr, dst.index()) {
                    bt.clear_reg(fr, dst.index());
                    if src != IsaReg::R10 {
                        bt.set_reg(fr, src.index());
                    }
                }
            }
            Insn::Load { dst, .. } => self.bt_load(bt, dst, stack),
            Insn::Atomic { op, dst, src, .. } => {
                let fetch = match op {
                    AtomicOp::CmpXchg => Some(IsaReg::R0),
                    AtomicOp::Xchg
                    | AtomicOp::Add { fetch: true }
                    | AtomicOp::Or { fetch: true }
                    | AtomicOp::And { fetch: true }
                    | AtomicOp::Xor { fetch: true } => Some(src),
                    _ => None,
                };
                match fetch {
                    Some(r) => self.bt_load(bt, r, stack),
                    None => {
                        if bt.reg(fr, dst.index()) {
                            return Err(Stop::NotSupported);
                        }
                        if let Some((f, spi)) = stack
                            && bt.slot(f as usize, spi as usize)
                        {
                            bt.clear_slot(f as usize, spi as usize);
                            bt.set_reg(fr, src.index());
                        }
                    }
                }
            }
            Insn::Store { dst, src, .. } => {
                if bt.reg(fr, dst.index()) {
                    return Err(Stop::NotSupported);
                }
                if let Some((f, spi)) = stack
                    && bt.slot(f as usize, spi as usize)
                {
                    bt.clear_slot(f as usize, spi as usize);
                    if let Operand::Reg(s) = src {
                        bt.set_reg(fr, s.index());
                    }
                }
            }
            Insn::Call(CallTarget::Local(imm)) => {
                let target = (idx as i64 + imm as i64 + 1) as usize;
                let global = self
                    .prog
                    .subprog_at(target)
                    .is_some_and(|sp| self.verified_separately(sp));
                if global {
                    if bt.regs[fr] & ARGS != 0 {
                        return Err(Stop::Bug(format!("regs {:x}", bt.regs[fr])));
                    }
                    bt.clear_reg(fr, 0);
                    return Ok(());
                }
                if bt.regs[fr] & !ARGS != 0 {
                    return Err(Stop::Bug(format!("regs {:x}", bt.regs[fr])));
                }
                if bt.stack[fr] != 0 {
                    return Err(Stop::Bug(format!("stack slots {:x}", bt.stack[fr])));
                }
                if fr == 0 {
                    return Err(Stop::Bug("subprog exit from frame 0".into()));
                }
                for i in 1..=5 {
                    if bt.reg(fr, i) {
                        bt.clear_reg(fr, i);
                        bt.set_reg(fr - 1, i);
                    }
                }
                bt.exit()?;
            }
            Insn::Call(CallTarget::Helper(id))
                if crate::proto::calls_callback(id) && idx as isize != subseq_idx - 1 =>
            {
                // Back from a callback's exit into the helper that called it.
                if bt.regs[fr] & !ARGS != 0 {
                    return Err(Stop::Bug(format!("regs {:x}", bt.regs[fr])));
                }
                if bt.stack[fr] != 0 {
                    return Err(Stop::Bug(format!("stack slots {:x}", bt.stack[fr])));
                }
                bt.regs[fr] &= !ARGS;
                bt.exit()?;
            }
            Insn::Call(_) | Insn::CallX { .. } => {
                bt.clear_reg(fr, 0);
                if bt.regs[fr] & ARGS != 0 {
                    return Err(Stop::Bug(format!("regs {:x}", bt.regs[fr])));
                }
            }
            Insn::Exit => {
                let from_call = subseq_idx >= 1
                    && matches!(
                        self.prog.slots.get(subseq_idx as usize - 1),
                        Some(Some(Insn::Call(CallTarget::Local(_))))
                    );
                let r0 = from_call && bt.reg(fr, 0);
                if from_call && bt.regs[fr] & ARGS != 0 {
                    return Err(Stop::Bug(format!("regs {:x}", bt.regs[fr])));
                }
                bt.clear_reg(fr, 0);
                bt.enter()?;
                if r0 {
                    bt.set_reg(bt.frame, 0);
                }
                return Ok(());
            }
            Insn::Jump { dst, src, .. } => {
                if let Operand::Reg(s) = src
                    && (bt.reg(fr, dst.index()) || bt.reg(fr, s.index()))
                {
                    if stack_ptrs & 1 == 0 {
                        bt.set_reg(fr, s.index());
                    }
                    if stack_ptrs & 2 == 0 {
                        bt.set_reg(fr, dst.index());
                    }
                }
            }
            Insn::Ja { .. } | Insn::MayGoto { .. } => {}
            Insn::LdImm64 { dst, .. } => {
                bt.clear_reg(fr, dst.index());
                return Ok(());
            }
            Insn::LdAbs { .. } | Insn::LdInd { .. } => {
                if bt.reg(fr, 0) {
                    return Err(Stop::NotSupported);
                }
                return Ok(());
            }
        }
        bt.sync_linked(linked);
        Ok(())
    }

    /// A load into `dst` (or an atomic fetch): a fill from a tracked stack slot moves the
    /// request to the slot; other memory holds no tracked value.
    fn bt_load(&self, bt: &mut Bt, dst: IsaReg, stack: Option<(u8, u8)>) {
        let fr = bt.frame;
        if !bt.reg(fr, dst.index()) {
            return;
        }
        bt.clear_reg(fr, dst.index());
        if let Some((f, spi)) = stack {
            bt.set_slot(f as usize, spi as usize);
        }
    }

    /// Whether subprogram `sp` is verified on its own (a global function) rather than at
    /// each call site.
    pub(crate) fn verified_separately(&self, sp: usize) -> bool {
        self.globals.separate(sp)
    }

    /// The instruction as the kernel's log prints it: `(bf) r1 = r10`.
    pub(crate) fn insn_text(&self, insn: &Insn) -> String {
        let names = |id: i32| {
            (0..crate::proto::MAX_ID)
                .contains(&id)
                .then(|| crate::proto::helper_name(id))
        };
        let opts = lull_isa::disasm::Options {
            helper_name: Some(&names),
            opcode_prefix: true,
            ..lull_isa::disasm::Options::kernel()
        };
        lull_isa::disasm::format_insn(insn, &opts)
    }
}

#[cfg(test)]
#[path = "precision_tests.rs"]
mod tests;
