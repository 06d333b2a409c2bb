//! The four CPU-bound programs of `shared/bench`, in checked and trusted mode.
//! Prints ns per executed instruction next to criterion's time per run.
// Trusted mode is an `unsafe fn`; the programs' memory safety is shown by a checked run first.
#![allow(unsafe_code)]

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use lull_benchprogs::{PROGRAMS, context_buffer, find_dir, load};
use lull_interp::{Input, PrepareOptions, Program, Vm};

fn bench(c: &mut Criterion) {
    let dir = find_dir(None).expect("shared/bench next to the workspace");
    let mut buf = context_buffer();
    let mut vm = Vm::new();
    for p in PROGRAMS {
        let (name, want, executed) = (p.name, p.expected, p.executed);
        let insns = load(&dir, name).expect("benchmark loads");
        let prog =
            Program::prepare(&insns, &PrepareOptions::default()).expect("benchmark prepares");
        assert_eq!(vm.run(&prog, Input::mem(&mut buf)), Ok(want), "{name}");
        assert_eq!(vm.executed(), Some(executed), "{name}");

        // `LULL_BENCH_QUICK=1` skips criterion and prints only the per-instruction figures.
        if std::env::var_os("LULL_BENCH_QUICK").is_none() {
            let mut group = c.benchmark_group(name);
            group.sample_size(20);
            group.bench_function("checked", |b| {
                b.iter(|| vm.run(&prog, Input::mem(&mut buf)).expect("runs"))
            });
            vm.set_insn_budget(None);
            group.bench_function("trusted", |b| {
                // SAFETY: the benchmark programs only touch their stack and the input buffer, as
                // the checked run above (same program, same input) demonstrated.
                b.iter(|| unsafe { vm.run_trusted(&prog, Input::mem(&mut buf)) }.expect("runs"))
            });
            vm.set_insn_budget(Some(lull_interp::DEFAULT_INSN_BUDGET));
            group.finish();
        }

        // A plain per-instruction figure (median of a few timed runs) for the report.
        let per_insn = |mode: &str, f: &mut dyn FnMut()| {
            let mut t: Vec<f64> = (0..31)
                .map(|_| {
                    let s = Instant::now();
                    f();
                    s.elapsed().as_nanos() as f64
                })
                .collect();
            t.sort_by(f64::total_cmp);
            let (min, med) = (t[0], t[t.len() / 2]);
            println!(
                "{name:9} {mode:8} min {:>12.0} ns/run {:>6.3} ns/insn, median {:>12.0} ns/run {:>6.3} ns/insn",
                min,
                min / executed as f64,
                med,
                med / executed as f64
            );
        };
        per_insn("checked", &mut || {
            vm.run(&prog, Input::mem(&mut buf)).expect("runs");
        });
        vm.set_insn_budget(None);
        per_insn("trusted", &mut || {
            // SAFETY: as above.
            unsafe { vm.run_trusted(&prog, Input::mem(&mut buf)) }.expect("runs");
        });
        vm.set_insn_budget(Some(lull_interp::DEFAULT_INSN_BUDGET));
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
