//! The kernel's behaviour on a real process, through a *loaded* sleepable program
//! (`tests/progs/sleepable.c`, section `uprobe.s`, compiled with clang-19): a child process maps
//! a file written by the test without touching it; the program, running for the child
//! (`RuntimeOptions::task` = `Task::from_pid(child)`), reads a never-touched page with
//! `bpf_probe_read_user` (-EFAULT: the page is not present and the no-fault read must not
//! fault it in), then with `bpf_copy_from_user` (0 and the file's bytes: the sleepable read
//! faults the page in), then with `bpf_probe_read_user` again (0: now present). It runs once
//! through `test_run` and once through a sleepable host hook, each on its own mapping of the
//! file (a page's presence is per mapping, so the first run cannot make the second one's page
//! present).
//!
//! The child is this test binary re-executed with `LULL_RUNTIME_E2E_CHILD` set
//! ([`child_entry`]).

mod support;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use lull_abi::ProgType;
use lull_runtime::{Combine, HookInput, HookSpec, LoadedObject, Runtime, RuntimeOptions, TestRun};
use lull_task::{ProcessMemory, Task};
use support::{load, program, pt_regs};

const CHILD_ENV: &str = "LULL_RUNTIME_E2E_CHILD";
const FILE_PAGES: usize = 3;
const EFAULT: i64 = -14;
/// The page of the file the program reads, and the offset in it.
const TARGET_PAGE: usize = 1;
const TARGET_OFFSET: usize = 100;
const LEN: usize = 64;

fn page() -> usize {
    lull_task::page_size() as usize
}

/// The test file: every byte differs from its neighbours and from the same offset of other
/// pages, and none is zero (so a zeroed destination is never mistaken for data).
fn file_contents() -> Vec<u8> {
    (0..FILE_PAGES * page())
        .map(|i| ((i * 13 + i / page() * 5) % 251) as u8 + 1)
        .collect()
}

/// The raw calls of the child.
#[allow(unsafe_code)]
mod raw {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    /// Maps `len` bytes of `file` read-only and private, without touching them.
    pub fn map_file(file: &File, len: usize) -> usize {
        // SAFETY: a fresh mapping chosen by the kernel; it overlaps nothing of ours and nothing
        // in this process ever dereferences it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert!(
            p != libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        p as usize
    }

    /// Asks for SIGKILL when the parent dies, so a failed test leaves no child behind.
    pub fn die_with_parent() {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number; no memory is involved.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }
}

/// Entry point of the child process (does nothing in a normal test run): maps the file named
/// by `LULL_RUNTIME_E2E_CHILD` twice without touching it, reports both addresses, and waits
/// for stdin to close.
#[test]
fn child_entry() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    raw::die_with_parent();
    let file = File::open(&path).expect("child: open file");
    let a = raw::map_file(&file, FILE_PAGES * page());
    let b = raw::map_file(&file, FILE_PAGES * page());
    println!(
        "LULL_E2E_CHILD_READY pid={} a={a:#x} b={b:#x}",
        std::process::id()
    );
    std::io::stdout().flush().expect("child: flush");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// A running child; killed and reaped on drop.
struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    maps: [u64; 2],
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(line: &str, name: &str) -> u64 {
    let value = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name}= in {line:?}"));
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => value.parse(),
    }
    .unwrap_or_else(|e| panic!("{name}={value}: {e}"))
}

fn spawn_child(file: &Path) -> ChildProc {
    let mut child = Command::new(std::env::current_exe().expect("current_exe"))
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let stdin = child.stdin.take();
    // A thread reads (and keeps draining) the child's output; the report must come in time.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("LULL_E2E_CHILD_READY") {
                let _ = tx.send(line[at..].to_owned());
            }
        }
    });
    let mut proc = ChildProc {
        child,
        stdin,
        pid: 0,
        maps: [0; 2],
    };
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the child did not report its mappings within 30 s");
    proc.pid = field(&line, "pid") as u32;
    proc.maps = [field(&line, "a"), field(&line, "b")];
    proc
}

fn test_file() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("lull-sleepable-e2e-{}", std::process::id()));
    let mut f = File::create(&path).expect("create test file");
    f.write_all(&file_contents()).expect("write test file");
    f.sync_all().expect("sync test file");
    path
}

/// `struct result` of sleepable.c.
#[derive(Debug)]
struct Observed {
    probe_ret: i64,
    copy_ret: i64,
    probe_after_ret: i64,
    pid_tgid: u64,
    probe_data: Vec<u8>,
    copy_data: Vec<u8>,
    probe_after_data: Vec<u8>,
}

