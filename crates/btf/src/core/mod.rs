//! CO-RE ("compile once, run everywhere") relocation resolution with libbpf's semantics.
//!
//! Given the program's local BTF, a relocation (kind, local root type id, access string) and a
//! target BTF (normally vmlinux), [`CoreResolver`] finds target candidates by essential name,
//! matches the local access specification against each, computes the original (local) and new
//! (target) values, and rejects ambiguous results. [`patch_insn`] then rewrites the instruction
//! the way libbpf's `bpf_core_patch_insn` does, including poisoning unresolvable instructions
//! into `call 0xbad2310`.
//!
//! Submodules: `spec` (access-string parsing and candidate matching), `compat` (type
//! compatibility and `TYPE_MATCHES` rules), `calc` (per-kind values), `patch` (instructions).

mod calc;
mod compat;
mod patch;
mod spec;

use std::collections::HashMap;
use std::fmt;

use crate::btf::Btf;
use crate::error::BtfError;
use crate::ext::CoreRelo;
use crate::types::{Kind, TypeId};

pub use patch::{POISON_CALL_IMM, PatchOutcome, patch_insn};

use calc::{Calc, calc_relo};
use spec::{Spec, format_spec, parse_spec, spec_match};

/// `enum bpf_core_relo_kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// Field byte offset (`bpf_core_field_offset`, implicit in `BPF_CORE_READ`).
    FieldByteOffset = 0,
    /// Field byte size.
    FieldByteSize = 1,
    /// Field existence (1/0).
    FieldExists = 2,
    /// Field signedness (1/0).
    FieldSigned = 3,
    /// Left shift for bitfield extraction from a u64.
    FieldLshiftU64 = 4,
    /// Right shift for bitfield extraction from a u64.
    FieldRshiftU64 = 5,
    /// Type id in the local BTF.
    TypeIdLocal = 6,
    /// Type id in the target BTF.
    TypeIdTarget = 7,
    /// Type existence (1/0).
    TypeExists = 8,
    /// Type size.
    TypeSize = 9,
    /// Enumerator existence (1/0).
    EnumvalExists = 10,
    /// Enumerator value.
    EnumvalValue = 11,
    /// Type "matches" (stricter than exists; 1/0).
    TypeMatches = 12,
}

impl CoreReloKind {
    /// Decodes the raw kind number.
    pub fn from_raw(v: u32) -> Option<Self> {
        use CoreReloKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// libbpf's short name (`byte_off`, `field_exists`, `enumval_value`…).
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeMatches => "type_matches",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
        }
    }

    /// FIELD_* kinds.
    pub fn is_field_based(self) -> bool {
        (self as u32) <= 5
    }

    /// TYPE_* kinds.
    pub fn is_type_based(self) -> bool {
        matches!(self as u32, 6..=9 | 12)
    }

    /// ENUMVAL_* kinds.
    pub fn is_enumval_based(self) -> bool {
        matches!(
            self,
            CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
        )
    }
}

impl fmt::Display for CoreReloKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a relocation resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreOutcome {
    /// The instruction gets this new value.
    Value(u64),
    /// No usable target: libbpf replaces the instruction with `call 0xbad2310` (the verifier
    /// then reports `invalid func unknown#195896080` if it is reachable).
    Poison,
}

/// The result of resolving one relocation (libbpf's `bpf_core_relo_res`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreResolution {
    /// Relocation kind.
    pub kind: CoreReloKind,
    /// Local root type id.
    pub local_type_id: TypeId,
    /// Value computed from the local BTF (what the compiler should have emitted).
    pub orig_value: u64,
    /// New value, or poison.
    pub outcome: CoreOutcome,
    /// Whether the instruction's current value must equal `orig_value` before patching.
    pub validate: bool,
    /// Local field size in bytes (FIELD_BYTE_OFFSET on non-bitfields), else 0.
    pub orig_size: u32,
    /// Target field size in bytes, else 0.
    pub new_size: u32,
    /// Sizes differ in a way a load/store cannot be adjusted for (libbpf poisons LDX/ST/STX).
    pub fail_memsz_adjust: bool,
    /// Root type id of the chosen target candidate, if one matched.
    pub target_type_id: Option<TypeId>,
    /// Bit offset of the accessed field in the target (field relocations that matched).
    pub target_bit_offset: Option<u32>,
    /// The local access as libbpf's debug log prints it, e.g.
    /// `<byte_off> [5] struct task_struct.pid (0:0 @ offset 0)`.
    pub local_spec: String,
    /// The matched target access in the same format (`None` when no candidate matched).
    pub target_spec: Option<String>,
    /// Index into [`CoreResolver::with_modules`]'s list when the match is in a module BTF.
    pub target_module: Option<usize>,
}

