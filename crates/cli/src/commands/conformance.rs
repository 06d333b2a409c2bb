//! `lull conformance DIR`: runs every bpf_conformance `.data` file in a directory; the last line
//! printed is `N passed, N failed`, and the exit status is 1 when any case failed.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lull_conformance::{CaseOutcome, InterpEngine, JitEngine, run_dir_with};

use crate::Outcome;
use crate::commands::run::Engine;

/// `lull conformance` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Directory of `.data` files.
    dir: PathBuf,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "interp")]
    engine: Engine,
    /// Print every case, not only the failures.
    #[arg(short, long)]
    verbose: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    let mut engine: Box<dyn lull_conformance::Engine> = match args.engine {
        Engine::Interp => Box::new(InterpEngine::new()),
        Engine::Jit => Box::new(JitEngine::new()),
    };
    let summary = run_dir_with(&args.dir, engine.as_mut())
        .with_context(|| format!("cannot read directory {}", args.dir.display()))?;
    if summary.cases.is_empty() {
        bail!("{}: no .data files", args.dir.display());
    }
    for (name, outcome) in &summary.cases {
        match outcome {
            CaseOutcome::Pass if args.verbose => println!("PASS {name}"),
            CaseOutcome::Pass => {}
            CaseOutcome::Fail(reason) => println!("FAIL {name}: {reason}"),
        }
    }
    println!("{} passed, {} failed", summary.passed(), summary.failed());
    Ok(if summary.failed() == 0 {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
