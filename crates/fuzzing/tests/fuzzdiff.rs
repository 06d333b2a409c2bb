//! The differential run on generated programs: Lull's verifier against the running kernel,
//! plus the soundness oracle on every program Lull accepts.
//!
//! Quick by default (300 seeded programs). Environment:
//! * `LULL_FUZZDIFF_N=20000` — number of programs; `LULL_FUZZDIFF_SEED=S` — first seed;
//! * `LULL_FUZZDIFF_SAVE=DIR` — write minimised regression files for disagreements there.
//!
//! Without root (or without `bpf()`) the kernel comparison is skipped with a message and only
//! the soundness oracle runs.

use lull_fuzzing::diff::{RunConfig, run};
use lull_fuzzing::kernel;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn generated_programs_agree_with_the_kernel_and_run_safely() {
    let use_kernel = match kernel::available() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("fuzzdiff: kernel comparison skipped: {e}");
            false
        }
    };
    let cfg = RunConfig {
        first_seed: env_u64("LULL_FUZZDIFF_SEED", 0),
        count: env_u64("LULL_FUZZDIFF_N", 300),
        use_kernel,
        save_dir: std::env::var_os("LULL_FUZZDIFF_SAVE").map(Into::into),
        ..RunConfig::default()
    };
    let start = std::time::Instant::now();
    let (totals, findings) = run(&cfg, |line| eprintln!("fuzzdiff: {line}"));
    eprintln!("{totals}");
    eprintln!("({} programs in {:.1?})", cfg.count, start.elapsed());
    for f in findings
        .iter()
        .filter(|f| f.category.starts_with("unsound"))
    {
        eprintln!(
            "seed {} ({}): {}\n{}",
            f.seed,
            f.origin,
            f.detail,
            f.program.asm_text()
        );
    }
    assert_eq!(
        totals.unsound, 0,
        "the verifier accepted programs that fault in checked mode"
    );
    assert!(
        totals.soundness_checked * 2 >= totals.lull_accepts,
        "the soundness oracle could run only {} of {} accepted programs",
        totals.soundness_checked,
        totals.lull_accepts
    );
    if use_kernel {
        // The instrument is only useful if the generator makes mostly loadable programs and
        // still provokes rejections.
        assert!(
            totals.kernel_accepts * 100 >= totals.judged * 30,
            "kernel accepted too few: {totals}"
        );
        assert!(
            totals.kernel_accepts < totals.judged,
            "kernel rejected nothing: {totals}"
        );
        assert!(
            totals.verdict_ok * 100 >= totals.judged * 90,
            "verdict agreement on generated programs fell below 90%:\n{totals}"
        );
    }
}
