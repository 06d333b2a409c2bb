//! Statement parser for the kernel verifier-log / LLVM syntax (everything `disasm` prints, in
//! either style, plus the decimal/label spellings of kernel selftests).
use super::lexer::{Cursor, Tok, imm32, imm64, lex, off16};
use super::{AsmErrorKind, Stmt};
use crate::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, Operand, Reg, Size, Width,
};

/// A jump target: a relative slot offset or a label.
enum Target {
    Rel(i128, bool),
    Label(String),
}

/// Parses one statement.
pub(super) fn parse(s: &str) -> Result<Stmt, AsmErrorKind> {
    let mut c = Cursor::new(lex(s)?);
    let stmt = match c.peek().cloned() {
        Some(Tok::Ident(word)) if !c.at_reg() => {
            c.next();
            match word.as_str() {
                "exit" => Stmt::plain(Insn::Exit),
                "goto" | "gotol" | "may_goto" => goto(&mut c, &word)?,
                "if" => cond_jump(&mut c)?,
                "call" => call(&mut c)?,
                "callx" => Stmt::plain(Insn::CallX { dst: c.any_reg()? }),
                "lock" => lock(&mut c)?,
                "store_release" => {
                    c.expect_op("(")?;
                    let (size, _) = typed_ptr(&mut c)?;
                    let (dst, off) = mem(&mut c)?;
                    c.expect_op(",")?;
                    let src = c.any_reg()?;
                    c.expect_op(")")?;
                    Stmt::plain(Insn::Atomic {
                        size,
                        op: AtomicOp::StoreRelease,
                        dst,
                        src,
                        off,
                    })
                }
                _ => return Err(AsmErrorKind::UnknownMnemonic(word)),
            }
        }
        Some(Tok::Op("*")) => {
            c.next();
            let (size, _) = typed_ptr(&mut c)?;
            let (dst, off) = mem(&mut c)?;
            c.expect_op("=")?;
            let src = if c.at_reg() {
                Operand::Reg(c.any_reg()?)
            } else {
                let (v, hex) = c.int()?;
                Operand::Imm(imm32(v, hex, true)?)
            };
            Stmt::plain(Insn::Store {
                size,
                dst,
                off,
                src,
            })
        }
        Some(Tok::Ident(_)) => assignment(&mut c)?,
        Some(t) => {
            return Err(AsmErrorKind::Syntax(format!(
                "unexpected {t} at start of statement"
            )));
        }
        None => return Err(AsmErrorKind::Syntax("empty statement".into())),
    };
    c.end()?;
    Ok(stmt)
}

fn target(c: &mut Cursor) -> Result<Target, AsmErrorKind> {
    if c.eat_ident("pc") || c.at_int() {
        let (v, hex) = c.int()?;
        Ok(Target::Rel(v, hex))
    } else {
        Ok(Target::Label(c.ident()?))
    }
}

/// Builds the statement for a jump whose offset field is 16 bits (`long == false`) or 32 bits.
fn with_target(
    t: Target,
    long: bool,
    make: impl FnOnce(i32) -> Insn,
) -> Result<Stmt, AsmErrorKind> {
    match t {
        Target::Label(l) => Ok(Stmt {
            insn: make(0),
            label: Some(l),
        }),
        Target::Rel(v, hex) => {
            let off = if long {
                imm32(v, hex, false)?
            } else {
                // Jump offsets are written signed; no hex bit patterns here.
                i32::from(off16(v, false)?)
            };
            Ok(Stmt::plain(make(off)))
        }
    }
}

fn goto(c: &mut Cursor, word: &str) -> Result<Stmt, AsmErrorKind> {
    let t = target(c)?;
    match word {
        "goto" => with_target(t, false, |off| Insn::Ja { off, long: false }),
        "gotol" => with_target(t, true, |off| Insn::Ja { off, long: true }),
        _ => with_target(t, false, |off| Insn::MayGoto { off: off as i16 }),
    }
}

