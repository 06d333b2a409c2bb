//! `.BTF` parsing of programmatically built blobs: every kind decodes to the expected model,
//! queries (sizes, members, names, decl tags, formatting) work, and malformed blobs are
//! rejected with an error naming the problem.

use lull_btf::builder::BtfBuilder;
use lull_btf::*;

/// A blob exercising every kind; returns the bytes and the ids of interest.
struct Sample {
    bytes: Vec<u8>,
    int: TypeId,
    uchar: TypeId,
    ptr_int: TypeId,
    arr: TypeId,
    task: TypeId,
    u: TypeId,
    e: TypeId,
    fwd: TypeId,
    td: TypeId,
    cvptr: TypeId,
    proto: TypeId,
    func: TypeId,
    var: TypeId,
    sec: TypeId,
    flt: TypeId,
    tag: TypeId,
    e64: TypeId,
    fnptr: TypeId,
}

fn sample() -> Sample {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let uchar = b.add_int_full("unsigned char", 1, 0, 0, 8);
    let ptr_int = b.add_ptr(int);
    let arr = b.add_array(uchar, int, 16);
    let inner = b.add_struct("", 8, &[("a", int, 0), ("b", int, 32)]);
    let task = b.add_struct_bitfields(
        "task",
        40,
        &[
            ("pid", int, 0, 0),
            ("flags", int, 32, 3),
            ("prio", int, 35, 5),
            ("comm", arr, 64, 0),
            ("", inner, 192, 0),
            ("next", 0, 256, 0), // patched below: pointer to task
        ],
    );
    let u = b.add_union("val", 8, &[("i", int, 0), ("p", ptr_int, 0)]);
    let e = b.add_enum("color", true, &[("RED", -1), ("GREEN", 7)]);
    let fwd = b.add_fwd("later", true);
    let td = b.add_typedef("pid_t", int);
    let c = b.add_const(ptr_int);
    let cvptr = b.add_volatile(c);
    let proto = b.add_func_proto(int, &[("ctx", ptr_int), ("n", td)], true);
    let func = b.add_func("handler", proto, 1);
    let var = b.add_var("counter", int, 1);
    let sec = b.add_datasec(".data", 4, &[(var, 0, 4)]);
    let flt = b.add_float("double", 8);
    let tag = b.add_decl_tag("comment:test_expect_msg=R1 invalid", func, -1);
    b.add_decl_tag("arg:ctx", func, 0);
    let e64 = b.add_enum64("big", false, &[("HUGE", 1 << 40)]);
    let tt = b.add_type_tag("rcu", task);
    let _ptr_rcu = b.add_ptr(tt);
    let fnproto = b.add_func_proto(0, &[], false);
    let fnptr = b.add_ptr(fnproto);
    let mut bytes = b.build();
    // Make task.next a `struct task *` (a self-referential graph through a pointer).
    let task_ptr = b.next_id();
    let mut b2 = b.clone();
    b2.add_ptr(task);
    bytes.clear();
    bytes.extend(patch_member_type(&b2, task, 5, task_ptr));
    Sample {
        bytes,
        int,
        uchar,
        ptr_int,
        arr,
        task,
        u,
        e,
        fwd,
        td,
        cvptr,
        proto,
        func,
        var,
        sec,
        flt,
        tag,
        e64,
        fnptr,
    }
}

/// Rewrites member `idx` of struct `id` to type `new_ty` by locating it in the encoded blob.
fn patch_member_type(b: &BtfBuilder, id: TypeId, idx: usize, new_ty: TypeId) -> Vec<u8> {
    let mut bytes = b.build();
    let btf = Btf::parse(&bytes).unwrap();
    // Walk records to find the byte offset of type `id`.
    let hdr = 24usize;
    let mut off = hdr;
    for cur in 1..id {
        off += record_len(&btf, cur);
    }
    let m = off + 12 + idx * 12 + 4;
    bytes[m..m + 4].copy_from_slice(&new_ty.to_le_bytes());
    bytes
}

fn record_len(btf: &Btf, id: TypeId) -> usize {
    let t = btf.type_by_id(id).unwrap();
    12 + match &t.kind {
        TypeKind::Int(_) | TypeKind::Var { .. } | TypeKind::DeclTag { .. } => 4,
        TypeKind::Array(_) => 12,
        TypeKind::Struct(c) | TypeKind::Union(c) => 12 * c.members.len(),
        TypeKind::Enum(e) => 8 * e.values.len(),
        TypeKind::Enum64(e) => 12 * e.values.len(),
        TypeKind::FuncProto(p) => 8 * (p.params.len() + usize::from(p.variadic)),
        TypeKind::Datasec(d) => 12 * d.vars.len(),
        _ => 0,
    }
}

