//! `.BTF.ext`: per-ELF-section function info, line info and CO-RE relocation records.
//!
//! Layout (kernel UAPI / libbpf): a header (`magic`, `version`, `flags`, `hdr_len`, then
//! offset/length pairs for func info, line info and — when `hdr_len >= 32` — CO-RE relocations,
//! all relative to the end of the header). Each info block starts with a `u32` record size, then
//! repeats `{sec_name_off, num_info, records[num_info]}`. Record sizes larger than the known
//! ones are accepted (newer producers); trailing fields are ignored. Strings (section and file
//! names, source lines, access strings) live in the `.BTF` string table.

use std::collections::BTreeMap;

use crate::btf::Btf;
use crate::bytes::{slice_at, u16_at, u32_at};
use crate::core::CoreReloKind;
use crate::error::{BtfError, Result};
use crate::parse::BTF_MAGIC;
use crate::types::TypeId;

/// One `bpf_func_info` record: a function (FUNC type) starting at an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset of the function's first instruction within its ELF section.
    pub insn_off: u32,
    /// The FUNC type id.
    pub type_id: TypeId,
}

impl FuncInfo {
    /// Instruction index (slot) within the section.
    pub fn insn_idx(&self) -> usize {
        self.insn_off as usize / 8
    }
}

/// One `bpf_line_info` record with its strings resolved: the source location of an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset of the instruction within its ELF section.
    pub insn_off: u32,
    /// String offset of the file name.
    pub file_name_off: u32,
    /// String offset of the source line text.
    pub line_off: u32,
    /// File name (as recorded by the compiler).
    pub file: String,
    /// Source line text (lossily decoded if not UTF-8).
    pub text: String,
    /// Line number (1-based).
    pub line: u32,
    /// Column (1-based; 0 when unknown).
    pub column: u32,
}

impl LineInfo {
    /// Instruction index (slot) within the section.
    pub fn insn_idx(&self) -> usize {
        self.insn_off as usize / 8
    }
}

/// One `bpf_core_relo` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset of the instruction to patch within its ELF section.
    pub insn_off: u32,
    /// Root type id in the local (program) BTF.
    pub type_id: TypeId,
    /// String offset of the access string.
    pub access_str_off: u32,
    /// The access string, e.g. `0:1:2`.
    pub access: String,
    /// Relocation kind.
    pub kind: CoreReloKind,
}

impl CoreRelo {
    /// Instruction index (slot) within the section.
    pub fn insn_idx(&self) -> usize {
        self.insn_off as usize / 8
    }
}

/// A parsed `.BTF.ext` section; maps are keyed by ELF section name (e.g. `"xdp"`, `".text"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// Function info per section.
    pub func_info: BTreeMap<String, Vec<FuncInfo>>,
    /// Line info per section.
    pub line_info: BTreeMap<String, Vec<LineInfo>>,
    /// CO-RE relocations per section.
    pub core_relos: BTreeMap<String, Vec<CoreRelo>>,
}

fn bad(msg: impl Into<String>) -> BtfError {
    BtfError::BadExt(msg.into())
}

/// Minimum header length (through `line_info_len`).
const MIN_HDR_LEN: usize = 24;
/// Header length that includes the CO-RE relocation fields.
const CORE_HDR_LEN: usize = 32;

