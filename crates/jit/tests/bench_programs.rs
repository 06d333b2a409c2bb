//! The four benchmark programs of `shared/bench` give their documented results through the
//! JIT, in checked and in trusted mode, and the checked runs stay within their budget.
// Trusted runs are `unsafe`; each follows a checked run of the same program on the same input.
#![allow(unsafe_code)]

use std::path::PathBuf;

use lull_interp::{Input, PrepareOptions};
use lull_isa::RawInsn;
use lull_jit::{JitProgram, JitVm, Mode};

const BENCHES: [(&str, u64); 4] = [
    ("sum", 500_000_500_000),
    ("xorshift", 7_290_476_056_423_008_982),
    ("fnv1a", 11_901_028_539_370_386_213),
    ("bsort", 50_243_579_674),
];

fn compile(name: &str, mode: Mode) -> JitProgram {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/bench")
        .join(format!("{name}.bin"));
    let bytes = std::fs::read(&path).expect("benchmark binary is readable");
    let raw = RawInsn::slice_from_bytes(&bytes).expect("whole instructions");
    let insns = lull_isa::decode(&raw).expect("benchmark decodes");
    JitProgram::compile(&insns, &PrepareOptions::default(), mode).expect("benchmark compiles")
}

fn buffer() -> Vec<u8> {
    (0..65536usize)
        .map(|i| (i * 31 + (i >> 8) + 7) as u8)
        .collect()
}

#[test]
fn benchmarks_give_their_results_checked_and_trusted() {
    let mut vm = JitVm::new();
    for (name, want) in BENCHES {
        let mut buf = buffer();
        let checked = compile(name, Mode::Checked);
        assert_eq!(
            vm.run(&checked, Input::mem(&mut buf)),
            Ok(want),
            "{name} checked"
        );
        let trusted = compile(name, Mode::Trusted);
        // SAFETY: the checked run of the same program on the same input made only valid
        // accesses; the benchmarks are deterministic and take no helpers.
        let r = unsafe { vm.run_trusted(&trusted, Input::mem(&mut buf)) };
        assert_eq!(r, Ok(want), "{name} trusted");
        // Running trusted code through the safe entry point is refused.
        assert!(vm.run(&trusted, Input::mem(&mut buf)).is_err());
    }
}

#[test]
fn a_small_budget_stops_the_longest_benchmark() {
    let mut vm = JitVm::new();
    vm.set_insn_budget(Some(100_000));
    let mut buf = buffer();
    let prog = compile("sum", Mode::Checked);
    let r = vm.run(&prog, Input::mem(&mut buf));
    assert!(
        matches!(
            r,
            Err(lull_interp::Fault::BudgetExhausted {
                budget: 100_000,
                ..
            })
        ),
        "{r:?}"
    );
}
