//! Targeted JIT behaviours the random tests reach rarely: local calls (frames, r10, shared
//! r1..r5, callee-saved r6..r9), the frame limit, callbacks from helpers, a helper's exit
//! request, host regions, faults with their slots, and the `may_goto` budget.

mod common;
use common::{locate, mov};

use lull_interp::{
    Access, Fault, HelperContext, HelperError, Helpers, Input, MAX_FRAMES, PrepareOptions,
};
use lull_isa::{AluOp, CallTarget, Insn, JmpCond, LdImm64Kind, Operand, Reg, Size, Width};
use lull_jit::{JitProgram, JitVm, Mode};

fn alu(op: AluOp, dst: Reg, src: Reg) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src: Operand::Reg(src),
    }
}

fn run_with(insns: &[Insn], options: &PrepareOptions, mem: &mut [u8]) -> Result<u64, Fault> {
    let prog = JitProgram::compile(&locate(insns), options, Mode::Checked).expect("compiles");
    JitVm::new().run(&prog, Input::mem(mem))
}

fn run(insns: &[Insn]) -> Result<u64, Fault> {
    run_with(insns, &PrepareOptions::default(), &mut [])
}

#[test]
fn local_call_gets_its_own_frame_and_keeps_callee_saved_registers() {
    let insns = [
        mov(Reg::R6, 7),
        // *(u64 *)(r10 - 8) = 100
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            src: Operand::Imm(100),
        },
        mov(Reg::R1, 5),
        Insn::Call(CallTarget::Local(4)),
        // r0 = callee's r0 + r6 (7, restored) + caller's stack slot (100) + r1 (callee's: 9)
        alu(AluOp::Add, Reg::R0, Reg::R6),
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R2,
            src: Reg::R10,
            off: -8,
        },
        alu(AluOp::Add, Reg::R0, Reg::R2),
        Insn::Exit,
        // callee: writes its own frame at r10 - 8, clobbers r6, sets r1 = 9
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            src: Operand::Imm(1),
        },
        mov(Reg::R6, 1000),
        mov(Reg::R0, 20),
        alu(AluOp::Add, Reg::R0, Reg::R1),
        mov(Reg::R1, 9),
        Insn::Exit,
    ];
    // The callee starts at slot 8: the call at slot 3 jumps 3 + 1 + 4.
    let mut fixed = insns;
    fixed[3] = Insn::Call(CallTarget::Local(4));
    assert_eq!(run(&fixed), Ok(20 + 5 + 7 + 100));
    // The interpreter agrees, including r1 coming back from the callee.
    let mut with_r1 = fixed.to_vec();
    with_r1.insert(7, alu(AluOp::Add, Reg::R0, Reg::R1));
    with_r1[3] = Insn::Call(CallTarget::Local(5));
    let prog =
        lull_interp::Program::prepare(&locate(&with_r1), &PrepareOptions::default()).unwrap();
    let want = lull_interp::Vm::new().run(&prog, Input::default());
    assert_eq!(run(&with_r1), want);
    assert_eq!(want, Ok(20 + 5 + 7 + 100 + 9));
}

#[test]
fn recursion_stops_at_the_frame_limit() {
    // f: call f (forever).
    let insns = [Insn::Call(CallTarget::Local(-1)), Insn::Exit];
    let r = run(&insns);
    assert_eq!(
        r,
        Err(Fault::CallDepth {
            slot: 0,
            max: MAX_FRAMES
        })
    );
}

#[test]
fn caller_frames_are_accessible_to_callees_but_not_below() {
    let insns = [
        mov(Reg::R1, 0),
        alu(AluOp::Mov, Reg::R1, Reg::R10),
        Insn::Call(CallTarget::Local(1)),
        Insn::Exit,
        // callee: r0 = *(u64 *)(r1 - 8) (the caller's frame), then touches below its own frame
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R0,
            src: Reg::R1,
            off: -8,
        },
        Insn::Load {
            size: Size::B,
            signed: false,
            dst: Reg::R2,
            src: Reg::R10,
            off: -513,
        },
        Insn::Exit,
    ];
    let r = run(&insns);
    assert!(
        matches!(
            r,
            Err(Fault::InvalidAccess {
                slot: 5,
                size: 1,
                access: Access::Read,
                ..
            })
        ),
        "{r:?}"
    );
}

fn callback_runner(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut total = 0u64;
    for i in 0..a[1] {
        total += ctx
            .call(a[0], [i, 0, 0, 0, 0])
            .map_err(|f| HelperError::Fault(Box::new(f)))?;
    }
    Ok(total)
}

fn stop(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::Exit(a[0]))
}

fn options() -> PrepareOptions {
    let mut helpers = Helpers::new();
    helpers.register(1, "callback_runner", callback_runner);
    helpers.register(2, "stop", stop);
    PrepareOptions {
        helpers,
        ..PrepareOptions::default()
    }
}

#[test]
fn helpers_call_back_into_compiled_code() {
    let insns = [
        // r1 = &callback (slot 6), r2 = 4 iterations
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::Func,
            imm: 5,
            next_imm: 0,
        },
        mov(Reg::R2, 4),
        Insn::Call(CallTarget::Helper(1)),
        Insn::Exit,
        Insn::Exit,
        // callback(i): r0 = i * i
        alu(AluOp::Mov, Reg::R0, Reg::R1),
        alu(AluOp::Mul, Reg::R0, Reg::R1),
        Insn::Exit,
    ];
    assert_eq!(run_with(&insns, &options(), &mut []), Ok(1 + 4 + 9));
}

