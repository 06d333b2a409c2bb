//! Tests of global functions verified on their own, of the subprogram return-type rules of
//! `check_btf_func`, and of decode errors reported by the verifier.

use crate::test_support::located;
use crate::{FuncInfo, VerifyInput, VerifyOutcome, verify};
use lull_abi::ProgType;
use lull_btf::Btf;
use lull_btf::builder::BtfBuilder;

/// Parameter of a test function's prototype.
#[derive(Clone, Copy)]
enum P {
    Int,
    IntPtr,
    VoidPtr,
    Skb,
}

/// BTF with `int main(struct __sk_buff *)` and one more function `name(params) -> ret`
/// (`ret_int = false`: returns `void`), linkage `linkage`; tags are `(param, "arg:...")`.
fn btf(name: &str, ret_int: bool, params: &[P], linkage: u32, tags: &[(i32, &str)]) -> Btf {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let int_ptr = b.add_ptr(int);
    let void_ptr = b.add_ptr(0);
    let skb = b.add_struct("__sk_buff", 4, &[("len", int, 0)]);
    let skb_ptr = b.add_ptr(skb);
    let main_proto = b.add_func_proto(int, &[("ctx", skb_ptr)], false);
    b.add_func("main", main_proto, 1);
    let ps: Vec<(String, u32)> = params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let t = match p {
                P::Int => int,
                P::IntPtr => int_ptr,
                P::VoidPtr => void_ptr,
                P::Skb => skb_ptr,
            };
            (format!("a{i}"), t)
        })
        .collect();
    let ps: Vec<(&str, u32)> = ps.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let proto = b.add_func_proto(if ret_int { int } else { 0 }, &ps, false);
    let f = b.add_func(name, proto, linkage);
    for (idx, tag) in tags {
        b.add_decl_tag(tag, f, *idx);
    }
    Btf::parse(&b.build()).expect("test BTF parses")
}

/// Verifies `text` with func info for `main` at slot 0 and `name` at `sub_slot` (BTF ids 7
/// and 9 in [`btf`]'s numbering).
fn run(text: &str, btf: &Btf, name: &str, sub_slot: usize, global: bool) -> VerifyOutcome {
    let insns = located(text);
    let mut input = VerifyInput::new(&insns, ProgType::SocketFilter);
    input.log_level = 1;
    input.btf = Some(btf);
    let id = |n: &str| {
        btf.find_by_name(n, Some(lull_btf::Kind::Func))
            .expect("func")
    };
    input.func_info = Some(vec![
        FuncInfo {
            slot: 0,
            name: "main".into(),
            global: true,
            type_id: id("main"),
        },
        FuncInfo {
            slot: sub_slot,
            name: name.into(),
            global,
            type_id: id(name),
        },
    ]);
    verify(&input)
}

#[track_caller]
fn rejected_with(o: &VerifyOutcome, msg: &str) {
    assert!(!o.accepted, "expected reject with {msg:?}, log:\n{}", o.log);
    assert!(o.log.contains(msg), "expected {msg:?} in log:\n{}", o.log);
}

/// The callee dereferences its pointer argument without a NULL check: inlined (static), the
/// call site's valid stack pointer makes it safe; verified on its own (global), the argument
/// may be NULL and the kernel rejects it.
const DEREF_ARG: &str = "
    *(u32 *)(r10 - 4) = 7
    r1 = r10
    r1 += -4
    call pc+2
    r0 = 0
    exit
    r0 = *(u32 *)(r1 + 0)
    exit
";

#[test]
fn global_function_is_verified_with_prototype_arguments() {
    let b = btf("callee", true, &[P::IntPtr], 1, &[]);
    let o = run(DEREF_ARG, &b, "callee", 6, true);
    rejected_with(&o, "R1 invalid mem access 'mem_or_null'");
    assert!(
        o.log
            .contains("Func#1 ('callee') is global and assumed valid.")
    );
    assert!(o.log.contains("Validating callee() func#1..."));
}

#[test]
fn static_function_is_inlined() {
    let b = btf("callee", true, &[P::IntPtr], 0, &[]);
    let o = run(DEREF_ARG, &b, "callee", 6, false);
    assert!(o.accepted, "log:\n{}", o.log);
}

#[test]
fn nonnull_tag_makes_the_argument_non_null() {
    let b = btf("callee", true, &[P::IntPtr], 1, &[(0, "arg:nonnull")]);
    let o = run(DEREF_ARG, &b, "callee", 6, true);
    assert!(o.accepted, "log:\n{}", o.log);
    assert!(
        o.log
            .contains("Func#1 ('callee') is safe for any args that match its prototype")
    );
}

#[test]
fn call_site_checks_memory_size_of_pointer_argument() {
    // Only 4 bytes of stack are initialised... and the callee's `int *` needs 4: passes; a
    // pointer to the last 2 bytes of the stack frame does not.
    let text = "
        r1 = r10
        r1 += -2
        call pc+2
        r0 = 0
        exit
        r0 = 0
        exit
    ";
    let b = btf("callee", true, &[P::IntPtr], 1, &[]);
    let o = run(text, &b, "callee", 5, true);
    rejected_with(&o, "Caller passes invalid args into func#1 ('callee')");
}

