//! [`Intrinsics`]: helpers the host lets the JIT implement in generated code, as the kernel's
//! verifier and JIT do (`inline_bpf_loop`, inlined map lookups).
//!
//! * `bpf_loop` with a constant callback and flags 0 becomes a native loop that calls the
//!   compiled callback directly (no helper, no trampoline per iteration). Semantics are the
//!   helper's: the count is the low 32 bits of r1, more than `max_loops` gives `-E2BIG` (as
//!   the kernel's inlined loop sets it, a 32-bit value), a nonzero callback r0 stops the loop
//!   with r0 = iterations run, and a callback that would exceed the frame limit faults.
//! * `bpf_map_lookup_elem` in trusted code calls the host's [`MapLookupFn`] directly with the
//!   map handle and the key pointer (the verifier proved both); the host may decline a map
//!   ([`NOT_HANDLED`]), and the ordinary helper call runs instead.

/// A host lookup for trusted code: `(map handle, key address) -> value address` (0: no
/// element), or [`NOT_HANDLED`] to fall back to the helper.
pub type MapLookupFn = extern "C" fn(handle: u64, key: u64) -> u64;

/// What a [`MapLookupFn`] returns for a map it does not handle itself.
pub const NOT_HANDLED: u64 = u64::MAX;

/// `bpf_loop` inlining.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopIntrinsic {
    /// Helper id of `bpf_loop`.
    pub helper: u16,
    /// Largest iteration count accepted (the kernel's `BPF_MAX_LOOPS`).
    pub max_loops: u64,
    /// r0 when the count is larger (the kernel's inlined loop: `-E2BIG` as a 32-bit value).
    pub too_big: u64,
}

/// Helpers the JIT may inline; none by default.
#[derive(Clone, Copy, Debug, Default)]
pub struct Intrinsics {
    /// `bpf_loop`, inlined when its callback is a constant and its flags are 0.
    pub bpf_loop: Option<LoopIntrinsic>,
    /// `bpf_map_lookup_elem`'s helper id and the host's direct lookup (trusted code only).
    pub map_lookup: Option<(u16, MapLookupFn)>,
}
