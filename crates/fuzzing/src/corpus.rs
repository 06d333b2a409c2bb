//! The regression corpus of `tests/kernel-diff/`: one program per file, in assembly, under a
//! header that records how it is loaded and what the Linux 6.18 kernel said about it, and
//! whether Lull is known to disagree (an expected failure, with a category):
//!
//! ```text
//! # type: xdp
//! # map: array:4:8:2
//! # kernel: reject EACCES
//! # kernel-error: invalid access to map value, value_size=8 off=8 size=1
//! # xfail: verdict lull-accepts-kernel-rejects
//! # origin: seed 17 map_access | mutate: offset +1 at insn 9
//! r6 = r1
//! ...
//! ```
//!
//! `xfail: verdict …` means Lull's verdict differs; `xfail: message …` means both reject but
//! Lull's log lacks the kernel's error line.

use std::fmt::Write as _;

use lull_abi::{AttachType, ProgType};

use crate::program::{MapSpec, SpecError, TestProgram};

/// Why a corpus file does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorpusError {
    /// A header line is malformed or unknown.
    #[error("line {line}: {what}")]
    Header {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A required header is missing.
    #[error("missing `# {0}:` header")]
    Missing(&'static str),
    /// The map or program text is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// What the kernel said when the case was recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Accepted?
    pub accepted: bool,
    /// Errno name of a rejection (`EACCES`), empty when accepted.
    pub errno: String,
    /// The kernel's error line (empty when accepted).
    pub error_line: String,
}

/// Which kind of known disagreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XfailKind {
    /// Lull's verdict differs from the kernel's.
    Verdict,
    /// Both reject, Lull's log lacks the kernel's error line.
    Message,
}

/// A known disagreement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Xfail {
    /// Verdict or message.
    pub kind: XfailKind,
    /// Free-form category (`lull-accepts-kernel-rejects`, `ctx-narrow-load`…).
    pub category: String,
}

/// One regression case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The program and its load parameters.
    pub program: TestProgram,
    /// The kernel's recorded verdict.
    pub kernel: Recorded,
    /// A known disagreement, if any.
    pub xfail: Option<Xfail>,
    /// Where the case came from.
    pub origin: Option<String>,
}

/// How Lull's judgement relates to a recorded kernel verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Same verdict (and, for rejections, Lull's log has the kernel's line).
    Agrees,
    /// Lull's verdict differs.
    VerdictDiffers,
    /// Both reject, but Lull's log lacks the kernel's error line.
    MessageDiffers,
}

/// Compares Lull's verdict and log with the kernel's.
pub fn relate(
    kernel_accepted: bool,
    kernel_line: &str,
    lull_accepted: bool,
    lull_log: &str,
) -> Relation {
    if kernel_accepted != lull_accepted {
        Relation::VerdictDiffers
    } else if !kernel_accepted && !message_agrees(kernel_line, lull_log) {
        Relation::MessageDiffers
    } else {
        Relation::Agrees
    }
}

/// Whether Lull's log contains the kernel's error line (compared trimmed; an empty kernel
/// line — no log — agrees with anything).
pub fn message_agrees(kernel_line: &str, lull_log: &str) -> bool {
    let k = kernel_line.trim();
    k.is_empty() || lull_log.lines().any(|l| l.trim() == k) || lull_log.contains(k)
}

