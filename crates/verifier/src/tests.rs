//! Tests: small programs in the kernel's assembly syntax, checked for the kernel's verdict and
//! (for rejections) a substring of the kernel's message.

use crate::test_support::located;
use crate::{MapInfo, VerifyInput, VerifyOutcome, verify};
use lull_abi::{AttachType, MapType, ProgType};
use lull_isa::Located;

struct Case {
    text: &'static str,
    prog_type: ProgType,
    attach: Option<AttachType>,
    maps: Vec<MapInfo>,
    privileged: bool,
    sleepable: bool,
}

fn case(text: &'static str) -> Case {
    Case {
        text,
        prog_type: ProgType::SocketFilter,
        attach: None,
        maps: Vec::new(),
        privileged: true,
        sleepable: false,
    }
}

impl Case {
    fn ty(mut self, t: ProgType) -> Self {
        self.prog_type = t;
        self
    }
    fn attach(mut self, a: AttachType) -> Self {
        self.attach = Some(a);
        self
    }
    fn map(mut self, m: MapInfo) -> Self {
        self.maps.push(m);
        self
    }
    fn unpriv(mut self) -> Self {
        self.privileged = false;
        self
    }
    fn sleepable(mut self) -> Self {
        self.sleepable = true;
        self
    }
    fn run(&self) -> VerifyOutcome {
        let insns = located(self.text);
        let mut input = VerifyInput::new(&insns, self.prog_type);
        input.expected_attach = self.attach;
        input.maps = self.maps.clone();
        input.privileged = self.privileged;
        input.sleepable = self.sleepable;
        input.log_level = 2;
        verify(&input)
    }
    #[track_caller]
    fn accept(&self) {
        let o = self.run();
        assert!(
            o.accepted,
            "expected accept, got {:?}\nlog:\n{}",
            o.error, o.log
        );
    }
    #[track_caller]
    fn reject(&self, msg: &str) {
        let o = self.run();
        let err = o
            .error
            .unwrap_or_else(|| panic!("expected reject with `{msg}`, accepted\nlog:\n{}", o.log));
        assert!(
            err.message.contains(msg),
            "expected `{msg}`, got `{}`\nlog:\n{}",
            err.message,
            o.log
        );
    }
}

fn hash(key: u32, value: u32) -> MapInfo {
    MapInfo::new(MapType::Hash, key, value, 16)
}

// ---- structure ----

#[test]
fn return_zero() {
    case("r0 = 0\nexit").accept();
}

#[test]
fn exit_without_r0() {
    case("exit").reject("R0 !read_ok");
}

#[test]
fn read_uninit_register() {
    case("r0 = r2\nexit").reject("R2 !read_ok");
}

#[test]
fn frame_pointer_is_read_only() {
    case("r10 = 0\nr0 = 0\nexit").reject("frame pointer is read only");
}

#[test]
fn unreachable_instruction() {
    case("r0 = 0\nexit\nr0 = 1\nexit").reject("unreachable insn 2");
}

#[test]
fn jump_out_of_range() {
    case("r0 = 0\nif r0 == 0 goto pc+5\nexit").reject("jump out of range from insn 1 to 7");
}

#[test]
fn fall_off_the_end() {
    case("r0 = 0").reject("last insn is not an exit or jmp");
}

#[test]
fn back_edge_unprivileged() {
    case("r0 = 0\nl0:\nr0 += 1\nif r0 < 10 goto l0\nexit")
        .unpriv()
        .reject("back-edge from insn 2 to 1");
}

#[test]
fn bounded_loop_privileged() {
    case("r0 = 0\nl0:\nr0 += 1\nif r0 < 10 goto l0\nexit").accept();
}

#[test]
fn infinite_loop() {
    case("r0 = 0\nl0:\nr1 = 0\nif r0 == 0 goto l0\nexit")
        .reject("infinite loop detected at insn 1");
}

#[test]
fn too_many_instructions() {
    case("r0 = 0\nl0:\nr0 += 1\nif r0 != 0x7fffffff goto l0\nexit")
        .reject("BPF program is too large. Processed 1000001 insn");
}

// ---- ALU ----

#[test]
fn div_by_zero_immediate() {
    case("r0 = 1\nr0 /= 0\nexit").reject("div by zero");
}

#[test]
fn invalid_shift() {
    case("r0 = 1\nr0 <<= 64\nexit").reject("invalid shift 64");
}

#[test]
fn pointer_bitwise_prohibited() {
    case("r1 &= 7\nr0 = 0\nexit").reject("R1 bitwise operator &= on pointer prohibited");
}