#[test]
fn every_kind_decodes() {
    let s = sample();
    let btf = Btf::parse(&s.bytes).unwrap();
    assert_eq!(btf.type_by_id(0).unwrap().kind(), Kind::Void);

    let i = btf.type_by_id(s.int).unwrap().as_int().copied().unwrap();
    assert_eq!(
        (i.size, i.bits, i.offset, i.encoding.signed),
        (4, 32, 0, true)
    );
    let uc = btf.type_by_id(s.uchar).unwrap().as_int().copied().unwrap();
    assert!(!uc.encoding.signed && uc.size == 1);
    assert_eq!(
        btf.type_by_id(s.ptr_int).unwrap().kind,
        TypeKind::Ptr(s.int)
    );
    let TypeKind::Array(a) = btf.type_by_id(s.arr).unwrap().kind else {
        panic!()
    };
    assert_eq!((a.elem_type, a.index_type, a.nelems), (s.uchar, s.int, 16));

    let task = btf.type_by_id(s.task).unwrap();
    assert_eq!(btf.name(task), "task");
    let m = task.members();
    assert_eq!(m.len(), 6);
    assert_eq!((m[1].bit_offset, m[1].bitfield_size), (32, 3));
    assert_eq!((m[2].bit_offset, m[2].bitfield_size), (35, 5));
    assert_eq!((m[3].bit_offset, m[3].bitfield_size), (64, 0));
    assert_eq!(btf.member_name(&m[4]), "");

    assert_eq!(btf.type_by_id(s.u).unwrap().kind(), Kind::Union);
    let e = btf.type_by_id(s.e).unwrap().as_enum().cloned().unwrap();
    assert!(e.signed);
    assert_eq!(e.values[0].value as i64, -1);
    assert_eq!(e.values[1].value, 7);
    assert_eq!(
        btf.type_by_id(s.fwd).unwrap().kind,
        TypeKind::Fwd { is_union: true }
    );
    assert_eq!(btf.type_by_id(s.td).unwrap().kind, TypeKind::Typedef(s.int));
    let p = btf
        .type_by_id(s.proto)
        .unwrap()
        .as_func_proto()
        .cloned()
        .unwrap();
    assert!(p.variadic);
    assert_eq!(p.params.len(), 2);
    assert_eq!(btf.str_at(p.params[0].name_off).unwrap(), "ctx");
    assert_eq!(
        btf.type_by_id(s.func).unwrap().kind,
        TypeKind::Func {
            proto: s.proto,
            linkage: FuncLinkage::Global
        }
    );
    assert_eq!(
        btf.type_by_id(s.var).unwrap().kind,
        TypeKind::Var {
            type_id: s.int,
            linkage: VarLinkage::GlobalAllocated
        }
    );
    let d = btf
        .type_by_id(s.sec)
        .unwrap()
        .as_datasec()
        .cloned()
        .unwrap();
    assert_eq!(
        d.vars,
        vec![VarSecinfo {
            type_id: s.var,
            offset: 0,
            size: 4
        }]
    );
    assert_eq!(
        btf.type_by_id(s.flt).unwrap().kind,
        TypeKind::Float { size: 8 }
    );
    assert_eq!(
        btf.type_by_id(s.tag).unwrap().kind,
        TypeKind::DeclTag {
            target: s.func,
            component_idx: -1
        }
    );
    let e64 = btf.type_by_id(s.e64).unwrap().as_enum().cloned().unwrap();
    assert_eq!(e64.values[0].value, 1 << 40);
    assert_eq!(btf.types().count(), btf.len() - 1);
}

