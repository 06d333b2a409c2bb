//! Shared helpers for tests that compile C fixtures with clang-19 and extract ELF sections
//! with llvm-objcopy-19. Both are optional: callers skip (printing why) when they are missing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Raw sections of one compiled fixture.
pub struct Compiled {
    pub btf: Vec<u8>,
    pub ext: Vec<u8>,
    /// The program sections named in `compile`'s `prog_secs`, in that order.
    pub progs: Vec<Vec<u8>>,
    pub source: String,
}

fn tool_ok(name: &str) -> bool {
    Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Compiles `tests/fixtures/<name>` and dumps `.BTF`, `.BTF.ext` and the `prog_secs`.
pub fn compile(name: &str, prog_secs: &[&str]) -> Option<Compiled> {
    if !tool_ok("clang-19") || !tool_ok("llvm-objcopy-19") {
        eprintln!("skipping: clang-19 or llvm-objcopy-19 not installed");
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let dir = std::env::temp_dir().join(format!(
        "lull-btf-{}-{}",
        std::process::id(),
        name.replace('.', "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("out.o");
    let out = Command::new("clang-19")
        .args(["-target", "bpf", "-g", "-O2", "-c"])
        .arg("-I/usr/include/x86_64-linux-gnu")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "clang failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = |sec: &str, file: &str| -> PathBuf {
        let p = dir.join(file);
        let st = Command::new("llvm-objcopy-19")
            .arg(format!("--dump-section={sec}={}", p.display()))
            .arg(&obj)
            .arg(dir.join("scratch.o"))
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "objcopy {sec}: {}",
            String::from_utf8_lossy(&st.stderr)
        );
        p
    };
    let btf = std::fs::read(dump(".BTF", "btf.bin")).unwrap();
    let ext = std::fs::read(dump(".BTF.ext", "ext.bin")).unwrap();
    let progs = prog_secs
        .iter()
        .enumerate()
        .map(|(i, sec)| std::fs::read(dump(sec, &format!("prog{i}.bin"))).unwrap())
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    Some(Compiled {
        btf,
        ext,
        progs,
        source: std::fs::read_to_string(&src).unwrap(),
    })
}
