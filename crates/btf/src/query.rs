//! Graph queries on a [`Btf`]: skipping modifiers and typedefs, sizes, pointer targets and
//! member lookup. Every chain walk is bounded by [`MAX_RESOLVE_DEPTH`] (the kernel's limit), so
//! malformed, cyclic BTF yields [`BtfError::Loop`] instead of hanging.

use crate::btf::Btf;
use crate::error::{BtfError, Result};
use crate::types::{FuncProto, Kind, Member, Type, TypeId, TypeKind};

/// Longest modifier/typedef/array chain followed before declaring a loop (kernel:
/// `MAX_RESOLVE_DEPTH`).
pub const MAX_RESOLVE_DEPTH: usize = 32;

/// Pointer size of the BPF target, in bytes.
pub const PTR_SIZE: u32 = 8;

/// A member found by [`Btf::find_member`], possibly inside anonymous struct/union members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundMember {
    /// Bit offset from the start of the outer aggregate (anonymous members' offsets added).
    pub bit_offset: u32,
    /// The member record as stored in its (innermost) aggregate.
    pub member: Member,
}

impl Btf {
    /// Follows TYPEDEF, VOLATILE, CONST, RESTRICT and TYPE_TAG from `id` to the first other
    /// type; returns its id and the type.
    pub fn skip_mods_and_typedefs(&self, id: TypeId) -> Result<(TypeId, &Type)> {
        self.skip_while(id, "typedef/modifier", |t| {
            t.is_modifier() || t.kind() == Kind::Typedef
        })
    }

    /// Follows VOLATILE, CONST, RESTRICT and TYPE_TAG (not typedefs).
    pub fn skip_mods(&self, id: TypeId) -> Result<(TypeId, &Type)> {
        self.skip_while(id, "modifier", Type::is_modifier)
    }

    fn skip_while(
        &self,
        mut id: TypeId,
        what: &'static str,
        skip: impl Fn(&Type) -> bool,
    ) -> Result<(TypeId, &Type)> {
        let start = id;
        for _ in 0..=MAX_RESOLVE_DEPTH {
            let t = self.type_by_id(id)?;
            if !skip(t) {
                return Ok((id, t));
            }
            id = t.ref_type().unwrap_or(0);
        }
        Err(BtfError::Loop {
            id: start,
            what,
            limit: MAX_RESOLVE_DEPTH,
        })
    }

    /// Size in bytes of a value of type `id`, through typedefs, modifiers, VARs and arrays
    /// (element size times count). Void, functions and forward declarations have no size.
    pub fn resolve_size(&self, id: TypeId) -> Result<u32> {
        let mut mult: u64 = 1;
        let mut cur = id;
        for _ in 0..=MAX_RESOLVE_DEPTH {
            let (rid, t) = self.skip_mods_and_typedefs(cur)?;
            let size = match &t.kind {
                TypeKind::Array(a) => {
                    mult = mult.saturating_mul(a.nelems as u64);
                    cur = a.elem_type;
                    continue;
                }
                TypeKind::Var { type_id, .. } => {
                    cur = *type_id;
                    continue;
                }
                TypeKind::Ptr(_) => PTR_SIZE,
                TypeKind::Void => return Err(no_size(id, "void has no size")),
                TypeKind::Func { .. } | TypeKind::FuncProto(_) => {
                    return Err(no_size(id, "functions have no size"));
                }
                TypeKind::Fwd { .. } => {
                    return Err(no_size(id, "forward declaration has no size"));
                }
                TypeKind::DeclTag { .. } => return Err(no_size(id, "decl tag has no size")),
                _ => t.size().ok_or_else(|| no_size(rid, "kind has no size"))?,
            };
            let total = mult.saturating_mul(size as u64);
            return u32::try_from(total).map_err(|_| no_size(id, "size overflows u32"));
        }
        Err(BtfError::Loop {
            id,
            what: "array",
            limit: MAX_RESOLVE_DEPTH,
        })
    }

