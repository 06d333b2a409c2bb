//! [`JitVm`]: the per-run state of compiled programs (the 8 × 512-byte stack, host regions,
//! instruction budget) and the two entry points, checked and trusted, mirroring
//! [`lull_interp::Vm`].
#![allow(unsafe_code)]

use lull_interp::foreign::RunMemory;
use lull_interp::{DEFAULT_INSN_BUDGET, FRAME_SIZE, Fault, Input, MAX_FRAMES, Permission};

use crate::code::Mode;
use crate::compile::JitProgram;
use crate::ctx::JitCtx;
use crate::runtime::{Runtime, execute};

/// A host region registered with [`JitVm::add_region`].
#[derive(Clone, Copy, Debug)]
struct HostRegion {
    ptr: *mut u8,
    len: usize,
    permission: Permission,
}

/// Runs [`JitProgram`]s: owns the stack (8 frames × 512 bytes), reusable across runs and
/// programs without allocating.
#[derive(Debug)]
pub struct JitVm {
    stack: Box<[u64]>,
    host: Vec<HostRegion>,
    budget: Option<u64>,
    executed: Option<u64>,
}

impl Default for JitVm {
    fn default() -> Self {
        JitVm::new()
    }
}

impl JitVm {
    /// A VM with the interpreter's default instruction budget ([`DEFAULT_INSN_BUDGET`]).
    pub fn new() -> JitVm {
        JitVm {
            stack: vec![0u64; MAX_FRAMES * FRAME_SIZE / 8].into_boxed_slice(),
            host: Vec::new(),
            budget: Some(DEFAULT_INSN_BUDGET),
            executed: None,
        }
    }

    /// Sets the instruction budget of checked runs; `None` removes it. Checked code charges
    /// each basic block's length on entry and tests the budget at backward jumps; a run that
    /// exceeds it fails with [`Fault::BudgetExhausted`].
    pub fn set_insn_budget(&mut self, budget: Option<u64>) {
        self.budget = budget;
    }

    /// Instructions the last checked run was charged for (basic blocks are charged whole, on
    /// entry); `None` after a trusted run.
    pub fn executed(&self) -> Option<u64> {
        self.executed
    }

    /// Makes `len` bytes at `ptr` accessible to programs run by this VM (e.g. a map value).
    ///
    /// # Safety
    /// As for [`lull_interp::Vm::add_region`]: until [`JitVm::clear_regions`] is called or the
    /// VM is dropped, the memory must stay valid for reads (and for writes with
    /// [`Permission::ReadWrite`]) and must not be accessed through Rust references while a run
    /// may access it.
    pub unsafe fn add_region(&mut self, ptr: *mut u8, len: usize, permission: Permission) {
        self.host.push(HostRegion {
            ptr,
            len,
            permission,
        });
    }

    /// Forgets every host region.
    pub fn clear_regions(&mut self) {
        self.host.clear();
    }

    /// Runs a program compiled in [`Mode::Checked`]: every memory access is validated and the
    /// instruction budget applies. Never touches memory outside the stack, the input memory
    /// and the host regions, whatever the program. A [`Mode::Trusted`] program is refused
    /// with [`Fault::Unsupported`].
    pub fn run(&mut self, prog: &JitProgram, input: Input<'_>) -> Result<u64, Fault> {
        if prog.mode() != Mode::Checked {
            return Err(Fault::Unsupported {
                slot: 0,
                what: "code compiled in trusted mode needs JitVm::run_trusted",
            });
        }
        self.stack.fill(0);
        // SAFETY: checked code validates every access it makes and every helper validates
        // through `RunMemory`; callbacks only enter functions of the same checked code.
        unsafe { self.enter(prog, input, false) }
    }

    /// Runs `prog` (compiled in either mode) without memory checks or budget (call depth
    /// still applies). The stack is not cleared between runs.
    ///
    /// # Safety
    /// As for [`lull_interp::Vm::run_trusted`]: every load, store and atomic the program
    /// performs on this input, every memory argument it passes to helpers and every callback
    /// address must be valid. A verifier that proved the program's memory safety discharges
    /// this; an unverified program must use [`JitVm::run`] with checked code.
    pub unsafe fn run_trusted(
        &mut self,
        prog: &JitProgram,
        input: Input<'_>,
    ) -> Result<u64, Fault> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.enter(prog, input, true) }
    }

    /// Builds the run's memory and context and enters the main function.
    ///
    /// # Safety
    /// Unless `prog` is checked code run with `trusted == false`, the `run_trusted` contract.
    unsafe fn enter(
        &mut self,
        prog: &JitProgram,
        input: Input<'_>,
        trusted: bool,
    ) -> Result<u64, Fault> {
        let stack_len = self.stack.len() * 8;
        let stack = self.stack.as_mut_ptr().cast::<u8>();
        let stack_top = (stack.expose_provenance() + stack_len) as u64;
        let input_mem = input.mem.map(|m| (m.as_mut_ptr(), m.len()));
        let (addr, len) =
            input_mem.map_or((0, 0), |(p, l)| (p.expose_provenance() as u64, l as u64));
        // SAFETY: the stack is owned by `self`, mutably borrowed for the whole run, and reached
        // only through this pointer meanwhile; the input slice is mutably borrowed for the run
        // (`Input<'_>`) and likewise reached only through its pointer.
        let mut mem = unsafe { RunMemory::new(stack, stack_len, FRAME_SIZE, input_mem, trusted) };
        for r in &self.host {
            // SAFETY: the contract of `JitVm::add_region` covers the run.
            unsafe { mem.add_region(r.ptr, r.len, r.permission) };
        }
        let args = input
            .args
            .unwrap_or([if len == 0 { 0 } else { addr }, len, 0, 0, 0]);
        let checked = !trusted && prog.mode() == Mode::Checked;
        let budget = if checked {
            self.budget.unwrap_or(u64::MAX)
        } else {
            u64::MAX
        };
        let fuel = i64::try_from(budget).unwrap_or(i64::MAX);
        let call_limit = stack_top - ((MAX_FRAMES - 2) * FRAME_SIZE) as u64;
        let mut ctx = JitCtx::new(stack_top, call_limit, (addr, len), fuel);
        ctx.regs[1..6].copy_from_slice(&args);
        ctx.regs[10] = stack_top;
        let mut rt = Runtime {
            mem: &mut mem,
            env: input.env,
            code: &prog.code,
            budget,
            fault: None,
        };
        // SAFETY: the entry belongs to `prog.code`; memory safety is this function's contract.
        let r = unsafe { execute(prog.code.entry, &mut ctx, &mut rt) };
        self.executed = checked.then(|| fuel.wrapping_sub(ctx.fuel).max(0) as u64);
        r
    }
}
