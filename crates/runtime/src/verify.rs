//! From a loaded object's program to the verifier: [`verifier_input`] and [`verify_program`].
//!
//! The object loader has already linked subprograms, applied relocations (a map reference is an
//! `ld_imm64` whose `imm` is the map's index in `Object::maps`, the verifier's convention too)
//! and remapped BTF line/func info onto the linked stream; what remains is to describe the maps
//! as the verifier sees them (including where a value holds a `bpf_spin_lock` or `bpf_timer`,
//! found through the value's BTF) and to carry over program type, flags and license.

use lull_btf::{Btf, Kind, TypeId, TypeKind};
use lull_object::{MapDef, Object, Program};
use lull_verifier::{FuncInfo, LineInfo, MapInfo, VerifyInput, VerifyOutcome};

/// How to verify.
#[derive(Clone, Copy, Debug)]
pub struct VerifyOptions {
    /// Log level: 0 none, 1 the path to an error, 2 every instruction with its state.
    pub log_level: u32,
    /// Verify with the privileged (`CAP_BPF` + `CAP_PERFMON`) rules.
    pub privileged: bool,
    /// Exact capabilities, overriding `privileged`.
    pub caps: Option<lull_verifier::Caps>,
    /// `BPF_F_*` program flags added to those the section name implies.
    pub extra_prog_flags: u32,
    /// Override of the sleepable flag (`None`: what the section name says).
    pub sleepable: Option<bool>,
    /// Which functions sleepable tracing programs may attach to.
    pub error_injection: lull_verifier::ErrorInjection,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            log_level: 1,
            privileged: true,
            caps: None,
            extra_prog_flags: 0,
            sleepable: None,
            error_injection: lull_verifier::ErrorInjection::default(),
        }
    }
}

/// Licenses the kernel treats as GPL-compatible (`license_is_gpl_compatible`).
pub fn license_is_gpl_compatible(license: &str) -> bool {
    matches!(
        license,
        "GPL"
            | "GPL v2"
            | "GPL and additional rights"
            | "Dual BSD/GPL"
            | "Dual MIT/GPL"
            | "Dual MPL/GPL"
    )
}

/// Depth bound when searching a value type for special fields (nested structs).
const MAX_FIELD_DEPTH: usize = 16;

/// Byte offset of the first member of struct type `name` (e.g. `bpf_spin_lock`) inside type
/// `id`, searching nested structs and unions, or `None`. A `DATASEC` (the value type of a
/// global-data map) is searched variable by variable at each variable's offset, as the
/// kernel's `btf_find_datasec_var` does.
fn find_special_field(btf: &Btf, id: TypeId, name: &str, depth: usize) -> Option<u32> {
    if depth > MAX_FIELD_DEPTH {
        return None;
    }
    let (id, ty) = btf.skip_mods_and_typedefs(id).ok()?;
    if matches!(ty.kind(), Kind::Struct) && btf.name_of(id) == name {
        return Some(0);
    }
    match &ty.kind {
        TypeKind::Struct(c) | TypeKind::Union(c) => c.members.iter().find_map(|m| {
            let inner = find_special_field(btf, m.type_id, name, depth + 1)?;
            Some(m.bit_offset / 8 + inner)
        }),
        TypeKind::Datasec(d) => d.vars.iter().find_map(|v| {
            let TypeKind::Var { type_id, .. } = btf.type_by_id(v.type_id).ok()?.kind else {
                return None;
            };
            let inner = find_special_field(btf, type_id, name, depth + 1)?;
            Some(v.offset + inner)
        }),
        _ => None,
    }
}

/// The verifier's view of one map.
pub fn map_info(map: &MapDef, btf: Option<&Btf>) -> MapInfo {
    let value_field = |name| {
        let (btf, id) = (btf?, map.value_btf_id?);
        find_special_field(btf, id, name, 0)
    };
    MapInfo {
        name: map.name.clone(),
        map_type: map.map_type,
        key_size: map.key_size,
        value_size: map.value_size,
        max_entries: map.max_entries,
        flags: map.flags,
        inner: map.inner.as_ref().map(|m| Box::new(map_info(m, btf))),
        spin_lock_off: value_field("bpf_spin_lock"),
        timer_off: value_field("bpf_timer"),
        has_btf: btf.is_some() && map.value_btf_id.is_some(),
        // A frozen read-only map (`.rodata`) has fixed contents: the verifier may read them.
        rdonly_data: (map.frozen && map.flags & lull_abi::map_flags::RDONLY_PROG != 0)
            .then(|| map.data.clone()),
    }
}

