//! Fuzz target: `.BTF` and `.BTF.ext` parsing plus the walks the loader does on the graph
//! (sizes, modifier skipping) on arbitrary bytes. Input layout: a little-endian `u32` length
//! `n`, then `n` bytes of BTF (clamped to what is there), then the `.BTF.ext` bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return;
    };
    let split = (u32::from_le_bytes(*len) as usize).min(rest.len());
    let (btf_bytes, ext_bytes) = rest.split_at(split);
    let Ok(btf) = lull_btf::Btf::parse(btf_bytes) else {
        return;
    };
    for (id, _) in btf.types() {
        let _ = btf.resolve_size(id);
        let _ = btf.skip_mods_and_typedefs(id);
    }
    let _ = lull_btf::ext::BtfExt::parse(ext_bytes, &btf);
});
