//! The by-name index of a [`Btf`](crate::Btf): an open-addressing hash table of type ids keyed
//! by *essential* name (the name with any `___flavor` suffix removed, as libbpf's CO-RE uses),
//! built once at parse time without allocating per name.
//!
//! Ids with equal keys are inserted in increasing id order, so a probe meets them in that order
//! and the first exact match is the lowest id, as `btf__find_by_name_kind` returns.

use crate::types::TypeId;

/// Strips a CO-RE flavor suffix (`task_struct___old` → `task_struct`): the name is cut before
/// the last `___` that has a non-underscore character on both sides, libbpf's rule. Names
/// without such a separator are returned unchanged.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    if b.len() >= 5 {
        for i in (0..=b.len() - 5).rev() {
            if b[i] != b'_' && &b[i + 1..i + 4] == b"___" && b[i + 4] != b'_' {
                return &name[..i + 1];
            }
        }
    }
    name
}

/// FNV-1a over the bytes; names are short, so this is fast enough and needs no dependency.
fn hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name.as_bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 29)
}

/// Hash table from essential name to the chain of type ids carrying it.
///
/// Open addressing over distinct keys (so many types sharing one name, like vmlinux's
/// thousands of `bpf_kfunc` decl tags, cost one slot and a chain, not a probe cluster);
/// ids of one key are linked in increasing order through `next`.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameIndex {
    /// `(hash, first id, last id)`; first id 0 = empty slot (void has no name).
    slots: Vec<(u32, TypeId, TypeId)>,
    /// Next id with the same key, indexed by `id - first_id`; 0 ends the chain.
    next: Vec<TypeId>,
    first_id: TypeId,
}

impl NameIndex {
    /// Builds the index; `names[i]` is the name of type `first_id + i` ("" = not indexed).
    pub(crate) fn build(first_id: TypeId, names: &[&str]) -> Self {
        let named = names.iter().filter(|n| !n.is_empty()).count();
        let cap = (named * 2).next_power_of_two().max(16);
        let mask = cap - 1;
        let mut slots = vec![(0u32, 0 as TypeId, 0 as TypeId); cap];
        let mut next = vec![0 as TypeId; names.len()];
        for (i, name) in names.iter().enumerate() {
            let id = first_id + i as TypeId;
            if name.is_empty() || id == 0 {
                continue;
            }
            let key = essential_name(name);
            let h = hash(key) as u32;
            let mut s = h as usize & mask;
            loop {
                let (sh, head, tail) = slots[s];
                if head == 0 {
                    slots[s] = (h, id, id);
                    break;
                }
                if sh == h && essential_name(names[(head - first_id) as usize]) == key {
                    next[(tail - first_id) as usize] = id;
                    slots[s].2 = id;
                    break;
                }
                s = (s + 1) & mask;
            }
        }
        NameIndex {
            slots,
            next,
            first_id,
        }
    }

    /// Calls `f` with every id whose essential name is `essential`, in id order, until `f`
    /// returns `false`. `name_of` gives the name of an indexed id.
    pub(crate) fn probe<'n>(
        &self,
        essential: &str,
        name_of: impl Fn(TypeId) -> &'n str,
        mut f: impl FnMut(TypeId) -> bool,
    ) {
        if self.slots.is_empty() {
            return;
        }
        let mask = self.slots.len() - 1;
        let h = hash(essential) as u32;
        let mut s = h as usize & mask;
        loop {
            let (sh, head, _) = self.slots[s];
            if head == 0 {
                return;
            }
            if sh == h && essential_name(name_of(head)) == essential {
                let mut id = head;
                while id != 0 {
                    if !f(id) {
                        return;
                    }
                    id = self.next[(id - self.first_id) as usize];
                }
                return;
            }
            s = (s + 1) & mask;
        }
    }
}
