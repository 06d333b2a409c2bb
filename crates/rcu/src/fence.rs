//! The two fences of the asymmetric protocol: the *light* one on the reader's fast path and the
//! *heavy* one a grace period issues before scanning the readers.
//!
//! The process-wide mode is chosen once, when the first [`crate::Domain`] is created: if the kernel
//! offers `MEMBARRIER_CMD_PRIVATE_EXPEDITED` (and the registration succeeds), readers only need a
//! compiler fence and writers make every running thread of the process execute a full barrier;
//! otherwise both sides use `fence(SeqCst)`. Setting the environment variable
//! `LULL_RCU_NO_MEMBARRIER=1` forces the fence mode (tests and benchmarks of the fallback). Under
//! loom and Miri the fence mode is always used. The mode never changes once chosen, and every
//! reader obtains its domain after the choice, so readers and writers always agree.

use crate::sync::{Ordering, compiler_fence, fence};
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

/// Set once (before any reader exists) when writers use `membarrier`.
static MEMBARRIER: AtomicBool = AtomicBool::new(false);
static CHOSEN: OnceLock<Mode> = OnceLock::new();

/// How the reader and writer fences are implemented in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Readers: compiler fence; writers: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`.
    Membarrier,
    /// Readers and writers: `fence(SeqCst)`.
    Fences,
}

/// Chooses the mode (first call only) and returns it.
pub fn init() -> Mode {
    *CHOSEN.get_or_init(|| {
        let forced_off = std::env::var_os("LULL_RCU_NO_MEMBARRIER").is_some_and(|v| v != "0");
        if !forced_off && sys::register() {
            MEMBARRIER.store(true, std::sync::atomic::Ordering::Relaxed);
            Mode::Membarrier
        } else {
            Mode::Fences
        }
    })
}

/// The mode in use, if chosen yet.
pub fn mode() -> Option<Mode> {
    CHOSEN.get().copied()
}

/// Reader side: orders the section word's enter store before the section's loads.
#[inline(always)]
pub(crate) fn light() {
    if MEMBARRIER.load(std::sync::atomic::Ordering::Relaxed) {
        compiler_fence(Ordering::SeqCst);
    } else {
        fence(Ordering::SeqCst);
    }
}

/// Writer side: pairs with every reader's [`light`] fence.
pub(crate) fn heavy() {
    fence(Ordering::SeqCst);
    if MEMBARRIER.load(std::sync::atomic::Ordering::Relaxed) {
        if let Err(err) = sys::private_expedited() {
            // Readers are already running with compiler fences only; without the barrier no
            // grace period could be proven, and continuing would risk use-after-free.
            eprintln!("lull-rcu: membarrier failed after a successful registration: {err}");
            std::process::abort();
        }
        fence(Ordering::SeqCst);
    }
}

#[cfg(all(target_os = "linux", not(loom), not(miri)))]
#[allow(unsafe_code)]
mod sys {
    //! The `membarrier(2)` system call: the only `unsafe` code of the crate.

    use libc::{c_int, c_long, c_uint};

    const CMD_QUERY: c_int = 0;
    const CMD_PRIVATE_EXPEDITED: c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: c_int = 1 << 4;

    fn membarrier(cmd: c_int) -> c_long {
        // SAFETY: membarrier(cmd, flags, cpu_id) takes three integers and no pointers, so no
        // argument value can make it touch our memory; unknown commands fail with EINVAL.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as c_uint, 0 as c_int) }
    }

    /// Registers the process for private expedited barriers; false when unsupported.
    pub(super) fn register() -> bool {
        let supported = membarrier(CMD_QUERY);
        supported >= 0
            && supported & c_long::from(CMD_PRIVATE_EXPEDITED) != 0
            && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    /// A full barrier on every CPU currently running a thread of this process.
    pub(super) fn private_expedited() -> std::io::Result<()> {
        if membarrier(CMD_PRIVATE_EXPEDITED) == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
}

#[cfg(not(all(target_os = "linux", not(loom), not(miri))))]
mod sys {
    //! No `membarrier` here: the fence mode is used.

    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn private_expedited() -> std::io::Result<()> {
        Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
    }
}
