//! The disassembler: typed instructions to text, in the two syntaxes BPF people read.
//!
//! * [`Style::Kernel`] is the text of the Linux verifier log (`kernel/bpf/disasm.c`):
//!   `r0 = *(u32 *)(r1 +4)`, `w0 += 1`, `if r1 > 0x7 goto pc+3`, `call bpf_map_lookup_elem#1`,
//!   `r1 = atomic64_fetch_add((u64 *)(r10 -8), r1)`, `r1 = 0x1234`. The log line prefix
//!   `"(b7) "` is added with [`Options::opcode_prefix`].
//! * [`Style::Llvm`] is the text of `llvm-objdump -d --mcpu=v4`: `r0 = *(u32 *)(r1 + 0x4)`,
//!   `w0 += 0x1`, `if r1 > 0x7 goto +0x3`, `call 0x1`, `r1 = 0x1234 ll`,
//!   `w0 = cmpxchg32_32(r10 - 0x8, w0, w1)`.
//!
//! Where neither tool has a spelling that keeps all the information (pseudo `lddw` sources,
//! local calls and kfunc modules in LLVM style, `callx` in kernel style) both styles use the same
//! extension: `r1 = map[fd:3]`, `r1 = map[idx:2][0]+16`, `r1 = btf_id[7]`, `r1 = func[pc+5]`,
//! `call pc+2`, `call kernel-function#123@1`, `callx r2`. The [`crate::asm`] assembler reads
//! every line either style prints back to the same instruction, except that a kernel-style
//! `lddw` of a constant that fits 32 bits (`r1 = 0x5`) reads back as `mov` (the kernel log does
//! not distinguish them; LLVM style adds ` ll`).
use std::fmt::{self, Write as _};

use crate::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, Located, Operand, Reg, Size,
    Width,
};

/// Which syntax to print.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Style {
    /// The Linux verifier log (`kernel/bpf/disasm.c`).
    #[default]
    Kernel,
    /// `llvm-objdump` (hexadecimal immediates, `goto +0x3`, ` ll` on `lddw`).
    Llvm,
}

/// Resolves a helper id to its name (`1` → `bpf_map_lookup_elem`).
pub type HelperNames<'a> = &'a dyn Fn(i32) -> Option<&'a str>;
/// Resolves a kfunc (BTF id, module index) to its name.
pub type KfuncNames<'a> = &'a dyn Fn(i32, i16) -> Option<&'a str>;

/// Disassembly options.
#[derive(Clone, Copy, Default)]
pub struct Options<'a> {
    /// The syntax.
    pub style: Style,
    /// Names of helpers; without it (or when it returns `None`) helpers print as `unknown#id`
    /// like the kernel does for ids it has no name for.
    pub helper_name: Option<HelperNames<'a>>,
    /// Names of kfuncs; without it kfuncs print as `kernel-function#id`.
    pub kfunc_name: Option<KfuncNames<'a>>,
    /// Prefix each instruction with its opcode byte in parentheses, as the verifier log does:
    /// `(b7) r0 = 0`.
    pub opcode_prefix: bool,
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("style", &self.style)
            .field("helper_name", &self.helper_name.is_some())
            .field("kfunc_name", &self.kfunc_name.is_some())
            .field("opcode_prefix", &self.opcode_prefix)
            .finish()
    }
}

impl<'a> Options<'a> {
    /// Kernel style, no resolvers.
    pub fn kernel() -> Self {
        Options::default()
    }
    /// LLVM style, no resolvers.
    pub fn llvm() -> Self {
        Options {
            style: Style::Llvm,
            ..Options::default()
        }
    }
}

/// An instruction together with the options to print it; implements [`fmt::Display`].
#[derive(Clone, Copy, Debug)]
pub struct Disasm<'i, 'a> {
    insn: &'i Insn,
    opts: &'i Options<'a>,
}

/// Wraps an instruction for printing with `opts`.
pub fn display<'i, 'a>(insn: &'i Insn, opts: &'i Options<'a>) -> Disasm<'i, 'a> {
    Disasm { insn, opts }
}

