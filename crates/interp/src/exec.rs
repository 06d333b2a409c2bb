//! The dispatch loop: executes a prepared [`Program`] over a [`MemoryModel`].
//!
//! One `match` on the op kind per instruction, registers in a `[u64; 16]` indexed with `& 15`,
//! no allocation, hashing or `Result` in the straight-line paths. Faults leave through cold
//! functions that translate the op index to its raw slot.
//!
//! Metering (`METER = true`) counts executed instructions exactly at no per-instruction cost:
//! execution between two taken jumps is linear, so the count is updated only when control
//! transfers (`pc + 1 - block_start`), and the budget is checked there too (a run without a
//! taken jump is bounded by the program length).

use std::any::Any;

use crate::alu;
use crate::fault::{Access, Fault};
use crate::helpers::{Helper, HelperContext, HelperError};
use crate::memory::{self, AtomicFail, MemoryModel};
use crate::op::{AtomicKind, Kind, Op, Unsupported};
use crate::prepare::Program;

/// Maximum number of call frames (the main function included), as in the kernel.
pub const MAX_FRAMES: usize = 8;
/// Stack bytes per frame.
pub const FRAME_SIZE: usize = 512;
/// `may_goto` iterations allowed per function invocation before it jumps (the kernel's
/// `BPF_MAX_LOOPS`).
pub const MAY_GOTO_BUDGET: u64 = 8 * 1024 * 1024;

/// A suspended caller.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Frame {
    /// Op index to resume at.
    ret: usize,
    /// The caller's r6..r9.
    saved: [u64; 4],
    /// The caller's remaining `may_goto` budget.
    may_goto: u64,
}

/// Everything a run needs besides the program and memory.
pub(crate) struct RunState<'a> {
    /// Frame storage (reused across runs).
    pub frames: &'a mut [Frame; MAX_FRAMES],
    /// Initial r1..r5.
    pub args: [u64; 5],
    /// Initial r10 (top of frame 0).
    pub stack_top: u64,
    /// Instruction budget (only with metering).
    pub budget: u64,
    /// Host state for helpers.
    pub env: Option<&'a mut (dyn Any + 'static)>,
    /// Out: executed instruction count (only with metering).
    pub executed: u64,
}

#[cold]
#[inline(never)]
fn access_fault(prog: &Program, pc: usize, addr: u64, size: u32, access: Access) -> Fault {
    Fault::InvalidAccess {
        slot: slot(prog, pc),
        addr,
        size,
        access,
    }
}

/// The op at `pc`, without a bounds check on the dispatch path.
#[inline(always)]
fn op_at(ops: &[Op], pc: usize) -> &Op {
    debug_assert!(pc < ops.len(), "pc {pc} outside the program");
    // SAFETY: every pc the loop reaches is in range, by construction in `Program::prepare`:
    // jump, call and function-address targets are checked op indices; the last op is `exit`
    // or `ja`, so straight-line flow (and a return to the op after a local call, which is
    // never last) stays inside; a superinstruction that continues two ops on exists only when
    // that op does (`crate::fuse`); `run_from` starts at 0 or at a checked function entry.
    #[allow(unsafe_code)]
    unsafe {
        ops.get_unchecked(pc)
    }
}

fn slot(prog: &Program, pc: usize) -> usize {
    prog.slots.get(pc).map_or(pc, |&s| s as usize)
}

/// Runs `prog` from its first instruction to the main function's `exit`.
pub(crate) fn run<M: MemoryModel, const METER: bool>(
    prog: &Program,
    mem: &mut M,
    st: &mut RunState<'_>,
) -> Result<u64, Fault> {
    run_from::<M, METER>(prog, mem, st, 0, 0)
}

/// A helper call in progress: what [`HelperContext`] needs to reach memory and to run a
/// callback in a new frame below the caller's.
struct CallSite<'a, M: MemoryModel, const METER: bool> {
    prog: &'a Program,
    mem: &'a mut M,
    frames: &'a mut [Frame; MAX_FRAMES],
    /// Depth of the calling function.
    depth: usize,
    /// The caller's r10.
    r10: u64,
    /// Instructions the run may still execute.
    budget: u64,
    /// Instructions callbacks executed.
    executed: u64,
    /// Raw slot of the helper call.
    slot: usize,
}

