//! Rewriting one instruction with a [`CoreResolution`], following libbpf's
//! `bpf_core_patch_insn`: ALU/ALU64 with an immediate get a new `imm`, LDX/ST/STX a new `off`
//! (and a new access size when the field size changed compatibly), `lddw` a new 64-bit
//! immediate. The current value is checked against the local value when `validate` is set.
//! Poisoned relocations turn the instruction (both slots for `lddw`) into `call 0xbad2310`.

use lull_isa::RawInsn;
use lull_isa::opcode::{
    BPF_ALU, BPF_ALU64, BPF_B, BPF_DW, BPF_H, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, BPF_W, BPF_X, CALL,
    LDDW,
};

use super::{CoreError, CoreOutcome, CoreResolution};

/// Immediate of the poison call (`0xbad2310`, "bad relo"); the kernel verifier reports
/// `invalid func unknown#195896080` when it is reachable.
pub const POISON_CALL_IMM: i32 = 0x0bad_2310;

/// `BPF_SIZE` bits of an opcode.
const SIZE_MASK: u8 = 0x18;
/// `BPF_CLASS` bits of an opcode.
const CLASS_MASK: u8 = 0x07;
/// `BPF_MODE` bits of an opcode.
const MODE_MASK: u8 = 0xe0;

/// What [`patch_insn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOutcome {
    /// The instruction now carries the new value.
    Patched,
    /// The instruction was replaced by the poison call: no target matched, or (for LDX/ST/STX)
    /// the field changed size in a way a load/store cannot follow.
    Poisoned,
}

fn err(insn_idx: usize, reason: String) -> CoreError {
    CoreError::Patch { insn_idx, reason }
}

fn poison(insn: &mut RawInsn) {
    *insn = RawInsn::new(CALL, 0, 0, 0, POISON_CALL_IMM);
}

fn poison_at(insns: &mut [RawInsn], idx: usize) -> PatchOutcome {
    if insns[idx].code == LDDW
        && let Some(next) = insns.get_mut(idx + 1)
    {
        poison(next);
    }
    poison(&mut insns[idx]);
    PatchOutcome::Poisoned
}

fn size_bytes(code: u8) -> u32 {
    match code & SIZE_MASK {
        BPF_DW => 8,
        BPF_W => 4,
        BPF_H => 2,
        _ => 1,
    }
}

fn size_bits(bytes: u32) -> Option<u8> {
    Some(match bytes {
        8 => BPF_DW,
        4 => BPF_W,
        2 => BPF_H,
        1 => BPF_B,
        _ => return None,
    })
}

/// Applies `res` to instruction `idx` of `insns` (slot index; `lddw` uses `idx` and `idx + 1`).
pub fn patch_insn(
    insns: &mut [RawInsn],
    idx: usize,
    res: &CoreResolution,
) -> Result<PatchOutcome, CoreError> {
    let Some(&insn) = insns.get(idx) else {
        return Err(err(
            idx,
            format!("instruction index out of range ({} insns)", insns.len()),
        ));
    };
    let new_val = match res.outcome {
        CoreOutcome::Poison => return Ok(poison_at(insns, idx)),
        CoreOutcome::Value(v) => v,
    };
    let orig_val = res.orig_value;
    match insn.code & CLASS_MASK {
        BPF_ALU | BPF_ALU64 => {
            if insn.code & BPF_X != 0 {
                return Err(err(idx, "(ALU/ALU64) has a register source operand".into()));
            }
            if res.validate && insn.imm as i64 as u64 != orig_val {
                return Err(err(
                    idx,
                    format!(
                        "unexpected insn #{idx} (ALU/ALU64) value: got {}, exp {orig_val} -> {new_val}",
                        insn.imm as u32
                    ),
                ));
            }
            insns[idx].imm = new_val as i32;
        }
        BPF_LDX | BPF_ST | BPF_STX => {
            if res.validate && insn.off as i64 as u64 != orig_val {
                return Err(err(
                    idx,
                    format!(
                        "unexpected insn #{idx} (LDX/ST/STX) value: got {}, exp {orig_val} -> {new_val}",
                        insn.off as u16 as u32
                    ),
                ));
            }
            if new_val > i16::MAX as u64 {
                return Err(err(
                    idx,
                    format!("insn #{idx} (LDX/ST/STX) value too big: {new_val}"),
                ));
            }
            if res.fail_memsz_adjust {
                return Ok(poison_at(insns, idx));
            }
            insns[idx].off = new_val as i16;
            if res.new_size != res.orig_size {
                let have = size_bytes(insn.code);
                if have != res.orig_size {
                    return Err(err(
                        idx,
                        format!(
                            "insn #{idx} (LDX/ST/STX) unexpected mem size: got {have}, exp {}",
                            res.orig_size
                        ),
                    ));
                }
                let Some(bits) = size_bits(res.new_size) else {
                    return Err(err(
                        idx,
                        format!(
                            "insn #{idx} (LDX/ST/STX) invalid new mem size: {}",
                            res.new_size
                        ),
                    ));
                };
                insns[idx].code = (insn.code & MODE_MASK) | bits | (insn.code & CLASS_MASK);
            }
        }
        BPF_LD => {
            let next = insns.get(idx + 1).copied();
            let ok = insn.code == LDDW
                && insn.src() == 0
                && insn.off == 0
                && next.is_some_and(|n| n.code == 0 && n.dst() == 0 && n.src() == 0 && n.off == 0);
            let Some(next) = next.filter(|_| ok) else {
                return Err(err(
                    idx,
                    format!("insn #{idx} (LDIMM64) has unexpected form"),
                ));
            };
            let imm = insn.imm as u32 as u64 | (next.imm as u32 as u64) << 32;
            if res.validate && imm != orig_val {
                return Err(err(
                    idx,
                    format!(
                        "unexpected insn #{idx} (LDIMM64) value: got {imm}, exp {orig_val} -> {new_val}"
                    ),
                ));
            }
            insns[idx].imm = new_val as i32;
            insns[idx + 1].imm = (new_val >> 32) as i32;
        }
        _ => {
            return Err(err(
                idx,
                format!(
                    "trying to relocate unrecognized insn #{idx}, code:{:#x}, src:{:#x}, dst:{:#x}, off:{:#x}, imm:{:#x}",
                    insn.code,
                    insn.src(),
                    insn.dst(),
                    insn.off,
                    insn.imm
                ),
            ));
        }
    }
    Ok(PatchOutcome::Patched)
}
