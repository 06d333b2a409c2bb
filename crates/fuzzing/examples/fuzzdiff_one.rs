//! Shows one generated program and both verdicts: `cargo run -p lull-fuzzing --example
//! fuzzdiff_one -- SEED [SEED...]` (prints the time of each step; the kernel only as root).

use lull_fuzzing::grammar::{GenConfig, generate};

fn main() {
    for arg in std::env::args().skip(1) {
        let Ok(seed) = arg.parse::<u64>() else {
            eprintln!("not a seed: {arg}");
            std::process::exit(2);
        };
        let g = generate(seed, &GenConfig::default());
        println!(
            "== seed {seed} ({}) {} {:?}",
            g.origin, g.program.prog_type, g.program.maps
        );
        print!("{}", g.program.asm_text());
        let t = std::time::Instant::now();
        let lull = lull_fuzzing::lull::run(&g.program);
        println!(
            "lull: {} in {:.1?}, {} insns processed: {}",
            if lull.accepted { "accept" } else { "reject" },
            t.elapsed(),
            lull.insns_processed,
            lull.error.map_or(String::new(), |e| e.message)
        );
        let t = std::time::Instant::now();
        match lull_fuzzing::kernel::load(&g.program) {
            Ok(k) => println!(
                "kernel: {} in {:.1?}, {:?} insns processed: {}",
                if k.accepted { "accept" } else { "reject" },
                t.elapsed(),
                k.insns_processed,
                k.error_line
            ),
            Err(e) => println!("kernel: {e}"),
        }
    }
}
