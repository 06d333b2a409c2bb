//! Records (or re-records) regression files of `tests/kernel-diff/` against the running kernel:
//! `cargo run -p lull-fuzzing --example kdiff_record -- FILE...` (root). A file needs at least
//! `# type:` (and `# map:` lines) above its assembly; the `# kernel:`/`# kernel-error:` lines
//! are (re)written from the kernel's verdict, and an `# xfail:` line is added when Lull
//! disagrees (or removed when it agrees).

use lull_fuzzing::corpus::{Case, Recorded, Relation, Xfail, XfailKind, relate};
use lull_fuzzing::kernel;

fn main() {
    if let Err(e) = kernel::available() {
        eprintln!("kdiff_record: {e}");
        std::process::exit(2);
    }
    for path in std::env::args().skip(1) {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let text: String = if text.lines().any(|l| l.starts_with("# kernel:")) {
            text
        } else {
            format!("# kernel: accept\n{text}")
        };
        let mut case = match Case::parse(&text) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let k = match kernel::load(&case.program) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        case.kernel = Recorded {
            accepted: k.accepted,
            errno: if k.accepted {
                String::new()
            } else {
                kernel::errno_name(k.errno)
            },
            error_line: if k.accepted {
                String::new()
            } else {
                k.error_line.clone()
            },
        };
        let lull = lull_fuzzing::lull::run(&case.program);
        let lull_msg = lull
            .error
            .as_ref()
            .map_or(String::new(), |e| e.message.replace('\n', " / "));
        let rel = relate(k.accepted, &k.error_line, lull.accepted, &lull.log);
        let keep_category = case.xfail.as_ref().map(|x| x.category.clone());
        case.xfail = match rel {
            Relation::Agrees => None,
            Relation::VerdictDiffers => Some(Xfail {
                kind: XfailKind::Verdict,
                category: keep_category.unwrap_or_else(|| {
                    let side = if lull.accepted {
                        "lull-accepts-kernel-rejects"
                    } else {
                        "lull-rejects-kernel-accepts"
                    };
                    format!("{side} (lull: {lull_msg})")
                }),
            }),
            Relation::MessageDiffers => Some(Xfail {
                kind: XfailKind::Message,
                category: keep_category.unwrap_or_else(|| format!("wording (lull: {lull_msg})")),
            }),
        };
        if let Err(e) = std::fs::write(&path, case.render()) {
            eprintln!("{path}: {e}");
            continue;
        }
        println!(
            "{path}: kernel {} `{}`; lull {} `{lull_msg}` => {rel:?}",
            if k.accepted { "accept" } else { "reject" },
            k.error_line,
            if lull.accepted { "accept" } else { "reject" }
        );
    }
}
