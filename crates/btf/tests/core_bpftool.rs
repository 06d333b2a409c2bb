//! Differential test of CO-RE resolution against libbpf itself: `bpftool -d prog loadall`
//! prints libbpf's decision for every relocation ("patched insn #N (...) imm A -> B" or
//! "substituting insn #N w/ invalid insn"); our resolver + patcher must produce the same
//! instruction values for each fixture. Needs root, bpftool, clang-19 and vmlinux BTF;
//! skips with a message otherwise.

mod common;

use std::collections::HashMap;
use std::process::Command;

use lull_btf::core::{CoreResolver, PatchOutcome, patch_insn};
use lull_btf::ext::BtfExt;
use lull_btf::{Btf, VMLINUX_PATH};
use lull_isa::RawInsn;

/// libbpf's verdict for one instruction: `Some(new value)` or `None` for poison.
type Verdicts = HashMap<(String, usize), Option<u64>>;
/// libbpf's spec descriptions per (program, relo #): local spec and first matching candidate.
type Specs = HashMap<(String, usize), (String, Option<String>)>;

fn libbpf_verdicts(obj: &std::path::Path) -> Option<(Verdicts, Specs)> {
    let stem = obj.file_stem().and_then(|s| s.to_str()).unwrap_or("obj");
    let pin = format!("/sys/fs/bpf/lull_btf_test_{}_{stem}", std::process::id());
    let out = Command::new("bpftool")
        .args(["-d", "prog", "loadall"])
        .arg(obj)
        .arg(&pin)
        .output()
        .ok()?;
    let _ = Command::new("rm").args(["-rf", &pin]).status();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut v = Verdicts::new();
    let mut specs = Specs::new();
    for line in log.lines() {
        let Some(rest) = line.strip_prefix("libbpf: prog '") else {
            continue;
        };
        let Some((prog, rest)) = rest.split_once("': relo #") else {
            continue;
        };
        let (num, what) = rest.split_once(": ").unwrap();
        let key = (prog.to_string(), num.parse::<usize>().unwrap());
        if what.starts_with('<') {
            specs.entry(key).or_insert((what.to_string(), None));
        } else if let Some(m) = what.strip_prefix("matching candidate #") {
            let cand = m.split_once(' ').unwrap().1.to_string();
            let e = specs.get_mut(&key).unwrap();
            e.1.get_or_insert(cand);
        }
        let insn_of = |s: &str| -> usize {
            s.split("insn #")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        if rest.contains("substituting insn #") {
            v.insert((prog.to_string(), insn_of(rest)), None);
        } else if rest.contains("patched insn #") && !rest.contains("mem_sz") {
            let new: u64 = rest.rsplit("-> ").next().unwrap().trim().parse().unwrap();
            v.insert((prog.to_string(), insn_of(rest)), Some(new));
        }
    }
    (!v.is_empty()).then_some((v, specs))
}

fn check_fixture(name: &str, secs: &[&str]) {
    if !std::path::Path::new(VMLINUX_PATH).exists() {
        eprintln!("skipping: no {VMLINUX_PATH}");
        return;
    }
    let Some(c) = common::compile(name, secs) else {
        return;
    };
    // Recompile to an object file for bpftool (common::compile removes its scratch dir).
    let dir = std::env::temp_dir().join(format!(
        "lull-btf-oracle-{}-{}",
        std::process::id(),
        name.replace('.', "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join(name.replace(".c", ".o"));
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let st = Command::new("clang-19")
        .args([
            "-target",
            "bpf",
            "-g",
            "-O2",
            "-c",
            "-I/usr/include/x86_64-linux-gnu",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .status()
        .unwrap();
    assert!(st.success());
    let Some((verdicts, specs)) = libbpf_verdicts(&obj) else {
        eprintln!("skipping: bpftool -d prog loadall gave no CO-RE log (not root?)");
        return;
    };
    let _ = std::fs::remove_dir_all(&dir);

    let local = Btf::parse(&c.btf).unwrap();
    let ext = BtfExt::parse(&c.ext, &local).unwrap();
    let vml = Btf::vmlinux().unwrap();
    let mut resolver = CoreResolver::new(&local, &vml);
    let mut compared = 0;
    for (sec, prog) in secs.iter().zip(&c.progs) {
        let fname = local.name_of(ext.func_info[*sec][0].type_id).to_string();
        let mut insns = RawInsn::slice_from_bytes(prog).unwrap();
        for (k, relo) in ext.core_relos[*sec].iter().enumerate() {
            let idx = relo.insn_idx();
            let res = resolver.resolve(relo).unwrap();
            let (lspec, tspec) = &specs[&(fname.clone(), k)];
            assert_eq!(&res.local_spec, lspec, "local spec of relo #{k}");
            if res.outcome != lull_btf::core::CoreOutcome::Poison
                && relo.kind != lull_btf::core::CoreReloKind::TypeIdLocal
                && !res.fail_memsz_adjust
                && tspec.is_some()
            {
                assert_eq!(&res.target_spec, tspec, "target spec of relo #{k}");
            }
            let outcome = patch_insn(&mut insns, idx, &res).unwrap();
            let Some(expected) = verdicts.get(&(fname.clone(), idx)) else {
                // TYPE_ID_LOCAL and unchanged values are still logged by libbpf; a missing
                // line means the log format changed.
                panic!("no libbpf verdict for {fname} insn #{idx} ({relo:?})");
            };
            let got = match outcome {
                PatchOutcome::Poisoned => None,
                PatchOutcome::Patched => {
                    let i = insns[idx];
                    Some(match i.code & 7 {
                        1..=3 => i.off as u64,
                        0 => i.imm as u32 as u64 | (insns[idx + 1].imm as u32 as u64) << 32,
                        _ => i.imm as u32 as u64,
                    })
                }
            };
            assert_eq!(
                &got, expected,
                "{name} {fname} insn #{idx}: {relo:?} -> {res:?}"
            );
            compared += 1;
        }
    }
    eprintln!("{name}: {compared} relocations agree with libbpf");
    assert!(compared > 0);
}

#[test]
fn core_fixture_agrees_with_libbpf() {
    check_fixture("core.c", &["kprobe/do_nanosleep", "tp_btf/sched_switch"]);
}

#[test]
fn core_more_fixture_agrees_with_libbpf() {
    check_fixture("core_more.c", &["kprobe/more"]);
}
