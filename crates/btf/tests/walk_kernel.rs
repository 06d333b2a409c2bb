//! `Btf::struct_access` (the kernel's `btf_struct_walk`) checked two ways on vmlinux
//! `struct task_struct`: against layout facts computed with plain member lookups, and —
//! when running as root with clang-19 and bpftool — against the live kernel verifier, by
//! loading a `tp_btf` program that performs the same access and reading its log.

use std::process::Command;

use lull_btf::{Btf, Kind, StructAccess, VMLINUX_PATH};

struct Case {
    off: u32,
    size: u32,
    /// Dereference the loaded value (distinguishes pointer from scalar results).
    deref: bool,
}

/// Loads a program reading `size` bytes at `off` from `prev` in sched_switch; returns the
/// verifier log if loading failed, `Some("")` if it loaded, `None` if the oracle is unusable.
fn kernel_verdict(c: &Case) -> Option<String> {
    let ty = match c.size {
        1 => "__u8",
        2 => "__u16",
        4 => "__u32",
        _ => "__u64",
    };
    let body = if c.deref {
        format!(
            "__u64 p = *(volatile {ty} *)(t + {}); return *(volatile __u32 *)p;",
            c.off
        )
    } else {
        format!("return *(volatile {ty} *)(t + {});", c.off)
    };
    let src = format!(
        "#include <linux/types.h>\n#include <bpf/bpf_helpers.h>\n\
         SEC(\"tp_btf/sched_switch\") int prog(__u64 *ctx) {{ void *t = (void *)ctx[1]; {body} }}\n\
         char LICENSE[] SEC(\"license\") = \"GPL\";\n"
    );
    let dir = std::env::temp_dir().join(format!(
        "lull-btf-walk-{}-{}-{}",
        std::process::id(),
        c.off,
        c.size
    ));
    std::fs::create_dir_all(&dir).ok()?;
    let (csrc, obj) = (dir.join("w.c"), dir.join("w.o"));
    std::fs::write(&csrc, src).ok()?;
    let st = Command::new("clang-19")
        .args([
            "-target",
            "bpf",
            "-g",
            "-O2",
            "-c",
            "-I/usr/include/x86_64-linux-gnu",
        ])
        .arg(&csrc)
        .arg("-o")
        .arg(&obj)
        .output()
        .ok()?;
    if !st.status.success() {
        return None;
    }
    let pin = format!(
        "/sys/fs/bpf/lull_btf_walk_{}_{}_{}",
        std::process::id(),
        c.off,
        c.size
    );
    let out = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(&obj)
        .arg(&pin)
        .output()
        .ok()?;
    let _ = Command::new("rm").args(["-rf", &pin]).status();
    let _ = std::fs::remove_dir_all(&dir);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Some(String::new())
    } else if log.contains("processed") || log.contains("R1") || log.contains("struct") {
        Some(log)
    } else {
        eprintln!("oracle unusable: {log}");
        None
    }
}

#[test]
fn task_struct_walk_matches_layout_and_kernel() {
    if !std::path::Path::new(VMLINUX_PATH).exists() {
        eprintln!("skipping: no {VMLINUX_PATH}");
        return;
    }
    let v = Btf::vmlinux().unwrap();
    let task = v.find_by_name("task_struct", Some(Kind::Struct)).unwrap();
    let off_of = |m: &str| v.find_member(task, m).unwrap().unwrap().bit_offset / 8;
    let (parent, pid, comm) = (off_of("real_parent"), off_of("pid"), off_of("comm"));
    let size = v.resolve_size(task).unwrap();
    assert_eq!(off_of("tgid"), pid + 4, "fixture assumes tgid follows pid");

    let cases = [
        (
            Case {
                off: parent,
                size: 8,
                deref: true,
            },
            None,
        ),
        (
            Case {
                off: parent + 4,
                size: 4,
                deref: false,
            },
            Some(format!(
                "cannot access ptr member real_parent with moff {parent} in struct task_struct with off {} size 4",
                parent + 4
            )),
        ),
        (
            Case {
                off: size,
                size: 8,
                deref: false,
            },
            Some(format!(
                "access beyond struct task_struct at off {size} size 8"
            )),
        ),
        (
            Case {
                off: pid,
                size: 8,
                deref: false,
            },
            Some(format!(
                "access beyond the end of member pid (mend:{}) in struct task_struct with off {pid} size 8",
                pid + 4
            )),
        ),
        (
            Case {
                off: comm + 3,
                size: 1,
                deref: false,
            },
            None,
        ),
        (
            Case {
                off: comm + 3,
                size: 1,
                deref: true,
            },
            None,
        ),
    ];
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut kernel_checked = 0;
    for (c, err) in &cases {
        let ours = v.struct_access(task, c.off, c.size, true);
        match err {
            Some(msg) => assert_eq!(
                ours.as_ref().map_err(|e| e.message.as_str()),
                Err(msg.as_str())
            ),
            None if c.off == parent => {
                let StructAccess::Ptr {
                    target,
                    field,
                    flags,
                } = ours.clone().unwrap()
                else {
                    panic!("real_parent is a pointer")
                };
                assert_eq!((target, field.as_str()), (task, "real_parent"));
                // `__rcu` is only visible when the kernel's BTF carries type tags.
                let m = v.find_member(task, "real_parent").unwrap().unwrap().member;
                let pointee = v.ptr_target(m.type_id).unwrap();
                let tagged = v.type_by_id(pointee).unwrap().kind() == Kind::TypeTag
                    && v.name_of(pointee) == "rcu";
                assert_eq!(flags.rcu, tagged);
                assert!(!flags.untrusted && !flags.user && !flags.percpu);
            }
            None => assert_eq!(ours, Ok(StructAccess::Scalar)),
        }
        if !root {
            continue;
        }
        let Some(log) = kernel_verdict(c) else {
            continue;
        };
        kernel_checked += 1;
        match (&ours, c.deref) {
            (Err(e), _) => assert!(
                log.contains(&e.message),
                "kernel log lacks {:?}:\n{log}",
                e.message
            ),
            (Ok(StructAccess::Ptr { .. }), true) => {
                assert_eq!(log, "", "kernel rejected a pointer deref")
            }
            (Ok(StructAccess::Scalar), true) => {
                assert!(log.contains("invalid mem access 'scalar'"), "{log}")
            }
            (Ok(_), false) => assert_eq!(log, "", "kernel rejected an allowed access"),
        }
    }
    eprintln!(
        "{kernel_checked}/{} accesses compared with the live verifier",
        cases.len()
    );
}
