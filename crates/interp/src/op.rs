//! The interpreter's internal instruction form: one 16-byte [`Op`] per typed instruction.
//!
//! [`crate::Program::prepare`] lowers every [`lull_isa::Insn`] into an [`Op`] whose [`Kind`] is
//! specialised per operation, width and operand kind, so the dispatch loop does one `match` and
//! no further decoding. Jump and call targets are absolute (as byte offsets into the op array,
//! one add from a pointer), `lddw` carries its full 64-bit value, immediates are pre-extended
//! to the width they are used at, and register numbers are [`RegNo`]s.

/// What an [`Op`] does. Dense `u8` discriminants so the dispatch `match` compiles to one table.
///
/// Naming: `…64`/`…32` is the width, `…I`/`…R` the second operand (immediate / register).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Kind {
    // 64-bit ALU.
    Add64I,
    Add64R,
    Sub64I,
    Sub64R,
    Mul64I,
    Mul64R,
    Div64I,
    Div64R,
    SDiv64I,
    SDiv64R,
    Mod64I,
    Mod64R,
    SMod64I,
    SMod64R,
    Or64I,
    Or64R,
    And64I,
    And64R,
    Xor64I,
    Xor64R,
    Lsh64I,
    Lsh64R,
    Rsh64I,
    Rsh64R,
    Arsh64I,
    Arsh64R,
    Mov64I,
    Mov64R,
    Neg64,
    // 32-bit ALU (results zero-extended).
    Add32I,
    Add32R,
    Sub32I,
    Sub32R,
    Mul32I,
    Mul32R,
    Div32I,
    Div32R,
    SDiv32I,
    SDiv32R,
    Mod32I,
    Mod32R,
    SMod32I,
    SMod32R,
    Or32I,
    Or32R,
    And32I,
    And32R,
    Xor32I,
    Xor32R,
    Lsh32I,
    Lsh32R,
    Rsh32I,
    Rsh32R,
    Arsh32I,
    Arsh32R,
    Mov32I,
    Mov32R,
    Neg32,
    // Sign-extending moves.
    MovSx8To64,
    MovSx16To64,
    MovSx32To64,
    MovSx8To32,
    MovSx16To32,
    // Byte order (little-endian host: `le` truncates, `be` and `bswap` swap).
    Le16,
    Le32,
    Swap16,
    Swap32,
    Swap64,
    /// No operation (`le64` on a little-endian host).
    Nop,
    // Loads: `dst = *(size *)(src + off)`.
    LdxB,
    LdxH,
    LdxW,
    LdxDw,
    LdxSb,
    LdxSh,
    LdxSw,
    // Stores from a register: `*(size *)(dst + off) = src`.
    StxB,
    StxH,
    StxW,
    StxDw,
    // Stores of the immediate: `*(size *)(dst + off) = imm`.
    StB,
    StH,
    StW,
    StDw,
    /// Any atomic operation; `aux` holds the [`AtomicKind`], `imm` the access size in bytes.
    Atomic,
    /// `dst = imm` (the resolved 64-bit value of `lddw`).
    LdImm64,
    /// Unconditional jump to `target`.
    Ja,
    // Conditional jumps, 64-bit compare.
    JeqI,
    JeqR,
    JneI,
    JneR,
    JgtI,
    JgtR,
    JgeI,
    JgeR,
    JltI,
    JltR,
    JleI,
    JleR,
    JsetI,
    JsetR,
    JsgtI,
    JsgtR,
    JsgeI,
    JsgeR,
    JsltI,
    JsltR,
    JsleI,
    JsleR,
    // Conditional jumps, 32-bit compare.
    Jeq32I,
    Jeq32R,
    Jne32I,
    Jne32R,
    Jgt32I,
    Jgt32R,
    Jge32I,
    Jge32R,
    Jlt32I,
    Jlt32R,
    Jle32I,
    Jle32R,
    Jset32I,
    Jset32R,
    Jsgt32I,
    Jsgt32R,
    Jsge32I,
    Jsge32R,
    Jslt32I,
    Jslt32R,
    Jsle32I,
    Jsle32R,
    /// `may_goto`: jump to `target` once the frame's loop budget is exhausted.
    MayGoto,
    // Superinstructions (see `crate::fuse`): a conditional jump over the `ja` that follows it,
    // `if cond goto +1; goto target`, as one op. Taken: continue two ops on (one instruction
    // executed); not taken: go to the `ja`'s target (two executed).
    JeqIJa,
    JeqRJa,
    JneIJa,
    JneRJa,
    JgtIJa,
    JgtRJa,
    JgeIJa,
    JgeRJa,
    JltIJa,
    JltRJa,
    JleIJa,
    JleRJa,
    JsetIJa,
    JsetRJa,
    JsgtIJa,
    JsgtRJa,
    JsgeIJa,
    JsgeRJa,
    JsltIJa,
    JsltRJa,
    JsleIJa,
    JsleRJa,
    Jeq32IJa,
    Jeq32RJa,
    Jne32IJa,
    Jne32RJa,
    Jgt32IJa,
    Jgt32RJa,
    Jge32IJa,
    Jge32RJa,
    Jlt32IJa,
    Jlt32RJa,
    Jle32IJa,
    Jle32RJa,
    Jset32IJa,
    Jset32RJa,
    Jsgt32IJa,
    Jsgt32RJa,
    Jsge32IJa,
    Jsge32RJa,
    Jslt32IJa,
    Jslt32RJa,
    Jsle32IJa,
    Jsle32RJa,
    /// Superinstruction: `dst += imm; src += a` (two 64-bit immediate adds, the induction
    /// variables of a loop; `src` names the second destination).
    AddAdd64I,
    // Superinstructions: `d = s` followed by an ALU op on `d` (`imm` is the second op's
    // immediate; for `…R` kinds `aux` holds its source register).
    MovAdd64I,
    MovSub64I,
    MovMul64I,
    MovAnd64I,
    MovOr64I,
    MovXor64I,
    MovLsh64I,
    MovRsh64I,
    MovArsh64I,
    MovAdd64R,
    MovSub64R,
    MovMul64R,
    MovAnd64R,
    MovOr64R,
    MovXor64R,
    MovAdd32I,
    MovAnd32I,
    MovOr32I,
    MovXor32I,
    MovLsh32I,
    MovRsh32I,
    MovArsh32I,
    // Superinstructions: an immediate add followed by an immediate compare-and-jump on the same
    // register (a loop counter's step and exit test), optionally with the `ja` after it (as in
    // the `…Ja` kinds). `imm` packs the add's immediate (low half) and the compare's (high
    // half); `a` is the jump's target (or the `ja`'s).
    AddJeqI,
    AddJneI,
    Add32Jeq32I,
    Add32Jne32I,
    AddJeqIJa,
    AddJneIJa,
    Add32Jeq32IJa,
    Add32Jne32IJa,
    // Superinstructions: an indexed load `d = s; d += aux & 15; aux >> 4 = *(size *)(d + off)`
    // (`a` holds `off`), clang's `p[i]`.
    MovAddLdxB,
    MovAddLdxH,
    MovAddLdxW,
    MovAddLdxDw,
    // Superinstructions: a load into `dst` followed by a register compare-and-jump of the
    // loaded value (`dst cond aux`, the jump's operands swapped into that order if needed);
    // `imm` holds the load's offset, `a` the jump's target.
    LdxWJeq32R,
    LdxWJne32R,
    LdxWJlt32R,
    LdxWJle32R,
    LdxWJgt32R,
    LdxWJge32R,
    LdxDwJeqR,
    LdxDwJneR,
    LdxDwJltR,
    LdxDwJleR,
    LdxDwJgtR,
    LdxDwJgeR,
    // Superinstructions: two register stores of the same size, `*(dst + a) = src;
    // *(aux & 15 + imm) = aux >> 4`.
    StxWStxW,
    StxDwStxDw,
    // Superinstructions: a register move followed by a `ja` (to `a`).
    Mov64RJa,
    Mov32RJa,
    // Superinstructions: a register move (`aux & 15 = aux >> 4`) followed by a `<` or `!=`
    // register compare-and-jump of `dst` and `src` to `a`, or by one over a `ja` (as in the
    // `…Ja` kinds; `a` is then the `ja`'s target).
    Mov64RJltR,
    Mov64RJneR,
    Mov32RJltR,
    Mov32RJneR,
    Mov64RJltRJa,
    Mov64RJneRJa,
    Mov32RJltRJa,
    Mov32RJneRJa,
    // Superinstructions: a shift-and-combine step `d = s; d <<= imm; d ^= s` (`…Lsh…`, or
    // `>>=` for `…Rsh…`), or with the result in the source, `… s ^= d` (`…Into`): hashes and
    // xorshift generators.
    MovLshXor64,
    MovRshXor64,
    MovLshXorInto64,
    MovRshXorInto64,
    /// Legacy packet load `r0 = ntoh(*(size *)(skb->data + imm))` through the packet loader at
    /// index `a` of the call table; `aux` is the size in bytes.
    LdAbs,
    /// As [`Kind::LdAbs`] at `src + imm`.
    LdInd,
    /// Call the helper or kfunc at index `a` of the program's call table.
    Call,
    /// Call the local function starting at op `target`.
    CallLocal,
    /// Call the helper whose id is in `dst`.
    CallX,
    /// Return from the current frame.
    Exit,
    /// An instruction this engine cannot execute (`aux` holds an [`Unsupported`] code);
    /// it faults when reached.
    Unsupported,
}

