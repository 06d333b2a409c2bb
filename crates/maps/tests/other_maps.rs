//! Queue, stack, ring buffer, prog_array and map-in-map against `queue_stack_maps.c`,
//! `ringbuf.c`, `arraymap.c` (fd arrays) and `map_in_map.c`.
//!
//! The tests stand in for programs, which write ring-buffer samples through raw pointers.
#![allow(unsafe_code)]

use lull_abi::MapType;
use lull_abi::map_flags as mf;
use lull_maps::ringbuf_flags::*;
use lull_maps::update_flags::{BPF_ANY, BPF_EXIST, BPF_NOEXIST};
use lull_maps::{Map, MapContext, MapError, MapSpec, ProgHandle, RingbufConsumer, errno};
use lull_rcu::Domain;
use std::sync::Arc;
use std::time::Duration;

fn ctx() -> MapContext {
    MapContext::with_domain(2, Domain::new())
}

#[test]
fn queue_is_fifo_and_stack_is_lifo() {
    for (ty, order) in [(MapType::Queue, [1u32, 2, 3]), (MapType::Stack, [3, 2, 1])] {
        let m = Map::create(MapSpec::new(ty, 0, 4, 3), &ctx()).unwrap();
        let mut out = [0u8; 4];
        assert_eq!(m.pop(&mut out), Err(MapError::NotFound));
        assert_eq!(m.peek(&mut out), Err(MapError::NotFound));
        for i in 1..=3u32 {
            m.push(&i.to_ne_bytes(), BPF_ANY).unwrap();
        }
        assert_eq!(
            m.push(&4u32.to_ne_bytes(), BPF_ANY)
                .unwrap_err()
                .positive_errno(),
            errno::E2BIG
        );
        assert!(matches!(
            m.push(&4u32.to_ne_bytes(), BPF_NOEXIST),
            Err(MapError::Invalid(_))
        ));
        m.peek(&mut out).unwrap();
        assert_eq!(u32::from_ne_bytes(out), order[0], "{ty}");
        for want in order {
            m.pop(&mut out).unwrap();
            assert_eq!(u32::from_ne_bytes(out), want, "{ty}");
        }
        assert_eq!(m.pop(&mut out), Err(MapError::NotFound));
        assert_eq!(out, [0; 4], "empty pop zeroes the output");
        // Host view: update = push, lookup = peek, lookup_and_delete = pop.
        m.update(&[], &7u32.to_ne_bytes(), BPF_ANY).unwrap();
        assert_eq!(m.lookup_copy(&[], 0).unwrap(), 7u32.to_ne_bytes());
        assert_eq!(m.lookup_and_delete(&[], 0).unwrap(), 7u32.to_ne_bytes());
        assert!(matches!(m.delete(&[]), Err(MapError::Invalid(_))));
        assert!(matches!(m.get_next_key(None), Err(MapError::Invalid(_))));
    }
}

#[test]
fn push_with_exist_overwrites_the_oldest() {
    let q = Map::create(MapSpec::new(MapType::Queue, 0, 4, 2), &ctx()).unwrap();
    for i in 1..=4u32 {
        q.push(&i.to_ne_bytes(), BPF_EXIST).unwrap();
    }
    let mut out = [0u8; 4];
    q.pop(&mut out).unwrap();
    assert_eq!(u32::from_ne_bytes(out), 3);
    let s = Map::create(MapSpec::new(MapType::Stack, 0, 4, 2), &ctx()).unwrap();
    for i in 1..=3u32 {
        s.push(&i.to_ne_bytes(), BPF_EXIST).unwrap();
    }
    s.pop(&mut out).unwrap();
    assert_eq!(u32::from_ne_bytes(out), 3);
    s.pop(&mut out).unwrap();
    assert_eq!(u32::from_ne_bytes(out), 2, "1 was overwritten");
    assert_eq!(s.pop(&mut out), Err(MapError::NotFound));
}

fn write_sample(p: std::ptr::NonNull<u8>, data: &[u8]) {
    // SAFETY: `p` is a fresh reservation of at least `data.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p.as_ptr(), data.len()) }
}

