//! The native baseline: a benchmark's C source compiled with the system C compiler at `-O2`
//! and timed by a small driver the same way the engines are timed (batches, median of the
//! batch means), so a ratio is measured side by side in one run.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The timing driver, compiled together with each benchmark's C file.
const DRIVER: &str = include_str!("native_driver.c");

/// Why the native baseline is not available.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// The scratch directory or the driver could not be written.
    #[error("cannot write {path}: {source}")]
    Scratch {
        /// What could not be written.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The compiler or the program could not be started.
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        /// The command.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The compiler rejected the source.
    #[error("compiling {source_file} natively failed: {stderr}")]
    Compile {
        /// The C file.
        source_file: PathBuf,
        /// The compiler's messages.
        stderr: String,
    },
    /// The program did not print `<result> <ns>`.
    #[error("{exe}: unexpected output `{output}`")]
    Output {
        /// The program.
        exe: PathBuf,
        /// What it printed.
        output: String,
    },
}

/// A compiled native benchmark.
#[derive(Debug)]
pub struct Native {
    exe: PathBuf,
}

/// The C compiler to use: `$CC`, else `cc`.
fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

impl Native {
    /// Compiles `dir/<name>.c` (with `dir/bench.h`) and the driver into `scratch`.
    pub fn build(dir: &Path, name: &str, scratch: &Path) -> Result<Native, NativeError> {
        let scratch_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NativeError::Scratch { path, source }
        };
        std::fs::create_dir_all(scratch).map_err(scratch_err(scratch))?;
        let driver = scratch.join("native_driver.c");
        std::fs::write(&driver, DRIVER).map_err(scratch_err(&driver))?;
        let exe = scratch.join(format!("{name}-native"));
        let src = dir.join(format!("{name}.c"));
        let out = Command::new(compiler())
            .args(["-O2", "-o"])
            .arg(&exe)
            .arg(&src)
            .arg(&driver)
            .output()
            .map_err(|source| NativeError::Spawn {
                program: compiler(),
                source,
            })?;
        if !out.status.success() {
            return Err(NativeError::Compile {
                source_file: src,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(Native { exe })
    }

    /// Runs the native program `runs` times; returns its result and the median ns of one run.
    pub fn time(&self, runs: u64) -> Result<(u64, u64), NativeError> {
        let out = Command::new(&self.exe)
            .arg(runs.to_string())
            .output()
            .map_err(|source| NativeError::Spawn {
                program: self.exe.display().to_string(),
                source,
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        let result = it.next().and_then(|s| s.parse::<u64>().ok());
        let ns = it.next().and_then(|s| s.parse::<f64>().ok());
        match (result, ns) {
            (Some(result), Some(ns)) if out.status.success() => Ok((result, ns.round() as u64)),
            _ => Err(NativeError::Output {
                exe: self.exe.clone(),
                output: text.trim().to_string(),
            }),
        }
    }
}
