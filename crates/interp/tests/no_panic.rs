//! Checked mode never panics, whatever the instructions: random programs (valid encodings,
//! jump targets folded into the program so many of them prepare) run under a small budget.

mod common;

use common::locate;
use lull_interp::{HelperContext, HelperError, Helpers, Input, PrepareOptions, Program, Vm};
use lull_isa::{CallTarget, Insn, Reg};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::sync::atomic::{AtomicUsize, Ordering};

fn ret_arg(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let mut b = [0u8; 4];
    ctx.read(a[0], &mut b)?;
    ctx.write(a[1], &b)?;
    Ok(a[2])
}

/// Re-targets jumps and local calls to a slot inside the program (`raw mod len`), calls to the
/// registered helper, and most writes of r10 elsewhere, so that many programs prepare.
fn fold_targets(insns: &mut [Insn]) {
    let slots: usize = insns.iter().map(Insn::slots).sum();
    let mut slot = 0i64;
    for insn in insns.iter_mut() {
        let fold = |rel: i64| (rel.rem_euclid(slots as i64)) - slot - 1;
        match insn {
            Insn::Ja { off, long: true } => *off = fold((*off).into()) as i32,
            Insn::Ja { off, long: false } => *off = fold((*off).into()) as i32,
            Insn::Jump { off, .. } | Insn::MayGoto { off } => {
                *off = fold((*off).into()).clamp(i16::MIN.into(), i16::MAX.into()) as i16
            }
            Insn::Call(CallTarget::Local(rel)) => *rel = fold((*rel).into()) as i32,
            Insn::Call(CallTarget::Helper(id)) => *id = id.rem_euclid(3),
            Insn::Call(CallTarget::Kfunc { .. }) => *insn = Insn::Call(CallTarget::Helper(1)),
            // Writes to r10 are rejected at prepare time; aim most of them at r9 instead.
            Insn::Alu { dst, .. }
            | Insn::Endian { dst, .. }
            | Insn::Load { dst, .. }
            | Insn::LdImm64 { dst, .. }
                if *dst == Reg::R10 && slot % 4 != 0 =>
            {
                *dst = Reg::R9
            }
            Insn::Atomic { src, .. } if *src == Reg::R10 && slot % 4 != 0 => *src = Reg::R9,
            _ => {}
        }
        slot += insn.slots() as i64;
    }
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
