//! Superinstructions change nothing observable: random programs, rich in the fused shapes
//! (`mov` + ALU on the same register, two immediate adds, a conditional jump over a `ja`, an
//! immediate add + test (+ `ja`), indexed loads, load + compare-and-jump, store pairs, `mov` +
//! `ja`, `mov` + compare-and-jump (+ `ja`), shift-and-xor steps), give the same result, fault, memory and executed-instruction count with and without
//! fusion.

mod common;

use common::{fold_targets, locate};
use lull_interp::{Fault, Input, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, Insn, JmpCond, Operand, Reg, Size, Width};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A small register so programs interact through few registers.
fn reg() -> impl Strategy<Value = Reg> {
    prop_oneof![Just(Reg::R0), Just(Reg::R1), Just(Reg::R2), Just(Reg::R3)]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W64), Just(Width::W32)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::And),
        Just(AluOp::Or),
        Just(AluOp::Xor),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Arsh),
    ]
}

fn cond() -> impl Strategy<Value = JmpCond> {
    prop_oneof![
        Just(JmpCond::Eq),
        Just(JmpCond::Ne),
        Just(JmpCond::Gt),
        Just(JmpCond::Ge),
        Just(JmpCond::Lt),
        Just(JmpCond::Le),
        Just(JmpCond::Set),
        Just(JmpCond::Sgt),
        Just(JmpCond::Sge),
        Just(JmpCond::Slt),
        Just(JmpCond::Sle),
    ]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg().prop_map(Operand::Reg),
        prop_oneof![
            Just(0i32),
            Just(1),
            Just(-1),
            Just(13),
            Just(i32::MIN),
            any::<i32>()
        ]
        .prop_map(Operand::Imm),
    ]
}

/// The register holding the 32-byte input's address (set up before the pieces run; the
/// pieces never write it, though random instructions may).
const MEM: Reg = Reg::R4;

/// An offset around the 32-byte input: mostly inside, sometimes just outside (a fault).
fn mem_off() -> impl Strategy<Value = i16> {
    prop_oneof![4 => 0i16..32, 1 => -8i16..40]
}

fn mem_size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// Register compare-and-jump conditions the load fusion handles (and one it does not).
fn reg_cond() -> impl Strategy<Value = JmpCond> {
    prop_oneof![
        Just(JmpCond::Eq),
        Just(JmpCond::Ne),
        Just(JmpCond::Lt),
        Just(JmpCond::Le),
        Just(JmpCond::Gt),
        Just(JmpCond::Ge),
        Just(JmpCond::Sgt),
    ]
}

