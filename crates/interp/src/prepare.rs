//! Turning a typed instruction stream into a runnable [`Program`]: structural checks (targets,
//! falling off the end, writes to `r10`, call resolution) and lowering to [`Op`]s.
//!
//! Everything that can be decided without running the program is decided here, once, so the
//! engine's loop never validates an instruction.

use std::sync::Arc;

use lull_isa::{
    AluOp, AtomicOp, CallTarget, Endian, Insn, JmpCond, LdImm64Kind, Located, Operand, Reg, Size,
    Width,
};

use crate::helpers::{Helper, Helpers, Kfuncs};
use crate::op::{AtomicKind, Kind, MAX_OPS, Op, RegNo, Unsupported};

/// Resolves the value of an `lddw` whose kind is not a plain constant (map fd, map value,
/// BTF id, function, map index): `(kind, imm, next_imm)` → the 64-bit value to load.
pub type LdImm64Resolver = Arc<dyn Fn(LdImm64Kind, i32, i32) -> Result<u64, String> + Send + Sync>;

/// What [`Program::prepare`] needs besides the instructions.
#[derive(Clone, Default)]
pub struct PrepareOptions {
    /// Helpers callable by id (`call imm` and `callx`).
    pub helpers: Helpers,
    /// Kfuncs callable by BTF id.
    pub kfuncs: Kfuncs,
    /// Resolver for `lddw` kinds other than [`LdImm64Kind::Imm`]; without one they are rejected.
    pub resolver: Option<LdImm64Resolver>,
    /// How the legacy packet loads (`LD_ABS`/`LD_IND`) reach the packet: called like the
    /// kernel's `bpf_skb_load_helper_{8,16,32}` with `[r6 (the context), offset (a signed
    /// 32-bit value), size in bytes, 0, 0]`; returns the value in host order, or a negative
    /// errno when the bytes are not in the packet (the current function then returns 0).
    /// Without one, those instructions fault when reached.
    pub packet_loader: Option<Helper>,
    /// Lower exactly one op per instruction, without superinstructions (`crate::fuse`). Runs
    /// give the same results and counts either way; this exists to test that.
    pub no_fusion: bool,
}

impl std::fmt::Debug for PrepareOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrepareOptions")
            .field("helpers", &self.helpers)
            .field("kfuncs", &self.kfuncs)
            .field("resolver", &self.resolver.as_ref().map(|_| "<fn>"))
            .field("packet_loader", &self.packet_loader.map(|h| h.name))
            .field("no_fusion", &self.no_fusion)
            .finish()
    }
}

