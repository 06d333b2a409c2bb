//! CO-RE end to end: relocations emitted by clang-19 for `fixtures/core.c` are resolved
//! against the running kernel's BTF and applied to the compiled instructions. Expected values
//! are computed independently from vmlinux with plain member/size/enum lookups (themselves
//! cross-checked against bpftool in `vmlinux.rs`). Skips when clang or vmlinux BTF is missing.

mod common;

use lull_btf::core::{
    CoreOutcome, CoreReloKind, CoreResolver, POISON_CALL_IMM, PatchOutcome, patch_insn,
};
use lull_btf::ext::BtfExt;
use lull_btf::{Btf, Kind, VMLINUX_PATH};
use lull_isa::RawInsn;

fn member_off(v: &Btf, s: &str, m: &str) -> u64 {
    let id = v.find_by_name(s, Some(Kind::Struct)).unwrap();
    (v.find_member(id, m).unwrap().unwrap().bit_offset / 8) as u64
}

fn enum_val(v: &Btf, e: &str, name: &str) -> u64 {
    let id = v.find_by_name(e, Some(Kind::Enum)).unwrap();
    let en = v.type_by_id(id).unwrap().as_enum().unwrap().clone();
    en.values
        .iter()
        .find(|x| v.str_at(x.name_off).unwrap() == name)
        .unwrap()
        .value
}

#[test]
fn fixture_relocations_against_vmlinux() {
    if !std::path::Path::new(VMLINUX_PATH).exists() {
        eprintln!("skipping: no {VMLINUX_PATH}");
        return;
    }
    let Some(c) = common::compile("core.c", &["kprobe/do_nanosleep", "tp_btf/sched_switch"]) else {
        return;
    };
    let local = Btf::parse(&c.btf).unwrap();
    let ext = BtfExt::parse(&c.ext, &local).unwrap();
    let vml = Btf::vmlinux().unwrap();
    let task = vml.find_by_name("task_struct", Some(Kind::Struct)).unwrap();
    let has_old_state = vml.member_by_name(task, "state").unwrap().is_some();

    let mut resolver = CoreResolver::new(&local, &vml);
    let mut seen = 0;
    for (sec, prog) in [
        ("kprobe/do_nanosleep", &c.progs[0]),
        ("tp_btf/sched_switch", &c.progs[1]),
    ] {
        let mut insns = RawInsn::slice_from_bytes(prog).unwrap();
        for relo in &ext.core_relos[sec] {
            let res = resolver.resolve(relo).unwrap();
            let root = local.name_of(relo.type_id).to_string();
            let field = |i: usize| -> String {
                // Name of the field the access string ends at (single-level accesses here).
                let idx: usize = relo.access.split(':').nth(i).unwrap().parse().unwrap();
                let (_, t) = local.composite(relo.type_id).unwrap();
                local.member_name(&t.members()[idx]).to_string()
            };
            let expected: CoreOutcome = match (relo.kind, root.as_str()) {
                (CoreReloKind::FieldByteOffset, "task_struct") => {
                    CoreOutcome::Value(member_off(&vml, "task_struct", &field(1)))
                }
                (CoreReloKind::FieldByteOffset, "task_struct___old") => {
                    if has_old_state {
                        CoreOutcome::Value(member_off(&vml, "task_struct", "state"))
                    } else {
                        CoreOutcome::Poison
                    }
                }
                (CoreReloKind::FieldExists, "task_struct___old") => {
                    CoreOutcome::Value(u64::from(has_old_state))
                }
                (CoreReloKind::FieldByteSize, "task_struct") => {
                    let (_, m) = vml.member_by_name(task, &field(1)).unwrap().unwrap();
                    CoreOutcome::Value(vml.resolve_size(m.type_id).unwrap() as u64)
                }
                (CoreReloKind::TypeSize, "sk_buff") => CoreOutcome::Value(
                    vml.resolve_size(vml.find_by_name("sk_buff", Some(Kind::Struct)).unwrap())
                        .unwrap() as u64,
                ),
                (CoreReloKind::EnumvalValue, "pid_type") => {
                    CoreOutcome::Value(enum_val(&vml, "pid_type", "PIDTYPE_SID"))
                }
                (CoreReloKind::EnumvalExists, "pid_type") => CoreOutcome::Value(1),
                (CoreReloKind::TypeExists, "lull_not_in_kernel") => CoreOutcome::Value(0),
                (CoreReloKind::TypeIdTarget, "task_struct") => CoreOutcome::Value(task as u64),
                other => panic!("unexpected relocation {other:?} {relo:?}"),
            };
            assert_eq!(res.outcome, expected, "{sec} {relo:?}");
            seen += 1;

            let idx = relo.insn_idx();
            let before = insns[idx];
            let outcome = patch_insn(&mut insns, idx, &res).unwrap();
            let after = insns[idx];
            match expected {
                CoreOutcome::Poison => {
                    assert_eq!(outcome, PatchOutcome::Poisoned);
                    assert_eq!((after.code, after.imm), (0x85, POISON_CALL_IMM));
                }
                CoreOutcome::Value(v) => {
                    assert_eq!(outcome, PatchOutcome::Patched);
                    match before.code & 7 {
                        1 => {
                            assert_eq!(after.off as u64, v);
                            assert_eq!(
                                after.code, before.code,
                                "size unchanged for same-size fields"
                            );
                        }
                        4 | 7 => assert_eq!(after.imm as u32 as u64, v),
                        0 => {
                            let next = insns[idx + 1];
                            assert_eq!(after.imm as u32 as u64 | (next.imm as u32 as u64) << 32, v);
                        }
                        k => panic!("unexpected insn class {k}"),
                    }
                }
            }
        }
    }
    assert_eq!(seen, ext.core_relos.values().map(Vec::len).sum::<usize>());
    assert!(
        seen >= 14,
        "fixture has at least 14 relocations, saw {seen}"
    );
}
