//! The per-instruction checks, split by instruction kind. Each file adds methods to
//! [`crate::explore::Verifier`].

mod alu;
mod call;
mod iter;
mod jmp;
mod kfunc;
mod linked;
pub(crate) mod mem;
mod stack;
