//! The four CPU-bound programs of `shared/bench` on every engine in one run: the interpreter
//! (checked, trusted), the JIT (checked, trusted) and the same C compiled natively (`cc -O2`,
//! with `lull bench`'s timing driver), each as the median time of one run over 15 batches.
//! `cargo bench -p lull-jit` prints the time per run and the ratio to native.
// Trusted mode is an `unsafe fn`; each program's memory safety is shown by a checked run first
// (the programs are deterministic and take no helpers).
#![allow(unsafe_code)]

use std::path::Path;
use std::time::Instant;

use lull_benchprogs::native::Native;
use lull_benchprogs::{PROGRAMS, context_buffer, find_dir, load};
use lull_interp::{Input, PrepareOptions, Program, Vm};
use lull_jit::{JitProgram, JitVm, Mode};

const BATCHES: u64 = 15;

/// Median over `BATCHES` batches of the mean time of one call, in ns.
fn time(runs: u64, mut f: impl FnMut() -> u64, want: u64) -> f64 {
    let mut samples = Vec::new();
    for b in 0..BATCHES {
        let n = runs / BATCHES + u64::from(b < runs % BATCHES);
        let start = Instant::now();
        for _ in 0..n {
            assert_eq!(f(), want);
        }
        samples.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// The native build's median ns per run, or `None` without a C compiler.
fn native(dir: &Path, name: &str, runs: u64, want: u64) -> Option<f64> {
    let scratch = std::env::temp_dir().join(format!("lull-jit-bench-{}", std::process::id()));
    let n = match Native::build(dir, name, &scratch).and_then(|n| n.time(runs)) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("no native baseline for {name}: {e}");
            return None;
        }
    };
    assert_eq!(n.0, want, "{name}: native result");
    Some(n.1 as f64)
}

fn main() {
    let runs: u64 = std::env::var("LULL_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    println!(
        "{:<9} {:>12} {:>12} {:>12} {:>12} {:>12}   {:>7} {:>7} {:>7} {:>7}",
        "program",
        "native ns",
        "interp ns",
        "interp-T ns",
        "jit ns",
        "jit-T ns",
        "interp",
        "int-T",
        "jit",
        "jit-T"
    );
    let opts = PrepareOptions::default();
    let dir = find_dir(None).expect("shared/bench next to the workspace");
    for p in PROGRAMS {
        let (name, want) = (p.name, p.expected);
        let insns = load(&dir, name).expect("benchmark loads");
        let mut buf = context_buffer();
        let prog = Program::prepare(&insns, &opts).expect("prepares");
        let checked = JitProgram::compile(&insns, &opts, Mode::Checked).expect("compiles");
        let trusted = JitProgram::compile(&insns, &opts, Mode::Trusted).expect("compiles");
        let mut vm = Vm::new();
        let mut jvm = JitVm::new();
        assert_eq!(vm.run(&prog, Input::mem(&mut buf)), Ok(want));
        assert_eq!(jvm.run(&checked, Input::mem(&mut buf)), Ok(want));
        let interp = time(runs, || vm.run(&prog, Input::mem(&mut buf)).unwrap(), want);
        vm.set_insn_budget(None);
        // SAFETY: the checked runs above made only valid accesses on this same input.
        let interp_t = time(
            runs,
            || unsafe { vm.run_trusted(&prog, Input::mem(&mut buf)) }.unwrap(),
            want,
        );
        let jit = time(
            runs,
            || jvm.run(&checked, Input::mem(&mut buf)).unwrap(),
            want,
        );
        // SAFETY: as above.
        let jit_t = time(
            runs,
            || unsafe { jvm.run_trusted(&trusted, Input::mem(&mut buf)) }.unwrap(),
            want,
        );
        let nat = native(&dir, name, runs, want);
        let ratio = |x: f64| nat.map_or("-".to_string(), |n| format!("{:.2}x", x / n));
        println!(
            "{name:<9} {:>12} {interp:>12.0} {interp_t:>12.0} {jit:>12.0} {jit_t:>12.0}   {:>7} {:>7} {:>7} {:>7}",
            nat.map_or("-".to_string(), |n| format!("{n:.0}")),
            ratio(interp),
            ratio(interp_t),
            ratio(jit),
            ratio(jit_t),
        );
        println!(
            "{:<9} code: checked {} bytes, trusted {} bytes",
            "",
            checked.code_size(),
            trusted.code_size()
        );
    }
}
