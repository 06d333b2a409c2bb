//! The bpf_conformance suite on every engine: every case of `tests/` passes (except the
//! documented `NOT_APPLICABLE` ones) and every case of `negative/` is rejected.

use std::path::PathBuf;

use lull_conformance::parse::{self, Expectation};
use lull_conformance::{Engine, InterpEngine, JitEngine, NOT_APPLICABLE, run_dir_with};

fn suite(dir: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance")
        .join(dir)
}

fn every_positive_case_passes(engine: &mut dyn Engine) {
    let summary =
        run_dir_with(suite("tests"), engine).expect("conformance tests directory is readable");
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

/// Every negative case is rejected somewhere: a malformed or unassemblable file by the harness,
/// a `-- raw` encoding with reserved fields set by the decoder (those files expect "any error",
/// so the case passes exactly when the decoder refuses the program), and a valid program whose
/// stated result or error is wrong by failing its check.
fn every_negative_case_is_rejected(engine: &mut dyn Engine) {
    let dir = suite("negative");
    let summary = run_dir_with(&dir, engine).expect("conformance negative directory is readable");
    assert!(
        summary.cases.len() >= 50,
        "only {} cases found",
        summary.cases.len()
    );
    let mut not_rejected = Vec::new();
    for (name, outcome) in &summary.cases {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let rejected = match parse::parse(&text) {
            // Malformed files are rejected by the harness: the case must not pass.
            Err(_) => !outcome.passed(),
            Ok(test) => match (&test.raw, &test.expect) {
                // A raw program expecting an error must be refused by the decoder itself.
                (Some(raw), Expectation::Error(_)) => {
                    outcome.passed() && lull_isa::decode(raw).is_err()
                }
                // Anything else is a wrong expectation: the check must fail.
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

#[test]
fn every_positive_case_passes_on_the_interpreter() {
    every_positive_case_passes(&mut InterpEngine::new());
}

#[test]
fn every_negative_case_is_rejected_by_the_interpreter() {
    every_negative_case_is_rejected(&mut InterpEngine::new());
}

#[test]
fn every_positive_case_passes_on_the_jit() {
    every_positive_case_passes(&mut JitEngine::new());
}

#[test]
fn every_negative_case_is_rejected_by_the_jit() {
    every_negative_case_is_rejected(&mut JitEngine::new());
}
