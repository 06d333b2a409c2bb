//! The kernel semantics of the BPF helpers and kfuncs that read the current task and user
//! memory, engine-independent: the runtime's helper table calls these with the program's
//! destination buffer and arguments and returns the result to the program as `r0`.
//!
//! What each one does on failure follows the Linux 6.18 sources (`kernel/bpf/helpers.c`,
//! `kernel/trace/bpf_trace.c`, `mm/maccess.c`, `lib/strncpy_from_user.c`):
//!
//! | helper | reads with | failure |
//! |---|---|---|
//! | `bpf_probe_read_user` | no-fault | `dst` zeroed, `-EFAULT` |
//! | `bpf_probe_read_user_str` | no-fault, up to `size` bytes | `dst` zeroed, `-EFAULT` |
//! | `bpf_copy_from_user` | may-fault | `dst` zeroed, `-EFAULT` |
//! | `bpf_copy_from_user_task` | may-fault | `dst` zeroed, `-EFAULT`; flags ≠ 0: `-EINVAL` |
//! | `bpf_copy_from_user_str` | may-fault, up to `size - 1` bytes | `-EFAULT`, `dst` zeroed only with `BPF_F_PAD_ZEROS` |
//! | `bpf_copy_from_user_task_str` | may-fault, up to `size` bytes | as `bpf_copy_from_user_str` |
//!
//! `tests/kernel_oracle.rs` runs the same calls in a syscall program on the live kernel and
//! requires identical return values and destination bytes.
//!
//! The string forms return the length *including* the NUL; a string that does not fit is cut
//! to `size - 1` bytes, NUL-terminated, and the result is `size`. Every memory failure is
//! `-EFAULT` whatever the source's own errno (a vanished process, a host timeout), since the
//! kernel's user copies know no other error.

use crate::memory::UserMemory;
use crate::{Errno, TASK_COMM_LEN, Task};

/// `BPF_F_PAD_ZEROS` (`enum bpf_kfunc_flags`): zero the rest of the buffer after the string, or
/// all of it on failure, in the `_str` kfuncs.
pub const BPF_F_PAD_ZEROS: u64 = 1;

/// Size of the machine word `strncpy_from_user` copies at a time on x86-64.
const WORD: usize = 8;

/// `bpf_get_current_pid_tgid`: `tgid << 32 | pid`.
pub fn get_current_pid_tgid(task: &Task) -> u64 {
    task.pid_tgid()
}

/// `bpf_get_current_uid_gid`: `gid << 32 | uid` (real ids).
pub fn get_current_uid_gid(task: &Task) -> u64 {
    task.uid_gid()
}

/// `bpf_get_current_comm`: the command name, cut to `dst.len() - 1` bytes, NUL-terminated and
/// zero-padded to the whole buffer (`strscpy_pad`). Returns 0. (The verifier guarantees a
/// nonzero size; an empty buffer is left alone.)
pub fn get_current_comm(task: &Task, dst: &mut [u8]) -> i64 {
    if dst.is_empty() {
        return 0;
    }
    let name = task.comm_name();
    let len = name.len().min(dst.len() - 1).min(TASK_COMM_LEN - 1);
    dst[..len].copy_from_slice(&name[..len]);
    dst[len..].fill(0);
    0
}

/// `bpf_probe_read_user(dst, size, src)`: no-fault copy; on failure `dst` is zeroed and the
/// result is `-EFAULT` (also for a mapped page that is not resident).
pub fn probe_read_user(mem: &dyn UserMemory, dst: &mut [u8], src: u64) -> i64 {
    match mem.read_nofault(src, dst) {
        Ok(()) => 0,
        Err(_) => fail_zeroed(dst),
    }
}

/// `bpf_copy_from_user(dst, size, src)`: may fault pages in and sleep; on failure `dst` is
/// zeroed and the result is `-EFAULT`.
pub fn copy_from_user(mem: &dyn UserMemory, dst: &mut [u8], src: u64) -> i64 {
    match mem.read_may_fault(src, dst) {
        Ok(()) => 0,
        Err(_) => fail_zeroed(dst),
    }
}

