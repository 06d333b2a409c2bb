//! The bpf_conformance suite (`../shared/conformance`): every test's `-- asm` section
//! assembles (and matches its `-- raw` section where one exists), every assembler negative
//! fails, and every raw encoding with a reserved field set is rejected by the decoder.
use std::path::{Path, PathBuf};

use lull_isa::asm::{Syntax, assemble_with, parse_raw_hex};
use lull_isa::{RawInsn, decode, encode};

fn suite(dir: &str) -> Option<Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/conformance")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "data"))
        .collect();
    files.sort();
    Some(files)
}

/// The text of section `name` (`-- name` up to the next `-- ` line).
fn section(text: &str, name: &str) -> Option<String> {
    let mut out = None::<String>;
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("-- ") {
            if out.is_some() {
                break;
            }
            if header.trim() == name {
                out = Some(String::new());
            }
        } else if let Some(s) = out.as_mut() {
            s.push_str(line);
            s.push('\n');
        }
    }
    out
}

#[test]
fn every_test_assembles() {
    let Some(files) = suite("tests") else {
        eprintln!("conformance suite not found; skipping");
        return;
    };
    assert!(
        files.len() > 300,
        "expected the 313 conformance tests, found {}",
        files.len()
    );
    let mut with_raw = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("readable");
        let asm = section(&text, "asm").unwrap_or_else(|| panic!("{}: no asm", f.display()));
        let insns = assemble_with(&asm, Syntax::Conformance)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(!insns.is_empty(), "{}", f.display());
        // Auto-detection agrees with the explicit syntax.
        assert_eq!(
            lull_isa::asm::assemble(&asm).as_ref(),
            Ok(&insns),
            "{}",
            f.display()
        );
        let raw = encode(&insns);
        let back: Vec<_> = decode(&raw)
            .expect("assembled code decodes")
            .into_iter()
            .map(|l| l.insn)
            .collect();
        assert_eq!(back, insns);
        if let Some(hex) = section(&text, "raw") {
            with_raw += 1;
            assert_eq!(
                parse_raw_hex(&hex).expect("raw section parses"),
                raw,
                "{}",
                f.display()
            );
        }
    }
    assert!(with_raw >= 1);
}

#[test]
fn assembler_negatives_fail() {
    let Some(files) = suite("negative") else {
        return;
    };
    let mut checked = 0;
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(f).expect("readable");
        if name.starts_with("unused-") {
            continue;
        }
        let Some(asm) = section(&text, "asm") else {
            continue;
        };
        // `error.data` (or with r10) and `incorrect_return_value_high_bits.data` are valid
        // programs whose failure is at run time; empty sections assemble to nothing.
        if matches!(
            name.as_str(),
            "error.data" | "incorrect_return_value_high_bits.data"
        ) || asm.trim().is_empty()
        {
            assert!(assemble_with(&asm, Syntax::Conformance).is_ok(), "{name}");
            continue;
        }
        let err = assemble_with(&asm, Syntax::Conformance).expect_err(&name);
        assert!(err.line >= 1, "{name}: {err}");
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} assembler negatives found");
}

#[test]
fn reserved_field_negatives_are_rejected_by_the_decoder() {
    let Some(files) = suite("negative") else {
        return;
    };
    let mut checked = 0;
    for f in files.iter().filter(|f| {
        f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("unused-")
    }) {
        let text = std::fs::read_to_string(f).expect("readable");
        let raw: Vec<RawInsn> =
            parse_raw_hex(&section(&text, "raw").expect("raw section")).expect("hex");
        let err = decode(&raw).expect_err(&f.display().to_string());
        assert_eq!(err.slot, 0, "{}: {err}", f.display());
        checked += 1;
    }
    assert_eq!(checked, 45, "the suite has 45 unused-field cases");
}
