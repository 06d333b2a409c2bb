//! `lull inspect OBJ`: what an object holds — programs (type, attach type and target, sleepable,
//! size), maps and relocations — as text or as the stable JSON of the CLI contract.

use std::path::PathBuf;

use anyhow::Result;

use crate::Outcome;
use crate::commands::input;

/// `lull inspect` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A clang-compiled BPF object (`.o`).
    object: PathBuf,
    /// Kernel BTF for CO-RE relocations and ksyms (default: `/sys/kernel/btf/vmlinux` if present).
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
    /// Print one JSON object `{"programs": [...], "maps": [...]}`.
    #[arg(long)]
    json: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    let kernel_btf = input::kernel_btf(args.btf.as_deref())?;
    let object = input::open_object(&args.object, kernel_btf.as_ref())?;
    let view = object.inspect();
    if args.json {
        println!("{}", serde_json::to_string(&view)?);
        return Ok(Outcome::Success);
    }
    let details = object.details();
    println!(
        "object {}  license {}",
        object.name,
        details.license.as_deref().unwrap_or("(none)")
    );
    println!("\nprograms:");
    println!(
        "  {:<24} {:<28} {:<15} {:<16} {:<24} {:>5} {:>6}",
        "name", "section", "type", "attach type", "target", "sleep", "insns"
    );
    for p in &view.programs {
        println!(
            "  {:<24} {:<28} {:<15} {:<16} {:<24} {:>5} {:>6}",
            p.name,
            p.section,
            p.prog_type,
            p.expected_attach_type.as_deref().unwrap_or("-"),
            p.attach_target.as_deref().unwrap_or("-"),
            if p.sleepable { "yes" } else { "no" },
            p.insns
        );
    }
    println!("\nmaps:");
    println!(
        "  {:<28} {:<18} {:>8} {:>10} {:>11} {:>8}",
        "name", "type", "key", "value", "max_entries", "flags"
    );
    for m in &view.maps {
        println!(
            "  {:<28} {:<18} {:>8} {:>10} {:>11} {:>#8x}",
            m.name, m.map_type, m.key_size, m.value_size, m.max_entries, m.flags
        );
    }
    println!("\nrelocations:");
    for p in &details.programs {
        println!("  {}:", p.program);
        if !p.subprograms.is_empty() {
            println!("    subprograms appended: {}", p.subprograms.join(", "));
        }
        for r in &p.relocations {
            println!("    insn {:>4}: {:?}", r.slot, r.kind);
        }
        for e in &p.load_errors {
            println!("    cannot load: {e}");
        }
    }
    for s in &details.unknown_sections {
        println!("warning: section `{s}` is not a program section libbpf knows");
    }
    for w in &details.warnings {
        println!("warning: {w}");
    }
    Ok(Outcome::Success)
}
