//! The eBPF instruction set (RFC 9669 plus the Linux extensions the kernel's verifier knows).
//!
//! This crate owns the *meaning* of an instruction and nothing else: the raw 8-byte encoding
//! ([`RawInsn`]), the typed form every other crate works on ([`Insn`]), the [`decode`]r that
//! turns bytes into typed instructions and rejects malformed encodings with a precise
//! [`DecodeError`], the [`encode`]r that is its exact inverse, a disassembler that prints the
//! kernel/LLVM syntax (`r0 = *(u32 *)(r1 + 4)`), and an assembler that reads both that syntax and
//! the syntax of the bpf_conformance suite (`ldxw %r0, [%r1+4]`).
//!
//! Architecture invariant: no I/O, no `unsafe`, no knowledge of programs types, maps or helpers.
//! A `lddw` occupies two slots in the raw stream and one [`Insn`] in the typed stream; the
//! typed stream keeps the slot index of each instruction so jump offsets stay in raw slots.
#![forbid(unsafe_code)]

pub mod asm;
mod decode;
pub mod disasm;
mod encode;
pub mod opcode;
#[cfg(feature = "proptest-strategies")]
pub mod strategy;

pub use decode::{DecodeError, DecodeErrorKind, Field, InsnGroup, decode, decode_one};
pub use encode::{Encoded, encode, encode_one};

/// One raw 8-byte instruction slot, exactly as it is stored in an object file (little-endian).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RawInsn {
    /// Opcode byte: class in the low 3 bits, then source / operation / mode bits.
    pub code: u8,
    /// Destination register (low nibble) and source register (high nibble).
    pub regs: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl RawInsn {
    /// Size of one instruction slot in bytes.
    pub const SIZE: usize = 8;

    /// Builds a raw instruction from its fields.
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        RawInsn {
            code,
            regs: (dst & 0xf) | (src << 4),
            off,
            imm,
        }
    }
    /// Destination register field (0..=15; only 0..=10 are valid registers).
    pub const fn dst(self) -> u8 {
        self.regs & 0xf
    }
    /// Source register field (0..=15).
    pub const fn src(self) -> u8 {
        self.regs >> 4
    }
    /// Reads one slot from 8 little-endian bytes.
    pub fn from_bytes(b: [u8; 8]) -> Self {
        RawInsn {
            code: b[0],
            regs: b[1],
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
    /// Writes the slot as 8 little-endian bytes.
    pub fn to_bytes(self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [self.code, self.regs, o[0], o[1], i[0], i[1], i[2], i[3]]
    }
    /// Splits a byte buffer into slots. Fails if the length is not a multiple of 8.
    pub fn slice_from_bytes(bytes: &[u8]) -> Result<Vec<RawInsn>, DecodeError> {
        if !bytes.len().is_multiple_of(Self::SIZE) {
            return Err(DecodeError {
                slot: bytes.len() / Self::SIZE,
                kind: DecodeErrorKind::TrailingBytes { len: bytes.len() },
            });
        }
        Ok(bytes
            .chunks_exact(Self::SIZE)
            .map(|c| RawInsn::from_bytes(c.try_into().expect("chunk of 8")))
            .collect())
    }
}

impl std::fmt::Debug for RawInsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RawInsn {{ code: {:#04x}, dst: {}, src: {}, off: {}, imm: {} }}",
            self.code,
            self.dst(),
            self.src(),
            self.off,
            self.imm
        )
    }
}

/// A register, `r0`..=`r10` (`r10` is the read-only frame pointer).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Reg(u8);

impl Reg {
    /// Return value / scratch.
    pub const R0: Reg = Reg(0);
    /// First argument.
    pub const R1: Reg = Reg(1);
    /// Second argument.
    pub const R2: Reg = Reg(2);
    /// Third argument.
    pub const R3: Reg = Reg(3);
    /// Fourth argument.
    pub const R4: Reg = Reg(4);
    /// Fifth argument.
    pub const R5: Reg = Reg(5);
    /// Callee-saved.
    pub const R6: Reg = Reg(6);
    /// Callee-saved.
    pub const R7: Reg = Reg(7);
    /// Callee-saved.
    pub const R8: Reg = Reg(8);
    /// Callee-saved.
    pub const R9: Reg = Reg(9);
    /// Frame pointer (read-only).
    pub const R10: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// Makes a register from its number, if it is one (0..=10).
    pub const fn new(n: u8) -> Option<Reg> {
        if n <= 10 { Some(Reg(n)) } else { None }
    }
    /// The register number, 0..=10.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
    /// The register number as a byte.
    pub const fn num(self) -> u8 {
        self.0
    }
}

impl std::fmt::Display for Reg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// The second operand of ALU and jump instructions: a register (`BPF_X`) or the immediate (`BPF_K`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operand {
    /// `BPF_X`: the source register.
    Reg(Reg),
    /// `BPF_K`: the 32-bit immediate (sign-extended to 64 bits for 64-bit operations).
    Imm(i32),
}

