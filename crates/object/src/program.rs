//! The program model: one entry-point function with its linked instruction stream, the
//! subprograms appended to it, what its section says about it, and the relocations applied.

use lull_abi::{AttachType, ProgType};
use lull_isa::{Located, RawInsn};
use serde::Serialize;

use crate::section_defs::SectionInfo;

/// A subprogram appended to a program's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subprogram {
    /// Function name.
    pub name: String,
    /// First slot in the program's stream.
    pub start: usize,
    /// Number of slots.
    pub len: usize,
}

/// What an applied relocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelocKind {
    /// `ld_imm64` of a map (`src = BPF_PSEUDO_MAP_FD`, `imm` = map index).
    Map {
        /// Index into [`crate::Object::maps`].
        map: usize,
    },
    /// `ld_imm64` of an address inside a global-data map (`src = BPF_PSEUDO_MAP_VALUE`).
    MapValue {
        /// Index into [`crate::Object::maps`].
        map: usize,
        /// Byte offset in the value.
        offset: u32,
    },
    /// `call` of a subprogram.
    Call {
        /// Callee.
        target: String,
    },
    /// `ld_imm64` of a subprogram address (`src = BPF_PSEUDO_FUNC`).
    FuncAddr {
        /// Function.
        target: String,
    },
    /// Kernel function call resolved to a BTF id (`src = BPF_PSEUDO_KFUNC_CALL`).
    Kfunc {
        /// Extern name.
        name: String,
        /// Kernel BTF id (0 = unresolved weak).
        btf_id: u32,
    },
    /// Typed kernel variable (`src = BPF_PSEUDO_BTF_ID`).
    Ksym {
        /// Extern name.
        name: String,
        /// Kernel BTF id (0 = unresolved weak, then the instruction loads 0).
        btf_id: u32,
    },
    /// A `.kconfig` value (map value in the `.kconfig` map, or 0 for unresolved weak).
    Kconfig {
        /// Extern name.
        name: String,
    },
}

/// One applied relocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedReloc {
    /// Slot in the program's linked stream.
    pub slot: usize,
    /// What was done.
    #[serde(flatten)]
    pub kind: RelocKind,
}

/// A `.BTF.ext` func_info record remapped to the program's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FuncInfo {
    /// Slot where the function starts.
    pub insn: usize,
    /// BTF id of its `FUNC` type in the object's BTF.
    pub type_id: u32,
}

/// A `.BTF.ext` line_info record remapped to the program's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineInfo {
    /// First slot of the line's code.
    pub insn: usize,
    /// Source file name.
    pub file: String,
    /// Source line text.
    pub line: String,
    /// Line number.
    pub line_num: u32,
    /// Column.
    pub col: u32,
}

/// An entry-point program.
#[derive(Debug, Clone)]
pub struct Program {
    /// Function name.
    pub name: String,
    /// Section name, without libbpf's `?` prefix.
    pub section: String,
    /// What the section name says; `None` for a section libbpf does not know.
    pub section_info: Option<SectionInfo>,
    /// Program type (`Unspec` for unknown sections).
    pub prog_type: ProgType,
    /// Expected attach type, when libbpf sets one.
    pub expected_attach_type: Option<AttachType>,
    /// Attach target named by the section (`fentry/<target>`).
    pub attach_target: Option<String>,
    /// Sleepable (`BPF_F_SLEEPABLE`).
    pub sleepable: bool,
    /// `BPF_F_*` program flags libbpf would pass at load.
    pub prog_flags: u32,
    /// Loaded by default (`false` for libbpf's `SEC("?...")`).
    pub autoload: bool,
    /// Global (non-static) symbol.
    pub global: bool,
    /// The linked stream: the body followed by every subprogram it reaches.
    pub insns: Vec<RawInsn>,
    /// The decoded stream (same instructions; `lddw` is one entry at its first slot); empty
    /// when [`Program::decode_error`] is set.
    pub decoded: Vec<Located>,
    /// The first instruction that does not decode. The object still opens (libbpf does not
    /// decode instructions); the verifier rejects this program with the kernel's message.
    pub decode_error: Option<lull_isa::DecodeError>,
    /// Slots of the body itself (before the appended subprograms).
    pub body_len: usize,
    /// Appended subprograms, in stream order.
    pub subprograms: Vec<Subprogram>,
    /// Relocations applied, in slot order.
    pub relocations: Vec<AppliedReloc>,
    /// Function info, remapped to the stream.
    pub func_info: Vec<FuncInfo>,
    /// Line info, remapped to the stream.
    pub line_info: Vec<LineInfo>,
    /// Problems that prevent loading (unknown section, unresolved externs …); empty when
    /// the program is ready for the verifier.
    pub load_errors: Vec<String>,
}

impl Program {
    /// The line info entry covering `slot` (the last entry at or before it).
    pub fn line_at(&self, slot: usize) -> Option<&LineInfo> {
        let i = self.line_info.partition_point(|l| l.insn <= slot);
        i.checked_sub(1).map(|i| &self.line_info[i])
    }
    /// The function (body or subprogram) containing `slot`.
    pub fn function_at(&self, slot: usize) -> &str {
        self.subprograms
            .iter()
            .find(|s| slot >= s.start && slot < s.start + s.len)
            .map_or(self.name.as_str(), |s| s.name.as_str())
    }
}