#[test]
fn ringbuf_reserve_submit_discard_and_consume() {
    let m = Map::create(MapSpec::new(MapType::Ringbuf, 0, 0, 4096), &ctx()).unwrap();
    let rb = m.ringbuf().unwrap();
    assert_eq!(rb.query(BPF_RB_RING_SIZE), 4096);
    let a = rb.reserve(5, 0).unwrap();
    write_sample(a, b"first");
    let b = rb.reserve(3, 0).unwrap();
    write_sample(b, b"bad");
    let c = rb.reserve(6, 0).unwrap();
    write_sample(c, b"third!");
    assert_eq!(
        b.as_ptr() as usize - a.as_ptr() as usize,
        16,
        "8-byte header + 5 rounded to 8"
    );
    assert_eq!(rb.query(BPF_RB_PROD_POS), 16 + 16 + 16);
    assert_eq!(rb.query(BPF_RB_AVAIL_DATA), 48);
    assert!(rb.reserve(1, 1).is_none(), "reserve flags must be 0");
    let cons = RingbufConsumer::new(m.clone()).unwrap();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    // The first record is still busy: nothing can be consumed.
    rb.submit(c.as_ptr(), 0).unwrap();
    assert_eq!(
        cons.consume(|d| {
            seen.push(d.to_vec());
            0
        }),
        Ok(0)
    );
    rb.submit(a.as_ptr(), 0).unwrap();
    rb.discard(b.as_ptr(), 0).unwrap();
    assert!(
        rb.submit(a.as_ptr(), 0).is_err(),
        "double commit is rejected"
    );
    assert_eq!(
        cons.consume(|d| {
            seen.push(d.to_vec());
            0
        }),
        Ok(2)
    );
    assert_eq!(
        seen,
        vec![b"first".to_vec(), b"third!".to_vec()],
        "discarded record skipped"
    );
    assert_eq!(rb.query(BPF_RB_CONS_POS), 48);
    assert_eq!(rb.query(BPF_RB_AVAIL_DATA), 0);
    assert_eq!(rb.query(99), 0);
    assert!(matches!(rb.output(b"x", 4), Err(MapError::Invalid(_))));
    assert_eq!(
        m.lookup_copy(&[], 0).unwrap_err().positive_errno(),
        errno::ENOTSUPP
    );
}

#[test]
fn ringbuf_space_limits_and_wrap_around() {
    let m = Map::create(MapSpec::new(MapType::Ringbuf, 0, 0, 4096), &ctx()).unwrap();
    let rb = m.ringbuf().unwrap();
    assert!(rb.reserve(4096, 0).is_none(), "larger than the ring");
    assert!(
        rb.reserve(4096 - 8, 0).is_none(),
        "the ring never fills completely"
    );
    let cons = RingbufConsumer::new(m.clone()).unwrap();
    // 1000-byte records (1008 with header): 4 fit (4032 <= 4095), the 5th does not.
    for i in 0..4u8 {
        rb.output(&[i; 1000], 0).unwrap();
    }
    assert_eq!(
        rb.output(&[9; 1000], 0).unwrap_err().positive_errno(),
        errno::EAGAIN
    );
    // An uncommitted reservation also blocks space after the consumer frees it.
    assert_eq!(cons.consume(|_| 0), Ok(4));
    // Producer at 4032: the next record wraps past the end of the data area and must still
    // be contiguous.
    let mut got = Vec::new();
    for round in 0..20u32 {
        let payload: Vec<u8> = (0..1000u32).map(|i| (i + round) as u8).collect();
        let p = rb.reserve(1000, 0).unwrap();
        write_sample(p, &payload);
        rb.submit(p.as_ptr(), 0).unwrap();
        assert_eq!(
            cons.consume(|d| {
                got.push(d.to_vec());
                0
            }),
            Ok(1)
        );
        assert_eq!(got.last().unwrap(), &payload, "round {round}");
    }
    assert!(
        rb.query(BPF_RB_PROD_POS) > 4096 * 4,
        "positions keep growing across wraps"
    );
    // A pending (busy) reservation keeps later records from being consumed and limits space.
    let busy = rb.reserve(100, 0).unwrap();
    rb.output(b"after", 0).unwrap();
    assert_eq!(cons.consume(|_| 0), Ok(0));
    rb.discard(busy.as_ptr(), 0).unwrap();
    let mut last = Vec::new();
    assert_eq!(
        cons.consume(|d| {
            last = d.to_vec();
            0
        }),
        Ok(1)
    );
    assert_eq!(last, b"after");
    // Negative callback result stops consumption.
    rb.output(b"a", 0).unwrap();
    rb.output(b"b", 0).unwrap();
    assert_eq!(cons.consume(|_| -7), Err(-7));
    assert_eq!(cons.consume(|_| 0), Ok(1));
}

#[test]
fn ringbuf_wakeups_follow_the_kernel_rule() {
    let m = Map::create(MapSpec::new(MapType::Ringbuf, 0, 0, 4096), &ctx()).unwrap();
    let rb = m.ringbuf().unwrap();
    let cons = RingbufConsumer::new(m.clone()).unwrap();
    rb.output(b"1", 0).unwrap();
    assert_eq!(rb.wakeups(), 1, "consumer had caught up: wake");
    rb.output(b"2", 0).unwrap();
    assert_eq!(rb.wakeups(), 1, "consumer is behind: no wake");
    rb.output(b"3", BPF_RB_FORCE_WAKEUP).unwrap();
    assert_eq!(rb.wakeups(), 2);
    assert_eq!(cons.consume(|_| 0), Ok(3));
    rb.output(b"4", BPF_RB_NO_WAKEUP).unwrap();
    assert_eq!(rb.wakeups(), 2);
    assert_eq!(cons.consume(|_| 0), Ok(1));
    // poll sleeps until a producer wakes it.
    let m2 = m.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        m2.ringbuf().unwrap().output(b"late", 0).unwrap();
    });
    let mut got = Vec::new();
    assert_eq!(
        cons.poll(Duration::from_secs(10), |d| {
            got = d.to_vec();
            0
        }),
        Ok(1)
    );
    assert_eq!(got, b"late");
    t.join().unwrap();
    assert_eq!(
        cons.poll(Duration::from_millis(10), |_| 0),
        Ok(0),
        "timeout without data"
    );
}

