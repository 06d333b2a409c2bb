//! The Lull verifier: decides, with the Linux kernel's rules, whether an eBPF program is safe to run.
//!
//! It follows the kernel's model (path exploration with state pruning over an abstract register
//! and stack state); [`domain`] holds the numeric abstract domain (tnums and range bounds).
//!
//! Entry point: [`verify`] takes a [`VerifyInput`] (instructions, program type, maps, flags) and
//! returns a [`VerifyOutcome`] (verdict, the kernel-style log, statistics). The phases run in the
//! kernel's order: subprograms and jumps (`cfg`), map references, the control-flow walk,
//! program-type rules (sleepable), exploration (`explore`, `check/*`, `prune`), and finally the
//! combined stack depth of call chains.
#![forbid(unsafe_code)]

mod btf_ptr;
mod cfg;
mod check;
pub mod domain;
mod error;
mod exception;
mod explore;
mod fastcall;
mod global_func;
mod input;
mod liveness;
mod log;
mod lsm;
mod precision;
pub mod prog_types;
pub mod proto;
mod prune;
mod sleepable;
mod stack_depth;
pub mod state;

pub use error::VerifierError;
pub use input::{
    Caps, ErrorInjection, FuncInfo, LineInfo, MapInfo, Rejection, SourceLine, VerifyInput,
    VerifyOutcome,
};

use explore::Verifier;
use lull_isa::{Insn, LdImm64Kind};
use std::time::Instant;

/// `BPF_MAXINSNS`: the longest program a loader without `CAP_BPF` may load.
const BPF_MAXINSNS: usize = 4096;

/// Map types a sleepable program may use (`check_map_prog_compatibility`, Linux 6.18).
fn sleepable_map_ok(t: lull_abi::MapType) -> bool {
    use lull_abi::MapType as M;
    matches!(
        t,
        M::Hash
            | M::LruHash
            | M::PercpuHash
            | M::LruPercpuHash
            | M::Array
            | M::PercpuArray
            | M::Ringbuf
            | M::UserRingbuf
            | M::Queue
            | M::Stack
            | M::TaskStorage
            | M::InodeStorage
            | M::SkStorage
            | M::CgrpStorage
            | M::ArrayOfMaps
            | M::HashOfMaps
            | M::Arena
    )
}

/// `resolve_pseudo_ldimm64`: every map reference names a map, map-value offsets are inside the
/// value, and the program may use the map.
fn resolve_maps(input: &VerifyInput<'_>) -> Result<(), (VerifierError, Option<usize>)> {
    for l in input.insns {
        let Insn::LdImm64 {
            kind,
            imm,
            next_imm,
            ..
        } = l.insn
        else {
            continue;
        };
        if !matches!(
            kind,
            LdImm64Kind::MapFd
                | LdImm64Kind::MapIdx
                | LdImm64Kind::MapValue
                | LdImm64Kind::MapIdxValue
        ) {
            continue;
        }
        let Some(m) = usize::try_from(imm).ok().and_then(|i| input.maps.get(i)) else {
            return Err((VerifierError::BadMapFd(imm), Some(l.slot)));
        };
        // An arena's direct value address may point anywhere in its pages.
        let value_size = if m.map_type == lull_abi::MapType::Arena {
            m.max_entries.saturating_mul(4096)
        } else {
            m.value_size
        };
        if matches!(kind, LdImm64Kind::MapValue | LdImm64Kind::MapIdxValue)
            && next_imm as u32 >= value_size
        {
            return Err((
                VerifierError::BadMapValueOff {
                    value_size,
                    off: next_imm as u32 as i64,
                },
                Some(l.slot),
            ));
        }
        use lull_abi::ProgType as P;
        let tracing = matches!(
            input.prog_type,
            P::Kprobe | P::Tracepoint | P::PerfEvent | P::RawTracepoint | P::RawTracepointWritable
        );
        if m.spin_lock_off.is_some() && input.prog_type == P::SocketFilter {
            return Err((
                VerifierError::Malformed("socket filter progs cannot use bpf_spin_lock yet".into()),
                Some(l.slot),
            ));
        }
        if m.spin_lock_off.is_some() && tracing {
            return Err((
                VerifierError::Malformed("tracing progs cannot use bpf_spin_lock yet".into()),
                Some(l.slot),
            ));
        }
        if m.timer_off.is_some() && tracing {
            return Err((
                VerifierError::Malformed("tracing progs cannot use bpf_timer yet".into()),
                Some(l.slot),
            ));
        }
        if input.sleepable && !sleepable_map_ok(m.map_type) {
            return Err((VerifierError::SleepableMapType, Some(l.slot)));
        }
    }
    Ok(())
}

