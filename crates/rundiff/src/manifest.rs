//! The table of differential cases (`manifest.json` at the crate root).
//!
//! Each case names an object (`progs/<object>.bpf.c`) and a program in it, the run's inputs
//! (packet, context, CPU, map elements written before the run), what to compare, the values
//! the kernel is known to produce (checked against Lull when the kernel is unavailable, and
//! against the kernel itself otherwise, so the table cannot rot), and — for a known
//! disagreement — an `xfail` reason.

use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result, bytes};

/// The whole table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The cases, in run order.
    pub cases: Vec<Case>,
}

/// One program run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique case name.
    pub name: String,
    /// Object stem: `progs/<object>.bpf.c`.
    pub object: String,
    /// Program (function) name.
    pub program: String,
    /// What the case exercises.
    #[serde(default)]
    pub about: String,
    /// Packet bytes (byte language).
    #[serde(default)]
    pub data: Option<String>,
    /// Context bytes (byte language).
    #[serde(default)]
    pub ctx: Option<String>,
    /// CPU the run is pinned to (default 0).
    #[serde(default)]
    pub cpu: u32,
    /// Elements written before the run.
    #[serde(default)]
    pub prefill: Vec<Prefill>,
    /// Aspects not compared: `retval`, `data`, `ctx`, or `map:<name>`.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// What the kernel does (checked against both sides).
    #[serde(default)]
    pub expect: Expect,
    /// A known disagreement, with its cause.
    #[serde(default)]
    pub xfail: Option<String>,
}

/// One element written before the run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prefill {
    /// Map name (global-data maps by section: `.data`, `.bss`).
    pub map: String,
    /// Key (byte language; empty for queue/stack).
    #[serde(default)]
    pub key: String,
    /// Value (non-per-CPU maps).
    #[serde(default)]
    pub value: Option<String>,
    /// Per-CPU values: CPU `i` gets entry `min(i, len-1)`, padded to 8 bytes.
    #[serde(default)]
    pub per_cpu: Vec<String>,
    /// Update flags.
    #[serde(default)]
    pub flags: u64,
}

/// Values a case is known to produce.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The program's return value (as the kernel reports it: 32 bits).
    #[serde(default)]
    pub retval: Option<u32>,
    /// `res[i]` for the first entries (as signed 64-bit numbers).
    #[serde(default)]
    pub res: Vec<i64>,
}

impl Manifest {
    /// Reads and checks a manifest.
    pub fn load(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let m: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::Manifest(format!("{}: {e}", path.display())))?;
        m.check()?;
        Ok(m)
    }

    fn check(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for c in &self.cases {
            if !seen.insert(c.name.as_str()) {
                return Err(Error::Manifest(format!("duplicate case '{}'", c.name)));
            }
            let ctx = |e: Error| Error::Manifest(format!("case '{}': {e}", c.name));
            c.data_bytes().map_err(ctx)?;
            c.ctx_bytes().map_err(ctx)?;
            for p in &c.prefill {
                p.key_bytes().map_err(ctx)?;
                p.value_bytes(1).map_err(ctx)?;
            }
            for i in &c.ignore {
                if !matches!(i.as_str(), "retval" | "data" | "ctx") && !i.starts_with("map:") {
                    return Err(ctx(Error::Manifest(format!("unknown ignore '{i}'"))));
                }
            }
        }
        Ok(())
    }
}

impl Case {
    /// The packet.
    pub fn data_bytes(&self) -> Result<Vec<u8>> {
        self.data.as_deref().map_or(Ok(Vec::new()), bytes::parse)
    }

    /// The context, if any.
    pub fn ctx_bytes(&self) -> Result<Option<Vec<u8>>> {
        self.ctx.as_deref().map(bytes::parse).transpose()
    }

    /// Whether `aspect` is compared.
    pub fn compares(&self, aspect: &str) -> bool {
        !self.ignore.iter().any(|i| i == aspect)
    }
}

impl Prefill {
    /// The key.
    pub fn key_bytes(&self) -> Result<Vec<u8>> {
        bytes::parse(&self.key)
    }

    /// The value as the host writes it for `nr_cpus` CPUs.
    pub fn value_bytes(&self, nr_cpus: u32) -> Result<Vec<u8>> {
        match (&self.value, self.per_cpu.is_empty()) {
            (Some(v), true) => bytes::parse(v),
            (None, false) => {
                let mut out = Vec::new();
                for cpu in 0..nr_cpus as usize {
                    let mut v = bytes::parse(&self.per_cpu[cpu.min(self.per_cpu.len() - 1)])?;
                    v.resize(v.len().div_ceil(8) * 8, 0);
                    out.extend(v);
                }
                Ok(out)
            }
            _ => Err(Error::Manifest(format!(
                "prefill of '{}': give exactly one of value and per_cpu",
                self.map
            ))),
        }
    }
}
