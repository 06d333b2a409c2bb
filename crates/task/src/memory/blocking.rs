//! A host-fed user-memory source whose data may not have arrived yet: may-fault reads wait for
//! it (a sleepable program truly blocks), no-fault reads fail with `EFAULT` instead.

use crate::{Errno, TaskError, UserMemory};
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A region of user memory `[base, base + size)` whose bytes a host supplies over time, e.g. the
/// body of a request that is still arriving.
///
/// * [`read_may_fault`](UserMemory::read_may_fault) of bytes not supplied yet *blocks* until the
///   host [`supply`](Self::supply)s them — like a page fault waiting for I/O — or until the
///   source is [`close`](Self::close)d or the optional timeout passes (then `EFAULT` or
///   `ETIMEDOUT`; the helpers report either as `-EFAULT`, as the kernel does for a failed copy).
/// * [`read_nofault`](UserMemory::read_nofault) of bytes not supplied yet fails at once with
///   `EFAULT` — like `bpf_probe_read_user` on a non-resident page.
/// * Anything outside the region is unmapped: `EFAULT` on both paths, without waiting.
///
/// String reads are byte-granular: a string whose NUL has arrived is read even if later bytes of
/// the region have not.
#[derive(Debug)]
pub struct BlockingSource {
    base: u64,
    size: u64,
    timeout: Option<Duration>,
    state: Mutex<State>,
    arrived: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Supplied bytes as runs keyed by their offset in the region; runs are disjoint and never
    /// adjacent (touching runs are merged), so a read is served by at most one run.
    runs: BTreeMap<u64, Vec<u8>>,
    closed: bool,
    /// Readers blocked in a may-fault read right now.
    waiting: usize,
}

impl State {
    /// The run containing offset `off`, with its start offset.
    fn run_at(&self, off: u64) -> Option<(u64, &[u8])> {
        let (&start, bytes) = self.runs.range(..=off).next_back()?;
        (start + bytes.len() as u64 > off).then_some((start, bytes.as_slice()))
    }

    /// How many supplied bytes follow offset `off` without a gap.
    fn available_at(&self, off: u64) -> u64 {
        self.run_at(off)
            .map_or(0, |(start, bytes)| start + bytes.len() as u64 - off)
    }

    /// The `len` supplied bytes at `off`; the caller has checked `available_at(off) >= len`.
    fn bytes(&self, off: u64, len: usize) -> &[u8] {
        match self.run_at(off) {
            Some((start, bytes)) => {
                let from = (off - start) as usize;
                &bytes[from..from + len]
            }
            None => &[],
        }
    }

    /// Records `bytes` at offset `off`, merging with every run it overlaps or touches (newly
    /// supplied bytes win where they overlap old ones).
    fn supply(&mut self, off: u64, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let end = off + bytes.len() as u64;
        let touching: Vec<u64> = self
            .runs
            .range(..=end)
            .filter(|&(&s, b)| s + b.len() as u64 >= off)
            .map(|(&s, _)| s)
            .collect();
        let old: Vec<(u64, Vec<u8>)> = touching
            .into_iter()
            .filter_map(|s| self.runs.remove(&s).map(|b| (s, b)))
            .collect();
        let start = old.first().map_or(off, |(s, _)| off.min(*s));
        let stop = old.last().map_or(end, |(s, b)| end.max(s + b.len() as u64));
        let mut merged = vec![0u8; (stop - start) as usize];
        for (s, b) in &old {
            let at = (s - start) as usize;
            merged[at..at + b.len()].copy_from_slice(b);
        }
        let at = (off - start) as usize;
        merged[at..at + bytes.len()].copy_from_slice(bytes);
        self.runs.insert(start, merged);
    }
}

/// Outcome of looking at the supplied data for a string read.
enum StrScan {
    /// NUL at this offset from the start, or the buffer filled: the string read is complete.
    Done(usize),
    /// Only this many bytes are there, none of them a NUL: the read cannot complete (yet).
    Missing(usize),
}

impl BlockingSource {
    /// A region of `size` bytes at user address `base` with nothing supplied yet. A region that
    /// would run past the end of the address space is cut at its end.
    pub fn new(base: u64, size: u64) -> BlockingSource {
        let size = size.min(u64::MAX - base);
        BlockingSource {
            base,
            size,
            timeout: None,
            state: Mutex::new(State::default()),
            arrived: Condvar::new(),
        }
    }

    /// A region at `base` whose bytes are all there from the start (nothing ever blocks).
    /// Bytes that would lie past the end of the address space are dropped.
    pub fn resident(base: u64, data: &[u8]) -> BlockingSource {
        let source = BlockingSource::new(base, data.len() as u64);
        let fits = usize::try_from(source.size).map_or(data.len(), |s| s.min(data.len()));
        let mut state = source.lock();
        state.supply(0, &data[..fits]);
        drop(state);
        source
    }

    /// Makes may-fault reads give up with `ETIMEDOUT` after waiting `timeout` in total.
    pub fn with_timeout(mut self, timeout: Duration) -> BlockingSource {
        self.timeout = Some(timeout);
        self
    }

    /// The region's first address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The region's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Supplies `bytes` at user address `addr` and wakes the readers waiting for them.
    pub fn supply(&self, addr: u64, bytes: &[u8]) -> Result<(), TaskError> {
        let out = || TaskError::OutOfRegion {
            addr,
            len: bytes.len(),
            base: self.base,
            size: self.size,
        };
        let off = self.offset_of(addr, bytes.len()).ok_or_else(out)?;
        let mut state = self.lock();
        if state.closed {
            return Err(TaskError::Closed);
        }
        if bytes.is_empty() {
            return Ok(());
        }
        state.supply(off, bytes);
        drop(state);
        self.arrived.notify_all();
        Ok(())
    }

