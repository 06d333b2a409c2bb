//! What the verifier is asked to check ([`VerifyInput`]) and what it answers ([`VerifyOutcome`]).
//!
//! The input is self-contained on purpose: the object loader and the `lull verify --raw` command
//! line both build it, so the verifier depends on neither of them.

use lull_abi::{AttachType, MapType, ProgType};
use lull_isa::Located;

/// A map the program refers to through `ld_imm64` (`imm = i` means `maps[i]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// The map's name as the kernel knows it (for messages; may be empty).
    pub name: String,
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
    /// For map-in-map types: the template of the inner map.
    pub inner: Option<Box<MapInfo>>,
    /// Offset of a `struct bpf_spin_lock` inside the value, when the value's BTF has one.
    pub spin_lock_off: Option<u32>,
    /// Offset of a `struct bpf_timer` inside the value, when the value's BTF has one.
    pub timer_off: Option<u32>,
    /// Whether the value has BTF (some helpers, e.g. spin locks, require it).
    pub has_btf: bool,
    /// For a frozen map with `BPF_F_RDONLY_PROG` (e.g. `.rodata`): its contents, so that loads
    /// at constant offsets give known values, as the kernel does.
    pub rdonly_data: Option<Vec<u8>>,
}

impl MapInfo {
    /// A map without BTF and without inner map.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> Self {
        MapInfo {
            name: String::new(),
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            inner: None,
            spin_lock_off: None,
            timer_off: None,
            has_btf: false,
            rdonly_data: None,
        }
    }
}

/// One line-info record: the source line an instruction slot comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// First raw slot the record covers (it holds until the next record's slot).
    pub slot: usize,
    /// Source file name.
    pub file: String,
    /// Line number (1-based).
    pub line: u32,
    /// The source text of the line.
    pub text: String,
}

/// One func-info record: a subprogram's name and linkage from BTF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// Raw slot where the function starts.
    pub slot: usize,
    /// Function name.
    pub name: String,
    /// `true` for a global (non-static) function, which the kernel verifies on its own.
    pub global: bool,
    /// Id of the function's `FUNC` type in [`VerifyInput::btf`] (0 when unknown): its
    /// prototype gives the argument and return types the kernel checks.
    pub type_id: u32,
}

/// The capabilities the program is loaded with; they select the kernel's privileged rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Caps {
    /// `CAP_BPF` (or `CAP_SYS_ADMIN`): bpf-to-bpf calls, loops, more helpers (`bpf_capable`).
    pub bpf: bool,
    /// `CAP_PERFMON`: pointer leaks, uninitialised stack reads, Spectre v1 bypass, tracing helpers.
    pub perfmon: bool,
    /// `CAP_NET_ADMIN`.
    pub net_admin: bool,
    /// `CAP_SYS_ADMIN`.
    pub sys_admin: bool,
}

impl Caps {
    /// Every capability (root).
    pub const ALL: Caps = Caps {
        bpf: true,
        perfmon: true,
        net_admin: true,
        sys_admin: true,
    };
    /// No capability.
    pub const NONE: Caps = Caps {
        bpf: false,
        perfmon: false,
        net_admin: false,
        sys_admin: false,
    };

    /// `bpf_capable()`.
    pub fn bpf_capable(self) -> bool {
        self.bpf || self.sys_admin
    }
    /// `perfmon_capable()`: the kernel's `allow_ptr_leaks`, `allow_uninit_stack` and
    /// `bypass_spec_v1`.
    pub fn perfmon_capable(self) -> bool {
        self.perfmon || self.sys_admin
    }
}

