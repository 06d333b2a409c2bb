//! The per-instruction checks, split by instruction kind. Each file adds methods to
//! [`crate::explore::Verifier`].

mod alu;
mod call;
mod jmp;
mod kfunc;
pub(crate) mod mem;
mod stack;