#[test]
fn queries() {
    let s = sample();
    let btf = Btf::parse(&s.bytes).unwrap();
    assert_eq!(btf.resolve_size(s.task).unwrap(), 40);
    assert_eq!(btf.resolve_size(s.arr).unwrap(), 16);
    assert_eq!(btf.resolve_size(s.td).unwrap(), 4);
    assert_eq!(btf.resolve_size(s.cvptr).unwrap(), 8);
    assert_eq!(btf.resolve_size(s.var).unwrap(), 4);
    assert!(matches!(btf.resolve_size(0), Err(BtfError::NoSize { .. })));
    assert!(matches!(
        btf.resolve_size(s.func),
        Err(BtfError::NoSize { .. })
    ));
    assert!(matches!(
        btf.resolve_size(s.fwd),
        Err(BtfError::NoSize { .. })
    ));
    assert_eq!(btf.skip_mods_and_typedefs(s.td).unwrap().0, s.int);
    assert_eq!(btf.skip_mods_and_typedefs(s.cvptr).unwrap().0, s.ptr_int);
    assert_eq!(btf.ptr_target(s.cvptr).unwrap(), s.int);
    assert!(matches!(
        btf.ptr_target(s.int),
        Err(BtfError::UnexpectedKind { .. })
    ));

    let (idx, m) = btf.member_by_name(s.task, "comm").unwrap().unwrap();
    assert_eq!((idx, m.bit_offset), (3, 64));
    assert!(btf.member_by_name(s.task, "b").unwrap().is_none());
    let b = btf.find_member(s.task, "b").unwrap().unwrap();
    assert_eq!(b.bit_offset, 192 + 32);
    assert_eq!(btf.member_offset_bits(s.task, 2).unwrap(), 35);
    assert!(btf.member_offset_bits(s.task, 9).is_err());

    assert_eq!(btf.find_by_name("task", Some(Kind::Struct)), Some(s.task));
    assert_eq!(btf.find_by_name("task", Some(Kind::Union)), None);
    assert_eq!(btf.find_by_name("pid_t", None), Some(s.td));
    assert_eq!(btf.find_by_name("nope", None), None);

    let tags: Vec<_> = btf.decl_tags_for(s.func).collect();
    assert_eq!(
        tags,
        vec![(-1, "comment:test_expect_msg=R1 invalid"), (0, "arg:ctx")]
    );
    assert_eq!(btf.decl_tags_for(s.int).count(), 0);
}

#[test]
fn formatting() {
    let s = sample();
    let btf = Btf::parse(&s.bytes).unwrap();
    assert_eq!(btf.format_type(s.int), "int");
    assert_eq!(btf.format_type(s.ptr_int), "int *");
    assert_eq!(btf.format_type(s.cvptr), "int *const volatile");
    assert_eq!(btf.format_type(s.arr), "unsigned char [16]");
    assert_eq!(btf.format_decl(s.arr, "comm"), "unsigned char comm[16]");
    assert_eq!(btf.format_type(s.task), "struct task");
    let next = btf
        .member_by_name(s.task, "next")
        .unwrap()
        .unwrap()
        .1
        .type_id;
    assert_eq!(btf.format_type(next), "struct task *");
    assert_eq!(btf.format_type(s.u), "union val");
    assert_eq!(btf.format_type(s.e), "enum color");
    assert_eq!(btf.format_type(s.fwd), "union later");
    assert_eq!(btf.format_type(s.fnptr), "void (*)(void)");
    assert_eq!(
        btf.format_type(s.func),
        "int handler(int *ctx, pid_t n, ...)"
    );
    assert_eq!(btf.format_type(s.var), "int counter");
    assert_eq!(btf.format_type(9999), "<bad type 9999>");
}

fn expect_err(bytes: &[u8], needle: &str) {
    match Btf::parse(bytes) {
        Ok(_) => panic!("expected an error containing {needle:?}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{msg:?} does not contain {needle:?}");
        }
    }
}

#[test]
fn malformed_headers() {
    let good = sample().bytes;
    let mut b = good.clone();
    b[0] = 0xeb; // big-endian magic
    b[1] = 0x9f;
    expect_err(&b, "bad BTF magic");
    let mut b = good.clone();
    b[2] = 2;
    expect_err(&b, "unsupported BTF version 2");
    expect_err(&good[..10], "truncated");
    let mut b = good.clone();
    b[4] = 8; // hdr_len 8
    expect_err(&b, "bad BTF header length");
    // type_len past the end
    let mut b = good.clone();
    b[12..16].copy_from_slice(&(good.len() as u32).to_le_bytes());
    expect_err(&b, "bad BTF type section");
    // string section overlapping the type section
    let mut b = good.clone();
    b[16..20].copy_from_slice(&0u32.to_le_bytes());
    b[20..24].copy_from_slice(&8u32.to_le_bytes());
    expect_err(&b, "overlaps");
    // misaligned type section
    let mut b = good.clone();
    b[8..12].copy_from_slice(&2u32.to_le_bytes());
    expect_err(&b, "aligned");
    // string section not NUL-terminated
    let mut b = good.clone();
    let last = b.len() - 1;
    b[last] = b'x';
    expect_err(&b, "NUL-terminated");
}

