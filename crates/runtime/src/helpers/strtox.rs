//! Number parsing: `bpf_strtol` (105) and `bpf_strtoul` (106), with the semantics of
//! `kernel/bpf/helpers.c`: leading white space and one `-` are skipped, at most 63 further
//! characters are read, the base is 8, 10 or 16 from the flags or (0) from the prefix
//! (`0x` → 16, `0` → 8), and the result is the number of characters consumed (the value goes
//! to `*res`, which is zeroed first). No digits, bad flags or a negative `strtoul` are
//! `-EINVAL`; overflow is `-ERANGE`.

use lull_interp::{HelperContext, HelperError, HelperFn};

use super::{errno, read_vec};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[(105, strtol), (106, strtoul)];

/// `-ERANGE`.
const ERANGE: i64 = -34;
/// `BPF_STRTOX_BASE_MASK`.
const BASE_MASK: u64 = 0x1f;

/// The kernel's `isspace` (its ctype table also counts 0xa0).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0xa0)
}

/// `__bpf_strtoull`: (characters consumed, magnitude, negative) or a negative errno.
fn strtoull(buf: &[u8], flags: u64) -> Result<(i64, u64, bool), i64> {
    let mut base = (flags & BASE_MASK) as u32;
    if buf.is_empty() || !matches!(base, 0 | 8 | 10 | 16) || flags & !BASE_MASK != 0 {
        return Err(errno::EINVAL);
    }
    let mut i = buf.iter().take_while(|&&c| is_space(c)).count();
    let negative = buf.get(i) == Some(&b'-');
    i += usize::from(negative);
    if i == buf.len() {
        return Err(errno::EINVAL);
    }
    // The rest, cut to 63 characters and ended by a NUL like the kernel's copy.
    let mut s = buf[i..buf.len().min(i + 63)].to_vec();
    s.push(0);
    let lower = |c: u8| c.to_ascii_lowercase();
    let mut p = 0;
    if base == 0 {
        base = if s[0] == b'0' {
            if s.len() > 2 && lower(s[1]) == b'x' && s[2].is_ascii_hexdigit() {
                16
            } else {
                8
            }
        } else {
            10
        };
    }
    if base == 16 && s[0] == b'0' && s.len() > 1 && lower(s[1]) == b'x' {
        p = 2;
    }
    let (mut value, mut digits, mut overflow) = (0u64, 0usize, false);
    while let Some(&c) = s.get(p + digits) {
        let v = match lower(c) {
            d @ b'0'..=b'9' => u32::from(d - b'0'),
            d @ b'a'..=b'f' => u32::from(d - b'a') + 10,
            _ => break,
        };
        if v >= base {
            break;
        }
        match value
            .checked_mul(u64::from(base))
            .and_then(|x| x.checked_add(u64::from(v)))
        {
            Some(x) => value = x,
            None => {
                overflow = true;
                value = value
                    .wrapping_mul(u64::from(base))
                    .wrapping_add(u64::from(v));
            }
        }
        digits += 1;
    }
    if overflow {
        return Err(ERANGE);
    }
    if digits == 0 {
        return Err(errno::EINVAL);
    }
    Ok(((i + p + digits) as i64, value, negative))
}

/// Reads the buffer, zeroes `*res`, parses, and stores the value `finish` makes of the
/// parse (or returns its errno).
fn parse(
    hctx: &mut HelperContext<'_>,
    a: [u64; 5],
    finish: fn(u64, bool) -> Result<u64, i64>,
) -> Result<u64, HelperError> {
    let (buf, len, flags, res) = (a[0], a[1], a[2], a[3]);
    hctx.write(res, &0u64.to_ne_bytes())?;
    let bytes = if len == 0 {
        Vec::new()
    } else {
        read_vec(hctx, buf, len as usize)?
    };
    let r = strtoull(&bytes, flags)
        .and_then(|(consumed, value, negative)| finish(value, negative).map(|v| (consumed, v)));
    match r {
        Ok((consumed, v)) => {
            hctx.write(res, &v.to_ne_bytes())?;
            Ok(consumed as u64)
        }
        Err(e) => Ok(e as u64),
    }
}

/// `bpf_strtol(buf, buf_len, flags, res)`.
fn strtol(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    parse(hctx, a, |value, negative| {
        let v = if negative {
            value.wrapping_neg()
        } else {
            value
        };
        // The signed result must keep the sign the text has.
        if (negative && (v as i64) > 0) || (!negative && (v as i64) < 0) {
            return Err(ERANGE);
        }
        Ok(v)
    })
}

/// `bpf_strtoul(buf, buf_len, flags, res)`.
fn strtoul(hctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    parse(hctx, a, |value, negative| {
        if negative {
            Err(errno::EINVAL)
        } else {
            Ok(value)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_the_kernel() {
        assert_eq!(strtoull(b"  123abc", 0), Ok((5, 123, false)));
        assert_eq!(strtoull(b"-0x1F", 0), Ok((5, 31, true)));
        assert_eq!(
            strtoull(b"0x", 0),
            Ok((1, 0, false)),
            "octal 0, x not a digit"
        );
        assert_eq!(strtoull(b"0x1f", 16), Ok((4, 31, false)));
        assert_eq!(strtoull(b"017", 0), Ok((3, 15, false)));
        assert_eq!(strtoull(b"19", 8), Ok((1, 1, false)));
        assert_eq!(strtoull(b"   ", 0), Err(errno::EINVAL));
        assert_eq!(strtoull(b"z", 10), Err(errno::EINVAL));
        assert_eq!(strtoull(b"1", 7), Err(errno::EINVAL));
        assert_eq!(strtoull(b"1", 0x20), Err(errno::EINVAL));
        assert_eq!(strtoull(b"18446744073709551616", 10), Err(ERANGE));
        assert_eq!(
            strtoull(b"18446744073709551615", 10),
            Ok((20, u64::MAX, false))
        );
    }
}
