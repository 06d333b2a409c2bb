//! Use-after-free detection for map memory: poisoning, a quarantine, and allocation counters.
//!
//! Every block of map storage (array values, hash pools, `BPF_F_NO_PREALLOC` hash elements)
//! is a `RawBuf`, and every `RawBuf` is handed back through this module (`release`) when its
//! owner drops it — which, for anything a program may still point to, happens only after both
//! RCU grace periods (`lull-rcu`). What happens then:
//!
//! * **Always**: the block is overwritten with [`POISON`] bytes (`0x6b`, the kernel's
//!   `POISON_FREE`) and the counters below are updated (two relaxed atomic adds per
//!   allocation and per release).
//! * **With poisoning enabled** ([`enable`], the `poison` cargo feature, or the environment
//!   variable `LULL_MAPS_POISON=<bytes>` read at the first allocation): the poisoned block is
//!   not returned to the allocator but put in a FIFO *quarantine* of at most the configured
//!   number of bytes. Only when newer blocks push it out is it checked (still all poison?
//!   otherwise someone *wrote* to freed memory: [`PoisonStats::corrupted`] counts it) and
//!   really freed. So for as long as a block sits in quarantine its address is not reused, and
//!   any read of it — by a program through a pointer it should no longer hold — returns the
//!   poison pattern instead of somebody else's data, which a test can recognise.
//!
//! Preallocated hash slots are *not* poisoned when their element is deleted: the kernel
//! reuses them at once and a program holding a pointer keeps reading valid (possibly newer)
//! data; the pool itself is poisoned when the map goes.
//!
//! Only map *storage* goes through here. The `Map` object itself (its bucket array, locks,
//! handles) is ordinary Rust heap memory; it too is dropped only after both grace periods when
//! a program may still reach it (an inner map of a map-in-map), and [`crate::Map::live_count`]
//! counts it, but its memory is not poisoned.
//!
//! [`stats`] tells how many blocks are live (allocated and not yet released): after a
//! workload's maps are gone and the domain's [`barrier`](lull_rcu::Domain::barrier) has run,
//! it must be back at its baseline — the evidence that every deferred free did happen.
#![allow(unsafe_code)]

use std::alloc::{Layout, dealloc};
use std::collections::VecDeque;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, PoisonError};

/// Byte written over memory when it is reclaimed (lets tests detect use after free).
pub const POISON: u8 = 0x6b;

/// [`POISON`] repeated over a 64-bit word: what an 8-byte read of freed memory returns.
pub const POISON_WORD: u64 = u64::from_ne_bytes([POISON; 8]);

/// Quarantine size used by the `poison` feature and by `LULL_MAPS_POISON=1`.
pub const DEFAULT_QUARANTINE_BYTES: usize = 64 << 20;

/// Counters of map memory (process-wide).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoisonStats {
    /// Blocks allocated and not yet released (released = poisoned; quarantined or freed).
    pub live_blocks: i64,
    /// Bytes of those blocks.
    pub live_bytes: i64,
    /// Blocks ever allocated.
    pub allocated: u64,
    /// Blocks ever released.
    pub released: u64,
    /// Blocks in quarantine now.
    pub quarantined_blocks: usize,
    /// Bytes in quarantine now.
    pub quarantined_bytes: usize,
    /// Quarantined blocks found no longer all-poison when they left the quarantine (a write
    /// after free).
    pub corrupted: u64,
}

struct Quarantine {
    blocks: VecDeque<(NonNull<u8>, Layout)>,
    bytes: usize,
}

// SAFETY: the quarantine owns the blocks it holds (nobody else may touch them); moving the
// addresses between threads is fine.
unsafe impl Send for Quarantine {}

static QUARANTINE: Mutex<Quarantine> = Mutex::new(Quarantine {
    blocks: VecDeque::new(),
    bytes: 0,
});
/// Quarantine capacity in bytes; 0 = poisoning disabled (blocks are freed at once).
static LIMIT: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicI64 = AtomicI64::new(0);
static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static RELEASED: AtomicU64 = AtomicU64::new(0);
static CORRUPTED: AtomicU64 = AtomicU64::new(0);
static INIT: Once = Once::new();

fn quarantine() -> MutexGuard<'static, Quarantine> {
    QUARANTINE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies the build-time and environment defaults once.
