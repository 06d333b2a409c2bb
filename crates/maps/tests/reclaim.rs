//! Reclamation safety of the maps, with `lull_maps::poison` quarantining freed memory (so a read
//! after free returns the poison pattern instead of another allocation's data):
//!
//! - readers in *sleepable* sections hold value pointers (hash elements, inner maps of
//!   hash/array-of-maps) across a long block while other threads remove them through every
//!   path that frees an element: delete, replace, lookup-and-delete, batch delete,
//!   lookup-and-delete batch, inner-map replacement and deletion; what the reader sees never
//!   changes and is never poison, and nothing is reclaimed while it holds it;
//! - readers in *atomic* sections racing with the same removals never see poison;
//! - once the readers are gone and the domain's deferred work has run, the live map-memory
//!   blocks and maps are back at their baseline, round after round (no growth).
//!
//! The tests of this file run one at a time (the poison counters are process-wide).
#![allow(unsafe_code)]

use lull_abi::MapType;
use lull_abi::map_flags as mf;
use lull_maps::update_flags::BPF_ANY;
use lull_maps::{Map, MapContext, MapSpec, POISON_WORD, poison};
use lull_rcu::Domain;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

const MAGIC: u64 = 0x0bad_cafe_f00d_d00d;
const READERS: u32 = 3;
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    let g = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    poison::enable(32 << 20);
    g
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn val(tag: u64) -> [u8; 16] {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&tag.to_ne_bytes());
    v[8..].copy_from_slice(&(tag ^ MAGIC).to_ne_bytes());
    v
}

/// Reads `(tag, check)` through a value pointer, as a program would.
fn read(p: NonNull<u8>) -> (u64, u64) {
    // SAFETY: a 16-byte, 8-aligned map value the caller's read section keeps allocated; the
    // accesses are atomic because the host may write the slot concurrently.
    unsafe {
        let w = p.as_ptr().cast::<u64>();
        (
            AtomicU64::from_ptr(w).load(Ordering::Relaxed),
            AtomicU64::from_ptr(w.add(1)).load(Ordering::Relaxed),
        )
    }
}

fn assert_written((tag, check): (u64, u64), what: &str) {
    assert_ne!(tag, POISON_WORD, "{what}: read freed memory");
    assert_eq!(
        check,
        tag ^ MAGIC,
        "{what}: a value nobody wrote ({tag:#x}/{check:#x})"
    );
}

/// The value of an inner (array) map reached through an outer map's program lookup.
fn inner_value(outer: &Map, key: &[u8]) -> Option<NonNull<u8>> {
    let inner = outer.lookup(key, 0)?;
    // SAFETY: a program-side map-in-map lookup returns the inner `Map`'s address, valid while
    // the caller's read section lasts.
    let inner = unsafe { &*inner.as_ptr().cast::<Map>() };
    inner.lookup(&k(0), 0)
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_micros(100));
    }
}

struct World {
    domain: Domain,
    ctx: MapContext,
    hash: Arc<Map>,
    outer_hash: Arc<Map>,
    outer_arr: Arc<Map>,
    inner_spec: MapSpec,
    tag: AtomicU64,
}

impl World {
    fn new() -> World {
        let domain = Domain::new();
        let ctx = MapContext::with_domain(READERS + 1, domain.clone());
        let inner_spec = MapSpec::new(MapType::Array, 4, 16, 1);
        let hash = MapSpec::new(MapType::Hash, 4, 16, 64).with_flags(mf::NO_PREALLOC);
        let outer_hash = MapSpec::new(MapType::HashOfMaps, 4, 4, 8).with_inner(inner_spec.clone());
        let outer_arr = MapSpec::new(MapType::ArrayOfMaps, 4, 4, 8).with_inner(inner_spec.clone());
        World {
            hash: Map::create(hash, &ctx).unwrap(),
            outer_hash: Map::create(outer_hash, &ctx).unwrap(),
            outer_arr: Map::create(outer_arr, &ctx).unwrap(),
            domain,
            ctx,
            inner_spec,
            tag: AtomicU64::new(1),
        }
    }

    fn tag(&self) -> u64 {
        self.tag.fetch_add(1, Ordering::Relaxed)
    }

