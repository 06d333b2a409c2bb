//! Expected text for tricky instructions, in both styles (checked against
//! `kernel/bpf/disasm.c` formats and `llvm-objdump-19 -d --mcpu=v4` output).
use lull_isa::asm::assemble;
use lull_isa::disasm::{Options, format_insn, format_program};
use lull_isa::{Insn, RawInsn, decode, decode_one};

fn raw(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    decode_one(
        RawInsn::new(code, dst, src, off, imm),
        Some(RawInsn::default()),
    )
    .expect("valid test encoding")
}

fn both(i: Insn) -> (String, String) {
    (
        format_insn(&i, &Options::kernel()),
        format_insn(&i, &Options::llvm()),
    )
}

#[test]
fn kernel_and_llvm_spellings() {
    let cases: &[(Insn, &str, &str)] = &[
        (
            raw(0x61, 0, 1, 4, 0),
            "r0 = *(u32 *)(r1 +4)",
            "r0 = *(u32 *)(r1 + 0x4)",
        ),
        (
            raw(0x7b, 10, 1, -8, 0),
            "*(u64 *)(r10 -8) = r1",
            "*(u64 *)(r10 - 0x8) = r1",
        ),
        (raw(0x04, 0, 0, 0, 1), "w0 += 1", "w0 += 0x1"),
        (raw(0x07, 0, 0, 0, -1), "r0 += -1", "r0 += -0x1"),
        (raw(0xbf, 1, 2, 0, 0), "r1 = r2", "r1 = r2"),
        (raw(0x87, 0, 0, 0, 0), "r0 = -r0", "r0 = -r0"),
        (raw(0x84, 0, 0, 0, 0), "w0 = -w0", "w0 = -w0"),
        (raw(0xc7, 1, 0, 0, 3), "r1 s>>= 3", "r1 s>>= 0x3"),
        (raw(0xdc, 0, 0, 0, 16), "r0 = be16 r0", "r0 = be16 r0"),
        (raw(0xd7, 0, 0, 0, 64), "r0 = bswap64 r0", "r0 = bswap64 r0"),
        (
            raw(0x25, 1, 0, 3, 7),
            "if r1 > 0x7 goto pc+3",
            "if r1 > 0x7 goto +0x3",
        ),
        (
            raw(0x15, 1, 0, 0, -1),
            "if r1 == 0xffffffff goto pc+0",
            "if r1 == -0x1 goto +0x0",
        ),
        (
            raw(0xce, 1, 2, -3, 0),
            "if w1 s< w2 goto pc-3",
            "if w1 s< w2 goto -0x3",
        ),
        (
            raw(0xdb, 10, 1, -8, 0),
            "lock *(u64 *)(r10 -8) += r1",
            "lock *(u64 *)(r10 - 0x8) += r1",
        ),
        (
            raw(0xc3, 10, 1, -8, 0x40),
            "lock *(u32 *)(r10 -8) |= r1",
            "lock *(u32 *)(r10 - 0x8) |= w1",
        ),
        (
            raw(0xdb, 10, 0, -8, 1),
            "r0 = atomic64_fetch_add((u64 *)(r10 -8), r0)",
            "r0 = atomic_fetch_add((u64 *)(r10 - 0x8), r0)",
        ),
        (
            raw(0xc3, 10, 1, -8, 0x51),
            "r1 = atomic_fetch_and((u32 *)(r10 -8), r1)",
            "w1 = atomic_fetch_and((u32 *)(r10 - 0x8), w1)",
        ),
        (
            raw(0xdb, 10, 1, -8, 0xf1),
            "r0 = atomic64_cmpxchg((u64 *)(r10 -8), r0, r1)",
            "r0 = cmpxchg_64(r10 - 0x8, r0, r1)",
        ),
        (
            raw(0xc3, 10, 1, -8, 0xe1),
            "r1 = atomic_xchg((u32 *)(r10 -8), r1)",
            "w1 = xchg32_32(r10 - 0x8, w1)",
        ),
        (
            raw(0xd3, 0, 1, 0, 0x100),
            "r0 = load_acquire((u8 *)(r1 +0))",
            "w0 = load_acquire((u8 *)(r1 + 0x0))",
        ),
        (
            raw(0xdb, 1, 2, 0, 0x110),
            "store_release((u64 *)(r1 +0), r2)",
            "store_release((u64 *)(r1 + 0x0), r2)",
        ),
        (
            raw(0x91, 0, 1, 0, 0),
            "r0 = *(s8 *)(r1 +0)",
            "r0 = *(s8 *)(r1 + 0x0)",
        ),
        (raw(0xbf, 1, 2, 8, 0), "r1 = (s8)r2", "r1 = (s8)r2"),
        (raw(0xbc, 1, 2, 16, 0), "w1 = (s16)w2", "w1 = (s16)w2"),
        (raw(0x3f, 1, 2, 1, 0), "r1 s/= r2", "r1 s/= r2"),
        (raw(0x94, 1, 0, 1, 5), "w1 s%= 5", "w1 s%= 0x5"),
        (raw(0xe5, 0, 0, 2, 0), "may_goto pc+2", "may_goto +0x2"),
        (raw(0x06, 0, 0, 0, 3), "gotol pc+3", "gotol +0x3"),
        (raw(0x05, 0, 0, -1, 0), "goto pc-1", "goto -0x1"),
        (raw(0x85, 0, 1, 0, 2), "call pc+2", "call pc+0x2"),
        (raw(0x85, 0, 0, 0, 1), "call unknown#1", "call 0x1"),
        (
            raw(0x85, 0, 2, 0, 1234),
            "call kernel-function#1234",
            "call kernel-function#1234",
        ),
        (raw(0x8d, 2, 0, 0, 0), "callx r2", "callx r2"),
        (
            raw(0xbf, 1, 2, 1, 1),
            "r1 = addr_space_cast(r2, 0, 1)",
            "r1 = addr_space_cast(r2, 0x0, 0x1)",
        ),
        (
            raw(0x30, 0, 0, 0, 12),
            "r0 = *(u8 *)skb[12]",
            "r0 = *(u8 *)skb[0xc]",
        ),
        (
            raw(0x48, 0, 1, 0, 4),
            "r0 = *(u16 *)skb[r1 + 4]",
            "r0 = *(u16 *)skb[r1 + 0x4]",
        ),
        (
            raw(0x62, 10, 0, -8, 5),
            "*(u32 *)(r10 -8) = 5",
            "*(u32 *)(r10 - 0x8) = 0x5",
        ),
        (raw(0x95, 0, 0, 0, 0), "exit", "exit"),
    ];
    for (insn, kernel, llvm) in cases {
        assert_eq!(
            both(*insn),
            (kernel.to_string(), llvm.to_string()),
            "{insn:?}"
        );
        // Both spellings read back to the instruction.
        assert_eq!(assemble(kernel).as_deref(), Ok(&[*insn][..]), "{kernel}");
        assert_eq!(assemble(llvm).as_deref(), Ok(&[*insn][..]), "{llvm}");
    }
}

