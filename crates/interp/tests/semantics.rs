//! Instruction semantics (RFC 9669 and the kernel's runtime rules), one behaviour per test.

mod common;

use common::*;
use lull_isa::{AluOp, AtomicOp, Endian, Insn, JmpCond, Size};

/// r0 = `v` (64-bit), then `insns`, then exit.
fn with_r0(v: u64, insns: &[Insn]) -> u64 {
    let mut p = vec![lddw(0, v)];
    p.extend_from_slice(insns);
    p.push(EXIT);
    run(&p).expect("runs")
}

#[test]
fn alu32_zero_extends() {
    assert_eq!(with_r0(u64::MAX, &[alu32(AluOp::Add, 0, imm(1))]), 0);
    assert_eq!(
        with_r0(u64::MAX, &[alu32(AluOp::Mov, 0, r(0))]),
        0xffff_ffff
    );
    assert_eq!(with_r0(u64::MAX, &[alu32(AluOp::Neg, 0, imm(0))]), 1);
    assert_eq!(with_r0(0, &[alu32(AluOp::Sub, 0, imm(1))]), 0xffff_ffff);
}

#[test]
fn alu64_immediate_is_sign_extended() {
    assert_eq!(with_r0(0, &[alu64(AluOp::Add, 0, imm(-1))]), u64::MAX);
    assert_eq!(
        with_r0(u64::MAX, &[alu64(AluOp::And, 0, imm(-2))]),
        u64::MAX - 1
    );
}

#[test]
fn shift_amounts_are_masked() {
    // Register amounts are masked at run time.
    assert_eq!(with_r0(1, &[mov64(1, 65), alu64(AluOp::Lsh, 0, r(1))]), 2);
    assert_eq!(with_r0(1, &[mov64(1, 33), alu32(AluOp::Lsh, 0, r(1))]), 2);
    assert_eq!(
        with_r0(0x8000_0000, &[mov64(1, 63), alu32(AluOp::Arsh, 0, r(1))]),
        0xffff_ffff
    );
    assert_eq!(
        with_r0(u64::MAX, &[alu64(AluOp::Rsh, 0, imm(64 + 60))]),
        0xf
    );
    assert_eq!(
        with_r0(1 << 63, &[alu64(AluOp::Arsh, 0, imm(63))]),
        u64::MAX
    );
}

#[test]
fn division_and_modulo_by_zero() {
    assert_eq!(with_r0(7, &[mov64(1, 0), alu64(AluOp::Div, 0, r(1))]), 0);
    assert_eq!(with_r0(7, &[alu64(AluOp::Div, 0, imm(0))]), 0);
    assert_eq!(with_r0(7, &[mov64(1, 0), alu64(AluOp::Mod, 0, r(1))]), 7);
    assert_eq!(with_r0(7, &[mov64(1, 0), alu64(AluOp::SDiv, 0, r(1))]), 0);
    assert_eq!(
        with_r0(u64::MAX - 6, &[mov64(1, 0), alu64(AluOp::SMod, 0, r(1))]),
        u64::MAX - 6
    );
    // 32-bit modulo by zero keeps the low half, zero-extended.
    let v = 0x1234_5678_9abc_def0;
    assert_eq!(
        with_r0(v, &[mov64(1, 0), alu32(AluOp::Mod, 0, r(1))]),
        0x9abc_def0
    );
    assert_eq!(
        with_r0(v, &[mov64(1, 0), alu32(AluOp::SMod, 0, r(1))]),
        0x9abc_def0
    );
    assert_eq!(with_r0(v, &[mov64(1, 0), alu32(AluOp::Div, 0, r(1))]), 0);
    // The 32-bit divisor is the low half of the register.
    assert_eq!(
        with_r0(9, &[lddw(1, 1 << 32), alu32(AluOp::Div, 0, r(1))]),
        0
    );
}

#[test]
fn signed_division_overflow_does_not_trap() {
    let min64 = i64::MIN as u64;
    assert_eq!(with_r0(min64, &[alu64(AluOp::SDiv, 0, imm(-1))]), min64);
    assert_eq!(with_r0(min64, &[alu64(AluOp::SMod, 0, imm(-1))]), 0);
    let min32 = i32::MIN as u32 as u64;
    assert_eq!(with_r0(min32, &[alu32(AluOp::SDiv, 0, imm(-1))]), min32);
    assert_eq!(with_r0(min32, &[alu32(AluOp::SMod, 0, imm(-1))]), 0);
    assert_eq!(
        with_r0(-7i64 as u64, &[alu64(AluOp::SDiv, 0, imm(2))]) as i64,
        -3
    );
    assert_eq!(
        with_r0(-7i64 as u64, &[alu64(AluOp::SMod, 0, imm(2))]) as i64,
        -1
    );
}

