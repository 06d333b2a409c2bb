//! The helper functions the suite's reference runner (ubpf's conformance plugin) provides, by
//! helper id: 0 `gather_bytes`, 1 `memfrob`, 2 `no_op`, 3 `sqrti`, 4 `strcmp_ext`, 5 `unwind`.
//!
//! `unwind` returns its argument; when that is 0 the program stops at once with r0 = 0 (ubpf's
//! "unwind function index" behaviour), expressed here as [`HelperError::Exit`].

use lull_interp::{HelperContext, HelperError, Helpers};

/// Longest string `strcmp_ext` reads.
const MAX_STR: usize = 4096;

/// The table of the suite's helpers.
pub fn conformance_helpers() -> Helpers {
    let mut h = Helpers::new();
    h.register(0, "gather_bytes", gather_bytes);
    h.register(1, "memfrob", memfrob);
    h.register(2, "no_op", no_op);
    h.register(3, "sqrti", sqrti);
    h.register(4, "strcmp_ext", strcmp_ext);
    h.register(5, "unwind", unwind);
    h
}

/// The low bytes of the five arguments packed big-end first: `a b c d e`.
fn gather_bytes(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Ok(a.iter().fold(0u64, |acc, &x| (acc << 8) | (x & 0xff)))
}

/// XORs `a[1]` bytes at `a[0]` with 42.
fn memfrob(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let len = usize::try_from(a[1])
        .ok()
        .filter(|&l| l <= 1 << 20)
        .ok_or_else(|| HelperError::Failed(format!("memfrob length {} too large", a[1])))?;
    let mut buf = vec![0u8; len];
    ctx.read(a[0], &mut buf)?;
    buf.iter_mut().for_each(|b| *b ^= 42);
    ctx.write(a[0], &buf)?;
    Ok(0)
}

fn no_op(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}

/// Integer square root (through `f64`, as the reference does).
fn sqrti(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Ok((a[0] as f64).sqrt() as u64)
}

/// C `strcmp` of the strings at `a[0]` and `a[1]`, sign-extended.
fn strcmp_ext(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let s1 = ctx.read_cstr(a[0], MAX_STR)?;
    let s2 = ctx.read_cstr(a[1], MAX_STR)?;
    let diff = s1
        .iter()
        .chain(std::iter::once(&0))
        .zip(s2.iter().chain(std::iter::once(&0)))
        .map(|(&x, &y)| i32::from(x) - i32::from(y))
        .find(|&d| d != 0)
        .unwrap_or(0);
    Ok(i64::from(diff) as u64)
}

/// Returns its argument; 0 stops the program with r0 = 0.
fn unwind(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    if a[0] == 0 {
        Err(HelperError::Exit(0))
    } else {
        Ok(a[0])
    }
}
