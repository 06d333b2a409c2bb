//! A small BTF encoder: build `.BTF` (and `.BTF.ext`) blobs programmatically, for tests and
//! fuzzing. It writes exactly what it is told (no validation, no dedup), so it can also
//! produce malformed blobs on purpose via [`BtfBuilder::add_raw`].

use crate::parse::{BTF_MAGIC, HEADER_LEN};
use crate::types::{Kind, TypeId};

/// Builds a `.BTF` blob. Type ids are assigned from 1 in call order.
#[derive(Debug, Clone)]
pub struct BtfBuilder {
    strings: Vec<u8>,
    types: Vec<u8>,
    next_id: TypeId,
    /// String offset of `strings[0]` (non-zero for split BTF).
    str_base: u32,
}

impl Default for BtfBuilder {
    fn default() -> Self {
        Self::new()
    }
}

fn info(kind: Kind, vlen: usize, kflag: bool) -> u32 {
    (vlen as u32 & 0xffff) | ((kind as u32) << 24) | (u32::from(kflag) << 31)
}

impl BtfBuilder {
    /// An empty builder (string section holds only "").
    pub fn new() -> Self {
        BtfBuilder {
            strings: vec![0],
            types: Vec::new(),
            next_id: 1,
            str_base: 0,
        }
    }

    /// A builder for split BTF on top of `base` (like kernel module BTF): ids continue after
    /// the base's last id and string offsets after the base's string section; base types
    /// can be referenced by their ids. Parse the result with
    /// [`Btf::parse_split`](crate::Btf::parse_split).
    pub fn new_split(base: &crate::Btf) -> Self {
        BtfBuilder {
            strings: Vec::new(),
            types: Vec::new(),
            next_id: base.len() as TypeId,
            str_base: base.strings_end(),
        }
    }

