//! [`Scalar`]: the numeric abstraction of one register (the kernel's `var_off` plus the six
//! signed/unsigned 32/64-bit bounds), its constructors, queries and size conversions.
//!
//! The bound-refinement machinery (`reg_bounds_sync`) lives in `sync.rs`, the kernel-log
//! formatting in `fmt.rs`. Nothing here knows about pointers, ids or precision marks: the
//! engine keeps those next to a `Scalar`.

use super::tnum::{Tnum, low_mask};
use std::fmt;

/// Everything the verifier knows about a 64-bit number: a [`Tnum`] and six interval bounds.
/// A value is possible only if it lies in the tnum *and* in every range.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Scalar {
    /// Known and unknown bits.
    pub var_off: Tnum,
    /// Signed 64-bit minimum.
    pub smin: i64,
    /// Signed 64-bit maximum.
    pub smax: i64,
    /// Unsigned 64-bit minimum.
    pub umin: u64,
    /// Unsigned 64-bit maximum.
    pub umax: u64,
    /// Signed minimum of the low 32 bits.
    pub s32_min: i32,
    /// Signed maximum of the low 32 bits.
    pub s32_max: i32,
    /// Unsigned minimum of the low 32 bits.
    pub u32_min: u32,
    /// Unsigned maximum of the low 32 bits.
    pub u32_max: u32,
}

/// A scalar whose bounds contradict each other or its tnum (the kernel's
/// `reg_bounds_sanity_check`). In 6.18 the kernel logs this as a verifier bug
/// (`verifier bug: REG INVARIANTS VIOLATION (<ctx>): <this>`) and marks the register unbounded;
/// it does not reject the program for it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error(
    "{msg} u64=[{:#x}, {:#x}] s64=[{:#x}, {:#x}] u32=[{:#x}, {:#x}] s32=[{:#x}, {:#x}] var_off=({:#x}, {:#x})",
    scalar.umin, scalar.umax, scalar.smin, scalar.smax, scalar.u32_min, scalar.u32_max,
    scalar.s32_min, scalar.s32_max, scalar.var_off.value, scalar.var_off.mask
)]
pub struct BoundsViolation {
    /// Which check failed, in the kernel's words (e.g. `range bounds violation`).
    pub msg: &'static str,
    /// The offending scalar.
    pub scalar: Scalar,
}

impl Default for Scalar {
    fn default() -> Self {
        Scalar::unknown()
    }
}

