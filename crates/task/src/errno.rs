//! Kernel error numbers as the BPF helpers return them (negated in the helper's `i64` result).

use std::fmt;

/// A positive Linux error number (`EFAULT` is `Errno(14)`); helpers return its negation.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// `EPERM`: the caller may not access the task (e.g. `process_vm_readv` denied by ptrace rules).
    pub const EPERM: Errno = Errno(libc::EPERM);
    /// `ESRCH`: the task no longer exists.
    pub const ESRCH: Errno = Errno(libc::ESRCH);
    /// `EFAULT`: the address range is not readable (unmapped, or not resident on a no-fault read).
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    /// `EINVAL`: an invalid argument, e.g. unknown helper flags.
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// `ENOMEM`: the kernel could not allocate memory for the transfer.
    pub const ENOMEM: Errno = Errno(libc::ENOMEM);
    /// `ETIMEDOUT`: a host source gave up waiting for data.
    pub const ETIMEDOUT: Errno = Errno(libc::ETIMEDOUT);

    /// The value a BPF helper returns for this error: `-errno`.
    pub fn to_ret(self) -> i64 {
        -i64::from(self.0)
    }

    /// The symbolic name, when it is one this crate uses.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::EPERM => "EPERM",
            libc::ESRCH => "ESRCH",
            libc::EFAULT => "EFAULT",
            libc::EINVAL => "EINVAL",
            libc::ENOMEM => "ENOMEM",
            libc::ETIMEDOUT => "ETIMEDOUT",
            libc::EIO => "EIO",
            libc::EACCES => "EACCES",
            _ => return None,
        })
    }

    /// The error of an `std::io::Error` (its raw OS error), or `EFAULT` when it has none.
    pub fn from_io(err: &std::io::Error) -> Errno {
        err.raw_os_error().map_or(Errno::EFAULT, Errno)
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl std::error::Error for Errno {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_return_is_negated_errno() {
        assert_eq!(Errno::EFAULT.to_ret(), -14);
        assert_eq!(Errno::EINVAL.to_ret(), -22);
        assert_eq!(Errno::EFAULT.to_string(), "EFAULT (14)");
        assert_eq!(Errno(4095).to_string(), "errno 4095");
    }
}
