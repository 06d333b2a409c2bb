//! Kfuncs Lull implements, registered by kernel name (their BTF ids are the running kernel's,
//! resolved when a program is prepared): the open-coded iterators `bpf_iter_num_*` and
//! `bpf_iter_bits_*` (`kernel/bpf/bpf_iter.c`, `kernel/bpf/helpers.c`), the section markers
//! `bpf_rcu_read_lock`/`_unlock` and `bpf_preempt_disable`/`_enable`, and the sleepable
//! `bpf_copy_from_user_str`.
//!
//! An iterator lives in the program's stack, in the kernel's layout, and the pointer `_next`
//! returns points into it (at the current value), so a program reads it like any stack slot.
//! A bits iterator over more than one word keeps its copy of the words in the run's scratch
//! buffers; the iterator holds the buffer's index (never a host pointer), so a forged iterator
//! can at worst iterate over nothing.

use lull_interp::{HelperContext, HelperError, HelperFn};
use lull_task::UserMemory;

use super::{env, errno, ret, task::own_memory};

/// Kfuncs by kernel name.
pub(crate) const KFUNCS: &[(&str, HelperFn)] = &[
    ("bpf_iter_num_new", iter_num_new),
    ("bpf_iter_num_next", iter_num_next),
    ("bpf_iter_num_destroy", iter_num_destroy),
    ("bpf_iter_bits_new", iter_bits_new),
    ("bpf_iter_bits_next", iter_bits_next),
    ("bpf_iter_bits_destroy", iter_bits_destroy),
    ("bpf_rcu_read_lock", nop),
    ("bpf_rcu_read_unlock", nop),
    ("bpf_preempt_disable", nop),
    ("bpf_preempt_enable", nop),
    ("bpf_copy_from_user_str", copy_from_user_str),
];

/// The kernel's bound on a loop's iterations (`BPF_MAX_LOOPS`), the largest range a number
/// iterator may cover.
const BPF_MAX_LOOPS: i64 = 8 * 1024 * 1024;

/// The most words a bits iterator may cover (`BITS_ITER_NR_WORDS_MAX`).
const BITS_ITER_NR_WORDS_MAX: u32 = 511;

/// Reads the `N` bytes at `addr` in program memory.
fn read_array<const N: usize>(ctx: &HelperContext<'_>, addr: u64) -> Result<[u8; N], HelperError> {
    let mut b = [0u8; N];
    ctx.read(addr, &mut b)?;
    Ok(b)
}

/// `bpf_rcu_read_lock` and friends: every run already holds a read section of the maps' RCU
/// domain (a sleepable one for sleepable programs, which covers everything an RCU section
/// would protect) and owns its virtual CPU for its whole duration, so the markers only
/// matter to the verifier (which forbids sleeping between them).
fn nop(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}

/// `struct bpf_iter_num` (8 bytes): `cur` (the value `_next` returned last) then `end`
/// (exclusive), both `int`.
fn write_num(ctx: &mut HelperContext<'_>, it: u64, cur: i32, end: i32) -> Result<(), HelperError> {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&cur.to_ne_bytes());
    b[4..].copy_from_slice(&end.to_ne_bytes());
    Ok(ctx.write(it, &b)?)
}

/// `bpf_iter_num_new(it, start, end)`: iterate over `[start, end)`. `start > end` is
/// `-EINVAL`, a range longer than `BPF_MAX_LOOPS` `-E2BIG`; both leave the iterator empty.
fn iter_num_new(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (start, end) = (a[1] as i32, a[2] as i32);
    if start > end {
        write_num(ctx, a[0], 0, 0)?;
        return ret(errno::EINVAL);
    }
    if i64::from(end) - i64::from(start) > BPF_MAX_LOOPS {
        write_num(ctx, a[0], 0, 0)?;
        return ret(errno::E2BIG);
    }
    // `_next` is called before the first value is read.
    write_num(ctx, a[0], start.wrapping_sub(1), end)?;
    Ok(0)
}

