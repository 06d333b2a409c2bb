//! The kernel side of a case: the `ktestrun` shim loads the object with libbpf, writes the
//! prefill, pins itself to the case's CPU, runs `BPF_PROG_TEST_RUN` and dumps every map as
//! JSON, which is turned into a [`RunResult`] here.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use crate::bytes::{from_hex, to_hex};
use crate::dump::{MapDump, RunResult, canonical_map_name};
use crate::manifest::Case;
use crate::{Error, Result};

/// The built shim.
#[derive(Clone, Debug)]
pub struct Kernel {
    bin: PathBuf,
}

/// `BPF_MAP_TYPE_*` numbers whose dumps are sequences, not keyed sets.
const SEQUENCE_MAPS: [u32; 3] = [22, 23, 27]; // queue, stack, ringbuf

#[derive(Deserialize)]
struct Output {
    ncpus: u32,
    stage: String,
    errno: i32,
    log: String,
    #[serde(default)]
    run_errno: i32,
    #[serde(default)]
    retval: u32,
    #[serde(default)]
    duration_ns: u64,
    #[serde(default)]
    data_out: String,
    #[serde(default)]
    ctx_out: String,
    maps: Vec<OutMap>,
}

#[derive(Deserialize)]
struct OutMap {
    name: String,
    #[serde(rename = "type")]
    map_type: u32,
    entries: Vec<(String, String)>,
}

/// One kernel run.
#[derive(Clone, Debug)]
pub struct KernelRun {
    /// What the run left behind.
    pub result: RunResult,
    /// The kernel's possible CPUs (the size of per-CPU values).
    pub nr_cpus: u32,
    /// The kernel's own per-run duration (socket_filter, XDP, tc).
    pub duration_ns: u64,
    /// Whether the failure means `bpf()` is not usable here (not root, EPERM).
    pub no_permission: bool,
}

/// The errno of "not allowed".
const EPERM: i32 = 1;

impl Kernel {
    /// Builds the shim into `dir`.
    pub fn build(dir: &Path) -> Result<Kernel> {
        Ok(Kernel {
            bin: crate::build::ktestrun(dir)?,
        })
    }

    /// Whether this process can expect `bpf()` to work (effective uid 0).
    pub fn privileged() -> bool {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|e| e == "0"))
                .unwrap_or(false)
        })
    }

    /// Runs `case` (object `obj`) once, dumping the maps.
    pub fn run_case(&self, obj: &Path, case: &Case) -> Result<KernelRun> {
        let cmd = self.case_command(obj, case, 1)?;
        self.exec(cmd)
    }

    /// Runs `case` `repeat` times (one `BPF_PROG_TEST_RUN`) without dumping maps, for the
    /// kernel's own per-run duration.
    pub fn time_case(&self, obj: &Path, case: &Case, repeat: u32) -> Result<KernelRun> {
        let mut cmd = self.case_command(obj, case, repeat)?;
        cmd.arg("--no-dump");
        self.exec(cmd)
    }

    /// The shim's command line for `case`: its input, prefill and CPU.
    fn case_command(&self, obj: &Path, case: &Case, repeat: u32) -> Result<Command> {
        let mut cmd = self.command(obj, &case.program, case.cpu, repeat);
        if let Some(d) = &case.data {
            cmd.arg("--data").arg(to_hex(&crate::bytes::parse(d)?));
        }
        if let Some(c) = case.ctx_bytes()? {
            cmd.arg("--ctx").arg(to_hex(&c));
        }
        // The shim needs the number of CPUs before it knows it: per-CPU prefills are written
        // for the machine's possible CPUs, which `nr_possible_cpus` reads the same way.
        let ncpus = nr_possible_cpus();
        for p in &case.prefill {
            cmd.arg("--set").arg(format!(
                "{}:{}:{}:{}",
                p.map,
                to_hex(&p.key_bytes()?),
                to_hex(&p.value_bytes(ncpus)?),
                p.flags
            ));
        }
        Ok(cmd)
    }

    /// Runs program `prog` of `obj` `repeat` times with packet `data` after writing the
    /// elements `sets` (map name, key, value), without dumping maps (for timing).
    pub fn time(
        &self,
        obj: &Path,
        prog: &str,
        data: &[u8],
        repeat: u32,
        sets: &[(String, Vec<u8>, Vec<u8>)],
    ) -> Result<KernelRun> {
        let mut cmd = self.command(obj, prog, 0, repeat);
        cmd.arg("--no-dump").arg("--data").arg(to_hex(data));
        for (map, k, v) in sets {
            cmd.arg("--set")
                .arg(format!("{map}:{}:{}:0", to_hex(k), to_hex(v)));
        }
        self.exec(cmd)
    }

    fn command(&self, obj: &Path, prog: &str, cpu: u32, repeat: u32) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--obj")
            .arg(obj)
            .arg("--prog")
            .arg(prog)
            .arg("--cpu")
            .arg(cpu.to_string())
            .arg("--repeat")
            .arg(repeat.to_string());
        cmd
    }

    fn exec(&self, mut cmd: Command) -> Result<KernelRun> {
        let out = cmd.output().map_err(|e| Error::Tool {
            tool: "ktestrun".into(),
            message: e.to_string(),
        })?;
        if !out.status.success() {
            return Err(Error::Tool {
                tool: "ktestrun".into(),
                message: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        let o: Output =
            serde_json::from_slice(&out.stdout).map_err(|e| Error::KernelOutput(e.to_string()))?;
        parse(o)
    }
}

fn parse(o: Output) -> Result<KernelRun> {
    let mut result = RunResult::default();
    let no_permission = o.stage != "ok" && o.errno == EPERM;
    if o.stage != "ok" {
        let log: String = o.log.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
        result.run_error = Some(format!("{} failed, errno {}: {log}", o.stage, o.errno));
    } else if o.run_errno != 0 {
        result.run_error = Some(format!("BPF_PROG_TEST_RUN errno {}", o.run_errno));
    }
    result.retval = o.retval;
    let hex = |s: &str| from_hex(s).map_err(Error::KernelOutput);
    result.data_out = hex(&o.data_out)?;
    result.ctx_out = hex(&o.ctx_out)?;
    for m in o.maps {
        let mut entries = MapDump::new();
        for (k, v) in &m.entries {
            entries.push((hex(k)?, hex(v)?));
        }
        if !SEQUENCE_MAPS.contains(&m.map_type) {
            entries.sort();
        }
        result.maps.insert(canonical_map_name(&m.name), entries);
    }
    Ok(KernelRun {
        result,
        nr_cpus: o.ncpus,
        duration_ns: o.duration_ns,
        no_permission,
    })
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`, e.g. `0-1`), as libbpf
/// counts them; falls back to the available parallelism.
pub fn nr_possible_cpus() -> u32 {
    let parse = |s: &str| -> Option<u32> {
        let mut n = 0;
        for part in s.trim().split(',') {
            let last: u32 = part.rsplit('-').next()?.parse().ok()?;
            n = n.max(last.checked_add(1)?);
        }
        Some(n)
    };
    std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .ok()
        .and_then(|s| parse(&s))
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32))
}