#[test]
fn return_pointer_unprivileged_leaks() {
    case("r0 = r10\nexit")
        .unpriv()
        .reject("R0 leaks addr as return value");
}

// ---- stack ----

#[test]
fn spill_and_fill_pointer() {
    case("*(u64 *)(r10 -8) = r1\nr1 = *(u64 *)(r10 -8)\nr0 = *(u32 *)(r1 +0)\nexit").accept();
}

#[test]
fn uninit_stack_read_unprivileged() {
    case("r0 = *(u64 *)(r10 -8)\nexit")
        .unpriv()
        .reject("invalid read from stack R10 off=-8 size=8");
    case("r1 = 0\n*(u32 *)(r10 -4) = r1\nr0 = *(u64 *)(r10 -8)\nexit")
        .unpriv()
        .reject("invalid read from stack off -8+0 size 8");
}

#[test]
fn uninit_stack_read_privileged_allowed() {
    case("r0 = *(u64 *)(r10 -8)\nexit").accept();
}

#[test]
fn stack_out_of_bounds() {
    case("r0 = 0\n*(u64 *)(r10 -520) = r0\nexit")
        .reject("invalid write to stack R10 off=-520 size=8");
}

#[test]
fn misaligned_stack() {
    case("r0 = 0\n*(u64 *)(r10 -4) = r0\nexit").reject("misaligned stack access");
}

#[test]
fn spilled_constant_keeps_value() {
    // The constant survives the spill, so the branch is known and r0 is set on every path.
    case("r1 = 5\n*(u64 *)(r10 -8) = r1\nr2 = *(u64 *)(r10 -8)\nif r2 == 5 goto l0\nexit\nl0:\nr0 = 0\nexit").accept();
}

// ---- maps ----

const LOOKUP: &str = "r1 = 0\n*(u32 *)(r10 -4) = r1\nr2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall 1\n";

#[test]
fn map_value_needs_null_check() {
    let text = Box::leak(format!("{LOOKUP}r0 = *(u32 *)(r0 +0)\nexit").into_boxed_str());
    let o = case(text).map(hash(4, 8)).run();
    let e = o.error.expect("rejected");
    assert!(
        e.message
            .contains("R0 invalid mem access 'map_value_or_null'"),
        "{}",
        e.message
    );
    assert_eq!(
        e.hint.as_deref(),
        Some(
            "check the pointer returned by bpf_map_lookup_elem against NULL before dereferencing it"
        )
    );
    assert_eq!(e.insn, Some(7));
}

#[test]
fn map_value_after_null_check() {
    let text = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr0 = *(u64 *)(r0 +0)\nl0:\nexit").into_boxed_str(),
    );
    case(text).map(hash(4, 8)).accept();
}

#[test]
fn map_value_out_of_bounds() {
    let text = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr0 = *(u64 *)(r0 +4)\nl0:\nexit").into_boxed_str(),
    );
    case(text)
        .map(hash(4, 8))
        .reject("invalid access to map value, value_size=8 off=4 size=8");
}

#[test]
fn map_value_variable_index_bounded() {
    let text = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr1 = *(u32 *)(r0 +0)\nif r1 > 7 goto l0\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nl0:\nr0 = 0\nexit")
            .into_boxed_str(),
    );
    case(text).map(hash(4, 8)).accept();
}

#[test]
fn map_value_variable_index_unbounded() {
    let text = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr1 = *(u32 *)(r0 +0)\nr0 += r1\nr0 = *(u8 *)(r0 +0)\nl0:\nr0 = 0\nexit")
            .into_boxed_str(),
    );
    case(text)
        .map(hash(4, 8))
        .reject("R0 unbounded memory access");
}

#[test]
fn map_key_uninitialised_unprivileged() {
    case("r2 = r10\nr2 += -4\nr1 = map[idx:0]\ncall 1\nr0 = 0\nexit")
        .map(hash(4, 8))
        .unpriv()
        .reject("invalid indirect read from stack R2 off -4+0 size 4");
}

#[test]
fn map_arg_must_be_map() {
    case("r1 = 0\nr2 = r10\nr2 += -8\ncall 1\nr0 = 0\nexit")
        .reject("R1 type=scalar expected=map_ptr");
}

#[test]
fn bad_map_index() {
    case("r1 = map[idx:3]\nr0 = 0\nexit").reject("fd 3 is not pointing to valid bpf_map");
}

// ---- packets and context ----

#[test]
fn xdp_packet_without_bounds_check() {
    case("r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nexit")
        .ty(ProgType::Xdp)
        .reject("invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)");
}

