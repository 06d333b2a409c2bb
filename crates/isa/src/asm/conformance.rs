//! Statement parser for the bpf_conformance syntax (`mov32 %r0, 1`, `ldxw %r0, [%r1+4]`,
//! `lock fetch add [%r10-8], %r1`).
//!
//! Number rules follow the suite's reference assembler: a 32-bit immediate is a signed decimal
//! in `i32` range or a hexadecimal up to `0xffffffff` (taken as a bit pattern); an offset is a
//! signed decimal in `i16` range or a hexadecimal up to `0xffff`; `lddw` takes any 64-bit value.
use super::lexer::{imm32, imm64, off16};
use super::{AsmErrorKind, Stmt};
use crate::{AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, Operand, Reg, Size, Width};

/// Mnemonics only this syntax has (used by [`looks_like`]).
const MNEMONICS: &[&str] = &[
    "add",
    "sub",
    "mul",
    "div",
    "sdiv",
    "or",
    "and",
    "lsh",
    "rsh",
    "neg",
    "mod",
    "smod",
    "xor",
    "mov",
    "arsh",
    "le16",
    "le32",
    "le64",
    "be16",
    "be32",
    "be64",
    "swap16",
    "swap32",
    "swap64",
    "bswap16",
    "bswap32",
    "bswap64",
    "ja",
    "ja32",
    "jeq",
    "jgt",
    "jge",
    "jset",
    "jne",
    "jsgt",
    "jsge",
    "jlt",
    "jle",
    "jslt",
    "jsle",
    "lddw",
    "ldxb",
    "ldxh",
    "ldxw",
    "ldxdw",
    "ldxsb",
    "ldxsh",
    "ldxsw",
    "stb",
    "sth",
    "stw",
    "stdw",
    "stxb",
    "stxh",
    "stxw",
    "stxdw",
    "movsx864",
    "movsx832",
    "movsx1664",
    "movsx1632",
    "movsx3264",
];

/// Whether a statement is in conformance syntax (for [`super::Syntax::Auto`]).
pub(super) fn looks_like(s: &str) -> bool {
    if s.contains('%') && !s.contains("%=") {
        return true;
    }
    let mut words = s.split_whitespace();
    let first = words.next().unwrap_or("");
    match first {
        // `lock` alone or `lock add [...]` (kernel syntax continues with `*`).
        "lock" => !words.next().is_some_and(|w| w.starts_with('*')),
        "call" => matches!(words.next(), Some("local" | "helper" | "runtime")),
        _ => {
            let base = first.strip_suffix("32").unwrap_or(first);
            MNEMONICS.contains(&first) || MNEMONICS.contains(&base)
        }
    }
}