fn cond_jump(c: &mut Cursor) -> Result<Stmt, AsmErrorKind> {
    let (width, dst) = c.reg()?;
    let cond = match c.next() {
        Some(Tok::Op(o)) => match o {
            "==" => JmpCond::Eq,
            "!=" => JmpCond::Ne,
            ">" => JmpCond::Gt,
            ">=" => JmpCond::Ge,
            "<" => JmpCond::Lt,
            "<=" => JmpCond::Le,
            "s>" => JmpCond::Sgt,
            "s>=" => JmpCond::Sge,
            "s<" => JmpCond::Slt,
            "s<=" => JmpCond::Sle,
            "&" => JmpCond::Set,
            _ => return Err(AsmErrorKind::Syntax(format!("`{o}` is not a comparison"))),
        },
        _ => {
            return Err(AsmErrorKind::Syntax(
                "expected a comparison operator".into(),
            ));
        }
    };
    let src = if c.at_reg() {
        Operand::Reg(c.any_reg()?)
    } else {
        let (v, hex) = c.int()?;
        Operand::Imm(imm32(v, hex, true)?)
    };
    c.expect_ident("goto")?;
    let t = target(c)?;
    with_target(t, false, |off| Insn::Jump {
        width,
        cond,
        dst,
        src,
        off: off as i16,
    })
}

fn call(c: &mut Cursor) -> Result<Stmt, AsmErrorKind> {
    if c.eat_ident("pc") {
        let (v, hex) = c.int()?;
        return Ok(Stmt::plain(Insn::Call(CallTarget::Local(imm32(
            v, hex, false,
        )?))));
    }
    if c.at_int() {
        let (v, hex) = c.int()?;
        return Ok(Stmt::plain(Insn::Call(CallTarget::Helper(imm32(
            v, hex, true,
        )?))));
    }
    let name = c.ident()?;
    if !c.eat_op("#") {
        // `call label`: a local function.
        return Ok(Stmt {
            insn: Insn::Call(CallTarget::Local(0)),
            label: Some(name),
        });
    }
    let (v, hex) = c.int()?;
    let id = imm32(v, hex, true)?;
    if c.eat_op("@") {
        let (m, mhex) = c.int()?;
        let module = off16(m, mhex)?;
        return Ok(Stmt::plain(Insn::Call(CallTarget::Kfunc {
            btf_id: id,
            module,
        })));
    }
    Ok(Stmt::plain(Insn::Call(if name == "kernel-function" {
        CallTarget::Kfunc {
            btf_id: id,
            module: 0,
        }
    } else {
        CallTarget::Helper(id)
    })))
}

fn lock(c: &mut Cursor) -> Result<Stmt, AsmErrorKind> {
    c.expect_op("*")?;
    let (size, _) = typed_ptr(c)?;
    let (dst, off) = mem(c)?;
    let op = match c.next() {
        Some(Tok::Op("+=")) => AtomicOp::Add { fetch: false },
        Some(Tok::Op("|=")) => AtomicOp::Or { fetch: false },
        Some(Tok::Op("&=")) => AtomicOp::And { fetch: false },
        Some(Tok::Op("^=")) => AtomicOp::Xor { fetch: false },
        _ => {
            return Err(AsmErrorKind::Syntax(
                "expected `+=`, `|=`, `&=` or `^=` after lock".into(),
            ));
        }
    };
    let src = c.any_reg()?;
    Ok(Stmt::plain(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    }))
}

/// `(u32 *)` → size and signedness.
fn typed_ptr(c: &mut Cursor) -> Result<(Size, bool), AsmErrorKind> {
    c.expect_op("(")?;
    let ty = c.ident()?;
    let r = match ty.as_str() {
        "u8" => (Size::B, false),
        "u16" => (Size::H, false),
        "u32" => (Size::W, false),
        "u64" => (Size::DW, false),
        "s8" => (Size::B, true),
        "s16" => (Size::H, true),
        "s32" => (Size::W, true),
        _ => return Err(AsmErrorKind::Syntax(format!("unknown access type `{ty}`"))),
    };
    c.expect_op("*")?;
    c.expect_op(")")?;
    Ok(r)
}

/// `(r1 +4)`, `(r10 - 0x8)`, `(r1)`.
fn mem(c: &mut Cursor) -> Result<(Reg, i16), AsmErrorKind> {
    c.expect_op("(")?;
    let r = bare_mem(c)?;
    c.expect_op(")")?;
    Ok(r)
}