#[test]
fn xdp_packet_with_bounds_check() {
    case(
        "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto l0\nr0 = *(u8 *)(r2 +13)\nl0:\nr0 = 2\nexit",
    )
    .ty(ProgType::Xdp)
    .accept();
}

#[test]
fn xdp_packet_read_past_checked_range() {
    case(
        "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 14\nif r4 > r3 goto l0\nr0 = *(u8 *)(r2 +14)\nl0:\nr0 = 2\nexit",
    )
    .ty(ProgType::Xdp)
    .reject("invalid access to packet, off=14 size=1");
}

#[test]
fn ctx_bad_offset() {
    case("r0 = *(u32 *)(r1 +200)\nexit").reject("invalid bpf_context access off=200 size=4");
}

#[test]
fn socket_filter_cannot_write_mark() {
    case("r2 = 1\n*(u32 *)(r1 +8) = r2\nr0 = 0\nexit")
        .reject("invalid bpf_context access off=8 size=4");
}

#[test]
fn tc_can_write_mark() {
    case("r2 = 1\n*(u32 *)(r1 +8) = r2\nr0 = 0\nexit")
        .ty(ProgType::SchedCls)
        .accept();
}

#[test]
fn modified_ctx_pointer() {
    case("r1 += 4\nr0 = *(u32 *)(r1 +0)\nexit")
        .reject("dereference of modified ctx ptr R1 off=4 disallowed");
}

#[test]
fn scalar_dereference() {
    case("r1 = 0\nr0 = *(u32 *)(r1 +0)\nexit").reject("R1 invalid mem access 'scalar'");
}

// ---- helpers, references, callbacks ----

#[test]
fn unknown_helper() {
    case("call 999\nr0 = 0\nexit").reject("invalid func unknown#999");
}

#[test]
fn helper_not_for_this_type() {
    case("call 35\nr0 = 0\nexit")
        .ty(ProgType::SocketFilter)
        .unpriv()
        .reject("program of this type cannot use helper bpf_get_current_task#35");
}

#[test]
fn caller_saved_registers_clobbered() {
    case("r1 = 1\ncall 5\nr0 = r1\nexit").reject("R1 !read_ok");
}

#[test]
fn ringbuf_leak() {
    case("r1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall 131\nr0 = 0\nexit")
        .map(MapInfo::new(MapType::Ringbuf, 0, 0, 4096))
        .reject("Unreleased reference id=2 alloc_insn=4");
}

#[test]
fn ringbuf_submit() {
    case("r1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto l0\nr1 = r0\nr2 = 0\ncall 132\nl0:\nr0 = 0\nexit")
        .map(MapInfo::new(MapType::Ringbuf, 0, 0, 4096))
        .accept();
}

#[test]
fn ringbuf_use_after_submit() {
    case(
        "r1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto l0\nr6 = r0\nr1 = r0\nr2 = 0\ncall 132\nr0 = *(u64 *)(r6 +0)\nl0:\nr0 = 0\nexit",
    )
    .map(MapInfo::new(MapType::Ringbuf, 0, 0, 4096))
    .reject("R6 invalid mem access 'scalar'");
}

#[test]
fn ringbuf_use_after_submit_unprivileged() {
    case(
        "r1 = map[idx:0]\nr2 = 8\nr3 = 0\ncall 131\nif r0 == 0 goto l0\nr6 = r0\nr1 = r0\nr2 = 0\ncall 132\nr0 = *(u64 *)(r6 +0)\nl0:\nr0 = 0\nexit",
    )
    .map(MapInfo::new(MapType::Ringbuf, 0, 0, 4096))
    .unpriv()
    .reject("R6 !read_ok");
}

#[test]
fn bpf_to_bpf_call() {
    case("r1 = 1\ncall f\nexit\nf:\nr0 = r1\nr0 += 1\nexit").accept();
}

#[test]
fn callee_cannot_read_callers_r6() {
    case("r6 = 1\ncall f\nexit\nf:\nr0 = r6\nexit").reject("R6 !read_ok");
}

#[test]
fn bpf_loop_callback() {
    case("r1 = 10\nr2 = func[pc+6]\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\nr0 = 0\nexit").accept();
}

#[test]
fn bpf_loop_callback_bad_return() {
    case("r1 = 10\nr2 = func[pc+6]\nr3 = 0\nr4 = 0\ncall 181\nr0 = 0\nexit\nr0 = 7\nexit")
        .reject("At callback return the register R0 has smin=7 smax=7 should have been in [0, 1]");
}