/// Parses one statement.
pub(super) fn parse(s: &str) -> Result<Stmt, AsmErrorKind> {
    let mut words = s.split_whitespace();
    let mnemonic = words.next().unwrap_or_default();
    let rest = &s[mnemonic.len()..];
    let ops: Vec<&str> = rest
        .split([',', ' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect();
    let count = |n: usize| {
        if ops.len() == n {
            Ok(())
        } else {
            Err(AsmErrorKind::OperandCount {
                mnemonic: mnemonic.to_string(),
                expected: n,
                found: ops.len(),
            })
        }
    };
    let plain = |i: Insn| Ok(Stmt::plain(i));
    if mnemonic == "exit" {
        count(0)?;
        return plain(Insn::Exit);
    }
    if mnemonic == "lock" {
        return lock(&ops);
    }
    if mnemonic == "call" || mnemonic == "callx" {
        return call(mnemonic, &ops);
    }
    if mnemonic == "lddw" {
        count(2)?;
        let (imm, next_imm) = imm64(number(ops[1])?.0)?;
        return plain(Insn::LdImm64 {
            dst: reg(ops[0])?,
            kind: crate::LdImm64Kind::Imm,
            imm,
            next_imm,
        });
    }
    if let Some((kind, bits)) = endian(mnemonic) {
        count(1)?;
        return plain(Insn::Endian {
            kind,
            dst: reg(ops[0])?,
            bits,
        });
    }
    if let Some((size, signed)) = mnemonic.strip_prefix("ldx").and_then(load_size) {
        count(2)?;
        let (src, off) = mem(ops[1])?;
        return plain(Insn::Load {
            size,
            signed,
            dst: reg(ops[0])?,
            src,
            off,
        });
    }
    if let Some(size) = mnemonic.strip_prefix("stx").and_then(size_suffix) {
        count(2)?;
        let (dst, off) = mem(ops[0])?;
        return plain(Insn::Store {
            size,
            dst,
            off,
            src: Operand::Reg(reg(ops[1])?),
        });
    }
    if let Some(size) = mnemonic.strip_prefix("st").and_then(size_suffix) {
        count(2)?;
        let (dst, off) = mem(ops[0])?;
        return plain(Insn::Store {
            size,
            dst,
            off,
            src: Operand::Imm(imm(ops[1])?),
        });
    }
    if let Some(rest) = mnemonic.strip_prefix("movsx") {
        let (op, width) = match rest {
            "864" => (AluOp::MovSx8, Width::W64),
            "832" => (AluOp::MovSx8, Width::W32),
            "1664" => (AluOp::MovSx16, Width::W64),
            "1632" => (AluOp::MovSx16, Width::W32),
            "3264" => (AluOp::MovSx32, Width::W64),
            _ => return Err(AsmErrorKind::UnknownMnemonic(mnemonic.to_string())),
        };
        count(2)?;
        return plain(Insn::Alu {
            width,
            op,
            dst: reg(ops[0])?,
            src: Operand::Reg(reg(ops[1])?),
        });
    }
    let (base, width) = match mnemonic.strip_suffix("32") {
        Some(b) => (b, Width::W32),
        None => (mnemonic, Width::W64),
    };
    if base == "ja" {
        count(1)?;
        let long = width == Width::W32;
        return target(ops[0], long, move |off| Insn::Ja { off, long });
    }
    if let Some(cond) = jmp_cond(base) {
        count(3)?;
        let dst = reg(ops[0])?;
        let src = operand(ops[1])?;
        return target(ops[2], false, move |off| Insn::Jump {
            width,
            cond,
            dst,
            src,
            off: off as i16,
        });
    }
    if let Some(op) = alu_op(base) {
        let dst;
        let src = if op == AluOp::Neg {
            count(1)?;
            dst = reg(ops[0])?;
            Operand::Imm(0)
        } else {
            count(2)?;
            dst = reg(ops[0])?;
            operand(ops[1])?
        };
        return plain(Insn::Alu {
            width,
            op,
            dst,
            src,
        });
    }
    Err(AsmErrorKind::UnknownMnemonic(mnemonic.to_string()))
}

fn lock(ops: &[&str]) -> Result<Stmt, AsmErrorKind> {
    let count_err = || AsmErrorKind::Syntax("invalid number of operands for lock".into());
    let (fetch, rest) = match ops.split_first() {
        Some((&"fetch", rest)) => (true, rest),
        Some(_) => (false, ops),
        None => return Err(count_err()),
    };
    let [name, mem_op, src] = rest else {
        return Err(count_err());
    };
    let (base, size) = match name.strip_suffix("32") {
        Some(b) => (b, Size::W),
        None => (*name, Size::DW),
    };
    let op = match (base, fetch) {
        ("add", f) => AtomicOp::Add { fetch: f },
        ("or", f) => AtomicOp::Or { fetch: f },
        ("and", f) => AtomicOp::And { fetch: f },
        ("xor", f) => AtomicOp::Xor { fetch: f },
        ("xchg", _) => AtomicOp::Xchg,
        ("cmpxchg", _) => AtomicOp::CmpXchg,
        _ => return Err(AsmErrorKind::UnknownMnemonic(format!("lock {name}"))),
    };
    let (dst, off) = mem(mem_op)?;
    Ok(Stmt::plain(Insn::Atomic {
        size,
        op,
        dst,
        src: reg(src)?,
        off,
    }))
}

fn call(mnemonic: &str, ops: &[&str]) -> Result<Stmt, AsmErrorKind> {
    let plain = |i: Insn| Ok(Stmt::plain(i));
    match ops {
        [r] if r.starts_with('%') => plain(Insn::CallX { dst: reg(r)? }),
        [id] if mnemonic == "call" => plain(Insn::Call(CallTarget::Helper(imm(id)?))),
        ["helper", id] if mnemonic == "call" => plain(Insn::Call(CallTarget::Helper(imm(id)?))),
        ["runtime", id] if mnemonic == "call" => plain(Insn::Call(CallTarget::Kfunc {
            btf_id: imm(id)?,
            module: 0,
        })),
        ["local", t] if mnemonic == "call" => {
            target(t, true, |off| Insn::Call(CallTarget::Local(off)))
        }
        [mode, _] if mnemonic == "call" => Err(AsmErrorKind::Syntax(format!(
            "invalid call mode `{mode}` (helper, local or runtime)"
        ))),
        _ => Err(AsmErrorKind::OperandCount {
            mnemonic: mnemonic.to_string(),
            expected: if mnemonic == "call" { 2 } else { 1 },
            found: ops.len(),
        }),
    }
}

/// A jump target: `+N` / `-N` (or a bare number) is an offset, anything else a label.
fn target(t: &str, long: bool, make: impl FnOnce(i32) -> Insn) -> Result<Stmt, AsmErrorKind> {
    let numeric = t.starts_with(['+', '-']) || t.starts_with(|c: char| c.is_ascii_digit());
    if !numeric {
        return Ok(Stmt {
            insn: make(0),
            label: Some(t.to_string()),
        });
    }
    let (v, hex) = number(t)?;
    let off = if long {
        imm32(v, hex, false)?
    } else {
        i32::from(off16(v, hex)?)
    };
    Ok(Stmt::plain(make(off)))
}

fn reg(s: &str) -> Result<Reg, AsmErrorKind> {
    s.strip_prefix("%r")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u8>().ok())
        .and_then(Reg::new)
        .ok_or_else(|| AsmErrorKind::InvalidRegister(s.to_string()))
}

fn operand(s: &str) -> Result<Operand, AsmErrorKind> {
    if s.starts_with('%') {
        Ok(Operand::Reg(reg(s)?))
    } else {
        Ok(Operand::Imm(imm(s)?))
    }
}

/// A number with optional sign; hex if it contains `0x`.
fn number(s: &str) -> Result<(i128, bool), AsmErrorKind> {
    let bad = || AsmErrorKind::BadNumber(s.to_string());
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (v, hex) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) => (u64::from_str_radix(h, 16).map_err(|_| bad())?, true),
        None => (body.parse::<u64>().map_err(|_| bad())?, false),
    };
    let v = i128::from(v);
    Ok((if neg { -v } else { v }, hex))
}

