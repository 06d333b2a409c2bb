//! Soundness properties: for concrete values drawn from an abstract value, the concrete result
//! of every operation must lie in the abstract result (tnum and all six ranges), and branch
//! decisions must never contradict a concrete execution.
//!
//! Abstract values are built from a handful of concrete values (their join: union of tnums,
//! hull of each range, optionally widened, then synced), so every generated `Scalar` holds a
//! known witness. Values are biased to the edges where bound arithmetic goes wrong.

use super::concrete;
use crate::domain::{
    Scalar, Tnum, alu, and_or_fork, branch_taken, div_imm_is_zero, endian, refine, set_min_max,
    shift_imm_is_invalid,
};
use lull_isa::{AluOp, Endian, JmpCond, Width};
use proptest::prelude::*;

fn edge_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..300,
        (0u64..300).prop_map(|d| d.wrapping_neg()),
        (0u64..64).prop_map(|b| 1u64 << b),
        (
            0u64..300,
            prop_oneof![
                Just(1u64 << 31),
                Just(1u64 << 32),
                Just(1u64 << 63),
                Just(u64::from(u32::MAX)),
            ]
        )
            .prop_map(|(d, base)| base.wrapping_add(d).wrapping_sub(150)),
    ]
}

/// A witness value and a small set of companions, all of which the abstract value must hold.
fn values() -> impl Strategy<Value = Vec<u64>> {
    (
        edge_value(),
        prop::collection::vec((edge_value(), 0u8..4), 0..4),
    )
        .prop_map(|(x, others)| {
            let mut v = vec![x];
            for (o, how) in others {
                // Companions near the witness make tight, interesting abstractions.
                v.push(match how {
                    0 => o,
                    1 => x ^ (o & 0xff),
                    2 => x.wrapping_add(o & 0xffff),
                    _ => x & o,
                });
            }
            v
        })
}

/// Which facts of the join to forget before syncing (to vary the shape of the abstraction).
#[derive(Clone, Copy, Debug)]
struct Widen {
    tnum: bool,
    r64: bool,
    r32: bool,
}

fn widen() -> impl Strategy<Value = Widen> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c)| Widen {
        tnum: a,
        r64: b,
        r32: c,
    })
}

fn abstraction(vals: &[u64], w: Widen) -> Scalar {
    let mut s = Scalar::known(vals[0]);
    for &v in &vals[1..] {
        s.var_off = s.var_off.union(Tnum::constant(v));
        s.umin = s.umin.min(v);
        s.umax = s.umax.max(v);
        s.smin = s.smin.min(v as i64);
        s.smax = s.smax.max(v as i64);
        s.u32_min = s.u32_min.min(v as u32);
        s.u32_max = s.u32_max.max(v as u32);
        s.s32_min = s.s32_min.min(v as i32);
        s.s32_max = s.s32_max.max(v as i32);
    }
    if w.tnum {
        s.var_off = Tnum::UNKNOWN;
    }
    if w.r64 {
        s.mark64_unbounded();
    }
    if w.r32 {
        s.mark32_unbounded();
    }
    s.sync();
    s
}

/// An abstract scalar and a witness it contains.
fn scalar() -> impl Strategy<Value = (Scalar, u64)> {
    (values(), widen()).prop_map(|(v, w)| (abstraction(&v, w), v[0]))
}

/// Two abstract scalars with witnesses, often related (equal, adjacent, or at an edge of the
/// other's range) so that comparisons land on their boundary cases.
fn scalar_pair() -> impl Strategy<Value = ((Scalar, u64), (Scalar, u64))> {
    (values(), values(), widen(), widen(), 0u8..5, -2i64..3).prop_map(
        |(va, mut vb, wa, wb, mode, d)| {
            let x = va[0];
            match mode {
                // The second witness is next to the first.
                0 | 1 => vb[0] = x.wrapping_add(d as u64),
                // ... and is also the largest (or smallest) value of its set: an edge of its range.
                2 => {
                    vb[0] = x.wrapping_add(d as u64);
                    vb.retain(|&v| v <= x.wrapping_add(d as u64));
                    if vb.is_empty() || vb[0] != x.wrapping_add(d as u64) {
                        vb.insert(0, x.wrapping_add(d as u64));
                    }
                }
                3 => {
                    vb[0] = x.wrapping_add(d as u64);
                    vb.retain(|&v| v >= x.wrapping_add(d as u64));
                    if vb.is_empty() || vb[0] != x.wrapping_add(d as u64) {
                        vb.insert(0, x.wrapping_add(d as u64));
                    }
                }
                _ => {}
            }
            ((abstraction(&va, wa), x), (abstraction(&vb, wb), vb[0]))
        },
    )
}

