//! Test helper: compiles the fixture C programs with clang-19 into the target directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Directory of the fixture sources.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Where compiled fixtures go: `<target dir>/bpf-fixtures`.
pub fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let d = target.join("bpf-fixtures");
    std::fs::create_dir_all(&d).expect("create fixture output dir");
    d
}

/// Whether `clang-19` is available; prints a loud message when it is not.
pub fn have_clang() -> bool {
    let ok = Command::new("clang-19")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("\n*** SKIPPED: clang-19 not found; BPF fixtures cannot be compiled ***\n");
    }
    ok
}

/// Compiles `tests/fixtures/<name>.bpf.c` and returns the object path (None when clang is
/// missing). Panics with clang's output if compilation fails.
pub fn compile(name: &str) -> Option<PathBuf> {
    if !have_clang() {
        return None;
    }
    let src = fixtures_dir().join(format!("{name}.bpf.c"));
    let out = out_dir().join(format!("{name}.bpf.o"));
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out_dir().join(format!("{name}.bpf.o.{}.{seq}", std::process::id()));
    let o = Command::new("clang-19")
        .args([
            "-target",
            "bpf",
            "-g",
            "-O2",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&tmp)
        .output()
        .expect("run clang-19");
    assert!(
        o.status.success(),
        "clang-19 failed on {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::rename(&tmp, &out).expect("move object");
    Some(out)
}

/// All fixture names.
pub fn all_fixtures() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures dir")
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".bpf.c").map(str::to_string)
        })
        .collect();
    v.sort();
    v
}
