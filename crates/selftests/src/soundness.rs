//! The soundness check over the selftests corpus: every program Lull's verifier accepts, and
//! whose program type the runtime can run, is run through `lull-runtime` in checked mode on
//! seeded random inputs (packet bytes and lengths, context bytes, map contents). The checked
//! interpreter validates every memory access against what the run was given; a run that
//! touches anything else means the verifier accepted a program it must not have.
//!
//! Faults are told apart from legitimate runtime errors (a helper the runtime does not
//! implement, a kfunc it lacks, the instruction budget, an input the context builder refuses),
//! which are only counted. Known faults live in an allowlist (`soundness-allow.txt`: one
//! `file/program  reason` per line); anything else fails the integration test.

use crate::compile::{Compiled, Compiler, Flavor};
use crate::corpus;
use crate::error::{Error, Result, io};
use crate::run::Options;
use crate::sys;
use lull_abi::{MapType, ProgType};
use lull_btf::{Btf, TypeId, TypeKind};
use lull_interp::{Fault, HelperError};
use lull_object::{MapDef, Object};
use lull_runtime::context::ContextKind;
use lull_runtime::verify::{VerifyOptions, verify_program};
use lull_runtime::{LoadedObject, RunError, Runtime, RuntimeOptions, TestRun};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Inputs tried per program unless `LULL_SOUNDNESS_RUNS` says otherwise.
pub const DEFAULT_RUNS: usize = 16;
/// Seed unless `LULL_SOUNDNESS_SEED` says otherwise.
pub const DEFAULT_SEED: u64 = 0x5eed;
/// Context bytes given to programs whose context is raw memory (tracing-style types read
/// at most a few hundred bytes; syscall programs may read up to `U16_MAX`).
const RAW_CTX: usize = 4096;
const SYSCALL_CTX: usize = 65536;
/// Packet lengths tried first: the shortest frame, then typical small ones.
const PACKET_LENGTHS: &[usize] = &[14, 15, 20, 34, 42, 54, 60, 64, 100, 128, 256, 1500];
/// Entries of each prefilled map that get random contents.
const PREFILL_ENTRIES: u32 = 16;
/// `__sk_buff` fields a test run may set: `mark`, `priority`, `cb[5]` (offset, length).
const SKB_SETTABLE: &[(usize, usize)] = &[(8, 4), (32, 4), (48, 20)];

/// Options of a soundness run.
#[derive(Clone, Debug)]
pub struct SoundnessOptions {
    /// Inputs per program.
    pub runs: usize,
    /// Seed of the input generator (runs are reproducible).
    pub seed: u64,
}

impl SoundnessOptions {
    /// From `LULL_SOUNDNESS_RUNS` and `LULL_SOUNDNESS_SEED`.
    pub fn from_env() -> Self {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        SoundnessOptions {
            runs: num("LULL_SOUNDNESS_RUNS").map_or(DEFAULT_RUNS, |n| n as usize),
            seed: num("LULL_SOUNDNESS_SEED").unwrap_or(DEFAULT_SEED),
        }
    }
}

/// A run that touched memory the verifier did not allow.
#[derive(Clone, Debug)]
pub struct FaultReport {
    /// `file/program`.
    pub id: String,
    /// The program type.
    pub prog_type: String,
    /// Which input, described (packet length and first bytes, context, seed).
    pub input: String,
    /// The interpreter's fault.
    pub fault: String,
    /// The faulting instruction, disassembled.
    pub insn: String,
}

/// Counts of one soundness run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Programs in the objects.
    pub programs: usize,
    /// Programs the verifier accepted.
    pub accepted: usize,
    /// Accepted programs that were run.
    pub ran: usize,
    /// Inputs run in total.
    pub inputs: usize,
    /// Runs that ended normally.
    pub clean: usize,
    /// Accepted programs not run, by reason (program type, preparation failure).
    pub not_run: BTreeMap<String, usize>,
    /// Runs that ended with a legitimate runtime error, by kind.
    pub runtime_errors: BTreeMap<String, usize>,
    /// One program (`file/program`) per runtime-error kind, for looking into it.
    pub examples: BTreeMap<String, String>,
    /// Runs that faulted.
    pub faults: Vec<FaultReport>,
    /// Objects that could not be read.
    pub errors: Vec<String>,
}

