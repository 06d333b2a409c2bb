//! Replays the regression corpus `tests/kernel-diff/*.txt` (at the repository root) through
//! Lull's verifier and checks each file's promise: agreement with the recorded Linux 6.18
//! verdict (and, for rejections, the kernel's error line in Lull's log), or — for files marked
//! `# xfail:` — the recorded disagreement, so that a fixed disagreement is noticed and the
//! marker removed. As root, the running kernel is asked again and must still say what the
//! file records.

use std::path::PathBuf;

use lull_fuzzing::corpus::{Case, Relation, relate};
use lull_fuzzing::kernel;

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/kernel-diff")
}

#[test]
fn corpus_matches_recorded_kernel_verdicts() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no cases in {}", dir.display());
    let kernel_ok = match kernel::available() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("kernel-diff: not re-checking the kernel: {e}");
            false
        }
    };
    let mut problems = Vec::new();
    let (mut agree, mut xfail) = (0, 0);
    for path in &files {
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let case = match Case::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let lull = lull_fuzzing::lull::run(&case.program);
        let got = relate(
            case.kernel.accepted,
            &case.kernel.error_line,
            lull.accepted,
            &lull.log,
        );
        let want = case.expected_relation();
        if got != want {
            let lull_msg = lull.error.as_ref().map_or("", |e| e.message.as_str());
            problems.push(match want {
                Relation::Agrees => format!(
                    "{name}: new disagreement ({got:?}): kernel {} `{}`, lull {} `{lull_msg}`",
                    if case.kernel.accepted { "accepts" } else { "rejects" },
                    case.kernel.error_line,
                    if lull.accepted { "accepts" } else { "rejects" },
                ),
                _ => format!(
                    "{name}: marked xfail ({want:?}) but now {got:?} (lull: `{lull_msg}`): update or drop the xfail line"
                ),
            });
        } else if want == Relation::Agrees {
            agree += 1;
        } else {
            xfail += 1;
        }
        if kernel_ok {
            match kernel::load(&case.program) {
                Ok(k)
                    if k.accepted != case.kernel.accepted
                        || (!k.accepted && k.error_line != case.kernel.error_line) =>
                {
                    problems.push(format!(
                        "{name}: the running kernel now says {} `{}` (recorded: {} `{}`)",
                        if k.accepted { "accept" } else { "reject" },
                        k.error_line,
                        if case.kernel.accepted {
                            "accept"
                        } else {
                            "reject"
                        },
                        case.kernel.error_line
                    ));
                }
                Ok(_) => {}
                Err(e) => problems.push(format!("{name}: kernel: {e}")),
            }
        }
    }
    eprintln!(
        "kernel-diff: {} cases, {agree} agree, {xfail} known disagreements",
        files.len()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
