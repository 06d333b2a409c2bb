//! The encoder: typed [`Insn`]s to raw slots, the exact inverse of [`crate::decode`].
//!
//! For every instruction [`crate::decode_one`] produces, `decode(encode(i)) == i`. `Insn` values
//! that no decode produces (for example `MovSx32` with `Width::W32`, a byte-swap of 8 bits, a
//! read-modify-write atomic on one byte, `Neg` with a register operand) are still encoded field
//! by field, so the encoder never fails; [`Insn::validate`] tells whether a value is canonical.
use crate::opcode as op;
use crate::{
    AluOp, AtomicOp, CallTarget, DecodeErrorKind, Endian, Insn, JmpCond, Operand, RawInsn, Reg,
    Size, Width,
};

/// The one or two raw slots of an encoded instruction (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Encoded {
    slots: [RawInsn; 2],
    len: u8,
}

impl Encoded {
    fn one(raw: RawInsn) -> Self {
        Encoded {
            slots: [raw, RawInsn::default()],
            len: 1,
        }
    }
    /// The slots as a slice (length 1, or 2 for `lddw`).
    pub fn as_slice(&self) -> &[RawInsn] {
        &self.slots[..usize::from(self.len)]
    }
}

impl std::ops::Deref for Encoded {
    type Target = [RawInsn];
    fn deref(&self) -> &[RawInsn] {
        self.as_slice()
    }
}

impl IntoIterator for Encoded {
    type Item = RawInsn;
    type IntoIter = std::iter::Take<std::array::IntoIter<RawInsn, 2>>;
    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().take(usize::from(self.len))
    }
}

/// Encodes a stream.
pub fn encode(insns: &[Insn]) -> Vec<RawInsn> {
    let mut out = Vec::with_capacity(insns.len() + insns.len() / 8);
    for insn in insns {
        out.extend(encode_one(insn));
    }
    out
}

/// Encodes one instruction into one or two slots.
pub fn encode_one(insn: &Insn) -> Encoded {
    let raw = |code: u8, dst: Reg, src: u8, off: i16, imm: i32| {
        Encoded::one(RawInsn::new(code, dst.num(), src, off, imm))
    };
    let r0 = Reg::R0;
    match *insn {
        Insn::Alu {
            width,
            op: aop,
            dst,
            src,
        } => {
            let class = alu_class(width);
            let (opcode, off) = alu_op_bits(aop);
            let (source, src_reg, imm) = match (aop, src) {
                (AluOp::Neg, _) => (op::BPF_K, 0, 0),
                (_, Operand::Reg(r)) => (op::BPF_X, r.num(), 0),
                (_, Operand::Imm(i)) => (op::BPF_K, 0, i),
            };
            raw(class | opcode | source, dst, src_reg, off, imm)
        }
        Insn::Endian { kind, dst, bits } => {
            let code = match kind {
                Endian::ToLe => op::BPF_ALU | op::BPF_END | op::BPF_TO_LE,
                Endian::ToBe => op::BPF_ALU | op::BPF_END | op::BPF_TO_BE,
                Endian::Swap => op::BPF_ALU64 | op::BPF_END | op::BPF_TO_LE,
            };
            raw(code, dst, 0, 0, i32::from(bits))
        }
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let mode = if signed { op::BPF_MEMSX } else { op::BPF_MEM };
            raw(op::BPF_LDX | mode | size_bits(size), dst, src.num(), off, 0)
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(s) => raw(
                op::BPF_STX | op::BPF_MEM | size_bits(size),
                dst,
                s.num(),
                off,
                0,
            ),
            Operand::Imm(i) => raw(op::BPF_ST | op::BPF_MEM | size_bits(size), dst, 0, off, i),
        },
        Insn::Atomic {
            size,
            op: aop,
            dst,
            src,
            off,
        } => raw(
            op::BPF_STX | op::BPF_ATOMIC | size_bits(size),
            dst,
            src.num(),
            off,
            atomic_imm(aop),
        ),
        Insn::LdImm64 {
            dst,
            kind,
            imm,
            next_imm,
        } => Encoded {
            slots: [
                RawInsn::new(op::LDDW, dst.num(), kind.src(), 0, imm),
                RawInsn::new(0, 0, 0, 0, next_imm),
            ],
            len: 2,
        },
        Insn::LdAbs { size, imm } => raw(op::BPF_LD | op::BPF_ABS | size_bits(size), r0, 0, 0, imm),
        Insn::LdInd { size, src, imm } => raw(
            op::BPF_LD | op::BPF_IND | size_bits(size),
            r0,
            src.num(),
            0,
            imm,
        ),
        Insn::Ja { off, long: false } => raw(op::JA, r0, 0, off as i16, 0),
        Insn::Ja { off, long: true } => raw(op::JA32, r0, 0, 0, off),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let class = match width {
                Width::W32 => op::BPF_JMP32,
                Width::W64 => op::BPF_JMP,
            };
            let (source, src_reg, imm) = match src {
                Operand::Reg(r) => (op::BPF_X, r.num(), 0),
                Operand::Imm(i) => (op::BPF_K, 0, i),
            };
            raw(class | jmp_op_bits(cond) | source, dst, src_reg, off, imm)
        }
        Insn::Call(CallTarget::Helper(id)) => raw(op::CALL, r0, 0, 0, id),
        Insn::Call(CallTarget::Local(rel)) => raw(op::CALL, r0, op::BPF_PSEUDO_CALL, 0, rel),
        Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
            raw(op::CALL, r0, op::BPF_PSEUDO_KFUNC_CALL, module, btf_id)
        }
        Insn::CallX { dst } => raw(op::CALLX, dst, 0, 0, 0),
        Insn::MayGoto { off } => raw(op::JCOND, r0, op::BPF_MAY_GOTO, off, 0),
        Insn::AddrSpaceCast {
            dst,
            src,
            dst_as,
            src_as,
        } => raw(
            op::BPF_ALU64 | op::BPF_MOV | op::BPF_X,
            dst,
            src.num(),
            op::BPF_ADDR_SPACE_CAST,
            ((u32::from(dst_as) << 16) | u32::from(src_as)) as i32,
        ),
        Insn::Exit => raw(op::EXIT, r0, 0, 0, 0),
    }
}

