//! The dispatch loop: executes a prepared [`Program`] over a [`MemoryModel`].
//!
//! One `match` on the op kind per instruction, dispatched through a pointer to the current op;
//! registers in a `[u64; 16]` indexed by [`crate::op::RegNo`]s (below 16 by type: no bounds
//! check, no mask); no allocation, hashing or `Result` in the straight-line paths. Faults leave
//! through cold functions that translate the op index to its raw slot.
//!
//! Metering (`METER = true`) counts executed instructions exactly at no per-instruction cost:
//! execution between two taken jumps is linear, so the count is updated only when control
//! transfers (by the distance from the run's first op to the current one), and the budget is
//! checked there too (a run without a taken jump is bounded by the program length).

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

/// Size of an [`Op`], the unit of the metering counters inside the loop.
const OP_BYTES: u64 = std::mem::size_of::<Op>() as u64;

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

/// The op `cur` points at, without a bounds check on the dispatch path.
#[inline(always)]
fn op_at(ops: &[Op], cur: *const Op) -> &Op {
    debug_assert!(
        ops.as_ptr_range().contains(&cur),
        "pc {} outside the program",
        index(ops, cur)
    );
    // SAFETY: `cur` is always `ops.as_ptr()` advanced by an in-range op index, by construction
    // in `Program::prepare`: jump, call and function-address targets are checked op indices;
    // the last op is `exit` or `ja`, so straight-line flow (and a return to the op after a
    // local call, which is never last) stays inside; a superinstruction that continues two or
    // three ops on exists only when that op does (`crate::fuse`); `run_from` starts at 0 or at
    // a checked function entry. So `cur` points at an initialised `Op` of `ops`, valid while
    // `ops` is borrowed.
    #[allow(unsafe_code)]
    unsafe {
        &*cur
    }
}

