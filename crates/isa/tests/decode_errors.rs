//! One test per decode error kind: the variant, its plain-words `Display`, and the Linux
//! verifier's message for the same instruction.
use lull_isa::{DecodeErrorKind, Field, InsnGroup, RawInsn, decode, decode_one};

fn err(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> DecodeErrorKind {
    decode_one(
        RawInsn::new(code, dst, src, off, imm),
        Some(RawInsn::default()),
    )
    .expect_err("encoding must be rejected")
}

fn kmsg(k: &DecodeErrorKind) -> Option<String> {
    k.kernel_message(0)
}

#[test]
fn unknown_opcodes() {
    // ALU ops 0xe/0xf, neg with BPF_X, ALU64 to-BE, LDX MEMSX DW, ST/STX modes, JMP32 call and
    // exit, JCOND in JMP32, the old BPF_LD|BPF_IMM sizes, LD_ABS DW.
    for code in [
        0xe4u8, 0xf7, 0x8c, 0x8f, 0xdf, 0x99, 0x22, 0xc2, 0x43, 0x86, 0x96, 0xe6, 0xf5, 0x0d, 0x00,
        0x08, 0x38,
    ] {
        let k = err(code, 0, 0, 0, 0);
        assert_eq!(k, DecodeErrorKind::UnknownOpcode { code }, "{code:#x}");
        assert_eq!(kmsg(&k), Some(format!("unknown opcode {code:02x}")));
    }
    assert_eq!(err(0x8f, 0, 0, 0, 0).to_string(), "unknown opcode 0x8f");
}

#[test]
fn invalid_registers() {
    let k = err(0xb7, 11, 0, 0, 0);
    assert_eq!(
        k,
        DecodeErrorKind::InvalidRegister {
            field: Field::Dst,
            reg: 11
        }
    );
    assert_eq!(kmsg(&k).as_deref(), Some("R11 is invalid"));
    assert_eq!(
        k.to_string(),
        "dst register r11 does not exist (registers are r0..r10)"
    );
    // The kernel checks the source before the destination of a load.
    assert_eq!(
        err(0x61, 12, 15, 0, 0),
        DecodeErrorKind::InvalidRegister {
            field: Field::Src,
            reg: 15
        }
    );
    // ...but the destination of a conditional jump first.
    assert_eq!(
        err(0x1d, 12, 15, 0, 0),
        DecodeErrorKind::InvalidRegister {
            field: Field::Dst,
            reg: 12
        }
    );
}

#[test]
fn reserved_fields_name_the_kernel_group() {
    let cases: &[(DecodeErrorKind, InsnGroup, Field, &str)] = &[
        (
            err(0x07, 0, 1, 0, 1),
            InsnGroup::Alu,
            Field::Src,
            "BPF_ALU uses reserved fields",
        ),
        (
            err(0x0f, 0, 0, 0, 1),
            InsnGroup::Alu,
            Field::Imm,
            "BPF_ALU uses reserved fields",
        ),
        (
            err(0x07, 0, 0, 1, 1),
            InsnGroup::Alu,
            Field::Off,
            "BPF_ALU uses reserved fields",
        ),
        (
            err(0x3f, 0, 1, 2, 0),
            InsnGroup::Alu,
            Field::Off,
            "BPF_ALU uses reserved fields",
        ),
        (
            err(0xbf, 0, 1, 7, 0),
            InsnGroup::Mov,
            Field::Off,
            "BPF_MOV uses reserved fields",
        ),
        (
            err(0xbc, 0, 1, 32, 0),
            InsnGroup::Mov,
            Field::Off,
            "BPF_MOV uses reserved fields",
        ),
        (
            err(0xb7, 0, 0, 1, 0),
            InsnGroup::Mov,
            Field::Off,
            "BPF_MOV uses reserved fields",
        ),
        (
            err(0x87, 0, 0, 0, 1),
            InsnGroup::Neg,
            Field::Imm,
            "BPF_NEG uses reserved fields",
        ),
        (
            err(0xdc, 0, 0, 0, 8),
            InsnGroup::End,
            Field::Imm,
            "BPF_END uses reserved fields",
        ),
        (
            err(0xd4, 0, 1, 0, 16),
            InsnGroup::End,
            Field::Src,
            "BPF_END uses reserved fields",
        ),
        (
            err(0x15, 0, 1, 0, 0),
            InsnGroup::Jmp,
            Field::Src,
            "BPF_JMP/JMP32 uses reserved fields",
        ),
        (
            err(0x1e, 0, 1, 0, 5),
            InsnGroup::Jmp,
            Field::Imm,
            "BPF_JMP/JMP32 uses reserved fields",
        ),
        (
            err(0x05, 0, 0, 0, 1),
            InsnGroup::Ja,
            Field::Imm,
            "BPF_JA uses reserved fields",
        ),
        (
            err(0x06, 0, 0, 1, 1),
            InsnGroup::Ja,
            Field::Off,
            "BPF_JA uses reserved fields",
        ),
        (
            err(0x85, 1, 0, 0, 1),
            InsnGroup::Call,
            Field::Dst,
            "BPF_CALL uses reserved fields",
        ),
        (
            err(0x85, 0, 3, 0, 1),
            InsnGroup::Call,
            Field::Src,
            "BPF_CALL uses reserved fields",
        ),
        (
            err(0x85, 0, 1, 4, 1),
            InsnGroup::Call,
            Field::Off,
            "BPF_CALL uses reserved fields",
        ),
        (
            err(0x95, 0, 0, 0, 1),
            InsnGroup::Exit,
            Field::Imm,
            "BPF_EXIT uses reserved fields",
        ),
        (
            err(0x61, 0, 1, 0, 1),
            InsnGroup::Ldx,
            Field::Imm,
            "BPF_LDX uses reserved fields",
        ),
        (
            err(0x62, 1, 2, 0, 1),
            InsnGroup::St,
            Field::Src,
            "BPF_ST uses reserved fields",
        ),
        (
            err(0x63, 1, 2, 0, 1),
            InsnGroup::Stx,
            Field::Imm,
            "BPF_STX uses reserved fields",
        ),
        (
            err(0x20, 1, 0, 0, 1),
            InsnGroup::LdAbsInd,
            Field::Dst,
            "BPF_LD_[ABS|IND] uses reserved fields",
        ),
        (
            err(0x20, 0, 1, 0, 1),
            InsnGroup::LdAbsInd,
            Field::Src,
            "BPF_LD_[ABS|IND] uses reserved fields",
        ),
        (
            err(0x40, 0, 1, 3, 1),
            InsnGroup::LdAbsInd,
            Field::Off,
            "BPF_LD_[ABS|IND] uses reserved fields",
        ),
        (
            err(0x18, 0, 0, 3, 1),
            InsnGroup::LdImm64,
            Field::Off,
            "BPF_LD_IMM64 uses reserved fields",
        ),
    ];
    for (k, group, field, msg) in cases {
        match k {
            DecodeErrorKind::ReservedField {
                group: g, field: f, ..
            } => {
                assert_eq!((g, f), (group, field), "{k}");
            }
            other => panic!("expected a reserved-field error, got {other:?}"),
        }
        assert_eq!(kmsg(k).as_deref(), Some(*msg));
    }
    assert_eq!(
        err(0x07, 0, 0, 1, 1).to_string(),
        "ALU instruction (opcode 0x07): offset must be 0, found 1"
    );
    assert_eq!(
        err(0x3f, 0, 1, 2, 0).to_string(),
        "ALU instruction (opcode 0x3f): offset must be 0 or 1, found 2"
    );
}

#[test]
fn exit_offset_is_rejected_although_the_kernel_ignores_it() {
    let k = err(0x95, 0, 0, 1, 0);
    assert!(matches!(
        k,
        DecodeErrorKind::ReservedField {
            group: InsnGroup::Exit,
            field: Field::Off,
            ..
        }
    ));
    assert_eq!(kmsg(&k), None);
}

#[test]
fn ldx_modes() {
    let k = err(0xc1, 0, 1, 0, 0);
    assert_eq!(k, DecodeErrorKind::LdxBadMode { code: 0xc1 });
    assert_eq!(kmsg(&k).as_deref(), Some("BPF_LDX uses reserved fields"));
}

#[test]
fn lddw_second_slot() {
    let first = RawInsn::new(0x18, 1, 0, 0, 5);
    let k = decode_one(first, None).expect_err("lddw needs two slots");
    assert_eq!(k, DecodeErrorKind::LdImm64MissingSecondSlot);
    assert_eq!(kmsg(&k).as_deref(), Some("invalid bpf_ld_imm64 insn"));
    let e = decode(&[first]).expect_err("truncated");
    assert_eq!(
        (e.slot, e.kernel_message().as_deref()),
        (0, Some("invalid bpf_ld_imm64 insn"))
    );

    for bad in [
        RawInsn::new(0x18, 0, 0, 0, 0),
        RawInsn::new(0, 1, 0, 0, 0),
        RawInsn::new(0, 0, 1, 0, 0),
        RawInsn::new(0, 0, 0, 1, 0),
    ] {
        let k = decode_one(first, Some(bad)).expect_err("bad second slot");
        assert!(
            matches!(k, DecodeErrorKind::LdImm64BadSecondSlot { .. }),
            "{k:?}"
        );
        assert_eq!(kmsg(&k).as_deref(), Some("invalid bpf_ld_imm64 insn"));
    }
}

#[test]
fn lddw_pseudo_sources() {
    let two = |src: u8, next: i32| {
        decode_one(
            RawInsn::new(0x18, 1, src, 0, 3),
            Some(RawInsn::new(0, 0, 0, 0, next)),
        )
    };
    let k = two(7, 0).expect_err("src 7");
    assert_eq!(k, DecodeErrorKind::LdImm64UnknownPseudo { src: 7 });
    assert_eq!(kmsg(&k).as_deref(), Some("unrecognized bpf_ld_imm64 insn"));
    for src in [1, 5] {
        let k = two(src, 4).expect_err("map fd with offset");
        assert_eq!(k, DecodeErrorKind::LdImm64MapNextImm { src, next_imm: 4 });
        assert_eq!(kmsg(&k).as_deref(), Some("unrecognized bpf_ld_imm64 insn"));
    }
    for src in [2, 3, 4, 6] {
        assert!(two(src, 4).is_ok(), "src {src} takes a second immediate");
    }
}

#[test]
fn atomics() {
    let k = err(0xdb, 1, 2, 0, 0x02);
    assert_eq!(k, DecodeErrorKind::AtomicUnknownOp { imm: 2 });
    assert_eq!(
        kmsg(&k).as_deref(),
        Some("BPF_ATOMIC uses invalid atomic opcode 02")
    );
    let k = err(0xd3, 1, 2, 0, 0x01);
    assert!(matches!(k, DecodeErrorKind::AtomicInvalidSize { .. }));
    assert_eq!(kmsg(&k).as_deref(), Some("invalid atomic operand size"));
    // Load-acquire and store-release take every size.
    for code in [0xd3u8, 0xcb, 0xc3, 0xdb] {
        assert!(decode_one(RawInsn::new(code, 1, 2, 0, 0x100), None).is_ok());
        assert!(decode_one(RawInsn::new(code, 1, 2, 0, 0x110), None).is_ok());
    }
}

#[test]
fn may_goto_and_addr_space_cast() {
    let k = err(0xe5, 0, 0, 0, 0);
    assert!(matches!(k, DecodeErrorKind::InvalidMayGoto { off: 0, .. }));
    assert_eq!(kmsg(&k).as_deref(), Some("invalid may_goto off 0 imm 0"));
    assert_eq!(
        kmsg(&err(0xe5, 0, 0, 3, 9)).as_deref(),
        Some("invalid may_goto off 3 imm 9")
    );
    let k = err(0xbf, 1, 2, 1, 0);
    assert_eq!(
        k,
        DecodeErrorKind::InvalidAddrSpaceCast {
            dst_as: 0,
            src_as: 0
        }
    );
    assert_eq!(
        kmsg(&k).as_deref(),
        Some("addr_space_cast insn can only convert between address space 1 and 0")
    );
}

#[test]
fn trailing_bytes() {
    let e = RawInsn::slice_from_bytes(&[0; 12]).expect_err("12 bytes");
    assert_eq!(e.kind, DecodeErrorKind::TrailingBytes { len: 12 });
    assert_eq!(e.kernel_message(), None);
}

#[test]
fn errors_carry_the_slot() {
    let prog = [
        RawInsn::new(0x18, 1, 0, 0, 1),
        RawInsn::new(0, 0, 0, 0, 0),
        RawInsn::new(0xb7, 0, 0, 0, 0),
        RawInsn::new(0x95, 0, 0, 0, 7),
    ];
    let e = decode(&prog).expect_err("bad exit");
    assert_eq!(e.slot, 3);
    assert_eq!(
        e.to_string(),
        "instruction 3: exit instruction (opcode 0x95): immediate must be 0, found 7"
    );
}
