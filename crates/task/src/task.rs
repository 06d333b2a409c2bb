//! The task a program runs for: the identity `bpf_get_current_pid_tgid`, `_uid_gid` and `_comm`
//! report, and the user memory the user-copy helpers read.

use crate::memory::{NoMemory, ProcessMemory, SelfMemory, UserMemory};
use crate::{TaskError, sys};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Size of the kernel's `task->comm` (`TASK_COMM_LEN`): 15 bytes of name and a NUL.
pub const TASK_COMM_LEN: usize = 16;

/// A task (thread) as BPF helpers see it.
///
/// In the kernel's terms `pid` is the thread id (`task->pid`) and `tgid` the process id
/// (`task->tgid`); `uid`/`gid` are the *real* ids (`current_uid_gid()`), `comm` the NUL-padded
/// command name. A task may carry its user memory (see [`memory`](Self::memory)).
///
/// Ids of real tasks are those of Lull's own pid and user namespaces (what `/proc` and the
/// syscalls show it); the kernel helpers report them in the initial namespaces, which differs
/// only when Lull itself runs inside a container's namespaces.
#[derive(Clone)]
pub struct Task {
    pid: u32,
    tgid: u32,
    uid: u32,
    gid: u32,
    comm: [u8; TASK_COMM_LEN],
    memory: Option<Arc<dyn UserMemory>>,
}

impl Task {
    /// The calling OS thread, with the calling process's memory ([`SelfMemory`]).
    pub fn current_thread() -> Result<Task, TaskError> {
        let comm = read_proc(Path::new("/proc/thread-self/comm"))?;
        Ok(Task {
            pid: sys::gettid(),
            tgid: std::process::id(),
            uid: sys::getuid(),
            gid: sys::getgid(),
            comm: comm_from(&comm),
            memory: Some(Arc::new(SelfMemory::new()?)),
        })
    }

    /// A real process or thread `pid` (a thread id gives that thread; its `tgid` is the process),
    /// read from `/proc/<pid>/status` and `/proc/<pid>/comm`, with its memory
    /// ([`ProcessMemory`]). Fails with [`TaskError::NoSuchProcess`] if it does not exist.
    pub fn from_pid(pid: u32) -> Result<Task, TaskError> {
        let dir = PathBuf::from(format!("/proc/{pid}"));
        if !dir.exists() {
            return Err(TaskError::NoSuchProcess { pid });
        }
        let status_path = dir.join("status");
        let status = String::from_utf8_lossy(&read_proc(&status_path)?).into_owned();
        let field = |name: &str| status_field(&status, name, &status_path);
        let comm = read_proc(&dir.join("comm"))?;
        Ok(Task {
            pid: field("Pid")?,
            tgid: field("Tgid")?,
            uid: field("Uid")?,
            gid: field("Gid")?,
            comm: comm_from(&comm),
            memory: Some(Arc::new(ProcessMemory::new(pid)?)),
        })
    }

    /// A task a host describes, without user memory (add one with
    /// [`with_memory`](Self::with_memory)). `comm` is cut to 15 bytes, as the kernel does.
    pub fn synthetic(pid: u32, tgid: u32, uid: u32, gid: u32, comm: &[u8]) -> Task {
        Task {
            pid,
            tgid,
            uid,
            gid,
            comm: comm_from(comm),
            memory: None,
        }
    }

    /// The same task reading its user memory from `memory`.
    pub fn with_memory(mut self, memory: Arc<dyn UserMemory>) -> Task {
        self.memory = Some(memory);
        self
    }

    /// The thread id (`task->pid`).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process id (`task->tgid`).
    pub fn tgid(&self) -> u32 {
        self.tgid
    }

    /// The real user id.
    pub fn uid(&self) -> u32 {
        self.uid
    }

    /// The real group id.
    pub fn gid(&self) -> u32 {
        self.gid
    }

    /// The command name, NUL-padded to [`TASK_COMM_LEN`] bytes (always NUL-terminated).
    pub fn comm(&self) -> &[u8; TASK_COMM_LEN] {
        &self.comm
    }

    /// The command name without its NUL padding.
    pub fn comm_name(&self) -> &[u8] {
        let len = self
            .comm
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(TASK_COMM_LEN);
        &self.comm[..len]
    }