impl Insn {
    /// Checks that this value is the canonical form of a valid encoding, i.e. that
    /// `decode(encode(self)) == self`; returns the decoder's complaint otherwise.
    pub fn validate(&self) -> Result<(), DecodeErrorKind> {
        let enc = encode_one(self);
        let back = crate::decode_one(enc[0], enc.get(1).copied())?;
        if back == *self {
            Ok(())
        } else {
            // Only operands the format cannot hold reach here: `Neg` with a register, a short
            // `Ja` whose offset does not fit 16 bits.
            Err(DecodeErrorKind::Unencodable {
                what: match self {
                    Insn::Alu { .. } => "neg takes no source operand",
                    _ => "ja offset does not fit in 16 bits (use gotol)",
                },
            })
        }
    }
}

const fn alu_class(width: Width) -> u8 {
    match width {
        Width::W32 => op::BPF_ALU,
        Width::W64 => op::BPF_ALU64,
    }
}

/// Operation bits and `off` for an ALU operation.
const fn alu_op_bits(aop: AluOp) -> (u8, i16) {
    match aop {
        AluOp::Add => (op::BPF_ADD, 0),
        AluOp::Sub => (op::BPF_SUB, 0),
        AluOp::Mul => (op::BPF_MUL, 0),
        AluOp::Div => (op::BPF_DIV, 0),
        AluOp::SDiv => (op::BPF_DIV, 1),
        AluOp::Or => (op::BPF_OR, 0),
        AluOp::And => (op::BPF_AND, 0),
        AluOp::Lsh => (op::BPF_LSH, 0),
        AluOp::Rsh => (op::BPF_RSH, 0),
        AluOp::Neg => (op::BPF_NEG, 0),
        AluOp::Mod => (op::BPF_MOD, 0),
        AluOp::SMod => (op::BPF_MOD, 1),
        AluOp::Xor => (op::BPF_XOR, 0),
        AluOp::Mov => (op::BPF_MOV, 0),
        AluOp::MovSx8 => (op::BPF_MOV, 8),
        AluOp::MovSx16 => (op::BPF_MOV, 16),
        AluOp::MovSx32 => (op::BPF_MOV, 32),
        AluOp::Arsh => (op::BPF_ARSH, 0),
    }
}

/// Operation bits of a conditional jump.
pub(crate) const fn jmp_op_bits(cond: JmpCond) -> u8 {
    match cond {
        JmpCond::Eq => op::BPF_JEQ,
        JmpCond::Gt => op::BPF_JGT,
        JmpCond::Ge => op::BPF_JGE,
        JmpCond::Set => op::BPF_JSET,
        JmpCond::Ne => op::BPF_JNE,
        JmpCond::Sgt => op::BPF_JSGT,
        JmpCond::Sge => op::BPF_JSGE,
        JmpCond::Lt => op::BPF_JLT,
        JmpCond::Le => op::BPF_JLE,
        JmpCond::Slt => op::BPF_JSLT,
        JmpCond::Sle => op::BPF_JSLE,
    }
}

/// Size bits of a load/store opcode.
pub(crate) const fn size_bits(size: Size) -> u8 {
    match size {
        Size::B => op::BPF_B,
        Size::H => op::BPF_H,
        Size::W => op::BPF_W,
        Size::DW => op::BPF_DW,
    }
}

/// The `imm` of an atomic operation.
pub(crate) fn atomic_imm(aop: AtomicOp) -> i32 {
    let fetch = |f: bool| if f { op::BPF_FETCH } else { 0 };
    match aop {
        AtomicOp::Add { fetch: f } => op::BPF_ATOMIC_ADD | fetch(f),
        AtomicOp::Or { fetch: f } => op::BPF_ATOMIC_OR | fetch(f),
        AtomicOp::And { fetch: f } => op::BPF_ATOMIC_AND | fetch(f),
        AtomicOp::Xor { fetch: f } => op::BPF_ATOMIC_XOR | fetch(f),
        AtomicOp::Xchg => op::BPF_XCHG,
        AtomicOp::CmpXchg => op::BPF_CMPXCHG,
        AtomicOp::LoadAcquire => op::BPF_LOAD_ACQ,
        AtomicOp::StoreRelease => op::BPF_STORE_REL,
    }
}
