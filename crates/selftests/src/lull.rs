//! Lull's side of a case: load the object with `lull-object`, verify the selected program with
//! `lull-verifier` (through `lull-runtime`, the same path `lull verify` takes) in the case's
//! mode, and return the verdict and log.

use lull_abi::prog_flags;
use lull_object::Object;
use lull_runtime::verify::{VerifyOptions, verify_program};
use lull_verifier::Caps;

use crate::case::{Case, caps};
use crate::spec::Mode;

/// Lull's verdict on a case.
#[derive(Clone, Debug)]
pub struct LullRun {
    /// The program was accepted.
    pub accepted: bool,
    /// The verifier log at the case's log level.
    pub log: String,
}

/// Why Lull could not judge a case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LullGap {
    /// There is no verifier to call yet.
    VerifierMissing(String),
    /// The object loader failed on this object or program.
    ObjectLoad(String),
    /// The verifier reports a feature it does not implement yet.
    Unsupported {
        /// Short feature name (`kfunc`, `arena`, …).
        feature: String,
        /// The verifier's message.
        detail: String,
    },
}

/// Whether a Lull verifier is wired in (changes what the report says, not the numbers).
pub const VERIFIER_AVAILABLE: bool = true;

/// Rejections that mean "Lull does not implement this yet" rather than "unsafe", by the phrase
/// the verifier uses and the feature name the inventory files them under.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("kernel function calls are not supported", "kfunc"),
    ("not supported by Lull", "unsupported"),
    ("unsupported program type", "prog-type"),
];

/// Loads and verifies one case with Lull.
pub fn verify_case(object: &[u8], case: &Case) -> Result<LullRun, LullGap> {
    let obj = Object::parse(object).map_err(|e| LullGap::ObjectLoad(e.to_string()))?;
    let program = obj
        .loadable_program(&case.program)
        .map_err(|e| LullGap::ObjectLoad(e.to_string()))?;
    let has = |cap: u64| case.caps_dropped & cap == 0;
    let caps = Caps {
        bpf: has(caps::BPF),
        perfmon: has(caps::PERFMON),
        net_admin: has(caps::NET_ADMIN),
        sys_admin: has(caps::SYS_ADMIN),
    };
    let opts = VerifyOptions {
        log_level: case.log_level.max(1),
        privileged: case.mode == Mode::Priv,
        caps: Some(caps),
        extra_prog_flags: case.prog_flags,
        sleepable: Some(program.sleepable || case.prog_flags & prog_flags::SLEEPABLE != 0),
    };
    let outcome = verify_program(&obj, program, &opts);
    if let Some(rejection) = &outcome.error {
        let text = format!("{} {}", rejection.message, rejection.summary);
        if let Some((_, feature)) = UNSUPPORTED.iter().find(|(phrase, _)| text.contains(phrase)) {
            return Err(LullGap::Unsupported {
                feature: (*feature).to_string(),
                detail: rejection.message.clone(),
            });
        }
    }
    Ok(LullRun {
        accepted: outcome.accepted,
        log: outcome.log,
    })
}
