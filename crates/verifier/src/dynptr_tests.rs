//! Tests of dynptrs (`struct bpf_dynptr` on the stack, the dynptr helpers and kfuncs) and of
//! `bpf_throw`, each rejection checked for the kernel's message (the cases follow
//! `dynptr_fail.c`, `user_ringbuf_fail.c` and `exceptions_fail.c` of the kernel selftests).

use crate::kfunc_tests::prog;
use crate::test_support::located;
use crate::{MapInfo, VerifyInput, VerifyOutcome, verify};
use lull_abi::{MapType, ProgType};

/// Verifies `text` as a privileged socket filter with map 0 a ring buffer and map 1 an array
/// of one 16-byte value.
fn run(text: &str) -> VerifyOutcome {
    let insns = located(text);
    let mut input = VerifyInput::new(&insns, ProgType::SocketFilter);
    input.maps = vec![
        MapInfo::new(MapType::Ringbuf, 0, 0, 4096),
        MapInfo::new(MapType::Array, 4, 16, 1),
    ];
    input.privileged = true;
    input.log_level = 2;
    verify(&input)
}

#[track_caller]
fn accept(text: &str) {
    let o = run(text);
    assert!(
        o.accepted,
        "expected accept, got {:?}\nlog:\n{}",
        o.error, o.log
    );
}

#[track_caller]
fn reject(text: &str, msg: &str) {
    let o = run(text);
    let err = o
        .error
        .unwrap_or_else(|| panic!("expected reject with `{msg}`, accepted\nlog:\n{}", o.log));
    assert!(
        err.message.contains(msg),
        "expected `{msg}`, got `{}`\nlog:\n{}",
        err.message,
        o.log
    );
    assert!(err.unsupported.is_none(), "{}", err.message);
}

/// `bpf_ringbuf_reserve_dynptr(&ringbuf, 8, 0, fp-16)`.
const RESERVE: &str = "r1 = map[idx:0]\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -16\ncall 198\n";
/// `bpf_ringbuf_discard_dynptr(fp-16, 0)`.
const DISCARD: &str = "r1 = r10\nr1 += -16\nr2 = 0\ncall 200\n";
/// `bpf_dynptr_from_mem(map value, 16, 0, fp-16)` of the array's element 0 (r0 = 0 when
/// the lookup fails).
const FROM_MEM: &str = "r1 = 0\n*(u32 *)(r10 -4) = r1\nr2 = r10\nr2 += -4\nr1 = map[idx:1]\ncall 1\nif r0 == 0 goto out\nr1 = r0\nr2 = 16\nr3 = 0\nr4 = r10\nr4 += -16\ncall 197\n";
const EXIT: &str = "r0 = 0\nexit\n";

fn cat(parts: &[&str]) -> String {
    parts.concat()
}

#[test]
fn ringbuf_dynptr_must_be_released_once() {
    accept(&cat(&[RESERVE, DISCARD, EXIT]));
    reject(&cat(&[RESERVE, EXIT]), "Unreleased reference id=");
    reject(
        &cat(&[RESERVE, DISCARD, DISCARD, EXIT]),
        "arg 1 is an unacquired reference",
    );
    // A referenced dynptr cannot be overwritten, not even one byte of it.
    reject(
        &cat(&[RESERVE, "r1 = 0\n*(u8 *)(r10 -16) = r1\n", DISCARD, EXIT]),
        "cannot overwrite referenced dynptr",
    );
    // Nor reinitialised by another constructor.
    reject(
        &cat(&[RESERVE, RESERVE, DISCARD, EXIT]),
        "cannot overwrite referenced dynptr",
    );
}

#[test]
fn dynptr_slots_are_whole_and_aligned() {
    reject(
        "r1 = map[idx:0]\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -8\ncall 198\nr0 = 0\nexit",
        "cannot pass in dynptr at an offset=-8",
    );
    // The dynptr's bytes are not data.
    reject(
        &cat(&[RESERVE, "r0 = *(u64 *)(r10 -16)\n", DISCARD, EXIT]),
        "invalid read from stack",
    );
    // A helper may not write uninitialised memory over it.
    reject(
        &cat(&[
            RESERVE,
            "r1 = r10\nr1 += -16\nr2 = 8\nr3 = r10\nr3 += -16\nr4 = 0\nr5 = 0\ncall 201\n",
            DISCARD,
            EXIT,
        ]),
        "potential write to dynptr at off=-16",
    );
}

