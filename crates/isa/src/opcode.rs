//! Named constants for the fields of the opcode byte and the special values of `src`/`imm`
//! (RFC 9669 §3 and the Linux UAPI `linux/bpf.h` / `linux/bpf_common.h` names).
//!
//! The opcode byte is `class` in bits 0..=2; for ALU/JMP classes `source` in bit 3 and
//! `operation` in bits 4..=7; for load/store classes `size` in bits 3..=4 and `mode` in
//! bits 5..=7.

// ---- Classes (bits 0..=2) ----
/// Non-standard load (`lddw`, legacy packet loads).
pub const BPF_LD: u8 = 0x00;
/// Load into register.
pub const BPF_LDX: u8 = 0x01;
/// Store immediate.
pub const BPF_ST: u8 = 0x02;
/// Store register (and atomics).
pub const BPF_STX: u8 = 0x03;
/// 32-bit arithmetic.
pub const BPF_ALU: u8 = 0x04;
/// 64-bit jumps, call, exit.
pub const BPF_JMP: u8 = 0x05;
/// 32-bit jumps.
pub const BPF_JMP32: u8 = 0x06;
/// 64-bit arithmetic.
pub const BPF_ALU64: u8 = 0x07;

// ---- Sizes (bits 3..=4 of load/store opcodes) ----
/// 4 bytes.
pub const BPF_W: u8 = 0x00;
/// 2 bytes.
pub const BPF_H: u8 = 0x08;
/// 1 byte.
pub const BPF_B: u8 = 0x10;
/// 8 bytes.
pub const BPF_DW: u8 = 0x18;

// ---- Modes (bits 5..=7 of load/store opcodes) ----
/// 64-bit immediate (`lddw`).
pub const BPF_IMM: u8 = 0x00;
/// Legacy packet load, absolute offset.
pub const BPF_ABS: u8 = 0x20;
/// Legacy packet load, register-relative offset.
pub const BPF_IND: u8 = 0x40;
/// Regular memory access.
pub const BPF_MEM: u8 = 0x60;
/// Sign-extending load.
pub const BPF_MEMSX: u8 = 0x80;
/// Atomic operation (operation in `imm`).
pub const BPF_ATOMIC: u8 = 0xc0;

// ---- Source (bit 3 of ALU/JMP opcodes) ----
/// Immediate operand.
pub const BPF_K: u8 = 0x00;
/// Register operand.
pub const BPF_X: u8 = 0x08;
/// `BPF_END`: convert to little endian (same bit as `BPF_K`).
pub const BPF_TO_LE: u8 = 0x00;
/// `BPF_END`: convert to big endian (same bit as `BPF_X`).
pub const BPF_TO_BE: u8 = 0x08;

// ---- ALU operations (bits 4..=7) ----
/// `+=`
pub const BPF_ADD: u8 = 0x00;
/// `-=`
pub const BPF_SUB: u8 = 0x10;
/// `*=`
pub const BPF_MUL: u8 = 0x20;
/// `/=` (signed with `off == 1`)
pub const BPF_DIV: u8 = 0x30;
/// `|=`
pub const BPF_OR: u8 = 0x40;
/// `&=`
pub const BPF_AND: u8 = 0x50;
/// `<<=`
pub const BPF_LSH: u8 = 0x60;
/// `>>=`
pub const BPF_RSH: u8 = 0x70;
/// `= -dst`
pub const BPF_NEG: u8 = 0x80;
/// `%=` (signed with `off == 1`)
pub const BPF_MOD: u8 = 0x90;
/// `^=`
pub const BPF_XOR: u8 = 0xa0;
/// `=` (sign-extending with `off` 8/16/32; `addr_space_cast` with `off == 1`)
pub const BPF_MOV: u8 = 0xb0;
/// `s>>=`
pub const BPF_ARSH: u8 = 0xc0;
/// Byte-order conversion.
pub const BPF_END: u8 = 0xd0;

// ---- JMP operations (bits 4..=7) ----
/// Unconditional jump.
pub const BPF_JA: u8 = 0x00;
/// `==`
pub const BPF_JEQ: u8 = 0x10;
/// unsigned `>`
pub const BPF_JGT: u8 = 0x20;
/// unsigned `>=`
pub const BPF_JGE: u8 = 0x30;
/// `&`
pub const BPF_JSET: u8 = 0x40;
/// `!=`
pub const BPF_JNE: u8 = 0x50;
/// signed `>`
pub const BPF_JSGT: u8 = 0x60;
/// signed `>=`
pub const BPF_JSGE: u8 = 0x70;
/// Function call.
pub const BPF_CALL: u8 = 0x80;
/// Return.
pub const BPF_EXIT: u8 = 0x90;
/// unsigned `<`
pub const BPF_JLT: u8 = 0xa0;
/// unsigned `<=`
pub const BPF_JLE: u8 = 0xb0;
/// signed `<`
pub const BPF_JSLT: u8 = 0xc0;
/// signed `<=`
pub const BPF_JSLE: u8 = 0xd0;
/// Conditional pseudo jump (`may_goto` with `src == BPF_MAY_GOTO`).
pub const BPF_JCOND: u8 = 0xe0;

