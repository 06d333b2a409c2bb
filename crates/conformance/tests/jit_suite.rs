//! The bpf_conformance suite through the JIT (checked mode): every positive case passes and
//! every negative case is rejected, exactly as on the interpreter.

use std::path::PathBuf;

use lull_conformance::parse::{self, Expectation};
use lull_conformance::{JitEngine, NOT_APPLICABLE, run_dir_with};

fn suite(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance")
        .join(dir)
}

#[test]
fn every_positive_case_passes_on_the_jit() {
    let summary = run_dir_with(suite("tests"), &mut JitEngine::new())
        .expect("conformance tests directory is readable");
    assert!(
        summary.cases.len() >= 300,
        "only {} cases found",
        summary.cases.len()
    );
    let unexpected: Vec<&str> = summary
        .failed_names()
        .into_iter()
        .filter(|n| !NOT_APPLICABLE.iter().any(|(na, _)| na == n))
        .collect();
    assert!(
        unexpected.is_empty(),
        "failing cases: {unexpected:?}\n{summary}"
    );
}

/// Same rule as the interpreter's negative test: malformed files fail, raw encodings expecting
/// an error are refused by the decoder, wrong expectations fail their check.
#[test]
fn every_negative_case_is_rejected_by_the_jit() {
    let dir = suite("negative");
    let summary = run_dir_with(&dir, &mut JitEngine::new())
        .expect("conformance negative directory is readable");
    assert!(
        summary.cases.len() >= 50,
        "only {} cases found",
        summary.cases.len()
    );
    let mut not_rejected = Vec::new();
    for (name, outcome) in &summary.cases {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let rejected = match parse::parse(&text) {
            Err(_) => !outcome.passed(),
            Ok(test) => match (&test.raw, &test.expect) {
                (Some(raw), Expectation::Error(_)) => {
                    outcome.passed() && lull_isa::decode(raw).is_err()
                }
                _ => !outcome.passed(),
            },
        };
        if !rejected {
            not_rejected.push((name.as_str(), outcome));
        }
    }
    assert!(
        not_rejected.is_empty(),
        "negative cases not rejected: {not_rejected:?}"
    );
}
