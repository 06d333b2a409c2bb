//! The helper functions programs call, by kernel number, and the [`Registry`] through which a
//! host adds its own helpers and kfuncs.
//!
//! Ids and names come from the verifier's prototype table (`lull_verifier::proto`), so a
//! number means the same helper to the verifier and to the runtime. Each submodule implements
//! one family with the kernel's semantics and return codes: [`maps`](self::maps) (element
//! operations, queue/stack, per-CPU lookups), [`time`](self::time), [`task`](self::task)
//! (current task, user and kernel memory reads), [`trace`](self::trace) (`trace_printk`,
//! `snprintf`), [`ringbuf`](self::ringbuf), [`control`](self::control) (tail calls, callbacks,
//! spin locks, `strncmp`), [`packet`](self::packet) (`LD_ABS`/`LD_IND`), [`xdp`](self::xdp)
//! and [`skb`](self::skb) (moving and resizing packets), [`skb_data`](self::skb_data) (packet
//! bytes and checksums), [`socket`](self::socket) (socket lookups), [`strtox`](self::strtox)
//! (`bpf_strtol`/`bpf_strtoul`), [`kfuncs`](self::kfuncs)
//! (iterators, section markers, `bpf_copy_from_user_str`; registered by name and bound to
//! the kernel BTF's ids when a program is prepared).

pub mod control;
pub mod format;
pub mod kfuncs;
pub mod maps;
pub mod packet;
pub mod ringbuf;
pub mod skb;
pub mod skb_data;
pub mod socket;
pub mod strtox;
pub mod task;
pub mod time;
pub mod trace;
pub mod xdp;

use lull_btf::Btf;
use lull_interp::{HelperContext, HelperError, HelperFn, Helpers, Kfuncs};
use lull_isa::{CallTarget, Insn, Located};
use lull_maps::Map;
use lull_verifier::proto::HelperProto;

use crate::env::RunEnv;

/// Negative errnos as helpers return them.
pub(crate) mod errno {
    pub(crate) const E2BIG: i64 = -7;
    pub(crate) const EFAULT: i64 = -14;
    pub(crate) const EINVAL: i64 = -22;
}

/// A helper's return value for errno `e` (negative).
pub(crate) fn ret(e: i64) -> Result<u64, HelperError> {
    Ok(e as u64)
}

/// The run's [`RunEnv`] (every run of the runtime passes one).
pub(crate) fn env<'c>(ctx: &'c mut HelperContext<'_>) -> Result<&'c mut RunEnv, HelperError> {
    ctx.env::<RunEnv>()
        .ok_or_else(|| HelperError::Failed("helper called outside a Lull runtime run".into()))
}

/// The map a program passed, checked against the maps it may name in checked runs.
#[allow(unsafe_code)] // see the SAFETY comment inside
pub(crate) fn map_arg<'m>(
    ctx: &mut HelperContext<'_>,
    handle: u64,
) -> Result<&'m Map, HelperError> {
    if !env(ctx)?.knows_map(handle) {
        return Err(HelperError::Failed(format!(
            "{handle:#x} is not a map of this program"
        )));
    }
    // SAFETY: the handle is one of the run's maps (checked above in checked runs; in trusted
    // runs the verifier proved the argument is a map pointer from `ld_imm64` or a map-in-map
    // lookup), all of which outlive the run's read section.
    Ok(unsafe { crate::raw::map_from_handle(handle) })
}

/// Copies `len` bytes of program memory (a key or value argument).
pub(crate) fn read_vec(
    ctx: &HelperContext<'_>,
    addr: u64,
    len: usize,
) -> Result<Vec<u8>, HelperError> {
    let mut v = vec![0u8; len];
    ctx.read(addr, &mut v)?;
    Ok(v)
}

/// A small stack buffer for keys (most keys are a few bytes) with a heap fallback.
pub(crate) enum KeyBuf {
    Small([u8; 64], usize),
    Large(Vec<u8>),
}

impl KeyBuf {
    /// Reads `len` bytes at `addr`.
    pub(crate) fn read(
        ctx: &HelperContext<'_>,
        addr: u64,
        len: usize,
    ) -> Result<KeyBuf, HelperError> {
        if len <= 64 {
            let mut b = [0u8; 64];
            ctx.read(addr, &mut b[..len])?;
            Ok(KeyBuf::Small(b, len))
        } else {
            Ok(KeyBuf::Large(read_vec(ctx, addr, len)?))
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            KeyBuf::Small(b, n) => &b[..*n],
            KeyBuf::Large(v) => v,
        }
    }
}

/// One registered host function with its prototype, if known.
#[derive(Clone, Debug)]
pub struct Registered {
    /// Kernel (or host-chosen) name.
    pub name: &'static str,
    /// The function.
    pub func: HelperFn,
    /// Prototype (for host helpers: what the verifier should check; informational for now).
    pub proto: Option<HelperProto>,
}