#[test]
fn call_stack_too_deep() {
    case("call f1\nexit\nf1:\ncall f2\nexit\nf2:\ncall f3\nexit\nf3:\ncall f4\nexit\nf4:\ncall f5\nexit\nf5:\ncall f6\nexit\nf6:\ncall f7\nexit\nf7:\ncall f8\nexit\nf8:\nr0 = 0\nexit")
        .reject("the call stack of 9 frames is too deep");
}

#[test]
fn combined_stack_too_large() {
    case("r1 = 0\n*(u64 *)(r10 -304) = r1\ncall f\nr0 = 0\nexit\nf:\nr1 = 0\n*(u64 *)(r10 -304) = r1\nr0 = 0\nexit")
        .reject("combined stack size of 2 calls is 608. Too large");
}

// ---- program types and sleepable rules ----

#[test]
fn cgroup_skb_return_range() {
    case("r0 = 2\nexit")
        .ty(ProgType::CgroupSkb)
        .attach(AttachType::CgroupInetIngress)
        .reject("At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]");
}

#[test]
fn might_sleep_helper_in_non_sleepable() {
    case("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\nr0 = 0\nexit")
        .ty(ProgType::Tracing)
        .attach(AttachType::TraceFentry)
        .reject("helper call might sleep in a non-sleepable prog");
}

#[test]
fn might_sleep_helper_in_sleepable() {
    case("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall 148\nr0 = 0\nexit")
        .ty(ProgType::Lsm)
        .attach(AttachType::LsmMac)
        .sleepable()
        .accept();
}

#[test]
fn socket_filter_cannot_be_sleepable() {
    case("r0 = 0\nexit").sleepable().reject(
        "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable",
    );
}

#[test]
fn syscall_must_be_sleepable() {
    case("r0 = 0\nexit")
        .ty(ProgType::Syscall)
        .reject("Syscall programs can only be sleepable");
}

#[test]
fn sleepable_map_types() {
    case("r1 = map[idx:0]\nr0 = 0\nexit")
        .ty(ProgType::Lsm)
        .attach(AttachType::LsmMac)
        .sleepable()
        .map(MapInfo::new(MapType::LpmTrie, 8, 8, 16))
        .reject("Sleepable programs can only use array, hash, ringbuf and local storage maps");
}

#[test]
fn pruning_keeps_work_small() {
    // 20 independent diamonds: without pruning 2^20 paths.
    let mut text = String::from("r0 = 0\nr6 = *(u32 *)(r1 +0)\n");
    for i in 0..20 {
        text.push_str(&format!("if r6 > {i} goto d{i}\nr7 = 1\nd{i}:\n"));
    }
    text.push_str("exit\n");
    let text: &'static str = Box::leak(text.into_boxed_str());
    let o = case(text).run();
    assert!(o.accepted, "{:?}", o.error);
    assert!(o.insns_processed < 2000, "processed {}", o.insns_processed);
}

// ---- sockets and references ----

const SK_LOOKUP: &str = "r2 = 0\n*(u64 *)(r10 -8) = r2\n*(u64 *)(r10 -16) = r2\n*(u64 *)(r10 -24) = r2\n*(u64 *)(r10 -32) = r2\n*(u64 *)(r10 -40) = r2\n*(u64 *)(r10 -48) = r2\nr2 = r10\nr2 += -48\nr3 = 36\nr4 = 0\nr5 = 0\ncall 84\n";

#[test]
fn socket_lookup_and_release() {
    let text = Box::leak(format!("{SK_LOOKUP}if r0 == 0 goto l0\nr6 = *(u32 *)(r0 +4)\nr1 = r0\ncall 86\nl0:\nr0 = 0\nexit").into_boxed_str());
    case(text).ty(ProgType::SchedCls).accept();
}

#[test]
fn socket_lookup_leak() {
    let text = Box::leak(format!("{SK_LOOKUP}r0 = 0\nexit").into_boxed_str());
    case(text)
        .ty(ProgType::SchedCls)
        .reject("BPF_EXIT instruction in main prog would lead to reference leak");
}

#[test]
fn socket_field_out_of_bounds() {
    let text = Box::leak(format!("{SK_LOOKUP}if r0 == 0 goto l0\nr6 = *(u32 *)(r0 +200)\nr1 = r0\ncall 86\nl0:\nr0 = 0\nexit").into_boxed_str());
    case(text)
        .ty(ProgType::SchedCls)
        .reject("R0 invalid sock access off=200 size=4");
}

#[test]
fn release_unreferenced_socket() {
    case("r1 = *(u64 *)(r1 +168)\nif r1 == 0 goto l0\ncall 86\nl0:\nr0 = 0\nexit")
        .ty(ProgType::SchedCls)
        .reject("R1 must be referenced when passed to release function");
}

