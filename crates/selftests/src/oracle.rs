//! The live kernel as an oracle.
//!
//! Choice: a small C program of our own (`oracle/kcase.c`) linked against the libbpf of the same
//! `linux-source-6.12` tree, built into the cache with gcc (about 10 s on 2 cores): Debian's
//! libbpf 1.1 predates arena maps and several section names the 6.12 selftests use, and a C
//! shim avoids a libbpf-sys build. It is run once per object file with the cases on stdin and
//! answers one JSON line per case (verdict, errno, the whole verifier log, the test-run result).
//! Results are cached per object under `kernel/`, keyed by the object's bytes, the cases, the
//! shim's source and the kernel release.

use crate::case::Case;
use crate::corpus::Cache;
use crate::error::{Error, Result, io};
use crate::spec::Mode;
use crate::sys;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KCASE_SOURCE: &str = include_str!("../oracle/kcase.c");

/// The kernel's answer for one case.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct KernelRun {
    /// The program name.
    pub name: String,
    /// The load succeeded.
    pub accepted: bool,
    /// errno of the failing step (0 when accepted).
    pub errno: i32,
    /// The verifier log.
    pub log: String,
    /// `BPF_PROG_TEST_RUN` result, when the case has a retval and loaded.
    pub run: Option<TestRun>,
    /// How far kcase got: `open`, `select` or `load`.
    #[serde(default)]
    pub stage: String,
}

/// A test run's result.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TestRun {
    /// errno of the run (0 = ran).
    pub errno: i32,
    /// The program's return value.
    pub retval: i32,
}

/// A program as libbpf sees it (type numbers after section-name resolution).
#[derive(Clone, Debug, Deserialize)]
pub struct ListedProgram {
    /// Program name.
    pub name: String,
    /// Section name.
    pub section: String,
    /// `enum bpf_prog_type`.
    #[serde(rename = "type")]
    pub prog_type: u32,
    /// `enum bpf_attach_type`.
    pub attach_type: u32,
    /// Flags from the section (e.g. sleepable).
    pub flags: u32,
    /// Decl tags on its FUNC, as libbpf reads them.
    pub tags: Vec<String>,
}

#[derive(Deserialize)]
struct Listing {
    programs: Vec<ListedProgram>,
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    runs: Vec<KernelRun>,
}

/// The built oracle.
#[derive(Clone, Debug)]
pub struct Oracle {
    kcase: PathBuf,
    dir: PathBuf,
    /// Whether this process may load programs (root).
    pub can_load: bool,
    /// Why unprivileged cases cannot be loaded here, if so.
    pub unpriv_blocked: Option<String>,
}

