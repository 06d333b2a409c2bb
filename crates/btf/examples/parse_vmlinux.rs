//! Times parsing of a raw BTF file (default: the running kernel's vmlinux BTF).
//! Usage: `cargo run --release -p lull-btf --example parse_vmlinux [PATH] [ITERATIONS]`.

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .unwrap_or_else(|| lull_btf::VMLINUX_PATH.to_string());
    let iters: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let data = match std::fs::read(&path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("reading {path}: {e}");
            std::process::exit(1);
        }
    };
    let mut times = Vec::with_capacity(iters);
    let mut types = 0;
    for _ in 0..iters {
        let t = Instant::now();
        match lull_btf::Btf::parse(&data) {
            Ok(btf) => {
                times.push(t.elapsed().as_secs_f64() * 1e3);
                types = btf.len();
            }
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(1);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{path}: {} bytes, {types} types; parse min {:.1} ms, median {:.1} ms over {iters} runs",
        data.len(),
        times[0],
        times[times.len() / 2]
    );
}