#[test]
fn tail_call_invalidates_packet_pointers() {
    case(
        "r6 = *(u32 *)(r1 +76)\nr7 = *(u32 *)(r1 +80)\nr8 = r6\nr8 += 1\nif r8 > r7 goto l0\nr2 = map[idx:0]\nr3 = 0\ncall 12\nr0 = *(u8 *)(r6 +0)\nl0:\nr0 = 0\nexit",
    )
    .ty(ProgType::SchedCls)
    .map(MapInfo::new(MapType::ProgArray, 4, 4, 4))
    .reject("R6 invalid mem access 'scalar'");
}

// ---- capabilities, flags, maps with special contents ----

#[test]
fn bounded_loop_needs_cap_bpf() {
    let insns = located("r0 = 0\nl0:\nr0 += 1\nif r0 < 10 goto l0\nexit");
    let mut input = VerifyInput::new(&insns, ProgType::SocketFilter);
    input.caps = Some(crate::Caps {
        perfmon: true,
        ..crate::Caps::NONE
    });
    let o = verify(&input);
    assert_eq!(
        o.error.map(|e| e.message),
        Some("back-edge from insn 2 to 1".to_string())
    );
    input.caps = Some(crate::Caps {
        bpf: true,
        perfmon: true,
        ..crate::Caps::NONE
    });
    let o = verify(&input);
    assert!(o.accepted, "{:?}\n{}", o.error, o.log);
}

#[test]
fn strict_alignment_flag() {
    let text = "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += 8\nif r4 > r3 goto l0\nr0 = *(u32 *)(r2 +1)\nl0:\nr0 = 2\nexit";
    case(text).ty(ProgType::Xdp).accept();
    let insns = located(text);
    let mut input = VerifyInput::new(&insns, ProgType::Xdp);
    input.prog_flags = lull_abi::prog_flags::STRICT_ALIGNMENT;
    let e = verify(&input).error.expect("rejected");
    assert!(
        e.message
            .contains("misaligned packet access off 2+0+0+1 size 4"),
        "{}",
        e.message
    );
}

#[test]
fn rodata_loads_are_constants() {
    // The loaded 7 makes the branch known, so the out-of-bounds store is dead code.
    let mut rodata = MapInfo::new(MapType::Array, 4, 8, 1);
    rodata.flags = lull_abi::map_flags::RDONLY_PROG;
    rodata.rdonly_data = Some(vec![7, 0, 0, 0, 0, 0, 0, 0]);
    case("r1 = map[idx:0][0]+0\nr2 = *(u32 *)(r1 +0)\nif r2 == 7 goto l0\nr0 = *(u64 *)(r10 -600)\nl0:\nr0 = 0\nexit")
        .map(rodata.clone())
        .accept();
    case("r1 = map[idx:0][0]+0\nr2 = 1\n*(u32 *)(r1 +0) = r2\nr0 = 0\nexit")
        .map(rodata)
        .reject("write into map forbidden, value_size=8 off=0 size=4");
}

#[test]
fn spin_lock_rules() {
    let mut m = MapInfo::new(MapType::Hash, 4, 16, 4);
    m.has_btf = true;
    m.spin_lock_off = Some(0);
    let ok = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr6 = r0\nr1 = r0\ncall 93\nr1 = r6\ncall 94\nl0:\nr0 = 0\nexit").into_boxed_str(),
    );
    case(ok).ty(ProgType::SchedCls).map(m.clone()).accept();
    let missing = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr1 = r0\ncall 93\nl0:\nr0 = 0\nexit").into_boxed_str(),
    );
    case(missing)
        .ty(ProgType::SchedCls)
        .map(m.clone())
        .reject("BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region");
    let direct = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr1 = *(u32 *)(r0 +0)\nl0:\nr0 = 0\nexit")
            .into_boxed_str(),
    );
    case(direct)
        .ty(ProgType::SchedCls)
        .map(m.clone())
        .reject("bpf_spin_lock cannot be accessed directly by load/store");
    // A value without a lock (or without BTF) is named in the message by the map's name.
    m.spin_lock_off = None;
    m.name = "prog.bss".into();
    case(ok)
        .ty(ProgType::SchedCls)
        .map(m.clone())
        .reject("map 'prog.bss' has no valid bpf_spin_lock");
    m.has_btf = false;
    case(ok)
        .ty(ProgType::SchedCls)
        .map(m)
        .reject("map 'prog.bss' has to have BTF in order to use bpf_spin_lock");
}

