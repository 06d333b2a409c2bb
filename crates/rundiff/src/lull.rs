//! The Lull side of a case: load the object with `lull-runtime`, write the prefill, run the
//! program once on the case's CPU (with either engine, checked or trusted), and dump every map the way `bpf()`
//! would show it.

use std::path::Path;
use std::sync::Arc;

use lull_abi::{MapType, ProgType};
use lull_maps::{Map, RingbufConsumer};
use lull_runtime::context::ContextKind;
use lull_runtime::{
    Engine, ExecMode, LoadedObject, LoadedProgram, Runtime, RuntimeOptions, TestRun,
};

use crate::dump::{MapDump, RunResult, canonical_map_name};
use crate::manifest::Case;
use crate::{Error, Result};

/// One way of running programs in Lull: an engine and a mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LullConfig {
    /// The engine.
    pub engine: Engine,
    /// Checked or trusted.
    pub mode: ExecMode,
}

impl LullConfig {
    /// The reference: the interpreter, every access checked.
    pub const REFERENCE: LullConfig = LullConfig {
        engine: Engine::Interp,
        mode: ExecMode::Checked,
    };

    /// Every engine in every mode, the reference first.
    pub fn all() -> Vec<LullConfig> {
        [Engine::Interp, Engine::Jit]
            .into_iter()
            .flat_map(|engine| {
                [ExecMode::Checked, ExecMode::Trusted].map(|mode| LullConfig { engine, mode })
            })
            .collect()
    }

    /// `interp checked`, `jit trusted`, …
    pub fn label(&self) -> String {
        let mode = match self.mode {
            ExecMode::Checked => "checked",
            ExecMode::Trusted => "trusted",
        };
        format!("{} {mode}", self.engine.name())
    }
}

/// A runtime configured like the kernel under test: `nr_cpus` CPUs, running programs the
/// way `config` says.
pub fn runtime(nr_cpus: u32, config: LullConfig) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cpus: Some(nr_cpus),
        mode: config.mode,
        engine: config.engine,
        ..RuntimeOptions::default()
    })
}

/// Opens `obj_path` in `rt`.
pub fn load(rt: &Runtime, obj_path: &Path) -> Result<LoadedObject> {
    let object = lull_object::Object::open(obj_path, &Default::default())
        .map_err(|e| Error::Lull(format!("open {}: {e}", obj_path.display())))?;
    rt.load(object)
        .map_err(|e| Error::Lull(format!("load {}: {e}", obj_path.display())))
}

/// The map of `obj` a manifest names (by its own name or its canonical one).
pub fn find_map<'a>(obj: &'a LoadedObject, name: &str) -> Option<&'a Arc<Map>> {
    obj.object()
        .maps
        .iter()
        .zip(obj.maps())
        .find(|(d, _)| d.name == name || canonical_map_name(&d.name) == name)
        .map(|(_, m)| m)
}

/// A case made ready to run: its object loaded in a fresh runtime, the prefill written.
pub struct Prepared {
    /// The loaded object (its maps are the case's maps).
    pub obj: LoadedObject,
    /// The case's program.
    pub prog: Arc<LoadedProgram>,
    /// The test-run input of the case, `repeat` times.
    pub input: TestRun,
}

/// Loads `case` in a fresh Lull runtime configured by `config`, writes its prefill and builds
/// its input for `repeat` runs. `Ok(Err(why))` when Lull does not load the object or the
/// program (the kernel may disagree about it).
pub fn prepare_case(
    obj_path: &Path,
    case: &Case,
    nr_cpus: u32,
    config: LullConfig,
    repeat: u32,
) -> Result<std::result::Result<Prepared, String>> {
    let rt = runtime(nr_cpus, config);
    let obj = match load(&rt, obj_path) {
        Ok(o) => o,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let prog = match obj.program(&case.program) {
        Ok(p) => p,
        Err(e) => return Ok(Err(format!("load: {e}"))),
    };
    for p in &case.prefill {
        let map = find_map(&obj, &p.map)
            .ok_or_else(|| Error::Manifest(format!("case '{}': no map '{}'", case.name, p.map)))?;
        map.update(&p.key_bytes()?, &p.value_bytes(nr_cpus)?, p.flags)
            .map_err(|e| Error::Lull(format!("prefill of '{}': {e}", p.map)))?;
    }
    let input = TestRun {
        data: case.data_bytes()?,
        ctx: case.ctx_bytes()?,
        repeat,
        cpu: Some(case.cpu),
    };
    Ok(Ok(Prepared { obj, prog, input }))
}

/// Runs `case` once in a fresh Lull runtime configured by `config`. A load or run failure is
/// part of the result (the kernel may disagree about it), not an error.
pub fn run_case(
    obj_path: &Path,
    case: &Case,
    nr_cpus: u32,
    config: LullConfig,
) -> Result<RunResult> {
    let Prepared { obj, prog, input } = match prepare_case(obj_path, case, nr_cpus, config, 1)? {
        Ok(p) => p,
        Err(why) => return Ok(failed(why)),
    };
    let mut result = RunResult::default();
    match prog.test_run(&input) {
        Ok(out) => {
            result.retval = out.retval as u32;
            if !input.data.is_empty() {
                result.data_out = out.data_out.unwrap_or_default();
            }
            // The kernel returns the context of syscall programs (in place) and of packet
            // programs (`__sk_buff`, `xdp_md`), when the caller gave one.
            let returns_ctx = prog.prog_type() == ProgType::Syscall
                || matches!(
                    prog.context_kind(),
                    ContextKind::Skb { .. } | ContextKind::Xdp
                );
            if returns_ctx && input.ctx.is_some() {
                result.ctx_out = out.ctx_out;
            }
        }
        Err(e) => result.run_error = Some(format!("run: {e}")),
    }
    for (def, map) in obj.object().maps.iter().zip(obj.maps()) {
        if let Some(d) = dump_map(map) {
            result.maps.insert(canonical_map_name(&def.name), d);
        }
    }
    Ok(result)
}

fn failed(why: String) -> RunResult {
    RunResult {
        run_error: Some(why),
        ..RunResult::default()
    }
}

/// A map's contents as `bpf()` shows them (`None` for prog arrays, which are not compared).
pub fn dump_map(map: &Arc<Map>) -> Option<MapDump> {
    let mut out = MapDump::new();
    match map.map_type() {
        MapType::ProgArray => return None,
        MapType::Ringbuf => {
            let consumer = RingbufConsumer::new(Arc::clone(map)).ok()?;
            let _ = consumer.consume(|r| {
                out.push((Vec::new(), r.to_vec()));
                0
            });
        }
        MapType::Queue | MapType::Stack => {
            while let Ok(v) = map.lookup_and_delete(&[], 0) {
                out.push((Vec::new(), v));
            }
        }
        t => {
            let inner = matches!(t, MapType::ArrayOfMaps | MapType::HashOfMaps);
            let mut key: Option<Vec<u8>> = None;
            // Bounded: a broken iteration must not hang the comparison.
            let limit = map.spec().max_entries as usize + 1;
            for _ in 0..limit {
                let Ok(next) = map.get_next_key(key.as_deref()) else {
                    break;
                };
                if let Ok(v) = map.lookup_copy(&next, 0) {
                    out.push((next.clone(), if inner { Vec::new() } else { v }));
                }
                key = Some(next);
            }
            out.sort();
        }
    }
    Some(out)
}
