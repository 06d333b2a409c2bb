//! Where a sleepable program may attach: platform data for the Linux profile.
//!
//! - LSM: the hook must be in the kernel's set of sleepable hooks (`sleepable_lsm_hooks`,
//!   `kernel/bpf/bpf_lsm.c`, Linux 6.18; the `bpf_lsm_` prefix is left out here).
//! - fentry/fexit/fmod_ret: the target must allow error injection (`ALLOW_ERROR_INJECTION`:
//!   every x86 syscall entry stub and a few named functions, listed in
//!   `data/error_injection.txt`) and not be on the denylist of error-injectable functions that
//!   must not sleep (`btf_non_sleepable_error_inject`, `kernel/bpf/verifier.c`); or be a
//!   modify-return target registered with `KF_SLEEPABLE` (`register_btf_fmodret_id_set`).
//!   That is the rule of a kernel built with `CONFIG_FUNCTION_ERROR_INJECTION`, the default
//!   Linux profile. A kernel built without it (such as the 6.18 kernel of the machines Lull is
//!   measured on) accepts any function named with the architecture's syscall prefix instead
//!   (`has_arch_syscall_prefix`): [`tracing_target_sleepable_without_error_injection`].
//!
//! Rejections carry the kernel's message, `<target> is not sleepable` (`bpf_check_attach_target`).

use crate::error::VerifierError;
use crate::input::VerifyInput;
use lull_abi::{AttachType, ProgType};
use std::collections::HashSet;
use std::sync::OnceLock;

/// LSM hooks on which a program may sleep: Linux 6.18 `sleepable_lsm_hooks` with
/// `CONFIG_SECURITY_NETWORK` and `CONFIG_SECURITY_PATH` (both set in the 6.18 configuration).
/// Relative to 6.12: `current_getsecid_subj`/`task_getsecid_obj` left the set when the hooks
/// were renamed (6.13), `inode_removexattr` and `inode_post_removexattr` joined it (6.14).
pub const SLEEPABLE_LSM_HOOKS: &[&str] = &[
    "bpf",
    "bpf_map",
    "bpf_map_create",
    "bpf_map_free",
    "bpf_prog",
    "bpf_prog_load",
    "bpf_token_create",
    "bpf_token_free",
    "bpf_token_cmd",
    "bpf_token_capable",
    "bprm_check_security",
    "bprm_committed_creds",
    "bprm_committing_creds",
    "bprm_creds_for_exec",
    "bprm_creds_from_file",
    "capget",
    "capset",
    "cred_prepare",
    "file_ioctl",
    "file_lock",
    "file_open",
    "file_post_open",
    "file_receive",
    "inode_create",
    "inode_free_security",
    "inode_getattr",
    "inode_getxattr",
    "inode_mknod",
    "inode_need_killpriv",
    "inode_post_setxattr",
    "inode_post_removexattr",
    "inode_readlink",
    "inode_removexattr",
    "inode_rename",
    "inode_rmdir",
    "inode_setattr",
    "inode_setxattr",
    "inode_symlink",
    "inode_unlink",
    "kernel_module_request",
    "kernel_read_file",
    "kernfs_init_security",
    // CONFIG_SECURITY_PATH
    "path_unlink",
    "path_mkdir",
    "path_rmdir",
    "path_truncate",
    "path_symlink",
    "path_link",
    "path_rename",
    "path_chmod",
    "path_chown",
    // end CONFIG_SECURITY_PATH
    "mmap_file",
    "netlink_send",
    "path_notify",
    "release_secctx",
    "sb_alloc_security",
    "sb_eat_lsm_opts",
    "sb_kern_mount",
    "sb_mount",
    "sb_remount",
    "sb_set_mnt_opts",
    "sb_show_options",
    "sb_statfs",
    "sb_umount",
    "settime",
    // CONFIG_SECURITY_NETWORK
    "socket_accept",
    "socket_bind",
    "socket_connect",
    "socket_create",
    "socket_getpeername",
    "socket_getpeersec_dgram",
    "socket_getsockname",
    "socket_getsockopt",
    "socket_listen",
    "socket_post_create",
    "socket_recvmsg",
    "socket_sendmsg",
    "socket_shutdown",
    "socket_socketpair",
    // end CONFIG_SECURITY_NETWORK
    "syslog",
    "task_alloc",
    "task_prctl",
    "task_setscheduler",
    "userns_create",
];

