//! Counting and presenting a run: per-file rows and totals on stdout, the markdown report, and
//! the current disagreements in inventory form. Output is deterministic for a given corpus,
//! kernel and Lull (no timings or paths in the markdown).

use crate::judge::{Judged, KernelView};
use crate::run::{FileResult, RunReport};
use crate::xfail::{Entry, Inventory};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Counters of a set of cases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// All cases.
    pub cases: usize,
    /// Cases skipped as a whole (arch, custom BTF).
    pub skipped: usize,
    /// Lull verdicts agreeing with the reference / compared cases.
    pub verdict_ok: usize,
    /// Compared cases.
    pub verdict_total: usize,
    /// Lull logs matching the expected messages.
    pub msg_ok: usize,
    /// Cases whose messages apply.
    pub msg_total: usize,
    /// Lull return values agreeing (Lull does not run programs yet).
    pub retval_ok: usize,
    /// Cases with an expected return value.
    pub retval_total: usize,
    /// Cases the kernel judged.
    pub kernel_judged: usize,
    /// Kernel verdicts agreeing with the annotations.
    pub kernel_verdict_ok: usize,
    /// Kernel logs matching the messages / cases with messages and agreeing verdicts.
    pub kernel_msg_ok: usize,
    /// See `kernel_msg_ok`.
    pub kernel_msg_total: usize,
    /// Kernel test runs agreeing / cases the kernel ran.
    pub kernel_retval_ok: usize,
    /// See `kernel_retval_ok`.
    pub kernel_retval_total: usize,
    /// Cases the kernel could not load before the verifier ran.
    pub kernel_cannot_load: usize,
    /// Cases with `__xlated`/`__jited` expectations (not compared).
    pub disasm_expectations: usize,
}

impl Stats {
    /// Adds one judged case.
    pub fn add(&mut self, j: &Judged) {
        self.cases += 1;
        if j.case.skip.is_some() {
            self.skipped += 1;
            return;
        }
        self.verdict_total += 1;
        self.verdict_ok += usize::from(j.verdict_ok == Some(true));
        self.msg_total += usize::from(j.msgs_apply);
        self.msg_ok += usize::from(j.msgs_ok == Some(true));
        self.retval_total += usize::from(j.retval_ok.is_some());
        self.retval_ok += usize::from(j.retval_ok == Some(true));
        self.disasm_expectations += usize::from(j.case.expect.xlated + j.case.expect.jited > 0);
        match (&j.kernel, j.kernel_agreement) {
            (KernelView::Judged(_), Some(a)) => {
                self.kernel_judged += 1;
                self.kernel_verdict_ok += usize::from(a.verdict);
                if let Some(m) = a.msgs {
                    self.kernel_msg_total += 1;
                    self.kernel_msg_ok += usize::from(m);
                }
                if let Some(r) = a.retval {
                    self.kernel_retval_total += 1;
                    self.kernel_retval_ok += usize::from(r);
                }
            }
            (KernelView::CannotLoad(_), _) => self.kernel_cannot_load += 1,
            _ => {}
        }
    }

    /// Stats of a file.
    pub fn of_file(f: &FileResult) -> Stats {
        let mut s = Stats::default();
        f.cases.iter().for_each(|j| s.add(j));
        s
    }
}

/// `a/b (x.y%)`.
pub fn ratio(a: usize, b: usize) -> String {
    if b == 0 {
        format!("{a}/{b} (-)")
    } else {
        format!("{a}/{b} ({:.1}%)", a as f64 * 100.0 / b as f64)
    }
}

/// Totals over all files.
pub fn totals(r: &RunReport) -> Stats {
    let mut s = Stats::default();
    r.files.iter().flat_map(|f| &f.cases).for_each(|j| s.add(j));
    s
}

