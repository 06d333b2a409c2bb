//! A generated test case: the instructions plus everything a loader needs to judge them (program
//! type, expected attach type, maps), with a text form in the kernel/LLVM assembly syntax that
//! [`lull_isa::asm`] reads back.

use std::fmt::Write as _;

use lull_abi::{AttachType, MapType, ProgType};
use lull_isa::disasm::{Options, format_insn};
use lull_isa::{Insn, Located, RawInsn};

/// Why a map description or a program text does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A `--map`-style description is malformed.
    #[error("bad map `{0}`: expected TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]")]
    Map(String),
    /// An unknown map type name.
    #[error("unknown map type `{0}`")]
    MapType(String),
    /// The assembly does not assemble.
    #[error("assembly: {0}")]
    Asm(#[from] lull_isa::asm::AsmError),
}

/// A map the program uses, as `lull verify --raw --map` and `kload --map` describe it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub flags: u32,
}

impl MapSpec {
    /// A map without flags.
    pub const fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
        }
    }

    /// Parses `TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]` (`hash:4:8:16`).
    pub fn parse(s: &str) -> Result<MapSpec, SpecError> {
        let parts: Vec<&str> = s.trim().split(':').collect();
        if !(4..=5).contains(&parts.len()) {
            return Err(SpecError::Map(s.to_string()));
        }
        let map_type =
            MapType::from_name(parts[0]).ok_or_else(|| SpecError::MapType(parts[0].to_string()))?;
        let num = |t: &str| parse_u32(t).ok_or_else(|| SpecError::Map(s.to_string()));
        Ok(MapSpec {
            map_type,
            key_size: num(parts[1])?,
            value_size: num(parts[2])?,
            max_entries: num(parts[3])?,
            flags: parts.get(4).map_or(Ok(0), |f| num(f))?,
        })
    }
}

fn parse_u32(t: &str) -> Option<u32> {
    match t.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

impl std::fmt::Display for MapSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}:{}",
            self.map_type.name(),
            self.key_size,
            self.value_size,
            self.max_entries
        )?;
        if self.flags != 0 {
            write!(f, ":{:#x}", self.flags)?;
        }
        Ok(())
    }
}

/// One program with its load parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestProgram {
    /// Program type.
    pub prog_type: ProgType,
    /// Expected attach type, if any.
    pub expected_attach: Option<AttachType>,
    /// `BPF_F_SLEEPABLE`.
    pub sleepable: bool,
    /// Maps: an `ld_imm64` map reference with `imm = i` means `maps[i]`.
    pub maps: Vec<MapSpec>,
    /// The instructions.
    pub insns: Vec<Insn>,
}

impl TestProgram {
    /// The instructions with their raw slot numbers.
    pub fn located(&self) -> Vec<Located> {
        let mut slot = 0;
        self.insns
            .iter()
            .map(|&insn| {
                let l = Located { slot, insn };
                slot += insn.slots();
                l
            })
            .collect()
    }

    /// The raw encoding (what `BPF_PROG_LOAD` takes, before map fds are patched in).
    pub fn raw(&self) -> Vec<RawInsn> {
        lull_isa::encode(&self.insns)
    }

    /// The program in kernel syntax, one instruction per line (`r0 = *(u32 *)(r1 +4)`,
    /// `if r1 > 0x7 goto pc+3`, `call bpf_map_lookup_elem#1`).
    pub fn asm_text(&self) -> String {
        let names = |id: i32| Some(lull_verifier::proto::helper_name(id));
        let opts = Options {
            helper_name: Some(&names),
            ..Options::kernel()
        };
        let mut out = String::new();
        for insn in &self.insns {
            let _ = writeln!(out, "{}", format_insn(insn, &opts));
        }
        out
    }

    /// Assembles `text` (kernel/LLVM or conformance syntax) into the instructions of a program.
    pub fn assemble(
        prog_type: ProgType,
        expected_attach: Option<AttachType>,
        maps: Vec<MapSpec>,
        text: &str,
    ) -> Result<TestProgram, SpecError> {
        Ok(TestProgram {
            prog_type,
            expected_attach,
            sleepable: prog_type == ProgType::Syscall,
            maps,
            insns: lull_isa::asm::assemble(text)?,
        })
    }

    /// Number of raw slots.
    pub fn slots(&self) -> usize {
        self.insns.iter().map(Insn::slots).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_spec_round_trips_and_rejects_garbage() {
        let m = MapSpec::parse("hash:4:8:16").unwrap();
        assert_eq!(m, MapSpec::new(MapType::Hash, 4, 8, 16));
        assert_eq!(m.to_string(), "hash:4:8:16");
        let f = MapSpec::parse("array:4:16:2:0x400").unwrap();
        assert_eq!(f.flags, 0x400);
        assert_eq!(MapSpec::parse(&f.to_string()).unwrap(), f);
        assert!(matches!(MapSpec::parse("hash:4:8"), Err(SpecError::Map(_))));
        assert!(matches!(
            MapSpec::parse("nope:4:8:1"),
            Err(SpecError::MapType(_))
        ));
        assert!(matches!(
            MapSpec::parse("hash:x:8:1"),
            Err(SpecError::Map(_))
        ));
    }
}