impl CoreResolution {
    /// The new value, unless poisoned.
    pub fn new_value(&self) -> Option<u64> {
        match self.outcome {
            CoreOutcome::Value(v) => Some(v),
            CoreOutcome::Poison => None,
        }
    }
}

/// A CO-RE failure (libbpf would refuse to load the object).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The local access specification is invalid.
    #[error("parsing [{type_id}] {kind} {name} + {access} failed: {reason}")]
    BadSpec {
        /// Local root type id.
        type_id: TypeId,
        /// Its kind.
        kind: Kind,
        /// Its name (`<anon>` if anonymous).
        name: String,
        /// The access string.
        access: String,
        /// What is wrong.
        reason: String,
    },
    /// Candidate search is impossible (anonymous local type).
    #[error(
        "target candidate search failed for [{type_id}] {kind} <anon>: anonymous types are not supported"
    )]
    AnonymousType {
        /// Local root type id.
        type_id: TypeId,
        /// Its kind.
        kind: Kind,
    },
    /// Two matching candidates put the field at different offsets.
    #[error("field offset ambiguity: {0} != {1}")]
    FieldOffsetAmbiguity(u32, u32),
    /// Two matching candidates disagree on the result.
    #[error("relocation decision ambiguity: {} {} != {} {}", outcome_word(*.0), .1, outcome_word(*.2), .3)]
    DecisionAmbiguity(bool, u64, bool, u64),
    /// Matching a candidate failed structurally (too deep, bad type graph).
    #[error("error matching candidate [{target_id}]: {reason}")]
    CandidateMatch {
        /// Target candidate id.
        target_id: TypeId,
        /// What went wrong.
        reason: String,
    },
    /// The relocation kind cannot be applied to this access (e.g. FIELD_SIGNED on `a[n]`).
    #[error("relo {kind} can't be applied to {what}")]
    Unsupported {
        /// Relocation kind.
        kind: CoreReloKind,
        /// The problematic access.
        what: &'static str,
    },
    /// Underlying BTF error (bad type id, loop…).
    #[error(transparent)]
    Btf(#[from] BtfError),
    /// Instruction patching failed.
    #[error("insn #{insn_idx}: {reason}")]
    Patch {
        /// Instruction index.
        insn_idx: usize,
        /// libbpf-style description.
        reason: String,
    },
}

fn outcome_word(poison: bool) -> &'static str {
    if poison { "failure" } else { "success" }
}

/// Resolves relocations of one local BTF against a target BTF (plus, optionally, kernel
/// module BTFs split on top of it), caching the candidate list per local root type and
/// pruning it to the matching candidates, as libbpf does.
#[derive(Debug)]
pub struct CoreResolver<'a> {
    local: &'a Btf,
    target: &'a Btf,
    modules: &'a [Btf],
    /// Candidates per local root type: (0 = target, i + 1 = `modules[i]`; type id).
    cands: HashMap<TypeId, Vec<(usize, TypeId)>>,
}

impl<'a> CoreResolver<'a> {
    /// A resolver for `local` (program BTF) against `target` (e.g. vmlinux).
    pub fn new(local: &'a Btf, target: &'a Btf) -> Self {
        CoreResolver {
            local,
            target,
            modules: &[],
            cands: HashMap::new(),
        }
    }

    /// Also searches these module BTFs (split BTF on top of the target) when the target has
    /// no candidate for a type — libbpf's order: vmlinux first, modules only as a fallback.
    pub fn with_modules(mut self, modules: &'a [Btf]) -> Self {
        self.modules = modules;
        self.cands.clear();
        self
    }

