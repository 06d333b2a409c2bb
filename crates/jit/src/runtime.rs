//! The Rust side of a run: the [`Runtime`] compiled code reaches through [`JitCtx::rt`], the
//! `extern "C"` trampolines it calls (helpers, `callx`, the slow path of checked memory
//! accesses, fault reports), and [`execute`], which enters compiled code and turns its status
//! into a result.
//!
//! Helpers run through [`lull_interp::foreign::RunMemory`], so they see exactly the
//! [`lull_interp::HelperContext`] the interpreter gives them, and callbacks they request
//! re-enter compiled code one frame down.
//!
//! The `unsafe` here is the other half of crossing into generated code: trampolines receive
//! the context as a raw pointer, and [`execute`] calls generated code.
#![allow(unsafe_code)]

use std::any::Any;
use std::ffi::c_void;

use lull_interp::foreign::{Callbacks, RunMemory};
use lull_interp::{Access, FRAME_SIZE, Fault, HelperError};

use crate::code::{Code, FuncPtr};
use crate::ctx::{JitCtx, STATUS_EXIT, STATUS_FAULT, STATUS_OK, STATUS_RETURN};

/// Fault kinds compiled code reports through [`jit_fault`] (low byte of its `info`).
pub(crate) mod fault_kind {
    /// The instruction budget ran out.
    pub const BUDGET: u64 = 1;
    /// A local call beyond the frame limit.
    pub const CALL_DEPTH: u64 = 2;
    /// `LD_ABS`/`LD_IND`.
    pub const PACKET_LOAD: u64 = 3;
    /// `addr_space_cast`.
    pub const ADDR_SPACE_CAST: u64 = 4;
    /// A misaligned atomic access; the size is in bits 8..16 of `info`, the address in `arg`.
    pub const MISALIGNED: u64 = 5;
    /// A write to the frame pointer (dead code the verifier did not visit).
    pub const FRAME_POINTER_WRITE: u64 = 6;
}

/// Access codes of [`jit_mem`]'s `info` (bits 8..10).
pub(crate) fn access_code(access: Access) -> u64 {
    match access {
        Access::Read => 0,
        Access::Write => 1,
        Access::ReadWrite => 2,
    }
}

fn access_from(code: u64) -> Access {
    match code {
        0 => Access::Read,
        1 => Access::Write,
        _ => Access::ReadWrite,
    }
}

/// Everything the trampolines need during one (possibly nested) entry into compiled code.
pub(crate) struct Runtime<'a> {
    /// The run's memory (stack window, input, host regions).
    pub mem: &'a mut RunMemory,
    /// Host state for helpers.
    pub env: Option<&'a mut (dyn Any + 'static)>,
    /// The program.
    pub code: &'a Code,
    /// The budget the run started with (for fault reports).
    pub budget: u64,
    /// The fault that stopped the run.
    pub fault: Option<Fault>,
}

/// Runs compiled function `f` with `ctx` (registers, fuel and limits filled in) over `rt`.
/// Returns r0, or the fault; a helper's exit request counts as a return.
///
/// # Safety
/// `f` belongs to `rt.code`. If `rt.code` was compiled in trusted mode, every memory access the
/// program performs on this input (and every memory argument it passes to helpers) must be
/// valid, as for [`crate::JitVm::run_trusted`].
pub(crate) unsafe fn execute(
    f: FuncPtr,
    ctx: &mut JitCtx,
    rt: &mut Runtime<'_>,
) -> Result<u64, Fault> {
    ctx.rt = (rt as *mut Runtime<'_>).cast::<c_void>();
    // SAFETY: `ctx.rt` points to `rt`, alive and not otherwise used until `invoke` returns;
    // checked code validates every access itself, trusted code is covered by our contract.
    let r0 = unsafe { rt.code.invoke(f, ctx) };
    ctx.rt = std::ptr::null_mut();
    match ctx.status {
        STATUS_OK => Ok(r0),
        STATUS_EXIT => Ok(ctx.regs[0]),
        _ => Err(rt.fault.take().unwrap_or(Fault::Unsupported {
            slot: 0,
            what: "fault without a report",
        })),
    }
}

/// Recovers the context and runtime from the pointer compiled code passed.
///
/// # Safety
/// `ctx` is the pointer [`execute`] handed to compiled code (directly or through a nested
/// entry), which is blocked in the call to the trampoline.
unsafe fn parts<'c>(ctx: *mut JitCtx) -> (&'c mut JitCtx, &'c mut Runtime<'c>) {
    // SAFETY: per the contract, `ctx` is a live, exclusive `JitCtx` (compiled code does not
    // touch it until the trampoline returns), and its `rt` points to the live `Runtime`
    // `execute` installed; neither is reachable through another reference meanwhile.
    unsafe {
        let ctx = &mut *ctx;
        let rt = &mut *ctx.rt.cast::<Runtime<'c>>();
        (ctx, rt)
    }
}

