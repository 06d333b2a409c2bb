//! Dynamic pointers (`struct bpf_dynptr`): the kernel's `process_dynptr_func` and the stack
//! bookkeeping around it (`mark_stack_slots_dynptr`, `unmark_stack_slots_dynptr`,
//! `destroy_if_dynptr_stack_slot`).
//!
//! A dynptr lives in two whole stack slots marked [`SlotType::Dynptr`]; the upper one is its
//! first slot (the one a `struct bpf_dynptr *` points to). Constructors (`MEM_UNINIT`
//! arguments: `bpf_dynptr_from_mem`, `bpf_ringbuf_reserve_dynptr`, `bpf_dynptr_from_skb`...)
//! need two slots that hold no referenced dynptr; everything else needs an initialised dynptr,
//! of the expected kind when the argument names one. A ring-buffer dynptr holds a reference:
//! it cannot be overwritten, and `bpf_ringbuf_submit_dynptr`/`_discard_dynptr` release it
//! together with its clones and slices. Writing over an unreferenced dynptr destroys it and
//! invalidates its slices. Callbacks receive a `CONST_PTR_TO_DYNPTR`
//! ([`RegKind::ConstDynptr`]), which may be read but neither mutated nor released.

use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::prog_types::Access;
use crate::state::{DynptrKind, DynptrSlot, Reg, RegKind, SlotType, StackSlot};
use lull_isa::Reg as IsaReg;

/// `BPF_DYNPTR_SIZE`: a `struct bpf_dynptr` is two 8-byte slots.
const DYNPTR_SIZE: i64 = 16;

/// What a dynptr argument expects (`ARG_PTR_TO_DYNPTR` with its flags).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DynptrArg {
    /// `MEM_UNINIT`: the call constructs a dynptr of `kind` there.
    pub uninit: bool,
    /// `MEM_RDONLY`: the call does not mutate the dynptr (a const one is fine).
    pub rdonly: bool,
    /// `DYNPTR_TYPE_*`: the kind required (or constructed); `None` for any.
    pub kind: Option<DynptrKind>,
    /// `OBJ_RELEASE`: the call releases the dynptr.
    pub release: bool,
}

/// What a checked dynptr argument is (for slices and releases).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DynptrInfo {
    /// The dynptr's id (`dynptr_id` of its slices).
    pub id: u32,
    /// Its reference (ring-buffer dynptrs), 0 for none.
    pub ref_obj_id: u32,
    /// Its kind, when initialised.
    pub kind: Option<DynptrKind>,
}