/// The atomic operations, stored in [`Op::aux`] of a [`Kind::Atomic`] op.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum AtomicKind {
    Add,
    Or,
    And,
    Xor,
    FetchAdd,
    FetchOr,
    FetchAnd,
    FetchXor,
    Xchg,
    CmpXchg,
    LoadAcquire,
    StoreRelease,
}

impl AtomicKind {
    pub(crate) const ALL: [AtomicKind; 12] = [
        AtomicKind::Add,
        AtomicKind::Or,
        AtomicKind::And,
        AtomicKind::Xor,
        AtomicKind::FetchAdd,
        AtomicKind::FetchOr,
        AtomicKind::FetchAnd,
        AtomicKind::FetchXor,
        AtomicKind::Xchg,
        AtomicKind::CmpXchg,
        AtomicKind::LoadAcquire,
        AtomicKind::StoreRelease,
    ];

    /// Inverse of `as u8`.
    pub(crate) fn from_u8(v: u8) -> AtomicKind {
        // Only `prepare` writes `aux`, always from a valid `AtomicKind`.
        Self::ALL[usize::from(v) % Self::ALL.len()]
    }
}

/// Instructions the interpreter recognises but cannot execute yet, stored in [`Op::aux`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum Unsupported {
    /// `LD_ABS` / `LD_IND`: need a socket-buffer context.
    PacketLoad,
    /// `addr_space_cast`: needs an arena.
    AddrSpaceCast,
    /// A write to the read-only frame pointer r10 (dead code the verifier did not visit).
    FramePointerWrite,
}

