//! Robustness: random bytes and random mutations of valid BTF / BTF.ext blobs never panic or
//! hang the parser, the graph queries, the formatter or CO-RE resolution (errors are fine).

use lull_btf::Btf;
use lull_btf::builder::{BtfBuilder, ExtBuilder};
use lull_btf::core::{CoreReloKind, CoreResolver};
use lull_btf::ext::BtfExt;
use proptest::prelude::*;

fn valid_blob() -> Vec<u8> {
    let mut b = BtfBuilder::new();
    let i = b.add_int("int", 4, true);
    let c = b.add_int_full("char", 1, 2, 0, 8);
    let p = b.add_ptr(i);
    let a = b.add_array(c, i, 16);
    let td = b.add_typedef("u32", i);
    let cst = b.add_const(td);
    let inner = b.add_union("", 8, &[("x", i, 0), ("y", p, 0)]);
    let s = b.add_struct_bitfields(
        "task",
        40,
        &[
            ("pid", i, 0, 0),
            ("f", i, 32, 3),
            ("comm", a, 64, 0),
            ("", inner, 192, 0),
            ("c", cst, 256, 0),
        ],
    );
    let sp = b.add_ptr(s);
    let proto = b.add_func_proto(i, &[("t", sp), ("n", td)], true);
    let f = b.add_func("f", proto, 1);
    b.add_decl_tag("comment:x", f, -1);
    b.add_decl_tag("arg", f, 1);
    let v = b.add_var("g", i, 1);
    b.add_datasec(".data", 4, &[(v, 0, 4)]);
    b.add_enum("e", true, &[("A", -1), ("B", 2)]);
    b.add_enum64("e64", false, &[("C", 1 << 40)]);
    b.add_fwd("later", false);
    b.add_float("double", 8);
    let tt = b.add_type_tag("rcu", s);
    b.add_ptr(tt);
    b.add_volatile(sp);
    b.add_restrict(sp);
    b.build()
}

/// Runs every query on every id.
fn exercise(btf: &Btf) {
    for id in 0..btf.len() as u32 + 2 {
        let _ = btf.type_by_id(id);
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
        let _ = btf.ptr_target(id);
        let _ = btf.format_type(id);
        let _ = btf.find_member(id, "pid");
        let _ = btf.member_by_name(id, "comm");
        let _ = btf.member_offset_bits(id, 1);
        let _ = btf.decl_tags_for(id).count();
        let _ = btf.dump_raw(id);
        for (off, size) in [(0, 1), (0, 8), (4, 4), (16, 8), (38, 2), (1000, 8)] {
            let _ = btf.struct_access(id, off, size, true);
        }
        let name = btf.name_of(id).to_string();
        let _ = btf.find_by_name(&name, None);
    }
    let _ = btf.find_all_by_name("task", None);
}

