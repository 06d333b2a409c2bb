//! Reading program files: raw instruction streams (`.bin`) and, by their magic, ELF objects.

use std::path::Path;

use anyhow::{Context, Result};
use lull_isa::{Located, RawInsn};

/// The first bytes of every ELF file.
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";

/// Reads a file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Whether the bytes are an ELF file.
pub fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(ELF_MAGIC)
}

/// Decodes a raw little-endian instruction stream, naming the file and slot on error.
pub fn decode_raw(path: &Path, bytes: &[u8]) -> Result<Vec<Located>> {
    if bytes.is_empty() {
        anyhow::bail!("{}: no instructions (empty file)", path.display());
    }
    let raw = RawInsn::slice_from_bytes(bytes).with_context(|| path.display().to_string())?;
    lull_isa::decode(&raw).with_context(|| path.display().to_string())
}

/// The kernel BTF to resolve CO-RE relocations and ksyms against: the given file, else the
/// running kernel's when it exposes one, else none.
pub fn kernel_btf(path: Option<&Path>) -> Result<Option<lull_btf::Btf>> {
    match path {
        Some(p) => lull_btf::Btf::from_file(p)
            .map(Some)
            .with_context(|| format!("cannot read BTF {}", p.display())),
        None if Path::new("/sys/kernel/btf/vmlinux").exists() => Ok(lull_btf::Btf::vmlinux().ok()),
        None => Ok(None),
    }
}

/// Opens a BPF object, naming the file on error.
pub fn open_object(path: &Path, kernel_btf: Option<&lull_btf::Btf>) -> Result<lull_object::Object> {
    let opts = lull_object::ParseOptions {
        target_btf: kernel_btf,
        ..Default::default()
    };
    lull_object::Object::open(path, &opts).with_context(|| path.display().to_string())
}
