//! User memory of real processes: the kernel's no-fault vs may-fault behaviour reproduced on a
//! child process that maps a file whose pages are neither touched nor in the page cache, and on
//! this process itself; plus the task facts of real processes and threads.
//!
//! The child is this test binary re-executed with `LULL_TASK_CHILD` set (see [`child_entry`]).

use lull_task::helpers::{
    copy_from_user, copy_from_user_str, copy_from_user_task_str, probe_read_user,
    probe_read_user_str,
};
use lull_task::{Errno, ProcessMemory, SelfMemory, Task, TaskError, UserMemory};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "LULL_TASK_CHILD";
const FILE_PAGES: usize = 4;
const ANON_PAGES: usize = 4;
const CHILD_THREAD_NAME: &str = "lull-child";
const EFAULT: i64 = -14;

fn page() -> usize {
    lull_task::page_size() as usize
}

/// Byte `i` of page `p` of the test file: a string `lull-page-<p>` + NUL at the start of each
/// page, then a pattern that differs per page.
fn file_contents() -> Vec<u8> {
    let mut data = Vec::with_capacity(FILE_PAGES * page());
    for p in 0..FILE_PAGES {
        let mut pg: Vec<u8> = (0..page()).map(|i| ((p * 7 + i) % 251) as u8 | 1).collect();
        let tag = format!("lull-page-{p}\0");
        pg[..tag.len()].copy_from_slice(tag.as_bytes());
        data.extend_from_slice(&pg);
    }
    data
}

/// The few raw calls the test itself needs (mapping files in the child, page-cache residency).
#[allow(unsafe_code)]
mod raw {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    fn check(ok: bool, what: &str) {
        assert!(ok, "{what}: {}", std::io::Error::last_os_error());
    }

    /// Maps `len` bytes of `file` read-only and private, without touching them.
    pub fn map_file(file: &File, len: usize) -> usize {
        // SAFETY: a fresh mapping chosen by the kernel; it overlaps nothing of ours.
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
        check(p != libc::MAP_FAILED, "mmap file");
        // SAFETY: advice on the mapping just created; MADV_RANDOM only disables read-ahead, so a
        // fault on one page does not bring its neighbours into the page cache.
        check(
            unsafe { libc::madvise(p, len, libc::MADV_RANDOM) } == 0,
            "madvise",
        );
        p as usize
    }

    /// Maps `len` bytes of private anonymous read-write memory, untouched.
    pub fn map_anon(len: usize) -> usize {
        // SAFETY: a fresh anonymous mapping chosen by the kernel.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        check(p != libc::MAP_FAILED, "mmap anon");
        p as usize
    }

    /// Writes `bytes` at `addr` inside a writable mapping made by [`map_anon`].
    pub fn write(addr: usize, bytes: &[u8]) {
        // SAFETY: the caller passes a range inside a live read-write mapping of ours that no
        // Rust reference points into.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), addr as *mut u8, bytes.len()) };
    }

    /// Makes `[addr, addr + len)` inaccessible.
    pub fn protect_none(addr: usize, len: usize) {
        // SAFETY: changes protection of a page of a mapping of ours that nothing references.
        let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len, libc::PROT_NONE) };
        check(r == 0, "mprotect");
    }

    /// Which pages of `file`'s first `len` bytes are in the page cache (`mincore` on a fresh,
    /// untouched mapping, which itself brings nothing in).
    pub fn cached_pages(file: &File, len: usize) -> Vec<bool> {
        let page = super::page();
        let p = map_file(file, len);
        let mut vec = vec![0u8; len.div_ceil(page)];
        // SAFETY: `p` maps `len` bytes; `vec` has one byte per page of it.
        let r = unsafe { libc::mincore(p as *mut libc::c_void, len, vec.as_mut_ptr()) };
        check(r == 0, "mincore");
        // SAFETY: unmaps the mapping made above, which nothing references.
        unsafe { libc::munmap(p as *mut libc::c_void, len) };
        vec.iter().map(|b| b & 1 != 0).collect()
    }

    /// Drops `file`'s clean pages from the page cache (after an fsync they all are clean).
    pub fn drop_from_page_cache(file: &File) {
        // SAFETY: advice on an open file descriptor; no memory is involved.
        let r = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        assert_eq!(r, 0, "posix_fadvise");
    }

    /// Names the calling thread (its `comm`).
    pub fn set_thread_name(name: &std::ffi::CStr) {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes from `name`.
        check(
            unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) } == 0,
            "prctl",
        );
    }

    /// Asks for SIGKILL when the parent dies, so a failed test leaves no child behind.
    pub fn die_with_parent() {
        // SAFETY: PR_SET_PDEATHSIG takes a signal number; no memory is involved.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    }

    pub fn gettid() -> u32 {
        // SAFETY: no preconditions.
        unsafe { libc::gettid() as u32 }
    }
}