/// Formats one instruction.
pub fn format_insn(insn: &Insn, opts: &Options<'_>) -> String {
    display(insn, opts).to_string()
}

/// Formats a program, one instruction per line. Kernel style prints verifier-log lines
/// (`3: (b7) r0 = 0`, the opcode prefix always on); LLVM style prints `llvm-objdump`-like lines
/// with a label `L<slot>:` before every jump or call target and the targets written as labels,
/// which [`crate::asm::assemble`] reads back.
pub fn format_program(insns: &[Located], opts: &Options<'_>) -> String {
    let mut out = String::new();
    match opts.style {
        Style::Kernel => {
            let o = Options {
                opcode_prefix: true,
                ..*opts
            };
            for l in insns {
                let _ = writeln!(out, "{}: {}", l.slot, display(&l.insn, &o));
            }
        }
        Style::Llvm => {
            let targets: std::collections::BTreeSet<i64> =
                insns.iter().filter_map(jump_target).collect();
            let starts: std::collections::BTreeSet<i64> =
                insns.iter().map(|l| l.slot as i64).collect();
            for l in insns {
                if targets.contains(&(l.slot as i64)) {
                    let _ = writeln!(out, "L{}:", l.slot);
                }
                let text = match jump_target(l) {
                    Some(t) if starts.contains(&t) => with_label(&l.insn, t, opts),
                    _ => display(&l.insn, opts).to_string(),
                };
                let _ = writeln!(out, "\t{text}");
            }
            // A target one past the end (a jump to the end of the program) still gets a label.
            let end = insns.last().map_or(0, |l| (l.slot + l.insn.slots()) as i64);
            if targets.contains(&end) {
                let _ = writeln!(out, "L{end}:");
            }
        }
    }
    out
}

/// The absolute slot a jump or local call at `l` goes to.
fn jump_target(l: &Located) -> Option<i64> {
    let next = l.slot as i64 + 1;
    match l.insn {
        Insn::Ja { off, .. } => Some(next + i64::from(off)),
        Insn::Jump { off, .. } | Insn::MayGoto { off } => Some(next + i64::from(off)),
        Insn::Call(CallTarget::Local(rel)) => Some(next + i64::from(rel)),
        _ => None,
    }
}

fn with_label(insn: &Insn, target: i64, opts: &Options<'_>) -> String {
    let label = format!("L{target}");
    let text = display(insn, opts).to_string();
    match insn {
        Insn::Call(_) => format!("call {label}"),
        _ => match text.rfind(' ') {
            Some(i) => format!("{} {label}", &text[..i]),
            None => text,
        },
    }
}

impl fmt::Display for Insn {
    /// Kernel verifier-log syntax without resolvers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&display(self, &Options::default()), f)
    }
}

impl fmt::Display for Disasm<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.opts.opcode_prefix {
            write!(f, "({:02x}) ", crate::encode_one(self.insn)[0].code)?;
        }
        match self.opts.style {
            Style::Kernel => kernel(self.insn, self.opts, f),
            Style::Llvm => llvm(self.insn, self.opts, f),
        }
    }
}

const fn reg_prefix(width: Width) -> char {
    match width {
        Width::W32 => 'w',
        Width::W64 => 'r',
    }
}

/// Register `r` printed with the `w`/`r` prefix of `width`.
struct WReg(Width, Reg);

impl fmt::Display for WReg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", reg_prefix(self.0), self.1.num())
    }
}

/// The operator of an ALU operation (`+=`, `s/=`, ...); `None` for `neg` and moves.
const fn alu_operator(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Arsh => "s>>=",
        AluOp::Neg | AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => "=",
    }
}

const fn movsx_cast(op: AluOp) -> &'static str {
    match op {
        AluOp::MovSx8 => "(s8)",
        AluOp::MovSx16 => "(s16)",
        AluOp::MovSx32 => "(s32)",
        _ => "",
    }
}

