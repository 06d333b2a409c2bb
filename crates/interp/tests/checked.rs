//! Checked mode: precise faults, structural rejection at prepare time, calls, helpers, budget.

mod common;

use common::*;
use lull_interp::{
    Access, Fault, HelperContext, HelperError, Helpers, Input, Kfuncs, Permission, PrepareError,
    PrepareOptions, Vm,
};
use lull_isa::{AluOp, AtomicOp, CallTarget, Insn, JmpCond, LdImm64Kind, Size};

#[test]
fn out_of_bounds_access_names_slot_address_size_and_direction() {
    let mut mem = [0u8; 8];
    let addr = mem.as_ptr() as u64;
    // slot 0..1 is an lddw, so the load is at slot 2.
    let p = [lddw(3, 0), ldx(Size::W, 0, 1, 6), EXIT];
    assert_eq!(
        run_mem(&p, &mut mem),
        Err(Fault::InvalidAccess {
            slot: 2,
            addr: addr + 6,
            size: 4,
            access: Access::Read
        })
    );
    let p = [st(Size::B, 10, 0, 1), EXIT];
    let Err(Fault::InvalidAccess {
        slot: 0,
        size: 1,
        access: Access::Write,
        ..
    }) = run(&p)
    else {
        panic!("store at r10 + 0 must fault");
    };
    // Null and wild pointers.
    let p = [mov64(1, 0), ldx(Size::DW, 0, 1, 0), EXIT];
    assert!(matches!(
        run(&p),
        Err(Fault::InvalidAccess {
            slot: 1,
            addr: 0,
            ..
        })
    ));
}

#[test]
fn stack_frame_bounds() {
    // The whole 512-byte frame is usable, one byte below is not.
    let ok = [st(Size::B, 10, -512, 1), ldx(Size::B, 0, 10, -512), EXIT];
    assert_eq!(run(&ok), Ok(1));
    let below = [st(Size::B, 10, -513, 1), EXIT];
    assert!(matches!(
        run(&below),
        Err(Fault::InvalidAccess { slot: 0, .. })
    ));
    // A straddling access is rejected as a whole.
    let straddle = [ldx(Size::DW, 0, 10, -4), EXIT];
    assert!(matches!(
        run(&straddle),
        Err(Fault::InvalidAccess { size: 8, .. })
    ));
}

#[test]
fn misaligned_atomic_faults() {
    let p = [
        mov64(1, 1),
        Insn::Atomic {
            size: Size::DW,
            op: AtomicOp::Add { fetch: false },
            dst: reg(10),
            src: reg(1),
            off: -12,
        },
        EXIT,
    ];
    assert!(matches!(
        run(&p),
        Err(Fault::MisalignedAtomic {
            slot: 1,
            size: 8,
            ..
        })
    ));
}

/// main: r6 = 6, *(r10-8) = 5, r1 = r10 - 8, call f, r0 += r6, exit
/// f:    r6 = 100, r0 = *(r1) (the caller's stack), *(r10 - 8) = 1 (own frame), exit
fn local_call_program() -> Vec<Insn> {
    vec![
        mov64(6, 6),
        st(Size::DW, 10, -8, 5),
        alu64(AluOp::Mov, 1, r(10)),
        alu64(AluOp::Add, 1, imm(-8)),
        Insn::Call(CallTarget::Local(4)),
        alu64(AluOp::Add, 0, r(6)),
        ldx(Size::DW, 2, 10, -8),
        alu64(AluOp::Add, 0, r(2)),
        EXIT,
        // f
        mov64(6, 100),
        ldx(Size::DW, 0, 1, 0),
        st(Size::DW, 10, -8, 1),
        EXIT,
    ]
}

#[test]
fn local_calls_save_r6_r9_and_give_each_frame_its_own_stack() {
    // 5 (read through the caller's pointer) + 6 (r6 restored) + 5 (caller slot untouched).
    assert_eq!(run(&local_call_program()), Ok(16));
}

