//! Tests of the exception callback named by the main program's `exception_callback:` decl tag
//! (the cases of `exceptions_fail.c`): found like `bpf_find_exception_callback_insn_off`,
//! reachable although nothing calls it, verified as an always-called global function with one
//! scalar argument, and never called directly.

use crate::test_support::located;
use crate::{FuncInfo, VerifyInput, VerifyOutcome, verify};
use lull_abi::ProgType;
use lull_btf::Btf;
use lull_btf::builder::BtfBuilder;

/// BTF with `int main(struct __sk_buff *)` tagged `exception_callback:cb` and
/// `int cb(<n_args> x u64)` with linkage `linkage` (1 = global, 0 = static).
fn btf(n_args: usize, linkage: u32) -> Btf {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let u64t = b.add_int("u64", 8, false);
    let skb = b.add_struct("__sk_buff", 4, &[("len", int, 0)]);
    let skb_ptr = b.add_ptr(skb);
    let main_proto = b.add_func_proto(int, &[("ctx", skb_ptr)], false);
    let main = b.add_func("main", main_proto, 1);
    b.add_decl_tag("exception_callback:cb", main, -1);
    let names = ["a", "b", "c"];
    let params: Vec<(&str, u32)> = names[..n_args].iter().map(|&n| (n, u64t)).collect();
    let proto = b.add_func_proto(int, &params, false);
    b.add_func("cb", proto, linkage);
    Btf::parse(&b.build()).expect("test BTF parses")
}

/// Verifies `text` (of type `prog_type`) with func info for `main` at 0 and `cb` at `cb_slot`.
fn run(text: &str, btf: &Btf, prog_type: ProgType, cb_slot: usize) -> VerifyOutcome {
    let insns = located(text);
    let mut input = VerifyInput::new(&insns, prog_type);
    input.log_level = 1;
    input.btf = Some(btf);
    let id = |n: &str| btf.find_by_name(n, Some(lull_btf::Kind::Func)).unwrap();
    input.func_info = Some(vec![
        FuncInfo {
            slot: 0,
            name: "main".into(),
            global: true,
            type_id: id("main"),
        },
        FuncInfo {
            slot: cb_slot,
            name: "cb".into(),
            global: true,
            type_id: id("cb"),
        },
    ]);
    verify(&input)
}

#[track_caller]
fn rejected_with(o: &VerifyOutcome, msg: &str) {
    assert!(!o.accepted, "expected reject with {msg:?}, log:\n{}", o.log);
    assert!(o.log.contains(msg), "expected {msg:?} in log:\n{}", o.log);
}

/// main returns 0; the callback (slot 2, never called) returns `ret`.
fn uncalled_cb(ret: &str) -> String {
    format!("r0 = 0\nexit\n{ret}\nexit\n")
}

#[test]
fn uncalled_callback_is_reachable_and_verified() {
    let o = run(&uncalled_cb("r0 = 0"), &btf(1, 1), ProgType::SchedCls, 2);
    assert!(o.accepted, "log:\n{}", o.log);
    assert!(o.log.contains("Validating cb() func#1..."), "{}", o.log);
}

#[test]
fn callback_takes_exactly_one_scalar() {
    for n in [0, 2] {
        let o = run(&uncalled_cb("r0 = 0"), &btf(n, 1), ProgType::SchedCls, 2);
        rejected_with(&o, "exception cb only supports single integer argument");
    }
}

#[test]
fn callback_returns_within_the_program_range() {
    // cgroup_skb programs return 0 or 1; the callback returns for the program.
    let o = run(&uncalled_cb("r0 = 2"), &btf(1, 1), ProgType::CgroupSkb, 2);
    rejected_with(
        &o,
        "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]",
    );
    let o = run(&uncalled_cb("r0 = 1"), &btf(1, 1), ProgType::CgroupSkb, 2);
    assert!(o.accepted, "log:\n{}", o.log);
}

#[test]
fn callback_needs_global_linkage() {
    let o = run(&uncalled_cb("r0 = 0"), &btf(1, 0), ProgType::SchedCls, 2);
    rejected_with(&o, "exception callback 'cb' must have global linkage");
}

#[test]
fn callback_may_not_be_called_directly() {
    let o = run(
        "r1 = 1\ncall pc+2\nr0 = 0\nexit\nr0 = 0\nexit\n",
        &btf(1, 1),
        ProgType::SchedCls,
        4,
    );
    rejected_with(&o, "insn 1 cannot call exception cb directly");
}

#[test]
fn callback_may_not_throw() {
    let Ok(vmlinux) = Btf::vmlinux() else {
        eprintln!("skipped: no kernel BTF");
        return;
    };
    let throw = vmlinux
        .find_by_name("bpf_throw", Some(lull_btf::Kind::Func))
        .expect("bpf_throw in vmlinux");
    let text = format!("r0 = 0\nexit\nr1 = 0\ncall kernel-function#{throw}\nr0 = 0\nexit\n");
    let btf = btf(1, 1);
    let insns = located(&text);
    let mut input = VerifyInput::new(&insns, ProgType::SchedCls);
    input.btf = Some(&btf);
    input.kernel_btf = Some(&vmlinux);
    let id = |n: &str| btf.find_by_name(n, Some(lull_btf::Kind::Func)).unwrap();
    input.func_info = Some(vec![
        FuncInfo {
            slot: 0,
            name: "main".into(),
            global: true,
            type_id: id("main"),
        },
        FuncInfo {
            slot: 2,
            name: "cb".into(),
            global: true,
            type_id: id("cb"),
        },
    ]);
    let o = verify(&input);
    let err = o.error.expect("rejected");
    assert!(
        err.message
            .contains("bpf_throw kfunc (insn 3) cannot be called from callback subprog 1"),
        "{}",
        err.message
    );
}
