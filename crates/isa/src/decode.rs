//! The decoder: raw 8-byte slots to typed [`Insn`]s.
//!
//! Every encoding that no valid program can contain is rejected with a [`DecodeErrorKind`] naming
//! the problem. The checks follow the order in which the Linux verifier inspects an instruction
//! (`resolve_pseudo_ldimm64`, the opcode table `bpf_opcode_in_insntable`, then the per-class checks
//! of `do_check`), so that [`DecodeErrorKind::kernel_message`] is the message the kernel prints
//! for the same instruction. Semantic rules (writes to `r10`, division by a zero immediate, shift
//! amounts, jump targets, whether the program has an arena for `addr_space_cast`) are the
//! verifier's job, not this module's.
//!
//! The decoder is a little stricter than the kernel in exactly one place, which the
//! bpf_conformance suite requires: `exit` with a non-zero `off` (the kernel ignores that field).
//! `callx` (`0x8d`) decodes, because RFC 9669 defines it, although the kernel's opcode table does
//! not contain it.
use crate::opcode as op;
use crate::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, Located, Operand, RawInsn,
    Reg, Size, Width,
};

/// A malformed encoding at a slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("instruction {slot}: {kind}")]
pub struct DecodeError {
    /// The raw slot index.
    pub slot: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// The Linux verifier's message for this error (see [`DecodeErrorKind::kernel_message`]).
    pub fn kernel_message(&self) -> Option<String> {
        self.kind.kernel_message(self.slot)
    }
}

/// A field of the raw instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// The destination register nibble.
    Dst,
    /// The source register nibble.
    Src,
    /// The 16-bit offset.
    Off,
    /// The 32-bit immediate.
    Imm,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Dst => "dst register",
            Field::Src => "src register",
            Field::Off => "offset",
            Field::Imm => "immediate",
        })
    }
}

/// The instruction group whose field rule was broken; it selects the kernel's message prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InsnGroup {
    /// ALU operations other than `mov`, `neg` and byte swaps.
    Alu,
    /// `mov`, `movsx`.
    Mov,
    /// `neg`.
    Neg,
    /// Byte-order operations.
    End,
    /// Conditional jumps.
    Jmp,
    /// `ja` / `gotol`.
    Ja,
    /// `call` / `callx`.
    Call,
    /// `exit`.
    Exit,
    /// Register loads.
    Ldx,
    /// Immediate stores.
    St,
    /// Register stores.
    Stx,
    /// `lddw`.
    LdImm64,
    /// Legacy packet loads.
    LdAbsInd,
}

impl InsnGroup {
    /// The kernel's name for the group in "... uses reserved fields".
    const fn kernel_name(self) -> &'static str {
        match self {
            InsnGroup::Alu => "BPF_ALU",
            InsnGroup::Mov => "BPF_MOV",
            InsnGroup::Neg => "BPF_NEG",
            InsnGroup::End => "BPF_END",
            InsnGroup::Jmp => "BPF_JMP/JMP32",
            InsnGroup::Ja => "BPF_JA",
            InsnGroup::Call => "BPF_CALL",
            InsnGroup::Exit => "BPF_EXIT",
            InsnGroup::Ldx => "BPF_LDX",
            InsnGroup::St => "BPF_ST",
            InsnGroup::Stx => "BPF_STX",
            InsnGroup::LdImm64 => "BPF_LD_IMM64",
            InsnGroup::LdAbsInd => "BPF_LD_[ABS|IND]",
        }
    }
    /// Plain-words name used by `Display`.
    const fn plain_name(self) -> &'static str {
        match self {
            InsnGroup::Alu => "ALU",
            InsnGroup::Mov => "mov",
            InsnGroup::Neg => "neg",
            InsnGroup::End => "byte-swap",
            InsnGroup::Jmp => "conditional jump",
            InsnGroup::Ja => "ja",
            InsnGroup::Call => "call",
            InsnGroup::Exit => "exit",
            InsnGroup::Ldx => "load",
            InsnGroup::St => "immediate store",
            InsnGroup::Stx => "register store",
            InsnGroup::LdImm64 => "lddw",
            InsnGroup::LdAbsInd => "legacy packet load",
        }
    }
}

