//! Loading an object for execution: [`Runtime::load`] creates every map of a parsed object with
//! `lull-maps` (global data with its initial contents, `.rodata`/`.kconfig` frozen, prog arrays
//! and map-in-maps filled from the object's initial slots), and [`LoadedObject::program`]
//! verifies a program with `lull-verifier` (refusing a rejected one with the verifier's
//! message) and prepares it for the interpreter, resolving its `ld_imm64` map references.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use lull_abi::{MapType, map_flags};
use lull_isa::LdImm64Kind;
use lull_maps::{Map, MapError, MapSpec};
use lull_object::{InitSlot, MapDef, Object, ObjectError};

use crate::engine::Code;
use crate::program::{ExecMode, LoadedProgram, StaticRegion};
use crate::verify::{VerifyOptions, map_info, verifier_input};
use crate::{Runtime, raw};

/// Why an object or program cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A map could not be created.
    #[error("map '{map}': {source}")]
    Map {
        /// Map name.
        map: String,
        /// The kernel-style error.
        source: MapError,
    },
    /// The object loader refuses the program (unknown section, unresolved extern…).
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// The verifier rejected the program.
    #[error("program '{program}' rejected by the verifier: {message}")]
    Rejected {
        /// Program name.
        program: String,
        /// The verifier's message.
        message: String,
        /// The verifier log.
        log: String,
    },
    /// The program calls a kfunc the runtime does not implement.
    #[error("program '{program}': kfunc {kfunc} is not implemented by the runtime ({source})")]
    UnknownKfunc {
        /// Program name.
        program: String,
        /// The kfunc's name in the kernel BTF (else its BTF id).
        kfunc: String,
        /// The interpreter's error.
        source: lull_interp::PrepareError,
    },
    /// The interpreter cannot run the verified program.
    #[error("program '{program}': {source}")]
    Prepare {
        /// Program name.
        program: String,
        /// Why.
        source: lull_interp::PrepareError,
    },
    /// The JIT engine failed to compile the verified program.
    #[error("program '{program}': JIT compilation failed: {message}")]
    Compile {
        /// Program name.
        program: String,
        /// Cranelift's error.
        message: String,
    },
}

/// An object whose maps exist, with its programs loaded on demand.
pub struct LoadedObject {
    runtime: Runtime,
    object: Object,
    maps: Vec<Arc<Map>>,
    handles: Arc<[u64]>,
    regions: Arc<[StaticRegion]>,
    programs: Mutex<HashMap<String, Arc<LoadedProgram>>>,
}

impl std::fmt::Debug for LoadedObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedObject")
            .field("name", &self.object.name)
            .field("maps", &self.maps.len())
            .finish_non_exhaustive()
    }
}

/// The `MapSpec` of an object's map.
pub fn map_spec(def: &MapDef, btf: Option<&lull_btf::Btf>) -> MapSpec {
    let info = map_info(def, btf);
    let mut spec = MapSpec::new(def.map_type, def.key_size, def.value_size, def.max_entries)
        .with_flags(def.flags)
        .with_name(def.name.clone());
    spec.spin_lock_off = info.spin_lock_off;
    if let Some(inner) = &def.inner {
        spec = spec.with_inner(map_spec(inner, btf));
    }
    spec
}

