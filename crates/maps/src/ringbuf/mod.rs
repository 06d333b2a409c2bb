//! `BPF_MAP_TYPE_RINGBUF` (`kernel/bpf/ringbuf.c`): a multi-producer, single-consumer ring of
//! variable-length records with the kernel's record header (`u32 len` whose bit 31 is
//! `BPF_RINGBUF_BUSY_BIT` and bit 30 `BPF_RINGBUF_DISCARD_BIT`, then `u32 pg_off`), records
//! 8-byte aligned, positions that only grow (wrap by masking), and the kernel's space rule:
//! a reservation fails when the producer would run more than `size - 1` bytes ahead of the
//! consumer or of the oldest uncommitted record.
//!
//! Producers (programs) reserve, write in place, then submit or discard; `output` copies.
//! The consumer side ([`RingbufConsumer`]) walks committed records, skips discarded ones, stops
//! at the first busy one, and can sleep until a producer's commit wakes it (kernel rule: wake
//! when the consumer had caught up with the committed record, unless `BPF_RB_NO_WAKEUP`;
//! always with `BPF_RB_FORCE_WAKEUP`).

mod region;

use crate::error::{MapError, MapResult};
use crate::spec::ringbuf_flags as rf;
use region::Region;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The kernel's `RINGBUF_MAX_RECORD_SZ`.
const MAX_RECORD: u64 = (u32::MAX / 4) as u64;
const HDR: u64 = rf::BPF_RINGBUF_HDR_SZ as u64;

#[repr(align(64))]
struct Padded(AtomicU64);

/// A ring buffer map's state.
pub struct RingBuf {
    region: Region,
    mask: u64,
    consumer_pos: Padded,
    producer_pos: Padded,
    /// Serialises producers; holds `pending_pos` (oldest possibly uncommitted record).
    producer: Mutex<u64>,
    wake_seq: Mutex<u64>,
    wake_cv: Condvar,
    wakeups: AtomicU64,
}

fn round8(n: u64) -> u64 {
    (n + 7) & !7
}

impl RingBuf {
    pub(crate) fn new(size: u32) -> MapResult<RingBuf> {
        let region =
            Region::new(size as usize).map_err(|_| MapError::NoMemory("ring buffer mapping"))?;
        Ok(RingBuf {
            region,
            mask: u64::from(size) - 1,
            consumer_pos: Padded(AtomicU64::new(0)),
            producer_pos: Padded(AtomicU64::new(0)),
            producer: Mutex::new(0),
            wake_seq: Mutex::new(0),
            wake_cv: Condvar::new(),
            wakeups: AtomicU64::new(0),
        })
    }

    /// Data area size.
    pub fn size(&self) -> u64 {
        self.mask + 1
    }

    fn off(&self, pos: u64) -> usize {
        (pos & self.mask) as usize
    }

    /// `bpf_ringbuf_reserve`: a pointer to `size` writable bytes, or `None` when the record is
    /// too large or there is no room. `flags` must be 0 (else `None`, as the helper returns
    /// NULL).
    pub fn reserve(&self, size: u64, flags: u64) -> Option<NonNull<u8>> {
        if flags != 0 || size > MAX_RECORD {
            return None;
        }
        let len = round8(size + HDR);
        if len > self.size() {
            return None;
        }
        let cons = self.consumer_pos.0.load(Ordering::Acquire);
        let mut pending = self.producer.lock().unwrap_or_else(|p| p.into_inner());
        let prod = self.producer_pos.0.load(Ordering::Relaxed);
        let mut pend = *pending;
        while prod > pend {
            let hdr_len = self.region.word(self.off(pend)).load(Ordering::Acquire);
            if hdr_len & rf::BPF_RINGBUF_BUSY_BIT != 0 {
                break;
            }
            pend += round8(u64::from(hdr_len & !rf::BPF_RINGBUF_DISCARD_BIT) + HDR);
        }
        *pending = pend;
        let new_prod = prod + len;
        if new_prod - cons > self.mask || new_prod - pend > self.mask {
            return None;
        }
        let off = self.off(prod);
        self.region
            .word(off)
            .store(size as u32 | rf::BPF_RINGBUF_BUSY_BIT, Ordering::Relaxed);
        // pg_off: the header's page within the data area (the kernel stores the distance to
        // its ring-buffer struct; Lull finds the ring through the map instead).
        self.region.word(off + 4).store(
            (off / crate::spec::PAGE_SIZE as usize) as u32,
            Ordering::Relaxed,
        );
        self.producer_pos.0.store(new_prod, Ordering::Release);
        Some(self.region.ptr(off + HDR as usize))
    }

    /// `bpf_ringbuf_submit` / `bpf_ringbuf_discard` for a sample of this ring.
    pub fn commit(&self, sample: *const u8, flags: u64, discard: bool) -> MapResult<()> {
        let off = self
            .region
            .offset_of(sample)
            .and_then(|o| o.checked_sub(HDR as usize))
            .ok_or_else(|| MapError::invalid("pointer is not a sample of this ring buffer"))?;
        let word = self.region.word(off);
        let len = word.load(Ordering::Relaxed);
        if len & rf::BPF_RINGBUF_BUSY_BIT == 0 {
            return Err(MapError::invalid(
                "sample is not reserved (already committed?)",
            ));
        }
        let mut new_len = len ^ rf::BPF_RINGBUF_BUSY_BIT;
        if discard {
            new_len |= rf::BPF_RINGBUF_DISCARD_BIT;
        }
        word.swap(new_len, Ordering::AcqRel);
        let cons = self.consumer_pos.0.load(Ordering::Acquire) & self.mask;
        if flags & rf::BPF_RB_FORCE_WAKEUP != 0
            || (cons == off as u64 && flags & rf::BPF_RB_NO_WAKEUP == 0)
        {
            self.wake();
        }
        Ok(())
    }