    /// What `bpf_get_current_pid_tgid` returns: `tgid << 32 | pid`.
    pub fn pid_tgid(&self) -> u64 {
        u64::from(self.tgid) << 32 | u64::from(self.pid)
    }

    /// What `bpf_get_current_uid_gid` returns: `gid << 32 | uid`.
    pub fn uid_gid(&self) -> u64 {
        u64::from(self.gid) << 32 | u64::from(self.uid)
    }

    /// The task's user memory ([`NoMemory`] if it has none: every read fails with `EFAULT`).
    pub fn memory(&self) -> &dyn UserMemory {
        match &self.memory {
            Some(memory) => memory.as_ref(),
            None => &NoMemory,
        }
    }

    /// The task's user memory as a shareable handle, if it has one.
    pub fn memory_arc(&self) -> Option<&Arc<dyn UserMemory>> {
        self.memory.as_ref()
    }
}

impl fmt::Debug for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("pid", &self.pid)
            .field("tgid", &self.tgid)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("comm", &String::from_utf8_lossy(self.comm_name()))
            .field("has_memory", &self.memory.is_some())
            .finish()
    }
}

/// The kernel's `comm` from a name: at most 15 bytes (a trailing newline, as `/proc/*/comm`
/// ends with, dropped), NUL-padded.
fn comm_from(name: &[u8]) -> [u8; TASK_COMM_LEN] {
    let name = name.strip_suffix(b"\n").unwrap_or(name);
    let len = name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name.len())
        .min(TASK_COMM_LEN - 1);
    let mut comm = [0u8; TASK_COMM_LEN];
    comm[..len].copy_from_slice(&name[..len]);
    comm
}

fn read_proc(path: &Path) -> Result<Vec<u8>, TaskError> {
    std::fs::read(path).map_err(|source| TaskError::Proc {
        path: path.to_owned(),
        source,
    })
}

/// The first number of the `name:` line of a `/proc/*/status` file (for `Uid`/`Gid`, the real
/// id, which comes first).
fn status_field(status: &str, name: &str, path: &Path) -> Result<u32, TaskError> {
    let problem = |what: String| TaskError::ProcFormat {
        path: path.to_owned(),
        problem: what,
    };
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')))
        .ok_or_else(|| problem(format!("no `{name}:` line")))?;
    let first = line
        .split_whitespace()
        .next()
        .ok_or_else(|| problem(format!("empty `{name}:` line")))?;
    first
        .parse()
        .map_err(|_| problem(format!("`{name}:` value `{first}` is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_is_cut_to_fifteen_bytes_and_padded() {
        let t = Task::synthetic(7, 5, 1000, 100, b"a-very-long-command-name");
        assert_eq!(t.comm_name(), b"a-very-long-com");
        assert_eq!(t.comm()[15], 0);
        let t = Task::synthetic(7, 5, 1000, 100, b"sh\n");
        assert_eq!(t.comm(), b"sh\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn packed_ids_follow_the_helpers() {
        let t = Task::synthetic(0x1234, 0xabcd, 1000, 100, b"x");
        assert_eq!(t.pid_tgid(), 0x0000_abcd_0000_1234);
        assert_eq!(t.uid_gid(), (100u64 << 32) | 1000);
    }

    #[test]
    fn status_parsing_reports_what_is_wrong() {
        let p = Path::new("/proc/1/status");
        let s = "Name:\tx\nTgid:\t42\nUid:\t1000\t0\t0\t0\n";
        assert_eq!(status_field(s, "Tgid", p).ok(), Some(42));
        assert_eq!(status_field(s, "Uid", p).ok(), Some(1000));
        let err = status_field(s, "Gid", p).unwrap_err().to_string();
        assert!(err.contains("no `Gid:` line"), "{err}");
        let err = status_field("Pid:\tx1\n", "Pid", p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`x1` is not a number"), "{err}");
    }

    #[test]
    fn synthetic_task_without_memory_faults() {
        let t = Task::synthetic(1, 1, 0, 0, b"init");
        assert!(t.memory().read_may_fault(0x1000, &mut [0; 4]).is_err());
    }
}
