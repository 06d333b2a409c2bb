//! Property tests: encode/decode and disassemble/assemble are inverse on every valid
//! instruction, and the decoder never panics on arbitrary bytes.
use lull_isa::asm::{Syntax, assemble_with};
use lull_isa::disasm::{Options, format_insn};
use lull_isa::strategy::insn;
use lull_isa::{Insn, LdImm64Kind, RawInsn, decode, decode_one, encode, encode_one};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn encode_then_decode_is_identity(i in insn()) {
        let raw = encode_one(&i);
        prop_assert_eq!(raw.len(), i.slots());
        prop_assert_eq!(decode_one(raw[0], raw.get(1).copied()), Ok(i));
        prop_assert_eq!(i.validate(), Ok(()));
    }

    #[test]
    fn stream_round_trip_keeps_slots(prog in proptest::collection::vec(insn(), 0..40)) {
        let raw = encode(&prog);
        let located = decode(&raw).expect("valid stream");
        prop_assert_eq!(located.iter().map(|l| l.insn).collect::<Vec<_>>(), prog.clone());
        let mut slot = 0;
        for l in &located {
            prop_assert_eq!(l.slot, slot);
            slot += l.insn.slots();
        }
        prop_assert_eq!(slot, raw.len());
    }

    #[test]
    fn random_bytes_decode_or_fail_cleanly(bytes in any::<[u8; 16]>()) {
        let raw = RawInsn::slice_from_bytes(&bytes).expect("16 bytes are two slots");
        match decode_one(raw[0], Some(raw[1])) {
            // Whatever decodes must encode back to exactly the same bytes.
            Ok(i) => {
                let enc = encode_one(&i);
                prop_assert_eq!(&enc[..], &raw[..i.slots()]);
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                let _ = e.kernel_message(0);
            }
        }
        let _ = decode(&raw);
    }

    #[test]
    fn kernel_style_disasm_reassembles(i in insn()) {
        let text = format_insn(&i, &Options::kernel());
        let back = assemble_with(&text, Syntax::Kernel);
        // The kernel log does not tell `lddw` of a small constant from `mov`: the one
        // documented ambiguity. Everything else must come back exactly.
        let small_lddw = matches!(i, Insn::LdImm64 { kind: LdImm64Kind::Imm, imm, next_imm, .. }
            if i32::try_from(Insn::imm64(imm, next_imm) as i64).is_ok());
        if !small_lddw {
            prop_assert_eq!(back, Ok(vec![i]), "text: {}", text);
        }
    }

    #[test]
    fn llvm_style_disasm_reassembles(i in insn()) {
        let text = format_insn(&i, &Options::llvm());
        prop_assert_eq!(assemble_with(&text, Syntax::Kernel), Ok(vec![i]), "text: {}", text);
        // Auto-detection must not mistake it for conformance syntax.
        prop_assert_eq!(assemble_with(&text, Syntax::Auto), Ok(vec![i]), "text: {}", text);
    }
}
