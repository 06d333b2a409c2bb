//! Reader slots and grace-period snapshots: the protocol core.
//!
//! A [`SectionWord`] is one reader's state for one flavour (even: outside, odd: inside; written
//! only by its owner, strictly increasing). A [`Slot`] holds both flavours' words of one
//! (thread, domain) pair on its own cache line. The [`Registry`] owns all slots of a domain and
//! hands out free ones; a [`Snapshot`] remembers the words that were odd after the heavy fence
//! and reports when each has moved on. The ordering argument is in the crate documentation.

use crate::sync::{Arc, AtomicBool, AtomicU64, Mutex, Ordering};
use crate::{Flavor, fence};
use crossbeam_utils::CachePadded;
use std::sync::PoisonError;
use std::time::Duration;

/// One reader's section state for one flavour.
#[derive(Debug)]
pub struct SectionWord(AtomicU64);

impl Default for SectionWord {
    fn default() -> Self {
        Self::new()
    }
}

impl SectionWord {
    /// A word outside any section.
    pub fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    /// Opens the (outermost) section. Only the owning thread may call this.
    #[inline(always)]
    pub fn enter(&self) {
        // Only the owner writes the word, so a relaxed read sees its own last store.
        let v = self.0.load(Ordering::Relaxed);
        debug_assert!(v.is_multiple_of(2), "section word entered twice");
        self.0.store(v + 1, Ordering::Release);
        fence::light();
    }

    /// Closes the (outermost) section. Only the owning thread may call this.
    #[inline(always)]
    pub fn exit(&self) {
        let v = self.0.load(Ordering::Relaxed);
        debug_assert!(!v.is_multiple_of(2), "section word left while outside");
        self.0.store(v + 1, Ordering::Release);
    }

    /// Enter without the light fence: the broken protocol loom must reject.
    #[cfg(all(test, loom))]
    pub(crate) fn enter_unfenced(&self) {
        let v = self.0.load(Ordering::Relaxed);
        self.0.store(v + 1, Ordering::Release);
    }

    /// The word's value if a section is open (call after the heavy fence).
    pub fn active(&self) -> Option<u64> {
        let v = self.0.load(Ordering::Acquire);
        (!v.is_multiple_of(2)).then_some(v)
    }

    /// Whether the section identified by `seen` (a value from [`Self::active`]) has ended.
    pub fn moved_past(&self, seen: u64) -> bool {
        self.0.load(Ordering::Acquire) != seen
    }
}

/// The words of one (thread, domain) pair.
#[derive(Debug, Default)]
pub struct Slot {
    /// Atomic sections.
    pub atomic: SectionWord,
    /// Sleepable sections.
    pub sleepable: SectionWord,
    in_use: AtomicBool,
}

impl Slot {
    /// The word of `flavor` (`Both` is not a single word).
    fn word(&self, flavor: Flavor) -> &SectionWord {
        match flavor {
            Flavor::Sleepable => &self.sleepable,
            Flavor::Atomic | Flavor::Both => &self.atomic,
        }
    }
}

/// A slot shared between its owner and the grace-period scanners.
pub type SlotRef = Arc<CachePadded<Slot>>;

/// All reader slots of one domain. Slots are never removed, only reused.
#[derive(Debug, Default)]
pub struct Registry {
    slots: Mutex<Vec<SlotRef>>,
}

impl Registry {
    /// Takes a free slot (or adds one) for the calling thread.
    pub fn acquire(&self) -> SlotRef {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let relaxed = Ordering::Relaxed;
        if let Some(slot) = slots.iter().find(|s| !s.in_use.load(relaxed)) {
            slot.in_use.store(true, relaxed);
            return slot.clone();
        }
        let slot = Arc::new(CachePadded::new(Slot::default()));
        slot.in_use.store(true, relaxed);
        slots.push(slot.clone());
        slot
    }

    /// Returns a slot whose owner is gone; its words must be even (no open section).
    pub fn release(&self, slot: &SlotRef) {
        debug_assert!(slot.atomic.active().is_none() && slot.sleepable.active().is_none());
        let _slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slot.in_use
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    /// Number of slots ever created (for tests and statistics).
    pub fn len(&self) -> usize {
        self.slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no reader ever registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Issues the heavy fence and remembers every open section of `flavor`.
    pub fn snapshot(&self, flavor: Flavor) -> Snapshot {
        fence::heavy();
        let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        let mut waits = Vec::new();
        for slot in slots.iter() {
            for f in [Flavor::Atomic, Flavor::Sleepable] {
                let wanted = match f {
                    Flavor::Atomic => flavor.covers_atomic(),
                    _ => flavor.covers_sleepable(),
                };
                if wanted && let Some(seen) = slot.word(f).active() {
                    waits.push(Wait {
                        slot: slot.clone(),
                        flavor: f,
                        seen,
                    });
                }
            }
        }
        Snapshot { waits }
    }
}

/// One open section a grace period waits for.
#[derive(Debug, Clone)]
struct Wait {
    slot: SlotRef,
    flavor: Flavor,
    seen: u64,
}

/// The sections a grace period still waits for.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    waits: Vec<Wait>,
}

impl Snapshot {
    /// The part of this snapshot a grace period of `flavor` needs (`self` must cover it).
    pub fn restrict(&self, flavor: Flavor) -> Snapshot {
        let waits = self
            .waits
            .iter()
            .filter(|w| match w.flavor {
                Flavor::Atomic => flavor.covers_atomic(),
                _ => flavor.covers_sleepable(),
            })
            .cloned()
            .collect();
        Snapshot { waits }
    }

    /// Forgets the sections that have ended; true once none is left (the grace period is over).
    pub fn poll(&mut self) -> bool {
        self.waits
            .retain(|w| !w.slot.word(w.flavor).moved_past(w.seen));
        self.waits.is_empty()
    }

    /// Number of sections still waited for.
    pub fn len(&self) -> usize {
        self.waits.len()
    }

    /// Whether the grace period is known to be over.
    pub fn is_empty(&self) -> bool {
        self.waits.is_empty()
    }

    /// Blocks until [`Self::poll`] is true, spinning briefly, then yielding, then sleeping.
    pub fn wait(&mut self) {
        let mut backoff = Backoff::default();
        while !self.poll() {
            backoff.snooze();
        }
    }
}

/// Spin, then yield, then sleep with exponential growth up to one millisecond.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    const SPINS: u32 = 6;
    const YIELDS: u32 = 10;
    const MAX_SLEEP: Duration = Duration::from_millis(1);

    pub(crate) fn snooze(&mut self) {
        if cfg!(loom) {
            crate::sync::yield_now();
        } else if self.step < Self::SPINS {
            for _ in 0..(1u32 << self.step) {
                std::hint::spin_loop();
            }
        } else if self.step < Self::SPINS + Self::YIELDS {
            crate::sync::yield_now();
        } else {
            let exp = (self.step - Self::SPINS - Self::YIELDS).min(10);
            let sleep = Duration::from_micros(4u64 << exp).min(Self::MAX_SLEEP);
            std::thread::sleep(sleep);
        }
        self.step = self.step.saturating_add(1);
    }
}
