//! The abstract value of one register: its type ([`RegKind`]), a fixed offset, a variable
//! offset or value ([`Scalar`]), and the ids that link registers together (null checks, packet
//! ranges, acquired references). Mirrors the kernel's `struct bpf_reg_state`.

use crate::domain::Scalar;

/// What a register holds (the kernel's `enum bpf_reg_type`, base types).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum RegKind {
    /// Never written (or clobbered by a call): reading it is an error.
    NotInit,
    /// A number; the value is in [`Reg::var`].
    Scalar,
    /// The program's context.
    Ctx,
    /// A pointer into the stack of call frame `frame`.
    Stack {
        /// Frame number (0 = main program).
        frame: u8,
    },
    /// A map, from `ld_imm64` (`CONST_PTR_TO_MAP`).
    ConstMap {
        /// Index into the input's maps.
        map: u32,
    },
    /// A pointer into a map value.
    MapValue {
        /// Index into the input's maps.
        map: u32,
    },
    /// A pointer to a map key (callback arguments).
    MapKey {
        /// Index into the input's maps.
        map: u32,
    },
    /// Start of packet metadata.
    PacketMeta,
    /// Into the packet.
    Packet,
    /// One past the end of the packet.
    PacketEnd,
    /// Memory of a known size (helper results such as ring-buffer records).
    Mem {
        /// Size in bytes.
        size: u32,
        /// A ring-buffer record (`MEM_RINGBUF`).
        ringbuf: bool,
        /// Read-only (`MEM_RDONLY`).
        rdonly: bool,
        /// The dynptr this is a slice of (`dynptr_id`; 0: none): overwriting the dynptr
        /// invalidates it.
        dynptr: u32,
    },
    /// A `struct bpf_dynptr` the kernel passes to a callback (`CONST_PTR_TO_DYNPTR`).
    ConstDynptr(super::DynptrKind),
    /// The address of a subprogram (`PTR_TO_FUNC`).
    Func {
        /// Subprogram index.
        subprog: u32,
    },
    /// A socket (`PTR_TO_SOCK_COMMON`, `PTR_TO_SOCKET`, `PTR_TO_TCP_SOCK`, `PTR_TO_XDP_SOCK`).
    Sock(SockKind),
    /// A pointer to a kernel object (`PTR_TO_BTF_ID`): loads walk the struct's BTF when the
    /// type is known (`btf_id != 0`, an id in the kernel BTF), otherwise give numbers; stores
    /// are refused.
    KernelPtr {
        /// Struct type id in the kernel BTF (0: not known).
        btf_id: u32,
        /// The trust flags (`PTR_TRUSTED`, `MEM_RCU`, `PTR_UNTRUSTED` or none).
        trust: PtrTrust,
    },
}

/// How far a BTF-typed pointer may be trusted (the kernel's `PTR_TRUSTED` / `MEM_RCU` /
/// `PTR_UNTRUSTED` type flags, at most one of which a pointer carries here).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PtrTrust {
    /// No flag: the deprecated plain `PTR_TO_BTF_ID` (e.g. fentry arguments, legacy walks).
    Plain,
    /// `PTR_TRUSTED`: valid for the whole program (arguments of trusted hooks, referenced
    /// objects, `bpf_get_current_task_btf()`).
    Trusted,
    /// `MEM_RCU`: valid inside the current RCU read-side section.
    Rcu,
    /// `PTR_UNTRUSTED`: only readable with exception-handled loads.
    Untrusted,
}

impl RegKind {
    /// A `PTR_TO_BTF_ID` of unknown struct type with the given trust.
    pub const fn kernel_ptr(trust: PtrTrust) -> RegKind {
        RegKind::KernelPtr { btf_id: 0, trust }
    }
}

impl RegKind {
    /// Whether this is any pointer.
    pub fn is_pointer(self) -> bool {
        !matches!(self, RegKind::NotInit | RegKind::Scalar)
    }
    /// Packet or packet-meta pointer (not end).
    pub fn is_pkt(self) -> bool {
        matches!(self, RegKind::Packet | RegKind::PacketMeta)
    }
    /// The kernel's `reg_type_str` base name.
    pub fn name(self) -> &'static str {
        match self {
            RegKind::NotInit => "?",
            RegKind::Scalar => "scalar",
            RegKind::Ctx => "ctx",
            RegKind::Stack { .. } => "fp",
            RegKind::ConstMap { .. } => "map_ptr",
            RegKind::MapValue { .. } => "map_value",
            RegKind::MapKey { .. } => "map_key",
            RegKind::PacketMeta => "pkt_meta",
            RegKind::Packet => "pkt",
            RegKind::PacketEnd => "pkt_end",
            RegKind::Mem { ringbuf: true, .. } => "ringbuf_mem",
            RegKind::Mem { .. } => "mem",
            RegKind::Func { .. } => "func",
            RegKind::ConstDynptr(_) => "dynptr_ptr",
            RegKind::Sock(SockKind::Common) => "sock_common",
            RegKind::Sock(SockKind::Full) => "sock",
            RegKind::Sock(SockKind::Tcp) => "tcp_sock",
            RegKind::Sock(SockKind::Xdp) => "xdp_sock",
            RegKind::KernelPtr { trust, .. } => match trust {
                PtrTrust::Plain => "ptr_",
                PtrTrust::Trusted => "trusted_ptr_",
                PtrTrust::Rcu => "rcu_ptr_",
                PtrTrust::Untrusted => "untrusted_ptr_",
            },
        }
    }
}

