//! [`LoadedProgram`]: a verified program prepared for the interpreter, and its runs — the
//! analogue of `BPF_PROG_TEST_RUN` ([`LoadedProgram::test_run`]).
//!
//! A run takes a virtual CPU for its whole duration, opens a read section of the maps' RCU
//! domain (sleepable for sleepable programs, atomic otherwise), exposes the context, the
//! packet and the global-data values to the program (checked runs validate every access
//! against them and against the map values helpers return), runs the program and the
//! programs it tail-calls, and releases everything before giving the CPU back.

use std::sync::Arc;
use std::time::Instant;

use lull_abi::ProgType;
use lull_interp::{Fault, Input, Permission};
use lull_task::Task;

use crate::Shared;
use crate::context::{Context, ContextError, ContextKind};
use crate::cpu::CpuGuard;
use crate::engine::{Code, Vm};
use crate::env::RunEnv;
use crate::raw::SendVm;
use crate::trace::TraceSink;

/// How programs execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ExecMode {
    /// Every memory access is validated (a verifier mistake becomes a fault, not a crash).
    #[default]
    Checked,
    /// No validation: the verifier's proof is trusted, as the kernel trusts its verifier.
    Trusted,
}

/// A memory block every run of the program may access (a global-data value).
#[derive(Clone, Copy, Debug)]
pub(crate) struct StaticRegion {
    pub(crate) addr: u64,
    pub(crate) len: usize,
    pub(crate) writable: bool,
}

/// What one run gets: r1..r5, the context memory (checked runs may access it), and the
/// packet as the packet helpers see it.
struct RunInput {
    args: [u64; 5],
    ctx_mem: Option<(*mut u8, usize)>,
    packet: Option<crate::helpers::packet::PacketView>,
}

/// A verified program, ready to run.
pub struct LoadedProgram {
    pub(crate) name: String,
    pub(crate) prog_type: ProgType,
    pub(crate) sleepable: bool,
    /// The program in its engine's form.
    pub(crate) code: Code,
    /// Handles of the object's maps (what checked runs accept as map arguments).
    pub(crate) map_handles: Arc<[u64]>,
    pub(crate) regions: Arc<[StaticRegion]>,
    /// Whether a trusted run is allowed (the verifier modelled every helper it calls).
    pub(crate) trustable: bool,
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for LoadedProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedProgram")
            .field("name", &self.name)
            .field("prog_type", &self.prog_type)
            .field("sleepable", &self.sleepable)
            .finish_non_exhaustive()
    }
}

/// What one test run gets (`BPF_PROG_TEST_RUN`'s inputs).
#[derive(Clone, Debug, Default)]
pub struct TestRun {
    /// Packet data (packet programs).
    pub data: Vec<u8>,
    /// Context bytes (`__sk_buff`/`xdp_md` fields, or the raw context of other programs).
    pub ctx: Option<Vec<u8>>,
    /// Runs; the reported duration is the median time of one.
    pub repeat: u32,
    /// Run on this virtual CPU (`BPF_F_TEST_RUN_ON_CPU`); default: any free one.
    pub cpu: Option<u32>,
}

/// What a test run returns.
#[derive(Clone, Debug)]
pub struct TestRunOutput {
    /// r0 of the last run.
    pub retval: u64,
    /// Median time of one run, in nanoseconds.
    pub duration_ns: u64,
    /// The packet after the run (packet programs).
    pub data_out: Option<Vec<u8>>,
    /// The context struct after the run.
    pub ctx_out: Vec<u8>,
    /// Whether the program changed the context.
    pub ctx_changed: bool,
    /// The virtual CPU it ran on.
    pub cpu: u32,
    /// Tail calls the last run made.
    pub tail_calls: u32,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The inputs do not make a valid context.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The program faulted (checked runs) or a helper failed.
    #[error("program '{program}': {fault}")]
    Fault {
        /// The program that faulted (a tail-call target, possibly).
        program: String,
        /// What happened.
        fault: Fault,
    },
    /// No such virtual CPU.
    #[error("no virtual CPU {0}")]
    NoSuchCpu(u32),
}

/// Number of timing batches of a repeated run (the median is taken over them).
const BATCHES: u32 = 15;

impl LoadedProgram {
    /// Function name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Program type.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// Whether it runs in sleepable read sections.
    pub fn sleepable(&self) -> bool {
        self.sleepable
    }

    /// How this program's context is built.
    pub fn context_kind(&self) -> ContextKind {
        ContextKind::of(self.prog_type)
    }

