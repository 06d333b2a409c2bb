//! `lull-selftests`: measures Lull's verifier against the Linux kernel's own verifier selftests
//! (`tools/testing/selftests/bpf/progs/verifier_*.c` of `linux-source-6.12`, and the other
//! `progs/*.c` carrying test-loader annotations: see [`corpus::Corpus`]) and against the live
//! kernel.
//!
//! Pipeline: [`corpus`] extracts the sources into the cache under `target/`, [`compile`] builds
//! them with clang-19, [`catalog`] lists programs and reads their annotations from BTF decl tags
//! ([`spec`], [`pattern`]), [`case`] turns them into test cases, [`oracle`] asks the live kernel,
//! [`lull`] asks Lull, [`judge`] compares, [`report`] counts and [`xfail`] keeps the inventory
//! of known disagreements true. [`run`] ties it together. [`soundness`] runs the programs Lull
//! accepts in the checked interpreter on random inputs.
#![forbid(unsafe_code)]

pub mod case;
pub mod catalog;
pub mod compile;
pub mod corpus;
pub mod error;
pub mod judge;
pub mod lull;
pub mod oracle;
pub mod pattern;
pub mod report;
pub mod run;
pub mod soundness;
pub mod spec;
pub mod sys;
pub mod xfail;

pub use error::{Error, Result};
use std::path::{Path, PathBuf};

/// The workspace root (two levels above this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The committed xfail inventory.
pub fn inventory_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("xfail.txt")
}

/// The committed markdown report.
pub fn markdown_path() -> PathBuf {
    workspace_root().join("docs/selftests.md")
}

/// The command that regenerates the inventory and the report.
pub const BLESS_COMMAND: &str = "LULL_BLESS=1 cargo test -p lull-selftests --test selftests";

const INVENTORY_HEADER: &str = "\
Cases where Lull disagrees with the Linux verifier today (see crates/selftests).
One line per case: file/program[/unpriv]  category  reason.
Regenerate: LULL_BLESS=1 cargo test -p lull-selftests --test selftests";

/// The hand-kept explanations of disagreements (`explained.txt`: id, then the explanation).
pub fn explanations() -> std::collections::BTreeMap<String, String> {
    const TEXT: &str = include_str!("../explained.txt");
    TEXT.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (id, why) = l.split_once(char::is_whitespace)?;
            Some((id.to_string(), why.trim().to_string()))
        })
        .collect()
}

/// Writes the inventory and the markdown report from a run.
pub fn bless(report: &run::RunReport) -> Result<()> {
    let mut inv = report::disagreements(report);
    for (id, why) in explanations() {
        if let Some(e) = inv.get_mut(&id) {
            e.reason = format!("{}; explained: {why}", e.reason);
        }
    }
    sys::write_if_changed(
        &inventory_path(),
        xfail::render(&inv, INVENTORY_HEADER).as_bytes(),
    )?;
    sys::write_if_changed(&markdown_path(), report::markdown(report).as_bytes())?;
    Ok(())
}

/// Compares a run with the committed inventory.
pub fn check(report: &run::RunReport) -> Result<xfail::Diff> {
    let inv = xfail::load(&inventory_path())?;
    let current = report::disagreements(report);
    let ran = report
        .files
        .iter()
        .flat_map(|f| &f.cases)
        .filter(|j| j.case.skip.is_none())
        .map(|j| j.case.id())
        .collect();
    Ok(xfail::compare(&inv, &current, &ran))
}

/// Human-readable description of an inventory diff.
pub fn describe_diff(diff: &xfail::Diff) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    const SHOWN: usize = 40;
    for (id, e) in diff.new.iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "+ {id}  {}  {}   (new disagreement)",
            e.category, e.reason
        );
    }
    if diff.new.len() > SHOWN {
        let _ = writeln!(
            out,
            "+ … and {} more new disagreements",
            diff.new.len() - SHOWN
        );
    }
    for id in diff.fixed.iter().take(SHOWN) {
        let _ = writeln!(out, "- {id}   (now agrees: remove it from the inventory)");
    }
    if diff.fixed.len() > SHOWN {
        let _ = writeln!(
            out,
            "- … and {} more listed cases that now agree",
            diff.fixed.len() - SHOWN
        );
    }
    for (id, old, new) in diff.recategorised.iter().take(20) {
        let _ = writeln!(
            out,
            "~ {id}  {old} -> {new}   (category changed; informational)"
        );
    }
    if !diff.not_run.is_empty() {
        let _ = writeln!(
            out,
            "? {} listed cases did not run here (informational)",
            diff.not_run.len()
        );
    }
    out
}

#[cfg(test)]
mod explained_tests {
    /// Every explanation still names a listed disagreement (a fixed case takes its
    /// explanation with it).
    #[test]
    fn explanations_name_listed_cases() {
        let inv = crate::xfail::load(&crate::inventory_path()).expect("inventory parses");
        let ex = super::explanations();
        assert!(!ex.is_empty());
        for id in ex.keys() {
            assert!(
                inv.contains_key(id),
                "explained.txt names {id}, which xfail.txt does not list"
            );
        }
    }
}
