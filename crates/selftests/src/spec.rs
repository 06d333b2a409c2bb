//! Test specifications read from the selftests' BTF decl tags (`bpf_misc.h`), interpreted the
//! way the 6.12 test loader (`test_loader.c: parse_test_spec`) does:
//!
//! - `__success`/`__failure`/`__msg`/`__retval`/`__xlated` imply a privileged run, their
//!   `_unpriv` forms an unprivileged run; with neither, a privileged run is implied.
//! - The unprivileged run inherits the privileged verdict, messages, xlated lines and retval when
//!   it has none of its own.
//! - `__flag` values are OR-ed into (or with `!` cleared from) the loader's default flags
//!   `BPF_F_TEST_RND_HI32 | BPF_F_TEST_REG_INVARIANTS`.
//! - `__auxiliary` programs are not tests; they are loaded alongside the tests of their mode.

use crate::error::{Error, Result};
use crate::pattern::MsgPattern;
use lull_abi::prog_flags;

/// `POINTER_VALUE` of `bpf_misc.h`: any return value is accepted.
pub const POINTER_VALUE: i32 = 0xcafe4a;
/// `TEST_DATA_LEN` of `bpf_misc.h`.
pub const TEST_DATA_LEN: i32 = 64;

/// Privileged or unprivileged load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// The default run (in `prog_tests/verifier.c` with `CAP_SYS_ADMIN` dropped).
    Priv,
    /// Without `CAP_SYS_ADMIN`, `CAP_NET_ADMIN`, `CAP_PERFMON` and `CAP_BPF`.
    Unpriv,
}

/// What one mode of a test expects.
#[derive(Clone, Debug, Default)]
pub struct Expectation {
    /// The load must fail.
    pub failure: bool,
    /// Messages that must appear in the log, in order.
    pub msgs: Vec<MsgPattern>,
    /// Expected `BPF_PROG_TEST_RUN` return value.
    pub retval: Option<i32>,
    /// Number of `__xlated` lines (needs the rewritten program; not compared).
    pub xlated: usize,
    /// Number of `__jited` lines for this architecture (needs the JIT; not compared).
    pub jited: usize,
}

/// The specification of one program of an object.
#[derive(Clone, Debug, Default)]
pub struct TestSpec {
    /// The program's name (its FUNC).
    pub program: String,
    /// `__description`, if any.
    pub description: Option<String>,
    /// The privileged expectation, when the test runs privileged.
    pub privileged: Option<Expectation>,
    /// The unprivileged expectation, when the test runs unprivileged.
    pub unprivileged: Option<Expectation>,
    /// `__log_level`.
    pub log_level: u32,
    /// Final `prog_flags` added to the section's flags.
    pub prog_flags: u32,
    /// `__auxiliary` / `__auxiliary_unpriv`.
    pub auxiliary: bool,
    /// `__arch_*` architectures; empty = all.
    pub arches: Vec<String>,
    /// `__btf_path`: the test wants CO-RE against a custom BTF file.
    pub btf_path: Option<String>,
}

impl TestSpec {
    /// The expectation for `mode`, if the test runs in it.
    pub fn expectation(&self, mode: Mode) -> Option<&Expectation> {
        match mode {
            Mode::Priv => self.privileged.as_ref(),
            Mode::Unpriv => self.unprivileged.as_ref(),
        }
    }

    /// Whether the test runs on x86-64.
    pub fn runs_on_x86_64(&self) -> bool {
        self.arches.is_empty() || self.arches.iter().any(|a| a == "X86_64")
    }
}

/// The test loader's default flags on a kernel that knows both test flags.
pub const DEFAULT_FLAGS: u32 = prog_flags::TEST_RND_HI32 | prog_flags::TEST_REG_INVARIANTS;

/// Strips a `<prefix><counter>=` head (the `__COUNTER__` that keeps repeated tags distinct).
fn dynamic_suffix<'a>(tag: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = tag.strip_prefix(prefix)?;
    rest.split_once('=').map(|(_, v)| v)
}

/// `parse_int` of the loader: decimal, or hex with `0x`, truncated to a C `int`.
fn parse_int(s: &str) -> Option<i32> {
    let v = match s.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).ok()?,
        None => s.parse::<i64>().ok()?,
    };
    Some(v as i32)
}

fn parse_retval(s: &str) -> Option<i32> {
    match s {
        "INT_MIN" => Some(i32::MIN),
        "POINTER_VALUE" => Some(POINTER_VALUE),
        "TEST_DATA_LEN" => Some(TEST_DATA_LEN),
        _ => parse_int(s),
    }
}

