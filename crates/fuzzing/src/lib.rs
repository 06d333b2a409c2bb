//! `lull-fuzzing`: the instrument that measures the Lull verifier on generated programs.
//!
//! * [`grammar`]: structured random programs (a grammar of typical BPF fragments per program type)
//!   and one-step [`grammar::mutate`]ions, deterministic from a seed.
//! * [`kernel`]: the running kernel as an oracle (`BPF_MAP_CREATE` + `BPF_PROG_LOAD` through
//!   the `bpf()` system call), available as root only.
//! * [`lull`]: the same program through `lull_verifier::verify`.
//! * [`diff`]: verdict and message comparison, classification and totals.
//! * [`soundness`]: every program Lull accepts is run in the interpreter's checked mode on
//!   random inputs; a memory fault means the verifier accepted an unsafe program.
//! * [`corpus`]: the regression files of `tests/kernel-diff/` and [`minimize`] to make them.
//!
//! `unsafe` lives in two modules only: `kernel::sys` (the system call) and `soundness::host`
//! (host memory the interpreter is allowed to touch).
#![deny(unsafe_code)]

pub mod corpus;
pub mod diff;
pub mod edit;
pub mod grammar;
pub mod kernel;
pub mod lull;
pub mod minimize;
pub mod program;
pub mod rng;
pub mod soundness;

pub use program::{MapSpec, TestProgram};
pub use rng::Rng;
