//! Array, per-CPU array, global data, access flags, freeze and creation-time validation,
//! against the kernel's documented behaviour (`arraymap.c`, `syscall.c`).
//!
//! The tests stand in for programs, which read values through raw pointers.
#![allow(unsafe_code)]

use lull_abi::MapType;
use lull_abi::map_flags as mf;
use lull_maps::update_flags::{BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST};
use lull_maps::{Map, MapContext, MapError, MapSpec, errno};
use lull_rcu::Domain;

fn ctx(cpus: u32) -> MapContext {
    MapContext::with_domain(cpus, Domain::new())
}

fn k(i: u32) -> [u8; 4] {
    i.to_ne_bytes()
}

#[test]
fn creation_rules_match_the_kernel() {
    let bad = [
        (MapSpec::new(MapType::Array, 8, 8, 4), errno::EINVAL),
        (MapSpec::new(MapType::Array, 4, 0, 4), errno::EINVAL),
        (MapSpec::new(MapType::Array, 4, 8, 0), errno::EINVAL),
        (
            MapSpec::new(MapType::PercpuArray, 4, 40000, 1),
            errno::E2BIG,
        ),
        (MapSpec::new(MapType::Hash, 0, 8, 4), errno::EINVAL),
        (MapSpec::new(MapType::Hash, 4, 0, 4), errno::EINVAL),
        (
            MapSpec::new(MapType::Hash, 4, 8, 4).with_flags(mf::NO_COMMON_LRU),
            errno::EINVAL,
        ),
        (
            MapSpec::new(MapType::LruHash, 4, 8, 4).with_flags(mf::NO_PREALLOC),
            errno::ENOTSUPP,
        ),
        (MapSpec::new(MapType::Queue, 4, 8, 4), errno::EINVAL),
        (MapSpec::new(MapType::Stack, 0, 0, 4), errno::EINVAL),
        (
            MapSpec::new(MapType::Ringbuf, 0, 0, 4096 * 3),
            errno::EINVAL,
        ),
        (MapSpec::new(MapType::Ringbuf, 0, 0, 1024), errno::EINVAL),
        (MapSpec::new(MapType::Ringbuf, 4, 0, 4096), errno::EINVAL),
        (MapSpec::new(MapType::ProgArray, 4, 8, 4), errno::EINVAL),
        (MapSpec::new(MapType::ArrayOfMaps, 4, 4, 4), errno::EINVAL),
        (
            MapSpec::new(MapType::Array, 4, 8, 4).with_flags(mf::RDONLY | mf::WRONLY),
            errno::EINVAL,
        ),
        (
            MapSpec::new(MapType::Array, 4, 8, 4).with_flags(mf::RDONLY_PROG | mf::WRONLY_PROG),
            errno::EINVAL,
        ),
        (
            MapSpec::new(MapType::PercpuArray, 4, 8, 4).with_flags(mf::MMAPABLE),
            errno::EINVAL,
        ),
        (MapSpec::new(MapType::LpmTrie, 8, 8, 4), errno::EINVAL),
    ];
    let c = ctx(2);
    for (spec, want) in bad {
        let err = Map::create(spec.clone(), &c).expect_err(&format!("{spec:?} must fail"));
        assert_eq!(err.positive_errno(), want, "{spec:?}: {err}");
        assert_eq!(err.errno(), -want);
    }
    let inner_mim = MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2).with_inner(MapSpec::new(
        MapType::Array,
        4,
        4,
        1,
    ));
    let nested = MapSpec::new(MapType::HashOfMaps, 4, 4, 2).with_inner(inner_mim);
    assert_eq!(
        Map::create(nested, &c).unwrap_err().positive_errno(),
        errno::EINVAL
    );
    let prog_inner = MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2).with_inner(MapSpec::new(
        MapType::ProgArray,
        4,
        4,
        1,
    ));
    assert_eq!(
        Map::create(prog_inner, &c).unwrap_err().positive_errno(),
        errno::ENOTSUPP
    );
}

