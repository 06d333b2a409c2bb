//! One full run: prepare the corpus, list every case, ask the kernel and Lull, judge.

use crate::case::{Case, cases_of};
use crate::catalog;
use crate::compile::{Compiler, Flavor};
use crate::corpus::{self, Cache};
use crate::error::{Error, Result, io};
use crate::judge::{Judged, KernelView, judge, kernel_view};
use crate::lull;
use crate::oracle::{ListedProgram, Oracle};
use crate::spec::Mode;
use crate::sys;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Options of a run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Cache directory.
    pub cache: Cache,
    /// Ask the live kernel when possible.
    pub kernel: bool,
    /// Parallel jobs.
    pub jobs: usize,
    /// Only files whose stem contains this.
    pub filter: Option<String>,
}

impl Options {
    /// Defaults from the environment (`LULL_SELFTESTS_KERNEL=0` disables the oracle).
    pub fn from_env() -> Self {
        Options {
            cache: Cache::default_location(),
            kernel: std::env::var("LULL_SELFTESTS_KERNEL").map_or(true, |v| v != "0"),
            jobs: sys::jobs(),
            filter: std::env::var("LULL_SELFTESTS_FILTER").ok(),
        }
    }
}

/// The results of one object file.
#[derive(Clone, Debug)]
pub struct FileResult {
    /// The source stem.
    pub stem: String,
    /// Compile failure or relaxation, if any.
    pub compile_note: Option<String>,
    /// The object could not be read or listed.
    pub error: Option<String>,
    /// The judged cases.
    pub cases: Vec<Judged>,
}

/// Wall-clock times of the phases.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timings {
    /// Extraction, includes, compilation.
    pub corpus: Duration,
    /// Building libbpf and kcase.
    pub oracle_build: Duration,
    /// Listing, kernel loads, Lull, judging.
    pub cases: Duration,
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Per file, sorted by stem.
    pub files: Vec<FileResult>,
    /// The compile flavour.
    pub flavor: Flavor,
    /// The compiler flags used.
    pub clang_args: Vec<String>,
    /// Kernel release of the oracle.
    pub kernel_release: String,
    /// Why the oracle was not used (or limits on it), if so.
    pub oracle_notes: Vec<String>,
    /// Fallbacks taken while preparing.
    pub notes: Vec<String>,
    /// Phase timings.
    pub timings: Timings,
}

/// Finds a tool, installing its Debian package first when root and allowed.
fn tool(name: &str, package: &str) -> Result<PathBuf> {
    if let Some(p) = sys::which(name) {
        return Ok(p);
    }
    if sys::is_root() && std::env::var("LULL_SELFTESTS_NO_INSTALL").is_err() {
        eprintln!("lull-selftests: installing {package} with apt-get");
        let _ = sys::run(Command::new("apt-get").args(["install", "-y", "-q", package]));
        if let Some(p) = sys::which(name) {
            return Ok(p);
        }
    }
    Err(Error::Unavailable(format!(
        "{name} not found (apt-get install -y {package})"
    )))
}

/// Prepares the corpus and runs every case. `Err(Error::Unavailable)` means "skip".
pub fn run(opts: &Options) -> Result<RunReport> {
    let t0 = Instant::now();
    let clang = match std::env::var_os("LULL_CLANG") {
        Some(c) => PathBuf::from(c),
        None => tool("clang-19", "clang-19")?,
    };
    let bpftool = tool("bpftool", "bpftool")?;
    let tarball = corpus::find_tarball()?;
    let cache = &opts.cache;
    corpus::extract(cache, &tarball)?;
    let mut notes = corpus::prepare_includes(cache, &bpftool)?;
    let flavor = Flavor::from_env()?;
    let compiler = Compiler::new(cache, &clang, flavor)?;
    let mut compiled = compiler.compile_all(cache, opts.jobs)?;
    if let Some(f) = &opts.filter {
        compiled.retain(|c| c.stem.contains(f.as_str()));
    }
    let corpus_time = t0.elapsed();

    let t1 = Instant::now();
    let mut oracle_notes = Vec::new();
    let oracle = if !opts.kernel {
        oracle_notes.push("kernel oracle disabled (LULL_SELFTESTS_KERNEL=0)".to_string());
        None
    } else {
        match Oracle::build(cache, opts.jobs) {
            Ok(o) => {
                if !o.can_load {
                    oracle_notes.push("not root: kernel verdicts not collected".into());
                }
                if let Some(why) = &o.unpriv_blocked {
                    oracle_notes.push(format!(
                        "unprivileged cases not loaded in the kernel: {why}"
                    ));
                }
                Some(o)
            }
            Err(e) => {
                oracle_notes.push(format!("kernel oracle unavailable: {e}"));
                None
            }
        }
    };
    let oracle_build = t1.elapsed();

    let t2 = Instant::now();
    let files = sys::parallel_map(&compiled, opts.jobs, |c| match &c.object {
        None => FileResult {
            stem: c.stem.clone(),
            compile_note: c.note.clone(),
            error: None,
            cases: vec![],
        },
        Some(obj) => run_file(&c.stem, obj, c.note.clone(), oracle.as_ref()),
    });
    notes.sort();
    Ok(RunReport {
        files,
        flavor,
        clang_args: compiler.args().to_vec(),
        kernel_release: sys::kernel_release(),
        oracle_notes,
        notes,
        timings: Timings {
            corpus: corpus_time,
            oracle_build,
            cases: t2.elapsed(),
        },
    })
}