/// Entry point of the child process (does nothing in a normal test run): maps the file named
/// by `LULL_TASK_CHILD` without touching it, maps four anonymous pages (0 and 2 written, 1 never
/// touched, 3 inaccessible), reports the addresses, and waits for stdin to close.
#[test]
fn child_entry() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    raw::die_with_parent();
    raw::set_thread_name(c"lull-child");
    let file = File::open(&path).expect("child: open file");
    let file_addr = raw::map_file(&file, FILE_PAGES * page());
    let anon = raw::map_anon(ANON_PAGES * page());
    raw::write(anon, b"anon-page-zero\0");
    raw::write(anon + page() - 8, b"endpage0");
    raw::write(anon + 3 * page() - 8, b"no-nul!!");
    raw::protect_none(anon + 3 * page(), page());
    println!(
        "LULL_CHILD_READY pid={} tid={} file={file_addr:#x} anon={anon:#x}",
        std::process::id(),
        raw::gettid()
    );
    std::io::stdout().flush().expect("child: flush");
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// A running child; killed and reaped on drop.
struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: u32,
    tid: u32,
    file: u64,
    anon: u64,
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
    let mut proc = ChildProc {
        stdin: child.stdin.take(),
        child,
        pid: 0,
        tid: 0,
        file: 0,
        anon: 0,
    };
    // Read the child's output on a thread (which keeps draining it afterwards, so the child
    // never blocks on a full pipe) and wait for the report with a deadline. The harness prints
    // `test child_entry ... ` before the test runs, so the marker need not start the line.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("LULL_CHILD_READY") {
                let _ = tx.send(line[at..].to_owned());
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the child did not report its mappings within 30 s");
    proc.pid = field(&line, "pid") as u32;
    proc.tid = field(&line, "tid") as u32;
    proc.file = field(&line, "file");
    proc.anon = field(&line, "anon");
    proc
}

/// A test file of `FILE_PAGES` pages, written, synced and dropped from the page cache.
/// Returns its path and, per page, whether it is *still* cached (the filesystem may refuse).
fn cold_file(name: &str) -> (PathBuf, Vec<bool>) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("{name}-{}", std::process::id()));
    let mut f = File::create(&path).expect("create test file");
    f.write_all(&file_contents()).expect("write test file");
    f.sync_all().expect("fsync test file");
    raw::drop_from_page_cache(&f);
    let f = File::open(&path).expect("reopen test file");
    let cached = raw::cached_pages(&f, FILE_PAGES * page());
    (path, cached)
}

/// Whether `/proc/self/pagemap` shows the present bit here (it needs no privilege, but a
/// hardened kernel could hide it); tests depending on it are skipped otherwise.
fn pagemap_readable() -> bool {
    let mem = match SelfMemory::new() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("SKIP: cannot open /proc/self/pagemap: {e}");
            return false;
        }
    };
    let local = [1u8; 64];
    let addr = std::hint::black_box(&local) as *const _ as u64;
    match mem.as_process().page_entry(addr) {
        Ok(e) if e.present() => true,
        other => {
            eprintln!("SKIP: pagemap does not report our own stack page present: {other:?}");
            false
        }
    }
}

