//! Clocks, randomness and the CPU number: `bpf_ktime_get_ns` (5, `CLOCK_MONOTONIC`),
//! `bpf_ktime_get_boot_ns` (125, `CLOCK_BOOTTIME`), `bpf_ktime_get_coarse_ns` (160),
//! `bpf_ktime_get_tai_ns` (208), `bpf_jiffies64` (118, at `HZ` = 1000), `bpf_get_prandom_u32`
//! (7), `bpf_get_smp_processor_id` (8) and `bpf_get_numa_node_id` (42, always node 0).

use lull_interp::{HelperContext, HelperError, HelperFn};

use super::env;
use crate::raw::clock_ns;

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (5, ktime_get_ns),
    (7, get_prandom_u32),
    (8, get_smp_processor_id),
    (42, get_numa_node_id),
    (118, jiffies64),
    (125, ktime_get_boot_ns),
    (160, ktime_get_coarse_ns),
    (208, ktime_get_tai_ns),
];

fn ktime_get_ns(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(clock_ns(libc::CLOCK_MONOTONIC))
}

fn ktime_get_boot_ns(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(clock_ns(libc::CLOCK_BOOTTIME))
}

fn ktime_get_coarse_ns(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(clock_ns(libc::CLOCK_MONOTONIC_COARSE))
}

fn ktime_get_tai_ns(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(clock_ns(libc::CLOCK_TAI))
}

fn jiffies64(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(clock_ns(libc::CLOCK_MONOTONIC) / 1_000_000)
}

fn get_prandom_u32(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(u64::from(env(ctx)?.next_random()))
}

fn get_smp_processor_id(ctx: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(u64::from(env(ctx)?.cpu))
}

fn get_numa_node_id(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}
