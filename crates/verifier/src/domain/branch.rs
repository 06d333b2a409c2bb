//! Conditional jumps on scalars: deciding a branch from the operands' bounds (the kernel's
//! `is_scalar_branch_taken`) and narrowing the operands on each side of it
//! (`regs_refine_cond_op` and `reg_set_min_max`).
//!
//! Linux 6.18 (as measured on the reference machine) has no shortcut for comparing a register
//! with itself: `if r1 > r1` is refined like any other comparison, with both operands being
//! the same register. [`set_min_max`] reproduces that aliasing when told `same_reg`.

use super::scalar::{BoundsViolation, Scalar};
use super::tnum::Tnum;
use lull_isa::{JmpCond, Width};

/// The condition that holds on the fall-through side (the kernel's `rev_opcode`). `Set` has no
/// negation in the ISA; its fall-through refinement is handled by [`refine`] itself.
pub fn negate(cond: JmpCond) -> JmpCond {
    match cond {
        JmpCond::Eq => JmpCond::Ne,
        JmpCond::Ne => JmpCond::Eq,
        JmpCond::Set => JmpCond::Set,
        JmpCond::Ge => JmpCond::Lt,
        JmpCond::Gt => JmpCond::Le,
        JmpCond::Le => JmpCond::Gt,
        JmpCond::Lt => JmpCond::Ge,
        JmpCond::Sge => JmpCond::Slt,
        JmpCond::Sgt => JmpCond::Sle,
        JmpCond::Sle => JmpCond::Sgt,
        JmpCond::Slt => JmpCond::Sge,
    }
}

/// The same condition with the operands swapped (the kernel's `flip_opcode`): `a < b` is
/// `b > a`.
pub fn flip(cond: JmpCond) -> JmpCond {
    match cond {
        JmpCond::Eq | JmpCond::Ne | JmpCond::Set => cond,
        JmpCond::Gt => JmpCond::Lt,
        JmpCond::Ge => JmpCond::Le,
        JmpCond::Lt => JmpCond::Gt,
        JmpCond::Le => JmpCond::Ge,
        JmpCond::Sgt => JmpCond::Slt,
        JmpCond::Sge => JmpCond::Sle,
        JmpCond::Slt => JmpCond::Sgt,
        JmpCond::Sle => JmpCond::Sge,
    }
}

/// The operand view a comparison of `width` sees: tnum and the bounds as 64-bit numbers.
struct View {
    t: Tnum,
    umin: u64,
    umax: u64,
    smin: i64,
    smax: i64,
}

fn view(s: &Scalar, width: Width) -> View {
    match width {
        Width::W32 => View {
            t: s.var_off.subreg(),
            umin: u64::from(s.u32_min),
            umax: u64::from(s.u32_max),
            smin: i64::from(s.s32_min),
            smax: i64::from(s.s32_max),
        },
        Width::W64 => View {
            t: s.var_off,
            umin: s.umin,
            umax: s.umax,
            smin: s.smin,
            smax: s.smax,
        },
    }
}

/// The constant a comparison of `width` sees in `s` (`reg_const_value`), if it is one.
fn const_for(s: &Scalar, width: Width) -> Option<u64> {
    match width {
        Width::W32 => s.const32().map(u64::from),
        Width::W64 => s.const_value(),
    }
}

