//! `BPF_MAP_TYPE_ARRAY` and `BPF_MAP_TYPE_PERCPU_ARRAY` (`kernel/bpf/arraymap.c`): all
//! values preallocated in one contiguous, zeroed, 8-byte-aligned allocation; elements are
//! never deleted; programs get pointers straight into that allocation.
//!
//! Per-CPU layout is CPU-major (all of CPU 0's values, then CPU 1's …), so one CPU's values
//! share no cache line with another's (each CPU area is a multiple of 64 bytes).

use crate::error::{MapError, MapResult};
use crate::mem::{RawBuf, Skip};
use crate::spec::{MapSpec, round_up8, update_flags as uf};
use std::ptr::NonNull;

/// Array storage (plain or per-CPU).
pub(crate) struct ArrayMap {
    buf: RawBuf,
    value_size: usize,
    elem_size: usize,
    max_entries: u32,
    nr_cpus: u32,
    percpu: bool,
    /// Byte stride between CPU areas (per-CPU only).
    cpu_stride: usize,
    lock_off: Option<usize>,
}

impl ArrayMap {
    pub(crate) fn new(spec: &MapSpec, nr_cpus: u32) -> MapResult<ArrayMap> {
        let percpu = spec.is_percpu();
        let elem_size = round_up8(spec.value_size) as usize;
        let per_cpu_bytes = elem_size
            .checked_mul(spec.max_entries as usize)
            .ok_or(MapError::TooBig("array size overflows"))?;
        let cpu_stride = per_cpu_bytes.next_multiple_of(64);
        let cpus = if percpu { nr_cpus as usize } else { 1 };
        let total = cpu_stride
            .checked_mul(cpus)
            .ok_or(MapError::TooBig("array size overflows"))?;
        let buf = RawBuf::zeroed(total, 64).ok_or(MapError::NoMemory("array allocation"))?;
        Ok(ArrayMap {
            buf,
            value_size: spec.value_size as usize,
            elem_size,
            max_entries: spec.max_entries,
            nr_cpus: if percpu { nr_cpus } else { 1 },
            percpu,
            cpu_stride,
            lock_off: spec.spin_lock_off.map(|o| o as usize),
        })
    }

    fn skip(&self) -> Skip {
        self.lock_off.map(|o| (o, o + 4))
    }

    /// Byte offset of element `index` of CPU `cpu` (CPU ignored for plain arrays).
    #[inline]
    fn offset(&self, index: u32, cpu: u32) -> Option<usize> {
        if index >= self.max_entries {
            return None;
        }
        let cpu_off = if self.percpu {
            if cpu >= self.nr_cpus {
                return None;
            }
            cpu as usize * self.cpu_stride
        } else {
            0
        };
        Some(cpu_off + index as usize * self.elem_size)
    }

    /// Pointer to element `index` of CPU `cpu` (CPU ignored for plain arrays).
    #[inline]
    pub(crate) fn value_ptr(&self, index: u32, cpu: u32) -> Option<NonNull<u8>> {
        NonNull::new(self.buf.at(self.offset(index, cpu)?))
    }

    /// Host copy: `value_size` bytes, or every CPU's 8-byte-rounded value for per-CPU arrays.
    pub(crate) fn lookup_copy(&self, index: u32, out: &mut [u8], lock: bool) -> MapResult<()> {
        if index >= self.max_entries {
            return Err(MapError::NotFound);
        }
        if self.percpu {
            for cpu in 0..self.nr_cpus {
                let src = self.offset(index, cpu).ok_or(MapError::NotFound)?;
                let dst = &mut out[cpu as usize * self.elem_size..][..self.elem_size];
                self.buf.load(src, dst, self.skip());
            }
            return Ok(());
        }
        let src = self.offset(index, 0).ok_or(MapError::NotFound)?;
        let dst = &mut out[..self.value_size];
        self.maybe_locked(src, lock, || self.buf.load(src, dst, self.skip()));
        Ok(())
    }

    fn maybe_locked(&self, value_off: usize, lock: bool, f: impl FnOnce()) {
        match (lock, self.lock_off) {
            (true, Some(off)) => self.buf.locked(value_off + off, f),
            _ => f(),
        }
    }

    /// `array_map_update_elem` (programs, and hosts for plain arrays) / `bpf_percpu_array_update`
    /// (hosts, per-CPU arrays: `value` holds every CPU's value). `cpu` is the program's CPU, or
    /// `None` for the host.
    pub(crate) fn update(
        &self,
        index: u32,
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
    ) -> MapResult<()> {
        let host_percpu = self.percpu && cpu.is_none();
        let bad_flags = if host_percpu {
            flags > uf::BPF_EXIST
        } else {
            flags & !uf::BPF_F_LOCK > uf::BPF_EXIST
        };
        if bad_flags {
            return Err(MapError::invalid(format!(
                "unknown update flags {flags:#x}"
            )));
        }
        if index >= self.max_entries {
            return Err(MapError::TooBig("array index out of range"));
        }
        if flags & uf::BPF_NOEXIST != 0 {
            return Err(MapError::Exists);
        }
        let lock = flags & uf::BPF_F_LOCK != 0;
        if lock && self.lock_off.is_none() {
            return Err(MapError::invalid(
                "BPF_F_LOCK on a value without bpf_spin_lock",
            ));
        }
        if host_percpu {
            for c in 0..self.nr_cpus {
                let dst = self.offset(index, c).ok_or(MapError::NotFound)?;
                let src = &value[c as usize * self.elem_size..][..self.elem_size];
                self.buf.store(dst, src, self.skip());
            }
            return Ok(());
        }
        let dst = self
            .offset(index, cpu.unwrap_or(0))
            .ok_or(MapError::NotFound)?;
        let src = &value[..self.value_size];
        self.maybe_locked(dst, lock, || self.buf.store(dst, src, self.skip()));
        Ok(())
    }

    /// Whole allocation size (tests).
    #[allow(dead_code)]
    pub(crate) fn alloc_len(&self) -> usize {
        self.buf.len()
    }
}
