//! Packet bytes, checksums and socket lookups through the whole runtime (interpreter,
//! checked and trusted): `bpf_skb_load_bytes`/`bpf_skb_store_bytes` in and out of the
//! packet, `bpf_csum_diff` folding, `bpf_csum_update` without a complete checksum, and
//! lookups that find no socket. `lull-rundiff` (`progs/skb_bytes.bpf.c`) compares the same
//! helpers with the live kernel.

mod support;

use lull_runtime::{ExecMode, LoadedObject, Runtime, RuntimeOptions, TestRunOutput};

fn frame() -> Vec<u8> {
    (0..64u8).collect()
}

fn run(obj: &LoadedObject, prog: &str, n: u32) -> (TestRunOutput, Vec<i64>) {
    support::run_recording(obj, prog, frame(), n)
}

fn each_mode(f: impl Fn(ExecMode, &LoadedObject)) {
    let Some(path) = support::compile("skb_data") else {
        return;
    };
    for mode in [ExecMode::Checked, ExecMode::Trusted] {
        let object = lull_object::Object::open(&path, &Default::default()).expect("parse");
        let rt = Runtime::with_options(RuntimeOptions {
            cpus: Some(1),
            mode,
            ..RuntimeOptions::default()
        });
        f(mode, &rt.load(object).expect("load"));
    }
}

#[test]
fn load_and_store_bytes_stay_inside_the_packet() {
    each_mode(|mode, obj| {
        let (out, res) = run(obj, "bytes", 7);
        // 62, 63, then the untouched third byte; a failed load zeroes the buffer.
        assert_eq!(
            res,
            [0, 62 + 63 * 256 + 9 * 65536, -14, 0, 0, -14, -22],
            "{mode:?}"
        );
        let mut want = frame();
        want[60..64].copy_from_slice(&[0xab, 0, 0, 0xcd]);
        assert_eq!(out.data_out.unwrap(), want, "{mode:?}");
    });
}

#[test]
fn checksums_fold_and_lookups_find_nothing() {
    each_mode(|mode, obj| {
        let (_, res) = run(obj, "csums", 5);
        // 0xffff0000 + 0x00020001 = 0x1_0001_0001 -> 0x00010002 -> 16 bits: 3.
        // to - from = 0x00020001 (the 0xffff0000 words cancel) -> 0x0003.
        assert_eq!(res, [3, 3, 77, -524, 0], "{mode:?}");
    });
}
