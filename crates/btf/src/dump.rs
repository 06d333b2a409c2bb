//! The `bpftool btf dump ... format raw` text form of a type (`[1] INT 'int' size=4
//! bits_offset=0 nr_bits=32 encoding=SIGNED`, members on following tab-indented lines), for
//! `lull inspect`-style output and for differential tests against bpftool.

use std::fmt::Write;

use crate::btf::Btf;
use crate::types::{FuncLinkage, TypeId, TypeKind, VarLinkage};

impl Btf {
    /// Formats type `id` exactly as `bpftool btf dump file F format raw` prints it (one
    /// header line, then one tab-indented line per member/enumerator/parameter/variable; no
    /// trailing newline). Unknown ids give `[N] <bad type id>`.
    pub fn dump_raw(&self, id: TypeId) -> String {
        let Ok(t) = self.type_by_id(id) else {
            return format!("[{id}] <bad type id>");
        };
        let q = |off: u32| {
            let n = self.try_str_at(off).unwrap_or("");
            if n.is_empty() {
                "(anon)".to_string()
            } else {
                n.to_string()
            }
        };
        let mut s = format!("[{id}] {} '{}'", t.kind().name(), q(t.name_off));
        let linkage = |l: FuncLinkage| match l {
            FuncLinkage::Static => "static",
            FuncLinkage::Global => "global",
            FuncLinkage::Extern => "extern",
        };
        // `write!` into a String cannot fail.
        let _ = match &t.kind {
            TypeKind::Void => Ok(()),
            TypeKind::Int(i) => {
                let enc = match (i.encoding.signed, i.encoding.char, i.encoding.bool) {
                    (false, false, false) => "(none)",
                    (true, false, false) => "SIGNED",
                    (false, true, false) => "CHAR",
                    (false, false, true) => "BOOL",
                    _ => "UNKN",
                };
                write!(
                    s,
                    " size={} bits_offset={} nr_bits={} encoding={enc}",
                    i.size, i.offset, i.bits
                )
            }
            TypeKind::Ptr(r)
            | TypeKind::Const(r)
            | TypeKind::Volatile(r)
            | TypeKind::Restrict(r)
            | TypeKind::Typedef(r)
            | TypeKind::TypeTag(r) => write!(s, " type_id={r}"),
            TypeKind::Array(a) => write!(
                s,
                " type_id={} index_type_id={} nr_elems={}",
                a.elem_type, a.index_type, a.nelems
            ),
            TypeKind::Struct(c) | TypeKind::Union(c) => {
                let _ = write!(s, " size={} vlen={}", c.size, c.members.len());
                for m in &c.members {
                    let _ = write!(
                        s,
                        "\n\t'{}' type_id={} bits_offset={}",
                        q(m.name_off),
                        m.type_id,
                        m.bit_offset
                    );
                    if m.bitfield_size != 0 {
                        let _ = write!(s, " bitfield_size={}", m.bitfield_size);
                    }
                }
                Ok(())
            }
            TypeKind::Enum(e) | TypeKind::Enum64(e) => {
                let enc = if e.signed { "SIGNED" } else { "UNSIGNED" };
                let _ = write!(s, " encoding={enc} size={} vlen={}", e.size, e.values.len());
                let is64 = matches!(t.kind, TypeKind::Enum64(_));
                for v in &e.values {
                    let val = match (is64, e.signed) {
                        (false, true) => (v.value as u32 as i32).to_string(),
                        (false, false) => (v.value as u32).to_string(),
                        (true, true) => format!("{}LL", v.value as i64),
                        (true, false) => format!("{}ULL", v.value),
                    };
                    let _ = write!(s, "\n\t'{}' val={val}", q(v.name_off));
                }
                Ok(())
            }
            TypeKind::Fwd { is_union } => {
                write!(
                    s,
                    " fwd_kind={}",
                    if *is_union { "union" } else { "struct" }
                )
            }
            TypeKind::Func { proto, linkage: l } => {
                write!(s, " type_id={proto} linkage={}", linkage(*l))
            }
            TypeKind::FuncProto(p) => {
                let vlen = p.params.len() + usize::from(p.variadic);
                let _ = write!(s, " ret_type_id={} vlen={vlen}", p.ret_type);
                for prm in &p.params {
                    let _ = write!(s, "\n\t'{}' type_id={}", q(prm.name_off), prm.type_id);
                }
                if p.variadic {
                    s.push_str("\n\t'(anon)' type_id=0");
                }
                Ok(())
            }
            TypeKind::Var { type_id, linkage } => {
                let l = match linkage {
                    VarLinkage::Static => "static",
                    VarLinkage::GlobalAllocated => "global",
                    VarLinkage::GlobalExtern => "extern",
                };
                write!(s, " type_id={type_id}, linkage={l}")
            }
            TypeKind::Datasec(d) => {
                let _ = write!(s, " size={} vlen={}", d.size, d.vars.len());
                for v in &d.vars {
                    let _ = write!(
                        s,
                        "\n\ttype_id={} offset={} size={}",
                        v.type_id, v.offset, v.size
                    );
                    if let Ok(vt) = self.type_by_id(v.type_id) {
                        let _ = write!(s, " ({} '{}')", vt.kind().name(), q(vt.name_off));
                    }
                }
                Ok(())
            }
            TypeKind::Float { size } => write!(s, " size={size}"),
            TypeKind::DeclTag {
                target,
                component_idx,
            } => write!(s, " type_id={target} component_idx={component_idx}"),
        };
        s
    }
}
