//! The combined stack depth of call chains (`check_max_stack_depth`): walking every chain of
//! bpf-to-bpf calls (and synchronous callbacks) from the main program, the frames' stack
//! sizes, each rounded up to 16 bytes as the JIT allocates them, must stay within 512 bytes,
//! and no chain may be deeper than 8 frames.

use crate::cfg::Program;
use crate::error::VerifierError;
use crate::state::{MAX_CALL_FRAMES, MAX_STACK};
use lull_isa::{CallTarget, Insn, LdImm64Kind};

/// The subprograms `sp` calls or takes the address of. A direct call of the exception
/// callback is an error.
fn callees(prog: &Program, sp: usize) -> Result<Vec<usize>, VerifierError> {
    let s = &prog.subprogs[sp];
    let mut out = Vec::new();
    for t in s.start..s.end {
        let (rel, call) = match prog.slots[t] {
            Some(Insn::Call(CallTarget::Local(imm))) => (imm as i64, true),
            Some(Insn::LdImm64 {
                kind: LdImm64Kind::Func,
                imm,
                ..
            }) => (imm as i64, false),
            _ => continue,
        };
        if let Some(c) = prog.subprog_at((t as i64 + rel + 1) as usize) {
            if prog.subprogs[c].exception_cb {
                if call {
                    return Err(VerifierError::Malformed(format!(
                        "insn {t} cannot call exception cb directly"
                    )));
                }
                continue;
            }
            out.push(c);
        }
    }
    Ok(out)
}

/// Checks every call chain from the main program and from the exception callback.
pub(crate) fn check(prog: &Program, depths: &[u32]) -> Result<(), VerifierError> {
    let round = |d: u32| d.div_ceil(16) * 16;
    // Depth-first over (subprogram, frames so far, bytes so far).
    // The main program and the exception callback are the roots.
    let mut stack: Vec<(usize, usize, i64)> = prog
        .subprogs
        .iter()
        .position(|s| s.exception_cb)
        .map(|cb| (cb, 1, round(depths[cb]) as i64))
        .into_iter()
        .collect();
    stack.push((0usize, 1usize, round(depths[0]) as i64));
    let mut visits = 0usize;
    while let Some((sp, frames, bytes)) = stack.pop() {
        visits += 1;
        if visits > 100_000 {
            break;
        }
        if frames > MAX_CALL_FRAMES {
            // The kernel counts the calls below the main program.
            return Err(VerifierError::CallStackTooDeep(frames - 1));
        }
        if bytes > MAX_STACK {
            return Err(VerifierError::CombinedStackTooLarge {
                calls: frames,
                size: bytes,
            });
        }
        for c in callees(prog, sp)? {
            stack.push((c, frames + 1, bytes + round(depths[c]) as i64));
        }
    }
    Ok(())
}
