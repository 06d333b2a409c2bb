//! Tokens of the kernel/LLVM syntax and a cursor over them with the small parsing helpers both
//! statement parsers share (registers, signed numbers, range checks).
use super::AsmErrorKind;
use crate::{Reg, Width};

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// A name: mnemonic, register, label, type (`u32`), helper name.
    Ident(String),
    /// An unsigned number as written (sign is a separate token); `hex` if it had `0x`.
    Num { value: u128, hex: bool },
    /// An operator or punctuation (`+=`, `s>>=`, `(`, `*`, ...).
    Op(&'static str),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Num { value, hex: true } => write!(f, "`{value:#x}`"),
            Tok::Num { value, .. } => write!(f, "`{value}`"),
            Tok::Op(o) => write!(f, "`{o}`"),
        }
    }
}

/// Operators, longest first so that the first match is the longest.
const OPS: &[&str] = &[
    "s>>=", "<<=", ">>=", "s>=", "s<=", "s/=", "s%=", "==", "!=", ">=", "<=", "+=", "-=", "*=",
    "/=", "|=", "&=", "%=", "^=", "s>", "s<", "=", ">", "<", "&", "(", ")", "[", "]", "*", ",",
    "+", "-", "#", "@", ":",
];

/// Splits one statement into tokens.
pub(super) fn lex(s: &str) -> Result<Vec<Tok>, AsmErrorKind> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // `s>`, `s>>=`, `s/=` ...: an `s` directly followed by an operator character.
        let s_op = c == b's' && matches!(b.get(i + 1), Some(b'<' | b'>' | b'/' | b'%'));
        if c.is_ascii_digit() {
            let start = i;
            let hex = c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X'));
            if hex {
                i += 2;
            }
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let text = &s[start..i];
            let value = if hex {
                u128::from_str_radix(&text[2..], 16)
            } else {
                text.parse::<u128>()
            }
            .map_err(|_| AsmErrorKind::BadNumber(text.to_string()))?;
            out.push(Tok::Num { value, hex });
        } else if (c.is_ascii_alphabetic() || c == b'_' || c == b'.') && !s_op {
            let start = i;
            while i < b.len() {
                let ch = b[i];
                if ch.is_ascii_alphanumeric() || ch == b'_' || ch == b'.' {
                    i += 1;
                } else if ch == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
                    // `kernel-function`
                    i += 1;
                } else if ch == b'%' && b.get(i + 1) == Some(&b'=') && b[i - 1] == b'_' {
                    // kernel selftest labels `l0_%=`
                    i += 2;
                } else {
                    break;
                }
            }
            out.push(Tok::Ident(s[start..i].to_string()));
        } else {
            let rest = &s[i..];
            let op = OPS.iter().find(|o| rest.starts_with(**o)).ok_or_else(|| {
                AsmErrorKind::Syntax(format!("unexpected character `{}`", c as char))
            })?;
            out.push(Tok::Op(op));
            i += op.len();
        }
    }
    Ok(out)
}

/// A cursor over a statement's tokens.
pub(super) struct Cursor {
    toks: Vec<Tok>,
    pos: usize,
}