/// `r1 +4` without parentheses (LLVM `xchg_64(r10 - 0x8, r1)`).
fn bare_mem(c: &mut Cursor) -> Result<(Reg, i16), AsmErrorKind> {
    let reg = c.any_reg()?;
    let off = if c.is_op("+") || c.is_op("-") {
        let (v, hex) = c.int()?;
        off16(v, hex)?
    } else {
        0
    };
    Ok((reg, off))
}

fn assignment(c: &mut Cursor) -> Result<Stmt, AsmErrorKind> {
    let (width, dst) = c.reg()?;
    let op = match c.next() {
        Some(Tok::Op(o)) => o,
        _ => {
            return Err(AsmErrorKind::Syntax(format!(
                "expected an operator after {dst}"
            )));
        }
    };
    let alu = |op: AluOp, src: Operand| {
        Stmt::plain(Insn::Alu {
            width,
            op,
            dst,
            src,
        })
    };
    let aop = match op {
        "=" => return rhs(c, width, dst),
        "+=" => AluOp::Add,
        "-=" => AluOp::Sub,
        "*=" => AluOp::Mul,
        "/=" => AluOp::Div,
        "s/=" => AluOp::SDiv,
        "|=" => AluOp::Or,
        "&=" => AluOp::And,
        "<<=" => AluOp::Lsh,
        ">>=" => AluOp::Rsh,
        "s>>=" => AluOp::Arsh,
        "%=" => AluOp::Mod,
        "s%=" => AluOp::SMod,
        "^=" => AluOp::Xor,
        _ => {
            return Err(AsmErrorKind::Syntax(format!(
                "`{op}` is not an assignment operator"
            )));
        }
    };
    if c.at_reg() {
        Ok(alu(aop, Operand::Reg(c.any_reg()?)))
    } else {
        let (v, hex) = c.int()?;
        Ok(alu(aop, Operand::Imm(imm32(v, hex, true)?)))
    }
}

