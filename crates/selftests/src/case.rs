//! Test cases: one per (program, mode) the test loader would run, with everything needed to
//! load it the same way (flags, log level, auxiliary programs, capabilities, map prefill).

use crate::catalog::Program;
use crate::spec::{Expectation, Mode};

/// Capability numbers (`linux/capability.h`).
pub mod caps {
    /// `CAP_NET_ADMIN`
    pub const NET_ADMIN: u64 = 1 << 12;
    /// `CAP_SYS_ADMIN`
    pub const SYS_ADMIN: u64 = 1 << 21;
    /// `CAP_PERFMON`
    pub const PERFMON: u64 = 1 << 38;
    /// `CAP_BPF`
    pub const BPF: u64 = 1 << 39;
}

/// One test case.
#[derive(Clone, Debug)]
pub struct Case {
    /// The object's stem, e.g. `verifier_and`.
    pub file: String,
    /// The program's name.
    pub program: String,
    /// `__description`, if any.
    pub description: Option<String>,
    /// Privileged or unprivileged.
    pub mode: Mode,
    /// The program's section.
    pub section: String,
    /// What the annotations expect.
    pub expect: Expectation,
    /// `prog_flags` added to the section's.
    pub prog_flags: u32,
    /// Verifier log level.
    pub log_level: u32,
    /// Auxiliary programs loaded with this one.
    pub aux: Vec<String>,
    /// Capabilities removed from the effective set for the load.
    pub caps_dropped: u64,
    /// Array map whose key 0 the selftests fill before running the program.
    pub prefill: Option<&'static str>,
    /// Why the case is not run at all, if so.
    pub skip: Option<String>,
}

impl Case {
    /// `file/program` or `file/program/unpriv`: the key of the xfail inventory.
    pub fn id(&self) -> String {
        match self.mode {
            Mode::Priv => format!("{}/{}", self.file, self.program),
            Mode::Unpriv => format!("{}/{}/unpriv", self.file, self.program),
        }
    }
}

/// Capabilities the selftests drop for a privileged run of `file`: `prog_tests/verifier.c`
/// drops `CAP_SYS_ADMIN` (and `verifier_mtu` also `CAP_PERFMON`); `verifier_kfunc_prog_types`
/// runs through `RUN_TESTS` with all capabilities, as do all files outside `verifier_*`.
fn privileged_drop(file: &str) -> u64 {
    match file {
        "verifier_kfunc_prog_types" => 0,
        _ if !file.starts_with("verifier_") => 0,
        "verifier_mtu" => caps::SYS_ADMIN | caps::PERFMON,
        _ => caps::SYS_ADMIN,
    }
}

/// The map `prog_tests/verifier.c` fills before running programs of `file`.
fn prefill_map(file: &str) -> Option<&'static str> {
    match file {
        "verifier_array_access" => Some("map_array_ro"),
        "verifier_value_ptr_arith" => Some("map_array_48b"),
        _ => None,
    }
}

/// The cases of one object, in program order, privileged before unprivileged.
pub fn cases_of(file: &str, programs: &[Program]) -> Vec<Case> {
    let mut out = Vec::new();
    for p in programs.iter().filter(|p| !p.spec.auxiliary) {
        for mode in [Mode::Priv, Mode::Unpriv] {
            let Some(expect) = p.spec.expectation(mode) else {
                continue;
            };
            let aux = programs
                .iter()
                .filter(|a| a.spec.auxiliary && a.spec.expectation(mode).is_some())
                .map(|a| a.name.clone())
                .collect();
            let skip = if !p.spec.runs_on_x86_64() {
                Some(format!("arch: only for {}", p.spec.arches.join(", ")))
            } else {
                p.spec
                    .btf_path
                    .as_ref()
                    .map(|b| format!("custom-btf: CO-RE against {b} (not built here)"))
            };
            out.push(Case {
                file: file.to_string(),
                program: p.name.clone(),
                description: p.spec.description.clone(),
                mode,
                section: p.section.clone(),
                expect: expect.clone(),
                prog_flags: p.spec.prog_flags,
                log_level: p.spec.log_level,
                aux,
                caps_dropped: match mode {
                    Mode::Priv => privileged_drop(file),
                    Mode::Unpriv => caps::SYS_ADMIN | caps::NET_ADMIN | caps::PERFMON | caps::BPF,
                },
                prefill: prefill_map(file),
                skip,
            });
        }
    }
    out
}
