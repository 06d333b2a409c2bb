//! Greedy test-case reduction: delete instructions (fixing jumps) while a property — the
//! disagreement or fault being minimised — still holds.

use crate::edit;
use crate::program::TestProgram;

/// Removes instructions from `p` one at a time, keeping each removal after which `still`
/// holds, until no single removal keeps it; also drops maps no instruction refers to.
/// `still(p)` must hold for the input. At most `max_checks` evaluations of `still`, and none
/// started after `time` has passed (a deletion can turn a loop into one that runs the kernel's
/// verifier to its million-instruction limit, seconds per check).
pub fn minimize(
    p: &TestProgram,
    max_checks: usize,
    time: std::time::Duration,
    mut still: impl FnMut(&TestProgram) -> bool,
) -> TestProgram {
    let start = std::time::Instant::now();
    let mut best = p.clone();
    let mut checks = 0;
    let mut progress = true;
    while progress && checks < max_checks && start.elapsed() < time {
        progress = false;
        let mut i = best.insns.len();
        while i > 0 && checks < max_checks && start.elapsed() < time {
            i -= 1;
            let Some(insns) = edit::delete(&best.insns, i) else {
                continue;
            };
            if insns.is_empty() {
                continue;
            }
            let cand = TestProgram {
                insns,
                ..best.clone()
            };
            checks += 1;
            if still(&cand) {
                best = cand;
                progress = true;
                i = i.min(best.insns.len());
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use lull_abi::ProgType;
    use lull_isa::Insn;

    #[test]
    fn keeps_only_what_the_property_needs() {
        let p = TestProgram::assemble(
            ProgType::SocketFilter,
            None,
            vec![],
            "r1 = 1\nr2 = 2\nif r1 > 0 goto l\nr3 = 3\nl: r0 = 0\nexit",
        )
        .unwrap();
        let m = minimize(&p, 1000, std::time::Duration::from_secs(60), |q| {
            q.insns.contains(&Insn::Exit) && q.insns.len() >= 2
        });
        assert_eq!(m.insns.len(), 2);
        assert_eq!(m.insns.last(), Some(&Insn::Exit));
    }
}
