//! Tests of the numeric domain: kernel-exact unit results and soundness properties.

mod concrete;
mod kernel_exact;
mod soundness;