#[test]
fn sign_extending_moves() {
    assert_eq!(
        with_r0(0x80, &[alu64(AluOp::MovSx8, 0, r(0))]),
        0xffff_ffff_ffff_ff80
    );
    assert_eq!(with_r0(0x80, &[alu32(AluOp::MovSx8, 0, r(0))]), 0xffff_ff80);
    assert_eq!(
        with_r0(0x1_8000, &[alu64(AluOp::MovSx16, 0, r(0))]),
        0xffff_ffff_ffff_8000
    );
    assert_eq!(
        with_r0(0x8000, &[alu32(AluOp::MovSx16, 0, r(0))]),
        0xffff_8000
    );
    assert_eq!(
        with_r0(0x1_8000_0000, &[alu64(AluOp::MovSx32, 0, r(0))]),
        0xffff_ffff_8000_0000
    );
}

#[test]
fn byte_order() {
    let v = 0x0102_0304_0506_0708;
    let end = |kind, bits| Insn::Endian {
        kind,
        dst: reg(0),
        bits,
    };
    assert_eq!(with_r0(v, &[end(Endian::ToLe, 16)]), 0x0708);
    assert_eq!(with_r0(v, &[end(Endian::ToLe, 32)]), 0x0506_0708);
    assert_eq!(with_r0(v, &[end(Endian::ToLe, 64)]), v);
    assert_eq!(with_r0(v, &[end(Endian::ToBe, 16)]), 0x0807);
    assert_eq!(with_r0(v, &[end(Endian::ToBe, 32)]), 0x0807_0605);
    assert_eq!(with_r0(v, &[end(Endian::Swap, 64)]), 0x0807_0605_0403_0201);
}

#[test]
fn jumps_signed_unsigned_and_32_bit() {
    // r0 = 1 if the jump is taken, else 2.
    let taken = |setup: &[Insn], j: Insn| {
        let mut p = setup.to_vec();
        p.extend([j, mov64(0, 2), EXIT, mov64(0, 1), EXIT]);
        match run(&p).expect("runs") {
            1 => true,
            2 => false,
            other => panic!("r0 = {other}"),
        }
    };
    let m1 = [mov64(1, -1)];
    assert!(taken(&m1, jmp(JmpCond::Gt, 1, imm(5), 2)));
    assert!(!taken(&m1, jmp(JmpCond::Sgt, 1, imm(5), 2)));
    assert!(taken(&m1, jmp(JmpCond::Slt, 1, imm(0), 2)));
    assert!(taken(&m1, jmp(JmpCond::Eq, 1, imm(-1), 2)));
    // 32-bit compare of the low half only.
    let hi = [lddw(1, 0xffff_ffff_0000_0005)];
    assert!(taken(&hi, jmp32(JmpCond::Eq, 1, imm(5), 2)));
    assert!(!taken(&hi, jmp(JmpCond::Eq, 1, imm(5), 2)));
    assert!(taken(
        &[mov64(1, 0x7fff_ffff)],
        jmp32(JmpCond::Sgt, 1, imm(-1), 2)
    ));
    assert!(taken(
        &[lddw(1, 0x1_0000_0000)],
        jmp32(JmpCond::Sle, 1, imm(0), 2)
    ));
    assert!(taken(
        &[mov64(1, 6), mov64(2, 3)],
        jmp(JmpCond::Set, 1, r(2), 2)
    ));
    assert!(!taken(
        &[mov64(1, 4), mov64(2, 3)],
        jmp(JmpCond::Set, 1, r(2), 2)
    ));
}

#[test]
fn gotol_and_lddw_slots() {
    // A jump over an lddw counts two slots.
    let p = [
        mov64(0, 1),
        Insn::Ja { off: 2, long: true },
        lddw(0, 99),
        EXIT,
    ];
    assert_eq!(run(&p), Ok(1));
}

