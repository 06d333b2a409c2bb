//! What a run left behind, in the form both sides produce: the return value, the packet and
//! context after the run, and every map's contents.

use std::collections::BTreeMap;

/// One map's contents: `(key, value)` pairs. Keyed maps are sorted by key (iteration order is
/// not part of the kernel's contract); queues and stacks are in pop order and ring buffers in
/// record order, with empty keys; map-in-map values are empty (inner map ids are not
/// comparable); per-CPU values hold every CPU's value, 8-byte aligned, as `bpf()` returns them.
pub type MapDump = Vec<(Vec<u8>, Vec<u8>)>;

/// The observable result of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunResult {
    /// Why the run failed (`errno` of `BPF_PROG_TEST_RUN`, or Lull's fault), if it did.
    pub run_error: Option<String>,
    /// r0, truncated to 32 bits as `BPF_PROG_TEST_RUN` reports it.
    pub retval: u32,
    /// The packet after the run (empty for non-packet programs).
    pub data_out: Vec<u8>,
    /// The context after the run (syscall programs; empty otherwise).
    pub ctx_out: Vec<u8>,
    /// Maps by canonical name (see [`canonical_map_name`]).
    pub maps: BTreeMap<String, MapDump>,
}

/// The name a map is compared under: global-data maps by their section (`.data`, `.bss`,
/// `.rodata`: libbpf and Lull prefix them with differently truncated object names), other maps
/// by their own name.
pub fn canonical_map_name(name: &str) -> String {
    for section in [".rodata", ".data", ".bss", ".kconfig"] {
        if name.ends_with(section) {
            return section.to_string();
        }
    }
    name.to_string()
}

impl RunResult {
    /// `res[i]` as a signed number, if the program's object has a `res` map with that entry.
    pub fn res(&self, i: u32) -> Option<i64> {
        let key = i.to_le_bytes();
        self.maps
            .get("res")?
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, v)| crate::bytes::le_u64(v) as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_data_maps_compare_by_section() {
        assert_eq!(canonical_map_name("maps_ar.data"), ".data");
        assert_eq!(canonical_map_name("values.rodata"), ".rodata");
        assert_eq!(canonical_map_name("res"), "res");
    }
}