    fn inner(&self) -> Arc<Map> {
        let m = Map::create(self.inner_spec.clone(), &self.ctx).unwrap();
        m.update(&k(0), &val(self.tag()), BPF_ANY).unwrap();
        m
    }

    fn fill(&self, key: u32) {
        self.hash
            .update(&k(key), &val(self.tag()), BPF_ANY)
            .unwrap();
        self.outer_hash
            .update_inner_map(&k(key), self.inner(), 0)
            .unwrap();
        self.outer_arr
            .update_inner_map(&k(key), self.inner(), 0)
            .unwrap();
    }

    /// Removes `key`'s element and inner maps, each through a different path per `round`.
    fn take_away(&self, key: u32, round: u32) {
        let kk = k(key);
        match round % 5 {
            0 => self.hash.delete(&kk).unwrap(),
            1 => self.hash.update(&kk, &val(self.tag()), BPF_ANY).unwrap(),
            2 => drop(self.hash.lookup_and_delete(&kk, 0).unwrap()),
            3 => {
                let (n, r) = self.hash.delete_batch(&kk, 1, 0);
                assert_eq!((n, r), (1, Ok(())));
            }
            _ => {
                // Drains the whole map; refill the other readers' keys' values later.
                let mut token = None;
                loop {
                    let b = self
                        .hash
                        .lookup_and_delete_batch(token.as_deref(), 64, 0)
                        .unwrap();
                    token = Some(b.next.clone());
                    if b.status.is_err() {
                        break;
                    }
                }
            }
        }
        if round.is_multiple_of(2) {
            self.outer_hash.delete(&kk).unwrap();
        } else {
            self.outer_hash
                .update_inner_map(&kk, self.inner(), 0)
                .unwrap();
        }
        self.outer_arr
            .update_inner_map(&kk, self.inner(), 0)
            .unwrap();
    }
}

/// Sleepable readers hold pointers across a block while every removal path runs.
#[test]
fn sleepable_readers_hold_values_across_every_removal_path() {
    const ROUNDS: u32 = 60;
    let _g = serial();
    let start = (poison::stats().live_blocks, Map::live_count());
    let world = Arc::new(World::new());
    for r in 0..READERS {
        world.fill(r);
    }
    world.domain.barrier().unwrap();
    let base = (poison::stats().live_blocks, Map::live_count());
    // Phases of a round: go (values in place) -> holding (readers hold pointers) -> release
    // (host removed everything) -> done (readers left their sections). Readers never panic
    // (a panicking thread would leave the others waiting forever); they record failures.
    let phase = Arc::new(Barrier::new(READERS as usize + 1));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (world, phase, failures) = (world.clone(), phase.clone(), failures.clone());
            std::thread::spawn(move || {
                let fail = |m: String| failures.lock().unwrap().push(m);
                for round in 0..ROUNDS {
                    phase.wait(); // go
                    let section = world.domain.read_sleepable();
                    let ptrs = [
                        world.hash.lookup(&k(r), r),
                        inner_value(&world.outer_hash, &k(r)),
                        inner_value(&world.outer_arr, &k(r)),
                    ];
                    let before = ptrs.map(|p| p.map(read));
                    phase.wait(); // holding
                    phase.wait(); // release: everything was taken away meanwhile
                    for (i, (p, b)) in ptrs.iter().zip(before).enumerate() {
                        let what = format!("round {round} reader {r} pointer {i}");
                        let (Some(p), Some(b)) = (p, b) else {
                            fail(format!("{what}: value absent at the start"));
                            continue;
                        };
                        let after = read(*p);
                        if after.0 == POISON_WORD || after.1 != after.0 ^ MAGIC {
                            fail(format!("{what}: read {after:#x?} (freed or never written)"));
                        } else if after != b {
                            fail(format!("{what}: changed from {b:#x?} to {after:#x?}"));
                        }
                    }
                    drop(section);
                    phase.wait(); // done
                }
            })
        })
        .collect();
    for round in 0..ROUNDS {
        phase.wait(); // go
        phase.wait(); // holding
        let reclaimed = world.domain.stats().reclaimed;
        for r in 0..READERS {
            world.take_away(r, round);
        }
        let pending = world.domain.pending();
        std::thread::sleep(Duration::from_millis(1));
        let reclaimed_meanwhile = world.domain.stats().reclaimed - reclaimed;
        phase.wait(); // release
        phase.wait(); // done
        assert!(pending > 0, "round {round}: nothing deferred");
        assert_eq!(
            reclaimed_meanwhile, 0,
            "round {round}: reclaimed under sleepable readers"
        );
        for r in 0..READERS {
            if world.hash.lookup_copy(&k(r), 0).is_err() {
                world
                    .hash
                    .update(&k(r), &val(world.tag()), BPF_ANY)
                    .unwrap();
            }
            if world.outer_hash.inner_map(&k(r)).is_none() {
                world
                    .outer_hash
                    .update_inner_map(&k(r), world.inner(), 0)
                    .unwrap();
            }
        }
        world.domain.barrier().unwrap();
        let s = world.domain.stats();
        assert_eq!((s.deferred, world.domain.pending()), (s.reclaimed, 0));
        assert_eq!(
            (poison::stats().live_blocks, Map::live_count()),
            base,
            "round {round}: memory grows"
        );
    }
    readers.into_iter().for_each(|t| t.join().unwrap());
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} bad reads, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    drop(failures);
    let domain = world.domain.clone();
    drop(world);
    domain.barrier().unwrap();
    drop(domain);
    assert_eq!(
        (poison::stats().live_blocks, Map::live_count()),
        start,
        "leak"
    );
    assert_eq!(poison::check_quarantine(), 0, "write after free");
}

