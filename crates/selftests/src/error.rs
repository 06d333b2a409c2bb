//! The harness's error type: every way preparing or running the corpus can fail.

use std::path::PathBuf;

/// Errors of the selftests harness.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The corpus cannot be built on this machine (missing tool or source); not a test failure.
    #[error("corpus unavailable: {0}")]
    Unavailable(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An external tool (tar, clang, gcc, bpftool, kcase) failed.
    #[error("{tool} failed: {detail}")]
    Tool {
        /// The tool's name.
        tool: String,
        /// Its status and the end of its error output.
        detail: String,
    },
    /// A selftest annotation could not be understood.
    #[error("bad annotation `{tag}` on {program}: {reason}")]
    Annotation {
        /// The program whose FUNC carries the tag.
        program: String,
        /// The decl tag text.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An object file could not be read as ELF/BTF.
    #[error("{path}: {reason}")]
    Object {
        /// The object file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The xfail inventory has a malformed line.
    #[error("{path}:{line}: {reason}")]
    Inventory {
        /// The inventory file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Output from the kernel oracle could not be parsed.
    #[error("kernel oracle output for {file}: {reason}")]
    Oracle {
        /// The object file stem.
        file: String,
        /// What is wrong.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Wraps an I/O error with the path it concerns.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