#[test]
fn call_depth_is_limited_to_eight_frames() {
    // f calls itself forever.
    let p = [
        Insn::Call(CallTarget::Local(1)),
        EXIT,
        Insn::Call(CallTarget::Local(-1)),
        EXIT,
    ];
    assert_eq!(run(&p), Err(Fault::CallDepth { slot: 2, max: 8 }));
    // Main plus seven nested calls (eight frames) are fine: f(n) = n == 0 ? 0 : f(n - 1) + 1,
    // and f(6) needs frames for main, f(6) .. f(0).
    let p = [
        mov64(1, 6),
        Insn::Call(CallTarget::Local(1)),
        EXIT,
        jmp(JmpCond::Eq, 1, imm(0), 4),
        alu64(AluOp::Sub, 1, imm(1)),
        Insn::Call(CallTarget::Local(-3)),
        alu64(AluOp::Add, 0, imm(1)),
        EXIT,
        mov64(0, 0),
        EXIT,
    ];
    assert_eq!(run(&p), Ok(6));
    let mut deeper = p;
    deeper[0] = mov64(1, 7);
    assert!(matches!(run(&deeper), Err(Fault::CallDepth { .. })));
}

#[test]
fn budget_stops_infinite_loops_and_counts_exactly() {
    let prog =
        prepare(&[mov64(0, 0), alu64(AluOp::Add, 0, imm(1)), ja(-2), EXIT]).expect("prepares");
    let mut vm = Vm::new();
    vm.set_insn_budget(Some(1000));
    assert!(matches!(
        vm.run(&prog, Input::default()),
        Err(Fault::BudgetExhausted { budget: 1000, .. })
    ));

    // 1 + 3 * 10 + 1 instructions.
    let prog = prepare(&[
        mov64(0, 0),
        alu64(AluOp::Add, 0, imm(1)),
        jmp(JmpCond::Eq, 0, imm(10), 1),
        ja(-3),
        EXIT,
    ])
    .expect("prepares");
    assert_eq!(vm.run(&prog, Input::default()), Ok(10));
    assert_eq!(vm.executed(), Some(1 + 10 * 3 - 1 + 1));
}

#[test]
fn prepare_rejects_structural_errors() {
    assert_eq!(prepare(&[]).err(), Some(PrepareError::Empty));
    assert_eq!(
        prepare(&[ja(1), EXIT]).err(),
        Some(PrepareError::JumpOutOfRange { slot: 0, target: 2 })
    );
    assert_eq!(
        prepare(&[ja(-2), EXIT]).err(),
        Some(PrepareError::JumpOutOfRange {
            slot: 0,
            target: -1
        })
    );
    assert_eq!(
        prepare(&[ja(1), lddw(0, 1), EXIT]).err(),
        Some(PrepareError::JumpIntoLdImm64 { slot: 0, target: 2 })
    );
    assert_eq!(
        prepare(&[EXIT, mov64(0, 1)]).err(),
        Some(PrepareError::FallsOffEnd { slot: 1 })
    );
    assert_eq!(
        prepare(&[Insn::Call(CallTarget::Helper(1)), EXIT]).err(),
        Some(PrepareError::UnknownHelper { slot: 0, id: 1 })
    );
    let map = Insn::LdImm64 {
        dst: reg(1),
        kind: LdImm64Kind::MapFd,
        imm: 3,
        next_imm: 0,
    };
    assert_eq!(
        prepare(&[map, EXIT]).err(),
        Some(PrepareError::Unresolved {
            slot: 0,
            kind: LdImm64Kind::MapFd
        })
    );
}

#[test]
fn lddw_resolver_supplies_values() {
    let map = Insn::LdImm64 {
        dst: reg(0),
        kind: LdImm64Kind::MapValue,
        imm: 3,
        next_imm: 16,
    };
    let options = PrepareOptions {
        resolver: Some(std::sync::Arc::new(|kind, imm, next| match kind {
            LdImm64Kind::MapValue => Ok(((imm as u64) << 8) + next as u64),
            _ => Err("no".into()),
        })),
        ..PrepareOptions::default()
    };
    let prog = prepare_with(&[map, EXIT], &options).expect("prepares");
    assert_eq!(Vm::new().run(&prog, Input::default()), Ok(0x310));
    let fd = Insn::LdImm64 {
        dst: reg(0),
        kind: LdImm64Kind::MapFd,
        imm: 3,
        next_imm: 0,
    };
    assert!(matches!(
        prepare_with(&[fd, EXIT], &options),
        Err(PrepareError::Resolve { slot: 0, .. })
    ));
}

struct Counter(u64);

fn add_args(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    if let Some(c) = ctx.env::<Counter>() {
        c.0 += 1;
    }
    Ok(a.iter().sum())
}

fn read_u64(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut b = [0u8; 8];
    ctx.read(a[0], &mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn stop(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::Exit(a[0]))
}

fn return_now(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::Return(a[0]))
}

