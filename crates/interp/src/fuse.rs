//! Superinstructions: short runs of adjacent ops that clang emits constantly, rewritten into
//! one op so the dispatch loop pays one dispatch for two or three instructions.
//!
//! The shapes fused:
//! - a conditional jump over the unconditional jump that follows it (`if c goto +1; goto L`, the
//!   bottom of most compiled loops) becomes one two-way branch;
//! - an immediate add followed by an `==`/`!=` immediate test of the same register, with or
//!   without such a `ja` after it (a loop counter's step and exit test);
//! - two immediate adds in a row (`i += 1; p += 4`, a loop's induction variables);
//! - a register move followed by an ALU op on the moved-to register (`r2 = r1; r2 <<= 13`, the
//!   two-address ISA's way of writing `r2 = r1 << 13`, and `r2 = r10; r2 += -8`), and the
//!   three-instruction indexed load `r4 = r1; r4 += r2; r4 = *(u8 *)(r4 + 0)`;
//! - a 32- or 64-bit load followed by a compare-and-jump of the loaded register against
//!   another register;
//! - two register stores of the same size (a swap, a struct copy);
//! - a register move followed by a `ja`, or by a `<`/`!=` register compare-and-jump (with or
//!   without a `ja` after it; a loop-carried copy before the loop test);
//! - the shift-and-xor step `t = x; t <<= k; t ^= x` (or `x ^= t`) of hashes and xorshift.
//!
//! Only the first op of a run is rewritten; the others stay in place, so a jump into the middle
//! of a run still finds the original instructions, and op indices keep matching instruction
//! indices (metering counts executed instructions by index distance, see `crate::exec`). A
//! fused op that can fault (a load or store) first moves to the op of the instruction that
//! faults, so fault reports and executed counts are those of the unfused program.

use crate::op::{Kind, Op, RegNo};

/// Rewrites fusable runs of `ops` in place. `ops` must already be a complete, checked program
/// (targets in range, last op `exit` or `ja`).
pub(crate) fn fuse(ops: &mut [Op]) {
    // Patterns are matched against the original ops, never against an earlier rewrite.
    let orig: Vec<Op> = ops.to_vec();
    let n = orig.len();
    for i in 0..n.saturating_sub(1) {
        let (op, next) = (orig[i], orig[i + 1]);
        let third = orig.get(i + 2).copied();
        if let Some(k) = jump_over_ja(op.kind) {
            // The fused op continues at i + 2 when the condition holds: that op must exist.
            if next.kind == Kind::Ja && op.target() == i + 2 && i + 2 < n {
                ops[i] = Op {
                    kind: k,
                    a: next.a,
                    ..op
                };
            }
            continue;
        }
        let fused = third
            .and_then(|t| add_then_test(op, next, Some(t), i, n))
            .or_else(|| add_then_test(op, next, None, i, n))
            .or_else(|| third.and_then(|t| mov_then_test(op, next, Some(t), i, n)))
            .or_else(|| mov_then_test(op, next, None, i, n))
            .or_else(|| third.and_then(|t| indexed_load(op, next, t)))
            .or_else(|| third.and_then(|t| shift_combine(op, next, t)))
            .or_else(|| mov_then_alu(op, next))
            .or_else(|| add_then_add(op, next))
            .or_else(|| load_then_jump(op, next))
            .or_else(|| store_pair(op, next))
            .or_else(|| mov_then_ja(op, next));
        if let Some(f) = fused {
            ops[i] = f;
        }
    }
}

