//! One-step mutations of a program: the small mistakes (a dropped NULL check, an offset off by
//! one, a flipped comparison, a missing initialisation) that find verdict disagreements
//! fastest, because the result sits right at the border of what the verifier allows.

use lull_isa::{AluOp, CallTarget, Insn, JmpCond, Operand, Reg, Size, Width};

use crate::edit;
use crate::grammar::builder::{offset_of, with_offset};
use crate::program::TestProgram;
use crate::rng::Rng;

/// Applies one random mutation; returns the new program and a description, or `None` when
/// the chosen mutation does not apply to this program (the caller may simply keep it).
pub fn mutate(p: &TestProgram, rng: &mut Rng) -> Option<(TestProgram, String)> {
    for _ in 0..8 {
        if let Some((insns, what)) = try_once(&p.insns, rng)
            && insns != p.insns
        {
            let mut q = p.clone();
            q.insns = insns;
            return Some((q, what));
        }
    }
    None
}

fn try_once(insns: &[Insn], rng: &mut Rng) -> Option<(Vec<Insn>, String)> {
    let n = insns.len();
    if n == 0 {
        return None;
    }
    let kind = rng.weighted(&[4, 5, 5, 3, 3, 2, 2, 2, 3, 2]);
    let pick = |rng: &mut Rng, f: &dyn Fn(&Insn) -> bool| -> Option<usize> {
        let c: Vec<usize> = (0..n).filter(|&i| f(&insns[i])).collect();
        rng.pick(&c).copied()
    };
    match kind {
        0 => {
            // Remove a NULL check after a helper call (or any jump comparing with 0).
            let i = pick(rng, &|i| {
                matches!(
                    i,
                    Insn::Jump {
                        src: Operand::Imm(0),
                        cond: JmpCond::Eq | JmpCond::Ne,
                        ..
                    }
                )
            })?;
            Some((edit::delete(insns, i)?, format!("drop check at insn {i}")))
        }
        1 => {
            // Widen or shift a memory offset.
            let i = pick(rng, &|i| {
                matches!(
                    i,
                    Insn::Load { .. } | Insn::Store { .. } | Insn::Atomic { .. }
                )
            })?;
            let delta = *rng.pick(&[1i16, -1, 2, 4, 8, -8]).unwrap_or(&1);
            let new = match insns[i] {
                Insn::Load {
                    size,
                    signed,
                    dst,
                    src,
                    off,
                } => Insn::Load {
                    size,
                    signed,
                    dst,
                    src,
                    off: off.wrapping_add(delta),
                },
                Insn::Store {
                    size,
                    dst,
                    off,
                    src,
                } => Insn::Store {
                    size,
                    dst,
                    off: off.wrapping_add(delta),
                    src,
                },
                Insn::Atomic {
                    size,
                    op,
                    dst,
                    src,
                    off,
                } => Insn::Atomic {
                    size,
                    op,
                    dst,
                    src,
                    off: off.wrapping_add(delta),
                },
                other => other,
            };
            Some((
                edit::splice(insns, i, &[new])?,
                format!("offset {delta:+} at insn {i}"),
            ))
        }
        2 => {
            // Change a comparison constant or an ALU immediate by one.
            let i = pick(rng, &|i| {
                matches!(
                    i,
                    Insn::Jump {
                        src: Operand::Imm(_),
                        ..
                    } | Insn::Alu {
                        src: Operand::Imm(_),
                        ..
                    }
                )
            })?;
            let delta = if rng.chance(50) { 1 } else { -1 };
            let new = match insns[i] {
                Insn::Jump {
                    width,
                    cond,
                    dst,
                    src: Operand::Imm(v),
                    off,
                } => Insn::Jump {
                    width,
                    cond,
                    dst,
                    src: Operand::Imm(v.wrapping_add(delta)),
                    off,
                },
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src: Operand::Imm(v),
                } if op != AluOp::Neg => Insn::Alu {
                    width,
                    op,
                    dst,
                    src: Operand::Imm(v.wrapping_add(delta)),
                },
                other => other,
            };
            Some((
                edit::splice(insns, i, &[new])?,
                format!("imm {delta:+} at insn {i}"),
            ))
        }
        3 => {
            // Flip a condition.
            let i = pick(rng, &|i| matches!(i, Insn::Jump { .. }))?;
            let Insn::Jump {
                width,
                dst,
                src,
                off,
                ..
            } = insns[i]
            else {
                return None;
            };
            let cond = *rng
                .pick(&[
                    JmpCond::Eq,
                    JmpCond::Ne,
                    JmpCond::Gt,
                    JmpCond::Ge,
                    JmpCond::Lt,
                    JmpCond::Le,
                    JmpCond::Sgt,
                    JmpCond::Sge,
                    JmpCond::Slt,
                    JmpCond::Sle,
                    JmpCond::Set,
                ])
                .unwrap_or(&JmpCond::Eq);
            let new = Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            };
            Some((
                edit::splice(insns, i, &[new])?,
                format!("condition {cond:?} at insn {i}"),
            ))
        }
        4 => {
            // Drop an initialisation (a store or a mov).
            let i = pick(rng, &|i| {
                matches!(i, Insn::Store { dst, .. } if *dst == Reg::R10)
                    || matches!(i, Insn::Alu { op: AluOp::Mov, .. })
            })?;
            Some((edit::delete(insns, i)?, format!("delete init at insn {i}")))
        }
        5 => {
            // Change an access size.
            let i = pick(rng, &|i| {
                matches!(i, Insn::Load { signed: false, .. } | Insn::Store { .. })
            })?;
            let size = *rng
                .pick(&[Size::B, Size::H, Size::W, Size::DW])
                .unwrap_or(&Size::DW);
            let new = match insns[i] {
                Insn::Load { dst, src, off, .. } => Insn::Load {
                    size,
                    signed: false,
                    dst,
                    src,
                    off,
                },
                Insn::Store { dst, off, src, .. } => Insn::Store {
                    size,
                    dst,
                    off,
                    src,
                },
                other => other,
            };
            Some((
                edit::splice(insns, i, &[new])?,
                format!("size {size:?} at insn {i}"),
            ))
        }
        6 => {
            // Replace a register operand.
            let i = pick(rng, &|i| {
                matches!(
                    i,
                    Insn::Alu {
                        src: Operand::Reg(_),
                        ..
                    } | Insn::Load { .. }
                        | Insn::Jump {
                            src: Operand::Reg(_),
                            ..
                        }
                )
            })?;
            let r = Reg::new(rng.below(11) as u8)?;
            let new = match insns[i] {
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src: Operand::Reg(_),
                } => Insn::Alu {
                    width,
                    op,
                    dst,
                    src: Operand::Reg(r),
                },
                Insn::Load {
                    size,
                    signed,
                    dst,
                    off,
                    ..
                } => Insn::Load {
                    size,
                    signed,
                    dst,
                    src: r,
                    off,
                },
                Insn::Jump {
                    width,
                    cond,
                    dst,
                    off,
                    src: Operand::Reg(_),
                } => Insn::Jump {
                    width,
                    cond,
                    dst,
                    src: Operand::Reg(r),
                    off,
                },
                other => other,
            };
            new.validate().ok()?;
            Some((
                edit::splice(insns, i, &[new])?,
                format!("register {r} at insn {i}"),
            ))
        }
        7 => {
            // Retarget a jump by one.
            let i = pick(rng, &|i| matches!(i, Insn::Jump { .. } | Insn::Ja { .. }))?;
            let rel = offset_of(&insns[i])? + if rng.chance(50) { 1 } else { -1 };
            let new = with_offset(insns[i], rel);
            Some((
                edit::splice(insns, i, &[new])?,
                format!("jump {rel:+} at insn {i}"),
            ))
        }
        8 => {
            // Toggle the width of an ALU or jump.
            let i = pick(rng, &|i| matches!(i, Insn::Alu { .. } | Insn::Jump { .. }))?;
            let flip = |w| {
                if w == Width::W32 {
                    Width::W64
                } else {
                    Width::W32
                }
            };
            let new = match insns[i] {
                Insn::Alu {
                    width,
                    op,
                    dst,
                    src,
                } => Insn::Alu {
                    width: flip(width),
                    op,
                    dst,
                    src,
                },
                Insn::Jump {
                    width,
                    cond,
                    dst,
                    src,
                    off,
                } => Insn::Jump {
                    width: flip(width),
                    cond,
                    dst,
                    src,
                    off,
                },
                other => other,
            };
            new.validate().ok()?;
            Some((
                edit::splice(insns, i, &[new])?,
                format!("width at insn {i}"),
            ))
        }
        _ => {
            // Swap two adjacent non-control instructions.
            let i = pick(rng, &|i| {
                offset_of(i).is_none()
                    && !matches!(i, Insn::Exit | Insn::Call(CallTarget::Helper(_)))
            })?;
            if i + 1 >= n || offset_of(&insns[i + 1]).is_some() || insns[i + 1] == Insn::Exit {
                return None;
            }
            let pair = [insns[i + 1], insns[i]];
            let once = edit::splice(insns, i, &pair[..1])?;
            let both = edit::splice(&once, i + 1, &pair[1..])?;
            Some((both, format!("swap insns {i},{}", i + 1)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grammar::{GenConfig, generate};

    #[test]
    fn mutations_change_programs_and_stay_encodable() {
        let cfg = GenConfig {
            mutate_percent: 0,
            ..GenConfig::default()
        };
        let mut changed = 0;
        for seed in 0..200 {
            let p = generate(seed, &cfg).program;
            let mut rng = Rng::new(seed);
            if let Some((q, what)) = mutate(&p, &mut rng) {
                assert_ne!(q.insns, p.insns, "{what}");
                for i in &q.insns {
                    i.validate().unwrap_or_else(|e| panic!("{what}: {e:?}"));
                }
                changed += 1;
            }
        }
        assert!(changed > 180, "only {changed} mutated");
    }
}
