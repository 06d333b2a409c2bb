//! Why a run stopped without a return value: the engine-neutral [`Fault`] type (shared with a
//! later JIT) and the [`Access`] kind of a memory operation.

use crate::helpers::HelperError;

/// Direction of a memory access.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    /// A load.
    Read,
    /// A store.
    Write,
    /// An atomic read-modify-write.
    ReadWrite,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Access::Read => "read",
            Access::Write => "write",
            Access::ReadWrite => "read-write",
        })
    }
}

/// A run-time failure. Every variant that comes from an instruction names its raw slot index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Fault {
    /// A load, store or atomic touched memory outside every region the program may access
    /// (or wrote to a read-only region).
    #[error("insn {slot}: invalid {access} of {size} bytes at {addr:#x}")]
    InvalidAccess {
        /// Raw slot of the instruction.
        slot: usize,
        /// The effective address.
        addr: u64,
        /// Access size in bytes.
        size: u32,
        /// Read, write or both.
        access: Access,
    },
    /// An atomic operation on an address that is not aligned to its size.
    #[error("insn {slot}: misaligned atomic access of {size} bytes at {addr:#x}")]
    MisalignedAtomic {
        /// Raw slot of the instruction.
        slot: usize,
        /// The effective address.
        addr: u64,
        /// Access size in bytes.
        size: u32,
    },
    /// A local call would exceed the maximum number of frames.
    #[error("insn {slot}: call depth exceeds {max} frames")]
    CallDepth {
        /// Raw slot of the call.
        slot: usize,
        /// The frame limit.
        max: usize,
    },
    /// `callx` with a register value that is no registered helper id.
    #[error("insn {slot}: callx to unknown helper id {id}")]
    UnknownHelper {
        /// Raw slot of the call.
        slot: usize,
        /// The register value.
        id: u64,
    },
    /// A helper or kfunc reported an error.
    #[error("insn {slot}: {name} failed: {error}")]
    Helper {
        /// Raw slot of the call.
        slot: usize,
        /// Name of the helper or kfunc.
        name: String,
        /// What the helper reported.
        error: HelperError,
    },
    /// A helper asked to call a function that is not a callback target of the program.
    #[error("insn {slot}: callback address {func:#x} is not a function of the program")]
    BadCallback {
        /// Raw slot of the helper call.
        slot: usize,
        /// The function address passed.
        func: u64,
    },
    /// The instruction budget ran out (the program may not terminate).
    #[error("instruction budget of {budget} exhausted at insn {slot}")]
    BudgetExhausted {
        /// Raw slot of the instruction at which the budget was found exhausted.
        slot: usize,
        /// The budget.
        budget: u64,
    },
    /// The instruction is valid but this engine cannot execute it.
    #[error("insn {slot}: unsupported: {what}")]
    Unsupported {
        /// Raw slot of the instruction.
        slot: usize,
        /// What is missing.
        what: &'static str,
    },
}

impl Fault {
    /// The raw slot of the faulting instruction.
    pub fn slot(&self) -> usize {
        match *self {
            Fault::InvalidAccess { slot, .. }
            | Fault::MisalignedAtomic { slot, .. }
            | Fault::CallDepth { slot, .. }
            | Fault::UnknownHelper { slot, .. }
            | Fault::Helper { slot, .. }
            | Fault::BadCallback { slot, .. }
            | Fault::BudgetExhausted { slot, .. }
            | Fault::Unsupported { slot, .. } => slot,
        }
    }
}
