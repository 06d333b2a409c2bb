//! Prints the enter + exit cost of both section flavours (best of 7 rounds), alone and with a
//! second thread reading the same domain. `LULL_RCU_NO_MEMBARRIER=1` measures the fence fallback.

use lull_rcu::{Domain, cost, fence};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn main() {
    let domain = Domain::new();
    println!("mode: {:?}", fence::mode());
    println!("1 thread:  {:?}", cost::measure(&domain, 2_000_000));
    let stop = Arc::new(AtomicBool::new(false));
    let (d, s) = (domain.clone(), stop.clone());
    let other = std::thread::spawn(move || {
        let r = d.register();
        while !s.load(Ordering::Relaxed) {
            drop(r.read_atomic());
            drop(r.read_sleepable());
        }
    });
    println!("2 threads: {:?}", cost::measure(&domain, 2_000_000));
    stop.store(true, Ordering::Relaxed);
    other.join().expect("reader thread");
}
