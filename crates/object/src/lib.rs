//! Loading clang-compiled BPF ELF objects the way libbpf opens them.
//!
//! [`Object::parse`] reads a relocatable little-endian `EM_BPF` ELF64 file and produces:
//! - [`Program`]s: every `STT_FUNC` of every executable section outside `.text`, each with
//!   its own linked instruction stream (body + reachable `.text` subprograms, libbpf order),
//!   its program type / expected attach type / attach target / sleepable flag from the section
//!   name ([`section_defs`]), the relocations applied, and `.BTF.ext` func/line info remapped;
//! - [`MapDef`]s: BTF-defined (`.maps`), legacy (`maps`), global data and `.kconfig`;
//! - [`Extern`]s: `.kconfig` and `.ksyms`, resolved where possible;
//! - license, kernel version, the object's BTF, warnings and unknown sections.
//!
//! Module map: [`elf`](crate::elf) (container), [`section_defs`], `link` (functions,
//! relocation records, subprogram appending), `relocs` (patching), `maps`, `externs`,
//! `btf_info` (func/line info, CO-RE), [`inspect`].
//!
//! Dependencies: ELF structure comes from the `object` crate (low-level `elf` reader, which
//! knows `EM_BPF` and the `R_BPF_*` relocation numbers); everything BPF-specific is here.
//! `aya-obj` was not adopted: its closed section enum rejects a whole object on a section it
//! does not know (`syscall`, `fmod_ret`, `struct_ops`, custom hooks), where libbpf — and Lull —
//! keep the object and only refuse to load that program.
//!
//! Architecture invariant: parsing never panics on malformed input; every failure is an
//! [`ObjectError`] naming the section, offset, symbol or program concerned.
#![forbid(unsafe_code)]

mod btf_info;
mod elf;
mod error;
mod externs;
pub mod inspect;
mod link;
mod maps;
mod program;
mod relocs;
pub mod section_defs;

use std::path::Path;

use lull_abi::{MapType, map_flags};
use lull_btf::Btf;
use lull_btf::ext::BtfExt;

pub use error::ObjectError;
pub use externs::{Extern, ExternKind, Kconfig};
pub use inspect::{Details, Inspect, InspectMap, InspectProgram};
pub use maps::{InitSlot, MapDef, MapKind, MapSource, internal_map_name};
pub use program::{AppliedReloc, FuncInfo, LineInfo, Program, RelocKind, Subprogram};

/// Options of [`Object::parse_with`].
#[derive(Debug, Clone, Default)]
pub struct ParseOptions<'a> {
    /// Object name (prefix of internal map names). Default: `"obj"`; [`Object::open`] uses
    /// the file name up to its first `.`, like libbpf.
    pub name: Option<String>,
    /// Target (kernel) BTF: CO-RE relocations are applied against it and ksyms/kfuncs are
    /// resolved in it. Without it CO-RE relocations stay unapplied (noted in warnings) and
    /// strong ksyms make their programs unloadable.
    pub target_btf: Option<&'a Btf>,
    /// Kernel configuration for `.kconfig` externs; `None` reads the host's
    /// (`/proc/config.gz` or `/boot/config-*`) when the object has kconfig externs.
    pub kconfig: Option<&'a Kconfig>,
}

/// A parsed BPF object.
#[derive(Debug, Clone)]
pub struct Object {
    /// Object name.
    pub name: String,
    /// Contents of the `license` section.
    pub license: Option<String>,
    /// Contents of the `version` section.
    pub kernel_version: Option<u32>,
    /// Entry-point programs, in section order then offset.
    pub programs: Vec<Program>,
    /// Maps, in libbpf's order.
    pub maps: Vec<MapDef>,
    /// Externs.
    pub externs: Vec<Extern>,
    /// The object's `.BTF`, if present.
    pub btf: Option<Btf>,
    /// Sections whose programs have no known type (libbpf refuses to load them).
    pub unknown_sections: Vec<String>,
    /// Non-fatal observations.
    pub warnings: Vec<String>,
}

impl Object {
    /// Parses an object with default options.
    pub fn parse(bytes: &[u8]) -> Result<Object, ObjectError> {
        Self::parse_with(bytes, &ParseOptions::default())
    }

