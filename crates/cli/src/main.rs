//! `lull`: the command line over Lull's libraries.
//!
//! Exit status everywhere (the contract in `shared/spec/cli-contract.md`): 0 success / accepted,
//! 1 rejected or a failed check, 2 usage error or unreadable input. A panic is never an exit.
#![forbid(unsafe_code)]

mod commands;
mod timing;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Lull: verify and run BPF programs in user space.
#[derive(Parser)]
#[command(name = "lull", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble BPF assembly (kernel/LLVM syntax or the conformance suite's) into raw instructions.
    Asm(commands::asm::Args),
    /// Disassemble raw instructions (`.bin`) or the programs of an ELF object (`.o`).
    Disasm(commands::disasm::Args),
    /// Run a program once or many times and print r0 and the time per run.
    Run(commands::run::Args),
    /// Run a directory of bpf_conformance `.data` tests.
    Conformance(commands::conformance::Args),
    /// Time the interpreter on the shared benchmark programs.
    Bench(commands::bench::Args),
    /// List an object's programs, maps and relocations.
    Inspect(commands::inspect::Args),
    /// Verify programs with the Linux verifier's rules.
    Verify(commands::verify::Args),
}

/// How a command ended, mapped onto the contract's exit codes.
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a program was rejected or a check failed.
    Failed,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Asm(args) => commands::asm::run(args),
        Command::Disasm(args) => commands::disasm::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Conformance(args) => commands::conformance::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Verify(args) => commands::verify::run(args),
    };
    match result {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failed) => ExitCode::from(1),
        Err(err) => {
            eprintln!("lull: {err:#}");
            ExitCode::from(2)
        }
    }
}