fn fail(ctx: &mut JitCtx, rt: &mut Runtime<'_>, fault: Fault) {
    rt.fault = Some(fault);
    ctx.status = STATUS_FAULT;
}

/// Window of the stack the function whose frame pointer is `r10` may access (its frame and its
/// callers').
fn stack_span(ctx: &JitCtx, r10: u64) -> u64 {
    ctx.stack_top
        .wrapping_sub(r10)
        .wrapping_add(FRAME_SIZE as u64)
}

/// Slow path of a checked access that is not inside the current stack window or the input
/// fast-path range: the host regions and the input's last bytes. Returns the pointer, or 0
/// after recording the fault. `info` = size | access << 8 | slot << 32.
pub(crate) extern "C" fn jit_mem(ctx: *mut JitCtx, addr: u64, info: u64, r10: u64) -> u64 {
    // SAFETY: called only by compiled code with its context.
    let (ctx, rt) = unsafe { parts(ctx) };
    let size = info & 0xff;
    let access = access_from((info >> 8) & 3);
    rt.mem.set_stack_window(stack_span(ctx, r10));
    match rt.mem.resolve(addr, size, access) {
        Some(p) => p.expose_provenance() as u64,
        None => {
            let fault = Fault::InvalidAccess {
                slot: (info >> 32) as usize,
                addr,
                size: size as u32,
                access,
            };
            fail(ctx, rt, fault);
            0
        }
    }
}

/// Reports a fault detected in compiled code. `info` = kind | detail << 8 | slot << 32.
pub(crate) extern "C" fn jit_fault(ctx: *mut JitCtx, info: u64, arg: u64) {
    // SAFETY: called only by compiled code with its context.
    let (ctx, rt) = unsafe { parts(ctx) };
    let slot = (info >> 32) as usize;
    let fault = match info & 0xff {
        fault_kind::BUDGET => Fault::BudgetExhausted {
            slot,
            budget: rt.budget,
        },
        fault_kind::CALL_DEPTH => Fault::CallDepth {
            slot,
            max: lull_interp::MAX_FRAMES,
        },
        fault_kind::PACKET_LOAD => Fault::Unsupported {
            slot,
            what: "legacy packet load (LD_ABS/LD_IND) needs a packet context",
        },
        fault_kind::ADDR_SPACE_CAST => Fault::Unsupported {
            slot,
            what: "addr_space_cast needs an arena",
        },
        fault_kind::FRAME_POINTER_WRITE => Fault::Unsupported {
            slot,
            what: "frame pointer r10 is read only",
        },
        _ => Fault::MisalignedAtomic {
            slot,
            addr: arg,
            size: ((info >> 8) & 0xff) as u32,
        },
    };
    fail(ctx, rt, fault);
}

/// `call` of a helper or kfunc: entry `info & 0xffff_ffff` of the program's call table,
/// raw slot `info >> 32`.
#[allow(clippy::too_many_arguments)] // the C ABI of the trampoline: context, call, r10, r1..r5
pub(crate) extern "C" fn jit_call(
    ctx: *mut JitCtx,
    info: u64,
    r10: u64,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
) -> u64 {
    // SAFETY: called only by compiled code with its context.
    let (ctx, rt) = unsafe { parts(ctx) };
    let slot = (info >> 32) as usize;
    match rt.code.calls.get((info & 0xffff_ffff) as usize).copied() {
        Some(h) => call_helper(ctx, rt, h, slot, r10, [a1, a2, a3, a4, a5]),
        None => {
            let fault = Fault::Unsupported {
                slot,
                what: "call table entry out of range",
            };
            fail(ctx, rt, fault);
            0
        }
    }
}

