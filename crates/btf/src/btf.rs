//! [`Btf`]: a parsed, validated type graph (base or split), with names, the by-name index,
//! decl-tag lookup and the kernel-BTF loaders.

use std::path::Path;
use std::sync::Arc;

use crate::error::{BtfError, Result};
use crate::index::{NameIndex, essential_name};
use crate::parse::{Header, check_strings, parse_types, split_sections};
use crate::strtab::StrTab;
use crate::types::{Kind, Type, TypeId, TypeKind};

/// Where the running kernel exposes its BTF.
pub const VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";

/// A parsed BTF type graph.
///
/// For split BTF (kernel module BTF on top of vmlinux) the base is shared through an [`Arc`];
/// ids and string offsets below this object's start are answered by the base.
#[derive(Debug, Clone)]
pub struct Btf {
    base: Option<Arc<Btf>>,
    /// Id of `types[0]` (0 for base BTF, where `types[0]` is void).
    start_id: TypeId,
    /// String offset where `strings` begins (0 for base BTF).
    start_str_off: u32,
    strings: StrTab,
    types: Vec<Type>,
    index: NameIndex,
    /// `(target, decl_tag id)`, sorted.
    decl_tags: Vec<(TypeId, TypeId)>,
    header: Header,
}

impl Btf {
    /// Parses a standalone `.BTF` blob (an object file's section or vmlinux BTF).
    pub fn parse(data: &[u8]) -> Result<Btf> {
        Self::parse_inner(data, None)
    }

    /// Parses split BTF (e.g. `/sys/kernel/btf/<module>`) on top of `base`.
    pub fn parse_split(data: &[u8], base: Arc<Btf>) -> Result<Btf> {
        Self::parse_inner(data, Some(base))
    }

