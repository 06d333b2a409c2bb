//! Builders for test programs written as typed instructions.
#![allow(dead_code)]

use lull_interp::{Fault, Input, PrepareError, PrepareOptions, Program, Vm};
use lull_isa::{AluOp, CallTarget, Insn, JmpCond, Located, Operand, Reg, Size, Width};

/// Gives each instruction its slot.
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

pub fn prepare(insns: &[Insn]) -> Result<Program, PrepareError> {
    Program::prepare(&locate(insns), &PrepareOptions::default())
}

pub fn prepare_with(insns: &[Insn], options: &PrepareOptions) -> Result<Program, PrepareError> {
    Program::prepare(&locate(insns), options)
}

/// Prepares and runs in checked mode without input memory.
pub fn run(insns: &[Insn]) -> Result<u64, Fault> {
    let prog = prepare(insns).expect("test program prepares");
    Vm::new().run(&prog, Input::default())
}

/// Prepares and runs in checked mode with `mem` as r1/r2.
pub fn run_mem(insns: &[Insn], mem: &mut [u8]) -> Result<u64, Fault> {
    let prog = prepare(insns).expect("test program prepares");
    Vm::new().run_mem(&prog, mem)
}

pub fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register number")
}

pub fn alu64(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: reg(dst),
        src,
    }
}

pub fn alu32(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst: reg(dst),
        src,
    }
}

pub fn imm(v: i32) -> Operand {
    Operand::Imm(v)
}

pub fn r(n: u8) -> Operand {
    Operand::Reg(reg(n))
}

pub fn mov64(dst: u8, v: i32) -> Insn {
    alu64(AluOp::Mov, dst, imm(v))
}

pub fn lddw(dst: u8, v: u64) -> Insn {
    Insn::LdImm64 {
        dst: reg(dst),
        kind: lull_isa::LdImm64Kind::Imm,
        imm: v as u32 as i32,
        next_imm: (v >> 32) as u32 as i32,
    }
}

pub fn ldx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: false,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

pub fn ldxs(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: true,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

pub fn stx(size: Size, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Store {
        size,
        dst: reg(dst),
        off,
        src: r(src),
    }
}

pub fn st(size: Size, dst: u8, off: i16, v: i32) -> Insn {
    Insn::Store {
        size,
        dst: reg(dst),
        off,
        src: imm(v),
    }
}

pub fn jmp(cond: JmpCond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        cond,
        dst: reg(dst),
        src,
        off,
    }
}

pub fn jmp32(cond: JmpCond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W32,
        cond,
        dst: reg(dst),
        src,
        off,
    }
}

pub fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}

pub const EXIT: Insn = Insn::Exit;

/// Re-targets jumps and local calls to a slot inside the program (`raw mod len`), calls to the
/// registered helper, and most writes of r10 elsewhere, so that many programs prepare.
pub fn fold_targets(insns: &mut [Insn]) {
    let slots: usize = insns.iter().map(Insn::slots).sum();
    let mut slot = 0i64;
    for insn in insns.iter_mut() {
        let fold = |rel: i64| (rel.rem_euclid(slots as i64)) - slot - 1;
        match insn {
            Insn::Ja { off, long: true } => *off = fold((*off).into()) as i32,
            Insn::Ja { off, long: false } => *off = fold((*off).into()) as i32,
            Insn::Jump { off, .. } | Insn::MayGoto { off } => {
                *off = fold((*off).into()).clamp(i16::MIN.into(), i16::MAX.into()) as i16
            }
            Insn::Call(CallTarget::Local(rel)) => *rel = fold((*rel).into()) as i32,
            Insn::Call(CallTarget::Helper(id)) => *id = id.rem_euclid(3),
            Insn::Call(CallTarget::Kfunc { .. }) => *insn = Insn::Call(CallTarget::Helper(1)),
            // Writes to r10 are rejected at prepare time; aim most of them at r9 instead.
            Insn::Alu { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::Load { dst, .. }
            | Insn::LdImm64 { dst, .. }
                if *dst == Reg::R10 && slot % 4 != 0 =>
            {
                *dst = Reg::R9
            }
            Insn::Atomic { src, .. } if *src == Reg::R10 && slot % 4 != 0 => *src = Reg::R9,
            _ => {}
        }
        slot += insn.slots() as i64;
    }
}
