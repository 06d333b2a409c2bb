//! Open-coded iterators: the kernel's `process_iter_arg` and `process_iter_next_call`.
//!
//! An iterator (`struct bpf_iter_<kind>`) lives in whole 8-byte stack slots marked
//! [`SlotType::Iter`]. `bpf_iter_<kind>_new` needs uninitialised slots and turns them into an
//! active iterator holding a reference (which must be released by `_destroy` before exit);
//! `_next` and `_destroy` (and any kfunc argument named `…__iter`) need an initialised one of
//! the same kind. Each `_next` call forks the path: here the iterator is drained and returns
//! NULL, the queued path gets an element and one more iteration (`depth`), with the scalars
//! that changed since the previous iteration widened. Loops converge when a `_next` call meets
//! an equivalent state from an earlier iteration (see [`crate::prune`]).

use crate::error::VerifierError as E;
use crate::explore::{Res, Verifier};
use crate::prog_types::Access;
pub(crate) use crate::proto::iters::{IterError, SlotError};
use crate::state::{IterSlot, IterState, Reg, RegKind, SlotType, StackSlot};
use lull_isa::Reg as IsaReg;

/// Where an initialised iterator argument lives (`meta->iter`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IterRef {
    /// Frame index of the stack holding it.
    pub frame: usize,
    /// Its first (highest) slot.
    pub spi: usize,
    /// The iterator's reference id.
    pub ref_obj_id: u32,
}

/// What a kfunc does with its iterator argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IterRole {
    /// `KF_ITER_NEW`: initialise.
    New,
    /// `KF_ITER_NEXT`, or a kfunc taking an `__iter` argument: use.
    Use,
    /// `KF_ITER_DESTROY`: use, then release.
    Destroy,
}

/// The iterator argument's expected type (from the kfunc's BTF).
#[derive(Clone, Copy, Debug)]
pub(crate) struct IterType {
    /// The struct's id in the kernel BTF.
    pub btf_id: u32,
    /// `<kind>` of `bpf_iter_<kind>`.
    pub kind: &'static str,
    /// The struct's size in 8-byte slots.
    pub nr_slots: usize,
}

/// A regular write into an iterator's slot turns its bytes into plain data
/// (`scrub_special_slot`): the iterator is gone, its reference stays unreleased.
pub(crate) fn scrub_iter_slot(s: &mut StackSlot) {
    if s.types.contains(&SlotType::Iter) {
        for t in s.types.iter_mut() {
            if *t == SlotType::Iter {
                *t = SlotType::Misc;
            }
        }
        s.spilled = Reg::NOT_INIT;
        s.iter = None;
    }
}

