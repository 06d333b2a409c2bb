//! Executable code memory: the [`JITModule`] that owns the compiled functions, their entry
//! points, and the one place generated code is called ([`Code::invoke`]).
//!
//! `cranelift-jit` maps, fills and protects the memory (W^X: writable while defining,
//! read+execute after `finalize_definitions`); this module frees it when the program is
//! dropped and is the only place that turns an address into a function pointer.
#![allow(unsafe_code)]

use cranelift_jit::JITModule;
use lull_interp::{Helper, Helpers};

use crate::ctx::JitCtx;

/// Whether compiled code validates memory accesses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Every load, store and atomic is checked against the stack window, the input memory and
    /// the host regions; an instruction budget bounds the run. Safe for any program.
    Checked,
    /// No checks (verified programs only): runs need [`crate::JitVm::run_trusted`].
    Trusted,
}

/// Entry point of a compiled function (an address inside [`Code`]'s module).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FuncPtr(*const u8);

/// A compiled program: its code memory and the tables its trampolines consult.
pub(crate) struct Code {
    /// Owns the code memory; `None` only while dropping.
    module: Option<JITModule>,
    /// The main function.
    pub entry: FuncPtr,
    /// Functions whose address the program takes (callback targets): (raw slot, entry),
    /// sorted by slot.
    pub callbacks: Box<[(u32, FuncPtr)]>,
    /// Helpers and kfuncs of `call` instructions, by call index.
    pub calls: Box<[Helper]>,
    /// The helper table, for `callx`.
    pub helpers: Helpers,
    /// How the code was compiled.
    pub mode: Mode,
    /// Size of the generated machine code in bytes.
    pub code_size: usize,
}

impl std::fmt::Debug for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Code")
            .field("mode", &self.mode)
            .field("functions", &(self.callbacks.len()))
            .field("code_size", &self.code_size)
            .finish()
    }
}

impl Code {
    /// Wraps a finalized module.
    pub(crate) fn new(
        module: JITModule,
        entry: *const u8,
        mut callbacks: Vec<(u32, *const u8)>,
        calls: Box<[Helper]>,
        helpers: Helpers,
        mode: Mode,
        code_size: usize,
    ) -> Code {
        callbacks.sort_unstable_by_key(|&(s, _)| s);
        Code {
            module: Some(module),
            entry: FuncPtr(entry),
            callbacks: callbacks
                .into_iter()
                .map(|(s, p)| (s, FuncPtr(p)))
                .collect(),
            calls,
            helpers,
            mode,
            code_size,
        }
    }

    /// The callback function starting at raw slot `slot`, if the program takes its address.
    pub(crate) fn callback(&self, slot: u32) -> Option<FuncPtr> {
        let i = self
            .callbacks
            .binary_search_by_key(&slot, |&(s, _)| s)
            .ok()?;
        Some(self.callbacks[i].1)
    }

    /// Calls compiled function `f` with `ctx`.
    ///
    /// # Safety
    /// `f` is an entry point of this code; `ctx.rt` points to a live
    /// [`crate::runtime::Runtime`] for this code; the stack and input `ctx` describes are
    /// valid for the run. For [`Mode::Trusted`] code, every access the program makes must be
    /// valid (the contract of [`crate::JitVm::run_trusted`]).
    pub(crate) unsafe fn invoke(&self, f: FuncPtr, ctx: &mut JitCtx) -> u64 {
        // SAFETY: `f` points to a finalized function of `self.module` (still alive: `self`
        // is borrowed) compiled with the signature `extern "C" fn(*mut JitCtx) -> u64`
        // (see `translate`). What it does with memory is the caller's contract.
        unsafe {
            let func: extern "C" fn(*mut JitCtx) -> u64 = std::mem::transmute(f.0);
            func(ctx)
        }
    }
}

// SAFETY: after `finalize_definitions` the module is never used again except to free its
// memory in `Drop` (which has `&mut self`, so no other thread holds the code then); what runs
// read are plain addresses of read+execute memory and the immutable call tables. Sharing or
// moving the code between threads therefore shares nothing mutable.
unsafe impl Send for Code {}
// SAFETY: as above: `&Code` only reads immutable data and calls immutable machine code.
unsafe impl Sync for Code {}

impl Drop for Code {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: no function of the module can run any more: calls go through `invoke`,
            // which borrows `self`, and no pointer into the code escapes this type.
            unsafe { module.free_memory() };
        }
    }
}