/// The verifier input for `program` of `object`.
pub fn verifier_input<'a>(
    object: &'a Object,
    program: &'a Program,
    opts: &VerifyOptions,
) -> VerifyInput<'a> {
    let btf = object.btf.as_ref();
    let line_info = (!program.line_info.is_empty()).then(|| {
        program
            .line_info
            .iter()
            .map(|l| LineInfo {
                slot: l.insn,
                file: l.file.clone(),
                line: l.line_num,
                text: l.line.clone(),
            })
            .collect()
    });
    let func_info = (!program.func_info.is_empty()).then(|| {
        program
            .func_info
            .iter()
            .map(|f| {
                let (name, global) = match btf.and_then(|b| b.type_by_id(f.type_id).ok().map(|t| (b, t))) {
                    Some((b, t)) => {
                        let global = matches!(t.kind, TypeKind::Func { linkage, .. } if linkage == lull_btf::FuncLinkage::Global);
                        (b.name(t).to_string(), global)
                    }
                    None => (program.function_at(f.insn).to_string(), false),
                };
                FuncInfo { slot: f.insn, name, global, type_id: f.type_id }
            })
            .collect()
    });
    VerifyInput {
        insns: &program.decoded,
        prog_type: program.prog_type,
        expected_attach: program.expected_attach_type,
        attach_target: program.attach_target.clone(),
        sleepable: opts.sleepable.unwrap_or(program.sleepable),
        maps: object.maps.iter().map(|m| map_info(m, btf)).collect(),
        gpl_compatible: object
            .license
            .as_deref()
            .is_some_and(license_is_gpl_compatible),
        privileged: opts.privileged,
        caps: opts.caps,
        prog_flags: program.prog_flags | opts.extra_prog_flags,
        log_level: opts.log_level,
        line_info,
        func_info,
        kernel_btf: None,
        btf,
        decode_error: program.decode_error.clone(),
        error_injection: opts.error_injection,
    }
}

/// Verifies `program` of `object`.
pub fn verify_program(object: &Object, program: &Program, opts: &VerifyOptions) -> VerifyOutcome {
    lull_verifier::verify(&verifier_input(object, program, opts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lull_btf::builder::BtfBuilder;

    #[test]
    fn gpl_compatible_licenses_follow_the_kernel() {
        assert!(license_is_gpl_compatible("GPL"));
        assert!(license_is_gpl_compatible("Dual BSD/GPL"));
        assert!(!license_is_gpl_compatible("MIT"));
        assert!(!license_is_gpl_compatible("gpl"));
    }

    #[test]
    fn spin_lock_is_found_in_nested_value_structs() {
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let lock = b.add_struct("bpf_spin_lock", 4, &[("val", int, 0)]);
        let inner = b.add_struct("inner", 8, &[("x", int, 0), ("lock", lock, 32)]);
        let value = b.add_struct(
            "value",
            16,
            &[("a", int, 0), ("b", int, 32), ("in", inner, 64)],
        );
        let btf = Btf::parse(&b.build()).unwrap();
        assert_eq!(
            find_special_field(&btf, value, "bpf_spin_lock", 0),
            Some(12)
        );
        assert_eq!(find_special_field(&btf, value, "bpf_timer", 0), None);
        assert_eq!(find_special_field(&btf, int, "bpf_spin_lock", 0), None);
    }

    #[test]
    fn spin_lock_is_found_among_global_data_variables() {
        // `.bss.A`: `int x;` at 0, then `struct bpf_spin_lock lock;` at 8 (`private(A)`).
        let mut b = BtfBuilder::new();
        let int = b.add_int("int", 4, true);
        let lock = b.add_struct("bpf_spin_lock", 4, &[("val", int, 0)]);
        let x = b.add_var("x", int, 1);
        let l = b.add_var("lock", lock, 1);
        let sec = b.add_datasec(".bss.A", 12, &[(x, 0, 4), (l, 8, 4)]);
        let no_lock = b.add_datasec(".data", 4, &[(x, 0, 4)]);
        let btf = Btf::parse(&b.build()).unwrap();
        assert_eq!(find_special_field(&btf, sec, "bpf_spin_lock", 0), Some(8));
        assert_eq!(find_special_field(&btf, no_lock, "bpf_spin_lock", 0), None);
    }
}
