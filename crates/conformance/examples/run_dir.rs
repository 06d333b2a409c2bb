//! Prints the conformance summary of a directory: `cargo run -p lull-conformance --example
//! run_dir -- DIR [-v]` (`-v` also lists passing cases).

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: run_dir DIR [-v]");
        std::process::exit(2);
    };
    let verbose = args.next().as_deref() == Some("-v");
    match lull_conformance::run_dir(&dir) {
        Ok(summary) => {
            if verbose {
                for name in summary.passed_names() {
                    println!("PASS {name}");
                }
            }
            println!("{summary}");
            std::process::exit(i32::from(summary.failed() > 0));
        }
        Err(e) => {
            eprintln!("cannot read {dir}: {e}");
            std::process::exit(2);
        }
    }
}
