//! `lull-benchprogs`: the four CPU-bound benchmark programs of `shared/bench` (`sum`,
//! `xorshift`, `fnv1a`, `bsort`) as every timing tool of the workspace uses them — `lull bench`
//! and the interpreter's and JIT's criterion benches: where the files are, what each program
//! must return and how many instructions it executes, the 64 KiB context of `bench.h`, and the
//! same C compiled natively as the baseline ([`native`]).
#![forbid(unsafe_code)]

pub mod native;

use std::path::{Path, PathBuf};

use lull_isa::{Located, RawInsn};

/// One benchmark program (numbers from `shared/bench/README.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchProgram {
    /// File stem: `<name>.bin`, `<name>.c`.
    pub name: &'static str,
    /// The r0 it must return.
    pub expected: u64,
    /// Instructions one run executes (an `lddw` counts once).
    pub executed: u64,
}

/// The four programs, in the order the README lists them.
pub const PROGRAMS: [BenchProgram; 4] = [
    BenchProgram {
        name: "sum",
        expected: 500_000_500_000,
        executed: 4_000_002,
    },
    BenchProgram {
        name: "xorshift",
        expected: 7_290_476_056_423_008_982,
        executed: 12_000_002,
    },
    BenchProgram {
        name: "fnv1a",
        expected: 11_901_028_539_370_386_213,
        executed: 524_291,
    },
    BenchProgram {
        name: "bsort",
        expected: 50_243_579_674,
        executed: 40_098,
    },
];

/// Size of the context buffer every program gets in r1 (`BENCH_BUF_LEN` in `bench.h`).
pub const CONTEXT_LEN: usize = 65536;

/// The context of `bench.h`: `buf[i] = (uint8_t)(i*31 + (i>>8) + 7)`.
pub fn context_buffer() -> Vec<u8> {
    (0..CONTEXT_LEN)
        .map(|i| (i * 31 + (i >> 8) + 7) as u8)
        .collect()
}

/// Why a benchmark program cannot be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// No directory holds the programs.
    #[error("no benchmark directory found (tried {tried}); pass one explicitly")]
    NoDir {
        /// The candidates, comma-separated.
        tried: String,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file is not a whole number of valid instructions.
    #[error("{path}: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// The benchmark directory: `explicit` if given, else the first of `../shared/bench` and
/// `shared/bench` (from the current directory) and the workspace's sibling `shared/bench`
/// that holds `sum.bin`.
pub fn find_dir(explicit: Option<&Path>) -> Result<PathBuf, BenchError> {
    if let Some(d) = explicit {
        return Ok(d.to_path_buf());
    }
    let candidates = [
        PathBuf::from("../shared/bench"),
        PathBuf::from("shared/bench"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench"),
    ];
    candidates
        .iter()
        .find(|p| p.join("sum.bin").exists())
        .cloned()
        .ok_or_else(|| BenchError::NoDir {
            tried: candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Reads and decodes `dir/<name>.bin`.
pub fn load(dir: &Path, name: &str) -> Result<Vec<Located>, BenchError> {
    let path = dir.join(format!("{name}.bin"));
    let bytes = std::fs::read(&path).map_err(|source| BenchError::Read {
        path: path.clone(),
        source,
    })?;
    let decode = |reason: String| BenchError::Decode {
        path: path.clone(),
        reason,
    };
    let raw = RawInsn::slice_from_bytes(&bytes).map_err(|e| decode(e.to_string()))?;
    lull_isa::decode(&raw).map_err(|e| decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_matches_bench_h() {
        let b = context_buffer();
        assert_eq!(b.len(), CONTEXT_LEN);
        assert_eq!(b[0], 7);
        assert_eq!(b[1], 38);
        assert_eq!(b[300], (300 * 31 + 1 + 7) as u8);
    }

    #[test]
    fn programs_load_when_the_shared_directory_is_there() {
        let Ok(dir) = find_dir(None) else {
            eprintln!("SKIPPED: no shared/bench directory");
            return;
        };
        for p in PROGRAMS {
            let insns = load(&dir, p.name).expect("loads");
            assert!(!insns.is_empty());
        }
        assert!(matches!(
            load(&dir, "no-such-program"),
            Err(BenchError::Read { .. })
        ));
    }
}