/// The right-hand side of `dst = ...`.
fn rhs(c: &mut Cursor, width: Width, dst: Reg) -> Result<Stmt, AsmErrorKind> {
    let mov = |op: AluOp, src: Operand| {
        Stmt::plain(Insn::Alu {
            width,
            op,
            dst,
            src,
        })
    };
    // `r0 = -r0`
    if c.is_op("-") && matches!(c.peek_at(1), Some(Tok::Ident(_))) {
        c.next();
        let (w, r) = c.reg()?;
        if r != dst || w != width {
            return Err(AsmErrorKind::Syntax(format!(
                "negation must be `{0}{1} = -{0}{1}`",
                if width == Width::W32 { 'w' } else { 'r' },
                dst.num()
            )));
        }
        return Ok(mov(AluOp::Neg, Operand::Imm(0)));
    }
    if c.at_reg() {
        return Ok(mov(AluOp::Mov, Operand::Reg(c.any_reg()?)));
    }
    if c.at_int() {
        let (v, hex) = c.int()?;
        let ll = c.eat_ident("ll");
        if ll || (width == Width::W64 && i32::try_from(v).is_err()) {
            let (imm, next_imm) = imm64(v)?;
            return Ok(Stmt::plain(Insn::LdImm64 {
                dst,
                kind: LdImm64Kind::Imm,
                imm,
                next_imm,
            }));
        }
        return Ok(mov(AluOp::Mov, Operand::Imm(imm32(v, hex, true)?)));
    }
    if c.is_op("(") {
        // `(s8)r2`
        c.next();
        let cast = c.ident()?;
        c.expect_op(")")?;
        let op = match cast.as_str() {
            "s8" => AluOp::MovSx8,
            "s16" => AluOp::MovSx16,
            "s32" => AluOp::MovSx32,
            _ => return Err(AsmErrorKind::Syntax(format!("unknown cast `({cast})`"))),
        };
        return Ok(mov(op, Operand::Reg(c.any_reg()?)));
    }
    if c.eat_op("*") {
        let (size, signed) = typed_ptr(c)?;
        if c.eat_ident("skb") {
            return skb_load(c, dst, size);
        }
        let (src, off) = mem(c)?;
        return Ok(Stmt::plain(Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        }));
    }
    let word = c.ident()?;
    let same_reg = |c: &mut Cursor| -> Result<Reg, AsmErrorKind> {
        let r = c.any_reg()?;
        if r == dst {
            Ok(r)
        } else {
            Err(AsmErrorKind::Syntax(format!(
                "expected {dst} as the operand, found {r}"
            )))
        }
    };
    if let Some((kind, bits)) = endian_word(&word) {
        same_reg(c)?;
        return Ok(Stmt::plain(Insn::Endian { kind, dst, bits }));
    }
    let atomic = |size, op, adst, asrc, off| {
        Stmt::plain(Insn::Atomic {
            size,
            op,
            dst: adst,
            src: asrc,
            off,
        })
    };
    match word.as_str() {
        "map" | "btf_id" | "func" => pseudo_ldimm64(c, dst, &word),
        "addr_space_cast" => {
            c.expect_op("(")?;
            let src = c.any_reg()?;
            c.expect_op(",")?;
            let (d, dhex) = c.int()?;
            c.expect_op(",")?;
            let (s, shex) = c.int()?;
            c.expect_op(")")?;
            let as16 = |v: i128, hex: bool| {
                u16::try_from(v).map_err(|_| AsmErrorKind::ImmOutOfRange {
                    value: if hex {
                        format!("{v:#x}")
                    } else {
                        v.to_string()
                    },
                    bits: 16,
                })
            };
            Ok(Stmt::plain(Insn::AddrSpaceCast {
                dst,
                src,
                dst_as: as16(d, dhex)?,
                src_as: as16(s, shex)?,
            }))
        }
        "load_acquire" => {
            c.expect_op("(")?;
            let (size, _) = typed_ptr(c)?;
            let (src, off) = mem(c)?;
            c.expect_op(")")?;
            Ok(atomic(size, AtomicOp::LoadAcquire, dst, src, off))
        }
        // LLVM: `r1 = xchg_64(r10 - 0x8, r1)`, `w0 = cmpxchg32_32(r10 - 0x8, w0, w1)`.
        "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => {
            let size = if word.ends_with("_64") {
                Size::DW
            } else {
                Size::W
            };
            c.expect_op("(")?;
            let (base, off) = bare_mem(c)?;
            c.expect_op(",")?;
            let op = if word.starts_with("cmpxchg") {
                expect_r0(c)?;
                c.expect_op(",")?;
                AtomicOp::CmpXchg
            } else {
                AtomicOp::Xchg
            };
            let src = c.any_reg()?;
            c.expect_op(")")?;
            if op == AtomicOp::Xchg && src != dst {
                return Err(AsmErrorKind::Syntax(format!(
                    "xchg must assign to its source {src}"
                )));
            }
            if op == AtomicOp::CmpXchg && dst != Reg::R0 {
                return Err(AsmErrorKind::Syntax("cmpxchg always assigns to r0".into()));
            }
            Ok(atomic(size, op, base, src, off))
        }
        _ => kernel_atomic(c, dst, &word),
    }
}

fn expect_r0(c: &mut Cursor) -> Result<(), AsmErrorKind> {
    if c.any_reg()? == Reg::R0 {
        Ok(())
    } else {
        Err(AsmErrorKind::Syntax("cmpxchg compares with r0".into()))
    }
}

/// Kernel `atomic64_fetch_add((u64 *)(r10 -8), r1)`, `atomic_xchg(...)`, `atomic_cmpxchg(...)`,
/// and LLVM `atomic_fetch_add((u64 *)(r10 - 0x8), r1)`.
fn kernel_atomic(c: &mut Cursor, dst: Reg, word: &str) -> Result<Stmt, AsmErrorKind> {
    let unknown = || AsmErrorKind::Syntax(format!("unknown operation `{word}`"));
    let rest = word
        .strip_prefix("atomic64_")
        .or_else(|| word.strip_prefix("atomic_"))
        .ok_or_else(unknown)?;
    let op = match rest {
        "fetch_add" => AtomicOp::Add { fetch: true },
        "fetch_or" => AtomicOp::Or { fetch: true },
        "fetch_and" => AtomicOp::And { fetch: true },
        "fetch_xor" => AtomicOp::Xor { fetch: true },
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::CmpXchg,
        _ => return Err(unknown()),
    };
    c.expect_op("(")?;
    let (size, _) = typed_ptr(c)?;
    let (base, off) = mem(c)?;
    c.expect_op(",")?;
    if op == AtomicOp::CmpXchg {
        expect_r0(c)?;
        c.expect_op(",")?;
        if dst != Reg::R0 {
            return Err(AsmErrorKind::Syntax("cmpxchg always assigns to r0".into()));
        }
    }
    let src = c.any_reg()?;
    c.expect_op(")")?;
    if op != AtomicOp::CmpXchg && src != dst {
        return Err(AsmErrorKind::Syntax(format!(
            "{word} returns the old value in its source register {src}"
        )));
    }
    Ok(Stmt::plain(Insn::Atomic {
        size,
        op,
        dst: base,
        src,
        off,
    }))
}

