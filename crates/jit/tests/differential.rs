//! Differential tests: random programs run in the interpreter (checked) and in the JIT
//! (checked) give the same r0 and the same memory, or faults of the same kind at the same
//! instruction.
//!
//! Stack addresses differ between the engines, so the generated programs never let `r10`
//! flow into a value (it is used only as a base address); the input memory is the same buffer
//! for both engines, so `r1` may flow anywhere.

use lull_interp::{Fault, HelperContext, HelperError, Helpers, Input, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, AtomicOp, CallTarget, Endian, Insn, Located, Operand, Reg, Size, Width};
use lull_jit::{JitProgram, JitVm, Mode};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

const BUDGET: u64 = 10_000;

fn locate(insns: &[Insn]) -> Vec<Located> {
    let mut slot = 0;
    insns
        .iter()
        .map(|&insn| {
            let l = Located { slot, insn };
            slot += insn.slots();
            l
        })
        .collect()
}

/// Copies 4 bytes from `a[0]` to `a[1]`, returns `a[2]`.
fn ret_arg(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut b = [0u8; 4];
    ctx.read(a[0], &mut b)?;
    ctx.write(a[1], &b)?;
    Ok(a[2])
}

/// Packs the low bytes of the arguments.
fn gather(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Ok(a.iter().fold(0u64, |acc, &x| (acc << 8) | (x & 0xff)))
}

/// Calls the callback `a[0]` with (a[1], a[2]) and returns its result plus one.
fn call_back(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let r = ctx
        .call(a[0], [a[1], a[2], 0, 0, 0])
        .map_err(|f| HelperError::Fault(Box::new(f)))?;
    Ok(r.wrapping_add(1))
}

fn options() -> PrepareOptions {
    let mut helpers = Helpers::new();
    helpers.register(0, "gather", gather);
    helpers.register(1, "ret_arg", ret_arg);
    helpers.register(2, "call_back", call_back);
    PrepareOptions {
        helpers,
        ..PrepareOptions::default()
    }
}

/// Keeps `r10` out of values: wherever it would be read as data, read `r9` instead.
fn no_r10_value(r: &mut Reg) {
    if *r == Reg::R10 {
        *r = Reg::R9;
    }
}

/// Re-targets jumps and calls inside the program, helper ids to registered helpers, and keeps
/// `r10` out of values (see the module comment).
fn fold(insns: &mut [Insn]) {
    let slots: usize = insns.iter().map(Insn::slots).sum();
    let mut slot = 0i64;
    for insn in insns.iter_mut() {
        let fold = |rel: i64| rel.rem_euclid(slots as i64) - slot - 1;
        match insn {
            Insn::Ja { off, .. } => *off = fold((*off).into()) as i32,
            Insn::Jump { off, .. } | Insn::MayGoto { off } => {
                *off = fold((*off).into()).clamp(i16::MIN.into(), i16::MAX.into()) as i16
            }
            Insn::Call(CallTarget::Local(rel)) => *rel = fold((*rel).into()) as i32,
            Insn::Call(CallTarget::Helper(id)) => *id = id.rem_euclid(3),
            Insn::Call(CallTarget::Kfunc { .. }) => *insn = Insn::Call(CallTarget::Helper(0)),
            Insn::LdImm64 {
                kind: lull_isa::LdImm64Kind::Func,
                imm,
                ..
            } => *imm = fold((*imm).into()) as i32,
            Insn::LdImm64 { kind, .. } => *kind = lull_isa::LdImm64Kind::Imm,
            _ => {}
        }
        match insn {
            Insn::Alu { dst, src, .. } => {
                no_r10_value(dst);
                if let Operand::Reg(r) = src {
                    no_r10_value(r);
                }
            }
            Insn::Jump { dst, src, .. } => {
                no_r10_value(dst);
                if let Operand::Reg(r) = src {
                    no_r10_value(r);
                }
            }
            Insn::Endian { dst, .. } | Insn::LdImm64 { dst, .. } | Insn::CallX { dst } => {
                no_r10_value(dst)
            }
            Insn::Load { dst, .. } => no_r10_value(dst),
            Insn::Store {
                src: Operand::Reg(r),
                ..
            } => no_r10_value(r),
            Insn::Atomic { op, dst, src, .. } => {
                if *op == AtomicOp::LoadAcquire {
                    no_r10_value(dst);
                } else {
                    no_r10_value(src);
                }
            }
            Insn::AddrSpaceCast { dst, src, .. } => {
                no_r10_value(dst);
                no_r10_value(src);
            }
            _ => {}
        }
        slot += insn.slots() as i64;
    }
}