impl std::fmt::Display for InsnGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.plain_name())
    }
}

/// What is wrong with an encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The byte length is not a multiple of 8.
    #[error("{len} bytes is not a whole number of 8-byte instructions")]
    TrailingBytes {
        /// The length.
        len: usize,
    },
    /// The opcode byte is not an instruction.
    #[error("unknown opcode {code:#04x}")]
    UnknownOpcode {
        /// The opcode byte.
        code: u8,
    },
    /// A register field that names a register holds 11..=15.
    #[error("{field} r{reg} does not exist (registers are r0..r10)")]
    InvalidRegister {
        /// Which field.
        field: Field,
        /// The field's value.
        reg: u8,
    },
    /// A field that this instruction does not use (or restricts) has a value it may not have.
    #[error("{group} instruction (opcode {code:#04x}): {field} must be {expected}, found {value}")]
    ReservedField {
        /// Which instruction group (selects the kernel's message).
        group: InsnGroup,
        /// The opcode byte.
        code: u8,
        /// The offending field.
        field: Field,
        /// Its value.
        value: i32,
        /// The allowed values, in words.
        expected: &'static str,
    },
    /// A `BPF_LDX` opcode whose mode is neither `BPF_MEM` nor `BPF_MEMSX`.
    #[error("load opcode {code:#04x} has mode {mode:#04x}; only BPF_MEM (0x60) and BPF_MEMSX (0x80) loads exist", mode = code & 0xe0)]
    LdxBadMode {
        /// The opcode byte.
        code: u8,
    },
    /// `lddw` is the last slot of the program.
    #[error("lddw needs two slots but is the last instruction")]
    LdImm64MissingSecondSlot,
    /// The second slot of `lddw` has a non-zero opcode, register or offset field.
    #[error(
        "second slot of lddw must be all zero except its immediate \
         (found opcode {code:#04x}, dst {dst}, src {src}, off {off})"
    )]
    LdImm64BadSecondSlot {
        /// Opcode byte of the second slot.
        code: u8,
        /// dst field of the second slot.
        dst: u8,
        /// src field of the second slot.
        src: u8,
        /// Offset of the second slot.
        off: i16,
    },
    /// `lddw` with a `src` that is no known pseudo source.
    #[error("lddw with unknown pseudo source {src} (known: 0..=6)")]
    LdImm64UnknownPseudo {
        /// The src field.
        src: u8,
    },
    /// `lddw` of a map fd / map index whose second immediate is not zero.
    #[error(
        "lddw of a map (pseudo source {src}) must have a zero second immediate, found {next_imm}"
    )]
    LdImm64MapNextImm {
        /// The src field.
        src: u8,
        /// The second slot's immediate.
        next_imm: i32,
    },
    /// `BPF_ATOMIC` with an `imm` that is no atomic operation.
    #[error("atomic instruction with unknown operation {imm:#x}")]
    AtomicUnknownOp {
        /// The imm field.
        imm: i32,
    },
    /// A read-modify-write atomic on 1 or 2 bytes.
    #[error("atomic read-modify-write operation {imm:#x} needs a 4 or 8-byte size, found {size:?}")]
    AtomicInvalidSize {
        /// The imm field.
        imm: i32,
        /// The access size.
        size: Size,
    },
    /// `addr_space_cast` between other address spaces than 0 and 1 (also `mov` with `off == 1`
    /// and `imm == 0`).
    #[error(
        "addr_space_cast from address space {src_as} to {dst_as}: only casts between 0 and 1 exist"
    )]
    InvalidAddrSpaceCast {
        /// Destination address space (high half of imm).
        dst_as: u16,
        /// Source address space (low half of imm).
        src_as: u16,
    },
    /// Returned only by [`Insn::validate`]: a typed instruction whose operands no encoding holds.
    #[error("instruction cannot be encoded: {what}")]
    Unencodable {
        /// What does not fit.
        what: &'static str,
    },
    /// `may_goto` with fields it may not have (a zero offset, or non-zero dst/src/imm).
    #[error(
        "invalid may_goto: off {off} must be non-zero, dst {dst}, src {src} and imm {imm} must be zero"
    )]
    InvalidMayGoto {
        /// Offset.
        off: i16,
        /// Immediate.
        imm: i32,
        /// dst field.
        dst: u8,
        /// src field.
        src: u8,
    },
}

