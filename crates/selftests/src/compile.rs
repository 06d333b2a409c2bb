//! Compiles the corpus's `progs/*.c` ([`crate::corpus::Corpus`]) into BPF objects with `clang-19`, with the flags of the
//! 6.12 selftests Makefile (`BPF_CFLAGS`, `CLANG_SYS_INCLUDES`, the flavour's `-mcpu` and
//! defines). Objects are cached: a file is rebuilt only when its source, `vmlinux.h` or the
//! flags changed. Compilation runs on [`sys::jobs`] threads.

use crate::corpus::{self, Cache};
use crate::error::{Error, Result, io};
use crate::sys;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The selftests runner flavours (Makefile `DEFINE_TEST_RUNNER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// `test_progs`: `-mcpu=v3 -DENABLE_ATOMICS_TESTS`.
    V3,
    /// `test_progs-no_alu32`: `-mcpu=v2`.
    NoAlu32,
    /// `test_progs-cpuv4`: `-mcpu=v4 -DENABLE_ATOMICS_TESTS` (ldsx, movsx, sdiv, bswap, gotol).
    Cpuv4,
}

impl Flavor {
    /// `LULL_SELFTESTS_FLAVOR` (`v3`, `no_alu32`, `cpuv4`), default `cpuv4`: the flavour that
    /// compiles the most instructions, including the cpuv4 tests.
    pub fn from_env() -> Result<Self> {
        match std::env::var("LULL_SELFTESTS_FLAVOR").as_deref() {
            Err(_) | Ok("cpuv4") => Ok(Flavor::Cpuv4),
            Ok("v3") => Ok(Flavor::V3),
            Ok("no_alu32") => Ok(Flavor::NoAlu32),
            Ok(other) => Err(Error::Unavailable(format!(
                "unknown LULL_SELFTESTS_FLAVOR `{other}`"
            ))),
        }
    }

    /// The name used in directory names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Flavor::V3 => "v3",
            Flavor::NoAlu32 => "no_alu32",
            Flavor::Cpuv4 => "cpuv4",
        }
    }

    fn flags(self) -> &'static [&'static str] {
        match self {
            Flavor::V3 => &["-DENABLE_ATOMICS_TESTS", "-mcpu=v3"],
            Flavor::NoAlu32 => &["-mcpu=v2"],
            Flavor::Cpuv4 => &["-DENABLE_ATOMICS_TESTS", "-mcpu=v4"],
        }
    }
}

/// One compiled (or not) selftest source.
#[derive(Clone, Debug)]
pub struct Compiled {
    /// The source's stem, e.g. `verifier_and`.
    pub stem: String,
    /// The object, when compilation succeeded.
    pub object: Option<PathBuf>,
    /// Why it failed, or what had to be relaxed to make it build.
    pub note: Option<String>,
}

/// Compiler settings derived once per run.
#[derive(Clone, Debug)]
pub struct Compiler {
    clang: PathBuf,
    args: Vec<String>,
    out_dir: PathBuf,
}

impl Compiler {
    /// Builds the argument list: Makefile `BPF_CFLAGS` + `CLANG_SYS_INCLUDES` + flavour.
    pub fn new(cache: &Cache, clang: &Path, flavor: Flavor) -> Result<Self> {
        let dir = cache.selftests_dir();
        let tools = cache.source_tree().join("tools");
        let mut args: Vec<String> = vec![
            "-g".into(),
            "-Wall".into(),
            "-Werror".into(),
            "-D__TARGET_ARCH_x86".into(),
            "-mlittle-endian".into(),
            format!("-I{}", cache.include_dir().display()),
            format!("-I{}", dir.display()),
            format!("-I{}", tools.join("include/uapi").display()),
            "-Wno-compare-distinct-pointer-types".into(),
        ];
        for d in sys_includes(clang)? {
            args.push("-idirafter".into());
            args.push(d);
        }
        args.extend(["-O2", "--target=bpf"].map(String::from));
        args.extend(flavor.flags().iter().map(|s| s.to_string()));
        let mut key = sys::Fnv::default();
        key.update(clang.as_os_str().as_encoded_bytes());
        args.iter().for_each(|a| {
            key.update(a.as_bytes());
        });
        let out_dir = cache
            .root
            .join(format!("obj-{}-{}", flavor.name(), &key.hex()[..8]));
        Ok(Compiler {
            clang: clang.to_path_buf(),
            args,
            out_dir,
        })
    }

    /// The flags, for the report.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Compiles every source of the cache's corpus, sorted by name, reusing up-to-date objects.
    /// Sources that cannot be judged here ([`corpus::unsupported_reason`]) are listed without
    /// an object, with the reason as their note.
    pub fn compile_all(&self, cache: &Cache, jobs: usize) -> Result<Vec<Compiled>> {
        let progs = cache.selftests_dir().join("progs");
        let mut sources: Vec<(PathBuf, Option<&'static str>)> = Vec::new();
        for entry in std::fs::read_dir(&progs).map_err(io(&progs))? {
            let path = entry.map_err(io(&progs))?.path();
            if path.extension().is_none_or(|e| e != "c") {
                continue;
            }
            let stem = path.file_stem().unwrap_or_default().to_string_lossy();
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            if cache.corpus.includes(&stem, &text) {
                sources.push((path.clone(), corpus::unsupported_reason(&text)));
            }
        }
        sources.sort();
        std::fs::create_dir_all(&self.out_dir).map_err(io(&self.out_dir))?;
        let vmlinux = sys::mtime(&cache.include_dir().join("vmlinux.h"));
        Ok(sys::parallel_map(
            &sources,
            jobs,
            |(src, unsupported)| match unsupported {
                Some(why) => Compiled {
                    stem: src
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned(),
                    object: None,
                    note: Some(format!("skipped: {why}")),
                },
                None => self.compile_one(src, &progs, vmlinux),
            },
        ))
    }

    fn compile_one(
        &self,
        src: &Path,
        cwd: &Path,
        vmlinux: Option<std::time::SystemTime>,
    ) -> Compiled {
        let stem = src
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let obj = self.out_dir.join(format!("{stem}.bpf.o"));
        let note_file = self.out_dir.join(format!("{stem}.note"));
        let up_to_date = match (sys::mtime(&obj), sys::mtime(src)) {
            (Some(o), Some(s)) => o > s && vmlinux.is_none_or(|v| o > v),
            _ => false,
        };
        if up_to_date {
            let note = std::fs::read_to_string(&note_file)
                .ok()
                .filter(|n| !n.is_empty());
            return Compiled {
                stem,
                object: Some(obj),
                note,
            };
        }
        let tmp = self.out_dir.join(format!("{stem}.bpf.o.tmp"));
        let attempt = |extra: &[&str]| -> std::result::Result<(), String> {
            let out = Command::new(&self.clang)
                .current_dir(cwd)
                .args(&self.args)
                .args(extra)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(&tmp)
                .stdin(std::process::Stdio::null())
                .output()
                .map_err(|e| format!("cannot run {}: {e}", self.clang.display()))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&out.stderr).into_owned())
            }
        };
        let (result, note) = match attempt(&[]) {
            Ok(()) => (Ok(()), None),
            Err(strict) => {
                // The 6.12 sources against a newer vmlinux.h can trip -Werror (e.g. a field that
                // became const); the program itself is unchanged, so retry with warnings.
                let first = first_error_line(&strict);
                match attempt(&["-Wno-error"]) {
                    Ok(()) => (Ok(()), Some(format!("built only with -Wno-error: {first}"))),
                    Err(e) => (
                        Err(()),
                        Some(format!("compile failed: {}", first_error_line(&e))),
                    ),
                }
            }
        };
        let _ = std::fs::write(&note_file, note.as_deref().unwrap_or(""));
        match result.and_then(|()| std::fs::rename(&tmp, &obj).map_err(|_| ())) {
            Ok(()) => Compiled {
                stem,
                object: Some(obj),
                note,
            },
            Err(()) => {
                let _ = std::fs::remove_file(&obj);
                Compiled {
                    stem,
                    object: None,
                    note: note.or(Some("compile failed".into())),
                }
            }
        }
    }
}

/// The first `error:` line of clang's output (the whole text if there is none).
fn first_error_line(s: &str) -> String {
    let line = s.lines().find(|l| l.contains("error:")).unwrap_or(s);
    let line = line.rsplit("progs/").next().unwrap_or(line);
    line.chars().take(200).collect()
}

/// `CLANG_SYS_INCLUDES`: the host compiler's system include directories (`clang -v -E -`).
fn sys_includes(clang: &Path) -> Result<Vec<String>> {
    let out = Command::new(clang)
        .args(["-v", "-E", "-", "-o", "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Tool {
            tool: clang.display().to_string(),
            detail: e.to_string(),
        })?;
    let text = String::from_utf8_lossy(&out.stderr);
    let dirs = text
        .lines()
        .skip_while(|l| !l.starts_with("#include <...> search starts here:"))
        .skip(1)
        .take_while(|l| !l.starts_with("End of search list."))
        .map(|l| l.trim().to_string())
        .collect();
    Ok(dirs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_error_line_strips_path() {
        let s = "In file included from x.h:1:\n/x/progs/verifier_a.c:3:1: error: boom\nmore";
        assert_eq!(first_error_line(s), "verifier_a.c:3:1: error: boom");
    }
}