impl<M: MemoryModel, const METER: bool> crate::helpers::Engine for CallSite<'_, M, METER> {
    fn regions(&self) -> &crate::memory::Regions {
        self.mem.regions()
    }
    fn regions_mut(&mut self) -> &mut crate::memory::Regions {
        self.mem.regions_mut()
    }
    fn trusted(&self) -> bool {
        M::TRUSTED
    }
    fn call(
        &mut self,
        func: u64,
        args: [u64; 5],
        env: Option<&mut (dyn Any + 'static)>,
    ) -> Result<u64, Fault> {
        let entry = self.prog.func_entry(func).ok_or(Fault::BadCallback {
            slot: self.slot,
            func,
        })?;
        if self.depth + 1 >= MAX_FRAMES {
            return Err(Fault::CallDepth {
                slot: self.slot,
                max: MAX_FRAMES,
            });
        }
        let mut st = RunState {
            frames: self.frames,
            args,
            stack_top: self.r10.wrapping_sub(FRAME_SIZE as u64),
            budget: self.budget.saturating_sub(self.executed),
            env,
            executed: 0,
        };
        let r = run_from::<M, METER>(self.prog, self.mem, &mut st, entry, self.depth + 1);
        self.executed += st.executed;
        self.mem
            .regions_mut()
            .set_stack_window(((self.depth + 1) * FRAME_SIZE) as u64);
        r
    }
}