impl BtfExt {
    /// Parses `.BTF.ext` bytes; `btf` is the object's `.BTF`, whose strings it references.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt> {
        let magic = u16_at(data, 0, ".BTF.ext magic")?;
        if magic != BTF_MAGIC {
            return Err(bad(format!("bad magic {magic:#06x}")));
        }
        let fixed = slice_at(data, 0, MIN_HDR_LEN, ".BTF.ext header")?;
        if fixed[2] != 1 {
            return Err(bad(format!("unsupported version {}", fixed[2])));
        }
        if fixed[3] != 0 {
            return Err(bad(format!("unsupported flags {:#x}", fixed[3])));
        }
        let hdr_len = u32_at(data, 4, "hdr_len")? as usize;
        if hdr_len < MIN_HDR_LEN || hdr_len > data.len() {
            return Err(bad(format!(
                "header length {hdr_len} invalid for {} bytes",
                data.len()
            )));
        }
        let body = &data[hdr_len..];
        let block = |name: &'static str, at: usize| -> Result<&[u8]> {
            let off = u32_at(data, at, "header")? as usize;
            let len = u32_at(data, at + 4, "header")? as usize;
            if len == 0 {
                return Ok(&[]);
            }
            if !off.is_multiple_of(4) {
                return Err(bad(format!("{name} section is not aligned to 4 bytes")));
            }
            off.checked_add(len)
                .and_then(|end| body.get(off..end))
                .ok_or_else(|| bad(format!("{name} section [{off}, +{len}) is out of bounds")))
        };
        let mut ext = BtfExt::default();
        for (sec, rec) in info_blocks(block("func_info", 8)?, "func_info", 8, btf)? {
            ext.func_info.entry(sec).or_default().push(FuncInfo {
                insn_off: rec[0],
                type_id: rec[1],
            });
        }
        for (sec, rec) in info_blocks(block("line_info", 16)?, "line_info", 16, btf)? {
            let text = |off: u32, what: &str| -> Result<String> {
                btf.str_bytes_at(off)
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .ok_or_else(|| bad(format!("line_info {what} offset {off} is invalid")))
            };
            ext.line_info.entry(sec).or_default().push(LineInfo {
                insn_off: rec[0],
                file_name_off: rec[1],
                line_off: rec[2],
                file: text(rec[1], "file name")?,
                text: text(rec[2], "line")?,
                line: rec[3] >> 10,
                column: rec[3] & 0x3ff,
            });
        }
        if hdr_len >= CORE_HDR_LEN {
            for (sec, rec) in info_blocks(block("core_relo", 24)?, "core_relo", 16, btf)? {
                let kind = CoreReloKind::from_raw(rec[3])
                    .ok_or_else(|| bad(format!("unknown CO-RE relocation kind {}", rec[3])))?;
                let access = btf.str_at(rec[2]).map_err(|_| {
                    bad(format!(
                        "core_relo access string offset {} is invalid",
                        rec[2]
                    ))
                })?;
                ext.core_relos.entry(sec).or_default().push(CoreRelo {
                    insn_off: rec[0],
                    type_id: rec[1],
                    access_str_off: rec[2],
                    access: access.to_string(),
                    kind,
                });
            }
        }
        for recs in ext.func_info.values() {
            if let Some(r) = recs.iter().find(|r| r.insn_off % 8 != 0) {
                return Err(bad(format!(
                    "func_info insn_off {} is not a multiple of 8",
                    r.insn_off
                )));
            }
        }
        Ok(ext)
    }
}

/// Splits one info block into `(section name, record words)`; `min_rec` is the known record
/// size in bytes (the words returned are its first `min_rec / 4` words).
fn info_blocks(
    data: &[u8],
    name: &'static str,
    min_rec: usize,
    btf: &Btf,
) -> Result<Vec<(String, Vec<u32>)>> {
    let mut out = Vec::new();
    if data.is_empty() {
        return Ok(out);
    }
    let rec_size = u32_at(data, 0, "record size")? as usize;
    if rec_size < min_rec || !rec_size.is_multiple_of(4) {
        return Err(bad(format!("{name} record size {rec_size} is invalid")));
    }
    let mut off = 4;
    while off < data.len() {
        let sec_off = u32_at(data, off, "section info")?;
        let n = u32_at(data, off + 4, "section info")? as usize;
        off += 8;
        let sec = btf
            .str_at(sec_off)
            .map_err(|_| bad(format!("{name} section name offset {sec_off} is invalid")))?;
        if n == 0 {
            return Err(bad(format!("{name} section {sec:?} has no records")));
        }
        let len = n
            .checked_mul(rec_size)
            .filter(|&l| off + l <= data.len())
            .ok_or_else(|| {
                bad(format!(
                    "{name} section {sec:?}: {n} records of {rec_size} bytes exceed the block"
                ))
            })?;
        for r in data[off..off + len].chunks_exact(rec_size) {
            let words = r[..min_rec]
                .chunks_exact(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect();
            out.push((sec.to_string(), words));
        }
        off += len;
    }
    Ok(out)
}