#[test]
fn array_semantics() {
    let m = Map::create(MapSpec::new(MapType::Array, 4, 12, 3), &ctx(2)).unwrap();
    assert_eq!(
        m.lookup_copy(&k(1), 0).unwrap(),
        vec![0; 12],
        "arrays start zeroed"
    );
    m.update(&k(1), &[7; 12], BPF_ANY).unwrap();
    m.update(&k(2), &[9; 12], BPF_EXIST).unwrap();
    assert_eq!(
        m.update(&k(0), &[1; 12], BPF_NOEXIST),
        Err(MapError::Exists)
    );
    assert!(matches!(
        m.update(&k(3), &[1; 12], BPF_ANY),
        Err(MapError::TooBig(_))
    ));
    assert!(matches!(
        m.update(&k(0), &[1; 12], 8),
        Err(MapError::Invalid(_))
    ));
    assert!(
        matches!(
            m.update(&k(0), &[1; 12], BPF_F_LOCK),
            Err(MapError::Invalid(_))
        ),
        "no spin lock"
    );
    assert_eq!(m.lookup_copy(&k(1), 0).unwrap(), vec![7; 12]);
    assert_eq!(m.lookup_copy(&k(3), 0), Err(MapError::NotFound));
    assert_eq!(m.delete(&k(1)).unwrap_err().positive_errno(), errno::EINVAL);
    assert_eq!(
        m.lookup_and_delete(&k(1), 0).unwrap_err().positive_errno(),
        errno::ENOTSUPP
    );
    // get_next_key: NULL or out of range → 0, then in order, -ENOENT after the last.
    assert_eq!(m.get_next_key(None).unwrap(), k(0));
    assert_eq!(m.get_next_key(Some(&k(99))).unwrap(), k(0));
    assert_eq!(m.get_next_key(Some(&k(0))).unwrap(), k(1));
    assert_eq!(m.get_next_key(Some(&k(2))), Err(MapError::NotFound));
    // Program view: in place, 8-byte aligned, writes visible to the host.
    let p = m.lookup(&k(2), 0).unwrap();
    assert_eq!(p.as_ptr() as usize % 8, 0);
    let p0 = m.lookup(&k(0), 0).unwrap();
    assert_eq!(
        p.as_ptr() as usize - p0.as_ptr() as usize,
        32,
        "elements are 16 bytes apart (12 rounded to 8)"
    );
    assert!(m.lookup(&k(3), 0).is_none());
}

#[test]
fn percpu_array_values_per_cpu() {
    let m = Map::create(MapSpec::new(MapType::PercpuArray, 4, 4, 2), &ctx(3)).unwrap();
    assert_eq!(m.host_value_size(), 24, "3 CPUs × round_up(4, 8)");
    // A program on CPU 1 writes only its value.
    m.update_from_prog(&k(0), &5u32.to_ne_bytes(), BPF_ANY, 1)
        .unwrap();
    let all = m.lookup_copy(&k(0), 0).unwrap();
    assert_eq!(&all[0..4], &[0; 4]);
    assert_eq!(&all[8..12], &5u32.to_ne_bytes());
    assert_eq!(&all[16..20], &[0; 4]);
    // The host writes all CPUs.
    let mut v = vec![0u8; 24];
    for c in 0..3 {
        v[c * 8..c * 8 + 4].copy_from_slice(&(10 + c as u32).to_ne_bytes());
    }
    m.update(&k(1), &v, BPF_ANY).unwrap();
    for c in 0..3u32 {
        let p = m.lookup(&k(1), c).unwrap();
        // SAFETY: a 4-byte value of a live map, read by the test as a program would.
        let got = unsafe { p.as_ptr().cast::<u32>().read() };
        assert_eq!(got, 10 + c);
        assert_eq!(m.lookup_percpu(&k(1), c), Some(p));
    }
    assert!(m.lookup_percpu(&k(1), 3).is_none(), "CPU out of range");
    assert!(matches!(
        m.update(&k(0), &v, BPF_F_LOCK),
        Err(MapError::Invalid(_))
    ));
    assert_eq!(m.update(&k(0), &v, BPF_NOEXIST), Err(MapError::Exists));
}

#[test]
fn global_data_rodata_and_freeze() {
    let c = ctx(1);
    let spec = MapSpec::global_data(".rodata", 6, true);
    let m = Map::create_with_data(spec, &c, b"hello").unwrap();
    assert_eq!(m.lookup_copy(&k(0), 0).unwrap(), b"hello\0");
    assert!(!m.prog_can_write());
    let p = m.direct_value_addr(2).unwrap();
    // SAFETY: byte 2 of the live value.
    assert_eq!(unsafe { p.as_ptr().read() }, b'l');
    assert!(matches!(m.direct_value_addr(6), Err(MapError::Invalid(_))));
    m.freeze().unwrap();
    assert!(matches!(
        m.update(&k(0), b"HELLO\0", BPF_ANY),
        Err(MapError::Permission(_))
    ));
    assert!(matches!(m.freeze(), Err(MapError::Busy(_))));
    assert_eq!(
        m.lookup_copy(&k(0), 0).unwrap(),
        b"hello\0",
        "reads still work"
    );
    let big = Map::create(MapSpec::new(MapType::Array, 4, 8, 2), &c).unwrap();
    assert_eq!(
        big.direct_value_addr(0).unwrap_err().positive_errno(),
        errno::ENOTSUPP
    );
}

