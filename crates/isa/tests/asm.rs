//! Assembler behaviour: both syntaxes, labels, and errors with line numbers.
use lull_isa::asm::{AsmErrorKind, Syntax, assemble, assemble_with, parse_raw_hex};
use lull_isa::{CallTarget, Insn, RawInsn, encode};

fn kind(text: &str) -> (usize, AsmErrorKind) {
    let e = assemble(text).expect_err(text);
    (e.line, e.kind)
}

#[test]
fn conformance_and_kernel_syntax_agree() {
    let conf = "mov32 %r0, 1\nldxw %r1, [%r10-4]\nstxdw [%r10-8], %r1\nlock fetch add [%r10-8], %r1\njne %r0, 15, +1\nexit";
    let kern = "w0 = 1\nr1 = *(u32 *)(r10 -4)\n*(u64 *)(r10 -8) = r1\nr1 = atomic64_fetch_add((u64 *)(r10 -8), r1)\nif r0 != 0xf goto pc+1\nexit";
    assert_eq!(assemble(conf), assemble(kern));
    assert_eq!(assemble(conf).map(|p| p.len()), Ok(6));
}

#[test]
fn selftest_inline_asm_style() {
    let text = "r0 = 0; if r0 == 0 goto l0_%=; r0 = 1;\nl0_%=: exit;";
    let prog = assemble(text).expect("assembles");
    assert!(
        matches!(prog[1], Insn::Jump { off: 1, .. }),
        "{:?}",
        prog[1]
    );
}

#[test]
fn labels_count_lddw_as_two_slots() {
    let prog =
        assemble_with("ja L\nlddw %r0, 0x100000000\nL:\nexit", Syntax::Conformance).expect("ok");
    assert_eq!(
        prog[0],
        Insn::Ja {
            off: 2,
            long: false
        }
    );
    let prog = assemble("call f\nexit\nf:\nr0 = 0\nexit").expect("ok");
    assert_eq!(prog[0], Insn::Call(CallTarget::Local(1)));
    // The conformance suite's implicit `exit` label is the first `exit`.
    let prog = assemble("jne %r0, 0, exit\nmov %r0, 1\nexit").expect("ok");
    assert!(matches!(prog[0], Insn::Jump { off: 1, .. }));
}

#[test]
fn errors_name_the_line_and_problem() {
    assert_eq!(
        kind("mov32 %r0, 2147483648\nexit"),
        (
            1,
            AsmErrorKind::ImmOutOfRange {
                value: "2147483648".into(),
                bits: 32
            }
        )
    );
    assert!(matches!(
        kind("exit\nmov32 %r0, 0x100000000"),
        (2, AsmErrorKind::ImmOutOfRange { .. })
    ));
    assert_eq!(
        kind("ldxb %r0, [%r1+0x10000]").1,
        AsmErrorKind::OffsetOutOfRange("65536".into())
    );
    assert_eq!(
        kind("ja NOT_A_LABEL\nexit"),
        (1, AsmErrorKind::UndefinedLabel("NOT_A_LABEL".into()))
    );
    assert_eq!(
        kind("ldxq %r0, %r1").1,
        AsmErrorKind::UnknownMnemonic("ldxq".into())
    );
    assert!(matches!(
        kind("lddw %r0").1,
        AsmErrorKind::OperandCount {
            expected: 2,
            found: 1,
            ..
        }
    ));
    assert_eq!(
        kind("or %r0, %r50").1,
        AsmErrorKind::InvalidRegister("%r50".into())
    );
    assert_eq!(
        kind("r11 = 1").1,
        AsmErrorKind::InvalidRegister("r11".into())
    );
    assert!(matches!(kind("lock").1, AsmErrorKind::Syntax(_)));
    assert!(matches!(
        kind("lock or [%r10-8]").1,
        AsmErrorKind::Syntax(_)
    ));
    assert!(matches!(kind("ldxb %r0, %r1").1, AsmErrorKind::Syntax(_)));
    assert!(matches!(
        kind("frobnicate r0").1,
        AsmErrorKind::UnknownMnemonic(_)
    ));
    assert!(matches!(kind("w1 = (s32)w2").1, AsmErrorKind::Invalid(_)));
    assert!(matches!(
        kind("lock *(u8 *)(r1 +0) += r2").1,
        AsmErrorKind::Invalid(_)
    ));
    assert!(matches!(
        kind("a:\na:\nexit").1,
        AsmErrorKind::DuplicateLabel(_)
    ));
    assert!(matches!(
        kind("goto pc+40000").1,
        AsmErrorKind::OffsetOutOfRange(_)
    ));
    let e = assemble("exit\n\n  r0 = = 1").expect_err("bad");
    assert_eq!(e.line, 3);
    assert!(e.to_string().starts_with("line 3: "), "{e}");
}

#[test]
fn raw_hex_forms() {
    let bytes =
        parse_raw_hex("07 00 01 00 01 00 00 00\n# comment\n0x0000000000000095\n").expect("ok");
    assert_eq!(
        bytes,
        vec![
            RawInsn::new(0x07, 0, 0, 1, 1),
            RawInsn::new(0x95, 0, 0, 0, 0)
        ]
    );
    assert_eq!(encode(&assemble("exit").expect("ok")), bytes[1..]);
    assert_eq!(parse_raw_hex("07 00 01").expect_err("short").line, 1);
    assert!(parse_raw_hex("zz 00 00 00 00 00 00 00").is_err());
}
