//! Enter + exit cost of atomic and sleepable read sections, through a registered `Reader` and
//! through the domain's thread-local lookup, alone and with another thread reading concurrently.
//! Also the caller-side cost of queueing a deferred free. Run with `LULL_RCU_NO_MEMBARRIER=1`
//! to measure the fence fallback.

use criterion::{Criterion, criterion_group, criterion_main};
use lull_rcu::{Domain, fence};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

fn sections(c: &mut Criterion, domain: &Domain, label: &str) {
    let mode = match fence::mode() {
        Some(fence::Mode::Membarrier) => "membarrier",
        _ => "fences",
    };
    let mut g = c.benchmark_group(format!("sections/{mode}/{label}"));
    let reader = domain.register();
    g.bench_function("atomic/reader", |b| {
        b.iter(|| black_box(reader.read_atomic()))
    });
    g.bench_function("sleepable/reader", |b| {
        b.iter(|| black_box(reader.read_sleepable()))
    });
    g.bench_function("atomic/domain", |b| {
        b.iter(|| black_box(domain.read_atomic()))
    });
    g.bench_function("sleepable/domain", |b| {
        b.iter(|| black_box(domain.read_sleepable()))
    });
    g.bench_function("atomic/nested", |b| {
        let _outer = reader.read_atomic();
        b.iter(|| black_box(reader.read_atomic()))
    });
    g.finish();
}

fn single(c: &mut Criterion) {
    let domain = Domain::new();
    sections(c, &domain, "1-thread");
}

fn with_other_reader(c: &mut Criterion) {
    let domain = Domain::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (d, s) = (domain.clone(), stop.clone());
    let other = thread::spawn(move || {
        let r = d.register();
        while !s.load(Ordering::Relaxed) {
            let _a = r.read_atomic();
            let _s = r.read_sleepable();
        }
    });
    sections(c, &domain, "2-threads");
    stop.store(true, Ordering::Relaxed);
    other.join().unwrap();
}

fn deferral(c: &mut Criterion) {
    let domain = Domain::new();
    let mut g = c.benchmark_group("defer");
    g.bench_function("free_both/box_u64", |b| {
        b.iter(|| domain.defer_free_both(Box::new(black_box(7u64))))
    });
    g.bench_function("free_atomic/box_u64", |b| {
        b.iter(|| domain.defer_free_atomic(Box::new(black_box(7u64))))
    });
    g.finish();
    domain.barrier().expect("no section is open here");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1));
    targets = single, with_other_reader, deferral
}
criterion_main!(benches);
