//! The verifier's abstract machine state: registers and stack of every active call frame,
//! acquired references and held locks (the kernel's `bpf_verifier_state` / `bpf_func_state`).

pub mod fmt;
pub mod reg;
pub mod stack;

pub use reg::{ADD_CONST, PtrTrust, Reg, RegKind, SockKind};
pub use stack::{DynptrKind, DynptrSlot, IterSlot, IterState, SlotType, StackSlot};

/// Maximum call frames (`MAX_CALL_FRAMES`).
pub const MAX_CALL_FRAMES: usize = 8;
/// Stack size of one frame (`MAX_BPF_STACK`).
pub const MAX_STACK: i64 = 512;

/// What kind of callback a frame runs, if it is one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Callback {
    /// A synchronous callback (`bpf_loop`, `bpf_for_each_map_elem`...) called repeatedly from
    /// the helper call at `callsite`.
    Sync,
    /// An asynchronous callback (timers): verified once, never returns into the caller.
    Async,
}

/// One call frame.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Frame {
    /// `r0`..`r10`.
    pub regs: [Reg; 11],
    /// Stack slots, index `spi` (slot 0 is `fp-8..fp-1`).
    pub stack: Vec<StackSlot>,
    /// Frame number (0 = main program).
    pub frameno: u8,
    /// Subprogram this frame executes.
    pub subprog: usize,
    /// Slot of the call instruction in the caller (unused for frame 0).
    pub callsite: usize,
    /// Set when the frame runs a callback.
    pub callback: Option<Callback>,
    /// The range a callback must return (`callback_ret_range`).
    pub callback_ret: (i64, i64),
    /// Iterations of a `bpf_loop` callback verified so far (`callback_depth`).
    pub callback_depth: u64,
}

impl Frame {
    /// A fresh frame: all registers uninitialised except `r10`, the frame pointer.
    pub fn new(frameno: u8, subprog: usize, callsite: usize) -> Frame {
        let mut regs = [Reg::NOT_INIT; 11];
        regs[10] = Reg::pointer(RegKind::Stack { frame: frameno });
        Frame {
            regs,
            stack: Vec::new(),
            frameno,
            subprog,
            callsite,
            callback: None,
            callback_ret: (0, 0),
            callback_depth: 0,
        }
    }

    /// Makes sure slots up to `spi` exist (`grow_stack_state`).
    pub fn grow_stack(&mut self, spi: usize) {
        if self.stack.len() <= spi {
            self.stack.resize(spi + 1, StackSlot::INVALID);
        }
    }

    /// Allocated stack in bytes.
    pub fn allocated(&self) -> usize {
        self.stack.len() * 8
    }
}

/// An acquired reference that must be released before exit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RefState {
    /// The reference id (the pointer's `ref_obj_id`).
    pub id: u32,
    /// Slot of the instruction that acquired it.
    pub insn: usize,
    /// The callback frame that acquired it (0 outside callbacks): it must release it.
    pub callback_frame: u8,
}

/// A held `bpf_spin_lock`: which map value (by register id) and at which offset.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LockState {
    /// Map index of the locked value.
    pub map: u32,
    /// Id of the register that pointed to the value (0 for a direct map value).
    pub id: u32,
}

/// The whole state of one path.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct State {
    /// Active frames, the current one last.
    pub frames: Vec<Frame>,
    /// Acquired references.
    pub refs: Vec<RefState>,
    /// A held spin lock, if any.
    pub lock: Option<LockState>,
    /// Nesting of `may_goto` budgets on this path.
    pub may_goto_depth: u32,
    /// A path the CPU may only take speculatively (unprivileged programs explore them too).
    pub speculative: bool,
    /// Inside `bpf_rcu_read_lock()` (`active_rcu_lock`).
    pub rcu_lock: bool,
    /// Nesting of `bpf_preempt_disable()` (`active_preempt_locks`).
    pub preempt_locks: u32,
}

impl State {
    /// The entry state of the main program (`r1` = ctx).
    pub fn entry() -> State {
        let mut f = Frame::new(0, 0, 0);
        f.regs[1] = Reg::pointer(RegKind::Ctx);
        State {
            frames: vec![f],
            refs: Vec::new(),
            lock: None,
            may_goto_depth: 0,
            speculative: false,
            rcu_lock: false,
            preempt_locks: 0,
        }
    }
    /// The current frame.
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state always has a frame")
    }
    /// The current frame, mutably.
    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state always has a frame")
    }
    /// Index of the current frame.
    pub fn curframe(&self) -> usize {
        self.frames.len() - 1
    }
    /// Registers of the current frame.
    pub fn regs(&self) -> &[Reg; 11] {
        &self.cur().regs
    }
    /// Registers of the current frame, mutably.
    pub fn regs_mut(&mut self) -> &mut [Reg; 11] {
        &mut self.cur_mut().regs
    }
    /// Every register and spilled register in every frame (`bpf_for_each_reg_in_vstate`).
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut Reg)) {
        for fr in &mut self.frames {
            for r in fr.regs.iter_mut() {
                f(r);
            }
            for s in fr.stack.iter_mut() {
                if s.is_spilled() {
                    f(&mut s.spilled);
                }
            }
        }
    }
}
