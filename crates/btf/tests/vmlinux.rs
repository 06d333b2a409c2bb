//! Parses the running kernel's BTF (`/sys/kernel/btf/vmlinux`) and checks facts about it
//! against `bpftool`'s independent dump when available. Skips (with a message) when the
//! file is missing.

use std::process::Command;
use std::time::Instant;

use lull_btf::{Btf, Kind, TypeKind, VMLINUX_PATH};

fn vmlinux() -> Option<Btf> {
    if !std::path::Path::new(VMLINUX_PATH).exists() {
        eprintln!("skipping: {VMLINUX_PATH} not present");
        return None;
    }
    Some(Btf::vmlinux().expect("vmlinux BTF parses"))
}

#[test]
fn vmlinux_known_types() {
    let Some(btf) = vmlinux() else { return };
    assert!(btf.len() > 10_000, "vmlinux has many types: {}", btf.len());
    let task = btf
        .find_by_name("task_struct", Some(Kind::Struct))
        .expect("struct task_struct");
    assert!(btf.resolve_size(task).unwrap() > 1000);
    let (pid_idx, pid) = btf
        .member_by_name(task, "pid")
        .unwrap()
        .expect("task_struct.pid");
    assert_eq!(btf.format_type(pid.type_id), "pid_t");
    assert_eq!(btf.resolve_size(pid.type_id).unwrap(), 4);
    assert!(pid_idx > 0);
    let comm = btf.member_by_name(task, "comm").unwrap().unwrap().1;
    assert_eq!(btf.format_decl(comm.type_id, "comm"), "char comm[16]");

    let skb = btf.find_by_name("sk_buff", Some(Kind::Struct)).unwrap();
    let len = btf.find_member(skb, "len").unwrap().expect("sk_buff.len");
    assert_eq!(len.bit_offset % 8, 0);
    assert_eq!(btf.format_type(len.member.type_id), "unsigned int");

    let f = btf
        .find_by_name("bpf_lsm_file_open", Some(Kind::Func))
        .expect("FUNC bpf_lsm_file_open");
    let TypeKind::Func { proto, .. } = btf.type_by_id(f).unwrap().kind else {
        panic!("not a FUNC")
    };
    let p = btf.type_by_id(proto).unwrap().as_func_proto().unwrap();
    assert_eq!(btf.func_proto(f).unwrap().0, proto);
    assert_eq!(p.params.len(), 1);
    // tp_btf programs see a tracepoint through the `btf_trace_<tp>` typedef (a pointer to a
    // prototype whose first parameter is the `void *` data cookie).
    let tp = btf
        .find_by_name("btf_trace_sched_switch", Some(Kind::Typedef))
        .unwrap();
    let (_, tpp) = btf.func_proto(tp).unwrap();
    assert_eq!(btf.format_type(tpp.params[0].type_id), "void *");
    assert_eq!(
        btf.format_type(tpp.params[2].type_id),
        "struct task_struct *"
    );
    assert!(btf.func_proto(task).is_err());
    assert_eq!(btf.format_type(p.params[0].type_id), "struct file *");
    assert_eq!(btf.format_type(p.ret_type), "int");

    // The essential-name index finds flavor-free names and the exact-name index agrees with a
    // linear scan.
    let scan: Vec<u32> = btf
        .types()
        .filter(|(_, t)| btf.name(t) == "file")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(btf.find_all_by_name("file", None), scan);
}