#[test]
fn malformed_types() {
    // Unknown kind 25.
    let mut b = BtfBuilder::new();
    b.add_raw(0, 25 << 24, 0, &[]);
    expect_err(&b.build(), "type [1] kind 25: unknown kind");

    // vlen larger than the data.
    let mut b = BtfBuilder::new();
    let i = b.add_int("int", 4, false);
    b.add_raw(0, (4 << 24) | 3, 4, &[0, i, 0]);
    expect_err(&b.build(), "type [2] STRUCT: vlen 3 needs 36 bytes");

    // Bad string offset.
    let mut b = BtfBuilder::new();
    b.add_raw(999, 2 << 24, 0, &[]);
    expect_err(&b.build(), "type [1] name: string offset 999 is invalid");

    // Referenced id out of range.
    let mut b = BtfBuilder::new();
    b.add_ptr(7);
    expect_err(
        &b.build(),
        "type [1] PTR: referenced type id 7 out of range",
    );

    // INT with too many bits.
    let mut b = BtfBuilder::new();
    b.add_int_full("x", 4, 0, 0, 40);
    expect_err(&b.build(), "type [1] INT");

    // FUNC whose type is not a FUNC_PROTO.
    let mut b = BtfBuilder::new();
    let i = b.add_int("int", 4, false);
    b.add_func("f", i, 0);
    expect_err(&b.build(), "is not a FUNC_PROTO");

    // Truncated record header.
    let mut b = BtfBuilder::new().build();
    b.extend([1, 2, 3, 4]);
    b[12..16].copy_from_slice(&4u32.to_le_bytes()); // type_len = 4
    b[16..20].copy_from_slice(&4u32.to_le_bytes()); // str_off = 4
    b.truncate(24);
    b.extend([0, 0, 0, 2, 0]); // 4 bytes of type data, then "" string section
    expect_err(&b, "truncated");
}

#[test]
fn loops_are_errors_not_hangs() {
    // typedef 1 -> const 2 -> typedef 1
    let mut b = BtfBuilder::new();
    b.add_typedef("a", 2);
    b.add_const(1);
    let p = b.add_ptr(1);
    let arr_self = b.add_array(4, 4, 2); // array of itself
    let bytes = b.build();
    let btf = Btf::parse(&bytes).unwrap();
    assert!(matches!(
        btf.skip_mods_and_typedefs(1),
        Err(BtfError::Loop { id: 1, .. })
    ));
    assert!(matches!(btf.resolve_size(2), Err(BtfError::Loop { .. })));
    assert_eq!(btf.resolve_size(p).unwrap(), 8); // pointers stop the walk
    assert!(matches!(
        btf.resolve_size(arr_self),
        Err(BtfError::Loop { .. })
    ));
    let _ = btf.format_type(1); // must terminate
    let _ = btf.format_type(arr_self);
}

#[test]
fn split_btf() {
    let base_bytes = sample().bytes;
    let base = std::sync::Arc::new(Btf::parse(&base_bytes).unwrap());
    let n = base.len() as u32;
    let str_base = base.header().str_len;
    // Split blob: one struct "mod_s" { int x; } referencing base type 1, and a pointer to it.
    let mut strs = b"mod_s\0x\0".to_vec();
    strs.push(0);
    let mut types = Vec::new();
    for w in [
        str_base,
        (4 << 24) | 1,
        4,
        str_base + 6,
        1,
        0,
        0,
        2 << 24,
        n,
    ] {
        types.extend_from_slice(&w.to_le_bytes());
    }
    let mut blob = Vec::new();
    blob.extend([0x9f, 0xeb, 1, 0]);
    for w in [
        24u32,
        0,
        types.len() as u32,
        types.len() as u32,
        strs.len() as u32,
    ] {
        blob.extend_from_slice(&w.to_le_bytes());
    }
    blob.extend(&types);
    blob.extend(&strs);
    let split = Btf::parse_split(&blob, base.clone()).unwrap();
    assert_eq!(split.start_id(), n);
    assert_eq!(split.len() as u32, n + 2);
    assert_eq!(split.find_by_name("mod_s", None), Some(n));
    assert_eq!(
        split.find_by_name("task", None),
        base.find_by_name("task", None)
    );
    assert_eq!(split.format_type(n + 1), "struct mod_s *");
    assert_eq!(split.format_decl(n, ""), "struct mod_s");
    let m = split.member_by_name(n, "x").unwrap().unwrap().1;
    assert_eq!(split.format_type(m.type_id), "int");
    assert_eq!(split.types().count(), 2);
}