/// Operation width of ALU and jump instructions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Width {
    /// `BPF_ALU` / `BPF_JMP32`: operate on the low 32 bits; ALU results are zero-extended.
    W32,
    /// `BPF_ALU64` / `BPF_JMP`.
    W64,
}

/// Access size of loads, stores and atomics.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Size {
    /// 1 byte (`BPF_B`).
    B,
    /// 2 bytes (`BPF_H`).
    H,
    /// 4 bytes (`BPF_W`).
    W,
    /// 8 bytes (`BPF_DW`).
    DW,
}

impl Size {
    /// Size in bytes.
    pub const fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
    /// The C type name used by the kernel syntax (`u8`, `u16`, `u32`, `u64`).
    pub const fn c_type(self) -> &'static str {
        match self {
            Size::B => "u8",
            Size::H => "u16",
            Size::W => "u32",
            Size::DW => "u64",
        }
    }
}

/// Arithmetic and logic operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AluOp {
    /// `dst += src`
    Add,
    /// `dst -= src`
    Sub,
    /// `dst *= src`
    Mul,
    /// Unsigned division; division by zero gives 0.
    Div,
    /// Signed division (`off == 1`); division by zero gives 0.
    SDiv,
    /// `dst |= src`
    Or,
    /// `dst &= src`
    And,
    /// Left shift, amount masked to the width.
    Lsh,
    /// Logical right shift, amount masked to the width.
    Rsh,
    /// `dst = -dst` (no source operand).
    Neg,
    /// Unsigned modulo; modulo by zero leaves `dst` unchanged.
    Mod,
    /// Signed modulo (`off == 1`); modulo by zero leaves `dst` unchanged.
    SMod,
    /// `dst ^= src`
    Xor,
    /// `dst = src`
    Mov,
    /// `dst = (s8)src` (`off == 8`, register source only).
    MovSx8,
    /// `dst = (s16)src` (`off == 16`, register source only).
    MovSx16,
    /// `dst = (s32)src` (`off == 32`, 64-bit only, register source only).
    MovSx32,
    /// Arithmetic right shift, amount masked to the width.
    Arsh,
}

/// Byte-order operations (`BPF_END`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Endian {
    /// Convert to little endian (`le16/32/64`; on a little-endian host this truncates).
    ToLe,
    /// Convert to big endian (`be16/32/64`).
    ToBe,
    /// Unconditional byte swap (`bswap16/32/64`, ALU64 class).
    Swap,
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum JmpCond {
    /// `==`
    Eq,
    /// unsigned `>`
    Gt,
    /// unsigned `>=`
    Ge,
    /// `dst & src != 0`
    Set,
    /// `!=`
    Ne,
    /// signed `>`
    Sgt,
    /// signed `>=`
    Sge,
    /// unsigned `<`
    Lt,
    /// unsigned `<=`
    Le,
    /// signed `<`
    Slt,
    /// signed `<=`
    Sle,
}