    /// No more data will come: waiting readers of missing bytes fail with `EFAULT`, and so do
    /// later reads of them. Data already supplied stays readable.
    pub fn close(&self) {
        self.lock().closed = true;
        self.arrived.notify_all();
    }

    /// How many readers are blocked in a may-fault read right now.
    pub fn waiting(&self) -> usize {
        self.lock().waiting
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent (every update is a
        // single assignment or completes before unlocking), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The offset of `[addr, addr + len)` in the region, if the range lies inside it.
    fn offset_of(&self, addr: u64, len: usize) -> Option<u64> {
        let off = addr.checked_sub(self.base)?;
        let end = off.checked_add(len as u64)?;
        (end <= self.size).then_some(off)
    }

    /// Waits on the condition variable until `ready` says the data is there (returns its value),
    /// the source is closed (`EFAULT`) or the timeout passes (`ETIMEDOUT`). Returns the guard in
    /// every case so that a failed string read can still copy the prefix that did arrive.
    fn wait_for<'a, T>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        mut ready: impl FnMut(&State) -> Option<T>,
    ) -> (MutexGuard<'a, State>, Result<T, Errno>) {
        let deadline = self.timeout.map(|t| Instant::now() + t);
        state.waiting += 1;
        let result = loop {
            if let Some(v) = ready(&state) {
                break Ok(v);
            }
            if state.closed {
                break Err(Errno::EFAULT);
            }
            match deadline {
                None => state = self.arrived.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break Err(Errno::ETIMEDOUT);
                    };
                    state = self
                        .arrived
                        .wait_timeout(state, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        };
        state.waiting -= 1;
        (state, result)
    }

    /// Where a string read at `addr` into `max` bytes stands: `Done(n)` when the string (NUL at
    /// `n`) or a full buffer (`n == max`) is there; `Missing(k)` when only `k` bytes are, with no
    /// NUL among them — including when the region ends before the buffer does (the byte after
    /// the region is unmapped and can never arrive).
    fn scan_str(state: &State, off: u64, max: usize) -> StrScan {
        let avail = usize::try_from(state.available_at(off))
            .unwrap_or(usize::MAX)
            .min(max);
        match state.bytes(off, avail).iter().position(|&b| b == 0) {
            Some(nul) => StrScan::Done(nul),
            None if avail == max => StrScan::Done(max),
            None => StrScan::Missing(avail),
        }
    }

    /// Whether a string scan can never change any more (no wait helps).
    fn hopeless(&self, off: u64, scan: &StrScan) -> bool {
        matches!(scan, StrScan::Missing(k) if off + *k as u64 >= self.size)
    }

    /// Copies the outcome of a string scan into `dst` (the string and its NUL, or the prefix that
    /// arrived before the failure) and turns it into the trait's result.
    fn finish_str(state: &State, off: u64, dst: &mut [u8], scan: StrScan) -> Result<usize, Errno> {
        match scan {
            StrScan::Done(n) => {
                let copied = (n + 1).min(dst.len());
                dst[..copied].copy_from_slice(state.bytes(off, copied));
                Ok(n)
            }
            StrScan::Missing(k) => {
                dst[..k].copy_from_slice(state.bytes(off, k));
                Err(Errno::EFAULT)
            }
        }
    }

    /// The offset of a string read's first byte, if it lies in the region.
    fn str_start(&self, addr: u64) -> Result<u64, Errno> {
        addr.checked_sub(self.base)
            .filter(|&off| off < self.size)
            .ok_or(Errno::EFAULT)
    }
}

impl UserMemory for BlockingSource {
    fn read_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        if dst.is_empty() {
            return Ok(());
        }
        let off = self.offset_of(addr, dst.len()).ok_or(Errno::EFAULT)?;
        let state = self.lock();
        if state.available_at(off) < dst.len() as u64 {
            return Err(Errno::EFAULT);
        }
        dst.copy_from_slice(state.bytes(off, dst.len()));
        Ok(())
    }

    fn read_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<(), Errno> {
        if dst.is_empty() {
            return Ok(());
        }
        let off = self.offset_of(addr, dst.len()).ok_or(Errno::EFAULT)?;
        let len = dst.len() as u64;
        let (state, ready) =
            self.wait_for(self.lock(), |s| (s.available_at(off) >= len).then_some(()));
        ready?;
        dst.copy_from_slice(state.bytes(off, dst.len()));
        Ok(())
    }

    fn read_str_nofault(&self, addr: u64, dst: &mut [u8]) -> Result<usize, Errno> {
        if dst.is_empty() {
            return Ok(0);
        }
        let off = self.str_start(addr)?;
        let state = self.lock();
        let scan = Self::scan_str(&state, off, dst.len());
        Self::finish_str(&state, off, dst, scan)
    }

    fn read_str_may_fault(&self, addr: u64, dst: &mut [u8]) -> Result<usize, Errno> {
        if dst.is_empty() {
            return Ok(0);
        }
        let off = self.str_start(addr)?;
        let (state, ready) = self.wait_for(self.lock(), |s| {
            let scan = Self::scan_str(s, off, dst.len());
            (matches!(scan, StrScan::Done(_)) || self.hopeless(off, &scan)).then_some(scan)
        });
        match ready {
            Ok(scan) => Self::finish_str(&state, off, dst, scan),
            Err(e) => {
                // Copy what did arrive, as a faulting kernel copy leaves its prefix behind.
                let scan = Self::scan_str(&state, off, dst.len());
                if let StrScan::Missing(k) = scan {
                    dst[..k].copy_from_slice(state.bytes(off, k));
                }
                Err(e)
            }
        }
    }
}
