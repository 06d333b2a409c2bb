//! Tracked numbers ("tnums"): the bit-level half of the kernel's scalar abstraction.
//!
//! A [`Tnum`] describes a set of 64-bit values by saying, bit by bit, whether the bit is known
//! to be 0, known to be 1, or unknown. `mask` has a 1 for every unknown bit; `value` holds the
//! known bits (and is 0 wherever `mask` is 1). Every operation here over-approximates: the
//! result contains every concrete result of the operation applied to members of the inputs.
//! The operations and their precision follow the Linux kernel's `kernel/bpf/tnum.c` (6.18),
//! because agreeing with the kernel's verdicts needs the same precision, not more or less.

use lull_isa::Width;
use std::fmt;

/// A set of 64-bit values described bit by bit (known 0, known 1, unknown).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Tnum {
    /// Known bits (0 where unknown).
    pub value: u64,
    /// Unknown bits.
    pub mask: u64,
}

impl Tnum {
    /// Every value: all bits unknown.
    pub const UNKNOWN: Tnum = Tnum {
        value: 0,
        mask: u64::MAX,
    };

    /// Builds a tnum from raw parts (the caller keeps `value & mask == 0`).
    pub const fn new(value: u64, mask: u64) -> Tnum {
        Tnum { value, mask }
    }

    /// The single value `v`.
    pub const fn constant(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `min..=max` (it may hold more: the common
    /// high-bit prefix is kept, everything below the highest differing bit becomes unknown).
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum::new(min & !delta, delta)
    }

    /// Left shift by a known amount (`shift < 64`).
    pub fn lshift(self, shift: u8) -> Tnum {
        Tnum::new(self.value << shift, self.mask << shift)
    }

    /// Logical right shift by a known amount (`shift < 64`).
    pub fn rshift(self, shift: u8) -> Tnum {
        Tnum::new(self.value >> shift, self.mask >> shift)
    }

    /// Arithmetic right shift by `min_shift`; for [`Width::W32`] the low 32 bits are shifted as
    /// an `s32` and the result is zero-extended (like the kernel's `insn_bitness == 32`).
    pub fn arshift(self, min_shift: u8, width: Width) -> Tnum {
        match width {
            Width::W32 => Tnum::new(
                u64::from(((self.value as i32) >> min_shift) as u32),
                u64::from(((self.mask as i32) >> min_shift) as u32),
            ),
            Width::W64 => Tnum::new(
                ((self.value as i64) >> min_shift) as u64,
                ((self.mask as i64) >> min_shift) as u64,
            ),
        }
    }

    /// Wrapping addition.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum::new(sv & !mu, mu)
    }

