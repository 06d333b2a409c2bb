//! A helper's frame-return request (`HelperError::Return`: "the calling function returns this
//! r0 now", how a tail call taken inside a subprogram replaces only that frame): from a
//! subprogram the caller continues with that r0, from the main function the run ends, from a
//! callback the helper that ran it gets it. Checked and trusted code, each compared with the
//! interpreter.

mod common;
use common::{locate, mov};

use lull_interp::{HelperContext, HelperError, Helpers, Input, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, CallTarget, Insn, LdImm64Kind, Operand, Reg, Width};
use lull_jit::{JitProgram, JitVm, Mode};

fn add(dst: Reg, src: Reg) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst,
        src: Operand::Reg(src),
    }
}

/// Helper 1: the caller returns r1 * 10.
fn frame_return(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::Return(a[0] * 10))
}

/// Helper 2: sums the callback `r1` over i = 0..r2.
fn callback_runner(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut total = 0u64;
    for i in 0..a[1] {
        total += ctx
            .call(a[0], [i, 0, 0, 0, 0])
            .map_err(|f| HelperError::Fault(Box::new(f)))?;
    }
    Ok(total)
}

fn options() -> PrepareOptions {
    let mut helpers = Helpers::new();
    helpers.register(1, "frame_return", frame_return);
    helpers.register(2, "callback_runner", callback_runner);
    PrepareOptions {
        helpers,
        ..PrepareOptions::default()
    }
}

/// r0 of `insns` on the interpreter, checked JIT code and trusted JIT code (all must agree).
fn run_all(insns: &[Insn]) -> u64 {
    let located = locate(insns);
    let opts = options();
    let interp = Program::prepare(&located, &opts).expect("prepares");
    let expected = Vm::new()
        .run(&interp, Input::mem(&mut []))
        .expect("interpreter runs");
    let checked = JitProgram::compile(&located, &opts, Mode::Checked).expect("compiles");
    let got = JitVm::new().run(&checked, Input::mem(&mut []));
    assert_eq!(got, Ok(expected), "checked code");
    let trusted = JitProgram::compile(&located, &opts, Mode::Trusted).expect("compiles");
    // SAFETY: the programs only touch registers (no memory accesses, no memory arguments).
    #[allow(unsafe_code)]
    let got = unsafe { JitVm::new().run_trusted(&trusted, Input::mem(&mut [])) };
    assert_eq!(got, Ok(expected), "trusted code");
    expected
}

#[test]
fn a_subprogram_returns_the_requested_value_to_its_caller() {
    let insns = [
        mov(Reg::R6, 5),
        Insn::Call(CallTarget::Local(3)),
        // r0 = 420 (the subprogram's return) + 5 (r6 survives) + 42 (r1 as the callee left it)
        add(Reg::R0, Reg::R6),
        add(Reg::R0, Reg::R1),
        Insn::Exit,
        // sub: returns 42 * 10 through the helper; the rest never runs.
        mov(Reg::R1, 42),
        Insn::Call(CallTarget::Helper(1)),
        mov(Reg::R0, 7),
        Insn::Exit,
    ];
    assert_eq!(run_all(&insns), 420 + 5 + 42);
}

#[test]
fn from_the_main_function_the_run_ends() {
    let insns = [
        mov(Reg::R1, 9),
        Insn::Call(CallTarget::Helper(1)),
        mov(Reg::R0, 1),
        Insn::Exit,
    ];
    assert_eq!(run_all(&insns), 90);
}

#[test]
fn from_a_callback_the_helper_that_ran_it_gets_the_value() {
    let insns = [
        // r1 = &callback (slot 6), r2 = 4 iterations
        Insn::LdImm64 {
            dst: Reg::R1,
            kind: LdImm64Kind::Func,
            imm: 5,
            next_imm: 0,
        },
        mov(Reg::R2, 4),
        Insn::Call(CallTarget::Helper(2)),
        // r0 = sum + 1
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Imm(1),
        },
        Insn::Exit,
        // callback(i): returns i * 10 through the helper
        Insn::Call(CallTarget::Helper(1)),
        mov(Reg::R0, 1000),
        Insn::Exit,
    ];
    assert_eq!(run_all(&insns), (10 + 20 + 30) + 1);
}