/// The helpers and kfuncs a runtime offers programs.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    helpers: Vec<(u16, Registered)>,
    /// Ids whose helper is still the kernel implementation [`Registry::kernel`] put there.
    kernel_ids: Vec<u16>,
    kfuncs: Vec<(i32, Registered)>,
    kfuncs_by_name: Vec<Registered>,
}

impl Registry {
    /// An empty registry.
    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Every helper Lull implements, under its kernel id.
    pub fn kernel() -> Registry {
        let mut r = Registry::empty();
        for &(id, f) in maps::HELPERS
            .iter()
            .chain(time::HELPERS)
            .chain(task::HELPERS)
            .chain(trace::HELPERS)
            .chain(ringbuf::HELPERS)
            .chain(control::HELPERS)
            .chain(xdp::HELPERS)
            .chain(skb::HELPERS)
            .chain(skb_data::HELPERS)
            .chain(socket::HELPERS)
            .chain(strtox::HELPERS)
        {
            r.add_kernel_helper(id, f);
        }
        for &(name, f) in kfuncs::KFUNCS {
            r.add_kfunc_by_name(name, f, None);
        }
        r
    }

    fn add_kernel_helper(&mut self, id: u16, func: HelperFn) {
        let i = i32::from(id);
        let proto = lull_verifier::proto::is_modelled(i).then(|| lull_verifier::proto::lookup(i));
        self.add_helper(id, lull_verifier::proto::helper_name(i), func, proto);
        self.kernel_ids.push(id);
    }

    /// Whether helper `id` is Lull's implementation of the kernel helper with that id (not
    /// replaced by the host): the JIT may then inline it.
    pub(crate) fn is_kernel_helper(&self, id: u16) -> bool {
        self.kernel_ids.contains(&id)
    }

    /// Adds (or replaces) helper `id`.
    pub fn add_helper(
        &mut self,
        id: u16,
        name: &'static str,
        func: HelperFn,
        proto: Option<HelperProto>,
    ) {
        self.helpers.retain(|(i, _)| *i != id);
        self.kernel_ids.retain(|i| *i != id);
        self.helpers.push((id, Registered { name, func, proto }));
    }

    /// Adds (or replaces) a kfunc by its BTF id (in vmlinux BTF).
    pub fn add_kfunc(
        &mut self,
        btf_id: i32,
        name: &'static str,
        func: HelperFn,
        proto: Option<HelperProto>,
    ) {
        self.kfuncs.retain(|(i, _)| *i != btf_id);
        self.kfuncs.push((btf_id, Registered { name, func, proto }));
    }

    /// Adds (or replaces) a kfunc by its kernel name: calls whose BTF id names `name` in the
    /// runtime's kernel BTF reach `func`. A kfunc added by id takes precedence.
    pub fn add_kfunc_by_name(
        &mut self,
        name: &'static str,
        func: HelperFn,
        proto: Option<HelperProto>,
    ) {
        self.kfuncs_by_name.retain(|r| r.name != name);
        self.kfuncs_by_name.push(Registered { name, func, proto });
    }

    /// The kfunc registered under `name`.
    pub fn kfunc_by_name(&self, name: &str) -> Option<&Registered> {
        self.kfuncs_by_name.iter().find(|r| r.name == name)
    }

    /// The helper registered under `id`.
    pub fn helper(&self, id: u16) -> Option<&Registered> {
        self.helpers.iter().find(|(i, _)| *i == id).map(|(_, r)| r)
    }

    /// Registered helper ids, ascending.
    pub fn helper_ids(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.helpers.iter().map(|(i, _)| *i).collect();
        v.sort_unstable();
        v
    }

    /// The interpreter's tables for a program: every helper, the kfuncs registered by id,
    /// and each vmlinux kfunc `insns` call whose name in `kernel_btf` is registered. A call
    /// that resolves to nothing is left out (preparing the program then names its id).
    pub(crate) fn tables(&self, insns: &[Located], kernel_btf: Option<&Btf>) -> (Helpers, Kfuncs) {
        let mut h = Helpers::new();
        for (id, r) in &self.helpers {
            h.register(*id, r.name, r.func);
        }
        let mut k = Kfuncs::new();
        if let Some(btf) = kernel_btf {
            for l in insns {
                if let Insn::Call(CallTarget::Kfunc { btf_id, module: 0 }) = l.insn
                    && let Ok(id) = u32::try_from(btf_id)
                    && let Some(r) = self.kfunc_by_name(btf.name_of(id))
                {
                    k.register(btf_id, 0, r.name, r.func);
                }
            }
        }
        for (id, r) in &self.kfuncs {
            k.register(*id, 0, r.name, r.func);
        }
        (h, k)
    }
}
