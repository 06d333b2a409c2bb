//! Judges each case: what the kernel said, what the annotations expect, what Lull said, and
//! whether they agree. The reference verdict is the kernel's when it could judge the case, the
//! annotation's otherwise; expected messages count only where the kernel's own log (if any)
//! still matches them (6.12 wording that 6.18 changed is not held against Lull).

use crate::case::Case;
use crate::lull::{LullGap, LullRun};
use crate::oracle::KernelRun;
use crate::pattern::match_in_order;
use crate::spec::{Mode, POINTER_VALUE};

/// What the kernel contributed to a case.
#[derive(Clone, Debug)]
pub enum KernelView {
    /// The verifier ran and decided.
    Judged(KernelRun),
    /// The load failed before the verifier ran (EPERM types, missing test kfuncs, …).
    CannotLoad(String),
    /// Not attempted (not root, unprivileged BPF disabled, case skipped).
    NotRun(String),
}

/// Agreement of the live kernel with the annotations on one case.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelAgreement {
    /// The verdicts agree.
    pub verdict: bool,
    /// `Some(ok)` when there were messages to check and the verdict agreed.
    pub msgs: Option<bool>,
    /// `Some(ok)` when a retval was expected and the program ran.
    pub retval: Option<bool>,
}

/// Where Lull's verdict is measured against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reference {
    /// The live kernel judged the case.
    Kernel,
    /// The annotations (kernel unavailable for this case).
    Annotation,
}

/// The full judgement of one case.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The case.
    pub case: Case,
    /// The kernel's part.
    pub kernel: KernelView,
    /// Kernel vs annotations, when the kernel judged.
    pub kernel_agreement: Option<KernelAgreement>,
    /// The reference verdict: `true` = must be rejected.
    pub reference_rejects: bool,
    /// Where the reference verdict comes from.
    pub reference: Reference,
    /// Whether expected messages apply to Lull (`false` when there are none or they are stale).
    pub msgs_apply: bool,
    /// Lull's result.
    pub lull: Result<LullRun, LullGap>,
    /// Lull's verdict agrees with the reference (`None` when Lull could not judge).
    pub verdict_ok: Option<bool>,
    /// Lull's log matches the expected messages (`None` when not applicable).
    pub msgs_ok: Option<bool>,
    /// Lull's run returned the expected `__retval` (`None` when no run was expected;
    /// `Some(false)` also when Lull could not run the program).
    pub retval_ok: Option<bool>,
    /// `None` = agreement, else (category, reason) for the xfail inventory.
    pub disagreement: Option<(String, String)>,
}

/// Program types whose loads fail with EPERM before the verifier on the reference machines.
fn kernel_cannot_load_type(prog_type: Option<u32>, attach: Option<u32>) -> bool {
    use lull_abi::{AttachType, ProgType};
    match prog_type.and_then(ProgType::from_u32) {
        Some(ProgType::Lsm | ProgType::Ext) => true,
        Some(ProgType::Tracing) => matches!(
            attach.and_then(AttachType::from_u32),
            Some(AttachType::TraceFentry | AttachType::TraceFexit | AttachType::ModifyReturn)
        ),
        _ => false,
    }
}

/// Classifies the kernel's raw answer.
pub fn kernel_view(run: KernelRun, prog_type: Option<u32>, attach: Option<u32>) -> KernelView {
    if run.stage != "load" {
        return KernelView::CannotLoad(format!("libbpf could not {} the program", run.stage));
    }
    if !run.accepted && run.log.trim().is_empty() {
        let why = if kernel_cannot_load_type(prog_type, attach) && run.errno == 1 {
            "EPERM before the verifier (lsm/fentry/fexit/fmod_ret/ext cannot load here)".to_string()
        } else {
            format!("failed before the verifier ran (errno {})", run.errno)
        };
        return KernelView::CannotLoad(why);
    }
    KernelView::Judged(run)
}

