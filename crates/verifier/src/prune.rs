//! State pruning (`is_state_visited`, `states_equal`, `regsafe`, `stacksafe`): at prune points
//! the current state is compared with states already explored from the same instruction; when
//! an explored state is at least as general, the current path is safe and stops here.
//!
//! Precision: an imprecise scalar of an explored state matches any scalar (its value did not
//! matter to anything decided below it); precise ones must contain the current range. The
//! marks are filled in by [`crate::precision`] as paths below a checkpoint need them.

use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::state::{ADD_CONST, Frame, IterState, Reg, RegKind, SlotType, StackSlot, State};
use std::collections::HashMap;

/// An explored state kept for pruning (`bpf_verifier_state_list` entry).
pub(crate) struct Checkpoint {
    pub state: State,
    /// Unfinished paths below this state; 0 means fully explored (usable for pruning).
    pub branches: u32,
    pub parent: Option<usize>,
    /// Times this state pruned a path.
    pub hits: u32,
    /// Times it was compared without pruning (while new states were being added).
    pub misses: u32,
    /// Its part of the instruction history (for precision backtracking).
    pub pos: crate::precision::PathPos,
    /// The instruction it was taken at.
    pub insn: usize,
    /// A loop iteration below it converged on an unfinished state, whose precision marks were
    /// not final: later pruning against this state compares every scalar by range
    /// (the kernel's `force_exact` for states of a loop being explored).
    pub loop_exact: bool,
}

/// All checkpoints, and the ones kept per instruction.
pub(crate) struct Checkpoints {
    pub(crate) arena: Vec<Checkpoint>,
    at: Vec<Vec<usize>>,
    pub peak: u64,
    pub max_per_insn: u32,
}

impl Checkpoints {
    pub fn new(n: usize) -> Self {
        Checkpoints {
            arena: Vec::new(),
            at: vec![Vec::new(); n],
            peak: 0,
            max_per_insn: 0,
        }
    }
    pub fn get_mut(&mut self, i: usize) -> &mut Checkpoint {
        &mut self.arena[i]
    }
    /// Number of states kept.
    pub fn total(&self) -> u64 {
        self.arena.len() as u64
    }
    /// `update_branch_counts`: a path below `parent` finished.
    pub fn path_done(&mut self, mut parent: Option<usize>) {
        while let Some(p) = parent {
            let c = &mut self.arena[p];
            c.branches = c.branches.saturating_sub(1);
            if c.branches > 0 {
                break;
            }
            parent = c.parent;
        }
    }
    fn add(
        &mut self,
        insn: usize,
        state: State,
        parent: Option<usize>,
        pos: crate::precision::PathPos,
    ) -> usize {
        let id = self.arena.len();
        self.arena.push(Checkpoint {
            state,
            branches: 1,
            parent,
            hits: 0,
            misses: 0,
            pos,
            insn,
            loop_exact: false,
        });
        self.at[insn].push(id);
        self.max_per_insn = self.max_per_insn.max(self.at[insn].len() as u32);
        self.peak = self.peak.max(self.arena.len() as u64);
        id
    }
}

/// Whether comparison is exact (loop detection), by inclusion of every scalar range
/// (`RANGE_WITHIN`: states whose precision marks are not final yet), or by inclusion of the
/// precise scalars only (pruning against fully explored states).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Exact {
    No,
    RangeWithin,
    Yes,
}

/// A bijection between ids of the old and the current state (`check_ids`). Ids are widened
/// to 64 bits so that the temporary ids of [`IdMap::check_scalar`] never meet real ones.
#[derive(Default)]
struct IdMap {
    map: HashMap<u64, u64>,
    rev: HashMap<u64, u64>,
    tmp: u64,
}

impl IdMap {
    fn check(&mut self, old: u32, cur: u32) -> bool {
        self.check_wide(old as u64, cur as u64)
    }
    fn check_wide(&mut self, old: u64, cur: u64) -> bool {
        if old == 0 && cur == 0 {
            return true;
        }
        if old == 0 || cur == 0 {
            return false;
        }
        match (self.map.get(&old), self.rev.get(&cur)) {
            (Some(&c), _) => c == cur,
            (None, Some(_)) => false,
            (None, None) => {
                self.map.insert(old, cur);
                self.rev.insert(cur, old);
                true
            }
        }
    }
    /// `check_scalar_ids`: id 0 means "unique", so give it a fresh temporary id.
    fn check_scalar(&mut self, old: u32, cur: u32) -> bool {
        let mut fresh = || {
            self.tmp += 1;
            (1 << 32) | self.tmp
        };
        let old = if old == 0 { fresh() } else { old as u64 };
        let cur = if cur == 0 { fresh() } else { cur as u64 };
        self.check_wide(old, cur)
    }
}

