//! The execution engines a conformance run can use: the [`Engine`] trait (so a JIT can be
//! plugged in later), [`InterpEngine`], the interpreter in checked mode, and [`JitEngine`],
//! the Cranelift JIT in checked mode.

use lull_interp::{Input, PrepareOptions, Program, Vm};
use lull_isa::Located;
use lull_jit::{JitProgram, JitVm, Mode};

use crate::helpers::conformance_helpers;

/// Something that loads and runs a program the way a conformance plugin does.
pub trait Engine {
    /// Short name for reports (`interp`, `jit`).
    fn name(&self) -> &str;
    /// Loads `insns` and runs them with r1 = `mem` (0 when empty) and r2 = its length, with the
    /// suite's helpers available. Returns r0, or the message of whatever rejected or stopped
    /// the program (load-time rejection or run-time fault).
    fn execute(&mut self, insns: &[Located], mem: &mut [u8]) -> Result<u64, String>;
}

/// The interpreter in checked mode (every memory access validated, instruction budget on).
#[derive(Debug)]
pub struct InterpEngine {
    vm: Vm,
    options: PrepareOptions,
}

impl Default for InterpEngine {
    fn default() -> Self {
        InterpEngine::new()
    }
}

impl InterpEngine {
    /// An interpreter with the suite's helpers and the default instruction budget.
    pub fn new() -> InterpEngine {
        InterpEngine {
            vm: Vm::new(),
            options: PrepareOptions {
                helpers: conformance_helpers(),
                ..PrepareOptions::default()
            },
        }
    }
}

impl Engine for InterpEngine {
    fn name(&self) -> &str {
        "interp"
    }

    fn execute(&mut self, insns: &[Located], mem: &mut [u8]) -> Result<u64, String> {
        let prog = Program::prepare(insns, &self.options).map_err(|e| e.to_string())?;
        let input = if mem.is_empty() {
            Input::default()
        } else {
            Input::mem(mem)
        };
        self.vm.run(&prog, input).map_err(|e| e.to_string())
    }
}

/// The JIT (`lull-jit`) in checked mode (every memory access validated, instruction budget on).
#[derive(Debug)]
pub struct JitEngine {
    vm: JitVm,
    options: PrepareOptions,
}

impl Default for JitEngine {
    fn default() -> Self {
        JitEngine::new()
    }
}

impl JitEngine {
    /// A JIT with the suite's helpers and the default instruction budget.
    pub fn new() -> JitEngine {
        JitEngine {
            vm: JitVm::new(),
            options: PrepareOptions {
                helpers: conformance_helpers(),
                ..PrepareOptions::default()
            },
        }
    }
}

impl Engine for JitEngine {
    fn name(&self) -> &str {
        "jit"
    }

    fn execute(&mut self, insns: &[Located], mem: &mut [u8]) -> Result<u64, String> {
        let prog =
            JitProgram::compile(insns, &self.options, Mode::Checked).map_err(|e| e.to_string())?;
        let input = if mem.is_empty() {
            Input::default()
        } else {
            Input::mem(mem)
        };
        self.vm.run(&prog, input).map_err(|e| e.to_string())
    }
}
