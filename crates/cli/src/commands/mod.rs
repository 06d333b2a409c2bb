//! One module per subcommand; shared input handling in [`input`].

pub mod asm;
pub mod bench;
pub mod conformance;
pub mod disasm;
pub mod input;
pub mod inspect;
pub mod run;
pub mod verify;
