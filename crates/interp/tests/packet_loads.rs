//! Legacy packet loads (`LD_ABS`/`LD_IND`) go through the host's packet loader with the
//! kernel's calling convention, and a load outside the packet returns 0 from the *current*
//! function (the kernel's rewrite ends in `exit`), not from the program.

mod common;

use common::{alu64, imm, locate, mov64, r, reg};
use lull_interp::{Fault, Helper, HelperContext, HelperError, Input, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, CallTarget, Insn, Size};

/// A test loader: r6 points at `[len: u32][packet bytes]`; offsets are relative to the packet
/// and must lie inside it (negative ones never do here).
fn load(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (base, off, size) = (a[0], a[1] as i64, a[2] as usize);
    let mut len = [0u8; 4];
    ctx.read(base, &mut len)?;
    let len = u32::from_ne_bytes(len) as i64;
    if off < 0 || off + size as i64 > len {
        return Ok(-14i64 as u64);
    }
    let mut b = [0u8; 4];
    ctx.read(base + 4 + off as u64, &mut b[..size])?;
    Ok(match size {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_be_bytes([b[0], b[1]])),
        _ => u64::from(u32::from_be_bytes(b)),
    })
}

fn options() -> PrepareOptions {
    PrepareOptions {
        packet_loader: Some(Helper {
            name: "skb_load",
            func: load,
        }),
        ..PrepareOptions::default()
    }
}

fn packet() -> Vec<u8> {
    let mut m = 8u32.to_ne_bytes().to_vec();
    m.extend_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]);
    m
}

fn run(insns: &[Insn]) -> Result<u64, Fault> {
    let prog = Program::prepare(&locate(insns), &options()).expect("prepares");
    let mut mem = packet();
    Vm::new().run(&prog, Input::mem(&mut mem))
}

fn ctx_in_r6() -> Insn {
    alu64(AluOp::Mov, 6, r(1))
}

#[test]
fn absolute_and_indirect_loads_are_big_endian() {
    let abs = |size, off| [ctx_in_r6(), Insn::LdAbs { size, imm: off }, Insn::Exit];
    assert_eq!(run(&abs(Size::B, 1)), Ok(0x22));
    assert_eq!(run(&abs(Size::H, 2)), Ok(0x3344));
    assert_eq!(run(&abs(Size::W, 4)), Ok(0x5566_7788));
    let ind = [
        ctx_in_r6(),
        mov64(7, 3),
        Insn::LdInd {
            size: Size::H,
            src: reg(7),
            imm: 1,
        },
        Insn::Exit,
    ];
    assert_eq!(run(&ind), Ok(0x5566));
}

#[test]
fn out_of_packet_load_returns_zero_from_the_program() {
    let insns = [
        ctx_in_r6(),
        mov64(0, 99),
        Insn::LdAbs {
            size: Size::W,
            imm: 6,
        },
        mov64(0, 7),
        Insn::Exit,
    ];
    assert_eq!(run(&insns), Ok(0));
    // The offset is a 32-bit int: 2^32 + 1 wraps to 1.
    let wrap = [
        ctx_in_r6(),
        common::lddw(7, (1u64 << 32) + 1),
        Insn::LdInd {
            size: Size::B,
            src: reg(7),
            imm: 0,
        },
        Insn::Exit,
    ];
    assert_eq!(run(&wrap), Ok(0x22));
}

#[test]
fn out_of_packet_load_in_a_subprogram_returns_zero_from_it() {
    let insns = [
        ctx_in_r6(),
        Insn::Call(CallTarget::Local(2)),
        alu64(AluOp::Add, 0, imm(5)),
        Insn::Exit,
        // Subprogram: a load past the end, then code that must not run.
        Insn::LdAbs {
            size: Size::B,
            imm: 100,
        },
        mov64(0, 1000),
        Insn::Exit,
    ];
    assert_eq!(run(&insns), Ok(5));
}

#[test]
fn without_a_loader_packet_loads_fault_when_reached() {
    let insns = [
        ctx_in_r6(),
        Insn::LdAbs {
            size: Size::B,
            imm: 0,
        },
        Insn::Exit,
    ];
    let prog = Program::prepare(&locate(&insns), &PrepareOptions::default()).expect("prepares");
    let mut mem = packet();
    assert!(matches!(
        Vm::new().run(&prog, Input::mem(&mut mem)),
        Err(Fault::Unsupported { slot: 1, .. })
    ));
}