/// `bpf_copy_from_user_task(dst, size, src, task, flags)`, with `mem` the *given* task's memory
/// (`access_process_vm`): `-EINVAL` for nonzero flags (buffer untouched), 0 for an empty
/// buffer, otherwise as [`copy_from_user`] (a partial read is a failure: zeroed, `-EFAULT`).
pub fn copy_from_user_task(mem: &dyn UserMemory, dst: &mut [u8], src: u64, flags: u64) -> i64 {
    if flags != 0 {
        return Errno::EINVAL.to_ret();
    }
    copy_from_user(mem, dst, src)
}

/// `bpf_probe_read_user_str(dst, size, src)` (`strncpy_from_user_nofault`): copies at most
/// `size` bytes without faulting. Returns the string length plus one when the NUL fits, else
/// `size` with `dst[size - 1]` set to NUL; 0 for an empty buffer. On failure `dst` is zeroed
/// and the result is `-EFAULT`. (Since 6.15 an empty string returns 1; before, 0.)
pub fn probe_read_user_str(mem: &dyn UserMemory, dst: &mut [u8], src: u64) -> i64 {
    if dst.is_empty() {
        return 0;
    }
    match mem.read_str_nofault(src, dst) {
        Ok(n) if n >= dst.len() => {
            let last = dst.len() - 1;
            dst[last] = 0;
            dst.len() as i64
        }
        Ok(n) => {
            zero_word_tail(dst, n, dst.len());
            n as i64 + 1
        }
        Err(_) => fail_zeroed(dst),
    }
}

/// `bpf_copy_from_user_str(dst, size, src, flags)` (kfunc, sleepable): `strncpy_from_user` of at
/// most `size - 1` bytes, which may fault and sleep.
///
/// Unknown flags: `-EINVAL`, buffer untouched. Empty buffer: 0. Success: the length including
/// the NUL (at most `size`, the string cut to `size - 1` bytes); with [`BPF_F_PAD_ZEROS`] the
/// rest of `dst` is zeroed. Failure: `-EFAULT`; `dst` is zeroed with `BPF_F_PAD_ZEROS`, and
/// otherwise keeps the bytes copied before the fault (the kernel does not clear it).
pub fn copy_from_user_str(mem: &dyn UserMemory, dst: &mut [u8], src: u64, flags: u64) -> i64 {
    if flags & !BPF_F_PAD_ZEROS != 0 {
        return Errno::EINVAL.to_ret();
    }
    if dst.is_empty() {
        return 0;
    }
    let count = dst.len() - 1;
    // strncpy_from_user with a zero count reads nothing: a one-byte buffer just gets the NUL,
    // whatever `src` is.
    let copied = if count == 0 {
        Ok(0)
    } else {
        mem.read_str_may_fault(src, &mut dst[..count])
    };
    match copied {
        Ok(n) => {
            if n < count {
                zero_word_tail(dst, n, count);
            }
            finish_str(dst, n, flags)
        }
        Err(_) => fail_str(dst, flags),
    }
}

/// `bpf_copy_from_user_task_str(dst, size, src, task, flags)` (kfunc, sleepable), with `mem`
/// the given task's memory (`copy_remote_vm_str`, which reads up to `size` bytes to find the
/// NUL): results as [`copy_from_user_str`]. Unlike it, a one-byte buffer still reads the first
/// byte, so an unmapped `src` fails.
pub fn copy_from_user_task_str(mem: &dyn UserMemory, dst: &mut [u8], src: u64, flags: u64) -> i64 {
    if flags & !BPF_F_PAD_ZEROS != 0 {
        return Errno::EINVAL.to_ret();
    }
    if dst.is_empty() {
        return 0;
    }
    match mem.read_str_may_fault(src, dst) {
        Ok(n) => finish_str(dst, n.min(dst.len() - 1), flags),
        Err(_) => fail_str(dst, flags),
    }
}