// ---- Atomic operations (`imm` of BPF_STX | BPF_ATOMIC) ----
/// Return the old value (bit of `imm`).
pub const BPF_FETCH: i32 = 0x01;
/// Atomic add.
pub const BPF_ATOMIC_ADD: i32 = BPF_ADD as i32;
/// Atomic or.
pub const BPF_ATOMIC_OR: i32 = BPF_OR as i32;
/// Atomic and.
pub const BPF_ATOMIC_AND: i32 = BPF_AND as i32;
/// Atomic xor.
pub const BPF_ATOMIC_XOR: i32 = BPF_XOR as i32;
/// Atomic exchange (`0xe0 | BPF_FETCH`).
pub const BPF_XCHG: i32 = 0xe0 | BPF_FETCH;
/// Atomic compare-and-exchange (`0xf0 | BPF_FETCH`).
pub const BPF_CMPXCHG: i32 = 0xf0 | BPF_FETCH;
/// Load-acquire (`BPF_ATOMIC_LOAD | BPF_ACQUIRE`, Linux 6.15+).
pub const BPF_LOAD_ACQ: i32 = 0x100;
/// Store-release (`BPF_ATOMIC_STORE | BPF_RELEASE`, Linux 6.15+).
pub const BPF_STORE_REL: i32 = 0x110;

// ---- Pseudo `src` values ----
/// `lddw`: `imm` is a map file descriptor.
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `lddw`: map fd plus value offset.
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;
/// `lddw`: kernel variable by BTF id.
pub const BPF_PSEUDO_BTF_ID: u8 = 3;
/// `lddw`: address of a subprogram.
pub const BPF_PSEUDO_FUNC: u8 = 4;
/// `lddw`: map by index in the fd array.
pub const BPF_PSEUDO_MAP_IDX: u8 = 5;
/// `lddw`: map value by index in the fd array.
pub const BPF_PSEUDO_MAP_IDX_VALUE: u8 = 6;
/// `call`: BPF-to-BPF call of a local function.
pub const BPF_PSEUDO_CALL: u8 = 1;
/// `call`: kernel function by BTF id.
pub const BPF_PSEUDO_KFUNC_CALL: u8 = 2;
/// `BPF_JCOND`: the `may_goto` condition.
pub const BPF_MAY_GOTO: u8 = 0;

// ---- Special `off` values ----
/// ALU64 MOV X with this `off` is `addr_space_cast`.
pub const BPF_ADDR_SPACE_CAST: i16 = 1;

// ---- Complete opcodes used often ----
/// `lddw`: `BPF_LD | BPF_IMM | BPF_DW`.
pub const LDDW: u8 = BPF_LD | BPF_IMM | BPF_DW;
/// `call`: `BPF_JMP | BPF_CALL`.
pub const CALL: u8 = BPF_JMP | BPF_CALL;
/// `callx`: `BPF_JMP | BPF_CALL | BPF_X`.
pub const CALLX: u8 = BPF_JMP | BPF_CALL | BPF_X;
/// `exit`: `BPF_JMP | BPF_EXIT`.
pub const EXIT: u8 = BPF_JMP | BPF_EXIT;
/// `ja`: `BPF_JMP | BPF_JA`.
pub const JA: u8 = BPF_JMP | BPF_JA;
/// `gotol`: `BPF_JMP32 | BPF_JA`.
pub const JA32: u8 = BPF_JMP32 | BPF_JA;
/// `may_goto`: `BPF_JMP | BPF_JCOND`.
pub const JCOND: u8 = BPF_JMP | BPF_JCOND;

// ---- Field extraction ----
/// The class bits.
pub const fn class(code: u8) -> u8 {
    code & 0x07
}
/// The size bits of a load/store opcode.
pub const fn size(code: u8) -> u8 {
    code & 0x18
}
/// The mode bits of a load/store opcode.
pub const fn mode(code: u8) -> u8 {
    code & 0xe0
}
/// The operation bits of an ALU/JMP opcode.
pub const fn op(code: u8) -> u8 {
    code & 0xf0
}
/// The source bit of an ALU/JMP opcode.
pub const fn source(code: u8) -> u8 {
    code & 0x08
}
