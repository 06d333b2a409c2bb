//! Superinstructions: pairs of adjacent ops that clang emits constantly, rewritten into one op
//! so the dispatch loop pays one dispatch for two instructions.
//!
//! Three shapes are fused:
//! - a conditional jump over the unconditional jump that follows it (`if c goto +1; goto L`, the
//!   bottom of most compiled loops) becomes one two-way branch;
//! - two immediate adds in a row (`i += 1; p += 4`, a loop's induction variables);
//! - a register move followed by an ALU op on the moved-to register (`r2 = r1; r2 <<= 13`, the
//!   two-address ISA's way of writing `r2 = r1 << 13`, and `r2 = r10; r2 += -8`).
//!
//! Only the first op of a pair is rewritten; the second stays in place, so a jump into the
//! middle of a pair still finds the original instruction, and op indices keep matching
//! instruction indices (metering counts executed instructions by index distance, see
//! `crate::exec`). A fused op never faults, so fault reports are unaffected.

use crate::op::{Kind, Op};

/// Rewrites fusable pairs of `ops` in place. `ops` must already be a complete, checked program
/// (targets in range, last op `exit` or `ja`).
pub(crate) fn fuse(ops: &mut [Op]) {
    let n = ops.len();
    for i in 0..n.saturating_sub(1) {
        let next = ops[i + 1];
        let op = ops[i];
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
        if let Some(f) = mov_then_alu(op, next).or_else(|| add_then_add(op, next)) {
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
        aux: alu.src,
        a: 0,
        imm: alu.imm,
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
            op(Kind::JeqI, 1, 0, 3, 10),
            op(Kind::Ja, 0, 0, 0, 0),
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
            op(Kind::JeqI, 1, 0, 3, 10),
            op(Kind::Ja, 0, 0, 0, 0),
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
        assert_eq!((ops[0].dst, ops[0].src, ops[0].imm), (2, 0, 13));
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
            (ops[0].dst, ops[0].imm, ops[0].src, ops[0].off()),
            (5, 1, 4, (-4i64) as u64)
        );
    }
}