/// The summary lines (`verdict agreement: 1087/1142 (95.2%)` …).
pub fn summary_lines(r: &RunReport) -> Vec<String> {
    let t = totals(r);
    let compiled = r
        .files
        .iter()
        .filter(|f| {
            f.compile_note
                .as_deref()
                .is_none_or(|n| !n.starts_with("compile failed"))
        })
        .count();
    let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
    for j in r.files.iter().flat_map(|f| &f.cases) {
        if let Some(s) = &j.case.skip {
            *skip_reasons
                .entry(s.split(':').next().unwrap_or(s).to_string())
                .or_default() += 1;
        }
    }
    let skips = skip_reasons
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut lines = vec![
        format!(
            "files: {} compiled of {} ({} flavour)",
            compiled,
            r.files.len(),
            r.flavor.name()
        ),
        format!(
            "cases: {} ({} skipped: {})",
            t.cases,
            t.skipped,
            if skips.is_empty() {
                "none".into()
            } else {
                skips
            }
        ),
        format!(
            "verdict agreement: {}",
            ratio(t.verdict_ok, t.verdict_total)
        ),
        format!("message agreement: {}", ratio(t.msg_ok, t.msg_total)),
        format!("retval agreement: {}", ratio(t.retval_ok, t.retval_total)),
        format!(
            "kernel vs annotations: {} verdicts; messages {}; retvals {}; {} cases the kernel cannot load here",
            ratio(t.kernel_verdict_ok, t.kernel_judged),
            ratio(t.kernel_msg_ok, t.kernel_msg_total),
            ratio(t.kernel_retval_ok, t.kernel_retval_total),
            t.kernel_cannot_load
        ),
        format!(
            "not compared: {} cases with __xlated/__jited expectations (checked for verdict and messages only)",
            t.disasm_expectations
        ),
    ];
    if !crate::lull::VERIFIER_AVAILABLE {
        lines.push(
            "lull: verifier not available yet; every compared case counts as a disagreement".into(),
        );
    }
    lines
}

/// One row per file, for stdout.
pub fn file_rows(r: &RunReport) -> Vec<String> {
    r.files
        .iter()
        .map(|f| {
            let s = Stats::of_file(f);
            let mut row = format!(
                "{:<44} cases {:>3} skip {:>2}  lull {:>9}  msgs {:>9}  kernel {:>9}",
                f.stem,
                s.cases,
                s.skipped,
                format!("{}/{}", s.verdict_ok, s.verdict_total),
                format!("{}/{}", s.msg_ok, s.msg_total),
                format!("{}/{}", s.kernel_verdict_ok, s.kernel_judged),
            );
            if let Some(n) = f.compile_note.as_ref().or(f.error.as_ref()) {
                let _ = write!(row, "  [{n}]");
            }
            row
        })
        .collect()
}

/// The text report of a run, as the binary and the integration test print it: one row per file,
/// the notes, the totals lines and where the time went.
pub fn text(r: &RunReport) -> String {
    let mut out = String::new();
    for row in file_rows(r) {
        let _ = writeln!(out, "{row}");
    }
    for n in r.oracle_notes.iter().chain(&r.notes) {
        let _ = writeln!(out, "note: {n}");
    }
    for l in summary_lines(r) {
        let _ = writeln!(out, "{l}");
    }
    let _ = writeln!(
        out,
        "time: corpus {:.1}s, oracle build {:.1}s, cases {:.1}s",
        r.timings.corpus.as_secs_f64(),
        r.timings.oracle_build.as_secs_f64(),
        r.timings.cases.as_secs_f64()
    );
    out
}

