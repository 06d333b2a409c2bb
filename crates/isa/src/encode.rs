//! Encoder (being written).
use crate::{Insn, RawInsn};

/// Encodes a stream.
pub fn encode(insns: &[Insn]) -> Vec<RawInsn> {
    insns.iter().flat_map(|i| encode_one(i)).collect()
}

/// Encodes one instruction into one or two slots.
pub fn encode_one(_insn: &Insn) -> Vec<RawInsn> {
    todo!()
}
