//! Tests of open-coded iterators (`bpf_iter_num_*`, `bpf_iter_bits_*`, `bpf_iter_task_*`):
//! life-cycle rules, loop convergence at `_next` calls, and loops that must still be caught.
//! Run against the kernel BTF and, as root with `kload`, against the live kernel (see
//! [`crate::kfunc_tests`]). Several programs follow `tools/testing/selftests/bpf/progs/iters.c`
//! and `iters_state_safety.c`.

use crate::kfunc_tests::prog;

const NEW8: &str = "r1 = r10\nr1 += -8\nr2 = 0\nr3 = 10\ncall kernel-function#{bpf_iter_num_new}\n";
const NEXT8: &str = "r1 = r10\nr1 += -8\ncall kernel-function#{bpf_iter_num_next}\n";
const DESTROY8: &str = "r1 = r10\nr1 += -8\ncall kernel-function#{bpf_iter_num_destroy}\n";

/// Leaks `text` so the builder (which keeps `&'static str`) can take a composed program.
fn p(text: String) -> crate::kfunc_tests::Prog {
    prog(Box::leak(text.into_boxed_str()))
}

#[test]
fn a_counting_loop_converges() {
    // while (bpf_iter_num_next(&it)) sum += *v;
    p(format!(
        "r6 = 0\n{NEW8}l0:\n{NEXT8}if r0 == 0 goto l1\nr1 = *(u32 *)(r0 +0)\nr6 += r1\ngoto l0\nl1:\n{DESTROY8}r0 = r6\nexit"
    ))
    .accept();
}

#[test]
fn nested_iterators_converge() {
    let inner_new =
        "r1 = r10\nr1 += -16\nr2 = 0\nr3 = 10\ncall kernel-function#{bpf_iter_num_new}\n";
    let inner_next = "r1 = r10\nr1 += -16\ncall kernel-function#{bpf_iter_num_next}\n";
    let inner_destroy = "r1 = r10\nr1 += -16\ncall kernel-function#{bpf_iter_num_destroy}\n";
    p(format!(
        "r6 = 0\n{NEW8}l0:\n{NEXT8}if r0 == 0 goto l3\n{inner_new}l1:\n{inner_next}if r0 == 0 goto l2\nr6 += 1\ngoto l1\nl2:\n{inner_destroy}goto l0\nl3:\n{DESTROY8}r0 = r6\nexit"
    ))
    .accept();
}

#[test]
fn an_iterator_must_be_destroyed() {
    p(format!("{NEW8}{NEXT8}r0 = 0\nexit")).reject("Unreleased reference id=");
}

#[test]
fn next_and_destroy_need_an_initialised_iterator() {
    p(format!("{NEXT8}r0 = 0\nexit")).reject("expected an initialized iter_num as arg #0");
    p(format!(
        "r1 = 0\n*(u64 *)(r10 -8) = r1\n{DESTROY8}r0 = 0\nexit"
    ))
    .reject("expected an initialized iter_num as arg #0");
    // Used again after its destruction.
    p(format!("{NEW8}{DESTROY8}{NEXT8}r0 = 0\nexit"))
        .reject("expected an initialized iter_num as arg #0");
}

#[test]
fn new_needs_uninitialised_aligned_slots() {
    p(format!("{NEW8}{NEW8}{DESTROY8}r0 = 0\nexit"))
        .reject("expected uninitialized iter_num as arg #0");
    p("r1 = r10\nr1 += -12\nr2 = 0\nr3 = 10\ncall kernel-function#{bpf_iter_num_new}\nr0 = 0\nexit".into())
        .reject("cannot pass in iter at an offset=-12\nexpected uninitialized iter_num as arg #0");
}

#[test]
fn iterator_slots_are_not_plain_memory() {
    // A store destroys the iterator (its reference stays acquired).
    p(format!(
        "{NEW8}r1 = 0\n*(u64 *)(r10 -8) = r1\n{NEXT8}r0 = 0\nexit"
    ))
    .reject("expected an initialized iter_num as arg #0");
    p(format!(
        "{NEW8}r0 = *(u64 *)(r10 -8)\n{DESTROY8}r0 = 0\nexit"
    ))
    .reject("invalid read from stack off -8+0 size 8");
}

