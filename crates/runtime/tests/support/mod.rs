//! Shared by the runtime's end-to-end tests: compiling a C program of `tests/progs` with
//! clang-19 (the tests print SKIPPED and pass vacuously when clang-19 is missing), loading
//! it, building a uprobe `pt_regs` context, and running a program that records its steps.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use lull_runtime::{LoadedObject, LoadedProgram, Runtime};

/// Size of x86-64 `struct pt_regs`.
pub const PT_REGS_SIZE: usize = 168;
/// Byte offset of `rdi` (the first argument) in `struct pt_regs`.
pub const PT_REGS_RDI: usize = 112;

/// Compiles `tests/progs/{name}.c`; `None` (after printing why) when clang-19 is missing.
pub fn compile(name: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/progs");
    let out = std::env::temp_dir().join(format!(
        "lull-runtime-{}-{}-{name}.o",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("main")
            .replace("::", "-")
    ));
    let status = Command::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(dir.join(format!("{name}.c")))
        .arg("-o")
        .arg(&out)
        .status();
    match status {
        Ok(s) if s.success() => Some(out),
        Ok(s) => panic!("clang-19 failed on {name}.c: {s}"),
        Err(e) => {
            eprintln!("SKIPPED: clang-19 not available ({e})");
            None
        }
    }
}

/// Compiles and loads `tests/progs/{name}.c` into `rt`.
pub fn load(rt: &Runtime, name: &str) -> Option<LoadedObject> {
    let path = compile(name)?;
    let object = lull_object::Object::open(&path, &Default::default()).expect("parse object");
    Some(rt.load(object).expect("load object"))
}

/// A verified program of `obj`.
pub fn program(obj: &LoadedObject, name: &str) -> Arc<LoadedProgram> {
    obj.program(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A `pt_regs` whose first argument (rdi) is `arg`.
pub fn pt_regs(arg: u64) -> Vec<u8> {
    let mut regs = vec![0u8; PT_REGS_SIZE];
    regs[PT_REGS_RDI..PT_REGS_RDI + 8].copy_from_slice(&arg.to_ne_bytes());
    regs
}

/// The u64 at index `slot` of array map `map`.
pub fn array_u64(obj: &LoadedObject, map: &str, slot: u32) -> u64 {
    let v = obj
        .map(map)
        .unwrap_or_else(|| panic!("no map {map}"))
        .lookup_copy(&slot.to_ne_bytes(), 0)
        .unwrap_or_else(|e| panic!("{map}[{slot}]: {e}"));
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

/// Runs `prog` once on packet `data` and returns the output and the first `n` entries of its
/// `res` array of i64 (where the test programs record what each step returned).
pub fn run_recording(
    obj: &LoadedObject,
    prog: &str,
    data: Vec<u8>,
    n: u32,
) -> (lull_runtime::TestRunOutput, Vec<i64>) {
    let p = obj.program(prog).unwrap_or_else(|e| panic!("{prog}: {e}"));
    let out = p
        .test_run(&lull_runtime::TestRun {
            data,
            ..lull_runtime::TestRun::default()
        })
        .unwrap_or_else(|e| panic!("{prog}: {e}"));
    let res = obj.map("res").expect("res map");
    let values = (0..n)
        .map(|i| {
            let v = res.lookup_copy(&i.to_ne_bytes(), 0).expect("res entry");
            i64::from_ne_bytes(v.try_into().expect("8 bytes"))
        })
        .collect();
    (out, values)
}
