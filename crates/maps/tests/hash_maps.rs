//! Hash, per-CPU hash, LRU hash and LRU per-CPU hash against `hashtab.c` /
//! `bpf_lru_list.c` behaviour: flags, full maps, deletes, iteration, batches, eviction order.
//!
//! The tests stand in for programs, which access values through raw pointers.
#![allow(unsafe_code)]

use lull_abi::MapType;
use lull_abi::map_flags as mf;
use lull_maps::update_flags::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};
use lull_maps::{Map, MapContext, MapError, MapSpec, errno};
use lull_rcu::Domain;
use std::collections::BTreeSet;

fn ctx(cpus: u32) -> MapContext {
    MapContext::with_domain(cpus, Domain::new())
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

fn v8(x: u64) -> [u8; 8] {
    x.to_ne_bytes()
}

fn all_keys(m: &Map) -> Vec<u32> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    while let Ok(next) = m.get_next_key(cur.as_deref()) {
        out.push(u32::from_ne_bytes(next[..4].try_into().unwrap()));
        cur = Some(next);
    }
    out
}

fn hash_flavours() -> Vec<u32> {
    vec![0, mf::NO_PREALLOC]
}

#[test]
fn hash_update_flags_full_map_and_delete() {
    for flags in hash_flavours() {
        let m = Map::create(
            MapSpec::new(MapType::Hash, 4, 8, 3).with_flags(flags),
            &ctx(2),
        )
        .unwrap();
        assert_eq!(m.update(&k(1), &v8(10), BPF_EXIST), Err(MapError::NotFound));
        m.update(&k(1), &v8(10), BPF_NOEXIST).unwrap();
        assert_eq!(m.update(&k(1), &v8(11), BPF_NOEXIST), Err(MapError::Exists));
        m.update(&k(1), &v8(12), BPF_EXIST).unwrap();
        m.update(&k(2), &v8(20), BPF_ANY).unwrap();
        m.update(&k(3), &v8(30), BPF_ANY).unwrap();
        // Full: a new key fails with -E2BIG, replacing an existing one still works.
        assert_eq!(
            m.update(&k(4), &v8(40), BPF_ANY)
                .unwrap_err()
                .positive_errno(),
            errno::E2BIG
        );
        for _ in 0..10 {
            m.update(&k(2), &v8(21), BPF_ANY).unwrap();
        }
        assert_eq!(m.lookup_copy(&k(1), 0).unwrap(), v8(12));
        assert_eq!(m.lookup_copy(&k(2), 0).unwrap(), v8(21));
        assert_eq!(m.delete(&k(9)), Err(MapError::NotFound));
        m.delete(&k(2)).unwrap();
        assert_eq!(m.lookup_copy(&k(2), 0), Err(MapError::NotFound));
        m.update(&k(4), &v8(40), BPF_ANY).unwrap();
        assert_eq!(m.len(), 3);
        assert!(matches!(
            m.update(&k(5), &v8(1), 3),
            Err(MapError::Invalid(_))
        ));
        assert!(matches!(
            m.update(&k(5), &v8(1), BPF_F_LOCK),
            Err(MapError::Invalid(_))
        ));
        assert_eq!(m.lookup_and_delete(&k(4), 0).unwrap(), v8(40));
        assert_eq!(m.lookup_and_delete(&k(4), 0), Err(MapError::NotFound));
        assert!(m.lookup(&k(1), 0).is_some());
        assert!(m.lookup(&k(4), 0).is_none());
    }
}

#[test]
fn replacing_a_key_links_a_new_element() {
    // As in the kernel, a program's pointer keeps addressing the old element after an update.
    let m = Map::create(MapSpec::new(MapType::Hash, 4, 8, 4), &ctx(1)).unwrap();
    m.update(&k(1), &v8(1), BPF_ANY).unwrap();
    let g = m.domain().read_atomic();
    let old = m.lookup(&k(1), 0).unwrap();
    m.update(&k(1), &v8(2), BPF_ANY).unwrap();
    let new = m.lookup(&k(1), 0).unwrap();
    assert_ne!(old, new);
    // SAFETY: both pointers address preallocated map memory, valid during the section.
    unsafe {
        assert_eq!(old.as_ptr().cast::<u64>().read(), 1);
        assert_eq!(new.as_ptr().cast::<u64>().read(), 2);
    }
    drop(g);
}