impl Report {
    fn merge(&mut self, o: Report) {
        self.programs += o.programs;
        self.accepted += o.accepted;
        self.ran += o.ran;
        self.inputs += o.inputs;
        self.clean += o.clean;
        for (k, v) in o.not_run {
            *self.not_run.entry(k).or_default() += v;
        }
        for (k, v) in o.runtime_errors {
            *self.runtime_errors.entry(k).or_default() += v;
        }
        for (k, v) in o.examples {
            self.examples.entry(k).or_insert(v);
        }
        self.faults.extend(o.faults);
        self.errors.extend(o.errors);
    }

    /// A human-readable summary.
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "soundness: {} programs, {} accepted, {} run on {} inputs: {} clean, {} runtime errors, {} faults",
            self.programs,
            self.accepted,
            self.ran,
            self.inputs,
            self.clean,
            self.runtime_errors.values().sum::<usize>(),
            self.faults.len()
        );
        for (k, v) in &self.not_run {
            let _ = writeln!(s, "  not run: {v:4}  {k}");
        }
        for (k, v) in &self.runtime_errors {
            let eg = self.examples.get(k).map_or("", String::as_str);
            let _ = writeln!(s, "  runtime error: {v:4}  {k} (e.g. {eg})");
        }
        for f in &self.faults {
            let _ = writeln!(
                s,
                "  FAULT {} ({}): {}\n    at {}\n    input: {}",
                f.id, f.prog_type, f.fault, f.insn, f.input
            );
        }
        for e in &self.errors {
            let _ = writeln!(s, "  error: {e}");
        }
        s
    }
}

/// The committed allowlist of known faults.
pub fn allowlist_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("soundness-allow.txt")
}

/// Reads an allowlist: `file/program  reason` per line, `#` comments. Every entry needs a
/// reason.
pub fn load_allowlist(path: &Path) -> Result<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, reason) = line
            .split_once(char::is_whitespace)
            .map(|(a, b)| (a, b.trim()))
            .unwrap_or((line, ""));
        if reason.is_empty() {
            return Err(Error::Inventory {
                path: path.to_path_buf(),
                line: n + 1,
                reason: format!("entry `{id}` has no reason"),
            });
        }
        out.insert(id.to_string(), reason.to_string());
    }
    Ok(out)
}

/// Compiles (or reuses) the corpus the selftests harness uses.
pub fn corpus(opts: &Options) -> Result<Vec<Compiled>> {
    let clang = match std::env::var_os("LULL_CLANG") {
        Some(c) => PathBuf::from(c),
        None => {
            sys::which("clang-19").ok_or_else(|| Error::Unavailable("clang-19 not found".into()))?
        }
    };
    let bpftool =
        sys::which("bpftool").ok_or_else(|| Error::Unavailable("bpftool not found".into()))?;
    let tarball = corpus::find_tarball()?;
    corpus::extract(&opts.cache, &tarball)?;
    corpus::prepare_includes(&opts.cache, &bpftool)?;
    let compiler = Compiler::new(&opts.cache, &clang, Flavor::from_env()?)?;
    let mut compiled = compiler.compile_all(&opts.cache, opts.jobs)?;
    if let Some(f) = &opts.filter {
        compiled.retain(|c| c.stem.contains(f.as_str()));
    }
    Ok(compiled)
}

/// Checks every compiled object.
pub fn check_corpus(compiled: &[Compiled], opts: &SoundnessOptions, jobs: usize) -> Report {
    let objects: Vec<(&str, &Path)> = compiled
        .iter()
        .filter_map(|c| Some((c.stem.as_str(), c.object.as_deref()?)))
        .collect();
    let mut total = Report::default();
    for r in sys::parallel_map(&objects, jobs, |(stem, path)| {
        check_object(stem, path, opts)
    }) {
        total.merge(r);
    }
    total.faults.sort_by(|a, b| a.id.cmp(&b.id));
    total
}

