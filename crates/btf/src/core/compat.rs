//! Type compatibility rules of CO-RE (libbpf semantics):
//! - [`kind_core_compat`]: same kind, or ENUM vs ENUM64 (candidate filter);
//! - [`types_are_compat`]: root-type check for TYPE_EXISTS/TYPE_SIZE/TYPE_ID_TARGET;
//! - [`fields_are_compat`]: member-type check during field matching;
//! - [`types_match`]: the stricter TYPE_MATCHES relation.
//!
//! All walks are depth-bounded; exceeding the bound is an error, as in libbpf (`-EINVAL`).

use super::CoreError;
use crate::btf::Btf;
use crate::essential_name;
use crate::types::{Kind, Type, TypeId, TypeKind};

/// Recursion/iteration bound used by libbpf for these walks.
const DEPTH: i32 = 32;

/// Total steps allowed per top-level check. libbpf has only the depth bound, under which a
/// hostile graph (prototypes or structs whose members point back at themselves) could take
/// exponential time; real BTF needs far fewer steps.
pub(crate) const FUEL: u32 = 1 << 16;

/// Spends one step of `fuel`; `false` when exhausted.
pub(crate) fn burn(fuel: &mut u32) -> bool {
    if *fuel == 0 {
        return false;
    }
    *fuel -= 1;
    true
}

fn too_deep(id: TypeId) -> CoreError {
    CoreError::CandidateMatch {
        target_id: id,
        reason: "type graph too deep (or cyclic) while checking compatibility".into(),
    }
}

/// Same kind, or both enums (ENUM/ENUM64).
pub(crate) fn kind_core_compat(a: Kind, b: Kind) -> bool {
    let is_enum = |k| matches!(k, Kind::Enum | Kind::Enum64);
    a == b || (is_enum(a) && is_enum(b))
}

fn int_offset(t: &Type) -> u8 {
    t.as_int().map_or(0, |i| i.offset)
}

/// libbpf `bpf_core_types_are_compat` (level 32).
pub(crate) fn types_are_compat(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
) -> Result<bool, CoreError> {
    types_are_compat_lvl(local, local_id, targ, targ_id, DEPTH, &mut FUEL.clone())
}

fn types_are_compat_lvl(
    local: &Btf,
    mut lid: TypeId,
    targ: &Btf,
    mut tid: TypeId,
    level: i32,
    fuel: &mut u32,
) -> Result<bool, CoreError> {
    if !kind_core_compat(local.type_by_id(lid)?.kind(), targ.type_by_id(tid)?.kind()) {
        return Ok(false);
    }
    let mut depth = DEPTH;
    loop {
        depth -= 1;
        if depth < 0 || !burn(fuel) {
            return Err(too_deep(tid));
        }
        let (_, lt) = local.skip_mods_and_typedefs(lid)?;
        let (t, tt) = targ.skip_mods_and_typedefs(tid)?;
        tid = t;
        if !kind_core_compat(lt.kind(), tt.kind()) {
            return Ok(false);
        }
        match (&lt.kind, &tt.kind) {
            (TypeKind::Void, _)
            | (TypeKind::Struct(_), _)
            | (TypeKind::Union(_), _)
            | (TypeKind::Enum(_), _)
            | (TypeKind::Enum64(_), _)
            | (TypeKind::Fwd { .. }, _) => return Ok(true),
            (TypeKind::Int(_), _) => return Ok(int_offset(lt) == 0 && int_offset(tt) == 0),
            (TypeKind::Ptr(a), TypeKind::Ptr(b)) => (lid, tid) = (*a, *b),
            (TypeKind::Array(a), TypeKind::Array(b)) => (lid, tid) = (a.elem_type, b.elem_type),
            (TypeKind::FuncProto(a), TypeKind::FuncProto(b)) => {
                if a.params.len() != b.params.len() || a.variadic != b.variadic {
                    return Ok(false);
                }
                for (p, q) in a.params.iter().zip(&b.params) {
                    if level <= 0 {
                        return Err(too_deep(tid));
                    }
                    let pl = local.skip_mods_and_typedefs(p.type_id)?.0;
                    let ql = targ.skip_mods_and_typedefs(q.type_id)?.0;
                    if !types_are_compat_lvl(local, pl, targ, ql, level - 1, fuel)? {
                        return Ok(false);
                    }
                }
                lid = local.skip_mods_and_typedefs(a.ret_type)?.0;
                tid = targ.skip_mods_and_typedefs(b.ret_type)?.0;
            }
            _ => return Ok(false),
        }
    }
}

/// libbpf `bpf_core_fields_are_compat`.
pub(crate) fn fields_are_compat(
    local: &Btf,
    mut lid: TypeId,
    targ: &Btf,
    mut tid: TypeId,
) -> Result<bool, CoreError> {
    for _ in 0..DEPTH {
        let (_, lt) = local.skip_mods_and_typedefs(lid)?;
        let (_, tt) = targ.skip_mods_and_typedefs(tid)?;
        if lt.is_composite() && tt.is_composite() {
            return Ok(true);
        }
        if !kind_core_compat(lt.kind(), tt.kind()) {
            return Ok(false);
        }
        match (&lt.kind, &tt.kind) {
            (TypeKind::Ptr(_), _) | (TypeKind::Float { .. }, _) => return Ok(true),
            (TypeKind::Fwd { .. } | TypeKind::Enum(_) | TypeKind::Enum64(_), _) => {
                let ln = essential_name(local.name(lt));
                let tn = essential_name(targ.name(tt));
                return Ok(ln.is_empty() || tn.is_empty() || ln == tn);
            }
            (TypeKind::Int(_), _) => return Ok(int_offset(lt) == 0 && int_offset(tt) == 0),
            (TypeKind::Array(a), TypeKind::Array(b)) => (lid, tid) = (a.elem_type, b.elem_type),
            _ => return Ok(false),
        }
    }
    Err(too_deep(tid))
}

