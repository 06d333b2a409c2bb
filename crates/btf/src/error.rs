//! The error type of this crate: every way a BTF / BTF.ext blob or a CO-RE relocation can be
//! malformed, each variant naming the problem and, where there is one, the type id.

use crate::types::{Kind, TypeId};

/// An error while parsing or querying BTF.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    /// The blob ends before a structure it must contain.
    #[error("BTF truncated: {what} needs {need} bytes at offset {offset}, only {have} available")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Offset (within the section being read) where it starts.
        offset: usize,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// The header magic is not 0xeB9F (little-endian).
    #[error("bad BTF magic {0:#06x} (expected 0xeb9f; big-endian BTF is not supported)")]
    BadMagic(u16),
    /// Unsupported version.
    #[error("unsupported BTF version {0} (expected 1)")]
    BadVersion(u8),
    /// Non-zero header flags.
    #[error("unsupported BTF header flags {0:#x}")]
    BadFlags(u8),
    /// Header length is too small or too large.
    #[error("bad BTF header length {hdr_len} (blob is {blob_len} bytes)")]
    BadHeaderLen {
        /// Header length from the header.
        hdr_len: u32,
        /// Total blob size.
        blob_len: usize,
    },
    /// A section described by a header is out of bounds, misaligned or overlapping.
    #[error("bad BTF {section} section: {reason}")]
    BadSection {
        /// Which section.
        section: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A string offset does not point into the string section.
    #[error("{context}: string offset {offset} is invalid (string section is {len} bytes)")]
    BadStrOffset {
        /// Where the offset was found (e.g. "type [12] name").
        context: String,
        /// The offset.
        offset: u32,
        /// String section length (including any base section).
        len: u32,
    },
    /// A type record is invalid.
    #[error("type [{id}] {kind}: {reason}")]
    InvalidType {
        /// The type id.
        id: TypeId,
        /// Its kind name (or "kind N" for unknown kinds).
        kind: String,
        /// What is wrong.
        reason: String,
    },
    /// A type id refers past the last type.
    #[error("type id {id} out of range (last type id is {max})")]
    TypeIdOutOfRange {
        /// The id asked for.
        id: TypeId,
        /// The last valid id.
        max: TypeId,
    },
    /// A modifier/typedef/array chain is a loop or deeper than the kernel's limit.
    #[error("type [{id}]: {what} chain loops or is deeper than {limit}")]
    Loop {
        /// Type id where resolution started.
        id: TypeId,
        /// What was being resolved.
        what: &'static str,
        /// Depth limit.
        limit: usize,
    },
    /// A query needed a type of some kind and found another.
    #[error("type [{id}] is {found}, expected {expected}")]
    UnexpectedKind {
        /// The type id.
        id: TypeId,
        /// The kind found.
        found: Kind,
        /// What was expected.
        expected: &'static str,
    },
    /// A size computation has no answer (void, function, forward declaration) or overflows.
    #[error("type [{id}]: cannot compute size: {reason}")]
    NoSize {
        /// The type id.
        id: TypeId,
        /// Why.
        reason: &'static str,
    },
    /// The `.BTF.ext` section is malformed.
    #[error("bad .BTF.ext: {0}")]
    BadExt(String),
    /// Reading a BTF file failed.
    #[error("reading {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error text.
        message: String,
    },
}

/// Result alias for this crate.
pub type Result<T, E = BtfError> = std::result::Result<T, E>;
