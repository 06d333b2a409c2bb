//! `lull verify`: judges programs with the Linux verifier's rules, from an object (every program,
//! or one with `--program`) or from raw instructions with the program type and maps given on the
//! command line (the same inputs as `shared/tools/kload`, so one input drives both).
//!
//! Exit status: 0 when every selected program is accepted, 1 when one is rejected, 2 for a usage
//! or load error. `--json` prints one line per program:
//! `{"program","section","accepted","error","insn","line","insns_processed","verification_time_ns"}`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use lull_abi::{AttachType, MapType, ProgType};
use lull_object::Object;
use lull_runtime::verify::{VerifyOptions, verifier_input};
use lull_verifier::{MapInfo, VerifyInput, VerifyOutcome, verify};

use crate::Outcome;
use crate::commands::input;

/// `lull verify` arguments.
#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["objects", "raw"]))]
pub struct Args {
    /// Clang-compiled BPF objects (`.o`).
    #[arg(value_name = "OBJ")]
    objects: Vec<PathBuf>,
    /// Verify only this program (function name) of the object.
    #[arg(long, requires = "objects")]
    program: Option<String>,
    /// Raw little-endian instructions instead of an object.
    #[arg(long, value_name = "FILE.bin")]
    raw: Option<PathBuf>,
    /// Program type of a raw program (`socket_filter`, `xdp`, `kprobe`, `tracing`, `lsm`, `syscall`, … or a number).
    #[arg(long = "type", value_name = "TYPE", requires = "raw")]
    prog_type: Option<String>,
    /// Expected attach type of a raw program (`trace_fentry`, `lsm_mac`, `trace_iter`, … or a number).
    #[arg(long, value_name = "ATTACH_TYPE", requires = "raw")]
    eat: Option<String>,
    /// Attach target (kernel function, LSM hook, iterator …).
    #[arg(long, value_name = "TARGET")]
    attach: Option<String>,
    /// Verify as a sleepable program (`BPF_F_SLEEPABLE`).
    #[arg(long)]
    sleepable: bool,
    /// Targets of sleepable fentry/fexit/fmod_ret programs: `list` (a kernel with
    /// CONFIG_FUNCTION_ERROR_INJECTION: its ALLOW_ERROR_INJECTION list) or `syscall-prefix` (a
    /// kernel without it: any `__x64_` function).
    #[arg(long, value_enum, default_value = "list")]
    error_injection: ErrorInjectionArg,
    /// A map for a raw program, `TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]`; an `ld_imm64`
    /// with src 1 or 2 and imm = i refers to the i-th `--map`.
    #[arg(long = "map", value_name = "SPEC", requires = "raw")]
    maps: Vec<String>,
    /// Verify with the unprivileged rules (no `CAP_BPF`/`CAP_PERFMON`).
    #[arg(long)]
    unprivileged: bool,
    /// The license a raw program is loaded with (GPL-only helpers need a GPL-compatible one).
    #[arg(long, default_value = "GPL", requires = "raw")]
    license: String,
    /// Log level: 0 none, 1 the path to an error, 2 every instruction with its state. Default 1,
    /// or 0 with `--json` (which prints no log: like the kernel's statistics-only level, nothing
    /// is formatted, so `verification_time_ns` compares with the kernel's `verification time`).
    #[arg(long)]
    log_level: Option<u32>,
    /// Kernel BTF for CO-RE relocations and ksyms (default: `/sys/kernel/btf/vmlinux` if present).
    #[arg(long, value_name = "FILE")]
    btf: Option<PathBuf>,
    /// One JSON line per program instead of the log.
    #[arg(long)]
    json: bool,
}

/// Parses `TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]` (numbers decimal or `0x` hex).
fn parse_map(spec: &str) -> Result<MapInfo> {
    let parts: Vec<&str> = spec.split(':').collect();
    if !(4..=5).contains(&parts.len()) {
        bail!("--map {spec}: expected TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]");
    }
    let map_type = MapType::from_name(parts[0])
        .with_context(|| format!("--map {spec}: unknown map type `{}`", parts[0]))?;
    let num = |s: &str| -> Result<u32> {
        let v = match s.strip_prefix("0x") {
            Some(h) => u32::from_str_radix(h, 16),
            None => s.parse(),
        };
        v.with_context(|| format!("--map {spec}: `{s}` is not a number"))
    };
    let mut info = MapInfo::new(map_type, num(parts[1])?, num(parts[2])?, num(parts[3])?);
    if let Some(f) = parts.get(4) {
        info.flags = num(f)?;
    }
    if info.flags & !0x7_ffff != 0 {
        bail!("--map {spec}: unknown flags {:#x}", info.flags & !0x7_ffff);
    }
    Ok(info)
}