#[test]
fn ld_abs_in_subprog_can_return_early() {
    case("r6 = r1\ncall f\nif r0 != 0 goto l0\nr0 = r9\nl0:\nr0 = 0\nexit\nf:\nr6 = r1\nr0 = *(u8 *)skb[0]\nr0 = 1\nexit")
        .reject("R9 !read_ok");
}

#[test]
fn kfuncs_are_reported_unsupported() {
    let o = case("call kernel-function#123\nr0 = 0\nexit").run();
    assert_eq!(o.error.and_then(|e| e.unsupported), Some("kfunc"));
}

#[test]
fn log_level_one_shows_the_failing_path() {
    let o = case(
        "r0 = 0\nr1 = *(u32 *)(r1 +0)\nif r1 > 5 goto l0\nexit\nl0:\nr0 = *(u32 *)(r1 +0)\nexit",
    )
    .run();
    assert!(!o.accepted);
    assert!(o.log.contains("4: (61) r0 = *(u32 *)(r1 +0)"), "{}", o.log);
    assert!(
        o.log.contains("R1 invalid mem access 'scalar'"),
        "{}",
        o.log
    );
    assert!(o.log.contains("processed "), "{}", o.log);
    assert!(
        o.log
            .contains("error: r1 is a number, not a pointer, and cannot be dereferenced at insn 4"),
        "{}",
        o.log
    );
}

// ---- unprivileged pointer arithmetic (Spectre v1 rules) ----

#[test]
fn unprivileged_stack_pointer_out_of_range() {
    case("r1 = r10\nr1 += 8\nr0 = 0\nexit")
        .unpriv()
        .reject("R1 stack pointer arithmetic goes out of range, prohibited for !root; off=8");
    case("r1 = r10\nr1 += 8\nr0 = 0\nexit").accept();
}

#[test]
fn unprivileged_mixed_sign_offset() {
    let text = Box::leak(
        format!("{LOOKUP}if r0 == 0 goto l0\nr1 = *(u64 *)(r0 +0)\nif r1 s> 4 goto l0\nif r1 s< -4 goto l0\nr0 += r1\nl0:\nr0 = 0\nexit")
            .into_boxed_str(),
    );
    case(text)
        .map(hash(4, 8))
        .unpriv()
        .reject("R1 has unknown scalar with mixed signed bounds, pointer arithmetic with it prohibited for !root");
}

// ---- robustness ----

/// How many random programs `random_programs_do_not_panic` tries.
const ITERATIONS: usize = 3000;

/// Random instruction streams (valid encodings only) never make the verifier panic or hang.
#[test]
fn random_programs_do_not_panic() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    // Opcodes the generator draws from: ALU/ALU64, jumps, loads/stores, calls, exit, lddw.
    const CODES: &[u8] = &[
        0x07, 0x0f, 0x17, 0x1f, 0x27, 0x2f, 0x37, 0x3f, 0x47, 0x4f, 0x57, 0x5f, 0x67, 0x6f, 0x77,
        0x7f, 0x87, 0x97, 0x9f, 0xa7, 0xaf, 0xb7, 0xbf, 0xc7, 0xcf, 0x04, 0x0c, 0xb4, 0xbc, 0x05,
        0x15, 0x1d, 0x25, 0x2d, 0x35, 0x3d, 0x45, 0x55, 0x5d, 0x65, 0x6d, 0x75, 0xa5, 0xad, 0xb5,
        0xc5, 0xd5, 0x16, 0x26, 0x61, 0x69, 0x71, 0x79, 0x62, 0x63, 0x6a, 0x72, 0x73, 0x7a, 0x7b,
        0xdb, 0xc3, 0x85, 0x95, 0x18, 0x30, 0x28,
    ];
    let maps = vec![
        hash(4, 8),
        MapInfo::new(MapType::Array, 4, 16, 4),
        MapInfo::new(MapType::Ringbuf, 0, 0, 4096),
    ];
    let types = [
        ProgType::SocketFilter,
        ProgType::Xdp,
        ProgType::SchedCls,
        ProgType::Kprobe,
        ProgType::Tracing,
    ];
    let mut verified = 0;
    for _ in 0..ITERATIONS {
        let len = 2 + (next() % 24) as usize;
        let mut raw = Vec::with_capacity(len + 1);
        for _ in 0..len {
            let r = next();
            let code = CODES[(r % CODES.len() as u64) as usize];
            let dst = ((r >> 8) % 11) as u8;
            let src = match code {
                0x18 => ((r >> 12) % 3) as u8,
                0x85 => 0,
                _ => ((r >> 12) % 11) as u8,
            };
            let off = (((r >> 16) % 16) as i16) - 8;
            let imm = match code {
                0x85 => ((r >> 32) % 200) as i32,
                0x18 => ((r >> 32) % 3) as i32,
                _ => ((r >> 32) as i32) % 64 - 16,
            };
            raw.push(lull_isa::RawInsn::new(code, dst, src, off, imm));
            if code == 0x18 {
                raw.push(lull_isa::RawInsn::new(0, 0, 0, 0, 0));
            }
        }
        raw.push(lull_isa::RawInsn::new(0x95, 0, 0, 0, 0));
        // Keep the valid encodings; replace the others with `r0 = 0`.
        let mov0 = lull_isa::Insn::Alu {
            width: lull_isa::Width::W64,
            op: lull_isa::AluOp::Mov,
            dst: lull_isa::Reg::R0,
            src: lull_isa::Operand::Imm(0),
        };
        let mut insns: Vec<Located> = Vec::new();
        let (mut i, mut slot) = (0, 0);
        while i < raw.len() {
            let insn = lull_isa::decode_one(raw[i], raw.get(i + 1).copied()).unwrap_or(mov0);
            insns.push(Located { slot, insn });
            slot += insn.slots();
            i += if raw[i].code == 0x18 { 2 } else { 1 };
        }
        let mut input = VerifyInput::new(&insns, types[(next() % types.len() as u64) as usize]);
        input.maps = maps.clone();
        input.privileged = next() % 3 != 0;
        input.log_level = (next() % 3) as u32;
        let _ = verify(&input);
        verified += 1;
    }
    assert!(verified > 500, "only {verified} random programs decoded");
}