fn read_result(obj: &LoadedObject) -> Observed {
    let v = obj
        .map("results")
        .expect("map results")
        .lookup_copy(&0u32.to_ne_bytes(), 0)
        .expect("results[0]");
    let word = |i: usize| u64::from_ne_bytes(v[i * 8..i * 8 + 8].try_into().unwrap());
    Observed {
        probe_ret: word(0) as i64,
        copy_ret: word(1) as i64,
        probe_after_ret: word(2) as i64,
        pid_tgid: word(3),
        probe_data: v[32..32 + LEN].to_vec(),
        copy_data: v[96..96 + LEN].to_vec(),
        probe_after_data: v[160..160 + LEN].to_vec(),
    }
}

fn clear_result(obj: &LoadedObject) {
    let map = obj.map("results").expect("map results");
    let zero = vec![0u8; map.spec().value_size as usize];
    map.update(&0u32.to_ne_bytes(), &zero, 0).expect("clear");
}

/// The acceptance checks on one run's results.
fn check(r: &Observed, want: &[u8], pid: u32, how: &str) {
    assert_eq!(
        r.probe_ret, EFAULT,
        "{how}: bpf_probe_read_user on a never-touched page"
    );
    assert_eq!(
        r.probe_data,
        vec![0u8; LEN],
        "{how}: a failed probe read zeroes dst"
    );
    assert_eq!(
        r.copy_ret, 0,
        "{how}: bpf_copy_from_user faults the page in"
    );
    assert_eq!(
        r.copy_data, want,
        "{how}: bpf_copy_from_user returns the file's bytes"
    );
    assert_eq!(
        r.probe_after_ret, 0,
        "{how}: the page is present afterwards"
    );
    assert_eq!(r.probe_after_data, want, "{how}");
    assert_eq!(
        r.pid_tgid,
        (u64::from(pid) << 32) | u64::from(pid),
        "{how}: the program runs for the child"
    );
}

#[test]
fn sleepable_program_reads_an_untouched_file_page_of_a_child() {
    let path = test_file();
    let child = spawn_child(&path);
    let task = Arc::new(Task::from_pid(child.pid).expect("Task::from_pid(child)"));
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(2),
        task: Some(task),
        ..RuntimeOptions::default()
    });
    let Some(obj) = load(&rt, "sleepable") else {
        return;
    };
    let prog = program(&obj, "read_user");
    assert!(prog.sleepable(), "uprobe.s programs are sleepable");
    let pages = ProcessMemory::new(child.pid).expect("ProcessMemory::new(child)");
    let data = file_contents();
    let at = TARGET_PAGE * page() + TARGET_OFFSET;
    let want = &data[at..at + LEN];
    let [first, second] = child.maps.map(|m| m + at as u64);
    for addr in [first, second] {
        assert!(
            !pages.is_resident(addr, LEN as u64).expect("pagemap"),
            "the child never touched {addr:#x}, yet pagemap says it is present"
        );
    }

    // 1. Through BPF_PROG_TEST_RUN's analogue.
    let out = prog
        .test_run(&TestRun {
            ctx: Some(pt_regs(first)),
            ..TestRun::default()
        })
        .expect("test_run");
    assert_eq!(out.retval, 0);
    check(&read_result(&obj), want, child.pid, "test_run");
    assert!(
        !pages.is_resident(second, LEN as u64).unwrap(),
        "the other mapping's page became present"
    );

    // 2. Through a sleepable host hook.
    clear_result(&obj);
    let hook = rt.hook(HookSpec::new("read_request", ProgType::Kprobe).overriding(Combine::Last));
    let err = hook.attach(&prog).unwrap_err();
    assert!(err.to_string().contains("is not sleepable"), "{err}");
    let hook = rt.hook(
        HookSpec::new("read_request", ProgType::Kprobe)
            .sleepable()
            .overriding(Combine::Last),
    );
    let link = hook.attach(&prog).expect("attach");
    let regs = pt_regs(second);
    let outcome = hook
        .run(HookInput::Context {
            data: &[],
            ctx: Some(&regs),
        })
        .expect("hook run");
    assert_eq!((outcome.ret, outcome.ran), (Some(0), 1));
    check(&read_result(&obj), want, child.pid, "hook");
    link.detach().unwrap();

    drop(child);
    let _ = std::fs::remove_file(&path);
}