/// The fused kind of conditional jump `k` followed by `ja`.
fn jump_over_ja(k: Kind) -> Option<Kind> {
    use Kind::*;
    Some(match k {
        JeqI => JeqIJa,
        JeqR => JeqRJa,
        JneI => JneIJa,
        JneR => JneRJa,
        JgtI => JgtIJa,
        JgtR => JgtRJa,
        JgeI => JgeIJa,
        JgeR => JgeRJa,
        JltI => JltIJa,
        JltR => JltRJa,
        JleI => JleIJa,
        JleR => JleRJa,
        JsetI => JsetIJa,
        JsetR => JsetRJa,
        JsgtI => JsgtIJa,
        JsgtR => JsgtRJa,
        JsgeI => JsgeIJa,
        JsgeR => JsgeRJa,
        JsltI => JsltIJa,
        JsltR => JsltRJa,
        JsleI => JsleIJa,
        JsleR => JsleRJa,
        Jeq32I => Jeq32IJa,
        Jeq32R => Jeq32RJa,
        Jne32I => Jne32IJa,
        Jne32R => Jne32RJa,
        Jgt32I => Jgt32IJa,
        Jgt32R => Jgt32RJa,
        Jge32I => Jge32IJa,
        Jge32R => Jge32RJa,
        Jlt32I => Jlt32IJa,
        Jlt32R => Jlt32RJa,
        Jle32I => Jle32IJa,
        Jle32R => Jle32RJa,
        Jset32I => Jset32IJa,
        Jset32R => Jset32RJa,
        Jsgt32I => Jsgt32IJa,
        Jsgt32R => Jsgt32RJa,
        Jsge32I => Jsge32IJa,
        Jsge32R => Jsge32RJa,
        Jslt32I => Jslt32IJa,
        Jslt32R => Jslt32RJa,
        Jsle32I => Jsle32IJa,
        Jsle32R => Jsle32RJa,
        _ => return None,
    })
}

/// Two 64-bit immediate adds (`i += 1; p += 4`), as one op. The second immediate came from a
/// 32-bit field, so it fits `a`.
fn add_then_add(first: Op, second: Op) -> Option<Op> {
    if first.kind != Kind::Add64I || second.kind != Kind::Add64I {
        return None;
    }
    let imm2 = i32::try_from(second.imm as i64).ok()?;
    Some(Op {
        kind: Kind::AddAdd64I,
        dst: first.dst,
        src: second.dst,
        aux: 0,
        a: imm2,
        imm: first.imm,
    })
}

/// `mov` then an ALU op on the same destination, as one op.
fn mov_then_alu(mov: Op, alu: Op) -> Option<Op> {
    use Kind::*;
    let d = alu.dst;
    if alu.dst != mov.dst {
        return None;
    }
    let kind = match (mov.kind, alu.kind) {
        (Mov64R, Add64I) => MovAdd64I,
        (Mov64R, Sub64I) => MovSub64I,
        (Mov64R, Mul64I) => MovMul64I,
        (Mov64R, And64I) => MovAnd64I,
        (Mov64R, Or64I) => MovOr64I,
        (Mov64R, Xor64I) => MovXor64I,
        (Mov64R, Lsh64I) => MovLsh64I,
        (Mov64R, Rsh64I) => MovRsh64I,
        (Mov64R, Arsh64I) => MovArsh64I,
        (Mov64R, Add64R) => MovAdd64R,
        (Mov64R, Sub64R) => MovSub64R,
        (Mov64R, Mul64R) => MovMul64R,
        (Mov64R, And64R) => MovAnd64R,
        (Mov64R, Or64R) => MovOr64R,
        (Mov64R, Xor64R) => MovXor64R,
        (Mov32R, Add32I) => MovAdd32I,
        (Mov32R, And32I) => MovAnd32I,
        (Mov32R, Or32I) => MovOr32I,
        (Mov32R, Xor32I) => MovXor32I,
        (Mov32R, Lsh32I) => MovLsh32I,
        (Mov32R, Rsh32I) => MovRsh32I,
        (Mov32R, Arsh32I) => MovArsh32I,
        _ => return None,
    };
    Some(Op {
        kind,
        dst: d,
        src: mov.src,
        aux: alu.src as u8,
        a: 0,
        imm: alu.imm,
    })
}