/// Atomic read-modify-write operations (`BPF_ATOMIC` mode of `BPF_STX`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AtomicOp {
    /// `*(dst + off) += src`, optionally fetching the old value into `src`.
    Add {
        /// `BPF_FETCH`: the old value is written to the source register.
        fetch: bool,
    },
    /// `*(dst + off) |= src`
    Or {
        /// `BPF_FETCH`
        fetch: bool,
    },
    /// `*(dst + off) &= src`
    And {
        /// `BPF_FETCH`
        fetch: bool,
    },
    /// `*(dst + off) ^= src`
    Xor {
        /// `BPF_FETCH`
        fetch: bool,
    },
    /// Exchange: `src = xchg(dst + off, src)` (always fetches).
    Xchg,
    /// Compare and exchange: `r0 = cmpxchg(dst + off, r0, src)` (always fetches into r0).
    CmpXchg,
    /// Load-acquire (Linux 6.15+): `dst = load_acquire(src + off)`; the operands are reversed.
    LoadAcquire,
    /// Store-release (Linux 6.15+): `store_release(dst + off, src)`.
    StoreRelease,
}

/// What the 64-bit immediate of `lddw` means (`src` field of the first slot).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LdImm64Kind {
    /// `src == 0`: a plain 64-bit constant.
    Imm,
    /// `src == 1` (`BPF_PSEUDO_MAP_FD`): `imm` is a map file descriptor.
    MapFd,
    /// `src == 2` (`BPF_PSEUDO_MAP_VALUE`): map fd in the first `imm`, value offset in the second.
    MapValue,
    /// `src == 3` (`BPF_PSEUDO_BTF_ID`): a kernel variable by BTF id.
    BtfId,
    /// `src == 4` (`BPF_PSEUDO_FUNC`): address of a subprogram, `imm` is a slot offset.
    Func,
    /// `src == 5` (`BPF_PSEUDO_MAP_IDX`): map by index into the loader's fd array.
    MapIdx,
    /// `src == 6` (`BPF_PSEUDO_MAP_IDX_VALUE`): map value by index into the fd array.
    MapIdxValue,
}

impl LdImm64Kind {
    /// The `src` field value.
    pub const fn src(self) -> u8 {
        match self {
            LdImm64Kind::Imm => 0,
            LdImm64Kind::MapFd => 1,
            LdImm64Kind::MapValue => 2,
            LdImm64Kind::BtfId => 3,
            LdImm64Kind::Func => 4,
            LdImm64Kind::MapIdx => 5,
            LdImm64Kind::MapIdxValue => 6,
        }
    }
    /// The kind for a `src` field value.
    pub const fn from_src(src: u8) -> Option<Self> {
        Some(match src {
            0 => LdImm64Kind::Imm,
            1 => LdImm64Kind::MapFd,
            2 => LdImm64Kind::MapValue,
            3 => LdImm64Kind::BtfId,
            4 => LdImm64Kind::Func,
            5 => LdImm64Kind::MapIdx,
            6 => LdImm64Kind::MapIdxValue,
            _ => return None,
        })
    }
}

/// The target of a `call` instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CallTarget {
    /// `src == 0`: a helper function by its static id (`imm`).
    Helper(i32),
    /// `src == 1` (`BPF_PSEUDO_CALL`): a local function, `imm` slots after the next slot.
    Local(i32),
    /// `src == 2` (`BPF_PSEUDO_KFUNC_CALL`): a kernel function by BTF id; `off` selects the
    /// module BTF (0 = vmlinux).
    Kfunc {
        /// BTF id of the function.
        btf_id: i32,
        /// Index into the fd array of module BTFs (0 = vmlinux).
        module: i16,
    },
}

