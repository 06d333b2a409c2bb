//! The kernel verifier's walk of a struct for a load through a BTF pointer
//! (`btf_struct_walk` / `btf_struct_access` in `kernel/bpf/btf.c`): which member an access at
//! `off`/`size` hits, whether it yields a scalar or another BTF pointer, and the pointer flags
//! BTF contributes (`__rcu`/`__user`/`__percpu` type tags, "untrusted" after walking a union).
//! Rejections carry the kernel's log line and errno, so a verifier can print them verbatim.
//!
//! Only BTF-derived facts live here; the verifier's own state (allocated objects, special
//! fields, program type) is the caller's business.

use crate::btf::Btf;
use crate::query::MAX_RESOLVE_DEPTH;
use crate::types::{Kind, Type, TypeId, TypeKind};

/// `EINVAL`.
pub const EINVAL: i32 = 22;
/// `EACCES`.
pub const EACCES: i32 = 13;
/// `EFAULT`.
pub const EFAULT: i32 = 14;

/// Pointer flags BTF contributes to the loaded pointer (subset of `enum bpf_type_flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalkFlags {
    /// `PTR_UNTRUSTED`: the walk went through a union with more than one member.
    pub untrusted: bool,
    /// `MEM_USER`: the pointer member is tagged `__user`.
    pub user: bool,
    /// `MEM_PERCPU`: tagged `__percpu`.
    pub percpu: bool,
    /// `MEM_RCU`: tagged `__rcu`.
    pub rcu: bool,
}

/// What an access through a BTF pointer produces (`btf_struct_access`'s result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructAccess {
    /// A scalar (`SCALAR_VALUE`).
    Scalar,
    /// A pointer to another struct/union (`PTR_TO_BTF_ID` with `flags`).
    Ptr {
        /// Target struct/union type id (modifiers skipped).
        target: TypeId,
        /// Flags from type tags and unions.
        flags: WalkFlags,
        /// The pointer member's name.
        field: String,
    },
}

/// A rejected access: the kernel's verifier-log line (without newline) and its errno.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WalkError {
    /// Kernel log text, e.g. `access beyond struct task_struct at off 9000 size 8`.
    pub message: String,
    /// Positive errno the kernel returns (`EACCES`, `EINVAL`, `EFAULT`).
    pub errno: i32,
}

fn fail(errno: i32, message: String) -> WalkError {
    WalkError { message, errno }
}

/// One step of the walk (`enum bpf_struct_walk_result`).
enum Step {
    Scalar,
    Ptr(TypeId, String),
    Struct(TypeId),
}

/// Result of the kernel's `__btf_resolve_size` on a member type.
struct Resolved<'a> {
    /// The outermost array, or the sized type after modifiers.
    ty: &'a Type,
    size: u32,
    elem: &'a Type,
    elem_id: TypeId,
    nelems: u32,
    /// Id after the last skipped modifier (or the member's own type id).
    id: TypeId,
}

/// The kernel counts TYPEDEF among "modifiers".
fn is_kernel_modifier(t: &Type) -> bool {
    t.is_modifier() || t.kind() == Kind::Typedef
}

impl Btf {
    /// [`Btf::skip_mods_and_typedefs`] (the kernel's `btf_type_skip_modifiers`, which counts
    /// typedefs as modifiers), with errors folded into `None`.
    fn skip_mods_and_typedefs_opt(&self, id: TypeId) -> Option<(TypeId, &Type)> {
        self.skip_mods_and_typedefs(id).ok()
    }

