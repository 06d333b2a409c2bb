//! `lull bench`: times the interpreter and the JIT (both in checked mode) on the four CPU-bound
//! programs of `shared/bench` and prints nanoseconds per run and per executed instruction, next
//! to the same C compiled natively and timed the same way in the same run (`--no-native` to
//! skip), as ratios. `--maps` instead times hash-map lookups from a program in Lull and in the
//! live kernel ([`maps`]); `--kernel` every program of the runtime differential suite in
//! Lull and in the kernel ([`kernel`]); `--hooks` times read sections and host-hook runs ([`hooks`]).

mod hooks;
mod kernel;
mod maps;

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lull_interp::{Input, PrepareOptions, Program, Vm};
use lull_jit::{JitProgram, JitVm, Mode};

use crate::Outcome;
use crate::commands::input;
use crate::timing::median_ns_per_run;

/// `lull bench` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Directory holding `sum.bin`, `xorshift.bin`, `fnv1a.bin`, `bsort.bin` (default: the
    /// first of `../shared/bench` and `shared/bench` that exists).
    dir: Option<PathBuf>,
    /// Runs per program; the time reported is the median time of one run.
    #[arg(long, default_value_t = 30)]
    repeat: u64,
    /// Print one JSON line per program.
    #[arg(long)]
    json: bool,
    /// Do not compile and time the native (C, -O2) baseline.
    #[arg(long)]
    no_native: bool,
    /// Instead: hash-map lookups from a program, Lull against the kernel (root).
    #[arg(long)]
    maps: bool,
    /// Instead: every program of the runtime differential suite, Lull's engines against the
    /// kernel's JIT (root; from a Lull source tree).
    #[arg(long)]
    kernel: bool,
    /// Instead: read-section enter/exit and hook runs with empty programs, atomic and
    /// sleepable ([`hooks`]).
    #[arg(long)]
    hooks: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    if args.hooks {
        let scratch = std::env::temp_dir().join(format!("lull-bench-hooks-{}", std::process::id()));
        hooks::run(&scratch, args.json)?;
        return Ok(Outcome::Success);
    }
    if args.maps {
        return maps::run(args.repeat, args.json);
    }
    if args.kernel {
        return kernel::run(args.repeat, args.json);
    }
    let dir = lull_benchprogs::find_dir(args.dir.as_deref())?;
    let mut ok = true;
    let scratch = std::env::temp_dir().join(format!("lull-bench-{}", std::process::id()));
    if !args.json {
        println!(
            "{:<10} {:>14} {:>12} {:>10} {:>14} {:>10} {:>12} {:>10}  result",
            "program",
            "ns/run",
            "insns/run",
            "ns/insn",
            "native ns/run",
            "vs native",
            "jit ns/run",
            "jit/native"
        );
    }
    for p in lull_benchprogs::PROGRAMS {
        let (name, expected) = (p.name, p.expected);
        let path = dir.join(format!("{name}.bin"));
        let bytes = input::read(&path)?;
        let insns = input::decode_raw(&path, &bytes)?;
        let program = Program::prepare(&insns, &PrepareOptions::default())
            .with_context(|| path.display().to_string())?;
        let mut buf = lull_benchprogs::context_buffer();
        let mut vm = Vm::new();

        // One metered run for the result and the executed-instruction count.
        let retval = vm
            .run_mem(&program, &mut buf)
            .with_context(|| format!("{name}: run failed"))?;
        let executed = vm.executed().unwrap_or(0);
        let ns = median_ns_per_run(args.repeat, || vm.run_mem(&program, &mut buf).map(|_| ()))
            .with_context(|| format!("{name}: run failed"))?;
        let per_insn = if executed > 0 {
            ns as f64 / executed as f64
        } else {
            0.0
        };
        // The JIT (checked mode), timed right after the interpreter.
        let jit = JitProgram::compile(&insns, &PrepareOptions::default(), Mode::Checked)
            .with_context(|| format!("{name}: JIT compilation failed"))?;
        let mut jvm = JitVm::new();
        let jit_retval = jvm
            .run(&jit, Input::mem(&mut buf))
            .with_context(|| format!("{name}: JIT run failed"))?;
        let jit_ns = median_ns_per_run(args.repeat, || {
            jvm.run(&jit, Input::mem(&mut buf)).map(|_| ())
        })
        .with_context(|| format!("{name}: JIT run failed"))?;
        // The native baseline, timed right after the engines (same machine state).
        let native = if args.no_native {
            None
        } else {
            match lull_benchprogs::native::Native::build(&dir, name, &scratch)
                .and_then(|n| n.time(args.repeat))
            {
                Ok((r, nns)) if r == expected => Some(nns),
                Ok((r, _)) => bail!("{name}: the native build returned {r}, expected {expected}"),
                Err(e) => {
                    eprintln!("lull bench: no native baseline for {name}: {e:#}");
                    None
                }
            }
        };
        let ratio = native.map(|n| ns as f64 / n.max(1) as f64);
        let jit_ratio = native.map(|n| jit_ns as f64 / n.max(1) as f64);
        let good = retval == expected && jit_retval == expected;
        ok &= good;
        if args.json {
            let line = serde_json::json!({
                "program": name, "engine": "interp", "retval": retval, "expected": expected,
                "ok": good, "duration_ns": ns, "executed_insns": executed,
                "ns_per_insn": (per_insn * 1000.0).round() / 1000.0, "repeat": args.repeat.max(1),
                "native_ns": native, "ratio_to_native": ratio.map(|r| (r * 10.0).round() / 10.0),
                "jit_retval": jit_retval, "jit_ns": jit_ns,
                "jit_ratio_to_native": jit_ratio.map(|r| (r * 100.0).round() / 100.0),
            });
            println!("{line}");
        } else {
            let verdict = if good {
                "ok".to_string()
            } else {
                format!("WRONG: interp {retval}, jit {jit_retval}, expected {expected}")
            };
            let native_col = native.map_or("-".to_string(), |n| n.to_string());
            let ratio_col = ratio.map_or("-".to_string(), |r| format!("{r:.1}x"));
            let jit_col = jit_ratio.map_or("-".to_string(), |r| format!("{r:.2}x"));
            println!(
                "{name:<10} {ns:>14} {executed:>12} {per_insn:>10.3} {native_col:>14} {ratio_col:>10} {jit_ns:>12} {jit_col:>10}  {verdict}"
            );
        }
    }
    Ok(if ok {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
