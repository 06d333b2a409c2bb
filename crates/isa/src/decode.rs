//! Decoder (being written).
use crate::{Insn, Located, RawInsn};

/// A malformed encoding at a slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("instruction {slot}: {kind}")]
pub struct DecodeError {
    /// The raw slot index.
    pub slot: usize,
    /// What is wrong.
    pub kind: DecodeErrorKind,
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
}

/// Decodes a whole stream.
pub fn decode(_raw: &[RawInsn]) -> Result<Vec<Located>, DecodeError> {
    todo!()
}

/// Decodes one instruction (and the second slot of `lddw`).
pub fn decode_one(_first: RawInsn, _next: Option<RawInsn>) -> Result<Insn, DecodeErrorKind> {
    todo!()
}