#[test]
fn global_function_returns_unknown_scalar_and_clobbers_arguments() {
    // r0 after the call is unknown, so returning it from a socket filter is fine, but r1
    // (caller-saved) is no longer readable.
    let text = "
        r1 = 5
        call pc+2
        r0 = r1
        exit
        r0 = 1
        exit
    ";
    let b = btf("callee", true, &[P::Int], 1, &[]);
    let o = run(text, &b, "callee", 4, true);
    rejected_with(&o, "R1 !read_ok");
}

#[test]
fn scalar_argument_must_be_scalar() {
    let text = "
        r1 = r10
        call pc+2
        r0 = 0
        exit
        r0 = 0
        exit
    ";
    let b = btf("callee", true, &[P::Int], 1, &[]);
    let o = run(text, &b, "callee", 4, true);
    rejected_with(&o, "R1 is not a scalar");
}

#[test]
fn ctx_argument_needs_the_context() {
    let text = "
        r1 = 0
        call pc+2
        r0 = 0
        exit
        r0 = *(u32 *)(r1 + 0)
        exit
    ";
    let b = btf("callee", true, &[P::Skb], 1, &[]);
    let o = run(text, &b, "callee", 4, true);
    rejected_with(&o, "arg#0 expects pointer to ctx");
    let ok = "
        call pc+2
        r0 = 0
        exit
        r0 = *(u32 *)(r1 + 0)
        exit
    ";
    let o = run(ok, &b, "callee", 3, true);
    assert!(o.accepted, "log:\n{}", o.log);
}

#[test]
fn global_function_must_return_a_scalar() {
    let text = "
        call pc+2
        r0 = 0
        exit
        exit
    ";
    let b = btf("callee", false, &[], 1, &[]);
    let o = run(text, &b, "callee", 3, true);
    rejected_with(
        &o,
        "Global function callee() doesn't return scalar. Only those are supported.",
    );
}

#[test]
fn void_pointer_argument_has_no_size() {
    let text = "
        r1 = 0
        call pc+2
        r0 = 0
        exit
        r0 = 0
        exit
    ";
    let b = btf("callee", true, &[P::VoidPtr], 1, &[]);
    let o = run(text, &b, "callee", 4, true);
    rejected_with(
        &o,
        "arg#0 reference type('UNKNOWN ') size cannot be determined",
    );
}

#[test]
fn ld_abs_needs_a_function_returning_int() {
    let text = "
        call pc+2
        r0 = 0
        exit
        r6 = r1
        r0 = *(u8 *)skb[0]
        exit
    ";
    let void = btf("sub", false, &[], 0, &[]);
    let o = run(text, &void, "sub", 3, false);
    rejected_with(&o, "LD_ABS is only allowed in functions that return 'int'.");
    let int = btf("sub", true, &[], 0, &[]);
    let o = run(text, &int, "sub", 3, false);
    assert!(o.accepted, "log:\n{}", o.log);
}

#[test]
fn decode_error_is_reported_by_the_verifier() {
    // mov r0, r15: the object loader keeps the program and hands the error over.
    let raw = [lull_isa::RawInsn {
        code: 0xbf,
        regs: 0xf0,
        off: 0,
        imm: 0,
    }];
    let err = lull_isa::decode(&raw).expect_err("r15 does not exist");
    let mut input = VerifyInput::new(&[], ProgType::SocketFilter);
    input.decode_error = Some(err);
    let o = verify(&input);
    assert!(!o.accepted);
    let e = o.error.expect("rejection");
    assert_eq!(e.message, "R15 is invalid");
    assert_eq!(e.insn, Some(0));
}

#[test]
fn global_function_changing_packet_data_invalidates_packet_pointers() {
    // The callee calls bpf_skb_pull_data (39): the packet pointer checked before the call
    // may no longer be valid after it.
    let text = "
        r6 = *(u32 *)(r1 + 76)
        r7 = *(u32 *)(r1 + 80)
        r8 = r6
        r8 += 4
        if r8 > r7 goto l0
        r2 = 0
        call pc+3
        r0 = *(u32 *)(r6 + 0)
    l0:
        r0 = 0
        exit
        r2 = 0
        call 39
        r0 = 0
        exit
    ";
    let b = btf("pull", true, &[P::Skb], 1, &[]);
    let insns = located(text);
    let mut input = VerifyInput::new(&insns, ProgType::SchedCls);
    input.log_level = 1;
    input.btf = Some(&b);
    let id = |n: &str| b.find_by_name(n, Some(lull_btf::Kind::Func)).expect("func");
    input.func_info = Some(vec![
        FuncInfo {
            slot: 0,
            name: "main".into(),
            global: true,
            type_id: id("main"),
        },
        FuncInfo {
            slot: 10,
            name: "pull".into(),
            global: true,
            type_id: id("pull"),
        },
    ]);
    let o = verify(&input);
    rejected_with(&o, "R6 invalid mem access 'scalar'");
}
