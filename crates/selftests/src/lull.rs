//! Lull's side of a case: load the object with `lull-object`, verify the selected program with
//! `lull-verifier` (through `lull-runtime`, the same path `lull verify` takes) in the case's
//! mode, and return the verdict and log.

use lull_abi::prog_flags;
use lull_object::Object;
use lull_runtime::verify::{VerifyOptions, verifier_input};
use lull_runtime::{Runtime, RuntimeOptions, TestRun};
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
    /// For accepted privileged cases with a `__retval`: the program's r0 after one
    /// `BPF_PROG_TEST_RUN`-style run (as the kernel reports it, an `int`), or why it could not
    /// run.
    pub run: Option<Result<i32, String>>,
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

/// The running kernel's BTF, parsed once (kfunc and ksym resolution, CO-RE, BTF-typed
/// pointers); `None` when the machine has none.
fn kernel_btf() -> Option<&'static lull_btf::Btf> {
    static BTF: std::sync::OnceLock<Option<lull_btf::Btf>> = std::sync::OnceLock::new();
    BTF.get_or_init(|| lull_btf::Btf::vmlinux().ok()).as_ref()
}

/// Loads and verifies one case with Lull.
pub fn verify_case(object: &[u8], case: &Case) -> Result<LullRun, LullGap> {
    let kernel_btf = kernel_btf();
    let parse = lull_object::ParseOptions {
        target_btf: kernel_btf,
        ..Default::default()
    };
    let obj = Object::parse_with(object, &parse).map_err(|e| LullGap::ObjectLoad(e.to_string()))?;
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
        ..VerifyOptions::default()
    };
    let mut input = verifier_input(&obj, program, &opts);
    input.kernel_btf = kernel_btf;
    let outcome = lull_verifier::verify(&input);
    // `LULL_SELFTESTS_SHOW=<id substring>`: print Lull's log of matching cases (debugging).
    if let Ok(show) = std::env::var("LULL_SELFTESTS_SHOW")
        && case.id().contains(show.as_str())
    {
        eprintln!("=== lull log of {} ===\n{}", case.id(), outcome.log);
    }
    if let Some(rejection) = &outcome.error {
        let text = format!("{} {}", rejection.message, rejection.summary);
        if let Some((_, feature)) = UNSUPPORTED.iter().find(|(phrase, _)| text.contains(phrase)) {
            return Err(LullGap::Unsupported {
                feature: (*feature).to_string(),
                detail: rejection.message.clone(),
            });
        }
    }
    let run = (outcome.accepted && case.mode == Mode::Priv && case.expect.retval.is_some())
        .then(|| test_run(obj.clone(), case));
    Ok(LullRun {
        accepted: outcome.accepted,
        log: outcome.log,
        run,
    })
}

/// Runs an accepted case once the way `prog_tests/verifier.c` does (`do_prog_test_run`): the
/// named map prefilled (key 0 = `struct test_val { index = 28, foo[6] = 0xabcdef12 }`), 64
/// zero bytes of packet data (none for syscall programs), `repeat = 1`.
fn test_run(obj: Object, case: &Case) -> Result<i32, String> {
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        ..RuntimeOptions::default()
    });
    let loaded = rt.load(obj).map_err(|e| e.to_string())?;
    if let Some(name) = case.prefill {
        let map = loaded
            .map(name)
            .ok_or_else(|| format!("no map '{name}' to prefill"))?;
        let mut value = vec![0u8; map.spec().value_size as usize];
        value[..4].copy_from_slice(&28u32.to_ne_bytes());
        if let Some(v) = value.get_mut(28..32) {
            v.copy_from_slice(&0xabcd_ef12u32.to_ne_bytes());
        }
        map.update(&0u32.to_ne_bytes(), &value, 0)
            .map_err(|e| format!("prefill: {e}"))?;
    }
    let program = loaded.program(&case.program).map_err(|e| e.to_string())?;
    let data = if program.prog_type() == lull_abi::ProgType::Syscall {
        Vec::new()
    } else {
        vec![0u8; 64]
    };
    let out = program
        .test_run(&TestRun {
            data,
            repeat: 1,
            ..TestRun::default()
        })
        .map_err(|e| e.to_string())?;
    Ok(out.retval as u32 as i32)
}
