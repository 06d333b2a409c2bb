//! `bpf_fastcall` spill/fill patterns (`mark_fastcall_patterns`,
//! `check_fastcall_stack_contract`, `remove_fastcall_spills_fills`).
//!
//! Around a call of a helper that preserves the caller-saved registers it does not use, clang
//! spills those registers to the stack just before the call and fills them just after. The
//! kernel inlines such calls and removes the spills and fills, so the stack slots they use do
//! not count in the subprogram's stack depth, provided nothing else touches those slots.

use crate::cfg::Program;
use lull_isa::{CallTarget, Insn, Operand, Reg, Size};

/// `bpf_get_smp_processor_id`: the one `bpf_fastcall` helper modelled, which the x86-64 kernel
/// inlines (a fastcall helper it does not inline would keep its pattern slots,
/// `keep_fastcall_stack`).
const GET_SMP_PROCESSOR_ID: i32 = 8;
/// Caller-saved registers r0..r5 as a bit mask.
const CALLER_SAVED: u32 = 0x3f;

/// The fastcall patterns of a program.
pub(crate) struct Fastcall {
    /// Per slot: a spill or fill that belongs to a pattern (`fastcall_pattern`).
    pattern: Vec<bool>,
    /// Per slot: at a call, the number of spill/fill pairs the kernel removes.
    spills: Vec<u8>,
    /// Per subprogram: the lowest offset of its patterns' slots (`fastcall_stack_off`);
    /// `i64::MIN` once something else accessed those slots.
    stack_off: Vec<i64>,
}

/// `*(u64 *)(r10 + off) = rX` → `(X, off)`.
fn spill(insn: Option<Insn>) -> Option<(u8, i16)> {
    match insn? {
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off,
            src: Operand::Reg(r),
        } => Some((r.num(), off)),
        _ => None,
    }
}

/// `rX = *(u64 *)(r10 + off)` → `(X, off)`.
fn fill(insn: Option<Insn>) -> Option<(u8, i16)> {
    match insn? {
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst,
            src: Reg::R10,
            off,
        } => Some((dst.num(), off)),
        _ => None,
    }
}

impl Fastcall {
    /// `mark_fastcall_patterns`.
    pub(crate) fn find(prog: &Program) -> Fastcall {
        let n = prog.len();
        let nsub = prog.subprogs.len();
        let mut f = Fastcall {
            pattern: vec![false; n],
            spills: vec![0; n],
            stack_off: vec![0; nsub],
        };
        for (sp, s) in prog.subprogs.iter().enumerate() {
            let lowest = (s.start..s.end)
                .filter_map(|t| spill(prog.slots[t]).map(|(_, off)| i64::from(off)))
                .min()
                .unwrap_or(0)
                .min(0);
            for t in s.start..s.end {
                if prog.slots[t] != Some(Insn::Call(CallTarget::Helper(GET_SMP_PROCESSOR_ID))) {
                    continue;
                }
                // The helper takes no argument: it clobbers r0 only.
                let mut expected = !1u32 & CALLER_SAVED;
                let mut off = lowest;
                let mut i = 1;
                while i <= 5 && t >= i + s.start && t + i < s.end {
                    let (Some((sr, soff)), Some((fr, foff))) =
                        (spill(prog.slots[t - i]), fill(prog.slots[t + i]))
                    else {
                        break;
                    };
                    if sr != fr || expected & (1 << sr) == 0 {
                        break;
                    }
                    if i64::from(soff) != off || i64::from(foff) != off {
                        break;
                    }
                    expected &= !(1 << sr);
                    f.pattern[t - i] = true;
                    f.pattern[t + i] = true;
                    i += 1;
                    off += 8;
                }
                if i == 1 {
                    continue;
                }
                f.spills[t] = (i - 1) as u8;
                f.stack_off[sp] = f.stack_off[sp].min(off);
            }
        }
        f
    }

