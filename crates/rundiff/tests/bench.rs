//! The hash-lookup benchmark runs on every engine and all engines compute the same checksum.

#[test]
fn hash_lookup_bench_agrees_on_the_checksum() {
    let work = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rundiff-bench");
    let report = lull_rundiff::bench::run(&work, 3).expect("benchmark");
    if let Some(why) = &report.kernel_skipped {
        eprintln!("lull-rundiff bench: kernel side skipped: {why}");
    }
    let first = report.rows[0].retval;
    assert_ne!(
        first,
        0,
        "the checksum of {} lookups is not zero",
        lull_rundiff::bench::LOOKUPS
    );
    for r in &report.rows {
        assert_eq!(r.retval, first, "{} disagrees on the checksum", r.engine);
        assert!(r.ns_per_run > 0.0, "{} reported no time", r.engine);
    }
}
