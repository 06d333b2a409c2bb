//! The `lull inspect` view of an object: [`Inspect`] serialises exactly to the JSON contract of
//! `shared/spec/cli-contract.md` (`programs[…]`, `maps[…]`); [`Details`] carries everything
//! else worth showing (license, version, relocations, externs, unknown sections) and is not
//! part of the stable JSON.
//!
//! `expected_attach_type` is `null` when libbpf leaves it 0 for a program type that has no
//! attach type (`socket`, `kprobe`, `tracepoint`, `syscall`, …); bpftool prints no attach
//! type for such programs either. `type` is `"unspec"` for a section libbpf does not know.

use serde::Serialize;

use crate::Object;
use crate::externs::Extern;
use crate::program::AppliedReloc;

/// One program, as the JSON contract has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectProgram {
    /// Function name.
    pub name: String,
    /// Section name.
    pub section: String,
    /// Program type, libbpf spelling.
    #[serde(rename = "type")]
    pub prog_type: String,
    /// Expected attach type, libbpf spelling, or null.
    pub expected_attach_type: Option<String>,
    /// Attach target from the section name, or null.
    pub attach_target: Option<String>,
    /// Sleepable.
    pub sleepable: bool,
    /// Instruction slots of the linked program (body plus subprograms).
    pub insns: usize,
}

/// One map, as the JSON contract has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InspectMap {
    /// Name.
    pub name: String,
    /// Map type, libbpf spelling.
    #[serde(rename = "type")]
    pub map_type: String,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
    /// Map flags.
    pub flags: u32,
}

/// The contract JSON of `lull inspect --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inspect {
    /// Programs, in object order.
    pub programs: Vec<InspectProgram>,
    /// Maps, in libbpf's order (user maps, then global data, then `.kconfig`).
    pub maps: Vec<InspectMap>,
}

/// Relocations of one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramRelocs {
    /// Program name.
    pub program: String,
    /// Applied relocations.
    pub relocations: Vec<AppliedReloc>,
    /// Subprograms appended.
    pub subprograms: Vec<String>,
    /// Reasons the program cannot be loaded.
    pub load_errors: Vec<String>,
}

/// Non-contract details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Details {
    /// `license` section.
    pub license: Option<String>,
    /// `version` section.
    pub kernel_version: Option<u32>,
    /// Per-program relocations.
    pub programs: Vec<ProgramRelocs>,
    /// Externs.
    pub externs: Vec<Extern>,
    /// Sections of programs libbpf does not know.
    pub unknown_sections: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl Object {
    /// The contract view.
    pub fn inspect(&self) -> Inspect {
        Inspect {
            programs: self
                .programs
                .iter()
                .map(|p| InspectProgram {
                    name: p.name.clone(),
                    section: p.section.clone(),
                    prog_type: p.prog_type.name().to_string(),
                    expected_attach_type: p.expected_attach_type.map(|a| a.name().to_string()),
                    attach_target: p.attach_target.clone(),
                    sleepable: p.sleepable,
                    insns: p.insns.len(),
                })
                .collect(),
            maps: self
                .maps
                .iter()
                .map(|m| InspectMap {
                    name: m.name.clone(),
                    map_type: m.map_type.name().to_string(),
                    key_size: m.key_size,
                    value_size: m.value_size,
                    max_entries: m.max_entries,
                    flags: m.flags,
                })
                .collect(),
        }
    }

    /// The non-contract details.
    pub fn details(&self) -> Details {
        Details {
            license: self.license.clone(),
            kernel_version: self.kernel_version,
            programs: self
                .programs
                .iter()
                .map(|p| ProgramRelocs {
                    program: p.name.clone(),
                    relocations: p.relocations.clone(),
                    subprograms: p.subprograms.iter().map(|s| s.name.clone()).collect(),
                    load_errors: p.load_errors.clone(),
                })
                .collect(),
            externs: self.externs.clone(),
            unknown_sections: self.unknown_sections.clone(),
            warnings: self.warnings.clone(),
        }
    }
}