impl Oracle {
    /// Builds libbpf and kcase into the cache when missing or stale.
    pub fn build(cache: &Cache, jobs: usize) -> Result<Oracle> {
        let gcc = sys::which("gcc").ok_or_else(|| Error::Unavailable("gcc not found".into()))?;
        for header in ["/usr/include/gelf.h", "/usr/include/zlib.h"] {
            if !Path::new(header).is_file() {
                return Err(Error::Unavailable(format!(
                    "{header} missing (apt-get install -y libelf-dev zlib1g-dev)"
                )));
            }
        }
        let dir = cache.root.join("oracle");
        let libbpf = build_libbpf(cache, &gcc, &dir.join("libbpf"), jobs)?;
        let kcase = dir.join("kcase");
        let mut key = sys::Fnv::default();
        key.update(KCASE_SOURCE.as_bytes());
        let stamp = dir.join("kcase.stamp");
        let fresh =
            kcase.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == key.hex());
        if !fresh || sys::mtime(&libbpf) > sys::mtime(&kcase) {
            let src = dir.join("kcase.c");
            sys::write_atomic(&src, KCASE_SOURCE.as_bytes())?;
            let tools = cache.source_tree().join("tools");
            sys::run(
                Command::new(&gcc)
                    .args(["-O2", "-Wall", "-Werror"])
                    .arg(format!("-I{}", dir.join("libbpf/include").display()))
                    .arg(format!("-I{}", tools.join("include/uapi").display()))
                    .arg("-o")
                    .arg(&kcase)
                    .arg(&src)
                    .arg(&libbpf)
                    .args(["-lelf", "-lz"]),
            )?;
            sys::write_atomic(&stamp, key.hex().as_bytes())?;
        }
        let unpriv_blocked = match sys::unprivileged_bpf_disabled() {
            Some(0) => None,
            Some(v) => Some(format!("kernel.unprivileged_bpf_disabled={v}")),
            None => Some("kernel.unprivileged_bpf_disabled unreadable".into()),
        };
        Ok(Oracle {
            kcase,
            dir,
            can_load: sys::is_root(),
            unpriv_blocked,
        })
    }

    /// The programs of `obj` as libbpf sees them.
    pub fn list(&self, obj: &Path) -> Result<Vec<ListedProgram>> {
        let out = sys::run(Command::new(&self.kcase).arg("list").arg(obj))?;
        let listing: Listing = serde_json::from_slice(&out.stdout).map_err(|e| Error::Oracle {
            file: obj.display().to_string(),
            reason: format!("list: {e}"),
        })?;
        Ok(listing.programs)
    }

    /// Loads the given cases of one object into the kernel (or reads the cached answers).
    /// Returns one run per case, in order.
    pub fn load(&self, file: &str, obj: &Path, cases: &[&Case]) -> Result<Vec<KernelRun>> {
        let data = std::fs::read(obj).map_err(io(obj))?;
        let lines: String = cases.iter().map(|c| case_line(c)).collect();
        let mut key = sys::Fnv::default();
        key.update(&data)
            .update(lines.as_bytes())
            .update(KCASE_SOURCE.as_bytes());
        key.update(sys::kernel_release().as_bytes());
        let key = key.hex();
        let cache_file = self.dir.join("kernel").join(format!("{file}.json"));
        let cached = std::fs::read(&cache_file)
            .ok()
            .and_then(|t| serde_json::from_slice::<CacheEntry>(&t).ok());
        if let Some(entry) = cached.filter(|e| e.key == key && e.runs.len() == cases.len()) {
            return Ok(entry.runs);
        }
        let runs = self.run_kcase(file, obj, &lines)?;
        if runs.len() != cases.len() || runs.iter().zip(cases).any(|(r, c)| r.name != c.program) {
            return Err(Error::Oracle {
                file: file.into(),
                reason: "answers do not match the cases".into(),
            });
        }
        let entry = CacheEntry { key, runs };
        let json = serde_json::to_vec(&entry).map_err(|e| Error::Oracle {
            file: file.into(),
            reason: e.to_string(),
        })?;
        sys::write_atomic(&cache_file, &json)?;
        Ok(entry.runs)
    }

    fn run_kcase(&self, file: &str, obj: &Path, lines: &str) -> Result<Vec<KernelRun>> {
        let mut child = Command::new(&self.kcase)
            .arg("load")
            .arg(obj)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Tool {
                tool: "kcase".into(),
                detail: e.to_string(),
            })?;
        let mut stdin = child.stdin.take().ok_or_else(|| Error::Tool {
            tool: "kcase".into(),
            detail: "no stdin".into(),
        })?;
        let input = lines.to_string();
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let out = child.wait_with_output().map_err(|e| Error::Tool {
            tool: "kcase".into(),
            detail: e.to_string(),
        })?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(Error::Tool {
                tool: "kcase".into(),
                detail: sys::tail(&out.stderr, 400),
            });
        }
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str(l).map_err(|e| Error::Oracle {
                    file: file.into(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
}

/// One stdin line for kcase (see the comment at the top of `kcase.c`).
fn case_line(c: &Case) -> String {
    let exec = c.expect.retval.is_some() && !c.expect.failure;
    format!(
        "{}\t{}\t{:x}\t{:#x}\t{}\t{}\t{}\t{}\n",
        c.program,
        u8::from(c.mode == Mode::Unpriv),
        c.caps_dropped,
        c.prog_flags,
        c.log_level,
        u8::from(exec),
        c.prefill.unwrap_or("-"),
        if c.aux.is_empty() {
            "-".to_string()
        } else {
            c.aux.join(",")
        },
    )
}

/// Compiles the tree's libbpf (`tools/lib/bpf/*.c`) into a static library, and copies its
/// headers to `<out>/include/bpf`.
fn build_libbpf(cache: &Cache, gcc: &Path, out: &Path, jobs: usize) -> Result<PathBuf> {
    let src = cache.source_tree().join("tools/lib/bpf");
    let tools = cache.source_tree().join("tools");
    let lib = out.join("libbpf.a");
    let stamp = cache.root.join("extracted.stamp");
    if lib.is_file() && sys::mtime(&lib) > sys::mtime(&stamp) {
        return Ok(lib);
    }
    let inc = out.join("include/bpf");
    std::fs::create_dir_all(&inc).map_err(io(&inc))?;
    let mut sources = Vec::new();
    for entry in std::fs::read_dir(&src).map_err(io(&src))? {
        let path = entry.map_err(io(&src))?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("c") => sources.push(path),
            Some("h") => {
                let data = std::fs::read(&path).map_err(io(&path))?;
                sys::write_if_changed(&inc.join(path.file_name().unwrap_or_default()), &data)?;
            }
            _ => {}
        }
    }
    sources.sort();
    let objects = sys::parallel_map(&sources, jobs, |c| {
        let o = out
            .join(c.file_name().unwrap_or_default())
            .with_extension("o");
        sys::run(
            Command::new(gcc)
                .args([
                    "-c",
                    "-O2",
                    "-D_LARGEFILE64_SOURCE",
                    "-D_FILE_OFFSET_BITS=64",
                ])
                .arg(format!("-I{}", src.display()))
                .arg(format!("-I{}", tools.join("include").display()))
                .arg(format!("-I{}", tools.join("include/uapi").display()))
                .arg(format!("-I{}", tools.join("arch/x86/include").display()))
                .arg(c)
                .arg("-o")
                .arg(&o),
        )
        .map(|_| o)
    });
    let objects: Vec<PathBuf> = objects.into_iter().collect::<Result<_>>()?;
    let _ = std::fs::remove_file(&lib);
    sys::run(Command::new("ar").arg("rcs").arg(&lib).args(&objects))?;
    Ok(lib)
}