/// `d += k` then `if d ==/!= c goto T`, optionally followed by a `ja` the jump skips (then the
/// fused op jumps to the `ja`'s target when the test fails, and continues three ops on when it
/// holds). `i` is the add's index, `n` the program length.
fn add_then_test(add: Op, jump: Op, ja: Option<Op>, i: usize, n: usize) -> Option<Op> {
    use Kind::*;
    if jump.dst != add.dst {
        return None;
    }
    let kind = match (add.kind, jump.kind, ja.is_some()) {
        (Add64I, JeqI, false) => AddJeqI,
        (Add64I, JneI, false) => AddJneI,
        (Add32I, Jeq32I, false) => Add32Jeq32I,
        (Add32I, Jne32I, false) => Add32Jne32I,
        (Add64I, JeqI, true) => AddJeqIJa,
        (Add64I, JneI, true) => AddJneIJa,
        (Add32I, Jeq32I, true) => Add32Jeq32IJa,
        (Add32I, Jne32I, true) => Add32Jne32IJa,
        _ => return None,
    };
    // Both immediates came from 32-bit fields (sign-extended for 64-bit ops).
    let (k, c) = if matches!(add.kind, Add64I) {
        (
            i32::try_from(add.imm as i64).ok()? as u32,
            i32::try_from(jump.imm as i64).ok()? as u32,
        )
    } else {
        (u32::try_from(add.imm).ok()?, u32::try_from(jump.imm).ok()?)
    };
    let a = match ja {
        None => jump.a,
        // The fused op continues at i + 3 when the test holds: that op must exist.
        Some(ja) if ja.kind == Ja && jump.target() == i + 3 && i + 3 < n => ja.a,
        Some(_) => return None,
    };
    Some(Op {
        kind,
        dst: add.dst,
        src: RegNo::R0,
        aux: 0,
        a,
        imm: u64::from(k) | u64::from(c) << 32,
    })
}

/// `d = s; d += x; y = *(size *)(d + off)`, as one op.
fn indexed_load(mov: Op, add: Op, load: Op) -> Option<Op> {
    use Kind::*;
    if mov.kind != Mov64R || add.kind != Add64R || add.dst != mov.dst || load.src != mov.dst {
        return None;
    }
    let kind = match load.kind {
        LdxB => MovAddLdxB,
        LdxH => MovAddLdxH,
        LdxW => MovAddLdxW,
        LdxDw => MovAddLdxDw,
        _ => return None,
    };
    Some(Op {
        kind,
        dst: mov.dst,
        src: mov.src,
        aux: add.src as u8 | (load.dst as u8) << 4,
        a: load.a,
        imm: 0,
    })
}

/// A 32-bit load followed by a 32-bit register compare-and-jump, or a 64-bit load followed by
/// a 64-bit one, where the jump reads the loaded register.
fn load_then_jump(load: Op, jump: Op) -> Option<Op> {
    use Kind::*;
    let l = load.dst;
    // The loaded register on the left: `l cond other`.
    let (cond, other) = if jump.dst == l {
        (jump.kind, jump.src)
    } else if jump.src == l {
        (swapped(jump.kind)?, jump.dst)
    } else {
        return None;
    };
    let kind = match (load.kind, cond) {
        (LdxW, Jeq32R) => LdxWJeq32R,
        (LdxW, Jne32R) => LdxWJne32R,
        (LdxW, Jlt32R) => LdxWJlt32R,
        (LdxW, Jle32R) => LdxWJle32R,
        (LdxW, Jgt32R) => LdxWJgt32R,
        (LdxW, Jge32R) => LdxWJge32R,
        (LdxDw, JeqR) => LdxDwJeqR,
        (LdxDw, JneR) => LdxDwJneR,
        (LdxDw, JltR) => LdxDwJltR,
        (LdxDw, JleR) => LdxDwJleR,
        (LdxDw, JgtR) => LdxDwJgtR,
        (LdxDw, JgeR) => LdxDwJgeR,
        _ => return None,
    };
    Some(Op {
        kind,
        dst: l,
        src: load.src,
        aux: other as u8,
        a: jump.a,
        imm: load.off(),
    })
}