    /// The pointee of a pointer type (after skipping typedefs/modifiers on the pointer itself).
    pub fn ptr_target(&self, id: TypeId) -> Result<TypeId> {
        let (rid, t) = self.skip_mods_and_typedefs(id)?;
        match t.kind {
            TypeKind::Ptr(target) => Ok(target),
            _ => Err(BtfError::UnexpectedKind {
                id: rid,
                found: t.kind(),
                expected: "PTR",
            }),
        }
    }

    /// The function prototype behind `id`: a FUNC_PROTO itself, a FUNC's prototype, or a
    /// (typedef of a) pointer to a prototype such as vmlinux's `btf_trace_<tracepoint>`.
    pub fn func_proto(&self, id: TypeId) -> Result<(TypeId, &FuncProto)> {
        let (mut rid, mut t) = self.skip_mods_and_typedefs(id)?;
        match t.kind {
            TypeKind::Func { proto, .. } => (rid, t) = self.skip_mods_and_typedefs(proto)?,
            TypeKind::Ptr(target) => (rid, t) = self.skip_mods_and_typedefs(target)?,
            _ => {}
        }
        match &t.kind {
            TypeKind::FuncProto(p) => Ok((rid, p)),
            _ => Err(BtfError::UnexpectedKind {
                id: rid,
                found: t.kind(),
                expected: "FUNC_PROTO (or a FUNC / pointer to one)",
            }),
        }
    }

    /// The composite (STRUCT/UNION) that `id` resolves to through typedefs/modifiers.
    pub fn composite(&self, id: TypeId) -> Result<(TypeId, &Type)> {
        let (rid, t) = self.skip_mods_and_typedefs(id)?;
        if t.is_composite() {
            Ok((rid, t))
        } else {
            Err(BtfError::UnexpectedKind {
                id: rid,
                found: t.kind(),
                expected: "STRUCT or UNION",
            })
        }
    }

    /// The name of a member ("" when anonymous).
    pub fn member_name(&self, m: &Member) -> &str {
        self.try_str_at(m.name_off).unwrap_or("")
    }

    /// The direct member named `name` of the struct/union `id` (typedefs/modifiers skipped):
    /// its index and record. Anonymous members are not searched; see [`Btf::find_member`].
    pub fn member_by_name(&self, id: TypeId, name: &str) -> Result<Option<(usize, &Member)>> {
        let (_, t) = self.composite(id)?;
        Ok(t.members()
            .iter()
            .enumerate()
            .find(|(_, m)| self.member_name(m) == name))
    }

    /// Bit offset of member `idx` of struct/union `id`.
    pub fn member_offset_bits(&self, id: TypeId, idx: usize) -> Result<u32> {
        let (rid, t) = self.composite(id)?;
        t.members()
            .get(idx)
            .map(|m| m.bit_offset)
            .ok_or_else(|| BtfError::InvalidType {
                id: rid,
                kind: t.kind().name().into(),
                reason: format!("no member with index {idx}"),
            })
    }

    /// Looks `name` up in struct/union `id`, descending into anonymous struct/union members
    /// as C does; the returned bit offset is relative to `id`.
    pub fn find_member(&self, id: TypeId, name: &str) -> Result<Option<FoundMember>> {
        self.find_member_depth(id, name, 0)
    }

    fn find_member_depth(
        &self,
        id: TypeId,
        name: &str,
        depth: usize,
    ) -> Result<Option<FoundMember>> {
        if depth > MAX_RESOLVE_DEPTH {
            return Err(BtfError::Loop {
                id,
                what: "anonymous member",
                limit: MAX_RESOLVE_DEPTH,
            });
        }
        let (_, t) = self.composite(id)?;
        for m in t.members() {
            let mname = self.member_name(m);
            if mname == name {
                return Ok(Some(FoundMember {
                    bit_offset: m.bit_offset,
                    member: *m,
                }));
            }
            if mname.is_empty() {
                let (_, mt) = self.skip_mods_and_typedefs(m.type_id)?;
                if mt.is_composite()
                    && let Some(mut f) = self.find_member_depth(m.type_id, name, depth + 1)?
                {
                    f.bit_offset = f.bit_offset.saturating_add(m.bit_offset);
                    return Ok(Some(f));
                }
            }
        }
        Ok(None)
    }
}

fn no_size(id: TypeId, reason: &'static str) -> BtfError {
    BtfError::NoSize { id, reason }
}
