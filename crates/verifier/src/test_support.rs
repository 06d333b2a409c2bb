//! What the verifier's unit tests share: test programs written in the kernel's assembly
//! syntax.

use lull_isa::{Located, asm::assemble};

/// The instructions of `text` with their raw slot numbers (`lddw` takes two).
pub(crate) fn located(text: &str) -> Vec<Located> {
    let insns = assemble(text).unwrap_or_else(|e| panic!("bad test program: {e}\n{text}"));
    let mut slot = 0;
    insns
        .into_iter()
        .map(|insn| {
            let l = Located { slot, insn };
            slot += insn.slots();
            l
        })
        .collect()
}
