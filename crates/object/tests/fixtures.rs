//! Field-by-field checks of the parsed fixtures (compiled with clang-19 at test time).

mod common;

use lull_abi::{AttachType, MapType, ProgType, map_flags};
use lull_isa::{CallTarget, Insn, LdImm64Kind};
use lull_object::{InitSlot, Kconfig, MapKind, Object, ObjectError, ParseOptions, RelocKind};

fn open(name: &str, kconfig: Option<&Kconfig>) -> Option<Object> {
    let path = common::compile(name)?;
    let opts = ParseOptions {
        kconfig,
        ..Default::default()
    };
    Some(Object::open(path, &opts).unwrap_or_else(|e| panic!("{name}: {e}")))
}

#[test]
fn section_types_and_sleepable_forms() {
    let Some(o) = open("sections", None) else {
        return;
    };
    let p = |n: &str| o.program(n).unwrap_or_else(|| panic!("no program {n}"));
    let check = |n: &str, t: ProgType, e: Option<AttachType>, tgt: Option<&str>, sl: bool| {
        let q = p(n);
        assert_eq!(
            (
                q.prog_type,
                q.expected_attach_type,
                q.attach_target.as_deref(),
                q.sleepable
            ),
            (t, e, tgt, sl),
            "{n}"
        );
    };
    check("sock_prog", ProgType::SocketFilter, None, None, false);
    check(
        "kprobe_prog",
        ProgType::Kprobe,
        None,
        Some("do_unlinkat"),
        false,
    );
    check(
        "uprobe_s_prog",
        ProgType::Kprobe,
        None,
        Some("libc.so.6:malloc"),
        true,
    );
    check(
        "uretprobe_s_prog",
        ProgType::Kprobe,
        None,
        Some("libc.so.6:malloc"),
        true,
    );
    check(
        "uprobe_multi_s_prog",
        ProgType::Kprobe,
        Some(AttachType::TraceUprobeMulti),
        Some("libc.so.6:mall*"),
        true,
    );
    check(
        "usdt_s_prog",
        ProgType::Kprobe,
        None,
        Some("libc.so.6:libc:setjmp"),
        true,
    );
    check(
        "tp_prog",
        ProgType::Tracepoint,
        None,
        Some("syscalls/sys_enter_openat"),
        false,
    );
    check(
        "fentry_prog",
        ProgType::Tracing,
        Some(AttachType::TraceFentry),
        Some("do_unlinkat"),
        false,
    );
    check(
        "fentry_s_prog",
        ProgType::Tracing,
        Some(AttachType::TraceFentry),
        Some("do_unlinkat"),
        true,
    );
    check(
        "fexit_s_prog",
        ProgType::Tracing,
        Some(AttachType::TraceFexit),
        Some("do_unlinkat"),
        true,
    );
    check(
        "fmod_ret_s_prog",
        ProgType::Tracing,
        Some(AttachType::ModifyReturn),
        Some("do_unlinkat"),
        true,
    );
    check(
        "fmod_ret_prog",
        ProgType::Tracing,
        Some(AttachType::ModifyReturn),
        Some("do_unlinkat"),
        false,
    );
    check(
        "lsm_s_prog",
        ProgType::Lsm,
        Some(AttachType::LsmMac),
        Some("file_open"),
        true,
    );
    check(
        "lsm_prog",
        ProgType::Lsm,
        Some(AttachType::LsmMac),
        Some("file_open"),
        false,
    );
    check(
        "iter_s_prog",
        ProgType::Tracing,
        Some(AttachType::TraceIter),
        Some("task"),
        true,
    );
    check(
        "struct_ops_s_prog",
        ProgType::StructOps,
        None,
        Some("test_2"),
        true,
    );
    check("syscall_prog", ProgType::Syscall, None, None, true);
    check(
        "xdp_frags_prog",
        ProgType::Xdp,
        Some(AttachType::Xdp),
        None,
        false,
    );
    check(
        "cgroup_skb_in_prog",
        ProgType::CgroupSkb,
        Some(AttachType::CgroupInetIngress),
        None,
        false,
    );
    check(
        "sk_lookup_prog",
        ProgType::SkLookup,
        Some(AttachType::SkLookup),
        None,
        false,
    );
    assert_eq!(
        p("xdp_frags_prog").prog_flags,
        lull_abi::prog_flags::XDP_HAS_FRAGS
    );
    assert_eq!(
        p("fentry_s_prog").prog_flags,
        lull_abi::prog_flags::SLEEPABLE
    );

    // "?socket": same type, not autoloaded, section reported without the "?".
    let opt = p("optional_prog");
    assert_eq!((opt.section.as_str(), opt.autoload), ("socket", false));
    assert!(p("sock_prog").autoload);

    // Three programs share the "xdp" section, in offset order, each with its own body.
    let xdp: Vec<_> = o
        .programs
        .iter()
        .filter(|q| q.section == "xdp")
        .map(|q| q.name.as_str())
        .collect();
    assert_eq!(xdp, ["xdp_prog", "xdp_second", "xdp_third"]);
    assert_eq!(p("xdp_second").insns.len(), 2);
    assert!(p("xdp_third").insns.len() > 2);
    assert_eq!(o.license.as_deref(), Some("GPL"));
    assert!(o.unknown_sections.is_empty());
    // Line info is attached and points into the program.
    let third = p("xdp_third");
    assert!(!third.line_info.is_empty());
    assert!(
        third
            .line_info
            .iter()
            .all(|l| l.insn < third.insns.len() && l.file.ends_with("sections.bpf.c"))
    );
    assert_eq!(third.func_info.len(), 1);
    assert_eq!(third.func_info[0].insn, 0);
}

