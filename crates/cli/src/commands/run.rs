//! `lull run`: the analogue of `BPF_PROG_TEST_RUN`.
//!
//! * `lull run OBJ --program NAME …`: loads the object (maps created, global data
//!   initialised), verifies the program (exit 1 with the verifier's message if rejected),
//!   builds its context (packet programs: `--data` is the packet, `--ctx` the `__sk_buff` /
//!   `xdp_md`; other programs: `--ctx` is the context bytes, e.g. a tracing program's u64
//!   arguments), runs it `--repeat` times and prints r0, the median time of one run, the
//!   packet and context when the program changed them, the trace output, and with
//!   `--dump-maps` every map's contents.
//!   With `--task PID` the program runs for that process: the current-task helpers report
//!   its pid, tgid, uid, gid and comm, and the user-memory helpers read its address space
//!   (`bpf_copy_from_user` faulting pages in, `bpf_probe_read_user` failing with `-EFAULT` on
//!   pages that are not present).
//! * `lull run --raw FILE.bin`: a raw instruction stream, r1 = the `--mem` bytes, r2 = their
//!   length.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use lull_abi::MapType;
use lull_interp::{Input, PrepareOptions, Program, Vm};
use lull_jit::{JitProgram, JitVm, Mode};
use lull_runtime::{ExecMode, LoadError, Runtime, RuntimeOptions, TestRun};
use lull_task::Task;
use serde_json::{Value, json};

use crate::Outcome;
use crate::commands::input;
use crate::timing::median_ns_per_run;

/// Execution engines.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Engine {
    /// The interpreter.
    Interp,
    /// The Cranelift JIT (checked code; trusted code for objects run with `--trusted`).
    Jit,
}

/// `lull run` arguments.
#[derive(clap::Args)]
#[command(after_help = MAP_INIT_HELP)]
pub struct Args {
    /// BPF object file (ELF).
    #[arg(required_unless_present = "raw", conflicts_with = "raw")]
    object: Option<PathBuf>,
    /// Program to run (function name).
    #[arg(long, value_name = "NAME")]
    program: Option<String>,
    /// Packet data (packet programs; default: 64 zero bytes with an IPv4 EtherType).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Context bytes (`__sk_buff`/`xdp_md` fields, or the raw context, e.g. u64 arguments).
    #[arg(long, value_name = "FILE")]
    ctx: Option<PathBuf>,
    /// Initial map contents, `MAP=FILE.json` (repeatable; format below).
    #[arg(long = "map-init", value_name = "MAP=FILE.json")]
    map_init: Vec<String>,
    /// Print every map's contents after the run.
    #[arg(long)]
    dump_maps: bool,
    /// Number of virtual CPUs (default: the machine's).
    #[arg(long)]
    cpus: Option<u32>,
    /// Run on this virtual CPU.
    #[arg(long)]
    cpu: Option<u32>,
    /// Skip memory checks: trust the verifier's proof (faster).
    #[arg(long)]
    trusted: bool,
    /// Run the program for this process (its ids and comm for the helpers, its memory for
    /// `bpf_copy_from_user`/`bpf_probe_read_user`); default: the lull process itself.
    #[arg(long, value_name = "PID", conflicts_with = "raw")]
    task: Option<u32>,
    /// Raw little-endian instruction file (`.bin`).
    #[arg(long, value_name = "FILE.bin")]
    raw: Option<PathBuf>,
    /// Input memory of a raw program: r1 points to a copy of these bytes, r2 holds their length.
    #[arg(long, value_name = "FILE", requires = "raw")]
    mem: Option<PathBuf>,
    /// How many times to run the program; the reported time is the median time of one run.
    #[arg(long, default_value_t = 1)]
    repeat: u64,
    /// Execution engine.
    #[arg(long, value_enum, default_value = "interp")]
    engine: Engine,
    /// Print one JSON object `{"retval", "duration_ns", "repeat", …}`.
    #[arg(long)]
    json: bool,
}