impl Unsupported {
    pub(crate) fn from_u8(v: u8) -> Unsupported {
        match v {
            v if v == Unsupported::PacketLoad as u8 => Unsupported::PacketLoad,
            v if v == Unsupported::AddrSpaceCast as u8 => Unsupported::AddrSpaceCast,
            _ => Unsupported::FramePointerWrite,
        }
    }

    pub(crate) fn what(self) -> &'static str {
        match self {
            Unsupported::PacketLoad => "legacy packet load (LD_ABS/LD_IND) needs a packet context",
            Unsupported::AddrSpaceCast => "addr_space_cast needs an arena",
            Unsupported::FramePointerWrite => "frame pointer r10 is read only",
        }
    }
}

/// A register number in an [`Op`]: below 16 by its type, so indexing the engine's 16-entry
/// register file with it needs neither a bounds check nor a mask on the dispatch path.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(crate) enum RegNo {
    R0,
    R1,
    R2,
    R3,
    R4,
    R5,
    R6,
    R7,
    R8,
    R9,
    R10,
    R11,
    R12,
    R13,
    R14,
    R15,
}

impl RegNo {
    const ALL: [RegNo; 16] = [
        RegNo::R0,
        RegNo::R1,
        RegNo::R2,
        RegNo::R3,
        RegNo::R4,
        RegNo::R5,
        RegNo::R6,
        RegNo::R7,
        RegNo::R8,
        RegNo::R9,
        RegNo::R10,
        RegNo::R11,
        RegNo::R12,
        RegNo::R13,
        RegNo::R14,
        RegNo::R15,
    ];

