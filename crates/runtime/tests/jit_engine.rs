//! The runtime with the JIT engine ([`Engine::Jit`]), checked and trusted: the end-to-end runs
//! of `run.rs` (maps, global data, packets, `bpf_loop` and `for_each_map_elem` callbacks,
//! per-CPU values, queues, ring buffers, tail calls) and the `LD_ABS` programs, with the same
//! expected results as the interpreter, plus the interpreter and the JIT agreeing run after
//! run on shared maps. Programs are compiled with clang-19 at test time (the tests pass
//! vacuously when it is missing).

mod support;

use lull_runtime::{Engine, ExecMode, LoadedObject, Runtime, RuntimeOptions, TestRun};

fn runtime(mode: ExecMode, engine: Engine, cpus: u32) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cpus: Some(cpus),
        mode,
        engine,
        ..RuntimeOptions::default()
    })
}

fn load(name: &str, mode: ExecMode, engine: Engine) -> Option<LoadedObject> {
    let path = support::compile(name)?;
    let object = lull_object::Object::open(&path, &Default::default()).expect("parse");
    Some(runtime(mode, engine, 2).load(object).expect("load"))
}

fn frame() -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[12] = 0x08;
    f
}

fn run(obj: &LoadedObject, prog: &str) -> u64 {
    let p = obj.program(prog).unwrap_or_else(|e| panic!("{prog}: {e}"));
    p.test_run(&TestRun {
        data: frame(),
        ..TestRun::default()
    })
    .unwrap_or_else(|e| panic!("{prog}: {e}"))
    .retval
}

/// Runs `f` on `basics` loaded for the JIT in each execution mode.
fn jit_modes(f: impl Fn(&LoadedObject, ExecMode)) {
    for mode in [ExecMode::Checked, ExecMode::Trusted] {
        if let Some(obj) = load("basics", mode, Engine::Jit) {
            f(&obj, mode);
        }
    }
}

#[test]
fn hash_map_update_then_lookup() {
    jit_modes(|obj, mode| {
        assert_eq!(run(obj, "hash_update"), 100, "{mode:?}");
        assert_eq!(run(obj, "hash_update"), 2, "{mode:?}");
        assert_eq!(run(obj, "hash_update"), 3, "{mode:?}");
        let v = obj
            .map("counts")
            .unwrap()
            .lookup_copy(&7u32.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(u64::from_ne_bytes(v.try_into().unwrap()), 3);
    });
}

#[test]
fn global_data_packets_and_helpers() {
    jit_modes(|obj, mode| {
        assert_eq!(run(obj, "global_data"), 8, "{mode:?}");
        assert_eq!(run(obj, "global_data"), 11, "{mode:?}");
        let out = obj
            .program("packet")
            .unwrap()
            .test_run(&TestRun {
                data: frame(),
                ..TestRun::default()
            })
            .unwrap();
        assert_eq!(out.retval, 64 + 1000, "{mode:?}");
        assert_eq!(out.data_out.unwrap()[0], 0xaa, "{mode:?}");
        assert_eq!(run(obj, "xdp_len"), 64, "{mode:?}");
        assert_eq!(run(obj, "printk"), 1, "{mode:?}");
    });
}

#[test]
fn callbacks_run_in_new_frames() {
    jit_modes(|obj, mode| {
        assert_eq!(run(obj, "loop"), 45 * 1000 + 10, "{mode:?}");
        assert_eq!(
            run(obj, "for_each"),
            (1 + 2 * 2 + 3 * 3 + 4 * 4) * 100 + 4,
            "{mode:?}"
        );
    });
}

#[test]
fn percpu_values_follow_the_cpu() {
    jit_modes(|obj, mode| {
        let p = obj.program("percpu").unwrap();
        for cpu in [0, 1, 0] {
            p.test_run(&TestRun {
                data: frame(),
                cpu: Some(cpu),
                ..TestRun::default()
            })
            .unwrap();
        }
        let all = obj
            .map("pcpu")
            .unwrap()
            .lookup_copy(&0u32.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(&all[..8], &20u64.to_ne_bytes(), "{mode:?}");
        assert_eq!(&all[8..16], &10u64.to_ne_bytes(), "{mode:?}");
    });
}

#[test]
fn queue_push_pop_and_ringbuf() {
    jit_modes(|obj, mode| {
        assert_eq!(run(obj, "queue_ops"), 41234, "{mode:?}");
        assert_eq!(run(obj, "ringbuf"), 16 + 16, "{mode:?}");
    });
}

#[test]
fn tail_calls_replace_the_program() {
    jit_modes(|obj, mode| {
        assert_eq!(run(obj, "tail_caller"), 7, "empty slots fall through");
        obj.set_tail_call("jmp", 0, "tail_target").unwrap();
        assert_eq!(run(obj, "tail_caller"), 42, "{mode:?}");
        obj.set_tail_call("jmp", 1, "tail_caller").unwrap();
        let out = obj
            .program("tail_caller")
            .unwrap()
            .test_run(&TestRun {
                data: frame(),
                ..TestRun::default()
            })
            .unwrap();
        assert_eq!(out.retval, 7, "{mode:?}");
        assert_eq!(out.tail_calls, 33, "{mode:?}");
    });
}

#[test]
fn interpreter_and_jit_agree_run_after_run() {
    let Some(path) = support::compile("basics") else {
        return;
    };
    for mode in [ExecMode::Checked, ExecMode::Trusted] {
        let objs: Vec<LoadedObject> = [Engine::Interp, Engine::Jit]
            .into_iter()
            .map(|engine| {
                let object = lull_object::Object::open(&path, &Default::default()).unwrap();
                runtime(mode, engine, 2).load(object).unwrap()
            })
            .collect();
        for prog in [
            "hash_update",
            "global_data",
            "loop",
            "for_each",
            "queue_ops",
            "percpu",
        ] {
            for round in 0..3 {
                let r: Vec<u64> = objs.iter().map(|o| run(o, prog)).collect();
                assert_eq!(r[0], r[1], "{prog} round {round} ({mode:?})");
            }
        }
    }
}

/// An Ethernet + IPv4 frame: protocol 17 (UDP), TTL 64, 10.0.0.1 -> 10.0.0.2.
fn ip_frame() -> Vec<u8> {
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
    for mode in [ExecMode::Checked, ExecMode::Trusted] {
        let object = lull_object::Object::open(&path, &Default::default()).expect("parse");
        let obj = runtime(mode, Engine::Jit, 1).load(object).expect("load");
        let run = |name: &str| {
            let p = obj.program(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            p.test_run(&TestRun {
                data: ip_frame(),
                ..TestRun::default()
            })
            .unwrap_or_else(|e| panic!("{name} ({mode:?}): {e}"))
            .retval
        };
        assert_eq!(run("ip_proto"), 17, "{mode:?}");
        assert_eq!(run("special_offsets"), (0x0800 << 8) | 64, "{mode:?}");
        assert_eq!(run("indirect_word"), 0x0a00_0001, "{mode:?}");
        assert_eq!(run("past_the_end"), 0, "{mode:?}");
        assert_eq!(run("tc_ethertype"), 0x0800, "{mode:?}");
    }
}
