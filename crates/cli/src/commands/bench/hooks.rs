//! `lull bench --hooks`: what the sleepable-program machinery costs, measured side by side in
//! one run — entering and leaving a read section of each flavour (`lull_rcu`), running an
//! empty program directly (`run_args`), and running a host hook ([`lull_runtime::Hook`]) with
//! no program and with one empty program, atomic and sleepable. Every figure is nanoseconds
//! per operation, the best of several rounds (which filters out other load on the machine).
//!
//! The empty programs (`hooks_progs.c`) are compiled with clang-19 at bench time; without it
//! only the section costs are printed.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use lull_abi::ProgType;
use lull_runtime::{Hook, HookInput, HookSpec, LoadedProgram, Runtime, RuntimeOptions};
use serde_json::json;

const PROGRAMS: &str = include_str!("hooks_progs.c");
/// Rounds per figure (the best is kept).
const ROUNDS: u32 = 7;
/// Iterations per round of the section figures.
const SECTION_ITERS: u64 = 2_000_000;
/// Iterations per round of the run figures.
const RUN_ITERS: u64 = 100_000;

/// Best nanoseconds per call of `f` over `ROUNDS` rounds of `iters` calls.
fn best<E>(iters: u64, mut f: impl FnMut() -> Result<(), E>) -> Result<f64, E> {
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..iters {
            f()?;
        }
        best = best.min(start.elapsed().as_nanos() as f64 / iters as f64);
    }
    Ok(best)
}

/// Costs of running programs and hooks (atomic, sleepable).
struct RunCosts {
    direct: (f64, f64),
    hook_empty: (f64, f64),
    hook_one: (f64, f64),
}

/// Compiles the empty programs into `scratch`; `None` when clang-19 is missing.
fn compile(scratch: &Path) -> Result<Option<std::path::PathBuf>> {
    std::fs::create_dir_all(scratch)
        .with_context(|| format!("cannot create {}", scratch.display()))?;
    let src = scratch.join("hooks_progs.c");
    let obj = scratch.join("hooks_progs.o");
    std::fs::write(&src, PROGRAMS)?;
    let out = match Command::new("clang-19")
        .args([
            "-O2",
            "-target",
            "bpf",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("lull bench --hooks: clang-19 not available ({e}); hook runs skipped");
            return Ok(None);
        }
    };
    if !out.status.success() {
        bail!(
            "compiling the hook benchmark programs failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(Some(obj))
}

fn run_costs(obj: &Path, iters: u64) -> Result<RunCosts> {
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        ..RuntimeOptions::default()
    });
    let object = lull_object::Object::open(obj, &Default::default())
        .with_context(|| obj.display().to_string())?;
    let loaded = rt.load(object)?;
    let atomic = loaded.program("empty")?;
    let sleepable = loaded.program("empty_sleepable")?;
    let args = [0u64; 5];
    let direct = |p: &Arc<LoadedProgram>| best(iters, || p.run_args(black_box(args)).map(|_| ()));
    let hook_run = |h: &Hook| {
        best(iters, || {
            h.run(black_box(HookInput::Args(args))).map(|_| ())
        })
    };
    let atomic_hook = rt.hook(HookSpec::new("bench_atomic", ProgType::Kprobe));
    let sleepable_hook = rt.hook(HookSpec::new("bench_sleepable", ProgType::Kprobe).sleepable());
    let hook_empty = (hook_run(&atomic_hook)?, hook_run(&sleepable_hook)?);
    let _a = atomic_hook.attach(&atomic)?;
    let _s = sleepable_hook.attach(&sleepable)?;
    Ok(RunCosts {
        direct: (direct(&atomic)?, direct(&sleepable)?),
        hook_empty,
        hook_one: (hook_run(&atomic_hook)?, hook_run(&sleepable_hook)?),
    })
}

/// Runs the hooks benchmark and prints its section (`json`: one JSON line).
pub fn run(scratch: &Path, json: bool) -> Result<()> {
    let domain = lull_rcu::Domain::new();
    let sections = lull_rcu::cost::measure(&domain, SECTION_ITERS);
    let runs = match compile(scratch)? {
        Some(obj) => Some(run_costs(&obj, RUN_ITERS)?),
        None => None,
    };
    let r2 = |v: f64| (v * 100.0).round() / 100.0;
    if json {
        let mut v = json!({
            "section": "hooks",
            "atomic_section_ns": r2(sections.atomic_ns),
            "sleepable_section_ns": r2(sections.sleepable_ns),
            "atomic_section_lookup_ns": r2(sections.atomic_lookup_ns),
            "sleepable_section_lookup_ns": r2(sections.sleepable_lookup_ns),
        });
        if let Some(r) = &runs {
            v["empty_run_atomic_ns"] = json!(r2(r.direct.0));
            v["empty_run_sleepable_ns"] = json!(r2(r.direct.1));
            v["hook_no_program_atomic_ns"] = json!(r2(r.hook_empty.0));
            v["hook_no_program_sleepable_ns"] = json!(r2(r.hook_empty.1));
            v["hook_empty_program_atomic_ns"] = json!(r2(r.hook_one.0));
            v["hook_empty_program_sleepable_ns"] = json!(r2(r.hook_one.1));
        }
        println!("{v}");
        return Ok(());
    }
    println!("read sections and hooks: ns per operation (best of {ROUNDS} rounds)");
    println!("{:<44} {:>10} {:>10}", "", "atomic", "sleepable");
    let row = |what: &str, (a, s): (f64, f64)| println!("{what:<44} {a:>10.2} {s:>10.2}");
    row(
        "section enter+exit (registered reader)",
        (sections.atomic_ns, sections.sleepable_ns),
    );
    row(
        "section enter+exit (Domain::read_*)",
        (sections.atomic_lookup_ns, sections.sleepable_lookup_ns),
    );
    match &runs {
        Some(r) => {
            row("empty program, direct run (run_args)", r.direct);
            row("hook run, no program attached", r.hook_empty);
            row("hook run, one empty program attached", r.hook_one);
        }
        None => println!("(hook runs skipped: clang-19 not available)"),
    }
    Ok(())
}
