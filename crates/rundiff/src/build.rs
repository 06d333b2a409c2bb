//! Building what a differential run needs: BPF objects from `progs/*.bpf.c` (clang-19) and
//! the kernel shim `ktestrun` (gcc against the system libbpf). Outputs are rebuilt only when
//! a source is newer.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// The kernel shim's source, embedded so that binaries (`lull bench`) can build it anywhere.
pub const KTESTRUN_SOURCE: &str = include_str!("../oracle/ktestrun.c");

/// The header every program includes, embedded for the same reason.
pub const COMMON_H: &str = include_str!("../progs/common.h");

/// The clang the programs are compiled with.
pub const CLANG: &str = "clang-19";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn stale(out: &Path, inputs: &[&Path]) -> bool {
    let Some(o) = mtime(out) else { return true };
    inputs.iter().any(|i| mtime(i).is_none_or(|t| t > o))
}

fn run(tool: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| Error::Tool {
        tool: tool.to_string(),
        message: format!("cannot run: {e}"),
    })?;
    if !out.status.success() {
        return Err(Error::Tool {
            tool: tool.to_string(),
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    Ok(())
}

/// Compiles `src` (a `.bpf.c` file next to `common.h`) to `out_dir/<stem>.bpf.o`.
pub fn compile_bpf(src: &Path, out_dir: &Path) -> Result<PathBuf> {
    let stem = src
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".c"))
        .ok_or_else(|| Error::Manifest(format!("{}: not a .c file", src.display())))?;
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let obj = out_dir.join(format!("{stem}.o"));
    let header = src.with_file_name("common.h");
    if stale(&obj, &[src, &header]) {
        run(
            CLANG,
            Command::new(CLANG)
                .args([
                    "-O2",
                    "-g",
                    "-target",
                    "bpf",
                    "-I/usr/include/x86_64-linux-gnu",
                ])
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(&obj),
        )?;
    }
    Ok(obj)
}

/// Writes `source` as `dir/<name>` (with `common.h` beside it) and compiles it.
pub fn compile_bpf_source(name: &str, source: &str, dir: &Path) -> Result<PathBuf> {
    let src_dir = dir.join("src");
    std::fs::create_dir_all(&src_dir).map_err(io(&src_dir))?;
    let src = src_dir.join(name);
    let header = src_dir.join("common.h");
    write_if_changed(&header, COMMON_H)?;
    write_if_changed(&src, source)?;
    compile_bpf(&src, dir)
}

fn write_if_changed(path: &Path, text: &str) -> Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(());
    }
    std::fs::write(path, text).map_err(io(path))
}

/// Builds `dir/ktestrun` from the embedded source.
pub fn ktestrun(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let src = dir.join("ktestrun.c");
    write_if_changed(&src, KTESTRUN_SOURCE)?;
    let bin = dir.join("ktestrun");
    if stale(&bin, &[&src]) {
        run(
            "gcc",
            Command::new("gcc")
                .args(["-O2", "-Wall", "-o"])
                .arg(&bin)
                .arg(&src)
                .args(["-lbpf", "-lelf", "-lz"]),
        )?;
    }
    Ok(bin)
}