#[test]
fn lddw_spellings() {
    let lddw = |src: u8, imm: i32, next: i32| {
        decode_one(
            RawInsn::new(0x18, 1, src, 0, imm),
            Some(RawInsn::new(0, 0, 0, 0, next)),
        )
        .expect("valid lddw")
    };
    assert_eq!(
        both(lddw(0, 0x1234, 0)),
        ("r1 = 0x1234".into(), "r1 = 0x1234 ll".into())
    );
    assert_eq!(
        lddw(0, 0x5566_7788, 0x1122_3344).to_string(),
        "r1 = 0x1122334455667788"
    );
    assert_eq!(lddw(1, 3, 0).to_string(), "r1 = map[fd:3]");
    assert_eq!(lddw(2, 3, 16).to_string(), "r1 = map[fd:3][0]+16");
    assert_eq!(lddw(5, 0, 0).to_string(), "r1 = map[idx:0]");
    assert_eq!(lddw(6, 2, 8).to_string(), "r1 = map[idx:2][0]+8");
    assert_eq!(lddw(3, 77, 0).to_string(), "r1 = btf_id[77]");
    assert_eq!(lddw(4, 5, 0).to_string(), "r1 = func[pc+5]");
}

#[test]
fn resolvers_and_opcode_prefix() {
    let names = |id: i32| (id == 1).then_some("bpf_map_lookup_elem");
    let kf = |id: i32, _m: i16| (id == 9).then_some("bpf_rcu_read_lock");
    let opts = Options {
        helper_name: Some(&names),
        kfunc_name: Some(&kf),
        opcode_prefix: true,
        ..Options::kernel()
    };
    assert_eq!(
        format_insn(&raw(0x85, 0, 0, 0, 1), &opts),
        "(85) call bpf_map_lookup_elem#1"
    );
    assert_eq!(
        format_insn(&raw(0x85, 0, 0, 0, 2), &opts),
        "(85) call unknown#2"
    );
    assert_eq!(
        format_insn(&raw(0x85, 0, 2, 0, 9), &opts),
        "(85) call bpf_rcu_read_lock#9"
    );
    assert_eq!(format_insn(&raw(0xb7, 0, 0, 0, 0), &opts), "(b7) r0 = 0");
}

#[test]
fn program_listings() {
    let prog = assemble("r0 = 0\nif r1 == 0 goto l1\nr0 = 1 ll\nl1:\nexit").expect("assembles");
    let raw = lull_isa::encode(&prog);
    let located = decode(&raw).expect("decodes");
    let kernel = format_program(&located, &Options::kernel());
    assert_eq!(
        kernel,
        "0: (b7) r0 = 0\n1: (15) if r1 == 0x0 goto pc+2\n2: (18) r0 = 0x1\n4: (95) exit\n"
    );
    let llvm = format_program(&located, &Options::llvm());
    assert_eq!(
        llvm,
        "\tr0 = 0x0\n\tif r1 == 0x0 goto L4\n\tr0 = 0x1 ll\nL4:\n\texit\n"
    );
    assert_eq!(assemble(&llvm), Ok(prog.clone()));
    // The verifier log, prefixes and all, reads back too (its `lddw` of 1 as `mov`).
    assert_eq!(assemble(&kernel).map(|p| p.len()), Ok(4));
}