impl Verifier<'_> {
    /// The stack frame a stack pointer points into.
    fn stack_frame(&self, reg: &Reg) -> usize {
        match reg.kind {
            RegKind::Stack { frame } => frame as usize,
            _ => self.cur.curframe(),
        }
    }

    /// `iter_get_spi`: the first slot of an iterator of `nr_slots` slots at `reg`; `Ok(None)`
    /// when the slots are not allocated yet (`-ERANGE`).
    fn iter_spi(&self, reg: &Reg, nr_slots: usize) -> Result<Option<usize>, SlotError> {
        let v = reg.var.const_value().ok_or(SlotError::VarOffset)?;
        let off = reg.off as i64 + v as i64;
        if off % 8 != 0 || off >= 0 {
            return Err(SlotError::Offset(off));
        }
        let spi = ((-off - 1) / 8) as usize;
        if spi + 1 < nr_slots {
            return Err(SlotError::Offset(off));
        }
        let allocated = self.cur.frames[self.stack_frame(reg)].stack.len();
        Ok((spi < allocated).then_some(spi))
    }

    /// `is_iter_reg_valid_init`: the slots hold an iterator of type `ty` usable here.
    fn iter_valid_init(&self, fr: usize, spi: usize, ty: &IterType) -> Result<(), bool> {
        let stack = &self.cur.frames[fr].stack;
        for i in 0..ty.nr_slots {
            let s = &stack[spi - i];
            let Some(it) = s.iter else {
                return Err(false);
            };
            if it.rcu == Some(false) {
                return Err(true);
            }
            if (i == 0) != (s.spilled.ref_obj_id != 0)
                || it.btf_id != ty.btf_id
                || s.types.iter().any(|t| *t != SlotType::Iter)
            {
                return Err(false);
            }
        }
        Ok(())
    }

    /// `process_iter_arg`: checks iterator argument `regno` of kfunc `func` and applies its
    /// effect (initialise, or destroy). Returns the iterator for `Use` and `Destroy`.
    pub(crate) fn process_iter_arg(
        &mut self,
        regno: u8,
        func: &str,
        role: IterRole,
        ty: IterType,
        rcu_protected: bool,
    ) -> Res<Option<IterRef>> {
        let arg = regno - 1;
        let isa = IsaReg::new(regno).expect("r1..r5");
        let reg = self.cur.regs()[regno as usize];
        if !matches!(reg.kind, RegKind::Stack { .. }) || reg.maybe_null {
            return Err(IterError::NotOnStack { arg }.into());
        }
        let fr = self.stack_frame(&reg);
        if role == IterRole::New {
            let uninit = |slot| IterError::ExpectedUninit {
                kind: ty.kind,
                arg,
                slot,
            };
            match self.iter_spi(&reg, ty.nr_slots) {
                Err(e) => return Err(uninit(Some(e)).into()),
                Ok(Some(spi)) => {
                    let stack = &self.cur.frames[fr].stack;
                    if (0..ty.nr_slots).any(|i| stack[spi - i].types.contains(&SlotType::Iter)) {
                        return Err(uninit(None).into());
                    }
                }
                Ok(None) => {}
            }
            for i in 0..ty.nr_slots as i64 {
                self.check_mem_access(isa, i * 8, 8, Access::Write, None, None, false)?;
            }
            let spi = self
                .iter_spi(&reg, ty.nr_slots)
                .ok()
                .flatten()
                .ok_or_else(|| E::Malformed("iterator slots missing after the write".into()))?;
            let rcu = rcu_protected.then(|| self.in_rcu_cs());
            let id = self.new_id();
            self.acquire_ref(id);
            let frameno = self.cur.frames[fr].frameno;
            for i in 0..ty.nr_slots {
                let s = &mut self.cur.frames[fr].stack[spi - i];
                s.types = [SlotType::Iter; 8];
                s.spilled = Reg {
                    ref_obj_id: if i == 0 { id } else { 0 },
                    ..Reg::pointer(RegKind::Stack { frame: frameno })
                };
                s.iter = Some(IterSlot {
                    btf_id: ty.btf_id,
                    kind: ty.kind,
                    state: IterState::Active,
                    depth: 0,
                    rcu,
                });
            }
            return Ok(None);
        }
        let init = |slot| IterError::ExpectedInit {
            kind: ty.kind,
            arg,
            slot,
        };
        let spi = match self.iter_spi(&reg, ty.nr_slots) {
            Err(e) => return Err(init(Some(e)).into()),
            Ok(None) => return Err(init(None).into()),
            Ok(Some(spi)) => spi,
        };
        match self.iter_valid_init(fr, spi, &ty) {
            Ok(()) => {}
            Err(true) => return Err(IterError::NeedsRcu { func: func.into() }.into()),
            Err(false) => return Err(init(None).into()),
        }
        let ref_obj_id = self.cur.frames[fr].stack[spi].spilled.ref_obj_id;
        if role == IterRole::Destroy {
            self.release_reference(ref_obj_id)?;
            for i in 0..ty.nr_slots {
                self.cur.frames[fr].stack[spi - i] = StackSlot::INVALID;
            }
        }
        Ok(Some(IterRef {
            frame: fr,
            spi,
            ref_obj_id,
        }))
    }

    /// The iterator state `it` refers to.
    pub(crate) fn iter_slot(&self, it: &IterRef) -> Option<IterSlot> {
        self.cur.frames.get(it.frame)?.stack.get(it.spi)?.iter
    }

    /// `process_iter_next_call`: fork at `bpf_iter_<kind>_next`. The queued path gets an
    /// element (r0 not NULL) and one more iteration; this path drains the iterator (r0 = 0).
    pub(crate) fn process_iter_next_call(&mut self, it: &IterRef) -> Res<()> {
        let Some(cur) = self.iter_slot(it) else {
            return Err(E::Malformed(
                "verifier internal error: iterator state vanished".into(),
            ));
        };
        if cur.state == IterState::Active {
            let mut queued = self.cur.clone();
            if let Some(qi) = queued.frames[it.frame].stack[it.spi].iter.as_mut() {
                qi.depth += 1;
            }
            if let Some(prev) = self.prev_loop_entry() {
                crate::prune::widen_imprecise(&self.ckpts.arena[prev].state, &mut queued);
            }
            queued.regs_mut()[0].maybe_null = false;
            self.push_branch(queued, self.insn_idx + 1)?;
        }
        if let Some(ci) = self.cur.frames[it.frame].stack[it.spi].iter.as_mut() {
            ci.state = IterState::Drained;
        }
        self.set_reg(IsaReg::R0, Reg::known(0));
        Ok(())
    }

    /// Marks RCU-protected iterators untrusted when the RCU section ends (`bpf_rcu_read_unlock`).
    pub(crate) fn iters_leave_rcu(&mut self) {
        for f in &mut self.cur.frames {
            for s in &mut f.stack {
                if let Some(it) = s.iter.as_mut()
                    && it.rcu == Some(true)
                {
                    it.rcu = Some(false);
                }
            }
        }
    }
}
