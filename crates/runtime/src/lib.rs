//! `lull-runtime`: the embedding API over Lull's crates.
//!
//! Today it joins the object loader to the verifier: [`verify::verifier_input`] turns a program
//! of a loaded [`lull_object::Object`] (its linked instructions, maps, BTF line and func info)
//! into the verifier's self-contained input, so every front end (`lull verify`, the selftests
//! harness, hosts embedding Lull) judges a program the same way. Maps, helpers, hooks and the
//! sleepable runtime grow here.
#![forbid(unsafe_code)]

pub mod verify;
