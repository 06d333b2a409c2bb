//! Static register liveness (the kernel's `compute_live_registers`, Linux 6.15+): for each
//! instruction, the registers whose current value may still be read on some path before being
//! overwritten. State pruning ignores dead registers of explored states, as the kernel does.

use crate::cfg::Program;
use lull_isa::{AtomicOp, CallTarget, Insn, LdImm64Kind, Operand, Reg};

/// Registers as a bitmask.
type Mask = u16;

fn bit(r: Reg) -> Mask {
    1 << r.index()
}

/// `r1`..`r5`.
const ARGS: Mask = 0b11_1110;
/// `r0`..`r5` (clobbered by calls).
const CALLER_SAVED: Mask = 0b11_1111;

/// Registers read and written by an instruction.
fn use_def(insn: &Insn) -> (Mask, Mask) {
    let opnd = |o: &Operand| match o {
        Operand::Reg(r) => bit(*r),
        Operand::Imm(_) => 0,
    };
    match insn {
        Insn::Alu {
            op: lull_isa::AluOp::Mov,
            dst,
            src,
            ..
        } => (opnd(src), bit(*dst)),
        Insn::Alu {
            op: lull_isa::AluOp::MovSx8 | lull_isa::AluOp::MovSx16 | lull_isa::AluOp::MovSx32,
            dst,
            src,
            ..
        } => (opnd(src), bit(*dst)),
        Insn::Alu { dst, src, .. } => (bit(*dst) | opnd(src), bit(*dst)),
        Insn::Endian { dst, .. } => (bit(*dst), bit(*dst)),
        Insn::AddrSpaceCast { dst, src, .. } => (bit(*src), bit(*dst)),
        Insn::Load { dst, src, .. } => (bit(*src), bit(*dst)),
        Insn::Store { dst, src, .. } => (bit(*dst) | opnd(src), 0),
        Insn::Atomic { op, dst, src, .. } => match op {
            AtomicOp::LoadAcquire => (bit(*src), bit(*dst)),
            AtomicOp::StoreRelease => (bit(*dst) | bit(*src), 0),
            AtomicOp::CmpXchg => (bit(*dst) | bit(*src) | bit(Reg::R0), bit(Reg::R0)),
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => (bit(*dst) | bit(*src), bit(*src)),
            _ => (bit(*dst) | bit(*src), 0),
        },
        Insn::LdImm64 { dst, .. } => (0, bit(*dst)),
        Insn::LdAbs { .. } => (bit(Reg::R6), CALLER_SAVED),
        Insn::LdInd { src, .. } => (bit(Reg::R6) | bit(*src), CALLER_SAVED),
        Insn::Jump { dst, src, .. } => (bit(*dst) | opnd(src), 0),
        Insn::Ja { .. } | Insn::MayGoto { .. } => (0, 0),
        Insn::Call(_) => (ARGS, CALLER_SAVED),
        Insn::CallX { dst } => (bit(*dst) | ARGS, CALLER_SAVED),
        Insn::Exit => (bit(Reg::R0), 0),
    }
}

/// Successor slots of the instruction at `t` inside its function.
fn successors(t: usize, insn: &Insn, out: &mut Vec<usize>) {
    let rel = |off: i64| (t as i64 + off + 1) as usize;
    match insn {
        Insn::Exit => {}
        Insn::Ja { off, .. } => out.push(rel(*off as i64)),
        Insn::Jump { off, .. } | Insn::MayGoto { off } => {
            out.push(t + 1);
            out.push(rel(*off as i64));
        }
        Insn::LdImm64 {
            kind: LdImm64Kind::Func,
            ..
        }
        | Insn::LdImm64 { .. } => out.push(t + 2),
        Insn::Call(CallTarget::Local(_) | CallTarget::Helper(_) | CallTarget::Kfunc { .. }) => {
            out.push(t + 1)
        }
        _ => out.push(t + 1),
    }
}

/// Live-in registers per slot (`r10` is never reported: it cannot change).
pub(crate) fn compute(prog: &Program) -> Vec<Mask> {
    let n = prog.len();
    let mut live = vec![0 as Mask; n];
    let mut succ = Vec::with_capacity(2);
    let mut changed = true;
    let mut rounds = 0;
    while changed && rounds < 1000 {
        changed = false;
        rounds += 1;
        for t in (0..n).rev() {
            let Some(insn) = &prog.slots[t] else { continue };
            let (u, d) = use_def(insn);
            succ.clear();
            successors(t, insn, &mut succ);
            let out = succ.iter().filter(|&&s| s < n).fold(0, |m, &s| m | live[s]);
            let inn = (u | (out & !d)) & !bit(Reg::R10);
            if inn != live[t] {
                live[t] = inn;
                changed = true;
            }
        }
    }
    if changed {
        // Did not converge (cannot happen for a finite lattice, but stay safe): all live.
        return vec![Mask::MAX; n];
    }
    live
}