const MAP_INIT_HELP: &str = "\
--map-init MAP=FILE.json: FILE.json is a JSON array of elements, each
  {\"key\": BYTES, \"value\": BYTES}   (queue/stack maps: {\"value\": BYTES} only)
where BYTES is an array of byte values ([1, 0, 0, 0]), a hex string (\"01000000\",
spaces allowed, optional 0x prefix) or a non-negative integer, stored little-endian in the
key or value size. Per-CPU maps take one value per CPU, each rounded up to 8 bytes, back to
back (an integer fills every CPU's value). Elements are written with BPF_ANY before the run.
MAP is the map's name as `lull inspect` prints it (`obj.data` style for global data).
--dump-maps prints the same format (keys and values as hex strings).";

/// Runs the command.
pub fn run(args: Args) -> Result<Outcome> {
    match (&args.raw, &args.object) {
        (Some(raw), _) => run_raw(&args, raw),
        (None, Some(obj)) => run_object(&args, obj),
        (None, None) => bail!("give an object file or --raw FILE.bin"),
    }
}

fn run_raw(args: &Args, raw: &Path) -> Result<Outcome> {
    let bytes = input::read(raw)?;
    let insns = input::decode_raw(raw, &bytes)?;
    let mut mem = match &args.mem {
        Some(path) => input::read(path)?,
        None => Vec::new(),
    };
    let mut retval = 0u64;
    let duration_ns = match args.engine {
        Engine::Interp => {
            let program = Program::prepare(&insns, &PrepareOptions::default())
                .with_context(|| raw.display().to_string())?;
            let mut vm = Vm::new();
            median_ns_per_run(args.repeat, || {
                retval = vm.run_mem(&program, &mut mem)?;
                Ok::<(), lull_interp::Fault>(())
            })
        }
        Engine::Jit => {
            let program = JitProgram::compile(&insns, &PrepareOptions::default(), Mode::Checked)
                .with_context(|| raw.display().to_string())?;
            let mut vm = JitVm::new();
            median_ns_per_run(args.repeat, || {
                retval = vm.run(&program, Input::mem(&mut mem))?;
                Ok::<(), lull_interp::Fault>(())
            })
        }
    }
    .with_context(|| format!("{}: run failed", raw.display()))?;
    if args.json {
        let line = json!({
            "retval": retval,
            "duration_ns": duration_ns,
            "repeat": args.repeat.max(1),
        });
        println!("{line}");
    } else {
        println!("retval: {retval} ({retval:#x})");
        println!(
            "duration: {duration_ns} ns per run (median, {} runs)",
            args.repeat.max(1)
        );
    }
    Ok(Outcome::Success)
}

/// The default packet: 64 bytes, EtherType IPv4, everything else zero.
fn default_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08;
    p
}

fn run_object(args: &Args, path: &Path) -> Result<Outcome> {
    let name = args
        .program
        .as_deref()
        .ok_or_else(|| anyhow!("--program NAME is required with an object"))?;
    let repeat = u32::try_from(args.repeat.max(1)).context("--repeat is too large")?;
    // The same kernel BTF for CO-RE/kfunc resolution in the object and for the runtime's
    // verifier, so kfunc ids agree (and it is parsed once).
    let kernel_btf = input::kernel_btf(None)?.map(Arc::new);
    let object = input::open_object(path, kernel_btf.as_deref())?;
    let task = args
        .task
        .map(|pid| {
            Task::from_pid(pid)
                .map(Arc::new)
                .with_context(|| format!("--task {pid}"))
        })
        .transpose()?;
    let rt = Runtime::with_options(RuntimeOptions {
        task,
        kernel_btf,
        cpus: args.cpus,
        mode: if args.trusted {
            ExecMode::Trusted
        } else {
            ExecMode::Checked
        },
        engine: match args.engine {
            Engine::Interp => lull_runtime::Engine::Interp,
            Engine::Jit => lull_runtime::Engine::Jit,
        },
        ..RuntimeOptions::default()
    });
    let loaded = rt
        .load(object)
        .with_context(|| format!("loading {}", path.display()))?;
    for spec in &args.map_init {
        init_map(&loaded, spec)?;
    }
    let program = match loaded.program(name) {
        Ok(p) => p,
        Err(LoadError::Rejected { message, log, .. }) => {
            if args.json {
                println!(
                    "{}",
                    json!({"program": name, "accepted": false, "error": message})
                );
            } else {
                eprint!("{log}");
                eprintln!("lull: program '{name}' rejected by the verifier: {message}");
            }
            return Ok(Outcome::Failed);
        }
        Err(e) => return Err(e).with_context(|| path.display().to_string()),
    };
    let data = match &args.data {
        Some(p) => input::read(p)?,
        None => default_packet(),
    };
    let ctx = args.ctx.as_deref().map(input::read).transpose()?;
    let out = program
        .test_run(&TestRun {
            data,
            ctx,
            repeat,
            cpu: args.cpu,
        })
        .with_context(|| format!("running '{name}'"))?;
    let trace: Vec<String> = rt.trace().drain().into_iter().map(|r| r.message).collect();
    let maps = args.dump_maps.then(|| dump_maps(&loaded));
    if args.json {
        let mut v = json!({
            "retval": out.retval,
            "duration_ns": out.duration_ns,
            "repeat": repeat,
            "program": name,
            "cpu": out.cpu,
            "trace": trace,
        });
        if let Some(pid) = args.task {
            v["task"] = json!(pid);
        }
        if let Some(d) = &out.data_out {
            v["data_out"] = json!(hex(d));
        }
        if out.ctx_changed {
            v["ctx_out"] = json!(hex(&out.ctx_out));
        }
        if let Some(m) = maps {
            v["maps"] = m;
        }
        println!("{v}");
    } else {
        let r = out.retval;
        println!("retval: {r} ({r:#x}, as i32: {})", r as u32 as i32);
        println!(
            "duration: {} ns per run (median, {repeat} runs)",
            out.duration_ns
        );
        if let Some(d) = &out.data_out
            && args
                .data
                .as_deref()
                .map(input::read)
                .transpose()?
                .unwrap_or_else(default_packet)
                != *d
        {
            println!("data_out: {}", hex(d));
        }
        if out.ctx_changed {
            println!("ctx_out: {}", hex(&out.ctx_out));
        }
        for line in &trace {
            println!("trace: {line}");
        }
        if let Some(Value::Array(ms)) = maps {
            for m in ms {
                println!(
                    "map {}: {}",
                    m["name"].as_str().unwrap_or("?"),
                    m["entries"]
                );
            }
        }
    }
    Ok(Outcome::Success)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses BYTES (see the help) into exactly `size` bytes (`fill`: an integer repeats per
/// `unit`-byte chunk, for per-CPU values).
fn parse_bytes(v: &Value, size: usize, unit: usize, what: &str) -> Result<Vec<u8>> {
    let bytes = match v {
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| anyhow!("{what}: {x} is not a byte"))
            })
            .collect::<Result<Vec<u8>>>()?,
        Value::String(s) => {
            let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
            let s = s.strip_prefix("0x").unwrap_or(&s);
            if !s.len().is_multiple_of(2) {
                bail!("{what}: hex string of odd length");
            }
            (0..s.len())
                .step_by(2)
                .map(|i| {
                    u8::from_str_radix(&s[i..i + 2], 16)
                        .map_err(|_| anyhow!("{what}: bad hex digits '{}'", &s[i..i + 2]))
                })
                .collect::<Result<Vec<u8>>>()?
        }
        Value::Number(n) => {
            let n = n
                .as_u64()
                .ok_or_else(|| anyhow!("{what}: {n} is not a non-negative integer"))?;
            let mut one = n.to_le_bytes().to_vec();
            one.resize(unit.max(8), 0);
            if unit < 8 && n >> (unit * 8) != 0 {
                bail!("{what}: {n} does not fit in {unit} bytes");
            }
            one.truncate(unit);
            one.repeat(size / unit.max(1))
        }
        other => bail!("{what}: expected bytes, found {other}"),
    };
    if bytes.len() != size {
        bail!("{what}: {} bytes given, the map needs {size}", bytes.len());
    }
    Ok(bytes)
}

