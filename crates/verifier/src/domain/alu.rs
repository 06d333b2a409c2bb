//! Scalar ALU transfer functions: what the verifier knows about `dst op src` given what it
//! knows about `dst` and `src` (the kernel's `adjust_scalar_min_max_vals` with its
//! `scalar{32,}_min_max_*` helpers, plus the scalar parts of `check_alu_op` for `mov`,
//! `movsx` and byte swaps).
//!
//! Kernel 6.18 behaviour, measured on the reference machine where it differs from older
//! sources: `neg` and byte swaps track ranges; `div`/`mod` do not (the result is unknown);
//! `add`/`sub` keep the unsigned range when every or no value wraps; `mul` uses the four
//! corner products for the signed range.

use super::scalar::Scalar;
use super::tnum::Tnum;
use lull_isa::{AluOp, Endian, Width};

/// The result of `dst = dst op src` for scalars, already zero-extended for [`Width::W32`] and
/// synced. `src` is the second operand as a full 64-bit scalar: for an immediate pass
/// `Scalar::known(imm as i64 as u64)` (the kernel sign-extends it in both widths). `src` is
/// ignored by [`AluOp::Neg`]. For `Mov` and `MovSx*` this is the register's new value (the
/// caller handles ids); `MovSx32` with `W32` does not exist and gives an unknown scalar.
///
/// The caller must first apply the kernel's instruction-level rejects (`div by zero` and
/// [`shift_imm_is_invalid`] for immediates) and the `[-1, 0]` fork of [`and_or_fork`].
pub fn alu(op: AluOp, width: Width, dst: &Scalar, src: &Scalar) -> Scalar {
    match op {
        AluOp::Mov => return mov(width, src),
        AluOp::MovSx8 => return movsx(width, 1, src),
        AluOp::MovSx16 => return movsx(width, 2, src),
        AluOp::MovSx32 => return movsx(width, 4, src),
        _ => {}
    }
    if !alu_computes_range(op, width, src) {
        return Scalar::unknown();
    }
    let mut d = *dst;
    let s = src;
    match op {
        AluOp::Add => {
            add32(&mut d, s);
            add64(&mut d, s);
            d.var_off = d.var_off.add(s.var_off);
        }
        AluOp::Sub => {
            sub32(&mut d, s);
            sub64(&mut d, s);
            d.var_off = d.var_off.sub(s.var_off);
        }
        AluOp::Neg => {
            let old = d;
            d = Scalar::known(0);
            sub32(&mut d, &old);
            sub64(&mut d, &old);
            d.var_off = old.var_off.neg();
        }
        AluOp::Mul => {
            d.var_off = d.var_off.mul(s.var_off);
            mul32(&mut d, s);
            mul64(&mut d, s);
        }
        AluOp::And => {
            d.var_off = d.var_off.and(s.var_off);
            bitwise32(&mut d, s, Bitwise::And);
            bitwise64(&mut d, s, Bitwise::And);
        }
        AluOp::Or => {
            d.var_off = d.var_off.or(s.var_off);
            bitwise32(&mut d, s, Bitwise::Or);
            bitwise64(&mut d, s, Bitwise::Or);
        }
        AluOp::Xor => {
            d.var_off = d.var_off.xor(s.var_off);
            bitwise32(&mut d, s, Bitwise::Xor);
            bitwise64(&mut d, s, Bitwise::Xor);
        }
        AluOp::Lsh => match width {
            Width::W32 => lsh32(&mut d, s),
            Width::W64 => lsh64(&mut d, s),
        },
        AluOp::Rsh => match width {
            Width::W32 => rsh32(&mut d, s),
            Width::W64 => rsh64(&mut d, s),
        },
        AluOp::Arsh => match width {
            Width::W32 => arsh32(&mut d, s),
            Width::W64 => arsh64(&mut d, s),
        },
        // Not reachable: `alu_computes_range` is false for these, and moves returned above.
        AluOp::Div
        | AluOp::SDiv
        | AluOp::Mod
        | AluOp::SMod
        | AluOp::Mov
        | AluOp::MovSx8
        | AluOp::MovSx16
        | AluOp::MovSx32 => return Scalar::unknown(),
    }
    if width == Width::W32 {
        d.zext_32_to_64();
    }
    d.sync();
    d
}

