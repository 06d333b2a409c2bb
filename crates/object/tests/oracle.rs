//! Compares `Object::inspect()` with what libbpf itself decides for every fixture: program
//! types, expected attach types and map definitions, through a small C program linked with
//! the system libbpf (`tests/oracle/libbpf_oracle.c`). Skips loudly when gcc, libbpf-dev or
//! clang-19 is missing.
//!
//! Known, checked differences: the installed libbpf may be older than the table Lull follows
//! (Linux 6.18's libbpf); sections it does not know must be exactly the newer patterns listed
//! in `NEWER_THAN_LIBBPF_1_1`. libbpf ≥ 1.0 refuses legacy `maps` sections, which Lull accepts.
//! Sleepable flags are not compared: libbpf only sets `BPF_F_SLEEPABLE` at load time.

mod common;

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// Section patterns added to libbpf after 1.1 (the Debian 12 libbpf-dev).
const NEWER_THAN_LIBBPF_1_1: &[&str] = &[
    "uprobe.multi+",
    "uretprobe.multi+",
    "uprobe.multi.s+",
    "uretprobe.multi.s+",
    "usdt.s+",
    "kprobe.session+",
    "uprobe.session+",
    "uprobe.session.s+",
    "tcx/ingress",
    "tcx/egress",
    "netkit/primary",
    "netkit/peer",
    "cgroup/connect_unix",
    "cgroup/sendmsg_unix",
    "cgroup/recvmsg_unix",
    "cgroup/getpeername_unix",
    "cgroup/getsockname_unix",
    "struct_ops.s+",
];

fn build_oracle() -> Option<PathBuf> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/libbpf_oracle.c");
    let out = common::out_dir().join("libbpf_oracle");
    let o = Command::new("gcc")
        .args(["-O1", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-lbpf")
        .output();
    match o {
        Ok(o) if o.status.success() => Some(out),
        Ok(o) => {
            eprintln!(
                "\n*** SKIPPED: cannot build the libbpf oracle (libbpf-dev missing?):\n{} ***\n",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            eprintln!("\n*** SKIPPED: gcc not available ({e}) ***\n");
            None
        }
    }
}

#[test]
fn inspect_agrees_with_libbpf() {
    let Some(oracle) = build_oracle() else {
        return;
    };
    let mut compared_progs = 0;
    let mut compared_maps = 0;
    for name in common::all_fixtures() {
        let Some(path) = common::compile(&name) else {
            return;
        };
        let out = Command::new(&oracle)
            .arg(&path)
            .output()
            .expect("run oracle");
        if out.status.code() == Some(3) {
            // libbpf v1 refuses legacy maps; the installed libbpf 1.1 predates arena maps.
            assert!(
                name == "legacy_maps" || name == "arena",
                "libbpf refused {name}"
            );
            eprintln!("note: the installed libbpf refuses {name}; Lull accepts it");
            continue;
        }
        assert!(out.status.success(), "oracle failed on {name}");
        let lib: Value = serde_json::from_slice(&out.stdout).expect("oracle JSON");
        let k = lull_object::Kconfig::parse("CONFIG_HZ=250\nCONFIG_BPF_SYSCALL=y\n");
        let opts = lull_object::ParseOptions {
            kconfig: Some(&k),
            ..Default::default()
        };
        let obj = lull_object::Object::open(&path, &opts).expect("lull parses fixture");
        let ours = obj.inspect();

        let lprogs = lib["programs"].as_array().unwrap();
        assert_eq!(lprogs.len(), ours.programs.len(), "{name}: program count");
        for (l, (o, p)) in lprogs.iter().zip(ours.programs.iter().zip(&obj.programs)) {
            assert_eq!(l["name"], o.name.as_str(), "{name}: program order");
            assert_eq!(l["section"], o.section.as_str(), "{name}/{}", o.name);
            let lt = l["type"].as_u64().unwrap() as u32;
            let le = l["expected_attach_type"].as_u64().unwrap() as u32;
            if lt == 0 && p.prog_type.to_u32() != 0 {
                let pat = p.section_info.as_ref().unwrap().def.pattern;
                assert!(
                    NEWER_THAN_LIBBPF_1_1.contains(&pat),
                    "{name}/{}: libbpf does not know section '{}' but Lull does ({pat})",
                    o.name,
                    o.section
                );
                eprintln!("note: installed libbpf predates section '{}'", o.section);
                continue;
            }
            assert_eq!(lt, p.prog_type.to_u32(), "{name}/{}: type", o.name);
            let ours_eat = p.expected_attach_type.map_or(0, |a| a.to_u32());
            assert_eq!(le, ours_eat, "{name}/{}: expected attach type", o.name);
            compared_progs += 1;
        }

        let lmaps = lib["maps"].as_array().unwrap();
        assert_eq!(lmaps.len(), ours.maps.len(), "{name}: map count");
        for (l, (o, m)) in lmaps.iter().zip(ours.maps.iter().zip(&obj.maps)) {
            assert_eq!(l["name"], o.name.as_str(), "{name}: map order");
            assert_eq!(l["type"], m.map_type.to_u32(), "{name}/{}", o.name);
            assert_eq!(l["key_size"], o.key_size, "{name}/{}", o.name);
            assert_eq!(l["value_size"], o.value_size, "{name}/{}", o.name);
            assert_eq!(l["max_entries"], o.max_entries, "{name}/{}", o.name);
            assert_eq!(l["flags"], o.flags, "{name}/{}", o.name);
            compared_maps += 1;
        }
    }
    eprintln!("compared {compared_progs} programs and {compared_maps} maps with libbpf");
    assert!(compared_progs > 50, "too few programs compared");
}