fn helpers() -> PrepareOptions {
    let mut h = Helpers::new();
    h.register(1, "add_args", add_args);
    h.register(2, "read_u64", read_u64);
    h.register(3, "stop", stop);
    h.register(4, "return_now", return_now);
    let mut k = Kfuncs::new();
    k.register(777, 0, "kf_add", add_args);
    PrepareOptions {
        helpers: h,
        kfuncs: k,
        ..PrepareOptions::default()
    }
}

#[test]
fn helpers_kfuncs_and_callx() {
    let options = helpers();
    let p = [
        mov64(1, 1),
        mov64(2, 2),
        mov64(3, 3),
        mov64(4, 4),
        mov64(5, 5),
        Insn::Call(CallTarget::Helper(1)),
        alu64(AluOp::Mov, 1, r(0)),
        Insn::Call(CallTarget::Kfunc {
            btf_id: 777,
            module: 0,
        }),
        alu64(AluOp::Mov, 1, r(0)),
        mov64(6, 1),
        Insn::CallX { dst: reg(6) },
        EXIT,
    ];
    let prog = prepare_with(&p, &options).expect("prepares");
    let mut counter = Counter(0);
    let r = Vm::new().run(
        &prog,
        Input {
            env: Some(&mut counter),
            ..Input::default()
        },
    );
    // 15, then 15 + 14 = 29, then 29 + 14 = 43.
    assert_eq!(r, Ok(43));
    assert_eq!(counter.0, 3);

    let bad_callx = [mov64(6, 9), Insn::CallX { dst: reg(6) }, EXIT];
    let prog = prepare_with(&bad_callx, &options).expect("prepares");
    assert_eq!(
        Vm::new().run(&prog, Input::default()),
        Err(Fault::UnknownHelper { slot: 1, id: 9 })
    );
}

#[test]
fn helper_memory_is_checked_and_exit_stops_the_program() {
    let options = helpers();
    let p = [
        st(Size::DW, 10, -8, 77),
        alu64(AluOp::Mov, 1, r(10)),
        alu64(AluOp::Add, 1, imm(-8)),
        Insn::Call(CallTarget::Helper(2)),
        EXIT,
    ];
    let prog = prepare_with(&p, &options).expect("prepares");
    assert_eq!(Vm::new().run(&prog, Input::default()), Ok(77));

    let wild = [mov64(1, 16), Insn::Call(CallTarget::Helper(2)), EXIT];
    let prog = prepare_with(&wild, &options).expect("prepares");
    let Err(Fault::Helper {
        slot: 1,
        name,
        error: HelperError::Memory(e),
    }) = Vm::new().run(&prog, Input::default())
    else {
        panic!("wild helper read must fault");
    };
    assert_eq!(
        (name.as_str(), e.addr, e.access),
        ("read_u64", 16, Access::Read)
    );

    let stops = [
        mov64(1, 5),
        Insn::Call(CallTarget::Helper(3)),
        mov64(0, 1),
        EXIT,
    ];
    let prog = prepare_with(&stops, &options).expect("prepares");
    assert_eq!(Vm::new().run(&prog, Input::default()), Ok(5));
}

#[test]
fn a_helper_can_return_from_the_calling_function_only() {
    let options = helpers();
    // main: r6 = 6, call f, r0 += r6, exit; f: r6 = 100, r1 = 30, return_now(r1), r0 = 999.
    let p = [
        mov64(6, 6),
        Insn::Call(CallTarget::Local(2)),
        alu64(AluOp::Add, 0, r(6)),
        EXIT,
        mov64(6, 100),
        mov64(1, 30),
        Insn::Call(CallTarget::Helper(4)),
        mov64(0, 999),
        EXIT,
    ];
    let prog = prepare_with(&p, &options).expect("prepares");
    let mut vm = Vm::new();
    vm.set_insn_budget(Some(1000));
    // f returns 30 at the helper call; main goes on with its own r6.
    assert_eq!(vm.run(&prog, Input::default()), Ok(36));
    // main, f's first three, then main's add and exit: the skipped `r0 = 999; exit` don't count.
    assert_eq!(vm.executed(), Some(7));

    // From the main function it ends the run.
    let main_only = [
        mov64(1, 7),
        Insn::Call(CallTarget::Helper(4)),
        mov64(0, 1),
        EXIT,
    ];
    let prog = prepare_with(&main_only, &options).expect("prepares");
    assert_eq!(Vm::new().run(&prog, Input::default()), Ok(7));
}