#[test]
fn loads_and_stores_all_sizes() {
    let mut mem = [0u8; 16];
    mem[..8].copy_from_slice(&0x8182_8384_8586_8788u64.to_le_bytes());
    let cases = [
        (ldx(Size::B, 0, 1, 0), 0x88),
        (ldx(Size::H, 0, 1, 0), 0x8788),
        (ldx(Size::W, 0, 1, 0), 0x8586_8788),
        (ldx(Size::DW, 0, 1, 0), 0x8182_8384_8586_8788),
        (ldxs(Size::B, 0, 1, 0), 0xffff_ffff_ffff_ff88),
        (ldxs(Size::H, 0, 1, 0), 0xffff_ffff_ffff_8788),
        (ldxs(Size::W, 0, 1, 0), 0xffff_ffff_8586_8788),
        (ldx(Size::B, 0, 1, 7), 0x81),
    ];
    for (load, want) in cases {
        assert_eq!(run_mem(&[load, EXIT], &mut mem), Ok(want), "{load:?}");
    }
    let p = [
        lddw(2, 0x1122_3344_5566_7788),
        stx(Size::DW, 1, 8, 2),
        st(Size::H, 1, 8, -1),
        st(Size::B, 1, 15, 0x7f),
        ldx(Size::DW, 0, 1, 8),
        EXIT,
    ];
    assert_eq!(run_mem(&p, &mut mem), Ok(0x7f22_3344_5566_ffff));
    // A 64-bit store of an immediate sign-extends it.
    let p = [st(Size::DW, 10, -8, -2), ldx(Size::DW, 0, 10, -8), EXIT];
    assert_eq!(run(&p), Ok(u64::MAX - 1));
}

fn atomic(size: Size, op: AtomicOp, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Atomic {
        size,
        op,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

#[test]
fn atomics() {
    let fetch_add = [
        st(Size::DW, 10, -8, 40),
        mov64(1, 2),
        atomic(Size::DW, AtomicOp::Add { fetch: true }, 10, 1, -8),
        ldx(Size::DW, 0, 10, -8),
        alu64(AluOp::Lsh, 0, imm(8)),
        alu64(AluOp::Or, 0, r(1)),
        EXIT,
    ];
    assert_eq!(run(&fetch_add), Ok((42 << 8) | 40));

    // 32-bit cmpxchg compares the low half of r0 and zero-extends the old value into r0.
    let cmpxchg = [
        st(Size::W, 10, -8, -1),
        lddw(0, 0x1234_5678_ffff_ffff),
        mov64(1, 7),
        atomic(Size::W, AtomicOp::CmpXchg, 10, 1, -8),
        ldx(Size::W, 2, 10, -8),
        alu64(AluOp::Lsh, 2, imm(32)),
        alu64(AluOp::Or, 0, r(2)),
        EXIT,
    ];
    assert_eq!(run(&cmpxchg), Ok(0x0000_0007_ffff_ffff));

    let failed_cmpxchg = [
        st(Size::DW, 10, -8, 5),
        mov64(0, 4),
        mov64(1, 7),
        atomic(Size::DW, AtomicOp::CmpXchg, 10, 1, -8),
        ldx(Size::DW, 2, 10, -8),
        alu64(AluOp::Lsh, 2, imm(8)),
        alu64(AluOp::Or, 0, r(2)),
        EXIT,
    ];
    assert_eq!(run(&failed_cmpxchg), Ok((5 << 8) | 5));

    let xchg_and_acquire = [
        st(Size::DW, 10, -8, 3),
        mov64(1, 9),
        atomic(Size::DW, AtomicOp::Xchg, 10, 1, -8),
        atomic(Size::B, AtomicOp::LoadAcquire, 0, 10, -8),
        alu64(AluOp::Lsh, 0, imm(8)),
        alu64(AluOp::Or, 0, r(1)),
        atomic(Size::H, AtomicOp::StoreRelease, 10, 0, -16),
        ldx(Size::DW, 3, 10, -16),
        alu64(AluOp::Sub, 0, r(3)),
        EXIT,
    ];
    // r0 = (9 << 8) | 3 = 0x903; stored as u16 and read back: difference 0.
    assert_eq!(run(&xchg_and_acquire), Ok(0));
}

#[test]
fn may_goto_jumps_once_the_budget_is_spent() {
    // r0 counts the iterations of `loop: may_goto +2; r0 += 1; goto loop`.
    let p = [
        mov64(0, 0),
        Insn::MayGoto { off: 2 },
        alu64(AluOp::Add, 0, imm(1)),
        ja(-3),
        EXIT,
    ];
    assert_eq!(run(&p), Ok(lull_interp::MAY_GOTO_BUDGET));
}