/// `bpf_iter_num_next(it)`: a pointer to the next value, or NULL (and an emptied iterator)
/// when the range is done or was never set up.
fn iter_num_next(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let b = read_array::<8>(ctx, a[0])?;
    let cur = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    let end = i32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
    // Like the kernel, the increment is done in `int` (wrapping), then compared widened.
    let next = cur.wrapping_add(1);
    if i64::from(next) >= i64::from(end) {
        write_num(ctx, a[0], 0, 0)?;
        return Ok(0);
    }
    write_num(ctx, a[0], next, end)?;
    Ok(a[0])
}

/// `bpf_iter_num_destroy(it)`: empties the iterator.
fn iter_num_destroy(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    write_num(ctx, a[0], 0, 0)?;
    Ok(0)
}

/// `struct bpf_iter_bits` (16 bytes): the words themselves when there is one (else the
/// index + 1 of the run's scratch buffer holding them), `nr_bits` and `bit` (the last bit
/// returned; `_next` returns a pointer to it).
struct BitsIter {
    word: u64,
    nr_bits: i32,
    bit: i32,
}

/// Offset of `bit` in the iterator.
const BIT_OFF: u64 = 12;

impl BitsIter {
    fn read(ctx: &HelperContext<'_>, it: u64) -> Result<BitsIter, HelperError> {
        let b = read_array::<16>(ctx, it)?;
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[..8]);
        Ok(BitsIter {
            word: u64::from_ne_bytes(w),
            nr_bits: i32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            bit: i32::from_ne_bytes([b[12], b[13], b[14], b[15]]),
        })
    }

    fn write(&self, ctx: &mut HelperContext<'_>, it: u64) -> Result<(), HelperError> {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.word.to_ne_bytes());
        b[8..12].copy_from_slice(&self.nr_bits.to_ne_bytes());
        b[12..].copy_from_slice(&self.bit.to_ne_bytes());
        Ok(ctx.write(it, &b)?)
    }
}

/// Reads `dst.len()` bytes of "kernel" memory (the process's own, fault-safe), as
/// `bpf_probe_read_kernel` does.
fn probe_read_kernel(src: u64, dst: &mut [u8]) -> bool {
    own_memory().is_some_and(|m| m.read_may_fault(src, dst).is_ok())
}

/// `bpf_iter_bits_new(it, unsafe_ptr, nr_words)`: iterate over the set bits of a copy of
/// `nr_words` 64-bit words at `unsafe_ptr`. NULL or no words: `-EINVAL`; more than
/// `BITS_ITER_NR_WORDS_MAX` words: `-E2BIG`; unreadable words: `-EFAULT`. On failure the
/// iterator is empty.
fn iter_bits_new(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (it, src, nr_words) = (a[0], a[1], a[2] as u32);
    let mut kit = BitsIter {
        word: 0,
        nr_bits: 0,
        bit: -1,
    };
    kit.write(ctx, it)?;
    if src == 0 || nr_words == 0 {
        return ret(errno::EINVAL);
    }
    if nr_words > BITS_ITER_NR_WORDS_MAX {
        return ret(errno::E2BIG);
    }
    let mut bytes = vec![0u8; nr_words as usize * 8];
    if !probe_read_kernel(src, &mut bytes) {
        return ret(errno::EFAULT);
    }
    if nr_words == 1 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes);
        kit.word = u64::from_ne_bytes(w);
    } else {
        let scratch = &mut env(ctx)?.scratch;
        scratch.push(bytes.into_boxed_slice());
        kit.word = scratch.len() as u64;
    }
    kit.nr_bits = (nr_words * 64) as i32;
    kit.write(ctx, it)?;
    Ok(0)
}

/// The first set bit at or after `start` in `bytes`, native-endian 64-bit words
/// (`find_next_bit`), if any.
fn find_next_bit(bytes: &[u8], start: usize) -> Option<usize> {
    bytes
        .chunks_exact(8)
        .enumerate()
        .skip(start / 64)
        .find_map(|(i, chunk)| {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            let mut word = u64::from_ne_bytes(w);
            if i == start / 64 {
                word &= u64::MAX << (start % 64);
            }
            (word != 0).then(|| i * 64 + word.trailing_zeros() as usize)
        })
}