/// Compares `sk_buff.len`'s offset and `task_struct`'s size with `bpftool btf dump`.
#[test]
fn vmlinux_matches_bpftool() {
    let Some(btf) = vmlinux() else { return };
    let out = match Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX_PATH, "format", "raw"])
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => {
            eprintln!("skipping: bpftool not usable");
            return;
        }
    };
    // "[1234] STRUCT 'sk_buff' size=232 vlen=..." followed by "\t'len' type_id=N bits_offset=B".
    let mut lines = out.lines();
    let mut checked = 0;
    while let Some(l) = lines.next() {
        for (name, member) in [("sk_buff", "len"), ("task_struct", "pid")] {
            let head = format!("STRUCT '{name}' size=");
            if !l.contains(&head) {
                continue;
            }
            let id: u32 = l[1..l.find(']').unwrap()].parse().unwrap();
            let size: u32 = l
                .split("size=")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(btf.resolve_size(id).unwrap(), size);
            assert_eq!(btf.name_of(id), name);
            let vlen: usize = l.split("vlen=").nth(1).unwrap().trim().parse().unwrap();
            for m in lines.by_ref().take(vlen) {
                if m.trim_start().starts_with(&format!("'{member}' ")) {
                    let bits: u32 = m
                        .split("bits_offset=")
                        .nth(1)
                        .unwrap()
                        .split(' ')
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    let (_, mem) = btf.member_by_name(id, member).unwrap().unwrap();
                    assert_eq!(mem.bit_offset, bits, "{name}.{member}");
                    checked += 1;
                }
            }
            break;
        }
    }
    assert!(
        checked >= 2,
        "found sk_buff.len and task_struct.pid in bpftool output"
    );
}

/// Parse time of the whole vmlinux BTF; asserted loosely (debug builds are slower), printed
/// for the record. Run with `--release -- --nocapture` for the real number.
#[test]
fn vmlinux_parse_time() {
    if !std::path::Path::new(VMLINUX_PATH).exists() {
        return;
    }
    let data = std::fs::read(VMLINUX_PATH).unwrap();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let btf = Btf::parse(&data).unwrap();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
        assert!(btf.len() > 1);
    }
    eprintln!(
        "vmlinux BTF ({} bytes) parse: best {best:.1} ms",
        data.len()
    );
    assert!(best < 2000.0);
}

/// Every type of vmlinux can be formatted and sized (or refuses cleanly) without panicking.
#[test]
fn vmlinux_all_types_queryable() {
    let Some(btf) = vmlinux() else { return };
    let mut sized = 0;
    for (id, _) in btf.types() {
        let _ = btf.format_type(id);
        if btf.resolve_size(id).is_ok() {
            sized += 1;
        }
    }
    assert!(sized > 1000);
}

/// Differential test of the whole parser: every vmlinux type, dumped in bpftool's raw
/// format, must equal bpftool's own dump line for line.
#[test]
fn vmlinux_dump_equals_bpftool() {
    let Some(btf) = vmlinux() else { return };
    let out = match Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX_PATH, "format", "raw"])
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => {
            eprintln!("skipping: bpftool not usable");
            return;
        }
    };
    let mut ours = String::with_capacity(out.len());
    for (id, _) in btf.types() {
        ours.push_str(&btf.dump_raw(id));
        ours.push('\n');
    }
    let mut n = 0;
    for (i, (a, b)) in ours.lines().zip(out.lines()).enumerate() {
        assert_eq!(a, b, "line {i} differs");
        n += 1;
    }
    assert_eq!(ours.lines().count(), out.lines().count());
    eprintln!("{n} lines identical to bpftool");
}

/// `struct sock` begins with `struct sock_common` (`__sk_common`), so a `sock *` is accepted
/// where a `sock_common *` is needed, but not strictly and not the other way round.
#[test]
fn vmlinux_struct_ids_match() {
    let Some(btf) = vmlinux() else { return };
    let sock = btf.find_by_name("sock", Some(Kind::Struct)).unwrap();
    let common = btf.find_by_name("sock_common", Some(Kind::Struct)).unwrap();
    let first = btf.type_by_id(sock).unwrap().members()[0];
    assert_eq!(first.bit_offset, 0);
    assert_eq!(btf.skip_mods_and_typedefs(first.type_id).unwrap().0, common);
    assert_eq!(btf.struct_ids_match(sock, 0, common, false, true), Ok(true));
    assert_eq!(btf.struct_ids_match(sock, 0, common, true, true), Ok(false));
    assert_eq!(
        btf.struct_ids_match(common, 0, sock, false, true),
        Ok(false)
    );
    assert_eq!(btf.struct_ids_match(sock, 0, sock, true, true), Ok(true));
}