/// Atomic readers race with removals (no coordination): never a poisoned or foreign value.
#[test]
fn atomic_readers_race_removals_without_seeing_poison() {
    let _g = serial();
    let start = (poison::stats().live_blocks, Map::live_count());
    let world = Arc::new(World::new());
    for r in 0..READERS {
        world.fill(r);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..READERS)
        .map(|r| {
            let (world, stop) = (world.clone(), stop.clone());
            std::thread::spawn(move || {
                let reader = world.domain.register();
                let mut seen = 0u64;
                while !stop.load(Ordering::Relaxed) || seen == 0 {
                    let _g = reader.read_atomic();
                    for key in 0..READERS {
                        let ptrs = [
                            world.hash.lookup(&k(key), r),
                            inner_value(&world.outer_hash, &k(key)),
                            inner_value(&world.outer_arr, &k(key)),
                        ];
                        for p in ptrs.into_iter().flatten() {
                            let first = read(p);
                            std::hint::spin_loop();
                            assert_written(first, "atomic reader");
                            assert_written(read(p), "atomic reader, second read");
                            seen += 1;
                        }
                    }
                }
                seen
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut round = 0;
    while Instant::now() < deadline {
        for r in 0..READERS {
            world.take_away(r, round);
        }
        for r in 0..READERS {
            world.fill(r);
        }
        round += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let seen: u64 = readers.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(seen > 0 && round > 10, "seen {seen}, rounds {round}");
    let domain = world.domain.clone();
    drop(world);
    wait_until("deferred frees", || {
        domain.barrier().unwrap();
        domain.pending() == 0
    });
    drop(domain);
    assert_eq!(
        (poison::stats().live_blocks, Map::live_count()),
        start,
        "leak"
    );
    assert_eq!(poison::check_quarantine(), 0, "write after free");
}

/// Poisoning is observable: memory freed behind a reader's back (here: by dropping the last
/// handle of a map outside any grace period, which no program-facing path does) reads as
/// poison while it is quarantined. Guards against a silently ineffective quarantine.
#[test]
fn quarantine_makes_a_read_after_free_visible() {
    let _g = serial();
    let ctx = MapContext::with_domain(1, Domain::new());
    let map = Map::create(MapSpec::new(MapType::Array, 4, 16, 1), &ctx).unwrap();
    map.update(&k(0), &val(7), BPF_ANY).unwrap();
    let p = map.lookup(&k(0), 0).unwrap();
    assert_written(read(p), "live value");
    drop(map);
    // `p` now points into quarantined (poisoned, not reused) memory.
    assert_eq!(read(p), (POISON_WORD, POISON_WORD));
}
