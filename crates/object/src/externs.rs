//! Externs: `.kconfig` values (kernel configuration and `LINUX_KERNEL_VERSION`) and `.ksyms`
//! kernel symbols (typed variables and kfuncs), resolved the way libbpf does at load time.
//!
//! Kconfig externs live in an internal `.kconfig` array map laid out like libbpf lays it out
//! (sorted by alignment descending, size ascending, name). Ksyms are resolved against a kernel
//! BTF when one is given. An unresolved `__weak` extern is 0; an unresolved strong one makes
//! every program that uses it unloadable, with the reason recorded.

use std::collections::HashMap;
use std::io::Read;

use lull_btf::{Btf, Kind, TypeKind};
use serde::Serialize;

use crate::elf::{ElfFile, SymBind};
use crate::error::ObjectError;

/// Kernel configuration values (`CONFIG_FOO=y`) and the kernel version.
#[derive(Debug, Clone, Default)]
pub struct Kconfig {
    /// `CONFIG_*` name → raw value text (`y`, `m`, `n`, `100`, `"str"`).
    pub values: HashMap<String, String>,
    /// `LINUX_KERNEL_VERSION` (`KERNEL_VERSION(a, b, c)`), if known.
    pub kernel_version: Option<u32>,
}

impl Kconfig {
    /// Parses `.config` text (`CONFIG_X=v` lines and `# CONFIG_X is not set`).
    pub fn parse(text: &str) -> Kconfig {
        let mut values = HashMap::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# ") {
                if let Some(name) = rest.strip_suffix(" is not set")
                    && name.starts_with("CONFIG_")
                {
                    values.insert(name.to_string(), "n".to_string());
                }
                continue;
            }
            if let Some((k, v)) = line.split_once('=')
                && k.starts_with("CONFIG_")
            {
                values.insert(k.to_string(), v.to_string());
            }
        }
        Kconfig {
            values,
            kernel_version: None,
        }
    }

    /// The running kernel's configuration (`/proc/config.gz`, else `/boot/config-$(uname -r)`)
    /// and version (`/proc/sys/kernel/osrelease`).
    pub fn from_host() -> Result<Kconfig, ObjectError> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| ObjectError::Kconfig(format!("reading kernel release: {e}")))?;
        let release = release.trim();
        let text = match std::fs::File::open("/proc/config.gz") {
            Ok(f) => {
                let mut s = String::new();
                flate2::read::GzDecoder::new(f)
                    .read_to_string(&mut s)
                    .map_err(|e| ObjectError::Kconfig(format!("/proc/config.gz: {e}")))?;
                s
            }
            Err(_) => {
                let p = format!("/boot/config-{release}");
                std::fs::read_to_string(&p)
                    .map_err(|e| ObjectError::Kconfig(format!("no /proc/config.gz and {p}: {e}")))?
            }
        };
        let mut k = Kconfig::parse(&text);
        k.kernel_version = parse_release(release);
        Ok(k)
    }
}

/// `"6.18.4-foo"` → `KERNEL_VERSION(6, 18, 4)` (patch level capped at 255, like libbpf).
pub fn parse_release(release: &str) -> Option<u32> {
    let mut it = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<u32>().ok());
    let a = it.next()??;
    let b = it.next()??;
    let c = it.next().flatten().unwrap_or(0).min(255);
    Some((a << 16) | (b << 8) | c)
}

/// How an extern is typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExternKind {
    /// A `.kconfig` value at `offset` in the `.kconfig` map.
    Kconfig {
        /// Offset in the `.kconfig` map value.
        offset: u32,
        /// Size in bytes.
        size: u32,
    },
    /// A kernel variable (`.ksyms`); `typed` when its BTF type is not `void`.
    Ksym {
        /// Whether the variable has a BTF type.
        typed: bool,
    },
    /// A kernel function (kfunc).
    Kfunc,
}

/// One extern symbol of the object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extern {
    /// Symbol name.
    pub name: String,
    /// `__weak`.
    pub weak: bool,
    /// What it is.
    #[serde(flatten)]
    pub kind: ExternKind,
    /// Resolved kernel BTF id (ksyms and kfuncs).
    pub btf_id: Option<u32>,
    /// Whether a value was found (for weak externs, `false` means 0).
    pub resolved: bool,
    /// Why a strong extern could not be resolved.
    pub error: Option<String>,
    #[serde(skip)]
    pub(crate) sym_idx: usize,
    #[serde(skip)]
    align: u32,
    #[serde(skip)]
    kcfg_type_id: u32,
}

