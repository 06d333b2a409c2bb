//! Criterion benchmarks of host hooks: a hook run with no program, and with one empty atomic or
//! sleepable program attached, next to a direct run of the same empty program. The programs
//! (`tests/progs/hooks.c`) are compiled with clang-19; without it the benchmarks are skipped.

use std::hint::black_box;

#[path = "../tests/support/mod.rs"]
mod support;

use criterion::{Criterion, criterion_group, criterion_main};
use lull_abi::ProgType;
use lull_runtime::{HookInput, HookSpec, Runtime, RuntimeOptions};

fn hooks(c: &mut Criterion) {
    let Some(obj) = support::compile("hooks") else {
        return;
    };
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        ..RuntimeOptions::default()
    });
    let object = lull_object::Object::open(&obj, &Default::default()).expect("parse");
    let loaded = rt.load(object).expect("load");
    let atomic = loaded.program("empty").expect("empty");
    let sleepable = loaded.program("empty_sleepable").expect("empty_sleepable");
    let args = HookInput::Args([0; 5]);
    let atomic_hook = rt.hook(HookSpec::new("atomic", ProgType::Kprobe));
    let sleepable_hook = rt.hook(HookSpec::new("sleepable", ProgType::Kprobe).sleepable());

    let mut g = c.benchmark_group("hooks");
    g.bench_function("no_program/atomic", |b| {
        b.iter(|| atomic_hook.run(black_box(args)).unwrap())
    });
    g.bench_function("no_program/sleepable", |b| {
        b.iter(|| sleepable_hook.run(black_box(args)).unwrap())
    });
    let _a = atomic_hook.attach(&atomic).expect("attach");
    let _s = sleepable_hook.attach(&sleepable).expect("attach");
    g.bench_function("empty_program/atomic", |b| {
        b.iter(|| atomic_hook.run(black_box(args)).unwrap())
    });
    g.bench_function("empty_program/sleepable", |b| {
        b.iter(|| sleepable_hook.run(black_box(args)).unwrap())
    });
    g.bench_function("direct_run/atomic", |b| {
        b.iter(|| atomic.run_args(black_box([0; 5])).unwrap())
    });
    g.bench_function("direct_run/sleepable", |b| {
        b.iter(|| sleepable.run_args(black_box([0; 5])).unwrap())
    });
    g.finish();
}

criterion_group!(benches, hooks);
criterion_main!(benches);
