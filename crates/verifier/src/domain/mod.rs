//! The numeric abstract domain of the verifier: what is known about the value of a scalar
//! register (or the variable part of a pointer's offset), and how ALU operations and
//! conditional jumps transform that knowledge.
//!
//! - [`Tnum`] (`tnum.rs`): known/unknown bits.
//! - [`Scalar`] (`scalar.rs`, `sync.rs`, `fmt.rs`): tnum plus signed/unsigned 32/64-bit
//!   bounds, the kernel's refinement between them, size conversions and log formatting.
//! - [`alu`] (`alu.rs`): transfer functions of ALU instructions.
//! - [`branch_taken`], [`refine`], [`set_min_max`] (`branch.rs`): conditional jumps.
//!
//! Everything follows Linux 6.18 (kernel/bpf/tnum.c and the bounds code of
//! kernel/bpf/verifier.c, re-measured against the running 6.18 kernel where sources differ)
//! with the same precision, because Lull's verdicts and logs must agree with the kernel's.
//! Pure data and pure functions: no ids, liveness or precision marks (the engine's concern).

mod alu;
mod branch;
mod fmt;
mod scalar;
mod sync;
mod tnum;

#[cfg(test)]
mod tests;

pub use alu::{
    alu, alu_computes_range, and_or_fork, div_imm_is_zero, endian, shift_imm_is_invalid,
};
pub use branch::{BranchStates, branch_taken, flip, negate, refine, set_min_max};
pub use fmt::{snum, unum};
pub use scalar::{BoundsViolation, Scalar};
pub use tnum::Tnum;