/// The register compare-and-jump with its operands exchanged (`a < b` is `b > a`).
fn swapped(k: Kind) -> Option<Kind> {
    use Kind::*;
    Some(match k {
        JeqR => JeqR,
        JneR => JneR,
        JltR => JgtR,
        JgtR => JltR,
        JleR => JgeR,
        JgeR => JleR,
        Jeq32R => Jeq32R,
        Jne32R => Jne32R,
        Jlt32R => Jgt32R,
        Jgt32R => Jlt32R,
        Jle32R => Jge32R,
        Jge32R => Jle32R,
        _ => return None,
    })
}

/// Two register stores of the same size (32 or 64 bits), as one op.
fn store_pair(first: Op, second: Op) -> Option<Op> {
    let kind = match (first.kind, second.kind) {
        (Kind::StxW, Kind::StxW) => Kind::StxWStxW,
        (Kind::StxDw, Kind::StxDw) => Kind::StxDwStxDw,
        _ => return None,
    };
    Some(Op {
        kind,
        dst: first.dst,
        src: first.src,
        aux: second.dst as u8 | (second.src as u8) << 4,
        a: first.a,
        imm: second.off(),
    })
}

/// A register move followed by a `ja`, as one op.
fn mov_then_ja(mov: Op, ja: Op) -> Option<Op> {
    let kind = match (mov.kind, ja.kind) {
        (Kind::Mov64R, Kind::Ja) => Kind::Mov64RJa,
        (Kind::Mov32R, Kind::Ja) => Kind::Mov32RJa,
        _ => return None,
    };
    Some(Op {
        kind,
        a: ja.a,
        ..mov
    })
}

/// `md = ms` (64- or 32-bit) then `if d < s goto T` / `if d != s goto T` (64-bit compare),
/// optionally over a `ja` as in [`add_then_test`].
fn mov_then_test(mov: Op, jump: Op, ja: Option<Op>, i: usize, n: usize) -> Option<Op> {
    use Kind::*;
    let kind = match (mov.kind, jump.kind, ja.is_some()) {
        (Mov64R, JltR, false) => Mov64RJltR,
        (Mov64R, JneR, false) => Mov64RJneR,
        (Mov32R, JltR, false) => Mov32RJltR,
        (Mov32R, JneR, false) => Mov32RJneR,
        (Mov64R, JltR, true) => Mov64RJltRJa,
        (Mov64R, JneR, true) => Mov64RJneRJa,
        (Mov32R, JltR, true) => Mov32RJltRJa,
        (Mov32R, JneR, true) => Mov32RJneRJa,
        _ => return None,
    };
    let a = match ja {
        None => jump.a,
        Some(ja) if ja.kind == Ja && jump.target() == i + 3 && i + 3 < n => ja.a,
        Some(_) => return None,
    };
    Some(Op {
        kind,
        dst: jump.dst,
        src: jump.src,
        aux: mov.dst as u8 | (mov.src as u8) << 4,
        a,
        imm: 0,
    })
}