/// The acceptance test: on a never-touched file-backed page of a child process,
/// `bpf_probe_read_user` returns -EFAULT, `bpf_copy_from_user` returns the data (reading it from
/// disk), and afterwards the page is resident and `bpf_probe_read_user` succeeds.
#[test]
fn untouched_file_page_of_a_child_faults_only_on_the_sleepable_path() {
    if !pagemap_readable() {
        return;
    }
    let (path, cached_before) = cold_file("cold-file");
    let child = spawn_child(&path);
    let task = Task::from_pid(child.pid).expect("Task::from_pid(child)");
    let mem = task.memory();
    let procmem = ProcessMemory::new(child.pid).expect("ProcessMemory::new(child)");
    let data = file_contents();
    let pg = page();

    let target = 1; // page 1 of the file
    let addr = child.file + (target * pg) as u64 + 100;
    let want = &data[target * pg + 100..target * pg + 164];
    assert!(
        !procmem.page_entry(addr).unwrap().present(),
        "the child never touched the page, yet pagemap says it is present"
    );

    // bpf_probe_read_user: -EFAULT, destination zeroed, and nothing faulted in.
    let mut dst = [0xaau8; 64];
    assert_eq!(probe_read_user(mem, &mut dst, addr), EFAULT);
    assert_eq!(dst, [0u8; 64], "probe_read_user zeroes dst on failure");
    assert!(
        !procmem.is_resident(addr, 64).unwrap(),
        "the no-fault read faulted the page in"
    );

    // bpf_copy_from_user: faults the page in (from disk if it was not cached) and returns it.
    let started = Instant::now();
    let mut dst = [0xaau8; 64];
    assert_eq!(copy_from_user(mem, &mut dst, addr), 0);
    let took = started.elapsed();
    assert_eq!(&dst[..], want, "copy_from_user returned the file's bytes");
    assert!(
        procmem.is_resident(addr, 64).unwrap(),
        "the page is resident after the fault"
    );
    let file = File::open(&path).unwrap();
    let cached_after = raw::cached_pages(&file, FILE_PAGES * pg);
    eprintln!(
        "page cache before: {cached_before:?}, after copy_from_user: {cached_after:?}; \
         copy_from_user took {took:?}"
    );
    if !cached_before[target] {
        assert!(
            cached_after[target],
            "the fault read the page into the page cache"
        );
    } else {
        eprintln!("NOTE: the filesystem kept the page cached; the fault did not need I/O");
    }

    // Now resident: bpf_probe_read_user succeeds with the same bytes.
    let mut dst = [0u8; 64];
    assert_eq!(probe_read_user(mem, &mut dst, addr), 0);
    assert_eq!(&dst[..], want);

    // The other pages were not read in (MADV_RANDOM: no read-ahead), and a page that is not in
    // the page cache cannot be mapped: still not readable without faulting.
    for p in [0, 2, 3] {
        if cached_after[p] {
            eprintln!("NOTE: page {p} is cached; its no-fault checks are skipped");
            continue;
        }
        let at = child.file + (p * pg) as u64;
        assert!(!procmem.page_entry(at).unwrap().present(), "page {p}");
        assert_eq!(probe_read_user(mem, &mut [0u8; 8], at), EFAULT, "page {p}");
    }

    // The string forms: page 2 starts with "lull-page-2\0".
    let s = child.file + (2 * pg) as u64;
    if !cached_after[2] {
        let mut dst = [0xaau8; 32];
        assert_eq!(probe_read_user_str(mem, &mut dst, s), EFAULT);
        assert_eq!(dst, [0u8; 32]);
    }
    let mut dst = [0xaau8; 32];
    assert_eq!(copy_from_user_str(mem, &mut dst, s, 0), 12);
    assert_eq!(&dst[..12], b"lull-page-2\0");
    let mut dst = [0xaau8; 32];
    assert_eq!(probe_read_user_str(mem, &mut dst, s), 12);
    assert_eq!(&dst[..12], b"lull-page-2\0");

    drop(child);
    let _ = std::fs::remove_file(&path);
}

