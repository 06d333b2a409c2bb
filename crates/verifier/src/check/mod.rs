//! The per-instruction checks, split by instruction kind. Each file adds methods to
//! [`crate::explore::Verifier`].

mod alu;
mod call;
pub(crate) use call::{fixed_off_is_zero, scalar_desc};
mod dynptr;
pub(crate) use dynptr::DynptrArg;
mod iter;
mod jmp;
mod kfunc;
mod linked;
pub(crate) mod mem;
mod stack;
