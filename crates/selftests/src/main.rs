//! `lull-selftests`: runs the verifier selftests corpus and prints per-file rows and totals.
//!
//! Usage: `lull-selftests [--bless] [--no-kernel] [--filter SUBSTR] [--markdown PATH]
//! [--inventory PATH] [--retvals]` (`--inventory` writes the current disagreements to PATH;
//! `--retvals` lists the cases whose `__retval` Lull does not reproduce, with expected and
//! actual values).
//! Exit status: 0 when the run matches the xfail inventory (or after `--bless`), 1 when it does
//! not, 2 on errors, 77 when the corpus cannot be built here (skipped).

use lull_selftests::{report, run};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut opts = run::Options::from_env();
    let (mut bless, mut markdown) = (std::env::var("LULL_BLESS").is_ok_and(|v| v == "1"), None);
    let mut inventory: Option<String> = None;
    let mut retvals = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bless" => bless = true,
            "--no-kernel" => opts.kernel = false,
            "--filter" => opts.filter = args.next(),
            "--markdown" => markdown = args.next(),
            "--inventory" => inventory = args.next(),
            "--retvals" => retvals = true,
            "-h" | "--help" => {
                println!(
                    "usage: lull-selftests [--bless] [--no-kernel] [--filter SUBSTR] [--markdown PATH] [--inventory PATH] [--retvals]"
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("lull-selftests: unknown argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let r = match run::run(&opts) {
        Ok(r) => r,
        Err(lull_selftests::Error::Unavailable(why)) => {
            println!("lull-selftests: SKIPPED: {why}");
            return ExitCode::from(77);
        }
        Err(e) => {
            eprintln!("lull-selftests: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report::text(&r));
    if retvals {
        let failures = report::retval_failures(&r);
        println!("retval failures: {}", failures.len());
        for line in failures {
            println!("  {line}");
        }
    }
    if let Some(path) = markdown
        && let Err(e) = std::fs::write(&path, report::markdown(&r))
    {
        eprintln!("lull-selftests: {path}: {e}");
        return ExitCode::from(2);
    }
    // The current disagreements, in the inventory's format, without touching the committed one.
    if let Some(path) = inventory {
        let text =
            lull_selftests::xfail::render(&report::disagreements(&r), "current disagreements");
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("lull-selftests: {path}: {e}");
            return ExitCode::from(2);
        }
    }
    if bless {
        return match lull_selftests::bless(&r) {
            Ok(()) => {
                println!(
                    "blessed: {} and {}",
                    lull_selftests::inventory_path().display(),
                    lull_selftests::markdown_path().display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("lull-selftests: {e}");
                ExitCode::from(2)
            }
        };
    }
    match lull_selftests::check(&r) {
        Ok(diff) if diff.is_clean() => {
            print!("{}", lull_selftests::describe_diff(&diff));
            println!("xfail inventory: up to date");
            ExitCode::SUCCESS
        }
        Ok(diff) => {
            print!("{}", lull_selftests::describe_diff(&diff));
            println!(
                "xfail inventory out of date; regenerate with: {}",
                lull_selftests::BLESS_COMMAND
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("lull-selftests: {e}");
            ExitCode::from(2)
        }
    }
}
