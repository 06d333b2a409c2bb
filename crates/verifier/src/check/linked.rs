//! Scalars linked with a constant difference (the kernel's `BPF_ADD_CONST`): after
//! `rX = rY; rX += imm` both registers keep the id of `rY`, `rX` flagged [`ADD_CONST`] with
//! `off = imm`. A conditional jump that bounds one of them bounds the others, shifted by the
//! difference of their offsets (`sync_linked_regs`). Compilers emit this pattern for loop
//! counters (`i + 1` compared, `i` used as an index).

use crate::domain::{self, Scalar};
use crate::state::{ADD_CONST, Reg, State};
use lull_isa::{AluOp, Width};

/// The id and offset of the result of `dst op= src` on scalars (the end of
/// `adjust_reg_min_max_vals`): a 64-bit addition of a constant that fits in 31 bits keeps the
/// link (once); every other operation breaks it.
pub(crate) fn after_alu(
    dst: &Reg,
    op: AluOp,
    width: Width,
    src: &Reg,
    bpf_capable: bool,
) -> (u32, i32) {
    let Some(val) = src.const_value() else {
        return (0, 0);
    };
    if !bpf_capable || op != AluOp::Add || width != Width::W64 || dst.id == 0 {
        return (0, 0);
    }
    if dst.id & ADD_CONST != 0 || val > i32::MAX as u64 {
        return (0, 0);
    }
    (dst.id | ADD_CONST, val as i32)
}

/// `assign_scalar_id_before_mov`'s first step: a copy of a register that carries an offset
/// starts a new link instead of inheriting the offset.
pub(crate) fn unlink_offset(r: &mut Reg) {
    if r.is_scalar() && r.id & ADD_CONST != 0 {
        r.id = 0;
        r.off = 0;
    }
}

/// `sync_linked_regs`: every scalar linked to `known` takes its refined value, plus the
/// difference of their constant offsets.
pub(crate) fn sync_linked(st: &mut State, known: Reg) {
    if !known.is_scalar() || known.id == 0 {
        return;
    }
    let base = known.id & !ADD_CONST;
    let known_off = if known.id & ADD_CONST != 0 {
        known.off
    } else {
        0
    };
    st.for_each_reg(|r| {
        if !r.is_scalar() || r.id & !ADD_CONST != base {
            return;
        }
        let off = if r.id & ADD_CONST != 0 { r.off } else { 0 };
        r.var = if off == known_off {
            known.var
        } else {
            let delta = off as i64 - known_off as i64;
            domain::alu(
                AluOp::Add,
                Width::W64,
                &known.var,
                &Scalar::known(delta as u64),
            )
        };
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linked(lo: u64, hi: u64, id: u32, off: i32) -> Reg {
        let mut r = Reg::scalar(Scalar::from_urange(lo, hi));
        r.id = id;
        r.off = off;
        r
    }

    #[test]
    fn adding_a_constant_keeps_the_link_once() {
        let d = linked(0, 9, 3, 0);
        let one = Reg::known(1);
        let (id, off) = after_alu(&d, AluOp::Add, Width::W64, &one, true);
        assert_eq!((id, off), (3 | ADD_CONST, 1));
        let d2 = linked(1, 10, id, off);
        assert_eq!(after_alu(&d2, AluOp::Add, Width::W64, &one, true), (0, 0));
        assert_eq!(after_alu(&d, AluOp::Add, Width::W32, &one, true), (0, 0));
        assert_eq!(after_alu(&d, AluOp::Sub, Width::W64, &one, true), (0, 0));
        assert_eq!(
            after_alu(&d, AluOp::Add, Width::W64, &Reg::known(u64::MAX), true),
            (0, 0)
        );
        assert_eq!(after_alu(&d, AluOp::Add, Width::W64, &one, false), (0, 0));
    }

    #[test]
    fn a_bound_carries_over_with_the_offset() {
        let mut st = State::entry();
        st.frames[0].regs[0] = linked(0, 8, 5, 0); // r0
        st.frames[0].regs[1] = linked(0, u64::MAX, 5 | ADD_CONST, 1); // r1 = r0 + 1
        st.frames[0].regs[2] = linked(0, u64::MAX, 5 | ADD_CONST, 2); // r2 = r0 + 2
        let known = st.frames[0].regs[0];
        sync_linked(&mut st, known);
        let r = &st.frames[0].regs;
        assert_eq!((r[1].var.umin, r[1].var.umax), (1, 9));
        assert_eq!((r[2].var.umin, r[2].var.umax), (2, 10));
        // And back from r2 [2, 11] to r0 and r1.
        st.frames[0].regs[2].var = Scalar::from_urange(2, 11);
        let known = st.frames[0].regs[2];
        sync_linked(&mut st, known);
        let r = &st.frames[0].regs;
        assert_eq!((r[0].var.umin, r[0].var.umax), (0, 9));
        assert_eq!((r[1].var.umin, r[1].var.umax), (1, 10));
    }
}