/// Same fault kind at the same instruction (addresses may differ: the stacks differ).
fn same_fault(a: &Fault, b: &Fault) -> bool {
    match (a, b) {
        (Fault::BudgetExhausted { .. }, Fault::BudgetExhausted { .. }) => true,
        (Fault::Helper { error: e1, .. }, Fault::Helper { error: e2, .. }) => {
            a.slot() == b.slot() && std::mem::discriminant(e1) == std::mem::discriminant(e2)
        }
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a.slot() == b.slot(),
    }
}

fn input(buf: &mut [u8], args: Option<[u64; 5]>) -> Input<'_> {
    Input {
        mem: Some(buf),
        args,
        env: None,
    }
}

/// Runs `insns` in both engines on `mem`; `Ok(false)` when the program does not prepare.
fn compare(insns: &[Insn], mem: &[u8], args: Option<[u64; 5]>) -> Result<bool, TestCaseError> {
    let located = locate(insns);
    let opts = options();
    let Ok(prog) = Program::prepare(&located, &opts) else {
        prop_assert!(JitProgram::compile(&located, &opts, Mode::Checked).is_err());
        return Ok(false);
    };
    let jit = JitProgram::compile(&located, &opts, Mode::Checked)
        .map_err(|e| TestCaseError::fail(format!("JIT rejects what prepares: {e}")))?;
    // The input lives in the middle of a 2 MiB mapping, so that no offset a program can
    // reach from it lands in either engine's stack (which would make the outcome depend on
    // the heap layout). The same buffer (same address) serves both engines: r1 may flow into
    // values.
    let mut big = vec![0u8; 2 << 20];
    let window = 1 << 20..(1 << 20) + mem.len();
    big[window.clone()].copy_from_slice(mem);
    let mut vm = Vm::new();
    vm.set_insn_budget(Some(BUDGET));
    let ri = vm.run(&prog, input(&mut big[window.clone()], args));
    let mem_i = big[window.clone()].to_vec();
    big[window.clone()].copy_from_slice(mem);
    let mut jvm = JitVm::new();
    jvm.set_insn_budget(Some(BUDGET));
    let rj = jvm.run(&jit, input(&mut big[window.clone()], args));
    let buf = &big[window];
    match (&ri, &rj) {
        (Ok(a), Ok(b)) => {
            prop_assert_eq!(a, b, "r0 differs");
            prop_assert_eq!(&mem_i[..], buf, "memory differs");
        }
        (Err(a), Err(b)) => prop_assert!(same_fault(a, b), "faults differ: {a:?} vs {b:?}"),
        // Budget accounting differs in granularity (the JIT charges whole blocks on entry
        // and tests at backward jumps); accept a disagreement only near the limit.
        (Err(Fault::BudgetExhausted { .. }), Ok(_))
        | (Ok(_), Err(Fault::BudgetExhausted { .. })) => {
            let n = vm.executed().unwrap_or(0);
            prop_assert!(
                n > BUDGET / 2,
                "budget disagreement after {n} insns: {ri:?} vs {rj:?}"
            );
        }
        _ => prop_assert!(false, "interp {ri:?} vs jit {rj:?}"),
    }
    Ok(true)
}

fn run(
    cases: u32,
    strategy: impl Strategy<Value = (Vec<Insn>, Vec<u8>, Option<[u64; 5]>)>,
) -> usize {
    let mut runner = TestRunner::new(ProptestConfig::with_cases(cases));
    let prepared = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&strategy, |(mut insns, mem, args)| {
            fold(&mut insns);
            insns.push(Insn::Exit);
            if compare(&insns, &mem, args)? {
                prepared.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        })
        .expect("engines agree");
    prepared.into_inner()
}