    /// Runs the program `repeat` times on one context, like `BPF_PROG_TEST_RUN`.
    pub fn test_run(self: &Arc<Self>, input: &TestRun) -> Result<TestRunOutput, RunError> {
        let mut ctx = Context::build(self.context_kind(), &input.data, input.ctx.as_deref())?;
        let cpus = &self.shared.cpus;
        let mut cpu = match (self.sleepable, input.cpu) {
            (true, Some(c)) => cpus.acquire_sleepable_on(c).ok_or(RunError::NoSuchCpu(c))?,
            (true, None) => cpus.acquire_sleepable(),
            (false, Some(c)) => cpus.acquire_on(c).ok_or(RunError::NoSuchCpu(c))?,
            (false, None) => cpus.acquire(),
        };
        let repeat = input.repeat.max(1);
        let batches = repeat.min(BATCHES);
        let mut samples = Vec::with_capacity(batches as usize);
        let mut retval = 0;
        for b in 0..batches {
            let size = repeat / batches + u32::from(b < repeat % batches);
            let start = Instant::now();
            retval = self.run_on(&mut cpu, &mut ctx, size)?;
            samples.push(start.elapsed().as_nanos() as f64 / f64::from(size));
        }
        samples.sort_by(f64::total_cmp);
        let tail_calls = cpu.state.env.tail_calls;
        Ok(TestRunOutput {
            retval,
            duration_ns: samples[samples.len() / 2].round() as u64,
            data_out: ctx.data_out(),
            ctx_out: ctx.ctx_out(),
            ctx_changed: ctx.ctx_changed(),
            cpu: cpu.id,
            tail_calls,
        })
    }

    /// Runs the program once with r1..r5 = `args` (a tracing-style call: the caller owns the
    /// memory the arguments point to and registers nothing). Trusted-mode only makes sense
    /// for arguments the verifier's context model covers; checked runs reject any access
    /// outside the stack, map values and global data.
    pub fn run_args(self: &Arc<Self>, args: [u64; 5]) -> Result<u64, RunError> {
        let cpus = &self.shared.cpus;
        let mut cpu = if self.sleepable {
            cpus.acquire_sleepable()
        } else {
            cpus.acquire()
        };
        self.run_raw(&mut cpu, 1, || RunInput {
            args,
            ctx_mem: None,
            packet: None,
        })
    }

    /// Runs the program `times` times on `ctx`, returning the last r0.
    fn run_on(
        self: &Arc<Self>,
        cpu: &mut CpuGuard<'_>,
        ctx: &mut Context,
        times: u32,
    ) -> Result<u64, RunError> {
        self.run_raw(cpu, times, || RunInput {
            args: [ctx.ctx_addr(), 0, 0, 0, 0],
            ctx_mem: Some(ctx.memory()),
            // Read again before every run: a run may have moved the packet.
            packet: ctx.packet_view(),
        })
    }

    /// Runs the program `times` times in one setup, as the kernel's test run does: the
    /// CPU's run state is prepared and the read section entered once, and each run gets the
    /// inputs `input` gives it and a fresh per-run state (tail-call count, inner maps found,
    /// helper buffers). Returns the last run's r0; stops at the first fault.
    #[allow(unsafe_code)] // see the SAFETY comments inside
    fn run_raw(
        self: &Arc<Self>,
        cpu: &mut CpuGuard<'_>,
        times: u32,
        mut input: impl FnMut() -> RunInput,
    ) -> Result<u64, RunError> {
        let shared = &self.shared;
        let checked = shared.mode == ExecMode::Checked || !self.trustable;
        let state = &mut *cpu.state;
        let env = &mut state.env;
        env.clear();
        env.checked = checked;
        if checked {
            env.maps.extend_from_slice(&self.map_handles);
        }
        let own_maps = env.maps.len();
        // The task and the trace sink stay in the CPU's state between runs (no reference-count
        // traffic per run); they are replaced when a run is for another task or runtime.
        with_current_task(shared, |task| {
            if !env.task.as_ref().is_some_and(|t| Arc::ptr_eq(t, task)) {
                env.task = Some(Arc::clone(task));
            }
        });
        let trace = Arc::as_ptr(&shared.trace);
        if !env
            .trace
            .as_ref()
            .is_some_and(|t| std::ptr::addr_eq(Arc::as_ptr(t), trace))
        {
            env.trace = Some(Arc::clone(&shared.trace) as Arc<dyn TraceSink>);
        }
        let vm = &mut state.vm.0;
        let domain = &shared.map_ctx.domain;
        let result = {
            let _section_atomic;
            let _section_sleepable;
            if self.sleepable {
                _section_sleepable = Some(domain.read_sleepable());
            } else {
                _section_atomic = Some(domain.read_atomic());
            }
            let mut last = Ok(0);
            for _ in 0..times {
                let RunInput {
                    args,
                    ctx_mem,
                    packet,
                } = input();
                env.packet = packet;
                env.ctx_mem = ctx_mem.map(|(p, len)| (p.expose_provenance(), len));
                env.tail_calls = 0;
                env.maps.truncate(own_maps);
                env.scratch.clear();
                last = self.exec(vm, env, args);
                if last.is_err() {
                    break;
                }
            }
            last.map_err(|fault| RunError::Fault {
                program: env
                    .faulted
                    .take()
                    .map_or_else(|| self.name.clone(), |p| p.name.clone()),
                fault,
            })
        };
        // Records a faulting program left reserved would block the ring forever: discard them.
        for (sample, handle) in env.reservations.drain(..) {
            // SAFETY: the handle was validated when the record was reserved and the object
            // keeps the map alive.
            let map = unsafe { crate::raw::map_from_handle(handle) };
            if let Some(rb) = map.ringbuf() {
                let _ = rb.discard(std::ptr::with_exposed_provenance(sample as usize), 0);
            }
        }
        let tail_calls = env.tail_calls;
        env.clear();
        env.tail_calls = tail_calls;
        result
    }

