//! The manifest's byte language and hex helpers.
//!
//! A byte string is written as space-separated tokens, concatenated little-endian:
//! `u8:N`, `u16:N`, `u32:N`, `u64:N` (unsigned, decimal or `0x` hex), `i32:N`, `i64:N`
//! (signed), `x:HEX` (raw bytes), `z:N` (N zero bytes), `s:TEXT` (ASCII, no spaces) and
//! `pkt:N` (N bytes `0, 1, 2, …` wrapping at 256: a recognisable packet).

use crate::{Error, Result};

/// Parses a byte-language string.
pub fn parse(spec: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for tok in spec.split_whitespace() {
        let (kind, arg) = tok
            .split_once(':')
            .ok_or_else(|| bad(tok, "expected KIND:VALUE"))?;
        match kind {
            "u8" => out.push(unsigned(tok, arg, u8::MAX.into())? as u8),
            "u16" => out.extend((unsigned(tok, arg, u16::MAX.into())? as u16).to_le_bytes()),
            "u32" => out.extend((unsigned(tok, arg, u32::MAX.into())? as u32).to_le_bytes()),
            "u64" => out.extend(unsigned(tok, arg, u64::MAX)?.to_le_bytes()),
            "i32" => {
                let v: i32 = arg.parse().map_err(|_| bad(tok, "not an i32"))?;
                out.extend(v.to_le_bytes());
            }
            "i64" => {
                let v: i64 = arg.parse().map_err(|_| bad(tok, "not an i64"))?;
                out.extend(v.to_le_bytes());
            }
            "x" => out.extend(from_hex(arg).map_err(|e| bad(tok, &e))?),
            "z" => out.resize(out.len() + count(tok, arg)?, 0),
            "s" => out.extend(arg.bytes()),
            "pkt" => out.extend((0..count(tok, arg)?).map(|i| i as u8)),
            _ => return Err(bad(tok, "unknown kind (u8 u16 u32 u64 i32 i64 x z s pkt)")),
        }
    }
    Ok(out)
}

fn bad(tok: &str, why: &str) -> Error {
    Error::Manifest(format!("byte token '{tok}': {why}"))
}

fn count(tok: &str, arg: &str) -> Result<usize> {
    let n: usize = arg.parse().map_err(|_| bad(tok, "not a count"))?;
    if n > 1 << 16 {
        return Err(bad(tok, "more than 65536 bytes"));
    }
    Ok(n)
}

fn unsigned(tok: &str, arg: &str, max: u64) -> Result<u64> {
    let v = match arg.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => arg.parse(),
    }
    .map_err(|_| bad(tok, "not an unsigned number"))?;
    if v > max {
        return Err(bad(tok, "out of range"));
    }
    Ok(v)
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string (even length, no separators).
pub fn from_hex(s: &str) -> std::result::Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd-length hex '{s}'"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad hex '{s}'"))
        })
        .collect()
}

/// Little-endian u64 of up to 8 bytes (shorter slices are zero-extended).
pub fn le_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_concatenate_little_endian() {
        let b = parse("u32:1 u16:0x203 x:ff z:2 s:ab pkt:3 i32:-1").unwrap();
        assert_eq!(
            b,
            [
                1, 0, 0, 0, 3, 2, 0xff, 0, 0, b'a', b'b', 0, 1, 2, 0xff, 0xff, 0xff, 0xff
            ]
        );
    }

    #[test]
    fn malformed_tokens_are_named() {
        for bad in ["u8:256", "q:1", "x:abc", "u32", "z:-1"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(bad.split(' ').next().unwrap()), "{e}");
        }
    }

    #[test]
    fn hex_round_trips() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(from_hex(&to_hex(&b)).unwrap(), b);
        assert_eq!(le_u64(&[1, 2]), 0x201);
    }
}
