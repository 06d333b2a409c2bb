//! `lull`: the command line.
fn main() {}