/// Why a program cannot be prepared. Instruction-level errors name the raw slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrepareError {
    /// No instructions.
    #[error("program has no instructions")]
    Empty,
    /// More instructions than the engine can index.
    #[error("program has {len} instructions, more than the engine supports")]
    TooLarge {
        /// Number of instructions.
        len: usize,
    },
    /// The `Located` slots are not consecutive (each slot must follow the previous
    /// instruction's slots).
    #[error("instruction {index} is at slot {slot}, expected slot {expected}")]
    Layout {
        /// Index in the typed stream.
        index: usize,
        /// Its slot.
        slot: usize,
        /// The slot it should have.
        expected: usize,
    },
    /// A jump or call lands outside the program.
    #[error("insn {slot}: jump out of range to slot {target}")]
    JumpOutOfRange {
        /// Raw slot of the jump.
        slot: usize,
        /// The target slot.
        target: i64,
    },
    /// A jump or call lands on the second slot of an `lddw`.
    #[error("insn {slot}: jump into the middle of lddw at slot {target}")]
    JumpIntoLdImm64 {
        /// Raw slot of the jump.
        slot: usize,
        /// The target slot.
        target: usize,
    },
    /// The last instruction can fall through past the end of the program.
    #[error("insn {slot}: execution can fall off the end of the program")]
    FallsOffEnd {
        /// Raw slot of the last instruction.
        slot: usize,
    },
    /// `call` to a helper id with no registered function.
    #[error("insn {slot}: call to unknown helper id {id}")]
    UnknownHelper {
        /// Raw slot of the call.
        slot: usize,
        /// The helper id.
        id: i32,
    },
    /// `call` to a kfunc with no registered function.
    #[error("insn {slot}: call to unknown kfunc btf_id {btf_id} (module {module})")]
    UnknownKfunc {
        /// Raw slot of the call.
        slot: usize,
        /// BTF id.
        btf_id: i32,
        /// Module BTF index.
        module: i16,
    },
    /// An `lddw` needs a resolver and none was given.
    #[error("insn {slot}: unresolved lddw of kind {kind:?}")]
    Unresolved {
        /// Raw slot of the `lddw`.
        slot: usize,
        /// Its kind.
        kind: LdImm64Kind,
    },
    /// The resolver rejected an `lddw`.
    #[error("insn {slot}: cannot resolve lddw of kind {kind:?}: {message}")]
    Resolve {
        /// Raw slot of the `lddw`.
        slot: usize,
        /// Its kind.
        kind: LdImm64Kind,
        /// The resolver's message.
        message: String,
    },
    /// A typed instruction with no valid encoding (e.g. a 3-byte endian width).
    #[error("insn {slot}: invalid instruction: {reason}")]
    Invalid {
        /// Raw slot of the instruction.
        slot: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A prepared program: lowered ops plus the tables the engine needs. Immutable; run it with
/// [`crate::Vm`] as often as wanted.
#[derive(Debug, Clone)]
pub struct Program {
    pub(crate) ops: Box<[Op]>,
    /// Raw slot of each op (for fault reports).
    pub(crate) slots: Box<[u32]>,
    /// Helpers and kfuncs referenced by `call` ops (op `a` indexes this table).
    pub(crate) calls: Box<[Helper]>,
    /// The helper table, for `callx`.
    pub(crate) helpers: Helpers,
    /// Functions whose address an `lddw` of kind `Func` takes: (raw slot, op index), sorted.
    pub(crate) funcs: Box<[(u32, u32)]>,
}

impl Program {
    /// Checks and lowers `insns` (as produced by [`lull_isa::decode`]).
    pub fn prepare(insns: &[Located], options: &PrepareOptions) -> Result<Program, PrepareError> {
        Lowering::new(insns, options)?.run()
    }

    /// Number of instructions (an `lddw` counts once).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Always false: an empty program cannot be prepared.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Raw slot of the instruction at `index`.
    pub fn slot_of(&self, index: usize) -> Option<usize> {
        self.slots.get(index).map(|&s| s as usize)
    }

    /// The op index of the function whose address (the value an `lddw` of kind `Func`
    /// loads: its raw slot) is `func`, if the program takes that function's address.
    pub(crate) fn func_entry(&self, func: u64) -> Option<usize> {
        let slot = u32::try_from(func).ok()?;
        let i = self.funcs.binary_search_by_key(&slot, |&(s, _)| s).ok()?;
        Some(self.funcs[i].1 as usize)
    }
}

const NO_INSN: u32 = u32::MAX;

struct Lowering<'a> {
    insns: &'a [Located],
    options: &'a PrepareOptions,
    /// Raw slot → op index (`NO_INSN` for the second slot of `lddw`).
    slot_to_op: Vec<u32>,
    calls: Vec<Helper>,
    funcs: Vec<(u32, u32)>,
}

impl<'a> Lowering<'a> {
    fn new(insns: &'a [Located], options: &'a PrepareOptions) -> Result<Self, PrepareError> {
        if insns.is_empty() {
            return Err(PrepareError::Empty);
        }
        if insns.len() > MAX_OPS {
            return Err(PrepareError::TooLarge { len: insns.len() });
        }
        let mut slot_to_op = Vec::with_capacity(insns.len() + 1);
        for (index, l) in insns.iter().enumerate() {
            let expected = slot_to_op.len();
            if l.slot != expected {
                return Err(PrepareError::Layout {
                    index,
                    slot: l.slot,
                    expected,
                });
            }
            slot_to_op.push(index as u32);
            if l.insn.slots() == 2 {
                slot_to_op.push(NO_INSN);
            }
        }
        Ok(Lowering {
            insns,
            options,
            slot_to_op,
            calls: Vec::new(),
            funcs: Vec::new(),
        })
    }

    fn run(mut self) -> Result<Program, PrepareError> {
        let mut ops = Vec::with_capacity(self.insns.len());
        let mut slots = Vec::with_capacity(self.insns.len());
        for l in self.insns {
            // The kernel's verifier refuses a reachable write to r10 but never looks at dead
            // code, so such an instruction must prepare, and fault only if it is ever run.
            ops.push(if writes_frame_pointer(&l.insn) {
                unsupported(Unsupported::FramePointerWrite)
            } else {
                self.lower(l)?
            });
            slots.push(l.slot as u32);
        }
        let last = self.insns[self.insns.len() - 1];
        if !matches!(last.insn, Insn::Exit | Insn::Ja { .. }) {
            return Err(PrepareError::FallsOffEnd { slot: last.slot });
        }
        if !self.options.no_fusion {
            crate::fuse::fuse(&mut ops);
        }
        self.funcs.sort_unstable();
        self.funcs.dedup();
        Ok(Program {
            ops: ops.into_boxed_slice(),
            slots: slots.into_boxed_slice(),
            calls: self.calls.into_boxed_slice(),
            helpers: self.options.helpers.clone(),
            funcs: self.funcs.into_boxed_slice(),
        })
    }

