//! Opcode field constants (being written).