/// Collects the object's externs, in libbpf's order, with `.kconfig` offsets assigned.
pub(crate) fn collect(elf: &ElfFile<'_>, btf: Option<&Btf>) -> Result<Vec<Extern>, ObjectError> {
    let mut out = Vec::new();
    for (idx, sym) in elf.symbols.iter().enumerate() {
        if !sym.is_extern() || sym.name.is_empty() {
            continue;
        }
        let err = |reason: &str| ObjectError::Extern {
            name: sym.name.clone(),
            reason: reason.to_string(),
        };
        let btf = btf.ok_or_else(|| err("externs need the object's BTF, which is missing"))?;
        let id = btf
            .find_by_name(&sym.name, Some(Kind::Var))
            .or_else(|| btf.find_by_name(&sym.name, Some(Kind::Func)))
            .ok_or_else(|| err("no BTF VAR or FUNC describes it"))?;
        // The DATASEC listing it.
        let sec = btf
            .types()
            .find_map(|(_, t)| {
                let ds = t.as_datasec()?;
                ds.vars.iter().any(|v| v.type_id == id).then(|| btf.name(t))
            })
            .unwrap_or("");
        let t = btf.type_by_id(id).map_err(|e| err(&e.to_string()))?;
        let (kind, align, tid) = match (&t.kind, sec) {
            (TypeKind::Var { type_id, .. }, ".kconfig") => {
                let size = btf
                    .resolve_size(*type_id)
                    .map_err(|e| err(&format!("kconfig size: {e}")))?;
                let align =
                    align_of(btf, *type_id).ok_or_else(|| err("kconfig alignment unknown"))?;
                (ExternKind::Kconfig { offset: 0, size }, align, *type_id)
            }
            (TypeKind::Var { type_id, .. }, ".ksyms") => {
                let typed = btf
                    .skip_mods_and_typedefs(*type_id)
                    .is_ok_and(|(_, t)| t.kind() != Kind::Void);
                (ExternKind::Ksym { typed }, 0, 0)
            }
            (TypeKind::Func { .. }, _) => (ExternKind::Kfunc, 0, 0),
            _ => return Err(err(&format!("unsupported extern section '{sec}'"))),
        };
        out.push(Extern {
            name: sym.name.clone(),
            weak: sym.bind == SymBind::Weak,
            kind,
            btf_id: None,
            resolved: false,
            error: None,
            sym_idx: idx,
            align,
            kcfg_type_id: tid,
        });
    }
    // libbpf's cmp_externs: kconfig first (align desc, size asc), then ksyms; ties by name.
    let rank = |e: &Extern| match e.kind {
        ExternKind::Kconfig { size, .. } => (0, u32::MAX - e.align, size),
        _ => (1, 0, 0),
    };
    out.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.name.cmp(&b.name)));
    let mut off = 0u32;
    for e in &mut out {
        if let ExternKind::Kconfig { offset, size } = &mut e.kind {
            let a = e.align.max(1);
            *offset = off.div_ceil(a) * a;
            off = *offset + *size;
        }
    }
    Ok(out)
}

fn align_of(btf: &Btf, id: u32) -> Option<u32> {
    let (_, t) = btf.skip_mods_and_typedefs(id).ok()?;
    match &t.kind {
        TypeKind::Int(i) => Some(i.size.clamp(1, 8)),
        TypeKind::Enum(e) | TypeKind::Enum64(e) => Some(e.size.clamp(1, 8)),
        TypeKind::Ptr(_) => Some(8),
        TypeKind::Array(a) => align_of(btf, a.elem_type),
        TypeKind::Float { size } => Some((*size).clamp(1, 8)),
        TypeKind::Struct(c) | TypeKind::Union(c) => c
            .members
            .iter()
            .map(|m| align_of(btf, m.type_id).unwrap_or(1))
            .max()
            .or(Some(1)),
        _ => None,
    }
}

