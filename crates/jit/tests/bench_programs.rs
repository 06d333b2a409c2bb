//! The four benchmark programs of `shared/bench` give their documented results through the
//! JIT, in checked and in trusted mode, and the checked runs stay within their budget.
// Trusted runs are `unsafe`; each follows a checked run of the same program on the same input.
#![allow(unsafe_code)]

use lull_benchprogs::{PROGRAMS, context_buffer, find_dir, load};
use lull_interp::{Input, PrepareOptions};
use lull_jit::{JitProgram, JitVm, Mode};

fn compile(name: &str, mode: Mode) -> JitProgram {
    let dir = find_dir(None).expect("shared/bench next to the workspace");
    let insns = load(&dir, name).expect("benchmark loads");
    JitProgram::compile(&insns, &PrepareOptions::default(), mode).expect("benchmark compiles")
}

#[test]
fn benchmarks_give_their_results_checked_and_trusted() {
    let mut vm = JitVm::new();
    for p in PROGRAMS {
        let (name, want) = (p.name, p.expected);
        let mut buf = context_buffer();
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
    let mut buf = context_buffer();
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
