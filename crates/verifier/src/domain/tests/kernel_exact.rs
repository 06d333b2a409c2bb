//! Results pinned to what the running Linux 6.18 verifier printed for the same instructions
//! (log level 2, via `kload`), so the domain matches the kernel bit for bit, not just soundly.
//! Each test names the instruction sequence that was loaded.

use crate::domain::{
    Scalar, Tnum, alu, and_or_fork, branch_taken, endian, set_min_max, shift_imm_is_invalid,
};
use lull_isa::{AluOp, Endian, JmpCond, Width};

fn imm(v: i32) -> Scalar {
    Scalar::known(v as i64 as u64)
}

/// `r0 = bpf_get_prandom_u32(); r0 &= 255`
fn byte() -> Scalar {
    alu(AluOp::And, Width::W64, &Scalar::unknown(), &imm(255))
}

const BYTE: &str = "scalar(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff))";

#[test]
fn and_with_mask() {
    assert_eq!(byte().to_string(), BYTE);
}

#[test]
fn unknown_and_constants_print_like_the_kernel() {
    assert_eq!(Scalar::unknown().to_string(), "scalar()");
    assert_eq!(Scalar::known(5).to_string(), "5");
    assert_eq!(Scalar::known(u64::MAX).to_string(), "-1");
    assert_eq!(Scalar::known(0x10000).to_string(), "0x10000");
    assert_eq!(
        Scalar::known((-40000i64) as u64).to_string(),
        "0xffffffffffff63c0"
    );
}

#[test]
fn div_and_mod_are_not_tracked_in_6_18() {
    // r0 &= 255; r0 /= 3  and  r0 %= 7
    assert_eq!(
        alu(AluOp::Div, Width::W64, &byte(), &imm(3)),
        Scalar::unknown()
    );
    assert_eq!(
        alu(AluOp::Mod, Width::W64, &byte(), &imm(7)),
        Scalar::unknown()
    );
}

#[test]
fn shift_left_32_then_arithmetic_right_32_then_w_add() {
    let r = alu(AluOp::Lsh, Width::W64, &Scalar::unknown(), &imm(32));
    assert_eq!(
        r.to_string(),
        "scalar(smax=0x7fffffff00000000,umax=0xffffffff00000000,smin32=0,smax32=umax32=0,\
         var_off=(0x0; 0xffffffff00000000))"
    );
    let r = alu(AluOp::Arsh, Width::W64, &r, &imm(32));
    assert_eq!(
        r.to_string(),
        "scalar(smin=0xffffffff80000000,smax=0x7fffffff)"
    );
    let r = alu(AluOp::Add, Width::W32, &r, &imm(1));
    assert_eq!(
        r.to_string(),
        "scalar(smin=0,smax=umax=0xffffffff,var_off=(0x0; 0xffffffff))"
    );
}

#[test]
fn negation_tracks_ranges() {
    let r = alu(AluOp::Neg, Width::W64, &byte(), &Scalar::unknown());
    assert_eq!(r.to_string(), "scalar(smin=smin32=-255,smax=smax32=0)");
    let r = alu(AluOp::Neg, Width::W32, &byte(), &Scalar::unknown());
    assert_eq!(
        r.to_string(),
        "scalar(smin=0,smax=umax=0xffffffff,smin32=-255,smax32=0,var_off=(0x0; 0xffffffff))"
    );
}

#[test]
fn byte_swaps_permute_the_tnum() {
    let be16 = endian(Endian::ToBe, 16, &byte());
    assert_eq!(
        be16.to_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=0xff00,var_off=(0x0; 0xff00))"
    );
    let swap64 = endian(Endian::Swap, 64, &byte());
    assert_eq!(
        swap64.to_string(),
        "scalar(smax=0x7f00000000000000,umax=0xff00000000000000,smin32=0,smax32=umax32=0,\
         var_off=(0x0; 0xff00000000000000))"
    );
    assert_eq!(endian(Endian::ToLe, 32, &byte()).to_string(), BYTE);
}

#[test]
fn add_and_sub_keep_ranges_when_every_value_wraps() {
    let bit = alu(AluOp::And, Width::W64, &Scalar::unknown(), &imm(1));
    let r = alu(AluOp::Sub, Width::W64, &bit, &imm(2));
    assert_eq!(
        r.to_string(),
        "scalar(smin=smin32=-2,smax=smax32=-1,umin=0xfffffffffffffffe,umin32=0xfffffffe,\
         var_off=(0xfffffffffffffffe; 0x1))"
    );
    let r = alu(AluOp::Add, Width::W64, &r, &imm(2));
    assert_eq!(
        r.to_string(),
        "scalar(smin=smin32=0,smax=umax=smax32=umax32=1,var_off=(0x0; 0x1))"
    );
}

#[test]
fn multiplication_uses_signed_corner_products() {
    let r = alu(AluOp::Add, Width::W64, &byte(), &imm(-10));
    assert_eq!(r.to_string(), "scalar(smin=smin32=-10,smax=smax32=245)");
    assert_eq!(
        alu(AluOp::Mul, Width::W64, &r, &imm(3)).to_string(),
        "scalar(smin=smin32=-30,smax=smax32=735)"
    );
    assert_eq!(
        alu(AluOp::Mul, Width::W32, &r, &imm(3)).to_string(),
        "scalar(smin=0,smax=umax=0xffffffff,smin32=-30,smax32=735,var_off=(0x0; 0xffffffff))"
    );
    assert_eq!(
        alu(AluOp::Mul, Width::W64, &r, &imm(-3)).to_string(),
        "scalar(smin=smin32=-735,smax=smax32=30)"
    );
}