// ---- array lookups with a constant key (Linux 6.13+, `get_constant_map_key`) ----

fn array(value: u32, max: u32) -> MapInfo {
    MapInfo::new(MapType::Array, 4, value, max)
}

#[test]
fn array_lookup_with_constant_in_range_key_is_not_null() {
    let spilled = "*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 +16)\nexit";
    case(spilled).map(array(48, 4)).accept();
    // A 4-byte spill of a constant at an 8-aligned slot.
    let key_reg = "r1 = 3\n*(u32 *)(r10 -8) = r1\nr2 = r10\nr2 += -8\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 +0)\nexit";
    case(key_reg).map(array(8, 4)).accept();
    // The same store at a misaligned slot is not a spill: the key is unknown.
    let misaligned = "r1 = 3\n*(u32 *)(r10 -4) = r1\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 +0)\nexit";
    case(misaligned)
        .map(array(8, 4))
        .reject("invalid mem access 'map_value_or_null'");
}

#[test]
fn array_lookup_with_unknown_or_out_of_range_key_may_be_null() {
    let out_of_range = "r1 = 4\n*(u32 *)(r10 -4) = r1\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 +0)\nexit";
    case(out_of_range)
        .map(array(8, 4))
        .reject("invalid mem access 'map_value_or_null'");
    let unknown = "r1 = *(u32 *)(r1 +0)\n*(u32 *)(r10 -4) = r1\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 +0)\nexit";
    case(unknown)
        .map(array(8, 4))
        .reject("invalid mem access 'map_value_or_null'");
    let hash_map = "*(u64 *)(r10 -8) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 +0)\nexit";
    case(hash_map)
        .map(hash(4, 8))
        .reject("invalid mem access 'map_value_or_null'");
    // Without CAP_BPF the kernel does not look at the key.
    case(out_of_range)
        .map(array(8, 8))
        .unpriv()
        .reject("invalid mem access 'map_value_or_null'");
}

// ---- unprivileged map pointers and tail calls ----

#[test]
fn map_pointer_loads_need_cap_perfmon() {
    let text = "r1 = map[idx:0]\nr6 = *(u64 *)(r1 +0)\nr0 = 1\nexit";
    case(text)
        .map(MapInfo::new(MapType::Array, 4, 48, 1))
        .accept();
    case(text)
        .map(MapInfo::new(MapType::Array, 4, 48, 1))
        .unpriv()
        .reject("'struct bpf_array' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN");
    // The capability check comes before the offset and direction checks.
    case("r1 = map[idx:0]\nr6 = *(u64 *)(r1 -8)\nr0 = 1\nexit")
        .map(MapInfo::new(MapType::Array, 4, 48, 1))
        .unpriv()
        .reject("access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN");
}