/// Whether `a cond b` (on `width` bits) is always true (`Some(true)`), always false
/// (`Some(false)`) or depends on the values (`None`), judged from the bounds exactly as the
/// kernel's `is_scalar_branch_taken` does.
pub fn branch_taken(cond: JmpCond, width: Width, a: &Scalar, b: &Scalar) -> Option<bool> {
    let (x, y) = (view(a, width), view(b, width));
    match cond {
        JmpCond::Eq | JmpCond::Ne => {
            let eq = cond == JmpCond::Eq;
            if x.t.is_const() && y.t.is_const() {
                return Some((x.t.value == y.t.value) == eq);
            }
            let disjoint = !x.t.overlap(y.t)
                || x.umin > y.umax
                || x.umax < y.umin
                || x.smin > y.smax
                || x.smax < y.smin
                || (width == Width::W64
                    && (a.u32_min > b.u32_max
                        || a.u32_max < b.u32_min
                        || a.s32_min > b.s32_max
                        || a.s32_max < b.s32_min));
            if disjoint { Some(!eq) } else { None }
        }
        JmpCond::Set => {
            let (x, y) = if const_for(b, width).is_some() {
                (x, y)
            } else {
                (y, x)
            };
            if !y.t.is_const() {
                return None;
            }
            if (!x.t.mask & x.t.value) & y.t.value != 0 {
                Some(true)
            } else if (x.t.mask | x.t.value) & y.t.value == 0 {
                Some(false)
            } else {
                None
            }
        }
        JmpCond::Gt => decide(x.umin > y.umax, x.umax <= y.umin),
        JmpCond::Sgt => decide(x.smin > y.smax, x.smax <= y.smin),
        JmpCond::Lt => decide(x.umax < y.umin, x.umin >= y.umax),
        JmpCond::Slt => decide(x.smax < y.smin, x.smin >= y.smax),
        JmpCond::Ge => decide(x.umin >= y.umax, x.umax < y.umin),
        JmpCond::Sge => decide(x.smin >= y.smax, x.smax < y.smin),
        JmpCond::Le => decide(x.umax <= y.umin, x.umin > y.umax),
        JmpCond::Sle => decide(x.smax <= y.smin, x.smin > y.smax),
    }
}

fn decide(always: bool, never: bool) -> Option<bool> {
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

/// The refinement to apply: a condition, or the fall-through side of `Set` (`(a & b) == 0`),
/// which has no ISA condition of its own (the kernel's `BPF_JSET | BPF_X` trick).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refinement {
    Cond(JmpCond),
    SetFalse,
}

/// Narrows `a` and `b` assuming `a cond b` evaluated to `taken`, then syncs both
/// (the kernel's `regs_refine_cond_op` followed by `reg_bounds_sync` on each). Returns the first
/// operand whose bounds became contradictory: the condition cannot hold for any value, though
/// the kernel only avoids exploring such a branch when [`branch_taken`] already said so.
pub fn refine(
    cond: JmpCond,
    width: Width,
    taken: bool,
    a: &mut Scalar,
    b: &mut Scalar,
) -> Result<(), BoundsViolation> {
    let mut regs = [*a, *b];
    refine_regs(&mut regs, 0, 1, cond, width, taken);
    [*a, *b] = regs;
    a.check_sane()?;
    b.check_sane()
}

/// Both sides of a conditional jump between two scalars, as the kernel's `reg_set_min_max`
/// computes them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BranchStates {
    /// `(dst, src)` on the jump (condition true) side.
    pub taken: (Scalar, Scalar),
    /// `(dst, src)` on the fall-through (condition false) side.
    pub fallthrough: (Scalar, Scalar),
    /// Operands whose bounds became contradictory, named as the kernel's log names them
    /// (`true_reg1`, `true_reg2`, `false_reg1`, `false_reg2`), in the kernel's check order.
    /// 6.18 logs each as `verifier bug: REG INVARIANTS VIOLATION (<name>): <violation>`; the
    /// register has already been marked unbounded here, as the kernel does.
    pub violations: Vec<(&'static str, BoundsViolation)>,
}