#[test]
fn and_with_minus_one_or_zero_forks() {
    let r = alu(AluOp::Arsh, Width::W64, &Scalar::unknown(), &imm(63));
    assert_eq!(r.to_string(), "scalar(smin=smin32=-1,smax=smax32=0)");
    let (pushed, current) = and_or_fork(AluOp::And, &r, &imm(5)).expect("kernel forks here");
    assert_eq!(
        alu(AluOp::And, Width::W64, &current, &imm(5)).to_string(),
        "5"
    );
    assert_eq!(
        alu(AluOp::And, Width::W64, &pushed, &imm(5)).to_string(),
        "0"
    );
    assert_eq!(and_or_fork(AluOp::Xor, &r, &imm(5)), None);
}

#[test]
fn range_and_tnum_meeting_in_one_value_make_a_constant() {
    // r0 &= 240; if r0 < 5 goto +2; if r0 > 20 goto +1
    let r = alu(AluOp::And, Width::W64, &Scalar::unknown(), &imm(240));
    let five = imm(5);
    assert_eq!(branch_taken(JmpCond::Lt, Width::W64, &r, &five), None);
    let s = set_min_max(JmpCond::Lt, Width::W64, &r, &five, false);
    assert!(s.violations.is_empty());
    let r = s.fallthrough.0;
    assert_eq!(
        r.to_string(),
        "scalar(smin=umin=smin32=umin32=5,smax=umax=smax32=umax32=240,var_off=(0x0; 0xf0))"
    );
    let s = set_min_max(JmpCond::Gt, Width::W64, &r, &imm(20), false);
    assert_eq!(s.fallthrough.0.to_string(), "16");
    assert_eq!(
        s.taken.0.to_string(),
        "scalar(smin=umin=smin32=umin32=21,smax=umax=smax32=umax32=240,var_off=(0x0; 0xf0))"
    );
}

#[test]
fn register_compared_with_itself_is_refined_with_aliasing() {
    // if r0 > r0 goto +1   (6.18 explores the jump with umin=1, umax=U64_MAX-1)
    let r = Scalar::unknown();
    assert_eq!(branch_taken(JmpCond::Gt, Width::W64, &r, &r), None);
    let s = set_min_max(JmpCond::Gt, Width::W64, &r, &r, true);
    assert_eq!(
        s.taken.0.to_string(),
        "scalar(umin=1,umax=0xfffffffffffffffe)"
    );
    assert_eq!(s.taken.0, s.taken.1);
    assert_eq!(s.fallthrough.0.to_string(), "scalar()");
}

#[test]
fn jset_refines_both_sides() {
    // if r0 & 0x10 goto +1
    let s = set_min_max(
        JmpCond::Set,
        Width::W64,
        &Scalar::unknown(),
        &imm(16),
        false,
    );
    assert_eq!(
        s.fallthrough.0.to_string(),
        "scalar(smax=0x7fffffffffffffef,umax=0xffffffffffffffef,smax32=0x7fffffef,\
         umax32=0xffffffef,var_off=(0x0; 0xffffffffffffffef))"
    );
    assert_eq!(
        s.taken.0.to_string(),
        "scalar(smin=0x8000000000000010,umin=umin32=16,smin32=0x80000010,\
         var_off=(0x10; 0xffffffffffffffef))"
    );
}

#[test]
fn equality_of_disjoint_tnums_collapses_to_the_common_value() {
    // r6 &= 240; r0 &= 255; r0 in [1, 15]; if r6 == r0 goto +1  -> jump side: R0=0 R6=0
    let r6 = alu(AluOp::And, Width::W64, &Scalar::unknown(), &imm(240));
    let r0 = Scalar::from_urange(1, 15);
    assert_eq!(
        r0.to_string(),
        "scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=15,var_off=(0x0; 0xf))"
    );
    assert_eq!(branch_taken(JmpCond::Eq, Width::W64, &r6, &r0), None);
    let s = set_min_max(JmpCond::Eq, Width::W64, &r6, &r0, false);
    assert_eq!(
        (s.taken.0.to_string(), s.taken.1.to_string()),
        ("0".into(), "0".into())
    );
    assert!(s.violations.is_empty());
}

#[test]
fn invalid_immediate_shifts() {
    assert!(shift_imm_is_invalid(AluOp::Lsh, Width::W32, 32));
    assert!(!shift_imm_is_invalid(AluOp::Lsh, Width::W64, 32));
    assert!(shift_imm_is_invalid(AluOp::Arsh, Width::W64, -1));
    assert!(!shift_imm_is_invalid(AluOp::Add, Width::W64, 99));
}

#[test]
fn tnum_basics() {
    assert_eq!(Tnum::range(0, 255), Tnum::new(0, 0xff));
    assert_eq!(Tnum::range(4, 6), Tnum::new(4, 3));
    assert_eq!(Tnum::new(0, 0xff).to_string(), "(0x0; 0xff)");
    assert_eq!(Tnum::new(0b1010, 0b0101).sbin()[60..].to_string(), "1x1x");
    assert_eq!(Tnum::new(0b0111_0000, 0b1000_0010).step(241), 242);
    assert!(Tnum::range(0, 2).contains(Tnum::constant(3)));
}
