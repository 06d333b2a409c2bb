//! The soundness check as an integration test: every selftests program Lull accepts (and the
//! runtime can run) runs in checked mode on seeded random inputs; a memory fault that
//! `crates/selftests/soundness-allow.txt` does not explain fails the test. Skips (and says why)
//! when the corpus cannot be built here. `LULL_SOUNDNESS_RUNS` / `LULL_SOUNDNESS_SEED` change
//! the inputs, `LULL_SELFTESTS_FILTER` the objects.

use lull_selftests::{Error, run, soundness};

#[test]
fn accepted_programs_never_fault_in_checked_mode() {
    let opts = run::Options::from_env();
    let compiled = match soundness::corpus(&opts) {
        Ok(c) => c,
        Err(Error::Unavailable(why)) => {
            println!("SKIPPED soundness: {why}");
            return;
        }
        Err(e) => panic!("soundness corpus: {e}"),
    };
    let sopts = soundness::SoundnessOptions::from_env();
    let report = soundness::check_corpus(&compiled, &sopts, opts.jobs);
    print!("{}", report.text());
    assert!(
        report.errors.is_empty(),
        "objects that could not be read:\n{}",
        report.errors.join("\n")
    );
    assert!(report.ran > 0, "no program ran: the check checked nothing");
    let allow = soundness::load_allowlist(&soundness::allowlist_path()).expect("allowlist");
    let unexplained: Vec<String> = report
        .faults
        .iter()
        .filter(|f| !allow.contains_key(&f.id))
        .map(|f| format!("{}: {} ({}) with {}", f.id, f.fault, f.insn, f.input))
        .collect();
    let faulted: std::collections::HashSet<&str> =
        report.faults.iter().map(|f| f.id.as_str()).collect();
    for id in allow.keys().filter(|id| !faulted.contains(id.as_str())) {
        println!("allowlisted {id} did not fault in this run (informational)");
    }
    assert!(
        unexplained.is_empty(),
        "runs touched memory the verifier did not allow (verifier soundness bugs):\n{}",
        unexplained.join("\n")
    );
}
