//! Access specifications: parsing a local access string (`0:1:2`) into high-level accessors
//! (named fields, array indices, enumerators) plus the raw index list and bit offset, and
//! matching such a spec against a target candidate type (libbpf's `bpf_core_parse_spec` /
//! `bpf_core_spec_match` semantics).

use super::compat::{FUEL, burn, fields_are_compat, types_are_compat, types_match};
use super::{CoreError, CoreReloKind};
use crate::btf::Btf;
use crate::essential_name;
use crate::types::{Array, TypeId, TypeKind};

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`.
pub(crate) const SPEC_MAX_LEN: usize = 64;

/// One high-level access step.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Accessor<'a> {
    /// The struct/union (for named fields), enum (for enumerators) or element type (arrays).
    pub type_id: TypeId,
    /// Member, enumerator or array index.
    pub idx: u32,
    /// Field or enumerator name; `None` for array accesses.
    pub name: Option<&'a str>,
}

/// A parsed or matched specification.
#[derive(Debug, Clone)]
pub(crate) struct Spec<'a> {
    pub btf: &'a Btf,
    pub root_type_id: TypeId,
    pub kind: CoreReloKind,
    pub spec: Vec<Accessor<'a>>,
    pub raw: Vec<u32>,
    pub bit_offset: u64,
}

impl<'a> Spec<'a> {
    fn new(btf: &'a Btf, root: TypeId, kind: CoreReloKind) -> Self {
        Spec {
            btf,
            root_type_id: root,
            kind,
            spec: Vec::new(),
            raw: Vec::new(),
            bit_offset: 0,
        }
    }
}

/// Parses `access` for relocation `kind` rooted at `type_id` in `btf`.
pub(crate) fn parse_spec<'a>(
    btf: &'a Btf,
    kind: CoreReloKind,
    type_id: TypeId,
    access: &str,
) -> Result<Spec<'a>, CoreError> {
    let fail = |reason: String| {
        let t = btf.type_by_id(type_id).ok();
        let name = t.map(|t| btf.name(t)).unwrap_or("");
        CoreError::BadSpec {
            type_id,
            kind: t.map(|t| t.kind()).unwrap_or(crate::Kind::Void),
            name: if name.is_empty() {
                "<anon>".into()
            } else {
                name.into()
            },
            access: access.into(),
            reason,
        }
    };
    let mut spec = Spec::new(btf, type_id, kind);
    if access.is_empty() || access.starts_with(':') {
        return Err(fail("empty access string".into()));
    }
    if kind.is_type_based() {
        if access != "0" {
            return Err(fail(
                "type-based relocations need access string \"0\"".into(),
            ));
        }
        return Ok(spec);
    }
    for part in access.strip_suffix(':').unwrap_or(access).split(':') {
        let idx: u32 = part
            .parse()
            .map_err(|_| fail(format!("bad access index {part:?}")))?;
        if spec.raw.len() == SPEC_MAX_LEN {
            return Err(fail(format!("more than {SPEC_MAX_LEN} access steps")));
        }
        spec.raw.push(idx);
    }
    let (mut id, t) = btf.skip_mods_and_typedefs(type_id)?;
    let idx0 = spec.raw[0];
    spec.spec.push(Accessor {
        type_id: id,
        idx: idx0,
        name: None,
    });

    if kind.is_enumval_based() {
        let Some(e) = t.as_enum() else {
            return Err(fail("enumerator relocation on a non-enum type".into()));
        };
        if spec.raw.len() > 1 {
            return Err(fail("enumerator access has more than one index".into()));
        }
        let Some(v) = e.values.get(idx0 as usize) else {
            return Err(fail(format!("enumerator index {idx0} out of range")));
        };
        spec.spec[0].name = Some(btf.try_str_at(v.name_off).unwrap_or(""));
        return Ok(spec);
    }

    let sz = btf.resolve_size(id).map_err(|e| fail(e.to_string()))?;
    spec.bit_offset = elem_bits(idx0, sz);
    for i in 1..spec.raw.len() {
        let (rid, t) = btf.skip_mods_and_typedefs(id)?;
        id = rid;
        let idx = spec.raw[i];
        match &t.kind {
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let Some(m) = c.members.get(idx as usize) else {
                    return Err(fail(format!("member index {idx} out of range for [{id}]")));
                };
                spec.bit_offset = spec.bit_offset.saturating_add(m.bit_offset as u64);
                if m.name_off != 0 {
                    let name = btf.try_str_at(m.name_off).unwrap_or("");
                    if name.is_empty() {
                        return Err(fail(format!("member {idx} of [{id}] has an empty name")));
                    }
                    spec.spec.push(Accessor {
                        type_id: id,
                        idx,
                        name: Some(name),
                    });
                }
                id = m.type_id;
            }
            TypeKind::Array(a) => {
                let (elem, _) = btf.skip_mods_and_typedefs(a.elem_type)?;
                let flex = is_flex_arr(btf, spec.spec.last(), a);
                if !flex && idx >= a.nelems {
                    return Err(fail(format!(
                        "array index {idx} out of range [0, {}) for [{id}]",
                        a.nelems
                    )));
                }
                id = elem;
                spec.spec.push(Accessor {
                    type_id: id,
                    idx,
                    name: None,
                });
                let sz = btf.resolve_size(id).map_err(|e| fail(e.to_string()))?;
                spec.bit_offset = spec.bit_offset.saturating_add(elem_bits(idx, sz));
            }
            _ => {
                return Err(fail(format!(
                    "access at index {i} captures type [{id}] of unexpected kind {}",
                    t.kind()
                )));
            }
        }
    }
    Ok(spec)
}

/// A zero-length array that is the last member of the struct reached by `prev` (libbpf's
/// `is_flex_arr`): indexing past its (zero) bound is allowed.
fn is_flex_arr(btf: &Btf, prev: Option<&Accessor<'_>>, a: &Array) -> bool {
    let Some(prev) = prev else { return false };
    if prev.name.is_none() || a.nelems > 0 {
        return false;
    }
    btf.type_by_id(prev.type_id)
        .is_ok_and(|t| prev.idx as usize + 1 == t.members().len())
}

fn match_err(target_id: TypeId, reason: impl Into<String>) -> CoreError {
    CoreError::CandidateMatch {
        target_id,
        reason: reason.into(),
    }
}

/// Matches `local` against candidate `targ_id` of `targ`; `Ok(None)` when it does not match.
pub(crate) fn spec_match<'t>(
    local: &Spec<'_>,
    targ: &'t Btf,
    targ_id: TypeId,
) -> Result<Option<Spec<'t>>, CoreError> {
    let mut ts = Spec::new(targ, targ_id, local.kind);
    if local.kind.is_type_based() {
        let ok = if local.kind == CoreReloKind::TypeMatches {
            types_match(local.btf, local.root_type_id, targ, targ_id)?
        } else {
            types_are_compat(local.btf, local.root_type_id, targ, targ_id)?
        };
        return Ok(ok.then_some(ts));
    }
    let Some(local0) = local.spec.first() else {
        return Err(match_err(targ_id, "empty local spec"));
    };
    if local.kind.is_enumval_based() {
        let (tid, t) = targ.skip_mods_and_typedefs(targ_id)?;
        let Some(e) = t.as_enum() else {
            return Ok(None);
        };
        let want = essential_name(local0.name.unwrap_or(""));
        for (i, v) in e.values.iter().enumerate() {
            let name = targ.try_str_at(v.name_off).unwrap_or("");
            if essential_name(name) == want {
                ts.spec.push(Accessor {
                    type_id: tid,
                    idx: i as u32,
                    name: Some(name),
                });
                ts.raw.push(i as u32);
                return Ok(Some(ts));
            }
        }
        return Ok(None);
    }

    let mut cur = targ_id;
    for (i, lacc) in local.spec.iter().enumerate() {
        let (tid, t) = targ.skip_mods_and_typedefs(cur)?;
        cur = tid;
        if lacc.name.is_some() {
            let mut next = cur;
            if !match_member(
                local.btf,
                lacc,
                targ,
                cur,
                &mut ts,
                &mut next,
                &mut FUEL.clone(),
            )? {
                return Ok(None);
            }
            cur = next;
        } else {
            if i > 0 {
                let TypeKind::Array(a) = &t.kind else {
                    return Ok(None);
                };
                let flex = is_flex_arr(targ, ts.spec.last(), a);
                if !flex && lacc.idx >= a.nelems {
                    return Ok(None);
                }
                cur = targ.skip_mods_and_typedefs(a.elem_type)?.0;
            }
            if ts.raw.len() == SPEC_MAX_LEN {
                return Err(match_err(targ_id, "struct/union/array nesting too deep"));
            }
            ts.spec.push(Accessor {
                type_id: cur,
                idx: lacc.idx,
                name: None,
            });
            ts.raw.push(lacc.idx);
            let sz = targ.resolve_size(cur)?;
            ts.bit_offset = ts.bit_offset.saturating_add(elem_bits(lacc.idx, sz));
        }
    }
    Ok(Some(ts))
}

/// Finds the target member matching the named local accessor inside `targ_id`, descending
/// into anonymous members; updates the target spec and `next` (the member's type).
fn match_member<'t>(
    local_btf: &Btf,
    lacc: &Accessor<'_>,
    targ: &'t Btf,
    targ_id: TypeId,
    ts: &mut Spec<'t>,
    next: &mut TypeId,
    fuel: &mut u32,
) -> Result<bool, CoreError> {
    if !burn(fuel) {
        return Err(match_err(targ_id, "too many anonymous members to search"));
    }
    let (targ_id, tt) = targ.skip_mods_and_typedefs(targ_id)?;
    if !tt.is_composite() {
        return Ok(false);
    }
    let local_t = local_btf.type_by_id(lacc.type_id)?;
    let Some(lm) = local_t.members().get(lacc.idx as usize) else {
        return Err(match_err(targ_id, "local member index out of range"));
    };
    let local_name = lacc.name.unwrap_or("");
    for (i, m) in tt.members().iter().enumerate() {
        if ts.raw.len() == SPEC_MAX_LEN {
            return Err(match_err(targ_id, "struct/union/array nesting too deep"));
        }
        ts.bit_offset = ts.bit_offset.saturating_add(m.bit_offset as u64);
        ts.raw.push(i as u32);
        let tname = targ.member_name(m);
        if tname.is_empty() {
            if match_member(local_btf, lacc, targ, m.type_id, ts, next, fuel)? {
                return Ok(true);
            }
        } else if tname == local_name {
            ts.spec.push(Accessor {
                type_id: targ_id,
                idx: i as u32,
                name: Some(tname),
            });
            *next = m.type_id;
            let ok = fields_are_compat(local_btf, lm.type_id, targ, m.type_id)?;
            if !ok {
                ts.spec.pop();
            }
            return Ok(ok);
        }
        ts.bit_offset = ts.bit_offset.saturating_sub(m.bit_offset as u64);
        ts.raw.pop();
    }
    Ok(false)
}

/// Bit offset of element `idx` of `sz`-byte elements (saturating; malformed input only).
fn elem_bits(idx: u32, sz: u32) -> u64 {
    (idx as u64).saturating_mul(sz as u64).saturating_mul(8)
}

/// libbpf's lower-case kind names (`btf_kind_str`): the kernel's, lower-cased, except that
/// void is "void" rather than "unknown".
fn kind_str(k: crate::Kind) -> String {
    match k {
        crate::Kind::Void => "void".to_string(),
        _ => k.name().to_ascii_lowercase(),
    }
}

/// Describes a spec the way libbpf's debug log does, e.g.
/// `<byte_off> [114] struct task_struct.pid (0:92 @ offset 1264)`.
pub(crate) fn format_spec(spec: &Spec<'_>) -> String {
    use std::fmt::Write;
    let btf = spec.btf;
    let root = btf.type_by_id(spec.root_type_id).ok();
    let name = root.map(|t| btf.name(t)).unwrap_or("");
    let mut s = format!(
        "<{}> [{}] {} {}",
        spec.kind.name(),
        spec.root_type_id,
        root.map_or("?".to_string(), |t| kind_str(t.kind())),
        if name.is_empty() { "<anon>" } else { name }
    );
    if spec.kind.is_type_based() {
        return s;
    }
    if spec.kind.is_enumval_based() {
        if let (Some(acc), Ok((_, t))) = (
            spec.spec.first(),
            btf.skip_mods_and_typedefs(spec.root_type_id),
        ) && let Some(e) = t.as_enum()
            && let Some(v) = e.values.get(acc.idx as usize)
        {
            let vname = btf.try_str_at(v.name_off).unwrap_or("");
            let val = match (t.kind(), e.signed) {
                (crate::Kind::Enum, true) => (v.value as u32 as i32).to_string(),
                (crate::Kind::Enum, false) => (v.value as u32).to_string(),
                (_, true) => (v.value as i64).to_string(),
                (_, false) => v.value.to_string(),
            };
            let _ = write!(s, "::{vname} = {val}");
        }
        return s;
    }
    for (i, acc) in spec.spec.iter().enumerate() {
        match acc.name {
            Some(n) => {
                let _ = write!(s, ".{n}");
            }
            None if i > 0 || acc.idx > 0 => {
                let _ = write!(s, "[{}]", acc.idx);
            }
            None => {}
        }
    }
    let raw: Vec<String> = spec.raw.iter().map(u32::to_string).collect();
    let bits = spec.bit_offset as u32;
    if !bits.is_multiple_of(8) {
        let _ = write!(s, " ({} @ offset {}.{})", raw.join(":"), bits / 8, bits % 8);
    } else {
        let _ = write!(s, " ({} @ offset {})", raw.join(":"), bits / 8);
    }
    s
}
