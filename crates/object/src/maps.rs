//! Map descriptors: BTF-defined maps (`.maps`), legacy `maps` records and the internal
//! single-element array maps libbpf makes of global data (`.data`, `.rodata`, `.bss`,
//! `.data.*`, `.rodata.*`) and of `.kconfig` externs.
//!
//! Rules follow libbpf (`parse_btf_map_def`, `bpf_object__init_user_btf_map`,
//! `bpf_object__collect_map_relos`, `internal_map_name`, `bpf_object__init_internal_map`).

use lull_abi::{MapType, map_flags};
use lull_btf::{Btf, Kind, TypeId, TypeKind, VarLinkage};
use serde::Serialize;

use crate::elf::{ElfFile, SymBind, SymKind};
use crate::error::ObjectError;

/// What kind of ELF data a map comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapKind {
    /// A map the program author declared (`.maps` or legacy `maps`).
    User,
    /// `.data` / `.data.*`.
    Data,
    /// `.rodata` / `.rodata.*` (read-only for programs, frozen after initialisation).
    Rodata,
    /// `.bss` (zero-initialised).
    Bss,
    /// Values of `.kconfig` externs (read-only for programs).
    Kconfig,
}

impl MapKind {
    /// Whether this is one of libbpf's internal global-data maps.
    pub fn is_global_data(self) -> bool {
        self != MapKind::User
    }
}

/// Where a user map was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapSource {
    /// BTF-defined, in `.maps`.
    Btf,
    /// A `struct bpf_map_def` record in the legacy `maps` section.
    Legacy,
    /// Made by the loader from a data section.
    Internal,
}

/// An initial element of a prog array or map-in-map, set from `.maps` relocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitSlot {
    /// A program (prog array), by name.
    Program(String),
    /// A map (map-in-map), by index into [`crate::Object::maps`].
    Map(usize),
}

/// A map as the object describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapDef {
    /// Name (for internal maps, libbpf's truncated `<obj>.data`-style name).
    pub name: String,
    /// Map type.
    #[serde(serialize_with = "ser_map_type")]
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub flags: u32,
    /// NUMA node (meaningful with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// `LIBBPF_PIN_*` (0 none, 1 by name).
    pub pinning: u32,
    /// `map_extra` (bloom filter hash count, arena address…).
    pub map_extra: u64,
    /// BTF id of the key type in the object's BTF.
    pub key_btf_id: Option<TypeId>,
    /// BTF id of the value type (for global data: the DATASEC).
    pub value_btf_id: Option<TypeId>,
    /// Inner map template of a map-in-map.
    pub inner: Option<Box<MapDef>>,
    /// Initial contents of a global-data map (`value_size` bytes), or of an arena map (the
    /// bytes of its `__arena` globals, placed at the start of the arena).
    pub data: Vec<u8>,
    /// Initial elements of a prog array / map-in-map: `(index, target)`.
    pub init_slots: Vec<(u32, InitSlot)>,
    /// What the map is.
    pub kind: MapKind,
    /// How it was declared.
    pub source: MapSource,
    /// ELF section it comes from.
    pub section: String,
    /// Offset of the definition in that section (0 for internal maps).
    #[serde(skip)]
    pub(crate) sec_idx: usize,
    #[serde(skip)]
    pub(crate) sec_offset: u64,
    #[serde(skip)]
    pub(crate) def_size: u64,
    /// The runtime freezes it after writing `data` (`.rodata`, `.kconfig`).
    pub frozen: bool,
}

fn ser_map_type<S: serde::Serializer>(t: &MapType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(t.name())
}

impl MapDef {
    fn empty(name: String, section: &str, sec_idx: usize) -> MapDef {
        MapDef {
            name,
            map_type: MapType::Unspec,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            flags: 0,
            numa_node: 0,
            pinning: 0,
            map_extra: 0,
            key_btf_id: None,
            value_btf_id: None,
            inner: None,
            data: Vec::new(),
            init_slots: Vec::new(),
            kind: MapKind::User,
            source: MapSource::Btf,
            section: section.to_string(),
            sec_idx,
            sec_offset: 0,
            def_size: 0,
            frozen: false,
        }
    }
}