/// Runs `prog` from op `entry` as a function at call depth `base` until it returns.
#[inline(never)]
fn run_from<M: MemoryModel, const METER: bool>(
    prog: &Program,
    mem: &mut M,
    st: &mut RunState<'_>,
    entry: usize,
    base: usize,
) -> Result<u64, Fault> {
    let ops: &[Op] = &prog.ops;
    let mut regs = [0u64; 16];
    regs[1..6].copy_from_slice(&st.args);
    regs[10] = st.stack_top;
    if base > 0 {
        mem.regions_mut()
            .set_stack_window(((base + 1) * FRAME_SIZE) as u64);
    }
    let mut pc: usize = entry;
    let mut depth: usize = base;
    let mut may_goto = MAY_GOTO_BUDGET;
    // Metering: instructions executed before `block`, the first op of the current linear run.
    let mut executed: u64 = 0;
    let mut block: usize = entry;
    let budget = st.budget;

    // Close the current linear run at `pc` (inclusive).
    macro_rules! settle {
        () => {
            if METER {
                executed += (pc + 1 - block) as u64;
                st.executed = executed;
            }
        };
    }
    // Transfer control to op `$t`.
    macro_rules! goto {
        ($t:expr) => {{
            let t: usize = $t;
            if METER {
                executed += (pc + 1 - block) as u64;
                block = t;
                if executed > budget {
                    st.executed = executed;
                    return Err(Fault::BudgetExhausted {
                        slot: slot(prog, pc),
                        budget,
                    });
                }
            }
            pc = t;
            continue;
        }};
    }
    macro_rules! fault {
        ($e:expr) => {{
            settle!();
            return Err($e);
        }};
    }
    macro_rules! load {
        ($t:ty, $d:expr, $addr:expr, $ext:expr) => {{
            let addr: u64 = $addr;
            match mem.load::<$t>(addr) {
                Some(v) => regs[$d] = $ext(v),
                None => fault!(access_fault(
                    prog,
                    pc,
                    addr,
                    std::mem::size_of::<$t>() as u32,
                    Access::Read
                )),
            }
        }};
    }
    macro_rules! store {
        ($t:ty, $addr:expr, $v:expr) => {{
            let addr: u64 = $addr;
            if !mem.store::<$t>(addr, $v as $t) {
                fault!(access_fault(
                    prog,
                    pc,
                    addr,
                    std::mem::size_of::<$t>() as u32,
                    Access::Write
                ));
            }
        }};
    }
    macro_rules! jmp {
        ($cond:expr, $t:expr) => {
            if $cond {
                goto!($t)
            }
        };
    }
    // A fused conditional jump over a `ja`: when `$cond` holds, continue after the `ja` (one
    // instruction executed); otherwise take the `ja` to `$t` (two executed).
    macro_rules! skip_or_jump {
        ($cond:expr, $t:expr) => {{
            if $cond {
                goto!(pc + 2);
            }
            pc += 1;
            goto!($t)
        }};
    }
    // A fused `d = $v` followed by `d = $e` (which reads the new `d`); continues after the pair.
    macro_rules! mov_alu {
        ($d:ident, $v:expr, $e:expr) => {{
            regs[$d] = $v;
            regs[$d] = $e;
            pc += 1;
        }};
    }
    // Return from the current function (the main one: end the run).
    macro_rules! ret {
        () => {{
            if depth == base {
                settle!();
                return Ok(regs[0]);
            }
            depth -= 1;
            let f = st.frames[depth];
            regs[6..10].copy_from_slice(&f.saved);
            regs[10] = regs[10].wrapping_add(FRAME_SIZE as u64);
            may_goto = f.may_goto;
            mem.regions_mut()
                .set_stack_window(((depth + 1) * FRAME_SIZE) as u64);
            goto!(f.ret);
        }};
    }
    // Calls helper `$h` with `$args`; evaluates to its return value.
    macro_rules! call_helper {
        ($h:expr, $args:expr) => {{
            let h: Helper = $h;
            let args: [u64; 5] = $args;
            let mut site = CallSite::<M, METER> {
                prog,
                mem: &mut *mem,
                frames: &mut *st.frames,
                depth,
                r10: regs[10],
                budget: if METER {
                    budget.saturating_sub(executed + (pc + 1 - block) as u64)
                } else {
                    u64::MAX
                },
                executed: 0,
                slot: slot(prog, pc),
            };
            let mut ctx = HelperContext::new(&mut site, st.env.as_deref_mut());
            let r = (h.func)(&mut ctx, args);
            if METER {
                executed += site.executed;
            }
            match r {
                Ok(v) => v,
                Err(HelperError::Exit(v)) => {
                    settle!();
                    return Ok(v);
                }
                Err(HelperError::Fault(f)) => fault!(*f),
                Err(error) => fault!(Fault::Helper {
                    slot: slot(prog, pc),
                    name: h.name.to_string(),
                    error,
                }),
            }
        }};
    }

    loop {
        let op = op_at(ops, pc);
        let d = (op.dst & 15) as usize;
        let s = (op.src & 15) as usize;
        let imm = op.imm;
        match op.kind {
            // 64-bit ALU.
            Kind::Add64I => regs[d] = regs[d].wrapping_add(imm),
            Kind::Add64R => regs[d] = regs[d].wrapping_add(regs[s]),
            Kind::Sub64I => regs[d] = regs[d].wrapping_sub(imm),
            Kind::Sub64R => regs[d] = regs[d].wrapping_sub(regs[s]),
            Kind::Mul64I => regs[d] = regs[d].wrapping_mul(imm),
            Kind::Mul64R => regs[d] = regs[d].wrapping_mul(regs[s]),
            Kind::Div64I => regs[d] = alu::div64(regs[d], imm),
            Kind::Div64R => regs[d] = alu::div64(regs[d], regs[s]),
            Kind::SDiv64I => regs[d] = alu::sdiv64(regs[d], imm),
            Kind::SDiv64R => regs[d] = alu::sdiv64(regs[d], regs[s]),
            Kind::Mod64I => regs[d] = alu::mod64(regs[d], imm),
            Kind::Mod64R => regs[d] = alu::mod64(regs[d], regs[s]),
            Kind::SMod64I => regs[d] = alu::smod64(regs[d], imm),
            Kind::SMod64R => regs[d] = alu::smod64(regs[d], regs[s]),
            Kind::Or64I => regs[d] |= imm,
            Kind::Or64R => regs[d] |= regs[s],
            Kind::And64I => regs[d] &= imm,
            Kind::And64R => regs[d] &= regs[s],
            Kind::Xor64I => regs[d] ^= imm,
            Kind::Xor64R => regs[d] ^= regs[s],
            Kind::Lsh64I => regs[d] <<= imm & 63,
            Kind::Lsh64R => regs[d] <<= regs[s] & 63,
            Kind::Rsh64I => regs[d] >>= imm & 63,
            Kind::Rsh64R => regs[d] >>= regs[s] & 63,
            Kind::Arsh64I => regs[d] = ((regs[d] as i64) >> (imm & 63)) as u64,
            Kind::Arsh64R => regs[d] = ((regs[d] as i64) >> (regs[s] & 63)) as u64,
            Kind::Mov64I => regs[d] = imm,
            Kind::Mov64R => regs[d] = regs[s],
            Kind::Neg64 => regs[d] = regs[d].wrapping_neg(),
            // 32-bit ALU: operate on the low halves, zero-extend the result.
            Kind::Add32I => regs[d] = (regs[d] as u32).wrapping_add(imm as u32) as u64,
            Kind::Add32R => regs[d] = (regs[d] as u32).wrapping_add(regs[s] as u32) as u64,
            Kind::Sub32I => regs[d] = (regs[d] as u32).wrapping_sub(imm as u32) as u64,
            Kind::Sub32R => regs[d] = (regs[d] as u32).wrapping_sub(regs[s] as u32) as u64,
            Kind::Mul32I => regs[d] = (regs[d] as u32).wrapping_mul(imm as u32) as u64,
            Kind::Mul32R => regs[d] = (regs[d] as u32).wrapping_mul(regs[s] as u32) as u64,
            Kind::Div32I => regs[d] = alu::div32(regs[d] as u32, imm as u32) as u64,
            Kind::Div32R => regs[d] = alu::div32(regs[d] as u32, regs[s] as u32) as u64,
            Kind::SDiv32I => regs[d] = alu::sdiv32(regs[d] as u32, imm as u32) as u64,
            Kind::SDiv32R => regs[d] = alu::sdiv32(regs[d] as u32, regs[s] as u32) as u64,
            Kind::Mod32I => regs[d] = alu::mod32(regs[d] as u32, imm as u32) as u64,
            Kind::Mod32R => regs[d] = alu::mod32(regs[d] as u32, regs[s] as u32) as u64,
            Kind::SMod32I => regs[d] = alu::smod32(regs[d] as u32, imm as u32) as u64,
            Kind::SMod32R => regs[d] = alu::smod32(regs[d] as u32, regs[s] as u32) as u64,
            Kind::Or32I => regs[d] = (regs[d] as u32 | imm as u32) as u64,
            Kind::Or32R => regs[d] = (regs[d] as u32 | regs[s] as u32) as u64,
            Kind::And32I => regs[d] = (regs[d] as u32 & imm as u32) as u64,
            Kind::And32R => regs[d] = (regs[d] as u32 & regs[s] as u32) as u64,
            Kind::Xor32I => regs[d] = (regs[d] as u32 ^ imm as u32) as u64,
            Kind::Xor32R => regs[d] = (regs[d] as u32 ^ regs[s] as u32) as u64,
            Kind::Lsh32I => regs[d] = ((regs[d] as u32) << (imm & 31)) as u64,
            Kind::Lsh32R => regs[d] = ((regs[d] as u32) << (regs[s] & 31)) as u64,
            Kind::Rsh32I => regs[d] = ((regs[d] as u32) >> (imm & 31)) as u64,
            Kind::Rsh32R => regs[d] = ((regs[d] as u32) >> (regs[s] & 31)) as u64,
            Kind::Arsh32I => regs[d] = ((regs[d] as i32) >> (imm & 31)) as u32 as u64,
            Kind::Arsh32R => regs[d] = ((regs[d] as i32) >> (regs[s] & 31)) as u32 as u64,
            Kind::Mov32I => regs[d] = imm as u32 as u64,
            Kind::Mov32R => regs[d] = regs[s] as u32 as u64,
            Kind::Neg32 => regs[d] = (regs[d] as u32).wrapping_neg() as u64,
            Kind::MovSx8To64 => regs[d] = regs[s] as i8 as i64 as u64,
            Kind::MovSx16To64 => regs[d] = regs[s] as i16 as i64 as u64,
            Kind::MovSx32To64 => regs[d] = regs[s] as i32 as i64 as u64,
            Kind::MovSx8To32 => regs[d] = regs[s] as i8 as i32 as u32 as u64,
            Kind::MovSx16To32 => regs[d] = regs[s] as i16 as i32 as u32 as u64,
            // Byte order.
            Kind::Le16 => regs[d] = regs[d] as u16 as u64,
            Kind::Le32 => regs[d] = regs[d] as u32 as u64,
            Kind::Swap16 => regs[d] = (regs[d] as u16).swap_bytes() as u64,
            Kind::Swap32 => regs[d] = (regs[d] as u32).swap_bytes() as u64,
            Kind::Swap64 => regs[d] = regs[d].swap_bytes(),
            Kind::Nop => {}
            // Loads.
            Kind::LdxB => load!(u8, d, regs[s].wrapping_add(op.off()), |v: u8| v as u64),
            Kind::LdxH => load!(u16, d, regs[s].wrapping_add(op.off()), |v: u16| v as u64),
            Kind::LdxW => load!(u32, d, regs[s].wrapping_add(op.off()), |v: u32| v as u64),
            Kind::LdxDw => load!(u64, d, regs[s].wrapping_add(op.off()), |v: u64| v),
            Kind::LdxSb => load!(
                u8,
                d,
                regs[s].wrapping_add(op.off()),
                |v: u8| v as i8 as i64 as u64
            ),
            Kind::LdxSh => load!(
                u16,
                d,
                regs[s].wrapping_add(op.off()),
                |v: u16| v as i16 as i64 as u64
            ),
            Kind::LdxSw => load!(
                u32,
                d,
                regs[s].wrapping_add(op.off()),
                |v: u32| v as i32 as i64 as u64
            ),
            // Stores.
            Kind::StxB => store!(u8, regs[d].wrapping_add(op.off()), regs[s]),
            Kind::StxH => store!(u16, regs[d].wrapping_add(op.off()), regs[s]),
            Kind::StxW => store!(u32, regs[d].wrapping_add(op.off()), regs[s]),
            Kind::StxDw => store!(u64, regs[d].wrapping_add(op.off()), regs[s]),
            Kind::StB => store!(u8, regs[d].wrapping_add(op.off()), imm),
            Kind::StH => store!(u16, regs[d].wrapping_add(op.off()), imm),
            Kind::StW => store!(u32, regs[d].wrapping_add(op.off()), imm),
            Kind::StDw => store!(u64, regs[d].wrapping_add(op.off()), imm),
            Kind::Atomic => {
                if let Err(f) = atomic(prog, pc, *op, mem, &mut regs) {
                    fault!(f);
                }
            }
            Kind::LdImm64 => regs[d] = imm,
            // Jumps.
            Kind::Ja => goto!(op.target()),
            Kind::JeqI => jmp!(regs[d] == imm, op.target()),
            Kind::JeqR => jmp!(regs[d] == regs[s], op.target()),
            Kind::JneI => jmp!(regs[d] != imm, op.target()),
            Kind::JneR => jmp!(regs[d] != regs[s], op.target()),
            Kind::JgtI => jmp!(regs[d] > imm, op.target()),
            Kind::JgtR => jmp!(regs[d] > regs[s], op.target()),
            Kind::JgeI => jmp!(regs[d] >= imm, op.target()),
            Kind::JgeR => jmp!(regs[d] >= regs[s], op.target()),
            Kind::JltI => jmp!(regs[d] < imm, op.target()),
            Kind::JltR => jmp!(regs[d] < regs[s], op.target()),
            Kind::JleI => jmp!(regs[d] <= imm, op.target()),
            Kind::JleR => jmp!(regs[d] <= regs[s], op.target()),
            Kind::JsetI => jmp!(regs[d] & imm != 0, op.target()),
            Kind::JsetR => jmp!(regs[d] & regs[s] != 0, op.target()),
            Kind::JsgtI => jmp!((regs[d] as i64) > imm as i64, op.target()),
            Kind::JsgtR => jmp!((regs[d] as i64) > regs[s] as i64, op.target()),
            Kind::JsgeI => jmp!((regs[d] as i64) >= imm as i64, op.target()),
            Kind::JsgeR => jmp!((regs[d] as i64) >= regs[s] as i64, op.target()),
            Kind::JsltI => jmp!((regs[d] as i64) < imm as i64, op.target()),
            Kind::JsltR => jmp!((regs[d] as i64) < regs[s] as i64, op.target()),
            Kind::JsleI => jmp!((regs[d] as i64) <= imm as i64, op.target()),
            Kind::JsleR => jmp!((regs[d] as i64) <= regs[s] as i64, op.target()),
            Kind::Jeq32I => jmp!(regs[d] as u32 == imm as u32, op.target()),
            Kind::Jeq32R => jmp!(regs[d] as u32 == regs[s] as u32, op.target()),
            Kind::Jne32I => jmp!(regs[d] as u32 != imm as u32, op.target()),
            Kind::Jne32R => jmp!(regs[d] as u32 != regs[s] as u32, op.target()),
            Kind::Jgt32I => jmp!(regs[d] as u32 > imm as u32, op.target()),
            Kind::Jgt32R => jmp!(regs[d] as u32 > regs[s] as u32, op.target()),
            Kind::Jge32I => jmp!(regs[d] as u32 >= imm as u32, op.target()),
            Kind::Jge32R => jmp!(regs[d] as u32 >= regs[s] as u32, op.target()),
            Kind::Jlt32I => jmp!((regs[d] as u32) < imm as u32, op.target()),
            Kind::Jlt32R => jmp!((regs[d] as u32) < regs[s] as u32, op.target()),
            Kind::Jle32I => jmp!(regs[d] as u32 <= imm as u32, op.target()),
            Kind::Jle32R => jmp!(regs[d] as u32 <= regs[s] as u32, op.target()),
            Kind::Jset32I => jmp!(regs[d] as u32 & imm as u32 != 0, op.target()),
            Kind::Jset32R => jmp!(regs[d] as u32 & regs[s] as u32 != 0, op.target()),
            Kind::Jsgt32I => jmp!(regs[d] as i32 > imm as i32, op.target()),
            Kind::Jsgt32R => jmp!(regs[d] as i32 > regs[s] as i32, op.target()),
            Kind::Jsge32I => jmp!(regs[d] as i32 >= imm as i32, op.target()),
            Kind::Jsge32R => jmp!(regs[d] as i32 >= regs[s] as i32, op.target()),
            Kind::Jslt32I => jmp!((regs[d] as i32) < imm as i32, op.target()),
            Kind::Jslt32R => jmp!((regs[d] as i32) < regs[s] as i32, op.target()),
            Kind::Jsle32I => jmp!(regs[d] as i32 <= imm as i32, op.target()),
            Kind::Jsle32R => jmp!(regs[d] as i32 <= regs[s] as i32, op.target()),
            // Fused conditional jump over a `ja` (see `crate::fuse`).
            Kind::JeqIJa => skip_or_jump!(regs[d] == imm, op.target()),
            Kind::JeqRJa => skip_or_jump!(regs[d] == regs[s], op.target()),
            Kind::JneIJa => skip_or_jump!(regs[d] != imm, op.target()),
            Kind::JneRJa => skip_or_jump!(regs[d] != regs[s], op.target()),
            Kind::JgtIJa => skip_or_jump!(regs[d] > imm, op.target()),
            Kind::JgtRJa => skip_or_jump!(regs[d] > regs[s], op.target()),
            Kind::JgeIJa => skip_or_jump!(regs[d] >= imm, op.target()),
            Kind::JgeRJa => skip_or_jump!(regs[d] >= regs[s], op.target()),
            Kind::JltIJa => skip_or_jump!(regs[d] < imm, op.target()),
            Kind::JltRJa => skip_or_jump!(regs[d] < regs[s], op.target()),
            Kind::JleIJa => skip_or_jump!(regs[d] <= imm, op.target()),
            Kind::JleRJa => skip_or_jump!(regs[d] <= regs[s], op.target()),
            Kind::JsetIJa => skip_or_jump!(regs[d] & imm != 0, op.target()),
            Kind::JsetRJa => skip_or_jump!(regs[d] & regs[s] != 0, op.target()),
            Kind::JsgtIJa => skip_or_jump!((regs[d] as i64) > imm as i64, op.target()),
            Kind::JsgtRJa => skip_or_jump!((regs[d] as i64) > regs[s] as i64, op.target()),
            Kind::JsgeIJa => skip_or_jump!((regs[d] as i64) >= imm as i64, op.target()),
            Kind::JsgeRJa => skip_or_jump!((regs[d] as i64) >= regs[s] as i64, op.target()),
            Kind::JsltIJa => skip_or_jump!((regs[d] as i64) < imm as i64, op.target()),
            Kind::JsltRJa => skip_or_jump!((regs[d] as i64) < regs[s] as i64, op.target()),
            Kind::JsleIJa => skip_or_jump!((regs[d] as i64) <= imm as i64, op.target()),
            Kind::JsleRJa => skip_or_jump!((regs[d] as i64) <= regs[s] as i64, op.target()),
            Kind::Jeq32IJa => skip_or_jump!((regs[d] as u32) == imm as u32, op.target()),
            Kind::Jeq32RJa => skip_or_jump!((regs[d] as u32) == regs[s] as u32, op.target()),
            Kind::Jne32IJa => skip_or_jump!((regs[d] as u32) != imm as u32, op.target()),
            Kind::Jne32RJa => skip_or_jump!((regs[d] as u32) != regs[s] as u32, op.target()),
            Kind::Jgt32IJa => skip_or_jump!((regs[d] as u32) > imm as u32, op.target()),
            Kind::Jgt32RJa => skip_or_jump!((regs[d] as u32) > regs[s] as u32, op.target()),
            Kind::Jge32IJa => skip_or_jump!((regs[d] as u32) >= imm as u32, op.target()),
            Kind::Jge32RJa => skip_or_jump!((regs[d] as u32) >= regs[s] as u32, op.target()),
            Kind::Jlt32IJa => skip_or_jump!((regs[d] as u32) < imm as u32, op.target()),
            Kind::Jlt32RJa => skip_or_jump!((regs[d] as u32) < regs[s] as u32, op.target()),
            Kind::Jle32IJa => skip_or_jump!((regs[d] as u32) <= imm as u32, op.target()),
            Kind::Jle32RJa => skip_or_jump!((regs[d] as u32) <= regs[s] as u32, op.target()),
            Kind::Jset32IJa => skip_or_jump!((regs[d] as u32) & imm as u32 != 0, op.target()),
            Kind::Jset32RJa => skip_or_jump!((regs[d] as u32) & regs[s] as u32 != 0, op.target()),
            Kind::Jsgt32IJa => skip_or_jump!((regs[d] as i32) > imm as i32, op.target()),
            Kind::Jsgt32RJa => skip_or_jump!((regs[d] as i32) > regs[s] as i32, op.target()),
            Kind::Jsge32IJa => skip_or_jump!((regs[d] as i32) >= imm as i32, op.target()),
            Kind::Jsge32RJa => skip_or_jump!((regs[d] as i32) >= regs[s] as i32, op.target()),
            Kind::Jslt32IJa => skip_or_jump!((regs[d] as i32) < imm as i32, op.target()),
            Kind::Jslt32RJa => skip_or_jump!((regs[d] as i32) < regs[s] as i32, op.target()),
            Kind::Jsle32IJa => skip_or_jump!((regs[d] as i32) <= imm as i32, op.target()),
            Kind::Jsle32RJa => skip_or_jump!((regs[d] as i32) <= regs[s] as i32, op.target()),
            Kind::AddAdd64I => {
                regs[d] = regs[d].wrapping_add(imm);
                regs[s] = regs[s].wrapping_add(op.off());
                pc += 1;
            }
            // Fused `mov` + ALU op on the same register.
            Kind::MovAdd64I => mov_alu!(d, regs[s], regs[d].wrapping_add(imm)),
            Kind::MovSub64I => mov_alu!(d, regs[s], regs[d].wrapping_sub(imm)),
            Kind::MovMul64I => mov_alu!(d, regs[s], regs[d].wrapping_mul(imm)),
            Kind::MovAnd64I => mov_alu!(d, regs[s], regs[d] & imm),
            Kind::MovOr64I => mov_alu!(d, regs[s], regs[d] | imm),
            Kind::MovXor64I => mov_alu!(d, regs[s], regs[d] ^ imm),
            Kind::MovLsh64I => mov_alu!(d, regs[s], regs[d] << (imm & 63)),
            Kind::MovRsh64I => mov_alu!(d, regs[s], regs[d] >> (imm & 63)),
            Kind::MovArsh64I => mov_alu!(d, regs[s], ((regs[d] as i64) >> (imm & 63)) as u64),
            Kind::MovAdd64R => mov_alu!(
                d,
                regs[s],
                regs[d].wrapping_add(regs[(op.aux & 15) as usize])
            ),
            Kind::MovSub64R => mov_alu!(
                d,
                regs[s],
                regs[d].wrapping_sub(regs[(op.aux & 15) as usize])
            ),
            Kind::MovMul64R => mov_alu!(
                d,
                regs[s],
                regs[d].wrapping_mul(regs[(op.aux & 15) as usize])
            ),
            Kind::MovAnd64R => mov_alu!(d, regs[s], regs[d] & regs[(op.aux & 15) as usize]),
            Kind::MovOr64R => mov_alu!(d, regs[s], regs[d] | regs[(op.aux & 15) as usize]),
            Kind::MovXor64R => mov_alu!(d, regs[s], regs[d] ^ regs[(op.aux & 15) as usize]),
            Kind::MovAdd32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                (regs[d] as u32).wrapping_add(imm as u32) as u64
            ),
            Kind::MovAnd32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                (regs[d] as u32 & imm as u32) as u64
            ),
            Kind::MovOr32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                (regs[d] as u32 | imm as u32) as u64
            ),
            Kind::MovXor32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                (regs[d] as u32 ^ imm as u32) as u64
            ),
            Kind::MovLsh32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                ((regs[d] as u32) << (imm & 31)) as u64
            ),
            Kind::MovRsh32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                ((regs[d] as u32) >> (imm & 31)) as u64
            ),
            Kind::MovArsh32I => mov_alu!(
                d,
                regs[s] as u32 as u64,
                ((regs[d] as i32) >> (imm & 31)) as u32 as u64
            ),
            Kind::MayGoto => {
                if may_goto == 0 {
                    goto!(op.target());
                }
                may_goto -= 1;
            }
            // Calls.
            Kind::Call => {
                let h = prog.calls[op.a as u32 as usize];
                regs[0] = call_helper!(h, [regs[1], regs[2], regs[3], regs[4], regs[5]]);
            }
            Kind::CallX => {
                let id = regs[d];
                match prog.helpers.get(id) {
                    Some(&h) => {
                        regs[0] = call_helper!(h, [regs[1], regs[2], regs[3], regs[4], regs[5]])
                    }
                    None => fault!(Fault::UnknownHelper {
                        slot: slot(prog, pc),
                        id,
                    }),
                }
            }
            Kind::CallLocal => {
                if depth + 1 >= MAX_FRAMES {
                    fault!(Fault::CallDepth {
                        slot: slot(prog, pc),
                        max: MAX_FRAMES,
                    });
                }
                st.frames[depth] = Frame {
                    ret: pc + 1,
                    saved: [regs[6], regs[7], regs[8], regs[9]],
                    may_goto,
                };
                depth += 1;
                may_goto = MAY_GOTO_BUDGET;
                regs[10] = regs[10].wrapping_sub(FRAME_SIZE as u64);
                mem.regions_mut()
                    .set_stack_window(((depth + 1) * FRAME_SIZE) as u64);
                goto!(op.target());
            }
            Kind::LdAbs | Kind::LdInd => {
                let base_off = if op.kind == Kind::LdInd { regs[s] } else { 0 };
                // The kernel computes the offset in a 64-bit register and passes it as `int`.
                let off = base_off.wrapping_add(imm) as i32;
                let args = [regs[6], off as i64 as u64, u64::from(op.aux), 0, 0];
                let h = prog.calls[op.a as u32 as usize];
                let r = call_helper!(h, args);
                if (r as i64) < 0 {
                    // Not in the packet: the current function returns 0.
                    regs[0] = 0;
                    ret!();
                }
                regs[0] = r;
            }
            Kind::Exit => ret!(),
            Kind::Unsupported => fault!(Fault::Unsupported {
                slot: slot(prog, pc),
                what: Unsupported::from_u8(op.aux).what(),
            }),
        }
        pc += 1;
    }
}

