//! BPF Type Format: parsing `.BTF` and `.BTF.ext`, querying the type graph, and resolving
//! CO-RE relocations against a target (kernel) BTF the way libbpf does.
//!
//! Module map:
//! - [`types`]: the typed model (`Type`, `TypeKind`, `Kind`, members, enumerators…).
//! - [`Btf`] (module `btf`): a parsed, validated graph with names, by-name index, decl tags,
//!   split-BTF support and the kernel BTF loader ([`Btf::vmlinux`]).
//! - `query`: modifier/typedef skipping, sizes, members (bounded walks, no hangs on loops).
//! - `format`: a C-like type printer for diagnostics; `dump`: bpftool's raw text format.
//! - `walk`: the kernel verifier's struct walk for loads through BTF pointers.
//! - [`ext`]: `.BTF.ext` (func info, line info, CO-RE relocation records).
//! - [`core`]: CO-RE relocation resolution and instruction patching.
//! - [`builder`]: a small BTF encoder, for tests and fuzzing.
//!
//! Architecture invariant: no `unsafe`, no panics on malformed input; everything that reads
//! bytes returns [`BtfError`].
#![forbid(unsafe_code)]

mod btf;
pub mod builder;
mod bytes;
pub mod core;
mod dump;
mod error;
pub mod ext;
mod format;
mod index;
mod parse;
mod query;
mod strtab;
pub mod types;
mod walk;

pub use btf::{Btf, VMLINUX_PATH};
pub use error::{BtfError, Result};
pub use index::essential_name;
pub use parse::{BTF_MAGIC, Header};
pub use query::{FoundMember, MAX_RESOLVE_DEPTH, PTR_SIZE};
pub use types::{
    Array, Composite, Datasec, Enum, EnumValue, FuncLinkage, FuncProto, Int, IntEncoding, Kind,
    Member, Param, Type, TypeId, TypeKind, VarLinkage, VarSecinfo,
};
pub use walk::{StructAccess, WalkError, WalkFlags};