fn run_file(
    stem: &str,
    obj: &Path,
    compile_note: Option<String>,
    oracle: Option<&Oracle>,
) -> FileResult {
    let fail = |e: String| FileResult {
        stem: stem.to_string(),
        compile_note: compile_note.clone(),
        error: Some(e),
        cases: vec![],
    };
    let data = match std::fs::read(obj).map_err(io(obj)) {
        Ok(d) => d,
        Err(e) => return fail(e.to_string()),
    };
    let programs = match catalog::programs(obj, &data) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let cases = cases_of(stem, &programs);

    // libbpf's view: program types for the EPERM classification, and a cross-check of
    // lull-btf's decl tags and our program list against libbpf's.
    let listed: Option<HashMap<String, ListedProgram>> = match oracle.map(|o| o.list(obj)) {
        Some(Ok(list)) => {
            let ours: Vec<(&str, &[String])> = programs
                .iter()
                .map(|p| (p.name.as_str(), p.tags.as_slice()))
                .collect();
            let theirs: Vec<(&str, &[String])> = list
                .iter()
                .map(|p| (p.name.as_str(), p.tags.as_slice()))
                .collect();
            if ours != theirs {
                return fail("programs or decl tags differ between lull-btf and libbpf".into());
            }
            Some(list.into_iter().map(|p| (p.name.clone(), p)).collect())
        }
        Some(Err(e)) => return fail(format!("libbpf cannot open the object: {e}")),
        None => None,
    };

    let mut views: Vec<KernelView> = cases.iter().map(|c| initial_view(c, oracle)).collect();
    if let Some(o) = oracle {
        let todo: Vec<usize> = (0..cases.len())
            .filter(|&i| views[i].is_pending())
            .collect();
        let selected: Vec<&Case> = todo.iter().map(|&i| &cases[i]).collect();
        match o.load(stem, obj, &selected) {
            Ok(runs) => {
                for (i, run) in todo.into_iter().zip(runs) {
                    let lp = listed.as_ref().and_then(|l| l.get(&cases[i].program));
                    views[i] = kernel_view(run, lp.map(|p| p.prog_type), lp.map(|p| p.attach_type));
                }
            }
            Err(e) => {
                for i in todo {
                    views[i] = KernelView::NotRun(format!("oracle failed: {e}"));
                }
            }
        }
    }
    let judged = cases
        .into_iter()
        .zip(views)
        .map(|(case, view)| {
            let lull = lull::verify_case(&data, &case);
            judge(case, view, lull)
        })
        .collect();
    FileResult {
        stem: stem.to_string(),
        compile_note,
        error: None,
        cases: judged,
    }
}

const PENDING: &str = "\u{0}pending";

impl KernelView {
    fn is_pending(&self) -> bool {
        matches!(self, KernelView::NotRun(s) if s == PENDING)
    }
}

fn initial_view(case: &Case, oracle: Option<&Oracle>) -> KernelView {
    let not_run = |s: &str| KernelView::NotRun(s.to_string());
    match oracle {
        _ if case.skip.is_some() => not_run("case skipped"),
        None => not_run("no kernel oracle"),
        Some(o) if !o.can_load => not_run("not root"),
        Some(o) if case.mode == Mode::Unpriv && o.unpriv_blocked.is_some() => not_run(
            o.unpriv_blocked
                .as_deref()
                .unwrap_or("unprivileged BPF disabled"),
        ),
        Some(_) => not_run(PENDING),
    }
}
