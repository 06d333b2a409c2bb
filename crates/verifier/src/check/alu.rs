//! ALU instructions (`check_alu_op`, `adjust_reg_min_max_vals`, `adjust_ptr_min_max_vals`):
//! scalar arithmetic through the numeric domain, pointer arithmetic with the kernel's rules on
//! which pointers may move and how far.

use crate::domain::{self, Scalar};
use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::state::{Reg, RegKind};
use lull_isa::{AluOp, Endian, Operand, Reg as IsaReg, Width};

/// The tail of every Spectre-sanitation message.
const SANITIZE_WHY: &str = "pointer arithmetic with it prohibited for !root";
/// `BPF_ALU_SANITIZE_SRC` and friends: how an instruction's pointer arithmetic is masked.
const ALU_SANITIZE_SRC: u32 = 1;
const ALU_SANITIZE_DST: u32 = 2;
const ALU_NEG_VALUE: u32 = 4;
const ALU_IMMEDIATE: u32 = 8;
const ALU_NON_POINTER: u32 = 16;

/// The kernel's `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: i64 = 1 << 29;

/// `bpf_alu_string`.
fn op_str(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div | AluOp::SDiv => "/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Neg => "neg",
        AluOp::Mod | AluOp::SMod => "%=",
        AluOp::Xor => "^=",
        AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => "=",
        AluOp::Arsh => "s>>=",
    }
}

/// Bits needed for the largest unsigned value (`get_reg_width`).
fn reg_width(s: &Scalar) -> u32 {
    64 - s.umax.leading_zeros()
}

