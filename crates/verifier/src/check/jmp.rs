//! Conditional jumps (`check_cond_jmp_op`): decide the branch when the operands allow it,
//! otherwise explore both sides with refined registers — scalar bounds, null checks of nullable
//! pointers (`mark_ptr_or_null_regs`) and packet ranges (`try_match_pkt_pointers`).

use super::linked::sync_linked;
use crate::domain::{self, Scalar};
use crate::error::VerifierError as E;
use crate::explore::{Flow, Res, Verifier};
use crate::state::{Reg, RegKind, State};
use lull_isa::{JmpCond, Operand, Reg as IsaReg, Width};

/// `MAX_PACKET_OFF`.
const MAX_PACKET_OFF: u64 = 0xffff;
/// Packet pointer known to be at `data_end` (`AT_PKT_END`).
const AT_PKT_END: i32 = -1;
/// Packet pointer known to be past `data_end` (`BEYOND_PKT_END`).
const BEYOND_PKT_END: i32 = -2;

/// `reg_not_null`.
fn not_null(r: &Reg) -> bool {
    !r.maybe_null
        && matches!(
            r.kind,
            RegKind::MapValue { .. }
                | RegKind::MapKey { .. }
                | RegKind::Mem { .. }
                | RegKind::Sock(_)
                | RegKind::ConstMap { .. }
        )
}

/// `reg_is_init_pkt_pointer`.
fn init_pkt(r: &Reg, kind: RegKind) -> bool {
    r.kind == kind && r.off == 0 && r.var.const_value() == Some(0)
}

fn const_for(r: &Reg, width: Width) -> Option<u64> {
    if !r.is_scalar() {
        return None;
    }
    match width {
        Width::W64 => r.var.const_value(),
        Width::W32 => r.var.const32().map(u64::from),
    }
}

/// `is_branch_taken` for everything: `Some(true)` when the jump is always taken.
fn branch_taken(a: &Reg, b: &Reg, cond: JmpCond, width: Width) -> Option<bool> {
    let pkt_any = |r: &Reg| r.kind.is_pkt() || r.kind == RegKind::PacketEnd;
    if pkt_any(a) && pkt_any(b) && width == Width::W64 {
        let (pkt, cond) = if b.kind == RegKind::PacketEnd {
            (a, cond)
        } else if a.kind == RegKind::PacketEnd {
            (b, domain::flip(cond))
        } else {
            return None;
        };
        if pkt.range >= 0 {
            return None;
        }
        return match cond {
            JmpCond::Le | JmpCond::Gt if pkt.range == BEYOND_PKT_END => Some(cond == JmpCond::Gt),
            JmpCond::Lt | JmpCond::Ge if pkt.range == BEYOND_PKT_END || pkt.range == AT_PKT_END => {
                Some(cond == JmpCond::Ge)
            }
            _ => None,
        };
    }
    if a.is_pointer() || b.is_pointer() {
        let (p, c, cond) = if const_for(b, width).is_some() {
            (a, b, cond)
        } else {
            (b, a, domain::flip(cond))
        };
        let val = const_for(c, width)?;
        if !not_null(p) || val != 0 {
            return None;
        }
        return match cond {
            JmpCond::Eq => Some(false),
            JmpCond::Ne => Some(true),
            _ => None,
        };
    }
    domain::branch_taken(cond, width, &a.var, &b.var)
}

/// `find_good_pkt_pointers`.
fn find_good_pkt_pointers(st: &mut State, dst: &Reg, right_open: bool) {
    if dst.off < 0 || (dst.off == 0 && right_open) {
        return;
    }
    if dst.var.umax > MAX_PACKET_OFF || dst.var.umax + dst.off as u64 > MAX_PACKET_OFF {
        return;
    }
    let new_range = dst.off + i32::from(right_open);
    let (kind, id) = (dst.kind, dst.id);
    st.for_each_reg(|r| {
        if r.kind == kind && r.id == id {
            r.range = r.range.max(new_range);
        }
    });
}

/// `mark_pkt_end`.
fn mark_pkt_end(st: &mut State, r: IsaReg, open: bool) {
    let reg = &mut st.regs_mut()[r.index()];
    if reg.kind == RegKind::Packet {
        reg.range = if open { BEYOND_PKT_END } else { AT_PKT_END };
    }
}

