//! The assembler: text to typed instructions, in two syntaxes.
//!
//! * The kernel/LLVM syntax that [`crate::disasm`] prints and kernel selftests write in inline
//!   asm: `r0 = *(u32 *)(r1 + 4)`, `if r1 > 0x7 goto pc+3`, `w0 += 1;`, `call pc+2`,
//!   `lock *(u64 *)(r10 -8) += r1`, labels `l0_%=:` / `goto l0_%=`. Statements may end with `;`
//!   and several may share a line; a verifier-log prefix `12: (b7) ` is skipped; an
//!   `llvm-objdump` trailing `<LBB0_2>` is ignored.
//! * The bpf_conformance syntax: `mov32 %r0, 1`, `ldxw %r0, [%r1+4]`, `jne %r0, 15, failed`,
//!   `lock fetch add [%r10-8], %r1`, `call local func1`, with `#` comments. As in the reference
//!   assembler, a jump to the label `exit` that is not defined goes to the first `exit`.
//!
//! [`Syntax::Auto`] decides per statement: a line in conformance mnemonics (or using `%r`
//! registers) is conformance syntax, anything else kernel syntax. Errors carry the 1-based line
//! number. Jump targets are counted in raw slots (`lddw` takes two).
mod conformance;
mod kernel;
mod lexer;
mod raw;

pub use raw::{RawHexError, parse_raw_hex};

use std::collections::HashMap;

use crate::{CallTarget, DecodeErrorKind, Insn};

/// Which syntax a text is written in.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Syntax {
    /// Decide per statement.
    #[default]
    Auto,
    /// Kernel verifier log / LLVM syntax.
    Kernel,
    /// bpf_conformance syntax.
    Conformance,
}

/// An assembly error at a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {kind}")]
pub struct AsmError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: AsmErrorKind,
}

/// What is wrong with a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AsmErrorKind {
    /// The mnemonic / statement form is not known.
    #[error("unknown mnemonic `{0}`")]
    UnknownMnemonic(String),
    /// Wrong number of operands.
    #[error("`{mnemonic}` takes {expected} operand(s), found {found}")]
    OperandCount {
        /// The mnemonic.
        mnemonic: String,
        /// How many it takes.
        expected: usize,
        /// How many were given.
        found: usize,
    },
    /// A register name that is no register (`r11`, `%r50`, `%x`).
    #[error("invalid register `{0}` (registers are r0..r10)")]
    InvalidRegister(String),
    /// A number that does not parse.
    #[error("invalid number `{0}`")]
    BadNumber(String),
    /// An immediate out of range.
    #[error("immediate {value} does not fit in {bits} bits")]
    ImmOutOfRange {
        /// The value as written.
        value: String,
        /// The field width.
        bits: u8,
    },
    /// A memory or jump offset out of the 16-bit range.
    #[error("offset {0} does not fit in 16 bits")]
    OffsetOutOfRange(String),
    /// A jump to a label that is not defined.
    #[error("undefined label `{0}`")]
    UndefinedLabel(String),
    /// A label defined twice.
    #[error("label `{0}` is defined twice")]
    DuplicateLabel(String),
    /// A label too far away for the instruction's offset field.
    #[error("label `{label}` is {distance} slots away, out of range for this jump")]
    JumpOutOfRange {
        /// The label.
        label: String,
        /// The slot distance.
        distance: i64,
    },
    /// The statement is well-formed text but no valid instruction (e.g. `w1 = (s32)w2`).
    #[error("not a valid instruction: {0}")]
    Invalid(DecodeErrorKind),
    /// Any other syntax error.
    #[error("{0}")]
    Syntax(String),
}

/// A parsed statement whose jump target may still be a label.
pub(super) struct Stmt {
    pub(super) insn: Insn,
    pub(super) label: Option<String>,
}

impl Stmt {
    fn plain(insn: Insn) -> Self {
        Stmt { insn, label: None }
    }
}

/// Assembles `text`, detecting the syntax of each statement.
pub fn assemble(text: &str) -> Result<Vec<Insn>, AsmError> {
    assemble_with(text, Syntax::Auto)
}

