//! The hash-lookup benchmark `lull bench --maps` prints: `progs/bench_hash.bpf.c` does
//! [`LOOKUPS`] lookups per run in a [`KEYS`]-entry hash map through `bpf_loop`; it runs in
//! Lull (each engine of the runtime, interpreter and JIT, in each execution mode) and in the kernel (`BPF_PROG_TEST_RUN` with
//! `repeat`, the kernel's own per-run time), and `loop_only` — the same loop without the
//! lookup — gives the loop's cost, subtracted for the net cost of one lookup.

use std::path::Path;

use lull_runtime::{Engine, ExecMode, Runtime, RuntimeOptions, TestRun};

use crate::kernel::{Kernel, nr_possible_cpus};
use crate::{Error, Result, build, lull};

/// The benchmark program's source (embedded: `lull bench` builds it wherever it runs).
pub const SOURCE: &str = include_str!("../progs/bench_hash.bpf.c");

/// Lookups per run (`LOOKUPS` in the program).
pub const LOOKUPS: u32 = 256;

/// Entries of the hash map (`KEYS` in the program), all present.
pub const KEYS: u32 = 1024;

/// Timing trials per engine; the median trial is reported.
const TRIALS: usize = 5;

/// One engine's figures.
#[derive(Clone, Debug)]
pub struct Row {
    /// `kernel`, `lull checked`, `lull trusted`, `lull jit checked`, `lull jit trusted`.
    pub engine: String,
    /// r0 of the lookup program (a checksum every engine must agree on).
    pub retval: u32,
    /// Median ns per run of the lookup program.
    pub ns_per_run: f64,
    /// Median ns per run of the loop-only program.
    pub loop_ns_per_run: f64,
}

impl Row {
    /// ns per lookup, loop included.
    pub fn ns_per_lookup(&self) -> f64 {
        self.ns_per_run / f64::from(LOOKUPS)
    }

    /// ns per lookup with the loop's own cost subtracted.
    pub fn net_ns_per_lookup(&self) -> f64 {
        (self.ns_per_run - self.loop_ns_per_run).max(0.0) / f64::from(LOOKUPS)
    }
}

/// The benchmark's result.
#[derive(Clone, Debug)]
pub struct Report {
    /// The engines, kernel first when it ran.
    pub rows: Vec<Row>,
    /// Why the kernel did not run, if it did not.
    pub kernel_skipped: Option<String>,
}

impl Report {
    /// The kernel's row.
    pub fn kernel(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.engine == "kernel")
    }
}

/// The map prefill: key `k` holds `3k + 1`.
fn prefill() -> Vec<(String, Vec<u8>, Vec<u8>)> {
    (0..KEYS)
        .map(|k| {
            (
                "bench_map".to_string(),
                k.to_le_bytes().to_vec(),
                (u64::from(k) * 3 + 1).to_le_bytes().to_vec(),
            )
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs the benchmark with `repeat` runs per trial, building into `work`.
pub fn run(work: &Path, repeat: u32) -> Result<Report> {
    let obj = build::compile_bpf_source("bench_hash.bpf.c", SOURCE, work)?;
    let data = vec![0u8; 64];
    let repeat = repeat.max(1);
    let mut rows = Vec::new();
    let mut kernel_skipped = None;
    if !Kernel::privileged() {
        kernel_skipped = Some("not root: bpf() unavailable".to_string());
    } else {
        match Kernel::build(&work.join("oracle")) {
            Ok(k) => match kernel_row(&k, &obj, &data, repeat) {
                Ok(row) => rows.push(row),
                Err(e) => kernel_skipped = Some(e.to_string()),
            },
            Err(e) => kernel_skipped = Some(format!("cannot build ktestrun: {e}")),
        }
    }
    for (name, engine, mode) in [
        ("lull checked", Engine::Interp, ExecMode::Checked),
        ("lull trusted", Engine::Interp, ExecMode::Trusted),
        ("lull jit checked", Engine::Jit, ExecMode::Checked),
        ("lull jit trusted", Engine::Jit, ExecMode::Trusted),
    ] {
        rows.push(lull_row(name, engine, mode, &obj, &data, repeat)?);
    }
    Ok(Report {
        rows,
        kernel_skipped,
    })
}

fn kernel_row(k: &Kernel, obj: &Path, data: &[u8], repeat: u32) -> Result<Row> {
    let sets = prefill();
    let time = |prog: &str| -> Result<(u32, f64)> {
        let mut samples = Vec::with_capacity(TRIALS);
        let mut retval = 0;
        for _ in 0..TRIALS {
            let r = k.time(obj, prog, data, repeat, &sets)?;
            if let Some(e) = r.result.run_error {
                return Err(Error::Tool {
                    tool: "ktestrun".into(),
                    message: e,
                });
            }
            retval = r.result.retval;
            samples.push(r.duration_ns as f64);
        }
        Ok((retval, median(samples)))
    };
    let (retval, ns) = time("hash_lookups")?;
    let (_, loop_ns) = time("loop_only")?;
    Ok(Row {
        engine: "kernel".into(),
        retval,
        ns_per_run: ns,
        loop_ns_per_run: loop_ns,
    })
}

fn lull_row(
    name: &str,
    engine: Engine,
    mode: ExecMode,
    obj: &Path,
    data: &[u8],
    repeat: u32,
) -> Result<Row> {
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(nr_possible_cpus()),
        mode,
        engine,
        ..RuntimeOptions::default()
    });
    let loaded = lull::load(&rt, obj)?;
    let map = loaded
        .map("bench_map")
        .ok_or_else(|| Error::Lull("no map bench_map".into()))?;
    for (_, k, v) in prefill() {
        map.update(&k, &v, 0)
            .map_err(|e| Error::Lull(format!("prefill: {e}")))?;
    }
    let input = TestRun {
        data: data.to_vec(),
        ctx: None,
        repeat,
        cpu: Some(0),
    };
    let time = |prog: &str| -> Result<(u32, f64)> {
        let p = loaded
            .program(prog)
            .map_err(|e| Error::Lull(e.to_string()))?;
        let mut samples = Vec::with_capacity(TRIALS);
        let mut retval = 0;
        for _ in 0..TRIALS {
            let out = p.test_run(&input).map_err(|e| Error::Lull(e.to_string()))?;
            retval = out.retval as u32;
            samples.push(out.duration_ns as f64);
        }
        Ok((retval, median(samples)))
    };
    let (retval, ns) = time("hash_lookups")?;
    let (_, loop_ns) = time("loop_only")?;
    Ok(Row {
        engine: name.into(),
        retval,
        ns_per_run: ns,
        loop_ns_per_run: loop_ns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_cost_subtracts_the_loop() {
        let r = Row {
            engine: "x".into(),
            retval: 0,
            ns_per_run: 2560.0,
            loop_ns_per_run: 512.0,
        };
        assert_eq!(r.ns_per_lookup(), 10.0);
        assert_eq!(r.net_ns_per_lookup(), 8.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
    }
}