/// A seeded SplitMix64 generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Random bytes, biased towards the small and extreme values bounds checks care about.
    fn fill(&mut self, buf: &mut [u8]) {
        let style = self.below(4);
        for b in buf.iter_mut() {
            *b = match style {
                0 => self.next() as u8,
                1 => 0,
                2 => 0xff,
                _ => [0, 1, 0x7f, 0x80, 0xff][self.below(5)],
            };
        }
    }
}

/// Whether the runtime can give this program type a meaningful context.
fn runnable(t: ProgType) -> bool {
    use ProgType as P;
    match ContextKind::of(t) {
        ContextKind::Skb { .. } | ContextKind::Xdp => true,
        ContextKind::Raw => matches!(
            t,
            P::Syscall
                | P::Kprobe
                | P::Tracepoint
                | P::RawTracepoint
                | P::RawTracepointWritable
                | P::PerfEvent
        ),
    }
}

/// Whether a map value type holds fields with meaning to the runtime (locks, timers, kptrs,
/// graph roots...): random bytes there are not a valid input.
fn has_special_fields(btf: &Btf, id: TypeId, depth: usize) -> bool {
    if depth > 16 {
        return true;
    }
    let Ok((id, ty)) = btf.skip_mods_and_typedefs(id) else {
        return true;
    };
    match &ty.kind {
        TypeKind::Struct(c) | TypeKind::Union(c) => {
            btf.name_of(id).starts_with("bpf_")
                || c.members
                    .iter()
                    .any(|m| has_special_fields(btf, m.type_id, depth + 1))
        }
        TypeKind::Array(a) => has_special_fields(btf, a.elem_type, depth + 1),
        TypeKind::Ptr(to) => btf
            .type_by_id(*to)
            .map_or(true, |t| matches!(t.kind, TypeKind::TypeTag(_))),
        _ => false,
    }
}

/// Maps whose contents a run may randomise: data maps without special fields, not read-only.
fn prefillable(def: &MapDef, btf: Option<&Btf>) -> bool {
    use MapType as M;
    let plain_type = matches!(
        def.map_type,
        M::Array | M::PercpuArray | M::Hash | M::PercpuHash | M::LruHash | M::LruPercpuHash
    );
    let special = match (btf, def.value_btf_id) {
        (Some(b), Some(id)) => has_special_fields(b, id, 0),
        _ => false,
    };
    plain_type
        && !special
        && !def.frozen
        && def.flags & lull_abi::map_flags::RDONLY_PROG == 0
        && def.key_size >= 4
}

/// Gives every prefillable map random values for its first entries (array indices, or hash
/// keys 0..n).
fn prefill(loaded: &LoadedObject, rng: &mut Rng) {
    let btf = loaded.object().btf.as_ref();
    for (def, map) in loaded.object().maps.iter().zip(loaded.maps()) {
        if !prefillable(def, btf) {
            continue;
        }
        let n = def.max_entries.min(PREFILL_ENTRIES);
        let mut value = vec![0u8; def.value_size as usize];
        for i in 0..n {
            if !def.kind.is_global_data() && rng.below(4) == 0 {
                continue;
            }
            let mut key = vec![0u8; def.key_size as usize];
            key[..4].copy_from_slice(&i.to_ne_bytes());
            rng.fill(&mut value);
            // A full hash map or a per-CPU value layout refusing the update is fine: the
            // entry just keeps its old contents.
            let _ = map.update(&key, &value, 0);
        }
    }
}

/// The input of run `k` of a program of context kind `kind`.
fn input(kind: ContextKind, t: ProgType, k: usize, rng: &mut Rng) -> TestRun {
    let mut run = TestRun {
        repeat: 1,
        ..TestRun::default()
    };
    match kind {
        ContextKind::Skb { .. } | ContextKind::Xdp => {
            let len = if k == 0 {
                PACKET_LENGTHS[0]
            } else {
                PACKET_LENGTHS[rng.below(PACKET_LENGTHS.len())]
            };
            run.data = vec![0; len];
            rng.fill(&mut run.data);
            if matches!(kind, ContextKind::Skb { .. }) && rng.below(2) == 0 {
                let mut ctx = vec![0u8; 68];
                for &(off, n) in SKB_SETTABLE {
                    rng.fill(&mut ctx[off..off + n]);
                }
                run.ctx = Some(ctx);
            }
        }
        ContextKind::Raw => {
            let n = if t == ProgType::Syscall {
                SYSCALL_CTX
            } else {
                RAW_CTX
            };
            let mut ctx = vec![0u8; n];
            rng.fill(&mut ctx);
            run.ctx = Some(ctx);
        }
    }
    run
}