    /// Appends a string and returns its offset ("" is offset 0).
    pub fn add_str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let off = self.str_base + self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        off
    }

    /// Appends a raw record: header words plus kind-specific trailing words.
    pub fn add_raw(
        &mut self,
        name_off: u32,
        info: u32,
        size_or_type: u32,
        extra: &[u32],
    ) -> TypeId {
        for w in [name_off, info, size_or_type].iter().chain(extra) {
            self.types.extend_from_slice(&w.to_le_bytes());
        }
        self.next_id += 1;
        self.next_id - 1
    }

    fn rec(
        &mut self,
        name: &str,
        kind: Kind,
        vlen: usize,
        kflag: bool,
        st: u32,
        extra: &[u32],
    ) -> TypeId {
        let n = self.add_str(name);
        self.add_raw(n, info(kind, vlen, kflag), st, extra)
    }

    /// `INT` of `size` bytes, all bits used.
    pub fn add_int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        let enc = if signed { 1u32 << 24 } else { 0 };
        self.rec(name, Kind::Int, 0, false, size, &[enc | (size * 8)])
    }

    /// `INT` with explicit encoding bits (1 signed, 2 char, 4 bool), bit offset and bit count.
    pub fn add_int_full(
        &mut self,
        name: &str,
        size: u32,
        encoding: u32,
        offset: u32,
        bits: u32,
    ) -> TypeId {
        self.rec(
            name,
            Kind::Int,
            0,
            false,
            size,
            &[(encoding << 24) | (offset << 16) | bits],
        )
    }

    /// `PTR` to `target`.
    pub fn add_ptr(&mut self, target: TypeId) -> TypeId {
        self.rec("", Kind::Ptr, 0, false, target, &[])
    }

    /// `ARRAY` of `nelems` `elem`s indexed by `index`.
    pub fn add_array(&mut self, elem: TypeId, index: TypeId, nelems: u32) -> TypeId {
        self.rec("", Kind::Array, 0, false, 0, &[elem, index, nelems])
    }

    fn composite(
        &mut self,
        kind: Kind,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u8)],
    ) -> TypeId {
        let kflag = members.iter().any(|m| m.3 != 0);
        let mut extra = Vec::with_capacity(members.len() * 3);
        for &(mname, ty, bit_off, bf) in members {
            let off = if kflag {
                (u32::from(bf) << 24) | bit_off
            } else {
                bit_off
            };
            extra.extend([self.add_str(mname), ty, off]);
        }
        self.rec(name, kind, members.len(), kflag, size, &extra)
    }

    /// `STRUCT` with members `(name, type, bit offset)`.
    pub fn add_struct(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let m: Vec<_> = members.iter().map(|&(n, t, o)| (n, t, o, 0)).collect();
        self.composite(Kind::Struct, name, size, &m)
    }

    /// `STRUCT` with members `(name, type, bit offset, bitfield size)` (kind_flag set if any
    /// bitfield size is non-zero).
    pub fn add_struct_bitfields(
        &mut self,
        name: &str,
        size: u32,
        members: &[(&str, TypeId, u32, u8)],
    ) -> TypeId {
        self.composite(Kind::Struct, name, size, members)
    }

    /// `UNION` with members `(name, type, bit offset)`.
    pub fn add_union(&mut self, name: &str, size: u32, members: &[(&str, TypeId, u32)]) -> TypeId {
        let m: Vec<_> = members.iter().map(|&(n, t, o)| (n, t, o, 0)).collect();
        self.composite(Kind::Union, name, size, &m)
    }

    /// 32-bit `ENUM` (4 bytes) with `(name, value)` enumerators.
    pub fn add_enum(&mut self, name: &str, signed: bool, values: &[(&str, i64)]) -> TypeId {
        let mut extra = Vec::new();
        for &(n, v) in values {
            extra.extend([self.add_str(n), v as u32]);
        }
        self.rec(name, Kind::Enum, values.len(), signed, 4, &extra)
    }

    /// `ENUM64` (8 bytes).
    pub fn add_enum64(&mut self, name: &str, signed: bool, values: &[(&str, u64)]) -> TypeId {
        let mut extra = Vec::new();
        for &(n, v) in values {
            extra.extend([self.add_str(n), v as u32, (v >> 32) as u32]);
        }
        self.rec(name, Kind::Enum64, values.len(), signed, 8, &extra)
    }

    /// `FWD` of a struct or union.
    pub fn add_fwd(&mut self, name: &str, is_union: bool) -> TypeId {
        self.rec(name, Kind::Fwd, 0, is_union, 0, &[])
    }

    /// `TYPEDEF name` of `target`.
    pub fn add_typedef(&mut self, name: &str, target: TypeId) -> TypeId {
        self.rec(name, Kind::Typedef, 0, false, target, &[])
    }

    /// `const` of `target`.
    pub fn add_const(&mut self, target: TypeId) -> TypeId {
        self.rec("", Kind::Const, 0, false, target, &[])
    }

    /// `volatile` of `target`.
    pub fn add_volatile(&mut self, target: TypeId) -> TypeId {
        self.rec("", Kind::Volatile, 0, false, target, &[])
    }

    /// `restrict` of `target`.
    pub fn add_restrict(&mut self, target: TypeId) -> TypeId {
        self.rec("", Kind::Restrict, 0, false, target, &[])
    }

    /// `TYPE_TAG` named `tag` on `target`.
    pub fn add_type_tag(&mut self, tag: &str, target: TypeId) -> TypeId {
        self.rec(tag, Kind::TypeTag, 0, false, target, &[])
    }

    /// `FUNC_PROTO` returning `ret` with `(name, type)` params.
    pub fn add_func_proto(
        &mut self,
        ret: TypeId,
        params: &[(&str, TypeId)],
        variadic: bool,
    ) -> TypeId {
        let mut extra = Vec::new();
        for &(n, t) in params {
            extra.extend([self.add_str(n), t]);
        }
        if variadic {
            extra.extend([0, 0]);
        }
        self.rec(
            "",
            Kind::FuncProto,
            params.len() + usize::from(variadic),
            false,
            ret,
            &extra,
        )
    }

    /// `FUNC name` with prototype `proto`; linkage 0 static, 1 global, 2 extern.
    pub fn add_func(&mut self, name: &str, proto: TypeId, linkage: u32) -> TypeId {
        self.rec(name, Kind::Func, linkage as usize, false, proto, &[])
    }

    /// `VAR name` of `ty`; linkage 0 static, 1 global, 2 extern.
    pub fn add_var(&mut self, name: &str, ty: TypeId, linkage: u32) -> TypeId {
        self.rec(name, Kind::Var, 0, false, ty, &[linkage])
    }

    /// `DATASEC name` of `size` bytes with `(var type, offset, size)` entries.
    pub fn add_datasec(&mut self, name: &str, size: u32, vars: &[(TypeId, u32, u32)]) -> TypeId {
        let extra: Vec<u32> = vars.iter().flat_map(|&(t, o, s)| [t, o, s]).collect();
        self.rec(name, Kind::Datasec, vars.len(), false, size, &extra)
    }

    /// `FLOAT` of `size` bytes.
    pub fn add_float(&mut self, name: &str, size: u32) -> TypeId {
        self.rec(name, Kind::Float, 0, false, size, &[])
    }

    /// `DECL_TAG` with text `tag` on `target` (component -1 = the type itself).
    pub fn add_decl_tag(&mut self, tag: &str, target: TypeId, component_idx: i32) -> TypeId {
        self.rec(
            tag,
            Kind::DeclTag,
            0,
            false,
            target,
            &[component_idx as u32],
        )
    }

    /// The id the next added type will get.
    pub fn next_id(&self) -> TypeId {
        self.next_id
    }

    /// Encodes header + type section + string section.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.types.len() + self.strings.len());
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend([1, 0]);
        for w in [
            HEADER_LEN as u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }

    /// Length of the string section built so far.
    pub fn strings_len(&self) -> u32 {
        self.strings.len() as u32
    }
}

