//! CO-RE semantics on hand-built BTF: candidate flavors and pruning, ambiguity errors,
//! poisoning, bitfields, arrays, enums, memory-size adjustment, and instruction patching
//! rules (libbpf's `bpf_core_calc_relo_insn` / `bpf_core_patch_insn`).

use lull_btf::builder::BtfBuilder;
use lull_btf::core::*;
use lull_btf::{Btf, Kind, TypeId};
use lull_isa::RawInsn;

fn btf(b: &BtfBuilder) -> Btf {
    Btf::parse(&b.build()).unwrap()
}

fn value(r: &CoreResolution) -> u64 {
    r.new_value().expect("not poisoned")
}

/// local: struct s { int a; int b; }  target: s { int a; int b; } + s___v2 { int x; long pad; int b @96 }.
fn flavors() -> (Btf, TypeId, Btf) {
    let mut l = BtfBuilder::new();
    let i = l.add_int("int", 4, true);
    let s = l.add_struct("s", 8, &[("a", i, 0), ("b", i, 32)]);
    let mut t = BtfBuilder::new();
    let ti = t.add_int("int", 4, true);
    let tl = t.add_int("long", 8, true);
    t.add_struct("s", 8, &[("a", ti, 0), ("b", ti, 32)]);
    t.add_struct(
        "s___v2",
        16,
        &[("x", ti, 0), ("pad", tl, 32), ("b", ti, 96)],
    );
    (btf(&l), s, btf(&t))
}

#[test]
fn flavor_ambiguity_and_candidate_pruning() {
    let (local, s, target) = flavors();
    // Both candidates have `b`, at different offsets: ambiguous.
    let err = CoreResolver::new(&local, &target)
        .resolve_access(CoreReloKind::FieldByteOffset, s, "0:1")
        .unwrap_err();
    assert_eq!(err, CoreError::FieldOffsetAmbiguity(96, 32));
    assert_eq!(err.to_string(), "field offset ambiguity: 96 != 32");

    // Resolving `a` first prunes the candidate list to `s` (only it has `a`), after which
    // `b` is unambiguous — libbpf's per-type candidate cache behaves the same way.
    let mut r = CoreResolver::new(&local, &target);
    let a = r
        .resolve_access(CoreReloKind::FieldByteOffset, s, "0:0")
        .unwrap();
    assert_eq!(value(&a), 0);
    assert_eq!(
        a.target_type_id,
        target.find_by_name("s", Some(Kind::Struct))
    );
    let b = r
        .resolve_access(CoreReloKind::FieldByteOffset, s, "0:1")
        .unwrap();
    assert_eq!(value(&b), 4);
}

#[test]
fn decision_ambiguity() {
    let mut l = BtfBuilder::new();
    let i = l.add_int("int", 4, true);
    let s = l.add_struct("s", 4, &[("b", i, 0)]);
    let mut t = BtfBuilder::new();
    let ti = t.add_int("int", 4, true);
    let tl = t.add_int("long", 8, true);
    t.add_struct("s", 8, &[("b", tl, 0)]);
    t.add_struct("s___2", 4, &[("b", ti, 0)]);
    let (local, target) = (btf(&l), btf(&t));
    let err = CoreResolver::new(&local, &target)
        .resolve_access(CoreReloKind::FieldByteSize, s, "0:0")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "relocation decision ambiguity: success 4 != success 8"
    );
    // Same offsets: byte offset itself is not ambiguous.
    let ok = CoreResolver::new(&local, &target)
        .resolve_access(CoreReloKind::FieldByteOffset, s, "0:0")
        .unwrap();
    assert_eq!(value(&ok), 0);
}

