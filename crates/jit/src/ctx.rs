//! The run context shared by generated code and the Rust side: [`JitCtx`], its field offsets
//! (which the translator bakes into loads and stores), and the status codes compiled code
//! reports through it.
//!
//! Calling convention of compiled functions: `extern "C" fn(*mut JitCtx) -> u64`. On entry a
//! function reads r0..r10 from [`JitCtx::regs`]; on `exit` it writes r1..r5 back there (the
//! interpreter shares one register file across local calls, so a caller sees the callee's
//! r1..r5) and returns r0. After any call, the caller checks [`JitCtx::status`]: after a helper,
//! [`STATUS_RETURN`] makes the calling function return; anything else but [`STATUS_OK`] makes
//! every compiled frame return at once.

use std::ffi::c_void;
use std::mem::offset_of;

/// The run is going on.
pub(crate) const STATUS_OK: u64 = 0;
/// A fault was recorded in the run's [`crate::runtime::Runtime`]; unwind.
pub(crate) const STATUS_FAULT: u64 = 1;
/// A helper asked to stop the program with r0 = `regs[0]`; unwind.
pub(crate) const STATUS_EXIT: u64 = 2;
/// A helper asked the function that called it to return r0 = `regs[0]` at once (as if its next
/// instruction were `exit`); that function resets the status and returns.
pub(crate) const STATUS_RETURN: u64 = 3;

/// What compiled code reads and writes besides BPF memory. `#[repr(C)]`: the translator uses
/// the offsets below.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct JitCtx {
    /// Register passing for local calls and callbacks (r0..r10 in, r1..r5 out), and the exit
    /// value with [`STATUS_EXIT`] or [`STATUS_RETURN`].
    pub regs: [u64; 11],
    /// Remaining instruction budget (checked code only); negative = exhausted.
    pub fuel: i64,
    /// [`STATUS_OK`], [`STATUS_FAULT`], [`STATUS_EXIT`] or [`STATUS_RETURN`].
    pub status: u64,
    /// r10 of the main function: the top of the stack.
    pub stack_top: u64,
    /// Lowest r10 from which a local call may still be made (below, the call would exceed
    /// the frame limit).
    pub call_limit: u64,
    /// Address of the input memory (checked code's fast path).
    pub input_start: u64,
    /// Accesses of up to 8 bytes at offsets below this from `input_start` are inside the
    /// input memory (0 when it is shorter than 8 bytes: every input access takes the slow path).
    pub input_lim: u64,
    /// The run's [`crate::runtime::Runtime`], type-erased.
    pub rt: *mut c_void,
}

impl JitCtx {
    /// A context with zeroed registers and status.
    pub(crate) fn new(stack_top: u64, call_limit: u64, input: (u64, u64), fuel: i64) -> JitCtx {
        JitCtx {
            regs: [0; 11],
            fuel,
            status: STATUS_OK,
            stack_top,
            call_limit,
            input_start: input.0,
            input_lim: input.1.saturating_sub(7),
            rt: std::ptr::null_mut(),
        }
    }
}

/// Byte offset of `regs[i]`.
pub(crate) const fn reg_offset(i: usize) -> i32 {
    (offset_of!(JitCtx, regs) + 8 * i) as i32
}
/// Byte offset of `fuel`.
pub(crate) const FUEL: i32 = offset_of!(JitCtx, fuel) as i32;
/// Byte offset of `status`.
pub(crate) const STATUS: i32 = offset_of!(JitCtx, status) as i32;
/// Byte offset of `stack_top`.
pub(crate) const STACK_TOP: i32 = offset_of!(JitCtx, stack_top) as i32;
/// Byte offset of `call_limit`.
pub(crate) const CALL_LIMIT: i32 = offset_of!(JitCtx, call_limit) as i32;
/// Byte offset of `input_start`.
pub(crate) const INPUT_START: i32 = offset_of!(JitCtx, input_start) as i32;
/// Byte offset of `input_lim`.
pub(crate) const INPUT_LIM: i32 = offset_of!(JitCtx, input_lim) as i32;
