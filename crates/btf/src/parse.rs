//! Decoding of a raw `.BTF` blob: the header, its two sections, and every type record.
//!
//! Layout facts come from the kernel UAPI (`include/uapi/linux/btf.h`): a 24-byte header,
//! then a type section of variable-length records and a NUL-separated string section, both
//! located relative to the end of the header. Each record is `name_off`, `info` (vlen in bits
//! 0-15, kind in bits 24-28, kind_flag in bit 31) and `size`/`type`, followed by kind-specific
//! data. Validation here is structural (bounds, known kinds, sane vlen/sizes, string offsets);
//! cross-type checks (referenced ids in range) happen in [`crate::btf`] once all types are known.

use crate::bytes::{slice_at, u16_at, u32_at};
use crate::error::{BtfError, Result};
use crate::types::*;

/// `BTF_MAGIC`.
pub const BTF_MAGIC: u16 = 0xeb9f;
/// Size of `struct btf_header`.
pub const HEADER_LEN: usize = 24;
/// Kernel limit on the number of types (`BTF_MAX_TYPE`).
pub const MAX_TYPE: u32 = 0x000f_ffff;
/// Kernel limit on string offsets (`BTF_MAX_NAME_OFFSET`).
pub const MAX_NAME_OFFSET: u32 = 0x00ff_ffff;

/// The decoded header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Header length.
    pub hdr_len: u32,
    /// Type section offset (after the header).
    pub type_off: u32,
    /// Type section length.
    pub type_len: u32,
    /// String section offset (after the header).
    pub str_off: u32,
    /// String section length.
    pub str_len: u32,
}

/// Parses and validates the header, returning it and the type and string section bytes.
pub(crate) fn split_sections(data: &[u8]) -> Result<(Header, &[u8], &[u8])> {
    let magic = u16_at(data, 0, "header magic")?;
    if magic != BTF_MAGIC {
        return Err(BtfError::BadMagic(magic));
    }
    let fixed = slice_at(data, 0, HEADER_LEN, "BTF header")?;
    if fixed[2] != 1 {
        return Err(BtfError::BadVersion(fixed[2]));
    }
    if fixed[3] != 0 {
        return Err(BtfError::BadFlags(fixed[3]));
    }
    let hdr = Header {
        hdr_len: u32_at(data, 4, "hdr_len")?,
        type_off: u32_at(data, 8, "type_off")?,
        type_len: u32_at(data, 12, "type_len")?,
        str_off: u32_at(data, 16, "str_off")?,
        str_len: u32_at(data, 20, "str_len")?,
    };
    let hdr_len = hdr.hdr_len as usize;
    if hdr_len < HEADER_LEN || hdr_len > data.len() {
        return Err(BtfError::BadHeaderLen {
            hdr_len: hdr.hdr_len,
            blob_len: data.len(),
        });
    }
    // A newer, longer header is only acceptable if the fields we do not know are zero.
    if data[HEADER_LEN..hdr_len].iter().any(|&b| b != 0) {
        return Err(BtfError::BadHeaderLen {
            hdr_len: hdr.hdr_len,
            blob_len: data.len(),
        });
    }
    let body = &data[hdr_len..];
    let sec = |name: &'static str, off: u32, len: u32| -> Result<&[u8]> {
        let (off, len) = (off as usize, len as usize);
        off.checked_add(len)
            .and_then(|end| body.get(off..end))
            .ok_or_else(|| BtfError::BadSection {
                section: name,
                reason: format!(
                    "offset {off} + length {len} exceeds the {} bytes after the header",
                    body.len()
                ),
            })
    };
    if !hdr.type_off.is_multiple_of(4) {
        return Err(BtfError::BadSection {
            section: "type",
            reason: format!("offset {} is not 4-byte aligned", hdr.type_off),
        });
    }
    if !hdr.type_len.is_multiple_of(4) {
        return Err(BtfError::BadSection {
            section: "type",
            reason: format!("length {} is not a multiple of 4", hdr.type_len),
        });
    }
    let types = sec("type", hdr.type_off, hdr.type_len)?;
    let strs = sec("string", hdr.str_off, hdr.str_len)?;
    let (t0, t1) = (
        hdr.type_off as u64,
        hdr.type_off as u64 + hdr.type_len as u64,
    );
    let (s0, s1) = (hdr.str_off as u64, hdr.str_off as u64 + hdr.str_len as u64);
    if hdr.type_len != 0 && hdr.str_len != 0 && t0 < s1 && s0 < t1 {
        return Err(BtfError::BadSection {
            section: "string",
            reason: format!("[{s0}, {s1}) overlaps the type section [{t0}, {t1})"),
        });
    }
    Ok((hdr, types, strs))
}