#[test]
fn get_next_key_visits_every_key_once_and_restarts_on_missing_key() {
    for flags in hash_flavours() {
        let m = Map::create(
            MapSpec::new(MapType::Hash, 4, 8, 100).with_flags(flags),
            &ctx(1),
        )
        .unwrap();
        for i in 0..100 {
            m.update(&k(i * 7), &v8(u64::from(i)), BPF_ANY).unwrap();
        }
        let keys = all_keys(&m);
        assert_eq!(keys.len(), 100);
        let set: BTreeSet<u32> = keys.iter().copied().collect();
        assert_eq!(set, (0..100).map(|i| i * 7).collect());
        // A key that is not in the map restarts from the first key (kernel behaviour).
        assert_eq!(m.get_next_key(Some(&k(1))).unwrap(), k(keys[0]));
        assert_eq!(m.get_next_key(None).unwrap(), k(keys[0]));
        assert_eq!(
            m.get_next_key(Some(&k(*keys.last().unwrap()))),
            Err(MapError::NotFound)
        );
        // Deleting while iterating (the classic delete-current-then-next loop) empties the map.
        let mut cur = m.get_next_key(None).ok();
        while let Some(key) = cur {
            let next = m.get_next_key(Some(&key)).ok();
            m.delete(&key).unwrap();
            cur = next.or_else(|| m.get_next_key(None).ok());
        }
        assert!(m.is_empty());
    }
    let empty = Map::create(MapSpec::new(MapType::Hash, 4, 8, 4), &ctx(1)).unwrap();
    assert_eq!(empty.get_next_key(None), Err(MapError::NotFound));
}

#[test]
fn long_keys_are_compared_completely() {
    let m = Map::create(MapSpec::new(MapType::Hash, 70, 8, 16), &ctx(1)).unwrap();
    let mut a = [0u8; 70];
    let mut b = [0u8; 70];
    a[69] = 1;
    b[69] = 2;
    m.update(&a, &v8(1), BPF_ANY).unwrap();
    m.update(&b, &v8(2), BPF_ANY).unwrap();
    assert_eq!(m.lookup_copy(&a, 0).unwrap(), v8(1));
    assert_eq!(m.lookup_copy(&b, 0).unwrap(), v8(2));
    let n = m.get_next_key(None).unwrap();
    assert!(n == a || n == b);
    assert!(matches!(
        m.lookup_copy(&a[..69], 0),
        Err(MapError::Invalid(_))
    ));
}

#[test]
fn percpu_hash_values_per_cpu() {
    for flags in hash_flavours() {
        let m = Map::create(
            MapSpec::new(MapType::PercpuHash, 4, 4, 4).with_flags(flags),
            &ctx(4),
        )
        .unwrap();
        assert_eq!(m.host_value_size(), 32);
        // A program on CPU 2 creates the element: other CPUs are zero.
        m.update_from_prog(&k(1), &7u32.to_ne_bytes(), BPF_NOEXIST, 2)
            .unwrap();
        let all = m.lookup_copy(&k(1), 0).unwrap();
        for c in 0..4 {
            let want = if c == 2 { 7u32 } else { 0 };
            assert_eq!(&all[c * 8..c * 8 + 4], &want.to_ne_bytes(), "cpu {c}");
        }
        // In-place update from CPU 0 leaves CPU 2's value.
        let p2 = m.lookup(&k(1), 2).unwrap();
        m.update_from_prog(&k(1), &9u32.to_ne_bytes(), BPF_EXIST, 0)
            .unwrap();
        assert_eq!(
            m.lookup(&k(1), 2).unwrap(),
            p2,
            "per-CPU updates are in place"
        );
        let all = m.lookup_copy(&k(1), 0).unwrap();
        assert_eq!(&all[0..4], &9u32.to_ne_bytes());
        assert_eq!(&all[16..20], &7u32.to_ne_bytes());
        // Host update sets every CPU.
        let v: Vec<u8> = (0..4u32)
            .flat_map(|c| [(c + 1).to_ne_bytes(), [0; 4]].concat())
            .collect();
        m.update(&k(2), &v, BPF_ANY).unwrap();
        for c in 0..4u32 {
            let p = m.lookup_percpu(&k(2), c).unwrap();
            // SAFETY: CPU c's 4-byte value, live.
            assert_eq!(unsafe { p.as_ptr().cast::<u32>().read() }, c + 1);
        }
        assert!(m.lookup_percpu(&k(2), 4).is_none());
        assert!(matches!(
            m.update(&k(2), &v, BPF_F_LOCK),
            Err(MapError::Invalid(_))
        ));
        assert_eq!(m.lookup_and_delete(&k(2), 0).unwrap(), v);
    }
}

