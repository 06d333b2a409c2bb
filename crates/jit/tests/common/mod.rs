//! Instruction builders the JIT's integration tests share.

use lull_isa::{AluOp, Insn, Located, Operand, Reg, Width};

/// `insns` with their raw slot numbers (`lddw` takes two).
pub fn locate(insns: &[Insn]) -> Vec<Located> {
    let mut slot = 0;
    insns
        .iter()
        .map(|&insn| {
            let l = Located { slot, insn };
            slot += insn.slots();
            l
        })
        .collect()
}

/// `dst = imm` (64-bit).
pub fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}