fn map_type(map: &str, n: u32) -> Result<MapType, ObjectError> {
    MapType::from_u32(n).ok_or_else(|| ObjectError::BadMap {
        map: map.to_string(),
        reason: format!("unknown map type {n}"),
    })
}

const BPF_OBJ_NAME_LEN: usize = 16;

/// Largest array map value the kernel accepts (`KMALLOC_MAX_SIZE` on x86-64: 4 MiB).
pub(crate) const MAX_VALUE_SIZE: u64 = 4 << 20;

/// libbpf's `internal_map_name`: object-name prefix plus section name, within 15 characters;
/// sections with a second dot (`.rodata.foo`) keep their own name only.
pub fn internal_map_name(obj_name: &str, sec_name: &str) -> String {
    let sfx_len = sec_name.len().clamp(7, BPF_OBJ_NAME_LEN - 1);
    let pfx_len = if sec_name.get(1..).is_some_and(|r| r.contains('.')) {
        0
    } else {
        (BPF_OBJ_NAME_LEN - sfx_len - 1).min(obj_name.len())
    };
    let take = |s: &str, n: usize| -> String { s.bytes().take(n).map(char::from).collect() };
    let mut name = take(obj_name, pfx_len);
    name.push_str(&take(sec_name, sfx_len));
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// libbpf's ring buffer size adjustment: a power-of-two multiple of the page size.
fn adjust_ringbuf_size(sz: u32) -> u32 {
    const PAGE: u64 = 4096;
    if sz == 0 {
        return 0;
    }
    let sz64 = u64::from(sz);
    if sz64 % PAGE == 0 && (sz64 / PAGE).is_power_of_two() {
        return sz;
    }
    let mut mul: u64 = 1;
    while mul * PAGE <= sz64 {
        mul <<= 1;
    }
    u32::try_from(mul * PAGE).unwrap_or(sz)
}

/// A DATASEC variable with libbpf's fixups applied (offset from the ELF symbol, hidden
/// symbols treated as static).
#[derive(Debug, Clone)]
pub(crate) struct SecVar {
    pub type_id: TypeId,
    pub name: String,
    pub offset: u64,
    pub size: u64,
    pub is_static: bool,
}

/// The variables of the DATASEC named `sec_name`, fixed up and sorted by offset like libbpf's
/// `btf_fixup_datasec`. `None` if the BTF has no such DATASEC.
pub(crate) fn datasec_vars(
    btf: &Btf,
    elf: &ElfFile<'_>,
    sec_name: &str,
) -> Result<Option<(TypeId, Vec<SecVar>)>, ObjectError> {
    let Some(id) = btf.find_by_name(sec_name, Some(Kind::Datasec)) else {
        return Ok(None);
    };
    let ds = btf
        .type_by_id(id)
        .ok()
        .and_then(|t| t.as_datasec())
        .ok_or_else(|| ObjectError::Elf(format!("DATASEC '{sec_name}' unreadable")))?;
    let fixup = ds.size == 0;
    let mut vars = Vec::with_capacity(ds.vars.len());
    for v in &ds.vars {
        let t = btf.type_by_id(v.type_id).map_err(|e| ObjectError::Btf {
            context: format!("DATASEC '{sec_name}'"),
            source: e,
        })?;
        let TypeKind::Var { linkage, .. } = t.kind else {
            return Err(ObjectError::Elf(format!(
                "DATASEC '{sec_name}': member [{}] is not a VAR",
                v.type_id
            )));
        };
        let name = btf.name(t).to_string();
        let mut offset = u64::from(v.offset);
        let mut is_static = linkage != VarLinkage::GlobalAllocated;
        if linkage == VarLinkage::GlobalAllocated {
            let sym = elf
                .symbols
                .iter()
                .find(|s| {
                    s.name == name
                        && matches!(s.bind, SymBind::Global | SymBind::Weak)
                        && s.kind == SymKind::Object
                })
                .ok_or_else(|| ObjectError::BadMap {
                    map: sec_name.to_string(),
                    reason: format!("variable '{name}' has no ELF symbol"),
                })?;
            if fixup {
                offset = sym.value;
            }
            if sym.hidden {
                is_static = true;
            }
        }
        vars.push(SecVar {
            type_id: v.type_id,
            name,
            offset,
            size: u64::from(v.size),
            is_static,
        });
    }
    vars.sort_by_key(|v| v.offset);
    Ok(Some((id, vars)))
}

/// Internal maps for global data sections, in section order (libbpf's
/// `bpf_object__init_global_data_maps`).
pub(crate) fn global_data_maps(
    elf: &ElfFile<'_>,
    btf: Option<&Btf>,
    obj_name: &str,
) -> Result<Vec<MapDef>, ObjectError> {
    let mut maps = Vec::new();
    for sec in &elf.sections {
        if sec.size == 0 {
            continue;
        }
        let n = sec.name.as_str();
        let is = |base: &str| n == base || n.strip_prefix(base).is_some_and(|r| r.starts_with('.'));
        let kind = if sec.sh_type == object::elf::SHT_PROGBITS.0 && !sec.is_exec() {
            if is(".data") {
                MapKind::Data
            } else if is(".rodata") {
                MapKind::Rodata
            } else {
                continue;
            }
        } else if sec.sh_type == object::elf::SHT_NOBITS.0 && is(".bss") {
            MapKind::Bss
        } else {
            continue;
        };
        if sec.size > MAX_VALUE_SIZE {
            return Err(ObjectError::BadSection {
                section: n.to_string(),
                reason: format!(
                    "size {} is too large for an array map value (kernel limit {MAX_VALUE_SIZE})",
                    sec.size
                ),
            });
        }
        let value_size = sec.size as u32;
        let mut m = MapDef::empty(internal_map_name(obj_name, n), n, sec.index);
        m.map_type = MapType::Array;
        m.key_size = 4;
        m.value_size = value_size;
        m.max_entries = 1;
        m.kind = kind;
        m.source = MapSource::Internal;
        m.frozen = kind == MapKind::Rodata;
        if kind == MapKind::Rodata {
            m.flags |= map_flags::RDONLY_PROG;
        }
        m.data = if kind == MapKind::Bss {
            vec![0; value_size as usize]
        } else {
            sec.data.to_vec()
        };
        if let Some(btf) = btf
            && let Some((id, vars)) = datasec_vars(btf, elf, n)?
        {
            m.value_btf_id = Some(id);
            if vars.iter().any(|v| !v.is_static) {
                m.flags |= map_flags::MMAPABLE;
            }
        }
        maps.push(m);
    }
    Ok(maps)
}

/// Legacy `maps` section: one `struct bpf_map_def`-prefixed record per map symbol, record
/// size = section size / number of symbols (extra trailing fields are ignored, like libbpf
/// 0.x did when they are zero).
pub(crate) fn legacy_maps(elf: &ElfFile<'_>) -> Result<Vec<MapDef>, ObjectError> {
    let Some(sec) = elf.section_by_name("maps") else {
        return Ok(Vec::new());
    };
    let mut syms: Vec<_> = elf
        .symbols
        .iter()
        .filter(|s| s.shndx == Some(sec.index) && s.kind != SymKind::Section && !s.name.is_empty())
        .collect();
    if syms.is_empty() {
        return Ok(Vec::new());
    }
    syms.sort_by_key(|s| s.value);
    let size = sec.data.len();
    if size % syms.len() != 0 {
        return Err(ObjectError::BadSection {
            section: "maps".into(),
            reason: format!(
                "size {size} is not a multiple of the number of map symbols ({})",
                syms.len()
            ),
        });
    }
    let rec = size / syms.len();
    if rec < 20 {
        return Err(ObjectError::BadSection {
            section: "maps".into(),
            reason: format!("record size {rec} is smaller than struct bpf_map_def (20 bytes)"),
        });
    }
    let mut maps = Vec::new();
    for s in syms {
        let off = s.value as usize;
        if !off.is_multiple_of(rec) || off + rec > size {
            return Err(ObjectError::BadMap {
                map: s.name.clone(),
                reason: format!("definition at offset {off} is not a whole {rec}-byte record"),
            });
        }
        let r = &sec.data[off..off + rec];
        let word = |i: usize| u32::from_le_bytes(r[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        let mut m = MapDef::empty(s.name.clone(), "maps", sec.index);
        m.map_type = map_type(&s.name, word(0))?;
        m.key_size = word(1);
        m.value_size = word(2);
        m.max_entries = word(3);
        m.flags = word(4);
        // Old loaders' extended layout: inner_map_idx, numa_node, …
        if rec >= 28 {
            m.numa_node = word(6);
        }
        m.source = MapSource::Legacy;
        m.sec_offset = off as u64;
        m.def_size = rec as u64;
        maps.push(m);
    }
    Ok(maps)
}

fn btf_err(map: &str) -> impl Fn(lull_btf::BtfError) -> ObjectError + '_ {
    move |e| ObjectError::BadMap {
        map: map.to_string(),
        reason: e.to_string(),
    }
}

fn bad(map: &str, reason: impl Into<String>) -> ObjectError {
    ObjectError::BadMap {
        map: map.to_string(),
        reason: reason.into(),
    }
}

/// `__uint(name, N)` is `int (*name)[N]`: N is the array's element count.
fn field_int(btf: &Btf, map: &str, field: &str, ty: TypeId) -> Result<u32, ObjectError> {
    let (_, t) = btf.skip_mods_and_typedefs(ty).map_err(btf_err(map))?;
    let TypeKind::Ptr(target) = t.kind else {
        return Err(bad(
            map,
            format!("attr '{field}': expected PTR, got {}", t.kind().name()),
        ));
    };
    let arr = btf.type_by_id(target).map_err(btf_err(map))?;
    match &arr.kind {
        TypeKind::Array(a) => Ok(a.nelems),
        _ => Err(bad(
            map,
            format!("attr '{field}': expected ARRAY, got {}", arr.kind().name()),
        )),
    }
}

/// `__ulong(name, N)` is an anonymous one-value enum (an `ENUM64` when N needs 64 bits); the
/// `__uint` form is accepted too (libbpf's `get_map_field_long`).
fn field_long(btf: &Btf, map: &str, field: &str, ty: TypeId) -> Result<u64, ObjectError> {
    let (_, t) = btf.skip_mods_and_typedefs(ty).map_err(btf_err(map))?;
    let e = match &t.kind {
        TypeKind::Ptr(_) => return field_int(btf, map, field, ty).map(u64::from),
        TypeKind::Enum(e) | TypeKind::Enum64(e) => e,
        _ => {
            return Err(bad(
                map,
                format!(
                    "attr '{field}': expected ENUM or ENUM64, got {}",
                    t.kind().name()
                ),
            ));
        }
    };
    let [v] = e.values.as_slice() else {
        return Err(bad(map, format!("attr '{field}': invalid __ulong")));
    };
    Ok(match t.kind {
        // libbpf reads a 32-bit enumerator as a signed int.
        TypeKind::Enum(_) => v.value as u32 as i32 as i64 as u64,
        _ => v.value,
    })
}

/// `__type(name, T)` is `T *name`: the pointee and its size.
fn field_type(btf: &Btf, map: &str, field: &str, ty: TypeId) -> Result<(TypeId, u32), ObjectError> {
    let t = btf.type_by_id(ty).map_err(btf_err(map))?;
    let TypeKind::Ptr(target) = t.kind else {
        return Err(bad(
            map,
            format!("{field} spec is not PTR: {}", t.kind().name()),
        ));
    };
    let size = btf.resolve_size(target).map_err(|e| {
        bad(
            map,
            format!("can't determine {field} size for type [{target}]: {e}"),
        )
    })?;
    Ok((target, size))
}

/// Parses a map definition struct (libbpf's `parse_btf_map_def`). `inner` is `None` when
/// parsing an inner definition (which may not have its own `values`).
fn parse_def(
    btf: &Btf,
    map: &str,
    def_id: TypeId,
    m: &mut MapDef,
    mut inner: Option<&mut Option<Box<MapDef>>>,
) -> Result<(), ObjectError> {
    let (_, def) = btf.skip_mods_and_typedefs(def_id).map_err(btf_err(map))?;
    let TypeKind::Struct(c) = &def.kind else {
        return Err(bad(
            map,
            format!("unexpected def kind {}", def.kind().name()),
        ));
    };
    let n = c.members.len();
    let mut type_set = false;
    for (i, mem) in c.members.iter().enumerate() {
        let name = btf.member_name(mem);
        let set_size = |cur: &mut u32, sz: u32, what: &str| -> Result<(), ObjectError> {
            if *cur != 0 && *cur != sz {
                return Err(bad(
                    map,
                    format!("conflicting {what} size {} != {sz}", *cur),
                ));
            }
            *cur = sz;
            Ok(())
        };
        match name {
            "type" => {
                m.map_type = map_type(map, field_int(btf, map, name, mem.type_id)?)?;
                type_set = true;
            }
            "max_entries" => m.max_entries = field_int(btf, map, name, mem.type_id)?,
            "map_flags" => m.flags = field_int(btf, map, name, mem.type_id)?,
            "numa_node" => m.numa_node = field_int(btf, map, name, mem.type_id)?,
            "key_size" => {
                let sz = field_int(btf, map, name, mem.type_id)?;
                set_size(&mut m.key_size, sz, "key")?;
            }
            "value_size" => {
                let sz = field_int(btf, map, name, mem.type_id)?;
                set_size(&mut m.value_size, sz, "value")?;
            }
            "key" => {
                let (id, sz) = field_type(btf, map, name, mem.type_id)?;
                set_size(&mut m.key_size, sz, "key")?;
                m.key_btf_id = Some(id);
            }
            "value" => {
                let (id, sz) = field_type(btf, map, name, mem.type_id)?;
                set_size(&mut m.value_size, sz, "value")?;
                m.value_btf_id = Some(id);
            }
            "values" => {
                let is_mim = matches!(m.map_type, MapType::ArrayOfMaps | MapType::HashOfMaps);
                let is_pa = m.map_type == MapType::ProgArray;
                let Some(inner_slot) = inner.as_deref_mut() else {
                    return Err(bad(map, "multi-level inner maps not supported"));
                };
                if i != n - 1 {
                    return Err(bad(map, "'values' member should be last"));
                }
                if !is_mim && !is_pa {
                    return Err(bad(map, "should be map-in-map or prog-array"));
                }
                set_size(&mut m.value_size, 4, "value")?;
                let t = btf.type_by_id(mem.type_id).map_err(btf_err(map))?;
                let elem = match &t.kind {
                    TypeKind::Array(a) if a.nelems == 0 => a.elem_type,
                    _ => return Err(bad(map, "'values' spec is not a zero-sized array")),
                };
                let (_, p) = btf.skip_mods_and_typedefs(elem).map_err(btf_err(map))?;
                let TypeKind::Ptr(pointee) = p.kind else {
                    return Err(bad(
                        map,
                        format!("'values' def is of unexpected kind {}", p.kind().name()),
                    ));
                };
                let (pid, pt) = btf.skip_mods_and_typedefs(pointee).map_err(btf_err(map))?;
                if is_pa {
                    if pt.kind() != Kind::FuncProto {
                        return Err(bad(
                            map,
                            format!(
                                "prog-array value def is of unexpected kind {}",
                                pt.kind().name()
                            ),
                        ));
                    }
                    continue;
                }
                if pt.kind() != Kind::Struct {
                    return Err(bad(
                        map,
                        format!(
                            "map-in-map inner def is of unexpected kind {}",
                            pt.kind().name()
                        ),
                    ));
                }
                let iname = format!("{map}.inner");
                let mut im = MapDef::empty(iname.clone(), &m.section, m.sec_idx);
                parse_def(btf, &iname, pid, &mut im, None)?;
                finish(&mut im);
                *inner_slot = Some(Box::new(im));
            }
            "pinning" => {
                if inner.is_none() {
                    return Err(bad(map, "inner def can't be pinned"));
                }
                let v = field_int(btf, map, name, mem.type_id)?;
                if v > 1 {
                    return Err(bad(map, format!("invalid pinning value {v}")));
                }
                m.pinning = v;
            }
            "map_extra" => {
                m.map_extra = field_long(btf, map, name, mem.type_id)?;
            }
            other => {
                return Err(bad(map, format!("unknown field '{other}'")));
            }
        }
    }
    if !type_set || m.map_type == MapType::Unspec {
        return Err(bad(map, "map type isn't specified"));
    }
    Ok(())
}

fn finish(m: &mut MapDef) {
    if matches!(m.map_type, MapType::Ringbuf | MapType::UserRingbuf) {
        m.max_entries = adjust_ringbuf_size(m.max_entries);
    }
}

/// BTF-defined maps of the `.maps` section, in offset order (libbpf's
/// `bpf_object__init_user_btf_maps`).
pub(crate) fn btf_maps(elf: &ElfFile<'_>, btf: Option<&Btf>) -> Result<Vec<MapDef>, ObjectError> {
    let Some(sec) = elf.section_by_name(".maps") else {
        return Ok(Vec::new());
    };
    let btf = btf.ok_or_else(|| ObjectError::BadSection {
        section: ".maps".into(),
        reason: "BTF-defined maps need the object's .BTF section, which is missing".into(),
    })?;
    let (_, vars) = datasec_vars(btf, elf, ".maps")?.ok_or_else(|| ObjectError::BadSection {
        section: ".maps".into(),
        reason: "DATASEC '.maps' not found in BTF".into(),
    })?;
    let mut maps = Vec::with_capacity(vars.len());
    for v in vars {
        if v.name.is_empty() {
            return Err(bad("<anonymous>", "empty name"));
        }
        if v.offset + v.size > sec.size {
            return Err(bad(
                &v.name,
                "BTF data is corrupted (definition outside .maps)",
            ));
        }
        let t = btf.type_by_id(v.type_id).map_err(btf_err(&v.name))?;
        let TypeKind::Var { type_id, linkage } = t.kind else {
            return Err(bad(&v.name, "unexpected var kind"));
        };
        if linkage != VarLinkage::GlobalAllocated {
            return Err(bad(&v.name, "unsupported map linkage (static or extern)"));
        }
        let mut m = MapDef::empty(v.name.clone(), ".maps", sec.index);
        m.sec_offset = v.offset;
        m.def_size = v.size;
        let mut inner = None;
        parse_def(btf, &v.name, type_id, &mut m, Some(&mut inner))?;
        m.inner = inner;
        finish(&mut m);
        maps.push(m);
    }
    Ok(maps)
}

/// The section of `__arena` global variables (`__attribute__((address_space(1)))`).
pub(crate) const ARENA_SEC: &str = ".addr_space.1";

/// libbpf's arena rules (end of `bpf_object__init_user_btf_maps`, `init_arena_map_data`): an
/// object has at most one `BPF_MAP_TYPE_ARENA` map; the contents of [`ARENA_SEC`] are its
/// initial data (at the start of the arena), which must fit in its pages. Returns the arena
/// map's index.
pub(crate) fn attach_arena_data(
    elf: &ElfFile<'_>,
    maps: &mut [MapDef],
) -> Result<Option<usize>, ObjectError> {
    const PAGE: u64 = 4096;
    let mut arena = None;
    for (i, m) in maps.iter().enumerate() {
        if m.map_type != MapType::Arena {
            continue;
        }
        if let Some(first) = arena {
            let first: &MapDef = &maps[first];
            return Err(bad(
                &m.name,
                format!(
                    "only single ARENA map is supported (map '{}' is also ARENA)",
                    first.name
                ),
            ));
        }
        arena = Some(i);
    }
    let Some(sec) = elf.section_by_name(ARENA_SEC) else {
        return Ok(arena);
    };
    let Some(i) = arena else {
        return Err(ObjectError::BadSection {
            section: ARENA_SEC.into(),
            reason: "to use global __arena variables the ARENA map should be explicitly \
                     declared in SEC(\".maps\")"
                .into(),
        });
    };
    let m = &mut maps[i];
    let mmap_size = PAGE * u64::from(m.max_entries);
    if sec.size.div_ceil(PAGE) * PAGE > mmap_size {
        return Err(ObjectError::BadSection {
            section: ARENA_SEC.into(),
            reason: format!(
                "declared ARENA map size ({mmap_size}) is too small to hold global __arena \
                 variables of size {}",
                sec.size
            ),
        });
    }
    m.data = if sec.sh_type == object::elf::SHT_NOBITS.0 {
        vec![0; sec.size as usize]
    } else {
        sec.data.to_vec()
    };
    Ok(Some(i))
}

/// Initial slots of prog arrays and map-in-maps from `.rel.maps` (libbpf's
/// `bpf_object__collect_map_relos`). `maps` are all of the object's maps so far; programs
/// are checked by name and entry point.
pub(crate) fn collect_map_relos(
    elf: &ElfFile<'_>,
    btf: Option<&Btf>,
    maps: &mut [MapDef],
    is_entry_program: impl Fn(&str, usize, u64) -> bool,
) -> Result<(), ObjectError> {
    let Some(sec) = elf.section_by_name(".maps") else {
        return Ok(());
    };
    let sec_idx = sec.index;
    for rel in elf.rels_for(sec_idx) {
        let sym = &elf.symbols[rel.sym];
        let err = |reason: String| ObjectError::BadRelocation {
            section: ".maps".into(),
            offset: rel.offset,
            symbol: sym.name.clone(),
            reason,
        };
        let Some(mi) = maps.iter().position(|m| {
            m.sec_idx == sec_idx
                && m.source == MapSource::Btf
                && m.sec_offset <= rel.offset
                && rel.offset + 8 <= m.sec_offset + m.def_size
        }) else {
            return Err(err("no map definition covers this offset".into()));
        };
        let (mtype, msec_off, key_size) =
            (maps[mi].map_type, maps[mi].sec_offset, maps[mi].key_size);
        let slot = match mtype {
            MapType::ArrayOfMaps | MapType::HashOfMaps => {
                if sym.shndx != Some(sec_idx) {
                    return Err(err("target isn't a BTF-defined map".into()));
                }
                if mtype == MapType::HashOfMaps && key_size != 4 {
                    return Err(err("hash-of-maps should have key size 4".into()));
                }
                let t = maps
                    .iter()
                    .position(|m| m.name == sym.name && m.source == MapSource::Btf)
                    .ok_or_else(|| err("isn't a valid map reference".into()))?;
                InitSlot::Map(t)
            }
            MapType::ProgArray => {
                if !sym
                    .shndx
                    .is_some_and(|s| is_entry_program(&sym.name, s, sym.value))
                {
                    return Err(err("isn't an entry-point program".into()));
                }
                InitSlot::Program(sym.name.clone())
            }
            other => {
                return Err(err(format!(
                    "initial values are only supported for prog arrays and map-in-maps, not {}",
                    other.name()
                )));
            }
        };
        // Offset of the `values` member (the last one) inside the definition.
        let values_off = btf
            .and_then(|b| {
                let (_, vars) = datasec_vars(b, elf, ".maps").ok()??;
                let v = vars.iter().find(|v| v.offset == msec_off)?;
                let TypeKind::Var { type_id, .. } = b.type_by_id(v.type_id).ok()?.kind else {
                    return None;
                };
                let (did, def) = b.skip_mods_and_typedefs(type_id).ok()?;
                let last = def.members().len().checked_sub(1)?;
                if b.member_name(&def.members()[last]) != "values" {
                    return None;
                }
                Some(u64::from(b.member_offset_bits(did, last).ok()? / 8))
            })
            .ok_or_else(|| err("map definition has no trailing 'values' member".into()))?;
        let rel_in_def = rel.offset - msec_off;
        if rel_in_def < values_off || (rel_in_def - values_off) % 8 != 0 {
            return Err(err("relocation is not on a 'values' element".into()));
        }
        let index = u32::try_from((rel_in_def - values_off) / 8)
            .map_err(|_| err("values index too large".into()))?;
        let m = &mut maps[mi];
        m.init_slots.retain(|(i, _)| *i != index);
        m.init_slots.push((index, slot));
        m.init_slots.sort_by_key(|(i, _)| *i);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_follow_libbpf() {
        assert_eq!(internal_map_name("globals", ".data"), "globals.data");
        assert_eq!(
            internal_map_name("my_object_name", ".rodata"),
            "my_objec.rodata"
        );
        assert_eq!(internal_map_name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(
            internal_map_name("my_object_name", ".kconfig"),
            "my_obje.kconfig"
        );
        assert_eq!(
            internal_map_name("x", ".rodata.abracadabra"),
            ".rodata.abracad"
        );
        assert_eq!(internal_map_name("a-b", ".data"), "a_b.data");
    }

    #[test]
    fn ringbuf_sizes_round_up_to_power_of_two_pages() {
        assert_eq!(adjust_ringbuf_size(4096), 4096);
        assert_eq!(adjust_ringbuf_size(5000), 8192);
        assert_eq!(adjust_ringbuf_size(3 * 4096), 4 * 4096);
        assert_eq!(adjust_ringbuf_size(0), 0);
    }
}