    /// `check_fastcall_stack_contract`: an access at `off` of subprogram `sp`'s stack by the
    /// instruction at `insn` that is not part of a pattern, below the patterns' slots,
    /// cancels the removal for the whole subprogram.
    pub(crate) fn access(&mut self, prog: &Program, sp: usize, insn: usize, off: i64) {
        if self.stack_off[sp] <= off || self.pattern.get(insn).copied().unwrap_or(false) {
            return;
        }
        self.stack_off[sp] = i64::MIN;
        let s = &prog.subprogs[sp];
        for t in s.start..s.end {
            self.pattern[t] = false;
            self.spills[t] = 0;
        }
    }

    /// `remove_fastcall_spills_fills`: the stack depth of each subprogram once the pattern
    /// slots are gone.
    pub(crate) fn adjust_depths(&self, prog: &Program, depths: &mut [u32]) {
        for (sp, s) in prog.subprogs.iter().enumerate() {
            let modified = (s.start..s.end).any(|t| self.spills[t] > 0);
            if modified
                && self.stack_off[sp] > i64::from(i32::MIN)
                && let Some(d) = depths.get_mut(sp)
            {
                *d = u32::try_from(-self.stack_off[sp]).unwrap_or(*d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{VerifyInput, verify};
    use lull_abi::ProgType;
    use lull_isa::{Located, asm::assemble};

    fn depth(text: &str) -> (bool, Vec<u32>) {
        let insns = assemble(text).expect("test program");
        let mut slot = 0;
        let located: Vec<Located> = insns
            .into_iter()
            .map(|insn| {
                let l = Located { slot, insn };
                slot += insn.slots();
                l
            })
            .collect();
        let input = VerifyInput::new(&located, ProgType::RawTracepoint);
        let o = verify(&input);
        (o.accepted, o.stack_depths)
    }

    #[test]
    fn pattern_slots_do_not_count_in_stack_depth() {
        let (ok, d) = depth(
            "r1 = 1\nr2 = 2\n*(u64 *)(r10 -16) = r1\n*(u64 *)(r10 -24) = r2\ncall 8\n\
             r2 = *(u64 *)(r10 -24)\nr1 = *(u64 *)(r10 -16)\nr0 = 0\nexit",
        );
        assert!(ok);
        // Without the pattern the slots at -16 and -24 would make it 24.
        assert_eq!(d, vec![8]);
    }

    #[test]
    fn another_access_to_pattern_slots_keeps_them() {
        let base = "*(u64 *)(r10 -8) = 0\nr1 = 1\n*(u64 *)(r10 -16) = r1\ncall 8\n\
                    r1 = *(u64 *)(r10 -16)\n";
        let (ok, d) = depth(&format!("{base}r0 = 0\nexit"));
        assert!(ok);
        assert_eq!(d, vec![8]);
        let (ok, d) = depth(&format!("{base}r0 = *(u64 *)(r10 -16)\nr0 = 0\nexit"));
        assert!(ok);
        assert_eq!(d, vec![16]);
        // Not a pattern: the fill restores another register.
        let (ok, d) = depth(
            "*(u64 *)(r10 -8) = 0\nr1 = 1\n*(u64 *)(r10 -16) = r1\ncall 8\n\
             r2 = *(u64 *)(r10 -16)\nr0 = 0\nexit",
        );
        assert!(ok);
        assert_eq!(d, vec![16]);
    }

    #[test]
    fn removed_slots_let_a_full_stack_call_a_subprogram() {
        // The caller uses all 512 bytes; the callee only a fastcall slot.
        let (ok, d) = depth(
            "r1 = 42\n*(u64 *)(r10 -512) = r1\ncall pc+2\nr0 = 0\nexit\n\
             *(u64 *)(r10 -8) = r1\ncall 8\nr1 = *(u64 *)(r10 -8)\nexit",
        );
        assert!(ok, "depths {d:?}");
        assert_eq!(d, vec![512, 0]);
    }
}
