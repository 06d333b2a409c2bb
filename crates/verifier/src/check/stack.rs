//! Stack accesses: bounds (`check_stack_access_within_bounds`), spills and fills of registers
//! with the kernel's rules for narrow scalar spills (`check_stack_write_fixed_off`,
//! `check_stack_read_fixed_off`), variable-offset accesses, and ranges read or written by
//! helpers (`check_stack_range_initialized`).

use super::mem::Src;
use crate::domain::Scalar;
use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::prog_types::Access;
use crate::state::{MAX_STACK, Reg, RegKind, SlotType, StackSlot};
use lull_isa::Reg as IsaReg;

/// The kernel's `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: i64 = 1 << 29;

/// `slot = -off - 1`, then `(spi, byte)`.
fn locate(off: i64) -> (usize, usize) {
    let slot = (-off - 1) as usize;
    (slot / 8, slot % 8)
}

fn tnum_str(v: &Scalar) -> String {
    v.var_off.to_string()
}

impl Verifier<'_> {
    /// The frame a stack pointer points into.
    fn frame_of(&self, reg: &Reg) -> usize {
        match reg.kind {
            RegKind::Stack { frame } => frame as usize,
            _ => self.cur.curframe(),
        }
    }

    /// `check_stack_access_within_bounds`; grows the frame's stack to cover the access.
    pub(crate) fn check_stack_bounds(
        &mut self,
        regno: IsaReg,
        reg: &Reg,
        off: i64,
        size: i64,
        access: Access,
        src: Src,
    ) -> Res<()> {
        // Linux 6.18 names helper accesses by their direction too.
        let extra = match access {
            Access::Read => " read from",
            Access::Write => " write to",
        };
        let (min_off, max_off) = if let Some(v) = reg.var.const_value() {
            let m = v as i64 + off;
            (m, m + size)
        } else {
            if reg.var.smax >= MAX_VAR_OFF || reg.var.smin <= -MAX_VAR_OFF {
                return Err(E::StackUnboundedVar {
                    kind: extra,
                    reg: regno.num(),
                });
            }
            (reg.var.smin + off, reg.var.smax + off + size)
        };
        let fr = self.frame_of(reg);
        let min_valid = if access == Access::Write || src == Src::Helper || self.perfmon {
            -MAX_STACK
        } else {
            -(self.cur.frames[fr].allocated() as i64)
        };
        let bad = min_off < min_valid || min_off > -1 || max_off > 0 || size < 0;
        if bad {
            return Err(if reg.var.is_const() {
                E::StackOutOfBounds {
                    kind: extra,
                    reg: regno.num(),
                    off,
                    size,
                }
            } else {
                E::StackVarOutOfBounds {
                    kind: extra,
                    reg: regno.num(),
                    var: tnum_str(&reg.var),
                    off,
                    size,
                }
            });
        }
        let need = (-min_off) as usize;
        if need > 0 {
            self.cur.frames[fr].grow_stack((need - 1) / 8);
            let sp = self.cur.frames[fr].subprog;
            let d = &mut self.stack_depth[sp];
            *d = (*d).max(need as u32);
        }
        Ok(())
    }

    /// `check_fastcall_stack_contract` for an access through `reg` at `off` of frame `fr`.
    fn fastcall_contract(&mut self, fr: usize, reg: &Reg, off: i64) {
        let lowest = reg.var.const_value().map_or(reg.var.smin, |v| v as i64) + off;
        let sp = self.cur.frames[fr].subprog;
        self.fastcall.access(&self.prog, sp, self.insn_idx, lowest);
    }

    /// A load from the stack; returns the loaded register value.
    pub(crate) fn check_stack_read(
        &mut self,
        reg: &Reg,
        off: i64,
        size: u32,
        regno: u8,
    ) -> Res<Reg> {
        let fr = self.frame_of(reg);
        let privileged = self.perfmon;
        self.fastcall_contract(fr, reg, off);
        if let Some(v) = reg.var.const_value() {
            return self.read_fixed(fr, off + v as i64, size);
        }
        if !privileged {
            return Err(E::StackVarUnpriv {
                reg: regno,
                var: tnum_str(&reg.var),
                off: off as i32,
            });
        }
        let min_off = reg.var.smin + off;
        let max_off = reg.var.smax + off;
        self.range_initialized(
            fr,
            regno,
            min_off,
            max_off,
            size as i64,
            false,
            false,
            Some(&reg.var),
        )?;
        // mark_reg_stack_read: zeros only if every byte is zero.
        let st = &self.cur.frames[fr];
        let all_zero = (min_off..max_off + size as i64).all(|i| {
            let (spi, b) = locate(i);
            st.stack
                .get(spi)
                .is_some_and(|s| s.types[b] == SlotType::Zero)
        });
        Ok(if all_zero {
            Reg::known(0)
        } else {
            Reg::unknown()
        })
    }

    /// `check_stack_read_fixed_off`.
    fn read_fixed(&mut self, fr: usize, off: i64, size: u32) -> Res<Reg> {
        let allow_uninit = self.perfmon;
        let (spi, _) = locate(off);
        let slot_idx = (-off - 1) as usize;
        let slot = self.cur.frames[fr]
            .stack
            .get(spi)
            .copied()
            .unwrap_or(StackSlot::INVALID);
        let ty = |i: u32| slot.types[(slot_idx - i as usize) % 8];
        if slot.is_spilled() {
            let mut spill_size = 1;
            while spill_size < 8 && slot.types[7 - spill_size] == SlotType::Spill {
                spill_size += 1;
            }
            let spilled = slot.spilled;
            if size != 8 || spill_size != 8 {
                if spilled.kind != RegKind::Scalar {
                    return Err(E::FillSize);
                }
                // bpf_stack_narrow_access_ok: the low bytes of the spill (little endian).
                let narrow_ok = size as usize <= spill_size && (off % 8 == 0);
                if narrow_ok {
                    let mut r = spilled;
                    let width = 64 - r.var.umax.leading_zeros();
                    if width > size * 8 {
                        r.id = 0;
                    }
                    self.record_stack_access(fr, spi);
                    return Ok(r);
                }
                let (mut spill_cnt, mut zero_cnt) = (0, 0);
                for i in 0..size {
                    match ty(i) {
                        SlotType::Spill => spill_cnt += 1,
                        SlotType::Misc => {}
                        SlotType::Zero => zero_cnt += 1,
                        SlotType::Invalid if allow_uninit => {}
                        SlotType::Invalid | SlotType::Iter | SlotType::Dynptr => {
                            return Err(E::StackUninitRead { off, i, size });
                        }
                    }
                }
                if spill_cnt == size && spilled.var.const_value() == Some(0) {
                    // Still a fill of the spilled register.
                    self.record_stack_access(fr, spi);
                    return Ok(Reg::known(0));
                }
                if zero_cnt == size {
                    return Ok(Reg::known(0));
                }
                return Ok(Reg::unknown());
            }
            self.record_stack_access(fr, spi);
            return Ok(spilled);
        }
        let mut zeros = 0;
        for i in 0..size {
            match ty(i) {
                SlotType::Misc => {}
                SlotType::Zero => zeros += 1,
                SlotType::Invalid if allow_uninit => {}
                _ => return Err(E::StackUninitRead { off, i, size }),
            }
        }
        Ok(if zeros == size {
            Reg::known(0)
        } else {
            Reg::unknown()
        })
    }

    /// A store to the stack of register `value` (or the immediate `imm`).
    pub(crate) fn check_stack_write(
        &mut self,
        reg: &Reg,
        off: i64,
        size: u32,
        value: Option<IsaReg>,
        imm: Option<i32>,
    ) -> Res<()> {
        let fr = self.frame_of(reg);
        self.fastcall_contract(fr, reg, off);
        let val = value.map(|r| self.cur.regs()[r.index()]);
        if let Some(v) = reg.var.const_value() {
            return self.write_fixed(fr, off + v as i64, size, value, val, imm);
        }
        let zero_used = self.write_var(fr, reg, off, size, val, imm)?;
        // Slots kept as zero rely on the stored value being exactly zero.
        if zero_used && let Some(r) = value {
            self.mark_chain_precision(r)?;
        }
        Ok(())
    }

    fn write_fixed(
        &mut self,
        fr: usize,
        off: i64,
        size: u32,
        value: Option<IsaReg>,
        val: Option<Reg>,
        imm: Option<i32>,
    ) -> Res<()> {
        let privileged = self.perfmon;
        let cur_frame = self.cur.curframe();
        let (spi, _) = locate(off);
        let slot_idx = (-off - 1) as usize;
        self.cur.frames[fr].grow_stack(spi);
        self.destroy_dynptr_at(fr, spi)?;
        super::iter::scrub_iter_slot(&mut self.cur.frames[fr].stack[spi]);
        {
            let s = &self.cur.frames[fr].stack[spi];
            if !privileged && s.is_spilled() && !s.is_spilled_scalar() && size != 8 {
                return Err(E::CorruptSpilledPtr);
            }
        }
        let aligned8 = off % 8 == 0;
        let save = |this: &mut Self, r: Reg| {
            let s = &mut this.cur.frames[fr].stack[spi];
            s.spilled = r;
            let mut i = 8;
            while i > 8 - size as usize {
                s.types[i - 1] = SlotType::Spill;
                i -= 1;
            }
            while i > 0 {
                let t = &mut s.types[i - 1];
                if !matches!(*t, SlotType::Zero | SlotType::Invalid) {
                    *t = SlotType::Misc;
                }
                i -= 1;
            }
        };
        match (val, imm) {
            (Some(r), _) if r.is_scalar() && aligned8 && self.bpf_capable => {
                let fits = 64 - r.var.umax.leading_zeros() <= 8 * size;
                let mut r = r;
                if fits && let Some(vr) = value {
                    // assign_scalar_id_before_mov: the spill starts a new link.
                    super::linked::unlink_offset(&mut self.cur.regs_mut()[vr.index()]);
                    r = self.cur.regs()[vr.index()];
                    let cur = self.cur.regs()[vr.index()];
                    if cur.id == 0 && !cur.var.is_const() {
                        let id = self.new_id();
                        self.cur.regs_mut()[vr.index()].id = id;
                        r.id = id;
                    }
                }
                if !fits {
                    r.id = 0;
                }
                save(self, r);
                self.record_stack_access(fr, spi);
            }
            (None, Some(imm)) if aligned8 && self.bpf_capable => {
                save(self, Reg::known(imm as i64 as u64));
                self.record_stack_access(fr, spi);
            }
            (Some(r), _) if r.is_pointer() => {
                if size != 8 {
                    return Err(E::SpillSize);
                }
                if fr != cur_frame && matches!(r.kind, RegKind::Stack { .. }) {
                    return Err(E::SpillStackPtrToCaller);
                }
                save(self, r);
                self.record_stack_access(fr, spi);
            }
            _ => {
                let zero = val.is_some_and(|r| r.is_null()) || imm == Some(0);
                // The slot becomes STACK_ZERO: the stored value must be exactly zero.
                if zero && let Some(r) = value {
                    self.mark_chain_precision(r)?;
                }
                let t = if zero { SlotType::Zero } else { SlotType::Misc };
                let s = &mut self.cur.frames[fr].stack[spi];
                s.spilled = Reg::NOT_INIT;
                if s.types.contains(&SlotType::Spill) {
                    for b in s.types.iter_mut() {
                        if *b != SlotType::Invalid {
                            *b = SlotType::Misc;
                        }
                    }
                }
                for i in 0..size as usize {
                    s.types[(slot_idx - i) % 8] = t;
                }
            }
        }
        Ok(())
    }

    /// `check_stack_write_var_off`.
    fn write_var(
        &mut self,
        fr: usize,
        reg: &Reg,
        off: i64,
        size: u32,
        val: Option<Reg>,
        imm: Option<i32>,
    ) -> Res<bool> {
        let privileged = self.perfmon;
        let insn = self.insn_idx;
        let mut zero_used = false;
        let min_off = reg.var.smin + off;
        let max_off = reg.var.smax + off + size as i64;
        let writing_zero = val.is_some_and(|r| r.is_null()) || imm == Some(0);
        for i in min_off..max_off {
            let (spi, _) = locate(i);
            self.cur.frames[fr].grow_stack(spi);
            self.destroy_dynptr_at(fr, spi)?;
        }
        let frame = &mut self.cur.frames[fr];
        for i in min_off..max_off {
            let (spi, b) = locate(i);
            frame.grow_stack(spi);
            let s = &mut frame.stack[spi];
            let t = s.types[b];
            if !privileged && !matches!(t, SlotType::Misc | SlotType::Zero) {
                return Err(E::Malformed(format!(
                    "spilled ptr in range of var-offset stack write; insn {insn}, ptr off: {i}"
                )));
            }
            if writing_zero
                && t == SlotType::Spill
                && s.is_spilled_scalar()
                && s.spilled.var.const_value() == Some(0)
            {
                continue;
            }
            if s.is_spilled() {
                s.spilled = Reg::NOT_INIT;
                for x in s.types.iter_mut() {
                    if *x == SlotType::Spill {
                        *x = SlotType::Misc;
                    }
                }
            }
            let new = if writing_zero && t == SlotType::Zero {
                zero_used = true;
                SlotType::Zero
            } else {
                SlotType::Misc
            };
            s.types[b] = new;
        }
        Ok(zero_used)
    }

    /// `check_stack_range_initialized` for `[min_off, max_off + size)`. `clobber` when a helper
    /// writes the range; `raw` when it only writes (uninitialised memory argument).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn range_initialized(
        &mut self,
        fr: usize,
        regno: u8,
        min_off: i64,
        max_off: i64,
        size: i64,
        clobber: bool,
        indirect: bool,
        var: Option<&Scalar>,
    ) -> Res<()> {
        let allow_uninit = self.perfmon;
        let allow_ptr_leaks = self.perfmon;
        let frame = &mut self.cur.frames[fr];
        for i in min_off..max_off + size {
            let (spi, b) = locate(i);
            frame.grow_stack(spi);
            let s = &mut frame.stack[spi];
            let t = s.types[b];
            if t == SlotType::Misc {
                continue;
            }
            if t == SlotType::Zero || (t == SlotType::Invalid && allow_uninit) {
                if clobber {
                    s.types[b] = SlotType::Misc;
                }
                continue;
            }
            if s.is_spilled() && (s.spilled.is_scalar() || allow_ptr_leaks) {
                if clobber {
                    s.spilled = Reg::unknown();
                    for x in s.types.iter_mut() {
                        if *x != SlotType::Invalid {
                            *x = SlotType::Misc;
                        }
                    }
                }
                continue;
            }
            return Err(match var {
                None => E::StackRangeUninit {
                    indirect,
                    reg: regno,
                    off: min_off,
                    i: i - min_off,
                    size,
                },
                Some(v) => E::StackRangeUninitVar {
                    indirect,
                    reg: regno,
                    var: tnum_str(v),
                    i: i - min_off,
                    size,
                },
            });
        }
        Ok(())
    }

    /// Marks bytes a helper writes through an uninitialised-memory argument (`raw_mode`).
    pub(crate) fn stack_raw_write(&mut self, reg: &Reg, size: i64) {
        let fr = self.frame_of(reg);
        let base = reg.var.const_value().map_or(reg.var.smin, |v| v as i64) + reg.off as i64;
        for i in 0..size {
            let (spi, b) = locate(base + i);
            let frame = &mut self.cur.frames[fr];
            frame.grow_stack(spi);
            let s = &mut frame.stack[spi];
            if s.is_spilled() {
                s.spilled = Reg::NOT_INIT;
                for x in s.types.iter_mut() {
                    if *x == SlotType::Spill {
                        *x = SlotType::Misc;
                    }
                }
            }
            s.types[b] = SlotType::Misc;
        }
    }
}