    /// Op index of the instruction `rel` slots after the slot following `slot`.
    fn target(&self, slot: usize, rel: i64) -> Result<i32, PrepareError> {
        let t = slot as i64 + 1 + rel;
        let idx = usize::try_from(t)
            .ok()
            .and_then(|t| self.slot_to_op.get(t).copied())
            .ok_or(PrepareError::JumpOutOfRange { slot, target: t })?;
        if idx == NO_INSN {
            return Err(PrepareError::JumpIntoLdImm64 {
                slot,
                target: t as usize,
            });
        }
        Ok(idx as i32)
    }

    fn call_index(&mut self, helper: Helper) -> i32 {
        self.calls.push(helper);
        (self.calls.len() - 1) as i32
    }

    fn lower(&mut self, l: &Located) -> Result<Op, PrepareError> {
        let slot = l.slot;
        let invalid = |reason| PrepareError::Invalid { slot, reason };
        Ok(match l.insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => lower_alu(width, op, dst, src),
            Insn::Endian { kind, dst, bits } => {
                let k = match (kind, bits) {
                    (Endian::ToLe, 16) => Kind::Le16,
                    (Endian::ToLe, 32) => Kind::Le32,
                    (Endian::ToLe, 64) => Kind::Nop,
                    (Endian::ToBe | Endian::Swap, 16) => Kind::Swap16,
                    (Endian::ToBe | Endian::Swap, 32) => Kind::Swap32,
                    (Endian::ToBe | Endian::Swap, 64) => Kind::Swap64,
                    _ => return Err(invalid("byte-order width must be 16, 32 or 64")),
                };
                Op::new(k, dst.num(), 0, 0, 0)
            }
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => {
                let k = match (size, signed) {
                    (Size::B, false) => Kind::LdxB,
                    (Size::H, false) => Kind::LdxH,
                    (Size::W, false) => Kind::LdxW,
                    (Size::DW, false) => Kind::LdxDw,
                    (Size::B, true) => Kind::LdxSb,
                    (Size::H, true) => Kind::LdxSh,
                    (Size::W, true) => Kind::LdxSw,
                    (Size::DW, true) => return Err(invalid("no sign-extending 64-bit load")),
                };
                Op::new(k, dst.num(), src.num(), off.into(), 0)
            }
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => match src {
                Operand::Reg(r) => {
                    let k = match size {
                        Size::B => Kind::StxB,
                        Size::H => Kind::StxH,
                        Size::W => Kind::StxW,
                        Size::DW => Kind::StxDw,
                    };
                    Op::new(k, dst.num(), r.num(), off.into(), 0)
                }
                Operand::Imm(imm) => {
                    let k = match size {
                        Size::B => Kind::StB,
                        Size::H => Kind::StH,
                        Size::W => Kind::StW,
                        Size::DW => Kind::StDw,
                    };
                    Op::new(k, dst.num(), 0, off.into(), imm as i64 as u64)
                }
            },
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => {
                let kind = match op {
                    AtomicOp::Add { fetch: false } => AtomicKind::Add,
                    AtomicOp::Or { fetch: false } => AtomicKind::Or,
                    AtomicOp::And { fetch: false } => AtomicKind::And,
                    AtomicOp::Xor { fetch: false } => AtomicKind::Xor,
                    AtomicOp::Add { fetch: true } => AtomicKind::FetchAdd,
                    AtomicOp::Or { fetch: true } => AtomicKind::FetchOr,
                    AtomicOp::And { fetch: true } => AtomicKind::FetchAnd,
                    AtomicOp::Xor { fetch: true } => AtomicKind::FetchXor,
                    AtomicOp::Xchg => AtomicKind::Xchg,
                    AtomicOp::CmpXchg => AtomicKind::CmpXchg,
                    AtomicOp::LoadAcquire => AtomicKind::LoadAcquire,
                    AtomicOp::StoreRelease => AtomicKind::StoreRelease,
                };
                let any_size = matches!(kind, AtomicKind::LoadAcquire | AtomicKind::StoreRelease);
                if !any_size && !matches!(size, Size::W | Size::DW) {
                    return Err(invalid("atomic read-modify-write must be 32 or 64-bit"));
                }
                let mut o = Op::new(
                    Kind::Atomic,
                    dst.num(),
                    src.num(),
                    off.into(),
                    u64::from(size.bytes()),
                );
                o.aux = kind as u8;
                o
            }
            Insn::LdImm64 {
                dst,
                kind,
                imm,
                next_imm,
            } => {
                let value = match kind {
                    LdImm64Kind::Imm => Insn::imm64(imm, next_imm),
                    // A callback's address: its raw slot, which `HelperContext::call` accepts.
                    LdImm64Kind::Func => {
                        let op = self.target(slot, imm.into())?;
                        let target = (slot as i64 + 1 + i64::from(imm)) as u32;
                        self.funcs.push((target, op as u32));
                        u64::from(target)
                    }
                    _ => {
                        let resolver = self
                            .options
                            .resolver
                            .as_ref()
                            .ok_or(PrepareError::Unresolved { slot, kind })?;
                        resolver(kind, imm, next_imm).map_err(|message| PrepareError::Resolve {
                            slot,
                            kind,
                            message,
                        })?
                    }
                };
                Op::new(Kind::LdImm64, dst.num(), 0, 0, value)
            }
            Insn::LdAbs { size, imm } | Insn::LdInd { size, imm, .. } => {
                let Some(loader) = self.options.packet_loader else {
                    return Ok(unsupported(Unsupported::PacketLoad));
                };
                let (kind, src) = match l.insn {
                    Insn::LdInd { src, .. } => (Kind::LdInd, src.num()),
                    _ => (Kind::LdAbs, 0),
                };
                let mut o = Op::new(kind, 0, src, self.call_index(loader), imm as i64 as u64);
                o.aux = size.bytes() as u8;
                o
            }
            Insn::AddrSpaceCast { dst, .. } => {
                let mut o = unsupported(Unsupported::AddrSpaceCast);
                o.dst = RegNo::new(dst.num());
                o
            }
            Insn::Ja { off, .. } => Op::new(
                Kind::Ja,
                0,
                0,
                Op::jump_field(self.target(slot, off.into())?),
                0,
            ),
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                off,
            } => {
                let t = self.target(slot, off.into())?;
                let (k, s, imm) = lower_jump(width, cond, src);
                Op::new(k, dst.num(), s, Op::jump_field(t), imm)
            }
            Insn::MayGoto { off } => Op::new(
                Kind::MayGoto,
                0,
                0,
                Op::jump_field(self.target(slot, off.into())?),
                0,
            ),
            Insn::Call(CallTarget::Helper(id)) => {
                let helper = u64::try_from(id)
                    .ok()
                    .and_then(|i| self.options.helpers.get(i))
                    .copied()
                    .ok_or(PrepareError::UnknownHelper { slot, id })?;
                Op::new(Kind::Call, 0, 0, self.call_index(helper), 0)
            }
            Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
                let helper = self.options.kfuncs.get(btf_id, module).copied().ok_or(
                    PrepareError::UnknownKfunc {
                        slot,
                        btf_id,
                        module,
                    },
                )?;
                Op::new(Kind::Call, 0, 0, self.call_index(helper), 0)
            }
            Insn::Call(CallTarget::Local(imm)) => Op::new(
                Kind::CallLocal,
                0,
                0,
                Op::jump_field(self.target(slot, imm.into())?),
                0,
            ),
            Insn::CallX { dst } => Op::new(Kind::CallX, dst.num(), 0, 0, 0),
            Insn::Exit => Op::new(Kind::Exit, 0, 0, 0, 0),
        })
    }
}