#[test]
fn missing_targets() {
    let mut l = BtfBuilder::new();
    let i = l.add_int("int", 4, true);
    let s = l.add_struct("gone", 4, &[("f", i, 0)]);
    let e = l.add_enum("ev", false, &[("ONE", 1)]);
    let mut t = BtfBuilder::new();
    t.add_int("int", 4, true);
    t.add_enum("ev", false, &[("TWO", 2)]);
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);
    let mut go = |k, id, acc| r.resolve_access(k, id, acc).unwrap();
    use CoreReloKind::*;
    assert_eq!(go(FieldByteOffset, s, "0:0").outcome, CoreOutcome::Poison);
    assert_eq!(go(FieldByteSize, s, "0:0").outcome, CoreOutcome::Poison);
    assert_eq!(go(FieldExists, s, "0:0").outcome, CoreOutcome::Value(0));
    assert_eq!(go(TypeExists, s, "0").outcome, CoreOutcome::Value(0));
    assert_eq!(go(TypeSize, s, "0").outcome, CoreOutcome::Value(0));
    assert_eq!(go(TypeMatches, s, "0").outcome, CoreOutcome::Value(0));
    assert_eq!(go(TypeIdTarget, s, "0").outcome, CoreOutcome::Value(0));
    assert_eq!(
        go(TypeIdLocal, s, "0").outcome,
        CoreOutcome::Value(s as u64)
    );
    // The enum exists but has no ONE: the candidate does not match.
    assert_eq!(go(EnumvalExists, e, "0").outcome, CoreOutcome::Value(0));
    assert_eq!(go(EnumvalValue, e, "0").outcome, CoreOutcome::Poison);
    let poisoned = go(FieldByteOffset, s, "0:0");
    assert_eq!(poisoned.orig_value, 0);
}

#[test]
fn bitfields_and_signedness() {
    // Target: struct bf { short x; int b:5 @ 30; unsigned int a:3 @ 35; int w:5 @ 62 }.
    let mut l = BtfBuilder::new();
    let li = l.add_int("int", 4, true);
    let lu = l.add_int("unsigned int", 4, false);
    let ls = l.add_struct_bitfields(
        "bf",
        8,
        &[("a", lu, 0, 3), ("b", li, 3, 5), ("w", li, 8, 5)],
    );
    let mut t = BtfBuilder::new();
    let ti = t.add_int("int", 4, true);
    let tu = t.add_int("unsigned int", 4, false);
    let ts = t.add_int("short", 2, true);
    t.add_struct_bitfields(
        "bf",
        16,
        &[
            ("x", ts, 0, 0),
            ("b", ti, 30, 5),
            ("a", tu, 35, 3),
            ("w", ti, 62, 5),
        ],
    );
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);
    let mut v = |k, acc| {
        let res = r.resolve_access(k, ls, acc).unwrap();
        (res.orig_value, value(&res), res.validate)
    };
    use CoreReloKind::*;
    // a: bits [35, 38) of a 4-byte unit at byte 4.
    assert_eq!(v(FieldByteOffset, "0:0").1, 4);
    assert_eq!(v(FieldByteSize, "0:0").1, 4);
    assert_eq!(v(FieldLshiftU64, "0:0").1, 64 - (35 + 3 - 32));
    assert_eq!(v(FieldRshiftU64, "0:0"), (61, 61, true));
    assert_eq!(v(FieldSigned, "0:0").1, 0);
    // b: bits [30, 35) straddle a 4-byte unit: widened to 8 bytes at offset 0.
    assert_eq!(v(FieldByteOffset, "0:1").1, 0);
    assert_eq!(v(FieldByteSize, "0:1").1, 8);
    assert_eq!(v(FieldLshiftU64, "0:1").1, 64 - 35);
    assert_eq!(v(FieldSigned, "0:1").1, 1);
    // Bitfield offsets are not validated against the instruction (compilers may disagree).
    assert!(!v(FieldByteOffset, "0:1").2);
    // w: bits [62, 67) cannot be read with one 64-bit load.
    let e = r.resolve_access(FieldByteOffset, ls, "0:2").unwrap_err();
    assert!(e.to_string().contains("64-bit load"), "{e}");
}

#[test]
fn arrays_and_nesting() {
    // local: struct n { int arr[8]; }  target: struct n { long pad; struct { int arr[4]; }; }
    let mut l = BtfBuilder::new();
    let li = l.add_int("int", 4, true);
    let la = l.add_array(li, li, 8);
    let ls = l.add_struct("n", 32, &[("arr", la, 0)]);
    let mut t = BtfBuilder::new();
    let ti = t.add_int("int", 4, true);
    let tl = t.add_int("long", 8, true);
    let ta = t.add_array(ti, ti, 4);
    let anon = t.add_struct("", 16, &[("arr", ta, 0)]);
    t.add_struct("n", 24, &[("pad", tl, 0), ("", anon, 64)]);
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);
    let res = r
        .resolve_access(CoreReloKind::FieldByteOffset, ls, "0:0:2")
        .unwrap();
    assert_eq!((res.orig_value, value(&res)), (8, 16));
    assert_eq!(res.target_bit_offset, Some(128));
    assert_eq!((res.orig_size, res.new_size), (4, 4));
    // Element 5 exists locally but not in the 4-element target array.
    let res = r
        .resolve_access(CoreReloKind::FieldByteOffset, ls, "0:0:5")
        .unwrap();
    assert_eq!(res.outcome, CoreOutcome::Poison);
    // Root array index: &n[1].arr[1].
    let res = r
        .resolve_access(CoreReloKind::FieldByteOffset, ls, "1:0:1")
        .unwrap();
    assert_eq!((res.orig_value, value(&res)), (36, 24 + 8 + 4));
    let err = r
        .resolve_access(CoreReloKind::FieldSigned, ls, "0:0:1")
        .unwrap_err();
    assert!(matches!(err, CoreError::Unsupported { .. }), "{err}");
}

