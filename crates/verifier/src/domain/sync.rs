//! Bound refinement for [`Scalar`]: each of the seven facts (tnum, s64, u64, s32, u32 ranges)
//! is used to tighten the others, exactly as the kernel's `reg_bounds_sync` does.
//!
//! The steps are the kernel's: learn ranges from the tnum (`__update_reg_bounds`), exchange
//! information between signed and unsigned and between 32 and 64 bits (`__reg_deduce_bounds`,
//! three rounds), learn tnum bits from the unsigned ranges (`__reg_bound_offset`), and learn
//! ranges from the tnum once more. Precision must match the kernel's: a tighter or looser
//! result changes which programs are accepted and what the log prints.

use super::scalar::Scalar;
use super::tnum::Tnum;

const LOW32: u64 = 0xffff_ffff;

impl Scalar {
    /// Tightens the 32-bit ranges from the tnum (`__update_reg32_bounds`).
    pub fn update_bounds32(&mut self) {
        let t = self.var_off.subreg();
        let (v, m) = (t.value as u32, t.mask as u32);
        self.s32_min = self.s32_min.max((v | (m & 0x8000_0000)) as i32);
        self.s32_max = self.s32_max.min((v | (m & 0x7fff_ffff)) as i32);
        self.u32_min = self.u32_min.max(v);
        self.u32_max = self.u32_max.min(v | m);
    }

    /// Tightens the 64-bit ranges from the tnum (`__update_reg64_bounds`).
    pub fn update_bounds64(&mut self) {
        let Tnum { value: v, mask: m } = self.var_off;
        self.smin = self.smin.max((v | (m & (1 << 63))) as i64);
        self.smax = self.smax.min((v | (m & (u64::MAX >> 1))) as i64);
        self.umin = self.umin.max(v);
        self.umax = self.umax.min(v | m);

        // If the u64 range and the tnum share exactly one value, the register is that value.
        let next = self.var_off.step(self.umin);
        let umin_in_tnum = self.var_off.contains_value(self.umin);
        let tmax = v | m;
        if umin_in_tnum && next > self.umax {
            *self = Scalar::known(self.umin);
        } else if !umin_in_tnum && next == tmax {
            *self = Scalar::known(tmax);
        } else if !umin_in_tnum && next <= self.umax && self.var_off.step(next) > self.umax {
            *self = Scalar::known(next);
        }
    }

    /// Tightens all ranges from the tnum (`__update_reg_bounds`).
    pub fn update_bounds(&mut self) {
        self.update_bounds32();
        self.update_bounds64();
    }

    /// `__reg32_deduce_bounds`: 32-bit ranges from the 64-bit ones and from each other.
    fn deduce_bounds32(&mut self) {
        // Same upper 32 bits over the whole u64 range: the low halves form a range.
        if self.umin >> 32 == self.umax >> 32 {
            self.u32_min = self.u32_min.max(self.umin as u32);
            self.u32_max = self.u32_max.min(self.umax as u32);
            if (self.umin as i32) <= (self.umax as i32) {
                self.s32_min = self.s32_min.max(self.umin as i32);
                self.s32_max = self.s32_max.min(self.umax as i32);
            }
        }
        if self.smin >> 32 == self.smax >> 32 {
            if (self.smin as u32) <= (self.smax as u32) {
                self.u32_min = self.u32_min.max(self.smin as u32);
                self.u32_max = self.u32_max.min(self.smax as u32);
            }
            if (self.smin as i32) <= (self.smax as i32) {
                self.s32_min = self.s32_min.max(self.smin as i32);
                self.s32_max = self.s32_max.min(self.smax as i32);
            }
        }
        // Upper halves are two consecutive numbers and the low halves go from negative to
        // non-negative: the low halves still form an s32 range.
        if ((self.umin >> 32) as u32).wrapping_add(1) == (self.umax >> 32) as u32
            && (self.umin as i32) < 0
            && (self.umax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.umin as i32);
            self.s32_max = self.s32_max.min(self.umax as i32);
        }
        if ((self.smin >> 32) as u32).wrapping_add(1) == (self.smax >> 32) as u32
            && (self.smin as i32) < 0
            && (self.smax as i32) >= 0
        {
            self.s32_min = self.s32_min.max(self.smin as i32);
            self.s32_max = self.s32_max.min(self.smax as i32);
        }
        // A u32 range that does not cross the s32 sign boundary is also an s32 range.
        if (self.u32_min as i32) <= (self.u32_max as i32) {
            self.s32_min = self.s32_min.max(self.u32_min as i32);
            self.s32_max = self.s32_max.min(self.u32_max as i32);
        }
        // And the other way round; if the s32 range wraps in u32 terms, one of its two
        // pieces may be excluded by the u32 range.
        if (self.s32_min as u32) <= (self.s32_max as u32) {
            self.u32_min = self.u32_min.max(self.s32_min as u32);
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if self.u32_max < self.s32_min as u32 {
            self.s32_min = self.u32_min as i32;
            self.u32_max = self.u32_max.min(self.s32_max as u32);
        } else if (self.s32_max as u32) < self.u32_min {
            self.s32_max = self.u32_max as i32;
            self.u32_min = self.u32_min.max(self.s32_min as u32);
        }
    }