    /// `bpf_ringbuf_submit`.
    pub fn submit(&self, sample: *const u8, flags: u64) -> MapResult<()> {
        self.commit(sample, flags, false)
    }

    /// `bpf_ringbuf_discard`.
    pub fn discard(&self, sample: *const u8, flags: u64) -> MapResult<()> {
        self.commit(sample, flags, true)
    }

    /// `bpf_ringbuf_output`: `-EINVAL` for unknown flags, `-EAGAIN` when there is no room.
    pub fn output(&self, data: &[u8], flags: u64) -> MapResult<()> {
        if flags & !(rf::BPF_RB_NO_WAKEUP | rf::BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::invalid(format!(
                "ringbuf output flags {flags:#x}"
            )));
        }
        let p = self
            .reserve(data.len() as u64, 0)
            .ok_or(MapError::Again("no room in the ring buffer"))?;
        let off = self
            .region
            .offset_of(p.as_ptr())
            .expect("reserved inside the region");
        self.region.write(off, data);
        self.commit(p.as_ptr(), flags, false)
    }

    /// `bpf_ringbuf_query`; unknown selectors give 0.
    pub fn query(&self, flags: u64) -> u64 {
        let cons = self.consumer_pos.0.load(Ordering::Acquire);
        let prod = self.producer_pos.0.load(Ordering::Acquire);
        match flags {
            rf::BPF_RB_AVAIL_DATA => prod - cons,
            rf::BPF_RB_RING_SIZE => self.size(),
            rf::BPF_RB_CONS_POS => cons,
            rf::BPF_RB_PROD_POS => prod,
            _ => 0,
        }
    }

    /// Number of wakeups producers have sent so far.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    fn wake(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
        let mut seq = self.wake_seq.lock().unwrap_or_else(|p| p.into_inner());
        *seq += 1;
        self.wake_cv.notify_all();
    }
}

/// The consumer side of a ring buffer (one per ring, like libbpf's `ring_buffer`).
pub struct RingbufConsumer {
    rb: Arc<crate::Map>,
}

impl RingbufConsumer {
    /// A consumer for a ring-buffer map (`-EINVAL` for other map types).
    pub fn new(map: Arc<crate::Map>) -> MapResult<RingbufConsumer> {
        if map.ringbuf().is_none() {
            return Err(MapError::invalid("not a ring buffer map"));
        }
        Ok(RingbufConsumer { rb: map })
    }

    fn ring(&self) -> &RingBuf {
        self.rb.ringbuf().expect("checked at construction")
    }

    /// Calls `cb` for every committed, non-discarded record in order, stopping at the first
    /// record still being written. Returns the number of records passed to `cb`; a negative
    /// callback result stops consumption (that record counts as consumed, as in libbpf) and
    /// is returned as `Err(result)`.
    pub fn consume(&self, mut cb: impl FnMut(&[u8]) -> i32) -> Result<u64, i32> {
        let rb = self.ring();
        let mut cons = rb.consumer_pos.0.load(Ordering::Acquire);
        let mut count = 0;
        loop {
            let mut progressed = false;
            let prod = rb.producer_pos.0.load(Ordering::Acquire);
            while cons < prod {
                let off = rb.off(cons);
                let len = rb.region.word(off).load(Ordering::Acquire);
                if len & rf::BPF_RINGBUF_BUSY_BIT != 0 {
                    return Ok(count);
                }
                progressed = true;
                let size = len & !rf::BPF_RINGBUF_DISCARD_BIT;
                let next = cons + round8(u64::from(size) + HDR);
                if len & rf::BPF_RINGBUF_DISCARD_BIT == 0 {
                    let r = cb(rb.region.read(off + HDR as usize, size as usize));
                    count += 1;
                    if r < 0 {
                        rb.consumer_pos.0.store(next, Ordering::Release);
                        return Err(r);
                    }
                }
                cons = next;
                rb.consumer_pos.0.store(cons, Ordering::Release);
            }
            if !progressed {
                return Ok(count);
            }
        }
    }

    /// Waits up to `timeout` for a producer's wakeup unless data is already available, then
    /// consumes like [`RingbufConsumer::consume`].
    pub fn poll(&self, timeout: Duration, cb: impl FnMut(&[u8]) -> i32) -> Result<u64, i32> {
        let rb = self.ring();
        let seq = rb.wake_seq.lock().unwrap_or_else(|p| p.into_inner());
        if rb.query(rf::BPF_RB_AVAIL_DATA) == 0 {
            let start = *seq;
            let _unused = rb
                .wake_cv
                .wait_timeout_while(seq, timeout, |s| *s == start)
                .unwrap_or_else(|p| p.into_inner());
        } else {
            drop(seq);
        }
        self.consume(cb)
    }
}