impl Runtime {
    /// Creates the maps of `object`.
    pub fn load(&self, object: Object) -> Result<LoadedObject, LoadError> {
        let btf = object.btf.as_ref();
        let ctx = &self.shared.map_ctx;
        let mut maps = Vec::with_capacity(object.maps.len());
        for def in &object.maps {
            let err = |source| LoadError::Map {
                map: def.name.clone(),
                source,
            };
            let spec = map_spec(def, btf);
            let map = if def.kind.is_global_data() {
                Map::create_with_data(spec, ctx, &def.data).map_err(err)?
            } else {
                Map::create(spec, ctx).map_err(err)?
            };
            if def.frozen {
                map.freeze().map_err(err)?;
            }
            maps.push(map);
        }
        // Map-in-map initial slots (prog arrays are filled when their programs load).
        for (def, map) in object.maps.iter().zip(&maps) {
            for (index, slot) in &def.init_slots {
                if let InitSlot::Map(i) = slot {
                    let inner = maps.get(*i).cloned().ok_or_else(|| LoadError::Map {
                        map: def.name.clone(),
                        source: MapError::NotFound,
                    })?;
                    map.update_inner_map(&index.to_ne_bytes(), inner, 0)
                        .map_err(|source| LoadError::Map {
                            map: def.name.clone(),
                            source,
                        })?;
                }
            }
        }
        let handles: Arc<[u64]> = maps.iter().map(raw::map_handle).collect();
        let regions: Arc<[StaticRegion]> = object
            .maps
            .iter()
            .zip(&maps)
            .filter(|(d, _)| d.kind.is_global_data())
            .filter_map(|(d, m)| {
                let p = m.direct_value_addr(0).ok()?;
                Some(StaticRegion {
                    addr: p.as_ptr().expose_provenance() as u64,
                    len: d.value_size as usize,
                    writable: m.prog_can_write(),
                })
            })
            .collect();
        Ok(LoadedObject {
            runtime: self.clone(),
            object,
            maps,
            handles,
            regions,
            programs: Mutex::new(HashMap::new()),
        })
    }
}

impl LoadedObject {
    /// The runtime the object was loaded into.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The parsed object.
    pub fn object(&self) -> &Object {
        &self.object
    }

    /// The maps, in the object's order.
    pub fn maps(&self) -> &[Arc<Map>] {
        &self.maps
    }

    /// The map named `name` (libbpf's names: `<obj>.data` for global data).
    pub fn map(&self, name: &str) -> Option<&Arc<Map>> {
        let i = self.object.maps.iter().position(|m| m.name == name)?;
        self.maps.get(i)
    }

    /// Verifies and prepares program `name` (once; later calls return the same program), and
    /// the programs its object's prog arrays name initially, whose slots it fills.
    pub fn program(&self, name: &str) -> Result<Arc<LoadedProgram>, LoadError> {
        let p = self.load_one(name)?;
        self.fill_prog_arrays(name);
        Ok(p)
    }

