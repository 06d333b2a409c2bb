//! The soundness oracle: a program Lull's verifier accepts is run in the interpreter's checked
//! mode on random inputs (context bytes, packet bytes and length, map contents); any memory
//! fault, misaligned atomic, helper given bad memory or runaway loop means the verifier
//! accepted something it must not.
//!
//! The world is small but real: maps are arrays and hashes whose values are separate,
//! exactly-sized host buffers (an access one byte past a value faults), the packet lives
//! below 2 GiB so the context's 32-bit `data`/`data_end` fields are its real address, and the
//! helpers generated programs call are implemented here against that model.

mod host;

use std::sync::Arc;

use lull_abi::{MapType, ProgType};
use lull_interp::{
    DEFAULT_INSN_BUDGET, Fault, HelperContext, HelperError, Helpers, Input, PrepareOptions, Program,
};
use lull_isa::LdImm64Kind;

use crate::program::{MapSpec, TestProgram};
use crate::rng::Rng;
use host::{HostBuf, LowMem, Sandbox};

/// Map handles are fake addresses no region covers: dereferencing one faults.
const MAP_HANDLE_BASE: u64 = 0xdead_0000_0000;
/// Instruction budget of one run (generated programs run a few hundred).
const BUDGET: u64 = 10_000_000;
/// Largest packet generated.
const MAX_PACKET: usize = 160;

/// The outcome of the soundness check of one program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Soundness {
    /// Every run ended normally (or with a helper failure that is not a safety issue).
    Clean {
        /// Runs made.
        runs: usize,
    },
    /// The program cannot run here (a helper the model lacks, an unsupported instruction).
    Skipped(String),
    /// A run faulted: the verifier accepted an unsafe program.
    Unsound {
        /// The fault.
        fault: String,
        /// The run's inputs, described.
        input: String,
    },
}

/// One map of the model: values and (for hashes) the keys present.
struct MapModel {
    spec: MapSpec,
    /// Address of each value slot.
    addrs: Vec<u64>,
    /// Hash maps: the key of each occupied slot.
    keys: Vec<Option<Vec<u8>>>,
}

/// Helper state of a run.
struct Env {
    maps: Vec<MapModel>,
    rand: u64,
    /// Packet address and length (skb programs: for `bpf_skb_load_bytes`).
    packet: (u64, usize),
    /// Address of the context.
    ctx_addr: u64,
}

impl Env {
    fn map(&mut self, handle: u64) -> Result<&mut MapModel, HelperError> {
        let i = handle.wrapping_sub(MAP_HANDLE_BASE);
        usize::try_from(i)
            .ok()
            .and_then(|i| self.maps.get_mut(i))
            .ok_or_else(|| HelperError::Failed(format!("{handle:#x} is not a map")))
    }
}

fn env<'a>(ctx: &'a mut HelperContext<'_>) -> Result<&'a mut Env, HelperError> {
    ctx.env::<Env>()
        .ok_or_else(|| HelperError::Failed("no environment".into()))
}

fn read_key(ctx: &mut HelperContext<'_>, map: u64, addr: u64) -> Result<Vec<u8>, HelperError> {
    let ks = env(ctx)?.map(map)?.spec.key_size as usize;
    let mut key = vec![0u8; ks];
    ctx.read(addr, &mut key)?;
    Ok(key)
}

/// The slot of `key` in `m`: array index, or occupied hash slot.
fn find(m: &MapModel, key: &[u8]) -> Option<usize> {
    if m.spec.map_type == MapType::Array {
        let i = u32::from_ne_bytes(key.get(..4)?.try_into().ok()?) as usize;
        (i < m.addrs.len()).then_some(i)
    } else {
        m.keys.iter().position(|k| k.as_deref() == Some(key))
    }
}

fn map_lookup(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let key = read_key(ctx, a[0], a[1])?;
    let m = env(ctx)?.map(a[0])?;
    Ok(find(m, &key).map_or(0, |i| m.addrs[i]))
}

