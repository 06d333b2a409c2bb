//! Printing registers and frames the way the kernel's log does (`print_reg_state`,
//! `print_verifier_state` in `kernel/bpf/log.c`): `R1=ctx() R10=fp0 fp-8=mmmmmmmm`.

use super::reg::{Reg, RegKind};
use super::stack::SlotType;
use super::{Callback, Frame, State};
use crate::domain::snum;
use crate::input::MapInfo;
use std::fmt::Write;

/// Appends one register's value as the kernel prints it.
pub fn write_reg(out: &mut String, reg: &Reg, frameno: u8, maps: &[MapInfo]) {
    if reg.is_scalar() {
        if reg.precise {
            out.push('P');
        }
        if let Some(v) = reg.var.const_value() {
            out.push_str(&snum(v as i64));
            return;
        }
    }
    out.push_str(&reg.type_str());
    if let RegKind::Stack { frame } = reg.kind {
        if frame != frameno {
            let _ = write!(out, "[{frame}]");
        }
        if let Some(v) = reg.var.const_value() {
            out.push_str(&snum((v as i64).wrapping_add(reg.off as i64)));
            return;
        }
    }
    out.push('(');
    let mut sep: &'static str = "";
    let item = |out: &mut String, s: std::fmt::Arguments<'_>, sep: &mut &'static str| {
        out.push_str(sep);
        let _ = out.write_fmt(s);
        *sep = ",";
    };
    if reg.id != 0 {
        item(
            out,
            format_args!("id={}", reg.id & !super::ADD_CONST),
            &mut sep,
        );
        if reg.is_scalar() && reg.id & super::ADD_CONST != 0 {
            let _ = write!(out, "{:+}", reg.off);
        }
    }
    if reg.ref_obj_id != 0 {
        item(out, format_args!("ref_obj_id={}", reg.ref_obj_id), &mut sep);
    }
    if let RegKind::ConstMap { map } | RegKind::MapValue { map } | RegKind::MapKey { map } =
        reg.kind
        && let Some(m) = maps.get(map as usize)
    {
        item(
            out,
            format_args!("ks={},vs={}", m.key_size, m.value_size),
            &mut sep,
        );
    }
    if !reg.is_scalar() && reg.off != 0 {
        item(out, format_args!("off={}", reg.off), &mut sep);
    }
    // `pkt_end` shows a range only once a comparison marked it (`AT_PKT_END`/`BEYOND_PKT_END`).
    if reg.kind.is_pkt() || (reg.kind == RegKind::PacketEnd && reg.range != 0) {
        item(out, format_args!("r={}", reg.range), &mut sep);
    }
    if let RegKind::Mem { size, .. } = reg.kind {
        item(out, format_args!("sz={size}"), &mut sep);
    }
    match reg.var.const_value() {
        Some(v) if !reg.is_scalar() => {
            if v != 0 {
                item(out, format_args!("imm={v:x}"), &mut sep);
            }
        }
        _ => {
            let _ = reg.var.write_bounds(out, &mut sep);
        }
    }
    out.push(')');
}

/// Appends a frame's registers and stack (`print_verifier_state`), with a leading space per
/// item and no newline. `only` restricts registers to a set (a bitmask) when given.
pub fn write_frame(
    out: &mut String,
    fr: &Frame,
    state: &State,
    maps: &[MapInfo],
    only: Option<u16>,
) {
    if fr.frameno != 0 {
        let _ = write!(out, " frame{}:", fr.frameno);
    }
    for (i, r) in fr.regs.iter().enumerate() {
        if r.kind == RegKind::NotInit || only.is_some_and(|m| m & (1 << i) == 0) {
            continue;
        }
        let _ = write!(out, " R{i}=");
        write_reg(out, r, fr.frameno, maps);
    }
    if only.is_none() {
        for (i, s) in fr.stack.iter().enumerate() {
            if s.types.iter().all(|t| *t == SlotType::Invalid) {
                continue;
            }
            if let Some(it) = s.iter.filter(|_| s.is_iter()) {
                // Only an iterator's first slot (the one with the reference) is printed.
                if s.spilled.ref_obj_id != 0 {
                    let _ = write!(
                        out,
                        " fp{}=iter_{}(ref_id={},state={},depth={})",
                        -(i as i64 + 1) * 8,
                        it.kind,
                        s.spilled.ref_obj_id,
                        it.state.name(),
                        it.depth
                    );
                }
                continue;
            }
            if let Some(d) = s.dynptr.filter(|_| s.is_dynptr()) {
                // Only a dynptr's first slot is printed.
                if d.first {
                    let _ = write!(out, " fp{}=dynptr_{}(", -(i as i64 + 1) * 8, d.kind.name());
                    let mut sep = "";
                    if s.spilled.id != 0 {
                        let _ = write!(out, "id={}", s.spilled.id);
                        sep = ",";
                    }
                    if s.spilled.ref_obj_id != 0 {
                        let _ = write!(out, "{sep}ref_id={}", s.spilled.ref_obj_id);
                    }
                    out.push(')');
                }
                continue;
            }
            let mut types: String = s.types.iter().map(|t| t.letter()).collect();
            let _ = write!(out, " fp{}=", -(i as i64 + 1) * 8);
            if s.is_spilled() {
                let first_spill = s
                    .types
                    .iter()
                    .position(|t| *t == SlotType::Spill)
                    .unwrap_or(8);
                types.truncate(first_spill);
                out.push_str(&types);
                write_reg(out, &s.spilled, fr.frameno, maps);
            } else {
                out.push_str(&types);
            }
        }
        if fr.frameno as usize == state.curframe() && !state.refs.is_empty() {
            let ids: Vec<String> = state.refs.iter().map(|r| r.id.to_string()).collect();
            let _ = write!(out, " refs={}", ids.join(","));
        }
        match fr.callback {
            Some(Callback::Sync) => out.push_str(" cb"),
            Some(Callback::Async) => out.push_str(" async_cb"),
            None => {}
        }
    }
}
