//! `lull-interp`: the reference eBPF execution engine.
//!
//! Exact RFC 9669 semantics (plus the Linux extensions: sign-extending loads and moves, signed
//! division, `bswap`, `gotol`, JMP32, atomics with fetch, cmpxchg, load-acquire/store-release,
//! bpf-to-bpf calls, `may_goto`), designed for speed:
//!
//! 1. [`Program::prepare`] checks the typed instructions once (jump targets, falling off the
//!    end, writes to `r10`, helper/kfunc ids, `lddw` resolution) and lowers them to compact
//!    16-byte ops specialised per operation × width × operand kind, with absolute jump targets.
//! 2. [`Vm::run`] executes them in one `match` loop, validating every memory access against the
//!    regions the program may touch (its stack frames, the input memory, host regions) and
//!    enforcing an instruction budget, so unverified programs cannot crash the host or hang.
//!    [`Vm::run_trusted`] (an `unsafe fn`) skips the memory checks for verified programs.
//!
//! ```
//! use lull_isa::{AluOp, Insn, Located, Operand, Reg, Width};
//! use lull_interp::{Input, PrepareOptions, Program, Vm};
//!
//! let insns = [
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Reg(Reg::R2) },
//!     Insn::Exit,
//! ];
//! let located: Vec<Located> =
//!     insns.iter().enumerate().map(|(slot, &insn)| Located { slot, insn }).collect();
//! let prog = Program::prepare(&located, &PrepareOptions::default()).unwrap();
//! let mut buf = [0u8; 12];
//! assert_eq!(Vm::new().run(&prog, Input::mem(&mut buf)), Ok(12));
//! ```
//!
//! Calling convention: r1..r5 are arguments, r0 the return value, r6..r9 callee-saved across
//! local calls; each of the up to [`MAX_FRAMES`] frames has its own [`FRAME_SIZE`]-byte stack
//! with r10 at its top. Helpers are plain function pointers ([`HelperFn`]) found by vector
//! index; kfuncs are resolved from their BTF id to the same kind of function at prepare time.
//! `callx` follows the bpf_conformance convention: the register holds a helper id.
//!
//! All raw pointer dereferences live in the `memory` module.
#![deny(unsafe_code)]

mod alu;
mod exec;
mod fault;
pub mod foreign;
mod fuse;
mod helpers;
mod memory;
mod op;
mod prepare;
mod vm;

pub use exec::{FRAME_SIZE, MAX_FRAMES, MAY_GOTO_BUDGET};
pub use fault::{Access, Fault};
pub use helpers::{Helper, HelperContext, HelperError, HelperFn, Helpers, Kfuncs, MemoryError};
pub use prepare::{LdImm64Resolver, PrepareError, PrepareOptions, Program, writes_frame_pointer};
pub use vm::{DEFAULT_INSN_BUDGET, Input, Permission, Vm};
