//! Loads, stores and atomics (`check_mem_access` and friends): which memory a pointer of
//! each type may reach — map values and keys, context fields, packets, sized memory, the
//! stack — and what a load yields.

use crate::domain::Scalar;
use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::prog_types::{Access, CtxField};
use crate::state::{Reg, RegKind};
use lull_isa::{AtomicOp, LdImm64Kind, Operand, Reg as IsaReg, Size};

/// The kernel's `BPF_MAX_VAR_OFF`.
const MAX_VAR_OFF: u64 = 1 << 29;

/// Where a memory access comes from (`enum bpf_access_src`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Src {
    /// A load or store instruction.
    Insn,
    /// A helper reading or writing through an argument.
    Helper,
}

/// `__check_mem_access` failure text for a region of `mem_size` bytes.
pub(crate) fn region_error(reg: &Reg, regno: u8, off: i64, size: u32, mem_size: u32) -> E {
    match reg.kind {
        RegKind::MapKey { .. } => E::MapKeyAccess {
            key_size: mem_size,
            off,
            size,
        },
        RegKind::MapValue { .. } => E::MapValueAccess {
            value_size: mem_size,
            off,
            size,
        },
        RegKind::Packet | RegKind::PacketMeta | RegKind::PacketEnd => E::PacketAccess {
            off,
            size,
            reg: regno,
            id: reg.id,
            roff: off as i32,
            range: mem_size as i32,
        },
        _ => E::MemAccess {
            mem_size,
            off,
            size,
        },
    }
}

fn in_region(off: i64, size: u32, mem_size: u32, zero_ok: bool) -> bool {
    let size_ok = size > 0 || zero_ok;
    off >= 0 && size_ok && off as u64 + size as u64 <= mem_size as u64
}

/// `check_mem_region_access`: a fixed offset plus the register's variable offset stays within
/// `[0, mem_size)`.
pub(crate) fn check_region(
    reg: &Reg,
    regno: u8,
    off: i64,
    size: u32,
    mem_size: u32,
    zero_ok: bool,
) -> Res<()> {
    let v = &reg.var;
    if v.smin < 0
        && (v.smin == i64::MIN
            || (off + v.smin) != (off + v.smin) as i32 as i64
            || v.smin + off < 0)
    {
        return Err(E::MinNegative { reg: regno });
    }
    let lo = v.smin + off;
    if !in_region(lo, size, mem_size, zero_ok) {
        return Err(E::WithNote {
            first: Box::new(region_error(reg, regno, lo, size, mem_size)),
            note: format!("R{regno} min value is outside of the allowed memory range"),
        });
    }
    if v.umax >= MAX_VAR_OFF {
        return Err(E::UnboundedMemAccess { reg: regno });
    }
    let hi = v.umax as i64 + off;
    if !in_region(hi, size, mem_size, zero_ok) {
        return Err(E::WithNote {
            first: Box::new(region_error(reg, regno, hi, size, mem_size)),
            note: format!("R{regno} max value is outside of the allowed memory range"),
        });
    }
    Ok(())
}

/// `check_packet_access`: the fixed offset must be within the range proven by a `data_end` check.
pub(crate) fn check_packet(reg: &Reg, regno: u8, off: i64, size: u32, zero_ok: bool) -> Res<()> {
    if reg.var.smin < 0 {
        return Err(E::MinNegative { reg: regno });
    }
    if reg.range < 0 {
        return Err(E::Malformed(format!(
            "R{regno} offset is outside of the packet"
        )));
    }
    if !in_region(off, size, reg.range as u32, zero_ok) {
        return Err(E::WithNote {
            first: Box::new(region_error(reg, regno, off, size, reg.range as u32)),
            note: format!("R{regno} offset is outside of the packet"),
        });
    }
    Ok(())
}