/// `d = s; d <<= k; d ^= s` (or `>>=`; or `s ^= d` last), as one op.
fn shift_combine(mov: Op, shift: Op, xor: Op) -> Option<Op> {
    use Kind::*;
    let (d, s) = (mov.dst, mov.src);
    // `d != s`: with one register the last step reads the shifted value.
    if mov.kind != Mov64R || d == s || shift.dst != d || xor.kind != Xor64R {
        return None;
    }
    let into_source = if (xor.dst, xor.src) == (d, s) {
        false
    } else if (xor.dst, xor.src) == (s, d) {
        true
    } else {
        return None;
    };
    let kind = match (shift.kind, into_source) {
        (Lsh64I, false) => MovLshXor64,
        (Rsh64I, false) => MovRshXor64,
        (Lsh64I, true) => MovLshXorInto64,
        (Rsh64I, true) => MovRshXorInto64,
        _ => return None,
    };
    Some(Op {
        kind,
        dst: d,
        src: s,
        aux: 0,
        a: 0,
        imm: shift.imm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(kind: Kind, dst: u8, src: u8, a: i32, imm: u64) -> Op {
        Op::new(kind, dst, src, a, imm)
    }

    #[test]
    fn loop_bottom_is_fused_and_ja_kept() {
        let mut ops = [
            op(Kind::Add64I, 1, 0, 0, 1),
            op(Kind::JeqI, 1, 0, Op::jump_field(3), 10),
            op(Kind::Ja, 0, 0, Op::jump_field(0), 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[1].kind, Kind::JeqIJa);
        assert_eq!(ops[1].target(), 0, "not-taken target is the ja's");
        assert_eq!(ops[1].imm, 10);
        assert_eq!(ops[2].kind, Kind::Ja, "the ja stays for jumps into it");
    }

    #[test]
    fn jump_not_over_ja_or_to_elsewhere_is_kept() {
        let mut ops = [
            op(Kind::JeqI, 1, 0, Op::jump_field(3), 10),
            op(Kind::Ja, 0, 0, Op::jump_field(0), 0),
            op(Kind::Mov64I, 0, 0, 0, 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::JeqI, "target is not i + 2");
    }

    #[test]
    fn mov_alu_pairs_need_the_same_destination() {
        let mut ops = [
            op(Kind::Mov64R, 2, 0, 0, 0),
            op(Kind::Lsh64I, 2, 0, 0, 13),
            op(Kind::Mov64R, 3, 2, 0, 0),
            op(Kind::Xor64R, 4, 3, 0, 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::MovLsh64I);
        assert_eq!((ops[0].dst as u8, ops[0].src as u8, ops[0].imm), (2, 0, 13));
        assert_eq!(ops[1].kind, Kind::Lsh64I);
        assert_eq!(ops[2].kind, Kind::Mov64R, "different destinations");
    }

    #[test]
    fn immediate_add_pairs_keep_both_immediates() {
        let mut ops = [
            op(Kind::Add64I, 5, 0, 0, 1),
            op(Kind::Add64I, 4, 0, 0, (-4i64) as u64),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::AddAdd64I);
        assert_eq!(
            (ops[0].dst as u8, ops[0].imm, ops[0].src as u8, ops[0].off()),
            (5, 1, 4, (-4i64) as u64)
        );
    }

    #[test]
    fn counter_step_and_test_fuse_with_and_without_ja() {
        let mut ops = [
            op(Kind::Add64I, 1, 0, 0, (-1i64) as u64),
            op(Kind::JneI, 1, 0, Op::jump_field(0), 7),
            op(Kind::Add32I, 2, 0, 0, 1),
            op(Kind::Jeq32I, 2, 0, Op::jump_field(5), 0xffff_fff0),
            op(Kind::Ja, 0, 0, Op::jump_field(2), 0),
            op(Kind::Add64I, 3, 0, 0, 1),
            op(Kind::JeqI, 4, 0, Op::jump_field(0), 1),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::AddJneI);
        assert_eq!((ops[0].dst as u8, ops[0].target()), (1, 0));
        assert_eq!(
            ops[0].imm as u32 as i32, -1,
            "add immediate in the low half"
        );
        assert_eq!(
            (ops[0].imm >> 32) as i32,
            7,
            "compare immediate in the high half"
        );
        assert_eq!(ops[1].kind, Kind::JneI, "the jump stays for jumps into it");
        assert_eq!(ops[2].kind, Kind::Add32Jeq32IJa);
        assert_eq!(ops[2].target(), 2, "the ja's target");
        assert_eq!(ops[2].imm >> 32, 0xffff_fff0);
        assert_eq!(
            ops[3].kind,
            Kind::Jeq32IJa,
            "the jump over the ja is fused too"
        );
        assert_eq!(ops[5].kind, Kind::Add64I, "the test reads another register");
    }

    #[test]
    fn counter_test_not_over_the_ja_keeps_its_own_target() {
        let mut ops = [
            op(Kind::Add64I, 1, 0, 0, 1),
            op(Kind::JeqI, 1, 0, Op::jump_field(0), 3),
            op(Kind::Ja, 0, 0, Op::jump_field(4), 0),
            op(Kind::Mov64I, 0, 0, 0, 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::AddJeqI, "the jump does not skip the ja");
        assert_eq!(ops[0].target(), 0);
    }

    #[test]
    fn indexed_load_needs_the_address_register() {
        let mut ops = [
            op(Kind::Mov64R, 4, 1, 0, 0),
            op(Kind::Add64R, 4, 2, 0, 0),
            op(Kind::LdxB, 5, 4, 3, 0),
            op(Kind::Mov64R, 4, 1, 0, 0),
            op(Kind::Add64R, 4, 2, 0, 0),
            op(Kind::LdxW, 5, 3, 0, 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::MovAddLdxB);
        assert_eq!(
            (
                ops[0].dst as u8,
                ops[0].src as u8,
                ops[0].aux & 15,
                ops[0].aux >> 4
            ),
            (4, 1, 2, 5)
        );
        assert_eq!(ops[0].off(), 3);
        assert_eq!(ops[1].kind, Kind::Add64R);
        assert_eq!(ops[3].kind, Kind::MovAdd64R, "the load is not through r4");
    }

    #[test]
    fn load_then_jump_puts_the_loaded_register_on_the_left() {
        let mut ops = [
            op(Kind::LdxW, 6, 4, -4, 0),
            op(Kind::Jle32R, 0, 6, Op::jump_field(0), 0),
            op(Kind::LdxDw, 1, 10, -8, 0),
            op(Kind::JltR, 1, 2, Op::jump_field(0), 0),
            op(Kind::LdxW, 1, 10, -8, 0),
            op(Kind::JltR, 1, 2, Op::jump_field(0), 0),
            op(Kind::LdxW, 1, 10, -8, 0),
            op(Kind::Jset32R, 1, 2, Op::jump_field(0), 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::LdxWJge32R, "w0 <= w6 is w6 >= w0");
        assert_eq!((ops[0].dst as u8, ops[0].src as u8, ops[0].aux), (6, 4, 0));
        assert_eq!(ops[0].imm, (-4i64) as u64);
        assert_eq!(ops[2].kind, Kind::LdxDwJltR);
        assert_eq!(ops[2].aux, 2);
        assert_eq!(
            ops[4].kind,
            Kind::LdxW,
            "a 32-bit load with a 64-bit compare"
        );
        assert_eq!(ops[6].kind, Kind::LdxW, "jset is not fused");
    }

    #[test]
    fn store_pairs_need_equal_sizes() {
        let mut ops = [
            op(Kind::StxW, 4, 0, 0, 0),
            op(Kind::StxW, 3, 6, -4, 0),
            op(Kind::StxDw, 4, 0, 0, 0),
            op(Kind::StxW, 3, 6, -4, 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::StxWStxW);
        assert_eq!((ops[0].aux & 15, ops[0].aux >> 4), (3, 6));
        assert_eq!(ops[0].imm, (-4i64) as u64);
        assert_eq!(
            ops[1].kind,
            Kind::StxW,
            "second store kept; no pair with the next"
        );
        assert_eq!(ops[2].kind, Kind::StxDw);
    }

    #[test]
    fn move_then_ja_takes_the_ja_target() {
        let mut ops = [
            op(Kind::Mov32R, 6, 0, 0, 0),
            op(Kind::Ja, 0, 0, Op::jump_field(0), 0),
            op(Kind::Exit, 0, 0, 0, 0),
        ];
        fuse(&mut ops);
        assert_eq!(ops[0].kind, Kind::Mov32RJa);
        assert_eq!(
            (ops[0].dst as u8, ops[0].src as u8, ops[0].target()),
            (6, 0, 0)
        );
    }
}
