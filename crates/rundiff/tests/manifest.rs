//! The manifest is well formed and names programs that exist, without running anything.

use lull_rundiff::crate_dir;
use lull_rundiff::manifest::Manifest;

#[test]
fn every_case_names_a_program_of_its_object() {
    let dir = crate_dir();
    let m = Manifest::load(&dir.join("manifest.json")).expect("manifest");
    assert!(m.cases.len() >= 25);
    for c in &m.cases {
        let src = dir.join("progs").join(format!("{}.bpf.c", c.object));
        let text =
            std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        assert!(
            text.contains(&format!("int {}(", c.program)),
            "case {}: no program {} in {}",
            c.name,
            c.program,
            src.display()
        );
        if let Some(reason) = &c.xfail {
            assert!(
                reason.len() > 20,
                "case {}: an xfail needs a real reason",
                c.name
            );
        }
    }
}

#[test]
fn malformed_manifests_are_refused_with_the_case_named() {
    let dir = std::env::temp_dir().join(format!("rundiff-manifest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("m.json");
    std::fs::write(
        &p,
        r#"{"cases": [{"name": "a", "object": "o", "program": "p", "data": "u8:300"}]}"#,
    )
    .unwrap();
    let e = Manifest::load(&p).unwrap_err().to_string();
    assert!(e.contains("case 'a'") && e.contains("u8:300"), "{e}");
    std::fs::write(&p, r#"{"cases": [{"name": "a", "object": "o"}]}"#).unwrap();
    assert!(Manifest::load(&p).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
