//! Where a sleepable program may attach: platform data for the Linux profile.
//!
//! - LSM: the hook must be in the kernel's set of sleepable hooks (`sleepable_lsm_hooks`,
//!   `kernel/bpf/bpf_lsm.c`, Linux 6.18; the `bpf_lsm_` prefix is left out here).
//! - fentry/fexit/fmod_ret: the target must allow error injection (`ALLOW_ERROR_INJECTION`,
//!   which every `SYSCALL_DEFINE` entry point has, plus a few named functions) and not be on the
//!   denylist of error-injectable functions that must not sleep (`btf_non_sleepable_error_inject`
//!   in `kernel/bpf/verifier.c`).
//!
//! Rejections carry the kernel's message, `<target> is not sleepable` (`check_attach_btf_id`).

use crate::error::VerifierError;
use crate::input::VerifyInput;
use lull_abi::{AttachType, ProgType};

/// LSM hooks on which a program may sleep (Linux 6.18 `sleepable_lsm_hooks`, with the
/// `CONFIG_SECURITY_NETWORK` and `CONFIG_SECURITY_PATH` entries).
pub const SLEEPABLE_LSM_HOOKS: &[&str] = &[
    "bpf",
    "bpf_map",
    "bpf_map_create",
    "bpf_map_free",
    "bpf_prog",
    "bpf_prog_load",
    "bpf_prog_free",
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
    "path_unlink",
    "path_mkdir",
    "path_rmdir",
    "path_truncate",
    "path_symlink",
    "path_link",
    "path_rename",
    "path_chmod",
    "path_chown",
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
    "inet_conn_established",
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
    "syslog",
    "task_alloc",
    "task_prctl",
    "task_setscheduler",
    "task_to_inode",
    "userns_create",
];

/// Error-injectable functions that must not sleep (`btf_non_sleepable_error_inject`).
pub const NON_SLEEPABLE_ERROR_INJECT: &[&str] = &[
    "__filemap_add_folio",
    "should_fail_alloc_page",
    "should_failslab",
];

/// Functions outside the syscall entry points marked `ALLOW_ERROR_INJECTION` that tracing
/// selftests attach sleepable programs to (`net/bpf/test_run.c`).
const ERROR_INJECTION_FUNCS: &[&str] = &[
    "bpf_fentry_test1",
    "bpf_modify_return_test",
    "bpf_modify_return_test2",
];

/// Architecture prefixes of syscall entry points (`SYSCALL_DEFINE` adds
/// `ALLOW_ERROR_INJECTION` to each).
const SYSCALL_PREFIXES: &[&str] = &[
    "__x64_sys_",
    "__ia32_sys_",
    "__se_sys_",
    "__arm64_sys_",
    "__do_sys_",
];

/// Whether a sleepable LSM program may attach to `hook` (without the `bpf_lsm_` prefix).
pub fn lsm_hook_sleepable(hook: &str) -> bool {
    SLEEPABLE_LSM_HOOKS.contains(&hook)
}

/// Whether a sleepable fentry/fexit/fmod_ret program may attach to `func`.
pub fn tracing_target_sleepable(func: &str) -> bool {
    if NON_SLEEPABLE_ERROR_INJECT.contains(&func) {
        return false;
    }
    ERROR_INJECTION_FUNCS.contains(&func) || SYSCALL_PREFIXES.iter().any(|p| func.starts_with(p))
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
        ) => tracing_target_sleepable(target),
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

    #[test]
    fn lsm_hooks_follow_the_kernel_set() {
        assert!(lsm_hook_sleepable("bprm_committed_creds"));
        assert!(lsm_hook_sleepable("file_open"));
        assert!(!lsm_hook_sleepable("task_free"));
        assert!(!lsm_hook_sleepable("file_mprotect"));
    }

    #[test]
    fn error_injection_targets_and_denylist() {
        assert!(tracing_target_sleepable("__x64_sys_setdomainname"));
        assert!(tracing_target_sleepable("bpf_fentry_test1"));
        assert!(!tracing_target_sleepable("should_failslab"));
        assert!(!tracing_target_sleepable("vfs_read"));
    }
}
