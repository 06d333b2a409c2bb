//! Inlined helpers ([`Intrinsics`]) give the helper's results: `bpf_loop` as a native loop
//! (iteration count, early stop, the count limit, an exit request inside the callback, a
//! callback at the frame limit) and the direct map lookup of trusted code (hit, miss, a map
//! the host declines). Each program runs on the interpreter, on JIT code without intrinsics
//! and on JIT code with them, checked and trusted.

mod common;
use common::{locate, mov};

use lull_interp::{Fault, HelperContext, HelperError, Helpers, Input, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, CallTarget, Insn, JmpCond, LdImm64Kind, Operand, Reg, Size, Width};
use lull_jit::{Intrinsics, JitProgram, JitVm, LoopIntrinsic, Mode, NOT_HANDLED};

const LOOP: u16 = 181;
const LOOKUP: u16 = 1;
const EXIT: u16 = 2;
const MAX_LOOPS: u64 = 1000;
const TOO_BIG: u64 = 0xffff_fff9;

fn alu(op: AluOp, dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst,
        src,
    }
}

fn func(dst: Reg, imm: i32) -> Insn {
    Insn::LdImm64 {
        dst,
        kind: LdImm64Kind::Func,
        imm,
        next_imm: 0,
    }
}

/// The helper version of `bpf_loop`, with the semantics the intrinsic promises.
fn bpf_loop(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (nr, f, cb_ctx, flags) = (a[0] & 0xffff_ffff, a[1], a[2], a[3]);
    if flags != 0 {
        return Ok(-22i64 as u64);
    }
    if nr > MAX_LOOPS {
        return Ok(TOO_BIG);
    }
    for i in 0..nr {
        let r = ctx
            .call(f, [i, cb_ctx, 0, 0, 0])
            .map_err(|f| HelperError::Fault(Box::new(f)))?;
        if r != 0 {
            return Ok(i + 1);
        }
    }
    Ok(nr)
}

/// A "map" lookup: key 5 gives 1, anything else 0; map 77 (which the direct lookup declines)
/// gives 1000.
fn lookup(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut k = [0u8; 8];
    ctx.read(a[1], &mut k)?;
    Ok(if a[0] == 77 {
        1000
    } else {
        u64::from(u64::from_ne_bytes(k) == 5)
    })
}

extern "C" fn direct_lookup(map: u64, key: u64) -> u64 {
    if map == 77 {
        return NOT_HANDLED;
    }
    // SAFETY: the tests pass a pointer to 8 readable stack bytes.
    #[allow(unsafe_code)]
    let k = unsafe { std::ptr::with_exposed_provenance::<u64>(key as usize).read_unaligned() };
    u64::from(k == 5)
}

fn exit(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    Err(HelperError::Exit(a[0]))
}

fn options() -> PrepareOptions {
    let mut helpers = Helpers::new();
    helpers.register(LOOP, "bpf_loop", bpf_loop);
    helpers.register(LOOKUP, "lookup", lookup);
    helpers.register(EXIT, "exit", exit);
    PrepareOptions {
        helpers,
        ..PrepareOptions::default()
    }
}

fn intrinsics() -> Intrinsics {
    Intrinsics {
        bpf_loop: Some(LoopIntrinsic {
            helper: LOOP,
            max_loops: MAX_LOOPS,
            too_big: TOO_BIG,
        }),
        map_lookup: Some((LOOKUP, direct_lookup)),
    }
}

/// The result on every engine (asserted equal) and whether the JIT inlined something (its
/// code differs in size from the plain compilation).
fn run_all(insns: &[Insn]) -> (Result<u64, Fault>, bool) {
    let located = locate(insns);
    let opts = options();
    let interp = Program::prepare(&located, &opts).expect("prepares");
    let expected = Vm::new().run(&interp, Input::mem(&mut []));
    let mut inlined = false;
    for mode in [Mode::Checked, Mode::Trusted] {
        let plain = JitProgram::compile(&located, &opts, mode).expect("compiles");
        let fast =
            JitProgram::compile_with(&located, &opts, mode, &intrinsics()).expect("compiles");
        inlined |= fast.code_size() != plain.code_size();
        for prog in [&plain, &fast] {
            let got = if mode == Mode::Checked {
                JitVm::new().run(prog, Input::mem(&mut []))
            } else {
                // SAFETY: the programs access only their stack frames.
                #[allow(unsafe_code)]
                unsafe {
                    JitVm::new().run_trusted(prog, Input::mem(&mut []))
                }
            };
            assert_eq!(got, expected, "{mode:?}");
        }
    }
    (expected, inlined)
}

