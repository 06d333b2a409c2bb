//! The [`Vm`]: per-run state kept across runs (stack, frames, host regions, budget) and the
//! entry points that pick a memory model.

use std::any::Any;

use crate::exec::{self, FRAME_SIZE, Frame, MAX_FRAMES, RunState};
use crate::fault::Fault;
use crate::memory::{Checked, Region, Regions, Stack, Trusted, input_region};
use crate::prepare::Program;

/// Default instruction budget of checked runs: about a second of execution.
pub const DEFAULT_INSN_BUDGET: u64 = 1 << 30;

/// Whether a host region may be written by the program.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Permission {
    /// Loads only.
    ReadOnly,
    /// Loads and stores.
    ReadWrite,
}

/// The inputs of one run.
#[derive(Default)]
pub struct Input<'a> {
    /// Memory handed to the program: unless `args` is given, r1 = its address and r2 = its
    /// length. It is accessible (read-write) for the run.
    pub mem: Option<&'a mut [u8]>,
    /// Explicit initial r1..r5 (overrides the defaults derived from `mem`; r3..r5 default to 0).
    pub args: Option<[u64; 5]>,
    /// Host state, reachable by helpers through [`crate::HelperContext::env`].
    pub env: Option<&'a mut (dyn Any + 'static)>,
}

impl<'a> Input<'a> {
    /// r1 = address of `mem`, r2 = its length.
    pub fn mem(mem: &'a mut [u8]) -> Input<'a> {
        Input {
            mem: Some(mem),
            ..Input::default()
        }
    }

    /// Raw initial r1..r5, no input memory.
    pub fn args(args: [u64; 5]) -> Input<'a> {
        Input {
            args: Some(args),
            ..Input::default()
        }
    }
}

/// An interpreter instance: owns the stack (8 frames × 512 bytes), reusable across runs and
/// programs without allocating.
pub struct Vm {
    stack: Stack,
    /// Top bytes of the stack runs may have written since it was last zeroed.
    dirty: u64,
    frames: [Frame; MAX_FRAMES],
    host: Vec<Region>,
    /// The allocation of the regions helpers add during a run (empty between runs).
    added: Vec<Region>,
    budget: Option<u64>,
    executed: Option<u64>,
}

impl Default for Vm {
    fn default() -> Self {
        Vm::new()
    }
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("host_regions", &self.host.len())
            .field("budget", &self.budget)
            .field("executed", &self.executed)
            .finish()
    }
}

impl Vm {
    /// A VM with the default instruction budget ([`DEFAULT_INSN_BUDGET`]).
    pub fn new() -> Vm {
        Vm {
            stack: Stack::new(MAX_FRAMES * FRAME_SIZE),
            dirty: 0,
            frames: [Frame::default(); MAX_FRAMES],
            host: Vec::new(),
            added: Vec::new(),
            budget: Some(DEFAULT_INSN_BUDGET),
            executed: None,
        }
    }

    /// Sets the instruction budget; `None` removes it (a non-terminating program then runs
    /// forever). A run that exceeds it fails with [`Fault::BudgetExhausted`].
    pub fn set_insn_budget(&mut self, budget: Option<u64>) {
        self.budget = budget;
    }

    /// Number of instructions the last run executed, when it was metered (checked runs always
    /// are; trusted runs only with a budget).
    pub fn executed(&self) -> Option<u64> {
        self.executed
    }

    /// Makes `len` bytes at `ptr` accessible to programs run by this VM (e.g. a map value).
    ///
    /// # Safety
    /// Until [`Vm::clear_regions`] is called or the VM is dropped, the memory must stay valid for
    /// reads (and for writes with [`Permission::ReadWrite`]) of `len` bytes, and must not be
    /// accessed through Rust references while a run (or a helper it calls) may access it.
    #[allow(unsafe_code)] // an `unsafe fn`: the caller vouches for the region
    pub unsafe fn add_region(&mut self, ptr: *mut u8, len: usize, permission: Permission) {
        // SAFETY: forwarded from this function's contract.
        let r = unsafe { Region::new(ptr, len, permission == Permission::ReadWrite) };
        self.host.push(r);
        self.host.sort_by_key(Region::start);
    }

