//! Reading one bpf_conformance `.data` file into a [`TestFile`].
//!
//! The format, as the suite's own parser reads it: `#` starts a comment anywhere on a line; a
//! line starting with `--` opens a section: `asm` (program text), `raw` (the program, one slot
//! per line, as eight hex bytes in memory order or one `0x` 64-bit word; see
//! [`lull_isa::asm::parse_raw_hex`]), `mem` (hex bytes; r1 points to them, r2 holds their length), `result` (expected r0,
//! `0x` hex or decimal; the last line counts), `error` (expected failure message: the rest of
//! the line or the last following line), and the ignored `c` and `no register offset`. Any
//! other section name makes the file malformed.
//!
//! An `error` section with no message expects any error (the suite's `negative/unused-*` cases
//! use it for encodings with reserved fields set). A file with neither a `result` nor an
//! `error` section is malformed. `raw` takes precedence over `asm` (here the two are
//! cross-checked when both are present).

use lull_isa::RawInsn;

/// What a test expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expectation {
    /// The program returns this r0.
    Result(u64),
    /// The program is rejected or faults, with a message containing this text.
    Error(String),
}

/// A parsed test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestFile {
    /// The `-- asm` text, if any.
    pub asm: Option<String>,
    /// The `-- raw` slots, if any.
    pub raw: Option<Vec<RawInsn>>,
    /// The `-- mem` bytes (empty if none).
    pub mem: Vec<u8>,
    /// What the test expects.
    pub expect: Expectation,
}

/// Why a file is not a valid test.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A `--` line with an unknown section name.
    #[error("line {line}: unknown directive `{text}`")]
    UnknownDirective {
        /// 1-based line number.
        line: usize,
        /// The directive as written.
        text: String,
    },
    /// A malformed `mem` byte, `raw` word or `result` value.
    #[error("line {line}: invalid {what} `{text}`")]
    BadValue {
        /// 1-based line number.
        line: usize,
        /// Which section.
        what: &'static str,
        /// The token.
        text: String,
    },
    /// No `asm` and no `raw` section (or both empty).
    #[error("no instructions (no `-- asm` or `-- raw` content)")]
    NoProgram,
    /// Neither a `result` nor an `error` section.
    #[error("no expected result and no expected error")]
    NoExpectation,
    /// The `raw` section is not hex instruction text.
    #[error("raw section: {0}")]
    BadRaw(lull_isa::asm::RawHexError),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Ignore,
    Asm,
    Raw,
    Mem,
    Result,
    Error,
}