/// Anonymous memory of the child: pages 0 and 2 touched, page 1 untouched, page 3 `PROT_NONE`;
/// and addresses nothing is mapped at.
#[test]
fn child_ranges_spanning_resident_missing_and_unmapped_pages() {
    if !pagemap_readable() {
        return;
    }
    let (path, _) = cold_file("anon-ranges");
    let child = spawn_child(&path);
    let mem = ProcessMemory::new(child.pid).expect("ProcessMemory::new(child)");
    let pg = page() as u64;
    let a = child.anon;

    // Page 0 alone: resident.
    let mut dst = [0u8; 15];
    assert_eq!(probe_read_user(&mem, &mut dst, a), 0);
    assert_eq!(&dst, b"anon-page-zero\0");

    // Spanning the end of page 0 (resident) and the start of page 1 (never touched).
    let span = a + pg - 8;
    assert!(!mem.is_resident(span, 16).unwrap());
    let mut dst = [0xaau8; 16];
    assert_eq!(mem.read_nofault(span, &mut dst), Err(Errno::EFAULT));
    assert_eq!(probe_read_user(&mem, &mut dst, span), EFAULT);
    assert_eq!(dst, [0u8; 16]);
    // The may-fault path maps page 1 (the zero page, for a read) and reads across.
    let mut dst = [0xaau8; 16];
    assert_eq!(copy_from_user(&mem, &mut dst, span), 0);
    assert_eq!(&dst, b"endpage0\0\0\0\0\0\0\0\0");
    assert!(
        mem.is_resident(span, 16).unwrap(),
        "page 1 is mapped after the fault"
    );
    assert_eq!(probe_read_user(&mem, &mut [0u8; 16], span), 0);

    // From page 2 into the PROT_NONE page 3: mapped but unreadable, both paths fail.
    let none = a + 3 * pg - 4;
    let mut dst = [0xaau8; 8];
    assert_eq!(copy_from_user(&mem, &mut dst, none), EFAULT);
    assert_eq!(dst, [0u8; 8]);
    assert_eq!(probe_read_user(&mem, &mut dst, none), EFAULT);

    // Nothing mapped: below mmap_min_addr, and a non-canonical address.
    for addr in [0x10u64, 0x8000_0000_0000_0000] {
        let mut dst = [0xaau8; 8];
        assert_eq!(
            mem.read_may_fault(addr, &mut dst),
            Err(Errno::EFAULT),
            "{addr:#x}"
        );
        assert_eq!(
            mem.read_nofault(addr, &mut dst),
            Err(Errno::EFAULT),
            "{addr:#x}"
        );
        assert_eq!(copy_from_user(&mem, &mut dst, addr), EFAULT);
        assert_eq!(dst, [0u8; 8]);
    }
    // A string that runs from readable memory into the PROT_NONE page fails after the prefix;
    // the task variant (access_process_vm) alike.
    let no_nul = a + 3 * pg - 8;
    let mut dst = [0xaau8; 16];
    assert_eq!(copy_from_user_str(&mem, &mut dst, no_nul, 0), EFAULT);
    assert_eq!(
        &dst[..8],
        b"no-nul!!",
        "the prefix before the fault stays (no padding flag)"
    );
    assert_eq!(copy_from_user_task_str(&mem, &mut dst, no_nul, 0), EFAULT);
    assert_eq!(probe_read_user_str(&mem, &mut dst, no_nul), EFAULT);
    assert_eq!(dst, [0u8; 16]);
    // ... but a buffer the string fills before the fault succeeds: cut to 7 bytes + NUL.
    let mut dst = [0xaau8; 8];
    assert_eq!(copy_from_user_str(&mem, &mut dst, no_nul, 0), 8);
    assert_eq!(&dst, b"no-nul!\0");
    // A wrapping range is unmapped too.
    assert_eq!(
        mem.read_nofault(u64::MAX - 3, &mut [0u8; 8]),
        Err(Errno::EFAULT)
    );
    assert_eq!(
        mem.read_may_fault(u64::MAX - 3, &mut [0u8; 8]),
        Err(Errno::EFAULT)
    );

    drop(child);
    let _ = std::fs::remove_file(&path);
}

