//! The differential test: every case of `manifest.json` in Lull and in the live kernel.
//!
//! Fails on a new disagreement, on a known one that is gone (remove its `xfail`), and when the
//! kernel contradicts the manifest's expected values. Without `bpf()` (not root) the kernel
//! side is skipped, said so loudly, and Lull is checked against the expected values.
//! `LULL_RUNDIFF_KERNEL=0` skips the kernel on purpose; `LULL_RUNDIFF_ONLY=a,b` runs only the
//! named cases; `LULL_RUNDIFF_PRINT=1` prints the kernel's values in the manifest's `expect`
//! form.

use lull_rundiff::manifest::Manifest;
use lull_rundiff::{crate_dir, suite};

#[test]
fn lull_and_the_kernel_agree() {
    let dir = crate_dir();
    let manifest = Manifest::load(&dir.join("manifest.json")).expect("manifest");
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rundiff");
    let use_kernel = std::env::var("LULL_RUNDIFF_KERNEL").map_or(true, |v| v != "0");
    let only: Option<Vec<String>> = std::env::var("LULL_RUNDIFF_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_string).collect());
    let report = suite::run(
        &manifest,
        &dir.join("progs"),
        &work,
        use_kernel,
        only.as_deref(),
    )
    .expect("suite");
    let text = report.render();
    println!("{text}");
    if let Some(why) = &report.kernel_skipped {
        eprintln!("lull-rundiff: kernel side skipped: {why}");
    }
    assert!(
        only.is_some() || report.cases.len() >= 25,
        "the manifest must keep at least 25 programs"
    );
    assert!(!report.failed(), "differential test failed:\n{text}");
}
