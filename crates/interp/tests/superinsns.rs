//! Each superinstruction on a fixed program: the exact result, executed-instruction count and
//! fault slot (a fault inside a fused run names the instruction that faulted, not the run's
//! first), the same with and without fusion, in checked and metered trusted runs.
#![allow(unsafe_code)] // `Vm::run_trusted`, on programs whose accesses stay in their input

mod common;

use common::{EXIT, alu32, alu64, imm, ja, jmp, jmp32, ldx, locate, mov64, r, stx};
use lull_interp::{Access, Fault, Input, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, Insn, JmpCond, Size};

/// Runs `insns` over `mem` with and without fusion; both must agree (result, count, memory).
/// Returns the fused run's result (fault addresses as offsets into the input) and executed
/// count, and `mem` as it ended.
fn run(insns: &[Insn], mem: &[u8]) -> (Result<u64, Fault>, u64, Vec<u8>) {
    let mut outcomes = Vec::new();
    for no_fusion in [true, false] {
        let options = PrepareOptions {
            no_fusion,
            ..PrepareOptions::default()
        };
        let prog = Program::prepare(&locate(insns), &options).expect("prepares");
        let mut vm = Vm::new();
        let mut m = mem.to_vec();
        let base = m.as_ptr() as u64;
        // Fault addresses relative to the input, which each run allocates anew.
        let r = vm.run(&prog, Input::mem(&mut m)).map_err(|f| match f {
            Fault::InvalidAccess {
                slot,
                addr,
                size,
                access,
            } => Fault::InvalidAccess {
                slot,
                addr: addr.wrapping_sub(base),
                size,
                access,
            },
            other => other,
        });
        outcomes.push((r, vm.executed().expect("checked runs are metered"), m));
    }
    let fused = outcomes.pop().expect("two runs");
    let plain = outcomes.pop().expect("two runs");
    assert_eq!(plain, fused, "fusion changed the outcome of {insns:?}");
    fused
}

fn slot_of(f: &Fault) -> usize {
    match f {
        Fault::InvalidAccess { slot, .. } => *slot,
        other => panic!("unexpected fault {other:?}"),
    }
}

#[test]
fn counter_loop_over_ja_counts_every_instruction() {
    // r0 = 0; r1 = 5; loop: r0 += r1; r1 += -1; if r1 == 0 goto +1; goto loop; exit
    let insns = [
        mov64(0, 0),
        mov64(1, 5),
        alu64(AluOp::Add, 0, r(1)),
        alu64(AluOp::Add, 1, imm(-1)),
        jmp(JmpCond::Eq, 1, imm(0), 1),
        ja(-4),
        EXIT,
    ];
    let (res, executed, _) = run(&insns, &[0; 8]);
    assert_eq!(res, Ok(15));
    // Two moves, five passes of four (the last skips the `ja`), the exit.
    assert_eq!(executed, 2 + 5 * 4 - 1 + 1);
}

#[test]
fn counter_loop_with_backward_test_in_32_bits() {
    // w1 = 3; loop: r0 += 2; w1 += -1; if w1 != 0 goto loop; exit   (w1 wraps through 32 bits)
    let insns = [
        alu32(AluOp::Mov, 1, imm(3)),
        mov64(0, 0),
        alu64(AluOp::Add, 0, imm(2)),
        alu32(AluOp::Add, 1, imm(-1)),
        jmp32(JmpCond::Ne, 1, imm(0), -3),
        EXIT,
    ];
    let (res, executed, _) = run(&insns, &[0; 8]);
    assert_eq!(res, Ok(6));
    assert_eq!(executed, 2 + 3 * 3 + 1);
}

#[test]
fn indexed_load_reads_and_faults_at_the_load() {
    let mut mem = [0u8; 16];
    mem[5] = 0xab;
    // r2 = 5; r4 = r1; r4 += r2; r0 = *(u8 *)(r4 + 0); exit
    let ok = [
        mov64(2, 5),
        alu64(AluOp::Mov, 4, r(1)),
        alu64(AluOp::Add, 4, r(2)),
        ldx(Size::B, 0, 4, 0),
        EXIT,
    ];
    assert_eq!(run(&ok, &mem).0, Ok(0xab));
    // The same at index 16: the load (slot 3) faults after three executed instructions + 1.
    let bad = [
        mov64(2, 16),
        alu64(AluOp::Mov, 4, r(1)),
        alu64(AluOp::Add, 4, r(2)),
        ldx(Size::B, 0, 4, 0),
        EXIT,
    ];
    let (res, executed, _) = run(&bad, &mem);
    let fault = res.expect_err("out of bounds");
    assert_eq!(slot_of(&fault), 3);
    assert!(matches!(
        fault,
        Fault::InvalidAccess {
            access: Access::Read,
            size: 1,
            ..
        }
    ));
    assert_eq!(executed, 4);
}

