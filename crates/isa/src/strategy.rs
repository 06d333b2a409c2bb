//! `proptest` strategies generating arbitrary *valid* instructions (feature
//! `proptest-strategies`), for round-trip tests here and in other crates.
use proptest::prelude::*;

use crate::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, Operand, Reg, Size, Width,
};

/// Any register `r0`..=`r10`.
pub fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).expect("0..=10 is a register"))
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        reg().prop_map(Operand::Reg),
        any::<i32>().prop_map(Operand::Imm)
    ]
}

fn alu() -> impl Strategy<Value = Insn> {
    let binary = prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::SDiv),
        Just(AluOp::Or),
        Just(AluOp::And),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Mod),
        Just(AluOp::SMod),
        Just(AluOp::Xor),
        Just(AluOp::Mov),
        Just(AluOp::Arsh),
    ];
    let sx = prop_oneof![
        Just(AluOp::MovSx8),
        Just(AluOp::MovSx16),
        Just(AluOp::MovSx32)
    ];
    prop_oneof![
        (width(), binary, reg(), operand()).prop_map(|(width, op, dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src
        }),
        (width(), reg()).prop_map(|(width, dst)| Insn::Alu {
            width,
            op: AluOp::Neg,
            dst,
            src: Operand::Imm(0)
        }),
        (width(), sx, reg(), reg()).prop_map(|(width, op, dst, src)| {
            // `(s32)` exists only in 64-bit form.
            let width = if op == AluOp::MovSx32 {
                Width::W64
            } else {
                width
            };
            Insn::Alu {
                width,
                op,
                dst,
                src: Operand::Reg(src),
            }
        }),
        (
            prop_oneof![Just(Endian::ToLe), Just(Endian::ToBe), Just(Endian::Swap)],
            reg(),
            prop_oneof![Just(16u8), Just(32), Just(64)]
        )
            .prop_map(|(kind, dst, bits)| Insn::Endian { kind, dst, bits }),
        (reg(), reg(), any::<bool>()).prop_map(|(dst, src, to_kernel)| {
            // The only casts: arena (1) to kernel (0) and back.
            let (dst_as, src_as) = if to_kernel { (0, 1) } else { (1, 0) };
            Insn::AddrSpaceCast {
                dst,
                src,
                dst_as,
                src_as,
            }
        }),
    ]
}

fn memory() -> impl Strategy<Value = Insn> {
    let atomic_op = prop_oneof![
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
        (size(), any::<bool>(), reg(), reg(), any::<i16>()).prop_map(
            |(size, signed, dst, src, off)| Insn::Load {
                size,
                signed: signed && size != Size::DW,
                dst,
                src,
                off
            }
        ),
        (size(), reg(), any::<i16>(), operand()).prop_map(|(size, dst, off, src)| Insn::Store {
            size,
            dst,
            off,
            src
        }),
        (size(), atomic_op, reg(), reg(), any::<i16>()).prop_map(|(size, op, dst, src, off)| {
            let rmw = !matches!(op, AtomicOp::LoadAcquire | AtomicOp::StoreRelease);
            let size = if rmw && size < Size::W { Size::W } else { size };
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            }
        }),
        (reg(), 0u8..=6, any::<i32>(), any::<i32>()).prop_map(|(dst, src, imm, next_imm)| {
            let kind = LdImm64Kind::from_src(src).expect("0..=6 is a pseudo source");
            let next_imm = match kind {
                LdImm64Kind::MapFd | LdImm64Kind::MapIdx => 0,
                _ => next_imm,
            };
            Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm,
            }
        }),
        (
            prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)],
            any::<i32>()
        )
            .prop_map(|(size, imm)| Insn::LdAbs { size, imm }),
        (
            prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)],
            reg(),
            any::<i32>()
        )
            .prop_map(|(size, src, imm)| Insn::LdInd { size, src, imm }),
    ]
}

fn control() -> impl Strategy<Value = Insn> {
    let cond = prop_oneof![
        Just(JmpCond::Eq),
        Just(JmpCond::Gt),
        Just(JmpCond::Ge),
        Just(JmpCond::Set),
        Just(JmpCond::Ne),
        Just(JmpCond::Sgt),
        Just(JmpCond::Sge),
        Just(JmpCond::Lt),
        Just(JmpCond::Le),
        Just(JmpCond::Slt),
        Just(JmpCond::Sle),
    ];
    prop_oneof![
        any::<i16>().prop_map(|off| Insn::Ja {
            off: off.into(),
            long: false
        }),
        any::<i32>().prop_map(|off| Insn::Ja { off, long: true }),
        (width(), cond, reg(), operand(), any::<i16>()).prop_map(|(width, cond, dst, src, off)| {
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            }
        }),
        any::<i32>().prop_map(|id| Insn::Call(CallTarget::Helper(id))),
        any::<i32>().prop_map(|rel| Insn::Call(CallTarget::Local(rel))),
        (any::<i32>(), any::<i16>())
            .prop_map(|(btf_id, module)| Insn::Call(CallTarget::Kfunc { btf_id, module })),
        reg().prop_map(|dst| Insn::CallX { dst }),
        any::<i16>()
            .prop_filter("may_goto +0 is invalid", |o| *o != 0)
            .prop_map(|off| Insn::MayGoto { off }),
        Just(Insn::Exit),
    ]
}

/// Any valid instruction (every value satisfies [`Insn::validate`]).
pub fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![alu(), memory(), control()]
}