#[test]
fn enum_values_follow_libbpf() {
    let mut l = BtfBuilder::new();
    let le = l.add_enum("e", false, &[("BIG", 1), ("NEG", 2)]);
    let l64 = l.add_enum64("e64", false, &[("HUGE", 1)]);
    let mut t = BtfBuilder::new();
    t.add_enum("e", false, &[("NEG", -2), ("BIG", 0x8000_0000)]);
    t.add_enum64("e64___x", false, &[("HUGE___y", 1 << 40)]);
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);
    // 32-bit enumerators are `__s32` in libbpf: widened with sign extension either way.
    let big = r
        .resolve_access(CoreReloKind::EnumvalValue, le, "0")
        .unwrap();
    assert_eq!(value(&big), 0xffff_ffff_8000_0000);
    let neg = r
        .resolve_access(CoreReloKind::EnumvalValue, le, "1")
        .unwrap();
    assert_eq!(value(&neg), (-2i64) as u64);
    // Flavors are stripped from both type and enumerator names.
    let huge = r
        .resolve_access(CoreReloKind::EnumvalValue, l64, "0")
        .unwrap();
    assert_eq!(value(&huge), 1 << 40);
    let mut insns = vec![RawInsn::new(0x18, 1, 0, 0, 1), RawInsn::new(0, 0, 0, 0, 0)];
    patch_insn(&mut insns, 0, &huge).unwrap();
    assert_eq!((insns[0].imm, insns[1].imm), (0, 1 << 8));
}

#[test]
fn type_matches_is_stricter_than_exists() {
    let mut l = BtfBuilder::new();
    let lu = l.add_int("unsigned int", 4, false);
    let li = l.add_int("int", 4, true);
    let good = l.add_struct("m___good", 4, &[("len", lu, 0)]);
    let bad = l.add_struct("m___bad", 4, &[("len", li, 0)]);
    let missing = l.add_struct("m___missing", 4, &[("nope", lu, 0)]);
    let mut t = BtfBuilder::new();
    let tu = t.add_int("unsigned int", 4, false);
    t.add_struct("m", 8, &[("x", tu, 0), ("len", tu, 32)]);
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);
    for (id, matches) in [(good, 1), (bad, 0), (missing, 0)] {
        let m = r
            .resolve_access(CoreReloKind::TypeMatches, id, "0")
            .unwrap();
        assert_eq!(value(&m), matches, "type {id}");
        let e = r.resolve_access(CoreReloKind::TypeExists, id, "0").unwrap();
        assert_eq!(value(&e), 1);
        let s = r.resolve_access(CoreReloKind::TypeSize, id, "0").unwrap();
        assert_eq!((s.orig_value, value(&s)), (4, 8));
    }
}

