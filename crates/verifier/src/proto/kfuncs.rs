//! Kernel functions (kfuncs) as data: the flags each one is registered with and the program
//! types that may call it. Prototypes are not here: they come from the kernel's BTF.
//!
//! Sources (Linux 6.18): the `BTF_ID_FLAGS(func, …)` sets and their `register_btf_kfunc_id_set`
//! calls in `kernel/bpf/helpers.c` (`generic_btf_ids`, `common_btf_ids`), `kernel/bpf/cpumask.c`
//! (`cpumask_kfunc_btf_ids`), `kernel/trace/bpf_trace.c` (`key_sig_kfunc_set`),
//! `fs/bpf_fs_kfuncs.c` (`bpf_fs_kfunc_set_ids`, LSM programs only) and
//! `kernel/bpf/verifier.c` (`bpf_prog_type_to_kfunc_hook` via `kernel/bpf/btf.c`).

use lull_abi::ProgType;

/// `KF_ACQUIRE`: returns a referenced object that must be released.
pub const KF_ACQUIRE: u32 = 1 << 0;
/// `KF_RELEASE`: releases the referenced object passed to it.
pub const KF_RELEASE: u32 = 1 << 1;
/// `KF_RET_NULL`: the returned pointer may be NULL.
pub const KF_RET_NULL: u32 = 1 << 2;
/// `KF_TRUSTED_ARGS`: pointer arguments must be trusted (or referenced).
pub const KF_TRUSTED_ARGS: u32 = 1 << 4;
/// `KF_SLEEPABLE`: may sleep; only sleepable programs may call it.
pub const KF_SLEEPABLE: u32 = 1 << 5;
/// `KF_DESTRUCTIVE`: may crash or reboot the kernel (`CAP_SYS_BOOT`).
pub const KF_DESTRUCTIVE: u32 = 1 << 6;
/// `KF_RCU`: pointer arguments may also be RCU-protected pointers.
pub const KF_RCU: u32 = 1 << 7;
/// `KF_ITER_NEW`: open-coded iterator constructor.
pub const KF_ITER_NEW: u32 = 1 << 8;
/// `KF_ITER_NEXT`: open-coded iterator step.
pub const KF_ITER_NEXT: u32 = 1 << 9;
/// `KF_ITER_DESTROY`: open-coded iterator destructor.
pub const KF_ITER_DESTROY: u32 = 1 << 10;
/// `KF_RCU_PROTECTED`: must be called inside an RCU read-side section.
pub const KF_RCU_PROTECTED: u32 = 1 << 11;
/// `KF_FASTCALL`: preserves caller-saved registers (JIT detail, no verifier effect here).
pub const KF_FASTCALL: u32 = 1 << 12;

/// Which registration (kfunc id set and program types) a kfunc belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KfuncSet {
    /// `common_btf_ids`, registered for `BPF_PROG_TYPE_UNSPEC`: every program type.
    Common,
    /// `generic_btf_ids`: tracing-hook types, tc, XDP, struct_ops, syscall and cgroup types.
    Generic,
    /// `cpumask_kfunc_btf_ids`: tracing-hook types, struct_ops, syscall.
    Cpumask,
    /// `key_sig_kfunc_set`: tracing-hook types (tracing, LSM, tracepoints, perf events).
    KeySig,
    /// `bpf_fs_kfunc_set_ids`: LSM programs only (the set's filter).
    Fs,
    /// `bpf_kfunc_check_set_skb` (`net/core/filter.c`): the skb program types.
    Skb,
    /// `bpf_kfunc_check_set_xdp`: XDP programs.
    Xdp,
    /// `crypt_init_kfunc_btf_ids` (`kernel/bpf/crypto.c`): syscall programs.
    CryptoInit,
    /// `crypt_kfunc_btf_ids`: tc and XDP programs.
    Crypto,
    /// `bpf_sk_iter_kfunc_ids`: tracing programs, and only socket iterators among them
    /// (`tracing_iter_filter`; the caller checks the attach type).
    SkIter,
}

/// One kfunc: its name, `KF_*` flags and registration.
#[derive(Clone, Copy, Debug)]
pub struct KfuncInfo {
    /// Function name in the kernel BTF.
    pub name: &'static str,
    /// `KF_*` flags.
    pub flags: u32,
    /// The registration deciding which program types may call it.
    pub set: KfuncSet,
}

