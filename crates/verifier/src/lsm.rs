//! Per-hook rules of BPF LSM programs (`BPF_LSM_MAC`): hooks BPF may not attach to, and the
//! return value a hook allows (`bpf_lsm_get_retval_range`), decided from the hook's BTF
//! prototype in the kernel BTF (`bpf_lsm_<hook>`).
//!
//! Sources (Linux 6.18, `kernel/bpf/bpf_lsm.c`): `bpf_lsm_disabled_hooks`, `bool_lsm_hooks`,
//! `bpf_lsm_get_retval_range`, `bpf_lsm_verify_prog`.

use crate::error::VerifierError;
use crate::input::VerifyInput;
use crate::prog_types::RetRange;
use lull_abi::{AttachType, ProgType};
use lull_btf::Kind;

/// Hooks BPF programs may not attach to (`bpf_lsm_disabled_hooks`).
const DISABLED_HOOKS: &[&str] = &[
    "vm_enough_memory",
    "inode_need_killpriv",
    "inode_getsecurity",
    "inode_listsecurity",
    "inode_copy_up_xattr",
    "getselfattr",
    "getprocattr",
    "setprocattr",
    "key_getsecurity",
    "audit_rule_match",
    "ismaclabel",
];

/// Hooks that return 0 or 1 (`bool_lsm_hooks`).
const BOOL_HOOKS: &[&str] = &[
    "xfrm_state_pol_flow_match",
    "audit_rule_known",
    "inode_xattr_skipcap",
];

fn lsm_hook<'i>(input: &'i VerifyInput<'_>) -> Option<&'i str> {
    (input.prog_type == ProgType::Lsm && input.expected_attach != Some(AttachType::LsmCgroup))
        .then_some(input.attach_target.as_deref()?)
}

/// `bpf_lsm_verify_prog`: the hook must not be disabled.
pub(crate) fn check_hook(input: &VerifyInput<'_>) -> Result<(), VerifierError> {
    let Some(hook) = lsm_hook(input) else {
        return Ok(());
    };
    if DISABLED_HOOKS.contains(&hook) {
        let id = input
            .kernel_btf
            .and_then(|b| b.find_by_name(&format!("bpf_lsm_{hook}"), Some(Kind::Func)))
            .unwrap_or(0);
        return Err(VerifierError::Malformed(format!(
            "attach_btf_id {id} points to disabled hook bpf_lsm_{hook}"
        )));
    }
    Ok(())
}

/// The return range of an LSM program on its hook: `Some(None)` for a void hook (no check),
/// `Some(Some(range))` otherwise; `None` when the hook is unknown here (the program type's
/// default applies).
pub(crate) fn return_range(input: &VerifyInput<'_>) -> Option<Option<RetRange>> {
    let hook = lsm_hook(input)?;
    if BOOL_HOOKS.contains(&hook) {
        return Some(Some(RetRange { min: 0, max: 1 }));
    }
    let btf = input.kernel_btf?;
    let func = btf.find_by_name(&format!("bpf_lsm_{hook}"), Some(Kind::Func))?;
    let (_, proto) = btf.func_proto(func).ok()?;
    Some((proto.ret_type != 0).then_some(RetRange { min: -4095, max: 0 }))
}