/// Executes a [`Kind::Atomic`] op (out of line: atomics are rare and large).
#[inline(never)]
fn atomic<M: MemoryModel>(
    prog: &Program,
    pc: usize,
    op: Op,
    mem: &M,
    regs: &mut [u64; 16],
) -> Result<(), Fault> {
    let kind = AtomicKind::from_u8(op.aux);
    let d = (op.dst & 15) as usize;
    let s = (op.src & 15) as usize;
    let size = op.imm;
    // Load-acquire reads through `src`; everything else addresses through `dst`.
    let base = if kind == AtomicKind::LoadAcquire {
        regs[s]
    } else {
        regs[d]
    };
    let addr = base.wrapping_add(op.off());
    let old = memory::atomic(mem, kind, size, addr, regs[s], regs[0]).map_err(|e| match e {
        AtomicFail::Invalid => Fault::InvalidAccess {
            slot: slot(prog, pc),
            addr,
            size: size as u32,
            access: match kind {
                AtomicKind::LoadAcquire => Access::Read,
                AtomicKind::StoreRelease => Access::Write,
                _ => Access::ReadWrite,
            },
        },
        AtomicFail::Misaligned => Fault::MisalignedAtomic {
            slot: slot(prog, pc),
            addr,
            size: size as u32,
        },
    })?;
    match kind {
        AtomicKind::FetchAdd
        | AtomicKind::FetchOr
        | AtomicKind::FetchAnd
        | AtomicKind::FetchXor
        | AtomicKind::Xchg => regs[s] = old,
        AtomicKind::CmpXchg => regs[0] = old,
        AtomicKind::LoadAcquire => regs[d] = old,
        AtomicKind::Add
        | AtomicKind::Or
        | AtomicKind::And
        | AtomicKind::Xor
        | AtomicKind::StoreRelease => {}
    }
    Ok(())
}