/// libbpf `bpf_core_names_match`: empty target name matches only an empty local name;
/// otherwise essential names must be equal.
fn names_match(local: &Btf, lname_off: u32, targ: &Btf, tname_off: u32) -> bool {
    let ln = local.try_str_at(lname_off).unwrap_or("");
    let tn = targ.try_str_at(tname_off).unwrap_or("");
    if tn.is_empty() {
        return ln.is_empty();
    }
    essential_name(ln) == essential_name(tn)
}

/// libbpf `bpf_core_types_match` (level 32, not behind a pointer).
pub(crate) fn types_match(
    local: &Btf,
    local_id: TypeId,
    targ: &Btf,
    targ_id: TypeId,
) -> Result<bool, CoreError> {
    types_match_lvl(
        local,
        local_id,
        targ,
        targ_id,
        false,
        DEPTH,
        &mut FUEL.clone(),
    )
}

fn types_match_lvl(
    local: &Btf,
    mut lid: TypeId,
    targ: &Btf,
    mut tid: TypeId,
    mut behind_ptr: bool,
    level: i32,
    fuel: &mut u32,
) -> Result<bool, CoreError> {
    if level <= 0 {
        return Err(too_deep(tid));
    }
    let mut depth = DEPTH;
    loop {
        depth -= 1;
        if depth < 0 || !burn(fuel) {
            return Err(too_deep(tid));
        }
        let (_, lt) = local.skip_mods_and_typedefs(lid)?;
        let (_, tt) = targ.skip_mods_and_typedefs(tid)?;
        if !names_match(local, lt.name_off, targ, tt.name_off) {
            return Ok(false);
        }
        let (lk, tk) = (lt.kind(), tt.kind());
        match &lt.kind {
            TypeKind::Void => return Ok(lk == tk),
            TypeKind::Fwd { is_union: lf } => {
                let tf = matches!(tt.kind, TypeKind::Fwd { is_union: true });
                return Ok(if lk == tk {
                    *lf == tf
                } else if behind_ptr {
                    (tk == Kind::Struct && !lf) || (tk == Kind::Union && *lf)
                } else {
                    false
                });
            }
            TypeKind::Enum(le) | TypeKind::Enum64(le) => {
                let Some(te) = tt.as_enum() else {
                    return Ok(false);
                };
                if le.size != te.size || le.values.len() > te.values.len() {
                    return Ok(false);
                }
                let all = le.values.iter().all(|lv| {
                    te.values
                        .iter()
                        .any(|tv| names_match(local, lv.name_off, targ, tv.name_off))
                });
                return Ok(all);
            }
            TypeKind::Struct(lc) | TypeKind::Union(lc) => {
                if behind_ptr {
                    if lk == tk {
                        return Ok(true);
                    }
                    let TypeKind::Fwd { is_union } = tt.kind else {
                        return Ok(false);
                    };
                    return Ok((lk == Kind::Union) == is_union);
                }
                if lk != tk {
                    return Ok(false);
                }
                let tm = tt.members();
                if lc.members.len() > tm.len() {
                    return Ok(false);
                }
                for lm in &lc.members {
                    let mut matched = false;
                    for m in tm {
                        if !names_match(local, lm.name_off, targ, m.name_off) {
                            continue;
                        }
                        if types_match_lvl(
                            local,
                            lm.type_id,
                            targ,
                            m.type_id,
                            behind_ptr,
                            level - 1,
                            fuel,
                        )? {
                            matched = true;
                            break;
                        }
                    }
                    if !matched {
                        return Ok(false);
                    }
                }
                return Ok(true);
            }
            TypeKind::Int(li) => {
                let Some(ti) = tt.as_int() else {
                    return Ok(false);
                };
                return Ok(li.size == ti.size && li.encoding.signed == ti.encoding.signed);
            }
            TypeKind::Ptr(a) => {
                let TypeKind::Ptr(b) = tt.kind else {
                    return Ok(false);
                };
                behind_ptr = true;
                (lid, tid) = (*a, b);
            }
            TypeKind::Array(a) => {
                let TypeKind::Array(b) = &tt.kind else {
                    return Ok(false);
                };
                if a.nelems != b.nelems {
                    return Ok(false);
                }
                (lid, tid) = (a.elem_type, b.elem_type);
            }
            TypeKind::FuncProto(a) => {
                let Some(b) = tt.as_func_proto() else {
                    return Ok(false);
                };
                if a.params.len() != b.params.len() || a.variadic != b.variadic {
                    return Ok(false);
                }
                for (p, q) in a.params.iter().zip(&b.params) {
                    if !types_match_lvl(
                        local,
                        p.type_id,
                        targ,
                        q.type_id,
                        behind_ptr,
                        level - 1,
                        fuel,
                    )? {
                        return Ok(false);
                    }
                }
                (lid, tid) = (a.ret_type, b.ret_type);
            }
            _ => return Ok(false),
        }
    }
}