impl Verifier<'_> {
    /// `check_mem_access`: an access of `size` bytes at `insn_off` from register `regno`.
    /// For loads, `value` is the destination register, set from what the memory holds; for
    /// stores it is the source (`None` for an immediate store, with its value in `imm`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn check_mem_access(
        &mut self,
        regno: IsaReg,
        insn_off: i64,
        size: u32,
        access: Access,
        value: Option<IsaReg>,
        imm: Option<i32>,
        sx: bool,
    ) -> Res<()> {
        let reg = self.cur.regs()[regno.index()];
        let rn = regno.num();
        let privileged = self.perfmon;
        self.check_alignment(&reg, insn_off, size, false)?;
        let off = insn_off + reg.off as i64;
        let leaks = |v: Option<IsaReg>, cur: &crate::state::State| -> Option<u8> {
            let r = v?;
            (access == Access::Write && !privileged && cur.regs()[r.index()].is_pointer())
                .then_some(r.num())
        };
        let mut loaded: Option<Reg> = None;
        match reg.kind {
            _ if reg.maybe_null => {
                return Err(E::InvalidMemAccess {
                    reg: rn,
                    ty: reg.type_str(),
                });
            }
            RegKind::MapKey { map } => {
                if access == Access::Write {
                    return Err(E::Malformed(format!(
                        "write to change key R{rn} not allowed"
                    )));
                }
                let ks = self.maps.get(map as usize).map_or(0, |m| m.key_size);
                check_region(&reg, rn, off, size, ks, false)?;
                loaded = Some(Reg::unknown());
            }
            RegKind::MapValue { map } => {
                if let Some(r) = leaks(value, &self.cur) {
                    return Err(E::LeakIntoMap(r));
                }
                let m = self.maps.get(map as usize);
                let (vs, flags) = m.map_or((0, 0), |m| (m.value_size, m.flags));
                if access == Access::Write && flags & lull_abi::map_flags::RDONLY_PROG != 0 {
                    return Err(E::MapWriteForbidden {
                        value_size: vs,
                        off: off + reg.var.smin,
                        size,
                    });
                }
                if access == Access::Read && flags & lull_abi::map_flags::WRONLY_PROG != 0 {
                    return Err(E::Malformed(format!(
                        "read from map forbidden, value_size={vs} off={} size={size}",
                        off + reg.var.smin
                    )));
                }
                check_region(&reg, rn, off, size, vs, false)?;
                if let Some(m) = m {
                    self.check_map_special_fields(m, &reg, off, size)?;
                }
                // A read-only map's contents are known (bpf_map_direct_read).
                let known = m
                    .and_then(|m| m.rdonly_data.as_deref())
                    .zip(reg.var.const_value())
                    .and_then(|(data, v)| {
                        let at = usize::try_from(off + v as i64).ok()?;
                        let bytes = data.get(at..at + size as usize)?;
                        let mut buf = [0u8; 8];
                        buf[..bytes.len()].copy_from_slice(bytes);
                        let raw = u64::from_le_bytes(buf);
                        Some(if sx {
                            let shift = 64 - 8 * size;
                            (((raw << shift) as i64) >> shift) as u64
                        } else {
                            raw
                        })
                    });
                loaded = Some(known.map_or_else(Reg::unknown, Reg::known));
            }
            RegKind::Mem {
                size: mem_size,
                rdonly,
                ..
            } => {
                if access == Access::Write && rdonly {
                    return Err(E::CannotWrite {
                        reg: rn,
                        ty: reg.type_str(),
                    });
                }
                if let Some(r) = leaks(value, &self.cur) {
                    return Err(E::LeakIntoMem(r));
                }
                check_region(&reg, rn, off, size, mem_size, false)?;
                loaded = Some(Reg::unknown());
            }
            RegKind::Ctx => {
                if let Some(r) = leaks(value, &self.cur) {
                    return Err(E::LeakIntoCtx(r));
                }
                if reg.off < 0 {
                    return Err(E::Malformed(format!(
                        "negative offset ctx ptr R{rn} off={} disallowed",
                        reg.off
                    )));
                }
                if reg.off != 0 {
                    return Err(E::ModifiedCtx {
                        reg: rn,
                        off: reg.off,
                    });
                }
                if !reg.var.is_const() || reg.var.const_value() != Some(0) {
                    return Err(E::VarCtxAccess {
                        var: reg.var.var_off.to_string(),
                    });
                }
                if let Some(v) = self.btf_ctx_load(off, size, access) {
                    loaded = Some(v?);
                } else {
                    let field = self
                        .pt
                        .ctx_access(off, size, access, sx)
                        .ok_or(E::CtxAccess { off, size })?;
                    loaded = Some(match field {
                        CtxField::Scalar => Reg::unknown(),
                        CtxField::PacketData => Reg::pointer(RegKind::Packet),
                        CtxField::PacketEnd => Reg::pointer(RegKind::PacketEnd),
                        CtxField::PacketMeta => Reg::pointer(RegKind::PacketMeta),
                        CtxField::KernelPtr => {
                            Reg::pointer(RegKind::kernel_ptr(crate::state::PtrTrust::Trusted))
                        }
                        CtxField::Socket => {
                            Reg::pointer(RegKind::Sock(crate::state::SockKind::Full))
                        }
                        CtxField::SockCommonOrNull => {
                            let mut r = Reg::pointer(RegKind::Sock(crate::state::SockKind::Common));
                            r.maybe_null = true;
                            r.id = self.new_id();
                            r
                        }
                    });
                }
            }
            RegKind::Stack { .. } => {
                self.check_stack_bounds(regno, &reg, off, size as i64, access, Src::Insn)?;
                match access {
                    Access::Read => {
                        loaded = Some(self.check_stack_read(&reg, off, size, rn)?);
                    }
                    Access::Write => {
                        self.check_stack_write(&reg, off, size, value, imm)?;
                    }
                }
            }
            RegKind::Packet | RegKind::PacketMeta => {
                if access == Access::Write && !self.pt.packet_access().1 {
                    return Err(E::PacketWriteNotAllowed);
                }
                if let Some(r) = leaks(value, &self.cur) {
                    return Err(E::Malformed(format!("R{r} leaks addr into packet")));
                }
                check_packet(&reg, rn, off, size, false)?;
                loaded = Some(Reg::unknown());
            }
            RegKind::Sock(kind) => {
                if access == Access::Write {
                    return Err(E::CannotWrite {
                        reg: rn,
                        ty: reg.type_str(),
                    });
                }
                if reg.var.smin < 0 {
                    return Err(E::MinNegative { reg: rn });
                }
                if !crate::prog_types::sock_access(kind, off, size, access) {
                    return Err(E::Malformed(format!(
                        "R{rn} invalid {} access off={off} size={size}",
                        reg.type_str()
                    )));
                }
                loaded = Some(Reg::unknown());
            }
            RegKind::ConstMap { map } => {
                // check_ptr_to_map_access: read-only fields of the map's kernel struct.
                use lull_abi::MapType as M;
                let tname = match self.maps.get(map as usize).map(|m| m.map_type) {
                    Some(
                        M::Array
                        | M::PercpuArray
                        | M::ProgArray
                        | M::PerfEventArray
                        | M::CgroupArray
                        | M::ArrayOfMaps,
                    ) => "bpf_array",
                    Some(
                        M::Hash | M::PercpuHash | M::LruHash | M::LruPercpuHash | M::HashOfMaps,
                    ) => "bpf_htab",
                    _ => "bpf_map",
                };
                if !self.perfmon {
                    return Err(E::Malformed(format!(
                        "'struct {tname}' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"
                    )));
                }
                if off < 0 {
                    return Err(E::Malformed(format!(
                        "R{rn} is {tname} invalid negative access: off={off}"
                    )));
                }
                if access == Access::Write {
                    return Err(E::Malformed(format!("only read from {tname} is supported")));
                }
                loaded = Some(Reg::unknown());
            }
            RegKind::KernelPtr { .. } => {
                loaded = Some(self.check_btf_access(&reg, rn, off, size, access)?);
            }
            _ => {
                return Err(E::InvalidMemAccess {
                    reg: rn,
                    ty: reg.type_str(),
                });
            }
        }
        if access == Access::Read
            && let (Some(dst), Some(mut v)) = (value, loaded)
        {
            if v.is_scalar() && size < 8 {
                if sx {
                    v.var.coerce_to_size_sx(size as u8);
                } else {
                    v.var.coerce_to_size(size as u8);
                }
            }
            self.set_reg(dst, v);
        }
        Ok(())
    }

    /// `check_ptr_alignment`: stack accesses are always aligned; others only with
    /// `BPF_F_STRICT_ALIGNMENT` (or for atomics, `strict_once`). Packets assume `NET_IP_ALIGN` 2.
    pub(crate) fn check_alignment(
        &self,
        reg: &Reg,
        insn_off: i64,
        size: u32,
        strict_once: bool,
    ) -> Res<()> {
        let mut strict = self.strict_alignment || strict_once;
        let tn = |v: &Scalar| v.var_off.to_string();
        let desc = match reg.kind {
            RegKind::Packet | RegKind::PacketMeta => {
                if !strict || size == 1 {
                    return Ok(());
                }
                let total = reg.var.var_off.add(crate::domain::Tnum::constant(
                    (2 + reg.off as i64 + insn_off) as u64,
                ));
                if !total.is_aligned(size as u64) {
                    return Err(E::Malformed(format!(
                        "misaligned packet access off 2+{}+{}+{insn_off} size {size}",
                        tn(&reg.var),
                        reg.off
                    )));
                }
                return Ok(());
            }
            RegKind::MapKey { .. } => "key ",
            RegKind::MapValue { .. } => "value ",
            RegKind::Ctx => "context ",
            RegKind::Stack { .. } => {
                strict = true;
                "stack "
            }
            RegKind::Sock(_) => match reg.kind.name() {
                "sock" => "sock ",
                "sock_common" => "sock_common ",
                "tcp_sock" => "tcp_sock ",
                _ => "xdp_sock ",
            },
            _ => "",
        };
        if !strict || size == 1 {
            return Ok(());
        }
        let total = reg.var.var_off.add(crate::domain::Tnum::constant(
            (reg.off as i64 + insn_off) as u64,
        ));
        if !total.is_aligned(size as u64) {
            return Err(E::Malformed(format!(
                "misaligned {desc}access off {}+{}+{insn_off} size {size}",
                tn(&reg.var),
                reg.off
            )));
        }
        Ok(())
    }

    /// Direct loads and stores must not touch a `bpf_spin_lock` or `bpf_timer` in a map value.
    fn check_map_special_fields(
        &self,
        m: &crate::input::MapInfo,
        reg: &Reg,
        off: i64,
        size: u32,
    ) -> Res<()> {
        let lo = off + reg.var.smin;
        let hi = off + reg.var.umax as i64 + size as i64;
        for (field, fsize, name) in [
            (m.spin_lock_off, 4, "bpf_spin_lock"),
            (m.timer_off, 16, "bpf_timer"),
        ] {
            if let Some(f) = field {
                let f = f as i64;
                if lo < f + fsize && f < hi {
                    return Err(E::Malformed(format!(
                        "{name} cannot be accessed directly by load/store"
                    )));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn check_load(
        &mut self,
        size: Size,
        signed: bool,
        dst: IsaReg,
        src: IsaReg,
        off: i16,
    ) -> Res<()> {
        let ptr = self.src_reg(src)?;
        self.check_dst(dst)?;
        self.check_mem_access(
            src,
            off as i64,
            size.bytes(),
            Access::Read,
            Some(dst),
            None,
            signed,
        )?;
        self.save_aux_ptr_type(&ptr, true)
    }

    /// `save_aux_ptr_type`: a load or store instruction is rewritten for the pointer type it
    /// accesses, so every path must give it the same type when one of them is a context,
    /// socket or kernel pointer (those accesses are rewritten differently).
    fn save_aux_ptr_type(&mut self, ptr: &Reg, allow_trust_mismatch: bool) -> Res<()> {
        // Types whose accesses the kernel rewrites (reg_type_mismatch_ok() is false).
        let sensitive = |k: &RegKind| {
            matches!(
                k,
                RegKind::Ctx | RegKind::Sock(_) | RegKind::KernelPtr { .. }
            )
        };
        let ty = ptr.type_str();
        let btf = matches!(ptr.kind, RegKind::KernelPtr { .. });
        let entry = self.insn_ptr_types.entry(self.insn_idx);
        let std::collections::hash_map::Entry::Occupied(mut prev) = entry else {
            entry.or_insert((ty, sensitive(&ptr.kind), btf));
            return Ok(());
        };
        let (prev_ty, prev_sensitive, prev_btf) = prev.get().clone();
        if prev_ty == ty || (!prev_sensitive && !sensitive(&ptr.kind)) {
            return Ok(());
        }
        if allow_trust_mismatch && btf && prev_btf {
            // One path trusted, another not: the load falls back to an untrusted probe.
            prev.insert(("untrusted_ptr_".into(), true, true));
            return Ok(());
        }
        Err(E::Malformed(
            "same insn cannot be used with different pointers".into(),
        ))
    }

    pub(crate) fn check_store(
        &mut self,
        size: Size,
        dst: IsaReg,
        off: i16,
        src: Operand,
    ) -> Res<()> {
        match src {
            Operand::Reg(r) => {
                self.src_reg(r)?;
                let ptr = self.src_reg(dst)?;
                self.check_mem_access(
                    dst,
                    off as i64,
                    size.bytes(),
                    Access::Write,
                    Some(r),
                    None,
                    false,
                )?;
                self.save_aux_ptr_type(&ptr, false)
            }
            Operand::Imm(imm) => {
                // Since Linux 6.2 immediate stores into the context are checked like
                // register stores (and rewritten by `convert_ctx_access`).
                let d = self.src_reg(dst)?;
                self.check_mem_access(
                    dst,
                    off as i64,
                    size.bytes(),
                    Access::Write,
                    None,
                    Some(imm),
                    false,
                )?;
                self.save_aux_ptr_type(&d, false)
            }
        }
    }

    pub(crate) fn check_atomic(
        &mut self,
        size: Size,
        op: AtomicOp,
        dst: IsaReg,
        src: IsaReg,
        off: i16,
    ) -> Res<()> {
        match op {
            AtomicOp::LoadAcquire => return self.check_load(size, false, dst, src, off),
            AtomicOp::StoreRelease => return self.check_store(size, dst, off, Operand::Reg(src)),
            _ => {}
        }
        if !matches!(size, Size::W | Size::DW) {
            return Err(E::AtomicSize);
        }
        self.src_reg(src)?;
        let d = self.src_reg(dst)?;
        if op == AtomicOp::CmpXchg {
            self.src_reg(IsaReg::R0)?;
            let r0 = self.cur.regs()[0];
            if r0.is_pointer() && !self.perfmon {
                return Err(E::Malformed("R0 leaks addr into mem".into()));
            }
        }
        let s = self.cur.regs()[src.index()];
        if s.is_pointer() && !self.perfmon {
            return Err(E::Malformed(format!("R{} leaks addr into mem", src.num())));
        }
        if matches!(d.kind, RegKind::Ctx | RegKind::Packet | RegKind::PacketMeta) {
            return Err(E::AtomicNotAllowed {
                reg: dst.num(),
                ty: d.type_str(),
            });
        }
        let fetch = matches!(
            op,
            AtomicOp::Add { fetch: true }
                | AtomicOp::Or { fetch: true }
                | AtomicOp::And { fetch: true }
                | AtomicOp::Xor { fetch: true }
                | AtomicOp::Xchg
                | AtomicOp::CmpXchg
        );
        let load_reg = match op {
            AtomicOp::CmpXchg => IsaReg::R0,
            _ => src,
        };
        self.check_alignment(&d, off as i64, size.bytes(), true)?;
        // Read then write, as the kernel checks both.
        let saved = self.cur.regs()[load_reg.index()];
        self.check_mem_access(
            dst,
            off as i64,
            size.bytes(),
            Access::Read,
            Some(load_reg),
            None,
            false,
        )?;
        let loaded = self.cur.regs()[load_reg.index()];
        self.cur.regs_mut()[load_reg.index()] = saved;
        if fetch && loaded.is_pointer() && !self.perfmon {
            return Err(E::Malformed("atomic fetch of a pointer".into()));
        }
        self.check_mem_access(
            dst,
            off as i64,
            size.bytes(),
            Access::Write,
            Some(src),
            None,
            false,
        )?;
        if fetch {
            let mut v = if loaded.is_scalar() {
                loaded
            } else {
                Reg::unknown()
            };
            if size == Size::W {
                v.var.coerce_to_size(4);
            }
            v.id = 0;
            self.set_reg(load_reg, v);
        }
        Ok(())
    }

    /// `check_ld_imm`: constants, map pointers, map values and subprogram addresses.
    pub(crate) fn check_ld_imm64(
        &mut self,
        dst: IsaReg,
        kind: LdImm64Kind,
        imm: i32,
        next_imm: i32,
    ) -> Res<()> {
        self.check_dst(dst)?;
        let map_at = |v: &Self, i: i32| -> Res<u32> {
            if i < 0 || i as usize >= v.input.maps.len() {
                return Err(E::BadMapFd(i));
            }
            Ok(i as u32)
        };
        let reg = match kind {
            LdImm64Kind::Imm => Reg::known(lull_isa::Insn::imm64(imm, next_imm)),
            LdImm64Kind::MapFd | LdImm64Kind::MapIdx => Reg::pointer(RegKind::ConstMap {
                map: map_at(self, imm)?,
            }),
            LdImm64Kind::MapValue | LdImm64Kind::MapIdxValue => {
                let map = map_at(self, imm)?;
                if self.maps[map as usize].map_type == lull_abi::MapType::Arena {
                    // An address of an `__arena` global: the kernel knows nothing of it.
                    self.set_reg(dst, Reg::scalar(crate::domain::Scalar::unknown()));
                    return Ok(());
                }
                let mut r = Reg::pointer(RegKind::MapValue { map });
                r.off = next_imm;
                r
            }
            LdImm64Kind::Func => {
                let target = (self.insn_idx as i64 + imm as i64 + 1) as usize;
                let sp = self
                    .prog
                    .subprog_at(target)
                    .ok_or(E::InvalidCallDestination)?;
                Reg::pointer(RegKind::Func { subprog: sp as u32 })
            }
            LdImm64Kind::BtfId => {
                Reg::pointer(RegKind::kernel_ptr(crate::state::PtrTrust::Trusted))
            }
        };
        self.set_reg(dst, reg);
        Ok(())
    }

    /// `check_ld_abs`: legacy packet loads through the context in `r6`.
    pub(crate) fn check_ld_abs(&mut self, _size: Size, src: Option<IsaReg>) -> Res<()> {
        if !self.pt.may_access_skb() {
            return Err(E::LdAbsNotAllowed);
        }
        if !self.cur.refs.is_empty() {
            let r = self.cur.refs[0];
            return Err(E::WithNote {
                first: Box::new(E::UnreleasedRef {
                    id: r.id,
                    insn: r.insn,
                }),
                note: "BPF_LD_[ABS|IND] would lead to reference leak".into(),
            });
        }
        if self.cur.lock.is_some() {
            return Err(E::InsideLock("BPF_LD_[ABS|IND]"));
        }
        let r6 = self.src_reg(IsaReg::R6)?;
        if let Some(s) = src {
            self.src_reg(s)?;
        }
        if r6.kind != RegKind::Ctx {
            return Err(E::LdAbsNeedsSkb);
        }
        for r in 1..=5u8 {
            self.cur.regs_mut()[r as usize] = Reg::NOT_INIT;
        }
        // A failed load returns 0 from the current function: in a subprogram that is an extra
        // path back to the caller with r0 = 0.
        if self.cur.curframe() > 0 {
            let mut early = self.cur.clone();
            let callee = early.frames.pop().expect("curframe > 0");
            early.regs_mut()[0] = Reg::known(0);
            self.push_branch(early, callee.callsite + 1)?;
        }
        self.set_reg(IsaReg::R0, Reg::scalar(Scalar::unknown()));
        Ok(())
    }
}
