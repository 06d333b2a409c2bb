//! The kernel's BPF printf subset (`bpf_bprintf_prepare` in `kernel/bpf/helpers.c`), shared by
//! `bpf_trace_printk`, `bpf_trace_vprintk` and `bpf_snprintf`.
//!
//! Accepted: printable ASCII and whitespace; `%%`; optional flags `0 + - space` and a width;
//! `%d %i %u %x %X` with an optional `l` or `ll` (without one the argument is a 32-bit `int`);
//! `%c`; `%s`; `%p` and the `%px %pK %pB %pks %pus %pi4 %pI4 %pi6 %pI6` extensions. Anything else,
//! or more conversions than arguments, is `-EINVAL`. `%p` prints the raw pointer in hex (the
//! kernel prints a hashed value; neither is stable across runs).

/// Reads the memory `%s` and `%pI` arguments point to.
pub(crate) trait StrReader {
    /// The bytes of the NUL-terminated string at `addr` (at most `max`), or `None` when it
    /// cannot be read.
    fn read_str(&mut self, addr: u64, max: usize) -> Option<Vec<u8>>;
    /// `n` bytes at `addr`.
    fn read_bytes(&mut self, addr: u64, n: usize) -> Option<Vec<u8>>;
}

/// Longest string `%s` copies (`MAX_BPRINTF_BUF`-ish bound).
const MAX_STR: usize = 512;

/// Why a format was refused (the helper returns `-EINVAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadFormat(pub(crate) &'static str);

#[derive(Default, Clone, Copy)]
struct Spec {
    left: bool,
    zero: bool,
    plus: bool,
    space: bool,
    width: usize,
}