/// Whether the kernel computes a result range for this operation at all
/// (`is_safe_to_compute_dst_reg_range`); when it does not, the result is an unknown scalar.
/// Shifts need a constant amount below the width (judged, like the kernel, on the 64-bit
/// `umax` of the source even for 32-bit shifts); 6.18 never tracks `div`/`mod`.
pub fn alu_computes_range(op: AluOp, width: Width, src: &Scalar) -> bool {
    let src_is_const = match width {
        Width::W32 => src.is_const32() && src.s32_min == src.s32_max && src.u32_min == src.u32_max,
        Width::W64 => src.is_const() && src.smin == src.smax && src.umin == src.umax,
    };
    match op {
        AluOp::Add | AluOp::Sub | AluOp::Neg | AluOp::And | AluOp::Xor | AluOp::Or => true,
        AluOp::Mul | AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => true,
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => src_is_const && src.umax < bits(width),
        AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => false,
    }
}

/// `check_alu_op`'s reject of an immediate shift amount outside the width
/// (`invalid shift %d`): true when the program must be rejected.
pub fn shift_imm_is_invalid(op: AluOp, width: Width, imm: i32) -> bool {
    matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && (imm < 0 || imm as u64 >= bits(width))
}

/// `check_alu_op`'s reject of an immediate divisor of zero (`div by zero`).
pub fn div_imm_is_zero(op: AluOp, imm: i32) -> bool {
    matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) && imm == 0
}

/// The kernel's `maybe_fork_scalars`: for `and`/`or` with a constant source (64-bit tnum
/// constant, whatever the width) and a destination known to be in `[-1, 0]` (64-bit range
/// first, else the 32-bit range), the verifier splits the path. Returns
/// `(pushed, current)`: the destination value for a new branch that re-executes this same
/// instruction (0), and the value the current path continues with before applying the
/// operation (-1). `None` when no fork happens.
pub fn and_or_fork(op: AluOp, dst: &Scalar, src: &Scalar) -> Option<(Scalar, Scalar)> {
    if !matches!(op, AluOp::And | AluOp::Or) || !src.is_const() {
        return None;
    }
    if dst.smin == -1 && dst.smax == 0 {
        Some((Scalar::known(0), Scalar::known(u64::MAX)))
    } else if dst.s32_min == -1 && dst.s32_max == 0 {
        Some((dst.known32(0), dst.known32(u32::MAX)))
    } else {
        None
    }
}

/// The result of a byte-order instruction on a scalar (`le16/32/64`, `be16/32/64`,
/// `bswap16/32/64`; the kernel's `scalar_byte_swap` on a little-endian host): swapping
/// permutes the tnum and drops the ranges, 16/32-bit forms then truncate; no zero extension.
/// `bits` other than 16/32/64 give an unknown scalar (the decoder rejects them).
pub fn endian(kind: Endian, bits: u8, dst: &Scalar) -> Scalar {
    let mut d = *dst;
    let need_swap = matches!(kind, Endian::Swap | Endian::ToBe);
    if need_swap {
        d.var_off = match bits {
            16 => d.var_off.bswap16(),
            32 => d.var_off.bswap32(),
            64 => d.var_off.bswap64(),
            _ => return Scalar::unknown(),
        };
        d.mark_unbounded();
    }
    match bits {
        16 => d.coerce_to_size(2),
        32 => d.coerce_to_size(4),
        64 => {}
        _ => return Scalar::unknown(),
    }
    d.sync();
    d
}

fn bits(width: Width) -> u64 {
    match width {
        Width::W32 => 32,
        Width::W64 => 64,
    }
}

/// `mov` of a scalar: 64-bit copies, 32-bit zero-extends the low half.
fn mov(width: Width, src: &Scalar) -> Scalar {
    let mut d = *src;
    if width == Width::W32 {
        d.zext_32_to_64();
        d.sync();
    }
    d
}

/// `movsx`: sign-extend the low `size` bytes of `src` (into 64 bits, or into the low 32 bits
/// then zero-extend).
fn movsx(width: Width, size: u8, src: &Scalar) -> Scalar {
    let mut d = *src;
    match width {
        Width::W64 => d.coerce_to_size_sx(size),
        Width::W32 if size < 4 => {
            d.coerce_subreg_to_size_sx(size);
            d.zext_32_to_64();
            d.sync();
        }
        Width::W32 => return Scalar::unknown(),
    }
    d
}

fn add32(d: &mut Scalar, s: &Scalar) {
    match (
        d.s32_min.checked_add(s.s32_min),
        d.s32_max.checked_add(s.s32_max),
    ) {
        (Some(lo), Some(hi)) => (d.s32_min, d.s32_max) = (lo, hi),
        _ => (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX),
    }
    let (lo, min_wrap) = d.u32_min.overflowing_add(s.u32_min);
    let (hi, max_wrap) = d.u32_max.overflowing_add(s.u32_max);
    (d.u32_min, d.u32_max) = if !min_wrap && max_wrap {
        (0, u32::MAX)
    } else {
        (lo, hi)
    };
}