/// The shapes of the counter and memory superinstructions.
fn more_pieces() -> impl Strategy<Value = Vec<Insn>> {
    prop_oneof![
        // Immediate add + `==`/`!=` test of the same register, over a `ja` or anywhere.
        (
            width(),
            reg(),
            -2i32..3,
            prop_oneof![Just(JmpCond::Eq), Just(JmpCond::Ne), Just(JmpCond::Lt)],
            prop_oneof![0i32..4, any::<i32>()],
            any::<bool>(),
            any::<i16>()
        )
            .prop_map(|(width, dst, k, cond, c, over_ja, off)| {
                let mut v = vec![
                    Insn::Alu {
                        width,
                        op: AluOp::Add,
                        dst,
                        src: Operand::Imm(k),
                    },
                    Insn::Jump {
                        width,
                        cond,
                        dst,
                        src: Operand::Imm(c),
                        off: if over_ja { 1 } else { off },
                    },
                ];
                if over_ja {
                    v.push(Insn::Ja {
                        off: off.into(),
                        long: false,
                    });
                }
                v
            }),
        // Indexed load: `i = k; d = mem; d += i; y = *(size *)(d + off)`.
        (0i32..36, reg(), reg(), mem_size(), mem_off()).prop_map(|(k, d, y, size, off)| {
            let i = if d == Reg::R0 { Reg::R1 } else { Reg::R0 };
            vec![
                Insn::Alu {
                    width: Width::W32,
                    op: AluOp::Mov,
                    dst: i,
                    src: Operand::Imm(k),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: d,
                    src: Operand::Reg(MEM),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Add,
                    dst: d,
                    src: Operand::Reg(i),
                },
                Insn::Load {
                    size,
                    signed: false,
                    dst: y,
                    src: d,
                    off,
                },
            ]
        }),
        // Load + register compare-and-jump on the loaded register (either side).
        (
            prop_oneof![Just(Size::W), Just(Size::DW), Just(Size::B)],
            reg(),
            mem_off(),
            width(),
            reg_cond(),
            reg(),
            any::<bool>(),
            any::<i16>()
        )
            .prop_map(|(size, l, off, width, cond, other, left, jump)| {
                let (dst, src) = if left { (l, other) } else { (other, l) };
                vec![
                    Insn::Load {
                        size,
                        signed: false,
                        dst: l,
                        src: MEM,
                        off,
                    },
                    Insn::Jump {
                        width,
                        cond,
                        dst,
                        src: Operand::Reg(src),
                        off: jump,
                    },
                ]
            }),
        // Two stores of the same size.
        (mem_size(), mem_off(), reg(), mem_off(), reg()).prop_map(|(size, o1, a, o2, b)| vec![
            Insn::Store {
                size,
                dst: MEM,
                off: o1,
                src: Operand::Reg(a),
            },
            Insn::Store {
                size,
                dst: MEM,
                off: o2,
                src: Operand::Reg(b),
            },
        ]),
        // A move followed by a register compare-and-jump, over a `ja` or anywhere.
        (
            width(),
            reg(),
            reg(),
            prop_oneof![Just(JmpCond::Lt), Just(JmpCond::Ne), Just(JmpCond::Gt)],
            reg(),
            reg(),
            any::<bool>(),
            any::<i16>()
        )
            .prop_map(|(width, md, ms, cond, a, b, over_ja, off)| {
                let mut v = vec![
                    Insn::Alu {
                        width,
                        op: AluOp::Mov,
                        dst: md,
                        src: Operand::Reg(ms),
                    },
                    Insn::Jump {
                        width: Width::W64,
                        cond,
                        dst: a,
                        src: Operand::Reg(b),
                        off: if over_ja { 1 } else { off },
                    },
                ];
                if over_ja {
                    v.push(Insn::Ja {
                        off: off.into(),
                        long: false,
                    });
                }
                v
            }),
        // The shift-and-xor step, into the copy or back into the source.
        (
            reg(),
            reg(),
            prop_oneof![Just(AluOp::Lsh), Just(AluOp::Rsh), Just(AluOp::Arsh)],
            0i32..64,
            any::<bool>()
        )
            .prop_map(|(d, s, shift, k, into)| vec![
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: d,
                    src: Operand::Reg(s),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: shift,
                    dst: d,
                    src: Operand::Imm(k),
                },
                if into {
                    Insn::Alu {
                        width: Width::W64,
                        op: AluOp::Xor,
                        dst: s,
                        src: Operand::Reg(d),
                    }
                } else {
                    Insn::Alu {
                        width: Width::W64,
                        op: AluOp::Xor,
                        dst: d,
                        src: Operand::Reg(s),
                    }
                },
            ]),
        // A move followed by a `ja`.
        (width(), reg(), reg(), any::<i16>()).prop_map(|(width, dst, src, off)| vec![
            Insn::Alu {
                width,
                op: AluOp::Mov,
                dst,
                src: Operand::Reg(src),
            },
            Insn::Ja {
                off: off.into(),
                long: false,
            },
        ]),
    ]
}

/// One or two instructions, mostly the shapes `fuse` looks for.
fn piece() -> impl Strategy<Value = Vec<Insn>> {
    prop_oneof![
        more_pieces(),
        more_pieces(),
        // mov + ALU on the same destination.
        (width(), reg(), reg(), alu_op(), operand()).prop_map(|(width, dst, src, op, rhs)| vec![
            Insn::Alu {
                width,
                op: AluOp::Mov,
                dst,
                src: Operand::Reg(src)
            },
            Insn::Alu {
                width,
                op,
                dst,
                src: rhs
            },
        ]),
        // Conditional jump over a `ja` (the `ja`'s target folded later).
        (width(), cond(), reg(), operand(), any::<i16>()).prop_map(
            |(width, cond, dst, src, back)| vec![
                Insn::Jump {
                    width,
                    cond,
                    dst,
                    src,
                    off: 1
                },
                Insn::Ja {
                    off: back.into(),
                    long: false
                },
            ]
        ),
        // Two immediate adds.
        (reg(), any::<i32>(), reg(), any::<i32>()).prop_map(|(a, x, b, y)| vec![
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: a,
                src: Operand::Imm(x)
            },
            Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: b,
                src: Operand::Imm(y)
            },
        ]),
        // Anything else from the ISA strategy.
        lull_isa::strategy::insn().prop_map(|i| vec![i]),
    ]
}