/// `check_attach_btf_id`'s program-type rules that do not need BTF.
fn check_prog_type(input: &VerifyInput<'_>) -> Result<(), VerifierError> {
    let pt = prog_types::ProgTypeInfo::new(
        input.prog_type,
        input.expected_attach,
        input.effective_caps().bpf_capable(),
    );
    if !pt.supported() {
        return Err(VerifierError::UnsupportedProgType(
            input.prog_type.name().into(),
        ));
    }
    if input.prog_type == lull_abi::ProgType::Syscall {
        return if input.sleepable {
            Ok(())
        } else {
            Err(VerifierError::SyscallMustBeSleepable)
        };
    }
    if input.sleepable && !pt.can_be_sleepable() {
        return Err(VerifierError::CannotBeSleepable);
    }
    lsm::check_hook(input)?;
    sleepable::check_attach(input)
}

/// Statistics gathered by a run.
#[derive(Default)]
struct Stats {
    insns_processed: u64,
    max_states_per_insn: u32,
    total_states: u64,
    peak_states: u64,
    stack_depths: Vec<u32>,
    unmodelled_helpers: Vec<i32>,
}

/// Runs every phase; returns the first error with its instruction, and the log.
fn run(
    input: &VerifyInput<'_>,
    stats: &mut Stats,
) -> (Result<(), (VerifierError, Option<usize>)>, String) {
    if let Some(e) = &input.decode_error {
        let err = VerifierError::BadEncoding {
            kernel: e
                .kernel_message()
                .unwrap_or_else(|| format!("invalid instruction {}", e.slot)),
            detail: e.to_string(),
        };
        return (Err((err, Some(e.slot))), String::new());
    }
    // bpf_prog_load refuses a program longer than BPF_MAXINSNS (4096) without CAP_BPF, or
    // than the complexity limit with it, before the verifier runs (E2BIG, no log).
    let slots = input.insns.last().map_or(0, |l| l.slot + l.insn.slots());
    let max = if input.effective_caps().bpf_capable() {
        explore::COMPLEXITY_LIMIT as usize
    } else {
        BPF_MAXINSNS
    };
    if slots > max {
        return (
            Err((
                VerifierError::Malformed(format!(
                    "program of {slots} instructions is too large (at most {max}): E2BIG"
                )),
                None,
            )),
            String::new(),
        );
    }
    let exception_cb = exception::find_exception_cb(input);
    let mut prog = match cfg::build(
        input.insns,
        input.effective_caps().bpf_capable(),
        input.func_info.as_deref(),
        exception_cb.as_ref().ok().copied().flatten(),
    ) {
        Ok(p) => p,
        Err(e) => {
            let at = match &e {
                VerifierError::JumpOutOfRange { from, .. } => Some(*from),
                _ => None,
            };
            return (Err((e, at)), String::new());
        }
    };
    if let Err(e) = exception_cb {
        return (Err((e, None)), String::new());
    }
    if let Err(e) = global_func::check_return_types(input, &prog) {
        return (Err((e, None)), String::new());
    }
    if let Err(e) = resolve_maps(input) {
        return (Err(e), String::new());
    }
    if let Err(e) = cfg::check_cfg(&mut prog, input.effective_caps().bpf_capable()) {
        let at = match &e {
            VerifierError::Unreachable(i) | VerifierError::JumpIntoLdImm64(i) => Some(*i),
            VerifierError::BackEdge { from, .. } | VerifierError::JumpOutOfRange { from, .. } => {
                Some(*from)
            }
            _ => None,
        };
        return (Err((e, at)), String::new());
    }
    prog.live_regs = liveness::compute(&prog);
    if let Err(e) = check_prog_type(input) {
        return (Err((e, None)), String::new());
    }
    let mut v = Verifier::new(input, prog);
    v.log_main_prototype();
    let mut res = v
        .run()
        .and_then(|()| v.verify_globals())
        .map_err(|e| (e, Some(v.insn_idx)));
    if res.is_ok() {
        res = v.check_tail_call_maps().map_err(|(e, i)| (e, Some(i)));
    }
    if res.is_ok() {
        v.fastcall.adjust_depths(&v.prog, &mut v.stack_depth);
    }
    if res.is_ok() {
        res = exception::check_throw_in_callback(&v.prog, input).map_err(|(e, i)| (e, Some(i)));
    }
    if res.is_ok() {
        res = stack_depth::check(&v.prog, &v.stack_depth).map_err(|e| (e, None));
    }
    stats.insns_processed = v.insn_processed;
    stats.max_states_per_insn = v.ckpts.max_per_insn;
    stats.total_states = v.ckpts.total();
    stats.peak_states = v.ckpts.peak;
    stats.stack_depths = v.stack_depth.clone();
    stats.unmodelled_helpers = std::mem::take(&mut v.unmodelled);
    (res, v.log.into_string())
}