/// One line per case whose `__retval` Lull does not reproduce: the case, the expected value,
/// what Lull did (its return value, why it could not run, or that it rejected the program)
/// and what the kernel returned when it ran the case. Sorted by what Lull did, so that
/// failures with one cause sit together.
pub fn retval_failures(r: &RunReport) -> Vec<String> {
    let show = |v: i32| {
        if v == crate::spec::POINTER_VALUE {
            "POINTER_VALUE".to_string()
        } else {
            format!("{v} ({:#x})", v as u32)
        }
    };
    let mut lines: Vec<(String, String)> = r
        .files
        .iter()
        .flat_map(|f| &f.cases)
        .filter(|j| j.case.skip.is_none() && j.retval_ok == Some(false))
        .map(|j| {
            let got = match &j.lull {
                Ok(run) => match &run.run {
                    Some(Ok(v)) => format!("got {}", show(*v)),
                    Some(Err(why)) => format!("run failed: {why}"),
                    None if !run.accepted => {
                        let last = run
                            .log
                            .lines()
                            .rev()
                            .find(|l| !l.trim().is_empty() && !l.starts_with("processed "))
                            .unwrap_or("");
                        format!("lull rejects: {last}")
                    }
                    None => "not run".to_string(),
                },
                Err(gap) => format!("lull cannot judge: {gap:?}"),
            };
            let kernel = match &j.kernel {
                KernelView::Judged(k) => match k.run {
                    Some(t) if t.errno == 0 => format!("kernel {}", show(t.retval)),
                    Some(t) => format!("kernel run errno {}", t.errno),
                    None => "kernel did not run".to_string(),
                },
                _ => "no kernel".to_string(),
            };
            let want = j.case.expect.retval.map_or("-".to_string(), show);
            (
                got.clone(),
                format!("{}: want {want}, {got}; {kernel}", j.case.id()),
            )
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(_, l)| l).collect()
}

/// The current disagreements, in inventory form.
pub fn disagreements(r: &RunReport) -> Inventory {
    r.files
        .iter()
        .flat_map(|f| &f.cases)
        .filter(|j| j.case.skip.is_none())
        .filter_map(|j| {
            j.disagreement.as_ref().map(|(c, why)| {
                (
                    j.case.id(),
                    Entry {
                        category: c.clone(),
                        reason: why.clone(),
                    },
                )
            })
        })
        .collect()
}

/// The markdown report (`docs/selftests.md`).
pub fn markdown(r: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Lull vs the Linux verifier selftests\n");
    let _ = writeln!(
        out,
        "Generated by `LULL_BLESS=1 cargo test -p lull-selftests` (or `cargo run -p lull-selftests -- --bless`).\n\
         Corpus: `tools/testing/selftests/bpf/progs/verifier_*.c` and the other annotated `progs/*.c` \
         (`LULL_SELFTESTS_CORPUS=verifier` for the former only) of Debian's `linux-source-6.12`, \
         compiled with clang-19, `{}` flavour. Kernel oracle: Linux {}.\n",
        r.flavor.name(),
        r.kernel_release
    );
    let _ = writeln!(
        out,
        "Reference verdict: the live kernel's when it could judge the case, the annotation's otherwise. \
         Messages count where the kernel's own log still matches the 6.12 `__msg` text.\n"
    );
    let _ = writeln!(out, "## Totals\n");
    for l in summary_lines(r) {
        let _ = writeln!(out, "- {l}");
    }
    for n in r.oracle_notes.iter().chain(&r.notes) {
        let _ = writeln!(out, "- note: {n}");
    }
    let _ = writeln!(out, "\n## Per file\n");
    let _ = writeln!(
        out,
        "| file | cases | skipped | Lull verdicts | Lull messages | kernel verdicts | kernel messages | kernel cannot load | note |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for f in &r.files {
        let s = Stats::of_file(f);
        let note = f
            .compile_note
            .as_ref()
            .or(f.error.as_ref())
            .map_or(String::new(), |n| n.replace('|', "\\|"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {}/{} | {}/{} | {}/{} | {}/{} | {} | {} |",
            f.stem,
            s.cases,
            s.skipped,
            s.verdict_ok,
            s.verdict_total,
            s.msg_ok,
            s.msg_total,
            s.kernel_verdict_ok,
            s.kernel_judged,
            s.kernel_msg_ok,
            s.kernel_msg_total,
            s.kernel_cannot_load,
            note
        );
    }
    let _ = writeln!(out, "\n## Kernel disagreeing with the annotations\n");
    let mut any = false;
    for j in r.files.iter().flat_map(|f| &f.cases) {
        if let (KernelView::Judged(run), Some(a)) = (&j.kernel, j.kernel_agreement)
            && (!a.verdict || a.retval == Some(false))
        {
            any = true;
            let last = run
                .log
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.starts_with("processed "))
                .unwrap_or("");
            let _ = writeln!(
                out,
                "- `{}`: annotation {}, kernel {}{} — `{}`",
                j.case.id(),
                if j.case.expect.failure {
                    "rejects"
                } else {
                    "accepts"
                },
                if run.accepted { "accepts" } else { "rejects" },
                if a.retval == Some(false) {
                    " (retval differs)"
                } else {
                    ""
                },
                last.replace('`', "'")
            );
        }
    }
    if !any {
        let _ = writeln!(out, "- none (or no kernel oracle in this run)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_formats_like_the_issue() {
        assert_eq!(ratio(1087, 1142), "1087/1142 (95.2%)");
        assert_eq!(ratio(0, 0), "0/0 (-)");
    }
}