/// `callx`: the helper whose id is `id`, raw slot `slot`.
#[allow(clippy::too_many_arguments)] // the C ABI of the trampoline: context, id, slot, r10, r1..r5
pub(crate) extern "C" fn jit_callx(
    ctx: *mut JitCtx,
    id: u64,
    slot: u64,
    r10: u64,
    a1: u64,
    a2: u64,
    a3: u64,
    a4: u64,
    a5: u64,
) -> u64 {
    // SAFETY: called only by compiled code with its context.
    let (ctx, rt) = unsafe { parts(ctx) };
    let slot = slot as usize;
    match rt.code.helpers.get(id).copied() {
        Some(h) => call_helper(ctx, rt, h, slot, r10, [a1, a2, a3, a4, a5]),
        None => {
            fail(ctx, rt, Fault::UnknownHelper { slot, id });
            0
        }
    }
}

fn call_helper(
    ctx: &mut JitCtx,
    rt: &mut Runtime<'_>,
    h: lull_interp::Helper,
    slot: usize,
    r10: u64,
    args: [u64; 5],
) -> u64 {
    rt.mem.set_stack_window(stack_span(ctx, r10));
    let mut site = CallbackSite {
        code: rt.code,
        budget: rt.budget,
        outer: ctx,
        r10,
        slot,
    };
    let r = rt
        .mem
        .call_helper(h.func, args, rt.env.as_deref_mut(), &mut site);
    match r {
        Ok(v) => v,
        Err(HelperError::Exit(v)) => {
            ctx.regs[0] = v;
            ctx.status = STATUS_EXIT;
            0
        }
        Err(HelperError::Return(v)) => {
            ctx.regs[0] = v;
            ctx.status = STATUS_RETURN;
            0
        }
        Err(HelperError::Fault(f)) => {
            fail(ctx, rt, *f);
            0
        }
        Err(error) => {
            let fault = Fault::Helper {
                slot,
                name: h.name.to_string(),
                error,
            };
            fail(ctx, rt, fault);
            0
        }
    }
}

/// Runs callbacks a helper requests: compiled functions whose address the program took, one
/// frame below the helper's caller.
struct CallbackSite<'a> {
    code: &'a Code,
    budget: u64,
    /// The calling run's context (its fuel is shared with the callback).
    outer: &'a mut JitCtx,
    /// Frame pointer of the function that called the helper.
    r10: u64,
    /// Raw slot of the helper call.
    slot: usize,
}

impl Callbacks for CallbackSite<'_> {
    fn call(
        &mut self,
        mem: &mut RunMemory,
        func: u64,
        args: [u64; 5],
        env: Option<&mut (dyn Any + 'static)>,
    ) -> Result<u64, Fault> {
        let f = u32::try_from(func)
            .ok()
            .and_then(|slot| self.code.callback(slot))
            .ok_or(Fault::BadCallback {
                slot: self.slot,
                func,
            })?;
        if self.r10 < self.outer.call_limit {
            return Err(Fault::CallDepth {
                slot: self.slot,
                max: lull_interp::MAX_FRAMES,
            });
        }
        let mut ctx = JitCtx {
            regs: [0; 11],
            fuel: self.outer.fuel,
            status: STATUS_OK,
            stack_top: self.outer.stack_top,
            call_limit: self.outer.call_limit,
            input_start: self.outer.input_start,
            input_lim: self.outer.input_lim,
            rt: std::ptr::null_mut(),
        };
        ctx.regs[1..6].copy_from_slice(&args);
        ctx.regs[10] = self.r10.wrapping_sub(FRAME_SIZE as u64);
        let mut rt = Runtime {
            mem,
            env,
            code: self.code,
            budget: self.budget,
            fault: None,
        };
        // SAFETY: `f` belongs to `self.code`. A checked program validates its accesses; a
        // trusted one runs here only because its run was entered through `execute` under the
        // caller's guarantee, which covers the callbacks of that run.
        let r = unsafe { execute(f, &mut ctx, &mut rt) };
        self.outer.fuel = ctx.fuel;
        r
    }
}