fn tnum_and_member() -> impl Strategy<Value = (Tnum, u64)> {
    (any::<u64>(), any::<u64>(), any::<u64>(), 0u8..3).prop_map(|(v, m, pick, sparse)| {
        // Sparse masks leave many known bits, which is where precision bugs hide.
        let m = match sparse {
            0 => m,
            1 => m & m.rotate_left(17),
            _ => m & m.rotate_left(17) & m.rotate_left(31),
        };
        (Tnum::new(v & !m, m), (v & !m) | (pick & m))
    })
}

const OPS: [AluOp; 18] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Neg,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::MovSx8,
    AluOp::MovSx16,
    AluOp::MovSx32,
    AluOp::Arsh,
];

const CONDS: [JmpCond; 11] = [
    JmpCond::Eq,
    JmpCond::Gt,
    JmpCond::Ge,
    JmpCond::Set,
    JmpCond::Ne,
    JmpCond::Sgt,
    JmpCond::Sge,
    JmpCond::Lt,
    JmpCond::Le,
    JmpCond::Slt,
    JmpCond::Sle,
];

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn assert_holds(s: &Scalar, v: u64, what: &str) -> Result<(), TestCaseError> {
    prop_assert!(s.contains(v), "{what}: {v:#x} not in {s:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tnum_ops_are_sound((a, x) in tnum_and_member(), (b, y) in tnum_and_member(), sh in 0u8..64) {
        prop_assert!(a.contains_value(x));
        prop_assert!(a.add(b).contains_value(x.wrapping_add(y)));
        prop_assert!(a.sub(b).contains_value(x.wrapping_sub(y)));
        prop_assert!(a.mul(b).contains_value(x.wrapping_mul(y)));
        prop_assert!(a.neg().contains_value(x.wrapping_neg()));
        prop_assert!(a.and(b).contains_value(x & y));
        prop_assert!(a.or(b).contains_value(x | y));
        prop_assert!(a.xor(b).contains_value(x ^ y));
        prop_assert!(a.lshift(sh).contains_value(x << sh));
        prop_assert!(a.rshift(sh).contains_value(x >> sh));
        prop_assert!(a.arshift(sh, Width::W64).contains_value(((x as i64) >> sh) as u64));
        let sh32 = sh % 32;
        prop_assert!(a.arshift(sh32, Width::W32).contains_value(u64::from(((x as i32) >> sh32) as u32)));
        prop_assert!(a.union(b).contains_value(x) && a.union(b).contains_value(y));
        prop_assert!(a.union(b).contains(a) && a.union(b).contains(b));
        prop_assert!(a.overlap(b) || x != y);
        if a.overlap(b) && b.contains_value(x) {
            prop_assert!(a.intersect(b).contains_value(x));
        }
        prop_assert!(a.bswap64().contains_value(x.swap_bytes()));
        prop_assert!(a.bswap16().contains_value(u64::from((x as u16).swap_bytes())));
        prop_assert!(a.cast(2).contains_value(x & 0xffff));
        prop_assert!(a.with_subreg(b).contains_value((x & !0xffff_ffff) | (y & 0xffff_ffff)));
        prop_assert!(Tnum::range(x.min(y), x.max(y)).contains_value(x));
        let next = a.step(y);
        prop_assert!(a.contains_value(next));
        if y < (a.value | a.mask) {
            prop_assert!(next > y);
        }
    }

    #[test]
    fn tnum_step_finds_the_next_member((a, _x) in tnum_and_member(), z in any::<u64>()) {
        // Brute force on the low byte only, where enumeration is cheap.
        let a = a.cast(1);
        let z = z & 0xff;
        let expected = (0u64..256).filter(|&v| v > z && a.contains_value(v)).min();
        let tmax = a.value | a.mask;
        prop_assert_eq!(a.step(z), expected.unwrap_or(if z < a.value { a.value } else { tmax }));
    }

    #[test]
    fn sync_keeps_members_and_is_sane(vals in values(), w in widen()) {
        let s = abstraction(&vals, w);
        for &v in &vals {
            assert_holds(&s, v, "sync")?;
        }
        prop_assert!(s.check_sane().is_ok(), "{:?}", s.check_sane());
        prop_assert!(Scalar::known(vals[0]).is_subset_of(&s));
        prop_assert_eq!(s.synced(), s.synced().synced());
    }

    #[test]
    fn alu_reg_is_sound(op_i in 0usize..OPS.len(), w in width(), ((d, x), (s, y)) in scalar_pair()) {
        let op = OPS[op_i];
        prop_assume!(!(op == AluOp::MovSx32 && w == Width::W32));
        let mut d = d;
        if let Some((pushed, current)) = and_or_fork(op, &d, &s) {
            d = if pushed.contains(x) { pushed } else { current };
            assert_holds(&d, x, "fork")?;
        }
        let r = alu(op, w, &d, &s);
        let v = concrete::alu(op, w, x, y);
        assert_holds(&r, v, &format!("{op:?} {w:?} reg"))?;
        if !matches!(op, AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32) || w == Width::W32 {
            prop_assert!(r.check_sane().is_ok(), "{:?}", r.check_sane());
        }
    }

    #[test]
    fn alu_imm_is_sound(op_i in 0usize..OPS.len(), w in width(), (d, x) in scalar(), imm in prop_oneof![any::<i32>(), -70i32..70]) {
        let op = OPS[op_i];
        prop_assume!(!matches!(op, AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32));
        prop_assume!(!shift_imm_is_invalid(op, w, imm) && !div_imm_is_zero(op, imm));
        let src = Scalar::known(imm as i64 as u64);
        let mut d = d;
        if let Some((pushed, current)) = and_or_fork(op, &d, &src) {
            d = if pushed.contains(x) { pushed } else { current };
        }
        let r = alu(op, w, &d, &src);
        assert_holds(&r, concrete::alu(op, w, x, imm as i64 as u64), &format!("{op:?} {w:?} imm"))?;
    }

    #[test]
    fn endian_is_sound(kind in prop_oneof![Just(Endian::ToLe), Just(Endian::ToBe), Just(Endian::Swap)],
                       bits in prop_oneof![Just(16u8), Just(32u8), Just(64u8)], (d, x) in scalar()) {
        let r = endian(kind, bits, &d);
        assert_holds(&r, concrete::endian(kind, bits, x), &format!("{kind:?}{bits}"))?;
    }

    #[test]
    fn coercions_are_sound((d, x) in scalar(), size in prop_oneof![Just(1u8), Just(2u8), Just(4u8)]) {
        let mut z = d;
        z.coerce_to_size(size);
        let mask = (1u64 << (u32::from(size) * 8)) - 1;
        assert_holds(&z, x & mask, "coerce_to_size")?;
        let mut sx = d;
        sx.coerce_to_size_sx(size);
        let ext = match size { 1 => x as i8 as i64, 2 => x as i16 as i64, _ => x as i32 as i64 } as u64;
        assert_holds(&sx, ext, "coerce_to_size_sx")?;
        let mut zx = d;
        zx.zext_32_to_64();
        zx.sync();
        assert_holds(&zx, x & 0xffff_ffff, "zext")?;
    }

    #[test]
    fn branches_are_sound(c_i in 0usize..CONDS.len(), w in width(), ((a, x), (b, y)) in scalar_pair()) {
        let cond = CONDS[c_i];
        let truth = concrete::cond(cond, w, x, y);
        if let Some(decided) = branch_taken(cond, w, &a, &b) {
            prop_assert_eq!(decided, truth, "{:?} {:?} {:#x} {:#x}", cond, w, x, y);
        }
        let (mut ra, mut rb) = (a, b);
        let res = refine(cond, w, truth, &mut ra, &mut rb);
        prop_assert!(res.is_ok(), "{:?}", res);
        assert_holds(&ra, x, "refine dst")?;
        assert_holds(&rb, y, "refine src")?;
        let sides = set_min_max(cond, w, &a, &b, false);
        let (sa, sb) = if truth { sides.taken } else { sides.fallthrough };
        assert_holds(&sa, x, "set_min_max dst")?;
        assert_holds(&sb, y, "set_min_max src")?;
        let same = set_min_max(cond, w, &a, &a, true);
        let (s1, s2) = if concrete::cond(cond, w, x, x) { same.taken } else { same.fallthrough };
        assert_holds(&s1, x, "same register")?;
        prop_assert_eq!(s1, s2);
    }
}