impl Verifier<'_> {
    /// Gives a non-constant scalar an id before it is copied (`assign_scalar_id_before_mov`).
    fn assign_scalar_id(&mut self, r: IsaReg) {
        super::linked::unlink_offset(&mut self.cur.regs_mut()[r.index()]);
        let reg = self.cur.regs()[r.index()];
        if reg.is_scalar() && reg.id == 0 && !reg.var.is_const() {
            let id = self.new_id();
            self.cur.regs_mut()[r.index()].id = id;
        }
    }

    pub(crate) fn check_alu(
        &mut self,
        width: Width,
        op: AluOp,
        dst: IsaReg,
        src: Operand,
    ) -> Res<()> {
        let privileged = self.perfmon;
        match op {
            AluOp::Neg => {
                let d = self.src_reg(dst)?;
                if d.is_pointer() && !privileged {
                    return Err(E::Malformed(format!(
                        "R{} pointer arithmetic prohibited",
                        dst.num()
                    )));
                }
                self.check_dst(dst)?;
                let v = if d.is_scalar() {
                    domain::alu(op, width, &d.var, &d.var)
                } else {
                    Scalar::unknown()
                };
                self.set_reg(dst, Reg::scalar(v));
                return Ok(());
            }
            AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                return self.check_mov(width, op, dst, src);
            }
            _ => {}
        }
        if let Operand::Imm(imm) = src {
            if domain::div_imm_is_zero(op, imm) {
                return Err(E::DivByZero);
            }
            if domain::shift_imm_is_invalid(op, width, imm) {
                return Err(E::InvalidShift(imm as i64));
            }
        }
        let s = match src {
            Operand::Reg(r) => Some((r, self.src_reg(r)?)),
            Operand::Imm(_) => None,
        };
        let d = self.src_reg(dst)?;
        self.check_dst(dst)?;
        let src_reg = match (s, src) {
            (Some((_, r)), _) => r,
            (None, Operand::Imm(imm)) => Reg::known(imm as i64 as u64),
            (None, Operand::Reg(_)) => unreachable!("register operands are read above"),
        };
        if d.is_pointer() && src_reg.is_pointer() {
            if op == AluOp::Sub && privileged {
                self.set_reg(dst, Reg::unknown());
                return Ok(());
            }
            return Err(E::PtrOpPtr {
                reg: dst.num(),
                op: op_str(op),
            });
        }
        let src_no = match src {
            Operand::Reg(r) => Some(r.num()),
            Operand::Imm(_) => None,
        };
        // Pointer arithmetic depends on the exact scalar (`adjust_reg_min_max_vals`).
        if d.is_pointer() {
            if let Operand::Reg(r) = src {
                self.mark_chain_precision(r)?;
            }
            let r = self.ptr_alu(width, op, dst, &d, &src_reg, false, src_no)?;
            self.set_reg(dst, r);
            return Ok(());
        }
        if src_reg.is_pointer() {
            self.mark_chain_precision(dst)?;
            let r = self.ptr_alu(width, op, dst, &src_reg, &d, true, src_no)?;
            self.set_reg(dst, r);
            return Ok(());
        }
        // scalar op scalar: a precise result needs a precise source.
        if d.precise
            && let Operand::Reg(r) = src
        {
            self.mark_chain_precision(r)?;
        }
        if let Some((pushed, current)) = domain::and_or_fork(op, &d.var, &src_reg.var) {
            let mut other = self.cur.clone();
            other.regs_mut()[dst.index()] = Reg::scalar(pushed);
            self.push_branch(other, self.insn_idx)?;
            let v = domain::alu(op, width, &current, &src_reg.var);
            self.set_reg(dst, Reg::scalar(v));
            return Ok(());
        }
        // sanitize_val_alu: the same instruction may not also do pointer arithmetic elsewhere.
        if matches!(op, AluOp::Add | AluOp::Sub)
            && !privileged
            && matches!(src, Operand::Reg(_))
            && !self.cur.speculative
        {
            self.update_alu_state(op, dst.num(), ALU_NON_POINTER, 0)?;
        }
        let v = domain::alu(op, width, &d.var, &src_reg.var);
        let mut out = Reg::scalar(v);
        (out.id, out.off) = super::linked::after_alu(&d, op, width, &src_reg, self.bpf_capable);
        self.set_reg(dst, out);
        Ok(())
    }

    fn check_mov(&mut self, width: Width, op: AluOp, dst: IsaReg, src: Operand) -> Res<()> {
        let privileged = self.perfmon;
        let r = match src {
            Operand::Imm(imm) => {
                self.check_dst(dst)?;
                let v = match width {
                    Width::W64 => imm as i64 as u64,
                    Width::W32 => imm as u32 as u64,
                };
                self.set_reg(dst, Reg::known(v));
                return Ok(());
            }
            Operand::Reg(r) => r,
        };
        let s = self.src_reg(r)?;
        self.check_dst(dst)?;
        let bits = match op {
            AluOp::MovSx8 => 8,
            AluOp::MovSx16 => 16,
            AluOp::MovSx32 => 32,
            _ => 0,
        };
        let out = match width {
            Width::W64 if bits == 0 => {
                self.assign_scalar_id(r);
                self.cur.regs()[r.index()]
            }
            Width::W64 => {
                if s.is_pointer() {
                    if !privileged {
                        return Err(E::SignExtPtr(r.num()));
                    }
                    Reg::unknown()
                } else {
                    let no_sext = s.var.umax < (1u64 << (bits - 1));
                    if no_sext {
                        self.assign_scalar_id(r);
                    }
                    let mut d = self.cur.regs()[r.index()];
                    if !no_sext {
                        d.id = 0;
                    }
                    d.var.coerce_to_size_sx((bits / 8) as u8);
                    d
                }
            }
            Width::W32 => {
                if s.is_pointer() {
                    if !privileged {
                        return Err(E::PartialPtrCopy(r.num()));
                    }
                    let mut d = Reg::unknown();
                    d.var.zext_32_to_64();
                    d.var.sync();
                    d
                } else {
                    let keep_id = if bits == 0 {
                        reg_width(&s.var) <= 32
                    } else {
                        s.var.umax < (1u64 << (bits - 1))
                    };
                    if keep_id {
                        self.assign_scalar_id(r);
                    }
                    let mut d = self.cur.regs()[r.index()];
                    if !keep_id {
                        d.id = 0;
                    }
                    if bits != 0 {
                        d.var.coerce_subreg_to_size_sx((bits / 8) as u8);
                    }
                    d.var.zext_32_to_64();
                    d.var.sync();
                    d
                }
            }
        };
        let mut out = out;
        out.precise = out.precise && out.is_scalar();
        self.set_reg(dst, out);
        Ok(())
    }

    /// Pointer arithmetic (`adjust_ptr_min_max_vals`): `ptr op off`; `reversed` for
    /// `scalar += pointer`; `src_no` is the source register (`None` for an immediate).
    #[allow(clippy::too_many_arguments)]
    fn ptr_alu(
        &mut self,
        width: Width,
        op: AluOp,
        dst: IsaReg,
        ptr: &Reg,
        off: &Reg,
        reversed: bool,
        src_no: Option<u8>,
    ) -> Res<Reg> {
        let privileged = self.perfmon;
        let dn = dst.num();
        if width == Width::W32 {
            if op == AluOp::Sub && privileged {
                return Ok(Reg::unknown());
            }
            return Err(E::Ptr32Arith { reg: dn });
        }
        if ptr.maybe_null {
            return Err(E::PtrArithNullable {
                reg: dn,
                ty: ptr.type_str(),
            });
        }
        let known = off.var.is_const();
        let smin_val = off.var.smin;
        let smax_val = off.var.smax;
        let umin_val = off.var.umin;
        let umax_val = off.var.umax;
        match ptr.kind {
            RegKind::Ctx
            | RegKind::MapValue { .. }
            | RegKind::MapKey { .. }
            | RegKind::Stack { .. }
            | RegKind::PacketMeta
            | RegKind::Packet
            | RegKind::Mem { .. }
            | RegKind::KernelPtr { .. }
            | RegKind::ConstDynptr(_) => {}
            RegKind::ConstMap { .. } if known && smin_val == 0 && op == AluOp::Add => {}
            _ => {
                return Err(E::PtrArithProhibited {
                    reg: dn,
                    ty: ptr.type_str(),
                });
            }
        }
        let tname = ptr.kind.name();
        sane_offset(off, tname, true)?;
        sane_offset(ptr, tname, false)?;
        let sanitize = matches!(op, AluOp::Add | AluOp::Sub)
            && !privileged
            && src_no.is_some()
            && !self.cur.speculative;
        let pre = if sanitize {
            Some(self.sanitize_ptr_alu(op, dn, ptr, off, reversed, src_no)?)
        } else {
            None
        };
        let mut out = *ptr;
        out.precise = false;
        let p = ptr.var;
        match op {
            AluOp::Add => {
                let new_off = ptr.off as i64 + smin_val;
                if known && new_off == new_off as i32 as i64 {
                    out.off = new_off as i32;
                } else {
                    let mut v = Scalar::unknown();
                    match (p.smin.checked_add(smin_val), p.smax.checked_add(smax_val)) {
                        (Some(a), Some(b)) => (v.smin, v.smax) = (a, b),
                        _ => (v.smin, v.smax) = (i64::MIN, i64::MAX),
                    }
                    match (p.umin.checked_add(umin_val), p.umax.checked_add(umax_val)) {
                        (Some(a), Some(b)) => (v.umin, v.umax) = (a, b),
                        _ => (v.umin, v.umax) = (0, u64::MAX),
                    }
                    v.var_off = p.var_off.add(off.var.var_off);
                    v.mark32_unbounded();
                    v.sync();
                    out.var = v;
                    if ptr.kind.is_pkt() {
                        out.id = self.new_id();
                        out.range = 0;
                    }
                }
            }
            AluOp::Sub => {
                if reversed {
                    return Err(E::SubPtrFromScalar(dn));
                }
                if let RegKind::Stack { .. } = ptr.kind {
                    return Err(E::Malformed(format!(
                        "R{dn} subtraction from stack pointer prohibited"
                    )));
                }
                let new_off = ptr.off as i64 - smin_val;
                if known && new_off == new_off as i32 as i64 {
                    out.off = new_off as i32;
                } else {
                    let mut v = Scalar::unknown();
                    match (p.smin.checked_sub(smax_val), p.smax.checked_sub(smin_val)) {
                        (Some(a), Some(b)) => (v.smin, v.smax) = (a, b),
                        _ => (v.smin, v.smax) = (i64::MIN, i64::MAX),
                    }
                    if p.umin < umax_val {
                        (v.umin, v.umax) = (0, u64::MAX);
                    } else {
                        (v.umin, v.umax) = (p.umin - umax_val, p.umax - umin_val);
                    }
                    v.var_off = p.var_off.sub(off.var.var_off);
                    v.mark32_unbounded();
                    v.sync();
                    out.var = v;
                    if ptr.kind.is_pkt() {
                        out.id = self.new_id();
                        if smin_val < 0 {
                            out.range = 0;
                        }
                    }
                }
            }
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return Err(E::PtrBitwise {
                    reg: dn,
                    op: op_str(op),
                });
            }
            _ => {
                return Err(E::Malformed(format!(
                    "R{dn} pointer arithmetic with {} operator prohibited",
                    op_str(op)
                )));
            }
        }
        sane_offset(&out, tname, false)?;
        if !privileged {
            self.sanitize_check_bounds(dn, &out)?;
        }
        // The commit window of sanitize_ptr_alu: record how the instruction masks.
        if let Some((mask_to_left, state, before)) = pre {
            let after = self.ptr_limit(op, dn, &out, dn, mask_to_left)?;
            self.update_alu_state(op, dn, state, before.abs_diff(after))?;
        }
        Ok(out)
    }

    /// `retrieve_ptr_limit`: how far the pointer may move in the masked direction.
    fn ptr_limit(&self, op: AluOp, dn: u8, ptr: &Reg, ptr_no: u8, mask_to_left: bool) -> Res<i64> {
        let (limit, max) = match ptr.kind {
            RegKind::Stack { .. } => {
                let v = ptr.var.var_off.value as i64;
                (-(v + ptr.off as i64), 512 + i64::from(mask_to_left))
            }
            RegKind::MapValue { map } => {
                let vs = self.maps.get(map as usize).map_or(0, |m| m.value_size) as i64;
                let base = if mask_to_left {
                    ptr.var.smin
                } else {
                    ptr.var.umax as i64
                };
                (base + ptr.off as i64, vs)
            }
            _ => {
                return Err(E::Malformed(format!(
                    "R{ptr_no} has pointer with unsupported alu operation, {SANITIZE_WHY}"
                )));
            }
        };
        if limit >= max {
            let name = if op == AluOp::Add { "add" } else { "sub" };
            return Err(E::Malformed(format!(
                "R{dn} tried to {name} beyond pointer bounds, {SANITIZE_WHY}"
            )));
        }
        Ok(limit)
    }

    /// `sanitize_ptr_alu` before the operation (unprivileged, register operand): the pointer
    /// must be one the kernel can mask and the scalar must have one sign. Returns the masking
    /// direction, the `alu_state` and the limit before the operation.
    #[allow(clippy::too_many_arguments)]
    fn sanitize_ptr_alu(
        &self,
        op: AluOp,
        dn: u8,
        ptr: &Reg,
        off: &Reg,
        reversed: bool,
        src_no: Option<u8>,
    ) -> Res<(bool, u32, i64)> {
        let off_no = if reversed { dn } else { src_no.unwrap_or(dn) };
        let ptr_no = if reversed { src_no.unwrap_or(dn) } else { dn };
        let off_is_neg = off.var.smin < 0;
        let off_is_imm = off.var.is_const();
        if !off_is_imm && (off.var.smin < 0) != (off.var.smax < 0) {
            return Err(E::Malformed(format!(
                "R{off_no} has unknown scalar with mixed signed bounds, {SANITIZE_WHY}"
            )));
        }
        let mask_to_left = (op == AluOp::Add && off_is_neg) || (op == AluOp::Sub && !off_is_neg);
        let limit = self.ptr_limit(op, dn, ptr, ptr_no, mask_to_left)?;
        let state = (u32::from(off_is_neg) * ALU_NEG_VALUE)
            | (u32::from(off_is_imm) * ALU_IMMEDIATE)
            | if reversed {
                ALU_SANITIZE_DST
            } else {
                ALU_SANITIZE_SRC
            };
        Ok((mask_to_left, state, limit))
    }

    /// `update_alu_sanitation_state`: one instruction must sanitize the same way on every path.
    fn update_alu_state(&mut self, op: AluOp, dn: u8, state: u32, limit: u64) -> Res<()> {
        let slot = &mut self.alu_aux[self.insn_idx];
        match slot {
            Some((s, l)) if *s != state || *l != limit => {
                let name = if op == AluOp::Add { "add" } else { "sub" };
                Err(E::Malformed(format!(
                    "R{dn} tried to {name} from different maps, paths or scalars, {SANITIZE_WHY}"
                )))
            }
            _ => {
                *slot = Some((state, limit));
                Ok(())
            }
        }
    }

    /// `sanitize_check_bounds`: for unprivileged programs the result must stay in bounds.
    fn sanitize_check_bounds(&self, dn: u8, r: &Reg) -> Res<()> {
        match r.kind {
            RegKind::Stack { .. } => {
                let Some(v) = r.var.const_value() else {
                    return Err(E::Malformed(format!(
                        "R{dn} variable stack access prohibited for !root, var_off={} off={}",
                        r.var.var_off,
                        r.off as i64 + r.var.var_off.value as i64
                    )));
                };
                let off = r.off as i64 + v as i64;
                if !(-512..0).contains(&off) {
                    return Err(E::Malformed(format!(
                        "R{dn} stack pointer arithmetic goes out of range, prohibited for !root; off={off}"
                    )));
                }
            }
            RegKind::MapValue { map } => {
                let vs = self.maps.get(map as usize).map_or(0, |m| m.value_size);
                if let Err(e) = super::mem::check_region(r, dn, r.off as i64, 1, vs, false) {
                    return Err(E::WithNote {
                        first: Box::new(e),
                        note: format!(
                            "R{dn} pointer arithmetic of map value goes out of range, prohibited for !root"
                        ),
                    });
                }
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn check_endian(&mut self, kind: Endian, dst: IsaReg, bits: u8) -> Res<()> {
        let d = self.src_reg(dst)?;
        if d.is_pointer() && !self.perfmon {
            return Err(E::Malformed(format!(
                "R{} pointer arithmetic prohibited",
                dst.num()
            )));
        }
        self.check_dst(dst)?;
        let v = if d.is_scalar() {
            domain::endian(kind, bits, &d.var)
        } else {
            Scalar::unknown()
        };
        self.set_reg(dst, Reg::scalar(v));
        Ok(())
    }
}

/// `check_reg_sane_offset`.
fn sane_offset(reg: &Reg, tname: &str, is_off: bool) -> Res<()> {
    let known = reg.var.is_const();
    let val = reg.var.smin;
    if is_off && known && !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&val) {
        return Err(E::Malformed(format!(
            "math between {tname} pointer and {val} is not allowed"
        )));
    }
    if !is_off && !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&(reg.off as i64)) {
        return Err(E::Malformed(format!(
            "{tname} pointer offset {} is not allowed",
            reg.off
        )));
    }
    if reg.var.smin == i64::MIN {
        return Err(E::Malformed(format!(
            "math between {tname} pointer and register with unbounded min value is not allowed"
        )));
    }
    if !(-MAX_VAR_OFF + 1..MAX_VAR_OFF).contains(&reg.var.smin) {
        return Err(E::PtrOutOfBounds {
            val: reg.var.smin,
            ty: tname.to_string(),
        });
    }
    Ok(())
}
