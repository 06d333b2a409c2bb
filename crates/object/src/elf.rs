//! The ELF layer: reads a relocatable BPF object with the `object` crate and turns it into a
//! small owned-index model (sections, symbols, relocations) that the rest of the crate works on.
//!
//! Everything that can be wrong with the container itself is caught here: wrong class, byte
//! order or machine, section headers or data outside the file, bad string offsets, relocation
//! tables with a wrong entry size or a symbol index past the symbol table. Nothing here knows
//! what a BPF program or map is.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{Endianness, LittleEndian};

use crate::error::ObjectError;

/// One ELF section as the loader sees it.
#[derive(Debug, Clone)]
pub(crate) struct Section<'a> {
    /// Section header index.
    pub index: usize,
    /// Section name.
    pub name: String,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_size` (for `SHT_NOBITS`, the size of the zero-filled area).
    pub size: u64,
    /// File contents (empty for `SHT_NOBITS`).
    pub data: &'a [u8],
    /// `sh_info` (target section of a relocation section).
    pub info: u32,
}

impl Section<'_> {
    /// Whether the section holds instructions (`SHF_EXECINSTR`).
    pub fn is_exec(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS.0 && self.flags & elf::SHF_EXECINSTR.0 != 0
    }
}

/// Symbol type, reduced to what the loader distinguishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymKind {
    NoType,
    Object,
    Func,
    Section,
    Other,
}

/// Symbol binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymBind {
    Local,
    Global,
    Weak,
    Other,
}

/// One symbol table entry.
#[derive(Debug, Clone)]
pub(crate) struct Symbol {
    pub name: String,
    /// Section index; `None` for `SHN_UNDEF` (externs); reserved indices are kept as `Some`
    /// of their raw value so they can be reported.
    pub shndx: Option<usize>,
    pub value: u64,
    pub size: u64,
    pub kind: SymKind,
    pub bind: SymBind,
    /// `STV_HIDDEN` or `STV_INTERNAL`.
    pub hidden: bool,
}

impl Symbol {
    /// libbpf's `sym_is_extern`: undefined, global or weak, no type.
    pub fn is_extern(&self) -> bool {
        self.shndx.is_none()
            && matches!(self.bind, SymBind::Global | SymBind::Weak)
            && self.kind == SymKind::NoType
    }
}

/// One `Elf64_Rel` entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rel {
    pub offset: u64,
    pub sym: usize,
    pub rtype: u32,
}

/// A relocation section and the section it applies to.
#[derive(Debug, Clone)]
pub(crate) struct RelSection {
    pub target: usize,
    pub rels: Vec<Rel>,
}

/// The parsed container.
#[derive(Debug)]
pub(crate) struct ElfFile<'a> {
    pub sections: Vec<Section<'a>>,
    pub symbols: Vec<Symbol>,
    pub rel_sections: Vec<RelSection>,
}

fn format_err(what: &str, e: object::Error) -> ObjectError {
    ObjectError::Elf(format!("{what}: {e}"))
}

impl<'a> ElfFile<'a> {
    /// Parses the container. Fails on anything but a little-endian ELF64 relocatable EM_BPF file.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ObjectError> {
        if bytes.len() < 16 || &bytes[..4] != b"\x7fELF" {
            return Err(ObjectError::NotElf);
        }
        if bytes[4] != elf::ELFCLASS64.0 {
            return Err(ObjectError::NotElf64);
        }
        match bytes[5] {
            b if b == elf::ELFDATA2LSB.0 => {}
            b if b == elf::ELFDATA2MSB.0 => return Err(ObjectError::BigEndian),
            other => {
                return Err(ObjectError::Elf(format!(
                    "unknown ELF data encoding {other}"
                )));
            }
        }
        let header = elf::FileHeader64::<Endianness>::parse(bytes)
            .map_err(|e| format_err("bad ELF header", e))?;
        let endian = header
            .endian()
            .map_err(|e| format_err("bad ELF header", e))?;
        let machine = header.e_machine(endian);
        if machine != elf::EM_BPF {
            return Err(ObjectError::NotBpf { machine: machine.0 });
        }
        let e_type = header.e_type(endian);
        if e_type != elf::ET_REL {
            return Err(ObjectError::NotRelocatable { e_type: e_type.0 });
        }
        let table = header
            .sections(endian, bytes)
            .map_err(|e| format_err("bad section header table", e))?;

        let mut sections = Vec::with_capacity(table.len());
        for (index, sh) in table.enumerate() {
            let index = index.0;
            let name = table
                .section_name(endian, sh)
                .map_err(|e| format_err(&format!("section {index}: bad name"), e))?;
            let name = String::from_utf8_lossy(name).into_owned();
            let sh_type = sh.sh_type(endian).0;
            let data = if sh_type == elf::SHT_NOBITS.0 {
                &[][..]
            } else {
                sh.data(endian, bytes).map_err(|e| {
                    format_err(
                        &format!("section {index} ({name}): data outside the file"),
                        e,
                    )
                })?
            };
            sections.push(Section {
                index,
                name,
                sh_type,
                flags: sh.sh_flags(endian).0,
                size: sh.sh_size(endian),
                data,
                info: sh.sh_info(endian),
            });
        }

        let symtab = table
            .symbols(endian, bytes, elf::SHT_SYMTAB)
            .map_err(|e| format_err("bad symbol table", e))?;
        if symtab.is_empty() {
            return Err(ObjectError::NoSymbolTable);
        }
        let mut symbols = Vec::with_capacity(symtab.len());
        for (i, sym) in symtab.enumerate() {
            let name = symtab
                .symbol_name(endian, sym)
                .map_err(|e| format_err(&format!("symbol {}: bad name", i.0), e))?;
            let shndx = sym.st_shndx(endian);
            let shndx = if shndx == elf::SHN_UNDEF {
                None
            } else if shndx == elf::SHN_XINDEX {
                symtab.shndx(endian, i).map(|s| s as usize)
            } else {
                Some(usize::from(shndx.0))
            };
            let kind = match sym.st_type() {
                elf::STT_NOTYPE => SymKind::NoType,
                elf::STT_OBJECT => SymKind::Object,
                elf::STT_FUNC => SymKind::Func,
                elf::STT_SECTION => SymKind::Section,
                _ => SymKind::Other,
            };
            let bind = match sym.st_bind() {
                elf::STB_LOCAL => SymBind::Local,
                elf::STB_GLOBAL => SymBind::Global,
                elf::STB_WEAK => SymBind::Weak,
                _ => SymBind::Other,
            };
            let vis = sym.st_visibility();
            symbols.push(Symbol {
                name: String::from_utf8_lossy(name).into_owned(),
                shndx,
                value: sym.st_value(endian),
                size: sym.st_size(endian),
                kind,
                bind,
                hidden: vis == elf::STV_HIDDEN || vis == elf::STV_INTERNAL,
            });
        }
        // Section symbols carry no name of their own: give them their section's name so that
        // messages about them are readable.
        for s in &mut symbols {
            if s.kind == SymKind::Section
                && s.name.is_empty()
                && let Some(sec) = s.shndx.and_then(|i| sections.get(i))
            {
                s.name = sec.name.clone();
            }
        }

        let mut rel_sections = Vec::new();
        for sec in &sections {
            if sec.sh_type == elf::SHT_RELA.0 {
                return Err(ObjectError::Elf(format!(
                    "section {} ({}): RELA relocations are not used by BPF objects",
                    sec.index, sec.name
                )));
            }
            if sec.sh_type != elf::SHT_REL.0 {
                continue;
            }
            let entsize = std::mem::size_of::<elf::Rel64<LittleEndian>>();
            if sec.data.len() % entsize != 0 {
                return Err(ObjectError::Elf(format!(
                    "relocation section {}: size {} is not a multiple of {entsize}",
                    sec.name,
                    sec.data.len()
                )));
            }
            let target = sec.info as usize;
            if target == 0 || target >= sections.len() {
                return Err(ObjectError::Elf(format!(
                    "relocation section {}: target section {target} does not exist",
                    sec.name
                )));
            }
            let mut rels = Vec::with_capacity(sec.data.len() / entsize);
            for (n, c) in sec.data.chunks_exact(entsize).enumerate() {
                let offset = u64::from_le_bytes(c[0..8].try_into().expect("8 bytes"));
                let info = u64::from_le_bytes(c[8..16].try_into().expect("8 bytes"));
                let sym = (info >> 32) as usize;
                if sym >= symbols.len() {
                    return Err(ObjectError::Elf(format!(
                        "relocation section {}: entry {n} at offset {offset:#x} refers to symbol {sym}, \
                         but the symbol table has {} entries",
                        sec.name,
                        symbols.len()
                    )));
                }
                rels.push(Rel {
                    offset,
                    sym,
                    rtype: info as u32,
                });
            }
            rel_sections.push(RelSection { target, rels });
        }
        Ok(ElfFile {
            sections,
            symbols,
            rel_sections,
        })
    }

    /// The section with this name, if any.
    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Relocations that apply to section `index` (all relocation sections targeting it).
    pub fn rels_for(&self, index: usize) -> impl Iterator<Item = &Rel> {
        self.rel_sections
            .iter()
            .filter(move |r| r.target == index)
            .flat_map(|r| r.rels.iter())
    }
}