/// The comparison operator of a conditional jump.
pub const fn jmp_operator(cond: JmpCond) -> &'static str {
    match cond {
        JmpCond::Eq => "==",
        JmpCond::Gt => ">",
        JmpCond::Ge => ">=",
        JmpCond::Set => "&",
        JmpCond::Ne => "!=",
        JmpCond::Sgt => "s>",
        JmpCond::Sge => "s>=",
        JmpCond::Lt => "<",
        JmpCond::Le => "<=",
        JmpCond::Slt => "s<",
        JmpCond::Sle => "s<=",
    }
}

/// The C type of a sign-extending load (`s8`, `s16`, `s32`).
const fn signed_type(size: Size) -> &'static str {
    match size {
        Size::B => "s8",
        Size::H => "s16",
        Size::W => "s32",
        Size::DW => "s64",
    }
}

const fn atomic_name(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add { .. } => "add",
        AtomicOp::Or { .. } => "or",
        AtomicOp::And { .. } => "and",
        AtomicOp::Xor { .. } => "xor",
        AtomicOp::Xchg => "xchg",
        AtomicOp::CmpXchg => "cmpxchg",
        AtomicOp::LoadAcquire => "load_acquire",
        AtomicOp::StoreRelease => "store_release",
    }
}

const fn atomic_operator(op: AtomicOp) -> &'static str {
    match op {
        AtomicOp::Add { .. } => "+=",
        AtomicOp::Or { .. } => "|=",
        AtomicOp::And { .. } => "&=",
        _ => "^=",
    }
}

/// Signed hexadecimal as LLVM prints it: `0x1f`, `-0x8`.
struct Hex(i64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

/// Signed hexadecimal with an explicit sign: `+0x3`, `-0x3`.
struct SignedHex(i64);

impl fmt::Display for SignedHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "+{:#x}", self.0)
        }
    }
}

/// The right-hand side of a pseudo `lddw` (shared by both styles), or `None` for plain constants.
fn pseudo_ldimm64(kind: LdImm64Kind, imm: i32, next_imm: i32) -> Option<String> {
    let (text, uses_next) = match kind {
        LdImm64Kind::Imm => return None,
        LdImm64Kind::MapFd => (format!("map[fd:{imm}]"), false),
        LdImm64Kind::MapIdx => (format!("map[idx:{imm}]"), false),
        LdImm64Kind::MapValue => (format!("map[fd:{imm}][0]+{}", next_imm as u32), true),
        LdImm64Kind::MapIdxValue => (format!("map[idx:{imm}][0]+{}", next_imm as u32), true),
        LdImm64Kind::BtfId => (format!("btf_id[{imm}]"), false),
        LdImm64Kind::Func => (format!("func[pc{imm:+}]"), false),
    };
    Some(if !uses_next && next_imm != 0 {
        format!("{text}[hi:{next_imm}]")
    } else {
        text
    })
}

fn helper_text(id: i32, opts: &Options<'_>) -> String {
    let name = opts.helper_name.and_then(|h| h(id)).unwrap_or("unknown");
    format!("{name}#{id}")
}

fn kfunc_text(btf_id: i32, module: i16, opts: &Options<'_>) -> String {
    let name = opts
        .kfunc_name
        .and_then(|k| k(btf_id, module))
        .unwrap_or("kernel-function");
    if module == 0 {
        format!("{name}#{btf_id}")
    } else {
        format!("{name}#{btf_id}@{module}")
    }
}

