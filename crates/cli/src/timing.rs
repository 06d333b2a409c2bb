//! Timing runs the way `BPF_PROG_TEST_RUN` reports them: the time of one run, as the median over
//! batches, so that the clock's own cost does not swamp programs that take nanoseconds.

use std::time::Instant;

/// How many batches a timed run is split into (the median is taken over these).
const BATCHES: u64 = 15;

/// Times `repeat` calls of `f` and returns the median nanoseconds of one call.
///
/// With `repeat <= BATCHES` every call is timed alone; otherwise the calls are split into
/// `BATCHES` batches and each batch's mean is one sample.
pub fn median_ns_per_run<E>(repeat: u64, mut f: impl FnMut() -> Result<(), E>) -> Result<u64, E> {
    let repeat = repeat.max(1);
    let batches = repeat.min(BATCHES);
    let mut samples = Vec::with_capacity(batches as usize);
    for b in 0..batches {
        // Spread the remainder over the first batches so every call is made exactly once.
        let size = repeat / batches + u64::from(b < repeat % batches);
        let start = Instant::now();
        for _ in 0..size {
            f()?;
        }
        samples.push(start.elapsed().as_nanos() as f64 / size as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2].round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_is_made_exactly_once() {
        for repeat in [0, 1, 7, 15, 16, 100, 1001] {
            let mut calls = 0u64;
            median_ns_per_run::<()>(repeat, || {
                calls += 1;
                Ok(())
            })
            .unwrap();
            assert_eq!(calls, repeat.max(1), "repeat {repeat}");
        }
    }

    #[test]
    fn errors_stop_the_timing() {
        let mut calls = 0;
        let r = median_ns_per_run(10, || {
            calls += 1;
            if calls == 3 { Err("boom") } else { Ok(()) }
        });
        assert_eq!(r, Err("boom"));
        assert_eq!(calls, 3);
    }
}