fn pad(out: &mut Vec<u8>, spec: Spec, body: &[u8], sign: &[u8], numeric: bool) {
    let len = body.len() + sign.len();
    let fill = spec.width.saturating_sub(len);
    if spec.left {
        out.extend_from_slice(sign);
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if spec.zero && numeric {
        out.extend_from_slice(sign);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(body);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(sign);
        out.extend_from_slice(body);
    }
}

/// Formats `fmt` (without its NUL) with `args` (each a 64-bit slot), at most `max_args`
/// conversions.
pub(crate) fn format(
    fmt: &[u8],
    args: &[u64],
    reader: &mut dyn StrReader,
) -> Result<Vec<u8>, BadFormat> {
    let mut out = Vec::with_capacity(fmt.len() + 16);
    let mut next = 0usize;
    let mut i = 0usize;
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    while i < fmt.len() {
        let c = fmt[i];
        if !c.is_ascii() || !(c.is_ascii_graphic() || c.is_ascii_whitespace() || c == b' ') {
            return Err(BadFormat("non-printable character in format"));
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            out.push(b'%');
            i += 2;
            continue;
        }
        if next >= args.len() {
            return Err(BadFormat("more conversions than arguments"));
        }
        let arg = args[next];
        next += 1;
        i += 1;
        let mut spec = Spec::default();
        loop {
            match at(i) {
                b'0' => spec.zero = true,
                b'+' => spec.plus = true,
                b'-' => spec.left = true,
                b' ' => spec.space = true,
                _ => break,
            }
            i += 1;
        }
        while at(i).is_ascii_digit() {
            spec.width = spec.width * 10 + usize::from(at(i) - b'0');
            i += 1;
        }
        match at(i) {
            b'p' => {
                i += 1;
                match at(i) {
                    b'i' | b'I' => {
                        i += 1;
                        let v4 = match at(i) {
                            b'4' => true,
                            b'6' => false,
                            _ => return Err(BadFormat("bad %pi/%pI conversion")),
                        };
                        let dotted = fmt[i - 1] == b'I' || v4;
                        i += 1;
                        let n = if v4 { 4 } else { 16 };
                        let bytes = reader
                            .read_bytes(arg, n)
                            .ok_or(BadFormat("unreadable %pI argument"))?;
                        let body = if v4 {
                            format!("{}.{}.{}.{}", bytes[0], bytes[1], bytes[2], bytes[3])
                        } else if dotted {
                            bytes
                                .chunks(2)
                                .map(|c| format!("{:02x}{:02x}", c[0], c[1]))
                                .collect::<Vec<_>>()
                                .join(":")
                        } else {
                            bytes.iter().map(|b| format!("{b:02x}")).collect()
                        };
                        pad(&mut out, spec, body.as_bytes(), b"", false);
                    }
                    b'k' | b'u' if at(i + 1) == b's' => {
                        i += 2;
                        // Like the kernel's bpf_bprintf_prepare: an unreadable string
                        // prints as the empty string (not vsnprintf's "(efault)").
                        let s = reader.read_str(arg, MAX_STR).unwrap_or_default();
                        pad(&mut out, spec, &s, b"", false);
                    }
                    b'x' | b'K' | b'B' => {
                        i += 1;
                        pad(&mut out, spec, format!("{arg:016x}").as_bytes(), b"", false);
                    }
                    c if c.is_ascii_alphanumeric() => {
                        return Err(BadFormat("unsupported %p extension"));
                    }
                    _ => pad(&mut out, spec, format!("{arg:016x}").as_bytes(), b"", false),
                }
                continue;
            }
            b's' => {
                i += 1;
                // An unreadable string prints as the empty string, as in the kernel.
                let s = reader.read_str(arg, MAX_STR).unwrap_or_default();
                pad(&mut out, spec, &s, b"", false);
                continue;
            }
            b'c' => {
                i += 1;
                pad(&mut out, spec, &[arg as u8], b"", false);
                continue;
            }
            _ => {}
        }
        let mut long = 0;
        while at(i) == b'l' && long < 2 {
            long += 1;
            i += 1;
        }
        let conv = at(i);
        i += 1;
        let v = if long == 0 { arg & 0xffff_ffff } else { arg };
        let signed = |v: u64| -> i64 {
            if long == 0 {
                v as u32 as i32 as i64
            } else {
                v as i64
            }
        };
        match conv {
            b'd' | b'i' => {
                let s = signed(v);
                let sign: &[u8] = if s < 0 {
                    b"-"
                } else if spec.plus {
                    b"+"
                } else if spec.space {
                    b" "
                } else {
                    b""
                };
                pad(
                    &mut out,
                    spec,
                    s.unsigned_abs().to_string().as_bytes(),
                    sign,
                    true,
                );
            }
            b'u' => pad(&mut out, spec, v.to_string().as_bytes(), b"", true),
            b'x' => pad(&mut out, spec, format!("{v:x}").as_bytes(), b"", true),
            b'X' => pad(&mut out, spec, format!("{v:X}").as_bytes(), b"", true),
            _ => return Err(BadFormat("unsupported conversion")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Strings;
    impl StrReader for Strings {
        fn read_str(&mut self, addr: u64, max: usize) -> Option<Vec<u8>> {
            match addr {
                1 => Some(b"hello".iter().copied().take(max).collect()),
                2 => Some(vec![10, 0, 0, 1].into_iter().take(max).collect()),
                _ => None,
            }
        }
        fn read_bytes(&mut self, addr: u64, n: usize) -> Option<Vec<u8>> {
            (addr == 2).then(|| vec![10, 0, 0, 1][..n.min(4)].to_vec())
        }
    }

    fn f(fmt: &str, args: &[u64]) -> Result<String, BadFormat> {
        format(fmt.as_bytes(), args, &mut Strings).map(|v| String::from_utf8(v).unwrap())
    }

    #[test]
    fn integer_conversions_follow_c() {
        assert_eq!(
            f("%d %u %x", &[u64::MAX, u64::MAX, 255]).unwrap(),
            "-1 4294967295 ff"
        );
        assert_eq!(
            f("%ld %llu %lx", &[u64::MAX, u64::MAX, 255]).unwrap(),
            "-1 18446744073709551615 ff"
        );
        assert_eq!(
            f("[%5d|%-4d|%04x|%+d]", &[42, 7, 10, 3]).unwrap(),
            "[   42|7   |000a|+3]"
        );
        assert_eq!(f("100%% %c", &[b'z' as u64]).unwrap(), "100% z");
    }

    #[test]
    fn strings_and_pointers() {
        assert_eq!(f("<%s> <%s>", &[1, 99]).unwrap(), "<hello> <>");
        assert_eq!(f("%pI4", &[2]).unwrap(), "10.0.0.1");
        assert_eq!(f("%px", &[0x1234]).unwrap(), "0000000000001234");
    }

    #[test]
    fn bad_formats_are_rejected() {
        assert!(f("%d %d", &[1]).is_err());
        assert!(f("%f", &[1]).is_err());
        assert!(f("%pZ", &[1]).is_err());
        assert!(f("a\x01b", &[]).is_err());
    }
}