/// One typed instruction. Each variant maps to exactly one valid encoding (see [`encode_one`]),
/// except that [`Insn::LdImm64`] spans two raw slots.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Insn {
    /// ALU / ALU64 operation. `Neg` ignores `src` (encoded as `Imm(0)`); `MovSx*` takes a register.
    Alu {
        /// 32 or 64-bit.
        width: Width,
        /// The operation.
        op: AluOp,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// Byte-order conversion or swap of `bits` (16, 32 or 64) in `dst`.
    Endian {
        /// Which conversion.
        kind: Endian,
        /// The register converted in place.
        dst: Reg,
        /// 16, 32 or 64.
        bits: u8,
    },
    /// `dst = *(size *)(src + off)`, sign-extending when `signed` (`BPF_MEMSX`, not for `DW`).
    Load {
        /// Access size.
        size: Size,
        /// Whether the value is sign-extended (`BPF_MEMSX`).
        signed: bool,
        /// Destination register.
        dst: Reg,
        /// Base address register.
        src: Reg,
        /// Offset from the base.
        off: i16,
    },
    /// `*(size *)(dst + off) = src` (`BPF_STX` with a register, `BPF_ST` with an immediate).
    Store {
        /// Access size.
        size: Size,
        /// Base address register.
        dst: Reg,
        /// Offset from the base.
        off: i16,
        /// Value stored.
        src: Operand,
    },
    /// Atomic operation on `*(size *)(dst + off)` with `src` (size `W` or `DW` except for
    /// load-acquire/store-release, which take every size).
    Atomic {
        /// Access size.
        size: Size,
        /// The operation.
        op: AtomicOp,
        /// Base address register (for load-acquire: the destination).
        dst: Reg,
        /// Value register (for load-acquire: the base address).
        src: Reg,
        /// Offset from the base.
        off: i16,
    },
    /// `lddw`: `dst = imm64` with the meaning given by `kind`. Two raw slots.
    LdImm64 {
        /// Destination register.
        dst: Reg,
        /// What the constant means.
        kind: LdImm64Kind,
        /// The first slot's `imm` (low 32 bits).
        imm: i32,
        /// The second slot's `imm` (high 32 bits, or the value offset for map values).
        next_imm: i32,
    },
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + imm))` (`BPF_LD | BPF_ABS`).
    LdAbs {
        /// Access size (B, H or W).
        size: Size,
        /// Packet offset.
        imm: i32,
    },
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + src + imm))` (`BPF_LD | BPF_IND`).
    LdInd {
        /// Access size (B, H or W).
        size: Size,
        /// Register holding the variable part of the offset.
        src: Reg,
        /// Constant part of the offset.
        imm: i32,
    },
    /// Unconditional jump by `off` slots (`BPF_JA`; for `gotol`, the 32-bit `imm` of a JMP32 `ja`).
    Ja {
        /// Relative target, in slots after the next slot.
        off: i32,
        /// `true` for `gotol` (JMP32 class, offset in `imm`).
        long: bool,
    },
    /// Conditional jump by `off` slots when `dst cond src`.
    Jump {
        /// Compare 64 bits (`BPF_JMP`) or the low 32 (`BPF_JMP32`).
        width: Width,
        /// Condition.
        cond: JmpCond,
        /// First operand.
        dst: Reg,
        /// Second operand.
        src: Operand,
        /// Relative target, in slots after the next slot.
        off: i16,
    },
    /// `call`.
    Call(CallTarget),
    /// `callx dst`: call the helper whose id (in the conformance suite's convention) is in `dst`.
    CallX {
        /// The register holding the target.
        dst: Reg,
    },
    /// `may_goto off` (`BPF_JCOND` with `src == 0`): jump when the loop budget is exhausted.
    MayGoto {
        /// Relative target.
        off: i16,
    },
    /// `addr_space_cast(dst = src, dst_as, src_as)` (ALU64 MOV with `off == 1`, arena pointers).
    AddrSpaceCast {
        /// Destination.
        dst: Reg,
        /// Source.
        src: Reg,
        /// Destination address space (high 16 bits of `imm`).
        dst_as: u16,
        /// Source address space (low 16 bits of `imm`).
        src_as: u16,
    },
    /// Return from the current function; `r0` is the return value.
    Exit,
}

impl Insn {
    /// Number of raw slots this instruction occupies (2 for `lddw`, else 1).
    pub const fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }
    /// For `lddw` with `kind == Imm`, the full 64-bit constant.
    pub const fn imm64(imm: i32, next_imm: i32) -> u64 {
        (imm as u32 as u64) | ((next_imm as u32 as u64) << 32)
    }
}

/// A decoded instruction and the raw slot it starts at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Located {
    /// Index of the instruction's first raw slot.
    pub slot: usize,
    /// The instruction.
    pub insn: Insn,
}