#[test]
fn elements_die_with_their_iterator() {
    p(format!(
        "{NEW8}{NEXT8}if r0 == 0 goto l0\nr6 = r0\n{DESTROY8}r0 = *(u32 *)(r6 +0)\nexit\nl0:\n{DESTROY8}r0 = 0\nexit"
    ))
    .reject("R6 invalid mem access 'scalar'");
    // The element is read-only memory of the element's size.
    p(format!(
        "{NEW8}{NEXT8}if r0 == 0 goto l0\nr1 = 1\n*(u32 *)(r0 +0) = r1\nl0:\n{DESTROY8}r0 = 0\nexit"
    ))
    .reject("cannot write into rdonly_mem");
}

#[test]
fn infinite_loops_inside_an_active_iterator_are_caught() {
    // The kernel rejects it too, but its last log line is the state dump after the message,
    // so only Lull's message is checked here.
    let out = p(format!(
        "{NEW8}{NEXT8}if r0 == 0 goto l1\nr6 = 0\nl0:\nif r6 == 0 goto l0\nl1:\n{DESTROY8}r0 = 0\nexit"
    ))
    .run();
    if let Some(o) = out {
        let e = o.error.expect("an infinite loop must be rejected");
        assert_eq!(e.message, "infinite loop detected at insn 10", "{}", o.log);
    }
}

/// `delayed_read_mark` of iters.c: the unsafe path appears only on a later iteration, after a
/// state with no read mark on r7 reached the `_next` call.
#[test]
fn convergence_does_not_rely_on_unfinished_read_marks() {
    p(format!(
        "r7 = r10\nr7 += -16\nr0 = 0\n*(u64 *)(r7 +0) = r0\ncall 7\nr6 = r0\n{NEW8}l1:\n{NEXT8}if r0 == 0 goto l2\nr6 += 1\nif r6 != 42 goto l3\nr7 = 0xdead\ngoto l1\nl3:\nr1 = r7\nr2 = 8\nr3 = 0xdeadbeef\ncall 112\ngoto l1\nl2:\n{DESTROY8}r0 = 0\nexit"
    ))
    .reject("R1 type=scalar expected=fp");
}

/// `delayed_precision_mark` of iters.c: the same with a precision mark.
#[test]
fn convergence_does_not_rely_on_unfinished_precision_marks() {
    p(format!(
        "r8 = 0\n*(u64 *)(r10 -16) = r8\nr7 = -16\ncall 7\nr6 = r0\n{NEW8}l1:\n{NEXT8}if r0 == 0 goto l2\nif r6 != 42 goto l3\nr7 = -33\ncall 7\nr6 = r0\ngoto l1\nl3:\nr0 = r10\nr0 += r7\nr8 = *(u64 *)(r0 +0)\ncall 7\nr6 = r0\ngoto l1\nl2:\n{DESTROY8}r0 = r8\nexit"
    ))
    .reject("math between fp pointer and register with unbounded");
}

#[test]
fn bits_iterator_over_a_stack_word() {
    // bpf_iter_bits_new(&it (16 bytes at fp-16), &word (fp-24), 1)
    let new = "r1 = -1\n*(u64 *)(r10 -24) = r1\nr1 = r10\nr1 += -16\nr2 = r10\nr2 += -24\nr3 = 1\ncall kernel-function#{bpf_iter_bits_new}\n";
    let next = "r1 = r10\nr1 += -16\ncall kernel-function#{bpf_iter_bits_next}\n";
    let destroy = "r1 = r10\nr1 += -16\ncall kernel-function#{bpf_iter_bits_destroy}\n";
    p(format!(
        "r6 = 0\n{new}l0:\n{next}if r0 == 0 goto l1\nr1 = *(u32 *)(r0 +0)\nr6 += r1\ngoto l0\nl1:\n{destroy}r0 = r6\nexit"
    ))
    .accept();
    // A bits iterator is not a num iterator.
    p(format!("{new}{NEXT8}r0 = 0\nexit")).reject("expected an initialized iter_num as arg #0");
}

