//! `LD_ABS`/`LD_IND` in socket filters and tc programs, through the whole runtime (both
//! engines, checked and trusted): the offsets,
//! byte order, special header offsets and the "return 0 when outside the packet" rule of the
//! kernel (`bpf_skb_load_helper_*`). The same programs and frame are in the differential
//! suite against the live kernel where it runs.

mod support;

use lull_runtime::{Engine, ExecMode, Runtime, RuntimeOptions, TestRun};

/// An Ethernet + IPv4 frame: protocol 17 (UDP), TTL 64, 10.0.0.1 -> 10.0.0.2.
fn frame() -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[12] = 0x08;
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
    ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
    f
}

#[test]
fn packet_loads_follow_the_kernel() {
    let Some(path) = support::compile("packet_loads") else {
        return;
    };
    let engines_and_modes = [Engine::Interp, Engine::Jit]
        .into_iter()
        .flat_map(|e| [ExecMode::Checked, ExecMode::Trusted].map(|m| (e, m)));
    for (engine, mode) in engines_and_modes {
        let object = lull_object::Object::open(&path, &Default::default()).expect("parse");
        let rt = Runtime::with_options(RuntimeOptions {
            cpus: Some(1),
            mode,
            engine,
            ..RuntimeOptions::default()
        });
        let obj = rt.load(object).expect("load");
        let run = |name: &str| {
            let p = obj.program(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            p.test_run(&TestRun {
                data: frame(),
                ..TestRun::default()
            })
            .unwrap_or_else(|e| panic!("{name} ({engine:?} {mode:?}): {e}"))
            .retval
        };
        assert_eq!(run("ip_proto"), 17, "{engine:?} {mode:?}");
        assert_eq!(
            run("special_offsets"),
            (0x0800 << 8) | 64,
            "{engine:?} {mode:?}"
        );
        assert_eq!(run("indirect_word"), 0x0a00_0001, "{engine:?} {mode:?}");
        assert_eq!(run("past_the_end"), 0, "{engine:?} {mode:?}");
        assert_eq!(run("tc_ethertype"), 0x0800, "{engine:?} {mode:?}");
    }
}
