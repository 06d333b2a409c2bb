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
    /// The calling function returns this r0 now, as if its next instruction were `exit`:
    /// the helper ran something in its place (a tail call taken inside a subprogram replaces
    /// only that function's frame, so its caller continues with the target's return value).
    /// From the main function this ends the run.
    #[error("function return requested with r0 = {0:#x}")]
    Return(u64),
    /// An argument pointed outside the program's memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// Any other failure, described.
    #[error("{0}")]
    Failed(String),
    /// A fault inside a callback the helper ran ([`HelperContext::call`]); the engine reports
    /// it as the run's fault.
    #[error("{0}")]
    Fault(Box<crate::Fault>),
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

/// What a host function sees while it runs: access to the program's memory (the stack, the input
/// memory and host-registered regions; validated in checked runs, direct in trusted runs), the
/// host state passed to the run, and calls back into the program (callbacks).
pub struct HelperContext<'a> {
    engine: &'a mut dyn Engine,
    env: Option<&'a mut (dyn Any + 'static)>,
}

/// The engine side of a helper call (implemented by the dispatch loop).
pub(crate) trait Engine {
    /// The run's regions.
    fn regions(&self) -> &Regions;
    /// The run's regions, to add one.
    fn regions_mut(&mut self) -> &mut Regions;
    /// Whether the run is trusted (no memory checks).
    fn trusted(&self) -> bool;
    /// Runs the function at raw slot `func` with r1..r5 = `args` in a new frame.
    fn call(
        &mut self,
        func: u64,
        args: [u64; 5],
        env: Option<&mut (dyn Any + 'static)>,
    ) -> Result<u64, crate::Fault>;
}

impl<'a> HelperContext<'a> {
    pub(crate) fn new(
        engine: &'a mut dyn Engine,
        env: Option<&'a mut (dyn Any + 'static)>,
    ) -> Self {
        HelperContext { engine, env }
    }

    /// Whether the run is trusted: accesses are not validated (see [`crate::Vm::run_trusted`]).
    pub fn is_trusted(&self) -> bool {
        self.engine.trusted()
    }

    /// Copies `buf.len()` bytes starting at program address `addr` into `buf`.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        if self.engine.trusted() {
            crate::memory::copy_out_trusted(addr, buf);
            return Ok(());
        }
        self.engine.regions().copy_out(addr, buf)
    }

    /// Copies `data` to program address `addr`.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemoryError> {
        if self.engine.trusted() {
            crate::memory::copy_in_trusted(addr, data);
            return Ok(());
        }
        self.engine.regions().copy_in(addr, data)
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

    /// A pointer to `size` bytes of program memory at `addr` allowing `access` (for helpers
    /// that operate in place, e.g. atomically). Checked runs validate it against the regions.
    pub fn resolve(&self, addr: u64, size: u64, access: Access) -> Result<*mut u8, MemoryError> {
        if self.engine.trusted() {
            return Ok(std::ptr::with_exposed_provenance_mut(addr as usize));
        }
        self.engine
            .regions()
            .resolve(addr, size, access)
            .ok_or(MemoryError { addr, size, access })
    }

    /// Makes `len` bytes at `ptr` accessible to the program for the rest of this run (e.g. a
    /// map value a lookup returned). A no-op in trusted runs.
    ///
    /// # Safety
    /// The memory must stay valid for reads (and writes with [`crate::Permission::ReadWrite`])
    /// until the run ends, and must not be accessed through Rust references meanwhile.
    #[allow(unsafe_code)] // an `unsafe fn`: the caller vouches for the region
    pub unsafe fn add_region(&mut self, ptr: *mut u8, len: usize, permission: crate::Permission) {
        if self.engine.trusted() {
            // Exposing keeps the trusted model's exposed-provenance accesses sound.
            let _ = ptr.expose_provenance();
            return;
        }
        // SAFETY: forwarded from this function's contract.
        let r = unsafe {
            crate::memory::Region::new(ptr, len, permission == crate::Permission::ReadWrite)
        };
        self.engine.regions_mut().add_run_region(r);
    }

    /// Calls the program's function whose address (an `lddw` of kind
    /// [`lull_isa::LdImm64Kind::Func`]) is `func`, with r1..r5 = `args`, in a new stack frame
    /// below the current one, and returns its r0 — how `bpf_loop` and
    /// `bpf_for_each_map_elem` run their callbacks. A fault inside the callback is returned
    /// as is; pass it up with `HelperError::Fault`.
    pub fn call(&mut self, func: u64, args: [u64; 5]) -> Result<u64, crate::Fault> {
        self.engine.call(func, args, self.env.as_deref_mut())
    }

    /// The host state passed to the run, if it has type `T`.
    pub fn env<T: Any>(&mut self) -> Option<&mut T> {
        self.env.as_deref_mut()?.downcast_mut::<T>()
    }
}