#[test]
fn memory_size_adjustment() {
    // local: struct s { unsigned int u; int i; void *p; }  target: { u64 u; long i; void *p }.
    let mut l = BtfBuilder::new();
    let lu = l.add_int("unsigned int", 4, false);
    let li = l.add_int("int", 4, true);
    let lp = l.add_ptr(0);
    let ls = l.add_struct("s", 16, &[("u", lu, 0), ("i", li, 32), ("p", lp, 64)]);
    let mut t = BtfBuilder::new();
    let tu = t.add_int("unsigned long", 8, false);
    let tl = t.add_int("long", 8, true);
    let tp = t.add_ptr(0);
    t.add_struct("s", 24, &[("u", tu, 0), ("i", tl, 64), ("p", tp, 128)]);
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);

    // Unsigned widening: LDX W -> DW at the new offset.
    let u = r
        .resolve_access(CoreReloKind::FieldByteOffset, ls, "0:0")
        .unwrap();
    assert!(!u.fail_memsz_adjust);
    let mut insns = vec![RawInsn::new(0x61, 2, 1, 0, 0)]; // r2 = *(u32 *)(r1 + 0)
    assert_eq!(
        patch_insn(&mut insns, 0, &u).unwrap(),
        PatchOutcome::Patched
    );
    assert_eq!((insns[0].code, insns[0].off), (0x79, 0));

    // Signed widening cannot be done by a load: poisoned.
    let i = r
        .resolve_access(CoreReloKind::FieldByteOffset, ls, "0:1")
        .unwrap();
    assert!(i.fail_memsz_adjust);
    let mut insns = vec![RawInsn::new(0x61, 2, 1, 4, 0)];
    assert_eq!(
        patch_insn(&mut insns, 0, &i).unwrap(),
        PatchOutcome::Poisoned
    );
    assert_eq!((insns[0].code, insns[0].imm), (0x85, POISON_CALL_IMM));
    // ... but an ALU use of the same offset is fine.
    let mut insns = vec![RawInsn::new(0xb7, 1, 0, 0, 4)]; // r1 = 4
    assert_eq!(
        patch_insn(&mut insns, 0, &i).unwrap(),
        PatchOutcome::Patched
    );
    assert_eq!(insns[0].imm, 8);

    // Load size must match the local field size when a resize is needed.
    let mut insns = vec![RawInsn::new(0x69, 2, 1, 0, 0)]; // u16 load of a u32 field
    let err = patch_insn(&mut insns, 0, &u).unwrap_err();
    assert_eq!(
        err.to_string(),
        "insn #0: insn #0 (LDX/ST/STX) unexpected mem size: got 2, exp 4"
    );
}

#[test]
fn patch_validation() {
    let mut l = BtfBuilder::new();
    let li = l.add_int("int", 4, true);
    let ls = l.add_struct("s", 8, &[("a", li, 0), ("b", li, 32)]);
    let mut t = BtfBuilder::new();
    let ti = t.add_int("int", 4, true);
    let big = t.add_array(ti, ti, 20000);
    t.add_struct(
        "s",
        80008,
        &[("pad", big, 0), ("a", ti, 640000), ("b", ti, 640032)],
    );
    let (local, target) = (btf(&l), btf(&t));
    let mut r = CoreResolver::new(&local, &target);
    let b = r
        .resolve_access(CoreReloKind::FieldByteOffset, ls, "0:1")
        .unwrap();
    assert_eq!((b.orig_value, value(&b)), (4, 80004));

    // ALU: the immediate must be the local value.
    let mut insns = vec![RawInsn::new(0x07, 1, 0, 0, 5)];
    let e = patch_insn(&mut insns, 0, &b).unwrap_err();
    assert_eq!(
        e.to_string(),
        "insn #0: unexpected insn #0 (ALU/ALU64) value: got 5, exp 4 -> 80004"
    );
    insns[0].imm = 4;
    patch_insn(&mut insns, 0, &b).unwrap();
    assert_eq!(insns[0].imm, 80004);
    // LDX: offsets above i16::MAX cannot be encoded.
    let mut insns = vec![RawInsn::new(0x61, 2, 1, 4, 0)];
    let e = patch_insn(&mut insns, 0, &b).unwrap_err();
    assert!(e.to_string().contains("value too big: 80004"), "{e}");
    // Register-source ALU, jumps and malformed lddw are rejected.
    let mut insns = vec![RawInsn::new(0x0f, 1, 2, 0, 4)];
    assert!(patch_insn(&mut insns, 0, &b).is_err());
    let mut insns = vec![RawInsn::new(0x05, 0, 0, 0, 4)];
    assert!(
        patch_insn(&mut insns, 0, &b)
            .unwrap_err()
            .to_string()
            .contains("unrecognized insn")
    );
    let mut insns = vec![RawInsn::new(0x18, 1, 0, 0, 4)];
    assert!(
        patch_insn(&mut insns, 0, &b)
            .unwrap_err()
            .to_string()
            .contains("unexpected form")
    );
    assert!(patch_insn(&mut insns, 7, &b).is_err());

    // Poisoning an lddw poisons both slots.
    let p = CoreResolution {
        outcome: CoreOutcome::Poison,
        ..b.clone()
    };
    let mut insns = vec![RawInsn::new(0x18, 1, 0, 0, 4), RawInsn::new(0, 0, 0, 0, 0)];
    assert_eq!(
        patch_insn(&mut insns, 0, &p).unwrap(),
        PatchOutcome::Poisoned
    );
    assert!(
        insns
            .iter()
            .all(|i| i.code == 0x85 && i.imm == POISON_CALL_IMM)
    );
}

