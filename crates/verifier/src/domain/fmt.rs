//! Kernel-log formatting of numbers and scalar bounds, matching `kernel/bpf/log.c`
//! (`verbose_snum`, `verbose_unum`, `print_scalar_ranges`), so that Lull's level-2 log reads
//! like the kernel's: `smin=smin32=0,smax=umax=smax32=umax32=255,var_off=(0x0; 0xff)`.

use super::scalar::Scalar;
use std::fmt;

/// An unsigned number as the kernel log prints it: decimal up to 65535, else `0x…` hex.
pub fn unum(v: u64) -> String {
    if v <= u64::from(u16::MAX) {
        v.to_string()
    } else {
        format!("{v:#x}")
    }
}

/// A signed number as the kernel log prints it: decimal within `-32768..=32767`, else the
/// 64-bit two's complement pattern in hex (`-40000` prints as `0xffffffffffff63c0`).
pub fn snum(v: i64) -> String {
    if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&v) {
        v.to_string()
    } else {
        format!("{:#x}", v as u64)
    }
}

/// One bound to print: its name, its value widened to 64 bits, and whether it is omitted.
struct Bound {
    name: &'static str,
    val: u64,
    omit: bool,
}

impl Bound {
    fn signed(&self) -> bool {
        self.name.starts_with('s')
    }
    fn negative(&self) -> bool {
        self.signed() && (self.val as i64) < 0
    }
}

/// A 32-bit signed bound widened like the kernel: sign-extended if it prints in decimal,
/// zero-extended (so it prints as an 8-digit hex pattern) otherwise.
fn widen_s32(v: i32) -> u64 {
    let wide = i64::from(v);
    if (i64::from(i16::MIN)..=i64::from(i16::MAX)).contains(&wide) {
        wide as u64
    } else {
        u64::from(v as u32)
    }
}

impl Scalar {
    /// Writes the bounds part of a register as the kernel prints it inside `scalar(...)`:
    /// every bound that is not at its type's extreme, names with equal values merged
    /// (`smax=umax=255`, never mixing negative and non-negative signed values), then
    /// `var_off=(value; mask)` unless the tnum is fully unknown. Each item is preceded by
    /// `*sep`, which becomes `","` after the first, so the caller can put `id=` items first.
    pub fn write_bounds(&self, out: &mut dyn fmt::Write, sep: &mut &'static str) -> fmt::Result {
        let mut bounds = [
            Bound {
                name: "smin",
                val: self.smin as u64,
                omit: self.smin == i64::MIN,
            },
            Bound {
                name: "smax",
                val: self.smax as u64,
                omit: self.smax == i64::MAX,
            },
            Bound {
                name: "umin",
                val: self.umin,
                omit: self.umin == 0,
            },
            Bound {
                name: "umax",
                val: self.umax,
                omit: self.umax == u64::MAX,
            },
            Bound {
                name: "smin32",
                val: widen_s32(self.s32_min),
                omit: self.s32_min == i32::MIN,
            },
            Bound {
                name: "smax32",
                val: widen_s32(self.s32_max),
                omit: self.s32_max == i32::MAX,
            },
            Bound {
                name: "umin32",
                val: u64::from(self.u32_min),
                omit: self.u32_min == 0,
            },
            Bound {
                name: "umax32",
                val: u64::from(self.u32_max),
                omit: self.u32_max == u32::MAX,
            },
        ];
        for i in 0..bounds.len() {
            if bounds[i].omit {
                continue;
            }
            write!(out, "{}{}=", sep, bounds[i].name)?;
            *sep = ",";
            // Later bounds of the same kind (min with min, max with max) and equal value
            // are printed under the same number.
            for j in (i + 2..bounds.len()).step_by(2) {
                if bounds[j].omit
                    || bounds[j].val != bounds[i].val
                    || bounds[j].negative() != bounds[i].negative()
                {
                    continue;
                }
                bounds[j].omit = true;
                write!(out, "{}=", bounds[j].name)?;
            }
            let b = &bounds[i];
            let text = if b.signed() {
                snum(b.val as i64)
            } else {
                unum(b.val)
            };
            out.write_str(&text)?;
        }
        if !self.var_off.is_unknown() {
            write!(
                out,
                "{sep}var_off=({:#x}; {:#x})",
                self.var_off.value, self.var_off.mask
            )?;
            *sep = ",";
        }
        Ok(())
    }
}