/// Validates the string section: non-empty strings must end in NUL; a base (non-split)
/// section must start with the empty string.
pub(crate) fn check_strings(strs: &[u8], split: bool) -> Result<()> {
    let bad = |reason: &str| BtfError::BadSection {
        section: "string",
        reason: reason.to_string(),
    };
    if strs.len() as u64 > MAX_NAME_OFFSET as u64 + 1 {
        return Err(bad("longer than the kernel's 16 MiB limit"));
    }
    if strs.is_empty() {
        return if split {
            Ok(())
        } else {
            Err(bad("is empty (must hold at least the empty string)"))
        };
    }
    if !split && strs[0] != 0 {
        return Err(bad("does not start with the empty string"));
    }
    if strs[strs.len() - 1] != 0 {
        return Err(bad("is not NUL-terminated"));
    }
    Ok(())
}

/// Raw fields common to every record.
struct RawHead {
    name_off: u32,
    vlen: usize,
    kind: u32,
    kflag: bool,
    size_or_type: u32,
}

/// Decodes all type records of `types`, assigning ids from `first_id`.
pub(crate) fn parse_types(types: &[u8], first_id: TypeId) -> Result<Vec<Type>> {
    // Rough estimate: 20 bytes per record on average in vmlinux.
    let mut out = Vec::with_capacity(types.len() / 20 + 1);
    let mut off = 0usize;
    let mut id = first_id;
    while off < types.len() {
        if id > MAX_TYPE {
            return Err(BtfError::InvalidType {
                id,
                kind: "?".into(),
                reason: format!("more than {MAX_TYPE} types"),
            });
        }
        let info = u32_at(types, off + 4, "type record")?;
        let head = RawHead {
            name_off: u32_at(types, off, "type record")?,
            vlen: (info & 0xffff) as usize,
            kind: (info >> 24) & 0x1f,
            kflag: info >> 31 != 0,
            size_or_type: u32_at(types, off + 8, "type record")?,
        };
        off += 12;
        let (ty, extra) = decode_one(id, &head, types, off)?;
        off += extra;
        out.push(ty);
        id += 1;
    }
    Ok(out)
}

fn invalid(id: TypeId, kind: &str, reason: impl Into<String>) -> BtfError {
    BtfError::InvalidType {
        id,
        kind: kind.to_string(),
        reason: reason.into(),
    }
}

/// Returns the `vlen * rec` bytes following a header, or an error naming the type.
fn trailing(
    id: TypeId,
    kind: Kind,
    data: &[u8],
    off: usize,
    count: usize,
    rec: usize,
) -> Result<&[u8]> {
    let len = count * rec;
    data.get(off..off + len).ok_or_else(|| {
        invalid(
            id,
            kind.name(),
            format!(
                "vlen {count} needs {len} bytes of trailing data, only {} left",
                data.len().saturating_sub(off)
            ),
        )
    })
}