fn unsupported(what: Unsupported) -> Op {
    let mut o = Op::new(Kind::Unsupported, 0, 0, 0, 0);
    o.aux = what as u8;
    o
}

/// Whether `insn` writes the frame pointer r10 (which no engine executes: the interpreter
/// and the JIT both fault there).
pub fn writes_frame_pointer(insn: &Insn) -> bool {
    let written: &[Reg] = match insn {
        Insn::Alu { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LdImm64 { dst, .. }
        | Insn::AddrSpaceCast { dst, .. } => std::slice::from_ref(dst),
        Insn::Atomic { op, dst, src, .. } => match op {
            AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true }
            | AtomicOp::Xchg => std::slice::from_ref(src),
            AtomicOp::LoadAcquire => std::slice::from_ref(dst),
            _ => &[],
        },
        _ => &[],
    };
    written.contains(&Reg::R10)
}

/// ALU lowering: picks the specialised kind and pre-extends the immediate.
fn lower_alu(width: Width, op: AluOp, dst: Reg, src: Operand) -> Op {
    use Kind::*;
    let w64 = width == Width::W64;
    let d = dst.num();
    // Sign-extending moves take a register; an immediate form folds to a constant move.
    if let AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 = op {
        return match src {
            Operand::Reg(r) => {
                let k = match (op, w64) {
                    (AluOp::MovSx8, true) => MovSx8To64,
                    (AluOp::MovSx16, true) => MovSx16To64,
                    (AluOp::MovSx32, true) => MovSx32To64,
                    (AluOp::MovSx8, false) => MovSx8To32,
                    (AluOp::MovSx16, false) => MovSx16To32,
                    // (s32) of a 32-bit value is the value itself.
                    _ => Mov32R,
                };
                Op::new(k, d, r.num(), 0, 0)
            }
            Operand::Imm(imm) => {
                let v = match op {
                    AluOp::MovSx8 => imm as i8 as i64,
                    AluOp::MovSx16 => imm as i16 as i64,
                    _ => imm as i64,
                } as u64;
                if w64 {
                    Op::new(Mov64I, d, 0, 0, v)
                } else {
                    Op::new(Mov32I, d, 0, 0, v as u32 as u64)
                }
            }
        };
    }
    if op == AluOp::Neg {
        return Op::new(if w64 { Neg64 } else { Neg32 }, d, 0, 0, 0);
    }
    let (k64, k32) = match op {
        AluOp::Add => ([Add64I, Add64R], [Add32I, Add32R]),
        AluOp::Sub => ([Sub64I, Sub64R], [Sub32I, Sub32R]),
        AluOp::Mul => ([Mul64I, Mul64R], [Mul32I, Mul32R]),
        AluOp::Div => ([Div64I, Div64R], [Div32I, Div32R]),
        AluOp::SDiv => ([SDiv64I, SDiv64R], [SDiv32I, SDiv32R]),
        AluOp::Mod => ([Mod64I, Mod64R], [Mod32I, Mod32R]),
        AluOp::SMod => ([SMod64I, SMod64R], [SMod32I, SMod32R]),
        AluOp::Or => ([Or64I, Or64R], [Or32I, Or32R]),
        AluOp::And => ([And64I, And64R], [And32I, And32R]),
        AluOp::Xor => ([Xor64I, Xor64R], [Xor32I, Xor32R]),
        AluOp::Lsh => ([Lsh64I, Lsh64R], [Lsh32I, Lsh32R]),
        AluOp::Rsh => ([Rsh64I, Rsh64R], [Rsh32I, Rsh32R]),
        AluOp::Arsh => ([Arsh64I, Arsh64R], [Arsh32I, Arsh32R]),
        // Mov (Neg and MovSx* are handled above).
        _ => ([Mov64I, Mov64R], [Mov32I, Mov32R]),
    };
    let kinds = if w64 { k64 } else { k32 };
    match src {
        Operand::Reg(r) => Op::new(kinds[1], d, r.num(), 0, 0),
        Operand::Imm(imm) => {
            let mut v = if w64 {
                imm as i64 as u64
            } else {
                imm as u32 as u64
            };
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) {
                v &= if w64 { 63 } else { 31 };
            }
            Op::new(kinds[0], d, 0, 0, v)
        }
    }
}