#[test]
fn a_bad_callback_address_faults_at_the_helper_call() {
    let insns = [
        mov(Reg::R1, 1),
        mov(Reg::R2, 1),
        Insn::Call(CallTarget::Helper(1)),
        Insn::Exit,
    ];
    assert_eq!(
        run_with(&insns, &options(), &mut []),
        Err(Fault::BadCallback { slot: 2, func: 1 })
    );
}

#[test]
fn a_helper_exit_request_ends_the_program_from_any_depth() {
    let insns = [
        Insn::Call(CallTarget::Local(2)),
        mov(Reg::R0, 1),
        Insn::Exit,
        mov(Reg::R1, 42),
        Insn::Call(CallTarget::Helper(2)),
        mov(Reg::R0, 2),
        Insn::Exit,
    ];
    assert_eq!(run_with(&insns, &options(), &mut []), Ok(42));
}

#[test]
fn out_of_bounds_input_access_reports_slot_address_and_size() {
    let mut mem = [1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    let base = mem.as_ptr() as u64;
    let insns = [
        // The last 4 bytes (slow path of the input check) are fine...
        Insn::Load {
            size: Size::W,
            signed: false,
            dst: Reg::R0,
            src: Reg::R1,
            off: 6,
        },
        // ...one byte further is not.
        Insn::Load {
            size: Size::W,
            signed: false,
            dst: Reg::R0,
            src: Reg::R1,
            off: 7,
        },
        Insn::Exit,
    ];
    let r = run_with(&insns, &PrepareOptions::default(), &mut mem);
    assert_eq!(
        r,
        Err(Fault::InvalidAccess {
            slot: 1,
            addr: base + 7,
            size: 4,
            access: Access::Read
        })
    );
    let ok = [insns[0], Insn::Exit];
    assert_eq!(
        run_with(&ok, &PrepareOptions::default(), &mut mem),
        Ok(u64::from(u32::from_le_bytes([7, 8, 9, 10])))
    );
}

#[test]
fn host_regions_are_reachable_through_the_slow_path() {
    let mut host = [0u8; 16];
    let addr = host.as_mut_ptr() as u64;
    let insns = [
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::Imm,
            imm: addr as i32,
            next_imm: (addr >> 32) as i32,
        },
        Insn::Store {
            size: Size::DW,
            dst: Reg::R1,
            off: 8,
            src: Operand::Imm(77),
        },
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R0,
            src: Reg::R1,
            off: 8,
        },
        Insn::Exit,
    ];
    let prog =
        JitProgram::compile(&locate(&insns), &PrepareOptions::default(), Mode::Checked).unwrap();
    let mut vm = JitVm::new();
    assert!(matches!(
        vm.run(&prog, Input::default()),
        Err(Fault::InvalidAccess { slot: 2, .. })
    ));
    // SAFETY: `host` outlives the VM's use of it (regions are cleared below) and is not
    // accessed through Rust references during the run.
    #[allow(unsafe_code)]
    unsafe {
        vm.add_region(
            host.as_mut_ptr(),
            host.len(),
            lull_interp::Permission::ReadWrite,
        )
    };
    assert_eq!(vm.run(&prog, Input::default()), Ok(77));
    vm.clear_regions();
    assert_eq!(host[8], 77);
}

#[test]
fn may_goto_jumps_once_its_budget_is_spent() {
    // r0 counts iterations of `loop: may_goto out; r0 += 1; goto loop; out: exit`.
    let insns = [
        mov(Reg::R0, 0),
        Insn::MayGoto { off: 2 },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Imm(1),
        },
        Insn::Ja {
            off: -3,
            long: false,
        },
        Insn::Exit,
    ];
    let prog =
        JitProgram::compile(&locate(&insns), &PrepareOptions::default(), Mode::Checked).unwrap();
    let mut vm = JitVm::new();
    vm.set_insn_budget(None);
    assert_eq!(
        vm.run(&prog, Input::default()),
        Ok(lull_interp::MAY_GOTO_BUDGET)
    );
}

#[test]
fn signed_division_edge_cases_do_not_trap() {
    let min = Insn::LdImm64 {
        dst: Reg::R6,
        kind: LdImm64Kind::Imm,
        imm: 0,
        next_imm: i32::MIN,
    };
    let cases: [(AluOp, i32, u64); 4] = [
        (AluOp::SDiv, -1, i64::MIN as u64),
        (AluOp::SMod, -1, 0),
        (AluOp::SDiv, 0, 0),
        (AluOp::SMod, 0, i64::MIN as u64),
    ];
    for (op, d, want) in cases {
        for src in [Operand::Imm(d), Operand::Reg(Reg::R7)] {
            let insns = [
                min,
                mov(Reg::R7, d),
                Insn::Alu {
                    width: Width::W64,
                    op,
                    dst: Reg::R6,
                    src,
                },
                alu(AluOp::Mov, Reg::R0, Reg::R6),
                Insn::Jump {
                    width: Width::W64,
                    cond: JmpCond::Eq,
                    dst: Reg::R0,
                    src: Operand::Imm(0),
                    off: 0,
                },
                Insn::Exit,
            ];
            assert_eq!(run(&insns), Ok(want), "{op:?} by {src:?}");
        }
    }
}

#[test]
fn writes_to_r10_fault_only_when_reached() {
    let write = Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: Reg::R10,
        src: Operand::Imm(1),
    };
    let skip = Insn::Ja {
        off: 1,
        long: false,
    };
    // Dead, as the kernel's verifier accepts it: the program runs.
    assert_eq!(run(&[mov(Reg::R0, 3), skip, write, Insn::Exit]), Ok(3));
    // Reached: a fault at that instruction.
    let Err(Fault::Unsupported { slot: 1, what }) = run(&[mov(Reg::R0, 3), write, Insn::Exit])
    else {
        panic!("a reached write to r10 must fault");
    };
    assert_eq!(what, "frame pointer r10 is read only");
}