#[test]
fn lru_evicts_least_recently_used_first() {
    let m = Map::create(MapSpec::new(MapType::LruHash, 4, 8, 4), &ctx(1)).unwrap();
    for i in 1..=4 {
        m.update(&k(i), &v8(u64::from(i)), BPF_ANY).unwrap();
    }
    // Programs touch 1 and 2; 3 is now the least recently used.
    let _g = m.domain().read_atomic();
    assert!(m.lookup(&k(1), 0).is_some());
    assert!(m.lookup(&k(2), 0).is_some());
    m.update(&k(5), &v8(5), BPF_ANY).unwrap();
    assert_eq!(
        m.lookup_copy(&k(3), 0),
        Err(MapError::NotFound),
        "3 evicted"
    );
    for i in [1, 2, 4, 5] {
        assert!(m.lookup_copy(&k(i), 0).is_ok(), "{i} kept");
    }
    // Next: 4 (untouched) goes before 5 (newer) and before 1/2 (referenced).
    m.update(&k(6), &v8(6), BPF_ANY).unwrap();
    assert_eq!(
        m.lookup_copy(&k(4), 0),
        Err(MapError::NotFound),
        "4 evicted"
    );
    // Host lookups do not count as use.
    assert!(m.lookup_copy(&k(5), 0).is_ok());
    m.update(&k(7), &v8(7), BPF_ANY).unwrap();
    assert_eq!(
        m.lookup_copy(&k(5), 0),
        Err(MapError::NotFound),
        "5 evicted despite host lookup"
    );
    // A full LRU map never fails an update.
    for i in 100..1000 {
        m.update(&k(i), &v8(u64::from(i)), BPF_NOEXIST).unwrap();
    }
    assert_eq!(m.len(), 4);
    assert_eq!(m.lookup_copy(&k(999), 0).unwrap(), v8(999));
    assert_eq!(
        m.update(&k(999), &v8(0), BPF_NOEXIST),
        Err(MapError::Exists)
    );
    assert_eq!(
        m.update(&k(5000), &v8(0), BPF_EXIST),
        Err(MapError::NotFound)
    );
    // As in the kernel, the free element is taken (evicting one) before the flags are checked,
    // so a failed update of a full LRU map has still evicted an element.
    assert_eq!(m.len(), 3);
}

#[test]
fn lru_percpu_and_per_cpu_lists() {
    let m = Map::create(MapSpec::new(MapType::LruPercpuHash, 4, 8, 2), &ctx(2)).unwrap();
    m.update_from_prog(&k(1), &v8(11), BPF_ANY, 1).unwrap();
    m.update_from_prog(&k(2), &v8(22), BPF_ANY, 0).unwrap();
    let all = m.lookup_copy(&k(1), 0).unwrap();
    assert_eq!(all, [v8(0), v8(11)].concat());
    m.update_from_prog(&k(1), &v8(12), BPF_EXIST, 0).unwrap();
    assert_eq!(m.lookup_copy(&k(1), 0).unwrap(), [v8(12), v8(11)].concat());
    m.update(&k(3), &[v8(3), v8(4)].concat(), BPF_ANY).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(
        m.lookup_copy(&k(2), 0),
        Err(MapError::NotFound),
        "2 was least recently used"
    );
    // BPF_F_NO_COMMON_LRU rounds max_entries to a multiple of the CPU count.
    let p = Map::create(
        MapSpec::new(MapType::LruHash, 4, 8, 5).with_flags(mf::NO_COMMON_LRU),
        &ctx(4),
    )
    .unwrap();
    assert_eq!(p.spec().max_entries, 8);
    for i in 0..100 {
        p.update_from_prog(&k(i), &v8(1), BPF_ANY, i % 4).unwrap();
    }
    assert_eq!(p.len(), 8);
}

#[test]
fn hash_batches() {
    let m = Map::create(MapSpec::new(MapType::Hash, 4, 8, 64), &ctx(1)).unwrap();
    let keys: Vec<u8> = (0..40u32).flat_map(|i| i.to_ne_bytes()).collect();
    let vals: Vec<u8> = (0..40u64).flat_map(|i| (i * 3).to_ne_bytes()).collect();
    assert_eq!(m.update_batch(&keys, &vals, 40, 0), (40, Ok(())));
    let mut seen = BTreeSet::new();
    let mut token: Option<Vec<u8>> = None;
    loop {
        let b = m.lookup_batch(token.as_deref(), 8, 0).unwrap();
        for i in 0..b.count as usize {
            let key = u32::from_ne_bytes(b.keys[i * 4..i * 4 + 4].try_into().unwrap());
            let val = u64::from_ne_bytes(b.values[i * 8..i * 8 + 8].try_into().unwrap());
            assert_eq!(val, u64::from(key) * 3);
            assert!(seen.insert(key), "key {key} returned twice");
        }
        if b.status.is_err() {
            assert_eq!(b.status, Err(MapError::NotFound));
            break;
        }
        token = Some(b.next);
    }
    assert_eq!(seen.len(), 40);
    // A batch of 0 elements cannot hold a non-empty bucket: -ENOSPC only on the first one.
    let tiny = m.lookup_batch(None, 1, 0).unwrap();
    assert!(
        tiny.count == 1
            || tiny
                .status
                .as_ref()
                .is_err_and(|e| e.positive_errno() == errno::ENOSPC)
    );
    let del = m.lookup_and_delete_batch(None, 64, 0).unwrap();
    assert_eq!(del.count, 40);
    assert_eq!(del.status, Err(MapError::NotFound));
    assert!(m.is_empty());
    m.update_batch(&keys, &vals, 40, 0).1.unwrap();
    assert_eq!(m.delete_batch(&keys, 40, 0), (40, Ok(())));
    let (n, r) = m.delete_batch(&keys, 1, 0);
    assert_eq!((n, r), (0, Err(MapError::NotFound)));
}