/// Judges one case.
pub fn judge(case: Case, kernel: KernelView, lull: Result<LullRun, LullGap>) -> Judged {
    let expect = &case.expect;
    let (kernel_agreement, reference_rejects, reference, msgs_apply) = match &kernel {
        KernelView::Judged(run) => {
            let verdict = run.accepted != expect.failure;
            let msgs = (verdict && !expect.msgs.is_empty())
                .then(|| match_in_order(&run.log, &expect.msgs).is_ok());
            let retval = match (expect.retval, run.run) {
                (Some(want), Some(r)) if run.accepted => {
                    Some(r.errno == 0 && (want == POINTER_VALUE || r.retval == want))
                }
                _ => None,
            };
            let agreement = KernelAgreement {
                verdict,
                msgs,
                retval,
            };
            (
                Some(agreement),
                !run.accepted,
                Reference::Kernel,
                msgs == Some(true),
            )
        }
        _ => (
            None,
            expect.failure,
            Reference::Annotation,
            !expect.msgs.is_empty(),
        ),
    };
    let (verdict_ok, msgs_ok) = match &lull {
        Ok(r) => {
            let v = r.accepted != reference_rejects;
            let m = (v && msgs_apply).then(|| match_in_order(&r.log, &expect.msgs).is_ok());
            (Some(v), m)
        }
        Err(_) => (None, None),
    };
    let against = match reference {
        Reference::Kernel => "kernel",
        Reference::Annotation => "annotation",
    };
    let disagreement = match (&lull, verdict_ok, msgs_ok) {
        (Err(LullGap::VerifierMissing(why)), _, _) => {
            Some(("verifier-missing".to_string(), why.clone()))
        }
        (Err(LullGap::ObjectLoad(why)), _, _) => Some(("object-load".to_string(), why.clone())),
        (Err(LullGap::Unsupported { feature, detail }), _, _) => {
            Some((format!("feature:{feature}"), detail.clone()))
        }
        (Ok(_), Some(false), _) if reference_rejects => Some((
            "lull-accepts-kernel-rejects".to_string(),
            format!("{against} rejects"),
        )),
        (Ok(_), Some(false), _) => Some((
            "lull-rejects-kernel-accepts".to_string(),
            format!("{against} accepts"),
        )),
        (Ok(_), _, Some(false)) => Some((
            "message-mismatch".to_string(),
            "expected __msg not in Lull's log".into(),
        )),
        _ => None,
    };
    // A run is expected where the reference accepts a case with a `__retval` (the kernel's
    // mode of `RUN_TESTS`: privileged only).
    let expects_run = expect.retval.is_some() && !reference_rejects && case.mode == Mode::Priv;
    let retval_ok = match (expects_run, expect.retval, &lull) {
        (
            true,
            Some(want),
            Ok(LullRun {
                run: Some(Ok(got)), ..
            }),
        ) => Some(want == POINTER_VALUE || *got == want),
        (true, _, _) => Some(false),
        _ => None,
    };
    Judged {
        case,
        kernel,
        kernel_agreement,
        reference_rejects,
        reference,
        msgs_apply,
        lull,
        verdict_ok,
        msgs_ok,
        retval_ok,
        disagreement,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Expectation, Mode};

    fn case(failure: bool, msgs: &[&str]) -> Case {
        Case {
            file: "verifier_x".into(),
            program: "p".into(),
            description: None,
            mode: Mode::Priv,
            section: "socket".into(),
            expect: Expectation {
                failure,
                msgs: msgs
                    .iter()
                    .map(|m| crate::pattern::MsgPattern::parse(m).unwrap())
                    .collect(),
                ..Expectation::default()
            },
            prog_flags: 0,
            log_level: 0,
            aux: vec![],
            caps_dropped: 0,
            prefill: None,
            skip: None,
        }
    }

    fn krun(accepted: bool, log: &str) -> KernelView {
        KernelView::Judged(KernelRun {
            name: "p".into(),
            accepted,
            errno: if accepted { 0 } else { 13 },
            log: log.into(),
            run: None,
            stage: "load".into(),
        })
    }

    fn lull(accepted: bool, log: &str) -> Result<LullRun, LullGap> {
        Ok(LullRun {
            accepted,
            log: log.into(),
            run: None,
        })
    }

    #[test]
    fn kernel_is_the_reference_when_it_judged() {
        // Annotation says failure, kernel accepts (a 6.12 -> 6.18 change): Lull must accept.
        let j = judge(case(true, &[]), krun(true, ""), lull(true, ""));
        assert_eq!(j.reference, Reference::Kernel);
        assert_eq!(j.verdict_ok, Some(true));
        assert!(!j.kernel_agreement.unwrap().verdict);
        assert!(j.disagreement.is_none());
    }

    #[test]
    fn stale_messages_are_not_held_against_lull() {
        let j = judge(
            case(true, &["old wording"]),
            krun(false, "new wording"),
            lull(false, "new wording"),
        );
        assert_eq!(j.kernel_agreement.unwrap().msgs, Some(false));
        assert!(!j.msgs_apply);
        assert!(j.disagreement.is_none());
    }

    #[test]
    fn message_mismatch_and_verdict_categories() {
        let j = judge(
            case(true, &["R1 !read_ok"]),
            krun(false, "R1 !read_ok"),
            lull(false, "other"),
        );
        assert_eq!(j.disagreement.unwrap().0, "message-mismatch");
        let j = judge(case(true, &[]), krun(false, "x"), lull(true, ""));
        assert_eq!(j.disagreement.unwrap().0, "lull-accepts-kernel-rejects");
        let j = judge(
            case(false, &[]),
            KernelView::NotRun("not root".into()),
            lull(false, ""),
        );
        assert_eq!(j.reference, Reference::Annotation);
        assert_eq!(j.disagreement.unwrap().0, "lull-rejects-kernel-accepts");
    }

    #[test]
    fn empty_log_rejection_is_not_a_verdict() {
        let run = KernelRun {
            name: "p".into(),
            accepted: false,
            errno: 1,
            log: String::new(),
            run: None,
            stage: "load".into(),
        };
        assert!(matches!(
            kernel_view(run, Some(29), Some(27)),
            KernelView::CannotLoad(_)
        ));
    }
}