impl DecodeErrorKind {
    /// The message the Linux verifier (6.18) prints for an instruction with this defect at
    /// `slot`, without the trailing newline; `None` when the kernel accepts the encoding (only
    /// `exit` with a non-zero offset) or when there is no instruction (trailing bytes).
    pub fn kernel_message(&self, _slot: usize) -> Option<String> {
        Some(match self {
            DecodeErrorKind::TrailingBytes { .. } | DecodeErrorKind::Unencodable { .. } => {
                return None;
            }
            DecodeErrorKind::UnknownOpcode { code } => format!("unknown opcode {code:02x}"),
            DecodeErrorKind::InvalidRegister { reg, .. } => format!("R{reg} is invalid"),
            DecodeErrorKind::ReservedField {
                group: InsnGroup::Exit,
                field: Field::Off,
                ..
            } => return None,
            DecodeErrorKind::LdxBadMode { .. } => "BPF_LDX uses reserved fields".into(),
            DecodeErrorKind::ReservedField { group, .. } => {
                format!("{} uses reserved fields", group.kernel_name())
            }
            DecodeErrorKind::LdImm64MissingSecondSlot
            | DecodeErrorKind::LdImm64BadSecondSlot { .. } => "invalid bpf_ld_imm64 insn".into(),
            DecodeErrorKind::LdImm64UnknownPseudo { .. }
            | DecodeErrorKind::LdImm64MapNextImm { .. } => "unrecognized bpf_ld_imm64 insn".into(),
            DecodeErrorKind::AtomicUnknownOp { imm } => {
                format!("BPF_ATOMIC uses invalid atomic opcode {imm:02x}")
            }
            DecodeErrorKind::AtomicInvalidSize { .. } => "invalid atomic operand size".into(),
            DecodeErrorKind::InvalidAddrSpaceCast { .. } => {
                "addr_space_cast insn can only convert between address space 1 and 0".into()
            }
            DecodeErrorKind::InvalidMayGoto { off, imm, .. } => {
                format!("invalid may_goto off {off} imm {imm}")
            }
        })
    }
}

/// Decodes a whole stream. `lddw` consumes two slots; each result keeps its first slot index.
pub fn decode(raw: &[RawInsn]) -> Result<Vec<Located>, DecodeError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut slot = 0;
    while slot < raw.len() {
        let insn = decode_one(raw[slot], raw.get(slot + 1).copied())
            .map_err(|kind| DecodeError { slot, kind })?;
        out.push(Located { slot, insn });
        slot += insn.slots();
    }
    Ok(out)
}

/// Decodes one instruction; `next` is the following slot (needed only by `lddw`).
pub fn decode_one(first: RawInsn, next: Option<RawInsn>) -> Result<Insn, DecodeErrorKind> {
    let f = Fields::of(first);
    match op::class(f.code) {
        op::BPF_LD => decode_ld(f, next),
        op::BPF_LDX => decode_ldx(f),
        op::BPF_ST => decode_st(f),
        op::BPF_STX => decode_stx(f),
        op::BPF_ALU => decode_alu(f, Width::W32),
        op::BPF_ALU64 => decode_alu(f, Width::W64),
        op::BPF_JMP => decode_jmp(f, Width::W64),
        _ => decode_jmp(f, Width::W32),
    }
}

