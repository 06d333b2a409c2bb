//! Replays every input committed under `fuzz/corpus/` (seeds and anything the fuzzers found)
//! through the same code paths as the fuzz targets: nothing may panic.

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

#[test]
fn object_parse_corpus_does_not_panic() {
    let inputs = corpus("object_parse");
    assert!(!inputs.is_empty());
    let k = lull_object::Kconfig::default();
    let opts = lull_object::ParseOptions {
        kconfig: Some(&k),
        ..Default::default()
    };
    let mut parsed = 0;
    for (p, b) in &inputs {
        if let Ok(o) = lull_object::Object::parse_with(b, &opts) {
            let _ = o.inspect();
            parsed += 1;
            assert!(!o.programs.is_empty(), "{}", p.display());
        }
    }
    // The seeds are valid objects.
    assert!(parsed >= 4, "only {parsed} corpus objects parse");
    // Found by the fuzzer: a .bss claiming 3.4 GB made the loader allocate it.
    let (_, huge) = inputs
        .iter()
        .find(|(p, _)| p.ends_with("regress-huge-bss.o"))
        .unwrap();
    let e = lull_object::Object::parse_with(huge, &opts)
        .unwrap_err()
        .to_string();
    assert!(e.contains("too large for an array map value"), "{e}");
}

#[test]
fn btf_parse_corpus_does_not_panic() {
    for (_, data) in corpus("btf_parse") {
        let Some((len, rest)) = data.split_first_chunk::<4>() else {
            continue;
        };
        let split = (u32::from_le_bytes(*len) as usize).min(rest.len());
        let (b, e) = rest.split_at(split);
        if let Ok(btf) = lull_btf::Btf::parse(b) {
            for (id, _) in btf.types() {
                let _ = btf.resolve_size(id);
                let _ = btf.skip_mods_and_typedefs(id);
            }
            let _ = lull_btf::ext::BtfExt::parse(e, &btf);
        }
    }
}
