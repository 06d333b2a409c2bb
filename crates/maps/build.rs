//! Declares the `loom` cfg so `#[cfg(loom)]` (model-checking builds) is a known configuration.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
