//! The interpreter and the JIT ([`Engine::Jit`]) agreeing run after run, checked and trusted,
//! each on its own copy of the same maps (`run.rs` and `packet_loads.rs` run their cases on
//! both engines). Programs are compiled with clang-19 at test time (the tests pass vacuously
//! when it is missing).

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
