//! The corpus's sources: finds (or installs) Debian's `linux-source-6.12` tarball, extracts only
//! the BPF selftests' programs and the headers they need into the cache, decides which programs
//! belong to the corpus ([`Corpus`]), and prepares the include directory (`bpf/*.h` with a generated `bpf_helper_defs.h`, `vmlinux.h` from the running
//! kernel's BTF, an empty `gnu/stubs-32.h`).
//!
//! Nothing extracted here is committed: it all lives under the cache directory in `target/`.

use crate::error::{Error, Result, io};
use crate::sys;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Debian package holding the kernel sources.
pub const SOURCE_PACKAGE: &str = "linux-source-6.12";

/// Members of the tarball the harness needs (relative to its top directory).
const MEMBERS: &[&str] = &[
    "tools/testing/selftests/bpf/progs/*.c",
    "tools/testing/selftests/bpf/progs/*.h",
    "tools/testing/selftests/bpf/*.h",
    "tools/lib/bpf/*",
    "tools/include/*",
    "tools/arch/x86/include/*",
    "scripts/bpf_doc.py",
];

/// Which selftests programs the harness runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corpus {
    /// `progs/verifier_*.c`: the files `prog_tests/verifier.c` runs.
    Verifier,
    /// Also every other `progs/*.c` carrying test-loader annotations (`__success`, `__failure`,
    /// `__msg`): the files other `prog_tests` run with `RUN_TESTS` (iterators, dynptrs,
    /// exceptions, global functions, kptrs, …).
    Wide,
}

impl Corpus {
    /// `LULL_SELFTESTS_CORPUS` (`verifier` or `wide`), default [`Corpus::Wide`].
    pub fn from_env() -> Self {
        match std::env::var("LULL_SELFTESTS_CORPUS").as_deref() {
            Ok("verifier") => Corpus::Verifier,
            _ => Corpus::Wide,
        }
    }

    /// Whether the source `stem.c` (with text `source`) belongs to this corpus.
    pub fn includes(self, stem: &str, source: &str) -> bool {
        stem.starts_with("verifier_") || (self == Corpus::Wide && has_annotations(source))
    }
}

/// Whether a selftest source uses the test loader's annotations (`bpf_misc.h`).
fn has_annotations(source: &str) -> bool {
    ["__success", "__failure", "__msg("].iter().any(|a| {
        source.match_indices(a).any(|(i, _)| {
            // A whole token: not part of a longer identifier such as `__success_unpriv`'s
            // definition in a header copy.
            let before = source[..i].chars().next_back();
            !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
    })
}

/// Why a corpus source cannot be judged here, if so: it needs the selftests' kernel module
/// (`bpf_testmod`: its kfuncs, struct_ops and tracepoints are not in this kernel's BTF).
pub fn unsupported_reason(source: &str) -> Option<&'static str> {
    const TESTMOD: &[&str] = &[
        "bpf_testmod",
        "testmod_kfunc.h",
        "bpf_kfunc_call_test",
        "bpf_iter_testmod_seq",
        "bpf_testmod_test_read",
        "bpf_testmod_ops",
    ];
    TESTMOD.iter().any(|t| source.contains(t)).then_some(
        "needs the bpf_testmod kernel module (its kfuncs or struct_ops are not in this kernel)",
    )
}

/// Where everything the harness builds lives.
#[derive(Clone, Debug)]
pub struct Cache {
    /// The cache root, `<target>/selftests-cache`.
    pub root: PathBuf,
    /// The programs to run.
    pub corpus: Corpus,
}

impl Cache {
    /// The cache under a cargo target directory.
    pub fn in_target(target: &Path) -> Self {
        Cache {
            root: target.join("selftests-cache"),
            corpus: Corpus::from_env(),
        }
    }

    /// The default cache: `LULL_SELFTESTS_CACHE`, else `<target dir>/selftests-cache` where the
    /// target dir is `CARGO_TARGET_DIR`, else found from the running executable's path, else
    /// the workspace's `target/`.
    pub fn default_location() -> Self {
        if let Some(dir) = std::env::var_os("LULL_SELFTESTS_CACHE") {
            return Cache {
                root: PathBuf::from(dir),
                corpus: Corpus::from_env(),
            };
        }
        if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
            return Cache::in_target(Path::new(&dir));
        }
        let from_exe = std::env::current_exe().ok().and_then(|exe| {
            // <target>/<profile>/deps/<test> or <target>/<profile>/<bin>
            exe.ancestors()
                .skip(1)
                .find(|d| {
                    d.file_name()
                        .is_some_and(|n| n == "debug" || n == "release")
                })
                .and_then(Path::parent)
                .map(Path::to_path_buf)
        });
        Cache::in_target(&from_exe.unwrap_or_else(|| crate::workspace_root().join("target")))
    }

    /// The extracted source tree (`…/linux-source-6.12`).
    pub fn source_tree(&self) -> PathBuf {
        self.root.join(SOURCE_PACKAGE)
    }

    /// The selftests' directory inside the source tree.
    pub fn selftests_dir(&self) -> PathBuf {
        self.source_tree().join("tools/testing/selftests/bpf")
    }

    /// The generated include directory.
    pub fn include_dir(&self) -> PathBuf {
        self.root.join("include")
    }
}

