//! BTF-typed kernel pointers (`PTR_TO_BTF_ID`): loads through them (the kernel's
//! `check_ptr_to_btf_access`, walking the struct with [`lull_btf::Btf::struct_access`]), the
//! trust a loaded pointer gets (trusted / RCU / untrusted, from the kernel's lists of safe
//! fields and `__rcu` tags, and whether the program is inside an RCU read-side section), and the
//! BTF-typed arguments of tracing, LSM and iterator programs (`btf_ctx_access`).
//!
//! Sources (Linux 6.18): `check_ptr_to_btf_access`, `in_rcu_cs`, `is_trusted_reg`,
//! `type_is_rcu`/`type_is_trusted` and the `BTF_TYPE_SAFE_*` declarations in
//! `kernel/bpf/verifier.c`; `btf_ctx_access` and `prog_args_trusted` in `kernel/bpf/btf.c`;
//! the iterator targets' `ctx_arg_info` (`PTR_TO_BTF_ID_OR_NULL | PTR_TRUSTED`).

use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::prog_types::Access;
use crate::state::{PtrTrust, Reg, RegKind};
use lull_abi::{AttachType, ProgType};
use lull_btf::{Btf, Kind, StructAccess, TypeId, TypeKind};

/// How a field of a kernel struct is vouched for by the kernel's `BTF_TYPE_SAFE_*` lists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SafeField {
    /// `BTF_TYPE_SAFE_RCU`: trusted inside an RCU section, never NULL.
    Rcu,
    /// `BTF_TYPE_SAFE_RCU_OR_NULL`: trusted inside an RCU section, may be NULL.
    RcuOrNull,
    /// `BTF_TYPE_SAFE_TRUSTED`: always trusted, never NULL.
    Trusted,
    /// `BTF_TYPE_SAFE_TRUSTED_OR_NULL`: always trusted, may be NULL.
    TrustedOrNull,
}

/// The kernel's `BTF_TYPE_SAFE_*` declarations: `(struct, field, kind)`.
const SAFE_FIELDS: &[(&str, &str, SafeField)] = &[
    ("task_struct", "cpus_ptr", SafeField::Rcu),
    ("task_struct", "cgroups", SafeField::Rcu),
    ("task_struct", "real_parent", SafeField::Rcu),
    ("task_struct", "group_leader", SafeField::Rcu),
    ("cgroup", "kn", SafeField::Rcu),
    ("css_set", "dfl_cgrp", SafeField::Rcu),
    ("cgroup_subsys_state", "cgroup", SafeField::Rcu),
    ("mm_struct", "exe_file", SafeField::RcuOrNull),
    ("mm_struct", "owner", SafeField::RcuOrNull),
    ("sk_buff", "sk", SafeField::RcuOrNull),
    ("request_sock", "sk", SafeField::RcuOrNull),
    ("bpf_iter_meta", "seq", SafeField::Trusted),
    ("bpf_iter__task", "meta", SafeField::Trusted),
    ("bpf_iter__task", "task", SafeField::Trusted),
    ("linux_binprm", "file", SafeField::Trusted),
    ("file", "f_inode", SafeField::Trusted),
    ("dentry", "d_inode", SafeField::TrustedOrNull),
    ("socket", "sk", SafeField::TrustedOrNull),
];

fn safe_field(strukt: &str, field: &str) -> Option<SafeField> {
    SAFE_FIELDS
        .iter()
        .find(|(s, f, _)| *s == strukt && *f == field)
        .map(|&(_, _, k)| k)
}

/// LSM hooks whose arguments are not trusted (`untrusted_lsm_hooks` in `kernel/bpf/bpf_lsm.c`).
const UNTRUSTED_LSM_HOOKS: &[&str] = &[
    "bpf_map_free",
    "bpf_prog_free",
    "file_alloc_security",
    "file_free_security",
    "sk_alloc_security",
    "sk_free_security",
    "task_free",
];

/// `is_trusted_reg`: referenced, or trusted without unsafe modifiers.
pub(crate) fn is_trusted_reg(r: &Reg) -> bool {
    if r.ref_obj_id != 0 {
        return true;
    }
    match r.kind {
        RegKind::KernelPtr { trust, .. } => trust == PtrTrust::Trusted && !r.maybe_null,
        RegKind::Sock(_) | RegKind::ConstMap { .. } => !r.maybe_null,
        _ => false,
    }
}

/// `is_rcu_reg`: carries `MEM_RCU`.
pub(crate) fn is_rcu_reg(r: &Reg) -> bool {
    matches!(
        r.kind,
        RegKind::KernelPtr {
            trust: PtrTrust::Rcu,
            ..
        }
    )
}

/// A pointer to struct `btf_id` with the given trust.
pub(crate) fn btf_ptr(btf_id: u32, trust: PtrTrust) -> Reg {
    Reg::pointer(RegKind::KernelPtr { btf_id, trust })
}