fn endian_word(w: &str) -> Option<(Endian, u8)> {
    let (kind, bits) = if let Some(b) = w.strip_prefix("bswap") {
        (Endian::Swap, b)
    } else if let Some(b) = w.strip_prefix("be") {
        (Endian::ToBe, b)
    } else if let Some(b) = w.strip_prefix("le") {
        (Endian::ToLe, b)
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

/// `skb[12]`, `skb[r1 + 12]`, `skb[r1]` after `r0 = *(u8 *)`.
fn skb_load(c: &mut Cursor, dst: Reg, size: Size) -> Result<Stmt, AsmErrorKind> {
    if dst != Reg::R0 {
        return Err(AsmErrorKind::Syntax(
            "legacy packet loads always load into r0".into(),
        ));
    }
    c.expect_op("[")?;
    let insn = if c.at_reg() {
        let src = c.any_reg()?;
        let imm = if c.is_op("+") || c.is_op("-") {
            if c.eat_op("+") && !c.at_int() {
                return Err(c.expected("a number"));
            }
            let (v, hex) = c.int()?;
            imm32(v, hex, true)?
        } else {
            0
        };
        Insn::LdInd { size, src, imm }
    } else {
        let (v, hex) = c.int()?;
        Insn::LdAbs {
            size,
            imm: imm32(v, hex, true)?,
        }
    };
    c.expect_op("]")?;
    Ok(Stmt::plain(insn))
}

/// `map[fd:3]`, `map[idx:3][0]+16`, `btf_id[7]`, `func[pc+5]`, each optionally `[hi:N]`.
fn pseudo_ldimm64(c: &mut Cursor, dst: Reg, word: &str) -> Result<Stmt, AsmErrorKind> {
    let int32 = |c: &mut Cursor| -> Result<i32, AsmErrorKind> {
        let (v, hex) = c.int()?;
        imm32(v, hex, true)
    };
    c.expect_op("[")?;
    let (kind, imm, mut next_imm) = match word {
        "map" => {
            let by = c.ident()?;
            c.expect_op(":")?;
            let n = int32(c)?;
            c.expect_op("]")?;
            let value = c.is_op("[") && matches!(c.peek_at(1), Some(Tok::Num { value: 0, .. }));
            let off = if value {
                c.expect_op("[")?;
                c.int()?;
                c.expect_op("]")?;
                c.expect_op("+")?;
                int32(c)?
            } else {
                0
            };
            let kind = match (by.as_str(), value) {
                ("fd", false) => LdImm64Kind::MapFd,
                ("fd", true) => LdImm64Kind::MapValue,
                ("idx", false) => LdImm64Kind::MapIdx,
                ("idx", true) => LdImm64Kind::MapIdxValue,
                _ => {
                    return Err(AsmErrorKind::Syntax(format!(
                        "expected `fd` or `idx`, found `{by}`"
                    )));
                }
            };
            (kind, n, off)
        }
        "btf_id" => {
            let n = int32(c)?;
            c.expect_op("]")?;
            (LdImm64Kind::BtfId, n, 0)
        }
        _ => {
            c.expect_ident("pc")?;
            let n = int32(c)?;
            c.expect_op("]")?;
            (LdImm64Kind::Func, n, 0)
        }
    };
    if c.eat_op("[") {
        c.expect_ident("hi")?;
        c.expect_op(":")?;
        next_imm = int32(c)?;
        c.expect_op("]")?;
    }
    Ok(Stmt::plain(Insn::LdImm64 {
        dst,
        kind,
        imm,
        next_imm,
    }))
}