impl Scalar {
    /// Exactly the value `v` (the kernel's `___mark_reg_known`).
    pub const fn known(v: u64) -> Scalar {
        Scalar {
            var_off: Tnum::constant(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32_min: v as i32,
            s32_max: v as i32,
            u32_min: v as u32,
            u32_max: v as u32,
        }
    }

    /// Any value (unknown tnum, unbounded ranges).
    pub const fn unknown() -> Scalar {
        Scalar {
            var_off: Tnum::UNKNOWN,
            smin: i64::MIN,
            smax: i64::MAX,
            umin: 0,
            umax: u64::MAX,
            s32_min: i32::MIN,
            s32_max: i32::MAX,
            u32_min: 0,
            u32_max: u32::MAX,
        }
    }

    /// `self` with the low 32 bits known to be `v` and the 32-bit bounds set to it; the 64-bit
    /// bounds are left alone (the kernel's `__mark_reg32_known`).
    pub fn known32(self, v: u32) -> Scalar {
        Scalar {
            var_off: self.var_off.const_subreg(v),
            s32_min: v as i32,
            s32_max: v as i32,
            u32_min: v,
            u32_max: v,
            ..self
        }
    }

    /// Any value in `min..=max` (unsigned), bounds synced.
    pub fn from_urange(min: u64, max: u64) -> Scalar {
        let mut s = Scalar {
            umin: min,
            umax: max,
            ..Scalar::unknown()
        };
        s.sync();
        s
    }

    /// Any value in `min..=max` (signed), bounds synced.
    pub fn from_srange(min: i64, max: i64) -> Scalar {
        let mut s = Scalar {
            smin: min,
            smax: max,
            ..Scalar::unknown()
        };
        s.sync();
        s
    }

    /// Forgets all six ranges (the tnum stays).
    pub fn mark_unbounded(&mut self) {
        self.mark64_unbounded();
        self.mark32_unbounded();
    }

    /// Forgets the 64-bit ranges.
    pub fn mark64_unbounded(&mut self) {
        self.smin = i64::MIN;
        self.smax = i64::MAX;
        self.umin = 0;
        self.umax = u64::MAX;
    }

    /// Forgets the 32-bit ranges.
    pub fn mark32_unbounded(&mut self) {
        self.s32_min = i32::MIN;
        self.s32_max = i32::MAX;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
    }

    /// Whether the value is a single constant (judged by the tnum, like the kernel).
    pub const fn is_const(&self) -> bool {
        self.var_off.is_const()
    }

    /// The constant, if [`Scalar::is_const`].
    pub const fn const_value(&self) -> Option<u64> {
        if self.is_const() {
            Some(self.var_off.value)
        } else {
            None
        }
    }

    /// Whether the low 32 bits are a single constant.
    pub const fn is_const32(&self) -> bool {
        self.var_off.subreg_is_const()
    }

    /// The low 32 bits, if [`Scalar::is_const32`].
    pub const fn const32(&self) -> Option<u32> {
        if self.is_const32() {
            Some(self.var_off.value as u32)
        } else {
            None
        }
    }

    /// Whether the kernel treats the operand as a constant for `width`
    /// (`is_reg_const`: tnum constant; for 32 bits the subregister tnum).
    pub const fn is_const_for(&self, width: lull_isa::Width) -> bool {
        match width {
            lull_isa::Width::W32 => self.is_const32(),
            lull_isa::Width::W64 => self.is_const(),
        }
    }

    /// Whether the concrete value `v` is allowed by the tnum and all six ranges.
    pub fn contains(&self, v: u64) -> bool {
        let (v32, s, s32) = (v as u32, v as i64, v as i32);
        self.var_off.contains_value(v)
            && (self.umin..=self.umax).contains(&v)
            && (self.smin..=self.smax).contains(&s)
            && (self.u32_min..=self.u32_max).contains(&v32)
            && (self.s32_min..=self.s32_max).contains(&s32)
    }

    /// Whether every value `self` allows is allowed by `old` (the kernel's
    /// `range_within(old, self) && tnum_in(old.var_off, self.var_off)`, used by state pruning).
    pub fn is_subset_of(&self, old: &Scalar) -> bool {
        old.umin <= self.umin
            && old.umax >= self.umax
            && old.smin <= self.smin
            && old.smax >= self.smax
            && old.u32_min <= self.u32_min
            && old.u32_max >= self.u32_max
            && old.s32_min <= self.s32_min
            && old.s32_max >= self.s32_max
            && old.var_off.contains(self.var_off)
    }

    /// The kernel's `reg_bounds_sanity_check` tests: ranges non-empty and a constant tnum (or
    /// constant subregister) agreeing with the bounds.
    pub fn check_sane(&self) -> Result<(), BoundsViolation> {
        let fail = |msg| Err(BoundsViolation { msg, scalar: *self });
        if self.umin > self.umax
            || self.smin > self.smax
            || self.u32_min > self.u32_max
            || self.s32_min > self.s32_max
        {
            return fail("range bounds violation");
        }
        if let Some(v) = self.const_value()
            && (self.umin != v || self.umax != v || self.smin != v as i64 || self.smax != v as i64)
        {
            return fail("const tnum out of sync with range bounds");
        }
        if let Some(v) = self.const32()
            && (self.u32_min != v
                || self.u32_max != v
                || self.s32_min != v as i32
                || self.s32_max != v as i32)
        {
            return fail("const subreg tnum out of sync with range bounds");
        }
        Ok(())
    }

    /// Copies the 32-bit bounds into the 64-bit ones after a zero extension (the kernel's
    /// `__reg_assign_32_into_64`).
    pub fn assign_32_into_64(&mut self) {
        self.umin = u64::from(self.u32_min);
        self.umax = u64::from(self.u32_max);
        if self.s32_min >= 0 && self.s32_max >= 0 {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
        } else {
            self.smin = 0;
            self.smax = i64::from(u32::MAX);
        }
    }

    /// Zero-extends the low 32 bits into the whole register (`zext_32_to_64`).
    pub fn zext_32_to_64(&mut self) {
        self.var_off = self.var_off.subreg();
        self.assign_32_into_64();
    }

    /// Truncates to the low `size` bytes, zero-extending (the kernel's `coerce_reg_to_size`, used
    /// for narrow loads and `bswap16/32`). Bounds are synced. `size` is 1, 2, 4 or 8.
    pub fn coerce_to_size(&mut self, size: u8) {
        self.var_off = self.var_off.cast(size);
        let mask = low_mask(u32::from(size) * 8);
        if self.umin & !mask == self.umax & !mask {
            self.umin &= mask;
            self.umax &= mask;
        } else {
            self.umin = 0;
            self.umax = mask;
        }
        self.smin = self.umin as i64;
        self.smax = self.umax as i64;
        if size < 4 {
            self.mark32_unbounded();
        }
        self.sync();
    }

    /// Sign-extends the low `size` bytes (1, 2 or 4) into 64 bits (the kernel's
    /// `coerce_reg_to_size_sx`, used by `BPF_MEMSX` loads and 64-bit `movsx`). Like the kernel,
    /// the result is not synced afterwards.
    pub fn coerce_to_size_sx(&mut self, size: u8) {
        let sext = |v: u64| -> i64 {
            match size {
                1 => i64::from(v as i8),
                2 => i64::from(v as i16),
                _ => i64::from(v as i32),
            }
        };
        if let Some(v) = self.const_value() {
            let c = sext(v) as u64;
            *self = Scalar::known(c);
            return;
        }
        let bits = u32::from(size) * 8;
        let top_max = (self.smax as u64) >> bits << bits;
        let top_min = (self.smin as u64) >> bits << bits;
        if top_max == top_min {
            let (a, b) = (sext(self.smax as u64), sext(self.smin as u64));
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.smin = lo;
                self.smax = hi;
                self.s32_min = lo as i32;
                self.s32_max = hi as i32;
                self.umin = lo as u64;
                self.umax = hi as u64;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(lo as u64, hi as u64);
                return;
            }
        }
        let (lo, hi) = match size {
            1 => (i64::from(i8::MIN), i64::from(i8::MAX)),
            2 => (i64::from(i16::MIN), i64::from(i16::MAX)),
            _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
        };
        *self = Scalar {
            smin: lo,
            smax: hi,
            s32_min: lo as i32,
            s32_max: hi as i32,
            ..Scalar::unknown()
        };
    }