/// Conditional jump lowering: (kind, source register, pre-extended immediate).
fn lower_jump(width: Width, cond: JmpCond, src: Operand) -> (Kind, u8, u64) {
    use Kind::*;
    let w64 = width == Width::W64;
    let k: [Kind; 4] = match cond {
        JmpCond::Eq => [JeqI, JeqR, Jeq32I, Jeq32R],
        JmpCond::Ne => [JneI, JneR, Jne32I, Jne32R],
        JmpCond::Gt => [JgtI, JgtR, Jgt32I, Jgt32R],
        JmpCond::Ge => [JgeI, JgeR, Jge32I, Jge32R],
        JmpCond::Lt => [JltI, JltR, Jlt32I, Jlt32R],
        JmpCond::Le => [JleI, JleR, Jle32I, Jle32R],
        JmpCond::Set => [JsetI, JsetR, Jset32I, Jset32R],
        JmpCond::Sgt => [JsgtI, JsgtR, Jsgt32I, Jsgt32R],
        JmpCond::Sge => [JsgeI, JsgeR, Jsge32I, Jsge32R],
        JmpCond::Slt => [JsltI, JsltR, Jslt32I, Jslt32R],
        JmpCond::Sle => [JsleI, JsleR, Jsle32I, Jsle32R],
    };
    let base = if w64 { 0 } else { 2 };
    match src {
        Operand::Reg(r) => (k[base + 1], r.num(), 0),
        Operand::Imm(imm) => {
            let v = if w64 {
                imm as i64 as u64
            } else {
                imm as u32 as u64
            };
            (k[base], 0, v)
        }
    }
}