fn map_update(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let key = read_key(ctx, a[0], a[1])?;
    let vs = env(ctx)?.map(a[0])?.spec.value_size as usize;
    let mut value = vec![0u8; vs];
    ctx.read(a[2], &mut value)?;
    let m = env(ctx)?.map(a[0])?;
    let slot = match find(m, &key) {
        Some(i) => i,
        None if m.spec.map_type == MapType::Array => return Ok((-7i64) as u64), // -E2BIG
        None => match m.keys.iter().position(Option::is_none) {
            Some(i) => {
                m.keys[i] = Some(key);
                i
            }
            None => return Ok((-7i64) as u64),
        },
    };
    let addr = m.addrs[slot];
    ctx.write(addr, &value)?;
    Ok(0)
}

fn map_delete(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let key = read_key(ctx, a[0], a[1])?;
    let m = env(ctx)?.map(a[0])?;
    if m.spec.map_type == MapType::Array {
        return Ok((-22i64) as u64);
    }
    match find(m, &key) {
        Some(i) => {
            m.keys[i] = None;
            Ok(0)
        }
        None => Ok((-2i64) as u64),
    }
}

fn next_rand(ctx: &mut HelperContext<'_>) -> Result<u64, HelperError> {
    let e = env(ctx)?;
    e.rand = e
        .rand
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    Ok(e.rand >> 33)
}

fn prandom(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    next_rand(ctx)
}

fn ktime(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(next_rand(ctx)? << 20)
}

fn smp_id(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}

fn pid_tgid(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0x0000_1234_0000_1234)
}

/// `bpf_skb_load_bytes(skb, off, to, len)`: copies from the packet, or fails with -EFAULT
/// (zeroing `to`, as the kernel does) when out of range.
fn skb_load_bytes(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (pkt, pkt_len, ctx_addr) = {
        let e = env(ctx)?;
        (e.packet.0, e.packet.1 as u64, e.ctx_addr)
    };
    if a[0] != ctx_addr {
        return Err(HelperError::Failed(format!(
            "skb argument {:#x} is not the context",
            a[0]
        )));
    }
    let (off, len) = (a[1] as u32 as u64, a[3] as u32 as u64);
    let mut buf = vec![0u8; len as usize];
    let ok = off.checked_add(len).is_some_and(|end| end <= pkt_len);
    if ok {
        ctx.read(pkt + off, &mut buf)?;
    }
    ctx.write(a[2], &buf)?;
    Ok(if ok { 0 } else { (-14i64) as u64 })
}

/// `bpf_probe_read_kernel(dst, size, src)`: there is no kernel memory here; the read fails
/// (-EFAULT) and zeroes `dst`, which the kernel does too for a bad source.
fn probe_read_kernel(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let buf = vec![0u8; a[1] as u32 as usize];
    ctx.write(a[0], &buf)?;
    Ok((-14i64) as u64)
}

fn helpers() -> Helpers {
    let mut h = Helpers::new();
    h.register(1, "bpf_map_lookup_elem", map_lookup);
    h.register(2, "bpf_map_update_elem", map_update);
    h.register(3, "bpf_map_delete_elem", map_delete);
    h.register(5, "bpf_ktime_get_ns", ktime);
    h.register(7, "bpf_get_prandom_u32", prandom);
    h.register(8, "bpf_get_smp_processor_id", smp_id);
    h.register(14, "bpf_get_current_pid_tgid", pid_tgid);
    h.register(26, "bpf_skb_load_bytes", skb_load_bytes);
    h.register(113, "bpf_probe_read_kernel", probe_read_kernel);
    h
}

/// Size of the context struct the program type gets.
fn ctx_size(t: ProgType) -> usize {
    match t {
        ProgType::SocketFilter | ProgType::SchedCls | ProgType::SchedAct => 192,
        ProgType::Xdp => 24,
        ProgType::Kprobe => 168,
        // Syscall programs may address up to U16_MAX bytes of their user buffer.
        ProgType::Syscall => 65536,
        _ => 256,
    }
}

