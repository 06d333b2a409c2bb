//! `lull run OBJ --program NAME --task PID`: the program runs for another process — the
//! current-task helpers report it and `bpf_copy_from_user` reads its memory. The program
//! (`tests/progs/task.c`) is compiled with clang-19 at test time (the test prints SKIPPED and
//! passes vacuously without it); the task is a `sleep` child whose first mapping (its ELF
//! header) the program reads.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// Size of x86-64 `struct pt_regs`, and the offset of `rdi` (the first argument) in it.
const PT_REGS_SIZE: usize = 168;
const PT_REGS_RDI: usize = 112;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lull-cli-task-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn compile(src: &Path, out: &Path) -> bool {
    match Command::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(src)
        .arg("-o")
        .arg(out)
        .status()
    {
        Ok(s) => {
            assert!(s.success(), "clang-19 failed on {}", src.display());
            true
        }
        Err(e) => {
            eprintln!("SKIPPED: clang-19 not available ({e})");
            false
        }
    }
}

/// A child process, killed and reaped on drop.
struct Sleeper(Child);

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start of the first mapping of `pid` (its executable's ELF header).
fn first_mapping(pid: u32) -> u64 {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("read maps");
    let first = maps.lines().next().expect("a mapping");
    let start = first.split('-').next().unwrap();
    u64::from_str_radix(start, 16).expect("hex address")
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn run_for_another_process() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/progs/task.c");
    let obj = scratch("task.o");
    if !compile(&src, &obj) {
        return;
    }
    let child = Sleeper(
        Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("spawn sleep"),
    );
    let pid = child.0.id();
    // Wait (bounded) until the child has exec'd `sleep` and mapped it: the comm changes in the
    // middle of exec, before the new image is mapped, so wait for the first mapping to be the
    // `sleep` executable itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mapped = || {
        std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .ok()
            .and_then(|m| m.lines().next().map(|l| l.trim_end().ends_with("/sleep")))
            .unwrap_or(false)
    };
    while !mapped() {
        assert!(
            std::time::Instant::now() < deadline,
            "the child never became `sleep`"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut regs = vec![0u8; PT_REGS_SIZE];
    regs[PT_REGS_RDI..PT_REGS_RDI + 8].copy_from_slice(&first_mapping(pid).to_ne_bytes());
    let ctx = scratch("regs.bin");
    std::fs::write(&ctx, &regs).unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_lull"))
        .arg("run")
        .arg(&obj)
        .args(["--program", "who", "--task", &pid.to_string(), "--ctx"])
        .arg(&ctx)
        .args(["--json", "--dump-maps"])
        .output()
        .expect("lull runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["retval"], u64::from(pid), "the tgid the program saw");
    assert_eq!(v["task"], pid);
    let value = v["maps"][0]["entries"][0]["value"]
        .as_str()
        .expect("seen[0]")
        .to_owned();
    let mut comm = b"sleep".to_vec();
    comm.resize(16, 0);
    assert_eq!(&value[..32], hex(&comm), "comm");
    assert_eq!(
        &value[32..48],
        hex(&0i64.to_ne_bytes()),
        "copy_from_user ret"
    );
    assert_eq!(&value[48..56], hex(b"\x7fELF"), "the child's ELF header");

    // A process that does not exist is an input error, named as such.
    let bad = Command::new(env!("CARGO_BIN_EXE_lull"))
        .arg("run")
        .arg(&obj)
        .args(["--program", "who", "--task", "4000000000"])
        .output()
        .expect("lull runs");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--task 4000000000") && err.contains("no process"),
        "{err}"
    );
}