#[test]
fn local_dynptrs_need_map_memory_and_initialisation() {
    accept(&cat(&[FROM_MEM, "out:\n", EXIT]));
    reject(
        "r1 = r10\nr1 += -32\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -16\ncall 197\nr0 = 0\nexit",
        "Unsupported reg type fp for bpf_dynptr_from_mem data",
    );
    // bpf_dynptr_read(fp-24, 8, fp-16 (never initialised), 0, 0)
    reject(
        "r1 = r10\nr1 += -24\nr2 = 8\nr3 = r10\nr3 += -16\nr4 = 0\nr5 = 0\ncall 201\nr0 = 0\nexit",
        "Expected an initialized dynptr as arg #2",
    );
    // A ring-buffer helper needs a ring-buffer dynptr.
    reject(
        &cat(&[FROM_MEM, DISCARD, "out:\n", EXIT]),
        "arg 1 is an unacquired reference",
    );
}

#[test]
fn slices_die_with_their_dynptr() {
    // p = bpf_dynptr_data(fp-16, 0, 1); overwrite the dynptr; *p is no longer memory.
    let slice = "r1 = r10\nr1 += -16\nr2 = 0\nr3 = 1\ncall 203\nif r0 == 0 goto out\n";
    accept(&cat(&[
        FROM_MEM,
        slice,
        "r0 = *(u8 *)(r0 +0)\n",
        "out:\n",
        EXIT,
    ]));
    reject(
        &cat(&[
            FROM_MEM,
            slice,
            "r1 = 0\n*(u64 *)(r10 -16) = r1\nr0 = *(u8 *)(r0 +0)\n",
            "out:\n",
            EXIT,
        ]),
        "invalid mem access 'scalar'",
    );
    // Past the slice's size.
    reject(
        &cat(&[FROM_MEM, slice, "r0 = *(u8 *)(r0 +1)\n", "out:\n", EXIT]),
        "invalid access to memory",
    );
}

const THROW: &str = "r1 = 0\ncall kernel-function#{bpf_throw}\n";

#[test]
fn bpf_throw_leaves_no_region_or_reference_behind() {
    prog("r1 = 0\ncall kernel-function#{bpf_throw}\nr0 = 0\nexit").accept();
    prog("call kernel-function#{bpf_rcu_read_lock}\nr1 = 0\ncall kernel-function#{bpf_throw}\nr0 = 0\nexit")
        .reject("bpf_throw cannot be used inside bpf_rcu_read_lock-ed region");
    prog("r1 = 1\ncall kernel-function#{bpf_task_from_pid}\nif r0 == 0 goto l0\nr1 = 0\ncall kernel-function#{bpf_throw}\nl0:\nr0 = 0\nexit")
        .reject("Unreleased reference id=");
    assert!(THROW.contains("throw"));
}

#[test]
fn bpf_throw_is_not_allowed_in_callbacks() {
    // bpf_loop(1, cb, NULL, 0) where cb throws. (The kernel needs BTF func_info for this
    // program, which raw instructions lack, so it is not loaded there.)
    let Ok(btf) = lull_btf::Btf::vmlinux() else {
        eprintln!("skipped: no kernel BTF");
        return;
    };
    let throw = btf
        .find_by_name("bpf_throw", Some(lull_btf::Kind::Func))
        .expect("bpf_throw in vmlinux");
    let text = format!(
        "r1 = 1\nr2 = func[pc+6]\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\nr1 = 0\ncall kernel-function#{throw}\nr0 = 0\nexit"
    );
    let insns = located(&text);
    let mut input = VerifyInput::new(&insns, ProgType::Syscall);
    input.sleepable = true;
    input.kernel_btf = Some(&btf);
    let o = verify(&input);
    let err = o.error.expect("rejected");
    assert!(
        err.message
            .contains("bpf_throw kfunc (insn 9) cannot be called from callback subprog 1"),
        "{}",
        err.message
    );
}

#[test]
fn the_state_log_shows_dynptrs_like_the_kernel() {
    // The branch makes the log print the whole state at the jump target ("from 7 to 14: ...").
    let o = run(&cat(&[
        RESERVE,
        "if r0 == 0 goto l0\n",
        DISCARD,
        EXIT,
        "l0:\n",
        DISCARD,
        EXIT,
    ]));
    assert!(o.accepted, "{}", o.log);
    assert!(
        o.log.contains("fp-16=dynptr_ringbuf(id=") && o.log.contains(",ref_id="),
        "{}",
        o.log
    );
}