/// The op index of `cur` (a pointer into `ops`).
#[inline(always)]
fn index(ops: &[Op], cur: *const Op) -> usize {
    cur.addr().wrapping_sub(ops.as_ptr().addr()) / std::mem::size_of::<Op>()
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
    // The dispatch position is a pointer (one add per straight-line step, fields loaded
    // straight from it); `pc!()` gives its op index where one is needed.
    let first: *const Op = ops.as_ptr();
    let mut cur: *const Op = first.wrapping_add(entry);
    let mut depth: usize = base;
    let mut may_goto = MAY_GOTO_BUDGET;
    // Metering, in op bytes (`OP_BYTES` per instruction, which saves a shift per taken jump):
    // executed before `block`, the first op of the current linear run.
    let mut executed_bytes: u64 = 0;
    let mut block: *const Op = cur;
    let budget = st.budget;
    // Saturating: a budget beyond 2^60 instructions is unbounded in practice.
    let budget_bytes = budget.saturating_mul(OP_BYTES);

    // The current op index.
    macro_rules! pc {
        () => {
            index(ops, cur)
        };
    }
    // Op bytes executed in the current linear run up to `cur` (inclusive).
    macro_rules! run_bytes {
        () => {
            (cur.addr().wrapping_sub(block.addr()) as u64).wrapping_add(OP_BYTES)
        };
    }

    // Close the current linear run at `pc` (inclusive).
    macro_rules! settle {
        () => {
            if METER {
                executed_bytes += run_bytes!();
                st.executed = executed_bytes / OP_BYTES;
            }
        };
    }
    // Continue `$n` ops on, without a taken jump (straight from the arm, not through the loop's
    // shared step).
    macro_rules! next {
        ($n:expr) => {{
            cur = cur.wrapping_add($n);
            continue;
        }};
    }
    // Transfer control to the op `$t` points at.
    macro_rules! goto_ptr {
        ($t:expr) => {{
            let t: *const Op = $t;
            if METER {
                executed_bytes += run_bytes!();
                block = t;
                if executed_bytes > budget_bytes {
                    st.executed = executed_bytes / OP_BYTES;
                    return Err(Fault::BudgetExhausted {
                        slot: slot(prog, pc!()),
                        budget,
                    });
                }
            }
            cur = t;
            continue;
        }};
    }
    // Transfer control to op index `$t`.
    macro_rules! goto {
        ($t:expr) => {
            goto_ptr!(first.wrapping_add($t))
        };
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
                    pc!(),
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
                    pc!(),
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
                goto_ptr!($t)
            }
        };
    }
    // A fused conditional jump over a `ja`: when `$cond` holds, continue after the `ja` (one
    // instruction executed); otherwise take the `ja` to `$t` (two executed).
    macro_rules! skip_or_jump {
        ($cond:expr, $t:expr) => {{
            if $cond {
                goto_ptr!(cur.wrapping_add(2));
            }
            cur = cur.wrapping_add(1);
            goto_ptr!($t)
        }};
    }
    // A fused `d = $v` followed by `d = $e` (which reads the new `d`); continues after the pair.
    macro_rules! mov_alu {
        ($d:ident, $v:expr, $e:expr) => {{
            regs[$d] = $v;
            regs[$d] = $e;
            next!(2);
        }};
    }
    // A fused `d = $v` then a test `$t` of the new `d` that jumps to the op's target.
    macro_rules! add_test {
        ($op:ident, $d:ident, $v:expr, $t:expr) => {{
            let v: u64 = $v;
            regs[$d] = v;
            cur = cur.wrapping_add(1);
            if $t(v) {
                goto_ptr!($op.dest(first));
            }
        }};
    }
    // As `add_test!`, with the test jumping over a `ja`: when it holds, continue after the
    // `ja` (two instructions executed); otherwise take the `ja` (three executed).
    macro_rules! add_test_ja {
        ($op:ident, $d:ident, $v:expr, $t:expr) => {{
            let v: u64 = $v;
            regs[$d] = v;
            cur = cur.wrapping_add(1);
            if $t(v) {
                goto_ptr!(cur.wrapping_add(2));
            }
            cur = cur.wrapping_add(1);
            goto_ptr!($op.dest(first))
        }};
    }
    // A fused `d = s; d += x; y = *($t *)(d + off)` (`aux` = x | y << 4); a fault is the
    // load's, two ops on.
    macro_rules! indexed_load {
        ($op:ident, $d:ident, $s:ident, $t:ty, $ext:expr) => {{
            regs[$d] = regs[$s];
            regs[$d] = regs[$d].wrapping_add(regs[($op.aux & 15) as usize]);
            cur = cur.wrapping_add(2);
            load!(
                $t,
                ($op.aux >> 4) as usize,
                regs[$d].wrapping_add($op.off()),
                $ext
            );
            next!(1);
        }};
    }
    // A fused `d = *($t *)(s + imm)` then `if $c(d, aux) goto target`.
    macro_rules! load_jump {
        ($op:ident, $d:ident, $s:ident, $imm:ident, $t:ty, $c:expr) => {{
            load!($t, $d, regs[$s].wrapping_add($imm), |v: $t| v as u64);
            cur = cur.wrapping_add(1);
            jmp!($c(regs[$d], regs[($op.aux & 15) as usize]), $op.dest(first));
        }};
    }
    // Two fused `$t` stores; a fault in the second is reported one op on.
    macro_rules! store_pair {
        ($op:ident, $d:ident, $s:ident, $imm:ident, $t:ty) => {{
            store!($t, regs[$d].wrapping_add($op.off()), regs[$s]);
            cur = cur.wrapping_add(1);
            store!(
                $t,
                regs[($op.aux & 15) as usize].wrapping_add($imm),
                regs[($op.aux >> 4) as usize]
            );
            next!(1);
        }};
    }
    // A fused register move `aux & 15 = aux >> 4` (zero-extended from 32 bits if `$w32`),
    // then the compare-and-jump `$c` to the op's target.
    macro_rules! mov_test {
        ($op:ident, $w32:expr, $c:expr) => {{
            let v = regs[($op.aux >> 4) as usize];
            regs[($op.aux & 15) as usize] = if $w32 { u64::from(v as u32) } else { v };
            cur = cur.wrapping_add(1);
            jmp!($c, $op.dest(first));
        }};
    }
    // As `mov_test!`, with the jump over a `ja` (see `skip_or_jump!`).
    macro_rules! mov_test_ja {
        ($op:ident, $w32:expr, $c:expr) => {{
            let v = regs[($op.aux >> 4) as usize];
            regs[($op.aux & 15) as usize] = if $w32 { u64::from(v as u32) } else { v };
            cur = cur.wrapping_add(1);
            skip_or_jump!($c, $op.dest(first));
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
                    budget.saturating_sub((executed_bytes + run_bytes!()) / OP_BYTES)
                } else {
                    u64::MAX
                },
                executed: 0,
                slot: slot(prog, pc!()),
            };
            let mut ctx = HelperContext::new(&mut site, st.env.as_deref_mut());
            let r = (h.func)(&mut ctx, args);
            if METER {
                executed_bytes =
                    executed_bytes.saturating_add(site.executed.saturating_mul(OP_BYTES));
            }
            match r {
                Ok(v) => v,
                Err(HelperError::Exit(v)) => {
                    settle!();
                    return Ok(v);
                }
                Err(HelperError::Return(v)) => {
                    regs[0] = v;
                    ret!()
                }
                Err(HelperError::Fault(f)) => fault!(*f),
                Err(error) => fault!(Fault::Helper {
                    slot: slot(prog, pc!()),
                    name: h.name.to_string(),
                    error,
                }),
            }
        }};
    }

    // A legacy packet load at `$base + imm` (see `Kind::LdAbs`).
    macro_rules! packet_load {
        ($op:ident, $base:expr) => {{
            let base: u64 = $base;
            // The kernel computes the offset in a 64-bit register and passes it as `int`.
            let off = base.wrapping_add($op.imm) as i32;
            let args = [regs[6], off as i64 as u64, u64::from($op.aux), 0, 0];
            let h = prog.calls[$op.a as u32 as usize];
            let r = call_helper!(h, args);
            if (r as i64) < 0 {
                // Not in the packet: the current function returns 0.
                regs[0] = 0;
                ret!();
            }
            regs[0] = r;
        }};
    }
    loop {
        let op = op_at(ops, cur);
        let d = op.dst.idx();
        let s = op.src.idx();
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
                if let Err(f) = atomic(prog, pc!(), *op, mem, &mut regs) {
                    fault!(f);
                }
            }
            Kind::LdImm64 => regs[d] = imm,
            // Jumps.
            Kind::Ja => goto_ptr!(op.dest(first)),
            Kind::JeqI => jmp!(regs[d] == imm, op.dest(first)),
            Kind::JeqR => jmp!(regs[d] == regs[s], op.dest(first)),
            Kind::JneI => jmp!(regs[d] != imm, op.dest(first)),
            Kind::JneR => jmp!(regs[d] != regs[s], op.dest(first)),
            Kind::JgtI => jmp!(regs[d] > imm, op.dest(first)),
            Kind::JgtR => jmp!(regs[d] > regs[s], op.dest(first)),
            Kind::JgeI => jmp!(regs[d] >= imm, op.dest(first)),
            Kind::JgeR => jmp!(regs[d] >= regs[s], op.dest(first)),
            Kind::JltI => jmp!(regs[d] < imm, op.dest(first)),
            Kind::JltR => jmp!(regs[d] < regs[s], op.dest(first)),
            Kind::JleI => jmp!(regs[d] <= imm, op.dest(first)),
            Kind::JleR => jmp!(regs[d] <= regs[s], op.dest(first)),
            Kind::JsetI => jmp!(regs[d] & imm != 0, op.dest(first)),
            Kind::JsetR => jmp!(regs[d] & regs[s] != 0, op.dest(first)),
            Kind::JsgtI => jmp!((regs[d] as i64) > imm as i64, op.dest(first)),
            Kind::JsgtR => jmp!((regs[d] as i64) > regs[s] as i64, op.dest(first)),
            Kind::JsgeI => jmp!((regs[d] as i64) >= imm as i64, op.dest(first)),
            Kind::JsgeR => jmp!((regs[d] as i64) >= regs[s] as i64, op.dest(first)),
            Kind::JsltI => jmp!((regs[d] as i64) < imm as i64, op.dest(first)),
            Kind::JsltR => jmp!((regs[d] as i64) < regs[s] as i64, op.dest(first)),
            Kind::JsleI => jmp!((regs[d] as i64) <= imm as i64, op.dest(first)),
            Kind::JsleR => jmp!((regs[d] as i64) <= regs[s] as i64, op.dest(first)),
            Kind::Jeq32I => jmp!(regs[d] as u32 == imm as u32, op.dest(first)),
            Kind::Jeq32R => jmp!(regs[d] as u32 == regs[s] as u32, op.dest(first)),
            Kind::Jne32I => jmp!(regs[d] as u32 != imm as u32, op.dest(first)),
            Kind::Jne32R => jmp!(regs[d] as u32 != regs[s] as u32, op.dest(first)),
            Kind::Jgt32I => jmp!(regs[d] as u32 > imm as u32, op.dest(first)),
            Kind::Jgt32R => jmp!(regs[d] as u32 > regs[s] as u32, op.dest(first)),
            Kind::Jge32I => jmp!(regs[d] as u32 >= imm as u32, op.dest(first)),
            Kind::Jge32R => jmp!(regs[d] as u32 >= regs[s] as u32, op.dest(first)),
            Kind::Jlt32I => jmp!((regs[d] as u32) < imm as u32, op.dest(first)),
            Kind::Jlt32R => jmp!((regs[d] as u32) < regs[s] as u32, op.dest(first)),
            Kind::Jle32I => jmp!(regs[d] as u32 <= imm as u32, op.dest(first)),
            Kind::Jle32R => jmp!(regs[d] as u32 <= regs[s] as u32, op.dest(first)),
            Kind::Jset32I => jmp!(regs[d] as u32 & imm as u32 != 0, op.dest(first)),
            Kind::Jset32R => jmp!(regs[d] as u32 & regs[s] as u32 != 0, op.dest(first)),
            Kind::Jsgt32I => jmp!(regs[d] as i32 > imm as i32, op.dest(first)),
            Kind::Jsgt32R => jmp!(regs[d] as i32 > regs[s] as i32, op.dest(first)),
            Kind::Jsge32I => jmp!(regs[d] as i32 >= imm as i32, op.dest(first)),
            Kind::Jsge32R => jmp!(regs[d] as i32 >= regs[s] as i32, op.dest(first)),
            Kind::Jslt32I => jmp!((regs[d] as i32) < imm as i32, op.dest(first)),
            Kind::Jslt32R => jmp!((regs[d] as i32) < regs[s] as i32, op.dest(first)),
            Kind::Jsle32I => jmp!(regs[d] as i32 <= imm as i32, op.dest(first)),
            Kind::Jsle32R => jmp!(regs[d] as i32 <= regs[s] as i32, op.dest(first)),
            // Fused conditional jump over a `ja` (see `crate::fuse`).
            Kind::JeqIJa => skip_or_jump!(regs[d] == imm, op.dest(first)),
            Kind::JeqRJa => skip_or_jump!(regs[d] == regs[s], op.dest(first)),
            Kind::JneIJa => skip_or_jump!(regs[d] != imm, op.dest(first)),
            Kind::JneRJa => skip_or_jump!(regs[d] != regs[s], op.dest(first)),
            Kind::JgtIJa => skip_or_jump!(regs[d] > imm, op.dest(first)),
            Kind::JgtRJa => skip_or_jump!(regs[d] > regs[s], op.dest(first)),
            Kind::JgeIJa => skip_or_jump!(regs[d] >= imm, op.dest(first)),
            Kind::JgeRJa => skip_or_jump!(regs[d] >= regs[s], op.dest(first)),
            Kind::JltIJa => skip_or_jump!(regs[d] < imm, op.dest(first)),
            Kind::JltRJa => skip_or_jump!(regs[d] < regs[s], op.dest(first)),
            Kind::JleIJa => skip_or_jump!(regs[d] <= imm, op.dest(first)),
            Kind::JleRJa => skip_or_jump!(regs[d] <= regs[s], op.dest(first)),
            Kind::JsetIJa => skip_or_jump!(regs[d] & imm != 0, op.dest(first)),
            Kind::JsetRJa => skip_or_jump!(regs[d] & regs[s] != 0, op.dest(first)),
            Kind::JsgtIJa => skip_or_jump!((regs[d] as i64) > imm as i64, op.dest(first)),
            Kind::JsgtRJa => skip_or_jump!((regs[d] as i64) > regs[s] as i64, op.dest(first)),
            Kind::JsgeIJa => skip_or_jump!((regs[d] as i64) >= imm as i64, op.dest(first)),
            Kind::JsgeRJa => skip_or_jump!((regs[d] as i64) >= regs[s] as i64, op.dest(first)),
            Kind::JsltIJa => skip_or_jump!((regs[d] as i64) < imm as i64, op.dest(first)),
            Kind::JsltRJa => skip_or_jump!((regs[d] as i64) < regs[s] as i64, op.dest(first)),
            Kind::JsleIJa => skip_or_jump!((regs[d] as i64) <= imm as i64, op.dest(first)),
            Kind::JsleRJa => skip_or_jump!((regs[d] as i64) <= regs[s] as i64, op.dest(first)),
            Kind::Jeq32IJa => skip_or_jump!((regs[d] as u32) == imm as u32, op.dest(first)),
            Kind::Jeq32RJa => skip_or_jump!((regs[d] as u32) == regs[s] as u32, op.dest(first)),
            Kind::Jne32IJa => skip_or_jump!((regs[d] as u32) != imm as u32, op.dest(first)),
            Kind::Jne32RJa => skip_or_jump!((regs[d] as u32) != regs[s] as u32, op.dest(first)),
            Kind::Jgt32IJa => skip_or_jump!((regs[d] as u32) > imm as u32, op.dest(first)),
            Kind::Jgt32RJa => skip_or_jump!((regs[d] as u32) > regs[s] as u32, op.dest(first)),
            Kind::Jge32IJa => skip_or_jump!((regs[d] as u32) >= imm as u32, op.dest(first)),
            Kind::Jge32RJa => skip_or_jump!((regs[d] as u32) >= regs[s] as u32, op.dest(first)),
            Kind::Jlt32IJa => skip_or_jump!((regs[d] as u32) < imm as u32, op.dest(first)),
            Kind::Jlt32RJa => skip_or_jump!((regs[d] as u32) < regs[s] as u32, op.dest(first)),
            Kind::Jle32IJa => skip_or_jump!((regs[d] as u32) <= imm as u32, op.dest(first)),
            Kind::Jle32RJa => skip_or_jump!((regs[d] as u32) <= regs[s] as u32, op.dest(first)),
            Kind::Jset32IJa => skip_or_jump!((regs[d] as u32) & imm as u32 != 0, op.dest(first)),
            Kind::Jset32RJa => {
                skip_or_jump!((regs[d] as u32) & regs[s] as u32 != 0, op.dest(first))
            }
            Kind::Jsgt32IJa => skip_or_jump!((regs[d] as i32) > imm as i32, op.dest(first)),
            Kind::Jsgt32RJa => skip_or_jump!((regs[d] as i32) > regs[s] as i32, op.dest(first)),
            Kind::Jsge32IJa => skip_or_jump!((regs[d] as i32) >= imm as i32, op.dest(first)),
            Kind::Jsge32RJa => skip_or_jump!((regs[d] as i32) >= regs[s] as i32, op.dest(first)),
            Kind::Jslt32IJa => skip_or_jump!((regs[d] as i32) < imm as i32, op.dest(first)),
            Kind::Jslt32RJa => skip_or_jump!((regs[d] as i32) < regs[s] as i32, op.dest(first)),
            Kind::Jsle32IJa => skip_or_jump!((regs[d] as i32) <= imm as i32, op.dest(first)),
            Kind::Jsle32RJa => skip_or_jump!((regs[d] as i32) <= regs[s] as i32, op.dest(first)),
            Kind::AddAdd64I => {
                regs[d] = regs[d].wrapping_add(imm);
                regs[s] = regs[s].wrapping_add(op.off());
                next!(2);
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
            // Fused immediate add + `==`/`!=` test of the same register (+ `ja`).
            Kind::AddJeqI => add_test!(op, d, regs[d].wrapping_add(imm as i32 as u64), |v: u64| v
                == (imm >> 32) as i32 as u64),
            Kind::AddJneI => add_test!(op, d, regs[d].wrapping_add(imm as i32 as u64), |v: u64| v
                != (imm >> 32) as i32 as u64),
            Kind::Add32Jeq32I => add_test!(
                op,
                d,
                u64::from((regs[d] as u32).wrapping_add(imm as u32)),
                |v: u64| v == imm >> 32
            ),
            Kind::Add32Jne32I => add_test!(
                op,
                d,
                u64::from((regs[d] as u32).wrapping_add(imm as u32)),
                |v: u64| v != imm >> 32
            ),
            Kind::AddJeqIJa => {
                add_test_ja!(op, d, regs[d].wrapping_add(imm as i32 as u64), |v: u64| v
                    == (imm >> 32) as i32 as u64)
            }
            Kind::AddJneIJa => {
                add_test_ja!(op, d, regs[d].wrapping_add(imm as i32 as u64), |v: u64| v
                    != (imm >> 32) as i32 as u64)
            }
            Kind::Add32Jeq32IJa => add_test_ja!(
                op,
                d,
                u64::from((regs[d] as u32).wrapping_add(imm as u32)),
                |v: u64| v == imm >> 32
            ),
            Kind::Add32Jne32IJa => add_test_ja!(
                op,
                d,
                u64::from((regs[d] as u32).wrapping_add(imm as u32)),
                |v: u64| v != imm >> 32
            ),
            // Fused indexed load `d = s; d += x; y = *(d + off)`.
            Kind::MovAddLdxB => indexed_load!(op, d, s, u8, |v: u8| v as u64),
            Kind::MovAddLdxH => indexed_load!(op, d, s, u16, |v: u16| v as u64),
            Kind::MovAddLdxW => indexed_load!(op, d, s, u32, |v: u32| v as u64),
            Kind::MovAddLdxDw => indexed_load!(op, d, s, u64, |v: u64| v),
            // Fused load + compare-and-jump of the loaded register against `aux`.
            Kind::LdxWJeq32R => {
                load_jump!(op, d, s, imm, u32, |a: u64, b: u64| a as u32 == b as u32)
            }
            Kind::LdxWJne32R => {
                load_jump!(op, d, s, imm, u32, |a: u64, b: u64| a as u32 != b as u32)
            }
            Kind::LdxWJlt32R => {
                load_jump!(op, d, s, imm, u32, |a: u64, b: u64| (a as u32) < b as u32)
            }
            Kind::LdxWJle32R => {
                load_jump!(op, d, s, imm, u32, |a: u64, b: u64| a as u32 <= b as u32)
            }
            Kind::LdxWJgt32R => {
                load_jump!(op, d, s, imm, u32, |a: u64, b: u64| a as u32 > b as u32)
            }
            Kind::LdxWJge32R => {
                load_jump!(op, d, s, imm, u32, |a: u64, b: u64| a as u32 >= b as u32)
            }
            Kind::LdxDwJeqR => load_jump!(op, d, s, imm, u64, |a: u64, b: u64| a == b),
            Kind::LdxDwJneR => load_jump!(op, d, s, imm, u64, |a: u64, b: u64| a != b),
            Kind::LdxDwJltR => load_jump!(op, d, s, imm, u64, |a: u64, b: u64| a < b),
            Kind::LdxDwJleR => load_jump!(op, d, s, imm, u64, |a: u64, b: u64| a <= b),
            Kind::LdxDwJgtR => load_jump!(op, d, s, imm, u64, |a: u64, b: u64| a > b),
            Kind::LdxDwJgeR => load_jump!(op, d, s, imm, u64, |a: u64, b: u64| a >= b),
            // Fused store pairs.
            Kind::StxWStxW => store_pair!(op, d, s, imm, u32),
            Kind::StxDwStxDw => store_pair!(op, d, s, imm, u64),
            // Fused register move + `ja`.
            Kind::Mov64RJa => {
                regs[d] = regs[s];
                cur = cur.wrapping_add(1);
                goto_ptr!(op.dest(first))
            }
            Kind::Mov32RJa => {
                regs[d] = u64::from(regs[s] as u32);
                cur = cur.wrapping_add(1);
                goto_ptr!(op.dest(first))
            }
            // Fused register move + `<`/`!=` compare-and-jump (+ `ja`).
            Kind::Mov64RJltR => mov_test!(op, false, regs[d] < regs[s]),
            Kind::Mov64RJneR => mov_test!(op, false, regs[d] != regs[s]),
            Kind::Mov32RJltR => mov_test!(op, true, regs[d] < regs[s]),
            Kind::Mov32RJneR => mov_test!(op, true, regs[d] != regs[s]),
            Kind::Mov64RJltRJa => mov_test_ja!(op, false, regs[d] < regs[s]),
            Kind::Mov64RJneRJa => mov_test_ja!(op, false, regs[d] != regs[s]),
            Kind::Mov32RJltRJa => mov_test_ja!(op, true, regs[d] < regs[s]),
            Kind::Mov32RJneRJa => mov_test_ja!(op, true, regs[d] != regs[s]),
            // Fused shift-and-xor steps.
            Kind::MovLshXor64 => {
                regs[d] = (regs[s] << (imm & 63)) ^ regs[s];
                next!(3);
            }
            Kind::MovRshXor64 => {
                regs[d] = (regs[s] >> (imm & 63)) ^ regs[s];
                next!(3);
            }
            Kind::MovLshXorInto64 => {
                regs[d] = regs[s] << (imm & 63);
                regs[s] ^= regs[d];
                next!(3);
            }
            Kind::MovRshXorInto64 => {
                regs[d] = regs[s] >> (imm & 63);
                regs[s] ^= regs[d];
                next!(3);
            }
            Kind::MayGoto => {
                if may_goto == 0 {
                    goto_ptr!(op.dest(first));
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
                        slot: slot(prog, pc!()),
                        id,
                    }),
                }
            }
            Kind::CallLocal => {
                if depth + 1 >= MAX_FRAMES {
                    fault!(Fault::CallDepth {
                        slot: slot(prog, pc!()),
                        max: MAX_FRAMES,
                    });
                }
                st.frames[depth] = Frame {
                    ret: pc!() + 1,
                    saved: [regs[6], regs[7], regs[8], regs[9]],
                    may_goto,
                };
                depth += 1;
                may_goto = MAY_GOTO_BUDGET;
                regs[10] = regs[10].wrapping_sub(FRAME_SIZE as u64);
                mem.regions_mut()
                    .set_stack_window(((depth + 1) * FRAME_SIZE) as u64);
                goto_ptr!(op.dest(first));
            }
            // Two arms rather than one testing the kind again, which would keep the kind alive
            // past the dispatch of every op.
            Kind::LdAbs => packet_load!(op, 0),
            Kind::LdInd => packet_load!(op, regs[s]),
            Kind::Exit => ret!(),
            Kind::Unsupported => fault!(Fault::Unsupported {
                slot: slot(prog, pc!()),
                what: Unsupported::from_u8(op.aux).what(),
            }),
        }
        cur = cur.wrapping_add(1);
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
    let d = op.dst.idx();
    let s = op.src.idx();
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