/// Size of the `.kconfig` map value (0 when there is no kconfig extern).
pub(crate) fn kconfig_size(externs: &[Extern]) -> u32 {
    externs
        .iter()
        .filter_map(|e| match e.kind {
            ExternKind::Kconfig { offset, size } => Some(offset + size),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// Fills the `.kconfig` map contents and resolves ksyms/kfuncs against `kernel_btf`.
pub(crate) fn resolve(
    externs: &mut [Extern],
    btf: Option<&Btf>,
    kconfig: Option<&Kconfig>,
    kernel_btf: Option<&Btf>,
    kcfg_data: &mut [u8],
) {
    let mut host: Option<Result<Kconfig, String>> = None;
    for e in externs.iter_mut() {
        match e.kind {
            ExternKind::Kconfig { offset, size } => {
                let cfg = match kconfig {
                    Some(k) => Ok(k),
                    None => host
                        .get_or_insert_with(|| Kconfig::from_host().map_err(|e| e.to_string()))
                        .as_ref()
                        .map_err(Clone::clone),
                };
                let slot = &mut kcfg_data[offset as usize..(offset + size) as usize];
                match kcfg_value(e, btf, cfg) {
                    Ok(Some(bytes)) => {
                        let n = bytes.len().min(slot.len());
                        slot[..n].copy_from_slice(&bytes[..n]);
                        e.resolved = true;
                    }
                    Ok(None) if e.weak => {}
                    Ok(None) => e.error = Some("kconfig value not found".into()),
                    Err(msg) => e.error = Some(msg),
                }
            }
            ExternKind::Ksym { typed } => {
                let found = if !typed {
                    Err(
                        "typeless ksyms need /proc/kallsyms addresses, which Lull does not resolve"
                            .to_string(),
                    )
                } else {
                    kernel_lookup(kernel_btf, &e.name, Kind::Var)
                };
                settle(e, found);
            }
            ExternKind::Kfunc => {
                let found = kernel_lookup(kernel_btf, &e.name, Kind::Func);
                settle(e, found);
            }
        }
    }
}

fn kernel_lookup(kernel_btf: Option<&Btf>, name: &str, kind: Kind) -> Result<u32, String> {
    let k = kernel_btf.ok_or_else(|| "no kernel BTF given to resolve it".to_string())?;
    k.find_by_name(name, Some(kind))
        .ok_or_else(|| format!("not found in kernel BTF as {}", kind.name()))
}

fn settle(e: &mut Extern, found: Result<u32, String>) {
    match found {
        Ok(id) => {
            e.btf_id = Some(id);
            e.resolved = true;
        }
        Err(_) if e.weak => {}
        Err(msg) => e.error = Some(msg),
    }
}

/// The bytes of a kconfig extern, `None` when the configuration does not have it.
fn kcfg_value(
    e: &Extern,
    btf: Option<&Btf>,
    cfg: Result<&Kconfig, String>,
) -> Result<Option<Vec<u8>>, String> {
    let ExternKind::Kconfig { size, .. } = e.kind else {
        return Ok(None);
    };
    let le = |v: u64| v.to_le_bytes()[..size.min(8) as usize].to_vec();
    match e.name.as_str() {
        "LINUX_KERNEL_VERSION" => {
            let v = cfg.ok().and_then(|c| c.kernel_version).or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .ok()
                    .and_then(|r| parse_release(r.trim()))
            });
            return match v {
                Some(v) => Ok(Some(le(u64::from(v)))),
                None => Err("kernel version unknown".into()),
            };
        }
        "LINUX_HAS_BPF_COOKIE" | "LINUX_HAS_SYSCALL_WRAPPER" => return Ok(Some(le(1))),
        n if n.starts_with("LINUX_") => return Err("unrecognized LINUX_* extern".into()),
        n if !n.starts_with("CONFIG_") => {
            return Err("kconfig externs must be named CONFIG_* or LINUX_*".into());
        }
        _ => {}
    }
    let cfg = match cfg {
        Ok(c) => c,
        Err(msg) if e.weak => {
            let _ = msg;
            return Ok(None);
        }
        Err(msg) => return Err(msg),
    };
    let Some(raw) = cfg.values.get(&e.name) else {
        return Ok(None);
    };
    let (_, t) = btf
        .ok_or("no BTF")?
        .skip_mods_and_typedefs(e.kcfg_type_id)
        .map_err(|x| x.to_string())?;
    let tristate = |s: &str| match s {
        "y" => Some(1u64),
        "n" => Some(0),
        "m" => Some(2),
        _ => None,
    };
    match &t.kind {
        TypeKind::Int(i) if i.encoding.bool => match raw.as_str() {
            "y" => Ok(Some(le(1))),
            "n" => Ok(Some(le(0))),
            other => Err(format!("value '{other}' but should be bool")),
        },
        TypeKind::Int(i) if i.size == 1 && raw.len() == 1 => Ok(Some(raw.as_bytes().to_vec())),
        TypeKind::Int(_) => {
            let v = parse_num(raw)
                .or_else(|| tristate(raw))
                .ok_or_else(|| format!("value '{raw}' is not a number"))?;
            Ok(Some(le(v)))
        }
        TypeKind::Enum(_) | TypeKind::Enum64(_) => tristate(raw)
            .map(|v| Some(le(v)))
            .ok_or_else(|| format!("value '{raw}' is not a tristate")),
        TypeKind::Array(_) => {
            let s = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .ok_or_else(|| format!("value {raw} is not a quoted string"))?;
            let mut b = s.as_bytes().to_vec();
            b.truncate(size.saturating_sub(1) as usize);
            b.resize(size as usize, 0);
            Ok(Some(b))
        }
        _ => Err("unsupported kconfig type".into()),
    }
}

fn parse_num(s: &str) -> Option<u64> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else {
        s.parse::<u64>().ok()?
    };
    Some(if neg { v.wrapping_neg() } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_strings() {
        assert_eq!(
            parse_release("6.18.44-fc-v669"),
            Some((6 << 16) | (18 << 8) | 44)
        );
        assert_eq!(parse_release("5.4.300"), Some((5 << 16) | (4 << 8) | 255));
        assert_eq!(parse_release("junk"), None);
    }

    #[test]
    fn config_text() {
        let k = Kconfig::parse("CONFIG_HZ=250\n# CONFIG_FOO is not set\nCONFIG_S=\"abc\"\n");
        assert_eq!(k.values["CONFIG_HZ"], "250");
        assert_eq!(k.values["CONFIG_FOO"], "n");
        assert_eq!(k.values["CONFIG_S"], "\"abc\"");
        assert_eq!(parse_num("0x10"), Some(16));
    }
}