#[test]
fn tail_call_with_two_prog_arrays_is_refused_to_unprivileged() {
    let text = "r6 = *(u32 *)(r1 +8)\nif r6 != 0 goto l0\nr2 = map[idx:0]\ngoto l1\nl0:\nr2 = map[idx:1]\nl1:\nr3 = 0\ncall 12\nr0 = 1\nexit";
    let arrays = |c: Case| {
        c.map(MapInfo::new(MapType::ProgArray, 4, 4, 4))
            .map(MapInfo::new(MapType::ProgArray, 4, 4, 4))
    };
    arrays(case(text)).accept();
    arrays(case(text))
        .unpriv()
        .reject("tail_call abusing map_ptr");
    // One prog array on both paths is fine.
    let same = "r6 = *(u32 *)(r1 +8)\nif r6 != 0 goto l0\nr2 = map[idx:0]\ngoto l1\nl0:\nr2 = map[idx:0]\nl1:\nr3 = 0\ncall 12\nr0 = 1\nexit";
    arrays(case(same)).unpriv().accept();
}

#[test]
fn sockmap_update_from_a_tracing_context_explains_why() {
    let text = "r1 = map[idx:0]\n*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\ncall 3\nr0 = 0\nexit";
    let sockmap = MapInfo::new(MapType::Sockmap, 4, 4, 1);
    case(text)
        .ty(ProgType::RawTracepoint)
        .map(sockmap.clone())
        .reject("cannot update sockmap in this context\ncannot pass map_type 15 into func bpf_map_delete_elem#3");
    case(text).map(sockmap).accept();
}

#[test]
fn stats_level_prints_stack_depth() {
    let insns = located("*(u64 *)(r10 -8) = 0\nr0 = 0\nexit");
    let mut input = VerifyInput::new(&insns, ProgType::SocketFilter);
    input.log_level = 4;
    let o = verify(&input);
    assert!(o.accepted);
    assert!(o.log.contains("\nstack depth 8\n"), "log:\n{}", o.log);
}

#[test]
fn one_store_instruction_cannot_access_context_and_stack() {
    // r1 (the context) is compared with 0: both branches are explored; one stores the
    // context pointer to fp-8, the other a stack pointer, and insn 10 writes through it.
    let text = "r3 = 42\nr6 = r10\nr6 += -8\nif r1 == 0 goto l0\nr2 = r10\nr2 += -16\n\
                *(u64 *)(r6 +0) = r2\nl0:\nif r1 != 0 goto l1\n*(u64 *)(r6 +0) = r1\n\
                l1:\nr1 = *(u64 *)(r6 +0)\n*(u32 *)(r1 +8) = r3\nr0 = 0\nexit";
    case(text)
        .ty(ProgType::SchedCls)
        .reject("same insn cannot be used with different pointers");
    // Stack and map value pointers may share an instruction.
    let text = "r6 = r10\nr6 += -8\n*(u64 *)(r10 -8) = 0\nif r1 == 0 goto l0\n\
                r2 = r10\nr2 += -8\nr1 = map[idx:0]\ncall 1\nif r0 == 0 goto l1\nr6 = r0\n\
                l0:\n*(u32 *)(r6 +0) = 1\nl1:\nr0 = 0\nexit";
    case(text).map(hash(8, 8)).accept();
}

#[test]
fn unprivileged_programs_are_limited_to_4096_instructions() {
    let text: &'static str =
        Box::leak(format!("r0 = 0\n{}exit", "r0 += 1\n".repeat(4095)).into_boxed_str());
    case(text).accept();
    case(text).unpriv().reject("too large");
    let fits: &'static str =
        Box::leak(format!("r0 = 0\n{}exit", "r0 += 1\n".repeat(4094)).into_boxed_str());
    case(fits).unpriv().accept();
}

#[test]
fn per_cpu_ptr_helpers_need_a_kernel_pointer() {
    // bpf_this_cpu_ptr(scalar) and bpf_per_cpu_ptr(stack pointer, 0): ARG_PTR_TO_PERCPU_BTF_ID.
    let expected = "expected=percpu_ptr_, percpu_rcu_ptr_, percpu_trusted_ptr_";
    case("r1 = 0\ncall 154\nr0 = 0\nexit")
        .ty(ProgType::RawTracepoint)
        .reject(&format!("R1 type=scalar {expected}"));
    case("r1 = r10\nr2 = 0\ncall 153\nr0 = 0\nexit")
        .ty(ProgType::RawTracepoint)
        .reject(expected);
    // A kernel BTF pointer (an ld_imm64 ksym) passes; the CPU number must be initialised.
    case("r1 = btf_id[1]\nr2 = 0\ncall 153\nr0 = 0\nexit")
        .ty(ProgType::RawTracepoint)
        .accept();
    case("r1 = btf_id[1]\ncall 153\nr0 = 0\nexit")
        .ty(ProgType::RawTracepoint)
        .reject("R2 !read_ok");
}
