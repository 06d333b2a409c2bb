//! The error type of object loading. Every variant names what is wrong and where (section,
//! offset, symbol, program, slot), so a malformed object never produces a bare "invalid".

use thiserror::Error;

/// Why an object could not be loaded.
#[derive(Debug, Error)]
pub enum ObjectError {
    /// Not an ELF file at all.
    #[error("not an ELF file")]
    NotElf,
    /// ELF32 or unknown class.
    #[error("not a 64-bit ELF file (BPF objects are ELF64)")]
    NotElf64,
    /// Big-endian object (`clang -target bpfeb`).
    #[error("big-endian objects are not supported")]
    BigEndian,
    /// Another machine than `EM_BPF`.
    #[error("ELF machine is {machine}, not EM_BPF (247)")]
    NotBpf {
        /// `e_machine`.
        machine: u16,
    },
    /// An executable or shared object instead of a relocatable one.
    #[error("ELF type is {e_type}, not a relocatable object (ET_REL)")]
    NotRelocatable {
        /// `e_type`.
        e_type: u16,
    },
    /// A structural problem of the ELF container.
    #[error("malformed ELF: {0}")]
    Elf(String),
    /// No `SHT_SYMTAB` (stripped object).
    #[error("no symbol table (stripped object?)")]
    NoSymbolTable,
    /// A bad `license` or `version` section.
    #[error("section '{section}': {reason}")]
    BadSection {
        /// Section name.
        section: String,
        /// What is wrong.
        reason: String,
    },
    /// A function symbol that does not describe a valid instruction range.
    #[error("section '{section}': program '{program}': {reason}")]
    BadProgram {
        /// Section name.
        section: String,
        /// Function symbol name.
        program: String,
        /// What is wrong.
        reason: String,
    },
    /// A relocation that cannot be applied.
    #[error("section '{section}', offset {offset:#x}, symbol '{symbol}': {reason}")]
    BadRelocation {
        /// Section the relocation applies to.
        section: String,
        /// Byte offset inside that section.
        offset: u64,
        /// Symbol name.
        symbol: String,
        /// What is wrong.
        reason: String,
    },
    /// A subprogram call that cannot be linked.
    #[error("program '{program}', instruction {slot}: {reason}")]
    BadCall {
        /// Program being linked.
        program: String,
        /// Slot in the program's linked stream.
        slot: usize,
        /// What is wrong.
        reason: String,
    },
    /// An instruction that does not decode.
    #[error("program '{program}': {source}")]
    Decode {
        /// Program name.
        program: String,
        /// Decoder error (carries the slot).
        #[source]
        source: lull_isa::DecodeError,
    },
    /// A map definition that cannot be understood.
    #[error("map '{map}': {reason}")]
    BadMap {
        /// Map name.
        map: String,
        /// What is wrong.
        reason: String,
    },
    /// BTF or BTF.ext that cannot be parsed or used.
    #[error("{context}: {source}")]
    Btf {
        /// What was being read.
        context: String,
        /// The BTF error.
        #[source]
        source: lull_btf::BtfError,
    },
    /// An extern that cannot be resolved (and is not `__weak`).
    #[error("extern '{name}': {reason}")]
    Extern {
        /// Symbol name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A program in a section libbpf does not know was selected for loading.
    #[error(
        "program '{program}': unknown section '{section}': no program type can be derived from it"
    )]
    UnknownSection {
        /// Program name.
        program: String,
        /// Section name.
        section: String,
    },
    /// No program of that name.
    #[error("no program named '{0}'")]
    NoSuchProgram(String),
    /// Kconfig text that cannot be read.
    #[error("kconfig: {0}")]
    Kconfig(String),
}
