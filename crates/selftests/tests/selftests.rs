//! The full selftests run as an integration test. It skips (and says why) when the corpus cannot
//! be built here (no clang-19, bpftool or linux-source-6.12 and not root to install them); it
//! fails when Lull's disagreements differ from `crates/selftests/xfail.txt` in either direction.
//! `LULL_BLESS=1` rewrites the inventory and `docs/selftests.md` instead.

use lull_selftests::{Error, report, run};

#[test]
fn verifier_selftests_match_the_inventory() {
    let opts = run::Options::from_env();
    let r = match run::run(&opts) {
        Ok(r) => r,
        Err(Error::Unavailable(why)) => {
            println!("SKIPPED lull-selftests: {why}");
            return;
        }
        Err(e) => panic!("lull-selftests: {e}"),
    };
    print!("{}", report::text(&r));
    let errors: Vec<String> = r
        .files
        .iter()
        .filter_map(|f| f.error.as_ref().map(|e| format!("{}: {e}", f.stem)))
        .collect();
    assert!(
        errors.is_empty(),
        "objects the harness could not read:\n{}",
        errors.join("\n")
    );
    if std::env::var("LULL_BLESS").is_ok_and(|v| v == "1") {
        lull_selftests::bless(&r).expect("write inventory and report");
        println!("blessed {}", lull_selftests::inventory_path().display());
        return;
    }
    if opts.filter.is_some() {
        println!("filtered run: inventory not checked");
        return;
    }
    let diff = lull_selftests::check(&r).expect("read inventory");
    assert!(
        diff.is_clean(),
        "xfail inventory out of date:\n{}\nregenerate with: {}",
        lull_selftests::describe_diff(&diff),
        lull_selftests::BLESS_COMMAND
    );
}