impl Verifier<'_> {
    pub(crate) fn check_cond_jmp(
        &mut self,
        width: Width,
        cond: JmpCond,
        dst: IsaReg,
        src: Operand,
        off: i16,
    ) -> Res<Flow> {
        let privileged = self.perfmon;
        let src_reg = match src {
            Operand::Reg(r) => {
                let s = self.src_reg(r)?;
                let d = self.cur.regs()[dst.index()];
                let pkt_any = |r: &Reg| r.kind.is_pkt() || r.kind == RegKind::PacketEnd;
                if !(pkt_any(&d) && pkt_any(&s)) && s.is_pointer() && !privileged {
                    return Err(E::Malformed(format!(
                        "R{} pointer comparison prohibited",
                        r.num()
                    )));
                }
                s
            }
            Operand::Imm(imm) => Reg::known(imm as i64 as u64),
        };
        let dst_reg = self.src_reg(dst)?;
        let target = (self.insn_idx as i64 + off as i64 + 1) as usize;
        self.record_jmp_stack_ptrs(&dst_reg, &src_reg, src);
        let taken = branch_taken(&dst_reg, &src_reg, cond, width);
        if taken.is_some() {
            // The outcome depends on the operands' values: they must be precise.
            self.mark_chain_precision(dst)?;
            if let Operand::Reg(r) = src {
                self.mark_chain_precision(r)?;
            }
        }
        if let Some(taken) = taken {
            // sanitize_speculative_path: unprivileged programs also verify the side the CPU
            // may take speculatively, with the compared registers unknown.
            if !privileged {
                let mut spec = self.cur.clone();
                spec.speculative = true;
                spec.regs_mut()[dst.index()] = Reg::unknown();
                if let Operand::Reg(r) = src {
                    spec.regs_mut()[r.index()] = Reg::unknown();
                }
                let other = if taken { self.insn_idx + 1 } else { target };
                self.push_branch(spec, other)?;
            }
            self.insn_idx = if taken { target } else { self.insn_idx + 1 };
            return Ok(Flow::Continue);
        }
        let src_id = match src {
            Operand::Reg(_) if src_reg.is_scalar() => src_reg.id,
            _ => 0,
        };
        let dst_id = if dst_reg.is_scalar() { dst_reg.id } else { 0 };
        self.record_linked_regs(&[src_id, dst_id]);
        let mut other = self.cur.clone();
        // Scalar refinement on both sides.
        if dst_reg.is_scalar() && src_reg.is_scalar() {
            let same = matches!(src, Operand::Reg(r) if r == dst);
            let bs = domain::set_min_max(cond, width, &dst_reg.var, &src_reg.var, same);
            let apply = |st: &mut State, (d, s): (Scalar, Scalar)| {
                st.regs_mut()[dst.index()].var = d;
                if let Operand::Reg(r) = src {
                    st.regs_mut()[r.index()].var = s;
                }
            };
            apply(&mut other, bs.taken);
            apply(&mut self.cur, bs.fallthrough);
            for st in [&mut self.cur, &mut other] {
                if let Operand::Reg(r) = src {
                    let known = st.regs()[r.index()];
                    sync_linked(st, known);
                }
                let known = st.regs()[dst.index()];
                sync_linked(st, known);
            }
        }
        let is_null_check = width == Width::W64
            && matches!(src, Operand::Imm(0))
            && matches!(cond, JmpCond::Eq | JmpCond::Ne)
            && dst_reg.maybe_null;
        if is_null_check {
            self.mark_ptr_or_null(&mut other, dst, cond == JmpCond::Eq);
            let mut cur = std::mem::replace(&mut self.cur, State::entry());
            self.mark_ptr_or_null(&mut cur, dst, cond == JmpCond::Ne);
            self.cur = cur;
        } else if width == Width::W64
            && matches!(src, Operand::Reg(_))
            && dst_reg.is_pointer()
            && src_reg.is_pointer()
            && dst_reg.maybe_null != src_reg.maybe_null
            && matches!(cond, JmpCond::Eq | JmpCond::Ne)
        {
            // Comparing a nullable pointer with a non-null one: equal means not null.
            let (r, _) = if dst_reg.maybe_null {
                (dst, src_reg)
            } else {
                (
                    match src {
                        Operand::Reg(r) => r,
                        _ => dst,
                    },
                    dst_reg,
                )
            };
            if cond == JmpCond::Eq {
                self.mark_ptr_or_null(&mut other, r, false);
            } else {
                let mut cur = std::mem::replace(&mut self.cur, State::entry());
                self.mark_ptr_or_null(&mut cur, r, false);
                self.cur = cur;
            }
        } else if !self.match_pkt_pointers(width, cond, dst, src, &dst_reg, &src_reg, &mut other)
            && dst_reg.is_pointer()
            && !privileged
        {
            return Err(E::Malformed(format!(
                "R{} pointer comparison prohibited",
                dst.num()
            )));
        }
        self.push_branch(other, target)?;
        self.insn_idx += 1;
        Ok(Flow::Continue)
    }

    /// `mark_ptr_or_null_regs`: after a null check, the nullable pointer (and every copy of it)
    /// becomes either a plain pointer or the number zero.
    pub(crate) fn mark_ptr_or_null(&mut self, st: &mut State, r: IsaReg, is_null: bool) {
        let reg = st.regs()[r.index()];
        let id = reg.id;
        if reg.ref_obj_id != 0 && reg.ref_obj_id == id && is_null {
            st.refs.retain(|x| x.id != id);
        }
        if id == 0 {
            return;
        }
        let inner = &self.inner;
        let maps = &self.maps;
        st.for_each_reg(|x| {
            if x.maybe_null && x.id == id {
                if is_null {
                    *x = Reg::known(0);
                    return;
                }
                x.maybe_null = false;
                let mut keep_id = false;
                if let RegKind::MapValue { map } = x.kind {
                    let mt = maps.get(map as usize).map(|m| m.map_type);
                    if let Some(Some(i)) = inner.get(map as usize) {
                        x.kind = RegKind::ConstMap { map: *i };
                    } else if matches!(
                        mt,
                        Some(lull_abi::MapType::Sockmap | lull_abi::MapType::Sockhash)
                    ) {
                        x.kind = RegKind::Sock(crate::state::SockKind::Full);
                    } else if mt == Some(lull_abi::MapType::Xskmap) {
                        x.kind = RegKind::Sock(crate::state::SockKind::Xdp);
                    } else {
                        keep_id = maps
                            .get(map as usize)
                            .is_some_and(|m| m.spin_lock_off.is_some());
                    }
                }
                if !keep_id {
                    x.id = 0;
                }
            }
        });
    }

    /// `try_match_pkt_pointers`; `other` is the jump-taken state, `self.cur` the fall-through.
    #[allow(clippy::too_many_arguments)]
    fn match_pkt_pointers(
        &mut self,
        width: Width,
        cond: JmpCond,
        dst: IsaReg,
        src: Operand,
        d: &Reg,
        s: &Reg,
        other: &mut State,
    ) -> bool {
        let Operand::Reg(sr) = src else { return false };
        if width == Width::W32 {
            return false;
        }
        let left = (d.kind == RegKind::Packet && s.kind == RegKind::PacketEnd)
            || (d.kind == RegKind::PacketMeta && init_pkt(s, RegKind::Packet));
        let right = (d.kind == RegKind::PacketEnd && s.kind == RegKind::Packet)
            || (init_pkt(d, RegKind::Packet) && s.kind == RegKind::PacketMeta);
        let cur = &mut self.cur;
        match cond {
            JmpCond::Gt if left => {
                find_good_pkt_pointers(cur, d, false);
                mark_pkt_end(other, dst, true);
            }
            JmpCond::Gt if right => {
                find_good_pkt_pointers(other, s, true);
                mark_pkt_end(cur, sr, false);
            }
            JmpCond::Lt if left => {
                find_good_pkt_pointers(other, d, true);
                mark_pkt_end(cur, dst, false);
            }
            JmpCond::Lt if right => {
                find_good_pkt_pointers(cur, s, false);
                mark_pkt_end(other, sr, true);
            }
            JmpCond::Ge if left => {
                find_good_pkt_pointers(cur, d, true);
                mark_pkt_end(other, dst, false);
            }
            JmpCond::Ge if right => {
                find_good_pkt_pointers(other, s, false);
                mark_pkt_end(cur, sr, true);
            }
            JmpCond::Le if left => {
                find_good_pkt_pointers(other, d, false);
                mark_pkt_end(cur, dst, true);
            }
            JmpCond::Le if right => {
                find_good_pkt_pointers(cur, s, true);
                mark_pkt_end(other, sr, false);
            }
            _ => return false,
        }
        true
    }

    /// `may_goto`: explore the fall-through later with a deeper budget, jump now.
    pub(crate) fn check_may_goto(&mut self, off: i16) -> Res<Flow> {
        let mut other = self.cur.clone();
        other.may_goto_depth += 1;
        // find_prev_entry: the previous iteration's checkpoint at this instruction.
        if let Some(prev) = self.prev_loop_entry() {
            crate::prune::widen_imprecise(&self.ckpts.arena[prev].state, &mut other);
        }
        self.push_branch(other, self.insn_idx + 1)?;
        self.insn_idx = (self.insn_idx as i64 + off as i64 + 1) as usize;
        Ok(Flow::Continue)
    }
}
