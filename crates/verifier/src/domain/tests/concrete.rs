//! A tiny concrete evaluator with exact BPF semantics (RFC 9669), the ground truth for the
//! soundness properties: 32-bit operations work on the low halves and zero-extend, shift
//! amounts are masked, division by zero gives 0, modulo by zero leaves the dividend, and
//! `INT_MIN / -1` gives `INT_MIN` (and `% -1` gives 0).

use lull_isa::{AluOp, Endian, JmpCond, Width};

/// `dst op src` on `width` bits.
pub fn alu(op: AluOp, width: Width, dst: u64, src: u64) -> u64 {
    match width {
        Width::W64 => alu64(op, dst, src),
        Width::W32 => u64::from(alu32(op, dst as u32, src as u32)),
    }
}

fn alu64(op: AluOp, d: u64, s: u64) -> u64 {
    match op {
        AluOp::Add => d.wrapping_add(s),
        AluOp::Sub => d.wrapping_sub(s),
        AluOp::Mul => d.wrapping_mul(s),
        AluOp::Div => d.checked_div(s).unwrap_or(0),
        AluOp::SDiv => {
            if s == 0 {
                0
            } else {
                (d as i64).wrapping_div(s as i64) as u64
            }
        }
        AluOp::Mod => d.checked_rem(s).unwrap_or(d),
        AluOp::SMod => {
            if s == 0 {
                d
            } else {
                (d as i64).wrapping_rem(s as i64) as u64
            }
        }
        AluOp::Or => d | s,
        AluOp::And => d & s,
        AluOp::Xor => d ^ s,
        AluOp::Lsh => d << (s & 63),
        AluOp::Rsh => d >> (s & 63),
        AluOp::Arsh => ((d as i64) >> (s & 63)) as u64,
        AluOp::Neg => d.wrapping_neg(),
        AluOp::Mov => s,
        AluOp::MovSx8 => s as i8 as i64 as u64,
        AluOp::MovSx16 => s as i16 as i64 as u64,
        AluOp::MovSx32 => s as i32 as i64 as u64,
    }
}

fn alu32(op: AluOp, d: u32, s: u32) -> u32 {
    match op {
        AluOp::Add => d.wrapping_add(s),
        AluOp::Sub => d.wrapping_sub(s),
        AluOp::Mul => d.wrapping_mul(s),
        AluOp::Div => d.checked_div(s).unwrap_or(0),
        AluOp::SDiv => {
            if s == 0 {
                0
            } else {
                (d as i32).wrapping_div(s as i32) as u32
            }
        }
        AluOp::Mod => d.checked_rem(s).unwrap_or(d),
        AluOp::SMod => {
            if s == 0 {
                d
            } else {
                (d as i32).wrapping_rem(s as i32) as u32
            }
        }
        AluOp::Or => d | s,
        AluOp::And => d & s,
        AluOp::Xor => d ^ s,
        AluOp::Lsh => d << (s & 31),
        AluOp::Rsh => d >> (s & 31),
        AluOp::Arsh => ((d as i32) >> (s & 31)) as u32,
        AluOp::Neg => d.wrapping_neg(),
        AluOp::Mov => s,
        AluOp::MovSx8 => s as i8 as i32 as u32,
        AluOp::MovSx16 => s as i16 as i32 as u32,
        // Does not exist; the soundness tests skip it.
        AluOp::MovSx32 => s,
    }
}

/// A byte-order instruction on a little-endian machine.
pub fn endian(kind: Endian, bits: u8, v: u64) -> u64 {
    match (kind, bits) {
        (Endian::ToLe, 16) => u64::from(v as u16),
        (Endian::ToLe, 32) => u64::from(v as u32),
        (Endian::ToLe, _) => v,
        (_, 16) => u64::from((v as u16).swap_bytes()),
        (_, 32) => u64::from((v as u32).swap_bytes()),
        (_, _) => v.swap_bytes(),
    }
}

/// Whether `a cond b` holds on `width` bits.
pub fn cond(c: JmpCond, width: Width, a: u64, b: u64) -> bool {
    let (a, b) = match width {
        Width::W64 => (a, b),
        Width::W32 => (u64::from(a as u32), u64::from(b as u32)),
    };
    let (sa, sb) = match width {
        Width::W64 => (a as i64, b as i64),
        Width::W32 => (i64::from(a as u32 as i32), i64::from(b as u32 as i32)),
    };
    match c {
        JmpCond::Eq => a == b,
        JmpCond::Ne => a != b,
        JmpCond::Set => a & b != 0,
        JmpCond::Gt => a > b,
        JmpCond::Ge => a >= b,
        JmpCond::Lt => a < b,
        JmpCond::Le => a <= b,
        JmpCond::Sgt => sa > sb,
        JmpCond::Sge => sa >= sb,
        JmpCond::Slt => sa < sb,
        JmpCond::Sle => sa <= sb,
    }
}

#[test]
fn evaluator_follows_bpf_edge_cases() {
    assert_eq!(alu(AluOp::Div, Width::W64, 7, 0), 0);
    assert_eq!(alu(AluOp::Mod, Width::W32, 0x1_0000_0007, 0), 7);
    assert_eq!(
        alu(AluOp::SDiv, Width::W64, i64::MIN as u64, u64::MAX),
        i64::MIN as u64
    );
    assert_eq!(alu(AluOp::SMod, Width::W32, 0x8000_0000, u64::MAX), 0);
    assert_eq!(alu(AluOp::Lsh, Width::W32, 1, 33), 2);
    assert_eq!(alu(AluOp::Add, Width::W32, u64::MAX, 1), 0);
    assert_eq!(alu(AluOp::MovSx8, Width::W32, 0x80, 0x80), 0xffff_ff80);
    assert_eq!(endian(Endian::ToBe, 16, 0x1234_5678), 0x7856);
    assert!(cond(JmpCond::Slt, Width::W32, 0xffff_ffff, 0));
    assert!(!cond(JmpCond::Slt, Width::W64, 0xffff_ffff, 0));
}