/// One verified program, for printing.
struct Verdict<'a> {
    program: &'a str,
    section: &'a str,
    outcome: VerifyOutcome,
}

fn print(v: &Verdict<'_>, json: bool) {
    let o = &v.outcome;
    if json {
        let err = o.error.as_ref();
        let line = serde_json::json!({
            "program": v.program,
            "section": v.section,
            "accepted": o.accepted,
            "error": err.map(|e| e.message.clone()),
            "insn": err.and_then(|e| e.insn),
            "line": err.and_then(|e| e.line.as_ref()).map(|l| format!("{}:{}: {}", l.file, l.line, l.text.trim())),
            "insns_processed": o.insns_processed,
            "verification_time_ns": o.time.as_nanos() as u64,
        });
        println!("{line}");
        return;
    }
    if !o.log.is_empty() {
        print!("{}", o.log);
        if !o.log.ends_with('\n') {
            println!();
        }
    }
    let verdict = if o.accepted { "accepted" } else { "REJECTED" };
    println!(
        "{} ({}): {verdict} — {} insns processed in {} µs",
        v.program,
        v.section,
        o.insns_processed,
        o.time.as_micros()
    );
}

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    let opts = VerifyOptions {
        log_level: args.log_level.unwrap_or(if args.json { 0 } else { 1 }),
        privileged: !args.unprivileged,
        caps: None,
        extra_prog_flags: 0,
        sleepable: args.sleepable.then_some(true),
        error_injection: args.error_injection.into(),
    };
    let mut all_accepted = true;
    if let Some(raw) = &args.raw {
        let bytes = input::read(raw)?;
        let insns = input::decode_raw(raw, &bytes)?;
        let type_name = args.prog_type.as_deref().context("--raw needs --type")?;
        let prog_type = ProgType::from_name(type_name)
            .with_context(|| format!("unknown program type `{type_name}`"))?;
        let expected_attach = match &args.eat {
            Some(n) => Some(
                AttachType::from_name(n).with_context(|| format!("unknown attach type `{n}`"))?,
            ),
            None => None,
        };
        let maps = args
            .maps
            .iter()
            .map(|m| parse_map(m))
            .collect::<Result<Vec<_>>>()?;
        let mut vi = VerifyInput::new(&insns, prog_type);
        vi.expected_attach = expected_attach;
        vi.attach_target = args.attach.clone();
        vi.sleepable = args.sleepable;
        vi.maps = maps;
        vi.gpl_compatible = lull_runtime::verify::license_is_gpl_compatible(&args.license);
        vi.privileged = opts.privileged;
        vi.log_level = opts.log_level;
        vi.error_injection = opts.error_injection;
        let name = raw
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        let v = Verdict {
            program: &name,
            section: type_name,
            outcome: verify(&vi),
        };
        all_accepted &= v.outcome.accepted;
        print(&v, args.json);
    } else {
        let kernel_btf = input::kernel_btf(args.btf.as_deref())?;
        for path in &args.objects {
            all_accepted &= verify_object(path, &args, &opts, kernel_btf.as_ref())?;
        }
    }
    Ok(if all_accepted {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}

/// Verifies the selected programs of one object; `Ok(true)` when all are accepted.
fn verify_object(
    path: &std::path::Path,
    args: &Args,
    opts: &VerifyOptions,
    kernel_btf: Option<&lull_btf::Btf>,
) -> Result<bool> {
    let mut all_accepted = true;
    let object: Object = input::open_object(path, kernel_btf)?;
    let selected: Vec<_> = match &args.program {
        Some(name) => vec![
            object
                .loadable_program(name)
                .with_context(|| path.display().to_string())?,
        ],
        None => object.programs.iter().collect(),
    };
    if selected.is_empty() {
        bail!("{}: no programs", path.display());
    }
    for program in selected {
        if let Err(e) = object.loadable_program(&program.name) {
            bail!("{}: {e}", path.display());
        }
        let mut vi = verifier_input(&object, program, opts);
        vi.kernel_btf = kernel_btf;
        if args.attach.is_some() {
            vi.attach_target = args.attach.clone();
        }
        let v = Verdict {
            program: &program.name,
            section: &program.section,
            outcome: verify(&vi),
        };
        all_accepted &= v.outcome.accepted;
        print(&v, args.json);
    }
    Ok(all_accepted)
}

/// `--error-injection`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ErrorInjectionArg {
    List,
    SyscallPrefix,
}

impl From<ErrorInjectionArg> for lull_verifier::ErrorInjection {
    fn from(a: ErrorInjectionArg) -> Self {
        match a {
            ErrorInjectionArg::List => lull_verifier::ErrorInjection::List,
            ErrorInjectionArg::SyscallPrefix => lull_verifier::ErrorInjection::SyscallPrefix,
        }
    }
}