    /// `__reg64_deduce_bounds`: signed and unsigned 64-bit ranges from each other.
    fn deduce_bounds64(&mut self) {
        if (self.umin as i64) <= (self.umax as i64) {
            self.smin = self.smin.max(self.umin as i64);
            self.smax = self.smax.min(self.umax as i64);
        }
        if (self.smin as u64) <= (self.smax as u64) {
            self.umin = self.umin.max(self.smin as u64);
            self.umax = self.umax.min(self.smax as u64);
        } else if self.umax < self.smin as u64 {
            self.smin = self.umin as i64;
            self.umax = self.umax.min(self.smax as u64);
        } else if (self.smax as u64) < self.umin {
            self.smax = self.umax as i64;
            self.umin = self.umin.max(self.smin as u64);
        }
    }

    /// `__reg_deduce_mixed_bounds`: 64-bit ranges from the 32-bit ones.
    fn deduce_mixed_bounds(&mut self) {
        let new_umin = (self.umin & !LOW32) | u64::from(self.u32_min);
        let new_umax = (self.umax & !LOW32) | u64::from(self.u32_max);
        self.umin = self.umin.max(new_umin);
        self.umax = self.umax.min(new_umax);
        let new_smin = ((self.smin as u64 & !LOW32) | u64::from(self.u32_min)) as i64;
        let new_smax = ((self.smax as u64 & !LOW32) | u64::from(self.u32_max)) as i64;
        self.smin = self.smin.max(new_smin);
        self.smax = self.smax.min(new_smax);

        if (self.s32_min as u32) <= (self.s32_max as u32) {
            let (lo, hi) = (
                u64::from(self.s32_min as u32),
                u64::from(self.s32_max as u32),
            );
            let new_umin = (self.umin & !LOW32) | lo;
            let new_umax = (self.umax & !LOW32) | hi;
            self.umin = self.umin.max(new_umin);
            self.umax = self.umax.min(new_umax);
            let new_smin = ((self.smin as u64 & !LOW32) | lo) as i64;
            let new_smax = ((self.smax as u64 & !LOW32) | hi) as i64;
            self.smin = self.smin.max(new_smin);
            self.smax = self.smax.min(new_smax);
        }

        // After a sign-extending load: a non-negative s32 range with the s64 range inside
        // s32 pins the whole register to the s32 range.
        if self.s32_min >= 0 && self.smin >= i64::from(i32::MIN) && self.smax <= i64::from(i32::MAX)
        {
            self.smin = i64::from(self.s32_min);
            self.smax = i64::from(self.s32_max);
            self.umin = self.s32_min as u64;
            self.umax = self.s32_max as u64;
            self.var_off = self
                .var_off
                .intersect(Tnum::range(self.smin as u64, self.smax as u64));
        }
    }

    /// One round of `__reg_deduce_bounds` (32-bit, 64-bit, then mixed).
    pub fn deduce_bounds(&mut self) {
        self.deduce_bounds32();
        self.deduce_bounds64();
        self.deduce_mixed_bounds();
    }

    /// Learns tnum bits from the unsigned ranges (`__reg_bound_offset`).
    pub fn bound_offset(&mut self) {
        let var64 = self.var_off.intersect(Tnum::range(self.umin, self.umax));
        let var32 = var64.subreg().intersect(Tnum::range(
            u64::from(self.u32_min),
            u64::from(self.u32_max),
        ));
        self.var_off = var64.clear_subreg().or(var32);
    }

    /// The kernel's `reg_bounds_sync`: makes the seven facts agree as far as the kernel does.
    pub fn sync(&mut self) {
        self.update_bounds();
        self.deduce_bounds();
        self.deduce_bounds();
        self.deduce_bounds();
        self.bound_offset();
        self.update_bounds();
    }

    /// [`Scalar::sync`] by value.
    #[must_use]
    pub fn synced(mut self) -> Scalar {
        self.sync();
        self
    }
}