type Outcome = (Result<u64, Fault>, Option<u64>, Vec<u8>);

/// Runs `insns` without and with fusion on the same VM and the same memory (so pointers that
/// end up in results or faults are equal), or `None` when the program does not prepare.
fn run_both(insns: &[Insn], seed: u64) -> Option<(Outcome, Outcome)> {
    let prepare = |no_fusion| {
        let options = PrepareOptions {
            no_fusion,
            ..PrepareOptions::default()
        };
        Program::prepare(&locate(insns), &options).ok()
    };
    let (plain, fused) = (prepare(true)?, prepare(false)?);
    let init: Vec<u8> = (0..32u64)
        .map(|i| (seed.wrapping_mul(i + 7) >> 3) as u8)
        .collect();
    let mut mem = init.clone();
    let mut vm = Vm::new();
    vm.set_insn_budget(Some(5_000));
    let mut go = |prog: &Program, mem: &mut Vec<u8>| {
        mem.copy_from_slice(&init);
        let r = vm.run(prog, Input::mem(mem));
        (r, vm.executed(), mem.clone())
    };
    let a = go(&plain, &mut mem);
    let b = go(&fused, &mut mem);
    Some((a, b))
}

#[test]
fn fused_and_unfused_runs_agree() {
    let mut runner = TestRunner::new(ProptestConfig::with_cases(3000));
    let strategy = (proptest::collection::vec(piece(), 1..16), any::<u64>());
    let with_fusable_jump = AtomicUsize::new(0);
    runner
        .run(&strategy, |(pieces, seed)| {
            let mut insns: Vec<Insn> = pieces.into_iter().flatten().collect();
            // Initialise the registers the pieces use from the seed, so compares go both ways.
            let mut init = vec![
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: MEM,
                    src: Operand::Reg(Reg::R1),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: Reg::R0,
                    src: Operand::Imm(seed as i32),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: Reg::R2,
                    src: Operand::Imm((seed >> 32) as i32),
                },
                Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mov,
                    dst: Reg::R3,
                    src: Operand::Imm((seed >> 16) as i32),
                },
            ];
            init.append(&mut insns);
            let mut insns = init;
            // Fold jump targets into the program, but keep the jumps over a `ja` in that shape.
            let over_ja: Vec<usize> = (0..insns.len().saturating_sub(1))
                .filter(|&i| {
                    matches!(
                        (insns[i], insns[i + 1]),
                        (Insn::Jump { off: 1, .. }, Insn::Ja { long: false, .. })
                    )
                })
                .collect();
            fold_targets(&mut insns);
            for i in over_ja {
                if let Insn::Jump { off, .. } = &mut insns[i] {
                    *off = 1;
                }
            }
            insns.push(Insn::Exit);
            if insns.iter().any(|i| matches!(i, Insn::Jump { off: 1, .. })) {
                with_fusable_jump.fetch_add(1, Ordering::Relaxed);
            }
            let Some((plain, fused)) = run_both(&insns, seed) else {
                return Ok(());
            };
            prop_assert_eq!(&plain, &fused, "program: {:?}", insns);
            Ok(())
        })
        .expect("fusion is invisible");
    let n = with_fusable_jump.load(Ordering::Relaxed);
    assert!(n >= 500, "only {n} programs had a jump over a ja");
    // A fixed loop with both shapes: the counts are exact, not merely equal.
    let insns = [
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R1,
            src: Operand::Imm(0),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R2,
            src: Operand::Reg(Reg::R1),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R2,
            src: Operand::Imm(3),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R1,
            src: Operand::Imm(1),
        },
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: Reg::R1,
            src: Operand::Imm(10),
            off: 1,
        },
        Insn::Ja {
            off: -5,
            long: false,
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R2),
        },
        Insn::Exit,
    ];
    let (plain, fused) = run_both(&insns, 0).expect("prepares");
    assert_eq!(plain.0, Ok(12));
    assert_eq!(plain, fused);
    // One `mov`, ten passes of the five-instruction loop (the last skips the `ja`), two more.
    assert_eq!(fused.1, Some(1 + 10 * 5 - 1 + 2));
}
