//! `lull run --raw FILE.bin`: run a raw program on the interpreter, the analogue of
//! `BPF_PROG_TEST_RUN` (r1 = the `--mem` bytes, r2 = their length).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lull_interp::{PrepareOptions, Program, Vm};

use crate::Outcome;
use crate::commands::input;
use crate::timing::median_ns_per_run;

/// Execution engines.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Engine {
    /// The interpreter (checked mode: every memory access is validated).
    Interp,
    /// The JIT compiler (not built yet).
    Jit,
}

/// `lull run` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Raw little-endian instruction file (`.bin`).
    #[arg(long, value_name = "FILE.bin")]
    raw: PathBuf,
    /// Input memory: r1 points to a copy of these bytes and r2 holds their length.
    #[arg(long, value_name = "FILE")]
    mem: Option<PathBuf>,
    /// How many times to run the program; the reported time is the median time of one run.
    #[arg(long, default_value_t = 1)]
    repeat: u64,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "interp")]
    engine: Engine,
    /// Print one JSON line `{"retval", "duration_ns", "repeat"}`.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    if let Engine::Jit = args.engine {
        bail!("the JIT engine is not available yet; use --engine interp");
    }
    let bytes = input::read(&args.raw)?;
    let insns = input::decode_raw(&args.raw, &bytes)?;
    let program = Program::prepare(&insns, &PrepareOptions::default())
        .with_context(|| args.raw.display().to_string())?;
    let mut mem = match &args.mem {
        Some(path) => input::read(path)?,
        None => Vec::new(),
    };

    let mut vm = Vm::new();
    let mut retval = 0u64;
    let duration_ns = median_ns_per_run(args.repeat, || {
        retval = vm.run_mem(&program, &mut mem)?;
        Ok::<(), lull_interp::Fault>(())
    })
    .with_context(|| format!("{}: run failed", args.raw.display()))?;

    if args.json {
        let line = serde_json::json!({
            "retval": retval,
            "duration_ns": duration_ns,
            "repeat": args.repeat.max(1),
        });
        println!("{line}");
    } else {
        println!("retval: {retval} ({retval:#x})");
        println!(
            "duration: {duration_ns} ns per run (median, {} runs)",
            args.repeat.max(1)
        );
    }
    Ok(Outcome::Success)
}
