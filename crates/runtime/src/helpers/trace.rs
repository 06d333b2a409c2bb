//! `bpf_trace_printk` (6), `bpf_trace_vprintk` (177) and `bpf_snprintf` (165).
//!
//! `trace_printk(fmt, fmt_size, a1, a2, a3)`: `fmt` must hold a NUL within `fmt_size` bytes;
//! up to three arguments; the formatted line goes to the run's trace sink and the result is
//! its length. `trace_vprintk(fmt, fmt_size, data, data_len)` and `snprintf(str, str_size,
//! fmt, data, data_len)` take their arguments as an array of u64 (`data_len` a multiple of 8,
//! at most 12 arguments); `snprintf` writes at most `str_size` bytes including the NUL and
//! returns the full length plus one, like C's `snprintf` + 1. Bad formats give `-EINVAL`.

use lull_interp::{HelperContext, HelperError, HelperFn};

use super::env;
use super::errno;
use super::format::{StrReader, format};
use super::task::own_memory;
use crate::trace::TraceRecord;
use lull_task::UserMemory;

pub(crate) const HELPERS: &[(u16, HelperFn)] =
    &[(6, trace_printk), (165, snprintf), (177, trace_vprintk)];

/// `MAX_BPRINTF_VARARGS`.
const MAX_VARARGS: u64 = 12;
/// Longest line a trace call emits (`MAX_BPRINTF_BUF`).
const MAX_BUF: usize = 1024;

/// What `%s` and the `%p…` forms read: any address, fault-safe, as the kernel's
/// `copy_from_kernel_nofault` — the verifier does not check these pointers, so an unreadable
/// one must give an empty string (or the `%p` fallback), in trusted runs as in checked ones.
struct NoFault;

impl StrReader for NoFault {
    fn read_str(&mut self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let mem = own_memory()?;
        let page = lull_task::page_size();
        let mut out = Vec::new();
        while out.len() < max {
            let at = addr.wrapping_add(out.len() as u64);
            // Up to the end of the page: a string may end just before an unmapped one.
            let chunk = (max - out.len()).min((page - at % page) as usize);
            let mut buf = vec![0u8; chunk];
            mem.read_may_fault(at, &mut buf).ok()?;
            if let Some(nul) = buf.iter().position(|&b| b == 0) {
                out.extend_from_slice(&buf[..nul]);
                return Some(out);
            }
            out.extend_from_slice(&buf);
        }
        Some(out)
    }
    fn read_bytes(&mut self, addr: u64, n: usize) -> Option<Vec<u8>> {
        let mut v = vec![0u8; n];
        own_memory()?.read_may_fault(addr, &mut v).ok()?;
        Some(v)
    }
}

/// The format string: `size` bytes at `addr`, which must contain a NUL.
fn read_fmt(ctx: &HelperContext<'_>, addr: u64, size: u64) -> Result<Option<Vec<u8>>, HelperError> {
    let Ok(size) = usize::try_from(size) else {
        return Ok(None);
    };
    if size == 0 {
        return Ok(None);
    }
    let mut buf = vec![0u8; size];
    ctx.read(addr, &mut buf)?;
    Ok(buf.iter().position(|&b| b == 0).map(|n| {
        buf.truncate(n);
        buf
    }))
}

fn emit(ctx: &mut HelperContext<'_>, mut line: Vec<u8>) -> Result<u64, HelperError> {
    line.truncate(MAX_BUF - 1);
    let len = line.len();
    let e = env(ctx)?;
    if let Some(sink) = &e.trace {
        let pid = e.task.as_ref().map_or(0, |t| t.pid());
        let mut message = String::from_utf8_lossy(&line).into_owned();
        while message.ends_with('\n') {
            message.pop();
        }
        sink.emit(TraceRecord {
            cpu: e.cpu,
            pid,
            message,
        });
    }
    Ok(len as u64)
}

fn trace_printk(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let Some(fmt) = read_fmt(ctx, a[0], a[1])? else {
        return Ok(errno::EINVAL as u64);
    };
    match format(&fmt, &a[2..5], &mut NoFault) {
        Ok(line) => emit(ctx, line),
        Err(_) => Ok(errno::EINVAL as u64),
    }
}

/// The u64 arguments of the array forms (`-EINVAL` shapes give `None`).
fn array_args(
    ctx: &HelperContext<'_>,
    data: u64,
    len: u64,
) -> Result<Option<Vec<u64>>, HelperError> {
    if !len.is_multiple_of(8) || len / 8 > MAX_VARARGS || (data == 0 && len != 0) {
        return Ok(None);
    }
    let mut buf = vec![0u8; len as usize];
    ctx.read(data, &mut buf)?;
    Ok(Some(
        buf.chunks_exact(8)
            .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
            .collect(),
    ))
}

fn trace_vprintk(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (Some(fmt), Some(args)) = (read_fmt(ctx, a[0], a[1])?, array_args(ctx, a[2], a[3])?) else {
        return Ok(errno::EINVAL as u64);
    };
    match format(&fmt, &args, &mut NoFault) {
        Ok(line) => emit(ctx, line),
        Err(_) => Ok(errno::EINVAL as u64),
    }
}

fn snprintf(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (str_addr, str_size) = (a[0], a[1]);
    // The format is a constant string the verifier checked; read it up to its NUL.
    let fmt = ctx.read_cstr(a[2], 4096)?;
    let Some(args) = array_args(ctx, a[3], a[4])? else {
        return Ok(errno::EINVAL as u64);
    };
    let out = match format(&fmt, &args, &mut NoFault) {
        Ok(o) => o,
        Err(_) => return Ok(errno::EINVAL as u64),
    };
    if str_size > 0 {
        let n = out.len().min(str_size as usize - 1);
        let mut w = out[..n].to_vec();
        w.push(0);
        ctx.write(str_addr, &w)?;
    }
    Ok(out.len() as u64 + 1)
}