fn describe(run: &TestRun, seed: u64, k: usize) -> String {
    let head = |b: &[u8]| {
        b.iter()
            .take(16)
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
    let mut s = format!("seed {seed:#x} run {k}: ");
    if !run.data.is_empty() {
        let _ = write!(s, "packet of {} bytes {}…", run.data.len(), head(&run.data));
    }
    if let Some(c) = &run.ctx {
        let _ = write!(s, " ctx of {} bytes {}…", c.len(), head(c));
    }
    s
}

/// How a failed run is counted: `Ok(kind)` for a legitimate runtime error, `Err(why)` for a
/// fault that shows the verifier accepted something unsafe.
fn classify(e: &RunError) -> std::result::Result<String, String> {
    match e {
        RunError::Context(c) => Ok(format!("input refused: {c}")),
        RunError::NoSuchCpu(_) => Ok("no such CPU".into()),
        RunError::Fault { fault, .. } => classify_fault(fault),
    }
}

fn classify_fault(f: &Fault) -> std::result::Result<String, String> {
    match f {
        Fault::InvalidAccess { .. }
        | Fault::MisalignedAtomic { .. }
        | Fault::CallDepth { .. }
        | Fault::BadCallback { .. } => Err(f.to_string()),
        Fault::Helper { name, error, .. } => match error {
            HelperError::Memory(_) => Err(f.to_string()),
            HelperError::Fault(inner) => classify_fault(inner),
            HelperError::Failed(_) => Ok(format!("helper {name} failed")),
            HelperError::Exit(_) | HelperError::Return(_) => Ok(format!("helper {name} exited")),
        },
        Fault::BudgetExhausted { .. } => Ok("instruction budget exhausted".into()),
        Fault::Unsupported { what, .. } => Ok(format!("unsupported: {what}")),
        Fault::UnknownHelper { .. } => Ok("callx to an unknown helper".into()),
        // A kind of fault this check does not know yet: report it rather than hide it.
        _ => Err(f.to_string()),
    }
}

/// The instruction at raw slot `slot`, disassembled.
fn insn_at(obj: &Object, program: &str, slot: usize) -> String {
    obj.programs
        .iter()
        .find(|p| p.name == program)
        .and_then(|p| p.decoded.iter().find(|l| l.slot == slot))
        .map_or_else(
            || format!("insn {slot}"),
            |l| {
                format!(
                    "insn {slot}: {}",
                    lull_isa::disasm::format_insn(&l.insn, &lull_isa::disasm::Options::kernel())
                )
            },
        )
}

fn fault_slot(e: &RunError) -> Option<usize> {
    match e {
        RunError::Fault { fault, .. } => {
            let mut f = fault;
            while let Fault::Helper {
                error: HelperError::Fault(inner),
                ..
            } = f
            {
                f = inner;
            }
            Some(f.slot())
        }
        _ => None,
    }
}

/// Checks the programs of one object.
pub fn check_object(stem: &str, path: &Path, opts: &SoundnessOptions) -> Report {
    let mut report = Report::default();
    let obj = match Object::open(path, &lull_object::ParseOptions::default()) {
        Ok(o) => o,
        Err(e) => {
            report.errors.push(format!("{stem}: {e}"));
            return report;
        }
    };
    // Verify first without a log (cheap even for programs that hit the complexity limit);
    // the runtime verifies the accepted ones again when it loads them.
    let quiet = VerifyOptions {
        log_level: 0,
        ..VerifyOptions::default()
    };
    let mut accepted = Vec::new();
    for p in &obj.programs {
        report.programs += 1;
        if obj.loadable_program(&p.name).is_err() {
            continue;
        }
        if verify_program(&obj, p, &quiet).accepted {
            report.accepted += 1;
            accepted.push((p.name.clone(), p.prog_type));
        }
    }
    if accepted.is_empty() {
        return report;
    }
    let rt = Runtime::with_options(RuntimeOptions {
        cpus: Some(1),
        ..RuntimeOptions::default()
    });
    let loaded = match rt.load(obj.clone()) {
        Ok(l) => l,
        Err(e) => {
            *report.not_run.entry(format!("maps: {e}")).or_default() += accepted.len();
            return report;
        }
    };
    for (name, t) in accepted {
        if !runnable(t) {
            *report
                .not_run
                .entry(format!("program type {}", t.name()))
                .or_default() += 1;
            continue;
        }
        let prog = match loaded.program(&name) {
            Ok(p) => p,
            Err(e) => {
                let why = match e {
                    lull_runtime::LoadError::Prepare { source, .. } => {
                        // Group by what is missing, not by where.
                        let text = source.to_string();
                        let what = match text.split_once(": ") {
                            Some((at, rest)) if at.starts_with("insn ") => rest.to_string(),
                            _ => text,
                        };
                        format!("not prepared: {what}")
                    }
                    other => format!("not loaded: {other}"),
                };
                *report.not_run.entry(why).or_default() += 1;
                continue;
            }
        };
        report.ran += 1;
        let id = format!("{stem}/{name}");
        let seed = opts.seed ^ fnv(&id);
        let mut rng = Rng(seed);
        for k in 0..opts.runs {
            prefill(&loaded, &mut rng);
            let run = input(prog.context_kind(), t, k, &mut rng);
            report.inputs += 1;
            match prog.test_run(&run) {
                Ok(_) => report.clean += 1,
                Err(e) => match classify(&e) {
                    Ok(kind) => {
                        report
                            .examples
                            .entry(kind.clone())
                            .or_insert_with(|| id.clone());
                        *report.runtime_errors.entry(kind).or_default() += 1;
                    }
                    Err(fault) => {
                        report.faults.push(FaultReport {
                            id: id.clone(),
                            prog_type: t.name().to_string(),
                            input: describe(&run, seed, k),
                            fault,
                            insn: fault_slot(&e)
                                .map_or_else(String::new, |s| insn_at(&obj, &name, s)),
                        });
                        // One fault per program is enough to report it.
                        break;
                    }
                },
            }
        }
    }
    report
}

/// FNV-1a of a string (per-program seeds independent of the order programs run in).
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_seeded_and_bounded() {
        let (mut a, mut b) = (Rng(7), Rng(7));
        let xs: Vec<u64> = (0..8).map(|_| a.next()).collect();
        assert_eq!(xs, (0..8).map(|_| b.next()).collect::<Vec<_>>());
        assert!((0..1000).all(|_| a.below(12) < 12));
        assert_ne!(xs[0], Rng(8).next());
    }

    #[test]
    fn faults_are_told_from_runtime_errors() {
        let access = Fault::InvalidAccess {
            slot: 3,
            addr: 0x10,
            size: 4,
            access: lull_interp::Access::Read,
        };
        assert!(classify_fault(&access).is_err());
        let nested = Fault::Helper {
            slot: 1,
            name: "bpf_loop".into(),
            error: HelperError::Fault(Box::new(access)),
        };
        assert!(classify_fault(&nested).is_err());
        let missing = Fault::Helper {
            slot: 1,
            name: "bpf_foo".into(),
            error: HelperError::Failed("not implemented".into()),
        };
        assert_eq!(
            classify_fault(&missing),
            Ok("helper bpf_foo failed".to_string())
        );
        let budget = Fault::BudgetExhausted { slot: 0, budget: 1 };
        assert!(classify_fault(&budget).is_ok());
    }

    #[test]
    fn allowlist_entries_need_a_reason() {
        let dir = std::env::temp_dir().join(format!("lull-soundness-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("allow.txt");
        std::fs::write(&p, "# comment\nf/a  helper writes past the value\n").unwrap();
        let m = load_allowlist(&p).unwrap();
        assert_eq!(
            m.get("f/a").map(String::as_str),
            Some("helper writes past the value")
        );
        std::fs::write(&p, "f/b\n").unwrap();
        assert!(load_allowlist(&p).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