fn init_map(obj: &lull_runtime::LoadedObject, spec: &str) -> Result<()> {
    let (name, file) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("--map-init expects MAP=FILE.json, got '{spec}'"))?;
    let map = obj
        .map(name)
        .ok_or_else(|| anyhow!("--map-init: the object has no map '{name}'"))?;
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    let json: Value = serde_json::from_str(&text).with_context(|| format!("parsing {file}"))?;
    let elems = json
        .as_array()
        .ok_or_else(|| anyhow!("{file}: expected a JSON array of elements"))?;
    let s = map.spec();
    let value_size = map.host_value_size();
    let unit = if s.is_percpu() {
        (s.value_size as usize).next_multiple_of(8)
    } else {
        value_size
    };
    for (i, e) in elems.iter().enumerate() {
        let what = |f: &str| format!("{file}: element {i}: {f}");
        let value = e
            .get("value")
            .ok_or_else(|| anyhow!("{}", what("missing \"value\"")))?;
        let value = parse_bytes(value, value_size, unit, &what("value"))?;
        let key = match e.get("key") {
            Some(k) => parse_bytes(k, s.key_size as usize, s.key_size as usize, &what("key"))?,
            None if s.key_size == 0 => Vec::new(),
            None => bail!("{}", what("missing \"key\"")),
        };
        map.update(&key, &value, 0)
            .map_err(|e| anyhow!("{}: {e}", what("update")))?;
    }
    Ok(())
}

/// Every map's name, type and elements (hex), at most 4096 elements per map.
fn dump_maps(obj: &lull_runtime::LoadedObject) -> Value {
    const MAX: usize = 4096;
    let mut out = Vec::new();
    for (def, map) in obj.object().maps.iter().zip(obj.maps()) {
        let mut entries = Vec::new();
        match map.map_type() {
            MapType::Ringbuf | MapType::ProgArray => {}
            MapType::Queue | MapType::Stack => {
                if let Ok(v) = map.lookup_copy(&[], 0) {
                    entries.push(json!({"value": hex(&v)}));
                }
            }
            _ => {
                let mut key: Option<Vec<u8>> = None;
                while entries.len() < MAX {
                    let Ok(k) = map.get_next_key(key.as_deref()) else {
                        break;
                    };
                    if let Ok(v) = map.lookup_copy(&k, 0) {
                        entries.push(json!({"key": hex(&k), "value": hex(&v)}));
                    }
                    key = Some(k);
                }
            }
        }
        let mut m = json!({
            "name": def.name,
            "type": map.map_type().name(),
            "entries": entries,
        });
        if let Some(rb) = map.ringbuf() {
            m["ringbuf_avail"] = json!(rb.query(0));
        }
        if map.map_type() == MapType::ProgArray {
            let set: Vec<u32> = (0..map.spec().max_entries)
                .filter(|&i| map.prog_slot_is_set(i))
                .collect();
            m["slots_set"] = json!(set);
        }
        out.push(m);
    }
    Value::Array(out)
}