    /// The register numbered `n & 15` (ISA registers are 0..=10).
    pub(crate) const fn new(n: u8) -> RegNo {
        Self::ALL[(n & 15) as usize]
    }

    /// Index into the register file.
    #[inline(always)]
    pub(crate) const fn idx(self) -> usize {
        self as usize
    }
}

/// One lowered instruction (16 bytes).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct Op {
    /// The operation.
    pub kind: Kind,
    /// Destination register (0..=10).
    pub dst: RegNo,
    /// Source register (0..=10).
    pub src: RegNo,
    /// Extra selector (atomic kind, unsupported reason, second source of a fused op).
    pub aux: u8,
    /// Memory offset (sign-extended at use), or a jump target ([`Op::jump_field`]), or a
    /// call-table index.
    pub a: i32,
    /// Immediate, pre-extended: sign-extended to 64 bits for 64-bit ops, low 32 bits for 32-bit
    /// ops, masked for shifts, the full value for `lddw`.
    pub imm: u64,
}

const _: () = assert!(std::mem::size_of::<Op>() == 16);

/// Size of an [`Op`] in bytes.
const OP_SIZE: u32 = std::mem::size_of::<Op>() as u32;

/// Most ops a program may have: jump targets, as byte offsets ([`Op::jump_field`]), must fit
/// an `i32`.
pub(crate) const MAX_OPS: usize = (i32::MAX as u32 / OP_SIZE) as usize;

impl Op {
    pub(crate) const fn new(kind: Kind, dst: u8, src: u8, a: i32, imm: u64) -> Op {
        Op {
            kind,
            dst: RegNo::new(dst),
            src: RegNo::new(src),
            aux: 0,
            a,
            imm,
        }
    }

    /// The `a` of a jump or local call to op `index`: the target's byte offset in the op
    /// array, so the engine reaches it with one add (see `crate::exec`). `index` is below
    /// [`MAX_OPS`].
    pub(crate) const fn jump_field(index: i32) -> i32 {
        (index as u32).wrapping_mul(OP_SIZE) as i32
    }

    /// The absolute op index a jump or local call goes to.
    #[inline(always)]
    pub(crate) fn target(&self) -> usize {
        (self.a as u32 / OP_SIZE) as usize
    }

    /// The op a jump or local call goes to, in the op array starting at `first`.
    #[inline(always)]
    pub(crate) fn dest(&self, first: *const Op) -> *const Op {
        first.wrapping_byte_add(self.a as u32 as usize)
    }

    /// The memory offset, sign-extended to 64 bits.
    #[inline(always)]
    pub(crate) fn off(&self) -> u64 {
        self.a as i64 as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_numbers_round_trip_below_sixteen() {
        for n in 0..16u8 {
            assert_eq!(RegNo::new(n).idx(), usize::from(n));
            assert_eq!(RegNo::new(n) as u8, n);
        }
        assert_eq!(RegNo::new(17), RegNo::R1, "masked to four bits");
    }
}
