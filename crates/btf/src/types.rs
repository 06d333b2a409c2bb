//! The typed BTF model: one [`Type`] per type id, with kind-specific payloads already decoded
//! (bitfield offsets split, enum signedness applied, variadic marker removed).
//!
//! Names are kept as string-section offsets (`name_off`); resolve them with
//! [`Btf::name`](crate::Btf::name) / [`Btf::str_at`](crate::Btf::str_at). Offsets were validated
//! when the blob was parsed, so those lookups cannot fail.

use std::fmt;

/// A BTF type id. Id 0 is `void`.
pub type TypeId = u32;

/// The kind of a type, without payload (`BTF_KIND_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// Type id 0.
    Void = 0,
    /// `BTF_KIND_INT`.
    Int = 1,
    /// `BTF_KIND_PTR`.
    Ptr = 2,
    /// `BTF_KIND_ARRAY`.
    Array = 3,
    /// `BTF_KIND_STRUCT`.
    Struct = 4,
    /// `BTF_KIND_UNION`.
    Union = 5,
    /// `BTF_KIND_ENUM` (32-bit values).
    Enum = 6,
    /// `BTF_KIND_FWD`.
    Fwd = 7,
    /// `BTF_KIND_TYPEDEF`.
    Typedef = 8,
    /// `BTF_KIND_VOLATILE`.
    Volatile = 9,
    /// `BTF_KIND_CONST`.
    Const = 10,
    /// `BTF_KIND_RESTRICT`.
    Restrict = 11,
    /// `BTF_KIND_FUNC`.
    Func = 12,
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto = 13,
    /// `BTF_KIND_VAR`.
    Var = 14,
    /// `BTF_KIND_DATASEC`.
    Datasec = 15,
    /// `BTF_KIND_FLOAT`.
    Float = 16,
    /// `BTF_KIND_DECL_TAG`.
    DeclTag = 17,
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag = 18,
    /// `BTF_KIND_ENUM64`.
    Enum64 = 19,
}

impl Kind {
    /// Decodes a `BTF_KIND_*` number (0 is not a valid kind for a type record).
    pub fn from_raw(k: u32) -> Option<Kind> {
        use Kind::*;
        Some(match k {
            1 => Int,
            2 => Ptr,
            3 => Array,
            4 => Struct,
            5 => Union,
            6 => Enum,
            7 => Fwd,
            8 => Typedef,
            9 => Volatile,
            10 => Const,
            11 => Restrict,
            12 => Func,
            13 => FuncProto,
            14 => Var,
            15 => Datasec,
            16 => Float,
            17 => DeclTag,
            18 => TypeTag,
            19 => Enum64,
            _ => return None,
        })
    }

    /// The kernel's name for the kind (`btf_type_str`: `STRUCT`, `FUNC_PROTO`, and
    /// `UNKNOWN` for void), as the verifier and `bpftool btf dump` print it.
    pub fn name(self) -> &'static str {
        use Kind::*;
        match self {
            Void => "UNKNOWN",
            Int => "INT",
            Ptr => "PTR",
            Array => "ARRAY",
            Struct => "STRUCT",
            Union => "UNION",
            Enum => "ENUM",
            Fwd => "FWD",
            Typedef => "TYPEDEF",
            Volatile => "VOLATILE",
            Const => "CONST",
            Restrict => "RESTRICT",
            Func => "FUNC",
            FuncProto => "FUNC_PROTO",
            Var => "VAR",
            Datasec => "DATASEC",
            Float => "FLOAT",
            DeclTag => "DECL_TAG",
            TypeTag => "TYPE_TAG",
            Enum64 => "ENUM64",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Encoding bits of an `INT` (`BTF_INT_SIGNED`, `BTF_INT_CHAR`, `BTF_INT_BOOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IntEncoding {
    /// `BTF_INT_SIGNED`.
    pub signed: bool,
    /// `BTF_INT_CHAR`.
    pub char: bool,
    /// `BTF_INT_BOOL`.
    pub bool: bool,
}

/// An `INT` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int {
    /// Storage size in bytes.
    pub size: u32,
    /// Encoding flags.
    pub encoding: IntEncoding,
    /// Bit offset of the value within the storage (almost always 0).
    pub offset: u8,
    /// Number of value bits.
    pub bits: u8,
}

/// An `ARRAY` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Array {
    /// Element type.
    pub elem_type: TypeId,
    /// Index type (an INT in well-formed BTF).
    pub index_type: TypeId,
    /// Number of elements (0 for flexible arrays).
    pub nelems: u32,
}

/// A member of a `STRUCT` or `UNION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Name offset (0 for anonymous members).
    pub name_off: u32,
    /// Member type.
    pub type_id: TypeId,
    /// Offset of the member from the start of the aggregate, in bits.
    pub bit_offset: u32,
    /// Bitfield size in bits; 0 for a normal (non-bitfield) member.
    pub bitfield_size: u8,
}

/// A `STRUCT` or `UNION` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite {
    /// Size in bytes.
    pub size: u32,
    /// Members in declaration order.
    pub members: Vec<Member>,
}

/// One enumerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumValue {
    /// Name offset.
    pub name_off: u32,
    /// The value, already extended to 64 bits according to the enum's signedness
    /// (a signed 32-bit `ENUM` value is sign-extended, an unsigned one zero-extended).
    /// Reinterpret as `i64` when [`Enum::signed`] is set.
    pub value: u64,
}

