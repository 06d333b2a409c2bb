//! The error type of every map operation, carrying the errno the kernel returns for the same
//! failure so helpers and the command line can report the kernel's number.

/// Kernel errno values used by map operations (positive, as in `errno.h`).
pub mod errno {
    /// `EPERM`
    pub const EPERM: i32 = 1;
    /// `ENOENT`
    pub const ENOENT: i32 = 2;
    /// `E2BIG`
    pub const E2BIG: i32 = 7;
    /// `EAGAIN`
    pub const EAGAIN: i32 = 11;
    /// `ENOMEM`
    pub const ENOMEM: i32 = 12;
    /// `EBUSY`
    pub const EBUSY: i32 = 16;
    /// `EEXIST`
    pub const EEXIST: i32 = 17;
    /// `EINVAL`
    pub const EINVAL: i32 = 22;
    /// `ENOSPC`
    pub const ENOSPC: i32 = 28;
    /// `EOPNOTSUPP`
    pub const EOPNOTSUPP: i32 = 95;
    /// `ENOTSUPP` (kernel-internal, 524, seen by user space as "Unknown error 524")
    pub const ENOTSUPP: i32 = 524;
}

/// Why a map operation failed. Each variant corresponds to one kernel errno; the payload says
/// which rule was violated so a human sees more than a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// `-ENOENT`: no element with that key, empty queue/stack, end of iteration.
    #[error("no such element (ENOENT)")]
    NotFound,
    /// `-EEXIST`: `BPF_NOEXIST` on a present key.
    #[error("element already exists (EEXIST)")]
    Exists,
    /// `-E2BIG`: map full for a new key, array index out of range, size limits.
    #[error("too big (E2BIG): {0}")]
    TooBig(&'static str),
    /// `-ENOMEM`: no memory (or no free LRU node could be found).
    #[error("out of memory (ENOMEM): {0}")]
    NoMemory(&'static str),
    /// `-EINVAL`: invalid attributes, flags or operation for the map type.
    #[error("invalid argument (EINVAL): {0}")]
    Invalid(String),
    /// `-EPERM`: the map's access flags or frozen state forbid the operation.
    #[error("operation not permitted (EPERM): {0}")]
    Permission(&'static str),
    /// `-ENOSPC`: a batch buffer too small for one bucket's elements.
    #[error("no space (ENOSPC): {0}")]
    NoSpace(&'static str),
    /// `-EBUSY`: the map is already frozen.
    #[error("busy (EBUSY): {0}")]
    Busy(&'static str),
    /// `-EAGAIN`: no room in a ring buffer.
    #[error("try again (EAGAIN): {0}")]
    Again(&'static str),
    /// `-ENOTSUPP` (524): operation not supported by this map type (kernel-internal errno).
    #[error("not supported (ENOTSUPP): {0}")]
    NotSupported(&'static str),
    /// `-EOPNOTSUPP` (95): operation not supported by this map type.
    #[error("operation not supported (EOPNOTSUPP): {0}")]
    OpNotSupported(&'static str),
}

impl MapError {
    /// The kernel's return value for this failure: a *negative* errno (`-ENOENT` = -2), as
    /// `bpf_map_*` helpers return it to programs and `bpf()` returns it before libc's `errno`.
    pub fn errno(&self) -> i32 {
        -self.positive_errno()
    }

    /// The positive errno (`ENOENT` = 2), as user space sees it in `errno`.
    pub fn positive_errno(&self) -> i32 {
        match self {
            MapError::NotFound => errno::ENOENT,
            MapError::Exists => errno::EEXIST,
            MapError::TooBig(_) => errno::E2BIG,
            MapError::NoMemory(_) => errno::ENOMEM,
            MapError::Invalid(_) => errno::EINVAL,
            MapError::Permission(_) => errno::EPERM,
            MapError::NoSpace(_) => errno::ENOSPC,
            MapError::Busy(_) => errno::EBUSY,
            MapError::Again(_) => errno::EAGAIN,
            MapError::NotSupported(_) => errno::ENOTSUPP,
            MapError::OpNotSupported(_) => errno::EOPNOTSUPP,
        }
    }

    /// Shorthand for [`MapError::Invalid`].
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        MapError::Invalid(msg.into())
    }
}

/// Result of a map operation.
pub type MapResult<T> = Result<T, MapError>;
