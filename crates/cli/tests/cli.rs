//! The `lull` binary end to end: the shapes and exit codes of `shared/spec/cli-contract.md`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lull(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lull"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("lull runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lull-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn verify_accepts_and_rejects_with_the_contract_json() {
    let ok = lull(&["verify", "examples/packet_counter.bpf.o", "--json"]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v = &json_lines(&ok)[0];
    assert_eq!(v["program"], "count_protocols");
    assert_eq!(v["section"], "tc");
    assert_eq!(v["accepted"], true);
    assert!(v["error"].is_null() && v["insn"].is_null() && v["line"].is_null());
    assert!(v["insns_processed"].as_u64().unwrap() > 0);
    assert!(v["verification_time_ns"].as_u64().is_some());

    let bad = lull(&["verify", "examples/missing_null_check.bpf.o", "--json"]);
    assert_eq!(bad.status.code(), Some(1));
    let v = &json_lines(&bad)[0];
    assert_eq!(v["accepted"], false);
    assert_eq!(v["error"], "R0 invalid mem access 'map_value_or_null'");
    assert_eq!(v["insn"], 7);
    assert!(
        v["line"]
            .as_str()
            .unwrap()
            .contains("missing_null_check.bpf.c:19")
    );
}

#[test]
fn verify_explains_a_rejection_with_source_line_and_hint() {
    let o = lull(&["verify", "examples/missing_null_check.bpf.o"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("R0 invalid mem access 'map_value_or_null'"),
        "{out}"
    );
    assert!(out.contains("*count += 1;"), "{out}");
    assert!(
        out.contains("hint: check the pointer returned by bpf_map_lookup_elem against NULL"),
        "{out}"
    );
}

#[test]
fn verify_raw_takes_kload_inputs() {
    // r0 = *(u64 *)map_value; exit — without a NULL check it is rejected, with --map given.
    let src = tmp("raw.s");
    std::fs::write(
        &src,
        "*(u32 *)(r10 - 4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nr0 = *(u64 *)(r0 + 0)\nexit\n",
    )
    .unwrap();
    let bin = tmp("raw.bin");
    let a = lull(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    let o = lull(&[
        "verify",
        "--raw",
        bin.to_str().unwrap(),
        "--type",
        "socket_filter",
        "--map",
        "hash:4:8:16",
        "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        json_lines(&o)[0]["error"],
        "R0 invalid mem access 'map_value_or_null'"
    );
    let o = lull(&[
        "verify",
        "--raw",
        bin.to_str().unwrap(),
        "--type",
        "socket_filter",
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a map reference without --map is rejected"
    );
    let o = lull(&[
        "verify",
        "--raw",
        bin.to_str().unwrap(),
        "--type",
        "no_such_type",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inspect_json_matches_the_contract() {
    let o = lull(&["inspect", "examples/packet_counter.bpf.o", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let p = &v["programs"][0];
    assert_eq!(p["name"], "count_protocols");
    assert_eq!(p["section"], "tc");
    assert_eq!(p["type"], "sched_cls");
    assert_eq!(p["sleepable"], false);
    assert!(p["insns"].as_u64().unwrap() > 10);
    assert!(p.get("expected_attach_type").is_some() && p.get("attach_target").is_some());
    let m = &v["maps"][0];
    assert_eq!(m["name"], "proto_count");
    assert_eq!(m["type"], "array");
    assert_eq!(
        (
            m["key_size"].as_u64(),
            m["value_size"].as_u64(),
            m["max_entries"].as_u64()
        ),
        (Some(4), Some(8), Some(256))
    );
    assert_eq!(m["flags"], 0);
}

#[test]
fn asm_then_run_raw_prints_retval_and_median_duration() {
    let bin = tmp("sum.bin");
    let a = lull(&["asm", "examples/sum.s", "-o", bin.to_str().unwrap()]);
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    let o = lull(&[
        "run",
        "--raw",
        bin.to_str().unwrap(),
        "--repeat",
        "20",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let v = &json_lines(&o)[0];
    assert_eq!(v["retval"], 500_500);
    assert_eq!(v["repeat"], 20);
    assert!(v["duration_ns"].as_u64().unwrap() > 0);
}

#[test]
fn run_raw_passes_mem_in_r1_and_its_length_in_r2() {
    let src = tmp("len.s");
    std::fs::write(&src, "r0 = *(u8 *)(r1 + 2)\nr0 += r2\nexit\n").unwrap();
    let bin = tmp("len.bin");
    assert_eq!(
        lull(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let mem = tmp("mem");
    std::fs::write(&mem, [1u8, 2, 40, 4, 5]).unwrap();
    let o = lull(&[
        "run",
        "--raw",
        bin.to_str().unwrap(),
        "--mem",
        mem.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json_lines(&o)[0]["retval"], 45);
}

#[test]
fn conformance_ends_with_the_totals_line() {
    let dir = repo().join("../shared/conformance/tests");
    if !dir.exists() {
        eprintln!("SKIP: {} not present", dir.display());
        return;
    }
    let o = lull(&["conformance", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let last = out.lines().last().unwrap();
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

#[test]
fn disasm_interleaves_source_lines_and_names_helpers() {
    let o = lull(&["disasm", "examples/packet_counter.bpf.o"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("call bpf_map_lookup_elem#1"), "{out}");
    assert!(
        out.contains("packet_counter.bpf.c:27: __u32 key = ip->protocol;"),
        "{out}"
    );
}

#[test]
fn bad_input_is_exit_2_with_a_message_never_a_panic() {
    let garbage = tmp("garbage.o");
    let mut bytes = b"\x7fELF".to_vec();
    bytes.extend_from_slice(&[0xff; 60]);
    std::fs::write(&garbage, &bytes).unwrap();
    let odd = tmp("odd.bin");
    std::fs::write(&odd, [0xb7u8, 0, 0, 0, 1]).unwrap();
    let reserved = tmp("reserved.bin");
    std::fs::write(
        &reserved,
        [0x07u8, 0, 1, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    for args in [
        vec!["verify", "/nonexistent.o"],
        vec!["verify", garbage.to_str().unwrap()],
        vec!["inspect", garbage.to_str().unwrap()],
        vec!["disasm", odd.to_str().unwrap()],
        vec!["run", "--raw", odd.to_str().unwrap()],
        vec!["run", "--raw", reserved.to_str().unwrap()],
        vec!["verify"],
    ] {
        let o = lull(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.trim().is_empty(), "{args:?}: no message");
    }
}

#[test]
fn bench_checks_results_and_compares_with_native_code() {
    let dir = repo().join("../shared/bench");
    if !dir.exists() {
        eprintln!("SKIP: {} not present", dir.display());
        return;
    }
    let o = lull(&["bench", dir.to_str().unwrap(), "--repeat", "1", "--json"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 4);
    for v in &lines {
        assert_eq!(v["ok"], true, "{v}");
        assert!(v["executed_insns"].as_u64().unwrap() > 40_000, "{v}");
        // The native baseline needs a C compiler, which every CI machine has.
        assert!(v["native_ns"].as_u64().is_some(), "{v}");
        assert!(v["ratio_to_native"].as_f64().unwrap() > 0.0, "{v}");
    }
}
