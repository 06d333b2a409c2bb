//! Errors of building tasks and user-memory sources (the reads themselves report an [`Errno`]).
//!
//! [`Errno`]: crate::Errno

use std::path::PathBuf;

/// Why a [`Task`](crate::Task) or a user-memory source could not be created or configured.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// No process or thread with this id exists (its `/proc` directory is missing).
    #[error("no process or thread with id {pid} (no /proc/{pid})")]
    NoSuchProcess {
        /// The id that was asked for.
        pid: u32,
    },
    /// A `/proc` file could not be read.
    #[error("cannot read {path}: {source}")]
    Proc {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A `/proc` file did not have the expected form.
    #[error("{path}: {problem}")]
    ProcFormat {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        problem: String,
    },
    /// A host tried to supply data outside a [`BlockingSource`](crate::BlockingSource)'s region.
    #[error("supplied range {addr:#x}+{len} lies outside the source's region {base:#x}+{size}")]
    OutOfRegion {
        /// Start of the supplied range.
        addr: u64,
        /// Its length.
        len: usize,
        /// Start of the region.
        base: u64,
        /// Size of the region.
        size: u64,
    },
    /// A host tried to supply data to a [`BlockingSource`](crate::BlockingSource) it already closed.
    #[error("the source is closed: no more data can be supplied")]
    Closed,
}