fn add64(d: &mut Scalar, s: &Scalar) {
    match (d.smin.checked_add(s.smin), d.smax.checked_add(s.smax)) {
        (Some(lo), Some(hi)) => (d.smin, d.smax) = (lo, hi),
        _ => (d.smin, d.smax) = (i64::MIN, i64::MAX),
    }
    let (lo, min_wrap) = d.umin.overflowing_add(s.umin);
    let (hi, max_wrap) = d.umax.overflowing_add(s.umax);
    (d.umin, d.umax) = if !min_wrap && max_wrap {
        (0, u64::MAX)
    } else {
        (lo, hi)
    };
}

fn sub32(d: &mut Scalar, s: &Scalar) {
    match (
        d.s32_min.checked_sub(s.s32_max),
        d.s32_max.checked_sub(s.s32_min),
    ) {
        (Some(lo), Some(hi)) => (d.s32_min, d.s32_max) = (lo, hi),
        _ => (d.s32_min, d.s32_max) = (i32::MIN, i32::MAX),
    }
    let (lo, min_wrap) = d.u32_min.overflowing_sub(s.u32_max);
    let (hi, max_wrap) = d.u32_max.overflowing_sub(s.u32_min);
    (d.u32_min, d.u32_max) = if min_wrap && !max_wrap {
        (0, u32::MAX)
    } else {
        (lo, hi)
    };
}

fn sub64(d: &mut Scalar, s: &Scalar) {
    match (d.smin.checked_sub(s.smax), d.smax.checked_sub(s.smin)) {
        (Some(lo), Some(hi)) => (d.smin, d.smax) = (lo, hi),
        _ => (d.smin, d.smax) = (i64::MIN, i64::MAX),
    }
    let (lo, min_wrap) = d.umin.overflowing_sub(s.umax);
    let (hi, max_wrap) = d.umax.overflowing_sub(s.umin);
    (d.umin, d.umax) = if min_wrap && !max_wrap {
        (0, u64::MAX)
    } else {
        (lo, hi)
    };
}

fn mul32(d: &mut Scalar, s: &Scalar) {
    match (
        d.u32_max.checked_mul(s.u32_max),
        d.u32_min.checked_mul(s.u32_min),
    ) {
        (Some(hi), Some(lo)) => (d.u32_min, d.u32_max) = (lo, hi),
        _ => (d.u32_min, d.u32_max) = (0, u32::MAX),
    }
    let corners = [
        d.s32_min.checked_mul(s.s32_min),
        d.s32_min.checked_mul(s.s32_max),
        d.s32_max.checked_mul(s.s32_min),
        d.s32_max.checked_mul(s.s32_max),
    ];
    (d.s32_min, d.s32_max) = match corners {
        [Some(a), Some(b), Some(c), Some(e)] => (a.min(b).min(c).min(e), a.max(b).max(c).max(e)),
        _ => (i32::MIN, i32::MAX),
    };
}

