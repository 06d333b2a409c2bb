//! Helper calls made by another engine (the JIT, `lull-jit`): [`RunMemory`], the memory one run
//! may touch, validated exactly as the interpreter validates it, and the bridge that hands a
//! [`HelperContext`] over that memory to a [`HelperFn`].
//!
//! This keeps one helper interface for every engine: the same [`crate::Helpers`] table, the
//! same [`HelperContext`] (reads, writes, `resolve`, `add_region`, callbacks), the same
//! [`crate::Fault`]s. The foreign engine supplies the stack and input memory and runs the
//! callbacks ([`Callbacks`]); this module owns the region bookkeeping.
#![allow(unsafe_code)]

use std::any::Any;

use crate::fault::{Access, Fault};
use crate::helpers::{Engine, HelperContext, HelperError, HelperFn};
use crate::memory::{Region, Regions};
use crate::vm::Permission;

/// How a foreign engine runs a function of its program for [`HelperContext::call`].
pub trait Callbacks {
    /// Runs the function whose address (an `lddw` of kind `Func`: its raw slot) is `func`,
    /// with r1..r5 = `args`, in a new frame below the calling one. `mem` is the run's memory
    /// (the engine's helper calls inside the callback go through it).
    fn call(
        &mut self,
        mem: &mut RunMemory,
        func: u64,
        args: [u64; 5],
        env: Option<&mut (dyn Any + 'static)>,
    ) -> Result<u64, Fault>;
}

/// The memory of one run of a foreign engine: its stack (whose accessible window follows the
/// call depth), its input memory, and the host regions helpers add during the run.
#[derive(Debug)]
pub struct RunMemory {
    regions: Regions,
    trusted: bool,
}

impl RunMemory {
    /// Memory made of a stack of `stack_len` bytes at `stack` (the window starts as its top
    /// `frame_size` bytes) and the input memory `input` (pointer, length). In a `trusted` run
    /// helpers access memory without validation (see [`crate::Vm::run_trusted`]).
    ///
    /// # Safety
    /// Both blocks must stay valid for reads and writes for as long as this value exists, and
    /// must not be accessed through Rust references meanwhile.
    pub unsafe fn new(
        stack: *mut u8,
        stack_len: usize,
        frame_size: usize,
        input: Option<(*mut u8, usize)>,
        trusted: bool,
    ) -> RunMemory {
        // SAFETY: forwarded from this function's contract.
        let stack = unsafe { Region::new(stack, stack_len, true) };
        let input = match input {
            // SAFETY: forwarded from this function's contract.
            Some((p, len)) => unsafe { Region::new(p, len, true) },
            None => Region::empty(),
        };
        RunMemory {
            regions: Regions::new(stack, frame_size as u64, input, Vec::new(), Vec::new()),
            trusted,
        }
    }

    /// Makes `len` bytes at `ptr` accessible for the rest of the run.
    ///
    /// # Safety
    /// As for [`crate::Vm::add_region`], until this value is dropped.
    pub unsafe fn add_region(&mut self, ptr: *mut u8, len: usize, permission: Permission) {
        // SAFETY: forwarded from this function's contract.
        let r = unsafe { Region::new(ptr, len, permission == Permission::ReadWrite) };
        self.regions.add_run_region(r);
    }

    /// Makes the top `span` bytes of the stack accessible (the frames of the calling function
    /// and its callers).
    pub fn set_stack_window(&mut self, span: u64) {
        self.regions.set_stack_window(span);
    }

    /// Pointer to `size` bytes at `addr` if they lie inside one accessible region allowing
    /// `access` (the stack window, the input memory, or a host region).
    pub fn resolve(&self, addr: u64, size: u64, access: Access) -> Option<*mut u8> {
        self.regions.resolve(addr, size, access)
    }

    /// Calls the host function `func` with r1..r5 = `args`; callbacks it requests run through
    /// `callbacks`.
    pub fn call_helper(
        &mut self,
        func: HelperFn,
        args: [u64; 5],
        env: Option<&mut (dyn Any + 'static)>,
        callbacks: &mut dyn Callbacks,
    ) -> Result<u64, HelperError> {
        let mut site = Site {
            mem: self,
            callbacks,
        };
        let mut ctx = HelperContext::new(&mut site, env);
        func(&mut ctx, args)
    }
}

/// A helper call in progress: the engine side of its [`HelperContext`].
struct Site<'a> {
    mem: &'a mut RunMemory,
    callbacks: &'a mut dyn Callbacks,
}

impl Engine for Site<'_> {
    fn regions(&self) -> &Regions {
        &self.mem.regions
    }
    fn regions_mut(&mut self) -> &mut Regions {
        &mut self.mem.regions
    }
    fn trusted(&self) -> bool {
        self.mem.trusted
    }
    fn call(
        &mut self,
        func: u64,
        args: [u64; 5],
        env: Option<&mut (dyn Any + 'static)>,
    ) -> Result<u64, Fault> {
        self.callbacks.call(self.mem, func, args, env)
    }
}
