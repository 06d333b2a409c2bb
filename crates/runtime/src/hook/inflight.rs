//! [`InFlight`]: how many runs of one attached sleepable program are under way, and a wait for
//! that number to reach zero once the program is detached.
//!
//! A detach must wait for the program's runs in flight, but a sleepable run may block for as
//! long as it likes, and waiting for a whole sleepable grace period would make a detach wait
//! for *every* blocked sleepable program of the domain. So each sleepable attachment counts its
//! own runs (the SRCU idea: a per-object reader count), in a few cache-line-padded stripes
//! chosen per thread, so concurrent runs on different threads rarely share a cache line.
//! Increments and decrements of one run hit the same stripe; the sum of the stripes is exact
//! whenever no increment or decrement is in progress.

use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Number of counter stripes (a power of two).
const STRIPES: usize = 8;

/// One counter on its own cache line.
#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicIsize);

/// In-flight runs of one attachment.
#[derive(Default)]
pub(crate) struct InFlight {
    stripes: [Stripe; STRIPES],
    /// Taken by a waiting detach while it checks the count, and by a finishing run before it
    /// wakes the detach (so a wake-up cannot fall between the check and the wait).
    lock: Mutex<()>,
    done: Condvar,
}

thread_local! {
    /// This thread's stripe (assigned round-robin on first use).
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

fn my_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    STRIPE.with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
            s.set(i);
        }
        i
    })
}

impl InFlight {
    /// Counts a run that starts; the returned token ends it.
    pub(crate) fn start(&self) -> RunToken<'_> {
        let stripe = my_stripe();
        self.stripes[stripe].0.fetch_add(1, Ordering::SeqCst);
        RunToken {
            owner: self,
            stripe,
        }
    }

    /// Runs under way now.
    pub(crate) fn count(&self) -> isize {
        self.stripes
            .iter()
            .map(|s| s.0.load(Ordering::SeqCst))
            .sum()
    }

    /// Waits until no run is under way. Only called after the attachment was marked detached
    /// and a grace period made every run that saw it attached visible in the count, so the
    /// count only goes down from here.
    pub(crate) fn wait_idle(&self) {
        let mut guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        while self.count() > 0 {
            // The timeout is a safety net only: finishing runs notify under the lock.
            guard = self
                .done
                .wait_timeout(guard, Duration::from_millis(50))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wake(&self) {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.done.notify_all();
    }
}

/// A run counted by [`InFlight::start`]; dropping it ends the run.
pub(crate) struct RunToken<'a> {
    owner: &'a InFlight,
    stripe: usize,
}

impl RunToken<'_> {
    /// Ends the run; `detached` says whether a detach may be waiting (it is read after the
    /// decrement, both `SeqCst`, so either the run sees the flag and wakes the detach, or the
    /// detach sees the decrement).
    pub(crate) fn finish(self, detached: &std::sync::atomic::AtomicBool) {
        self.owner.stripes[self.stripe]
            .0
            .fetch_sub(1, Ordering::SeqCst);
        if detached.load(Ordering::SeqCst) {
            self.owner.wake();
        }
        std::mem::forget(self);
    }
}

impl Drop for RunToken<'_> {
    /// A run that unwinds still ends (and wakes a detach, which rechecks the count anyway).
    fn drop(&mut self) {
        self.owner.stripes[self.stripe]
            .0
            .fetch_sub(1, Ordering::SeqCst);
        self.owner.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;

    #[test]
    fn counts_runs_across_threads() {
        let f = InFlight::default();
        let a = f.start();
        let b = f.start();
        assert_eq!(f.count(), 2);
        let detached = AtomicBool::new(false);
        a.finish(&detached);
        drop(b);
        assert_eq!(f.count(), 0);
    }

    #[test]
    fn wait_idle_returns_when_the_last_run_ends() {
        let f = Arc::new(InFlight::default());
        let detached = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = mpsc::channel();
        let (end_tx, end_rx) = mpsc::channel::<()>();
        let runner = {
            let f = Arc::clone(&f);
            let detached = Arc::clone(&detached);
            std::thread::spawn(move || {
                let t = f.start();
                started_tx.send(()).unwrap();
                end_rx.recv_timeout(Duration::from_secs(10)).unwrap();
                t.finish(&detached);
            })
        };
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        detached.store(true, Ordering::SeqCst);
        let (done_tx, done_rx) = mpsc::channel();
        let waiter = {
            let f = Arc::clone(&f);
            std::thread::spawn(move || {
                f.wait_idle();
                done_tx.send(()).unwrap();
            })
        };
        assert!(
            done_rx.recv_timeout(Duration::from_millis(100)).is_err(),
            "wait_idle returned while a run was in flight"
        );
        end_tx.send(()).unwrap();
        done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("wait_idle did not return after the run ended");
        runner.join().unwrap();
        waiter.join().unwrap();
    }
}