/// The source line covering `slot`, from line info.
fn source_line(input: &VerifyInput<'_>, slot: usize) -> Option<SourceLine> {
    let li = input.line_info.as_ref()?;
    let i = li.partition_point(|l| l.slot <= slot).checked_sub(1)?;
    let l = &li[i];
    Some(SourceLine {
        file: l.file.clone(),
        line: l.line,
        text: l.text.clone(),
    })
}

/// Verifies one program.
pub fn verify(input: &VerifyInput<'_>) -> VerifyOutcome {
    let start = Instant::now();
    let mut stats = Stats::default();
    let (res, mut log) = run(input, &mut stats);
    let time = start.elapsed();
    let error = res.err().map(|(e, insn)| {
        let line = insn.and_then(|i| source_line(input, i));
        Rejection {
            insn,
            message: e.to_string(),
            summary: e.summary(),
            hint: e.hint(),
            line,
            unsupported: e.unsupported(),
        }
    });
    if input.log_level > 0 {
        use std::fmt::Write;
        if let Some(r) = &error {
            let _ = writeln!(log, "{}", r.message);
        }
        if input.log_level & log::LEVEL_STATS != 0 {
            log.push_str(&log::stats_lines(time, &stats.stack_depths));
        }
        let _ = writeln!(
            log,
            "processed {} insns (limit {}) max_states_per_insn {} total_states {} peak_states {} mark_read 0",
            stats.insns_processed,
            explore::COMPLEXITY_LIMIT,
            stats.max_states_per_insn,
            stats.total_states,
            stats.peak_states
        );
        if let Some(r) = &error {
            let _ = write!(log, "error: {}", r.summary);
            if let Some(i) = r.insn {
                let _ = write!(log, " at insn {i}");
            }
            if let Some(l) = &r.line {
                let file = l.file.rsplit('/').next().unwrap_or(&l.file);
                let _ = write!(log, " ({}:{}: {})", file, l.line, l.text.trim());
            }
            log.push('\n');
            if let Some(h) = &r.hint {
                let _ = writeln!(log, "hint: {h}");
            }
        }
    }
    VerifyOutcome {
        accepted: error.is_none(),
        error,
        log,
        insns_processed: stats.insns_processed,
        max_states_per_insn: stats.max_states_per_insn,
        total_states: stats.total_states,
        peak_states: stats.peak_states,
        stack_depths: stats.stack_depths,
        unmodelled_helpers: stats.unmodelled_helpers,
        time,
    }
}

#[cfg(test)]
mod dynptr_tests;
#[cfg(test)]
mod exception_tests;
#[cfg(test)]
mod global_func_tests;
#[cfg(test)]
mod iter_tests;
#[cfg(test)]
mod kfunc_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