/// Everything the verifier needs to judge one program.
#[derive(Clone, Debug)]
pub struct VerifyInput<'a> {
    /// The decoded instructions, in slot order (an `ld_imm64` occupies two slots).
    pub insns: &'a [Located],
    /// The program type.
    pub prog_type: ProgType,
    /// The expected attach type (`BPF_PROG_LOAD`'s `expected_attach_type`).
    pub expected_attach: Option<AttachType>,
    /// The attach target (a kernel function, hook or tracepoint name), when the type has one.
    pub attach_target: Option<String>,
    /// `BPF_F_SLEEPABLE`.
    pub sleepable: bool,
    /// The maps, indexed by the `imm` of map-referencing `ld_imm64` instructions.
    pub maps: Vec<MapInfo>,
    /// Whether the license is GPL-compatible (some helpers are GPL-only).
    pub gpl_compatible: bool,
    /// Loaded with `CAP_BPF`/`CAP_PERFMON`/`CAP_SYS_ADMIN` (the kernel's privileged rules);
    /// shorthand for [`Caps::ALL`] or [`Caps::NONE`] when [`VerifyInput::caps`] is `None`.
    pub privileged: bool,
    /// Exact capabilities, overriding `privileged`.
    pub caps: Option<Caps>,
    /// `BPF_F_*` program flags (`BPF_F_STRICT_ALIGNMENT`, `BPF_F_ANY_ALIGNMENT`...). The
    /// sleepable flag is taken from [`VerifyInput::sleepable`].
    pub prog_flags: u32,
    /// Log level: 0 none, 1 the path to an error, 2 every instruction with its state.
    pub log_level: u32,
    /// Line info from BTF, sorted by slot.
    pub line_info: Option<Vec<LineInfo>>,
    /// Func info from BTF (subprogram names and linkage), sorted by slot.
    pub func_info: Option<Vec<FuncInfo>>,
    /// The kernel's BTF (`/sys/kernel/btf/vmlinux`): kfunc prototypes, BTF-typed pointers,
    /// tracing arguments. Without it kfunc calls are reported unsupported and kernel pointers
    /// are untyped.
    pub kernel_btf: Option<&'a lull_btf::Btf>,
    /// The program's own BTF (its object's `.BTF`), which [`FuncInfo::type_id`] refers to.
    pub btf: Option<&'a lull_btf::Btf>,
    /// The first instruction that does not decode, when the loader kept the program anyway
    /// (libbpf does not decode instructions): the program is rejected with the kernel's
    /// message for it and `insns` is ignored.
    pub decode_error: Option<lull_isa::DecodeError>,
    /// Which functions sleepable fentry/fexit/fmod_ret programs may attach to.
    pub error_injection: ErrorInjection,
}

impl<'a> VerifyInput<'a> {
    /// The effective capabilities.
    pub fn effective_caps(&self) -> Caps {
        self.caps.unwrap_or(if self.privileged {
            Caps::ALL
        } else {
            Caps::NONE
        })
    }

    /// An input with the defaults of a privileged GPL program without maps or BTF.
    pub fn new(insns: &'a [Located], prog_type: ProgType) -> Self {
        VerifyInput {
            insns,
            prog_type,
            expected_attach: None,
            attach_target: None,
            sleepable: false,
            maps: Vec::new(),
            gpl_compatible: true,
            privileged: true,
            caps: None,
            prog_flags: 0,
            log_level: 0,
            line_info: None,
            func_info: None,
            kernel_btf: None,
            btf: None,
            decode_error: None,
            error_injection: ErrorInjection::default(),
        }
    }
}

/// The platform's rule for the targets of sleepable tracing programs (`check_attach_sleepable`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ErrorInjection {
    /// A kernel with `CONFIG_FUNCTION_ERROR_INJECTION`: functions on the `ALLOW_ERROR_INJECTION`
    /// list (x86_64 Linux 6.18's, as data) minus the non-sleepable denylist. The default.
    #[default]
    List,
    /// A kernel without it (such as the one these machines run): any function with the
    /// architecture's syscall prefix (`__x64_`).
    SyscallPrefix,
}

/// The source location of a rejected instruction, from line info.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLine {
    /// Source file name.
    pub file: String,
    /// Line number.
    pub line: u32,
    /// Source text.
    pub text: String,
}

/// Why a program was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Raw slot of the offending instruction, when there is one.
    pub insn: Option<usize>,
    /// The kernel's message for this error.
    pub message: String,
    /// Lull's plain-words reason.
    pub summary: String,
    /// What to do about it, when known.
    pub hint: Option<String>,
    /// Where the instruction comes from in the source.
    pub line: Option<SourceLine>,
    /// Set when the rejection is due to something Lull does not model yet (e.g. `"kfunc"`)
    /// rather than to a rule of the kernel.
    pub unsupported: Option<&'static str>,
}

/// The verifier's verdict and statistics.
#[derive(Clone, Debug)]
pub struct VerifyOutcome {
    /// `true` when the program is safe by the kernel's rules.
    pub accepted: bool,
    /// The reason when rejected.
    pub error: Option<Rejection>,
    /// The log, formatted like the kernel's for the requested level, plus Lull's summary line.
    pub log: String,
    /// Instructions processed (the kernel's complexity measure).
    pub insns_processed: u64,
    /// Largest number of states kept at one instruction.
    pub max_states_per_insn: u32,
    /// Number of states kept for pruning.
    pub total_states: u64,
    /// Largest number of states alive at once.
    pub peak_states: u64,
    /// Stack depth of each subprogram, in bytes.
    pub stack_depths: Vec<u32>,
    /// Helpers the program calls whose prototypes Lull does not model precisely (their
    /// arguments were not checked): a runtime must not run such a program unless it checks
    /// those calls itself.
    pub unmodelled_helpers: Vec<i32>,
    /// Wall-clock verification time.
    pub time: std::time::Duration,
}