/// Success of the `copy_from_user*_str` kfuncs: `dst[n]` is the NUL, the rest padded on request.
fn finish_str(dst: &mut [u8], n: usize, flags: u64) -> i64 {
    if flags & BPF_F_PAD_ZEROS != 0 {
        dst[n..].fill(0);
    } else {
        dst[n] = 0;
    }
    n as i64 + 1
}

/// Failure of the `copy_from_user*_str` kfuncs.
fn fail_str(dst: &mut [u8], flags: u64) -> i64 {
    if flags & BPF_F_PAD_ZEROS != 0 {
        dst.fill(0);
    }
    Errno::EFAULT.to_ret()
}

fn fail_zeroed(dst: &mut [u8]) -> i64 {
    dst.fill(0);
    Errno::EFAULT.to_ret()
}

/// `strncpy_from_user` copies whole words while at least one word of the count remains, and
/// stores the word holding the NUL with the bytes after the NUL masked to zero: so `dst` bytes
/// after the NUL up to the end of that word (counted from the start of `dst`) read as zero, and
/// later bytes are left as they were. `n` is the NUL's index, `count` the copy's byte limit.
/// (When the word read itself faults the kernel falls back to bytes and writes no such zeros;
/// that edge — a string ending within a word of an unreadable page — is not reproduced.)
fn zero_word_tail(dst: &mut [u8], n: usize, count: usize) {
    let word = n - n % WORD;
    if word + WORD <= count {
        dst[n + 1..word + WORD].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockingSource;

    const BASE: u64 = 0x10_0000;

    /// "hello\0" at BASE, then "abcdefghij" running to the end of a 16-byte region.
    fn strings() -> BlockingSource {
        let mut data = b"hello\0".to_vec();
        data.extend_from_slice(b"abcdefghij");
        BlockingSource::resident(BASE, &data)
    }

    #[test]
    fn probe_read_user_zeroes_on_failure() {
        let src = strings();
        let mut dst = [0xaau8; 8];
        assert_eq!(probe_read_user(&src, &mut dst, BASE), 0);
        assert_eq!(&dst[..6], b"hello\0");
        let mut dst = [0xaau8; 8];
        assert_eq!(probe_read_user(&src, &mut dst, BASE + 12), -14);
        assert_eq!(dst, [0; 8]);
    }

    #[test]
    fn copy_from_user_task_checks_flags_before_reading() {
        let src = strings();
        let mut dst = [0xaau8; 4];
        assert_eq!(copy_from_user_task(&src, &mut dst, BASE, 1), -22);
        assert_eq!(dst, [0xaa; 4], "untouched on -EINVAL");
        assert_eq!(copy_from_user_task(&src, &mut dst, BASE, 0), 0);
        assert_eq!(&dst, b"hell");
    }

    #[test]
    fn probe_read_user_str_lengths() {
        let src = strings();
        let mut dst = [0xaau8; 16];
        assert_eq!(probe_read_user_str(&src, &mut dst, BASE), 6);
        assert_eq!(&dst[..6], b"hello\0");
        // The NUL is in the first word and a whole word fits the count: the word is zero-masked.
        assert_eq!(&dst[6..8], &[0, 0]);
        assert_eq!(&dst[8..], &[0xaa; 8]);
        // Truncated: size bytes, last one NUL.
        let mut dst = [0xaau8; 4];
        assert_eq!(probe_read_user_str(&src, &mut dst, BASE), 4);
        assert_eq!(&dst, b"hel\0");
        // Empty string: 1 (6.15+).
        let mut dst = [0xaau8; 4];
        assert_eq!(probe_read_user_str(&src, &mut dst, BASE + 5), 1);
        assert_eq!(dst[0], 0);
        // Runs off the region without a NUL: -EFAULT, zeroed.
        let mut dst = [0xaau8; 32];
        assert_eq!(probe_read_user_str(&src, &mut dst, BASE + 6), -14);
        assert_eq!(dst, [0; 32]);
        // Exactly fits up to the region end: 10 bytes, no NUL, buffer of 10 -> truncated to 9.
        let mut dst = [0xaau8; 10];
        assert_eq!(probe_read_user_str(&src, &mut dst, BASE + 6), 10);
        assert_eq!(&dst, b"abcdefghi\0");
        assert_eq!(probe_read_user_str(&src, &mut [], BASE), 0);
    }

    #[test]
    fn copy_from_user_str_flags_and_padding() {
        let src = strings();
        let mut dst = [0xaau8; 16];
        assert_eq!(copy_from_user_str(&src, &mut dst, BASE, 2), -22);
        assert_eq!(dst, [0xaa; 16]);
        assert_eq!(copy_from_user_str(&src, &mut dst, BASE, BPF_F_PAD_ZEROS), 6);
        assert_eq!(&dst[..6], b"hello\0");
        assert_eq!(&dst[6..], &[0; 10]);
        // Without padding, bytes past the NUL's word keep their old contents.
        let mut dst = [0xaau8; 16];
        assert_eq!(copy_from_user_str(&src, &mut dst, BASE, 0), 6);
        assert_eq!(&dst[..8], b"hello\0\0\0");
        assert_eq!(&dst[8..], &[0xaa; 8]);
        // Cut to size - 1 bytes, result = size.
        let mut dst = [0xaau8; 4];
        assert_eq!(copy_from_user_str(&src, &mut dst, BASE, 0), 4);
        assert_eq!(&dst, b"hel\0");
        // A one-byte buffer reads nothing, so even an unmapped source gives 1.
        let mut dst = [0xaau8; 1];
        assert_eq!(copy_from_user_str(&src, &mut dst, 0x10, 0), 1);
        assert_eq!(dst, [0]);
        // Failure without padding keeps the prefix; with padding, everything zero.
        let mut dst = [0xaau8; 32];
        assert_eq!(copy_from_user_str(&src, &mut dst, BASE + 6, 0), -14);
        assert_eq!(&dst[..10], b"abcdefghij");
        let mut dst = [0xaau8; 32];
        assert_eq!(
            copy_from_user_str(&src, &mut dst, BASE + 6, BPF_F_PAD_ZEROS),
            -14
        );
        assert_eq!(dst, [0; 32]);
    }

    #[test]
    fn copy_from_user_task_str_reads_size_bytes() {
        let src = strings();
        let mut dst = [0xaau8; 1];
        assert_eq!(copy_from_user_task_str(&src, &mut dst, 0x10, 0), -14);
        assert_eq!(copy_from_user_task_str(&src, &mut dst, BASE, 0), 1);
        assert_eq!(dst, [0]);
        let mut dst = [0xaau8; 6];
        assert_eq!(copy_from_user_task_str(&src, &mut dst, BASE, 0), 6);
        assert_eq!(&dst, b"hello\0");
        let mut dst = [0xaau8; 5];
        assert_eq!(copy_from_user_task_str(&src, &mut dst, BASE, 0), 5);
        assert_eq!(&dst, b"hell\0");
        let mut dst = [0xaau8; 8];
        assert_eq!(
            copy_from_user_task_str(&src, &mut dst, BASE, BPF_F_PAD_ZEROS),
            6
        );
        assert_eq!(&dst, b"hello\0\0\0");
    }

    #[test]
    fn comm_is_cut_and_padded_to_the_buffer() {
        let task = Task::synthetic(1, 1, 0, 0, b"worker-thread-1");
        let mut dst = [0xaau8; 20];
        assert_eq!(get_current_comm(&task, &mut dst), 0);
        assert_eq!(&dst[..16], b"worker-thread-1\0");
        assert_eq!(&dst[16..], &[0; 4]);
        let mut dst = [0xaau8; 4];
        get_current_comm(&task, &mut dst);
        assert_eq!(&dst, b"wor\0");
    }
}