/// The struct a pointer type points to: `(struct id, type tags seen)` after modifiers and
/// typedefs, or `None` when it is not a pointer to a struct or union.
pub(crate) fn ptr_to_struct(btf: &Btf, ptr: TypeId) -> Option<TypeId> {
    let (_, t) = btf.skip_mods_and_typedefs(ptr).ok()?;
    let TypeKind::Ptr(target) = t.kind else {
        return None;
    };
    let (id, t) = btf.skip_mods_and_typedefs(target).ok()?;
    t.is_composite().then_some(id)
}

/// The struct a helper returning a BTF pointer gives (`ret_btf_id` of its prototype), as a
/// kernel BTF id (0 when unknown).
pub(crate) fn helper_ret_struct(btf: Option<&Btf>, helper: i32) -> u32 {
    let name = match helper {
        158 => "task_struct", // bpf_get_current_task_btf
        _ => return 0,
    };
    btf.and_then(|b| b.find_by_name(name, Some(Kind::Struct)))
        .unwrap_or(0)
}

impl Verifier<'_> {
    /// `in_rcu_cs`: inside `bpf_rcu_read_lock`, holding a spin lock, or not sleepable.
    pub(crate) fn in_rcu_cs(&self) -> bool {
        self.cur.rcu_lock || self.cur.lock.is_some() || !self.in_sleepable()
    }

    /// `check_ptr_to_btf_access` for a load or store through a BTF pointer; returns the
    /// loaded value for a load.
    pub(crate) fn check_btf_access(
        &mut self,
        reg: &Reg,
        rn: u8,
        off: i64,
        size: u32,
        access: Access,
    ) -> Res<Reg> {
        let RegKind::KernelPtr { btf_id, trust } = reg.kind else {
            return Err(E::InvalidMemAccess {
                reg: rn,
                ty: reg.type_str(),
            });
        };
        let btf = match self.input.kernel_btf {
            Some(b) if btf_id != 0 => b,
            // Untyped kernel pointer (no kernel BTF): numbers, read-only.
            _ => {
                if access == Access::Write {
                    return Err(E::Malformed("only read is supported".into()));
                }
                return Ok(Reg::unknown());
            }
        };
        let tname = btf.name_of(btf_id).to_string();
        if !self.perfmon {
            return Err(E::Malformed(format!(
                "'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"
            )));
        }
        if !self.input.gpl_compatible {
            return Err(E::Malformed(format!(
                "Cannot access kernel 'struct {tname}' from non-GPL compatible program"
            )));
        }
        if off < 0 {
            return Err(E::Malformed(format!(
                "R{rn} is ptr_{tname} invalid negative access: off={off}"
            )));
        }
        if reg.var.const_value() != Some(0) {
            return Err(E::Malformed(format!(
                "R{rn} is ptr_{tname} invalid variable offset: off={off}, var_off={}",
                reg.var.var_off
            )));
        }
        if access == Access::Write {
            return Err(E::Malformed("only read is supported".into()));
        }
        let found = btf
            .struct_access(btf_id, off as u32, size, true)
            .map_err(|e| E::Malformed(e.message))?;
        let StructAccess::Ptr {
            target,
            flags,
            field,
        } = found
        else {
            return Ok(Reg::unknown());
        };
        if flags.user || flags.percpu {
            // MEM_USER / MEM_PERCPU pointers cannot be dereferenced; keep them as plain.
            return Ok(btf_ptr(target, PtrTrust::Untrusted));
        }
        let (new_trust, maybe_null) = if trust == PtrTrust::Untrusted || flags.untrusted {
            (PtrTrust::Untrusted, false)
        } else if is_trusted_reg(reg) || is_rcu_reg(reg) {
            match safe_field(&tname, &field) {
                Some(SafeField::Trusted) => (PtrTrust::Trusted, false),
                Some(SafeField::TrustedOrNull) => (PtrTrust::Trusted, true),
                _ if !self.in_rcu_cs() || reg.maybe_null => (PtrTrust::Untrusted, false),
                Some(SafeField::Rcu) => (PtrTrust::Rcu, false),
                Some(SafeField::RcuOrNull) => (PtrTrust::Rcu, true),
                None if flags.rcu => (PtrTrust::Rcu, true),
                None => (PtrTrust::Plain, false),
            }
        } else {
            (PtrTrust::Plain, false)
        };
        let mut r = btf_ptr(target, new_trust);
        if maybe_null {
            r.maybe_null = true;
            r.id = self.new_id();
        }
        Ok(r)
    }

    /// `btf_ctx_access` for BTF-typed programs (tp_btf, fentry/fexit/fmod_ret, LSM, iter):
    /// `Some(Ok(value))` for a valid load, `Some(Err)` for an invalid one, `None` when the
    /// program's arguments are not described by BTF here (the caller falls back).
    pub(crate) fn btf_ctx_load(&mut self, off: i64, size: u32, access: Access) -> Option<Res<Reg>> {
        let btf = self.input.kernel_btf?;
        let pt = self.input.prog_type;
        let attach = self.input.expected_attach;
        if !matches!(pt, ProgType::Tracing | ProgType::Lsm) {
            return None;
        }
        let target = self.input.attach_target.as_deref()?;
        if attach == Some(AttachType::TraceIter) {
            return self.iter_ctx_load(btf, target, off, size, access);
        }
        let (func, skip_first) = match (pt, attach) {
            (ProgType::Tracing, Some(AttachType::TraceRawTp)) => (
                btf.find_by_name(&format!("btf_trace_{target}"), Some(Kind::Typedef))?,
                true,
            ),
            (ProgType::Lsm, _) => (
                btf.find_by_name(&format!("bpf_lsm_{target}"), Some(Kind::Func))?,
                false,
            ),
            (ProgType::Tracing, _) => (btf.find_by_name(target, Some(Kind::Func))?, false),
            _ => return None,
        };
        let (_, proto) = btf.func_proto(func).ok()?;
        let params: Vec<_> = proto.params.iter().skip(usize::from(skip_first)).collect();
        let bad = || Some(Err(E::CtxAccess { off, size }));
        if access == Access::Write || off < 0 || off % 8 != 0 {
            return bad();
        }
        let arg = (off / 8) as usize;
        let ty = match arg.cmp(&params.len()) {
            std::cmp::Ordering::Less => params[arg].type_id,
            std::cmp::Ordering::Equal
                if matches!(
                    attach,
                    Some(AttachType::TraceFexit | AttachType::ModifyReturn | AttachType::LsmMac)
                ) =>
            {
                proto.ret_type
            }
            _ => return bad(),
        };
        let Ok((_, t)) = btf.skip_mods_and_typedefs(ty) else {
            return bad();
        };
        match &t.kind {
            TypeKind::Ptr(_) => {}
            TypeKind::Int(_) | TypeKind::Enum(_) | TypeKind::Enum64(_) | TypeKind::Struct(_) => {
                return Some(Ok(Reg::unknown()));
            }
            TypeKind::Void if arg == params.len() => return Some(Ok(Reg::unknown())),
            _ => return bad(),
        }
        if size != 8 {
            return bad();
        }
        let pointee = btf.ptr_target(ty).ok()?;
        let Ok((_, pt_ty)) = btf.skip_mods_and_typedefs(pointee) else {
            return bad();
        };
        if matches!(pt_ty.kind, TypeKind::Void | TypeKind::Int(_)) {
            return Some(Ok(Reg::unknown()));
        }
        let Some(sid) = ptr_to_struct(btf, ty) else {
            return bad();
        };
        let trusted = match pt {
            ProgType::Tracing => attach == Some(AttachType::TraceRawTp),
            ProgType::Lsm => !UNTRUSTED_LSM_HOOKS.contains(&target),
            _ => false,
        };
        let trust = if trusted {
            PtrTrust::Trusted
        } else {
            PtrTrust::Plain
        };
        let mut r = btf_ptr(sid, trust);
        let nullable = arg < params.len()
            && btf
                .try_str_at(params[arg].name_off)
                .is_some_and(|n| n.ends_with("__nullable"));
        if nullable {
            r.maybe_null = true;
            r.id = self.new_id();
        }
        Some(Ok(r))
    }

    /// An iterator program's context `struct bpf_iter__<target>`: `meta` is trusted, the
    /// other pointers trusted but possibly NULL.
    fn iter_ctx_load(
        &mut self,
        btf: &Btf,
        target: &str,
        off: i64,
        size: u32,
        access: Access,
    ) -> Option<Res<Reg>> {
        let ctx = btf.find_by_name(&format!("bpf_iter__{target}"), Some(Kind::Struct))?;
        let bad = || Some(Err(E::CtxAccess { off, size }));
        if access == Access::Write || off < 0 || off % 8 != 0 || size != 8 {
            return bad();
        }
        // The fields are `__bpf_md_ptr`s (pointers wrapped in anonymous unions).
        let Ok(StructAccess::Ptr { target, field, .. }) =
            btf.struct_access(ctx, off as u32, size, true)
        else {
            return Some(Ok(Reg::unknown()));
        };
        let mut r = btf_ptr(target, PtrTrust::Trusted);
        if field != "meta" {
            r.maybe_null = true;
            r.id = self.new_id();
        }
        Some(Ok(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_fields_follow_the_kernel_lists() {
        assert_eq!(
            safe_field("task_struct", "real_parent"),
            Some(SafeField::Rcu)
        );
        assert_eq!(
            safe_field("mm_struct", "exe_file"),
            Some(SafeField::RcuOrNull)
        );
        assert_eq!(safe_field("task_struct", "mm"), None);
    }

    #[test]
    fn references_are_trusted_and_rcu_pointers_are_not() {
        let mut r = btf_ptr(1, PtrTrust::Rcu);
        assert!(!is_trusted_reg(&r) && is_rcu_reg(&r));
        r.ref_obj_id = 3;
        assert!(is_trusted_reg(&r));
        let mut t = btf_ptr(1, PtrTrust::Trusted);
        assert!(is_trusted_reg(&t));
        t.maybe_null = true;
        assert!(!is_trusted_reg(&t));
    }
}
