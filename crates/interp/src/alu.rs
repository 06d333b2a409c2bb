//! Arithmetic whose eBPF meaning differs from Rust's operators: division and modulo by zero,
//! signed overflow of `INT_MIN / -1`, and byte-order conversion.
//!
//! The rules follow RFC 9669 and the kernel's runtime rewrites (`do_misc_fixups`):
//! - unsigned and signed division by zero give 0;
//! - unsigned and signed modulo by zero leave the dividend unchanged (for 32-bit operations the
//!   low 32 bits, zero-extended);
//! - `INT_MIN s/ -1` is `INT_MIN` (the kernel rewrites it to a negation) and `INT_MIN s% -1`
//!   is 0; there is never a trap.
//!
//! 32-bit functions take and return the low 32 bits; the caller zero-extends.

/// `dst / src`, unsigned, 64-bit.
#[inline(always)]
pub(crate) fn div64(dst: u64, src: u64) -> u64 {
    dst.checked_div(src).unwrap_or(0)
}

/// `dst / src`, unsigned, 32-bit.
#[inline(always)]
pub(crate) fn div32(dst: u32, src: u32) -> u32 {
    dst.checked_div(src).unwrap_or(0)
}

/// `dst % src`, unsigned, 64-bit.
#[inline(always)]
pub(crate) fn mod64(dst: u64, src: u64) -> u64 {
    dst.checked_rem(src).unwrap_or(dst)
}

/// `dst % src`, unsigned, 32-bit.
#[inline(always)]
pub(crate) fn mod32(dst: u32, src: u32) -> u32 {
    dst.checked_rem(src).unwrap_or(dst)
}

/// `dst s/ src`, 64-bit.
#[inline(always)]
pub(crate) fn sdiv64(dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as i64, src as i64);
    if s == 0 { 0 } else { d.wrapping_div(s) as u64 }
}

/// `dst s/ src`, 32-bit.
#[inline(always)]
pub(crate) fn sdiv32(dst: u32, src: u32) -> u32 {
    let (d, s) = (dst as i32, src as i32);
    if s == 0 { 0 } else { d.wrapping_div(s) as u32 }
}

/// `dst s% src`, 64-bit; the result has the sign of the dividend.
#[inline(always)]
pub(crate) fn smod64(dst: u64, src: u64) -> u64 {
    let (d, s) = (dst as i64, src as i64);
    if s == 0 {
        dst
    } else {
        d.wrapping_rem(s) as u64
    }
}

/// `dst s% src`, 32-bit; the result has the sign of the dividend.
#[inline(always)]
pub(crate) fn smod32(dst: u32, src: u32) -> u32 {
    let (d, s) = (dst as i32, src as i32);
    if s == 0 {
        dst
    } else {
        d.wrapping_rem(s) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_by_zero() {
        assert_eq!(div64(7, 0), 0);
        assert_eq!(div32(7, 0), 0);
        assert_eq!(sdiv64(7, 0), 0);
        assert_eq!(sdiv32(7, 0), 0);
        assert_eq!(mod64(7, 0), 7);
        assert_eq!(mod32(7, 0), 7);
        assert_eq!(smod64(-7i64 as u64, 0), -7i64 as u64);
        assert_eq!(smod32(-7i32 as u32, 0), -7i32 as u32);
    }

    #[test]
    fn signed_overflow() {
        assert_eq!(sdiv64(i64::MIN as u64, u64::MAX), i64::MIN as u64);
        assert_eq!(smod64(i64::MIN as u64, u64::MAX), 0);
        assert_eq!(sdiv32(i32::MIN as u32, u32::MAX), i32::MIN as u32);
        assert_eq!(smod32(i32::MIN as u32, u32::MAX), 0);
    }

    #[test]
    fn signed_remainder_takes_dividend_sign() {
        assert_eq!(smod64(-13i64 as u64, 4) as i64, -1);
        assert_eq!(smod64(13, -4i64 as u64) as i64, 1);
        assert_eq!(smod32(-13i32 as u32, 4) as i32, -1);
        assert_eq!(sdiv32(-13i32 as u32, 4) as i32, -3);
    }
}