/// The kernel's `reg_set_min_max` for two scalars `dst cond src`; `same_reg` when both operands
/// are the same register (then each side's two results are equal).
pub fn set_min_max(
    cond: JmpCond,
    width: Width,
    dst: &Scalar,
    src: &Scalar,
    same_reg: bool,
) -> BranchStates {
    let j = usize::from(!same_reg);
    let mut f = [*dst, *src];
    refine_regs(&mut f, 0, j, cond, width, false);
    let mut t = [*dst, *src];
    refine_regs(&mut t, 0, j, cond, width, true);
    let mut out = BranchStates {
        taken: (t[0], t[j]),
        fallthrough: (f[0], f[j]),
        violations: Vec::new(),
    };
    let checks: [(&'static str, &mut Scalar); 4] = [
        ("true_reg1", &mut out.taken.0),
        ("true_reg2", &mut out.taken.1),
        ("false_reg1", &mut out.fallthrough.0),
        ("false_reg2", &mut out.fallthrough.1),
    ];
    for (name, s) in checks {
        if let Err(v) = s.check_sane() {
            out.violations.push((name, v));
            s.mark_unbounded();
        }
    }
    out
}

/// `regs_refine_cond_op` + `reg_bounds_sync` on `regs[i1] cond regs[i2]`. Indexing (rather
/// than two `&mut`) lets `i1 == i2` model a register compared with itself, as in the kernel.
fn refine_regs(regs: &mut [Scalar; 2], i1: usize, i2: usize, cond: JmpCond, w: Width, taken: bool) {
    let r = match (cond, taken) {
        (JmpCond::Set, false) => Refinement::SetFalse,
        (c, true) => Refinement::Cond(c),
        (c, false) => Refinement::Cond(negate(c)),
    };
    refine_op(regs, i1, i2, r, w);
    regs[i1].sync();
    regs[i2].sync();
}

fn refine_op(regs: &mut [Scalar; 2], i1: usize, i2: usize, r: Refinement, w: Width) {
    let (mut i1, mut i2) = (i1, i2);
    let mut r = r;
    if let Refinement::Cond(c @ (JmpCond::Ge | JmpCond::Gt | JmpCond::Sge | JmpCond::Sgt)) = r {
        r = Refinement::Cond(flip(c));
        std::mem::swap(&mut i1, &mut i2);
    }
    let w32 = w == Width::W32;
    match r {
        Refinement::Cond(JmpCond::Eq) => {
            if w32 {
                let (a, b) = (regs[i1], regs[i2]);
                let (umin, umax) = (a.u32_min.max(b.u32_min), a.u32_max.min(b.u32_max));
                let (smin, smax) = (a.s32_min.max(b.s32_min), a.s32_max.min(b.s32_max));
                let t = a.var_off.subreg().intersect(b.var_off.subreg());
                for i in [i1, i2] {
                    let s = &mut regs[i];
                    (s.u32_min, s.u32_max, s.s32_min, s.s32_max) = (umin, umax, smin, smax);
                    s.var_off = s.var_off.with_subreg(t);
                }
            } else {
                let (a, b) = (regs[i1], regs[i2]);
                let (umin, umax) = (a.umin.max(b.umin), a.umax.min(b.umax));
                let (smin, smax) = (a.smin.max(b.smin), a.smax.min(b.smax));
                let t = a.var_off.intersect(b.var_off);
                for i in [i1, i2] {
                    let s = &mut regs[i];
                    (s.umin, s.umax, s.smin, s.smax, s.var_off) = (umin, umax, smin, smax, t);
                }
            }
        }
        Refinement::Cond(JmpCond::Ne) => {
            if const_for(&regs[i2], w).is_none() {
                std::mem::swap(&mut i1, &mut i2);
            }
            let Some(val) = const_for(&regs[i2], w) else {
                return;
            };
            let s = &mut regs[i1];
            if w32 {
                let v = val as u32;
                if s.u32_min == v {
                    s.u32_min = s.u32_min.wrapping_add(1);
                }
                if s.u32_max == v {
                    s.u32_max = s.u32_max.wrapping_sub(1);
                }
                if s.s32_min == v as i32 {
                    s.s32_min = s.s32_min.wrapping_add(1);
                }
                if s.s32_max == v as i32 {
                    s.s32_max = s.s32_max.wrapping_sub(1);
                }
            } else {
                if s.umin == val {
                    s.umin = s.umin.wrapping_add(1);
                }
                if s.umax == val {
                    s.umax = s.umax.wrapping_sub(1);
                }
                if s.smin == val as i64 {
                    s.smin = s.smin.wrapping_add(1);
                }
                if s.smax == val as i64 {
                    s.smax = s.smax.wrapping_sub(1);
                }
            }
        }
        Refinement::Cond(JmpCond::Set) => {
            if const_for(&regs[i2], w).is_none() {
                std::mem::swap(&mut i1, &mut i2);
            }
            let Some(val) = const_for(&regs[i2], w) else {
                return;
            };
            // Only a single tested bit tells which bit is set.
            if !val.is_power_of_two() {
                return;
            }
            let s = &mut regs[i1];
            if w32 {
                let t = s.var_off.subreg().or(Tnum::constant(val));
                s.var_off = s.var_off.with_subreg(t);
            } else {
                s.var_off = s.var_off.or(Tnum::constant(val));
            }
        }
        Refinement::SetFalse => {
            if const_for(&regs[i2], w).is_none() {
                std::mem::swap(&mut i1, &mut i2);
            }
            let Some(val) = const_for(&regs[i2], w) else {
                return;
            };
            let s = &mut regs[i1];
            // Ranges are dropped before narrowing the tnum, so they cannot contradict it.
            s.mark_unbounded();
            if w32 {
                let t = s.var_off.subreg().and(Tnum::constant(!val));
                s.var_off = s.var_off.with_subreg(t);
            } else {
                s.var_off = s.var_off.and(Tnum::constant(!val));
            }
        }
        Refinement::Cond(JmpCond::Le) => {
            if w32 {
                regs[i1].u32_max = regs[i1].u32_max.min(regs[i2].u32_max);
                regs[i2].u32_min = regs[i1].u32_min.max(regs[i2].u32_min);
            } else {
                regs[i1].umax = regs[i1].umax.min(regs[i2].umax);
                regs[i2].umin = regs[i1].umin.max(regs[i2].umin);
            }
        }
        Refinement::Cond(JmpCond::Lt) => {
            if w32 {
                regs[i1].u32_max = regs[i1].u32_max.min(regs[i2].u32_max.wrapping_sub(1));
                regs[i2].u32_min = regs[i1].u32_min.wrapping_add(1).max(regs[i2].u32_min);
            } else {
                regs[i1].umax = regs[i1].umax.min(regs[i2].umax.wrapping_sub(1));
                regs[i2].umin = regs[i1].umin.wrapping_add(1).max(regs[i2].umin);
            }
        }
        Refinement::Cond(JmpCond::Sle) => {
            if w32 {
                regs[i1].s32_max = regs[i1].s32_max.min(regs[i2].s32_max);
                regs[i2].s32_min = regs[i1].s32_min.max(regs[i2].s32_min);
            } else {
                regs[i1].smax = regs[i1].smax.min(regs[i2].smax);
                regs[i2].smin = regs[i1].smin.max(regs[i2].smin);
            }
        }
        Refinement::Cond(JmpCond::Slt) => {
            if w32 {
                regs[i1].s32_max = regs[i1].s32_max.min(regs[i2].s32_max.wrapping_sub(1));
                regs[i2].s32_min = regs[i1].s32_min.wrapping_add(1).max(regs[i2].s32_min);
            } else {
                regs[i1].smax = regs[i1].smax.min(regs[i2].smax.wrapping_sub(1));
                regs[i2].smin = regs[i1].smin.wrapping_add(1).max(regs[i2].smin);
            }
        }
        // Flipped above.
        Refinement::Cond(JmpCond::Ge | JmpCond::Gt | JmpCond::Sge | JmpCond::Sgt) => {}
    }
}
