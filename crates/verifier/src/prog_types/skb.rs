//! `struct __sk_buff` as seen by socket filters, tc and cgroup-skb programs
//! (`bpf_skb_is_valid_access` and the per-type wrappers in `net/core/filter.c`).

use super::{Access, CtxField, narrow_ok};

/// Field offsets of `struct __sk_buff` (uapi, x86-64).
mod off {
    pub const MARK: i64 = 8;
    pub const QUEUE_MAPPING: i64 = 12;
    pub const PRIORITY: i64 = 32;
    pub const TC_INDEX: i64 = 44;
    pub const CB: i64 = 48;
    pub const CB_END: i64 = 68;
    pub const TC_CLASSID: i64 = 72;
    pub const DATA: i64 = 76;
    pub const DATA_END: i64 = 80;
    pub const FAMILY: i64 = 88;
    pub const REMOTE_IP4: i64 = 92;
    pub const LOCAL_PORT_END: i64 = 140;
    pub const DATA_META: i64 = 140;
    pub const FLOW_KEYS: i64 = 144;
    pub const TSTAMP: i64 = 152;
    pub const WIRE_LEN: i64 = 160;
    pub const SK: i64 = 168;
    pub const TSTAMP_TYPE: i64 = 180;
    pub const HWTSTAMP: i64 = 184;
    pub const SIZE: i64 = 192;
}

/// `[start, start + len)` contains `o`.
fn within(o: i64, start: i64, len: i64) -> bool {
    (start..start + len).contains(&o)
}

/// `bpf_skb_is_valid_access`: the checks common to every `__sk_buff` user.
fn common(o: i64, size: u32, access: Access, sx: bool) -> Option<CtxField> {
    if !(0..off::SIZE).contains(&o) || o % size as i64 != 0 {
        return None;
    }
    let write = access == Access::Write;
    if within(o, off::CB, off::CB_END - off::CB) {
        return (o + size as i64 <= off::CB_END).then_some(CtxField::Scalar);
    }
    if within(o, off::DATA, 4) || within(o, off::DATA_END, 4) || within(o, off::DATA_META, 4) {
        return (!sx && size == 4).then_some(CtxField::Scalar);
    }
    if within(o, off::REMOTE_IP4, 48) {
        // remote_ip4, local_ip4, remote_ip6[4], local_ip6[4]: full-width only.
        return (size == 4).then_some(CtxField::Scalar);
    }
    if within(o, off::FLOW_KEYS, 8) || o == off::TSTAMP_TYPE || (181..off::HWTSTAMP).contains(&o) {
        return None;
    }
    if within(o, off::HWTSTAMP, 8) {
        return (!write && size == 8).then_some(CtxField::Scalar);
    }
    if within(o, off::TSTAMP, 8) {
        return (size == 8).then_some(CtxField::Scalar);
    }
    if within(o, off::SK, 8) {
        return (!write && size == 8).then_some(CtxField::SockCommonOrNull);
    }
    if write {
        return (size == 4).then_some(CtxField::Scalar);
    }
    narrow_ok(size, 4).then_some(CtxField::Scalar)
}

/// Socket filters: no packet pointers, writes only to `cb[]`.
pub(super) fn socket_filter(o: i64, size: u32, access: Access, sx: bool) -> Option<CtxField> {
    if within(o, off::TC_CLASSID, 4)
        || within(o, off::DATA, 8)
        || within(o, off::DATA_META, 4)
        || (off::FAMILY..off::LOCAL_PORT_END).contains(&o)
        || within(o, off::TSTAMP, 8)
        || within(o, off::WIRE_LEN, 4)
        || within(o, off::HWTSTAMP, 8)
    {
        return None;
    }
    if access == Access::Write && !within(o, off::CB, off::CB_END - off::CB) {
        return None;
    }
    common(o, size, access, sx)
}