#[test]
fn bad_specs_and_anonymous_types() {
    let mut l = BtfBuilder::new();
    let li = l.add_int("int", 4, true);
    let ls = l.add_struct("s", 4, &[("a", li, 0)]);
    let anon = l.add_struct("", 4, &[("a", li, 0)]);
    let fwd = l.add_fwd("f", false);
    let target = btf(&l.clone());
    let local = btf(&l);
    let mut r = CoreResolver::new(&local, &target);
    use CoreReloKind::*;
    for (k, id, acc, needle) in [
        (FieldByteOffset, ls, "0:1", "member index 1 out of range"),
        (FieldByteOffset, ls, "", "empty access string"),
        (FieldByteOffset, ls, "0:x", "bad access index"),
        (TypeSize, ls, "1", "need access string \"0\""),
        (EnumvalValue, ls, "0", "non-enum"),
        (FieldByteOffset, ls, "0:0:1", "unexpected kind INT"),
        (FieldByteOffset, fwd, "0", "forward declaration has no size"),
    ] {
        let e = r.resolve_access(k, id, acc).unwrap_err();
        assert!(matches!(e, CoreError::BadSpec { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        assert!(e.to_string().starts_with(&format!("parsing [{id}]")), "{e}");
    }
    let e = r.resolve_access(FieldByteOffset, anon, "0:0").unwrap_err();
    assert!(matches!(e, CoreError::AnonymousType { .. }), "{e}");
    let ok = r.resolve_access(TypeIdLocal, anon, "0").unwrap();
    assert_eq!(value(&ok), anon as u64);
    assert!(matches!(
        r.resolve_access(TypeSize, 99, "0"),
        Err(CoreError::Btf(_))
    ));
}

#[test]
fn module_btf_is_a_fallback() {
    use std::sync::Arc;
    let mut v = BtfBuilder::new();
    let vi = v.add_int("int", 4, true);
    v.add_struct("in_both", 4, &[("x", vi, 0)]);
    let vmlinux = Arc::new(btf(&v));
    let mut m = BtfBuilder::new_split(&vmlinux);
    let ml = m.add_int("long", 8, true);
    let mod_s = m.add_struct("mod_only", 16, &[("pad", ml, 0), ("x", vi, 64)]);
    m.add_struct("in_both", 8, &[("pad", vi, 0), ("x", vi, 32)]);
    let module = Btf::parse_split(&m.build(), vmlinux.clone()).unwrap();
    assert_eq!(module.find_by_name("mod_only", None), Some(mod_s));
    assert_eq!(module.format_type(mod_s), "struct mod_only");
    let modules = [module];

    let mut l = BtfBuilder::new();
    let li = l.add_int("int", 4, true);
    let only = l.add_struct("mod_only", 4, &[("x", li, 0)]);
    let both = l.add_struct("in_both", 4, &[("x", li, 0)]);
    let local = btf(&l);
    let mut r = CoreResolver::new(&local, &vmlinux).with_modules(&modules);
    let res = r
        .resolve_access(CoreReloKind::FieldByteOffset, only, "0:0")
        .unwrap();
    assert_eq!(
        (value(&res), res.target_module, res.target_type_id),
        (8, Some(0), Some(mod_s))
    );
    // vmlinux has a candidate: modules are not consulted (libbpf order).
    let res = r
        .resolve_access(CoreReloKind::FieldByteOffset, both, "0:0")
        .unwrap();
    assert_eq!((value(&res), res.target_module), (0, None));
    // Without modules the module-only type is missing.
    let res = CoreResolver::new(&local, &vmlinux)
        .resolve_access(CoreReloKind::FieldByteOffset, only, "0:0")
        .unwrap();
    assert_eq!(res.outcome, CoreOutcome::Poison);
}

#[test]
fn spec_descriptions_match_libbpf_format() {
    let (local, s, target) = flavors();
    let mut r = CoreResolver::new(&local, &target);
    let a = r
        .resolve_access(CoreReloKind::FieldByteOffset, s, "0:0")
        .unwrap();
    assert_eq!(a.local_spec, "<byte_off> [2] struct s.a (0:0 @ offset 0)");
    assert_eq!(
        a.target_spec.as_deref(),
        Some("<byte_off> [3] struct s.a (0:0 @ offset 0)")
    );
    let t = r.resolve_access(CoreReloKind::TypeSize, s, "0").unwrap();
    assert_eq!(t.local_spec, "<type_size> [2] struct s");
}