/// Checks `p` (which the verifier accepted) on `runs` random inputs drawn from `rng`.
pub fn check(p: &TestProgram, rng: &mut Rng, runs: usize) -> Soundness {
    let values: Vec<Vec<HostBuf>> = p
        .maps
        .iter()
        .map(|m| {
            (0..m.max_entries.min(64))
                .map(|_| HostBuf::new(m.value_size as usize))
                .collect()
        })
        .collect();
    let value_addrs: Vec<Vec<u64>> = values
        .iter()
        .map(|v| v.iter().map(HostBuf::addr).collect())
        .collect();
    let first_values: Vec<Option<u64>> = value_addrs.iter().map(|v| v.first().copied()).collect();
    let resolver: lull_interp::LdImm64Resolver = Arc::new(move |kind, imm, next_imm| {
        let i = usize::try_from(imm).map_err(|_| format!("no map {imm}"))?;
        match kind {
            LdImm64Kind::MapFd | LdImm64Kind::MapIdx => Ok(MAP_HANDLE_BASE + i as u64),
            LdImm64Kind::MapValue | LdImm64Kind::MapIdxValue => first_values
                .get(i)
                .copied()
                .flatten()
                .map(|a| a + u64::from(next_imm as u32))
                .ok_or_else(|| format!("no value for map {imm}")),
            other => Err(format!("{other:?} is not modelled")),
        }
    });
    let opts = PrepareOptions {
        helpers: helpers(),
        resolver: Some(resolver),
        ..PrepareOptions::default()
    };
    let prog = match Program::prepare(&p.located(), &opts) {
        Ok(prog) => prog,
        Err(e) => return Soundness::Skipped(e.to_string()),
    };
    let Some(packet) = LowMem::new(MAX_PACKET) else {
        return Soundness::Skipped("cannot map packet memory below 2 GiB".into());
    };
    let mut vm = lull_interp::Vm::new();
    vm.set_insn_budget(Some(BUDGET.min(DEFAULT_INSN_BUDGET)));
    let mut sb = Sandbox {
        vm,
        values: values.into_iter().flatten().collect(),
        packet,
    };
    let mut ctx = vec![0u8; ctx_size(p.prog_type)];
    for run in 0..runs {
        let pkt_len = rng.below(MAX_PACKET as u64 + 1) as usize;
        let mut pkt = vec![0u8; pkt_len];
        rng.fill(&mut pkt);
        sb.packet.set(&pkt);
        let mut models = Vec::with_capacity(p.maps.len());
        let mut slot = 0;
        for (m, addrs) in p.maps.iter().zip(&value_addrs) {
            let mut keys = vec![None; addrs.len()];
            for (k, key) in keys.iter_mut().enumerate() {
                let mut v = vec![0u8; m.value_size as usize];
                if rng.chance(70) {
                    rng.fill(&mut v);
                }
                sb.values[slot + k].set(&v);
                if m.map_type != MapType::Array && rng.chance(60) {
                    let mut kb = vec![0u8; m.key_size as usize];
                    let n = rng.below(u64::from(m.max_entries) + 2) as u32;
                    kb[..4].copy_from_slice(&n.to_ne_bytes());
                    *key = Some(kb);
                }
            }
            slot += addrs.len();
            models.push(MapModel {
                spec: *m,
                addrs: addrs.clone(),
                keys,
            });
        }
        rng.fill(&mut ctx);
        let pkt_addr = sb.packet.addr();
        let data_end = pkt_addr + pkt_len as u64;
        let put = |ctx: &mut [u8], off: usize, v: u64| {
            ctx[off..off + 4].copy_from_slice(&(v as u32).to_ne_bytes())
        };
        match p.prog_type {
            ProgType::Xdp => {
                put(&mut ctx, 0, pkt_addr);
                put(&mut ctx, 4, data_end);
                put(&mut ctx, 8, pkt_addr);
            }
            ProgType::SocketFilter | ProgType::SchedCls | ProgType::SchedAct => {
                put(&mut ctx, 0, pkt_len as u64);
                put(&mut ctx, 76, pkt_addr);
                put(&mut ctx, 80, data_end);
                put(&mut ctx, 140, pkt_addr);
            }
            _ => {}
        }
        sb.register(pkt_len);
        let mut env = Env {
            maps: models,
            rand: rng.next_u64(),
            packet: (pkt_addr, pkt_len),
            ctx_addr: ctx.as_ptr().expose_provenance() as u64,
        };
        let input = Input {
            mem: Some(&mut ctx),
            args: None,
            env: Some(&mut env),
        };
        let result = sb.vm.run(&prog, input);
        if let Err(f) = result
            && let Some(why) = unsound(&f)
        {
            return Soundness::Unsound {
                fault: why,
                input: format!("run {run}: packet of {pkt_len} bytes"),
            };
        }
    }
    Soundness::Clean { runs }
}