impl Cursor {
    pub(super) fn new(toks: Vec<Tok>) -> Self {
        Cursor { toks, pos: 0 }
    }
    pub(super) fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    pub(super) fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n)
    }
    pub(super) fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += usize::from(t.is_some());
        t
    }
    pub(super) fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Tok::Op(o)) if *o == op)
    }
    pub(super) fn is_ident(&self, name: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(i)) if i == name)
    }
    /// Consumes `op` if it is next.
    pub(super) fn eat_op(&mut self, op: &str) -> bool {
        let yes = self.is_op(op);
        self.pos += usize::from(yes);
        yes
    }
    pub(super) fn eat_ident(&mut self, name: &str) -> bool {
        let yes = self.is_ident(name);
        self.pos += usize::from(yes);
        yes
    }
    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "end of line".to_string(), |t| t.to_string())
    }
    pub(super) fn expected(&self, what: &str) -> AsmErrorKind {
        AsmErrorKind::Syntax(format!("expected {what}, found {}", self.found()))
    }
    pub(super) fn expect_op(&mut self, op: &str) -> Result<(), AsmErrorKind> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{op}`")))
        }
    }
    pub(super) fn expect_ident(&mut self, name: &str) -> Result<(), AsmErrorKind> {
        if self.eat_ident(name) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{name}`")))
        }
    }
    pub(super) fn ident(&mut self) -> Result<String, AsmErrorKind> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let s = s.clone();
                self.pos += 1;
                Ok(s)
            }
            _ => Err(self.expected("a name")),
        }
    }
    pub(super) fn end(&self) -> Result<(), AsmErrorKind> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(AsmErrorKind::Syntax(format!(
                "unexpected {t} after the end of the instruction"
            ))),
        }
    }
    /// Whether the next token is a register name (`r0`..`r10`, `w0`..`w10`).
    pub(super) fn at_reg(&self) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if parse_reg_name(s).is_some())
    }
    /// A register with its width letter.
    pub(super) fn reg(&mut self) -> Result<(Width, Reg), AsmErrorKind> {
        match self.peek() {
            Some(Tok::Ident(s)) => {
                let r = parse_reg_name(s).ok_or_else(|| reg_error(s))?;
                self.pos += 1;
                r
            }
            _ => Err(self.expected("a register")),
        }
    }
    /// A register that must be written with `r`... or `w`... (either accepted).
    pub(super) fn any_reg(&mut self) -> Result<Reg, AsmErrorKind> {
        Ok(self.reg()?.1)
    }
    /// A signed integer: optional `+`/`-` then a number. Returns the value and whether it was hex.
    pub(super) fn int(&mut self) -> Result<(i128, bool), AsmErrorKind> {
        let neg = if self.eat_op("-") {
            true
        } else {
            self.eat_op("+");
            false
        };
        match self.next() {
            Some(Tok::Num { value, hex }) => {
                let v = i128::try_from(value)
                    .map_err(|_| AsmErrorKind::BadNumber(value.to_string()))?;
                Ok((if neg { -v } else { v }, hex))
            }
            _ => {
                self.pos -= 1;
                Err(self.expected("a number"))
            }
        }
    }
    pub(super) fn at_int(&self) -> bool {
        match self.peek() {
            Some(Tok::Num { .. }) => true,
            Some(Tok::Op("-" | "+")) => matches!(self.peek_at(1), Some(Tok::Num { .. })),
            _ => false,
        }
    }
}

/// `Some(Ok(..))` for a well-formed register name, `Some(Err)` for `r11`.., `None` if the name
/// is not register-shaped at all.
fn parse_reg_name(s: &str) -> Option<Result<(Width, Reg), AsmErrorKind>> {
    let width = match s.as_bytes().first()? {
        b'r' => Width::W64,
        b'w' => Width::W32,
        _ => return None,
    };
    let digits = &s[1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<u8>()
            .ok()
            .and_then(Reg::new)
            .map(|r| (width, r))
            .ok_or_else(|| reg_error(s)),
    )
}

fn reg_error(s: &str) -> AsmErrorKind {
    AsmErrorKind::InvalidRegister(s.to_string())
}

/// Converts to a 32-bit immediate. Accepts `i32` values and, as bit patterns, `0x80000000..=
/// 0xffffffff` (written in hex, or in decimal when `allow_unsigned_decimal`).
pub(super) fn imm32(v: i128, hex: bool, allow_unsigned_decimal: bool) -> Result<i32, AsmErrorKind> {
    if let Ok(i) = i32::try_from(v) {
        return Ok(i);
    }
    if (hex || allow_unsigned_decimal) && (0..=i128::from(u32::MAX)).contains(&v) {
        return Ok(v as u32 as i32);
    }
    Err(AsmErrorKind::ImmOutOfRange {
        value: v.to_string(),
        bits: 32,
    })
}

/// Converts to a 16-bit offset: `i16` values, or hex bit patterns up to `0xffff`.
pub(super) fn off16(v: i128, hex: bool) -> Result<i16, AsmErrorKind> {
    if let Ok(i) = i16::try_from(v) {
        return Ok(i);
    }
    if hex && (0..=i128::from(u16::MAX)).contains(&v) {
        return Ok(v as u16 as i16);
    }
    Err(AsmErrorKind::OffsetOutOfRange(v.to_string()))
}

/// Converts to a 64-bit immediate (`i64` or `u64` range), as its two 32-bit halves.
pub(super) fn imm64(v: i128) -> Result<(i32, i32), AsmErrorKind> {
    let bits = if let Ok(i) = i64::try_from(v) {
        i as u64
    } else {
        u64::try_from(v).map_err(|_| AsmErrorKind::ImmOutOfRange {
            value: v.to_string(),
            bits: 64,
        })?
    };
    Ok((bits as u32 as i32, (bits >> 32) as u32 as i32))
}
