//! Every reason the verifier rejects a program, in one place.
//!
//! [`VerifierError`]'s `Display` is the Linux kernel's message (tests and users match on it);
//! [`VerifierError::summary`] says the same thing in plain words and [`VerifierError::hint`]
//! suggests a fix where one is known.

/// A rejection reason. `Display` gives the kernel's text for it (without the trailing newline).
#[allow(missing_docs)]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifierError {
    // ---- structure and control flow ----
    #[error("empty program")]
    EmptyProgram,
    #[error("jump out of range from insn {from} to {to}")]
    JumpOutOfRange { from: usize, to: i64 },
    #[error("last insn is not an exit or jmp")]
    LastInsnNotExit,
    #[error("unreachable insn {0}")]
    Unreachable(usize),
    #[error("back-edge from insn {from} to {to}")]
    BackEdge { from: usize, to: usize },
    #[error("jump into the middle of ldimm64 insn {0}")]
    JumpIntoLdImm64(usize),
    #[error("infinite loop detected at insn {0}")]
    InfiniteLoop(usize),
    #[error("BPF program is too large. Processed {0} insn")]
    TooComplex(u64),
    #[error("the call stack of {0} frames is too deep !")]
    CallStackTooDeep(usize),
    #[error("the call stack of {0} frames is too deep")]
    CallStackTooDeepCall(usize),
    #[error("{first}\n{note}")]
    WithNote {
        first: Box<VerifierError>,
        note: String,
    },
    #[error("combined stack size of {calls} calls is {size}. Too large")]
    CombinedStackTooLarge { calls: usize, size: i64 },
    #[error(
        "loading/calling other bpf or kernel functions are allowed for CAP_BPF and CAP_SYS_ADMIN"
    )]
    CallsNeedCapBpf,
    #[error("call to invalid destination")]
    InvalidCallDestination,
    #[error("unknown opcode {0:02x}")]
    UnknownOpcode(u8),
    #[error("invalid BPF_LD_IMM insn")]
    InvalidLdImm,
    #[error("{0}")]
    Malformed(String),
    /// An instruction the loader could not decode: the kernel's message and Lull's words.
    #[error("{kernel}")]
    BadEncoding { kernel: String, detail: String },
    #[error(transparent)]
    Iter(#[from] crate::proto::iters::IterError),
    // ---- registers ----
    #[error("R{0} !read_ok")]
    NotReadOk(u8),
    #[error("frame pointer is read only")]
    FramePointerReadOnly,
    #[error("R{reg} invalid mem access '{ty}'")]
    InvalidMemAccess { reg: u8, ty: String },
    #[error("R{reg} type={ty} expected={expected}")]
    TypeMismatch {
        reg: u8,
        ty: String,
        expected: String,
    },
    #[error("R{reg} pointer arithmetic on {ty} prohibited")]
    PtrArithProhibited { reg: u8, ty: String },
    #[error("R{reg} pointer arithmetic on {ty} prohibited, null-check it first")]
    PtrArithNullable { reg: u8, ty: String },
    #[error("R{reg} pointer {op} pointer prohibited")]
    PtrOpPtr { reg: u8, op: &'static str },
    #[error("R{reg} bitwise operator {op} on pointer prohibited")]
    PtrBitwise { reg: u8, op: &'static str },
    #[error("R{reg} 32-bit pointer arithmetic prohibited")]
    Ptr32Arith { reg: u8 },
    #[error("R{0} tried to subtract pointer from scalar")]
    SubPtrFromScalar(u8),
    #[error("R{reg} unbounded memory access, make sure to bounds check any such access")]
    UnboundedMemAccess { reg: u8 },
    #[error("value {val} makes {ty} pointer be out of bounds")]
    PtrOutOfBounds { val: i64, ty: String },
    #[error("R{0} leaks addr into map")]
    LeakIntoMap(u8),
    #[error("R{0} leaks addr into ctx")]
    LeakIntoCtx(u8),
    #[error("R{0} leaks addr into mem")]
    LeakIntoMem(u8),
    #[error("R{0} leaks addr as return value")]
    LeakAsReturn(u8),
    #[error("R{0} partial copy of pointer")]
    PartialPtrCopy(u8),
    #[error("R{0} sign-extension part of pointer")]
    SignExtPtr(u8),
    #[error("div by zero")]
    DivByZero,
    #[error("invalid shift {0}")]
    InvalidShift(i64),
    #[error("BPF_{op} uses reserved fields")]
    ReservedFields { op: &'static str },
    #[error("R{0} comparison of pointers is prohibited")]
    PtrComparison(u8),
    // ---- memory ----
    #[error("invalid access to map value, value_size={value_size} off={off} size={size}")]
    MapValueAccess {
        value_size: u32,
        off: i64,
        size: u32,
    },
    #[error("invalid access to map key, key_size={key_size} off={off} size={size}")]
    MapKeyAccess { key_size: u32, off: i64, size: u32 },
    #[error(
        "R{reg} min value is negative, either use unsigned index or do a if (index >=0) check."
    )]
    MinNegative { reg: u8 },
    #[error("R{reg} unbounded memory access, make sure to bounds check any such access")]
    MaxUnbounded { reg: u8 },
    #[error("R{reg} min value is outside of the allowed memory range")]
    MinOutOfRange { reg: u8 },
    #[error("R{reg} max value is outside of the allowed memory range")]
    MaxOutOfRange { reg: u8 },
    #[error(
        "invalid access to packet, off={off} size={size}, R{reg}(id={id},off={roff},r={range})"
    )]
    PacketAccess {
        off: i64,
        size: u32,
        reg: u8,
        id: u32,
        roff: i32,
        range: i32,
    },
    #[error("R{reg} offset is outside of the packet")]
    PacketOffsetOutside { reg: u8 },
    #[error("cannot write into packet")]
    PacketWriteNotAllowed,
    #[error("invalid bpf_context access off={off} size={size}")]
    CtxAccess { off: i64, size: u32 },
    #[error("dereference of modified ctx ptr R{reg} off={off} disallowed")]
    ModifiedCtx { reg: u8, off: i32 },
    #[error("variable ctx access var_off={var} disallowed")]
    VarCtxAccess { var: String },
    #[error("dereference of modified {ty} ptr R{reg} off={off} disallowed")]
    ModifiedPtr { ty: String, reg: u8, off: i32 },
    #[error("variable {ty} access var_off={var} disallowed")]
    VarPtrAccess { ty: String, var: String },
    #[error("invalid{kind} stack R{reg} off={off} size={size}")]
    StackOutOfBounds {
        kind: &'static str,
        reg: u8,
        off: i64,
        size: i64,
    },
    #[error("invalid unbounded variable-offset{kind} stack R{reg}")]
    StackUnboundedVar { kind: &'static str, reg: u8 },
    #[error("invalid variable-offset{kind} stack R{reg} var_off={var} off={off} size={size}")]
    StackVarOutOfBounds {
        kind: &'static str,
        reg: u8,
        var: String,
        off: i64,
        size: i64,
    },
    #[error("R{reg} variable stack access prohibited for !root, var_off={var} off={off}")]
    StackVarUnpriv { reg: u8, var: String, off: i32 },
    #[error("invalid read from stack off {off}+{i} size {size}")]
    StackUninitRead { off: i64, i: u32, size: u32 },
    #[error("invalid{} read from stack R{reg} off {off}+{i} size {size}", if *indirect { " indirect" } else { "" })]
    StackRangeUninit {
        indirect: bool,
        reg: u8,
        off: i64,
        i: i64,
        size: i64,
    },
    #[error("invalid{} read from stack R{reg} var_off {var}+{i} size {size}", if *indirect { " indirect" } else { "" })]
    StackRangeUninitVar {
        indirect: bool,
        reg: u8,
        var: String,
        i: i64,
        size: i64,
    },
    #[error("invalid size of register spill")]
    SpillSize,
    #[error("invalid size of register fill")]
    FillSize,
    #[error("corrupted spill memory")]
    CorruptedSpill,
    #[error("leaking pointer from stack off {0}")]
    LeakFromStack(i64),
    #[error("attempt to corrupt spilled pointer on stack")]
    CorruptSpilledPtr,
    #[error("cannot spill pointers to stack into stack frame of the caller")]
    SpillStackPtrToCaller,
    #[error("write into map forbidden, value_size={value_size} off={off} size={size}")]
    MapWriteForbidden {
        value_size: u32,
        off: i64,
        size: u32,
    },
    #[error("invalid access to memory, mem_size={mem_size} off={off} size={size}")]
    MemAccess { mem_size: u32, off: i64, size: u32 },
    #[error("R{reg} cannot write into {ty}")]
    CannotWrite { reg: u8, ty: String },
    #[error("BPF_ATOMIC stores into R{reg} {ty} is not allowed")]
    AtomicNotAllowed { reg: u8, ty: String },
    #[error("invalid atomic operand size")]
    AtomicSize,
    #[error("R{reg} invalid {what} buffer access: off={off}, size={size}")]
    InvalidBufAccess {
        reg: u8,
        what: &'static str,
        off: i64,
        size: u32,
    },
    #[error("BPF_LD_[ABS|IND] instructions not allowed for this program type")]
    LdAbsNotAllowed,
    #[error("at the time of BPF_LD_ABS|IND R6 != pointer to skb")]
    LdAbsNeedsSkb,
    // ---- calls ----
    #[error("invalid func unknown#{0}")]
    UnknownHelper(i32),
    #[error("program of this type cannot use helper {name}#{id}")]
    HelperNotAllowed { name: &'static str, id: i32 },
    #[error("cannot call GPL-restricted function from non-GPL compatible program")]
    GplOnly,
    #[error("helper call might sleep in a non-sleepable prog")]
    MightSleep,
    #[error("R{reg} type={ty} expected={expected}")]
    ArgType {
        reg: u8,
        ty: String,
        expected: String,
    },
    #[error("R{reg} is not a known constant'")]
    ArgNotConst { reg: u8 },
    #[error("invalid zero-sized read")]
    ZeroSizedRead,
    #[error("R{reg} unbounded memory access, use 'var &= const' or 'if (var < const)'")]
    SizeUnbounded { reg: u8 },
    #[error("R{reg} min value is negative, either use unsigned or 'var &= const'")]
    SizeNegative { reg: u8 },
    #[error("invalid map_ptr to access map->key")]
    MissingMapForKey,
    #[error("invalid map_ptr to access map->value")]
    MissingMapForValue,
    #[error("cannot pass map_type {map_type} into func {func}#{id}")]
    MapFuncMismatch {
        map_type: u32,
        func: &'static str,
        id: i32,
    },
    #[error("Unreleased reference id={id} alloc_insn={insn}")]
    UnreleasedRef { id: u32, insn: usize },
    #[error("R{reg} must be referenced when passed to release function")]
    NotReferenced { reg: u8 },
    #[error("release kernel function {0} expects refcounted PTR_TO_BTF_ID")]
    ReleaseExpects(String),
    #[error("R{reg} must have zero offset when passed to release func or trusted arg to kfunc")]
    ReleaseNonZeroOff { reg: u8 },
    #[error("arg {arg} is an unacquired reference")]
    UnacquiredRef { arg: u8 },
    #[error("function calls are not allowed while holding a lock")]
    CallWhileLocked,
    #[error("bpf_spin_unlock without taking a lock")]
    UnlockWithoutLock,
    #[error("bpf_spin_unlock of different lock")]
    UnlockDifferentLock,
    #[error("Locks are not allowed in the middle of other locks")]
    NestedLock,
    #[error("bpf_spin_lock at off={off} must be held for bpf_spin_lock")]
    SpinLockOffset { off: i64 },
    #[error("map '{0}' has to have BTF in order to use bpf_spin_lock")]
    SpinLockNoBtf(String),
    #[error("R{reg} doesn't have constant offset. bpf_spin_lock has to be at the constant offset")]
    SpinLockVarOff { reg: u8 },
    #[error("{map_kind} '{name}' has no valid bpf_spin_lock")]
    NoSpinLock {
        map_kind: &'static str,
        name: String,
    },
    #[error("BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region")]
    SpinLockMissing,
    #[error("{0} cannot be used inside bpf_spin_lock-ed region")]
    InsideLock(&'static str),
    #[error("BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region")]
    ExitWithLock,
    #[error("tail_call would lead to reference leak")]
    TailCallRefLeak,
    #[error("R{reg} max value is outside of the allowed memory range")]
    ArgMaxOutOfRange { reg: u8 },
    #[error("bpf_loop can only be called with {0} flags")]
    CallbackFlags(&'static str),
    #[error("At callback return the register R0 has {value} should have been in {range}")]
    CallbackReturn { value: String, range: String },
    #[error("tail_call is not allowed in subprogs without BTF")]
    TailCallInSubprog,
    #[error("LD_ABS is not allowed in subprogs without BTF")]
    LdAbsInSubprog,
    #[error("kernel function calls are not supported by Lull's verifier yet (btf_id {0})")]
    KfuncUnsupported(i32),
    #[error("kernel function calls are not supported by Lull's verifier yet: {name} ({what})")]
    KfuncUnsupportedNamed { name: String, what: &'static str },
    #[error("calling kernel function {0} is not allowed")]
    KfuncNotAllowed(String),
    #[error("program must be sleepable to call sleepable kfunc {0}")]
    KfuncNeedsSleepable(String),
    #[error("sleepable helper {name}#{id} in {region}")]
    SleepInRegion {
        name: &'static str,
        id: i32,
        region: &'static str,
    },
    #[error("{what} cannot be used inside {region}-ed region")]
    InsideRegion {
        what: &'static str,
        region: &'static str,
    },
    #[error("{0} is not sleepable")]
    NotSleepableTarget(String),
    #[error("caller passes invalid args into func#{0}")]
    InvalidArgsToFunc(usize),
    #[error("R{reg} is invalid ({what})")]
    InvalidReturnPtr { reg: u8, what: &'static str },
    // ---- maps at load time ----
    #[error("fd {0} is not pointing to valid bpf_map")]
    BadMapFd(i32),
    #[error("invalid access to map value pointer, value_size={value_size} off={off}")]
    BadMapValueOff { value_size: u32, off: i64 },
    #[error("direct value access on string not supported")]
    DirectValueUnsupported,
    #[error("Sleepable programs can only use array, hash, ringbuf and local storage maps")]
    SleepableMapType,
    // ---- program type ----
    #[error(
        "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable"
    )]
    CannotBeSleepable,
    #[error("Syscall programs can only be sleepable")]
    SyscallMustBeSleepable,
    #[error("At program exit the register R{reg} has {value} should have been in {range}")]
    ReturnRange {
        reg: u8,
        value: String,
        range: String,
    },
    #[error("At program exit the register R{reg} is not a known value ({ty})")]
    ReturnNotKnown { reg: u8, ty: String },
    #[error("R{reg} leaks addr as return value")]
    ReturnLeak { reg: u8 },
    #[error("unsupported program type {0}")]
    UnsupportedProgType(String),
}

impl VerifierError {
    /// The same reason in plain words, for people who do not know the kernel's verifier.
    pub fn summary(&self) -> String {
        use VerifierError::*;
        match self {
            EmptyProgram => "the program has no instructions".into(),
            JumpOutOfRange { to, .. } => format!("a jump goes to instruction {to}, outside the function"),
            LastInsnNotExit => "execution can fall off the end of a function (the last instruction is not exit or goto)".into(),
            Unreachable(i) => format!("instruction {i} can never be executed"),
            BackEdge { .. } => "the program contains a loop, which is not allowed here".into(),
            InfiniteLoop(_) => "a loop can run forever: the state at its head never changes".into(),
            TooComplex(_) => "the program has too many paths to check (over one million instructions explored)".into(),
            CallStackTooDeep(n) => format!("function calls nest {n} deep; at most 8 frames are allowed"),
            CombinedStackTooLarge { size, .. } => format!("the functions on one call chain use {size} bytes of stack together; 512 is the limit"),
            NotReadOk(r) => format!("register r{r} is read before anything was written to it"),
            FramePointerReadOnly => "r10 (the frame pointer) cannot be written".into(),
            InvalidMemAccess { reg, ty } if ty == "scalar" => format!("r{reg} is a number, not a pointer, and cannot be dereferenced"),
            InvalidMemAccess { reg, ty } if ty.ends_with("_or_null") => format!("r{reg} may be NULL here and is dereferenced"),
            InvalidMemAccess { reg, ty } => format!("r{reg} ({ty}) cannot be used to access memory"),
            TypeMismatch { reg, ty, expected } | ArgType { reg, ty, expected } => format!("r{reg} holds a {ty} where a {expected} is required"),
            PtrArithProhibited { reg, ty } => format!("arithmetic on r{reg} ({ty}) is not allowed"),
            PtrArithNullable { reg, .. } => format!("arithmetic on r{reg}, which may be NULL, before checking it"),
            MapValueAccess { value_size, off, size } => format!("access of {size} bytes at offset {off} is outside the map value of {value_size} bytes"),
            MinNegative { reg } => format!("the offset in r{reg} may be negative"),
            MaxUnbounded { reg } | UnboundedMemAccess { reg } => format!("the offset in r{reg} has no upper bound"),
            PacketAccess { off, size, .. } => format!("packet access of {size} bytes at offset {off} is not proven to be before data_end"),
            CtxAccess { off, size } => format!("the context has no readable/writable field of {size} bytes at offset {off}"),
            StackUninitRead { off, .. } | StackRangeUninit { off, .. } => format!("stack bytes at fp{off} are read before being written"),
            StackOutOfBounds { off, .. } => format!("stack access at fp{off} is outside the 512-byte stack"),
            DivByZero => "division by the constant zero".into(),
            InvalidShift(n) => format!("shift by {n} is larger than the operand width"),
            UnknownHelper(id) => format!("helper #{id} does not exist"),
            HelperNotAllowed { name, .. } => format!("{name} is not available to this program type"),
            GplOnly => "this helper is only for GPL-compatible programs".into(),
            MightSleep => "this helper may sleep, but the program is not sleepable".into(),
            UnreleasedRef { insn, .. } => format!("a reference acquired at insn {insn} is not released on every path to exit"),
            CannotBeSleepable => "this program type cannot be sleepable".into(),
            SyscallMustBeSleepable => "syscall programs must be loaded as sleepable".into(),
            SleepableMapType => "a sleepable program uses a map type that sleepable programs may not use".into(),
            ReturnRange { value, range, .. } => format!("the program may return {value}, but this program type must return a value in {range}"),
            ReturnNotKnown { .. } => "the return value in r0 is not a number".into(),
            LeakAsReturn(_) | ReturnLeak { .. } => "a kernel pointer would be returned to user space".into(),
            LeakIntoMap(_) | LeakIntoCtx(_) | LeakIntoMem(_) => "a kernel pointer would be stored where user space can read it".into(),
            KfuncNotAllowed(name) => format!("the kernel function {name} is not available to this program type"),
            KfuncNeedsSleepable(name) => format!("the kernel function {name} may sleep, but the program is not sleepable"),
            SleepInRegion { name, region, .. } => format!("{name} may sleep, but it is called where sleeping is not allowed ({region})"),
            InsideRegion { region, .. } => format!("the program leaves with a {region}-ed region still open"),
            NotSleepableTarget(t) => format!("{t} is not a hook where a program may sleep"),
            WithNote { first, .. } => first.summary(),
            BadEncoding { detail, .. } => detail.clone(),
            Iter(e) => e.summary(),
            other => other.to_string(),
        }
    }

    /// The Lull feature that is missing, when the rejection is Lull's limitation rather than a
    /// kernel rule.
    pub fn unsupported(&self) -> Option<&'static str> {
        match self {
            VerifierError::KfuncUnsupported(_) | VerifierError::KfuncUnsupportedNamed { .. } => {
                Some("kfunc")
            }
            VerifierError::Malformed(m) if m.starts_with("addr_space_cast") => Some("arena"),
            VerifierError::WithNote { first, .. } => first.unsupported(),
            _ => None,
        }
    }

    /// A suggestion for fixing the program, when a common fix is known.
    pub fn hint(&self) -> Option<String> {
        use VerifierError::*;
        Some(match self {
            InvalidMemAccess { ty, .. } if ty.starts_with("map_value_or_null") => {
                "check the pointer returned by bpf_map_lookup_elem against NULL before dereferencing it".into()
            }
            InvalidMemAccess { ty, .. } if ty.ends_with("_or_null") => {
                "compare the pointer against NULL before using it".into()
            }
            PtrArithNullable { .. } => "compare the pointer against NULL before doing arithmetic on it".into(),
            MinNegative { .. } => "use an unsigned index, or check `if (index >= 0)` before the access".into(),
            MaxUnbounded { .. } | UnboundedMemAccess { .. } => "check the index against the size (`if (i < N)`) before the access".into(),
            MapValueAccess { .. } => "check the offset against the value size before the access".into(),
            PacketAccess { .. } => "compare `data + offset + size` with `data_end` before reading or writing the packet".into(),
            NotReadOk(0) => "set r0 (the return value) on every path before exit".into(),
            StackUninitRead { .. } | StackRangeUninit { .. } | StackRangeUninitVar { .. } => "initialise the variable (e.g. `= {}` or memset) before using it".into(),
            UnreleasedRef { .. } => "release (submit/discard/put) the acquired object on every path".into(),
            MightSleep => "load the program as sleepable (e.g. SEC(\"lsm.s/...\") or SEC(\"fentry.s/...\"))".into(),
            TooComplex(_) => "reduce branching or loop bounds, or use bpf_loop for long loops".into(),
            BackEdge { .. } => "loops need CAP_BPF; otherwise unroll the loop".into(),
            CombinedStackTooLarge { .. } => "move large local variables into a per-CPU array map".into(),
            ReturnRange { range, .. } => format!("return a value in {range}"),
            KfuncNeedsSleepable(_) => "load the program as sleepable (e.g. SEC(\"lsm.s/...\") or SEC(\"iter.s/...\"))".into(),
            SleepInRegion { region, .. } if region.starts_with("rcu") => "call it after bpf_rcu_read_unlock()".into(),
            SleepInRegion { .. } => "call it after re-enabling preemption (bpf_preempt_enable())".into(),
            InsideRegion { region, .. } if *region == "bpf_rcu_read_lock" => "call bpf_rcu_read_unlock() on every path before this point".into(),
            InsideRegion { region, .. } if *region == "bpf_preempt_disable" => "call bpf_preempt_enable() on every path before this point".into(),
            WithNote { first, .. } => return first.hint(),
            Iter(e) => return e.hint(),
            _ => return None,
        })
    }
}
