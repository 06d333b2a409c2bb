//! `lull bench --kernel`: every program of the runtime differential suite (`lull-rundiff`,
//! packet, map and helper programs the kernel loads) timed in Lull — interpreter and JIT,
//! checked and trusted — and by the live kernel's JIT through `BPF_PROG_TEST_RUN`, in one run;
//! prints ns per run and the ratio Lull/kernel per program, and the geometric mean.

use anyhow::{Context, Result, bail};
use lull_rundiff::lull::LullConfig;
use lull_rundiff::manifest::Manifest;
use lull_rundiff::speed;

use crate::Outcome;

/// Runs the comparison with `repeat` runs per measurement.
pub fn run(repeat: u64, json: bool) -> Result<Outcome> {
    let dir = lull_rundiff::crate_dir();
    let manifest_path = dir.join("manifest.json");
    if !manifest_path.is_file() {
        bail!(
            "{} not found: `lull bench --kernel` runs from a Lull source tree",
            manifest_path.display()
        );
    }
    let manifest = Manifest::load(&manifest_path).context("the differential suite's manifest")?;
    let work = std::env::temp_dir().join(format!("lull-bench-kernel-{}", std::process::id()));
    let configs = LullConfig::all();
    let repeat = u32::try_from(repeat.max(1)).unwrap_or(u32::MAX);
    let report = speed::run(&manifest, &dir.join("progs"), &work, repeat, &configs)
        .context("timing the differential suite against the kernel");
    let _ = std::fs::remove_dir_all(&work);
    let report = report?;
    let labels: Vec<String> = configs.iter().map(LullConfig::label).collect();
    if json {
        for row in &report.rows {
            let lull: serde_json::Map<String, serde_json::Value> = labels
                .iter()
                .zip(&row.lull_ns)
                .map(|(l, ns)| (l.clone(), serde_json::json!(ns)))
                .collect();
            let line = serde_json::json!({
                "case": row.case, "repeat": report.repeat, "kernel_ns": row.kernel_ns,
                "lull_ns": lull,
            });
            println!("{line}");
        }
        let geo: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), serde_json::json!(report.geomean_ratio(i))))
            .collect();
        println!("{}", serde_json::json!({ "geomean_ratio_to_kernel": geo }));
    } else {
        print!("{:<22} {:>9}", "program", "kernel ns");
        for l in &labels {
            print!(" {:>21}", format!("{l} ns (x)"));
        }
        println!();
        for row in &report.rows {
            print!("{:<22} {:>9.0}", row.case, row.kernel_ns);
            for ns in &row.lull_ns {
                let cell = ns.map_or("failed".to_string(), |ns| {
                    format!("{ns:.0} ({:.1}x)", ns / row.kernel_ns.max(1.0))
                });
                print!(" {cell:>21}");
            }
            println!();
        }
        print!("{:<22} {:>9}", "geometric mean", "");
        for i in 0..labels.len() {
            let cell = report
                .geomean_ratio(i)
                .map_or("-".to_string(), |r| format!("{r:.2}x"));
            print!(" {cell:>21}");
        }
        println!();
        for (case, why) in &report.skipped {
            eprintln!("lull bench --kernel: {case} not timed: {why}");
        }
    }
    Ok(Outcome::Success)
}
