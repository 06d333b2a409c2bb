//! Reading instruction bytes written as text, as in the `-- raw` sections of the
//! bpf_conformance suite. Two forms are accepted, one instruction per line:
//!
//! * eight hex bytes in memory order: `b7 00 00 00 01 00 00 00`;
//! * one 64-bit hex word holding the slot as a little-endian integer: `0x00000001000000b7`.
//!
//! `#` starts a comment; blank lines are skipped.
use crate::RawInsn;

/// A malformed line of hex text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RawHexError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Parses hex instruction text (see the module documentation) into raw slots.
pub fn parse_raw_hex(text: &str) -> Result<Vec<RawInsn>, RawHexError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let err = |message: String| RawHexError {
            line: i + 1,
            message,
        };
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let bytes = match words.as_slice() {
            [word] => {
                let digits = word
                    .strip_prefix("0x")
                    .or_else(|| word.strip_prefix("0X"))
                    .ok_or_else(|| {
                        err(format!(
                            "expected a 0x-prefixed 64-bit word, found `{word}`"
                        ))
                    })?;
                u64::from_str_radix(digits, 16)
                    .map_err(|_| err(format!("invalid 64-bit hex word `{word}`")))?
                    .to_le_bytes()
            }
            _ if words.len() == 8 => {
                let mut b = [0u8; 8];
                for (dst, w) in b.iter_mut().zip(&words) {
                    if w.len() != 2 {
                        return Err(err(format!("expected a two-digit hex byte, found `{w}`")));
                    }
                    *dst = u8::from_str_radix(w, 16)
                        .map_err(|_| err(format!("invalid hex byte `{w}`")))?;
                }
                b
            }
            _ => {
                return Err(err(format!(
                    "expected 8 hex bytes or one 64-bit word per line, found {} items",
                    words.len()
                )));
            }
        };
        out.push(RawInsn::from_bytes(bytes));
    }
    Ok(out)
}