#[test]
fn host_access_flags() {
    let c = ctx(1);
    let ro = Map::create(
        MapSpec::new(MapType::Hash, 4, 4, 4).with_flags(mf::RDONLY),
        &c,
    )
    .unwrap();
    assert!(matches!(
        ro.update(&k(1), &k(1), BPF_ANY),
        Err(MapError::Permission(_))
    ));
    assert!(matches!(ro.delete(&k(1)), Err(MapError::Permission(_))));
    assert_eq!(ro.lookup_copy(&k(1), 0), Err(MapError::NotFound));
    assert!(matches!(ro.freeze(), Err(MapError::Permission(_))));
    // Programs may still write a BPF_F_RDONLY map.
    ro.update_from_prog(&k(1), &k(5), BPF_ANY, 0).unwrap();
    assert_eq!(ro.lookup_copy(&k(1), 0).unwrap(), k(5));
    let wo = Map::create(
        MapSpec::new(MapType::Hash, 4, 4, 4).with_flags(mf::WRONLY),
        &c,
    )
    .unwrap();
    wo.update(&k(1), &k(1), BPF_ANY).unwrap();
    assert!(matches!(
        wo.lookup_copy(&k(1), 0),
        Err(MapError::Permission(_))
    ));
    assert!(matches!(
        wo.get_next_key(None),
        Err(MapError::Permission(_))
    ));
    assert!(matches!(
        wo.lookup_and_delete(&k(1), 0),
        Err(MapError::Permission(_))
    ));
    let locked = Map::create(MapSpec::new(MapType::Array, 4, 8, 1).with_spin_lock(0), &c).unwrap();
    assert_eq!(
        locked.freeze().unwrap_err().positive_errno(),
        errno::ENOTSUPP
    );
}

#[test]
fn spin_lock_values_with_bpf_f_lock() {
    let c = ctx(1);
    let m = Map::create(MapSpec::new(MapType::Hash, 4, 16, 4).with_spin_lock(0), &c).unwrap();
    let mut v = [0u8; 16];
    v[0..4].copy_from_slice(&1u32.to_ne_bytes()); // the lock word is never copied
    v[8..16].copy_from_slice(&42u64.to_ne_bytes());
    m.update(&k(1), &v, BPF_F_LOCK).unwrap();
    let got = m.lookup_copy(&k(1), BPF_F_LOCK).unwrap();
    assert_eq!(&got[0..4], &[0; 4], "lock word reads as zero");
    assert_eq!(&got[8..16], &42u64.to_ne_bytes());
    v[8..16].copy_from_slice(&43u64.to_ne_bytes());
    m.update(&k(1), &v, BPF_F_LOCK | BPF_EXIST).unwrap();
    assert_eq!(
        &m.lookup_copy(&k(1), 0).unwrap()[8..16],
        &43u64.to_ne_bytes()
    );
    assert_eq!(
        m.update(&k(2), &v, BPF_F_LOCK | BPF_EXIST),
        Err(MapError::NotFound)
    );
    let a = Map::create(MapSpec::new(MapType::Array, 4, 16, 1).with_spin_lock(4), &c).unwrap();
    a.update(&k(0), &v, BPF_F_LOCK).unwrap();
    assert_eq!(
        &a.lookup_copy(&k(0), BPF_F_LOCK).unwrap()[8..16],
        &43u64.to_ne_bytes()
    );
}

#[test]
fn array_batch_ops() {
    let c = ctx(2);
    let m = Map::create(MapSpec::new(MapType::Array, 4, 4, 5), &c).unwrap();
    let keys: Vec<u8> = (0..5u32).flat_map(|i| i.to_ne_bytes()).collect();
    let vals: Vec<u8> = (0..5u32).flat_map(|i| (i * 10).to_ne_bytes()).collect();
    assert_eq!(m.update_batch(&keys, &vals, 5, 0), (5, Ok(())));
    let b = m.lookup_batch(None, 3, 0).unwrap();
    assert_eq!((b.count, b.status.clone()), (3, Ok(())));
    assert_eq!(b.values, vals[..12]);
    let b2 = m.lookup_batch(Some(&b.next), 3, 0).unwrap();
    assert_eq!(b2.count, 2);
    assert_eq!(
        b2.status,
        Err(MapError::NotFound),
        "end of map reported as -ENOENT"
    );
    assert_eq!(b2.keys, keys[12..]);
    assert_eq!(
        m.lookup_and_delete_batch(None, 3, 0)
            .unwrap_err()
            .positive_errno(),
        errno::ENOTSUPP
    );
    // Batch element flags allow only BPF_F_LOCK (generic_map_update_batch).
    let (n, r) = m.update_batch(&keys, &vals, 5, BPF_NOEXIST);
    assert_eq!(
        (n, r.map_err(|e| e.positive_errno())),
        (0, Err(errno::EINVAL))
    );
}
