//! `lull-rundiff`: runs the same BPF programs in Lull and in the live Linux kernel and
//! compares what they did — return value, output packet and context, and the contents of
//! every map afterwards.
//!
//! Module map: [`bytes`] (the manifest's little byte language and hex), [`manifest`] (the
//! table of cases), [`build`] (compiling the programs and the kernel shim), [`dump`] (what
//! a run left behind, in a form both sides produce), [`lull`] (the Lull side, through
//! `lull-runtime`), [`kernel`] (the kernel side, through the `ktestrun` C shim and
//! `BPF_PROG_TEST_RUN`), [`compare`] (the verdict of one case), [`suite`] (the whole table and its report), [`bench`] (the hash-lookup
//! benchmark `lull bench --maps` prints), [`speed`] (every case timed in Lull and in the kernel,
//! `lull bench --kernel`).
#![forbid(unsafe_code)]

pub mod bench;
pub mod build;
pub mod bytes;
pub mod compare;
pub mod dump;
pub mod kernel;
pub mod lull;
pub mod manifest;
pub mod speed;
pub mod suite;

use std::path::PathBuf;

/// Why the differential machinery could not do its job (a disagreement is not an error: see
/// [`compare`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A manifest or byte-spec string is malformed.
    #[error("manifest: {0}")]
    Manifest(String),
    /// An external tool (clang, gcc, ktestrun) failed or is missing.
    #[error("{tool}: {message}")]
    Tool {
        /// The tool.
        tool: String,
        /// What went wrong (its stderr, typically).
        message: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Lull could not open, load or run a case (reported as the Lull side's outcome).
    #[error("lull: {0}")]
    Lull(String),
    /// The kernel shim's output could not be parsed.
    #[error("ktestrun output: {0}")]
    KernelOutput(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// The crate's directory (programs, shim, manifest).
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
