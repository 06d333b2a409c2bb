//! Functions and their relocations, and the per-program link step.
//!
//! Every `STT_FUNC` symbol of an executable section is a function; those outside `.text` are
//! entry points, those in `.text` are subprograms. Each relocation of an executable section
//! is validated (offset inside the section and on an instruction, symbol usable, instruction
//! kind matching the relocation type) and recorded against the function containing it. A
//! program's stream is then built like libbpf's `bpf_object__reloc_code`: its body, followed
//! by each subprogram the first time it is reached (depth first), with `call` and
//! `ld_imm64 src=BPF_PSEUDO_FUNC` immediates rewritten to the appended copies. The exception
//! callback an entry point names (`exception_callback:NAME` decl tag) is appended last, like
//! libbpf's `exception_cb_idx` handling, since nothing calls it.

use std::collections::HashMap;

use lull_btf::{Btf, Kind};
use lull_isa::RawInsn;

use crate::elf::{ElfFile, SymBind, SymKind, Symbol};
use crate::error::ObjectError;
use crate::externs::Extern;
use crate::maps::MapDef;

const BPF_JMP_CALL: u8 = 0x85;
const BPF_LD_IMM64: u8 = 0x18;
const PSEUDO_CALL: u8 = 1;
const PSEUDO_FUNC: u8 = 4;
/// `R_BPF_64_64`: `ld_imm64` relocation.
pub(crate) const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_32`: `call` relocation.
pub(crate) const R_BPF_64_32: u32 = 10;

/// A function of an executable section.
#[derive(Debug, Clone)]
pub(crate) struct Func {
    pub name: String,
    pub sec_idx: usize,
    pub sec_name: String,
    /// First slot inside the section.
    pub start: usize,
    /// Number of slots.
    pub len: usize,
    pub global: bool,
    pub insns: Vec<RawInsn>,
    pub relocs: Vec<Reloc>,
}

/// What a relocation refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// Subprogram call; `sym_off` = symbol value in `.text` (bytes).
    Call { sym_off: u64 },
    /// Subprogram address; `sym_off` as above.
    FuncAddr { sym_off: u64 },
    /// A map, by index.
    Map(usize),
    /// An address in a global-data map.
    Data { map: usize, sym_off: u64 },
    /// An extern, by index into the externs list.
    Extern(usize),
}

/// A recorded relocation, at a slot relative to its function.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reloc {
    pub slot: usize,
    pub target: Target,
}

/// Collects every function of every executable section (libbpf's `bpf_object__add_programs`).
pub(crate) fn collect_funcs(elf: &ElfFile<'_>) -> Result<Vec<Func>, ObjectError> {
    let mut funcs = Vec::new();
    for sec in elf
        .sections
        .iter()
        .filter(|s| s.is_exec() && !s.data.is_empty())
    {
        let is_text = sec.name == ".text";
        for sym in &elf.symbols {
            if sym.shndx != Some(sec.index) || sym.kind != SymKind::Func {
                continue;
            }
            let bad = |reason: String| ObjectError::BadProgram {
                section: sec.name.clone(),
                program: sym.name.clone(),
                reason,
            };
            let end = sym.value.checked_add(sym.size);
            if end.is_none_or(|e| e > sec.data.len() as u64) {
                return Err(bad(format!(
                    "code at offset {} ({} bytes) crosses the section end ({} bytes)",
                    sym.value,
                    sym.size,
                    sec.data.len()
                )));
            }
            if sym.size == 0 || sym.size % 8 != 0 || sym.value % 8 != 0 {
                return Err(bad(format!(
                    "corrupted: offset {}, size {} (must be non-empty multiples of 8)",
                    sym.value, sym.size
                )));
            }
            if !is_text && sym.bind == SymBind::Local {
                return Err(bad("static programs are not supported (libbpf rule)".into()));
            }
            let bytes = &sec.data[sym.value as usize..(sym.value + sym.size) as usize];
            let insns = RawInsn::slice_from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
            funcs.push(Func {
                name: sym.name.clone(),
                sec_idx: sec.index,
                sec_name: sec.name.clone(),
                start: (sym.value / 8) as usize,
                len: insns.len(),
                global: sym.bind != SymBind::Local,
                insns,
                relocs: Vec::new(),
            });
        }
    }
    funcs.sort_by_key(|a| (a.sec_idx, a.start));
    for w in funcs.windows(2) {
        if w[0].sec_idx == w[1].sec_idx && w[0].start + w[0].len > w[1].start {
            return Err(ObjectError::BadProgram {
                section: w[1].sec_name.clone(),
                program: w[1].name.clone(),
                reason: format!("overlaps function '{}'", w[0].name),
            });
        }
    }
    Ok(funcs)
}

fn is_subprog_sym(sym: &Symbol, text: Option<usize>) -> bool {
    text.is_some()
        && sym.shndx == text
        && ((sym.bind == SymBind::Local && sym.kind == SymKind::Section)
            || (matches!(sym.bind, SymBind::Global | SymBind::Weak) && sym.kind == SymKind::Func))
}

/// Records every relocation of every executable section against its function
/// (libbpf's `bpf_object__collect_prog_relos` + `bpf_program__record_reloc`).
pub(crate) fn collect_relocs(
    elf: &ElfFile<'_>,
    funcs: &mut [Func],
    maps: &[MapDef],
    externs: &[Extern],
) -> Result<(), ObjectError> {
    let text = elf.section_by_name(".text").map(|s| s.index);
    for rs in &elf.rel_sections {
        let sec = &elf.sections[rs.target];
        if !sec.is_exec() {
            continue;
        }
        for rel in &rs.rels {
            let sym = &elf.symbols[rel.sym];
            let err = |reason: String| ObjectError::BadRelocation {
                section: sec.name.clone(),
                offset: rel.offset,
                symbol: sym.name.clone(),
                reason,
            };
            if rel.offset % 8 != 0 {
                return Err(err("offset is not on an instruction boundary".into()));
            }
            if rel
                .offset
                .checked_add(8)
                .is_none_or(|e| e > sec.data.len() as u64)
            {
                return Err(err(format!(
                    "offset is outside the section ({} bytes)",
                    sec.data.len()
                )));
            }
            let slot = (rel.offset / 8) as usize;
            let Some(fi) = funcs
                .iter()
                .position(|f| f.sec_idx == sec.index && slot >= f.start && slot < f.start + f.len)
            else {
                return Err(err("no function contains this instruction".into()));
            };
            let fslot = slot - funcs[fi].start;
            let insn = funcs[fi].insns[fslot];
            let is_call = insn.code == BPF_JMP_CALL;
            let is_ld = insn.code == BPF_LD_IMM64;
            match (rel.rtype, is_call, is_ld) {
                (R_BPF_64_32, true, _) => {}
                (R_BPF_64_64, _, true) => {
                    if fslot + 1 >= funcs[fi].len {
                        return Err(err("ld_imm64 is missing its second slot".into()));
                    }
                }
                (R_BPF_64_32 | R_BPF_64_64, _, _) => {
                    return Err(err(format!(
                        "relocation type {} does not match instruction code {:#04x} \
                         (R_BPF_64_64 needs ld_imm64, R_BPF_64_32 needs call)",
                        rel.rtype, insn.code
                    )));
                }
                (t, _, _) => {
                    return Err(err(format!("unsupported relocation type {t} in code")));
                }
            }
            let target = if sym.is_extern() {
                let ei = externs
                    .iter()
                    .position(|e| e.sym_idx == rel.sym)
                    .ok_or_else(|| err("extern without a description".into()))?;
                if is_call && externs[ei].kind != crate::externs::ExternKind::Kfunc {
                    return Err(err("call of an extern that is not a kernel function".into()));
                }
                Target::Extern(ei)
            } else if is_call {
                if insn.src() != PSEUDO_CALL {
                    return Err(err(format!(
                        "call relocation on a call with src={} (not a BPF-to-BPF call)",
                        insn.src()
                    )));
                }
                if text.is_none() || sym.shndx != text {
                    return Err(err("call target is not in .text".into()));
                }
                if !sym.value.is_multiple_of(8) {
                    return Err(err(format!(
                        "call target offset {} is misaligned",
                        sym.value
                    )));
                }
                Target::Call { sym_off: sym.value }
            } else {
                let Some(shndx) = sym.shndx.filter(|&s| s > 0 && s < 0xff00) else {
                    return Err(err(
                        "symbol in a special section (uninitialised global variable?)".into(),
                    ));
                };
                if is_subprog_sym(sym, text) {
                    if !sym.value.is_multiple_of(8) || insn.imm % 8 != 0 {
                        return Err(err(format!(
                            "subprogram address {}+{} is misaligned",
                            sym.value, insn.imm
                        )));
                    }
                    Target::FuncAddr { sym_off: sym.value }
                } else {
                    let sname = &elf.sections.get(shndx).map_or("?", |s| s.name.as_str());
                    if *sname == ".maps" || *sname == "maps" {
                        let mi = maps
                            .iter()
                            .position(|m| {
                                !m.kind.is_global_data()
                                    && m.sec_idx == shndx
                                    && m.sec_offset == sym.value
                            })
                            .ok_or_else(|| {
                                err(format!(
                                    "no map is defined at offset {} of '{sname}'",
                                    sym.value
                                ))
                            })?;
                        Target::Map(mi)
                    } else if *sname == crate::maps::ARENA_SEC {
                        // `__arena` globals: an address inside the arena map (libbpf's
                        // RELO_DATA on `arena_map_idx`).
                        let mi = maps
                            .iter()
                            .position(|m| m.map_type == lull_abi::MapType::Arena)
                            .ok_or_else(|| {
                                err("bad arena data relocation, no arena maps defined".into())
                            })?;
                        Target::Data {
                            map: mi,
                            sym_off: sym.value,
                        }
                    } else if let Some(mi) = maps
                        .iter()
                        .position(|m| m.kind.is_global_data() && m.sec_idx == shndx)
                    {
                        Target::Data {
                            map: mi,
                            sym_off: sym.value,
                        }
                    } else {
                        return Err(err(format!(
                            "refers to section '{sname}', which is neither a map nor global data"
                        )));
                    }
                }
            };
            if let Target::FuncAddr { .. } = target {
                // clang leaves src=0; the loader marks it BPF_PSEUDO_FUNC (as libbpf does).
                let i = &mut funcs[fi].insns[fslot];
                i.regs = (i.regs & 0x0f) | (PSEUDO_FUNC << 4);
            }
            funcs[fi].relocs.push(Reloc {
                slot: fslot,
                target,
            });
        }
    }
    Ok(())
}

/// A program's linked stream.
pub(crate) struct Linked {
    pub insns: Vec<RawInsn>,
    /// `(func index, start slot)` of every function in the stream, the program first.
    pub placed: Vec<(usize, usize)>,
    /// Relocations other than calls, at stream slots.
    pub relocs: Vec<Reloc>,
    /// Calls and function addresses: `(slot, callee func index, is_call)`.
    pub calls: Vec<(usize, usize, bool)>,
}

/// The `.text` function entry point `main` names as its exception callback, as libbpf assigns
/// it: the `exception_callback:NAME` decl tag on the entry point's `FUNC` type names a global
/// `.text` function. With several tags none is linked (the kernel rejects the tags). An
/// unknown or static callback is the program's load error.
pub(crate) fn exception_callback(
    btf: Option<&Btf>,
    funcs: &[Func],
    main: usize,
    text: Option<usize>,
) -> Result<Option<usize>, String> {
    let Some(btf) = btf else { return Ok(None) };
    let prog = &funcs[main].name;
    let Some(id) = btf.find_by_name(prog, Some(Kind::Func)) else {
        return Ok(None);
    };
    let mut names = btf
        .decl_tags_for(id)
        .filter(|&(component, _)| component == -1)
        .filter_map(|(_, tag)| tag.strip_prefix("exception_callback:"));
    let (Some(name), None) = (names.next(), names.next()) else {
        return Ok(None);
    };
    let Some(cb) = funcs
        .iter()
        .position(|f| Some(f.sec_idx) == text && f.name == name)
    else {
        return Err(format!(
            "prog '{prog}': cannot find exception callback '{name}'"
        ));
    };
    if !funcs[cb].global {
        return Err(format!(
            "prog '{prog}': exception callback {name} must be a global non-hidden function"
        ));
    }
    Ok(Some(cb))
}

/// Builds the stream of entry point `main` (index into `funcs`), with `exception_cb` (a `.text`
/// function index) appended after everything the body reaches unless already placed.
pub(crate) fn link(
    funcs: &[Func],
    main: usize,
    text: Option<usize>,
    exception_cb: Option<usize>,
) -> Result<Linked, ObjectError> {
    let mut l = Linked {
        insns: funcs[main].insns.clone(),
        placed: vec![(main, 0)],
        relocs: Vec::new(),
        calls: Vec::new(),
    };
    let mut pos: HashMap<usize, usize> = HashMap::from([(main, 0)]);
    // Depth-first like libbpf: a subprogram is appended when first reached and processed
    // before the caller continues. An explicit stack keeps deep call chains off the Rust stack.
    struct Frame {
        func: usize,
        next: usize,
    }
    let mut stack = vec![Frame {
        func: main,
        next: 0,
    }];
    let mut pending_cb = exception_cb;
    loop {
        let Some(top) = stack.last_mut() else {
            // The body and its callees are placed: the exception callback comes last.
            match pending_cb.take() {
                Some(cb) if !pos.contains_key(&cb) => {
                    let p = l.insns.len();
                    l.insns.extend_from_slice(&funcs[cb].insns);
                    pos.insert(cb, p);
                    l.placed.push((cb, p));
                    stack.push(Frame { func: cb, next: 0 });
                    continue;
                }
                _ => break,
            }
        };
        let (fidx, i) = (top.func, top.next);
        let f = &funcs[fidx];
        let base = pos[&fidx];
        if i >= f.len {
            stack.pop();
            continue;
        }
        top.next += 1;
        let insn = l.insns[base + i];
        let relo = f.relocs.iter().find(|r| r.slot == i).copied();
        let is_call = insn.code == BPF_JMP_CALL && insn.src() == PSEUDO_CALL;
        let is_func = insn.code == BPF_LD_IMM64 && insn.src() == PSEUDO_FUNC;
        let bad = |reason: String| ObjectError::BadCall {
            program: funcs[main].name.clone(),
            slot: base + i,
            reason,
        };
        if let Some(r) = relo {
            match r.target {
                Target::Call { .. } | Target::FuncAddr { .. } => {}
                _ => {
                    l.relocs.push(Reloc {
                        slot: base + i,
                        target: r.target,
                    });
                    continue;
                }
            }
        }
        if !is_call && !is_func {
            if relo.is_some() {
                return Err(bad(
                    "function address relocation on an instruction that is not ld_imm64 src=4"
                        .into(),
                ));
            }
            continue;
        }
        let target_slot: i64 = match relo.map(|r| r.target) {
            Some(Target::Call { sym_off }) => (sym_off / 8) as i64 + i64::from(insn.imm) + 1,
            Some(Target::FuncAddr { sym_off }) => (sym_off as i64 + i64::from(insn.imm)) / 8,
            _ if is_func => return Err(bad("function address without a relocation".into())),
            _ => {
                if Some(f.sec_idx) != text {
                    return Err(bad(format!(
                        "call without relocation in section '{}' (subprograms must be in .text)",
                        f.sec_name
                    )));
                }
                (f.start + i) as i64 + i64::from(insn.imm) + 1
            }
        };
        let callee = funcs
            .iter()
            .position(|g| Some(g.sec_idx) == text && g.start as i64 == target_slot)
            .ok_or_else(|| {
                bad(format!(
                    "no .text function starts at instruction {target_slot}"
                ))
            })?;
        let cpos = match pos.get(&callee) {
            Some(&p) => p,
            None => {
                let p = l.insns.len();
                l.insns.extend_from_slice(&funcs[callee].insns);
                pos.insert(callee, p);
                l.placed.push((callee, p));
                stack.push(Frame {
                    func: callee,
                    next: 0,
                });
                p
            }
        };
        let delta = cpos as i64 - (base + i) as i64 - 1;
        l.insns[base + i].imm =
            i32::try_from(delta).map_err(|_| bad("program too large".into()))?;
        l.calls.push((base + i, callee, is_call));
    }
    l.relocs.sort_by_key(|r| r.slot);
    l.calls.sort_by_key(|c| c.0);
    Ok(l)
}
