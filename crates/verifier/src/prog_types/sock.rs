//! Socket views (`struct bpf_sock`, `struct bpf_tcp_sock`, `struct bpf_xdp_sock`): which
//! fields a socket pointer may read (`bpf_sock_is_valid_access`,
//! `bpf_sock_common_is_valid_access`, `bpf_tcp_sock_is_valid_access`,
//! `bpf_xdp_sock_is_valid_access` in `net/core/filter.c`). Sockets are read-only.

use super::Access;
use crate::state::SockKind;

/// Whether `size` bytes at `off` of a socket of `kind` may be accessed.
pub fn sock_access(kind: SockKind, off: i64, size: u32, access: Access) -> bool {
    if access == Access::Write || off < 0 || off % size as i64 != 0 {
        return false;
    }
    match kind {
        SockKind::Common if (8..24).contains(&off) => false,
        SockKind::Common | SockKind::Full => bpf_sock(off, size),
        // bytes_received and bytes_acked are u64, everything else u32, up to icsk_retransmits.
        SockKind::Tcp => {
            off < 112
                && if off == 80 || off == 88 {
                    size == 8
                } else {
                    size == 4
                }
        }
        SockKind::Xdp => off == 0 && size == 4,
    }
}

/// `bpf_sock_is_valid_access` on `struct bpf_sock` (80 bytes).
fn bpf_sock(off: i64, size: u32) -> bool {
    let narrow = |field: u32| size <= field && size.is_power_of_two();
    match off {
        o if o >= 80 => false,
        // state, family, type, protocol, src_port, rx_queue_mapping, src/dst addresses.
        4 | 8 | 12 | 44 | 72 | 76 => narrow(4),
        24..28 | 28..44 | 52..56 | 56..72 => narrow(4),
        // dst_port: __be16 plus padding; a 4-byte load is allowed for compatibility.
        48..50 => {
            if size == 4 {
                true
            } else {
                narrow(2)
            }
        }
        50..52 => false,
        _ => size == 4,
    }
}
