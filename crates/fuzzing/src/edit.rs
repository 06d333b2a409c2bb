//! Structural edits of an instruction list that keep every jump pointing at the same
//! instruction: deleting and replacing instructions (used by mutations and the minimiser).

use lull_isa::Insn;

use crate::grammar::builder::{offset_of, with_offset};

/// Slot of each instruction, plus the end slot.
fn slots(insns: &[Insn]) -> Vec<i64> {
    let mut out = Vec::with_capacity(insns.len() + 1);
    let mut s = 0i64;
    for i in insns {
        out.push(s);
        s += i.slots() as i64;
    }
    out.push(s);
    out
}

/// Replaces `insns[idx]` by `with` (zero or more instructions), keeping jumps elsewhere pointed
/// at the same instructions. A jump that targeted the replaced instruction now targets the
/// first replacement (or what followed, if `with` is empty). Jumps inside `with` are taken
/// as they are. Returns `None` when `idx` is out of range.
pub fn splice(insns: &[Insn], idx: usize, with: &[Insn]) -> Option<Vec<Insn>> {
    if idx >= insns.len() {
        return None;
    }
    let old = slots(insns);
    let old_len = insns[idx].slots() as i64;
    let new_len: i64 = with.iter().map(|i| i.slots() as i64).sum();
    let delta = new_len - old_len;
    let at = old[idx];
    // Old slot (an instruction start or the end) to new slot.
    let remap = |s: i64| if s > at { s + delta } else { s };
    let mut out = Vec::with_capacity(insns.len() + with.len());
    for (i, insn) in insns.iter().enumerate() {
        if i == idx {
            out.extend_from_slice(with);
            continue;
        }
        match offset_of(insn) {
            Some(rel) => {
                let target = old[i] + 1 + rel;
                let new_pos = remap(old[i]);
                out.push(with_offset(*insn, remap(target) - new_pos - 1));
            }
            None => out.push(*insn),
        }
    }
    Some(out)
}

/// Deletes `insns[idx]`, fixing up jumps.
pub fn delete(insns: &[Insn], idx: usize) -> Option<Vec<Insn>> {
    splice(insns, idx, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use lull_isa::asm::assemble;

    #[test]
    fn delete_keeps_jump_targets() {
        let p = assemble("r0 = 0\nif r1 > 3 goto l1\nr0 = 1\nr0 += 2\nl1: r0 += 3\nexit").unwrap();
        // Delete `r0 = 1` (index 2): the jump must still land on `r0 += 3`.
        let d = delete(&p, 2).unwrap();
        let want = assemble("r0 = 0\nif r1 > 3 goto l1\nr0 += 2\nl1: r0 += 3\nexit").unwrap();
        assert_eq!(d, want);
        // Delete the target itself: the jump lands on what followed.
        let d = delete(&p, 4).unwrap();
        let want = assemble("r0 = 0\nif r1 > 3 goto l1\nr0 = 1\nr0 += 2\nl1: exit").unwrap();
        assert_eq!(d, want);
        // Backward jumps across an lddw that is replaced by a 1-slot insn.
        let p = assemble("l0: r1 = 0x100000000 ll\nr0 = 0\nif r0 > 1 goto l0\nexit").unwrap();
        let s = splice(&p, 0, &assemble("r1 = 1").unwrap()).unwrap();
        assert_eq!(
            s,
            assemble("l0: r1 = 1\nr0 = 0\nif r0 > 1 goto l0\nexit").unwrap()
        );
        assert!(delete(&p, 9).is_none());
    }
}
