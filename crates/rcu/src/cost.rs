//! Self-measurement of section costs, for `lull bench` and closing notes: the time of one
//! enter + exit of each flavour, through a registered [`Reader`](crate::Reader) and through the
//! domain's thread-local lookup. Each figure is the best of several rounds, which filters out
//! interference from other processes on a busy machine better than a mean does.

use crate::Domain;
use std::hint::black_box;
use std::time::Instant;

/// Nanoseconds per enter + exit (best round).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SectionCosts {
    /// Atomic section through a `Reader`.
    pub atomic_ns: f64,
    /// Sleepable section through a `Reader`.
    pub sleepable_ns: f64,
    /// Atomic section through `Domain::read_atomic` (thread-local lookup included).
    pub atomic_lookup_ns: f64,
    /// Sleepable section through `Domain::read_sleepable`.
    pub sleepable_lookup_ns: f64,
}

fn best(rounds: u32, iterations: u64, mut f: impl FnMut()) -> f64 {
    let iterations = iterations.max(1);
    (0..rounds.max(1))
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed().as_nanos() as f64 / iterations as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Measures the calling thread's section costs in `domain` (`iterations` per round, 7 rounds).
pub fn measure(domain: &Domain, iterations: u64) -> SectionCosts {
    let reader = domain.register();
    let rounds = 7;
    SectionCosts {
        atomic_ns: best(rounds, iterations, || drop(black_box(reader.read_atomic()))),
        sleepable_ns: best(rounds, iterations, || {
            drop(black_box(reader.read_sleepable()))
        }),
        atomic_lookup_ns: best(rounds, iterations, || drop(black_box(domain.read_atomic()))),
        sleepable_lookup_ns: best(rounds, iterations, || {
            drop(black_box(domain.read_sleepable()))
        }),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn costs_are_measured_and_leave_no_section_open() {
        let d = Domain::new();
        let c = measure(&d, 10_000);
        for v in [
            c.atomic_ns,
            c.sleepable_ns,
            c.atomic_lookup_ns,
            c.sleepable_lookup_ns,
        ] {
            assert!(v.is_finite() && v > 0.0, "{c:?}");
        }
        assert!(!d.in_atomic_section() && !d.in_sleepable_section());
        d.synchronize_both().unwrap();
    }
}
