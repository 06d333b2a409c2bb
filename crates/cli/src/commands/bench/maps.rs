//! `lull bench --maps`: hash-map lookups from a program, Lull against the live kernel in the
//! same run (`lull-rundiff`'s benchmark: 256 lookups per run in a 1024-entry hash map through
//! `bpf_loop`; the kernel timed by `BPF_PROG_TEST_RUN` with `repeat`; Lull's interpreter and
//! JIT, each checked and trusted). Prints ns per run, ns per lookup (loop included, and net of
//! the loop's own cost) and the ratio to the kernel.

use anyhow::{Context, Result};
use lull_rundiff::bench::{self, Row};

use crate::Outcome;

/// Runs the benchmark with `repeat` runs per timing trial.
pub fn run(repeat: u64, json: bool) -> Result<Outcome> {
    let work = std::env::temp_dir().join(format!("lull-bench-maps-{}", std::process::id()));
    let repeat = u32::try_from(repeat.max(1)).unwrap_or(u32::MAX);
    let report = bench::run(&work, repeat).context("hash-map lookup benchmark")?;
    let _ = std::fs::remove_dir_all(&work);
    if let Some(why) = &report.kernel_skipped {
        eprintln!("lull bench --maps: kernel side skipped: {why}");
    }
    let kernel = report.kernel().cloned();
    let ratio = |r: &Row, f: fn(&Row) -> f64| kernel.as_ref().map(|k| f(r) / f(k).max(1e-9));
    let checksum = report.rows.first().map(|r| r.retval);
    let agree = report.rows.iter().all(|r| Some(r.retval) == checksum);
    if !json {
        println!(
            "hash-map lookup: {} lookups per run, {}-entry hash map, bpf_loop",
            bench::LOOKUPS,
            bench::KEYS
        );
        println!(
            "{:<17} {:>10} {:>10} {:>11} {:>10} {:>10}  checksum",
            "engine", "ns/run", "ns/lookup", "net ns/lkp", "vs kernel", "net vs k"
        );
    }
    for r in &report.rows {
        let total = ratio(r, Row::ns_per_lookup);
        let net = ratio(r, Row::net_ns_per_lookup);
        if json {
            let line = serde_json::json!({
                "benchmark": "hash_lookup", "engine": r.engine, "lookups_per_run": bench::LOOKUPS,
                "ns_per_run": r.ns_per_run, "ns_per_lookup": r.ns_per_lookup(),
                "net_ns_per_lookup": r.net_ns_per_lookup(), "ratio_to_kernel": total,
                "net_ratio_to_kernel": net, "retval": r.retval,
            });
            println!("{line}");
        } else {
            let fmt = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2}x"));
            println!(
                "{:<17} {:>10.0} {:>10.2} {:>11.2} {:>10} {:>10}  {}",
                r.engine,
                r.ns_per_run,
                r.ns_per_lookup(),
                r.net_ns_per_lookup(),
                fmt(total),
                fmt(net),
                r.retval
            );
        }
    }
    if !agree {
        eprintln!("lull bench --maps: the engines disagree on the checksum");
    }
    Ok(if agree {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