#[test]
fn unknown_sections_are_reported_and_refused_at_load() {
    let Some(o) = open("unknown", None) else {
        return;
    };
    assert_eq!(o.unknown_sections, ["my_custom_hook/x", "kprobex"]);
    assert_eq!(
        o.program("custom_prog").unwrap().prog_type,
        ProgType::Unspec
    );
    assert!(matches!(
        o.loadable_program("custom_prog"),
        Err(ObjectError::UnknownSection { .. })
    ));
    assert!(o.loadable_program("near_miss_prog").is_err());
    assert_eq!(
        o.loadable_program("known_prog").unwrap().prog_type,
        ProgType::Kprobe
    );
    assert_eq!(o.license.as_deref(), Some("Dual MIT/GPL"));
    assert_eq!(o.kernel_version, Some(0x060c00));
    assert!(matches!(
        o.loadable_program("nope"),
        Err(ObjectError::NoSuchProgram(_))
    ));
}

fn call_target(insns: &[lull_isa::RawInsn], slot: usize) -> usize {
    assert_eq!(insns[slot].code, 0x85, "slot {slot} is a call");
    (slot as i64 + 1 + i64::from(insns[slot].imm)) as usize
}

#[test]
fn subprograms_are_appended_per_program() {
    let Some(o) = open("subprogs", None) else {
        return;
    };
    let m = o.program("uses_middle").unwrap();
    let subs: Vec<_> = m
        .subprograms
        .iter()
        .map(|s| (s.name.as_str(), s.start, s.len))
        .collect();
    assert_eq!(subs, [("middle", 3, 8), ("leaf", 11, 4)]);
    assert_eq!(m.insns.len(), 15);
    assert_eq!(call_target(&m.insns, 1), 3); // body -> middle
    // middle's two calls of leaf now point at the appended leaf.
    assert_eq!(call_target(&m.insns, 3 + 1), 11);
    assert_eq!(call_target(&m.insns, 3 + 5), 11);

    let g = o.program("uses_global").unwrap();
    let names: Vec<_> = g.subprograms.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["global_helper", "leaf"]);
    let calls: Vec<_> = g
        .relocations
        .iter()
        .filter_map(|r| match &r.kind {
            RelocKind::Call { target } => Some((r.slot, target.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(calls, [(1, "global_helper"), (4, "leaf")]);
    assert_eq!(call_target(&g.insns, 1), g.subprograms[0].start);
    assert_eq!(call_target(&g.insns, 4), g.subprograms[1].start);
    assert!(!g.subprograms.iter().any(|s| s.name == "unused_static"));

    // The callback passed by address becomes ld_imm64 src=BPF_PSEUDO_FUNC to the appended copy.
    let l = o.program("uses_loop").unwrap();
    assert_eq!(l.subprograms.len(), 1);
    assert_eq!(l.subprograms[0].name, "loop_cb");
    let ld = l
        .decoded
        .iter()
        .find(|x| {
            matches!(
                x.insn,
                Insn::LdImm64 {
                    kind: LdImm64Kind::Func,
                    ..
                }
            )
        })
        .unwrap();
    let Insn::LdImm64 { imm, .. } = ld.insn else {
        unreachable!()
    };
    assert_eq!(
        ld.slot as i64 + 1 + i64::from(imm),
        l.subprograms[0].start as i64
    );
    assert!(
        l.decoded
            .iter()
            .any(|x| x.insn == Insn::Call(CallTarget::Helper(181)))
    );

    let n = o.program("no_calls").unwrap();
    assert!(n.subprograms.is_empty());
    assert_eq!(n.insns.len(), 2);
    // func_info: one per function in the stream, at the function starts.
    let fi: Vec<_> = m.func_info.iter().map(|f| f.insn).collect();
    assert_eq!(fi, [0, 3, 11]);
}

#[test]
fn btf_maps_field_by_field() {
    let Some(o) = open("maps", None) else { return };
    let idx = |n: &str| o.maps.iter().position(|m| m.name == n).unwrap();
    let h = &o.maps[idx("hash_map")];
    assert_eq!(
        (h.map_type, h.key_size, h.value_size, h.max_entries, h.flags),
        (MapType::Hash, 4, 16, 1024, map_flags::NO_PREALLOC)
    );
    let btf = o.btf.as_ref().unwrap();
    assert_eq!(btf.name_of(h.value_btf_id.unwrap()), "value");
    assert!(h.key_btf_id.is_some());
    let s = &o.maps[idx("sized_array")];
    assert_eq!(
        (
            s.key_size,
            s.value_size,
            s.max_entries,
            s.pinning,
            s.key_btf_id
        ),
        (4, 24, 16, 1, None)
    );
    let r = &o.maps[idx("events")];
    assert_eq!(
        (r.map_type, r.max_entries, r.key_size),
        (MapType::Ringbuf, 4096, 0)
    );
    assert_eq!(o.maps[idx("lru")].flags, map_flags::NO_COMMON_LRU);
    let b = &o.maps[idx("bloom")];
    assert_eq!(
        (b.map_type, b.map_extra, b.value_size, b.key_size),
        (MapType::BloomFilter, 3, 4, 0)
    );

    let outer = &o.maps[idx("outer")];
    assert_eq!(
        (outer.map_type, outer.value_size, outer.max_entries),
        (MapType::ArrayOfMaps, 4, 4)
    );
    let inner = outer.inner.as_ref().unwrap();
    assert_eq!(
        (
            inner.name.as_str(),
            inner.map_type,
            inner.max_entries,
            inner.key_size,
            inner.value_size
        ),
        ("outer.inner", MapType::Array, 2, 4, 4)
    );
    assert_eq!(
        outer.init_slots,
        [
            (0, InitSlot::Map(idx("inner1"))),
            (2, InitSlot::Map(idx("inner2")))
        ]
    );
    let oh = &o.maps[idx("outer_hash")];
    let ih = oh.inner.as_ref().unwrap();
    assert_eq!(
        (ih.map_type, ih.key_size, ih.value_size, ih.max_entries),
        (MapType::Hash, 8, 8, 32)
    );
    assert!(oh.init_slots.is_empty());
    let jt = &o.maps[idx("jmp_table")];
    assert_eq!(jt.init_slots, [(1, InitSlot::Program("tail_a".into()))]);
    assert!(o.maps.iter().all(|m| m.kind == MapKind::User));

    // ld_imm64 map references: src=MAP_FD, imm = map index.
    let u = o.program("use_maps").unwrap();
    let refs: Vec<_> = u
        .relocations
        .iter()
        .filter_map(|r| match r.kind {
            RelocKind::Map { map } => Some(map),
            _ => None,
        })
        .collect();
    assert_eq!(
        refs,
        [
            idx("hash_map"),
            idx("outer"),
            idx("events"),
            idx("jmp_table")
        ]
    );
    for r in &u.relocations {
        if let RelocKind::Map { map } = r.kind {
            let d = u.decoded.iter().find(|x| x.slot == r.slot).unwrap();
            assert!(
                matches!(d.insn, Insn::LdImm64 { kind: LdImm64Kind::MapFd, imm, .. } if imm as usize == map)
            );
        }
    }
}

#[test]
fn legacy_maps_section() {
    let Some(o) = open("legacy_maps", None) else {
        return;
    };
    let c = o.map("counters").unwrap();
    assert_eq!(
        (c.map_type, c.key_size, c.value_size, c.max_entries, c.flags),
        (MapType::Array, 4, 8, 10, 0)
    );
    let t = o.map("table").unwrap();
    assert_eq!(
        (t.map_type, t.key_size, t.value_size, t.max_entries, t.flags),
        (MapType::Hash, 8, 16, 256, map_flags::NO_PREALLOC)
    );
    let p = o.program("legacy_user").unwrap();
    let refs: Vec<_> = p.relocations.iter().map(|r| r.kind.clone()).collect();
    assert_eq!(refs, [RelocKind::Map { map: 0 }, RelocKind::Map { map: 1 }]);
}

#[test]
fn global_data_maps() {
    let Some(o) = open("globals", None) else {
        return;
    };
    let names: Vec<_> = o.maps.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "globals.data",
            "globals.rodata",
            ".data.custom",
            ".rodata.limits",
            "globals.bss",
            ".rodata.str1.1"
        ]
    );
    let d = o.map("globals.data").unwrap();
    assert_eq!(
        (d.kind, d.data.as_slice(), d.flags, d.frozen),
        (
            MapKind::Data,
            &5i32.to_le_bytes()[..],
            map_flags::MMAPABLE,
            false
        )
    );
    let ro = o.map("globals.rodata").unwrap();
    assert_eq!(ro.kind, MapKind::Rodata);
    assert!(ro.frozen);
    assert_eq!(ro.flags, map_flags::RDONLY_PROG | map_flags::MMAPABLE);
    assert_eq!(&ro.data[0..4], &42i32.to_le_bytes());
    assert_eq!(&ro.data[4..8], b"lull");
    let bss = o.map("globals.bss").unwrap();
    assert_eq!(
        (bss.kind, bss.value_size, bss.data.clone()),
        (MapKind::Bss, 16, vec![0; 16])
    );
    let lim = o.map(".rodata.limits").unwrap();
    assert_eq!(
        lim.data,
        [7u32, 8, 9]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<_>>()
    );
    let s = o.map(".rodata.str1.1").unwrap();
    assert_eq!(s.data, b"literal\0");
    assert_eq!(s.flags, map_flags::RDONLY_PROG); // no DATASEC: not mmapable
    assert_eq!(
        o.map(".data.custom").unwrap().data,
        0x11223344u32.to_le_bytes()
    );
    // Global data accesses are map-value loads with the variable's offset.
    let p = o.program("globals_prog").unwrap();
    let rodata = o
        .maps
        .iter()
        .position(|m| m.name == "globals.rodata")
        .unwrap();
    let offs: Vec<_> = p
        .relocations
        .iter()
        .filter_map(|r| match r.kind {
            RelocKind::MapValue { map, offset } if map == rodata => Some(offset),
            _ => None,
        })
        .collect();
    assert!(offs.contains(&0) && offs.contains(&4), "{offs:?}");
    for r in &p.relocations {
        if let RelocKind::MapValue { map, offset } = r.kind {
            let d = p.decoded.iter().find(|x| x.slot == r.slot).unwrap();
            assert_eq!(
                d.insn,
                Insn::LdImm64 {
                    dst: match d.insn {
                        Insn::LdImm64 { dst, .. } => dst,
                        _ => unreachable!(),
                    },
                    kind: LdImm64Kind::MapValue,
                    imm: map as i32,
                    next_imm: offset as i32
                }
            );
        }
    }
}

#[test]
fn kconfig_and_ksym_externs() {
    let mut k = Kconfig::parse("CONFIG_HZ=250\nCONFIG_BPF_SYSCALL=y\n");
    k.kernel_version = Some(0x061200);
    let Some(o) = open("externs", Some(&k)) else {
        return;
    };
    let m = o.map("externs.kconfig").unwrap();
    assert_eq!(
        (m.kind, m.flags, m.value_size),
        (
            MapKind::Kconfig,
            map_flags::RDONLY_PROG | map_flags::MMAPABLE,
            13
        )
    );
    let off = |n: &str| match o.externs.iter().find(|e| e.name == n).unwrap().kind {
        lull_object::ExternKind::Kconfig { offset, .. } => offset as usize,
        _ => panic!("{n} is not kconfig"),
    };
    assert_eq!(
        &m.data[off("CONFIG_HZ")..off("CONFIG_HZ") + 4],
        &250u32.to_le_bytes()
    );
    assert_eq!(
        &m.data[off("LINUX_KERNEL_VERSION")..off("LINUX_KERNEL_VERSION") + 4],
        &0x061200u32.to_le_bytes()
    );
    assert_eq!(m.data[off("CONFIG_BPF_SYSCALL")], 1);
    assert_eq!(&m.data[off("CONFIG_LULL_DOES_NOT_EXIST")..][..4], &[0; 4]);
    // Without a kernel BTF, the strong ksyms and kfuncs make the program unloadable, the weak
    // one does not.
    let p = o.program("externs_prog").unwrap();
    assert_eq!(p.load_errors.len(), 3, "{:?}", p.load_errors);
    assert!(
        p.load_errors
            .iter()
            .all(|e| !e.contains("lull_missing_var"))
    );
    assert!(o.loadable_program("externs_prog").is_err());

    // With the running kernel's BTF they resolve.
    let Ok(vmlinux) = lull_btf::Btf::vmlinux() else {
        eprintln!("*** kernel BTF unavailable: ksym resolution not checked ***");
        return;
    };
    let opts = ParseOptions {
        kconfig: Some(&k),
        target_btf: Some(&vmlinux),
        ..Default::default()
    };
    let o = Object::open(common::out_dir().join("externs.bpf.o"), &opts).unwrap();
    let p = o.loadable_program("externs_prog").unwrap();
    let acq = vmlinux
        .find_by_name("bpf_task_acquire", Some(lull_btf::Kind::Func))
        .unwrap();
    assert!(p.decoded.iter().any(|x| x.insn
        == Insn::Call(CallTarget::Kfunc {
            btf_id: acq as i32,
            module: 0
        })));
    let var = vmlinux
        .find_by_name("bpf_prog_active", Some(lull_btf::Kind::Var))
        .unwrap();
    assert!(p.decoded.iter().any(|x| matches!(x.insn, Insn::LdImm64 { kind: LdImm64Kind::BtfId, imm, .. } if imm as u32 == var)));
}

#[test]
fn core_relocations_need_a_target() {
    let Some(o) = open("core", None) else { return };
    assert!(
        o.warnings
            .iter()
            .any(|w| w.contains("CO-RE relocation(s) left unapplied"))
    );
    let Ok(vmlinux) = lull_btf::Btf::vmlinux() else {
        eprintln!("*** kernel BTF unavailable: CO-RE application not checked ***");
        return;
    };
    let opts = ParseOptions {
        target_btf: Some(&vmlinux),
        ..Default::default()
    };
    match Object::open(common::out_dir().join("core.bpf.o"), &opts) {
        Ok(o) => {
            let p = o.program("core_prog").unwrap();
            assert!(!o.warnings.iter().any(|w| w.contains("CO-RE")));
            // task_struct::real_parent moved: the local offset (8) must have been rewritten.
            let before = open("core", None).unwrap();
            assert_ne!(before.program("core_prog").unwrap().insns, p.insns);
        }
        Err(e) => panic!("CO-RE against vmlinux failed: {e}"),
    }
}

#[test]
fn arena_map_data_and_per_program_decode_errors() {
    let Some(o) = open("arena", None) else {
        return;
    };
    let (ai, arena) = o
        .maps
        .iter()
        .enumerate()
        .find(|(_, m)| m.name == "arena")
        .expect("arena map");
    assert_eq!(arena.map_type, MapType::Arena);
    // `__ulong(map_extra, 1 << 44)` is an ENUM64 enumerator.
    assert_eq!(arena.map_extra, 1u64 << 44);
    assert_eq!(arena.max_entries, 2);
    // The `__arena` globals are the arena's initial data, in symbol order.
    assert_eq!(&arena.data[..8], &[7, 0, 0, 0, 9, 0, 0, 0]);
    // `&second` is an address inside the arena: map value of the arena map at offset 4.
    let p = o.program("use_arena").expect("use_arena");
    assert!(
        p.relocations
            .iter()
            .any(|r| r.kind == RelocKind::MapValue { map: ai, offset: 4 }),
        "{:?}",
        p.relocations
    );
    // One program with an invalid register does not spoil the object.
    let bad = o.program("bad_register").expect("bad_register");
    let e = bad.decode_error.as_ref().expect("decode error kept");
    assert_eq!(e.slot, 0);
    assert_eq!(e.kernel_message().as_deref(), Some("R15 is invalid"));
    assert!(bad.decoded.is_empty());
    let good = o.program("good_prog").expect("good_prog");
    assert!(good.decode_error.is_none() && !good.decoded.is_empty());
}

#[test]
fn exception_callbacks_are_appended_last() {
    let Some(o) = open("exception_cb", None) else {
        return;
    };
    let names = |p: &str| -> Vec<String> {
        let p = o.program(p).unwrap_or_else(|| panic!("no program {p}"));
        assert!(p.load_errors.is_empty(), "{:?}", p.load_errors);
        p.subprograms.iter().map(|s| s.name.clone()).collect()
    };
    // Not called: appended after the body's callees, then its own callees are resolved.
    assert_eq!(names("with_cb"), ["leaf", "ex_cb"]);
    let w = o.program("with_cb").unwrap();
    let cb = &w.subprograms[1];
    assert_eq!(cb.start + cb.len, w.insns.len());
    let leaf_call = (cb.start..cb.start + cb.len)
        .find(|&s| w.insns[s].code == 0x85 && w.insns[s].src() == 1)
        .expect("ex_cb calls leaf");
    assert_eq!(call_target(&w.insns, leaf_call), w.subprograms[0].start);
    assert!(w.func_info.iter().any(|f| f.insn == cb.start));
    // Already called by the body: placed once.
    assert_eq!(names("calls_cb"), ["ex_cb", "leaf"]);
    // A static callback or an unknown name spoils only its program.
    for (p, what) in [
        ("with_static_cb", "must be a global non-hidden function"),
        (
            "with_missing_cb",
            "cannot find exception callback 'missing'",
        ),
    ] {
        let errs = &o.program(p).unwrap().load_errors;
        assert!(errs.iter().any(|e| e.contains(what)), "{p}: {errs:?}");
    }
}