/// Whether a fault shows the verifier accepted something unsafe (and how to say so).
fn unsound(f: &Fault) -> Option<String> {
    match f {
        Fault::InvalidAccess { .. }
        | Fault::MisalignedAtomic { .. }
        | Fault::CallDepth { .. }
        | Fault::BudgetExhausted { .. }
        | Fault::BadCallback { .. } => Some(f.to_string()),
        Fault::Helper { error, .. } => match error {
            HelperError::Memory(_) | HelperError::Failed(_) => Some(f.to_string()),
            HelperError::Fault(inner) => unsound(inner),
            HelperError::Exit(_) | HelperError::Return(_) => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::program::MapSpec;

    fn prog(t: ProgType, maps: Vec<MapSpec>, text: &str) -> TestProgram {
        TestProgram::assemble(t, None, maps, text).unwrap()
    }

    #[test]
    fn a_safe_map_access_is_clean_and_an_overrun_faults() {
        let maps = vec![MapSpec::new(MapType::Array, 4, 8, 2)];
        let body = |off: i32| {
            format!(
                "*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\nr1 = map[fd:0]\ncall 1\nif r0 == 0 goto out\nr0 = *(u8 *)(r0 +{off})\nout: r0 = 0\nexit"
            )
        };
        let mut rng = Rng::new(1);
        let ok = prog(ProgType::SocketFilter, maps.clone(), &body(7));
        assert_eq!(check(&ok, &mut rng, 8), Soundness::Clean { runs: 8 });
        let bad = prog(ProgType::SocketFilter, maps, &body(8));
        assert!(matches!(
            check(&bad, &mut rng, 8),
            Soundness::Unsound { .. }
        ));
    }

    #[test]
    fn packet_reads_past_data_end_fault_and_checked_ones_do_not() {
        let text = |n: i32| {
            format!(
                "r2 = *(u32 *)(r1 +0)\nr3 = *(u32 *)(r1 +4)\nr4 = r2\nr4 += {n}\nif r4 > r3 goto out\nr0 = *(u32 *)(r2 +0)\nout: r0 = 0\nexit"
            )
        };
        let mut rng = Rng::new(2);
        assert_eq!(
            check(&prog(ProgType::Xdp, vec![], &text(4)), &mut rng, 32),
            Soundness::Clean { runs: 32 }
        );
        assert!(matches!(
            check(&prog(ProgType::Xdp, vec![], &text(2)), &mut rng, 64),
            Soundness::Unsound { .. }
        ));
    }

    #[test]
    fn unknown_helpers_are_skipped() {
        let p = prog(ProgType::Kprobe, vec![], "call 6\nr0 = 0\nexit");
        assert!(matches!(
            check(&p, &mut Rng::new(3), 2),
            Soundness::Skipped(_)
        ));
    }
}