    /// Sign-extends the low `size` bytes (1 or 2) into the low 32 bits (the kernel's
    /// `coerce_subreg_to_size_sx`, used by 32-bit `movsx`). The caller zero-extends and syncs.
    /// Like the kernel, a constant input leaves a 64-bit sign-extended constant tnum (and the
    /// 64-bit bounds untouched) for the following zero extension to fix.
    pub fn coerce_subreg_to_size_sx(&mut self, size: u8) {
        let sext = |v: u32| -> i32 {
            if size == 1 {
                i32::from(v as i8)
            } else {
                i32::from(v as i16)
            }
        };
        if self.is_const() {
            let c = sext(self.var_off.value as u32);
            self.var_off = Tnum::constant(i64::from(c) as u64);
            self.s32_min = c;
            self.s32_max = c;
            self.u32_min = c as u32;
            self.u32_max = c as u32;
            return;
        }
        let bits = u32::from(size) * 8;
        let top_max = (self.s32_max as u32) >> bits << bits;
        let top_min = (self.s32_min as u32) >> bits << bits;
        if top_max == top_min {
            let (a, b) = (sext(self.s32_max as u32), sext(self.s32_min as u32));
            let (lo, hi) = (a.min(b), a.max(b));
            if (lo >= 0) == (hi >= 0) {
                self.s32_min = lo;
                self.s32_max = hi;
                self.u32_min = lo as u32;
                self.u32_max = hi as u32;
                self.var_off = Tnum::range(i64::from(lo) as u64, i64::from(hi) as u64).subreg();
                return;
            }
        }
        let (lo, hi) = if size == 1 {
            (i32::from(i8::MIN), i32::from(i8::MAX))
        } else {
            (i32::from(i16::MIN), i32::from(i16::MAX))
        };
        self.s32_min = lo;
        self.s32_max = hi;
        self.u32_min = 0;
        self.u32_max = u32::MAX;
        self.var_off = Tnum::UNKNOWN.subreg();
    }
}

impl fmt::Display for Scalar {
    /// The kernel log's form of a scalar register without id or precision mark: a constant
    /// prints as a signed number (`5`, `-1`, `0x10000`), anything else as `scalar(<bounds>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(v) = self.const_value() {
            return f.write_str(&super::fmt::snum(v as i64));
        }
        f.write_str("scalar(")?;
        let mut sep = "";
        self.write_bounds(f, &mut sep)?;
        f.write_str(")")
    }
}
