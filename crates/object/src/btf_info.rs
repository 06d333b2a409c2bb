//! The object's `.BTF.ext` applied to linked programs: func_info and line_info remapped to
//! each program's own stream (body plus appended subprograms), and CO-RE relocations
//! resolved against a target BTF and patched into the stream.

use lull_btf::Btf;
use lull_btf::core::{CoreResolver, patch_insn};
use lull_btf::ext::BtfExt;

use crate::error::ObjectError;
use crate::link::Func;
use crate::program::{FuncInfo, LineInfo, Program};

/// Fills `prog.func_info` / `prog.line_info` from `ext` for the functions placed in its stream.
pub(crate) fn remap_info(
    prog: &mut Program,
    funcs: &[Func],
    placed: &[(usize, usize)],
    ext: &BtfExt,
) {
    for &(fi, pos) in placed {
        let f = &funcs[fi];
        let range = f.start..f.start + f.len;
        if let Some(list) = ext.func_info.get(&f.sec_name) {
            for r in list.iter().filter(|r| range.contains(&r.insn_idx())) {
                prog.func_info.push(FuncInfo {
                    insn: pos + r.insn_idx() - f.start,
                    type_id: r.type_id,
                });
            }
        }
        if let Some(list) = ext.line_info.get(&f.sec_name) {
            for r in list.iter().filter(|r| range.contains(&r.insn_idx())) {
                prog.line_info.push(LineInfo {
                    insn: pos + r.insn_idx() - f.start,
                    file: r.file.clone(),
                    line: r.text.clone(),
                    line_num: r.line,
                    col: r.column,
                });
            }
        }
    }
    prog.func_info.sort_by_key(|f| f.insn);
    prog.line_info.sort_by_key(|l| l.insn);
}

/// Number of CO-RE relocations in the functions placed in a stream.
pub(crate) fn core_relo_count(funcs: &[Func], placed: &[(usize, usize)], ext: &BtfExt) -> usize {
    placed
        .iter()
        .map(|&(fi, _)| {
            let f = &funcs[fi];
            ext.core_relos.get(&f.sec_name).map_or(0, |l| {
                l.iter()
                    .filter(|r| (f.start..f.start + f.len).contains(&r.insn_idx()))
                    .count()
            })
        })
        .sum()
}

/// Resolves and patches the CO-RE relocations of a program's stream against `target`.
pub(crate) fn apply_core(
    prog: &mut Program,
    funcs: &[Func],
    placed: &[(usize, usize)],
    local: &Btf,
    ext: &BtfExt,
    target: &Btf,
) -> Result<usize, ObjectError> {
    let mut resolver = CoreResolver::new(local, target);
    let mut n = 0;
    for &(fi, pos) in placed {
        let f = &funcs[fi];
        let Some(list) = ext.core_relos.get(&f.sec_name) else {
            continue;
        };
        for r in list
            .iter()
            .filter(|r| (f.start..f.start + f.len).contains(&r.insn_idx()))
        {
            let slot = pos + r.insn_idx() - f.start;
            let err = |reason: String| ObjectError::BadCall {
                program: prog.name.clone(),
                slot,
                reason: format!(
                    "CO-RE relocation {} '{}': {reason}",
                    r.kind.name(),
                    r.access
                ),
            };
            let res = resolver.resolve(r).map_err(|e| err(e.to_string()))?;
            patch_insn(&mut prog.insns, slot, &res).map_err(|e| err(e.to_string()))?;
            n += 1;
        }
    }
    Ok(n)
}