/// Parses the text of a `.data` file.
pub fn parse(text: &str) -> Result<TestFile, ParseError> {
    let mut section = Section::Ignore;
    let mut asm: Option<String> = None;
    let mut raw_text: Option<String> = None;
    let mut mem = Vec::new();
    let mut result: Option<u64> = None;
    let mut error: Option<String> = None;

    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(directive) = line.strip_prefix("--") {
            let directive = directive.trim();
            let (name, rest) = directive
                .split_once(char::is_whitespace)
                .map_or((directive, ""), |(n, r)| (n, r.trim()));
            section = match name {
                "asm" => Section::Asm,
                "raw" => Section::Raw,
                "mem" => Section::Mem,
                "result" => Section::Result,
                "c" => Section::Ignore,
                "no" if rest == "register offset" => Section::Ignore,
                "error" => {
                    error = Some(rest.to_string());
                    Section::Error
                }
                _ => {
                    return Err(ParseError::UnknownDirective {
                        line: line_no,
                        text: line.to_string(),
                    });
                }
            };
            match section {
                Section::Asm => _ = asm.get_or_insert_with(String::new),
                Section::Raw => _ = raw_text.get_or_insert_with(String::new),
                _ => {}
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        let bad = |what, text: &str| ParseError::BadValue {
            line: line_no,
            what,
            text: text.to_string(),
        };
        match section {
            Section::Ignore => {}
            Section::Asm => {
                let a = asm.get_or_insert_with(String::new);
                a.push_str(line);
                a.push('\n');
            }
            Section::Raw => {
                // Keep line breaks: one slot per line. Blank lines keep the numbering for errors.
                let r = raw_text.get_or_insert_with(String::new);
                r.push_str(line);
                r.push('\n');
            }
            Section::Mem => {
                for tok in line.split_whitespace() {
                    let b = (tok.len() <= 2)
                        .then(|| u8::from_str_radix(tok, 16).ok())
                        .flatten()
                        .ok_or_else(|| bad("mem byte", tok))?;
                    mem.push(b);
                }
            }
            Section::Result => {
                result = Some(parse_u64(line).ok_or_else(|| bad("result", line))?);
            }
            Section::Error => error = Some(line.to_string()),
        }
    }

    let raw: Option<Vec<RawInsn>> = raw_text
        .as_deref()
        .map(lull_isa::asm::parse_raw_hex)
        .transpose()
        .map_err(ParseError::BadRaw)?;
    let expect = if let Some(error) = error {
        Expectation::Error(error)
    } else if let Some(r) = result {
        Expectation::Result(r)
    } else {
        return Err(ParseError::NoExpectation);
    };
    let has_asm = asm.as_deref().is_some_and(|a| !a.trim().is_empty());
    let has_raw = raw.as_deref().is_some_and(|r| !r.is_empty());
    if !has_asm && !has_raw {
        return Err(ParseError::NoProgram);
    }
    Ok(TestFile {
        asm: asm.filter(|_| has_asm),
        raw: raw.filter(|_| has_raw),
        mem,
        expect,
    })
}

/// `0x…` hex or decimal.
fn parse_u64(tok: &str) -> Option<u64> {
    match tok.strip_prefix("0x").or_else(|| tok.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => tok.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections() {
        let t = parse(
            "# c\n-- asm\nmov %r0, 1 # one\nexit\n-- mem\n00 ff\n 01\n-- result\n0x10\n-- no register offset\nwhatever\n",
        )
        .unwrap();
        assert_eq!(t.asm.as_deref(), Some("mov %r0, 1\nexit\n"));
        assert_eq!(t.mem, vec![0, 0xff, 1]);
        assert_eq!(t.expect, Expectation::Result(16));
        assert_eq!(t.raw, None);
    }

    #[test]
    fn raw_slots_are_bytes_or_little_endian_words() {
        let t =
            parse("-- raw\n0x1122334400000018\n95 00 00 00 00 00 00 00\n-- result\n7\n").unwrap();
        let raw = t.raw.unwrap();
        assert_eq!(raw[0].code, 0x18);
        assert_eq!(raw[0].imm, 0x11223344);
        assert_eq!(raw[1].code, 0x95);
        assert_eq!(t.expect, Expectation::Result(7));
        assert!(matches!(
            parse("-- raw\n07 00\n-- result\n0\n"),
            Err(ParseError::BadRaw(_))
        ));
    }

    #[test]
    fn an_empty_error_section_expects_any_error() {
        let t = parse("-- asm\nexit\n-- error\n").unwrap();
        assert_eq!(t.expect, Expectation::Error(String::new()));
    }

    #[test]
    fn error_message_on_next_line_or_same_line() {
        let t = parse("-- asm\nexit\n-- error\nInvalid thing").unwrap();
        assert_eq!(t.expect, Expectation::Error("Invalid thing".into()));
        let t = parse("-- asm\nexit\n-- error bad\n").unwrap();
        assert_eq!(t.expect, Expectation::Error("bad".into()));
    }

    #[test]
    fn malformed_files() {
        assert_eq!(parse("-- asm\nexit\n"), Err(ParseError::NoExpectation));
        assert_eq!(parse("-- result\n0\n"), Err(ParseError::NoProgram));
        assert!(matches!(
            parse("-- asm\n-- Unknown directive\n"),
            Err(ParseError::UnknownDirective { line: 2, .. })
        ));
        assert!(matches!(
            parse("-- asm\nexit\n-- mem\n0g\n-- result\n1"),
            Err(ParseError::BadValue { line: 4, .. })
        ));
    }
}