/// Any valid instructions (most memory accesses fault: the engines must agree on that too).
#[test]
fn random_programs_agree() {
    let strategy = (
        proptest::collection::vec(lull_isa::strategy::insn(), 1..40),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::option::of(any::<[u64; 5]>()),
    );
    let n = run(2000, strategy);
    assert!(n >= 200, "only {n} of 2000 random programs prepared");
}

fn reg_no_r10() -> impl Strategy<Value = Reg> {
    (0u8..=9).prop_map(|n| Reg::new(n).expect("a register"))
}

/// Arithmetic on interesting values: ALU and endian instructions of both widths on registers
/// seeded from random arguments and boundary constants.
fn alu_program() -> impl Strategy<Value = Insn> {
    let special = prop_oneof![
        Just(0i32),
        Just(-1),
        Just(1),
        Just(i32::MIN),
        Just(i32::MAX),
        Just(31),
        Just(32),
        Just(63),
        any::<i32>()
    ];
    let op = prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::SDiv),
        Just(AluOp::Mod),
        Just(AluOp::SMod),
        Just(AluOp::Or),
        Just(AluOp::And),
        Just(AluOp::Xor),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Arsh),
        Just(AluOp::Mov),
        Just(AluOp::Neg),
        Just(AluOp::MovSx8),
        Just(AluOp::MovSx16),
        Just(AluOp::MovSx32),
    ];
    let width = prop_oneof![Just(Width::W32), Just(Width::W64)];
    let src = prop_oneof![
        reg_no_r10().prop_map(Operand::Reg),
        special.prop_map(Operand::Imm)
    ];
    prop_oneof![
        8 => (width, op, reg_no_r10(), src).prop_map(|(width, op, dst, src)| {
            let width = if op == AluOp::MovSx32 { Width::W64 } else { width };
            let src = match (op, src) {
                (AluOp::Neg, _) => Operand::Imm(0),
                (AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32, Operand::Imm(_)) => Operand::Reg(Reg::R1),
                (_, s) => s,
            };
            Insn::Alu { width, op, dst, src }
        }),
        1 => (
            prop_oneof![Just(Endian::ToLe), Just(Endian::ToBe), Just(Endian::Swap)],
            reg_no_r10(),
            prop_oneof![Just(16u8), Just(32), Just(64)]
        )
            .prop_map(|(kind, dst, bits)| Insn::Endian { kind, dst, bits }),
        1 => (reg_no_r10(), any::<i32>(), any::<i32>()).prop_map(|(dst, imm, next_imm)| Insn::LdImm64 {
            dst,
            kind: lull_isa::LdImm64Kind::Imm,
            imm,
            next_imm,
        }),
    ]
}

#[test]
fn arithmetic_agrees() {
    let strategy = (
        proptest::collection::vec(alu_program(), 1..60),
        Just(Vec::new()),
        any::<[u64; 5]>().prop_map(Some),
    )
        .prop_map(|(mut insns, mem, args)| {
            // Return a mix of every register so each result is observed.
            for r in 1..=9 {
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Xor,
                    dst: Reg::R0,
                    src: Operand::Reg(Reg::new(r).expect("a register")),
                });
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Mul,
                    dst: Reg::R0,
                    src: Operand::Imm(0x3b9a_ca07),
                });
            }
            (insns, mem, args)
        });
    let n = run(2000, strategy);
    assert_eq!(n, 2000, "straight-line arithmetic always prepares");
}

