//! [`RunEnv`]: the state helpers see during one run (the host state the interpreter passes to
//! every helper): the CPU, the current task, the trace sink, the context memory and the tail-call state, the ring
//! buffer records reserved and not yet released, and, in checked runs, the maps the program
//! may name.

use std::sync::Arc;

use lull_task::Task;

use crate::program::LoadedProgram;
use crate::raw::SendVm;
use crate::trace::TraceSink;

/// Per-run helper state; one per virtual CPU, reset at the start of every run.
pub struct RunEnv {
    /// The virtual CPU running the program.
    pub(crate) cpu: u32,
    /// Whether memory accesses are validated (and map handles checked).
    pub(crate) checked: bool,
    /// Map handles the program may pass (checked runs): its object's maps, then inner maps
    /// found by lookups during the run.
    pub(crate) maps: Vec<u64>,
    /// The task the program runs on behalf of.
    pub(crate) task: Option<Arc<Task>>,
    /// Where `bpf_trace_printk` output goes.
    pub(crate) trace: Option<Arc<dyn TraceSink>>,
    /// The context memory of the run (address, length), registered again for every program
    /// a tail call starts.
    pub(crate) ctx_mem: Option<(usize, usize)>,
    /// Interpreter states for tail-call targets (a target runs nested, on its own stack, in
    /// place of the calling function's frame), kept across runs.
    pub(crate) tail_vms: Vec<SendVm>,
    /// The tail-call target that faulted, if a fault happened inside one (the run's fault
    /// names it).
    pub(crate) faulted: Option<Arc<LoadedProgram>>,
    /// Tail calls made so far in this run.
    pub(crate) tail_calls: u32,
    /// Ring buffer records reserved and not yet submitted or discarded: (sample, map handle).
    pub(crate) reservations: Vec<(u64, u64)>,
    /// Buffers helpers exposed to the program for the rest of the run (keys passed to
    /// `for_each_map_elem` callbacks).
    pub(crate) scratch: Vec<Box<[u8]>>,
    /// `bpf_get_prandom_u32` state (per CPU, like the kernel's).
    pub(crate) rng: u64,
    /// `bpf_get_func_ip` result.
    pub(crate) func_ip: u64,
    /// `bpf_get_attach_cookie` result.
    pub(crate) cookie: u64,
    /// The socket buffer's headers and data, in runs of socket-buffer programs (`LD_ABS`).
    pub(crate) packet: Option<crate::helpers::packet::PacketView>,
}

impl RunEnv {
    pub(crate) fn new(cpu: u32) -> RunEnv {
        let seed = crate::raw::clock_ns(libc::CLOCK_MONOTONIC) ^ (u64::from(cpu) << 32);
        RunEnv {
            cpu,
            checked: true,
            maps: Vec::new(),
            task: None,
            trace: None,
            ctx_mem: None,
            tail_vms: Vec::new(),
            faulted: None,
            tail_calls: 0,
            reservations: Vec::new(),
            scratch: Vec::new(),
            rng: seed | 1,
            func_ip: 0,
            cookie: 0,
            packet: None,
        }
    }

    /// The next pseudo-random number (xorshift64*).
    pub(crate) fn next_random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Whether `handle` names a map the program may use (always true in trusted runs, where
    /// the verifier's proof stands).
    pub(crate) fn knows_map(&self, handle: u64) -> bool {
        !self.checked || self.maps.contains(&handle)
    }

    /// Drops everything that refers to the finished run (the task and the trace sink stay:
    /// the next run on this CPU usually has the same, see `LoadedProgram::run_raw`).
    pub(crate) fn clear(&mut self) {
        self.maps.clear();
        self.ctx_mem = None;
        self.faulted = None;
        self.tail_calls = 0;
        self.reservations.clear();
        self.scratch.clear();
        self.packet = None;
    }
}