/// `range_within` + `tnum_in`.
fn scalar_within(old: &Reg, cur: &Reg) -> bool {
    cur.var.is_subset_of(&old.var)
}

fn regs_exact(old: &Reg, cur: &Reg, ids: &mut IdMap) -> bool {
    old.kind == cur.kind
        && old.maybe_null == cur.maybe_null
        && old.off == cur.off
        && old.var == cur.var
        && old.range == cur.range
        && ids.check(old.id, cur.id)
        && ids.check(old.ref_obj_id, cur.ref_obj_id)
}

fn regsafe(old: &Reg, cur: &Reg, ids: &mut IdMap, exact: Exact) -> bool {
    if exact == Exact::Yes {
        return regs_exact(old, cur, ids);
    }
    if old.kind == RegKind::NotInit {
        return true;
    }
    if old.kind != cur.kind || old.maybe_null != cur.maybe_null {
        return false;
    }
    match old.kind {
        RegKind::Scalar if !old.precise && exact == Exact::No => true,
        RegKind::Scalar => {
            // Offset-linked scalars must carry the same offset.
            let add_const = |r: &Reg| (r.id & ADD_CONST != 0).then_some(r.off);
            add_const(old) == add_const(cur)
                && scalar_within(old, cur)
                && ids.check_scalar(old.id, cur.id)
        }
        RegKind::MapKey { .. } | RegKind::MapValue { .. } | RegKind::Mem { .. } => {
            old.off == cur.off
                && scalar_within(old, cur)
                && ids.check(old.id, cur.id)
                && ids.check(old.ref_obj_id, cur.ref_obj_id)
        }
        RegKind::Packet | RegKind::PacketMeta => {
            old.range <= cur.range
                && old.off == cur.off
                && ids.check(old.id, cur.id)
                && scalar_within(old, cur)
        }
        _ => regs_exact(old, cur, ids),
    }
}

/// `scalar_reg_for_stack`: a full scalar spill, or an all-misc slot read as an unknown scalar.
fn scalar_for_stack(s: &StackSlot, allow_uninit: bool) -> Option<Reg> {
    if s.is_full_spill() && s.spilled.is_scalar() {
        return Some(s.spilled);
    }
    let all_misc = s
        .types
        .iter()
        .all(|t| *t == SlotType::Misc || (*t == SlotType::Invalid && allow_uninit));
    all_misc.then(Reg::unknown)
}

fn stacksafe(old: &Frame, cur: &Frame, ids: &mut IdMap, exact: Exact, allow_uninit: bool) -> bool {
    let inv = StackSlot::INVALID;
    for spi in 0..old.stack.len() {
        let o = &old.stack[spi];
        let c = cur.stack.get(spi);
        if exact == Exact::Yes {
            match c {
                Some(c) if c.types == o.types => {}
                _ => return false,
            }
        }
        if let (Some(or), Some(cr)) = (
            scalar_for_stack(o, allow_uninit),
            c.and_then(|c| scalar_for_stack(c, allow_uninit)),
        ) {
            if !regsafe(&or, &cr, ids, exact) {
                return false;
            }
            continue;
        }
        let c = c.unwrap_or(&inv);
        for b in 0..8 {
            let ot = o.types[b];
            if ot == SlotType::Invalid || (allow_uninit && ot == SlotType::Misc) {
                continue;
            }
            if cur.stack.get(spi).is_none() {
                return false;
            }
            let ct = c.types[b];
            if ot == SlotType::Misc && ct == SlotType::Zero {
                continue;
            }
            if ot != ct {
                return false;
            }
        }
        if o.types[7] == SlotType::Spill && !regsafe(&o.spilled, &c.spilled, ids, exact) {
            return false;
        }
        // Dynptrs: same kind and slot role, and the same reference.
        if o.is_dynptr()
            && (o.dynptr != c.dynptr || !ids.check(o.spilled.ref_obj_id, c.spilled.ref_obj_id))
        {
            return false;
        }
        // Iterators: same type, state and trust, and the same reference. The depth does not
        // count (it would keep loops from converging; it only serves the loop check).
        if o.types[7] == SlotType::Iter {
            let same = match (o.iter, c.iter) {
                (Some(a), Some(b)) => a.btf_id == b.btf_id && a.state == b.state && a.rcu == b.rcu,
                (None, None) => true,
                _ => false,
            };
            if !same || !ids.check(o.spilled.ref_obj_id, c.spilled.ref_obj_id) {
                return false;
            }
        }
    }
    true
}

