//! `lull-conformance`: runs the bpf_conformance suite's `.data` files on a Lull engine.
//!
//! A case is read ([`parse`]), its program taken from `-- raw` (decoded; an `-- asm` section in
//! the same file must assemble to the same instructions) or else from `-- asm` (assembled with
//! [`lull_isa::asm`], conformance syntax), and executed by an [`Engine`] with r1 = the `-- mem`
//! bytes (0 when there are none), r2 = their length and the suite's helpers
//! ([`conformance_helpers`]).
//!
//! Verdict rules (those of the upstream runner, except where noted):
//! - `-- result N`: passes when the program returns exactly `N`.
//! - `-- error MSG`: passes when the *engine* rejects the program (decode or prepare error) or
//!   the run faults, and the engine's message contains `MSG`. (Upstream compares the plugin's
//!   output for equality; engines word their messages differently, so containment is used.)
//! - A malformed file (unknown directive, no program, neither a result nor a non-empty error
//!   message, bad numbers) and a program that does not assemble always fail: in upstream these
//!   are rejected by the test harness itself, never matched against an expected error.
#![forbid(unsafe_code)]

mod engine;
mod helpers;
pub mod parse;

use std::fmt;
use std::path::{Path, PathBuf};

pub use engine::{Engine, InterpEngine, JitEngine};
pub use helpers::conformance_helpers;
use lull_isa::{Insn, Located, asm};
use parse::{Expectation, TestFile};

/// Cases of the suite this runner does not consider applicable, with the reason (empty: every
/// case applies).
pub const NOT_APPLICABLE: &[(&str, &str)] = &[];

/// The verdict on one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseOutcome {
    /// The engine behaved as the case expects.
    Pass,
    /// It did not, or the case could not be run; the reason.
    Fail(String),
}

impl CaseOutcome {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        matches!(self, CaseOutcome::Pass)
    }
}

/// The outcomes of a directory of cases, in file-name order.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Each case's file name and outcome.
    pub cases: Vec<(String, CaseOutcome)>,
}

impl Summary {
    /// Number of passed cases.
    pub fn passed(&self) -> usize {
        self.cases.iter().filter(|(_, o)| o.passed()).count()
    }

    /// Number of failed cases.
    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }

    /// Names of the failed cases.
    pub fn failed_names(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|(_, o)| !o.passed())
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Names of the passed cases.
    pub fn passed_names(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|(_, o)| o.passed())
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

impl fmt::Display for Summary {
    /// One `FAIL name: reason` line per failed case, then `N passed, N failed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, outcome) in &self.cases {
            if let CaseOutcome::Fail(reason) = outcome {
                writeln!(f, "FAIL {name}: {reason}")?;
            }
        }
        write!(f, "{} passed, {} failed", self.passed(), self.failed())
    }
}

/// Runs one `.data` file on the interpreter.
pub fn run_file(path: impl AsRef<Path>) -> CaseOutcome {
    run_file_with(path, &mut InterpEngine::new())
}

/// Runs one `.data` file on `engine`.
pub fn run_file_with(path: impl AsRef<Path>, engine: &mut dyn Engine) -> CaseOutcome {
    let path = path.as_ref();
    match std::fs::read_to_string(path) {
        Ok(text) => run_text(&text, engine),
        Err(e) => CaseOutcome::Fail(format!("cannot read {}: {e}", path.display())),
    }
}

/// Runs every `.data` file of `dir` (not recursive) on the interpreter.
pub fn run_dir(dir: impl AsRef<Path>) -> std::io::Result<Summary> {
    run_dir_with(dir, &mut InterpEngine::new())
}

/// Runs every `.data` file of `dir` (not recursive) on `engine`, in file-name order.
pub fn run_dir_with(dir: impl AsRef<Path>, engine: &mut dyn Engine) -> std::io::Result<Summary> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data") && p.is_file())
        .collect();
    files.sort();
    let cases = files
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            (name, run_file_with(p, engine))
        })
        .collect();
    Ok(Summary { cases })
}

/// Runs the text of one `.data` file on `engine`.
pub fn run_text(text: &str, engine: &mut dyn Engine) -> CaseOutcome {
    let test = match parse::parse(text) {
        Ok(t) => t,
        Err(e) => return CaseOutcome::Fail(format!("malformed test file: {e}")),
    };
    let program = match program(&test) {
        Ok(p) => p,
        Err(Rejected::Harness(reason)) => return CaseOutcome::Fail(reason),
        Err(Rejected::Engine(message)) => return judge(&test.expect, Err(message)),
    };
    let mut mem = test.mem.clone();
    judge(&test.expect, engine.execute(&program, &mut mem))
}

/// Who rejected a program before it ran.
enum Rejected {
    /// The test harness (assembly error, inconsistent file): always a failure.
    Harness(String),
    /// The engine's loader (undecodable bytes): may be an expected error.
    Engine(String),
}

/// The program of a case: the decoded `raw` slots (cross-checked against `asm` when both are
/// present) or the assembled `asm`.
fn program(test: &TestFile) -> Result<Vec<Located>, Rejected> {
    let assembled = test
        .asm
        .as_deref()
        .map(|text| {
            asm::assemble_with(text, asm::Syntax::Conformance)
                .map_err(|e| Rejected::Harness(format!("assembly error: {e}")))
        })
        .transpose()?;
    match &test.raw {
        Some(raw) => {
            let decoded = lull_isa::decode(raw)
                .map_err(|e| Rejected::Engine(format!("decode error: {e}")))?;
            if let Some(a) = assembled {
                let from_raw: Vec<Insn> = decoded.iter().map(|l| l.insn).collect();
                if a != from_raw {
                    return Err(Rejected::Harness(
                        "`-- asm` and `-- raw` describe different programs".to_string(),
                    ));
                }
            }
            Ok(decoded)
        }
        None => Ok(locate(&assembled.unwrap_or_default())),
    }
}

/// Gives each instruction its raw slot index.
fn locate(insns: &[Insn]) -> Vec<Located> {
    let mut slot = 0;
    insns
        .iter()
        .map(|&insn| {
            let l = Located { slot, insn };
            slot += insn.slots();
            l
        })
        .collect()
}

fn judge(expect: &Expectation, got: Result<u64, String>) -> CaseOutcome {
    match (expect, got) {
        (Expectation::Result(want), Ok(r0)) if *want == r0 => CaseOutcome::Pass,
        (Expectation::Result(want), Ok(r0)) => {
            CaseOutcome::Fail(format!("returned {r0:#x}, expected {want:#x}"))
        }
        (Expectation::Result(want), Err(e)) => {
            CaseOutcome::Fail(format!("failed ({e}), expected result {want:#x}"))
        }
        (Expectation::Error(msg), Err(e)) if e.contains(msg.as_str()) => CaseOutcome::Pass,
        (Expectation::Error(msg), Err(e)) => CaseOutcome::Fail(format!(
            "failed with `{e}`, expected an error containing `{msg}`"
        )),
        (Expectation::Error(msg), Ok(r0)) => {
            CaseOutcome::Fail(format!("returned {r0:#x}, expected an error `{msg}`"))
        }
    }
}