fn kernel(insn: &Insn, opts: &Options<'_>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let d = WReg(width, dst);
            match (op, src) {
                (AluOp::Neg, _) => write!(f, "{d} = -{d}"),
                (_, Operand::Reg(s)) => write!(
                    f,
                    "{d} {} {}{}",
                    alu_operator(op),
                    movsx_cast(op),
                    WReg(width, s)
                ),
                (_, Operand::Imm(i)) => write!(f, "{d} {} {i}", alu_operator(op)),
            }
        }
        Insn::Endian { kind, dst, bits } => match kind {
            Endian::ToLe => write!(f, "{dst} = le{bits} {dst}"),
            Endian::ToBe => write!(f, "{dst} = be{bits} {dst}"),
            Endian::Swap => write!(f, "{dst} = bswap{bits} {dst}"),
        },
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let ty = if signed {
                signed_type(size)
            } else {
                size.c_type()
            };
            write!(f, "{dst} = *({ty} *)({src} {off:+})")
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            write!(f, "*({} *)({dst} {off:+}) = ", size.c_type())?;
            match src {
                Operand::Reg(s) => write!(f, "{s}"),
                Operand::Imm(i) => write!(f, "{i}"),
            }
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let ty = size.c_type();
            let n64 = if size == Size::DW { "64" } else { "" };
            match op {
                AtomicOp::Add { fetch: false }
                | AtomicOp::Or { fetch: false }
                | AtomicOp::And { fetch: false }
                | AtomicOp::Xor { fetch: false } => write!(
                    f,
                    "lock *({ty} *)({dst} {off:+}) {} {src}",
                    atomic_operator(op)
                ),
                AtomicOp::Add { .. }
                | AtomicOp::Or { .. }
                | AtomicOp::And { .. }
                | AtomicOp::Xor { .. } => write!(
                    f,
                    "{src} = atomic{n64}_fetch_{}(({ty} *)({dst} {off:+}), {src})",
                    atomic_name(op)
                ),
                AtomicOp::Xchg => write!(
                    f,
                    "{src} = atomic{n64}_xchg(({ty} *)({dst} {off:+}), {src})"
                ),
                AtomicOp::CmpXchg => write!(
                    f,
                    "r0 = atomic{n64}_cmpxchg(({ty} *)({dst} {off:+}), r0, {src})"
                ),
                AtomicOp::LoadAcquire => {
                    write!(f, "{dst} = load_acquire(({ty} *)({src} {off:+}))")
                }
                AtomicOp::StoreRelease => {
                    write!(f, "store_release(({ty} *)({dst} {off:+}), {src})")
                }
            }
        }
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => match pseudo_ldimm64(kind, imm, next_imm) {
            Some(text) => write!(f, "{dst} = {text}"),
            None => write!(f, "{dst} = {:#x}", Insn::imm64(imm, next_imm)),
        },
        Insn::LdAbs { size, imm } => write!(f, "r0 = *({} *)skb[{imm}]", size.c_type()),
        Insn::LdInd { size, src, imm } => {
            write!(f, "r0 = *({} *)skb[{src} + {imm}]", size.c_type())
        }
        Insn::Ja { off, long: false } => write!(f, "goto pc{off:+}"),
        Insn::Ja { off, long: true } => write!(f, "gotol pc{off:+}"),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            write!(f, "if {} {} ", WReg(width, dst), jmp_operator(cond))?;
            match src {
                Operand::Reg(s) => write!(f, "{}", WReg(width, s))?,
                Operand::Imm(i) => write!(f, "{:#x}", i as u32)?,
            }
            write!(f, " goto pc{off:+}")
        }
        Insn::Call(CallTarget::Helper(id)) => write!(f, "call {}", helper_text(id, opts)),
        Insn::Call(CallTarget::Local(rel)) => write!(f, "call pc{rel:+}"),
        Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
            write!(f, "call {}", kfunc_text(btf_id, module, opts))
        }
        Insn::CallX { dst } => write!(f, "callx {dst}"),
        Insn::MayGoto { off } => write!(f, "may_goto pc{off:+}"),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => write!(f, "{dst} = addr_space_cast({src}, {dst_as}, {src_as})"),
        Insn::Exit => f.write_str("exit"),
    }
}

/// `(r1 + 0x4)`-style memory operand of LLVM.
struct Mem(Reg, i16);

impl fmt::Display for Mem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let off = i32::from(self.1);
        if off < 0 {
            write!(f, "{} - {:#x}", self.0, off.unsigned_abs())
        } else {
            write!(f, "{} + {:#x}", self.0, off)
        }
    }
}