/// The fields of one slot, with the helpers that check them.
#[derive(Clone, Copy)]
struct Fields {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

impl Fields {
    fn of(raw: RawInsn) -> Self {
        Fields {
            code: raw.code,
            dst: raw.dst(),
            src: raw.src(),
            off: raw.off,
            imm: raw.imm,
        }
    }
    fn unknown(self) -> DecodeErrorKind {
        DecodeErrorKind::UnknownOpcode { code: self.code }
    }
    fn reserved(self, group: InsnGroup, field: Field, expected: &'static str) -> DecodeErrorKind {
        let value = match field {
            Field::Dst => i32::from(self.dst),
            Field::Src => i32::from(self.src),
            Field::Off => i32::from(self.off),
            Field::Imm => self.imm,
        };
        DecodeErrorKind::ReservedField {
            group,
            code: self.code,
            field,
            value,
            expected,
        }
    }
    /// Fails with a reserved-field error if `field` is non-zero.
    fn zero(self, group: InsnGroup, field: Field) -> Result<(), DecodeErrorKind> {
        let nonzero = match field {
            Field::Dst => self.dst != 0,
            Field::Src => self.src != 0,
            Field::Off => self.off != 0,
            Field::Imm => self.imm != 0,
        };
        if nonzero {
            Err(self.reserved(group, field, "0"))
        } else {
            Ok(())
        }
    }
    fn dst_reg(self) -> Result<Reg, DecodeErrorKind> {
        reg(Field::Dst, self.dst)
    }
    fn src_reg(self) -> Result<Reg, DecodeErrorKind> {
        reg(Field::Src, self.src)
    }
}

fn reg(field: Field, n: u8) -> Result<Reg, DecodeErrorKind> {
    Reg::new(n).ok_or(DecodeErrorKind::InvalidRegister { field, reg: n })
}

fn size_of(code: u8) -> Size {
    match op::size(code) {
        op::BPF_W => Size::W,
        op::BPF_H => Size::H,
        op::BPF_B => Size::B,
        _ => Size::DW,
    }
}

fn decode_ld(f: Fields, next: Option<RawInsn>) -> Result<Insn, DecodeErrorKind> {
    let size = size_of(f.code);
    match (op::mode(f.code), size) {
        (op::BPF_IMM, Size::DW) => decode_lddw(f, next),
        (op::BPF_ABS | op::BPF_IND, Size::B | Size::H | Size::W) => {
            let group = InsnGroup::LdAbsInd;
            f.zero(group, Field::Dst)?;
            f.zero(group, Field::Off)?;
            if op::mode(f.code) == op::BPF_ABS {
                f.zero(group, Field::Src)?;
                Ok(Insn::LdAbs { size, imm: f.imm })
            } else {
                Ok(Insn::LdInd {
                    size,
                    src: f.src_reg()?,
                    imm: f.imm,
                })
            }
        }
        _ => Err(f.unknown()),
    }
}

fn decode_lddw(f: Fields, next: Option<RawInsn>) -> Result<Insn, DecodeErrorKind> {
    let next = next.ok_or(DecodeErrorKind::LdImm64MissingSecondSlot)?;
    if next.code != 0 || next.regs != 0 || next.off != 0 {
        return Err(DecodeErrorKind::LdImm64BadSecondSlot {
            code: next.code,
            dst: next.dst(),
            src: next.src(),
            off: next.off,
        });
    }
    let kind =
        LdImm64Kind::from_src(f.src).ok_or(DecodeErrorKind::LdImm64UnknownPseudo { src: f.src })?;
    if matches!(kind, LdImm64Kind::MapFd | LdImm64Kind::MapIdx) && next.imm != 0 {
        return Err(DecodeErrorKind::LdImm64MapNextImm {
            src: f.src,
            next_imm: next.imm,
        });
    }
    f.zero(InsnGroup::LdImm64, Field::Off)?;
    Ok(Insn::LdImm64 {
        dst: f.dst_reg()?,
        kind,
        imm: f.imm,
        next_imm: next.imm,
    })
}

fn decode_ldx(f: Fields) -> Result<Insn, DecodeErrorKind> {
    let group = InsnGroup::Ldx;
    let mode = op::mode(f.code);
    if mode != op::BPF_MEM && mode != op::BPF_MEMSX {
        return Err(DecodeErrorKind::LdxBadMode { code: f.code });
    }
    f.zero(group, Field::Imm)?;
    let size = size_of(f.code);
    let signed = mode == op::BPF_MEMSX;
    if signed && size == Size::DW {
        return Err(f.unknown());
    }
    let src = f.src_reg()?;
    Ok(Insn::Load {
        size,
        signed,
        dst: f.dst_reg()?,
        src,
        off: f.off,
    })
}

fn decode_st(f: Fields) -> Result<Insn, DecodeErrorKind> {
    if op::mode(f.code) != op::BPF_MEM {
        return Err(f.unknown());
    }
    f.zero(InsnGroup::St, Field::Src)?;
    Ok(Insn::Store {
        size: size_of(f.code),
        dst: f.dst_reg()?,
        off: f.off,
        src: Operand::Imm(f.imm),
    })
}

fn decode_stx(f: Fields) -> Result<Insn, DecodeErrorKind> {
    let size = size_of(f.code);
    match op::mode(f.code) {
        op::BPF_MEM => {
            f.zero(InsnGroup::Stx, Field::Imm)?;
            let src = f.src_reg()?;
            Ok(Insn::Store {
                size,
                dst: f.dst_reg()?,
                off: f.off,
                src: Operand::Reg(src),
            })
        }
        op::BPF_ATOMIC => {
            let fetch = f.imm & op::BPF_FETCH != 0;
            let aop = match f.imm {
                op::BPF_ATOMIC_ADD | 0x01 => AtomicOp::Add { fetch },
                op::BPF_ATOMIC_OR | 0x41 => AtomicOp::Or { fetch },
                op::BPF_ATOMIC_AND | 0x51 => AtomicOp::And { fetch },
                op::BPF_ATOMIC_XOR | 0xa1 => AtomicOp::Xor { fetch },
                op::BPF_XCHG => AtomicOp::Xchg,
                op::BPF_CMPXCHG => AtomicOp::CmpXchg,
                op::BPF_LOAD_ACQ => AtomicOp::LoadAcquire,
                op::BPF_STORE_REL => AtomicOp::StoreRelease,
                imm => return Err(DecodeErrorKind::AtomicUnknownOp { imm }),
            };
            let rmw = !matches!(aop, AtomicOp::LoadAcquire | AtomicOp::StoreRelease);
            if rmw && matches!(size, Size::B | Size::H) {
                return Err(DecodeErrorKind::AtomicInvalidSize { imm: f.imm, size });
            }
            let src = f.src_reg()?;
            Ok(Insn::Atomic {
                size,
                op: aop,
                dst: f.dst_reg()?,
                src,
                off: f.off,
            })
        }
        _ => Err(f.unknown()),
    }
}

fn decode_alu(f: Fields, width: Width) -> Result<Insn, DecodeErrorKind> {
    let is_x = op::source(f.code) == op::BPF_X;
    let opcode = op::op(f.code);
    match opcode {
        op::BPF_NEG => {
            if is_x {
                return Err(f.unknown());
            }
            let g = InsnGroup::Neg;
            f.zero(g, Field::Src)?;
            f.zero(g, Field::Off)?;
            f.zero(g, Field::Imm)?;
            Ok(Insn::Alu {
                width,
                op: AluOp::Neg,
                dst: f.dst_reg()?,
                src: Operand::Imm(0),
            })
        }
        op::BPF_END => {
            let kind = match (width, is_x) {
                (Width::W32, false) => Endian::ToLe,
                (Width::W32, true) => Endian::ToBe,
                (Width::W64, false) => Endian::Swap,
                (Width::W64, true) => return Err(f.unknown()),
            };
            let g = InsnGroup::End;
            f.zero(g, Field::Src)?;
            f.zero(g, Field::Off)?;
            if !matches!(f.imm, 16 | 32 | 64) {
                return Err(f.reserved(g, Field::Imm, "16, 32 or 64"));
            }
            Ok(Insn::Endian {
                kind,
                dst: f.dst_reg()?,
                bits: f.imm as u8,
            })
        }
        op::BPF_MOV => decode_mov(f, width, is_x),
        0xe0 | 0xf0 => Err(f.unknown()),
        _ => {
            let g = InsnGroup::Alu;
            let signed_ok = matches!(opcode, op::BPF_DIV | op::BPF_MOD);
            if is_x {
                f.zero(g, Field::Imm)?;
            } else {
                f.zero(g, Field::Src)?;
            }
            let signed = match f.off {
                0 => false,
                1 if signed_ok => true,
                _ if signed_ok => return Err(f.reserved(g, Field::Off, "0 or 1")),
                _ => return Err(f.reserved(g, Field::Off, "0")),
            };
            let aop = match opcode {
                op::BPF_ADD => AluOp::Add,
                op::BPF_SUB => AluOp::Sub,
                op::BPF_MUL => AluOp::Mul,
                op::BPF_DIV if signed => AluOp::SDiv,
                op::BPF_DIV => AluOp::Div,
                op::BPF_OR => AluOp::Or,
                op::BPF_AND => AluOp::And,
                op::BPF_LSH => AluOp::Lsh,
                op::BPF_RSH => AluOp::Rsh,
                op::BPF_MOD if signed => AluOp::SMod,
                op::BPF_MOD => AluOp::Mod,
                op::BPF_XOR => AluOp::Xor,
                _ => AluOp::Arsh,
            };
            let src = if is_x {
                Operand::Reg(f.src_reg()?)
            } else {
                Operand::Imm(f.imm)
            };
            Ok(Insn::Alu {
                width,
                op: aop,
                dst: f.dst_reg()?,
                src,
            })
        }
    }
}

fn decode_mov(f: Fields, width: Width, is_x: bool) -> Result<Insn, DecodeErrorKind> {
    let g = InsnGroup::Mov;
    if !is_x {
        f.zero(g, Field::Src)?;
        f.zero(g, Field::Off)?;
        return Ok(Insn::Alu {
            width,
            op: AluOp::Mov,
            dst: f.dst_reg()?,
            src: Operand::Imm(f.imm),
        });
    }
    if width == Width::W64 && f.off == op::BPF_ADDR_SPACE_CAST {
        let dst_as = (f.imm as u32 >> 16) as u16;
        let src_as = f.imm as u16;
        if !matches!((dst_as, src_as), (0, 1) | (1, 0)) {
            return Err(DecodeErrorKind::InvalidAddrSpaceCast { dst_as, src_as });
        }
        let src = f.src_reg()?;
        return Ok(Insn::AddrSpaceCast {
            dst: f.dst_reg()?,
            src,
            dst_as,
            src_as,
        });
    }
    let aop = match (f.off, width) {
        (0, _) => AluOp::Mov,
        (8, _) => AluOp::MovSx8,
        (16, _) => AluOp::MovSx16,
        (32, Width::W64) => AluOp::MovSx32,
        (_, Width::W64) => return Err(f.reserved(g, Field::Off, "0, 1, 8, 16 or 32")),
        (_, Width::W32) => return Err(f.reserved(g, Field::Off, "0, 8 or 16")),
    };
    f.zero(g, Field::Imm)?;
    let src = f.src_reg()?;
    Ok(Insn::Alu {
        width,
        op: aop,
        dst: f.dst_reg()?,
        src: Operand::Reg(src),
    })
}

fn decode_jmp(f: Fields, width: Width) -> Result<Insn, DecodeErrorKind> {
    let is_x = op::source(f.code) == op::BPF_X;
    let cond = match op::op(f.code) {
        op::BPF_JA => return decode_ja(f, width, is_x),
        op::BPF_CALL => return decode_call(f, width, is_x),
        op::BPF_EXIT => return decode_exit(f, width, is_x),
        op::BPF_JCOND => return decode_jcond(f, width, is_x),
        op::BPF_JEQ => JmpCond::Eq,
        op::BPF_JGT => JmpCond::Gt,
        op::BPF_JGE => JmpCond::Ge,
        op::BPF_JSET => JmpCond::Set,
        op::BPF_JNE => JmpCond::Ne,
        op::BPF_JSGT => JmpCond::Sgt,
        op::BPF_JSGE => JmpCond::Sge,
        op::BPF_JLT => JmpCond::Lt,
        op::BPF_JLE => JmpCond::Le,
        op::BPF_JSLT => JmpCond::Slt,
        op::BPF_JSLE => JmpCond::Sle,
        _ => return Err(f.unknown()),
    };
    let dst = f.dst_reg()?;
    let src = if is_x {
        f.zero(InsnGroup::Jmp, Field::Imm)?;
        Operand::Reg(f.src_reg()?)
    } else {
        f.zero(InsnGroup::Jmp, Field::Src)?;
        Operand::Imm(f.imm)
    };
    Ok(Insn::Jump {
        width,
        cond,
        dst,
        src,
        off: f.off,
    })
}

fn decode_ja(f: Fields, width: Width, is_x: bool) -> Result<Insn, DecodeErrorKind> {
    if is_x {
        return Err(f.unknown());
    }
    let g = InsnGroup::Ja;
    f.zero(g, Field::Src)?;
    f.zero(g, Field::Dst)?;
    Ok(match width {
        Width::W64 => {
            f.zero(g, Field::Imm)?;
            Insn::Ja {
                off: i32::from(f.off),
                long: false,
            }
        }
        Width::W32 => {
            f.zero(g, Field::Off)?;
            Insn::Ja {
                off: f.imm,
                long: true,
            }
        }
    })
}

fn decode_call(f: Fields, width: Width, is_x: bool) -> Result<Insn, DecodeErrorKind> {
    if width == Width::W32 {
        return Err(f.unknown());
    }
    let g = InsnGroup::Call;
    if is_x {
        // RFC 9669 `callx`: the target is in dst; every other field is reserved.
        f.zero(g, Field::Src)?;
        f.zero(g, Field::Off)?;
        f.zero(g, Field::Imm)?;
        return Ok(Insn::CallX { dst: f.dst_reg()? });
    }
    if f.src != op::BPF_PSEUDO_KFUNC_CALL {
        f.zero(g, Field::Off)?;
    }
    let target = match f.src {
        0 => CallTarget::Helper(f.imm),
        op::BPF_PSEUDO_CALL => CallTarget::Local(f.imm),
        op::BPF_PSEUDO_KFUNC_CALL => CallTarget::Kfunc {
            btf_id: f.imm,
            module: f.off,
        },
        _ => return Err(f.reserved(g, Field::Src, "0, 1 or 2")),
    };
    f.zero(g, Field::Dst)?;
    Ok(Insn::Call(target))
}

fn decode_exit(f: Fields, width: Width, is_x: bool) -> Result<Insn, DecodeErrorKind> {
    if is_x || width == Width::W32 {
        return Err(f.unknown());
    }
    let g = InsnGroup::Exit;
    f.zero(g, Field::Imm)?;
    f.zero(g, Field::Src)?;
    f.zero(g, Field::Dst)?;
    f.zero(g, Field::Off)?;
    Ok(Insn::Exit)
}

fn decode_jcond(f: Fields, width: Width, is_x: bool) -> Result<Insn, DecodeErrorKind> {
    if is_x || width == Width::W32 {
        return Err(f.unknown());
    }
    if f.src != op::BPF_MAY_GOTO || f.dst != 0 || f.imm != 0 || f.off == 0 {
        return Err(DecodeErrorKind::InvalidMayGoto {
            off: f.off,
            imm: f.imm,
            dst: f.dst,
            src: f.src,
        });
    }
    Ok(Insn::MayGoto { off: f.off })
}
