//! Fuzz target: the whole object loader (ELF, sections, symbols, relocations, maps, BTF,
//! linking, decoding) on arbitrary bytes. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let k = lull_object::Kconfig::default();
    let opts = lull_object::ParseOptions {
        kconfig: Some(&k),
        ..Default::default()
    };
    if let Ok(o) = lull_object::Object::parse_with(data, &opts) {
        let _ = o.inspect();
        let _ = o.details();
    }
});
