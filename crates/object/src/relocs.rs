//! Applying recorded relocations to a linked stream: map references, global-data addresses,
//! externs (kconfig values, ksyms, kfuncs) and the bookkeeping of subprogram calls.
//!
//! Encoding chosen for maps (documented contract with the verifier and runtime): a map
//! reference is `ld_imm64 src=BPF_PSEUDO_MAP_FD, imm=<index in Object::maps>`; an address in
//! a global-data map is `ld_imm64 src=BPF_PSEUDO_MAP_VALUE, imm=<map index>,
//! next_imm=<offset>`. This is the same convention as `lull verify --raw --map`.

use lull_isa::LdImm64Kind;

use crate::externs::{Extern, ExternKind};
use crate::link::{Func, Linked, Target};
use crate::program::{AppliedReloc, Program, RelocKind};

const PSEUDO_KFUNC_CALL: u8 = 2;
const LD_IMM64: u8 = 0x18;

fn set_src(insn: &mut lull_isa::RawInsn, src: u8) {
    insn.regs = (insn.regs & 0x0f) | (src << 4);
}

/// Patches `prog.insns` and fills `prog.relocations` / `prog.load_errors`.
pub(crate) fn apply(
    prog: &mut Program,
    linked: &Linked,
    funcs: &[Func],
    externs: &[Extern],
    kconfig_map: Option<usize>,
) {
    for &(slot, callee, is_call) in &linked.calls {
        let target = funcs[callee].name.clone();
        prog.relocations.push(AppliedReloc {
            slot,
            kind: if is_call {
                RelocKind::Call { target }
            } else {
                RelocKind::FuncAddr { target }
            },
        });
    }
    for r in &linked.relocs {
        let s = r.slot;
        let kind = match r.target {
            Target::Map(map) => {
                set_src(&mut prog.insns[s], LdImm64Kind::MapFd.src());
                prog.insns[s].imm = map as i32;
                prog.insns[s + 1].imm = 0;
                RelocKind::Map { map }
            }
            Target::Data { map, sym_off } => {
                let offset = (i64::from(prog.insns[s].imm) + sym_off as i64) as u32;
                set_src(&mut prog.insns[s], LdImm64Kind::MapValue.src());
                prog.insns[s].imm = map as i32;
                prog.insns[s + 1].imm = offset as i32;
                RelocKind::MapValue { map, offset }
            }
            Target::Extern(ei) => {
                let e = &externs[ei];
                if let Some(msg) = &e.error {
                    prog.load_errors
                        .push(format!("extern '{}' is unresolved: {msg}", e.name));
                }
                let name = e.name.clone();
                match e.kind {
                    ExternKind::Kconfig { offset, .. } => {
                        if let Some(m) = kconfig_map {
                            set_src(&mut prog.insns[s], LdImm64Kind::MapValue.src());
                            prog.insns[s].imm = m as i32;
                            prog.insns[s + 1].imm = offset as i32;
                        }
                        RelocKind::Kconfig { name }
                    }
                    ExternKind::Ksym { .. } | ExternKind::Kfunc
                        if prog.insns[s].code == LD_IMM64 =>
                    {
                        let id = e.btf_id.unwrap_or(0);
                        if e.btf_id.is_some() {
                            set_src(&mut prog.insns[s], LdImm64Kind::BtfId.src());
                        }
                        prog.insns[s].imm = id as i32;
                        prog.insns[s + 1].imm = 0;
                        RelocKind::Ksym { name, btf_id: id }
                    }
                    ExternKind::Ksym { .. } | ExternKind::Kfunc => {
                        let id = e.btf_id.unwrap_or(0);
                        set_src(&mut prog.insns[s], PSEUDO_KFUNC_CALL);
                        prog.insns[s].imm = id as i32;
                        prog.insns[s].off = 0;
                        RelocKind::Kfunc { name, btf_id: id }
                    }
                }
            }
            Target::Call { .. } | Target::FuncAddr { .. } => continue,
        };
        prog.relocations.push(AppliedReloc { slot: s, kind });
    }
    prog.relocations.sort_by_key(|r| r.slot);
}