    /// Reads and parses a file; the object name is the file name up to its first `.`.
    pub fn open(path: impl AsRef<Path>, opts: &ParseOptions<'_>) -> Result<Object, ObjectError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| ObjectError::Elf(format!("reading {}: {e}", path.display())))?;
        let mut o = opts.clone();
        if o.name.is_none() {
            let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
            o.name = file.map(|f| f.split('.').next().unwrap_or("").to_string());
        }
        Self::parse_with(&bytes, &o)
    }

    /// Parses an object.
    pub fn parse_with(bytes: &[u8], opts: &ParseOptions<'_>) -> Result<Object, ObjectError> {
        let elf = elf::ElfFile::parse(bytes)?;
        let name = opts.name.clone().unwrap_or_else(|| "obj".to_string());
        let mut warnings = Vec::new();

        let license = elf.section_by_name("license").map(|s| {
            let end = s.data.iter().position(|&b| b == 0).unwrap_or(s.data.len());
            String::from_utf8_lossy(&s.data[..end]).into_owned()
        });
        let kernel_version = match elf.section_by_name("version") {
            Some(s) => Some(u32::from_le_bytes(s.data.try_into().map_err(|_| {
                ObjectError::BadSection {
                    section: "version".into(),
                    reason: format!("size {} is not 4", s.data.len()),
                }
            })?)),
            None => None,
        };

        let btf = match elf.section_by_name(".BTF") {
            Some(s) => Some(Btf::parse(s.data).map_err(|e| ObjectError::Btf {
                context: ".BTF".into(),
                source: e,
            })?),
            None => None,
        };
        let ext = match (elf.section_by_name(".BTF.ext"), &btf) {
            (Some(s), Some(b)) => Some(BtfExt::parse(s.data, b).map_err(|e| ObjectError::Btf {
                context: ".BTF.ext".into(),
                source: e,
            })?),
            (Some(_), None) => {
                warnings.push(".BTF.ext without .BTF: ignored".into());
                None
            }
            _ => None,
        };

        let mut funcs = link::collect_funcs(&elf)?;
        let text = elf.section_by_name(".text").map(|s| s.index);

        let mut maps = maps::legacy_maps(&elf)?;
        if !maps.is_empty() {
            warnings.push(
                "legacy 'maps' section: libbpf v1.0+ rejects it; Lull accepts it".to_string(),
            );
        }
        maps.extend(maps::btf_maps(&elf, btf.as_ref())?);
        maps::attach_arena_data(&elf, &mut maps)?;
        maps.extend(maps::global_data_maps(&elf, btf.as_ref(), &name)?);

        let mut ext_list = externs::collect(&elf, btf.as_ref())?;
        let kcfg_size = externs::kconfig_size(&ext_list);
        if u64::from(kcfg_size) > maps::MAX_VALUE_SIZE {
            return Err(ObjectError::BadSection {
                section: ".kconfig".into(),
                reason: format!("{kcfg_size} bytes of kconfig externs exceed a map value"),
            });
        }
        let mut kcfg_data = vec![0u8; kcfg_size as usize];
        externs::resolve(
            &mut ext_list,
            btf.as_ref(),
            opts.kconfig,
            opts.target_btf,
            &mut kcfg_data,
        );
        let kconfig_map = (kcfg_size > 0).then(|| {
            let mut m = MapDef {
                name: internal_map_name(&name, ".kconfig"),
                map_type: MapType::Array,
                key_size: 4,
                value_size: kcfg_size,
                max_entries: 1,
                flags: map_flags::RDONLY_PROG | map_flags::MMAPABLE,
                numa_node: 0,
                pinning: 0,
                map_extra: 0,
                key_btf_id: None,
                value_btf_id: btf
                    .as_ref()
                    .and_then(|b| b.find_by_name(".kconfig", Some(lull_btf::Kind::Datasec))),
                inner: None,
                data: kcfg_data,
                init_slots: Vec::new(),
                kind: MapKind::Kconfig,
                source: MapSource::Internal,
                section: ".kconfig".into(),
                sec_idx: usize::MAX,
                sec_offset: 0,
                def_size: 0,
                frozen: true,
            };
            m.frozen = true;
            maps.push(m);
            maps.len() - 1
        });

        {
            let entry = |n: &str, sec: usize, off: u64| {
                funcs.iter().any(|f| {
                    f.name == n
                        && f.sec_idx == sec
                        && Some(sec) != text
                        && f.start as u64 * 8 == off
                })
            };
            maps::collect_map_relos(&elf, btf.as_ref(), &mut maps, entry)?;
        }
        link::collect_relocs(&elf, &mut funcs, &maps, &ext_list)?;

        let mut programs = Vec::new();
        let mut unknown_sections: Vec<String> = Vec::new();
        let mut core_unapplied = 0usize;
        for fi in 0..funcs.len() {
            if Some(funcs[fi].sec_idx) == text {
                continue;
            }
            let mut load_errors = Vec::new();
            let exception_cb = link::exception_callback(btf.as_ref(), &funcs, fi, text)
                .unwrap_or_else(|e| {
                    load_errors.push(e);
                    None
                });
            let linked = link::link(&funcs, fi, text, exception_cb)?;
            let f = &funcs[fi];
            let info = section_defs::find(&f.sec_name);
            let (section, autoload) = match f.sec_name.strip_prefix('?') {
                Some(s) => (s.to_string(), false),
                None => (f.sec_name.clone(), true),
            };
            if info.is_none() {
                if !unknown_sections.contains(&section) {
                    unknown_sections.push(section.clone());
                    warnings.push(format!(
                        "section '{section}': unknown program section, its programs cannot be loaded"
                    ));
                }
                load_errors.push(format!(
                    "unknown section '{section}': no program type can be derived from it"
                ));
            }
            let def = info.as_ref().map(|i| i.def);
            let mut prog = Program {
                name: f.name.clone(),
                section,
                prog_type: def.map_or(lull_abi::ProgType::Unspec, |d| d.prog_type),
                expected_attach_type: def.and_then(|d| d.expected_attach_type),
                attach_target: info.as_ref().and_then(|i| i.attach_target.clone()),
                sleepable: def.is_some_and(|d| d.sleepable()),
                prog_flags: def.map_or(0, |d| d.prog_flags()),
                section_info: info,
                autoload,
                global: f.global,
                insns: linked.insns.clone(),
                decoded: Vec::new(),
                body_len: f.len,
                subprograms: linked.placed[1..]
                    .iter()
                    .map(|&(c, start)| Subprogram {
                        name: funcs[c].name.clone(),
                        start,
                        len: funcs[c].len,
                    })
                    .collect(),
                relocations: Vec::new(),
                func_info: Vec::new(),
                line_info: Vec::new(),
                load_errors,
                decode_error: None,
            };
            relocs::apply(&mut prog, &linked, &funcs, &ext_list, kconfig_map);
            if let (Some(ext), Some(local)) = (&ext, &btf) {
                btf_info::remap_info(&mut prog, &funcs, &linked.placed, ext);
                match opts.target_btf {
                    Some(target) => {
                        btf_info::apply_core(
                            &mut prog,
                            &funcs,
                            &linked.placed,
                            local,
                            ext,
                            target,
                        )?;
                    }
                    None => {
                        core_unapplied += btf_info::core_relo_count(&funcs, &linked.placed, ext)
                    }
                }
            }
            // As with libbpf, a malformed instruction only spoils its own program: the
            // kernel reports it when that program is loaded.
            match lull_isa::decode(&prog.insns) {
                Ok(decoded) => prog.decoded = decoded,
                Err(e) => prog.decode_error = Some(e),
            }
            programs.push(prog);
        }
        if core_unapplied > 0 {
            warnings.push(format!(
                "{core_unapplied} CO-RE relocation(s) left unapplied: no target BTF given"
            ));
        }
        Ok(Object {
            name,
            license,
            kernel_version,
            programs,
            maps,
            externs: ext_list,
            btf,
            unknown_sections,
            warnings,
        })
    }

    /// The program named `name`.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The program named `name`, checked to be loadable: its section is known and all the
    /// externs it uses are resolved (libbpf fails at load otherwise).
    pub fn loadable_program(&self, name: &str) -> Result<&Program, ObjectError> {
        let p = self
            .program(name)
            .ok_or_else(|| ObjectError::NoSuchProgram(name.to_string()))?;
        if p.section_info.is_none() {
            return Err(ObjectError::UnknownSection {
                program: p.name.clone(),
                section: p.section.clone(),
            });
        }
        if let Some(e) = p.load_errors.first() {
            return Err(ObjectError::Extern {
                name: p.name.clone(),
                reason: e.clone(),
            });
        }
        Ok(p)
    }

    /// The map named `name`.
    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }
}