fn init() {
    INIT.call_once(|| {
        let from_env = std::env::var("LULL_MAPS_POISON")
            .ok()
            .and_then(|v| match v.trim() {
                "" | "0" => None,
                "1" => Some(DEFAULT_QUARANTINE_BYTES),
                n => n.parse().ok(),
            });
        let default = if cfg!(feature = "poison") {
            DEFAULT_QUARANTINE_BYTES
        } else {
            0
        };
        // An explicit `enable`/`disable` before the first allocation wins (it ran `init`).
        let _ = LIMIT.compare_exchange(
            0,
            from_env.unwrap_or(default),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    });
}

/// Turns poisoning with a quarantine of `quarantine_bytes` on (0 turns it off). Blocks
/// released from now on are kept that long; the ones already in quarantine stay.
pub fn enable(quarantine_bytes: usize) {
    INIT.call_once(|| {});
    LIMIT.store(quarantine_bytes, Ordering::Relaxed);
    if quarantine_bytes == 0 {
        flush();
    }
}

/// Turns the quarantine off and frees (after checking) everything in it.
pub fn disable() {
    enable(0);
}

/// Whether released blocks go to the quarantine.
pub fn is_enabled() -> bool {
    init();
    LIMIT.load(Ordering::Relaxed) != 0
}

/// The counters now.
pub fn stats() -> PoisonStats {
    let q = quarantine();
    PoisonStats {
        live_blocks: LIVE_BLOCKS.load(Ordering::Relaxed),
        live_bytes: LIVE_BYTES.load(Ordering::Relaxed),
        allocated: ALLOCATED.load(Ordering::Relaxed),
        released: RELEASED.load(Ordering::Relaxed),
        quarantined_blocks: q.blocks.len(),
        quarantined_bytes: q.bytes,
        corrupted: CORRUPTED.load(Ordering::Relaxed),
    }
}

/// Checks every quarantined block (without freeing it) and returns how many are no longer
/// all-poison; those are also added to [`PoisonStats::corrupted`].
pub fn check_quarantine() -> u64 {
    let q = quarantine();
    let bad = q
        .blocks
        .iter()
        .filter(|(p, l)| !intact(*p, l.size()))
        .count() as u64;
    CORRUPTED.fetch_add(bad, Ordering::Relaxed);
    bad
}

/// Frees every quarantined block (each checked first).
pub fn flush() {
    let drained: Vec<_> = {
        let mut q = quarantine();
        q.bytes = 0;
        q.blocks.drain(..).collect()
    };
    for (p, layout) in drained {
        free_checked(p, layout);
    }
}

/// Records a new block of `size` bytes.
pub(crate) fn allocated(size: usize) {
    init();
    ALLOCATED.fetch_add(1, Ordering::Relaxed);
    LIVE_BLOCKS.fetch_add(1, Ordering::Relaxed);
    LIVE_BYTES.fetch_add(size as i64, Ordering::Relaxed);
}

/// Hands a block back: poisons it, then frees it or quarantines it.
///
/// # Safety
/// `ptr` must be a live allocation of `layout` made with the global allocator, owned by the
/// caller, and never used again by anyone.
pub(crate) unsafe fn release(ptr: NonNull<u8>, layout: Layout) {
    // SAFETY: caller contract: we own `layout.size()` bytes at `ptr`.
    unsafe { std::ptr::write_bytes(ptr.as_ptr(), POISON, layout.size()) };
    RELEASED.fetch_add(1, Ordering::Relaxed);
    LIVE_BLOCKS.fetch_sub(1, Ordering::Relaxed);
    LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
    let limit = LIMIT.load(Ordering::Relaxed);
    if limit == 0 {
        // SAFETY: caller contract.
        unsafe { dealloc(ptr.as_ptr(), layout) };
        return;
    }
    let mut evicted = Vec::new();
    {
        let mut q = quarantine();
        q.blocks.push_back((ptr, layout));
        q.bytes += layout.size();
        while q.bytes > limit && q.blocks.len() > 1 {
            let Some((p, l)) = q.blocks.pop_front() else {
                break;
            };
            q.bytes -= l.size();
            evicted.push((p, l));
        }
    }
    for (p, l) in evicted {
        free_checked(p, l);
    }
}

fn intact(p: NonNull<u8>, len: usize) -> bool {
    // SAFETY: quarantined blocks are owned by the quarantine and `len` bytes long; nobody may
    // legitimately write them, and a buggy writer would race only with this read of plain
    // bytes (which is exactly what we are trying to detect).
    let bytes = unsafe { std::slice::from_raw_parts(p.as_ptr(), len) };
    bytes.iter().all(|&b| b == POISON)
}

fn free_checked(p: NonNull<u8>, layout: Layout) {
    if !intact(p, layout.size()) {
        CORRUPTED.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: the block came from `release`, whose caller gave up ownership; it leaves the
    // quarantine exactly once (here).
    unsafe { dealloc(p.as_ptr(), layout) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::alloc_zeroed;

    #[test]
    fn quarantined_block_stays_poisoned_and_is_freed_when_pushed_out() {
        // Process-wide state: this is the crate's only unit test touching it.
        enable(4096);
        let layout = Layout::from_size_align(1024, 8).unwrap();
        let before = stats();
        // SAFETY: non-zero layout.
        let p = NonNull::new(unsafe { alloc_zeroed(layout) }).unwrap();
        allocated(layout.size());
        // SAFETY: we own it and never use it again (the test only reads it through the
        // quarantine's guarantee that it is not reused).
        unsafe { release(p, layout) };
        let mid = stats();
        assert_eq!(mid.live_blocks, before.live_blocks);
        assert!(mid.quarantined_bytes >= 1024);
        // SAFETY: the quarantine keeps the block allocated; reading it is what a buggy
        // program would do.
        let first = unsafe { p.as_ptr().read_volatile() };
        assert_eq!(first, POISON);
        assert_eq!(check_quarantine(), 0);
        // Corrupt it, then push it out with more releases: the write after free is counted.
        // SAFETY: still allocated (quarantined).
        unsafe { p.as_ptr().add(7).write_volatile(1) };
        for _ in 0..8 {
            // SAFETY: as above.
            let q = NonNull::new(unsafe { alloc_zeroed(layout) }).unwrap();
            allocated(layout.size());
            // SAFETY: as above.
            unsafe { release(q, layout) };
        }
        let after = stats();
        assert!(after.corrupted > before.corrupted, "{after:?}");
        assert!(after.quarantined_bytes <= 4096);
        disable();
        assert_eq!(stats().quarantined_blocks, 0);
    }
}
