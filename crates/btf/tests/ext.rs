//! `.BTF.ext` parsing of built blobs: records land under their section names with strings
//! resolved, and malformed blobs are rejected with a message.

use lull_btf::builder::{BtfBuilder, ExtBuilder};
use lull_btf::core::CoreReloKind;
use lull_btf::ext::BtfExt;
use lull_btf::{Btf, BtfError};

fn base() -> (Btf, [u32; 5], u32) {
    let mut b = BtfBuilder::new();
    let sec = b.add_str("xdp");
    let file = b.add_str("/src/prog.c");
    let line = b.add_str("\treturn XDP_PASS;");
    let acc = b.add_str("0:1");
    let text = b.add_str(".text");
    let i = b.add_int("int", 4, true);
    let proto = b.add_func_proto(i, &[], false);
    let f = b.add_func("main", proto, 1);
    (
        Btf::parse(&b.build()).unwrap(),
        [sec, file, line, acc, text],
        f,
    )
}

#[test]
fn records_by_section() {
    let (btf, [sec, file, line, acc, text], f) = base();
    let blob = ExtBuilder::new()
        .func_info(sec, &[(0, f)])
        .func_info(text, &[(0, f), (64, f)])
        .line_info(sec, &[(0, file, line, 42, 5), (16, file, line, 43, 0)])
        .core_relo(sec, &[(8, 1, acc, 0), (24, 1, acc, 2)])
        .build();
    let ext = BtfExt::parse(&blob, &btf).unwrap();
    assert_eq!(ext.func_info["xdp"].len(), 1);
    assert_eq!(ext.func_info[".text"][1].insn_idx(), 8);
    let li = &ext.line_info["xdp"][0];
    assert_eq!(
        (li.file.as_str(), li.text.as_str(), li.line, li.column),
        ("/src/prog.c", "\treturn XDP_PASS;", 42, 5)
    );
    assert_eq!(ext.line_info["xdp"][1].insn_idx(), 2);
    let r = &ext.core_relos["xdp"];
    assert_eq!(r[0].access, "0:1");
    assert_eq!(r[0].kind, CoreReloKind::FieldByteOffset);
    assert_eq!(r[1].kind, CoreReloKind::FieldExists);
    assert_eq!(r[1].insn_idx(), 3);
}

fn err(blob: &[u8], btf: &Btf) -> String {
    match BtfExt::parse(blob, btf) {
        Err(e @ (BtfError::BadExt(_) | BtfError::Truncated { .. })) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn malformed_ext() {
    let (btf, [sec, file, line, acc, _], f) = base();
    let good = ExtBuilder::new()
        .func_info(sec, &[(0, f)])
        .line_info(sec, &[(0, file, line, 1, 1)])
        .core_relo(sec, &[(0, 1, acc, 0)])
        .build();
    assert!(BtfExt::parse(&good, &btf).is_ok());
    let mut b = good.clone();
    b[0] = 0;
    assert!(err(&b, &btf).contains("bad magic"));
    assert!(err(&good[..20], &btf).contains("truncated"));
    // func_info record size below 8.
    let mut b = good.clone();
    b[32..36].copy_from_slice(&4u32.to_le_bytes());
    assert!(err(&b, &btf).contains("record size 4"));
    // Bad section-name offset.
    let mut b = good.clone();
    b[36..40].copy_from_slice(&9999u32.to_le_bytes());
    assert!(err(&b, &btf).contains("section name offset 9999"));
    // More records than bytes.
    let mut b = good.clone();
    b[40..44].copy_from_slice(&1000u32.to_le_bytes());
    assert!(err(&b, &btf).contains("exceed"));
    // Unknown CO-RE kind.
    let bad = ExtBuilder::new().core_relo(sec, &[(0, 1, acc, 77)]).build();
    assert!(err(&bad, &btf).contains("unknown CO-RE relocation kind 77"));
    // Section out of bounds.
    let mut b = good.clone();
    b[12..16].copy_from_slice(&4096u32.to_le_bytes());
    assert!(err(&b, &btf).contains("out of bounds"));
    // func_info insn_off must be instruction aligned.
    let bad = ExtBuilder::new().func_info(sec, &[(3, f)]).build();
    assert!(err(&bad, &btf).contains("multiple of 8"));
}
