//! The packet-resizing helpers through the whole runtime, in both engines, checked and
//! trusted: XDP `bpf_xdp_adjust_head/tail/meta` and skb `bpf_skb_change_tail/head`,
//! `bpf_skb_pull_data`, `bpf_skb_adjust_room`, each on success and on its error paths (the
//! kernel's limits and errnos of `net/core/filter.c` on a test run's buffer), with the
//! packet the run returns.
//! The differential suite (`lull-rundiff`, `progs/resize.bpf.c`) checks the same against the
//! live kernel.

mod support;

use lull_runtime::{Engine, ExecMode, LoadedObject, Runtime, RuntimeOptions, TestRunOutput};

const EINVAL: i64 = -22;
const EACCES: i64 = -13;
const EFAULT: i64 = -14;
const ENOMEM: i64 = -12;
const EALREADY: i64 = -114;
const ENOTSUPP: i64 = -524;

/// An Ethernet + IPv4 frame of 64 bytes whose bytes after the headers count up.
fn frame() -> Vec<u8> {
    let mut f: Vec<u8> = (0..64u8).collect();
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f
}

/// The test object in every engine and mode.
fn objects() -> Vec<((Engine, ExecMode), LoadedObject)> {
    let Some(path) = support::compile("resize") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for engine in [Engine::Interp, Engine::Jit] {
        for mode in [ExecMode::Checked, ExecMode::Trusted] {
            let object = lull_object::Object::open(&path, &Default::default()).expect("parse");
            let rt = Runtime::with_options(RuntimeOptions {
                cpus: Some(1),
                mode,
                engine,
                ..RuntimeOptions::default()
            });
            out.push(((engine, mode), rt.load(object).expect("load")));
        }
    }
    out
}

fn run(obj: &LoadedObject, prog: &str, n: u32) -> (TestRunOutput, Vec<i64>) {
    support::run_recording(obj, prog, frame(), n)
}

#[test]
fn xdp_adjust_head_moves_data_within_the_headroom() {
    for (mode, obj) in objects() {
        let (out, res) = run(&obj, "xdp_head", 5);
        assert_eq!(res, [EINVAL, 0, EINVAL, 0, 14], "{mode:?}");
        assert_eq!(out.retval, 2);
        let mut want = frame()[50..].to_vec();
        want[0] = 0xaa;
        assert_eq!(out.data_out.unwrap(), want, "{mode:?}");
    }
}

#[test]
fn xdp_adjust_tail_stays_out_of_the_tailroom_and_zeroes_growth() {
    for (mode, obj) in objects() {
        let (out, res) = run(&obj, "xdp_tail", 7);
        assert_eq!(
            res,
            [EINVAL, 0, 3520, EINVAL, 0, 0, i64::from(frame()[13])],
            "{mode:?}"
        );
        let mut want = frame()[..14].to_vec();
        want.extend([0, 0]);
        assert_eq!(out.data_out.unwrap(), want, "{mode:?}");
    }
}

#[test]
fn xdp_adjust_meta_checks_bounds_and_alignment() {
    for (mode, obj) in objects() {
        let (out, res) = run(&obj, "xdp_meta", 7);
        assert_eq!(res, [EINVAL, EACCES, EINVAL, 0, 0, 0x55, 4], "{mode:?}");
        // The packet comes back from data_meta: the 4 metadata bytes, then the data, which
        // lost its first 2 bytes.
        let data = out.data_out.unwrap();
        assert_eq!(data.len(), 4 + 62, "{mode:?}");
        assert_eq!((data[0], data[3]), (0x11, 0x44), "{mode:?}");
        assert_eq!(data[4..], frame()[2..], "{mode:?}");
    }
}

#[test]
fn skb_change_tail_cuts_and_zero_extends() {
    for (mode, obj) in objects() {
        let (out, res) = run(&obj, "skb_tail", 8);
        let byte63 = i64::from(frame()[63]);
        assert_eq!(
            res,
            [EINVAL, EINVAL, EINVAL, 0, 80, byte63 * 256, 0, 16],
            "{mode:?}"
        );
        assert_eq!(out.data_out.unwrap(), frame()[..16], "{mode:?}");
    }
}

#[test]
fn skb_change_head_pushes_zeroes_and_moves_the_packet_when_needed() {
    for (mode, obj) in objects() {
        let (out, res) = run(&obj, "skb_head", 10);
        assert_eq!(
            res,
            [
                EINVAL,
                EINVAL,
                0,
                66,
                0x42 * 256 + i64::from(frame()[0]),
                0,
                15066,
                0x42,
                0,
                ENOMEM
            ],
            "{mode:?}"
        );
        let data = out.data_out.unwrap();
        assert_eq!(data.len(), 15066, "{mode:?}");
        assert!(data[..15000].iter().all(|&b| b == 0), "{mode:?}");
        assert_eq!(data[15000..15002], [0x42, 0], "{mode:?}");
        assert_eq!(data[15002..], frame()[..], "{mode:?}");
    }
}

#[test]
fn skb_adjust_room_inserts_and_removes_room_and_encapsulates() {
    for (mode, obj) in objects() {
        let (out, res) = run(&obj, "skb_room", 9);
        assert_eq!(
            res,
            [0, 68, 0, EFAULT, ENOTSUPP, ENOTSUPP, 0, EALREADY, ENOTSUPP],
            "{mode:?}"
        );
        // +4 after the IP header, -4 after the MAC header (the IP header's first 4 bytes
        // go), +20 zeroed after the MAC header.
        let f = frame();
        let mut want = f[..14].to_vec();
        want.extend([0; 20]);
        want.extend_from_slice(&f[18..34]);
        want.extend([0; 4]);
        want.extend_from_slice(&f[34..]);
        assert_eq!(out.data_out.unwrap(), want, "{mode:?}");
    }
}
