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
    /// Part of an open-coded iterator's state (`STACK_ITER`); see [`IterSlot`].
    Iter,
    /// Part of a `struct bpf_dynptr` (`STACK_DYNPTR`); see [`DynptrSlot`].
    Dynptr,
}

impl SlotType {
    /// The letter the kernel's log uses for this mark.
    pub fn letter(self) -> char {
        match self {
            SlotType::Invalid => '?',
            SlotType::Spill => 'r',
            SlotType::Misc => 'm',
            SlotType::Zero => '0',
            SlotType::Iter => 'i',
            SlotType::Dynptr => 'd',
        }
    }
}

/// Where an open-coded iterator is in its life (`BPF_ITER_STATE_*`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IterState {
    /// `iter_next()` may still return an element.
    Active,
    /// `iter_next()` returned NULL: it keeps doing so.
    Drained,
}

impl IterState {
    /// The kernel's `iter_state_str`.
    pub fn name(self) -> &'static str {
        match self {
            IterState::Active => "active",
            IterState::Drained => "drained",
        }
    }
}

/// An open-coded iterator living in stack slots (the kernel keeps this in the slots'
/// `spilled_ptr.iter`; the first slot's `spilled.ref_obj_id` is the iterator's reference).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct IterSlot {
    /// The iterator struct (`struct bpf_iter_<kind>`) in the kernel BTF.
    pub btf_id: u32,
    /// `<kind>` of `struct bpf_iter_<kind>` (`num`, `bits`, `task`...), for messages.
    pub kind: &'static str,
    /// Active or drained.
    pub state: IterState,
    /// Iterations simulated so far on this path (only tells loop iterations apart).
    pub depth: u32,
    /// `MEM_RCU` (created inside an RCU section by an RCU-protected constructor) or
    /// `PTR_UNTRUSTED` (created outside one, or the section ended): `None` for neither.
    pub rcu: Option<bool>,
}

/// What a dynptr points to (`enum bpf_dynptr_type`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DynptrKind {
    /// Program memory (`bpf_dynptr_from_mem`): a map value.
    Local,
    /// A ring-buffer record (`bpf_ringbuf_reserve_dynptr`): a reference to submit or discard.
    Ringbuf,
    /// An skb's packet data (`bpf_dynptr_from_skb`).
    Skb,
    /// An XDP frame's data (`bpf_dynptr_from_xdp`).
    Xdp,
}

impl DynptrKind {
    /// The kernel's `dynptr_type_str`.
    pub fn name(self) -> &'static str {
        match self {
            DynptrKind::Local => "local",
            DynptrKind::Ringbuf => "ringbuf",
            DynptrKind::Skb => "skb",
            DynptrKind::Xdp => "xdp",
        }
    }

    /// `dynptr_type_refcounted`: the dynptr holds a reference that must be released.
    pub fn refcounted(self) -> bool {
        self == DynptrKind::Ringbuf
    }
}

/// A `struct bpf_dynptr` living in two stack slots (the kernel keeps this in the slots'
/// `spilled_ptr.dynptr`; `spilled_ptr.id` names the dynptr, `ref_obj_id` its reference).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DynptrSlot {
    /// What the dynptr points to.
    pub kind: DynptrKind,
    /// The upper slot (the one the `struct bpf_dynptr *` points to).
    pub first: bool,
}

/// One 8-byte stack slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct StackSlot {
    /// The spilled register (`NotInit` when none).
    pub spilled: Reg,
    /// Per-byte marks.
    pub types: [SlotType; 8],
    /// The iterator this slot belongs to, when its bytes are [`SlotType::Iter`].
    pub iter: Option<IterSlot>,
    /// The dynptr this slot belongs to, when its bytes are [`SlotType::Dynptr`].
    pub dynptr: Option<DynptrSlot>,
}

impl StackSlot {
    /// A slot never written.
    pub const INVALID: StackSlot = StackSlot {
        spilled: Reg::NOT_INIT,
        types: [SlotType::Invalid; 8],
        iter: None,
        dynptr: None,
    };

    /// `is_stack_slot_special` for iterators: the slot holds iterator state.
    pub fn is_iter(&self) -> bool {
        self.types[7] == SlotType::Iter
    }

    /// `STACK_DYNPTR` is never set partially: the first byte tells.
    pub fn is_dynptr(&self) -> bool {
        self.types[0] == SlotType::Dynptr
    }

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