    fn kernel_resolve_size(&self, mut id: TypeId) -> Option<Resolved<'_>> {
        let mut ty = self.type_by_id(id).ok()?;
        let mut array: Option<&Type> = None;
        let mut elem_id = 0;
        let mut nelems: u32 = 1;
        let mut last_mod_id = 0;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let size = match &ty.kind {
                TypeKind::Int(_)
                | TypeKind::Struct(_)
                | TypeKind::Union(_)
                | TypeKind::Enum(_)
                | TypeKind::Enum64(_)
                | TypeKind::Float { .. } => ty.size().unwrap_or(0),
                TypeKind::Ptr(_) => 8,
                TypeKind::Typedef(r)
                | TypeKind::Volatile(r)
                | TypeKind::Const(r)
                | TypeKind::Restrict(r)
                | TypeKind::TypeTag(r) => {
                    last_mod_id = *r;
                    id = *r;
                    ty = self.type_by_id(id).ok()?;
                    continue;
                }
                TypeKind::Array(a) => {
                    array.get_or_insert(ty);
                    if nelems != 0 && a.nelems > u32::MAX / nelems {
                        return None;
                    }
                    nelems *= a.nelems;
                    elem_id = a.elem_type;
                    id = a.elem_type;
                    ty = self.type_by_id(id).ok()?;
                    continue;
                }
                _ => return None,
            };
            if nelems != 0 && size > u32::MAX / nelems {
                return None;
            }
            return Some(Resolved {
                ty: array.unwrap_or(ty),
                size: nelems * size,
                elem: ty,
                elem_id,
                nelems,
                id: last_mod_id,
            });
        }
        None
    }

    /// One `btf_struct_walk` call starting at type `id`.
    fn walk_step(
        &self,
        id: TypeId,
        mut off: u32,
        size: u32,
        flags: &mut WalkFlags,
        walk_flex_arrays: bool,
    ) -> Result<Step, WalkError> {
        let mut t = self
            .type_by_id(id)
            .map_err(|e| fail(EINVAL, e.to_string()))?;
        for _ in 0..=MAX_RESOLVE_DEPTH * 4 {
            if is_kernel_modifier(t) {
                t = self
                    .skip_mods_and_typedefs_opt(t.ref_type().unwrap_or(0))
                    .map(|x| x.1)
                    .unwrap_or(&Type::VOID);
            }
            let tname = self.name(t).to_string();
            if !t.is_composite() {
                return Err(fail(EINVAL, format!("Type '{tname}' is not a struct")));
            }
            let members = t.members();
            let tsize = t.size().unwrap_or(0);
            if t.kind() == Kind::Union && members.len() != 1 {
                flags.untrusted = true;
            }
            if off as u64 + size as u64 > tsize as u64 {
                let beyond = || {
                    fail(
                        EACCES,
                        format!("access beyond struct {tname} at off {off} size {size}"),
                    )
                };
                // A trailing flexible array may extend the struct.
                let last = members
                    .last()
                    .filter(|_| walk_flex_arrays)
                    .ok_or_else(beyond)?;
                let (_, mt) = self
                    .skip_mods_and_typedefs_opt(last.type_id)
                    .ok_or_else(beyond)?;
                let TypeKind::Array(a) = &mt.kind else {
                    return Err(beyond());
                };
                let moff = last.bit_offset / 8;
                if a.nelems != 0 || off < moff {
                    return Err(beyond());
                }
                let (_, et) = self
                    .skip_mods_and_typedefs_opt(a.elem_type)
                    .ok_or_else(beyond)?;
                if et.kind() == Kind::Int {
                    return Ok(Step::Scalar);
                }
                let esize = et.size().unwrap_or(0);
                if !et.is_composite() || esize == 0 {
                    return Err(beyond());
                }
                off = (off - moff) % esize;
                t = et;
                continue;
            }

            let mut next: Option<(&Type, u32)> = None;
            for m in members {
                let mut moff = m.bit_offset / 8;
                if off as u64 + size as u64 <= moff as u64 {
                    break;
                }
                if m.bitfield_size != 0 {
                    let end_bit = m.bit_offset as u64 + m.bitfield_size as u64;
                    if off <= moff && end_bit.div_ceil(8) <= off as u64 + size as u64 {
                        return Ok(Step::Scalar);
                    }
                    continue;
                }
                if off < moff {
                    break;
                }
                let mname = self.member_name(m).to_string();
                let Some(r) = self.kernel_resolve_size(m.type_id) else {
                    return Err(fail(EFAULT, format!("field {mname} doesn't have size")));
                };
                let mut mid = if r.id != 0 { r.id } else { m.type_id };
                let mut msize = r.size;
                let mut mtype = r.ty;
                let mtrue_end = moff.saturating_add(msize);
                if off >= mtrue_end {
                    continue;
                }
                if mtype.kind() == Kind::Array {
                    if moff == mtrue_end {
                        continue;
                    }
                    msize /= r.nelems.max(1);
                    if msize == 0 {
                        continue;
                    }
                    let elem_idx = (off - moff) / msize;
                    moff += elem_idx * msize;
                    mtype = r.elem;
                    mid = r.elem_id;
                }
                if mtype.is_composite() {
                    if off == moff {
                        return Ok(Step::Struct(mid));
                    }
                    next = Some((mtype, off - moff));
                    break;
                }
                if let TypeKind::Ptr(target) = mtype.kind {
                    if msize != size || off != moff {
                        return Err(fail(
                            EACCES,
                            format!(
                                "cannot access ptr member {mname} with moff {moff} in struct {tname} with off {off} size {size}"
                            ),
                        ));
                    }
                    let mut tag = WalkFlags::default();
                    if let Ok(tt) = self.type_by_id(target)
                        && tt.kind() == Kind::TypeTag
                    {
                        match self.name(tt) {
                            "user" => tag.user = true,
                            "percpu" => tag.percpu = true,
                            "rcu" => tag.rcu = true,
                            _ => {}
                        }
                    }
                    if let Some((sid, st)) = self.skip_mods_and_typedefs_opt(target)
                        && st.is_composite()
                    {
                        flags.user |= tag.user;
                        flags.percpu |= tag.percpu;
                        flags.rcu |= tag.rcu;
                        return Ok(Step::Ptr(sid, mname));
                    }
                }
                if off as u64 + size as u64 > mtrue_end as u64 && !flags.untrusted {
                    return Err(fail(
                        EACCES,
                        format!(
                            "access beyond the end of member {mname} (mend:{mtrue_end}) in struct {tname} with off {off} size {size}"
                        ),
                    ));
                }
                return Ok(Step::Scalar);
            }
            match next {
                Some((nt, noff)) => {
                    t = nt;
                    off = noff;
                }
                None => {
                    return Err(fail(
                        EINVAL,
                        format!("struct {tname} doesn't have field at offset {off}"),
                    ));
                }
            }
        }
        Err(fail(
            EINVAL,
            format!("type [{id}]: struct nesting too deep"),
        ))
    }

    /// What a `size`-byte load at `off` from a pointer to struct/union `id` yields, following
    /// the kernel's `btf_struct_access` (for non-allocated objects; `walk_flex_arrays` is true
    /// there). Errors carry the kernel's log line.
    pub fn struct_access(
        &self,
        id: TypeId,
        off: u32,
        size: u32,
        walk_flex_arrays: bool,
    ) -> Result<StructAccess, WalkError> {
        let mut flags = WalkFlags::default();
        let mut cur = id;
        let mut off = off;
        for _ in 0..=MAX_RESOLVE_DEPTH * 4 {
            match self.walk_step(cur, off, size, &mut flags, walk_flex_arrays)? {
                Step::Scalar => return Ok(StructAccess::Scalar),
                Step::Ptr(target, field) => {
                    return Ok(StructAccess::Ptr {
                        target,
                        flags,
                        field,
                    });
                }
                Step::Struct(next) => {
                    cur = next;
                    off = 0;
                }
            }
        }
        Err(fail(
            EINVAL,
            format!("type [{id}]: struct nesting too deep"),
        ))
    }

    /// Whether an object of struct `id` seen at byte `off` *is* a `need` (kernel
    /// `btf_struct_ids_match`): true if `off == 0` and the ids are equal, or — unless `strict`
    /// — if `need` is found by descending into the member struct starting exactly at `off`
    /// (then into its first member, and so on), e.g. a `struct sock_common` at offset 0 of a
    /// `struct sock`. `Err` means "no", with the line the kernel's walk logs while failing.
    pub fn struct_ids_match(
        &self,
        id: TypeId,
        off: u32,
        need: TypeId,
        strict: bool,
        walk_flex_arrays: bool,
    ) -> Result<bool, WalkError> {
        if off == 0 && id == need {
            return Ok(true);
        }
        if strict {
            return Ok(false);
        }
        let (mut cur, mut off) = (id, off);
        let mut flags = WalkFlags::default();
        for _ in 0..=MAX_RESOLVE_DEPTH * 4 {
            match self.walk_step(cur, off, 1, &mut flags, walk_flex_arrays)? {
                Step::Struct(next) if next == need => return Ok(true),
                Step::Struct(next) => (cur, off) = (next, 0),
                Step::Scalar | Step::Ptr(..) => return Ok(false),
            }
        }
        Ok(false)
    }
}