/// Locates the source tarball: `LULL_LINUX_SOURCE`, else `/usr/src/linux-source-6.12.tar.xz`,
/// installing the Debian package first when running as root.
pub fn find_tarball() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("LULL_LINUX_SOURCE") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(Error::Unavailable(format!(
                "LULL_LINUX_SOURCE={} does not exist",
                p.display()
            )))
        };
    }
    let default = PathBuf::from(format!("/usr/src/{SOURCE_PACKAGE}.tar.xz"));
    if default.is_file() {
        return Ok(default);
    }
    if !sys::is_root() {
        return Err(Error::Unavailable(format!(
            "{} missing and not root (install it with `apt-get install -y {SOURCE_PACKAGE}`)",
            default.display()
        )));
    }
    eprintln!("lull-selftests: installing {SOURCE_PACKAGE} with apt-get");
    sys::run(Command::new("apt-get").args(["install", "-y", "-q", SOURCE_PACKAGE]))
        .map_err(|e| Error::Unavailable(format!("apt-get install {SOURCE_PACKAGE}: {e}")))?;
    if default.is_file() {
        Ok(default)
    } else {
        Err(Error::Unavailable(format!(
            "{} still missing after apt-get",
            default.display()
        )))
    }
}

/// Extracts the needed members once; re-extracts when the tarball is newer than the stamp.
pub fn extract(cache: &Cache, tarball: &Path) -> Result<()> {
    let stamp = cache.root.join("extracted.stamp");
    let fresh = match (sys::mtime(&stamp), sys::mtime(tarball)) {
        (Some(s), Some(t)) => {
            s >= t && std::fs::read_to_string(&stamp).is_ok_and(|c| c == stamp_text())
        }
        _ => false,
    };
    if fresh && cache.selftests_dir().join("progs/bpf_misc.h").is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(&cache.root).map_err(io(&cache.root))?;
    let mut cmd = Command::new("tar");
    cmd.arg("-xJf")
        .arg(tarball)
        .arg("-C")
        .arg(&cache.root)
        .arg("--wildcards");
    cmd.args(MEMBERS.iter().map(|m| format!("{SOURCE_PACKAGE}/{m}")));
    sys::run(&mut cmd)?;
    sys::write_atomic(&stamp, stamp_text().as_bytes())
}

fn stamp_text() -> String {
    MEMBERS.join("\n")
}

/// Prepares the include directory: libbpf's headers, `bpf_helper_defs.h`, `vmlinux.h`, and an
/// empty `gnu/stubs-32.h`. Files are rewritten only when their content changes, so objects are
/// not rebuilt needlessly. Returns a note when a fallback was used.
pub fn prepare_includes(cache: &Cache, bpftool: &Path) -> Result<Vec<String>> {
    let mut notes = Vec::new();
    let inc = cache.include_dir();
    let libbpf_src = cache.source_tree().join("tools/lib/bpf");
    let bpf_inc = inc.join("bpf");
    std::fs::create_dir_all(&bpf_inc).map_err(io(&bpf_inc))?;
    for entry in std::fs::read_dir(&libbpf_src).map_err(io(&libbpf_src))? {
        let path = entry.map_err(io(&libbpf_src))?.path();
        if path.extension().is_some_and(|e| e == "h") {
            let data = std::fs::read(&path).map_err(io(&path))?;
            sys::write_if_changed(&bpf_inc.join(path.file_name().unwrap_or_default()), &data)?;
        }
    }
    let defs = helper_defs(cache).or_else(|e| {
        notes.push(format!("bpf_helper_defs.h taken from libbpf-dev ({e})"));
        std::fs::read("/usr/include/bpf/bpf_helper_defs.h")
            .map_err(io("/usr/include/bpf/bpf_helper_defs.h"))
    })?;
    sys::write_if_changed(&bpf_inc.join("bpf_helper_defs.h"), &defs)?;
    sys::write_if_changed(
        &inc.join("gnu/stubs-32.h"),
        b"/* empty: BPF targets have no 32-bit glibc */\n",
    )?;

    let btf = Path::new("/sys/kernel/btf/vmlinux");
    if !btf.is_file() {
        return Err(Error::Unavailable(
            "/sys/kernel/btf/vmlinux missing: cannot generate vmlinux.h".into(),
        ));
    }
    let out = sys::run(
        Command::new(bpftool)
            .args(["btf", "dump", "file"])
            .arg(btf)
            .args(["format", "c"]),
    )?;
    sys::write_if_changed(&inc.join("vmlinux.h"), &out.stdout)?;
    Ok(notes)
}

/// Generates `bpf_helper_defs.h` from the tree's UAPI header with the kernel's own script.
fn helper_defs(cache: &Cache) -> Result<Vec<u8>> {
    let tree = cache.source_tree();
    let python =
        sys::which("python3").ok_or_else(|| Error::Unavailable("python3 not found".into()))?;
    let out = sys::run(
        Command::new(python)
            .arg(tree.join("scripts/bpf_doc.py"))
            .args(["--header", "--file"])
            .arg(tree.join("tools/include/uapi/linux/bpf.h")),
    )?;
    Ok(out.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wide_corpus_takes_annotated_files_only() {
        let annotated = "SEC(\"tc\")\n__failure __msg(\"bad\")\nint f(void *ctx) { return 0; }";
        let plain = "SEC(\"tc\")\nint f(void *ctx) { return 0; }";
        assert!(Corpus::Wide.includes("dynptr_fail", annotated));
        assert!(!Corpus::Wide.includes("test_pkt_access", plain));
        assert!(!Corpus::Verifier.includes("dynptr_fail", annotated));
        assert!(Corpus::Verifier.includes("verifier_and", plain));
        // A longer identifier is not an annotation.
        assert!(!has_annotations("int my__success_count;"));
        assert!(has_annotations("__success int f(void)"));
    }

    #[test]
    fn files_needing_bpf_testmod_are_skipped() {
        assert!(unsupported_reason("#include \"../bpf_testmod/bpf_testmod_kfunc.h\"").is_some());
        assert!(unsupported_reason("bpf_kfunc_call_test_acquire(&sp)").is_some());
        assert!(unsupported_reason("bpf_dynptr_from_mem(data, 4, 0, &ptr)").is_none());
    }
}
