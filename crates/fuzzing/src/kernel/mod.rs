//! The running kernel as the reference verifier: creates a program's maps, loads it with
//! `BPF_PROG_LOAD` (log level 1, license "GPL") and reports the verdict, the errno, the last
//! error line of the log and `processed N insns`. Needs root and a kernel with `bpf()`;
//! [`available`] says why not otherwise.

mod sys;

use lull_isa::{LdImm64Kind, RawInsn};

use crate::program::TestProgram;

/// `BPF_F_SLEEPABLE`.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// Log buffer size: enough for the error path of any generated program.
const LOG_SIZE: usize = 4 << 20;

/// The kernel's judgement of one program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelVerdict {
    /// Whether `BPF_PROG_LOAD` succeeded.
    pub accepted: bool,
    /// The errno of a rejection (0 when accepted).
    pub errno: i32,
    /// The last log line that is not a statistics line (the error message on rejection).
    pub error_line: String,
    /// From `processed N insns`, when the log has it.
    pub insns_processed: Option<u64>,
    /// The whole log.
    pub log: String,
}

/// Why the kernel could not judge a program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    /// Not running as root.
    #[error("not root (euid {0}): the kernel oracle needs CAP_BPF/CAP_SYS_ADMIN")]
    NotRoot(u32),
    /// `bpf()` itself does not work.
    #[error("bpf() unavailable: {0}")]
    Unavailable(String),
    /// A map of the program could not be created.
    #[error("map {index} ({spec}): BPF_MAP_CREATE failed: {err}")]
    MapCreate {
        /// Index of the map.
        index: usize,
        /// Its description.
        spec: String,
        /// The error.
        err: String,
    },
}

fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// Checks that the kernel oracle works here: root, and a trivial socket filter loads.
pub fn available() -> Result<(), KernelError> {
    let euid = sys::euid();
    if euid != 0 {
        return Err(KernelError::NotRoot(euid));
    }
    let prog = TestProgram {
        prog_type: lull_abi::ProgType::SocketFilter,
        expected_attach: None,
        sleepable: false,
        maps: Vec::new(),
        insns: lull_isa::asm::assemble("r0 = 0\nexit")
            .map_err(|e| KernelError::Unavailable(e.to_string()))?,
    };
    let v = load(&prog)?;
    if v.accepted {
        Ok(())
    } else {
        Err(KernelError::Unavailable(format!(
            "a trivial program was refused: {} ({})",
            errno_text(v.errno),
            v.error_line
        )))
    }
}

/// Creates the maps of `p`, loads it and returns the kernel's verdict; every descriptor is
/// closed before returning.
pub fn load(p: &TestProgram) -> Result<KernelVerdict, KernelError> {
    let mut fds = Vec::with_capacity(p.maps.len());
    for (index, m) in p.maps.iter().enumerate() {
        let fd = sys::map_create(
            m.map_type.to_u32(),
            m.key_size,
            m.value_size,
            m.max_entries,
            m.flags,
        )
        .map_err(|e| KernelError::MapCreate {
            index,
            spec: m.to_string(),
            err: errno_text(e),
        })?;
        fds.push(fd);
    }
    let mut raw = p.raw();
    patch_map_fds(&mut raw, &fds);
    let bytes: Vec<u8> = raw.iter().flat_map(|r| r.to_bytes()).collect();
    let mut log = vec![0u8; LOG_SIZE];
    let flags = if p.sleepable { BPF_F_SLEEPABLE } else { 0 };
    let attach = p.expected_attach.map_or(0, |a| a.to_u32());
    let attempt = |log: &mut [u8], level| {
        sys::prog_load(sys::ProgLoad {
            prog_type: p.prog_type.to_u32(),
            expected_attach_type: attach,
            prog_flags: flags,
            insns: &bytes,
            license: c"GPL",
            log_level: level,
            log,
        })
    };
    let mut result = attempt(&mut log, 1);
    if matches!(result, Err(libc::ENOSPC)) {
        // The log did not fit (a path of a million instructions): the buffer holds its tail,
        // with the error message, but the load failed because of the log; judge again
        // without one for the verifier's own verdict.
        result = attempt(&mut [], 0);
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    let log = String::from_utf8_lossy(&log[..end]).into_owned();
    let (error_line, insns_processed) = parse_log(&log);
    Ok(match result {
        Ok(_fd) => KernelVerdict {
            accepted: true,
            errno: 0,
            error_line,
            insns_processed,
            log,
        },
        Err(errno) => KernelVerdict {
            accepted: false,
            errno,
            error_line,
            insns_processed,
            log,
        },
    })
}

/// Replaces map indices in `ld_imm64` map references by the file descriptors.
fn patch_map_fds(raw: &mut [RawInsn], fds: &[std::os::fd::OwnedFd]) {
    use std::os::fd::AsRawFd;
    let mut i = 0;
    while i < raw.len() {
        let r = raw[i];
        if r.code == 0x18 {
            let kind = LdImm64Kind::from_src(r.src());
            if matches!(kind, Some(LdImm64Kind::MapFd | LdImm64Kind::MapValue))
                && let Some(fd) = usize::try_from(r.imm).ok().and_then(|k| fds.get(k))
            {
                raw[i].imm = fd.as_raw_fd();
            }
            i += 2;
        } else {
            i += 1;
        }
    }
}

/// Whether a log line is statistics rather than a message.
fn is_stats_line(l: &str) -> bool {
    l.is_empty()
        || l.starts_with("processed ")
        || l.starts_with("verification time")
        || l.starts_with("stack depth")
}

/// Whether a line is a state dump that follows a message (`infinite loop detected at insn
/// 9` is followed by `cur state: …` and `old state: …`).
fn is_state_dump(l: &str) -> bool {
    l.starts_with("cur state:") || l.starts_with("old state:")
}

/// The error line and the `processed N insns` count of a kernel log: the last line that is
/// neither statistics nor a state dump following the message.
pub fn parse_log(log: &str) -> (String, Option<u64>) {
    let mut last = "";
    let mut processed = None;
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("processed ") {
            processed = rest.split_whitespace().next().and_then(|n| n.parse().ok());
        }
        if !is_stats_line(line) && !is_state_dump(line) {
            last = line;
        }
    }
    (last.to_string(), processed)
}

/// The errno name for a number (`EACCES`), for reports and regression files.
pub fn errno_name(e: i32) -> String {
    match e {
        0 => "0".into(),
        libc::EACCES => "EACCES".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EPERM => "EPERM".into(),
        libc::E2BIG => "E2BIG".into(),
        libc::EFAULT => "EFAULT".into(),
        524 => "ENOTSUPP".into(),
        libc::ENOSPC => "ENOSPC".into(),
        libc::ENOENT => "ENOENT".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_parsing_takes_the_last_message_and_the_count() {
        let log = "0: (b7) r0 = 0\nR0 !read_ok\nprocessed 3 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let (last, n) = parse_log(log);
        assert_eq!(last, "R0 !read_ok");
        assert_eq!(n, Some(3));
        assert_eq!(parse_log(""), (String::new(), None));
        let lp = "infinite loop detected at insn 9\ncur state: R1=0\nold state: R1=0\nprocessed 20 insns\n";
        assert_eq!(parse_log(lp).0, "infinite loop detected at insn 9");
    }
}
