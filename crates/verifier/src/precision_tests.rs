//! Tests of precision tracking: the kernel's `mark_precise` log lines, pruning of paths that
//! differ only in imprecise scalars, and no pruning where the difference matters.

use crate::{VerifyInput, VerifyOutcome, verify};
use lull_abi::ProgType;
use lull_isa::{Located, asm::assemble};

fn run(text: &str, privileged: bool) -> VerifyOutcome {
    let insns = assemble(text).unwrap_or_else(|e| panic!("bad test program: {e}"));
    let mut slot = 0;
    let located: Vec<Located> = insns
        .into_iter()
        .map(|insn| {
            let l = Located { slot, insn };
            slot += insn.slots();
            l
        })
        .collect();
    let mut input = VerifyInput::new(&located, ProgType::SocketFilter);
    input.privileged = privileged;
    input.log_level = 2;
    verify(&input)
}

/// Two paths join at `l1` with `r7` = 0 or 600; padding makes the first arrival a checkpoint.
fn join_program(use_r7_as_offset: bool) -> String {
    let tail = if use_r7_as_offset {
        "r2 = r10\nr2 += -8\nr2 += r7\nr1 = 0\n*(u64 *)(r2 +0) = r1\n"
    } else {
        "r1 = r7\n"
    };
    format!(
        "call 7\nr1 = 0\nr1 = 0\nr1 = 0\nr1 = 0\nr1 = 0\nr1 = 0\n\
         if r0 != 0 goto l_other\nr7 = 0\ngoto l1\nl_other:\nr7 = 600\n\
         l1:\n{tail}r0 = 0\nexit"
    )
}

#[test]
fn decided_branch_logs_the_backtracking() {
    let o = run(
        "r2 = 8\nr2 = -r2\nif r2 != -8 goto +2\nr1 = r10\nr1 += r2\nr0 = 0\nexit",
        true,
    );
    assert!(o.accepted, "{}", o.log);
    for want in [
        "mark_precise: frame0: last_idx 2 first_idx 0 subseq_idx -1 ",
        "mark_precise: frame0: regs=r2 stack= before 1: (87) r2 = -r2",
        "mark_precise: frame0: regs=r2 stack= before 0: (b7) r2 = 8",
        "mark_precise: frame0: regs=r2 stack= before 3: (bf) r1 = r10",
    ] {
        assert!(o.log.contains(want), "missing `{want}` in\n{}", o.log);
    }
}

#[test]
fn spill_and_fill_carry_precision_to_the_stored_register() {
    let o = run(
        "r2 = 8\n*(u64 *)(r10 -16) = r2\nr3 = *(u64 *)(r10 -16)\nr1 = r10\nr1 += -8\n\
         r1 += r3\nr0 = 0\nexit",
        true,
    );
    // r1 = fp-8 + 8 = fp0: not a valid access target, but the arithmetic itself is allowed.
    assert!(o.accepted, "{}", o.log);
    for want in [
        "regs=r3 stack= before 2: (79) r3 = *(u64 *)(r10 -16)",
        "regs= stack=-16 before 1: (7b) *(u64 *)(r10 -16) = r2",
        "regs=r2 stack= before 0: (b7) r2 = 8",
    ] {
        assert!(o.log.contains(want), "missing `{want}` in\n{}", o.log);
    }
}

#[test]
fn imprecise_scalars_do_not_block_pruning() {
    let o = run(&join_program(false), true);
    assert!(o.accepted, "{}", o.log);
    assert!(
        o.log.contains("safe"),
        "the second path was not pruned:\n{}",
        o.log
    );
}

#[test]
fn precise_scalars_block_unsound_pruning() {
    // The r7 = 0 path marks r7 precise at the join (pointer arithmetic); the r7 = 600 path
    // must therefore be explored, and it writes outside the stack.
    let o = run(&join_program(true), true);
    assert!(
        !o.accepted,
        "accepted an out-of-bounds stack write:\n{}",
        o.log
    );
    let msg = o.error.map(|e| e.message).unwrap_or_default();
    assert!(msg.contains("invalid write to stack"), "{msg}");
}

#[test]
fn unprivileged_programs_keep_every_scalar_precise() {
    let o = run(&join_program(false), false);
    assert!(o.accepted, "{}", o.log);
    assert!(!o.log.contains("mark_precise"), "{}", o.log);
}
