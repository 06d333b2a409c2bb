//! Lull's verifier on a [`TestProgram`], configured as the kernel oracle loads it: privileged
//! (root), GPL, log level 1, the program's maps as [`MapInfo`]s.

use lull_verifier::{MapInfo, VerifyInput, VerifyOutcome, verify};

use crate::program::TestProgram;

/// The verifier inputs' map descriptions for `p`.
pub fn map_infos(p: &TestProgram) -> Vec<MapInfo> {
    p.maps
        .iter()
        .map(|m| {
            let mut info = MapInfo::new(m.map_type, m.key_size, m.value_size, m.max_entries);
            info.flags = m.flags;
            info
        })
        .collect()
}

/// Runs `lull_verifier::verify` on `p`.
pub fn run(p: &TestProgram) -> VerifyOutcome {
    let located = p.located();
    let mut input = VerifyInput::new(&located, p.prog_type);
    input.expected_attach = p.expected_attach;
    input.sleepable = p.sleepable;
    input.maps = map_infos(p);
    input.privileged = true;
    input.gpl_compatible = true;
    input.log_level = 1;
    verify(&input)
}