/// Assembles `text` in the given syntax.
pub fn assemble_with(text: &str, syntax: Syntax) -> Result<Vec<Insn>, AsmError> {
    let mut labels: HashMap<String, usize> = HashMap::new();
    let mut pending: Vec<(usize, usize, Stmt)> = Vec::new(); // (line, slot, stmt)
    let mut slot = 0usize;
    let mut first_exit: Option<usize> = None;
    for (idx, raw_line) in text.lines().enumerate() {
        let line = idx + 1;
        let err = |kind| AsmError { line, kind };
        for stmt_text in statements(raw_line) {
            let (label, rest) = split_label(stmt_text);
            if let Some(label) = label
                && labels.insert(label.to_string(), slot).is_some()
            {
                return Err(err(AsmErrorKind::DuplicateLabel(label.to_string())));
            }
            let rest = rest.trim();
            if rest.is_empty() {
                continue;
            }
            let conf = match syntax {
                Syntax::Conformance => true,
                Syntax::Kernel => false,
                Syntax::Auto => conformance::looks_like(rest),
            };
            let stmt = if conf {
                conformance::parse(rest)
            } else {
                kernel::parse(rest)
            }
            .map_err(err)?;
            if stmt.insn == Insn::Exit && first_exit.is_none() {
                first_exit = Some(slot);
            }
            let n = stmt.insn.slots();
            pending.push((line, slot, stmt));
            slot += n;
        }
    }
    let mut out = Vec::with_capacity(pending.len());
    for (line, at, stmt) in pending {
        let insn = match stmt.label {
            None => stmt.insn,
            Some(label) => {
                let target = match labels.get(&label) {
                    Some(t) => *t,
                    None if label == "exit" => first_exit.ok_or_else(|| AsmError {
                        line,
                        kind: AsmErrorKind::UndefinedLabel(label.clone()),
                    })?,
                    None => {
                        return Err(AsmError {
                            line,
                            kind: AsmErrorKind::UndefinedLabel(label),
                        });
                    }
                };
                let distance = target as i64 - at as i64 - 1;
                retarget(stmt.insn, distance).ok_or(AsmError {
                    line,
                    kind: AsmErrorKind::JumpOutOfRange { label, distance },
                })?
            }
        };
        insn.validate().map_err(|k| AsmError {
            line,
            kind: AsmErrorKind::Invalid(k),
        })?;
        out.push(insn);
    }
    Ok(out)
}

/// Sets the relative target of a jump or local call; `None` if it does not fit.
fn retarget(insn: Insn, distance: i64) -> Option<Insn> {
    let d16 = i16::try_from(distance).ok();
    let d32 = i32::try_from(distance).ok();
    Some(match insn {
        Insn::Ja { long: false, .. } => Insn::Ja {
            off: i32::from(d16?),
            long: false,
        },
        Insn::Ja { long: true, .. } => Insn::Ja {
            off: d32?,
            long: true,
        },
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            ..
        } => Insn::Jump {
            width,
            cond,
            dst,
            src,
            off: d16?,
        },
        Insn::MayGoto { .. } => Insn::MayGoto { off: d16? },
        Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(d32?)),
        other => other,
    })
}

/// Splits a line into statements: strips comments (`//`, and `#` at the start or after
/// whitespace, so `call name#1` keeps its `#`) and splits at `;`.
fn statements(line: &str) -> impl Iterator<Item = &str> {
    let mut end = line.len();
    if let Some(i) = line.find("//") {
        end = i;
    }
    let b = line.as_bytes();
    for (i, &c) in b.iter().enumerate().take(end) {
        if c == b'#' && (i == 0 || b[i - 1].is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    line[..end].split(';').map(strip_decorations)
}

/// Removes a verifier-log prefix (`12: (b7) `) and an objdump target annotation (`<LBB0_2>`).
fn strip_decorations(s: &str) -> &str {
    let mut s = s.trim();
    // `12: (b7) r0 = 0`
    if let Some(colon) = s.find(": (") {
        let (num, rest) = s.split_at(colon);
        let rest = &rest[3..];
        if !num.is_empty()
            && num.bytes().all(|b| b.is_ascii_digit())
            && rest.len() >= 3
            && rest.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit)
            && rest.as_bytes()[2] == b')'
        {
            s = rest[3..].trim_start();
        }
    }
    // `goto +0x3 <LBB0_2>`
    if s.ends_with('>')
        && let Some(open) = s.rfind(" <")
    {
        let inner = &s[open + 2..s.len() - 1];
        if !inner.is_empty() && !inner.contains(char::is_whitespace) {
            s = s[..open].trim_end();
        }
    }
    s
}

/// Splits a leading `label:` off a statement.
fn split_label(s: &str) -> (Option<&str>, &str) {
    let t = s.trim_start();
    let end = t
        .find(|c: char| {
            !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '%' || c == '=')
        })
        .unwrap_or(t.len());
    if end > 0 && t[end..].starts_with(':') && !t.as_bytes()[0].is_ascii_digit() {
        (Some(&t[..end]), &t[end + 1..])
    } else {
        (None, s)
    }
}