fn imm(s: &str) -> Result<i32, AsmErrorKind> {
    let (v, hex) = number(s)?;
    imm32(v, hex, false)
}

/// `[%r1+4]`, `[%r10-0x8]`, `[%r1]`.
fn mem(s: &str) -> Result<(Reg, i16), AsmErrorKind> {
    let inner = s
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| {
            AsmErrorKind::Syntax(format!(
                "expected a memory operand like [%r1+4], found `{s}`"
            ))
        })?;
    match inner.find(['+', '-']) {
        None => Ok((reg(inner)?, 0)),
        Some(i) => {
            let (v, hex) = number(&inner[i..])?;
            Ok((reg(&inner[..i])?, off16(v, hex)?))
        }
    }
}

fn size_suffix(s: &str) -> Option<Size> {
    Some(match s {
        "b" => Size::B,
        "h" => Size::H,
        "w" => Size::W,
        "dw" => Size::DW,
        _ => return None,
    })
}

fn load_size(s: &str) -> Option<(Size, bool)> {
    match s.strip_prefix('s') {
        Some(r @ ("b" | "h" | "w")) => size_suffix(r).map(|z| (z, true)),
        _ => size_suffix(s).map(|z| (z, false)),
    }
}

fn endian(m: &str) -> Option<(Endian, u8)> {
    let (kind, bits) = if let Some(b) = m.strip_prefix("le") {
        (Endian::ToLe, b)
    } else if let Some(b) = m.strip_prefix("be") {
        (Endian::ToBe, b)
    } else if let Some(b) = m.strip_prefix("bswap").or_else(|| m.strip_prefix("swap")) {
        (Endian::Swap, b)
    } else {
        return None;
    };
    match bits {
        "16" => Some((kind, 16)),
        "32" => Some((kind, 32)),
        "64" => Some((kind, 64)),
        _ => None,
    }
}

fn jmp_cond(m: &str) -> Option<JmpCond> {
    Some(match m {
        "jeq" => JmpCond::Eq,
        "jgt" => JmpCond::Gt,
        "jge" => JmpCond::Ge,
        "jset" => JmpCond::Set,
        "jne" => JmpCond::Ne,
        "jsgt" => JmpCond::Sgt,
        "jsge" => JmpCond::Sge,
        "jlt" => JmpCond::Lt,
        "jle" => JmpCond::Le,
        "jslt" => JmpCond::Slt,
        "jsle" => JmpCond::Sle,
        _ => return None,
    })
}

fn alu_op(m: &str) -> Option<AluOp> {
    Some(match m {
        "add" => AluOp::Add,
        "sub" => AluOp::Sub,
        "mul" => AluOp::Mul,
        "div" => AluOp::Div,
        "sdiv" => AluOp::SDiv,
        "or" => AluOp::Or,
        "and" => AluOp::And,
        "lsh" => AluOp::Lsh,
        "rsh" => AluOp::Rsh,
        "neg" => AluOp::Neg,
        "mod" => AluOp::Mod,
        "smod" => AluOp::SMod,
        "xor" => AluOp::Xor,
        "mov" => AluOp::Mov,
        "arsh" => AluOp::Arsh,
        _ => return None,
    })
}
