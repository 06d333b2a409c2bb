//! Execution engines: [`Engine`] (the interpreter or the Cranelift JIT, a runtime option
//! orthogonal to [`ExecMode`]), a program's executable form ([`Code`], made once when the
//! program is loaded) and a virtual CPU's engines ([`Vm`]), through which a run registers its
//! memory regions and executes the code whichever engine made it.
//!
//! The JIT inlines `bpf_loop` (a native loop calling the compiled callback) and, in trusted
//! code, `bpf_map_lookup_elem` (a direct call of [`maps::lookup_trusted`]), as the kernel does.
//!
//! Both engines take the same helpers, host state ([`crate::RunEnv`]), inputs and faults, so
//! everything above this module (contexts, read sections, tail calls, helpers) is shared. A
//! checked run of JIT code validates every access in the generated code; a trusted run uses
//! code compiled without checks.

use lull_interp::{Fault, Input, Permission, PrepareError, PrepareOptions};
use lull_isa::Located;
use lull_jit::{CompileError, Intrinsics, JitProgram, JitVm, LoopIntrinsic, MapLookupFn, Mode};

use crate::Shared;
use crate::helpers::{Registry, control, errno, maps};

use crate::program::ExecMode;

/// Which engine executes programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Engine {
    /// The interpreter (`lull-interp`).
    #[default]
    Interp,
    /// The Cranelift JIT (`lull-jit`): programs are compiled to machine code when loaded.
    Jit,
}

impl Engine {
    /// The engine's name as the command line spells it (`interp`, `jit`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;
    fn from_str(s: &str) -> Result<Engine, String> {
        match s {
            "interp" | "interpreter" => Ok(Engine::Interp),
            "jit" => Ok(Engine::Jit),
            other => Err(format!("unknown engine '{other}' (expected interp or jit)")),
        }
    }
}

/// A program in the form its engine executes.
pub(crate) enum Code {
    /// Prepared for the interpreter.
    Interp(lull_interp::Program),
    /// Compiled (checked or trusted code, as the program's runs will be).
    Jit(Box<JitProgram>),
}

impl Code {
    /// Checks and prepares `insns` for the runtime's engine; JIT code is compiled with checks
    /// unless the program's runs are trusted (`mode`), inlining what the registry allows.
    pub(crate) fn prepare(
        insns: &[Located],
        opts: &PrepareOptions,
        shared: &Shared,
        mode: ExecMode,
    ) -> Result<Code, CompileError> {
        Ok(match shared.engine {
            Engine::Interp => Code::Interp(lull_interp::Program::prepare(insns, opts)?),
            Engine::Jit => {
                let mode = match mode {
                    ExecMode::Checked => Mode::Checked,
                    ExecMode::Trusted => Mode::Trusted,
                };
                Code::Jit(Box::new(JitProgram::compile_with(
                    insns,
                    opts,
                    mode,
                    &intrinsics(&shared.registry),
                )?))
            }
        })
    }
}

/// The helpers the JIT may inline: `bpf_loop` and `bpf_map_lookup_elem`, when the registry
/// holds the runtime's own implementations under the kernel's ids (a host that replaced them
/// gets its functions called).
fn intrinsics(registry: &Registry) -> Intrinsics {
    Intrinsics {
        bpf_loop: registry
            .is_kernel_helper(BPF_LOOP)
            .then_some(LoopIntrinsic {
                helper: BPF_LOOP,
                max_loops: control::BPF_MAX_LOOPS,
                too_big: u64::from(errno::E2BIG as u32),
            }),
        map_lookup: registry
            .is_kernel_helper(MAP_LOOKUP_ELEM)
            .then_some((MAP_LOOKUP_ELEM, maps::lookup_trusted as MapLookupFn)),
    }
}

/// Kernel helper ids of the intrinsics.
const MAP_LOOKUP_ELEM: u16 = 1;
const BPF_LOOP: u16 = 181;

/// Splits a [`CompileError`] into the interpreter's structural error (reported as a
/// preparation error, the same for both engines) and a code generation failure.
pub(crate) fn split_error(e: CompileError) -> Result<PrepareError, String> {
    match e {
        CompileError::Prepare(p) => Ok(p),
        other => Err(other.to_string()),
    }
}

/// A virtual CPU's engines: the interpreter and the JIT's VM (each owning its stack), with the
/// host regions of the run in progress registered in the one that runs.
#[derive(Default)]
pub(crate) struct Vm {
    interp: lull_interp::Vm,
    jit: JitVm,
}

impl Vm {
    /// Fresh engines (empty stacks, no regions).
    pub(crate) fn new() -> Vm {
        Vm::default()
    }

    /// Forgets the host regions of both engines.
    pub(crate) fn clear_regions(&mut self) {
        self.interp.clear_regions();
        self.jit.clear_regions();
    }

    /// Makes `len` bytes at `ptr` accessible to the next checked runs (both engines).
    ///
    /// # Safety
    /// As for [`lull_interp::Vm::add_region`], until [`Vm::clear_regions`].
    #[allow(unsafe_code)] // an `unsafe fn` forwarding its contract
    pub(crate) unsafe fn add_region(&mut self, ptr: *mut u8, len: usize, permission: Permission) {
        // SAFETY: forwarded from this function's contract (both VMs have the same one).
        unsafe {
            self.interp.add_region(ptr, len, permission);
            self.jit.add_region(ptr, len, permission);
        }
    }

    /// A checked run of `code`.
    pub(crate) fn run(&mut self, code: &Code, input: Input<'_>) -> Result<u64, Fault> {
        match code {
            Code::Interp(p) => self.interp.run(p, input),
            Code::Jit(p) => self.jit.run(p, input),
        }
    }

    /// A trusted run of `code`.
    ///
    /// # Safety
    /// As for [`lull_interp::Vm::run_trusted`] (the JIT's contract is the same).
    #[allow(unsafe_code)] // an `unsafe fn` forwarding its contract
    pub(crate) unsafe fn run_trusted(
        &mut self,
        code: &Code,
        input: Input<'_>,
    ) -> Result<u64, Fault> {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            match code {
                Code::Interp(p) => self.interp.run_trusted(p, input),
                Code::Jit(p) => self.jit.run_trusted(p, input),
            }
        }
    }
}