/// Builds a `.BTF.ext` blob (version 1, with func info, line info and CO-RE relocations).
#[derive(Debug, Clone, Default)]
pub struct ExtBuilder {
    func: Vec<(u32, Vec<[u32; 2]>)>,
    line: Vec<(u32, Vec<[u32; 4]>)>,
    core: Vec<(u32, Vec<[u32; 4]>)>,
}

impl ExtBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds func-info records `(insn_off bytes, type_id)` for the section named at `sec_name_off`.
    pub fn func_info(&mut self, sec_name_off: u32, recs: &[(u32, TypeId)]) -> &mut Self {
        self.func
            .push((sec_name_off, recs.iter().map(|&(a, b)| [a, b]).collect()));
        self
    }

    /// Adds line-info records `(insn_off, file_name_off, line_off, line, column)`.
    pub fn line_info(
        &mut self,
        sec_name_off: u32,
        recs: &[(u32, u32, u32, u32, u32)],
    ) -> &mut Self {
        self.line.push((
            sec_name_off,
            recs.iter()
                .map(|&(i, f, l, n, c)| [i, f, l, (n << 10) | (c & 0x3ff)])
                .collect(),
        ));
        self
    }

    /// Adds CO-RE records `(insn_off, type_id, access_str_off, kind)`.
    pub fn core_relo(&mut self, sec_name_off: u32, recs: &[(u32, TypeId, u32, u32)]) -> &mut Self {
        self.core.push((
            sec_name_off,
            recs.iter().map(|&(a, b, c, d)| [a, b, c, d]).collect(),
        ));
        self
    }

    fn section<const N: usize>(secs: &[(u32, Vec<[u32; N]>)]) -> Vec<u8> {
        if secs.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        out.extend_from_slice(&((N * 4) as u32).to_le_bytes());
        for (name, recs) in secs {
            out.extend_from_slice(&name.to_le_bytes());
            out.extend_from_slice(&(recs.len() as u32).to_le_bytes());
            for r in recs {
                for w in r {
                    out.extend_from_slice(&w.to_le_bytes());
                }
            }
        }
        out
    }

    /// Encodes the blob (32-byte header including the CO-RE fields).
    pub fn build(&self) -> Vec<u8> {
        let f = Self::section(&self.func);
        let l = Self::section(&self.line);
        let c = Self::section(&self.core);
        let hdr_len = 32u32;
        let mut out = Vec::new();
        out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        out.extend([1, 0]);
        let (fo, lo) = (0u32, f.len() as u32);
        let co = lo + l.len() as u32;
        for w in [
            hdr_len,
            fo,
            f.len() as u32,
            lo,
            l.len() as u32,
            co,
            c.len() as u32,
        ] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend(f);
        out.extend(l);
        out.extend(c);
        out
    }
}