macro_rules! kfuncs {
    ($($set:ident: $($name:ident $(= $($flag:ident)|+)?),* ;)*) => {
        &[$($(KfuncInfo { name: stringify!($name), flags: 0 $($(| $flag)+)?, set: KfuncSet::$set },)*)*]
    };
}

/// The kfuncs Lull knows, with their Linux 6.18 flags.
const KFUNCS: &[KfuncInfo] = kfuncs! {
    Generic:
        bpf_obj_new_impl = KF_ACQUIRE | KF_RET_NULL,
        bpf_percpu_obj_new_impl = KF_ACQUIRE | KF_RET_NULL,
        bpf_obj_drop_impl = KF_RELEASE,
        bpf_percpu_obj_drop_impl = KF_RELEASE,
        bpf_refcount_acquire_impl = KF_ACQUIRE | KF_RET_NULL | KF_RCU,
        bpf_list_push_front_impl, bpf_list_push_back_impl,
        bpf_list_pop_front = KF_ACQUIRE | KF_RET_NULL,
        bpf_list_pop_back = KF_ACQUIRE | KF_RET_NULL,
        bpf_list_front = KF_RET_NULL, bpf_list_back = KF_RET_NULL,
        bpf_task_acquire = KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        bpf_task_release = KF_RELEASE,
        bpf_rbtree_remove = KF_ACQUIRE | KF_RET_NULL,
        bpf_rbtree_add_impl,
        bpf_rbtree_first = KF_RET_NULL, bpf_rbtree_root = KF_RET_NULL,
        bpf_rbtree_left = KF_RET_NULL, bpf_rbtree_right = KF_RET_NULL,
        bpf_cgroup_acquire = KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        bpf_cgroup_release = KF_RELEASE,
        bpf_cgroup_ancestor = KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        bpf_cgroup_from_id = KF_ACQUIRE | KF_RET_NULL,
        bpf_task_under_cgroup = KF_RCU,
        bpf_task_get_cgroup1 = KF_ACQUIRE | KF_RCU | KF_RET_NULL,
        bpf_task_from_pid = KF_ACQUIRE | KF_RET_NULL,
        bpf_task_from_vpid = KF_ACQUIRE | KF_RET_NULL,
        bpf_throw,
        bpf_send_signal_task = KF_TRUSTED_ARGS;
    Common:
        bpf_cast_to_kern_ctx = KF_FASTCALL,
        bpf_rdonly_cast = KF_FASTCALL,
        bpf_rcu_read_lock, bpf_rcu_read_unlock,
        bpf_dynptr_slice = KF_RET_NULL, bpf_dynptr_slice_rdwr = KF_RET_NULL,
        bpf_iter_num_new = KF_ITER_NEW,
        bpf_iter_num_next = KF_ITER_NEXT | KF_RET_NULL,
        bpf_iter_num_destroy = KF_ITER_DESTROY,
        bpf_iter_task_vma_new = KF_ITER_NEW | KF_RCU,
        bpf_iter_task_vma_next = KF_ITER_NEXT | KF_RET_NULL,
        bpf_iter_task_vma_destroy = KF_ITER_DESTROY,
        bpf_iter_css_task_new = KF_ITER_NEW | KF_TRUSTED_ARGS,
        bpf_iter_css_task_next = KF_ITER_NEXT | KF_RET_NULL,
        bpf_iter_css_task_destroy = KF_ITER_DESTROY,
        bpf_iter_css_new = KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED,
        bpf_iter_css_next = KF_ITER_NEXT | KF_RET_NULL,
        bpf_iter_css_destroy = KF_ITER_DESTROY,
        bpf_iter_task_new = KF_ITER_NEW | KF_TRUSTED_ARGS | KF_RCU_PROTECTED,
        bpf_iter_task_next = KF_ITER_NEXT | KF_RET_NULL,
        bpf_iter_task_destroy = KF_ITER_DESTROY,
        bpf_dynptr_adjust, bpf_dynptr_is_null, bpf_dynptr_is_rdonly, bpf_dynptr_size,
        bpf_dynptr_clone, bpf_dynptr_copy,
        bpf_wq_init, bpf_wq_set_callback_impl, bpf_wq_start,
        bpf_preempt_disable, bpf_preempt_enable,
        bpf_iter_bits_new = KF_ITER_NEW,
        bpf_iter_bits_next = KF_ITER_NEXT | KF_RET_NULL,
        bpf_iter_bits_destroy = KF_ITER_DESTROY,
        bpf_copy_from_user_str = KF_SLEEPABLE,
        bpf_copy_from_user_task_str = KF_SLEEPABLE,
        bpf_get_kmem_cache,
        bpf_iter_kmem_cache_new = KF_ITER_NEW | KF_SLEEPABLE,
        bpf_iter_kmem_cache_next = KF_ITER_NEXT | KF_RET_NULL | KF_SLEEPABLE,
        bpf_iter_kmem_cache_destroy = KF_ITER_DESTROY | KF_SLEEPABLE,
        bpf_local_irq_save, bpf_local_irq_restore,
        bpf_probe_read_user_dynptr, bpf_probe_read_kernel_dynptr,
        bpf_probe_read_user_str_dynptr, bpf_probe_read_kernel_str_dynptr,
        bpf_copy_from_user_dynptr = KF_SLEEPABLE,
        bpf_copy_from_user_str_dynptr = KF_SLEEPABLE,
        bpf_copy_from_user_task_dynptr = KF_SLEEPABLE | KF_TRUSTED_ARGS,
        bpf_copy_from_user_task_str_dynptr = KF_SLEEPABLE | KF_TRUSTED_ARGS,
        __bpf_trap,
        bpf_cgroup_read_xattr = KF_RCU;
    Cpumask:
        bpf_cpumask_create = KF_ACQUIRE | KF_RET_NULL,
        bpf_cpumask_release = KF_RELEASE,
        bpf_cpumask_acquire = KF_ACQUIRE | KF_TRUSTED_ARGS,
        bpf_cpumask_first = KF_RCU, bpf_cpumask_first_zero = KF_RCU,
        bpf_cpumask_first_and = KF_RCU,
        bpf_cpumask_set_cpu = KF_RCU, bpf_cpumask_clear_cpu = KF_RCU,
        bpf_cpumask_test_cpu = KF_RCU, bpf_cpumask_test_and_set_cpu = KF_RCU,
        bpf_cpumask_test_and_clear_cpu = KF_RCU,
        bpf_cpumask_setall = KF_RCU, bpf_cpumask_clear = KF_RCU,
        bpf_cpumask_and = KF_RCU, bpf_cpumask_or = KF_RCU, bpf_cpumask_xor = KF_RCU,
        bpf_cpumask_equal = KF_RCU, bpf_cpumask_intersects = KF_RCU,
        bpf_cpumask_subset = KF_RCU, bpf_cpumask_empty = KF_RCU, bpf_cpumask_full = KF_RCU,
        bpf_cpumask_copy = KF_RCU, bpf_cpumask_any_distribute = KF_RCU,
        bpf_cpumask_any_and_distribute = KF_RCU, bpf_cpumask_weight = KF_RCU,
        bpf_cpumask_populate = KF_RCU;
    KeySig:
        bpf_lookup_user_key = KF_ACQUIRE | KF_RET_NULL | KF_SLEEPABLE,
        bpf_lookup_system_key = KF_ACQUIRE | KF_RET_NULL,
        bpf_key_put = KF_RELEASE,
        bpf_verify_pkcs7_signature = KF_SLEEPABLE;
    Fs:
        bpf_get_task_exe_file = KF_ACQUIRE | KF_TRUSTED_ARGS | KF_RET_NULL,
        bpf_put_file = KF_RELEASE,
        bpf_path_d_path = KF_TRUSTED_ARGS,
        bpf_get_dentry_xattr = KF_SLEEPABLE | KF_TRUSTED_ARGS,
        bpf_get_file_xattr = KF_SLEEPABLE | KF_TRUSTED_ARGS,
        bpf_set_dentry_xattr = KF_SLEEPABLE | KF_TRUSTED_ARGS,
        bpf_remove_dentry_xattr = KF_SLEEPABLE | KF_TRUSTED_ARGS;
    Skb:
        bpf_dynptr_from_skb = KF_TRUSTED_ARGS;
    Xdp:
        bpf_dynptr_from_xdp;
    CryptoInit:
        bpf_crypto_ctx_create = KF_ACQUIRE | KF_RET_NULL | KF_SLEEPABLE,
        bpf_crypto_ctx_release = KF_RELEASE,
        bpf_crypto_ctx_acquire = KF_ACQUIRE | KF_RCU | KF_RET_NULL;
    Crypto:
        bpf_crypto_decrypt = KF_RCU,
        bpf_crypto_encrypt = KF_RCU;
    SkIter:
        bpf_sock_destroy = KF_TRUSTED_ARGS;
};

