//! `lull disasm FILE`: prints raw instructions (`.bin`) or every program of an ELF object in the
//! kernel/LLVM syntax; for objects, the source lines from BTF line info are interleaved and
//! helper calls are named.

use std::path::PathBuf;

use anyhow::{Result, bail};
use lull_isa::Located;
use lull_isa::disasm::{self, Options, Style};
use lull_object::Program;

use crate::Outcome;
use crate::commands::input;

/// `lull disasm` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A raw instruction file (`.bin`) or an ELF object (`.o`).
    file: PathBuf,
    /// For an object: only this program (function name).
    #[arg(long)]
    program: Option<String>,
    /// Print in llvm-objdump's syntax instead of the kernel verifier log's.
    #[arg(long)]
    llvm: bool,
}

/// Helper names by id, from the verifier's prototype table.
fn helper_name(id: i32) -> Option<&'static str> {
    Some(lull_verifier::proto::helper_name(id)).filter(|n| *n != "unknown")
}

/// Prints one program: a `name:` header per function, `; file:line: text` before the first
/// instruction of each line-info record, then the instructions.
fn print_program(program: &Program, opts: &Options<'_>) {
    println!(
        "{} (section {}, {} insns):",
        program.name,
        program.section,
        program.insns.len()
    );
    let mut line_idx = 0;
    let mut last_line: Option<(&str, u32)> = None;
    for located in &program.decoded {
        let Located { slot, insn } = *located;
        if let Some(sub) = program.subprograms.iter().find(|s| s.start == slot) {
            println!("{}:", sub.name);
        }
        while line_idx < program.line_info.len() && program.line_info[line_idx].insn <= slot {
            let l = &program.line_info[line_idx];
            // Like the kernel's log: a source line is printed when it changes.
            let here = (l.file.as_str(), l.line_num);
            if l.insn == slot && !l.line.trim().is_empty() && last_line != Some(here) {
                println!("; {}:{}: {}", l.file, l.line_num, l.line.trim());
                last_line = Some(here);
            }
            line_idx += 1;
        }
        println!("{slot:5}: {}", disasm::format_insn(&insn, opts));
    }
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    let bytes = input::read(&args.file)?;
    let names = helper_name;
    let opts = Options {
        style: if args.llvm {
            Style::Llvm
        } else {
            Style::Kernel
        },
        helper_name: Some(&|id| names(id)),
        ..Options::default()
    };
    if !input::is_elf(&bytes) {
        if args.program.is_some() {
            bail!(
                "--program applies to ELF objects; {} is raw instructions",
                args.file.display()
            );
        }
        let insns = input::decode_raw(&args.file, &bytes)?;
        print!("{}", disasm::format_program(&insns, &opts));
        return Ok(Outcome::Success);
    }
    let kernel_btf = input::kernel_btf(None)?;
    let object = input::open_object(&args.file, kernel_btf.as_ref())?;
    let programs: Vec<&Program> = match &args.program {
        Some(name) => match object.program(name) {
            Some(p) => vec![p],
            None => bail!("{}: no program named `{name}`", args.file.display()),
        },
        None => object.programs.iter().collect(),
    };
    for (i, program) in programs.iter().enumerate() {
        if i > 0 {
            println!();
        }
        print_program(program, &opts);
    }
    Ok(Outcome::Success)
}
