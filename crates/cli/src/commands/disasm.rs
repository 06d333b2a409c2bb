//! `lull disasm FILE`: prints raw instructions (`.bin`) in the kernel/LLVM syntax.

use std::path::PathBuf;

use anyhow::{Result, bail};
use lull_isa::disasm::{self, Options, Style};

use crate::Outcome;
use crate::commands::input;

/// `lull disasm` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A raw instruction file (`.bin`) or an ELF object (`.o`).
    file: PathBuf,
    /// Print in llvm-objdump's syntax instead of the kernel verifier log's.
    #[arg(long)]
    llvm: bool,
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    let bytes = input::read(&args.file)?;
    if input::is_elf(&bytes) {
        bail!(
            "{}: ELF objects are not supported by disasm yet",
            args.file.display()
        );
    }
    let insns = input::decode_raw(&args.file, &bytes)?;
    let opts = Options {
        style: if args.llvm {
            Style::Llvm
        } else {
            Style::Kernel
        },
        ..Options::default()
    };
    print!("{}", disasm::format_program(&insns, &opts));
    Ok(Outcome::Success)
}