/// `Task::from_pid` on the child's process and on its named thread, checked against facts the
/// test knows independently (the child's pid and tid, our credentials, the exec name).
#[test]
fn task_from_pid_of_a_child_and_of_its_thread() {
    let (path, _) = cold_file("task-facts");
    let child = spawn_child(&path);
    let me = Task::current_thread().expect("current_thread");

    let leader = Task::from_pid(child.pid).expect("Task::from_pid(child)");
    assert_eq!(leader.tgid(), child.pid);
    assert_eq!(leader.pid(), child.pid);
    assert_eq!(
        leader.pid_tgid(),
        (u64::from(child.pid) << 32) | u64::from(child.pid)
    );
    assert_eq!(
        leader.uid_gid(),
        me.uid_gid(),
        "the child runs with our credentials"
    );
    // The leader's comm is the executable's name cut to 15 bytes, unless the harness ran the
    // test on the main thread, which then carries the thread name.
    let exe = std::env::current_exe().unwrap();
    let exe_name = exe.file_name().unwrap().as_encoded_bytes();
    let expected = &exe_name[..exe_name.len().min(15)];
    assert!(
        leader.comm_name() == expected || leader.comm_name() == CHILD_THREAD_NAME.as_bytes(),
        "comm {:?}",
        String::from_utf8_lossy(leader.comm_name())
    );

    let thread = Task::from_pid(child.tid).expect("Task::from_pid(child thread)");
    assert_eq!(thread.pid(), child.tid);
    assert_eq!(thread.tgid(), child.pid);
    assert_eq!(thread.comm_name(), CHILD_THREAD_NAME.as_bytes());
    assert_eq!(thread.comm()[CHILD_THREAD_NAME.len()..], [0u8; 16 - 10]);

    drop(child);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn task_from_a_missing_pid_is_an_error() {
    // pid_max is at most 2^22 on Linux: this pid cannot exist.
    match Task::from_pid(u32::MAX - 1) {
        Err(TaskError::NoSuchProcess { pid }) => assert_eq!(pid, u32::MAX - 1),
        other => panic!("expected NoSuchProcess, got {other:?}"),
    }
    assert!(matches!(
        ProcessMemory::new(u32::MAX - 1),
        Err(TaskError::NoSuchProcess { .. })
    ));
}

/// `Task::current_thread` on a named thread, against `/proc/thread-self/status` and the name
/// we gave it.
#[test]
fn current_thread_facts_match_proc() {
    let worker = std::thread::Builder::new()
        .name("lull-worker".into())
        .spawn(|| {
            let task = Task::current_thread().expect("current_thread");
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            (task, status)
        })
        .unwrap();
    let (task, status) = worker.join().unwrap();
    let line = |name: &str| -> u32 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in status"))
    };
    assert_eq!(task.tgid(), std::process::id());
    assert_eq!(task.pid(), line("Pid:"));
    assert_ne!(task.pid(), task.tgid(), "a spawned thread has its own id");
    assert_eq!(task.uid(), line("Uid:"));
    assert_eq!(task.gid(), line("Gid:"));
    assert_eq!(task.comm_name(), b"lull-worker");
    let mut comm = [0xaau8; 16];
    assert_eq!(lull_task::helpers::get_current_comm(&task, &mut comm), 0);
    assert_eq!(&comm, b"lull-worker\0\0\0\0\0");
}

/// Our own memory: a large zeroed allocation is fresh, untouched anonymous memory (the
/// allocator gets it from mmap), so the no-fault read fails until the may-fault read maps it.
#[test]
fn self_memory_untouched_heap_faults_only_on_the_sleepable_path() {
    if !pagemap_readable() {
        return;
    }
    let mem = SelfMemory::new().unwrap();
    let touched: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let mut dst = vec![0u8; touched.len()];
    assert_eq!(mem.read_nofault(touched.as_ptr() as u64, &mut dst), Ok(()));
    assert_eq!(dst, touched);

    let fresh = vec![0u8; 64 << 20];
    let addr = fresh.as_ptr() as u64 + (32 << 20);
    if mem.as_process().is_resident(addr, 8).unwrap() {
        eprintln!("SKIP: the allocator handed out already-touched memory");
        return;
    }
    let mut dst = [0xaau8; 8];
    assert_eq!(mem.read_nofault(addr, &mut dst), Err(Errno::EFAULT));
    assert_eq!(mem.read_may_fault(addr, &mut dst), Ok(()));
    assert_eq!(dst, [0u8; 8]);
    assert!(mem.as_process().is_resident(addr, 8).unwrap());
    assert_eq!(mem.read_nofault(addr, &mut dst), Ok(()));
    drop(fresh);
}
