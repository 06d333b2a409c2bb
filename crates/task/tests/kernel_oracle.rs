//! The helper semantics against the running kernel: `tests/kernel/user_helpers.bpf.c` calls the
//! user-memory and current-task helpers in a syscall program (run with `BPF_PROG_TEST_RUN` by
//! `user_helpers_load.c`), and every return value and destination buffer — including the bytes
//! the kernel leaves alone or zeroes after the string — must equal what `lull_task::helpers`
//! produces for the same inputs.
//!
//! Needs root, `clang-19` (or `clang`), `gcc` and libbpf; skipped with a message otherwise.

use lull_task::helpers::{
    copy_from_user, copy_from_user_str, get_current_comm, probe_read_user, probe_read_user_str,
};
use lull_task::{SelfMemory, Task, UserMemory};
use std::path::{Path, PathBuf};
use std::process::Command;

const NCASES: usize = 13;

/// The inputs of the kernel program, as addresses in this process.
struct Inputs {
    empty: u64,
    hello: u64,
    longs: u64,
    bad: u64,
}

type Case = fn(&dyn UserMemory, &Inputs, &mut [u8; 16]) -> i64;

/// Mirrors the CASE lines of `user_helpers.bpf.c`, in order.
const CASES: [Case; NCASES] = [
    |m, i, b| probe_read_user_str(m, b, i.empty),
    |m, i, b| probe_read_user_str(m, b, i.hello),
    |m, i, b| probe_read_user_str(m, &mut b[..4], i.longs),
    |m, i, b| copy_from_user_str(m, b, i.hello, 0),
    |m, i, b| copy_from_user_str(m, b, i.hello, 1),
    |m, i, b| copy_from_user_str(m, &mut b[..1], i.bad, 0),
    |m, i, b| copy_from_user_str(m, b, i.bad, 0),
    |m, i, b| probe_read_user_str(m, b, i.bad),
    |m, i, b| copy_from_user_str(m, b, i.bad, 2),
    |m, i, b| copy_from_user_str(m, b, i.empty, 0),
    |m, i, b| probe_read_user(m, b, i.bad),
    |m, i, b| copy_from_user(m, b, i.bad),
    |m, i, b| copy_from_user(m, &mut b[..6], i.hello),
];

fn skip(why: &str) {
    eprintln!("SKIP kernel oracle: {why}");
}

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Builds the BPF object and the loader, runs it, returns its output.
fn kernel_output() -> Result<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kernel");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernel-oracle");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let obj = dir.join("user_helpers.bpf.o");
    let loader = dir.join("user_helpers_load");
    let clang = ["clang-19", "clang"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok())
        .ok_or("no clang")?;
    run(Command::new(clang)
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(src.join("user_helpers.bpf.c"))
        .arg("-o")
        .arg(&obj))?;
    run(Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&loader)
        .arg(src.join("user_helpers_load.c"))
        .arg("-lbpf"))?;
    run(Command::new(&loader).arg(&obj))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

#[test]
fn helpers_match_the_running_kernel() {
    let me = Task::current_thread().expect("current_thread");
    if me.uid() != 0 {
        return skip("not root");
    }
    let out = match kernel_output() {
        Ok(out) => out,
        Err(e) => return skip(&e),
    };

    // The same strings in our memory (heap, hence touched and resident, like the loader's).
    let strings: Vec<Vec<u8>> = vec![
        b"\0".to_vec(),
        b"hello\0".to_vec(),
        b"abcdefghijklmnopqrstuvwxyz\0".to_vec(),
    ];
    let inputs = Inputs {
        empty: strings[0].as_ptr() as u64,
        hello: strings[1].as_ptr() as u64,
        longs: strings[2].as_ptr() as u64,
        bad: 0x10,
    };
    let mem = SelfMemory::new().unwrap();

    let mut seen = 0;
    for line in out.lines().filter(|l| l.starts_with("case ")) {
        let mut parts = line.split_whitespace().skip(1);
        let i: usize = parts.next().unwrap().parse().unwrap();
        let ret: i64 = parts.next().unwrap().parse().unwrap();
        let bytes = parts.next().unwrap();
        let mut b = [0xaau8; 16];
        let ours = CASES[i](&mem, &inputs, &mut b);
        assert_eq!((ours, hex(&b)), (ret, bytes.to_owned()), "case {i}: {line}");
        seen += 1;
    }
    assert_eq!(seen, NCASES, "the loader printed every case:\n{out}");

    // Current-task helpers: the kernel's packing of the loader's ids equals ours.
    let kernel = out
        .lines()
        .find(|l| l.starts_with("kernel "))
        .expect("kernel line");
    let selfl = out
        .lines()
        .find(|l| l.starts_with("self "))
        .expect("self line");
    let num = |l: &str, k: &str| -> u64 { value(l, k).parse().unwrap() };
    let task = Task::synthetic(
        num(selfl, "tid") as u32,
        num(selfl, "pid") as u32,
        num(selfl, "uid") as u32,
        num(selfl, "gid") as u32,
        value(selfl, "comm").as_bytes(),
    );
    assert_eq!(task.pid_tgid(), num(kernel, "pid_tgid"));
    assert_eq!(task.uid_gid(), num(kernel, "uid_gid"));
    let mut comm = [0xaau8; 16];
    get_current_comm(&task, &mut comm);
    let kcomm = value(kernel, "comm").as_bytes();
    assert_eq!(&comm[..kcomm.len()], kcomm);
    assert!(comm[kcomm.len()..].iter().all(|&c| c == 0));
}