fn le(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn decode_one(id: TypeId, h: &RawHead, data: &[u8], off: usize) -> Result<(Type, usize)> {
    let kind = Kind::from_raw(h.kind)
        .ok_or_else(|| invalid(id, &format!("kind {}", h.kind), "unknown kind"))?;
    let kname = kind.name();
    let no_vlen = || -> Result<()> {
        if h.vlen != 0 {
            return Err(invalid(id, kname, format!("vlen {} != 0", h.vlen)));
        }
        Ok(())
    };
    let st = h.size_or_type;
    let (payload, extra) = match kind {
        // `Kind::from_raw` never yields Void (kind 0 is not a valid record kind).
        Kind::Void => return Err(invalid(id, "kind 0", "unknown kind")),
        Kind::Int => {
            no_vlen()?;
            let v = le(trailing(id, kind, data, off, 1, 4)?, 0);
            let enc = (v >> 24) & 0x0f;
            let offset = (v >> 16) & 0xff;
            let bits = v & 0xff;
            if !matches!(st, 1 | 2 | 4 | 8 | 16) {
                return Err(invalid(id, kname, format!("invalid size {st}")));
            }
            if bits > 128 || bits == 0 || offset + bits > st * 8 {
                return Err(invalid(
                    id,
                    kname,
                    format!("bits_offset {offset} + nr_bits {bits} do not fit in {st} bytes"),
                ));
            }
            if !matches!(enc, 0 | 1 | 2 | 4) {
                return Err(invalid(id, kname, format!("unsupported encoding {enc:#x}")));
            }
            let encoding = IntEncoding {
                signed: enc & 1 != 0,
                char: enc & 2 != 0,
                bool: enc & 4 != 0,
            };
            (
                TypeKind::Int(Int {
                    size: st,
                    encoding,
                    offset: offset as u8,
                    bits: bits as u8,
                }),
                4,
            )
        }
        Kind::Ptr => (no_vlen().map(|_| TypeKind::Ptr(st))?, 0),
        Kind::Typedef => (no_vlen().map(|_| TypeKind::Typedef(st))?, 0),
        Kind::Volatile => (no_vlen().map(|_| TypeKind::Volatile(st))?, 0),
        Kind::Const => (no_vlen().map(|_| TypeKind::Const(st))?, 0),
        Kind::Restrict => (no_vlen().map(|_| TypeKind::Restrict(st))?, 0),
        Kind::TypeTag => (no_vlen().map(|_| TypeKind::TypeTag(st))?, 0),
        Kind::Array => {
            no_vlen()?;
            let b = trailing(id, kind, data, off, 1, 12)?;
            (
                TypeKind::Array(Array {
                    elem_type: le(b, 0),
                    index_type: le(b, 4),
                    nelems: le(b, 8),
                }),
                12,
            )
        }
        Kind::Struct | Kind::Union => {
            let b = trailing(id, kind, data, off, h.vlen, 12)?;
            let members = b
                .chunks_exact(12)
                .map(|m| {
                    let raw = le(m, 8);
                    let (bit_offset, bitfield_size) = if h.kflag {
                        (raw & 0x00ff_ffff, (raw >> 24) as u8)
                    } else {
                        (raw, 0)
                    };
                    Member {
                        name_off: le(m, 0),
                        type_id: le(m, 4),
                        bit_offset,
                        bitfield_size,
                    }
                })
                .collect::<Vec<_>>();
            for (i, m) in members.iter().enumerate() {
                let end = m.bit_offset as u64 + m.bitfield_size as u64;
                if end > st as u64 * 8 {
                    return Err(invalid(
                        id,
                        kname,
                        format!(
                            "member {i} at bit offset {} is past size {st}",
                            m.bit_offset
                        ),
                    ));
                }
            }
            let c = Composite { size: st, members };
            let tk = if kind == Kind::Struct {
                TypeKind::Struct(c)
            } else {
                TypeKind::Union(c)
            };
            (tk, h.vlen * 12)
        }
        Kind::Enum | Kind::Enum64 => {
            if !matches!(st, 1 | 2 | 4 | 8) {
                return Err(invalid(id, kname, format!("invalid size {st}")));
            }
            let rec = if kind == Kind::Enum { 8 } else { 12 };
            let b = trailing(id, kind, data, off, h.vlen, rec)?;
            let values = b
                .chunks_exact(rec)
                .map(|v| {
                    let value = if kind == Kind::Enum64 {
                        (le(v, 8) as u64) << 32 | le(v, 4) as u64
                    } else if h.kflag {
                        le(v, 4) as i32 as i64 as u64
                    } else {
                        le(v, 4) as u64
                    };
                    EnumValue {
                        name_off: le(v, 0),
                        value,
                    }
                })
                .collect();
            let e = Enum {
                size: st,
                signed: h.kflag,
                values,
            };
            let tk = if kind == Kind::Enum {
                TypeKind::Enum(e)
            } else {
                TypeKind::Enum64(e)
            };
            (tk, h.vlen * rec)
        }
        Kind::Fwd => {
            no_vlen()?;
            (TypeKind::Fwd { is_union: h.kflag }, 0)
        }
        Kind::Func => {
            let linkage = match h.vlen {
                0 => FuncLinkage::Static,
                1 => FuncLinkage::Global,
                2 => FuncLinkage::Extern,
                n => return Err(invalid(id, kname, format!("invalid linkage {n}"))),
            };
            (TypeKind::Func { proto: st, linkage }, 0)
        }
        Kind::FuncProto => {
            let b = trailing(id, kind, data, off, h.vlen, 8)?;
            let mut params: Vec<Param> = b
                .chunks_exact(8)
                .map(|p| Param {
                    name_off: le(p, 0),
                    type_id: le(p, 4),
                })
                .collect();
            let variadic = params
                .last()
                .is_some_and(|p| p.type_id == 0 && p.name_off == 0);
            if variadic {
                params.pop();
            }
            if let Some(i) = params.iter().position(|p| p.type_id == 0) {
                return Err(invalid(id, kname, format!("parameter {i} has type void")));
            }
            (
                TypeKind::FuncProto(FuncProto {
                    ret_type: st,
                    params,
                    variadic,
                }),
                h.vlen * 8,
            )
        }
        Kind::Var => {
            no_vlen()?;
            let l = le(trailing(id, kind, data, off, 1, 4)?, 0);
            let linkage = match l {
                0 => VarLinkage::Static,
                1 => VarLinkage::GlobalAllocated,
                2 => VarLinkage::GlobalExtern,
                n => return Err(invalid(id, kname, format!("invalid linkage {n}"))),
            };
            (
                TypeKind::Var {
                    type_id: st,
                    linkage,
                },
                4,
            )
        }
        Kind::Datasec => {
            let b = trailing(id, kind, data, off, h.vlen, 12)?;
            let vars = b
                .chunks_exact(12)
                .map(|v| VarSecinfo {
                    type_id: le(v, 0),
                    offset: le(v, 4),
                    size: le(v, 8),
                })
                .collect();
            (TypeKind::Datasec(Datasec { size: st, vars }), h.vlen * 12)
        }
        Kind::Float => {
            no_vlen()?;
            if !matches!(st, 2 | 4 | 8 | 12 | 16) {
                return Err(invalid(id, kname, format!("invalid size {st}")));
            }
            (TypeKind::Float { size: st }, 0)
        }
        Kind::DeclTag => {
            no_vlen()?;
            let c = le(trailing(id, kind, data, off, 1, 4)?, 0) as i32;
            if c < -1 {
                return Err(invalid(id, kname, format!("invalid component_idx {c}")));
            }
            (
                TypeKind::DeclTag {
                    target: st,
                    component_idx: c,
                },
                4,
            )
        }
    };
    Ok((
        Type {
            name_off: h.name_off,
            kind: payload,
        },
        extra,
    ))
}
