//! Open-coded iterators as data: the iterator kinds the kernel defines (`struct bpf_iter_<kind>`
//! with `bpf_iter_<kind>_new` / `_next` / `_destroy` kfuncs, flagged `KF_ITER_NEW` /
//! `KF_ITER_NEXT` / `KF_ITER_DESTROY` in [`super::kfuncs`]).
//!
//! The verifier recognises an iterator argument by its BTF type (a pointer to a struct whose
//! name starts with `bpf_iter_`, `btf_check_iter_arg`); this table only gives each kind a
//! `'static` name for the state log and messages (`iter_num`, `iter_bits`...).

/// Prefix of every iterator struct's name (`ITER_PREFIX`).
pub const ITER_PREFIX: &str = "bpf_iter_";

/// The iterator kinds of Linux 6.18 (`<kind>` of `struct bpf_iter_<kind>`).
const KINDS: &[&str] = &[
    "num",
    "bits",
    "task_vma",
    "css_task",
    "css",
    "task",
    "kmem_cache",
    "dmabuf",
    "scx_dsq",
    "testmod_seq",
];

/// The kind named by an iterator struct name (`bpf_iter_num` → `num`), or `None` when the
/// struct is not an iterator. Kinds missing from the table are named `unknown`.
pub fn kind_of(struct_name: &str) -> Option<&'static str> {
    let kind = struct_name.strip_prefix(ITER_PREFIX)?;
    Some(
        KINDS
            .iter()
            .copied()
            .find(|k| *k == kind)
            .unwrap_or("unknown"),
    )
}

/// Iterator misuse, with the kernel's messages.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[allow(missing_docs)]
pub enum IterError {
    #[error("arg#{arg} expected pointer to an iterator on stack")]
    NotOnStack { arg: u8 },
    #[error("{}expected uninitialized iter_{kind} as arg #{arg}", note(.slot))]
    ExpectedUninit {
        kind: &'static str,
        arg: u8,
        slot: Option<SlotError>,
    },
    #[error("{}expected an initialized iter_{kind} as arg #{arg}", note(.slot))]
    ExpectedInit {
        kind: &'static str,
        arg: u8,
        slot: Option<SlotError>,
    },
    #[error("expected an RCU CS when using {func}")]
    NeedsRcu { func: String },
    #[error("css_task_iter is only allowed in bpf_lsm, bpf_iter and sleepable progs")]
    CssTaskNotAllowed,
}

/// Why a pointer does not locate iterator slots (`stack_slot_obj_get_spi`'s messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The offset is not a constant.
    VarOffset,
    /// Misaligned, or too close to the frame pointer for the iterator's size.
    Offset(i64),
}

fn note(slot: &Option<SlotError>) -> String {
    match slot {
        None => String::new(),
        Some(SlotError::VarOffset) => "iter has to be at a constant offset\n".into(),
        Some(SlotError::Offset(off)) => format!("cannot pass in iter at an offset={off}\n"),
    }
}

impl IterError {
    /// The rejection in plain words.
    pub fn summary(&self) -> String {
        match self {
            IterError::NotOnStack { arg } => {
                format!("argument {arg} must point to an iterator variable on the stack")
            }
            IterError::ExpectedUninit { kind, .. } => {
                format!(
                    "bpf_iter_{kind}_new() is called on an iterator that is already initialised"
                )
            }
            IterError::ExpectedInit { kind, .. } => {
                format!(
                    "the iterator is used before bpf_iter_{kind}_new() initialised it (or after it was destroyed)"
                )
            }
            IterError::NeedsRcu { func } => {
                format!("{func} uses an RCU-protected iterator outside of an RCU read-side section")
            }
            IterError::CssTaskNotAllowed => self.to_string(),
        }
    }

    /// A suggestion for fixing the program.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            IterError::ExpectedUninit { kind, .. } => {
                format!("call bpf_iter_{kind}_destroy() before reusing the iterator variable")
            }
            IterError::ExpectedInit { kind, .. } => {
                format!(
                    "call bpf_iter_{kind}_new(&it, ...) first on every path, or use bpf_for_each()"
                )
            }
            IterError::NeedsRcu { .. } => {
                "keep bpf_rcu_read_lock() held from the iterator's creation to its destruction"
                    .into()
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_struct_name() {
        assert_eq!(kind_of("bpf_iter_num"), Some("num"));
        assert_eq!(kind_of("bpf_iter_css_task"), Some("css_task"));
        assert_eq!(kind_of("bpf_iter_frobnicate"), Some("unknown"));
        assert_eq!(kind_of("bpf_dynptr"), None);
    }

    #[test]
    fn every_kind_has_its_kfuncs_in_the_kfunc_table() {
        use super::super::kfuncs::{KF_ITER_DESTROY, KF_ITER_NEW, KF_ITER_NEXT, kfunc};
        for k in KINDS
            .iter()
            .filter(|k| !matches!(**k, "dmabuf" | "scx_dsq" | "testmod_seq"))
        {
            for (suffix, flag) in [
                ("new", KF_ITER_NEW),
                ("next", KF_ITER_NEXT),
                ("destroy", KF_ITER_DESTROY),
            ] {
                let name = format!("{ITER_PREFIX}{k}_{suffix}");
                let info = kfunc(&name).unwrap_or_else(|| panic!("{name} missing"));
                assert_ne!(info.flags & flag, 0, "{name} lacks its KF_ITER flag");
            }
        }
    }
}
