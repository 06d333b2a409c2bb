//! The verdict of one case: the differences between two results, and between a result and
//! the values the manifest states.

use crate::bytes::to_hex;
use crate::dump::{MapDump, RunResult};
use crate::manifest::Case;

/// Differences between the kernel's and Lull's results for `case` (empty: they agree).
pub fn differences(case: &Case, kernel: &RunResult, lull: &RunResult) -> Vec<String> {
    let mut d = Vec::new();
    match (&kernel.run_error, &lull.run_error) {
        (None, None) => {}
        (k, l) => {
            if k.is_some() != l.is_some() {
                d.push(format!(
                    "run outcome: kernel {}, lull {}",
                    k.as_deref().unwrap_or("ran"),
                    l.as_deref().unwrap_or("ran")
                ));
            }
            // Both failed (or one did): nothing after the run is comparable.
            return d;
        }
    }
    if case.compares("retval") && kernel.retval != lull.retval {
        d.push(format!(
            "retval: kernel {} ({:#x}), lull {} ({:#x})",
            kernel.retval, kernel.retval, lull.retval, lull.retval
        ));
    }
    if case.compares("data") && kernel.data_out != lull.data_out {
        d.push(format!(
            "data out: kernel {}, lull {}",
            to_hex(&kernel.data_out),
            to_hex(&lull.data_out)
        ));
    }
    if case.compares("ctx") && kernel.ctx_out != lull.ctx_out {
        d.push(format!(
            "ctx out: kernel {}, lull {}",
            to_hex(&kernel.ctx_out),
            to_hex(&lull.ctx_out)
        ));
    }
    let names = kernel.maps.keys().chain(lull.maps.keys());
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) || !case.compares(&format!("map:{name}")) {
            continue;
        }
        match (kernel.maps.get(name), lull.maps.get(name)) {
            (Some(k), Some(l)) if k == l => {}
            (Some(k), Some(l)) => d.push(format!("map {name}: {}", map_diff(k, l))),
            (k, _) => d.push(format!(
                "map {name}: only in {}",
                if k.is_some() { "the kernel" } else { "lull" }
            )),
        }
    }
    d
}

fn entry(e: &(Vec<u8>, Vec<u8>)) -> String {
    if e.0.is_empty() {
        to_hex(&e.1)
    } else {
        format!("{}={}", to_hex(&e.0), to_hex(&e.1))
    }
}

/// A short description of how two dumps of one map differ.
fn map_diff(k: &MapDump, l: &MapDump) -> String {
    let sequence = k.iter().chain(l).all(|(key, _)| key.is_empty());
    if sequence || k.len() != l.len() {
        let list = |m: &MapDump| m.iter().map(entry).collect::<Vec<_>>().join(" ");
        return format!("kernel [{}], lull [{}]", list(k), list(l));
    }
    let diffs: Vec<String> = k
        .iter()
        .zip(l)
        .filter(|(a, b)| a != b)
        .map(|(a, b)| format!("kernel {} / lull {}", entry(a), entry(b)))
        .collect();
    diffs.join("; ")
}

/// Differences between `r` and what the manifest says the kernel does.
pub fn against_expectations(case: &Case, r: &RunResult) -> Vec<String> {
    let mut d = Vec::new();
    if let Some(e) = &r.run_error {
        d.push(format!("did not run: {e}"));
        return d;
    }
    if let Some(want) = case.expect.retval
        && case.compares("retval")
        && r.retval != want
    {
        d.push(format!("retval {} (expected {want})", r.retval));
    }
    for (i, want) in case.expect.res.iter().enumerate() {
        let got = r.res(i as u32);
        if got != Some(*want) {
            d.push(format!("res[{i}] = {got:?} (expected {want})"));
        }
    }
    d
}