#[test]
#[allow(unsafe_code)]
fn host_regions_respect_permissions() {
    let mut ro = 0x1122_3344_5566_7788u64;
    let mut rw = 0u64;
    let mut vm = Vm::new();
    // SAFETY: both locals outlive `vm`'s runs below and are not touched while they run.
    unsafe {
        vm.add_region((&raw mut ro).cast(), 8, Permission::ReadOnly);
        vm.add_region((&raw mut rw).cast(), 8, Permission::ReadWrite);
    }
    let args = Input::args([(&raw const ro) as u64, (&raw const rw) as u64, 0, 0, 0]);
    let copy = prepare(&[ldx(Size::DW, 0, 1, 0), stx(Size::DW, 2, 0, 0), EXIT]).expect("prepares");
    assert_eq!(vm.run(&copy, args), Ok(0x1122_3344_5566_7788));
    let args = Input::args([(&raw const ro) as u64, 0, 0, 0, 0]);
    let write_ro = prepare(&[st(Size::B, 1, 0, 0), EXIT]).expect("prepares");
    assert!(matches!(
        vm.run(&write_ro, args),
        Err(Fault::InvalidAccess {
            access: Access::Write,
            ..
        })
    ));
    vm.clear_regions();
    assert_eq!(rw, 0x1122_3344_5566_7788);
}

#[test]
#[allow(unsafe_code)]
fn trusted_mode_agrees_with_checked_mode() {
    let prog = prepare(&local_call_program()).expect("prepares");
    let mut vm = Vm::new();
    vm.set_insn_budget(None);
    // SAFETY: the program only touches its own and its caller's stack frame (the checked
    // test above runs the same program).
    assert_eq!(unsafe { vm.run_trusted(&prog, Input::default()) }, Ok(16));
    assert_eq!(vm.executed(), None);
}

#[test]
fn unsupported_instructions_fault_only_when_reached() {
    let p = [
        ja(1),
        Insn::LdAbs {
            size: Size::W,
            imm: 0,
        },
        mov64(0, 3),
        EXIT,
    ];
    assert_eq!(run(&p), Ok(3));
    let p = [
        Insn::LdAbs {
            size: Size::W,
            imm: 0,
        },
        EXIT,
    ];
    assert!(matches!(run(&p), Err(Fault::Unsupported { slot: 0, .. })));
}

#[test]
fn writes_to_r10_fault_only_when_reached() {
    let xchg_r10 = Insn::Atomic {
        size: Size::DW,
        op: AtomicOp::Xchg,
        dst: reg(1),
        src: reg(10),
        off: 0,
    };
    for write in [alu64(AluOp::Add, 10, imm(1)), xchg_r10] {
        // Dead (as the kernel's verifier accepts it): the program runs.
        assert_eq!(run(&[mov64(0, 3), ja(1), write, EXIT]), Ok(3));
        // Reached: a fault at that instruction, r10 untouched.
        let Err(Fault::Unsupported { slot: 1, what }) = run(&[mov64(0, 3), write, EXIT]) else {
            panic!("a reached write to r10 must fault");
        };
        assert_eq!(what, "frame pointer r10 is read only");
    }
}

#[test]
#[allow(unsafe_code)]
fn checked_runs_start_with_a_zeroed_stack_even_after_deep_frames() {
    // main: call f, exit; f: r0 = *(r10 - 8) (what a previous run left), *(r10 - 8) = 77.
    let p = [
        Insn::Call(CallTarget::Local(1)),
        EXIT,
        ldx(Size::DW, 0, 10, -8),
        st(Size::DW, 10, -8, 77),
        EXIT,
    ];
    let prog = prepare_with(&p, &PrepareOptions::default()).expect("prepares");
    let mut vm = Vm::new();
    assert_eq!(vm.run(&prog, Input::default()), Ok(0));
    assert_eq!(
        vm.run(&prog, Input::default()),
        Ok(0),
        "checked run saw the last run's stack"
    );
    // A trusted run does not clear (as the kernel), but the next checked run still does.
    // SAFETY: the program only touches its own stack frame.
    assert_eq!(unsafe { vm.run_trusted(&prog, Input::default()) }, Ok(77));
    assert_eq!(vm.run(&prog, Input::default()), Ok(0));
}
