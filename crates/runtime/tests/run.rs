//! End-to-end runs of small C programs on both engines, checked and trusted (compiled with
//! clang-19 at test time; the tests say so and pass vacuously when clang is missing).

mod support;

use std::sync::Arc;

use lull_runtime::{Engine, ExecMode, LoadedObject, Runtime, RuntimeOptions, TestRun};

fn load(name: &str, mode: ExecMode, engine: Engine) -> Option<LoadedObject> {
    let path = support::compile(name)?;
    let object = lull_object::Object::open(&path, &Default::default()).expect("parse");
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(2),
        mode,
        engine,
        ..RuntimeOptions::default()
    });
    Some(rt.load(object).expect("load"))
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

fn section_map<'a>(obj: &'a LoadedObject, section: &str) -> &'a Arc<lull_maps::Map> {
    let i = obj
        .object()
        .maps
        .iter()
        .position(|m| m.section == section)
        .expect(section);
    &obj.maps()[i]
}

/// Runs `f` on `basics` loaded for each engine in each execution mode (the same expected
/// results everywhere).
fn every_engine_and_mode(f: impl Fn(&LoadedObject, ExecMode)) {
    for engine in [Engine::Interp, Engine::Jit] {
        for mode in [ExecMode::Checked, ExecMode::Trusted] {
            if let Some(obj) = load("basics", mode, engine) {
                f(&obj, mode);
            }
        }
    }
}

#[test]
fn hash_map_update_then_lookup() {
    every_engine_and_mode(|obj, _| {
        assert_eq!(
            run(obj, "hash_update"),
            100,
            "first run inserts, NOEXIST then fails"
        );
        assert_eq!(run(obj, "hash_update"), 2);
        assert_eq!(run(obj, "hash_update"), 3);
        let v = obj
            .map("counts")
            .unwrap()
            .lookup_copy(&7u32.to_ne_bytes(), 0)
            .unwrap();
        assert_eq!(u64::from_ne_bytes(v.try_into().unwrap()), 3);
    });
}

#[test]
fn global_data_and_rodata() {
    every_engine_and_mode(|obj, _| {
        assert_eq!(run(obj, "global_data"), 8);
        assert_eq!(run(obj, "global_data"), 11);
        let data = section_map(obj, ".data");
        assert_eq!(
            data.lookup_copy(&0u32.to_ne_bytes(), 0).unwrap(),
            11u64.to_ne_bytes()
        );
        assert!(section_map(obj, ".rodata").is_frozen());
    });
}

#[test]
fn packet_programs_see_the_frame() {
    every_engine_and_mode(|obj, _| {
        let p = obj.program("packet").unwrap();
        let out = p
            .test_run(&TestRun {
                data: frame(),
                ..TestRun::default()
            })
            .unwrap();
        assert_eq!(out.retval, 64 + 1000);
        assert_eq!(out.data_out.unwrap()[0], 0xaa);
        assert_eq!(run(obj, "xdp_len"), 64);
    });
}

#[test]
fn callbacks_run_in_new_frames() {
    every_engine_and_mode(|obj, _| {
        assert_eq!(run(obj, "loop"), 45 * 1000 + 10);
        assert_eq!(run(obj, "for_each"), (1 + 2 * 2 + 3 * 3 + 4 * 4) * 100 + 4);
    });
}

#[test]
fn trace_printk_reaches_the_trace_stream() {
    every_engine_and_mode(|obj, _| {
        let rt_trace = Arc::clone(obj_runtime_trace(obj));
        assert_eq!(run(obj, "printk"), 1);
        let lines = rt_trace.drain();
        assert!(
            lines.iter().any(|l| l.message == "hello 42 world"),
            "{lines:?}"
        );
    });
}

fn obj_runtime_trace(obj: &LoadedObject) -> &Arc<lull_runtime::TraceBuffer> {
    obj.runtime().trace()
}

#[test]
fn percpu_values_follow_the_cpu() {
    every_engine_and_mode(|obj, _| {
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
        assert_eq!(&all[..8], &20u64.to_ne_bytes());
        assert_eq!(&all[8..16], &10u64.to_ne_bytes());
    });
}

#[test]
fn queue_push_pop_and_ringbuf() {
    every_engine_and_mode(|obj, _| {
        // 4 pushes fit (5th: -E2BIG), popped in FIFO order.
        assert_eq!(run(obj, "queue_ops"), 41234);
        assert_eq!(run(obj, "ringbuf"), 16 + 16);
    });
}

#[test]
fn tail_calls_replace_the_program() {
    every_engine_and_mode(|obj, _| {
        assert_eq!(run(obj, "tail_caller"), 7, "empty slots fall through");
        obj.set_tail_call("jmp", 0, "tail_target").unwrap();
        assert_eq!(run(obj, "tail_caller"), 42);
        obj.set_tail_call("jmp", 1, "tail_caller").unwrap();
        let p = obj.program("tail_caller").unwrap();
        let out = p
            .test_run(&TestRun {
                data: frame(),
                ..TestRun::default()
            })
            .unwrap();
        // 33 tail calls into itself through slot 1, then slot 1 fails and slot 0 is refused
        // too (the budget is spent): the 34th program returns 7.
        assert_eq!(out.retval, 7);
        assert_eq!(out.tail_calls, 33);
    });
}

#[test]
fn repeated_runs_each_get_the_whole_tail_call_budget() {
    every_engine_and_mode(|obj, _| {
        obj.set_tail_call("jmp", 0, "tail_target").unwrap();
        // Each run spends its budget on the empty slot 1 and then slot 0: if the count
        // carried over between the runs of a batch, the later runs would fall through to 7.
        let out = obj
            .program("tail_caller")
            .unwrap()
            .test_run(&TestRun {
                data: frame(),
                repeat: 1000,
                ..TestRun::default()
            })
            .unwrap();
        assert_eq!(out.retval, 42);
    });
}

#[test]
fn interpreter_and_jit_agree_run_after_run() {
    for mode in [ExecMode::Checked, ExecMode::Trusted] {
        // Each engine on its own copy of the same maps.
        let (Some(interp), Some(jit)) = (
            load("basics", mode, Engine::Interp),
            load("basics", mode, Engine::Jit),
        ) else {
            return;
        };
        for prog in [
            "hash_update",
            "global_data",
            "loop",
            "for_each",
            "queue_ops",
            "percpu",
        ] {
            for round in 0..3 {
                assert_eq!(
                    run(&interp, prog),
                    run(&jit, prog),
                    "{prog} round {round} ({mode:?})"
                );
            }
        }
    }
}