fn states_equal(
    old: &State,
    cur: &State,
    exact: Exact,
    allow_uninit: bool,
    live: &[u16],
    insn: usize,
) -> bool {
    if old.frames.len() != cur.frames.len() || old.refs.len() != cur.refs.len() {
        return false;
    }
    if old.rcu_lock != cur.rcu_lock || old.preempt_locks != cur.preempt_locks {
        return false;
    }
    // A state from speculative execution never prunes a real one.
    if old.speculative && !cur.speculative {
        return false;
    }
    let mut ids = IdMap::default();
    match (old.lock, cur.lock) {
        (None, None) => {}
        (Some(a), Some(b)) if a.map == b.map && ids.check(a.id, b.id) => {}
        _ => return false,
    }
    let nframes = old.frames.len();
    for (fi, (o, c)) in old.frames.iter().zip(&cur.frames).enumerate() {
        if o.callsite != c.callsite
            || o.callback != c.callback
            || o.callback_depth > c.callback_depth
        {
            return false;
        }
        // Registers dead where this frame resumes cannot matter (compute_live_registers).
        let mask = if exact == Exact::Yes {
            u16::MAX
        } else if fi + 1 == nframes {
            live.get(insn).copied().unwrap_or(u16::MAX)
        } else {
            let callee = &old.frames[fi + 1];
            let resume = if callee.callback == Some(crate::state::Callback::Sync) {
                callee.callsite
            } else {
                callee.callsite + 1
            };
            live.get(resume).copied().unwrap_or(u16::MAX)
        };
        for (i, (ro, rc)) in o.regs.iter().zip(&c.regs).enumerate() {
            if i != 10 && mask & (1 << i) == 0 {
                continue;
            }
            if !regsafe(ro, rc, &mut ids, exact) {
                return false;
            }
        }
        if !stacksafe(o, c, &mut ids, exact, allow_uninit) {
            return false;
        }
    }
    old.refs
        .iter()
        .zip(&cur.refs)
        .all(|(a, b)| ids.check(a.id, b.id))
}

/// `widen_imprecise_scalars`: scalars of `cur` that are imprecise in both states and differ
/// from the previous loop iteration `old` become unknown, so that iterations converge.
pub(crate) fn widen_imprecise(old: &State, cur: &mut State) {
    let mut ids = IdMap::default();
    let mut widen = |o: &Reg, c: &mut Reg| {
        if o.kind == RegKind::Scalar
            && c.kind == RegKind::Scalar
            && !o.precise
            && !c.precise
            && !regs_exact(o, c, &mut ids)
        {
            *c = Reg::unknown();
        }
    };
    for (fo, fc) in old.frames.iter().zip(cur.frames.iter_mut()) {
        for (o, c) in fo.regs.iter().zip(fc.regs.iter_mut()) {
            widen(o, c);
        }
        for (so, sc) in fo.stack.iter().zip(fc.stack.iter_mut()) {
            if so.is_spilled() && sc.is_spilled() {
                widen(&so.spilled, &mut sc.spilled);
            }
        }
    }
}

/// `iter_active_depths_differ`: an iterator active in `old` is at another iteration in `cur`,
/// so the two states are different loop iterations, not an infinite loop.
fn iter_active_depths_differ(old: &State, cur: &State) -> bool {
    old.frames.iter().zip(&cur.frames).any(|(fo, fc)| {
        fo.stack.iter().enumerate().any(|(spi, s)| {
            let Some(it) = s.iter.filter(|_| s.types[0] == SlotType::Iter) else {
                return false;
            };
            it.state == IterState::Active
                && fc.stack.get(spi).and_then(|c| c.iter).map(|c| c.depth) != Some(it.depth)
        })
    })
}

/// `states_maybe_looping`: same frame depth and identical registers in the current frame.
fn maybe_looping(old: &State, cur: &State) -> bool {
    // Precision marks do not count (the kernel compares up to `frameno`).
    let same = |a: &Reg, b: &Reg| {
        Reg {
            precise: false,
            ..*a
        } == Reg {
            precise: false,
            ..*b
        }
    };
    old.frames.len() == cur.frames.len()
        && old
            .cur()
            .regs
            .iter()
            .zip(&cur.cur().regs)
            .all(|(a, b)| same(a, b))
}