/// `bpf_iter_bits_next(it)`: a pointer to the index of the next set bit, or NULL.
fn iter_bits_next(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut kit = BitsIter::read(ctx, a[0])?;
    if kit.nr_bits <= 0 || kit.bit >= kit.nr_bits {
        return Ok(0);
    }
    let nr_bits = kit.nr_bits as usize;
    // `bit + 1` is an unsigned offset to the kernel: a negative one finds nothing.
    let start = usize::try_from(kit.bit.wrapping_add(1)).unwrap_or(nr_bits);
    let found = if nr_bits == 64 {
        find_next_bit(&kit.word.to_ne_bytes(), start)
    } else {
        let scratch = &env(ctx)?.scratch;
        kit.word
            .checked_sub(1)
            .and_then(|i| scratch.get(usize::try_from(i).ok()?))
            .filter(|words| words.len() * 8 == nr_bits)
            .and_then(|words| find_next_bit(words, start))
    };
    match found {
        Some(bit) => {
            kit.bit = bit as i32;
            kit.write(ctx, a[0])?;
            Ok(a[0] + BIT_OFF)
        }
        None => {
            kit.bit = kit.nr_bits;
            kit.write(ctx, a[0])?;
            Ok(0)
        }
    }
}

/// `bpf_iter_bits_destroy(it)`: frees the copy of the words (kept in the iterator itself for
/// a single word).
fn iter_bits_destroy(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let kit = BitsIter::read(ctx, a[0])?;
    if kit.nr_bits <= 64 {
        return Ok(0);
    }
    let scratch = &mut env(ctx)?.scratch;
    let Some(i) = kit
        .word
        .checked_sub(1)
        .and_then(|i| usize::try_from(i).ok())
    else {
        return Ok(0);
    };
    if i + 1 == scratch.len() {
        scratch.pop();
    } else if let Some(words) = scratch.get_mut(i) {
        // Other buffers may be in use by the program (their addresses were handed out):
        // only this one is released.
        *words = Box::default();
    }
    Ok(0)
}

/// `bpf_copy_from_user_str(dst, dst__sz, unsafe_ptr, flags)` (sleepable): the user string at
/// `unsafe_ptr` of the current task into `dst`, with the kernel's results (`lull-task`'s
/// `copy_from_user_str`: the length with the NUL, `-EFAULT`, `-EINVAL` for unknown flags).
fn copy_from_user_str(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let task = env(ctx)?
        .task
        .clone()
        .ok_or_else(|| HelperError::Failed("no current task for this run".into()))?;
    let size = a[1] as u32 as usize;
    // Bytes the kernel leaves alone (past a fault, or everything on -EINVAL) keep their value.
    let mut dst = vec![0u8; size];
    ctx.read(a[0], &mut dst)?;
    let r = lull_task::helpers::copy_from_user_str(task.memory(), &mut dst, a[2], a[3]);
    ctx.write(a[0], &dst)?;
    Ok(r as u64)
}

#[cfg(test)]
mod tests {
    use super::find_next_bit;

    #[test]
    fn find_next_bit_scans_little_endian_bytes() {
        let words = (0x8000_0000_0000_0005u64).to_ne_bytes();
        assert_eq!(find_next_bit(&words, 0), Some(0));
        assert_eq!(find_next_bit(&words, 1), Some(2));
        assert_eq!(find_next_bit(&words, 3), Some(63));
        assert_eq!(find_next_bit(&words, 64), None);
    }

    #[test]
    fn find_next_bit_crosses_words() {
        let mut words = 1u64.to_ne_bytes().to_vec();
        words.extend_from_slice(&(1u64 << 5 | 1 << 9).to_ne_bytes());
        assert_eq!(find_next_bit(&words, 1), Some(69));
        assert_eq!(find_next_bit(&words, 69), Some(69));
        assert_eq!(find_next_bit(&words, 70), Some(73));
        assert_eq!(find_next_bit(&words, 74), None);
        assert_eq!(find_next_bit(&words, 1000), None);
    }
}