    /// Reads and parses a raw BTF file (not an ELF file).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Btf> {
        Self::parse(&read(path.as_ref())?)
    }

    /// Reads and parses split BTF from a file on top of `base`.
    pub fn from_file_split(path: impl AsRef<Path>, base: Arc<Btf>) -> Result<Btf> {
        Self::parse_split(&read(path.as_ref())?, base)
    }

    /// Parses the running kernel's BTF from [`VMLINUX_PATH`].
    pub fn vmlinux() -> Result<Btf> {
        Self::from_file(VMLINUX_PATH)
    }

    fn parse_inner(data: &[u8], base: Option<Arc<Btf>>) -> Result<Btf> {
        let (header, type_sec, str_sec) = split_sections(data)?;
        check_strings(str_sec, base.is_some())?;
        let (start_id, start_str_off) = match &base {
            Some(b) => (b.len() as TypeId, b.strings_end()),
            None => (0, 0),
        };
        let mut types = Vec::new();
        if base.is_none() {
            types.push(Type::VOID);
        }
        let first = if base.is_none() { 1 } else { start_id };
        types.extend(parse_types(type_sec, first)?);
        let mut btf = Btf {
            base,
            start_id,
            start_str_off,
            strings: StrTab::new(str_sec),
            types,
            index: NameIndex::default(),
            decl_tags: Vec::new(),
            header,
        };
        btf.validate_refs()?;
        let names: Vec<&str> = btf.types.iter().map(|t| btf.name(t)).collect();
        let index = NameIndex::build(btf.start_id, &names);
        drop(names);
        btf.index = index;
        let mut tags: Vec<(TypeId, TypeId)> = btf
            .types
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.kind {
                TypeKind::DeclTag { target, .. } => Some((target, btf.start_id + i as TypeId)),
                _ => None,
            })
            .collect();
        tags.sort_unstable();
        btf.decl_tags = tags;
        Ok(btf)
    }

    /// Checks every name offset (in range, UTF-8) and every referenced type id (in range),
    /// plus the cross-type rules that need the referenced type.
    fn validate_refs(&self) -> Result<()> {
        let last = self.len() as TypeId - 1;
        for (i, t) in self.types.iter().enumerate() {
            let id = self.start_id + i as TypeId;
            let bad_ref = |what: &str, r: TypeId| BtfError::InvalidType {
                id,
                kind: t.kind().name().into(),
                reason: format!("{what} type id {r} out of range (last type id is {last})"),
            };
            let check = |what: &str, r: TypeId| {
                if r > last {
                    Err(bad_ref(what, r))
                } else {
                    Ok(())
                }
            };
            self.check_name(id, "name", t.name_off)?;
            match &t.kind {
                TypeKind::Void
                | TypeKind::Int(_)
                | TypeKind::Fwd { .. }
                | TypeKind::Float { .. } => {}
                TypeKind::Ptr(r)
                | TypeKind::Typedef(r)
                | TypeKind::Volatile(r)
                | TypeKind::Const(r)
                | TypeKind::Restrict(r)
                | TypeKind::TypeTag(r) => check("referenced", *r)?,
                TypeKind::Array(a) => {
                    check("element", a.elem_type)?;
                    check("index", a.index_type)?;
                }
                TypeKind::Struct(c) | TypeKind::Union(c) => {
                    for m in &c.members {
                        check("member", m.type_id)?;
                        self.check_name(id, "member name", m.name_off)?;
                    }
                }
                TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                    for v in &e.values {
                        self.check_name(id, "enumerator name", v.name_off)?;
                    }
                }
                TypeKind::Func { proto, .. } => {
                    check("prototype", *proto)?;
                    if self.local(*proto).map(Type::kind) != Some(Kind::FuncProto)
                        && *proto >= self.start_id
                    {
                        return Err(BtfError::InvalidType {
                            id,
                            kind: "FUNC".into(),
                            reason: format!("type [{proto}] is not a FUNC_PROTO"),
                        });
                    }
                }
                TypeKind::FuncProto(p) => {
                    check("return", p.ret_type)?;
                    for q in &p.params {
                        check("parameter", q.type_id)?;
                        self.check_name(id, "parameter name", q.name_off)?;
                    }
                }
                TypeKind::Var { type_id, .. } => check("variable", *type_id)?,
                TypeKind::Datasec(d) => {
                    for v in &d.vars {
                        check("variable", v.type_id)?;
                    }
                }
                TypeKind::DeclTag { target, .. } => check("target", *target)?,
            }
        }
        Ok(())
    }

    fn check_name(&self, id: TypeId, what: &str, off: u32) -> Result<()> {
        let ok = match off.checked_sub(self.start_str_off) {
            Some(local) => self.strings.valid_off(local as usize),
            None => self
                .base
                .as_ref()
                .is_some_and(|b| b.try_str_at(off).is_some()),
        };
        if !ok {
            return Err(BtfError::BadStrOffset {
                context: format!("type [{id}] {what}"),
                offset: off,
                len: self.strings_end(),
            });
        }
        Ok(())
    }

    /// The type stored in this object (not the base) under `id`.
    fn local(&self, id: TypeId) -> Option<&Type> {
        id.checked_sub(self.start_id)
            .and_then(|i| self.types.get(i as usize))
    }

    /// Name of a type stored in this object ("" if `id` is not local).
    fn name_of_local(&self, id: TypeId) -> &str {
        self.local(id).map_or("", |t| self.name(t))
    }

    /// One past the last string offset (base strings included).
    pub(crate) fn strings_end(&self) -> u32 {
        self.start_str_off + self.strings.len() as u32
    }

    /// Number of type ids, including void and, for split BTF, the base's types; valid ids are
    /// `0..len()`.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> usize {
        self.start_id as usize + self.types.len()
    }

    /// First type id stored in this object: 1 for base BTF (void is implicit), the base's
    /// [`len`](Self::len) for split BTF.
    pub fn start_id(&self) -> TypeId {
        if self.base.is_some() {
            self.start_id
        } else {
            1
        }
    }

    /// The base BTF of split BTF.
    pub fn base(&self) -> Option<&Arc<Btf>> {
        self.base.as_ref()
    }

    /// The header as parsed.
    pub fn header(&self) -> Header {
        self.header
    }

    /// The type with id `id` (0 is void).
    pub fn type_by_id(&self, id: TypeId) -> Result<&Type> {
        if id < self.start_id
            && let Some(b) = &self.base
        {
            return b.type_by_id(id);
        }
        self.local(id).ok_or(BtfError::TypeIdOutOfRange {
            id,
            max: self.len() as TypeId - 1,
        })
    }

    /// Iterates over `(id, type)` for the types stored in this object (for split BTF: not the
    /// base's), starting after void.
    pub fn types(&self) -> impl Iterator<Item = (TypeId, &Type)> + '_ {
        let skip = usize::from(self.base.is_none());
        self.types
            .iter()
            .enumerate()
            .skip(skip)
            .map(move |(i, t)| (self.start_id + i as TypeId, t))
    }

    /// The NUL-terminated string at `off`, if `off` is inside the string section and the string
    /// is valid UTF-8.
    pub fn try_str_at(&self, off: u32) -> Option<&str> {
        if off < self.start_str_off {
            return self.base.as_ref()?.try_str_at(off);
        }
        self.strings.str_at((off - self.start_str_off) as usize)
    }

    /// The string at `off`, or an error naming the offset.
    pub fn str_at(&self, off: u32) -> Result<&str> {
        self.try_str_at(off).ok_or_else(|| BtfError::BadStrOffset {
            context: "string lookup".into(),
            offset: off,
            len: self.strings_end(),
        })
    }

    /// The bytes of the string at `off` (without NUL), also for non-UTF-8 text such as source
    /// lines in line info.
    pub fn str_bytes_at(&self, off: u32) -> Option<&[u8]> {
        if off < self.start_str_off {
            return self.base.as_ref()?.str_bytes_at(off);
        }
        self.strings.bytes_at((off - self.start_str_off) as usize)
    }

    /// The name of a type ("" when anonymous). Name offsets of all types, members, enumerators
    /// and parameters were validated at parse time, so this cannot fail for types of this
    /// object.
    pub fn name(&self, ty: &Type) -> &str {
        self.try_str_at(ty.name_off).unwrap_or("")
    }

    /// The name of the type with id `id` ("" for void, anonymous types or bad ids).
    pub fn name_of(&self, id: TypeId) -> &str {
        self.type_by_id(id).map(|t| self.name(t)).unwrap_or("")
    }

    /// The lowest type id named exactly `name`, optionally of the given kind.
    pub fn find_by_name(&self, name: &str, kind: Option<Kind>) -> Option<TypeId> {
        if let Some(b) = &self.base
            && let Some(id) = b.find_by_name(name, kind)
        {
            return Some(id);
        }
        let mut found = None;
        self.index.probe(
            essential_name(name),
            |id| self.name_of_local(id),
            |id| {
                let t = &self.types[(id - self.start_id) as usize];
                if self.name(t) == name && kind.is_none_or(|k| t.kind() == k) {
                    found = Some(id);
                    return false;
                }
                true
            },
        );
        found
    }

    /// All type ids named exactly `name` (optionally of one kind), in id order.
    pub fn find_all_by_name(&self, name: &str, kind: Option<Kind>) -> Vec<TypeId> {
        self.collect_by(essential_name(name), |n| n == name, kind)
    }

    /// All type ids whose *essential* name (flavor suffix stripped) is `essential`, optionally
    /// of one kind, in id order. This is CO-RE's candidate search.
    pub fn find_by_essential_name(&self, essential: &str, kind: Option<Kind>) -> Vec<TypeId> {
        self.collect_by(essential, |n| essential_name(n) == essential, kind)
    }

    fn collect_by(
        &self,
        key: &str,
        matches: impl Fn(&str) -> bool + Copy,
        kind: Option<Kind>,
    ) -> Vec<TypeId> {
        let mut out = match &self.base {
            Some(b) => b.collect_by(key, matches, kind),
            None => Vec::new(),
        };
        self.index.probe(
            key,
            |id| self.name_of_local(id),
            |id| {
                let t = &self.types[(id - self.start_id) as usize];
                if matches(self.name(t)) && kind.is_none_or(|k| t.kind() == k) {
                    out.push(id);
                }
                true
            },
        );
        out
    }

    /// The decl tags attached to type `id` (in this object and, for split BTF, its base), as
    /// `(component_idx, tag text)`; component -1 is the type itself, otherwise a member or
    /// parameter index. E.g. `(-1, "comment:test_expect_msg=...")` on a FUNC.
    pub fn decl_tags_for(&self, id: TypeId) -> impl Iterator<Item = (i32, &str)> + '_ {
        let base: Vec<(i32, &str)> = match &self.base {
            Some(b) => b.decl_tags_for(id).collect(),
            None => Vec::new(),
        };
        let start = self.decl_tags.partition_point(|&(t, _)| t < id);
        let own = self.decl_tags[start..]
            .iter()
            .take_while(move |&&(t, _)| t == id)
            .filter_map(move |&(_, tag)| {
                let t = self.local(tag)?;
                match t.kind {
                    TypeKind::DeclTag { component_idx, .. } => Some((component_idx, self.name(t))),
                    _ => None,
                }
            });
        base.into_iter().chain(own)
    }
}

/// Reads a whole file, naming it in the error.
fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| BtfError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })
}