/// Error-injectable functions that must not sleep (`btf_non_sleepable_error_inject`).
pub const NON_SLEEPABLE_ERROR_INJECT: &[&str] = &[
    "__filemap_add_folio",
    "should_fail_alloc_page",
    "should_failslab",
];

/// Modify-return targets registered with `KF_SLEEPABLE` (`register_btf_fmodret_id_set`):
/// `bpf_test_modify_return_ids` in `net/bpf/test_run.c`. (The other fmodret sets —
/// `bpf_modify_return_test*`, mptcp's `update_socket_protocol` — carry no sleepable flag.)
const SLEEPABLE_FMODRET: &[&str] = &["bpf_fentry_test1"];

/// The x86_64 error-injection allowlist (see the file's header for how it was made).
const ERROR_INJECTION_LIST: &str = include_str!("data/error_injection.txt");

/// The syscall-entry prefix of x86_64 (`has_arch_syscall_prefix`).
const ARCH_SYSCALL_PREFIX: &str = "__x64_";

fn error_injection_set() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        ERROR_INJECTION_LIST
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Whether `func` allows error injection (is on the platform's `ALLOW_ERROR_INJECTION` list).
pub fn error_injection_allowed(func: &str) -> bool {
    error_injection_set().contains(func)
}

/// Whether a sleepable LSM program may attach to `hook` (without the `bpf_lsm_` prefix).
pub fn lsm_hook_sleepable(hook: &str) -> bool {
    SLEEPABLE_LSM_HOOKS.contains(&hook)
}

/// Whether a sleepable fentry/fexit/fmod_ret program may attach to `func` (a kernel with
/// `CONFIG_FUNCTION_ERROR_INJECTION`, the default Linux profile).
pub fn tracing_target_sleepable(func: &str) -> bool {
    (!NON_SLEEPABLE_ERROR_INJECT.contains(&func) && error_injection_allowed(func))
        || SLEEPABLE_FMODRET.contains(&func)
}

/// The same rule on a kernel built without `CONFIG_FUNCTION_ERROR_INJECTION`
/// ([`crate::ErrorInjection::SyscallPrefix`]): any x86_64 syscall entry point by name, or a
/// sleepable modify-return target.
pub fn tracing_target_sleepable_without_error_injection(func: &str) -> bool {
    func.starts_with(ARCH_SYSCALL_PREFIX) || SLEEPABLE_FMODRET.contains(&func)
}

/// Functions a tracing program may call `bpf_d_path` from (`btf_allowlist_d_path`,
/// `kernel/trace/bpf_trace.c`).
const D_PATH_ALLOWLIST: &[&str] = &[
    "security_file_permission",
    "security_inode_getattr",
    "security_file_open",
    "security_path_truncate",
    "vfs_truncate",
    "vfs_fallocate",
    "dentry_open",
    "vfs_getattr",
    "filp_close",
];

/// The `allowed` callback of helpers that only some attach points may call (`bpf_d_path`:
/// `bpf_d_path_allowed`; `bpf_ima_inode_hash`/`bpf_ima_file_hash`: sleepable LSM hooks).
/// `false` means the kernel's `helper call is not allowed in probe`.
pub(crate) fn helper_allowed_here(input: &VerifyInput<'_>, helper: i32) -> bool {
    let target = input.attach_target.as_deref().unwrap_or("");
    let lsm = input.prog_type == ProgType::Lsm;
    match helper {
        // bpf_d_path
        147 => {
            (input.prog_type == ProgType::Tracing
                && input.expected_attach == Some(AttachType::TraceIter))
                || (lsm && lsm_hook_sleepable(target))
                || (!lsm && D_PATH_ALLOWLIST.contains(&target))
        }
        // bpf_ima_inode_hash, bpf_ima_file_hash
        161 | 193 => lsm && lsm_hook_sleepable(target),
        _ => true,
    }
}

/// `check_attach_btf_id`'s sleepable rule, for programs with a known attach target.
pub(crate) fn check_attach(input: &VerifyInput<'_>) -> Result<(), VerifierError> {
    if !input.sleepable {
        return Ok(());
    }
    let Some(target) = input.attach_target.as_deref() else {
        return Ok(());
    };
    let ok = match (input.prog_type, input.expected_attach) {
        (ProgType::Lsm, _) => lsm_hook_sleepable(target),
        (
            ProgType::Tracing,
            Some(AttachType::TraceFentry | AttachType::TraceFexit | AttachType::ModifyReturn),
        ) => match input.error_injection {
            crate::ErrorInjection::List => tracing_target_sleepable(target),
            crate::ErrorInjection::SyscallPrefix => {
                tracing_target_sleepable_without_error_injection(target)
            }
        },
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        let name = match input.prog_type {
            ProgType::Lsm => format!("bpf_lsm_{target}"),
            _ => target.to_string(),
        };
        Err(VerifierError::NotSleepableTarget(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lull_isa::Located;

    fn sleepable_input(
        prog_type: ProgType,
        attach: AttachType,
        target: &str,
    ) -> VerifyInput<'static> {
        let mut input = VerifyInput::new(&[] as &[Located], prog_type);
        input.expected_attach = Some(attach);
        input.attach_target = Some(target.to_string());
        input.sleepable = true;
        input
    }

    fn message(r: Result<(), VerifierError>) -> Option<String> {
        r.err().map(|e| e.to_string())
    }

    #[test]
    fn the_platform_profile_picks_the_tracing_rule() {
        // On the error-injection list and starting with the syscall prefix: both accept.
        let mut input = sleepable_input(
            ProgType::Tracing,
            AttachType::TraceFentry,
            "__x64_sys_get_robust_list",
        );
        assert_eq!(message(check_attach(&input)), None);
        input.error_injection = crate::ErrorInjection::SyscallPrefix;
        assert_eq!(message(check_attach(&input)), None);
        // An explicit ALLOW_ERROR_INJECTION site without the prefix: only the list accepts it.
        let mut input = sleepable_input(
            ProgType::Tracing,
            AttachType::ModifyReturn,
            "should_fail_bio",
        );
        let list = message(check_attach(&input));
        input.error_injection = crate::ErrorInjection::SyscallPrefix;
        let prefix = message(check_attach(&input));
        assert_eq!(list, None);
        assert_eq!(prefix.as_deref(), Some("should_fail_bio is not sleepable"));
    }

    #[test]
    fn lsm_hooks_follow_the_kernel_set() {
        assert!(lsm_hook_sleepable("bprm_committed_creds"));
        assert!(lsm_hook_sleepable("file_open"));
        assert!(lsm_hook_sleepable("inode_removexattr"));
        assert!(lsm_hook_sleepable("path_unlink"));
        assert!(!lsm_hook_sleepable("task_free"));
        assert!(!lsm_hook_sleepable("file_mprotect"));
        assert!(!lsm_hook_sleepable("current_getsecid_subj"));
        assert!(!lsm_hook_sleepable("task_to_inode"));
        let unique: HashSet<_> = SLEEPABLE_LSM_HOOKS.iter().collect();
        assert_eq!(unique.len(), SLEEPABLE_LSM_HOOKS.len(), "duplicate hook");
    }

    #[test]
    fn error_injection_list_is_complete_and_well_formed() {
        let set = error_injection_set();
        // Every x86_64 syscall entry stub of 6.18, plus the explicit sites.
        let x64 = set.iter().filter(|f| f.starts_with("__x64_sys_")).count();
        assert!(x64 > 400, "only {x64} __x64_sys_ entries");
        assert!(set.contains("__ia32_compat_sys_ioctl"));
        assert!(set.contains("should_fail_bio"));
        assert!(set.contains("btrfs_search_slot"));
        for f in set {
            assert!(
                f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "bad entry {f:?}"
            );
        }
        // The denylist only holds error-injectable functions.
        for f in NON_SLEEPABLE_ERROR_INJECT {
            assert!(error_injection_allowed(f), "{f}");
        }
    }

    #[test]
    fn error_injection_targets_and_denylist() {
        assert!(tracing_target_sleepable("__x64_sys_setdomainname"));
        assert!(tracing_target_sleepable("__ia32_sys_bpf"));
        assert!(tracing_target_sleepable("bpf_fentry_test1"));
        assert!(tracing_target_sleepable("page_pool_alloc_pages"));
        assert!(!tracing_target_sleepable("should_failslab"));
        assert!(!tracing_target_sleepable("__filemap_add_folio"));
        assert!(!tracing_target_sleepable("vfs_read"));
        assert!(!tracing_target_sleepable("__x64_sys_no_such_call"));
        assert!(!tracing_target_sleepable("__se_sys_setdomainname"));
        assert!(!tracing_target_sleepable("bpf_modify_return_test"));
    }

    #[test]
    fn without_error_injection_syscall_prefix_decides() {
        assert!(tracing_target_sleepable_without_error_injection(
            "__x64_sys_no_such_call"
        ));
        assert!(tracing_target_sleepable_without_error_injection(
            "bpf_fentry_test1"
        ));
        assert!(!tracing_target_sleepable_without_error_injection(
            "btrfs_search_slot"
        ));
        assert!(!tracing_target_sleepable_without_error_injection(
            "__ia32_sys_bpf"
        ));
    }

    #[test]
    fn sleepable_attach_accepts_listed_targets() {
        let fentry = sleepable_input(
            ProgType::Tracing,
            AttachType::TraceFentry,
            "__x64_sys_setdomainname",
        );
        assert_eq!(message(check_attach(&fentry)), None);
        let fmod_ret = sleepable_input(
            ProgType::Tracing,
            AttachType::ModifyReturn,
            "btrfs_should_cancel_balance",
        );
        assert_eq!(message(check_attach(&fmod_ret)), None);
        let lsm = sleepable_input(ProgType::Lsm, AttachType::LsmMac, "bprm_committed_creds");
        assert_eq!(message(check_attach(&lsm)), None);
    }

    #[test]
    fn sleepable_attach_rejects_other_targets_with_the_kernel_message() {
        let fexit = sleepable_input(ProgType::Tracing, AttachType::TraceFexit, "vfs_read");
        assert_eq!(
            message(check_attach(&fexit)).as_deref(),
            Some("vfs_read is not sleepable")
        );
        let denied = sleepable_input(
            ProgType::Tracing,
            AttachType::TraceFentry,
            "should_fail_alloc_page",
        );
        assert_eq!(
            message(check_attach(&denied)).as_deref(),
            Some("should_fail_alloc_page is not sleepable")
        );
        let lsm = sleepable_input(ProgType::Lsm, AttachType::LsmMac, "task_free");
        assert_eq!(
            message(check_attach(&lsm)).as_deref(),
            Some("bpf_lsm_task_free is not sleepable")
        );
        // Not sleepable: no attach rule.
        let mut plain = sleepable_input(ProgType::Tracing, AttachType::TraceFentry, "vfs_read");
        plain.sleepable = false;
        assert_eq!(message(check_attach(&plain)), None);
    }
}
