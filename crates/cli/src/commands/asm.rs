//! `lull asm FILE`: assembles text (kernel/LLVM syntax or the conformance suite's) into raw
//! little-endian instructions.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use lull_isa::asm::{Syntax, assemble_with};

use crate::Outcome;
use crate::commands::input;

/// Input syntaxes.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SyntaxArg {
    /// Decide per statement.
    Auto,
    /// The kernel verifier log / LLVM syntax (`r0 = *(u32 *)(r1 + 4)`).
    Kernel,
    /// The bpf_conformance syntax (`ldxw %r0, [%r1+4]`).
    Conformance,
}

/// `lull asm` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The assembly source (`-` for standard input).
    file: PathBuf,
    /// Write the raw instructions to this file; without it, print them as hex, one per line.
    #[arg(short, long, value_name = "OUT.bin")]
    output: Option<PathBuf>,
    /// The source syntax.
    #[arg(long, value_enum, default_value = "auto")]
    syntax: SyntaxArg,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    let text = if args.file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("cannot read standard input")?
    } else {
        String::from_utf8(input::read(&args.file)?)
            .with_context(|| format!("{}: not UTF-8 text", args.file.display()))?
    };
    let syntax = match args.syntax {
        SyntaxArg::Auto => Syntax::Auto,
        SyntaxArg::Kernel => Syntax::Kernel,
        SyntaxArg::Conformance => Syntax::Conformance,
    };
    let insns = assemble_with(&text, syntax).with_context(|| args.file.display().to_string())?;
    let raw = lull_isa::encode(&insns);
    match &args.output {
        Some(out) => {
            let bytes: Vec<u8> = raw.iter().flat_map(|r| r.to_bytes()).collect();
            std::fs::write(out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            for r in &raw {
                let line: Vec<String> = r.to_bytes().iter().map(|b| format!("{b:02x}")).collect();
                writeln!(stdout, "{}", line.join(" "))?;
            }
        }
    }
    Ok(Outcome::Success)
}
