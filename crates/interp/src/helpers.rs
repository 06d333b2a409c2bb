//! Host functions callable from BPF: the helper table (indexed by static helper id), the kfunc
//! table (keyed by BTF id, resolved to an index at prepare time), and the [`HelperContext`] a
//! host function gets to reach program memory and host state.
//!
//! Engine-neutral: a later JIT calls the same [`HelperFn`]s with the same context.

use std::any::Any;
use std::collections::HashMap;

use crate::fault::Access;
use crate::memory::Regions;

/// A helper or kfunc: five arguments (r1..r5) in, r0 out.
pub type HelperFn = fn(&mut HelperContext<'_>, [u64; 5]) -> Result<u64, HelperError>;

/// A named host function.
#[derive(Clone, Copy, Debug)]
pub struct Helper {
    /// Name used in error messages (`bpf_map_lookup_elem`, `gather_bytes`…).
    pub name: &'static str,
    /// The function.
    pub func: HelperFn,
}

/// What a host function can report instead of a return value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelperError {
    /// Stop the program now, as if the main function returned this r0 (used by the
    /// conformance suite's `unwind` helper). The engine turns this into a normal return.
    #[error("program exit requested with r0 = {0:#x}")]
    Exit(u64),
    /// An argument pointed outside the program's memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// Any other failure, described.
    #[error("{0}")]
    Failed(String),
}

/// A helper's access to memory outside the program's regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid {access} of {size} bytes at {addr:#x}")]
pub struct MemoryError {
    /// Start address.
    pub addr: u64,
    /// Length in bytes.
    pub size: u64,
    /// Direction.
    pub access: Access,
}

/// The helper table: static helper id → host function. Lookup is a vector index.
#[derive(Clone, Default, Debug)]
pub struct Helpers {
    table: Vec<Option<Helper>>,
}

impl Helpers {
    /// An empty table.
    pub fn new() -> Helpers {
        Helpers::default()
    }

    /// Registers `func` under helper id `id`, returning the helper it replaces.
    pub fn register(&mut self, id: u16, name: &'static str, func: HelperFn) -> Option<Helper> {
        let i = usize::from(id);
        if self.table.len() <= i {
            self.table.resize(i + 1, None);
        }
        self.table[i].replace(Helper { name, func })
    }

    /// The helper with this id, if registered.
    pub fn get(&self, id: u64) -> Option<&Helper> {
        let i = usize::try_from(id).ok()?;
        self.table.get(i)?.as_ref()
    }

    /// Registered ids in increasing order.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        self.table
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_some())
            .filter_map(|(i, _)| u16::try_from(i).ok())
    }
}

/// The kfunc table: (BTF id, module BTF index) → host function. Only `prepare` looks it up.
#[derive(Clone, Default, Debug)]
pub struct Kfuncs {
    table: HashMap<(i32, i16), Helper>,
}

impl Kfuncs {
    /// An empty table.
    pub fn new() -> Kfuncs {
        Kfuncs::default()
    }

    /// Registers a kfunc by its BTF id in module BTF `module` (0 = vmlinux).
    pub fn register(
        &mut self,
        btf_id: i32,
        module: i16,
        name: &'static str,
        func: HelperFn,
    ) -> Option<Helper> {
        self.table.insert((btf_id, module), Helper { name, func })
    }

    /// The kfunc registered for this BTF id.
    pub fn get(&self, btf_id: i32, module: i16) -> Option<&Helper> {
        self.table.get(&(btf_id, module))
    }
}

/// What a host function sees while it runs: checked access to the program's memory (the stack,
/// the input memory and host-registered regions, whatever the engine's mode) and the host state
/// passed to the run.
pub struct HelperContext<'a> {
    regions: &'a Regions,
    env: Option<&'a mut (dyn Any + 'static)>,
}

impl<'a> HelperContext<'a> {
    pub(crate) fn new(regions: &'a Regions, env: Option<&'a mut (dyn Any + 'static)>) -> Self {
        HelperContext { regions, env }
    }

    /// Copies `buf.len()` bytes starting at program address `addr` into `buf`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.regions.copy_out(addr, buf)
    }

    /// Copies `data` to program address `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        self.regions.copy_in(addr, data)
    }

    /// Reads a NUL-terminated string at `addr` (without the NUL), at most `max` bytes; fails if
    /// no NUL is found within `max` bytes of accessible memory.
    pub fn read_cstr(&self, addr: u64, max: usize) -> Result<Vec<u8>, MemoryError> {
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        for i in 0..max as u64 {
            self.read(addr.wrapping_add(i), &mut byte)?;
            if byte[0] == 0 {
                return Ok(out);
            }
            out.push(byte[0]);
        }
        Err(MemoryError {
            addr,
            size: max as u64 + 1,
            access: Access::Read,
        })
    }

    /// The host state passed to the run, if it has type `T`.
    pub fn env<T: Any>(&mut self) -> Option<&mut T> {
        self.env.as_deref_mut()?.downcast_mut::<T>()
    }
}
