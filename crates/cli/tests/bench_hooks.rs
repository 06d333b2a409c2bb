//! `lull bench --hooks`: one JSON line with the read-section and hook-run costs, every figure
//! present and positive (the hook-run figures need clang-19 for the empty programs).

use std::process::Command;

#[test]
fn bench_hooks_reports_every_figure() {
    let out = Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(["bench", "--hooks", "--json"])
        .output()
        .expect("lull runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    assert_eq!(v["section"], "hooks");
    let mut keys = vec![
        "atomic_section_ns",
        "sleepable_section_ns",
        "atomic_section_lookup_ns",
        "sleepable_section_lookup_ns",
    ];
    let have_clang = Command::new("clang-19").arg("--version").output().is_ok();
    if have_clang {
        keys.extend([
            "empty_run_atomic_ns",
            "empty_run_sleepable_ns",
            "hook_no_program_atomic_ns",
            "hook_no_program_sleepable_ns",
            "hook_empty_program_atomic_ns",
            "hook_empty_program_sleepable_ns",
        ]);
    } else {
        eprintln!("clang-19 not available: hook-run figures not checked");
    }
    for k in keys {
        let ns = v[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} missing in {v}"));
        assert!(ns > 0.0 && ns.is_finite(), "{k} = {ns}");
    }
}