fn flag_value(name: &str) -> Option<u32> {
    Some(match name {
        "BPF_F_STRICT_ALIGNMENT" => prog_flags::STRICT_ALIGNMENT,
        "BPF_F_ANY_ALIGNMENT" => prog_flags::ANY_ALIGNMENT,
        "BPF_F_TEST_RND_HI32" => prog_flags::TEST_RND_HI32,
        "BPF_F_TEST_STATE_FREQ" => prog_flags::TEST_STATE_FREQ,
        "BPF_F_SLEEPABLE" => prog_flags::SLEEPABLE,
        "BPF_F_XDP_HAS_FRAGS" => prog_flags::XDP_HAS_FRAGS,
        "BPF_F_TEST_REG_INVARIANTS" => prog_flags::TEST_REG_INVARIANTS,
        other => parse_int(other)? as u32,
    })
}

/// Builds the specification of `program` from the decl tags on its FUNC, in BTF order.
pub fn parse_spec<'a>(program: &str, tags: impl IntoIterator<Item = &'a str>) -> Result<TestSpec> {
    let bad = |tag: &str, reason: &str| Error::Annotation {
        program: program.to_string(),
        tag: tag.to_string(),
        reason: reason.to_string(),
    };
    let mut spec = TestSpec {
        program: program.to_string(),
        prog_flags: DEFAULT_FLAGS,
        ..TestSpec::default()
    };
    let (mut priv_e, mut unpriv_e) = (Expectation::default(), Expectation::default());
    let (mut has_priv, mut has_unpriv) = (false, false);
    let (mut unpriv_result, mut unpriv_retval) = (false, false);
    let mut collect_jit = false;
    for tag in tags {
        let Some(t) = tag.strip_prefix("comment:") else {
            continue;
        };
        let msg = |s: &str| MsgPattern::parse(s).map_err(|r| bad(tag, &r));
        if let Some(d) = t.strip_prefix("test_description=") {
            spec.description = Some(d.to_string());
        } else if t == "test_expect_failure" {
            priv_e.failure = true;
            has_priv = true;
        } else if t == "test_expect_success" {
            priv_e.failure = false;
            has_priv = true;
        } else if t == "test_expect_failure_unpriv" {
            unpriv_e.failure = true;
            has_unpriv = true;
            unpriv_result = true;
        } else if t == "test_expect_success_unpriv" {
            unpriv_e.failure = false;
            has_unpriv = true;
            unpriv_result = true;
        } else if t == "test_auxiliary" {
            spec.auxiliary = true;
            has_priv = true;
        } else if t == "test_auxiliary_unpriv" {
            spec.auxiliary = true;
            has_unpriv = true;
        } else if let Some(m) = dynamic_suffix(t, "test_expect_msg_unpriv=") {
            unpriv_e.msgs.push(msg(m)?);
            has_unpriv = true;
        } else if let Some(m) = dynamic_suffix(t, "test_expect_msg=") {
            priv_e.msgs.push(msg(m)?);
            has_priv = true;
        } else if dynamic_suffix(t, "test_jited_unpriv=").is_some() {
            if collect_jit {
                unpriv_e.jited += 1;
                has_unpriv = true;
            }
        } else if dynamic_suffix(t, "test_jited=").is_some() {
            if spec.arches.is_empty() {
                return Err(bad(tag, "__jited before __arch_*"));
            }
            if collect_jit {
                priv_e.jited += 1;
                has_priv = true;
            }
        } else if let Some(m) = dynamic_suffix(t, "test_expect_xlated_unpriv=") {
            if m != "..." {
                unpriv_e.xlated += 1;
            }
            has_unpriv = true;
        } else if let Some(m) = dynamic_suffix(t, "test_expect_xlated=") {
            if m != "..." {
                priv_e.xlated += 1;
            }
            has_priv = true;
        } else if let Some(v) = t.strip_prefix("test_retval_unpriv=") {
            unpriv_e.retval = Some(parse_retval(v).ok_or_else(|| bad(tag, "not a number"))?);
            has_unpriv = true;
            unpriv_retval = true;
        } else if let Some(v) = t.strip_prefix("test_retval=") {
            priv_e.retval = Some(parse_retval(v).ok_or_else(|| bad(tag, "not a number"))?);
            has_priv = true;
        } else if let Some(v) = t.strip_prefix("test_log_level=") {
            spec.log_level = parse_int(v).ok_or_else(|| bad(tag, "not a number"))? as u32;
        } else if let Some(v) = t.strip_prefix("test_prog_flags=") {
            let (clear, name) = v.strip_prefix('!').map_or((false, v), |n| (true, n));
            let f = flag_value(name).ok_or_else(|| bad(tag, "unknown flag"))?;
            if clear {
                spec.prog_flags &= !f;
            } else {
                spec.prog_flags |= f;
            }
        } else if let Some(a) = t.strip_prefix("test_arch=") {
            if !matches!(a, "X86_64" | "ARM64" | "RISCV64") {
                return Err(bad(tag, "unknown architecture"));
            }
            spec.arches.push(a.to_string());
            collect_jit = a == "X86_64";
        } else if let Some(p) = t.strip_prefix("test_btf_path=") {
            spec.btf_path = Some(p.to_string());
        }
    }
    if !has_priv && !has_unpriv {
        has_priv = true;
    }
    if !unpriv_result {
        unpriv_e.failure = priv_e.failure;
    }
    if !unpriv_retval {
        unpriv_e.retval = priv_e.retval;
    }
    if unpriv_e.msgs.is_empty() {
        unpriv_e.msgs = priv_e.msgs.clone();
    }
    if unpriv_e.xlated == 0 {
        unpriv_e.xlated = priv_e.xlated;
    }
    if unpriv_e.jited == 0 {
        unpriv_e.jited = priv_e.jited;
    }
    spec.privileged = has_priv.then_some(priv_e);
    spec.unprivileged = has_unpriv.then_some(unpriv_e);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tags_means_privileged_success() {
        let s = parse_spec("p", []).unwrap();
        let e = s.expectation(Mode::Priv).unwrap();
        assert!(!e.failure && e.msgs.is_empty());
        assert!(s.unprivileged.is_none());
        assert_eq!(s.prog_flags, DEFAULT_FLAGS);
    }

    #[test]
    fn unpriv_inherits_verdict_messages_and_retval() {
        let s = parse_spec(
            "p",
            [
                "comment:test_expect_failure",
                "comment:test_expect_msg=0=R1 !read_ok",
                "comment:test_retval_unpriv=0x10",
                "comment:test_expect_success_unpriv",
            ],
        )
        .unwrap();
        let (p, u) = (
            s.privileged.as_ref().unwrap(),
            s.unprivileged.as_ref().unwrap(),
        );
        assert!(p.failure && !u.failure);
        assert_eq!(u.msgs.len(), 1);
        assert_eq!(u.retval, Some(16));
        assert_eq!(p.retval, None);
    }

    #[test]
    fn unpriv_only_tags_do_not_imply_privileged_run() {
        let s = parse_spec(
            "p",
            [
                "comment:test_expect_msg_unpriv=1=x",
                "comment:test_expect_failure_unpriv",
            ],
        )
        .unwrap();
        assert!(s.privileged.is_none());
        assert!(s.unprivileged.as_ref().unwrap().failure);
    }

    #[test]
    fn flags_set_and_clear() {
        let s = parse_spec(
            "p",
            [
                "comment:test_prog_flags=BPF_F_ANY_ALIGNMENT",
                "comment:test_prog_flags=!BPF_F_TEST_RND_HI32",
            ],
        )
        .unwrap();
        assert_eq!(
            s.prog_flags,
            prog_flags::ANY_ALIGNMENT | prog_flags::TEST_REG_INVARIANTS
        );
    }

    #[test]
    fn retval_names_and_c_int_truncation() {
        for (v, want) in [
            ("INT_MIN", i32::MIN),
            ("POINTER_VALUE", POINTER_VALUE),
            ("0xffffffff", -1),
            ("-7", -7),
        ] {
            let s = parse_spec("p", [format!("comment:test_retval={v}").as_str()]).unwrap();
            assert_eq!(s.privileged.unwrap().retval, Some(want), "{v}");
        }
        assert!(parse_spec("p", ["comment:test_retval=zz"]).is_err());
    }

    #[test]
    fn arch_and_jited() {
        let s = parse_spec("p", ["comment:test_arch=ARM64", "comment:test_jited=0=x"]).unwrap();
        assert!(!s.runs_on_x86_64());
        assert_eq!(s.privileged.unwrap().jited, 0);
        assert!(parse_spec("p", ["comment:test_jited=0=x"]).is_err());
    }
}
