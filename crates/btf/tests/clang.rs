//! Parses `.BTF` / `.BTF.ext` produced by clang-19 for `fixtures/prog.c` and checks them
//! against the source: functions, maps, globals, decl tags, func info and line info.
//! Skipped (with a message) when clang-19 / llvm-objcopy-19 are missing.

mod common;

use lull_btf::ext::BtfExt;
use lull_btf::{Btf, FuncLinkage, Kind, TypeKind, VarLinkage};

#[test]
fn program_btf_and_ext() {
    let Some(c) = common::compile("prog.c", &["xdp", ".text"]) else {
        return;
    };
    let btf = Btf::parse(&c.btf).unwrap();
    let ext = BtfExt::parse(&c.ext, &btf).unwrap();

    // Functions.
    let xdp = btf
        .find_by_name("xdp_prog", Some(Kind::Func))
        .expect("FUNC xdp_prog");
    let helper = btf
        .find_by_name("helper", Some(Kind::Func))
        .expect("FUNC helper");
    let TypeKind::Func { linkage, .. } = btf.type_by_id(xdp).unwrap().kind else {
        panic!()
    };
    assert_eq!(linkage, FuncLinkage::Global);
    let TypeKind::Func { linkage, .. } = btf.type_by_id(helper).unwrap().kind else {
        panic!()
    };
    assert_eq!(linkage, FuncLinkage::Static);
    assert_eq!(btf.format_type(xdp), "int xdp_prog(struct xdp_md *ctx)");
    assert_eq!(btf.format_type(helper), "int helper(int x)");

    // The verifier-selftest annotation is attached to the FUNC as a whole.
    let tags: Vec<_> = btf.decl_tags_for(xdp).collect();
    assert_eq!(
        tags,
        vec![(-1, "comment:test_expect_msg=R1 invalid mem access")]
    );

    // `.maps`: a DATASEC with VAR `counts` of an anonymous struct with pointer-encoded fields.
    let maps = btf
        .find_by_name(".maps", Some(Kind::Datasec))
        .expect(".maps");
    let ds = btf.type_by_id(maps).unwrap().as_datasec().unwrap().clone();
    assert_eq!(ds.vars.len(), 1);
    let var = btf.type_by_id(ds.vars[0].type_id).unwrap();
    assert_eq!(btf.name(var), "counts");
    let TypeKind::Var {
        type_id: def,
        linkage,
    } = var.kind
    else {
        panic!()
    };
    assert_eq!(linkage, VarLinkage::GlobalAllocated);
    let names: Vec<_> = btf
        .composite(def)
        .unwrap()
        .1
        .members()
        .iter()
        .map(|m| btf.member_name(m).to_string())
        .collect();
    assert_eq!(names, ["type", "max_entries", "key", "value"]);
    // __uint(max_entries, 16) is `int (*max_entries)[16]`.
    let me = btf
        .member_by_name(def, "max_entries")
        .unwrap()
        .unwrap()
        .1
        .type_id;
    let arr = btf.ptr_target(me).unwrap();
    let TypeKind::Array(a) = btf.type_by_id(arr).unwrap().kind else {
        panic!()
    };
    assert_eq!(a.nelems, 16);
    let key = btf.member_by_name(def, "key").unwrap().unwrap().1.type_id;
    assert_eq!(btf.resolve_size(btf.ptr_target(key).unwrap()).unwrap(), 4);

    // Globals.
    let data = btf
        .find_by_name(".data", Some(Kind::Datasec))
        .expect(".data");
    let d = btf.type_by_id(data).unwrap().as_datasec().unwrap();
    assert_eq!(btf.name_of(d.vars[0].type_id), "global_counter");
    assert_eq!(d.vars[0].size, 4);
    let ro = btf
        .find_by_name(".rodata", Some(Kind::Datasec))
        .expect(".rodata");
    let r = btf.type_by_id(ro).unwrap().as_datasec().unwrap();
    assert_eq!(btf.name_of(r.vars[0].type_id), "cfg");
    assert_eq!(btf.format_type(r.vars[0].type_id), "const volatile int cfg");

    // func_info: one per section, at instruction 0, pointing to the FUNC types.
    assert_eq!(ext.func_info["xdp"].len(), 1);
    assert_eq!(ext.func_info["xdp"][0].type_id, xdp);
    assert_eq!(ext.func_info["xdp"][0].insn_off, 0);
    assert_eq!(ext.func_info[".text"][0].type_id, helper);

    // line_info: each record's text is exactly the source line it names, and offsets are
    // inside the section, in increasing order.
    let src: Vec<&str> = c.source.lines().collect();
    for (sec, prog) in [("xdp", &c.progs[0]), (".text", &c.progs[1])] {
        let lines = &ext.line_info[sec];
        assert!(!lines.is_empty());
        for w in lines.windows(2) {
            assert!(w[0].insn_off < w[1].insn_off);
        }
        for li in lines {
            assert!(li.file.ends_with("prog.c"), "{}", li.file);
            assert!((li.insn_off as usize) < prog.len());
            assert_eq!(src[li.line as usize - 1], li.text, "line {}", li.line);
            assert!(
                li.column as usize <= li.text.len() + 1,
                "column {}",
                li.column
            );
        }
    }
    assert!(
        ext.line_info["xdp"]
            .iter()
            .any(|l| l.text.contains("bpf_map_lookup_elem"))
    );
    assert!(
        ext.core_relos
            .get("xdp")
            .is_none_or(|r| r.iter().all(|r| r.access.starts_with('0')))
    );
}