    /// Runs the code on `vm` with r1..r5 = `args` in the run `env` describes (checked or
    /// trusted; the context memory of `env.ctx_mem`), inside the caller's read section.
    /// Checked runs see exactly the context, this program's global data and what helpers
    /// register during the run.
    #[allow(unsafe_code)] // see the SAFETY comments inside
    fn exec(&self, vm: &mut Vm, env: &mut RunEnv, args: [u64; 5]) -> Result<u64, Fault> {
        let checked = env.checked;
        vm.clear_regions();
        if checked {
            // SAFETY: the context memory is owned by the caller of the run (its `Context`),
            // alive and not otherwise borrowed until the run ends; global-data values live as
            // long as their maps, which the program's object keeps. The regions are cleared
            // below, before the run returns.
            unsafe {
                if let Some((addr, len)) = env.ctx_mem {
                    let p = std::ptr::with_exposed_provenance_mut(addr);
                    vm.add_region(p, len, Permission::ReadWrite);
                }
                for r in self.regions.iter() {
                    let perm = if r.writable {
                        Permission::ReadWrite
                    } else {
                        Permission::ReadOnly
                    };
                    vm.add_region(
                        std::ptr::with_exposed_provenance_mut(r.addr as usize),
                        r.len,
                        perm,
                    );
                }
            }
        }
        let input = Input {
            mem: None,
            args: Some(args),
            env: Some(&mut *env),
        };
        let r = if checked {
            vm.run(&self.code, input)
        } else {
            // SAFETY: the program (and every tail-call target, verified when loaded) passed
            // the verifier, whose proof covers its memory accesses and helper arguments on
            // this context; the context and map memory are alive for the run.
            unsafe { vm.run_trusted(&self.code, input) }
        };
        vm.clear_regions();
        r
    }

    /// `bpf_tail_call` into `self` from a running program, with r1 = `ctx`: the target runs
    /// in place of the calling function — nested, on an interpreter state of its own — and
    /// its r0 becomes that function's return value (the kernel reuses the caller's frame;
    /// from a subprogram, control returns to the subprogram's caller). A fault inside is
    /// the run's fault, reported under this program's name.
    pub(crate) fn tail_call(self: &Arc<Self>, env: &mut RunEnv, ctx: u64) -> Result<u64, Fault> {
        let mut vm = env.tail_vms.pop().unwrap_or_else(|| SendVm(Vm::new()));
        let outer_checked = env.checked;
        // A target the verifier could not fully model runs checked even in a trusted run.
        env.checked = outer_checked || !self.trustable;
        if env.checked {
            env.maps.extend_from_slice(&self.map_handles);
        }
        let r = self.exec(&mut vm.0, env, [ctx, 0, 0, 0, 0]);
        env.checked = outer_checked;
        env.tail_vms.push(vm);
        if r.is_err() && env.faulted.is_none() {
            env.faulted = Some(Arc::clone(self));
        }
        r
    }
}

thread_local! {
    static CURRENT_TASK: std::cell::OnceCell<Arc<Task>> = const { std::cell::OnceCell::new() };
}

/// Calls `f` with the task a run is for: the runtime's configured task, else the calling
/// thread.
fn with_current_task<R>(shared: &Shared, f: impl FnOnce(&Arc<Task>) -> R) -> R {
    if let Some(t) = &shared.task {
        return f(t);
    }
    CURRENT_TASK.with(|c| {
        let task = c.get_or_init(|| {
            Arc::new(
                Task::current_thread().unwrap_or_else(|_| Task::synthetic(0, 0, 0, 0, b"lull")),
            )
        });
        f(task)
    })
}