/// tc classifiers and actions: packet pointers, a few writable fields.
pub(super) fn tc(o: i64, size: u32, access: Access, sx: bool) -> Option<CtxField> {
    if access == Access::Write {
        let writable = within(o, off::MARK, 4)
            || within(o, off::TC_INDEX, 4)
            || within(o, off::PRIORITY, 4)
            || within(o, off::TC_CLASSID, 4)
            || within(o, off::CB, off::CB_END - off::CB)
            || within(o, off::TSTAMP, 8)
            || within(o, off::QUEUE_MAPPING, 4);
        if !writable {
            return None;
        }
    }
    if (off::FAMILY..off::LOCAL_PORT_END).contains(&o) {
        return None;
    }
    if o == off::TSTAMP_TYPE {
        return (size == 1).then_some(CtxField::Scalar);
    }
    let kind = if within(o, off::DATA, 4) {
        CtxField::PacketData
    } else if within(o, off::DATA_END, 4) {
        CtxField::PacketEnd
    } else if within(o, off::DATA_META, 4) {
        CtxField::PacketMeta
    } else {
        CtxField::Scalar
    };
    common(o, size, access, sx).map(|c| if c == CtxField::Scalar { kind } else { c })
}

/// cgroup skb programs: packet pointers with `CAP_BPF`, few writable fields.
pub(super) fn cgroup_skb(
    o: i64,
    size: u32,
    access: Access,
    sx: bool,
    privileged: bool,
) -> Option<CtxField> {
    if within(o, off::TC_CLASSID, 4) || within(o, off::DATA_META, 4) || within(o, off::WIRE_LEN, 4)
    {
        return None;
    }
    if (within(o, off::DATA, 4) || within(o, off::DATA_END, 4)) && !privileged {
        return None;
    }
    if access == Access::Write {
        let writable = within(o, off::MARK, 4)
            || within(o, off::PRIORITY, 4)
            || within(o, off::CB, off::CB_END - off::CB)
            || (within(o, off::TSTAMP, 8) && privileged);
        if !writable {
            return None;
        }
    }
    let kind = if within(o, off::DATA, 4) {
        CtxField::PacketData
    } else if within(o, off::DATA_END, 4) {
        CtxField::PacketEnd
    } else {
        CtxField::Scalar
    };
    common(o, size, access, sx).map(|c| if c == CtxField::Scalar { kind } else { c })
}

/// Lightweight-tunnel programs (`lwt_is_valid_access`): packet reads, writes for xmit only.
pub(super) fn lwt(
    o: i64,
    size: u32,
    access: Access,
    sx: bool,
    t: lull_abi::ProgType,
) -> Option<CtxField> {
    if within(o, off::TC_CLASSID, 4)
        || (off::FAMILY..off::LOCAL_PORT_END).contains(&o)
        || within(o, off::DATA_META, 4)
        || within(o, off::TSTAMP, 8)
        || within(o, off::WIRE_LEN, 4)
        || within(o, off::HWTSTAMP, 8)
    {
        return None;
    }
    if access == Access::Write {
        let writable = within(o, off::MARK, 4)
            || within(o, off::PRIORITY, 4)
            || within(o, off::CB, off::CB_END - off::CB);
        if !writable
            || (t != lull_abi::ProgType::LwtXmit && !within(o, off::CB, off::CB_END - off::CB))
        {
            return None;
        }
    }
    let kind = if within(o, off::DATA, 4) {
        CtxField::PacketData
    } else if within(o, off::DATA_END, 4) {
        CtxField::PacketEnd
    } else {
        CtxField::Scalar
    };
    common(o, size, access, sx).map(|c| if c == CtxField::Scalar { kind } else { c })
}

/// `struct sk_msg_md` (`sk_msg_is_valid_access`): data/data_end pointers, socket fields, read-only.
pub(super) fn sk_msg(o: i64, size: u32, access: Access, _sx: bool) -> Option<CtxField> {
    if access == Access::Write || !(0..80).contains(&o) || o % size as i64 != 0 {
        return None;
    }
    match o {
        0 if size == 8 => Some(CtxField::PacketData),
        8 if size == 8 => Some(CtxField::PacketEnd),
        // family .. local_port, size (u32 each): full-width reads.
        16..72 if size == 4 => Some(CtxField::Scalar),
        // sk: PTR_TO_SOCKET.
        72 if size == 8 => Some(CtxField::Socket),
        _ => None,
    }
}
