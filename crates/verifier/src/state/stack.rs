//! One call frame's stack: 8-byte slots, each with a per-byte mark (invalid, spilled register,
//! misc data, known zero) and, for spills, the spilled register. Byte `i` of slot `spi` is at
//! `fp - 8*spi - 1 - i`... following the kernel: for the access at `off`, `slot = -off - 1`,
//! `spi = slot / 8` and the byte mark is `types[slot % 8]`.

use super::reg::{Reg, RegKind};

/// What is known about one stack byte (`STACK_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SlotType {
    /// Never written.
    Invalid,
    /// Part of a spilled register.
    Spill,
    /// Some data.
    Misc,
    /// Known zero.
    Zero,
}

impl SlotType {
    /// The letter the kernel's log uses for this mark.
    pub fn letter(self) -> char {
        match self {
            SlotType::Invalid => '?',
            SlotType::Spill => 'r',
            SlotType::Misc => 'm',
            SlotType::Zero => '0',
        }
    }
}

/// One 8-byte stack slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct StackSlot {
    /// The spilled register (`NotInit` when none).
    pub spilled: Reg,
    /// Per-byte marks.
    pub types: [SlotType; 8],
}

impl StackSlot {
    /// A slot never written.
    pub const INVALID: StackSlot = StackSlot {
        spilled: Reg::NOT_INIT,
        types: [SlotType::Invalid; 8],
    };

    /// `is_spilled_reg`: the top byte holds a spill.
    pub fn is_spilled(&self) -> bool {
        self.types[7] == SlotType::Spill
    }
    /// `is_spilled_scalar_reg`.
    pub fn is_spilled_scalar(&self) -> bool {
        self.is_spilled() && self.spilled.kind == RegKind::Scalar
    }
    /// A full 8-byte spill of a register.
    pub fn is_full_spill(&self) -> bool {
        self.types.iter().all(|t| *t == SlotType::Spill)
    }
}