/// `bpf_iter_task_new(&it, NULL, BPF_TASK_ITER_ALL_PROCS)` at fp-24.
const TASK_NEW: &str =
    "r1 = r10\nr1 += -24\nr2 = 0\nr3 = 0\ncall kernel-function#{bpf_iter_task_new}\n";
const TASK_NEXT: &str = "r1 = r10\nr1 += -24\ncall kernel-function#{bpf_iter_task_next}\n";
const TASK_DESTROY: &str = "r1 = r10\nr1 += -24\ncall kernel-function#{bpf_iter_task_destroy}\n";

#[test]
fn rcu_protected_iterators_need_the_rcu_lock() {
    let lock = "call kernel-function#{bpf_rcu_read_lock}\n";
    let unlock = "call kernel-function#{bpf_rcu_read_unlock}\n";
    p(format!(
        "{lock}{TASK_NEW}l0:\n{TASK_NEXT}if r0 == 0 goto l1\nr1 = *(u32 *)(r0 +0)\ngoto l0\nl1:\n{TASK_DESTROY}{unlock}r0 = 0\nexit"
    ))
    .accept();
    p(format!("{TASK_NEW}{TASK_DESTROY}r0 = 0\nexit"))
        .reject("kernel func bpf_iter_task_new requires RCU critical section protection");
    p(format!(
        "{lock}{TASK_NEW}{unlock}{TASK_NEXT}{TASK_DESTROY}r0 = 0\nexit"
    ))
    .reject("expected an RCU CS when using bpf_iter_task_next");
}

/// `compromise_iter_w_helper_write_fail` of iters_state_safety.c: a helper writing one byte
/// of the iterator breaks it.
#[test]
fn a_helper_write_into_the_iterator_breaks_it() {
    p(format!(
        "{NEW8}r1 = r10\nr1 += -1\nr2 = 1\nr3 = 0\ncall 113\n{DESTROY8}r0 = 0\nexit"
    ))
    .reject("expected an initialized iter_num as arg #0");
}

/// `stacksafe_should_not_conflate_stack_spill_and_iter`: a path whose iterator was
/// overwritten by a spill still holds its reference and may not be pruned by the path that
/// only spilled.
#[test]
fn an_overwritten_iterator_is_not_a_spill() {
    p(format!(
        "call 7\nr6 = r0\ncall 7\nr7 = r0\nif r6 > r7 goto l0\n*(u64 *)(r10 -8) = r6\ngoto l1\nl0:\n{NEW8}*(u64 *)(r10 -8) = r6\nl1:\ngoto +0\n*(u64 *)(r10 -8) = r6\nr0 = 0\nexit"
    ))
    .reject("Unreleased reference id=");
}

#[test]
fn an_iterator_must_not_outlive_its_subprogram() {
    p(format!("call l0\nr0 = 0\nexit\nl0:\n{NEW8}r0 = 0\nexit")).reject("Unreleased reference id=");
}

/// `triple_continue` of iters.c: a loop body with a high branching factor still converges.
#[test]
fn a_loop_body_with_many_continues_converges() {
    p(format!(
        "{NEW8}l0:\n{NEXT8}if r0 == 0 goto l1\ncall 7\nif r0 != 42 goto l0\ncall 7\nif r0 != 42 goto l0\ncall 7\nif r0 != 42 goto l0\nr0 += 0\ngoto l0\nl1:\n{DESTROY8}r0 = 0\nexit"
    ))
    .accept();
}

/// `widen_spill` of iters.c: a counter kept in a stack slot is widened too, so the loop
/// converges after a few iterations instead of counting up to the 1M-instruction limit.
#[test]
fn a_spilled_counter_is_widened() {
    let prog = p(format!(
        "r0 = 0\n*(u64 *)(r10 -16) = r0\n{NEW8}l0:\n{NEXT8}if r0 == 0 goto l1\nr0 = *(u64 *)(r10 -16)\nr0 += 1\n*(u64 *)(r10 -16) = r0\ngoto l0\nl1:\n{DESTROY8}r0 = 0\nexit"
    ));
    prog.accept();
    if let Some(o) = prog.run() {
        assert!(o.insns_processed < 200, "{} insns", o.insns_processed);
    }
}