fn mul64(d: &mut Scalar, s: &Scalar) {
    match (d.umax.checked_mul(s.umax), d.umin.checked_mul(s.umin)) {
        (Some(hi), Some(lo)) => (d.umin, d.umax) = (lo, hi),
        _ => (d.umin, d.umax) = (0, u64::MAX),
    }
    let corners = [
        d.smin.checked_mul(s.smin),
        d.smin.checked_mul(s.smax),
        d.smax.checked_mul(s.smin),
        d.smax.checked_mul(s.smax),
    ];
    (d.smin, d.smax) = match corners {
        [Some(a), Some(b), Some(c), Some(e)] => (a.min(b).min(c).min(e), a.max(b).max(c).max(e)),
        _ => (i64::MIN, i64::MAX),
    };
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Bitwise {
    And,
    Or,
    Xor,
}

/// 32-bit bounds of `and`/`or`/`xor`, after the tnum has been updated.
fn bitwise32(d: &mut Scalar, s: &Scalar, op: Bitwise) {
    let t = d.var_off.subreg();
    if s.is_const32() && d.is_const32() {
        *d = d.known32(t.value as u32);
        return;
    }
    let (v, m) = (t.value as u32, t.mask as u32);
    match op {
        Bitwise::And => {
            d.u32_min = v;
            d.u32_max = d.u32_max.min(s.u32_max);
        }
        Bitwise::Or => {
            d.u32_min = d.u32_min.max(s.u32_min);
            d.u32_max = v | m;
        }
        Bitwise::Xor => {
            d.u32_min = v;
            d.u32_max = v | m;
        }
    }
    if (d.u32_min as i32) <= (d.u32_max as i32) {
        d.s32_min = d.u32_min as i32;
        d.s32_max = d.u32_max as i32;
    } else {
        d.s32_min = i32::MIN;
        d.s32_max = i32::MAX;
    }
}

/// 64-bit bounds of `and`/`or`/`xor`, after the tnum has been updated.
fn bitwise64(d: &mut Scalar, s: &Scalar, op: Bitwise) {
    let Tnum { value: v, mask: m } = d.var_off;
    if s.is_const() && d.is_const() {
        *d = Scalar::known(v);
        return;
    }
    match op {
        Bitwise::And => {
            d.umin = v;
            d.umax = d.umax.min(s.umax);
        }
        Bitwise::Or => {
            d.umin = d.umin.max(s.umin);
            d.umax = v | m;
        }
        Bitwise::Xor => {
            d.umin = v;
            d.umax = v | m;
        }
    }
    if (d.umin as i64) <= (d.umax as i64) {
        d.smin = d.umin as i64;
        d.smax = d.umax as i64;
    } else {
        d.smin = i64::MIN;
        d.smax = i64::MAX;
    }
    d.update_bounds();
}

/// 32-bit bounds of a left shift by `umin..=umax` (`__scalar32_min_max_lsh`).
fn lsh32_bounds(d: &mut Scalar, umin: u64, umax: u64) {
    d.s32_min = i32::MIN;
    d.s32_max = i32::MAX;
    if umax > 31 || u64::from(d.u32_max) > 1u64 << (31 - umax) {
        d.u32_min = 0;
        d.u32_max = u32::MAX;
    } else {
        d.u32_min <<= umin;
        d.u32_max <<= umax;
    }
}

fn lsh32(d: &mut Scalar, s: &Scalar) {
    let (umin, umax) = (u64::from(s.u32_min), u64::from(s.u32_max));
    let sub = d.var_off.subreg();
    lsh32_bounds(d, umin, umax);
    d.var_off = sub.lshift(umin as u8).subreg();
    d.mark64_unbounded();
    d.update_bounds32();
}

fn lsh64(d: &mut Scalar, s: &Scalar) {
    let (umin, umax) = (s.umin, s.umax);
    // `<< 32` of a value with known s32 bounds is the usual sign-extension idiom.
    if umin == 32 && umax == 32 {
        d.smax = i64::from(d.s32_max) << 32;
        d.smin = i64::from(d.s32_min) << 32;
    } else {
        d.smax = i64::MAX;
        d.smin = i64::MIN;
    }
    if d.umax > 1u64 << (63 - umax) {
        d.umin = 0;
        d.umax = u64::MAX;
    } else {
        d.umin <<= umin;
        d.umax <<= umax;
    }
    lsh32_bounds(d, umin, umax);
    d.var_off = d.var_off.lshift(umin as u8);
    d.update_bounds();
}

fn rsh32(d: &mut Scalar, s: &Scalar) {
    let (umin, umax) = (s.u32_min, s.u32_max);
    let sub = d.var_off.subreg();
    d.s32_min = i32::MIN;
    d.s32_max = i32::MAX;
    d.var_off = sub.rshift(umin as u8);
    d.u32_min >>= umax;
    d.u32_max >>= umin;
    d.mark64_unbounded();
    d.update_bounds32();
}

fn rsh64(d: &mut Scalar, s: &Scalar) {
    let (umin, umax) = (s.umin, s.umax);
    d.smin = i64::MIN;
    d.smax = i64::MAX;
    d.var_off = d.var_off.rshift(umin as u8);
    d.umin >>= umax;
    d.umax >>= umin;
    d.mark32_unbounded();
    d.update_bounds();
}

fn arsh32(d: &mut Scalar, s: &Scalar) {
    let shift = s.u32_min;
    d.s32_min >>= shift;
    d.s32_max >>= shift;
    d.var_off = d.var_off.subreg().arshift(shift as u8, Width::W32);
    d.u32_min = 0;
    d.u32_max = u32::MAX;
    d.mark64_unbounded();
    d.update_bounds32();
}

fn arsh64(d: &mut Scalar, s: &Scalar) {
    let shift = s.umin;
    d.smin >>= shift;
    d.smax >>= shift;
    d.var_off = d.var_off.arshift(shift as u8, Width::W64);
    d.umin = 0;
    d.umax = u64::MAX;
    d.mark32_unbounded();
    d.update_bounds();
}
