//! Checked mode never panics, whatever the instructions: random programs (valid encodings,
//! jump targets folded into the program so many of them prepare) run under a small budget.

mod common;

use common::{fold_targets, locate};
use lull_interp::{HelperContext, HelperError, Helpers, Input, PrepareOptions, Program, Vm};
use lull_isa::Insn;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::sync::atomic::{AtomicUsize, Ordering};

fn ret_arg(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut b = [0u8; 4];
    ctx.read(a[0], &mut b)?;
    ctx.write(a[1], &b)?;
    Ok(a[2])
}

#[test]
fn random_programs_do_not_panic() {
    let mut runner = TestRunner::new(ProptestConfig::with_cases(3000));
    let strategy = (
        proptest::collection::vec(lull_isa::strategy::insn(), 1..40),
        0usize..64,
    );
    let prepared = AtomicUsize::new(0);
    runner
        .run(&strategy, |(mut insns, mem_len)| {
            fold_targets(&mut insns);
            insns.push(Insn::Exit);
            let mut helpers = Helpers::new();
            helpers.register(1, "ret_arg", ret_arg);
            let options = PrepareOptions {
                helpers,
                ..PrepareOptions::default()
            };
            if let Ok(prog) = Program::prepare(&locate(&insns), &options) {
                prepared.fetch_add(1, Ordering::Relaxed);
                let mut vm = Vm::new();
                vm.set_insn_budget(Some(10_000));
                let mut mem = vec![0xa5u8; mem_len];
                let _ = vm.run(&prog, Input::mem(&mut mem));
                prop_assert!(
                    vm.executed()
                        .is_some_and(|n| n <= 10_000 + insns.len() as u64)
                );
            }
            Ok(())
        })
        .expect("no failure");
    // The generator must reach the engine often enough for the property to mean something.
    let n = prepared.load(Ordering::Relaxed);
    assert!(n >= 300, "only {n} of 3000 random programs prepared");
}
