//! Control-flow facts the translator needs, computed on instruction indices (an `lddw` is one
//! index): jump targets, the BPF functions (the entry, local call targets and callback
//! targets), the instructions reachable in each, and basic-block leaders.
//!
//! Runs after [`lull_interp::Program::prepare`] accepted the program, so every target is a
//! valid instruction and the last instruction cannot fall through.

use std::collections::BTreeSet;

use lull_isa::{CallTarget, Insn, LdImm64Kind, Located};

/// The program's instruction indices and where its control transfers go.
pub(crate) struct Cfg<'a> {
    /// The instructions.
    pub insns: &'a [Located],
    /// Raw slot → instruction index (`usize::MAX` inside an `lddw`).
    slot_to_idx: Vec<usize>,
}

/// One BPF function: its entry and, in ascending order, the instructions reachable from it
/// without following calls.
pub(crate) struct Function {
    /// Index of the first instruction.
    pub entry: usize,
    /// Reachable instructions, ascending.
    pub body: Vec<usize>,
    /// Basic-block leaders among them (entry, jump targets, fall-through of conditionals).
    pub leaders: BTreeSet<usize>,
}

impl<'a> Cfg<'a> {
    /// Indexes `insns`.
    pub(crate) fn new(insns: &'a [Located]) -> Cfg<'a> {
        let mut slot_to_idx = Vec::with_capacity(insns.len() + 1);
        for (i, l) in insns.iter().enumerate() {
            slot_to_idx.push(i);
            if l.insn.slots() == 2 {
                slot_to_idx.push(usize::MAX);
            }
        }
        Cfg { insns, slot_to_idx }
    }

    /// Index of the instruction `rel` slots after the one following instruction `idx`
    /// (`None` if that is not the start of an instruction).
    pub(crate) fn target(&self, idx: usize, rel: i64) -> Option<usize> {
        let t = self.insns[idx].slot as i64 + 1 + rel;
        let i = *self.slot_to_idx.get(usize::try_from(t).ok()?)?;
        (i != usize::MAX).then_some(i)
    }

    /// Index of the instruction at raw slot `slot`, if one starts there.
    pub(crate) fn index_of_slot(&self, slot: u64) -> Option<usize> {
        let i = *self.slot_to_idx.get(usize::try_from(slot).ok()?)?;
        (i != usize::MAX).then_some(i)
    }

    /// Raw slot of instruction `idx`.
    pub(crate) fn slot(&self, idx: usize) -> usize {
        self.insns[idx].slot
    }

    /// Successors of instruction `idx` within its function: (fall-through, jump target).
    pub(crate) fn successors(&self, idx: usize) -> (Option<usize>, Option<usize>) {
        let next = (idx + 1 < self.insns.len()).then_some(idx + 1);
        match self.insns[idx].insn {
            Insn::Exit => (None, None),
            Insn::Ja { off, .. } => (None, self.target(idx, off.into())),
            Insn::Jump { off, .. } | Insn::MayGoto { off } => (next, self.target(idx, off.into())),
            _ => (next, None),
        }
    }

    /// Entries of every function: the main one (0), then local call and callback targets,
    /// ascending. Also returns which of them are callbacks (their address is taken).
    pub(crate) fn function_entries(&self) -> (Vec<usize>, Vec<usize>) {
        let mut entries = BTreeSet::from([0]);
        let mut callbacks = BTreeSet::new();
        for (i, l) in self.insns.iter().enumerate() {
            match l.insn {
                Insn::Call(CallTarget::Local(rel)) => {
                    entries.extend(self.target(i, rel.into()));
                }
                Insn::LdImm64 {
                    kind: LdImm64Kind::Func,
                    imm,
                    ..
                } => {
                    if let Some(t) = self.target(i, imm.into()) {
                        entries.insert(t);
                        callbacks.insert(t);
                    }
                }
                _ => {}
            }
        }
        (
            entries.into_iter().collect(),
            callbacks.into_iter().collect(),
        )
    }

    /// The function starting at `entry`.
    pub(crate) fn function(&self, entry: usize) -> Function {
        let mut seen = vec![false; self.insns.len()];
        let mut leaders = BTreeSet::from([entry]);
        let mut work = vec![entry];
        seen[entry] = true;
        while let Some(i) = work.pop() {
            let (next, target) = self.successors(i);
            if let Some(t) = target {
                leaders.insert(t);
                if next.is_some() {
                    // A conditional: its fall-through starts a block too.
                    leaders.extend(next);
                }
            }
            for s in [next, target].into_iter().flatten() {
                if !seen[s] {
                    seen[s] = true;
                    work.push(s);
                }
            }
        }
        let body = (0..self.insns.len()).filter(|&i| seen[i]).collect();
        Function {
            entry,
            body,
            leaders,
        }
    }
}

impl Function {
    /// Number of instructions in the basic block starting at leader `idx` (up to and including
    /// its terminator, or up to the next leader).
    pub(crate) fn block_len(&self, cfg: &Cfg<'_>, idx: usize) -> u64 {
        let mut n = 1;
        let mut i = idx;
        loop {
            let (next, target) = cfg.successors(i);
            match next {
                Some(s) if target.is_none() && !self.leaders.contains(&s) => {
                    n += 1;
                    i = s;
                }
                _ => return n,
            }
        }
    }
}