/// An `ENUM` or `ENUM64` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum {
    /// Size in bytes (1, 2, 4 or 8).
    pub size: u32,
    /// `kind_flag`: values are signed.
    pub signed: bool,
    /// Enumerators in declaration order.
    pub values: Vec<EnumValue>,
}

/// Linkage of a `FUNC` (`BTF_FUNC_STATIC/GLOBAL/EXTERN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FuncLinkage {
    /// `static`.
    Static,
    /// Global (visible to other objects).
    Global,
    /// `extern` (resolved at load/link time, e.g. a kfunc).
    Extern,
}

/// Linkage of a `VAR` (`BTF_VAR_STATIC/GLOBAL_ALLOCATED/GLOBAL_EXTERN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VarLinkage {
    /// `static`.
    Static,
    /// Global, allocated in this object.
    GlobalAllocated,
    /// `extern` (e.g. a Kconfig or ksym variable).
    GlobalExtern,
}

/// A parameter of a `FUNC_PROTO`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Name offset (0 when unnamed).
    pub name_off: u32,
    /// Parameter type.
    pub type_id: TypeId,
}

/// A `FUNC_PROTO` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncProto {
    /// Return type (0 = void).
    pub ret_type: TypeId,
    /// Parameters (the trailing `...` marker is not included).
    pub params: Vec<Param>,
    /// The prototype ends with `...`.
    pub variadic: bool,
}

/// A variable placed in a `DATASEC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The `VAR` (or `FUNC` for `.ksyms`) type id.
    pub type_id: TypeId,
    /// Offset within the section.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// A `DATASEC` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datasec {
    /// Section size in bytes (0 in `.BTF` produced by clang until the loader fixes it up).
    pub size: u32,
    /// Variables in the section.
    pub vars: Vec<VarSecinfo>,
}

/// The kind-specific payload of a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// Type id 0.
    Void,
    /// `INT`.
    Int(Int),
    /// `PTR` to the given type.
    Ptr(TypeId),
    /// `ARRAY`.
    Array(Array),
    /// `STRUCT`.
    Struct(Composite),
    /// `UNION`.
    Union(Composite),
    /// `ENUM`.
    Enum(Enum),
    /// `FWD` declaration of a struct (`false`) or union (`true`).
    Fwd {
        /// Declares a union.
        is_union: bool,
    },
    /// `TYPEDEF` of the given type.
    Typedef(TypeId),
    /// `volatile` modifier.
    Volatile(TypeId),
    /// `const` modifier.
    Const(TypeId),
    /// `restrict` modifier.
    Restrict(TypeId),
    /// `FUNC`: a named function with a `FUNC_PROTO`.
    Func {
        /// The `FUNC_PROTO` type id.
        proto: TypeId,
        /// Linkage.
        linkage: FuncLinkage,
    },
    /// `FUNC_PROTO`.
    FuncProto(FuncProto),
    /// `VAR`.
    Var {
        /// Variable type.
        type_id: TypeId,
        /// Linkage.
        linkage: VarLinkage,
    },
    /// `DATASEC`.
    Datasec(Datasec),
    /// `FLOAT` of the given size in bytes.
    Float {
        /// Size in bytes.
        size: u32,
    },
    /// `DECL_TAG` attached to a type (or to one of its members/parameters).
    DeclTag {
        /// The tagged type.
        target: TypeId,
        /// -1 for the type itself, else the member/parameter index.
        component_idx: i32,
    },
    /// `TYPE_TAG` on the given type (e.g. `__rcu`, `__user`, `__percpu`).
    TypeTag(TypeId),
    /// `ENUM64`.
    Enum64(Enum),
}

/// One BTF type: a name (string offset) and a kind-specific payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Name offset into the string section (0 = anonymous).
    pub name_off: u32,
    /// Payload.
    pub kind: TypeKind,
}

