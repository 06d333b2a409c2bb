//! Concurrency stress: worker threads act as programs (lookup → atomic add through the value
//! pointer, inserts, replacements, deletes) while a host thread iterates with get_next_key
//! and deletes. Checks: no lost update (per-key counters only their owner increments) and no
//! use after free (reclaimed element memory is poisoned with `POISON` bytes and quarantined by
//! `lull_maps::poison`, so a reader that reached freed memory would see the pattern).
//! `tests/reclaim.rs` covers readers holding pointers across blocking and the leak checks.
#![allow(unsafe_code)]

use lull_abi::MapType;
use lull_abi::map_flags as mf;
use lull_maps::update_flags::{BPF_ANY, BPF_NOEXIST};
use lull_maps::{Map, MapContext, MapError, MapSpec, POISON_WORD};
use lull_rcu::Domain;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const WORKERS: u32 = 3;
const KEYS_PER_WORKER: u32 = 32;
const OPS: u32 = 200_000;

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

/// Increments the counter as a program would, then keeps using the pointer for a while (as a
/// longer program would) and checks the memory was neither reclaimed (poison) nor reused
/// (a counter only its owner increments can only grow) — `reuse_allowed` for preallocated
/// maps, whose slots the kernel reuses at once.
fn bump(p: std::ptr::NonNull<u8>, reuse_allowed: bool) {
    // SAFETY: an 8-byte, 8-aligned value of a live element (we are inside a read section).
    let cell = unsafe { AtomicU64::from_ptr(p.as_ptr().cast::<u64>()) };
    let before = cell.fetch_add(1, Ordering::Relaxed);
    assert_ne!(before, POISON_WORD, "read reclaimed memory");
    for _ in 0..50 {
        std::hint::spin_loop();
    }
    let after = cell.load(Ordering::Relaxed);
    assert_ne!(
        after, POISON_WORD,
        "element reclaimed while a reader held it"
    );
    if !reuse_allowed {
        assert!(
            after > before,
            "element memory reused while a reader held it ({before} -> {after})"
        );
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// Every worker owns keys `w*K..(w+1)*K`; the host deletes any key it sees with `key % 4 == 0`.
fn run_exact_counts(map_flags: u32) {
    lull_maps::poison::enable(16 << 20);
    let domain = Domain::new();
    let ctx = MapContext::with_domain(WORKERS, domain.clone());
    let spec = MapSpec::new(MapType::Hash, 4, 8, WORKERS * KEYS_PER_WORKER).with_flags(map_flags);
    let map = Map::create(spec, &ctx).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(std::sync::Barrier::new(WORKERS as usize + 1));
    let host = {
        let (map, stop, domain, start) = (map.clone(), stop.clone(), domain.clone(), start.clone());
        std::thread::spawn(move || {
            let mut deleted = 0u64;
            start.wait();
            while !stop.load(Ordering::Relaxed) || deleted == 0 {
                let mut cur: Option<Vec<u8>> = None;
                while let Ok(next) = map.get_next_key(cur.as_deref()) {
                    let key = u32::from_ne_bytes(next[..4].try_into().unwrap());
                    if key % 4 == 0 && map.delete(&next).is_ok() {
                        deleted += 1;
                    }
                    cur = Some(next);
                }
                // Let the reclaimer run meanwhile.
                let _ = domain.synchronize_atomic();
            }
            deleted
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (map, domain, start) = (map.clone(), domain.clone(), start.clone());
            std::thread::spawn(move || {
                let reader = domain.register();
                start.wait();
                let base = w * KEYS_PER_WORKER;
                let mut expected = vec![None::<u64>; KEYS_PER_WORKER as usize];
                let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(w);
                for _ in 0..OPS {
                    let r = xorshift(&mut seed);
                    let i = (r % u64::from(KEYS_PER_WORKER)) as usize;
                    let key = k(base + i as u32);
                    match (r >> 32) % 16 {
                        0 => {
                            // Replace with the value we expect (links a new element).
                            if let Some(e) = expected[i]
                                && map.update(&key, &e.to_ne_bytes(), BPF_ANY).is_ok()
                            {
                                expected[i] = Some(e);
                            }
                        }
                        1 => {
                            let gone = map.delete(&key);
                            assert!(gone.is_ok() || gone == Err(MapError::NotFound));
                            expected[i] = None;
                        }
                        _ => {
                            let g = reader.read_atomic();
                            match map.lookup(&key, w) {
                                Some(p) => {
                                    bump(p, map_flags & mf::NO_PREALLOC == 0);
                                    expected[i] = Some(expected[i].unwrap_or(0) + 1);
                                }
                                None => {
                                    drop(g);
                                    map.update(&key, &0u64.to_ne_bytes(), BPF_NOEXIST).unwrap();
                                    expected[i] = Some(0);
                                }
                            }
                        }
                    }
                }
                expected
            })
        })
        .collect();
    let expectations: Vec<Vec<Option<u64>>> =
        workers.into_iter().map(|t| t.join().unwrap()).collect();
    stop.store(true, Ordering::Relaxed);
    let host_deleted = host.join().unwrap();
    assert!(host_deleted > 0);
    let mut checked = 0;
    for (w, exp) in expectations.iter().enumerate() {
        for (i, e) in exp.iter().enumerate() {
            let key = k(w as u32 * KEYS_PER_WORKER + i as u32);
            match map.lookup_copy(&key, 0) {
                Ok(v) => {
                    let got = u64::from_ne_bytes(v.try_into().unwrap());
                    if !(w as u32 * KEYS_PER_WORKER + i as u32).is_multiple_of(4) {
                        // Only the owner touched this key: every increment must be there.
                        assert_eq!(Some(got), *e, "key {w}/{i}");
                        checked += 1;
                    } else {
                        assert!(got <= e.unwrap_or(0) && got != POISON_WORD);
                    }
                }
                Err(MapError::NotFound) => {}
                Err(other) => panic!("{other}"),
            }
        }
    }
    assert!(checked > 0);
    domain.barrier().unwrap();
}

#[test]
fn no_prealloc_hash_no_lost_update_no_use_after_free() {
    run_exact_counts(mf::NO_PREALLOC);
}

#[test]
fn prealloc_hash_no_lost_update() {
    // Preallocated slots are reused at once (kernel semantics): an increment through a stale
    // pointer may land in a reused slot of a host-deleted key, never in a key the host does
    // not delete — those are the ones checked exactly.
    run_exact_counts(0);
}

#[test]
fn percpu_counters_from_many_threads() {
    let domain = Domain::new();
    let ctx = MapContext::with_domain(4, domain.clone());
    let map = Map::create(MapSpec::new(MapType::PercpuHash, 4, 8, 4), &ctx).unwrap();
    map.update(&k(1), &[0u8; 32], BPF_ANY).unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|cpu| {
            let (map, domain) = (map.clone(), domain.clone());
            std::thread::spawn(move || {
                for _ in 0..10_000 {
                    let _g = domain.read_atomic();
                    let p = map.lookup(&k(1), cpu).unwrap();
                    // SAFETY: this CPU's 8-byte value; only this thread uses CPU `cpu`.
                    unsafe { *p.as_ptr().cast::<u64>() += 1 };
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let all = map.lookup_copy(&k(1), 0).unwrap();
    for c in 0..4 {
        assert_eq!(
            u64::from_ne_bytes(all[c * 8..c * 8 + 8].try_into().unwrap()),
            10_000
        );
    }
}

/// Per-thread counters that must add up exactly: every worker owns one key and increments it
/// `INCREMENTS` times as a program would (lookup, atomic add through the value pointer; insert
/// with `BPF_NOEXIST` when absent), while churn threads insert and delete other keys
/// (program-side and host-side) and the host walks the map with `get_next_key` deleting every
/// churn key it meets. Nobody deletes the counter keys, so no increment may be lost.
fn run_owned_counters(map_type: MapType, map_flags: u32) {
    const INCREMENTS: u64 = 20_000;
    const CHURN_KEYS: u32 = 48;
    lull_maps::poison::enable(16 << 20);
    let domain = Domain::new();
    let ctx = MapContext::with_domain(WORKERS + 2, domain.clone());
    let spec = MapSpec::new(map_type, 4, 8, WORKERS + CHURN_KEYS + 8).with_flags(map_flags);
    let map = Map::create(spec, &ctx).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Arc::new(std::sync::Barrier::new(WORKERS as usize + 2));
    let churn = {
        let (map, stop, domain, start) = (map.clone(), stop.clone(), domain.clone(), start.clone());
        std::thread::spawn(move || {
            let mut seed = 0x1234_5678_9abc_def1u64;
            let mut ops = 0u64;
            start.wait();
            while !stop.load(Ordering::Relaxed) || ops == 0 {
                let r = xorshift(&mut seed);
                let key = k(1000 + (r % u64::from(CHURN_KEYS)) as u32);
                let _g = domain.read_atomic();
                match (r >> 40) % 3 {
                    0 => drop(map.update_from_prog(&key, &r.to_ne_bytes(), BPF_ANY, WORKERS)),
                    1 => drop(map.delete_from_prog(&key)),
                    _ => {
                        if let Some(p) = map.lookup(&key, WORKERS) {
                            // SAFETY: 8-byte value of an element our section protects.
                            let v = unsafe { AtomicU64::from_ptr(p.as_ptr().cast::<u64>()) }
                                .load(Ordering::Relaxed);
                            assert_ne!(v, POISON_WORD, "churn reader saw freed memory");
                        }
                    }
                }
                ops += 1;
            }
            ops
        })
    };
    let host = {
        let (map, stop, start) = (map.clone(), stop.clone(), start.clone());
        std::thread::spawn(move || {
            let (mut walks, mut deleted) = (0u64, 0u64);
            start.wait();
            while !stop.load(Ordering::Relaxed) || walks == 0 {
                let mut cur: Option<Vec<u8>> = None;
                while let Ok(next) = map.get_next_key(cur.as_deref()) {
                    let key = u32::from_ne_bytes(next[..4].try_into().unwrap());
                    if key >= 1000 && map.delete(&next).is_ok() {
                        deleted += 1;
                    }
                    cur = Some(next);
                }
                walks += 1;
            }
            (walks, deleted)
        })
    };
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (map, domain, start) = (map.clone(), domain.clone(), start.clone());
            std::thread::spawn(move || {
                let reader = domain.register();
                let key = k(w);
                start.wait();
                for _ in 0..INCREMENTS {
                    let _g = reader.read_atomic();
                    match map.lookup(&key, w) {
                        // SAFETY: 8-byte value of an element our section protects; only this
                        // thread touches this key.
                        Some(p) => {
                            let old = unsafe { AtomicU64::from_ptr(p.as_ptr().cast::<u64>()) }
                                .fetch_add(1, Ordering::Relaxed);
                            assert_ne!(old, POISON_WORD, "counter in freed memory");
                        }
                        None => map
                            .update_from_prog(&key, &1u64.to_ne_bytes(), BPF_NOEXIST, w)
                            .unwrap(),
                    }
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|t| t.join().unwrap());
    stop.store(true, Ordering::Relaxed);
    let churn_ops = churn.join().unwrap();
    let (walks, deleted) = host.join().unwrap();
    assert!(
        churn_ops > 0 && walks > 0,
        "churn {churn_ops}, walks {walks}"
    );
    let mut total = 0;
    for w in 0..WORKERS {
        let v = map.lookup_copy(&k(w), 0).unwrap();
        let got = u64::from_ne_bytes(v[..8].try_into().unwrap());
        assert_eq!(
            got, INCREMENTS,
            "counter of worker {w} ({map_type:?}, deleted {deleted})"
        );
        total += got;
    }
    assert_eq!(total, INCREMENTS * u64::from(WORKERS));
    domain.barrier().unwrap();
    assert_eq!(domain.pending(), 0);
}

#[test]
fn owned_counters_sum_exactly_no_prealloc_hash() {
    run_owned_counters(MapType::Hash, mf::NO_PREALLOC);
}

#[test]
fn owned_counters_sum_exactly_prealloc_hash() {
    run_owned_counters(MapType::Hash, 0);
}

#[test]
fn owned_counters_sum_exactly_lru_hash() {
    // Capacity exceeds the keys ever present at once, so nothing is evicted.
    run_owned_counters(MapType::LruHash, 0);
}