impl Verifier<'_> {
    /// At an iterator `_next` call: the iterator passed in `r1` is active (not drained).
    fn cur_iter_active(&self) -> bool {
        let r1 = self.cur.regs()[1];
        let RegKind::Stack { frame } = r1.kind else {
            return false;
        };
        let Some(v) = r1.var.const_value() else {
            return false;
        };
        let off = r1.off as i64 + v as i64;
        if off >= 0 {
            return false;
        }
        let spi = ((-off - 1) / 8) as usize;
        self.cur
            .frames
            .get(frame as usize)
            .and_then(|f| f.stack.get(spi))
            .and_then(|s| s.iter)
            .is_some_and(|it| it.state == IterState::Active)
    }

    /// Makes every checkpoint of the current path compare by range from now on.
    fn mark_path_loop_exact(&mut self) {
        let mut p = self.parent;
        while let Some(id) = p {
            let c = &mut self.ckpts.arena[id];
            if c.loop_exact {
                // Its ancestors were flagged together with it.
                break;
            }
            c.loop_exact = true;
            p = c.parent;
        }
    }

    /// `is_state_visited`: `true` when the current path can be pruned here.
    pub(crate) fn is_state_visited(&mut self) -> Res<bool> {
        let insn = self.insn_idx;
        let force = self.prog.force_checkpoint[insn]
            || self.prec.state_hist_len() > 40
            || self.input.prog_flags & lull_abi::prog_flags::TEST_STATE_FREQ != 0;
        let allow_uninit = self.perfmon;
        // Unprivileged programs keep every scalar precise.
        let inexact = if self.bpf_capable {
            Exact::No
        } else {
            Exact::RangeWithin
        };
        // A new checkpoint needs at least 2 jumps and 8 instructions since the last one.
        let mut add = force
            || (self.jmps_processed - self.prev_jmps_processed >= 2
                && self.insn_processed - self.prev_insn_processed >= 8);
        let calls_cb = matches!(self.prog.slots[insn], Some(lull_isa::Insn::Call(lull_isa::CallTarget::Helper(id))) if crate::proto::calls_callback(id));
        let is_may_goto = matches!(self.prog.slots[insn], Some(lull_isa::Insn::MayGoto { .. }));
        let is_iter_next = self.iter_next[insn];
        let mut k = 0;
        while k < self.ckpts.at[insn].len() {
            let id = self.ckpts.at[insn][k];
            let c = &self.ckpts.arena[id];
            let hit = if c.branches > 0 {
                // Iterator `_next` calls, callback call sites and may_goto compare against
                // unfinished states: that is how their iterations converge.
                let converges = (calls_cb
                    || is_iter_next
                    || (is_may_goto && c.state.may_goto_depth != self.cur.may_goto_depth))
                    && states_equal(
                        &c.state,
                        &self.cur,
                        Exact::RangeWithin,
                        allow_uninit,
                        &self.prog.live_regs,
                        insn,
                    )
                    && (!is_iter_next || self.cur_iter_active());
                if converges {
                    // The unfinished state's precision marks are not final: states of this
                    // path are compared by range from now on, so that no later pruning relies
                    // on missing marks (their own marks stay as they are: widening of later
                    // iterations still sees which scalars really are precise).
                    self.mark_path_loop_exact();
                    true
                } else {
                    if !calls_cb
                        && !is_iter_next
                        && maybe_looping(&c.state, &self.cur)
                        && c.state.may_goto_depth == self.cur.may_goto_depth
                        && !iter_active_depths_differ(&c.state, &self.cur)
                        && states_equal(
                            &c.state,
                            &self.cur,
                            Exact::Yes,
                            allow_uninit,
                            &self.prog.live_regs,
                            insn,
                        )
                    {
                        return Err(E::InfiniteLoop(insn));
                    }
                    if !force
                        && self.jmps_processed - self.prev_jmps_processed < 20
                        && self.insn_processed - self.prev_insn_processed < 100
                    {
                        add = false;
                    }
                    false
                }
            } else {
                states_equal(
                    &c.state,
                    &self.cur,
                    if c.loop_exact {
                        Exact::RangeWithin
                    } else {
                        inexact
                    },
                    allow_uninit,
                    &self.prog.live_regs,
                    insn,
                )
            };
            if hit && self.ckpts.arena[id].loop_exact {
                // Pruned by range against a state whose marks were not final: this path's
                // marks are not final either (the kernel's `update_loop_entry` on a
                // `force_exact` hit).
                self.mark_path_loop_exact();
            }
            let c = &mut self.ckpts.arena[id];
            if hit {
                c.hits += 1;
                self.record_jmp_point();
                self.propagate_precision(id)?;
                return Ok(true);
            }
            if add {
                c.misses += 1;
            }
            // Evict states that keep missing (the kernel's miss_cnt heuristic).
            let n = if force && c.branches > 0 { 64 } else { 3 };
            if c.misses > c.hits * n + n {
                self.ckpts.at[insn].swap_remove(k);
                continue;
            }
            k += 1;
        }
        if add {
            self.prev_jmps_processed = self.jmps_processed;
            self.prev_insn_processed = self.insn_processed;
            if self.bpf_capable {
                crate::precision::mark_all_scalars_imprecise(&mut self.cur);
            }
            let pos = crate::precision::PathPos {
                last_idx: self.prev_insn_idx as isize,
                ..self.prec.pos()
            };
            let id = self.ckpts.add(insn, self.cur.clone(), self.parent, pos);
            self.parent = Some(id);
            self.prec.first_idx = insn;
            self.prec.hist_start = self.prec.hist.len();
        }
        Ok(false)
    }
}