    /// Forgets every host region.
    pub fn clear_regions(&mut self) {
        self.host.clear();
    }

    /// Runs `prog` in checked mode: every memory access is validated against the stack, the
    /// input memory and the host regions, and the instruction budget applies. Never panics
    /// and never touches memory outside those regions, whatever the program.
    pub fn run(&mut self, prog: &Program, input: Input<'_>) -> Result<u64, Fault> {
        self.stack.clear_top(self.dirty);
        self.dirty = 0;
        let (regions, args, stack_top) = self.regions(input.mem, input.args);
        let mut mem = Checked(regions);
        let mut st = RunState {
            frames: &mut self.frames,
            args,
            stack_top,
            budget: self.budget.unwrap_or(u64::MAX),
            env: input.env,
            executed: 0,
        };
        let r = exec::run::<Checked, true>(prog, &mut mem, &mut st);
        self.executed = Some(st.executed);
        self.finish(mem.0);
        r
    }

    /// Convenience for [`Vm::run`] with r1 = `mem`, r2 = its length.
    pub fn run_mem(&mut self, prog: &Program, mem: &mut [u8]) -> Result<u64, Fault> {
        self.run(prog, Input::mem(mem))
    }

    /// Runs `prog` without memory checks (call depth and the budget, if set, still apply).
    /// The stack is not cleared between runs.
    ///
    /// # Safety
    /// Every load, store and atomic the program performs on this input must address memory
    /// valid for that access: the current or a caller's stack frame, the input memory, a
    /// registered host region, or other memory the caller knows to be valid and not aliased by
    /// Rust references during the run. The same holds for the memory arguments the program
    /// passes to helpers, which [`crate::HelperContext`] then accesses directly, and for the
    /// callback addresses it passes. A verifier that proved the program's memory safety
    /// discharges this; an unverified program must use [`Vm::run`].
    #[allow(unsafe_code)] // an `unsafe fn`: the caller vouches for memory safety
    pub unsafe fn run_trusted(&mut self, prog: &Program, input: Input<'_>) -> Result<u64, Fault> {
        let (regions, args, stack_top) = self.regions(input.mem, input.args);
        let mut mem = Trusted(regions);
        let mut st = RunState {
            frames: &mut self.frames,
            args,
            stack_top,
            budget: self.budget.unwrap_or(u64::MAX),
            env: input.env,
            executed: 0,
        };
        let r = if self.budget.is_some() {
            let r = exec::run::<Trusted, true>(prog, &mut mem, &mut st);
            self.executed = Some(st.executed);
            r
        } else {
            self.executed = None;
            exec::run::<Trusted, false>(prog, &mut mem, &mut st)
        };
        self.finish(mem.0);
        r
    }

    /// Takes back the run's region lists and notes how much of the stack it may have written.
    fn finish(&mut self, regions: Regions) {
        let (host, added, written) = regions.finish();
        self.host = host;
        self.added = added;
        self.dirty = self.dirty.max(written);
    }

    /// Builds the run's regions and initial registers.
    fn regions(
        &mut self,
        mem: Option<&mut [u8]>,
        args: Option<[u64; 5]>,
    ) -> (Regions, [u64; 5], u64) {
        let stack = self.stack.region();
        let stack_top = stack.start().wrapping_add((MAX_FRAMES * FRAME_SIZE) as u64);
        let len = mem.as_ref().map_or(0, |m| m.len() as u64);
        let input = input_region(mem);
        let args = args.unwrap_or_else(|| {
            let addr = if len == 0 { 0 } else { input.start() };
            [addr, len, 0, 0, 0]
        });
        let host = std::mem::take(&mut self.host);
        let added = std::mem::take(&mut self.added);
        (
            Regions::new(stack, FRAME_SIZE as u64, input, host, added),
            args,
            stack_top,
        )
    }
}