/// main: *(u64 *)(r10 - 8) = 0; bpf_loop(nr, cb, r10 - 8, flags); r0 = r0 * 1000 + sum.
/// `cb` (at the end) is `body`, which starts with r1 = i, r2 = &sum.
fn loop_prog(nr: i32, flags: i32, body: &[Insn]) -> Vec<Insn> {
    let mut v = vec![
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            src: Operand::Imm(0),
        },
        mov(Reg::R1, nr),
        func(Reg::R2, 9),
        alu(AluOp::Mov, Reg::R3, Operand::Reg(Reg::R10)),
        alu(AluOp::Add, Reg::R3, Operand::Imm(-8)),
        mov(Reg::R4, flags),
        Insn::Call(CallTarget::Helper(i32::from(LOOP))),
        alu(AluOp::Mul, Reg::R0, Operand::Imm(1000)),
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R1,
            src: Reg::R10,
            off: -8,
        },
        alu(AluOp::Add, Reg::R0, Operand::Reg(Reg::R1)),
        Insn::Exit,
    ];
    v.extend_from_slice(body);
    v
}

/// Callback: *r2 += r1; r0 = (r1 == stop).
fn sum_until(stop: i32) -> Vec<Insn> {
    vec![
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R3,
            src: Reg::R2,
            off: 0,
        },
        alu(AluOp::Add, Reg::R3, Operand::Reg(Reg::R1)),
        Insn::Store {
            size: Size::DW,
            dst: Reg::R2,
            off: 0,
            src: Operand::Reg(Reg::R3),
        },
        mov(Reg::R0, 1),
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Eq,
            dst: Reg::R1,
            src: Operand::Imm(stop),
            off: 1,
        },
        mov(Reg::R0, 0),
        Insn::Exit,
    ]
}

#[test]
fn an_inlined_loop_runs_every_iteration() {
    let (r, inlined) = run_all(&loop_prog(10, 0, &sum_until(-1)));
    assert_eq!(r, Ok(10 * 1000 + 45));
    assert!(inlined);
}

#[test]
fn a_nonzero_callback_result_stops_the_loop() {
    assert_eq!(
        run_all(&loop_prog(10, 0, &sum_until(3))).0,
        Ok(4 * 1000 + 6)
    );
    assert_eq!(run_all(&loop_prog(0, 0, &sum_until(3))).0, Ok(0));
}

#[test]
fn counts_above_the_limit_and_nonzero_flags_keep_the_helpers_results() {
    let too_big = MAX_LOOPS as i32 + 1;
    assert_eq!(
        run_all(&loop_prog(too_big, 0, &sum_until(-1))).0,
        Ok(TOO_BIG * 1000)
    );
    // Flags 1: not inlined (the helper refuses with -EINVAL).
    let (r, _) = run_all(&loop_prog(3, 1, &sum_until(-1)));
    assert_eq!(r, Ok((-22i64 as u64).wrapping_mul(1000)));
}

#[test]
fn an_exit_request_inside_the_callback_ends_only_the_callback() {
    // Callback: exit(i == 2 ? 1 : 0) through the helper; the loop stops after 3 iterations.
    let body = [
        mov(Reg::R0, 0),
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Ne,
            dst: Reg::R1,
            src: Operand::Imm(2),
            off: 1,
        },
        mov(Reg::R0, 1),
        alu(AluOp::Mov, Reg::R1, Operand::Reg(Reg::R0)),
        Insn::Call(CallTarget::Helper(i32::from(EXIT))),
        mov(Reg::R0, 0),
        Insn::Exit,
    ];
    assert_eq!(run_all(&loop_prog(10, 0, &body)).0, Ok(3 * 1000));
}

#[test]
fn a_callback_beyond_the_frame_limit_faults() {
    // The callback recurses through bpf_loop until the frame limit.
    let body = loop_prog(1, 0, &[])[..7].to_vec();
    let mut insns = loop_prog(1, 0, &[]);
    insns.extend(body);
    insns.push(Insn::Exit);
    // The callback starts at slot 12 and calls bpf_loop with itself: its `lddw` at slot 14
    // points back at slot 12 (14 + 1 - 3).
    insns[13] = func(Reg::R2, -3);
    let (r, _) = run_all(&insns);
    assert!(matches!(r, Err(Fault::CallDepth { .. })), "{r:?}");
}

#[test]
fn direct_lookups_agree_with_the_helper() {
    // *(u64 *)(r10 - 8) = key; r0 = lookup(map, r10 - 8)
    let prog = |map: i32, key: i32| {
        vec![
            Insn::Store {
                size: Size::DW,
                dst: Reg::R10,
                off: -8,
                src: Operand::Imm(key),
            },
            mov(Reg::R1, map),
            alu(AluOp::Mov, Reg::R2, Operand::Reg(Reg::R10)),
            alu(AluOp::Add, Reg::R2, Operand::Imm(-8)),
            Insn::Call(CallTarget::Helper(i32::from(LOOKUP))),
            Insn::Exit,
        ]
    };
    let (hit, inlined) = run_all(&prog(1, 5));
    assert_eq!(hit, Ok(1));
    assert!(inlined);
    assert_eq!(run_all(&prog(1, 6)).0, Ok(0));
    // Map 77 is declined by the direct lookup: the helper answers.
    assert_eq!(run_all(&prog(77, 5)).0, Ok(1000));
}
