//! A host-fed [`BlockingSource`]: may-fault reads (the sleepable helpers) really block until the
//! data arrives, no-fault reads (the atomic helpers) fail at once; closing and timeouts end the
//! wait with `-EFAULT`.

use lull_task::helpers::{copy_from_user, copy_from_user_str, probe_read_user};
use lull_task::{BlockingSource, Errno, TaskError, UserMemory};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const BASE: u64 = 0x7f00_0000_0000;
const EFAULT: i64 = -14;

/// Waits until `n` readers are blocked in the source (panics after 10 s).
fn wait_for_waiters(src: &BlockingSource, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while src.waiting() != n {
        assert!(
            Instant::now() < deadline,
            "expected {n} blocked readers, have {}",
            src.waiting()
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn may_fault_read_blocks_until_the_host_supplies_the_data() {
    let src = Arc::new(BlockingSource::new(BASE, 4096));
    let reader = {
        let src = Arc::clone(&src);
        thread::spawn(move || {
            let mut dst = [0xaau8; 16];
            let ret = copy_from_user(src.as_ref(), &mut dst, BASE + 100);
            (ret, dst)
        })
    };
    wait_for_waiters(&src, 1);
    thread::sleep(Duration::from_millis(50));
    assert!(
        !reader.is_finished(),
        "the reader returned before any data was supplied"
    );

    // Meanwhile the no-fault path fails at once instead of waiting.
    let started = Instant::now();
    let mut dst = [0xaau8; 16];
    assert_eq!(probe_read_user(src.as_ref(), &mut dst, BASE + 100), EFAULT);
    assert_eq!(dst, [0u8; 16]);
    // (It cannot have waited for data: none was supplied, and there is no timeout.)
    assert!(started.elapsed() < Duration::from_secs(2));

    // Half of the range is not enough.
    src.supply(BASE + 100, b"request-").unwrap();
    thread::sleep(Duration::from_millis(50));
    assert!(
        !reader.is_finished(),
        "the reader returned with half of its data"
    );
    assert_eq!(src.waiting(), 1);

    src.supply(BASE + 108, b"body!!!!").unwrap();
    let (ret, dst) = reader.join().unwrap();
    assert_eq!(ret, 0);
    assert_eq!(&dst, b"request-body!!!!");
    assert_eq!(src.waiting(), 0);
    // And now the no-fault path sees it too.
    let mut dst = [0u8; 16];
    assert_eq!(probe_read_user(src.as_ref(), &mut dst, BASE + 100), 0);
    assert_eq!(&dst, b"request-body!!!!");
}

#[test]
fn string_read_returns_once_the_nul_arrives() {
    let src = Arc::new(BlockingSource::new(BASE, 4096));
    let reader = {
        let src = Arc::clone(&src);
        thread::spawn(move || {
            let mut dst = [0xaau8; 64];
            let ret = copy_from_user_str(src.as_ref(), &mut dst, BASE, 0);
            (ret, dst)
        })
    };
    wait_for_waiters(&src, 1);
    src.supply(BASE, b"GET /ind").unwrap();
    thread::sleep(Duration::from_millis(30));
    assert!(!reader.is_finished(), "returned before the NUL arrived");
    // The NUL arrives; the rest of the 64-byte window never does.
    src.supply(BASE + 8, b"ex\0").unwrap();
    let (ret, dst) = reader.join().unwrap();
    assert_eq!(ret, 11);
    assert_eq!(&dst[..11], b"GET /index\0");
    // No-fault string read of data not there: fails at once.
    let mut dst = [0u8; 8];
    assert_eq!(
        src.read_str_nofault(BASE + 2000, &mut dst),
        Err(Errno::EFAULT)
    );
}

#[test]
fn close_and_timeout_end_the_wait_with_efault() {
    let src = Arc::new(BlockingSource::new(BASE, 64));
    let reader = {
        let src = Arc::clone(&src);
        thread::spawn(move || src.read_may_fault(BASE, &mut [0u8; 8]))
    };
    wait_for_waiters(&src, 1);
    src.close();
    assert_eq!(reader.join().unwrap(), Err(Errno::EFAULT));
    assert!(matches!(src.supply(BASE, b"x"), Err(TaskError::Closed)));

    let src = BlockingSource::new(BASE, 64).with_timeout(Duration::from_millis(80));
    src.supply(BASE, b"abcd").unwrap();
    let started = Instant::now();
    let mut dst = [0xaau8; 8];
    assert_eq!(src.read_may_fault(BASE, &mut dst), Err(Errno::ETIMEDOUT));
    assert!(started.elapsed() >= Duration::from_millis(80));
    // The helper reports the kernel's -EFAULT and zeroes the buffer.
    assert_eq!(copy_from_user(&src, &mut dst, BASE), EFAULT);
    assert_eq!(dst, [0u8; 8]);
    // Supplied data stays readable without waiting.
    assert_eq!(src.read_may_fault(BASE, &mut dst[..4]), Ok(()));
    assert_eq!(&dst[..4], b"abcd");
}

#[test]
fn outside_the_region_is_unmapped_and_never_waits() {
    let src = BlockingSource::new(BASE, 64);
    for (addr, len) in [(BASE - 1, 4), (BASE + 62, 4), (BASE + 64, 1), (0, 8)] {
        let mut dst = vec![0u8; len];
        assert_eq!(
            src.read_may_fault(addr, &mut dst),
            Err(Errno::EFAULT),
            "{addr:#x}+{len}"
        );
        assert_eq!(
            src.read_nofault(addr, &mut dst),
            Err(Errno::EFAULT),
            "{addr:#x}+{len}"
        );
    }
    // A string that runs to the end of the region without a NUL can never complete.
    src.supply(BASE + 60, b"abcd").unwrap();
    let mut dst = [0u8; 16];
    assert_eq!(
        src.read_str_may_fault(BASE + 60, &mut dst),
        Err(Errno::EFAULT)
    );
    assert_eq!(&dst[..4], b"abcd");
    match src.supply(BASE + 63, b"xy") {
        Err(TaskError::OutOfRegion { addr, len: 2, .. }) => assert_eq!(addr, BASE + 63),
        other => panic!("expected OutOfRegion, got {other:?}"),
    }
}

#[test]
fn many_readers_each_get_their_own_range_whatever_the_supply_order() {
    const READERS: u64 = 8;
    const CHUNK: u64 = 512;
    let src = Arc::new(BlockingSource::new(BASE, READERS * CHUNK));
    let expected = |i: u64| -> Vec<u8> { (0..CHUNK).map(|j| (i * 31 + j) as u8).collect() };
    let readers: Vec<_> = (0..READERS)
        .map(|i| {
            let src = Arc::clone(&src);
            thread::spawn(move || {
                let mut dst = vec![0u8; CHUNK as usize];
                let ret = copy_from_user(src.as_ref(), &mut dst, BASE + i * CHUNK);
                (ret, dst)
            })
        })
        .collect();
    wait_for_waiters(&src, READERS as usize);
    // Supply in a scrambled order, each chunk in two overlapping pieces.
    for i in [5, 2, 7, 0, 3, 6, 1, 4] {
        let data = expected(i);
        let at = BASE + i * CHUNK;
        src.supply(at + 200, &data[200..]).unwrap();
        src.supply(at, &data[..300]).unwrap();
    }
    for (i, r) in readers.into_iter().enumerate() {
        let (ret, dst) = r.join().unwrap();
        assert_eq!(ret, 0, "reader {i}");
        assert_eq!(dst, expected(i as u64), "reader {i}");
    }
    // The whole region is one run now: a read across chunk boundaries works without waiting.
    let mut all = vec![0u8; (READERS * CHUNK) as usize];
    assert_eq!(src.read_nofault(BASE, &mut all), Ok(()));
    assert_eq!(
        &all[CHUNK as usize..2 * CHUNK as usize],
        expected(1).as_slice()
    );
}