#[test]
fn load_then_jump_compares_the_loaded_value() {
    let mut mem = [0u8; 16];
    mem[4..8].copy_from_slice(&7u32.to_le_bytes());
    // r0 = 7 (then 8); r6 = *(u32 *)(r1 + 4); if w0 <= w6 goto +1; r0 = 99; exit
    for (r0, want) in [(7, 7), (8, 99)] {
        let insns = [
            mov64(0, r0),
            ldx(Size::W, 6, 1, 4),
            jmp32(JmpCond::Le, 0, r(6), 1),
            mov64(0, 99),
            EXIT,
        ];
        let (res, executed, _) = run(&insns, &mem);
        assert_eq!(res, Ok(want));
        assert_eq!(executed, if want == 99 { 5 } else { 4 });
    }
    // A faulting load reports its own slot.
    let insns = [
        ldx(Size::DW, 6, 1, 12),
        jmp(JmpCond::Gt, 6, r(0), 1),
        mov64(0, 1),
        EXIT,
    ];
    let (res, executed, _) = run(&insns, &mem);
    assert_eq!(slot_of(&res.expect_err("8 bytes at 12 of 16")), 0);
    assert_eq!(executed, 1);
}

#[test]
fn store_pair_faults_at_the_second_store() {
    // *(u32 *)(r1 + 0) = r2; *(u32 *)(r1 + 14) = r2  (the second runs past 16 bytes)
    let insns = [
        mov64(2, 0x0102_0304),
        stx(Size::W, 1, 0, 2),
        stx(Size::W, 1, 14, 2),
        EXIT,
    ];
    let (res, executed, mem) = run(&insns, &[0; 16]);
    let fault = res.expect_err("the second store is out of bounds");
    assert_eq!(slot_of(&fault), 2);
    assert_eq!(executed, 3);
    assert_eq!(
        &mem[..4],
        &0x0102_0304u32.to_le_bytes(),
        "the first store happened"
    );
    // Both in bounds: both happen.
    let insns = [
        mov64(2, -1),
        mov64(3, 0x55),
        stx(Size::DW, 1, 0, 2),
        stx(Size::DW, 1, 8, 3),
        mov64(0, 0),
        EXIT,
    ];
    let (res, _, mem) = run(&insns, &[0; 16]);
    assert_eq!(res, Ok(0));
    assert_eq!(&mem[..8], &[0xff; 8]);
    assert_eq!(&mem[8..], &0x55u64.to_le_bytes());
}

#[test]
fn move_then_ja_truncates_in_32_bits() {
    // r2 = -1; w0 = w2; goto +1; r0 = 0; exit
    let insns = [
        mov64(2, -1),
        alu32(AluOp::Mov, 0, r(2)),
        ja(1),
        mov64(0, 0),
        EXIT,
    ];
    let (res, executed, _) = run(&insns, &[0; 8]);
    assert_eq!(res, Ok(0xffff_ffff));
    assert_eq!(executed, 4);
}

#[test]
fn trusted_metered_runs_count_fused_instructions_exactly() {
    let insns = [
        mov64(0, 0),
        mov64(1, 1000),
        alu64(AluOp::Add, 0, imm(3)),
        alu64(AluOp::Add, 1, imm(-1)),
        jmp(JmpCond::Ne, 1, imm(0), -3),
        EXIT,
    ];
    let prog = Program::prepare(&locate(&insns), &PrepareOptions::default()).expect("prepares");
    let mut vm = Vm::new();
    let mut mem = [0u8; 8];
    // SAFETY: the program touches no memory.
    let r = unsafe { vm.run_trusted(&prog, Input::mem(&mut mem)) };
    assert_eq!(r, Ok(3000));
    assert_eq!(vm.executed(), Some(2 + 1000 * 3 + 1));
}
