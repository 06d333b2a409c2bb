//! An instruction list with symbolic jump targets: snippets emit jumps to [`Label`]s and
//! [`Builder::finish`] turns them into slot offsets.

use lull_isa::{
    AluOp, AtomicOp, CallTarget, Insn, JmpCond, LdImm64Kind, Operand, Reg, Size, Width,
};

/// A jump target, bound to a position with [`Builder::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

enum Item {
    Plain(Insn),
    /// A conditional or unconditional jump, or a local call, to a label.
    To(Insn, Label),
}

/// Collects instructions; jumps name labels until [`Builder::finish`].
#[derive(Default)]
pub struct Builder {
    items: Vec<Item>,
    labels: Vec<Option<usize>>,
}

impl Builder {
    /// A new, unbound label.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// Binds `l` to the next instruction emitted.
    pub fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.items.len());
    }

    /// Number of instructions emitted so far.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing was emitted yet.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Emits one instruction.
    pub fn push(&mut self, insn: Insn) {
        self.items.push(Item::Plain(insn));
    }

    /// `dst op= src` (64-bit).
    pub fn alu64(&mut self, op: AluOp, dst: Reg, src: Operand) {
        self.push(Insn::Alu {
            width: Width::W64,
            op,
            dst,
            src,
        });
    }

    /// `dst = imm` (64-bit mov of a sign-extended immediate).
    pub fn mov(&mut self, dst: Reg, imm: i32) {
        self.alu64(AluOp::Mov, dst, Operand::Imm(imm));
    }

    /// `dst = src` (64-bit).
    pub fn mov_reg(&mut self, dst: Reg, src: Reg) {
        self.alu64(AluOp::Mov, dst, Operand::Reg(src));
    }

    /// `dst = *(size *)(src + off)`.
    pub fn load(&mut self, size: Size, dst: Reg, src: Reg, off: i16) {
        self.push(Insn::Load {
            size,
            signed: false,
            dst,
            src,
            off,
        });
    }

    /// `*(size *)(dst + off) = src`.
    pub fn store(&mut self, size: Size, dst: Reg, off: i16, src: Operand) {
        self.push(Insn::Store {
            size,
            dst,
            off,
            src,
        });
    }

    /// An atomic operation.
    pub fn atomic(&mut self, size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) {
        self.push(Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        });
    }

    /// `dst = map[idx]` (an `ld_imm64` map reference by fd).
    pub fn ld_map(&mut self, dst: Reg, idx: usize) {
        self.push(Insn::LdImm64 {
            dst,
            kind: LdImm64Kind::MapFd,
            imm: idx as i32,
            next_imm: 0,
        });
    }

    /// `call id`.
    pub fn call(&mut self, helper: i32) {
        self.push(Insn::Call(CallTarget::Helper(helper)));
    }

    /// `call label` (a bpf-to-bpf call).
    pub fn call_local(&mut self, l: Label) {
        self.items
            .push(Item::To(Insn::Call(CallTarget::Local(0)), l));
    }

    /// `if dst cond src goto l`.
    pub fn jump(&mut self, width: Width, cond: JmpCond, dst: Reg, src: Operand, l: Label) {
        let insn = Insn::Jump {
            width,
            cond,
            dst,
            src,
            off: 0,
        };
        self.items.push(Item::To(insn, l));
    }

    /// `goto l`.
    pub fn goto(&mut self, l: Label) {
        self.items.push(Item::To(
            Insn::Ja {
                off: 0,
                long: false,
            },
            l,
        ));
    }

    /// `exit`.
    pub fn exit(&mut self) {
        self.push(Insn::Exit);
    }

    /// Resolves the labels. A label bound past the last instruction targets the end; an
    /// unbound label is a generator bug and panics (only generator code creates labels).
    pub fn finish(self) -> Vec<Insn> {
        let mut slot_of = Vec::with_capacity(self.items.len() + 1);
        let mut slot = 0i64;
        for item in &self.items {
            slot_of.push(slot);
            let insn = match item {
                Item::Plain(i) | Item::To(i, _) => i,
            };
            slot += insn.slots() as i64;
        }
        slot_of.push(slot);
        self.items
            .iter()
            .enumerate()
            .map(|(i, item)| match *item {
                Item::Plain(insn) => insn,
                Item::To(insn, l) => {
                    let target = self.labels[l.0].expect("generator bound every label it used");
                    let rel = slot_of[target] - slot_of[i] - 1;
                    with_offset(insn, rel)
                }
            })
            .collect()
    }
}

/// `insn` (a jump or local call) with its relative target set to `rel` slots.
pub(crate) fn with_offset(insn: Insn, rel: i64) -> Insn {
    let rel16 = rel.clamp(i64::from(i16::MIN), i64::from(i16::MAX)) as i16;
    match insn {
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
            off: rel16,
        },
        Insn::Ja { long, .. } => Insn::Ja {
            off: if long { rel as i32 } else { i32::from(rel16) },
            long,
        },
        Insn::MayGoto { .. } => Insn::MayGoto { off: rel16 },
        Insn::Call(CallTarget::Local(_)) => Insn::Call(CallTarget::Local(rel as i32)),
        other => other,
    }
}

/// The relative target of a jump or local call, if `insn` is one.
pub(crate) fn offset_of(insn: &Insn) -> Option<i64> {
    match *insn {
        Insn::Jump { off, .. } | Insn::MayGoto { off } => Some(i64::from(off)),
        Insn::Ja { off, .. } => Some(i64::from(off)),
        Insn::Call(CallTarget::Local(rel)) => Some(i64::from(rel)),
        _ => None,
    }
}
