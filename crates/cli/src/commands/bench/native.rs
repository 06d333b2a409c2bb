//! The native baseline of `lull bench`: the benchmark's C source compiled with the system C
//! compiler at `-O2` and timed by a small driver the same way the interpreter is timed, so the
//! ratio printed is measured side by side in one run.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The timing driver, compiled together with each benchmark's C file.
const DRIVER: &str = include_str!("native_driver.c");

/// A compiled native benchmark.
pub struct Native {
    exe: PathBuf,
}

/// The C compiler to use: `$CC`, else `cc`.
fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

impl Native {
    /// Compiles `dir/<name>.c` (with `dir/bench.h`) and the driver into a scratch directory.
    pub fn build(dir: &Path, name: &str, scratch: &Path) -> Result<Native> {
        std::fs::create_dir_all(scratch)
            .with_context(|| format!("cannot create {}", scratch.display()))?;
        let driver = scratch.join("native_driver.c");
        std::fs::write(&driver, DRIVER)?;
        let exe = scratch.join(format!("{name}-native"));
        let src = dir.join(format!("{name}.c"));
        let out = Command::new(compiler())
            .args(["-O2", "-o"])
            .arg(&exe)
            .arg(&src)
            .arg(&driver)
            .output()
            .with_context(|| format!("cannot run the C compiler `{}`", compiler()))?;
        if !out.status.success() {
            bail!(
                "compiling {} natively failed: {}",
                src.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(Native { exe })
    }

    /// Runs the native program `runs` times; returns its result and the median ns of one run.
    pub fn time(&self, runs: u64) -> Result<(u64, u64)> {
        let out = Command::new(&self.exe)
            .arg(runs.to_string())
            .output()
            .with_context(|| format!("cannot run {}", self.exe.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace();
        let parse = |s: Option<&str>| s.and_then(|s| s.parse::<f64>().ok());
        match (
            it.next().and_then(|s| s.parse::<u64>().ok()),
            parse(it.next()),
        ) {
            (Some(result), Some(ns)) if out.status.success() => Ok((result, ns.round() as u64)),
            _ => bail!(
                "{}: unexpected output `{}`",
                self.exe.display(),
                text.trim()
            ),
        }
    }
}