    /// Wrapping subtraction.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum::new(dv & !mu, mu)
    }

    /// Two's complement negation (`0 - self`).
    #[allow(clippy::should_implement_trait)]
    pub fn neg(self) -> Tnum {
        Tnum::constant(0).sub(self)
    }

    /// Bitwise and.
    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum::new(v, alpha & beta & !v)
    }

    /// Bitwise or.
    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum::new(v, mu & !v)
    }

    /// Bitwise exclusive or.
    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// Wrapping multiplication: long multiplication over the trits of `self`; for an unknown
    /// multiplier bit the accumulator becomes the union of "bit is 0" and "bit is 1".
    #[allow(clippy::should_implement_trait)]
    pub fn mul(self, b: Tnum) -> Tnum {
        let (mut a, mut b) = (self, b);
        let mut acc = Tnum::constant(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc = acc.add(b);
            } else if a.mask & 1 != 0 {
                acc = acc.union(acc.add(b));
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        acc
    }

    /// Whether some value could be in both (the known bits agree where both are known).
    pub fn overlap(self, b: Tnum) -> bool {
        let mu = !self.mask & !b.mask;
        (self.value & mu) == (b.value & mu)
    }

    /// Values in both. Where the two disagree on a known bit the result has a known 1 (the
    /// kernel's behaviour; the true intersection is then empty).
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// A tnum holding every value of both (bits that differ become unknown).
    pub fn union(self, b: Tnum) -> Tnum {
        let v = self.value & b.value;
        let mu = (self.value ^ b.value) | self.mask | b.mask;
        Tnum::new(v & !mu, mu)
    }

    /// Keeps the low `size` bytes (`size` 1, 2, 4 or 8).
    pub fn cast(self, size: u8) -> Tnum {
        let m = low_mask(u32::from(size) * 8);
        Tnum::new(self.value & m, self.mask & m)
    }

    /// The low 32 bits (zero-extended).
    pub fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// The value with its low 32 bits known to be 0.
    pub fn clear_subreg(self) -> Tnum {
        self.rshift(32).lshift(32)
    }

    /// High 32 bits of `self`, low 32 bits of `sub`.
    pub fn with_subreg(self, sub: Tnum) -> Tnum {
        self.clear_subreg().or(sub.subreg())
    }

    /// High 32 bits of `self`, low 32 bits the constant `v`.
    pub fn const_subreg(self, v: u32) -> Tnum {
        self.with_subreg(Tnum::constant(u64::from(v)))
    }

    /// Swaps the low 2 bytes; the result has the upper 48 bits zero.
    pub fn bswap16(self) -> Tnum {
        Tnum::new(
            u64::from((self.value as u16).swap_bytes()),
            u64::from((self.mask as u16).swap_bytes()),
        )
    }

    /// Swaps the low 4 bytes; the result has the upper 32 bits zero.
    pub fn bswap32(self) -> Tnum {
        Tnum::new(
            u64::from((self.value as u32).swap_bytes()),
            u64::from((self.mask as u32).swap_bytes()),
        )
    }

    /// Swaps all 8 bytes.
    pub fn bswap64(self) -> Tnum {
        Tnum::new(self.value.swap_bytes(), self.mask.swap_bytes())
    }

    /// The smallest member greater than `z`; the largest member if there is none, the
    /// smallest if `z` is below all members (the kernel's `tnum_step`).
    pub fn step(self, z: u64) -> u64 {
        let tmax = self.value | self.mask;
        if z >= tmax {
            return tmax;
        }
        if z < self.value {
            return self.value;
        }
        // Members are `value + s` for the submasks `s` of `mask`: find the smallest submask
        // above `d` by incrementing `d` with every non-mask bit (and every bit below the
        // highest non-mask bit set in `d`) filled with ones so the carry skips them.
        let d = z - self.value;
        let high = 64 - (d & !self.mask).leading_zeros();
        let carry_mask = low_mask(high);
        let filled = d | carry_mask | !self.mask;
        self.value | (filled.wrapping_add(1) & self.mask)
    }

    /// Whether this is a single value.
    pub const fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Whether the low 32 bits are a single value.
    pub const fn subreg_is_const(self) -> bool {
        self.mask as u32 == 0
    }

    /// Whether every bit is unknown.
    pub const fn is_unknown(self) -> bool {
        self.mask == u64::MAX
    }

    /// Whether this is exactly the single value `v`.
    pub const fn equals_const(self, v: u64) -> bool {
        self.is_const() && self.value == v
    }

    /// Whether every value of `b` is in `self` (the kernel's `tnum_in(self, b)`).
    pub fn contains(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        self.value == b.value & !self.mask
    }

    /// Whether `v` is in the set.
    pub fn contains_value(self, v: u64) -> bool {
        self.contains(Tnum::constant(v))
    }

    /// Whether every value is a multiple of `size` (a power of two; 0 means "no constraint").
    pub fn is_aligned(self, size: u64) -> bool {
        if size == 0 {
            return true;
        }
        (self.value | self.mask) & (size - 1) == 0
    }

    /// The 64-character tristate binary form, most significant bit first (`0`, `1`, `x`).
    pub fn sbin(self) -> String {
        (0..64)
            .rev()
            .map(|bit| {
                if self.mask >> bit & 1 != 0 {
                    'x'
                } else if self.value >> bit & 1 != 0 {
                    '1'
                } else {
                    '0'
                }
            })
            .collect()
    }
}

/// `(1 << bits) - 1` without overflow for `bits == 64`.
pub(crate) const fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

impl fmt::Display for Tnum {
    /// The kernel log's form: a constant prints as a number (decimal up to 65535, else hex),
    /// anything else as `(value; mask)` in hex, e.g. `(0x0; 0xff)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_const() {
            f.write_str(&super::fmt::unum(self.value))
        } else {
            write!(f, "({:#x}; {:#x})", self.value, self.mask)
        }
    }
}