#[test]
fn prog_array_slots() {
    let c = ctx();
    let m = Map::create(MapSpec::new(MapType::ProgArray, 4, 4, 4), &c).unwrap();
    let prog: ProgHandle = Arc::new("prog-a");
    m.set_prog(1, prog.clone()).unwrap();
    assert!(matches!(
        m.set_prog(4, prog.clone()),
        Err(MapError::TooBig(_))
    ));
    let g = c.domain.read_atomic();
    let got = m.tail_call_target(&g, 1).unwrap();
    assert_eq!(got.downcast_ref::<&str>(), Some(&"prog-a"));
    assert!(m.tail_call_target(&g, 0).is_none());
    assert!(m.tail_call_target(&g, 33).is_none(), "index out of range");
    drop(g);
    assert_eq!(m.delete(&0u32.to_ne_bytes()), Err(MapError::NotFound));
    assert!(matches!(
        m.delete(&9u32.to_ne_bytes()),
        Err(MapError::TooBig(_))
    ));
    m.delete(&1u32.to_ne_bytes()).unwrap();
    assert!(!m.prog_slot_is_set(1));
    assert_eq!(m.get_next_key(None).unwrap(), 0u32.to_ne_bytes());
    // The replaced program is released only after the grace periods.
    c.domain.barrier().unwrap();
    assert_eq!(Arc::strong_count(&prog), 1);
}

#[test]
fn map_in_map_checks_inner_specs() {
    let c = ctx();
    let inner_spec = MapSpec::new(MapType::Array, 4, 8, 4);
    for outer_ty in [MapType::ArrayOfMaps, MapType::HashOfMaps] {
        let outer = Map::create(
            MapSpec::new(outer_ty, 4, 4, 4).with_inner(inner_spec.clone()),
            &c,
        )
        .unwrap();
        let inner = Map::create(inner_spec.clone(), &c).unwrap();
        inner
            .update(&1u32.to_ne_bytes(), &77u64.to_ne_bytes(), BPF_ANY)
            .unwrap();
        outer
            .update_inner_map(&2u32.to_ne_bytes(), inner.clone(), BPF_ANY)
            .unwrap();
        // Mismatches: value size, max_entries (array without BPF_F_INNER_MAP), type.
        for bad in [
            MapSpec::new(MapType::Array, 4, 16, 4),
            MapSpec::new(MapType::Array, 4, 8, 5),
            MapSpec::new(MapType::Hash, 4, 8, 4),
        ] {
            let b = Map::create(bad, &c).unwrap();
            assert_eq!(
                outer
                    .update_inner_map(&3u32.to_ne_bytes(), b, BPF_ANY)
                    .unwrap_err()
                    .positive_errno(),
                errno::EINVAL,
                "{outer_ty}"
            );
        }
        // Programs get the inner map itself.
        let g = c.domain.read_atomic();
        let p = outer.lookup(&2u32.to_ne_bytes(), 0).unwrap();
        assert_eq!(p.as_ptr() as *const Map, Arc::as_ptr(&inner));
        assert!(outer.lookup(&3u32.to_ne_bytes(), 0).is_none());
        drop(g);
        // The host sees the inner map's id.
        assert_eq!(
            outer.lookup_copy(&2u32.to_ne_bytes(), 0).unwrap(),
            inner.id().to_ne_bytes()
        );
        assert_eq!(
            outer.inner_map(&2u32.to_ne_bytes()).unwrap().id(),
            inner.id()
        );
        assert!(matches!(
            outer.update(&2u32.to_ne_bytes(), &[0; 4], BPF_ANY),
            Err(MapError::Invalid(_))
        ));
        outer.delete(&2u32.to_ne_bytes()).unwrap();
        assert_eq!(
            outer.lookup_copy(&2u32.to_ne_bytes(), 0),
            Err(MapError::NotFound)
        );
        c.domain.barrier().unwrap();
        assert_eq!(
            Arc::strong_count(&inner),
            1,
            "{outer_ty}: outer reference released after grace periods"
        );
    }
    // BPF_F_INNER_MAP lets array inner maps differ in max_entries.
    let flex = MapSpec::new(MapType::Array, 4, 8, 4).with_flags(mf::INNER_MAP);
    let outer = Map::create(
        MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2).with_inner(flex.clone()),
        &c,
    )
    .unwrap();
    let big = Map::create(
        MapSpec {
            max_entries: 100,
            ..flex
        },
        &c,
    )
    .unwrap();
    outer
        .update_inner_map(&0u32.to_ne_bytes(), big, BPF_ANY)
        .unwrap();
    assert!(matches!(
        outer.update_inner_map(
            &5u32.to_ne_bytes(),
            Map::create(
                MapSpec::new(MapType::Array, 4, 8, 4).with_flags(mf::INNER_MAP),
                &c
            )
            .unwrap(),
            BPF_ANY
        ),
        Err(MapError::TooBig(_))
    ));
}