/// CO-RE resolution of a mutated BTF against the valid one and vice versa.
fn core(local: &Btf, target: &Btf) {
    let kinds = [
        CoreReloKind::FieldByteOffset,
        CoreReloKind::FieldByteSize,
        CoreReloKind::FieldLshiftU64,
        CoreReloKind::FieldSigned,
        CoreReloKind::TypeMatches,
        CoreReloKind::TypeSize,
        CoreReloKind::EnumvalValue,
    ];
    let mut r = CoreResolver::new(local, target);
    for id in 0..local.len() as u32 {
        for k in kinds {
            for acc in ["0", "0:0", "0:2:3", "0:3:1", "1:4", "0:1"] {
                let _ = r.resolve_access(k, id, acc);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(btf) = Btf::parse(&bytes) {
            exercise(&btf);
        }
    }

    #[test]
    fn mutated_blobs_never_panic(
        muts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let good = valid_blob();
        let mut b = good.clone();
        for (at, v) in &muts {
            let i = at.index(b.len());
            b[i] = *v;
        }
        if truncate {
            b.truncate(cut.index(b.len()));
        }
        let valid = Btf::parse(&good).unwrap();
        if let Ok(btf) = Btf::parse(&b) {
            exercise(&btf);
            core(&btf, &valid);
            core(&valid, &btf);
            // The mutated blob's strings feed .BTF.ext parsing too.
            let ext = ExtBuilder::new()
                .func_info(1, &[(0, 1)])
                .line_info(1, &[(0, 1, 5, 1, 1)])
                .core_relo(1, &[(0, 2, 1, 0)])
                .build();
            let _ = BtfExt::parse(&ext, &btf);
        }
    }

    #[test]
    fn mutated_ext_never_panics(
        muts in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let btf = Btf::parse(&valid_blob()).unwrap();
        let mut ext = ExtBuilder::new()
            .func_info(1, &[(0, 1), (8, 2)])
            .line_info(1, &[(0, 1, 5, 1, 1)])
            .core_relo(1, &[(0, 2, 1, 0)])
            .build();
        for (at, v) in &muts {
            let i = at.index(ext.len());
            ext[i] = *v;
        }
        let _ = BtfExt::parse(&ext, &btf);
    }
}

/// Every single-byte mutation of the valid blob (a few values per position): no panics, and
/// enough of them still parse that the queries above really run on odd graphs.
#[test]
fn single_byte_mutations_exhaustive() {
    let good = valid_blob();
    let valid = Btf::parse(&good).unwrap();
    let (mut ok, mut total) = (0, 0);
    for i in 0..good.len() {
        for v in [
            0u8,
            1,
            2,
            0x7f,
            0x80,
            0xff,
            good[i] ^ 1,
            good[i].wrapping_add(12),
        ] {
            let mut b = good.clone();
            b[i] = v;
            total += 1;
            if let Ok(btf) = Btf::parse(&b) {
                ok += 1;
                exercise(&btf);
                core(&btf, &valid);
            }
        }
    }
    eprintln!("{ok}/{total} single-byte mutations parsed");
    assert!(ok * 4 > total, "only {ok}/{total} mutations parsed");
}

/// Self-referential graphs whose naive walks are exponential (valid-looking BTF, no loops in
/// modifier chains) finish quickly with an answer or an error.
#[test]
fn hostile_graphs_terminate() {
    use lull_btf::TypeId;
    use std::time::Instant;
    let start = Instant::now();
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    // typedef fp = P *, where P takes 40 parameters of type fp.
    let fp: TypeId = b.next_id();
    let p_ptr = fp + 1;
    let proto = fp + 2;
    b.add_typedef("fp", p_ptr);
    b.add_ptr(proto);
    let params: Vec<(&str, TypeId)> = (0..40).map(|_| ("", fp)).collect();
    b.add_func_proto(int, &params, false);
    // struct S { S a; S b; S c; } (by value: only BTF can say this) and
    // struct A { anonymous A x 8; int z; }.
    let s: TypeId = b.next_id();
    b.add_struct("S", 12, &[("a", s, 0), ("b", s, 32), ("c", s, 64)]);
    let a: TypeId = b.next_id();
    let anon: Vec<(&str, TypeId, u32)> = (0..8).map(|i| ("", a, i * 8)).collect();
    let mut members = anon.clone();
    members.push(("z", int, 64));
    b.add_struct("A", 16, &members);
    let btf = Btf::parse(&b.build()).unwrap();

    assert!(btf.format_type(fp).len() < 1 << 20);
    let mut r = CoreResolver::new(&btf, &btf);
    let _ = r.resolve_access(CoreReloKind::TypeExists, fp, "0");
    let _ = r.resolve_access(CoreReloKind::TypeMatches, s, "0");
    let _ = r.resolve_access(CoreReloKind::TypeMatches, a, "0");
    // Local A.z against target A: the target search descends the anonymous members first.
    let _ = r.resolve_access(CoreReloKind::FieldByteOffset, a, "0:8");
    let _ = btf.struct_access(a, 8, 4, true);
    let _ = btf.struct_access(s, 4, 4, true);
    assert!(start.elapsed().as_secs() < 10, "took {:?}", start.elapsed());
}