    fn load_one(&self, name: &str) -> Result<Arc<LoadedProgram>, LoadError> {
        if let Some(p) = self.lock().get(name) {
            return Ok(Arc::clone(p));
        }
        let program = self.object.loadable_program(name)?;
        let kernel_btf = self.runtime.kernel_btf().map(|b| &**b);
        let mut input = verifier_input(&self.object, program, &VerifyOptions::default());
        input.kernel_btf = kernel_btf;
        let outcome = lull_verifier::verify(&input);
        if !outcome.accepted {
            let message = outcome
                .error
                .as_ref()
                .map_or_else(|| "rejected".to_string(), |e| e.message.clone());
            return Err(LoadError::Rejected {
                program: name.to_string(),
                message,
                log: outcome.log,
            });
        }
        let (helpers, kfuncs) = self
            .runtime
            .shared
            .registry
            .tables(&program.decoded, kernel_btf);
        let handles = Arc::clone(&self.handles);
        let maps = self.maps.clone();
        let resolver: lull_interp::LdImm64Resolver = Arc::new(move |kind, imm, next_imm| {
            let map = usize::try_from(imm)
                .ok()
                .and_then(|i| maps.get(i).map(|m| (i, m)))
                .ok_or_else(|| format!("no map #{imm}"))?;
            match kind {
                LdImm64Kind::MapFd | LdImm64Kind::MapIdx => Ok(handles[map.0]),
                LdImm64Kind::MapValue | LdImm64Kind::MapIdxValue => map
                    .1
                    .direct_value_addr(next_imm as u32)
                    .map(|p| p.as_ptr().expose_provenance() as u64)
                    .map_err(|e| e.to_string()),
                other => Err(format!("{other:?} is not supported by the runtime")),
            }
        });
        let opts = lull_interp::PrepareOptions {
            helpers,
            kfuncs,
            resolver: Some(resolver),
            packet_loader: Some(crate::helpers::packet::LOADER),
            ..lull_interp::PrepareOptions::default()
        };
        let trustable = outcome.unmodelled_helpers.is_empty();
        let shared = &self.runtime.shared;
        let mode = if trustable {
            shared.mode
        } else {
            ExecMode::Checked
        };
        let code = Code::prepare(&program.decoded, &opts, shared, mode).map_err(|e| {
            match crate::engine::split_error(e) {
                Ok(source) => prepare_error(name, kernel_btf, source),
                Err(message) => LoadError::Compile {
                    program: name.to_string(),
                    message,
                },
            }
        })?;
        let loaded = Arc::new(LoadedProgram {
            name: name.to_string(),
            prog_type: program.prog_type,
            sleepable: program.sleepable,
            code,
            map_handles: Arc::clone(&self.handles),
            regions: Arc::clone(&self.regions),
            trustable,
            shared: Arc::clone(&self.runtime.shared),
        });
        self.lock().insert(name.to_string(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Loads the programs the object's prog arrays hold initially; a program that fails to
    /// load leaves its slot empty (a tail call to it then falls through).
    fn fill_prog_arrays(&self, _requested: &str) {
        for (def, map) in self.object.maps.iter().zip(&self.maps) {
            if def.map_type != MapType::ProgArray {
                continue;
            }
            for (index, slot) in &def.init_slots {
                if let InitSlot::Program(p) = slot
                    && !map.prog_slot_is_set(*index)
                    && let Ok(prog) = self.load_one(p)
                {
                    let _ = map.set_prog(*index, prog);
                }
            }
        }
    }

    /// Puts program `prog` into slot `index` of prog array `map` (loading it if needed).
    pub fn set_tail_call(&self, map: &str, index: u32, prog: &str) -> Result<(), LoadError> {
        let m = self.map(map).ok_or_else(|| LoadError::Map {
            map: map.to_string(),
            source: MapError::NotFound,
        })?;
        let p = self.load_one(prog)?;
        m.set_prog(index, p).map_err(|source| LoadError::Map {
            map: map.to_string(),
            source,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedProgram>>> {
        self.programs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for LoadedObject {
    /// Prog arrays hold their programs, which hold the object's maps: empty the arrays so the
    /// cycle is broken (the kernel does the same when the last user reference goes).
    fn drop(&mut self) {
        for map in &self.maps {
            if map.map_type() == MapType::ProgArray {
                for i in 0..map.spec().max_entries {
                    let _ = map.delete(&i.to_ne_bytes());
                }
            }
        }
    }
}

/// The load error for program `program` the interpreter cannot prepare; a kfunc without an
/// implementation is named by its name in `kernel_btf` (module 0: vmlinux), else its id.
fn prepare_error(
    program: &str,
    kernel_btf: Option<&lull_btf::Btf>,
    source: lull_interp::PrepareError,
) -> LoadError {
    let program = program.to_string();
    let lull_interp::PrepareError::UnknownKfunc { btf_id, module, .. } = source else {
        return LoadError::Prepare { program, source };
    };
    let kfunc = kernel_btf
        .filter(|_| module == 0)
        .zip(u32::try_from(btf_id).ok())
        .map(|(btf, id)| btf.name_of(id))
        .filter(|name| !name.is_empty())
        .map_or_else(|| format!("btf_id {btf_id}"), str::to_string);
    LoadError::UnknownKfunc {
        program,
        kfunc,
        source,
    }
}

/// Whether a map's values are read-only for programs.
pub fn prog_read_only(def: &MapDef) -> bool {
    def.flags & map_flags::RDONLY_PROG != 0
}