fn llvm(insn: &Insn, opts: &Options<'_>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let d = WReg(width, dst);
            match (op, src) {
                (AluOp::Neg, _) => write!(f, "{d} = -{d}"),
                (_, Operand::Reg(s)) => write!(
                    f,
                    "{d} {} {}{}",
                    alu_operator(op),
                    movsx_cast(op),
                    WReg(width, s)
                ),
                (_, Operand::Imm(i)) => write!(f, "{d} {} {}", alu_operator(op), Hex(i.into())),
            }
        }
        Insn::Endian { .. } | Insn::CallX { .. } | Insn::Exit => kernel(insn, opts, f),
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let ty = if signed {
                signed_type(size)
            } else {
                size.c_type()
            };
            write!(f, "{dst} = *({ty} *)({})", Mem(src, off))
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => {
            write!(f, "*({} *)({}) = ", size.c_type(), Mem(dst, off))?;
            match src {
                Operand::Reg(s) => write!(f, "{s}"),
                Operand::Imm(i) => write!(f, "{}", Hex(i.into())),
            }
        }
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let ty = size.c_type();
            let w = if size == Size::DW {
                Width::W64
            } else {
                Width::W32
            };
            let s = WReg(w, src);
            let m = Mem(dst, off);
            match op {
                AtomicOp::Add { fetch: false }
                | AtomicOp::Or { fetch: false }
                | AtomicOp::And { fetch: false }
                | AtomicOp::Xor { fetch: false } => {
                    write!(f, "lock *({ty} *)({m}) {} {s}", atomic_operator(op))
                }
                AtomicOp::Add { .. }
                | AtomicOp::Or { .. }
                | AtomicOp::And { .. }
                | AtomicOp::Xor { .. } => write!(
                    f,
                    "{s} = atomic_fetch_{}(({ty} *)({m}), {s})",
                    atomic_name(op)
                ),
                AtomicOp::Xchg if w == Width::W64 => write!(f, "{s} = xchg_64({m}, {s})"),
                AtomicOp::Xchg => write!(f, "{s} = xchg32_32({m}, {s})"),
                AtomicOp::CmpXchg if w == Width::W64 => write!(f, "r0 = cmpxchg_64({m}, r0, {s})"),
                AtomicOp::CmpXchg => write!(f, "w0 = cmpxchg32_32({m}, w0, {s})"),
                AtomicOp::LoadAcquire => write!(
                    f,
                    "{} = load_acquire(({ty} *)({}))",
                    WReg(w, dst),
                    Mem(src, off)
                ),
                AtomicOp::StoreRelease => write!(f, "store_release(({ty} *)({m}), {s})"),
            }
        }
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => match pseudo_ldimm64(kind, imm, next_imm) {
            Some(text) => write!(f, "{dst} = {text}"),
            None => write!(f, "{dst} = {:#x} ll", Insn::imm64(imm, next_imm)),
        },
        Insn::LdAbs { size, imm } => {
            write!(f, "r0 = *({} *)skb[{}]", size.c_type(), Hex(imm.into()))
        }
        Insn::LdInd { size, src, imm } => write!(
            f,
            "r0 = *({} *)skb[{src} + {}]",
            size.c_type(),
            Hex(imm.into())
        ),
        Insn::Ja { off, long: false } => write!(f, "goto {}", SignedHex(off.into())),
        Insn::Ja { off, long: true } => write!(f, "gotol {}", SignedHex(off.into())),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            write!(f, "if {} {} ", WReg(width, dst), jmp_operator(cond))?;
            match src {
                Operand::Reg(s) => write!(f, "{}", WReg(width, s))?,
                Operand::Imm(i) => write!(f, "{}", Hex(i.into()))?,
            }
            write!(f, " goto {}", SignedHex(off.into()))
        }
        Insn::Call(CallTarget::Helper(id)) => match opts.helper_name.and_then(|h| h(id)) {
            Some(name) => write!(f, "call {name}#{id}"),
            None => write!(f, "call {}", Hex(id.into())),
        },
        Insn::Call(CallTarget::Local(rel)) => write!(f, "call pc{}", SignedHex(rel.into())),
        Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
            write!(f, "call {}", kfunc_text(btf_id, module, opts))
        }
        Insn::MayGoto { off } => write!(f, "may_goto {}", SignedHex(off.into())),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => write!(
            f,
            "{dst} = addr_space_cast({src}, {}, {})",
            Hex(dst_as.into()),
            Hex(src_as.into())
        ),
    }
}
