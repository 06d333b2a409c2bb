//! Structured random program generation: a grammar of typical BPF code fragments (scalar
//! ALU, stack spills and fills, map lookups with NULL checks, packet bounds checks, bounded
//! loops, branches that refine ranges, bpf-to-bpf calls, helper calls, context reads) per program
//! type, plus [`mutate`] which breaks one thing in a valid program. Everything is a pure
//! function of the seed.
//!
//! Register discipline of generated code: `r6` holds the context for the whole main program,
//! `r7` starts as a known constant, `r8` and `r9` as unknown scalars (random numbers or context
//! fields); every fragment uses `r0`..`r5` as scratch and leaves `r6`..`r9` initialised. Most
//! fragments are valid; a small share takes a deliberately wrong variant (a missing NULL check,
//! an off-by-one bound) so that rejections are common too.

pub mod builder;
pub mod mutate;
mod snippets;

use lull_abi::{AttachType, MapType, ProgType};

use crate::program::{MapSpec, TestProgram};
use crate::rng::Rng;

pub use mutate::mutate;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Program types to choose from (uniformly).
    pub prog_types: Vec<ProgType>,
    /// Percentage of programs that get one [`mutate`] step after generation.
    pub mutate_percent: u32,
    /// Percentage of fragments that take a deliberately wrong variant.
    pub wrong_percent: u32,
    /// Largest number of fragments in the main program.
    pub max_fragments: usize,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            prog_types: vec![
                ProgType::SocketFilter,
                ProgType::Xdp,
                ProgType::SchedCls,
                ProgType::Syscall,
                ProgType::Kprobe,
            ],
            mutate_percent: 40,
            wrong_percent: 6,
            max_fragments: 7,
        }
    }
}

/// A generated program and how it was made (for reports).
#[derive(Clone, Debug)]
pub struct Generated {
    /// The program.
    pub program: TestProgram,
    /// The seed it was generated from.
    pub seed: u64,
    /// The fragments and mutation that made it, e.g. `map_access,loop | mutate: delete insn 7`.
    pub origin: String,
}

/// Generates the program of `seed`.
pub fn generate(seed: u64, cfg: &GenConfig) -> Generated {
    let mut rng = Rng::new(seed);
    let prog_type = *rng.pick(&cfg.prog_types).unwrap_or(&ProgType::SocketFilter);
    let maps = random_maps(&mut rng);
    let (insns, fragments) = snippets::program(&mut rng, prog_type, &maps, cfg);
    let mut program = TestProgram {
        prog_type,
        expected_attach: expected_attach(prog_type),
        sleepable: prog_type == ProgType::Syscall,
        maps,
        insns,
    };
    let mut origin = fragments.join(",");
    if rng.chance(cfg.mutate_percent)
        && let Some((p, what)) = mutate(&program, &mut rng)
    {
        program = p;
        origin.push_str(" | mutate: ");
        origin.push_str(&what);
    }
    Generated {
        program,
        seed,
        origin,
    }
}

/// The expected attach type generated programs of `t` are loaded with.
pub fn expected_attach(t: ProgType) -> Option<AttachType> {
    match t {
        ProgType::Xdp => Some(AttachType::Xdp),
        _ => None,
    }
}

/// Zero to two maps: arrays and hashes of a few value sizes.
fn random_maps(rng: &mut Rng) -> Vec<MapSpec> {
    let n = rng.weighted(&[2, 5, 3]);
    (0..n)
        .map(|_| {
            if rng.chance(50) {
                let vs = *rng.pick(&[4u32, 8, 16, 48]).unwrap_or(&8);
                MapSpec::new(MapType::Array, 4, vs, rng.range(1, 8) as u32)
            } else {
                let ks = *rng.pick(&[4u32, 8]).unwrap_or(&4);
                let vs = *rng.pick(&[8u32, 16, 32]).unwrap_or(&8);
                MapSpec::new(MapType::Hash, ks, vs, rng.range(1, 16) as u32)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_text_round_trips() {
        let cfg = GenConfig::default();
        for seed in 0..300 {
            let a = generate(seed, &cfg);
            let b = generate(seed, &cfg);
            assert_eq!(a.program, b.program, "seed {seed}");
            let text = a.program.asm_text();
            let back = lull_isa::asm::assemble(&text)
                .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            assert_eq!(back, a.program.insns, "seed {seed}:\n{text}");
            for insn in &a.program.insns {
                insn.validate()
                    .unwrap_or_else(|e| panic!("seed {seed}: {e:?}\n{text}"));
            }
        }
    }

    #[test]
    fn generated_programs_vary() {
        let cfg = GenConfig::default();
        let distinct: std::collections::HashSet<Vec<lull_isa::Insn>> =
            (0..100).map(|s| generate(s, &cfg).program.insns).collect();
        assert!(
            distinct.len() > 90,
            "only {} distinct programs",
            distinct.len()
        );
    }
}