impl Case {
    /// Parses a corpus file.
    pub fn parse(text: &str) -> Result<Case, CorpusError> {
        let mut prog_type = None;
        let mut attach = None;
        let mut sleepable = None;
        let mut maps = Vec::new();
        let mut kernel = None;
        let mut error_line = String::new();
        let mut xfail = None;
        let mut origin = None;
        let mut body = String::new();
        for (i, line) in text.lines().enumerate() {
            let err = |what: String| CorpusError::Header { line: i + 1, what };
            let Some(h) = line.strip_prefix("# ") else {
                body.push_str(line);
                body.push('\n');
                continue;
            };
            let Some((key, value)) = h.split_once(':') else {
                body.push('\n');
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "type" => {
                    prog_type = Some(
                        ProgType::from_name(value)
                            .ok_or_else(|| err(format!("unknown program type `{value}`")))?,
                    )
                }
                "attach" => {
                    attach = Some(
                        AttachType::from_name(value)
                            .ok_or_else(|| err(format!("unknown attach type `{value}`")))?,
                    )
                }
                "sleepable" => sleepable = Some(value == "true"),
                "map" => maps.push(MapSpec::parse(value)?),
                "kernel" => {
                    let mut w = value.split_whitespace();
                    kernel = Some(match (w.next(), w.next()) {
                        (Some("accept"), None) => (true, String::new()),
                        (Some("reject"), Some(e)) => (false, e.to_string()),
                        _ => {
                            return Err(err(format!(
                                "expected `accept` or `reject ERRNO`, found `{value}`"
                            )));
                        }
                    });
                }
                "kernel-error" => error_line = value.to_string(),
                "xfail" => {
                    let (kind, category) = value.split_once(' ').unwrap_or((value, ""));
                    let kind = match kind {
                        "verdict" => XfailKind::Verdict,
                        "message" => XfailKind::Message,
                        _ => {
                            return Err(err(format!(
                                "xfail kind must be `verdict` or `message`, found `{kind}`"
                            )));
                        }
                    };
                    xfail = Some(Xfail {
                        kind,
                        category: category.trim().to_string(),
                    });
                }
                "origin" | "note" => origin = Some(value.to_string()),
                other => return Err(err(format!("unknown header `{other}`"))),
            }
            body.push('\n');
        }
        let prog_type = prog_type.ok_or(CorpusError::Missing("type"))?;
        let (accepted, errno) = kernel.ok_or(CorpusError::Missing("kernel"))?;
        let mut program = TestProgram::assemble(prog_type, attach, maps, &body)?;
        if let Some(s) = sleepable {
            program.sleepable = s;
        }
        Ok(Case {
            program,
            kernel: Recorded {
                accepted,
                errno,
                error_line,
            },
            xfail,
            origin,
        })
    }

    /// The file text.
    pub fn render(&self) -> String {
        let p = &self.program;
        let mut s = String::new();
        let _ = writeln!(s, "# type: {}", p.prog_type.name());
        if let Some(a) = p.expected_attach {
            let _ = writeln!(s, "# attach: {}", a.name());
        }
        if p.sleepable {
            let _ = writeln!(s, "# sleepable: true");
        }
        for m in &p.maps {
            let _ = writeln!(s, "# map: {m}");
        }
        if self.kernel.accepted {
            let _ = writeln!(s, "# kernel: accept");
        } else {
            let _ = writeln!(s, "# kernel: reject {}", self.kernel.errno);
            let _ = writeln!(s, "# kernel-error: {}", self.kernel.error_line);
        }
        if let Some(x) = &self.xfail {
            let kind = match x.kind {
                XfailKind::Verdict => "verdict",
                XfailKind::Message => "message",
            };
            let _ = writeln!(s, "# xfail: {kind} {}", x.category);
        }
        if let Some(o) = &self.origin {
            let _ = writeln!(s, "# origin: {o}");
        }
        s.push_str(&p.asm_text());
        s
    }

    /// The relation this case's header promises: agreement, or the recorded disagreement.
    pub fn expected_relation(&self) -> Relation {
        match self.xfail.as_ref().map(|x| x.kind) {
            None => Relation::Agrees,
            Some(XfailKind::Verdict) => Relation::VerdictDiffers,
            Some(XfailKind::Message) => Relation::MessageDiffers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_parse_round_trip_and_errors() {
        let text = "# type: xdp\n# attach: xdp\n# map: array:4:8:2\n# kernel: reject EACCES\n# kernel-error: R0 !read_ok\n# xfail: message lull-wording\n# origin: hand\nr0 = 0\nexit\n";
        let c = Case::parse(text).unwrap();
        assert_eq!(c.program.prog_type, ProgType::Xdp);
        assert_eq!(c.kernel.errno, "EACCES");
        assert_eq!(c.xfail.as_ref().unwrap().kind, XfailKind::Message);
        assert_eq!(Case::parse(&c.render()).unwrap(), c);
        assert!(matches!(
            Case::parse("r0 = 0\nexit"),
            Err(CorpusError::Missing("type"))
        ));
        assert!(matches!(
            Case::parse("# type: xdp\n# kernel: maybe\nexit"),
            Err(CorpusError::Header { line: 2, .. })
        ));
        assert!(matches!(
            Case::parse("# type: xdp\n# colour: red\n"),
            Err(CorpusError::Header { line: 2, .. })
        ));
    }

    #[test]
    fn relation() {
        assert_eq!(relate(true, "", true, ""), Relation::Agrees);
        assert_eq!(
            relate(false, "R0 !read_ok", true, ""),
            Relation::VerdictDiffers
        );
        assert_eq!(
            relate(false, "R0 !read_ok", false, "0: (95) exit\nR0 !read_ok\n"),
            Relation::Agrees
        );
        assert_eq!(
            relate(false, "R0 !read_ok", false, "something else\n"),
            Relation::MessageDiffers
        );
    }
}