impl Verifier<'_> {
    /// The frame a stack pointer points into.
    fn dynptr_frame(&self, reg: &Reg) -> usize {
        match reg.kind {
            RegKind::Stack { frame } => frame as usize,
            _ => self.cur.curframe(),
        }
    }

    /// `dynptr_get_spi`: the first slot of the dynptr at `reg`; `Ok(None)` when the slots are
    /// not allocated yet (`-ERANGE`).
    fn dynptr_spi(&self, reg: &Reg) -> Res<Option<usize>> {
        let Some(v) = reg.var.const_value() else {
            return Err(E::Malformed("dynptr has to be at a constant offset".into()));
        };
        let off = reg.off as i64 + v as i64;
        if off % 8 != 0 || off >= 0 || (-off - 1) / 8 < 1 {
            return Err(E::Malformed(format!(
                "cannot pass in dynptr at an offset={off}"
            )));
        }
        let spi = ((-off - 1) / 8) as usize;
        let allocated = self.cur.frames[self.dynptr_frame(reg)].stack.len();
        Ok((spi < allocated).then_some(spi))
    }

    /// `is_dynptr_reg_valid_init`: the first slot of an initialised dynptr, or why not.
    fn dynptr_valid_init(&self, reg: &Reg) -> Option<(usize, usize)> {
        let spi = self.dynptr_spi(reg).ok()??;
        let fr = self.dynptr_frame(reg);
        let stack = &self.cur.frames[fr].stack;
        let (hi, lo) = (&stack[spi], &stack[spi - 1]);
        let whole = |s: &StackSlot| s.types.iter().all(|t| *t == SlotType::Dynptr);
        (hi.dynptr.is_some_and(|d| d.first) && whole(hi) && whole(lo)).then_some((fr, spi))
    }

    /// What the (valid) dynptr argument `reg` is.
    pub(crate) fn dynptr_info(&self, reg: &Reg) -> DynptrInfo {
        if let RegKind::ConstDynptr(kind) = reg.kind {
            return DynptrInfo {
                id: reg.id,
                ref_obj_id: reg.ref_obj_id,
                kind: Some(kind),
            };
        }
        match self.dynptr_valid_init(reg) {
            Some((fr, spi)) => {
                let s = &self.cur.frames[fr].stack[spi];
                DynptrInfo {
                    id: s.spilled.id,
                    ref_obj_id: s.spilled.ref_obj_id,
                    kind: s.dynptr.map(|d| d.kind),
                }
            }
            None => DynptrInfo::default(),
        }
    }

    /// `process_dynptr_func` for argument register `regno` (plus the release checks of
    /// `check_func_arg`). `clone_ref` is the reference a clone shares with its parent.
    pub(crate) fn process_dynptr_arg(
        &mut self,
        regno: u8,
        arg: DynptrArg,
        clone_ref: u32,
    ) -> Res<DynptrInfo> {
        let reg = self.cur.regs()[regno as usize];
        let argno = regno - 1;
        let on_stack = matches!(reg.kind, RegKind::Stack { .. }) && !reg.maybe_null;
        if !on_stack && !matches!(reg.kind, RegKind::ConstDynptr(_)) {
            return Err(E::Malformed(format!(
                "arg#{argno} expected pointer to stack or const struct bpf_dynptr"
            )));
        }
        if arg.release {
            if !on_stack {
                return Err(E::Malformed(
                    "cannot release unowned const bpf_dynptr".into(),
                ));
            }
            let spi = self.dynptr_spi(&reg).ok().flatten();
            let fr = self.dynptr_frame(&reg);
            if spi.is_none_or(|spi| self.cur.frames[fr].stack[spi].spilled.ref_obj_id == 0) {
                return Err(E::Malformed(format!(
                    "arg {regno} is an unacquired reference"
                )));
            }
        }
        if arg.uninit {
            if !on_stack {
                return Err(E::Malformed(
                    "Dynptr has to be an uninitialized dynptr".into(),
                ));
            }
            // `is_dynptr_reg_valid_uninit`: only a bad offset fails here (after saying why).
            self.dynptr_spi(&reg).map_err(|why| E::WithNote {
                first: Box::new(why),
                note: "Dynptr has to be an uninitialized dynptr".into(),
            })?;
            let isa = IsaReg::new(regno).expect("r1..r5");
            for off in (0..DYNPTR_SIZE).step_by(8) {
                self.check_mem_access(isa, off, 8, Access::Write, None, None, false)?;
            }
            let kind = arg.kind.unwrap_or(DynptrKind::Local);
            return self.mark_dynptr_slots(&reg, kind, clone_ref);
        }
        if !on_stack && !arg.rdonly {
            return Err(E::Malformed(
                "cannot pass pointer to const bpf_dynptr, the helper mutates it".into(),
            ));
        }
        if on_stack {
            // The offset errors come first, as in `dynptr_get_spi`.
            self.dynptr_spi(&reg)?;
        }
        let initialised = !on_stack || self.dynptr_valid_init(&reg).is_some();
        if !initialised {
            return Err(E::Malformed(format!(
                "Expected an initialized dynptr as arg #{argno}"
            )));
        }
        let info = self.dynptr_info(&reg);
        if let Some(want) = arg.kind
            && info.kind != Some(want)
        {
            return Err(E::Malformed(format!(
                "Expected a dynptr of type {} as arg #{argno}",
                want.name()
            )));
        }
        Ok(info)
    }

    /// `mark_stack_slots_dynptr`: turns the two slots at `reg` into a dynptr of `kind`.
    fn mark_dynptr_slots(
        &mut self,
        reg: &Reg,
        kind: DynptrKind,
        clone_ref: u32,
    ) -> Res<DynptrInfo> {
        let spi = self
            .dynptr_spi(reg)?
            .ok_or_else(|| E::Malformed("dynptr slots missing after the write".into()))?;
        let fr = self.dynptr_frame(reg);
        self.destroy_dynptr_at(fr, spi)?;
        self.destroy_dynptr_at(fr, spi - 1)?;
        let id = self.new_id();
        let ref_obj_id = if !kind.refcounted() {
            0
        } else if clone_ref != 0 {
            clone_ref
        } else {
            let r = self.new_id();
            self.acquire_ref(r);
            r
        };
        let frameno = self.cur.frames[fr].frameno;
        for (i, first) in [(spi, true), (spi - 1, false)] {
            let s = &mut self.cur.frames[fr].stack[i];
            s.types = [SlotType::Dynptr; 8];
            s.iter = None;
            s.dynptr = Some(DynptrSlot { kind, first });
            s.spilled = Reg {
                id,
                ref_obj_id,
                ..Reg::pointer(RegKind::Stack { frame: frameno })
            };
        }
        Ok(DynptrInfo {
            id,
            ref_obj_id,
            kind: Some(kind),
        })
    }

    /// `destroy_if_dynptr_stack_slot`: a write into slot `spi` of frame `fr` destroys the
    /// unreferenced dynptr there (and invalidates its slices); a referenced one cannot be
    /// overwritten.
    pub(crate) fn destroy_dynptr_at(&mut self, fr: usize, spi: usize) -> Res<()> {
        let stack = &self.cur.frames[fr].stack;
        let Some(s) = stack.get(spi).filter(|s| s.is_dynptr()) else {
            return Ok(());
        };
        let first = if s.dynptr.is_some_and(|d| d.first) {
            spi
        } else {
            spi + 1
        };
        let Some(head) = stack.get(first).copied() else {
            return Ok(());
        };
        if head.dynptr.is_some_and(|d| d.kind.refcounted()) {
            return Err(E::Malformed("cannot overwrite referenced dynptr".into()));
        }
        let id = head.spilled.id;
        self.invalidate_dynptr(fr, first);
        self.invalidate_slices(id);
        Ok(())
    }

    /// `invalidate_dynptr`: both slots become uninitialised.
    fn invalidate_dynptr(&mut self, fr: usize, first: usize) {
        for i in [first, first.wrapping_sub(1)] {
            if let Some(s) = self.cur.frames[fr].stack.get_mut(i) {
                *s = StackSlot::INVALID;
            }
        }
    }

    /// Slices of dynptr `id` become unusable (`mark_reg_invalid`).
    fn invalidate_slices(&mut self, id: u32) {
        if id == 0 {
            return;
        }
        let privileged = self.perfmon;
        self.cur.for_each_reg(|r| {
            if matches!(r.kind, RegKind::Mem { dynptr, .. } if dynptr == id) {
                *r = if privileged {
                    Reg::unknown()
                } else {
                    Reg::NOT_INIT
                };
            }
        });
    }

    /// `unmark_stack_slots_dynptr`: the release of the dynptr at `reg` (already checked):
    /// its reference, slices and clones go.
    pub(crate) fn release_dynptr(&mut self, reg: &Reg) -> Res<()> {
        let Some(spi) = self.dynptr_spi(reg)? else {
            return Ok(());
        };
        let fr = self.dynptr_frame(reg);
        let head = self.cur.frames[fr].stack[spi];
        if !head.dynptr.is_some_and(|d| d.kind.refcounted()) {
            self.invalidate_dynptr(fr, spi);
            return Ok(());
        }
        let ref_obj_id = head.spilled.ref_obj_id;
        self.release_reference(ref_obj_id)?;
        let clones: Vec<usize> = self.cur.frames[fr]
            .stack
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.is_dynptr()
                    && s.spilled.ref_obj_id == ref_obj_id
                    && s.dynptr.is_some_and(|d| d.first)
            })
            .map(|(i, _)| i)
            .collect();
        for i in clones {
            self.invalidate_dynptr(fr, i);
        }
        Ok(())
    }

    /// `potential write to dynptr`: a helper writing uninitialised memory over `[lo, hi)` of
    /// frame `fr` must not touch a dynptr.
    pub(crate) fn raw_write_over_dynptr(&self, fr: usize, lo: i64, hi: i64) -> Res<()> {
        let stack = &self.cur.frames[fr].stack;
        for i in lo..hi {
            let slot = (-i - 1) as usize;
            if let Some(s) = stack.get(slot / 8)
                && s.types[slot % 8] == SlotType::Dynptr
            {
                return Err(E::Malformed(format!(
                    "potential write to dynptr at off={i} disallowed"
                )));
            }
        }
        Ok(())
    }
}
