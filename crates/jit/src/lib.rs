//! `lull-jit`: the second execution engine, a Cranelift back end for eBPF.
//!
//! Same interface as the interpreter (`lull-interp`): the same typed instructions in, the same
//! structural checks ([`lull_interp::Program::prepare`] runs first, so both engines reject the
//! same programs with the same [`lull_interp::PrepareError`]), the same [`lull_interp::Helpers`]
//! (helpers get the same [`lull_interp::HelperContext`]), the same [`lull_interp::Input`] and
//! the same [`lull_interp::Fault`]s.
//!
//! ```
//! use lull_isa::{AluOp, Insn, Located, Operand, Reg, Width};
//! use lull_interp::{Input, PrepareOptions};
//! use lull_jit::{JitProgram, JitVm, Mode};
//!
//! let insns = [
//!     Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Reg(Reg::R2) },
//!     Insn::Exit,
//! ];
//! let located: Vec<Located> =
//!     insns.iter().enumerate().map(|(slot, &insn)| Located { slot, insn }).collect();
//! let prog = JitProgram::compile(&located, &PrepareOptions::default(), Mode::Checked).unwrap();
//! let mut buf = [0u8; 12];
//! assert_eq!(JitVm::new().run(&prog, Input::mem(&mut buf)), Ok(12));
//! ```
//!
//! Design: each BPF function (the entry, local call targets, callback targets) becomes one
//! Cranelift function `extern "C" fn(*mut JitCtx) -> u64`; registers are SSA variables; local
//! calls are native calls (r6..r9 survive in the caller's variables, r1..r5 and r0 come back
//! through the context as the interpreter's shared register file would have them). Helpers,
//! `callx`, faults and the slow path of checked accesses go through `extern "C"` trampolines,
//! except the helpers the host lets the JIT inline ([`Intrinsics`]: `bpf_loop` as a native
//! loop, direct map lookups in trusted code).
//!
//! Modes ([`Mode`]): *checked* code validates every access inline (stack window, input
//! memory; a cold call covers host regions) and meters an instruction budget; *trusted* code
//! has no checks and runs only through the `unsafe` [`JitVm::run_trusted`].
//!
//! `unsafe` lives in `code` (calling generated code, freeing code memory), `runtime` (the
//! trampolines receive the run context as a raw pointer) and `vm` (handing the stack and
//! input memory to the run).
#![deny(unsafe_code)]

mod cfg;
mod code;
mod compile;
mod ctx;
mod intrinsics;
mod runtime;
mod translate;
mod vm;

pub use code::Mode;
pub use compile::{CompileError, JitProgram};
pub use intrinsics::{Intrinsics, LoopIntrinsic, MapLookupFn, NOT_HANDLED};
pub use vm::JitVm;