/// Memory traffic that is mostly valid: loads, stores and atomics of every size at small
/// offsets from `r10` and from `r1` (a 64-byte input), some out of bounds or misaligned,
/// mixed with arithmetic and local control flow.
fn mem_insn() -> impl Strategy<Value = Insn> {
    let size = prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)];
    let base = prop_oneof![Just(Reg::R10), Just(Reg::R1)];
    let off = (any::<bool>(), -70i16..70)
        .prop_map(|(stack, o)| if stack { o - 520 + 512 - 64 } else { o });
    let atomic = prop_oneof![
        any::<bool>().prop_map(|fetch| AtomicOp::Add { fetch }),
        any::<bool>().prop_map(|fetch| AtomicOp::Or { fetch }),
        any::<bool>().prop_map(|fetch| AtomicOp::And { fetch }),
        any::<bool>().prop_map(|fetch| AtomicOp::Xor { fetch }),
        Just(AtomicOp::Xchg),
        Just(AtomicOp::CmpXchg),
        Just(AtomicOp::LoadAcquire),
        Just(AtomicOp::StoreRelease),
    ];
    prop_oneof![
        3 => (size.clone(), any::<bool>(), reg_no_r10(), base.clone(), off.clone()).prop_map(
            |(size, signed, dst, src, off)| {
                let off = if src == Reg::R10 { -(off.abs() % 520) } else { off };
                Insn::Load { size, signed: signed && size != Size::DW, dst, src, off }
            }
        ),
        3 => (size.clone(), base.clone(), off.clone(), prop_oneof![
                reg_no_r10().prop_map(Operand::Reg), any::<i32>().prop_map(Operand::Imm)
            ]).prop_map(|(size, dst, off, src)| {
                let off = if dst == Reg::R10 { -(off.abs() % 520) } else { off };
                Insn::Store { size, dst, off, src }
            }),
        1 => (size, atomic, base, reg_no_r10(), off).prop_map(|(size, op, base, v, off)| {
            let off = if base == Reg::R10 { -(off.abs() % 520) } else { off };
            let rmw = !matches!(op, AtomicOp::LoadAcquire | AtomicOp::StoreRelease);
            let size = if rmw && size < Size::W { Size::W } else { size };
            let off = off & !3;
            if op == AtomicOp::LoadAcquire {
                Insn::Atomic { size, op, dst: v, src: base, off }
            } else {
                Insn::Atomic { size, op, dst: base, src: v, off }
            }
        }),
        3 => alu_program(),
        1 => lull_isa::strategy::insn().prop_filter("control", |i| matches!(
            i, Insn::Jump { .. } | Insn::Ja { .. } | Insn::Call(_) | Insn::MayGoto { .. }
        )),
    ]
}

#[test]
fn memory_traffic_agrees() {
    let strategy = (
        proptest::collection::vec(mem_insn(), 1..50),
        proptest::collection::vec(any::<u8>(), 64..=64),
        Just(None),
    )
        .prop_map(|(mut insns, mem, args)| {
            // Keep r1 (the input) intact: retarget writes of r1 to r2.
            for i in &mut insns {
                match i {
                    Insn::Alu { dst, .. }
                    | Insn::Endian { dst, .. }
                    | Insn::Load { dst, .. }
                    | Insn::LdImm64 { dst, .. }
                        if *dst == Reg::R1 =>
                    {
                        *dst = Reg::R2
                    }
                    Insn::Atomic {
                        op: AtomicOp::LoadAcquire,
                        dst,
                        ..
                    } if *dst == Reg::R1 => *dst = Reg::R2,
                    Insn::Atomic { src, op, .. }
                        if *src == Reg::R1 && *op != AtomicOp::LoadAcquire =>
                    {
                        *src = Reg::R2
                    }
                    _ => {}
                }
            }
            // Observe the stack: fold a few slots into r0.
            for k in 1..=8i16 {
                insns.push(Insn::Load {
                    size: Size::DW,
                    signed: false,
                    dst: Reg::R3,
                    src: Reg::R10,
                    off: -8 * k,
                });
                insns.push(Insn::Alu {
                    width: Width::W64,
                    op: AluOp::Xor,
                    dst: Reg::R0,
                    src: Operand::Reg(Reg::R3),
                });
            }
            (insns, mem, args)
        });
    let n = run(2000, strategy);
    assert!(n >= 500, "only {n} of 2000 memory programs prepared");
}