    fn btf_at(&self, i: usize) -> &'a Btf {
        if i == 0 {
            self.target
        } else {
            &self.modules[i - 1]
        }
    }

    /// Resolves a `.BTF.ext` relocation record.
    pub fn resolve(&mut self, relo: &CoreRelo) -> Result<CoreResolution, CoreError> {
        self.resolve_access(relo.kind, relo.type_id, &relo.access)
    }

    /// Resolves a relocation given as kind, local root type id and access string (`0:1:2`).
    pub fn resolve_access(
        &mut self,
        kind: CoreReloKind,
        local_id: TypeId,
        access: &str,
    ) -> Result<CoreResolution, CoreError> {
        let local_t = self.local.type_by_id(local_id)?;
        let local_name = self.local.name(local_t);
        let local_spec = parse_spec(self.local, kind, local_id, access)?;

        if kind == CoreReloKind::TypeIdLocal {
            return Ok(CoreResolution {
                kind,
                local_type_id: local_id,
                orig_value: local_id as u64,
                outcome: CoreOutcome::Value(local_id as u64),
                validate: false,
                orig_size: 0,
                new_size: 0,
                fail_memsz_adjust: false,
                target_type_id: None,
                target_bit_offset: None,
                local_spec: format_spec(&local_spec),
                target_spec: None,
                target_module: None,
            });
        }
        if local_name.is_empty() {
            return Err(CoreError::AnonymousType {
                type_id: local_id,
                kind: local_t.kind(),
            });
        }
        let cands = match self.cands.get(&local_id) {
            Some(c) => c.clone(),
            None => {
                let mut c: Vec<(usize, TypeId)> =
                    find_candidates(self.local, local_id, self.target, 1)
                        .into_iter()
                        .map(|id| (0, id))
                        .collect();
                if c.is_empty() {
                    for (i, m) in self.modules.iter().enumerate() {
                        c.extend(
                            find_candidates(self.local, local_id, m, m.start_id())
                                .into_iter()
                                .map(|id| (i + 1, id)),
                        );
                    }
                }
                self.cands.insert(local_id, c.clone());
                c
            }
        };

        let mut chosen: Option<(Calc, Spec<'_>, usize)> = None;
        let mut matched = Vec::new();
        for &(bi, cand) in &cands {
            let Some(cand_spec) = spec_match(&local_spec, self.btf_at(bi), cand)? else {
                continue;
            };
            let res = calc_relo(kind, &local_spec, Some(&cand_spec))?;
            match &chosen {
                None => chosen = Some((res, cand_spec, bi)),
                Some((prev, prev_spec, _)) => {
                    if cand_spec.bit_offset != prev_spec.bit_offset {
                        return Err(CoreError::FieldOffsetAmbiguity(
                            cand_spec.bit_offset as u32,
                            prev_spec.bit_offset as u32,
                        ));
                    }
                    if res.poison != prev.poison || res.new_val != prev.new_val {
                        return Err(CoreError::DecisionAmbiguity(
                            res.poison,
                            res.new_val,
                            prev.poison,
                            prev.new_val,
                        ));
                    }
                }
            }
            matched.push((bi, cand));
        }
        if !matched.is_empty() {
            self.cands.insert(local_id, matched);
        }
        let (res, targ) = match chosen {
            Some((res, spec, bi)) => (
                res,
                Some((
                    spec.root_type_id,
                    spec.bit_offset as u32,
                    format_spec(&spec),
                    bi,
                )),
            ),
            None => (calc_relo(kind, &local_spec, None)?, None),
        };
        Ok(CoreResolution {
            kind,
            local_type_id: local_id,
            orig_value: res.orig_val,
            outcome: if res.poison {
                CoreOutcome::Poison
            } else {
                CoreOutcome::Value(res.new_val)
            },
            validate: res.validate,
            orig_size: res.orig_sz,
            new_size: res.new_sz,
            fail_memsz_adjust: res.fail_memsz_adjust,
            target_type_id: targ.as_ref().map(|t| t.0),
            target_bit_offset: targ.as_ref().filter(|_| kind.is_field_based()).map(|t| t.1),
            local_spec: format_spec(&local_spec),
            target_module: targ.as_ref().and_then(|t| t.3.checked_sub(1)),
            target_spec: targ.map(|t| t.2),
        })
    }
}

/// Target types (ids from `from_id` on) whose essential name equals the local root type's and
/// whose kind is CO-RE-compatible (same kind, or ENUM vs ENUM64), in id order.
fn find_candidates(local: &Btf, local_id: TypeId, target: &Btf, from_id: TypeId) -> Vec<TypeId> {
    let Ok(local_t) = local.type_by_id(local_id) else {
        return Vec::new();
    };
    let ess = crate::essential_name(local.name(local_t));
    target
        .find_by_essential_name(ess, None)
        .into_iter()
        .filter(|&id| {
            id >= from_id
                && target
                    .type_by_id(id)
                    .is_ok_and(|t| compat::kind_core_compat(t.kind(), local_t.kind()))
        })
        .collect()
}

/// One-shot resolution without a shared candidate cache.
pub fn resolve_relo(
    local: &Btf,
    relo: &CoreRelo,
    target: &Btf,
) -> Result<CoreResolution, CoreError> {
    CoreResolver::new(local, target).resolve(relo)
}