/// Which socket view a socket pointer has.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SockKind {
    /// `struct bpf_sock` restricted to the fields common to all sockets.
    Common,
    /// A full socket (`struct bpf_sock`).
    Full,
    /// `struct bpf_tcp_sock`.
    Tcp,
    /// `struct bpf_xdp_sock`.
    Xdp,
}

/// Flag in a scalar's [`Reg::id`] (`BPF_ADD_CONST`): the register holds the linked value
/// plus the constant in [`Reg::off`] (from `rX = rY; rX += imm`), so a bound learned for one
/// of them carries over to the other shifted by the difference of their offsets.
pub const ADD_CONST: u32 = 1 << 31;

/// One register's abstract value.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Reg {
    /// Type.
    pub kind: RegKind,
    /// `PTR_MAYBE_NULL`: the pointer may be NULL until checked.
    pub maybe_null: bool,
    /// Fixed offset of a pointer.
    pub off: i32,
    /// The value of a scalar, or the variable offset of a pointer.
    pub var: Scalar,
    /// Links registers that hold the same value (null checks, packet ranges, scalar ids).
    pub id: u32,
    /// The acquired reference this pointer belongs to (0: none).
    pub ref_obj_id: u32,
    /// Packet pointers: bytes known to be in bounds after `off`.
    pub range: i32,
    /// Precision mark (the value matters to a decision already made).
    pub precise: bool,
}

impl Reg {
    /// An uninitialised register.
    pub const NOT_INIT: Reg = Reg {
        kind: RegKind::NotInit,
        maybe_null: false,
        off: 0,
        var: Scalar::unknown(),
        id: 0,
        ref_obj_id: 0,
        range: 0,
        precise: false,
    };

    /// An unknown number.
    pub fn unknown() -> Reg {
        Reg {
            kind: RegKind::Scalar,
            ..Reg::NOT_INIT
        }
    }
    /// A known number.
    pub fn known(v: u64) -> Reg {
        Reg {
            kind: RegKind::Scalar,
            var: Scalar::known(v),
            ..Reg::NOT_INIT
        }
    }
    /// A number with the given abstract value.
    pub fn scalar(var: Scalar) -> Reg {
        Reg {
            kind: RegKind::Scalar,
            var,
            ..Reg::NOT_INIT
        }
    }
    /// A pointer of `kind` with offset zero.
    pub fn pointer(kind: RegKind) -> Reg {
        Reg {
            kind,
            var: Scalar::known(0),
            ..Reg::NOT_INIT
        }
    }
    /// Whether this is a number.
    pub fn is_scalar(&self) -> bool {
        self.kind == RegKind::Scalar
    }
    /// Whether this is a pointer (`__is_pointer_value` with leaks disallowed).
    pub fn is_pointer(&self) -> bool {
        self.kind.is_pointer()
    }
    /// Whether this is the known number zero (`register_is_null`).
    pub fn is_null(&self) -> bool {
        self.is_scalar() && self.var.const_value() == Some(0)
    }
    /// The constant value, for a known scalar.
    pub fn const_value(&self) -> Option<u64> {
        if self.is_scalar() {
            self.var.const_value()
        } else {
            None
        }
    }
    /// The type name with flags as the kernel prints it (`map_value_or_null`, `rdonly_mem`...).
    pub fn type_str(&self) -> String {
        let mut s = String::new();
        if let RegKind::Mem { rdonly: true, .. } = self.kind {
            s.push_str("rdonly_");
        }
        s.push_str(self.kind.name());
        if self.maybe_null {
            // BTF pointers spell it `ptr_or_null_`.
            if matches!(self.kind, RegKind::KernelPtr { .. }) {
                s.push_str("or_null_");
            } else {
                s.push_str("_or_null");
            }
        }
        s
    }
}
