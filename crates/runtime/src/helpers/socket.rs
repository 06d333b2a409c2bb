//! Sockets from packet programs: the lookups `bpf_sk_lookup_tcp` (84), `bpf_sk_lookup_udp`
//! (85) and `bpf_skc_lookup_tcp` (99), `bpf_sk_release` (86), and the socket conversions
//! `bpf_sk_fullsock` (95), `bpf_tcp_sock` (96), `bpf_get_listener_sock` (98) and
//! `bpf_skc_to_*` (136-140, 178, 196).
//!
//! Lull has no sockets, so a lookup never finds one: it returns NULL, as the kernel's does
//! for a tuple no socket of the namespace matches (and for a bad tuple size, flags or
//! namespace id); the `__sk_buff` of a test run carries none either (`sk` is NULL). The
//! verifier makes programs check those results before use, so the helpers that take a
//! socket are never reached with one in a run; the conversions return NULL and
//! `bpf_sk_release` returns 0 like the kernel's.

use lull_interp::{HelperContext, HelperError, HelperFn};

pub(crate) const HELPERS: &[(u16, HelperFn)] = &[
    (84, lookup),
    (85, lookup),
    (86, release),
    (95, convert),
    (96, convert),
    (98, convert),
    (99, lookup),
    (136, convert),
    (137, convert),
    (138, convert),
    (139, convert),
    (140, convert),
    (178, convert),
    (196, convert),
];

/// `bpf_sk_lookup_{tcp,udp}`, `bpf_skc_lookup_tcp(ctx, tuple, size, netns, flags)`: NULL.
fn lookup(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}

/// `bpf_sk_release(sk)`.
fn release(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}

/// A conversion of a socket (`bpf_sk_fullsock`, `bpf_tcp_sock`, `bpf_skc_to_tcp_sock`, …):
/// NULL, there being no socket to convert.
fn convert(_: &mut HelperContext<'_>, _: [u64; 5]) -> Result<u64, HelperError> {
    Ok(0)
}
