//! `lull-runtime`: the embedding API over Lull's crates — load BPF objects, verify their
//! programs, run them with the kernel's maps, helpers and contexts.
//!
//! ```no_run
//! use lull_runtime::{Runtime, TestRun};
//!
//! let rt = Runtime::new();
//! let obj = rt.load(lull_object::Object::open("prog.bpf.o", &Default::default())?)?;
//! let prog = obj.program("handle")?;            // verified and prepared
//! let out = prog.test_run(&TestRun { data: vec![0; 64], ..TestRun::default() })?;
//! println!("r0 = {}", out.retval);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Module map: [`verify`] (object program → verifier input), [`loader`] (maps, verification,
//! preparation: [`Runtime::load`], [`LoadedObject`]), [`program`] (runs: [`LoadedProgram`],
//! [`TestRun`]), [`hook`] (host-defined hooks: attach, detach, run), [`cpu`] (virtual CPUs),
//! [`engine`] (interpreter or JIT), [`context`] (packet and tracing contexts), [`helpers`]
//! (helper functions by kernel id, [`Registry`]), [`trace`] (the `trace_printk` stream), `env`
//! (per-run helper state), `raw` (every raw pointer and system call, with its safety argument).
#![deny(unsafe_code)]

pub mod context;
pub mod cpu;
pub mod engine;
mod env;
pub mod helpers;
pub mod hook;
pub mod loader;
pub mod program;
mod raw;
pub mod trace;
pub mod verify;

use std::sync::Arc;

pub use engine::Engine;
pub use env::RunEnv;
pub use helpers::Registry;
pub use hook::{Combine, Hook, HookError, HookInput, HookOutcome, HookSpec, Link};
pub use loader::{LoadError, LoadedObject};
pub use program::{ExecMode, LoadedProgram, RunError, TestRun, TestRunOutput};
pub use trace::{TraceBuffer, TraceRecord, TraceSink};

use lull_maps::MapContext;
use lull_task::Task;

/// What every object and program of a runtime shares.
pub(crate) struct Shared {
    pub(crate) map_ctx: MapContext,
    pub(crate) cpus: cpu::Cpus,
    pub(crate) registry: Registry,
    pub(crate) trace: Arc<TraceBuffer>,
    pub(crate) task: Option<Arc<Task>>,
    pub(crate) mode: ExecMode,
    pub(crate) engine: Engine,
    /// The options' kernel BTF, else the machine's, read on first use.
    pub(crate) kernel_btf: std::sync::OnceLock<Option<Arc<lull_btf::Btf>>>,
}

/// A Lull runtime: virtual CPUs, the maps' RCU domain, the helper registry and the trace
/// stream. Cheap to clone (a shared handle).
#[derive(Clone)]
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cpus", &self.shared.cpus.len())
            .field("mode", &self.shared.mode)
            .field("engine", &self.shared.engine)
            .finish_non_exhaustive()
    }
}

/// Options of [`Runtime::with_options`].
#[derive(Clone, Default)]
pub struct RuntimeOptions {
    /// Number of virtual CPUs (default: the machine's).
    pub cpus: Option<u32>,
    /// Execution mode (default: checked).
    pub mode: ExecMode,
    /// Execution engine (default: the interpreter).
    pub engine: Engine,
    /// Helpers and kfuncs (default: [`Registry::kernel`]).
    pub registry: Option<Registry>,
    /// The task programs run for (default: the calling thread).
    pub task: Option<Arc<Task>>,
    /// The RCU domain maps reclaim through (default: a new one).
    pub domain: Option<lull_rcu::Domain>,
    /// The kernel BTF programs are verified against and their kfunc calls resolved by
    /// (default: the running kernel's `/sys/kernel/btf/vmlinux` when readable, parsed once per
    /// process, on the first program load). Open objects with the same BTF as their
    /// `target_btf` so that their kfunc ids match it.
    pub kernel_btf: Option<Arc<lull_btf::Btf>>,
}

/// The running kernel's BTF, parsed on first use, or `None` when it is not readable.
fn machine_btf() -> Option<Arc<lull_btf::Btf>> {
    static BTF: std::sync::OnceLock<Option<Arc<lull_btf::Btf>>> = std::sync::OnceLock::new();
    BTF.get_or_init(|| lull_btf::Btf::vmlinux().ok().map(Arc::new))
        .clone()
}

impl Default for Runtime {
    fn default() -> Self {
        Runtime::new()
    }
}

impl Runtime {
    /// A runtime with the machine's number of CPUs, checked execution and the kernel helpers.
    pub fn new() -> Runtime {
        Runtime::with_options(RuntimeOptions::default())
    }

    /// A runtime configured by `opts`.
    pub fn with_options(opts: RuntimeOptions) -> Runtime {
        let machine = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let n = opts.cpus.unwrap_or(machine).max(1);
        let domain = opts.domain.unwrap_or_default();
        Runtime {
            shared: Arc::new(Shared {
                map_ctx: MapContext::with_domain(n, domain),
                cpus: cpu::Cpus::new(n),
                registry: opts.registry.unwrap_or_else(Registry::kernel),
                trace: Arc::new(TraceBuffer::new()),
                task: opts.task,
                mode: opts.mode,
                engine: opts.engine,
                kernel_btf: opts
                    .kernel_btf
                    .map_or_else(std::sync::OnceLock::new, |b| Some(b).into()),
            }),
        }
    }

    /// Number of virtual CPUs.
    pub fn nr_cpus(&self) -> u32 {
        self.shared.cpus.len()
    }

    /// The map context (CPUs and RCU domain) maps of this runtime are created in.
    pub fn map_context(&self) -> &MapContext {
        &self.shared.map_ctx
    }

    /// The kernel BTF programs are verified against and kfunc calls resolved by, if any.
    pub fn kernel_btf(&self) -> Option<&Arc<lull_btf::Btf>> {
        self.shared.kernel_btf.get_or_init(machine_btf).as_ref()
    }

    /// The trace stream (`bpf_trace_printk` output of every run).
    pub fn trace(&self) -> &Arc<TraceBuffer> {
        &self.shared.trace
    }
}
