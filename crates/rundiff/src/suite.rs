//! Running the whole manifest: every case on both sides, the verdicts, and the report.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::compare::{against_expectations, differences};
use crate::kernel::{Kernel, nr_possible_cpus};
use crate::lull::LullConfig;
use crate::manifest::{Case, Manifest};
use crate::{Result, build, lull};

/// How a case came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Both sides agree (and match the manifest's expectations).
    Agree,
    /// They disagree, and the manifest says so.
    ExpectedDisagreement(Vec<String>),
    /// They disagree and the manifest does not know it: a regression or a new finding.
    NewDisagreement(Vec<String>),
    /// The manifest expects a disagreement that is gone: remove the `xfail`.
    Fixed,
    /// The kernel does not do what the manifest says: the manifest is wrong.
    ManifestWrong(Vec<String>),
}

impl Verdict {
    /// Whether the test should fail on this verdict.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Verdict::Agree | Verdict::ExpectedDisagreement(_))
    }
}

/// The outcome of a whole run.
#[derive(Debug)]
pub struct Report {
    /// Why the kernel side was skipped, if it was.
    pub kernel_skipped: Option<String>,
    /// Verdict per case, in manifest order.
    pub cases: Vec<(Case, Verdict)>,
}

impl Report {
    /// Number of cases that agree.
    pub fn agreeing(&self) -> usize {
        self.cases
            .iter()
            .filter(|(_, v)| *v == Verdict::Agree)
            .count()
    }

    /// Whether any case failed.
    pub fn failed(&self) -> bool {
        self.cases.iter().any(|(_, v)| v.is_failure())
    }

    /// A human-readable table.
    pub fn render(&self) -> String {
        let mut s = String::new();
        if let Some(why) = &self.kernel_skipped {
            let _ = writeln!(
                s,
                "KERNEL SIDE SKIPPED ({why}): Lull is checked against the manifest's expected values only"
            );
        }
        for (case, v) in &self.cases {
            let (tag, detail) = match v {
                Verdict::Agree => ("agree", Vec::new()),
                Verdict::ExpectedDisagreement(d) => ("xfail", d.clone()),
                Verdict::NewDisagreement(d) => ("DISAGREE", d.clone()),
                Verdict::Fixed => (
                    "FIXED",
                    vec!["the sides now agree: remove the xfail entry".to_string()],
                ),
                Verdict::ManifestWrong(d) => ("MANIFEST", d.clone()),
            };
            let _ = writeln!(s, "{tag:<9} {:<22} {}", case.name, case.about);
            if let Some(reason) = &case.xfail {
                let _ = writeln!(s, "          xfail reason: {reason}");
            }
            for d in detail {
                let _ = writeln!(s, "          {d}");
            }
        }
        let _ = writeln!(
            s,
            "{} cases, {} agree, {} expected disagreements, {} failures",
            self.cases.len(),
            self.agreeing(),
            self.cases
                .iter()
                .filter(|(_, v)| matches!(v, Verdict::ExpectedDisagreement(_)))
                .count(),
            self.cases.iter().filter(|(_, v)| v.is_failure()).count()
        );
        s
    }
}

/// Runs every case of `manifest` (those named in `only`, if given), building into `work`.
/// `use_kernel` false skips the kernel.
pub fn run(
    manifest: &Manifest,
    progs: &Path,
    work: &Path,
    use_kernel: bool,
    only: Option<&[String]>,
) -> Result<Report> {
    let selected: Vec<&Case> = manifest
        .cases
        .iter()
        .filter(|c| only.is_none_or(|o| o.contains(&c.name)))
        .collect();
    let mut objects: BTreeMap<&str, PathBuf> = BTreeMap::new();
    for c in &selected {
        if !objects.contains_key(c.object.as_str()) {
            let src = progs.join(format!("{}.bpf.c", c.object));
            objects.insert(&c.object, build::compile_bpf(&src, &work.join("progs"))?);
        }
    }
    let mut kernel_skipped = None;
    let mut kernel = None;
    if !use_kernel {
        kernel_skipped = Some("disabled".to_string());
    } else if !Kernel::privileged() {
        kernel_skipped = Some("not root: bpf() unavailable".to_string());
    } else {
        match Kernel::build(&work.join("oracle")) {
            Ok(k) => kernel = Some(k),
            Err(e) => kernel_skipped = Some(format!("cannot build ktestrun: {e}")),
        }
    }
    let nr_cpus = nr_possible_cpus();
    let mut cases = Vec::new();
    for case in selected {
        let obj = &objects[case.object.as_str()];
        let lull_result = lull::run_case(obj, case, nr_cpus, LullConfig::REFERENCE)?;
        // Every other engine and mode must do exactly what the reference does.
        let mut mode_diffs = Vec::new();
        for config in LullConfig::all() {
            if config == LullConfig::REFERENCE {
                continue;
            }
            let other = lull::run_case(obj, case, nr_cpus, config)?;
            mode_diffs.extend(
                differences(case, &lull_result, &other)
                    .into_iter()
                    .map(|d| {
                        format!(
                            "{} differs from {} (kernel = the latter, lull = the former): {d}",
                            config.label(),
                            LullConfig::REFERENCE.label()
                        )
                    }),
            );
        }
        let mut kernel_result = None;
        if let Some(k) = &kernel {
            let run = k.run_case(obj, case)?;
            if run.no_permission {
                kernel_skipped = Some(format!(
                    "bpf() not permitted: {}",
                    run.result.run_error.clone().unwrap_or_default()
                ));
                kernel = None;
            } else {
                kernel_result = Some(run.result);
            }
        }
        if std::env::var_os("LULL_RUNDIFF_PRINT").is_some()
            && let Some(k) = &kernel_result
        {
            let res: Vec<String> = (0..16)
                .map_while(|i| k.res(i).map(|v| v.to_string()))
                .collect();
            eprintln!(
                "{}: \"expect\": {{\"retval\": {}, \"res\": [{}]}}",
                case.name,
                k.retval,
                res.join(", ")
            );
        }
        let verdict = match &kernel_result {
            Some(k) => {
                let wrong = against_expectations(case, k);
                if !wrong.is_empty() {
                    Verdict::ManifestWrong(wrong)
                } else {
                    judge(case, differences(case, k, &lull_result))
                }
            }
            None => judge(case, against_expectations(case, &lull_result)),
        };
        let verdict = if mode_diffs.is_empty() {
            verdict
        } else {
            Verdict::NewDisagreement(mode_diffs)
        };
        cases.push((case.clone(), verdict));
    }
    Ok(Report {
        kernel_skipped,
        cases,
    })
}

fn judge(case: &Case, diffs: Vec<String>) -> Verdict {
    match (diffs.is_empty(), case.xfail.is_some()) {
        (true, false) => Verdict::Agree,
        (true, true) => Verdict::Fixed,
        (false, true) => Verdict::ExpectedDisagreement(diffs),
        (false, false) => Verdict::NewDisagreement(diffs),
    }
}