/// The kfunc named `name`, if Lull knows it.
pub fn kfunc(name: &str) -> Option<&'static KfuncInfo> {
    KFUNCS.iter().find(|k| k.name == name)
}

/// `bpf_prog_type_to_kfunc_hook`'s tracing hook: the types sharing tracing registrations
/// (raw tracepoints are not among them: `verifier_kfunc_prog_types.c`).
fn tracing_hook(pt: ProgType) -> bool {
    matches!(
        pt,
        ProgType::Tracing | ProgType::Tracepoint | ProgType::PerfEvent | ProgType::Lsm
    )
}

/// The cgroup hook (`generic_btf_ids` is registered for `BPF_PROG_TYPE_CGROUP_SKB`, which
/// shares its hook with the other cgroup types).
fn cgroup_hook(pt: ProgType) -> bool {
    matches!(
        pt,
        ProgType::CgroupSkb
            | ProgType::CgroupSock
            | ProgType::CgroupSockAddr
            | ProgType::CgroupSockopt
            | ProgType::CgroupSysctl
            | ProgType::SockOps
            | ProgType::CgroupDevice
    )
}

/// Whether a program of type `pt` may call `k` (`btf_kfunc_id_set_contains`).
pub fn kfunc_allowed(k: &KfuncInfo, pt: ProgType) -> bool {
    match k.set {
        KfuncSet::Common => true,
        KfuncSet::Generic => {
            tracing_hook(pt)
                || cgroup_hook(pt)
                || matches!(
                    pt,
                    ProgType::SchedCls | ProgType::Xdp | ProgType::StructOps | ProgType::Syscall
                )
        }
        KfuncSet::Cpumask => {
            tracing_hook(pt) || matches!(pt, ProgType::StructOps | ProgType::Syscall)
        }
        KfuncSet::KeySig => tracing_hook(pt),
        KfuncSet::Fs => pt == ProgType::Lsm,
        KfuncSet::Skb => matches!(
            pt,
            ProgType::Tracing
                | ProgType::SchedCls
                | ProgType::SchedAct
                | ProgType::SkSkb
                | ProgType::SocketFilter
                | ProgType::CgroupSkb
                | ProgType::LwtOut
                | ProgType::LwtIn
                | ProgType::LwtXmit
                | ProgType::LwtSeg6local
                | ProgType::Netfilter
        ),
        KfuncSet::Xdp => pt == ProgType::Xdp,
        KfuncSet::CryptoInit => pt == ProgType::Syscall,
        KfuncSet::Crypto => matches!(pt, ProgType::SchedCls | ProgType::SchedAct | ProgType::Xdp),
        KfuncSet::SkIter => pt == ProgType::Tracing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_the_kernel_registrations() {
        let acq = kfunc("bpf_task_acquire").unwrap();
        assert_eq!(acq.flags, KF_ACQUIRE | KF_RCU | KF_RET_NULL);
        assert_eq!(kfunc("bpf_task_release").unwrap().flags, KF_RELEASE);
        assert_ne!(
            kfunc("bpf_copy_from_user_str").unwrap().flags & KF_SLEEPABLE,
            0
        );
        assert!(kfunc("bpf_no_such_kfunc").is_none());
    }

    #[test]
    fn availability_depends_on_the_program_type() {
        let acq = kfunc("bpf_task_acquire").unwrap();
        assert!(kfunc_allowed(acq, ProgType::Syscall));
        assert!(kfunc_allowed(acq, ProgType::Lsm));
        assert!(!kfunc_allowed(acq, ProgType::SocketFilter));
        let lock = kfunc("bpf_rcu_read_lock").unwrap();
        assert!(kfunc_allowed(lock, ProgType::SocketFilter));
        let exe = kfunc("bpf_get_task_exe_file").unwrap();
        assert!(kfunc_allowed(exe, ProgType::Lsm));
        assert!(!kfunc_allowed(exe, ProgType::Tracing));
    }
}