impl Type {
    /// The void type (id 0).
    pub const VOID: Type = Type {
        name_off: 0,
        kind: TypeKind::Void,
    };

    /// The kind tag.
    pub fn kind(&self) -> Kind {
        match &self.kind {
            TypeKind::Void => Kind::Void,
            TypeKind::Int(_) => Kind::Int,
            TypeKind::Ptr(_) => Kind::Ptr,
            TypeKind::Array(_) => Kind::Array,
            TypeKind::Struct(_) => Kind::Struct,
            TypeKind::Union(_) => Kind::Union,
            TypeKind::Enum(_) => Kind::Enum,
            TypeKind::Fwd { .. } => Kind::Fwd,
            TypeKind::Typedef(_) => Kind::Typedef,
            TypeKind::Volatile(_) => Kind::Volatile,
            TypeKind::Const(_) => Kind::Const,
            TypeKind::Restrict(_) => Kind::Restrict,
            TypeKind::Func { .. } => Kind::Func,
            TypeKind::FuncProto(_) => Kind::FuncProto,
            TypeKind::Var { .. } => Kind::Var,
            TypeKind::Datasec(_) => Kind::Datasec,
            TypeKind::Float { .. } => Kind::Float,
            TypeKind::DeclTag { .. } => Kind::DeclTag,
            TypeKind::TypeTag(_) => Kind::TypeTag,
            TypeKind::Enum64(_) => Kind::Enum64,
        }
    }

    /// The size stored in the record, for kinds that carry one (INT, STRUCT, UNION, ENUM,
    /// ENUM64, DATASEC, FLOAT). Use [`Btf::resolve_size`](crate::Btf::resolve_size) for the
    /// size of any sized type.
    pub fn size(&self) -> Option<u32> {
        match &self.kind {
            TypeKind::Int(i) => Some(i.size),
            TypeKind::Struct(c) | TypeKind::Union(c) => Some(c.size),
            TypeKind::Enum(e) | TypeKind::Enum64(e) => Some(e.size),
            TypeKind::Datasec(d) => Some(d.size),
            TypeKind::Float { size } => Some(*size),
            _ => None,
        }
    }

    /// The single type this one refers to, for PTR, TYPEDEF, modifiers, TYPE_TAG, FUNC
    /// (its prototype), VAR and DECL_TAG (its target). ARRAY returns its element type.
    pub fn ref_type(&self) -> Option<TypeId> {
        match &self.kind {
            TypeKind::Ptr(t)
            | TypeKind::Typedef(t)
            | TypeKind::Volatile(t)
            | TypeKind::Const(t)
            | TypeKind::Restrict(t)
            | TypeKind::TypeTag(t) => Some(*t),
            TypeKind::Func { proto, .. } => Some(*proto),
            TypeKind::Var { type_id, .. } => Some(*type_id),
            TypeKind::DeclTag { target, .. } => Some(*target),
            TypeKind::Array(a) => Some(a.elem_type),
            _ => None,
        }
    }

    /// Members of a STRUCT/UNION (empty for other kinds).
    pub fn members(&self) -> &[Member] {
        match &self.kind {
            TypeKind::Struct(c) | TypeKind::Union(c) => &c.members,
            _ => &[],
        }
    }

    /// The enum payload of an ENUM or ENUM64.
    pub fn as_enum(&self) -> Option<&Enum> {
        match &self.kind {
            TypeKind::Enum(e) | TypeKind::Enum64(e) => Some(e),
            _ => None,
        }
    }

    /// The INT payload.
    pub fn as_int(&self) -> Option<&Int> {
        match &self.kind {
            TypeKind::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The FUNC_PROTO payload.
    pub fn as_func_proto(&self) -> Option<&FuncProto> {
        match &self.kind {
            TypeKind::FuncProto(p) => Some(p),
            _ => None,
        }
    }

    /// The DATASEC payload.
    pub fn as_datasec(&self) -> Option<&Datasec> {
        match &self.kind {
            TypeKind::Datasec(d) => Some(d),
            _ => None,
        }
    }

    /// STRUCT or UNION.
    pub fn is_composite(&self) -> bool {
        matches!(self.kind, TypeKind::Struct(_) | TypeKind::Union(_))
    }

    /// VOLATILE, CONST, RESTRICT or TYPE_TAG.
    pub fn is_modifier(&self) -> bool {
        matches!(
            self.kind,
            TypeKind::Volatile(_)
                | TypeKind::Const(_)
                | TypeKind::Restrict(_)
                | TypeKind::TypeTag(_)
        )
    }
}
