//! [`Map`]: one BPF map of any supported type, with the program-facing operations (pointers
//! into value memory, per-CPU selection, push/pop, tail-call slots, ring buffer) and the
//! host-facing ones with the `bpf()` syscall's semantics (copies, access flags, frozen maps,
//! `get_next_key`, batch operations).

use crate::array::ArrayMap;
use crate::error::{MapError, MapResult};
use crate::fd::{FdArray, HashOfMaps, ProgHandle};
use crate::hash::{Batch, HashMap};
use crate::queue_stack::QueueStack;
use crate::ringbuf::RingBuf;
use crate::spec::{self, MapContext, MapSpec, inner_compatible, update_flags as uf};
use lull_abi::MapType;
use lull_abi::map_flags as mf;
use lull_rcu::Section;
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

static NEXT_ID: AtomicU32 = AtomicU32::new(1);
/// Maps created and not yet dropped (process-wide), for leak checks.
static LIVE_MAPS: AtomicUsize = AtomicUsize::new(0);

enum Kind {
    Array(ArrayMap),
    Hash(HashMap),
    Queue(QueueStack),
    Ringbuf(RingBuf),
    ProgArray(FdArray<ProgHandle>),
    ArrayOfMaps(FdArray<Arc<Map>>),
    HashOfMaps(HashOfMaps),
}

/// A BPF map.
///
/// Program-side operations (`lookup`, `update_from_prog`, …) expect the calling thread to be
/// inside a read section of the map's RCU domain ([`Map::domain`]) for as long as it uses a
/// returned pointer — the runtime opens one around every program run. Host-side operations
/// open their own.
pub struct Map {
    id: u32,
    spec: MapSpec,
    nr_cpus: u32,
    domain: lull_rcu::Domain,
    frozen: AtomicBool,
    kind: Kind,
}

impl Drop for Map {
    fn drop(&mut self) {
        LIVE_MAPS.fetch_sub(1, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Map {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map")
            .field("id", &self.id)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

fn key_u32(key: &[u8]) -> MapResult<u32> {
    key.get(..4)
        .and_then(|k| k.try_into().ok())
        .map(u32::from_ne_bytes)
        .ok_or_else(|| MapError::invalid("array keys are 4 bytes"))
}

impl Map {
    /// `BPF_MAP_CREATE`: validates `spec` with the kernel's rules and allocates the map.
    pub fn create(spec: MapSpec, ctx: &MapContext) -> MapResult<Arc<Map>> {
        spec::validate(&spec)?;
        if let Some(off) = spec.spin_lock_off
            && (off % 4 != 0 || u64::from(off) + 4 > u64::from(spec.value_size))
        {
            return Err(MapError::invalid(
                "bpf_spin_lock offset outside the value or misaligned",
            ));
        }
        let nr_cpus = ctx.nr_cpus.max(1);
        let domain = ctx.domain.clone();
        let kind = match spec.map_type {
            MapType::Array | MapType::PercpuArray => Kind::Array(ArrayMap::new(&spec, nr_cpus)?),
            MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
                Kind::Hash(HashMap::new(&spec, nr_cpus, domain.clone(), None)?)
            }
            MapType::Queue => {
                Kind::Queue(QueueStack::new(spec.max_entries, spec.value_size, false)?)
            }
            MapType::Stack => {
                Kind::Queue(QueueStack::new(spec.max_entries, spec.value_size, true)?)
            }
            MapType::Ringbuf => Kind::Ringbuf(RingBuf::new(spec.max_entries)?),
            MapType::ProgArray => Kind::ProgArray(FdArray::new(spec.max_entries)),
            MapType::ArrayOfMaps => Kind::ArrayOfMaps(FdArray::new(spec.max_entries)),
            MapType::HashOfMaps => {
                Kind::HashOfMaps(HashOfMaps::new(&spec, nr_cpus, domain.clone())?)
            }
            other => {
                return Err(MapError::invalid(format!(
                    "map type {other} is not supported by Lull"
                )));
            }
        };
        let mut spec = spec;
        if let Kind::Hash(h) = &kind {
            spec.max_entries = h.max_entries();
        }
        LIVE_MAPS.fetch_add(1, Ordering::Relaxed);
        Ok(Arc::new(Map {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            spec,
            nr_cpus,
            domain,
            frozen: AtomicBool::new(false),
            kind,
        }))
    }

    /// Creates a global-data map (a one-element array) holding `data` — what libbpf does for
    /// `.data`/`.bss`/`.rodata`; `.rodata` should then be [`Map::freeze`]d.
    pub fn create_with_data(spec: MapSpec, ctx: &MapContext, data: &[u8]) -> MapResult<Arc<Map>> {
        if spec.map_type != MapType::Array || spec.max_entries != 1 {
            return Err(MapError::invalid(
                "global data maps are single-element arrays",
            ));
        }
        if data.len() > spec.value_size as usize {
            return Err(MapError::invalid("initial data larger than the value"));
        }
        let map = Map::create(spec, ctx)?;
        let mut value = vec![0u8; map.spec.value_size as usize];
        value[..data.len()].copy_from_slice(data);
        if let Kind::Array(a) = &map.kind {
            a.update(0, &value, uf::BPF_ANY, None)?;
        }
        Ok(map)
    }

    /// Maps of this process created and not yet dropped. A map a program may still use is
    /// dropped only after both grace periods of its domain, so after the last handle is gone
    /// and [`lull_rcu::Domain::barrier`] has run, the count is back where it was.
    pub fn live_count() -> usize {
        LIVE_MAPS.load(Ordering::Relaxed)
    }

    /// The map's id (unique in the process, like the kernel's map ids).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The spec it was created from (hash maps with per-CPU LRU lists: effective max_entries).
    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    /// The map type.
    pub fn map_type(&self) -> MapType {
        self.spec.map_type
    }

    /// Number of virtual CPUs of per-CPU values.
    pub fn nr_cpus(&self) -> u32 {
        self.nr_cpus
    }

    /// The RCU domain readers of this map must enter.
    pub fn domain(&self) -> &lull_rcu::Domain {
        &self.domain
    }

    /// Value size as the host sees it (per-CPU: one 8-byte-rounded value per CPU).
    pub fn host_value_size(&self) -> usize {
        self.spec.host_value_size(self.nr_cpus)
    }

    /// Whether programs may write values (`BPF_F_RDONLY_PROG` clear).
    pub fn prog_can_write(&self) -> bool {
        self.spec.flags & mf::RDONLY_PROG == 0
    }

    /// Whether programs may read values (`BPF_F_WRONLY_PROG` clear).
    pub fn prog_can_read(&self) -> bool {
        self.spec.flags & mf::WRONLY_PROG == 0
    }

    fn check_key(&self, key: &[u8]) -> MapResult<()> {
        if key.len() != self.spec.key_size as usize {
            return Err(MapError::invalid(format!(
                "key is {} bytes, map key_size is {}",
                key.len(),
                self.spec.key_size
            )));
        }
        Ok(())
    }

    fn check_value(&self, value: &[u8], len: usize) -> MapResult<()> {
        if value.len() < len {
            return Err(MapError::invalid(format!(
                "value is {} bytes, need {len}",
                value.len()
            )));
        }
        Ok(())
    }

    // ----- program side -------------------------------------------------------------------

    /// `bpf_map_lookup_elem` from a program running on `cpu`: a pointer to the value in place
    /// (this CPU's value for per-CPU maps; the inner [`Map`] for map-in-map; `None` for maps
    /// programs cannot look up). Sets the LRU reference bit. Key length is the map's key_size.
    #[inline]
    pub fn lookup(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        match &self.kind {
            Kind::Array(a) => a.value_ptr(key_u32(key).ok()?, cpu),
            Kind::Hash(h) => h.lookup(key, cpu, true),
            Kind::ArrayOfMaps(fa) => {
                NonNull::new(fa.map_raw(key_u32(key).ok()?).cast::<u8>().cast_mut())
            }
            Kind::HashOfMaps(hm) => NonNull::new(hm.lookup_raw(key).cast::<u8>().cast_mut()),
            Kind::Queue(_) | Kind::Ringbuf(_) | Kind::ProgArray(_) => None,
        }
    }

    /// `bpf_map_lookup_percpu_elem`: CPU `cpu`'s value of a per-CPU map (`None` if not
    /// per-CPU, CPU out of range, or key absent).
    pub fn lookup_percpu(&self, key: &[u8], cpu: u32) -> Option<NonNull<u8>> {
        if !self.spec.is_percpu() || cpu >= self.nr_cpus {
            return None;
        }
        match &self.kind {
            Kind::Array(a) => a.value_ptr(key_u32(key).ok()?, cpu),
            Kind::Hash(h) => h.lookup_percpu(key, cpu),
            _ => None,
        }
    }

    /// `bpf_map_update_elem` from a program on `cpu` (per-CPU maps: that CPU's value only).
    pub fn update_from_prog(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: u32,
    ) -> MapResult<()> {
        self.check_key(key)?;
        self.check_value(value, self.spec.value_size as usize)?;
        match &self.kind {
            Kind::Array(a) => a.update(key_u32(key)?, value, flags, Some(cpu)),
            Kind::Hash(h) => h.update(key, value, flags, Some(cpu)),
            _ => Err(MapError::invalid("programs cannot update this map type")),
        }
    }

    /// `bpf_map_delete_elem` from a program.
    pub fn delete_from_prog(&self, key: &[u8]) -> MapResult<()> {
        self.check_key(key)?;
        match &self.kind {
            Kind::Array(_) => Err(MapError::invalid("array elements cannot be deleted")),
            Kind::Hash(h) => h.delete(key),
            _ => Err(MapError::invalid(
                "programs cannot delete from this map type",
            )),
        }
    }

    fn queue(&self) -> MapResult<&QueueStack> {
        match &self.kind {
            Kind::Queue(q) => Ok(q),
            _ => Err(MapError::invalid("not a queue or stack map")),
        }
    }

    /// `bpf_map_push_elem` (queue/stack): `BPF_EXIST` overwrites the oldest when full.
    pub fn push(&self, value: &[u8], flags: u64) -> MapResult<()> {
        self.check_value(value, self.spec.value_size as usize)?;
        self.queue()?.push(value, flags)
    }

    /// `bpf_map_pop_elem` (queue/stack) into `out` (`value_size` bytes; zeroed if empty).
    pub fn pop(&self, out: &mut [u8]) -> MapResult<()> {
        self.check_value(out, self.spec.value_size as usize)?;
        self.queue()?.get(out, true)
    }

    /// `bpf_map_peek_elem` (queue/stack).
    pub fn peek(&self, out: &mut [u8]) -> MapResult<()> {
        self.check_value(out, self.spec.value_size as usize)?;
        self.queue()?.get(out, false)
    }

    /// The ring buffer of a `RINGBUF` map.
    pub fn ringbuf(&self) -> Option<&RingBuf> {
        match &self.kind {
            Kind::Ringbuf(r) => Some(r),
            _ => None,
        }
    }

    /// `bpf_tail_call`'s lookup: the program in slot `index`, valid while `section` lives.
    /// (The caller enforces the tail-call limit, [`spec::MAX_TAIL_CALL_CNT`].)
    pub fn tail_call_target<'a>(
        &'a self,
        section: &'a impl Section,
        index: u32,
    ) -> Option<&'a ProgHandle> {
        match &self.kind {
            Kind::ProgArray(fa) => fa.get(section, index),
            _ => None,
        }
    }

    /// `BPF_PSEUDO_MAP_VALUE`: address of byte `off` of a single-element array's value
    /// (`-ENOTSUPP` for other maps, `-EINVAL` when `off` is outside the value).
    pub fn direct_value_addr(&self, off: u32) -> MapResult<NonNull<u8>> {
        match &self.kind {
            Kind::Array(a) if !self.spec.is_percpu() => {
                if self.spec.max_entries != 1 {
                    return Err(MapError::NotSupported(
                        "direct value access needs max_entries == 1",
                    ));
                }
                if off >= self.spec.value_size {
                    return Err(MapError::invalid("offset outside the value"));
                }
                a.value_ptr(0, 0)
                    .map(|p| p.as_ptr().wrapping_add(off as usize))
                    .and_then(NonNull::new)
                    .ok_or(MapError::NotFound)
            }
            _ => Err(MapError::NotSupported("direct value access is for arrays")),
        }
    }

    // ----- host side (bpf() syscall semantics) ------------------------------------------

    fn can_read(&self) -> MapResult<()> {
        if self.spec.flags & mf::WRONLY != 0 {
            return Err(MapError::Permission(
                "map is write-only for the host (BPF_F_WRONLY)",
            ));
        }
        Ok(())
    }

    fn can_write(&self) -> MapResult<()> {
        if self.spec.flags & mf::RDONLY != 0 {
            return Err(MapError::Permission(
                "map is read-only for the host (BPF_F_RDONLY)",
            ));
        }
        if self.frozen.load(Ordering::Acquire) {
            return Err(MapError::Permission("map is frozen"));
        }
        Ok(())
    }

    fn check_lock_flag(&self, flags: u64) -> MapResult<()> {
        if flags & !uf::BPF_F_LOCK != 0 {
            return Err(MapError::invalid(format!("unknown flags {flags:#x}")));
        }
        if flags & uf::BPF_F_LOCK != 0 && self.spec.spin_lock_off.is_none() {
            return Err(MapError::invalid(
                "BPF_F_LOCK on a value without bpf_spin_lock",
            ));
        }
        Ok(())
    }

    /// `BPF_MAP_LOOKUP_ELEM`: copies the value (per-CPU: all CPUs; map-in-map: the inner
    /// map's id; queue/stack: peek, `key` ignored). `flags`: 0 or `BPF_F_LOCK`.
    pub fn lookup_copy(&self, key: &[u8], flags: u64) -> MapResult<Vec<u8>> {
        let mut out = vec![0u8; self.host_value_size()];
        self.lookup_copy_into(key, &mut out, flags)?;
        Ok(out)
    }

    /// [`Map::lookup_copy`] into a caller buffer of at least [`Map::host_value_size`] bytes.
    pub fn lookup_copy_into(&self, key: &[u8], out: &mut [u8], flags: u64) -> MapResult<()> {
        self.check_lock_flag(flags)?;
        self.can_read()?;
        self.check_value(out, self.host_value_size())?;
        let lock = flags & uf::BPF_F_LOCK != 0;
        match &self.kind {
            Kind::Queue(q) => q.get(out, false),
            Kind::Ringbuf(_) => Err(MapError::NotSupported("ring buffers have no elements")),
            Kind::ProgArray(_) => Err(MapError::NotSupported("prog_array: use prog_slot_is_set")),
            _ => {
                self.check_key(key)?;
                match &self.kind {
                    Kind::Array(a) => a.lookup_copy(key_u32(key)?, out, lock),
                    Kind::Hash(h) => h.lookup_copy(key, out, lock),
                    Kind::ArrayOfMaps(_) | Kind::HashOfMaps(_) => {
                        let inner = self.inner_map(key).ok_or(MapError::NotFound)?;
                        out[..4].copy_from_slice(&inner.id().to_ne_bytes());
                        Ok(())
                    }
                    _ => unreachable!("handled above"),
                }
            }
        }
    }

    /// `BPF_MAP_UPDATE_ELEM` (queue/stack: push). fd maps take handles instead: see
    /// [`Map::update_inner_map`] and [`Map::set_prog`].
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> MapResult<()> {
        self.can_write()?;
        if flags & uf::BPF_F_LOCK != 0 && self.spec.spin_lock_off.is_none() {
            return Err(MapError::invalid(
                "BPF_F_LOCK on a value without bpf_spin_lock",
            ));
        }
        match &self.kind {
            Kind::Queue(q) => {
                self.check_value(value, self.spec.value_size as usize)?;
                q.push(value, flags)
            }
            Kind::Ringbuf(_) => Err(MapError::NotSupported("ring buffers have no elements")),
            Kind::ProgArray(_) | Kind::ArrayOfMaps(_) | Kind::HashOfMaps(_) => Err(
                MapError::invalid("fd maps store handles: use set_prog / update_inner_map"),
            ),
            Kind::Array(a) => {
                self.check_key(key)?;
                self.check_value(value, self.host_value_size())?;
                a.update(key_u32(key)?, value, flags, None)
            }
            Kind::Hash(h) => {
                self.check_key(key)?;
                self.check_value(value, self.host_value_size())?;
                h.update(key, value, flags, None)
            }
        }
    }

    /// `BPF_MAP_DELETE_ELEM`.
    pub fn delete(&self, key: &[u8]) -> MapResult<()> {
        self.can_write()?;
        match &self.kind {
            Kind::Queue(_) => Err(MapError::invalid(
                "queue/stack elements cannot be deleted by key",
            )),
            Kind::Ringbuf(_) => Err(MapError::NotSupported("ring buffers have no elements")),
            Kind::Array(_) => {
                self.check_key(key)?;
                Err(MapError::invalid("array elements cannot be deleted"))
            }
            Kind::Hash(h) => {
                self.check_key(key)?;
                h.delete(key)
            }
            Kind::HashOfMaps(hm) => {
                self.check_key(key)?;
                hm.hash.delete(key)
            }
            Kind::ProgArray(fa) => {
                self.check_key(key)?;
                fa.clear(key_u32(key)?, &self.domain)
            }
            Kind::ArrayOfMaps(fa) => {
                self.check_key(key)?;
                fa.clear(key_u32(key)?, &self.domain)
            }
        }
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`: hash maps (flags 0 or `BPF_F_LOCK`) and queue/stack
    /// (pop; flags must be 0); `-ENOTSUPP` for other types.
    pub fn lookup_and_delete(&self, key: &[u8], flags: u64) -> MapResult<Vec<u8>> {
        if flags & !uf::BPF_F_LOCK != 0 {
            return Err(MapError::invalid(format!("unknown flags {flags:#x}")));
        }
        self.can_read()?;
        self.can_write()?;
        if flags != 0 && matches!(self.kind, Kind::Queue(_)) {
            return Err(MapError::invalid("queue/stack pop takes no flags"));
        }
        self.check_lock_flag(flags)?;
        let mut out = vec![0u8; self.host_value_size()];
        match &self.kind {
            Kind::Queue(q) => q.get(&mut out, true)?,
            Kind::Hash(h) => {
                self.check_key(key)?;
                h.lookup_and_delete(key, &mut out, flags)?
            }
            _ => return Err(MapError::NotSupported("lookup_and_delete on this map type")),
        }
        Ok(out)
    }

    /// `BPF_MAP_GET_NEXT_KEY`: `None` (or, for hash maps, a missing key) gives the first key;
    /// `-ENOENT` after the last.
    pub fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        self.can_read()?;
        if let Some(k) = key {
            self.check_key(k)?;
        }
        let mut out = vec![0u8; self.spec.key_size as usize];
        match &self.kind {
            Kind::Array(_) | Kind::ProgArray(_) | Kind::ArrayOfMaps(_) => {
                let next = array_next(key.map(key_u32).transpose()?, self.spec.max_entries)?;
                out.copy_from_slice(&next.to_ne_bytes());
            }
            Kind::Hash(h) => h.get_next_key(key, &mut out)?,
            Kind::HashOfMaps(hm) => hm.hash.get_next_key(key, &mut out)?,
            Kind::Queue(_) => return Err(MapError::invalid("queue/stack have no keys")),
            Kind::Ringbuf(_) => return Err(MapError::NotSupported("ring buffers have no keys")),
        }
        Ok(out)
    }

    /// `BPF_MAP_FREEZE`: the host can no longer write (programs still can unless
    /// `BPF_F_RDONLY_PROG`). `-EBUSY` if already frozen, `-EPERM` without write access,
    /// `-ENOTSUPP` for values with a `bpf_spin_lock`.
    pub fn freeze(&self) -> MapResult<()> {
        if self.spec.spin_lock_off.is_some() {
            return Err(MapError::NotSupported(
                "maps with special fields cannot be frozen",
            ));
        }
        if self.spec.flags & mf::RDONLY != 0 {
            return Err(MapError::Permission("no write access to freeze"));
        }
        if self.frozen.swap(true, Ordering::AcqRel) {
            return Err(MapError::Busy("map already frozen"));
        }
        Ok(())
    }

    /// Whether [`Map::freeze`] was called.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(Ordering::Acquire)
    }

    /// Puts `prog` into slot `index` of a `PROG_ARRAY` (`-E2BIG` out of range; the replaced
    /// program is released after the grace periods).
    pub fn set_prog(&self, index: u32, prog: ProgHandle) -> MapResult<()> {
        self.can_write()?;
        match &self.kind {
            Kind::ProgArray(fa) => fa.set(index, prog, uf::BPF_ANY, &self.domain),
            _ => Err(MapError::invalid("not a prog_array")),
        }
    }

    /// Whether slot `index` of a `PROG_ARRAY` holds a program.
    pub fn prog_slot_is_set(&self, index: u32) -> bool {
        matches!(&self.kind, Kind::ProgArray(fa) if fa.is_set(index))
    }

    /// Stores `inner` under `key` of an array/hash of maps; `-EINVAL` when its spec does not
    /// match the outer map's inner template (type, key/value size, flags, and for arrays
    /// without `BPF_F_INNER_MAP` max_entries).
    pub fn update_inner_map(&self, key: &[u8], inner: Arc<Map>, flags: u64) -> MapResult<()> {
        self.can_write()?;
        self.check_key(key)?;
        let template = self
            .spec
            .inner
            .as_deref()
            .ok_or_else(|| MapError::invalid("not a map-in-map"))?;
        match &self.kind {
            Kind::ArrayOfMaps(fa) => {
                if !inner_compatible(template, inner.spec()) {
                    return Err(MapError::invalid(
                        "inner map does not match the outer map's inner spec",
                    ));
                }
                fa.set(key_u32(key)?, inner, flags, &self.domain)
            }
            Kind::HashOfMaps(hm) => hm.set(key, inner, flags),
            _ => Err(MapError::invalid("not a map-in-map")),
        }
    }

    /// A reference to the inner map stored under `key`.
    pub fn inner_map(&self, key: &[u8]) -> Option<Arc<Map>> {
        match &self.kind {
            Kind::ArrayOfMaps(fa) => {
                let g = self.domain.read_atomic();
                fa.get(&g, key_u32(key).ok()?).cloned()
            }
            Kind::HashOfMaps(hm) => hm.get(key, &self.domain),
            _ => None,
        }
    }

    /// Number of elements present (hash: linked elements; queue/stack: queued values;
    /// arrays: max_entries; fd arrays: occupied slots).
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Array(_) => self.spec.max_entries as usize,
            Kind::Hash(h) => h.len(),
            Kind::HashOfMaps(hm) => hm.hash.len(),
            Kind::Queue(q) => q.len() as usize,
            Kind::Ringbuf(_) => 0,
            Kind::ProgArray(fa) => (0..self.spec.max_entries).filter(|&i| fa.is_set(i)).count(),
            Kind::ArrayOfMaps(fa) => (0..self.spec.max_entries).filter(|&i| fa.is_set(i)).count(),
        }
    }

    /// Whether [`Map::len`] is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `bpf_for_each_map_elem` over arrays and hash maps: `f(key, value_ptr)` until it
    /// returns false; returns the number of calls. Per-CPU maps pass CPU `cpu`'s value.
    pub fn for_each(
        &self,
        cpu: u32,
        mut f: impl FnMut(&[u8], NonNull<u8>) -> bool,
    ) -> MapResult<u32> {
        let mut n = 0;
        match &self.kind {
            Kind::Array(a) => {
                for i in 0..self.spec.max_entries {
                    let p = a
                        .value_ptr(i, cpu.min(self.nr_cpus - 1))
                        .ok_or(MapError::NotFound)?;
                    n += 1;
                    if !f(&i.to_ne_bytes(), p) {
                        break;
                    }
                }
            }
            Kind::Hash(h) => h.for_each(self.spec.key_size as usize, cpu, |k, v| {
                n += 1;
                f(k, v)
            }),
            _ => return Err(MapError::invalid("for_each on this map type")),
        }
        Ok(n)
    }

    // ----- batch operations ---------------------------------------------------------------

    fn batch_lookup(
        &self,
        in_batch: Option<&[u8]>,
        count: u32,
        elem_flags: u64,
        delete: bool,
    ) -> MapResult<Batch> {
        self.check_lock_flag(elem_flags)?;
        self.can_read()?;
        if delete {
            self.can_write()?;
        }
        let lock = elem_flags & uf::BPF_F_LOCK != 0;
        match &self.kind {
            Kind::Hash(h) => h.batch(
                in_batch,
                count,
                self.spec.key_size as usize,
                self.host_value_size(),
                lock,
                delete,
            ),
            Kind::HashOfMaps(hm) => hm.hash.batch(
                in_batch,
                count,
                self.spec.key_size as usize,
                4,
                lock,
                delete,
            ),
            Kind::Array(_) | Kind::ArrayOfMaps(_) if !delete => {
                self.generic_lookup_batch(in_batch, count, elem_flags)
            }
            _ => Err(MapError::NotSupported(
                "batch operation not supported by this map type",
            )),
        }
    }

    fn generic_lookup_batch(
        &self,
        in_batch: Option<&[u8]>,
        count: u32,
        elem_flags: u64,
    ) -> MapResult<Batch> {
        let mut out = Batch::default();
        if count == 0 {
            return Ok(out);
        }
        let mut prev: Option<Vec<u8>> = in_batch.map(<[u8]>::to_vec);
        while out.count < count {
            let key = match self.get_next_key(prev.as_deref()) {
                Ok(k) => k,
                Err(e) => {
                    out.status = Err(e);
                    break;
                }
            };
            match self.lookup_copy(&key, elem_flags) {
                Ok(v) => {
                    out.keys.extend_from_slice(&key);
                    out.values.extend_from_slice(&v);
                    out.count += 1;
                }
                Err(MapError::NotFound) => {}
                Err(e) => return Err(e),
            }
            prev = Some(key);
        }
        if out.count > 0 {
            out.next = prev.unwrap_or_default();
        }
        Ok(out)
    }

    /// `BPF_MAP_LOOKUP_BATCH`. The token is a key for arrays, a bucket index for hashes.
    pub fn lookup_batch(
        &self,
        in_batch: Option<&[u8]>,
        count: u32,
        elem_flags: u64,
    ) -> MapResult<Batch> {
        self.batch_lookup(in_batch, count, elem_flags, false)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH` (hash maps).
    pub fn lookup_and_delete_batch(
        &self,
        in_batch: Option<&[u8]>,
        count: u32,
        elem_flags: u64,
    ) -> MapResult<Batch> {
        self.batch_lookup(in_batch, count, elem_flags, true)
    }

    /// `BPF_MAP_UPDATE_BATCH`: `count` keys and host values back to back; returns how many
    /// were applied and the first error.
    pub fn update_batch(
        &self,
        keys: &[u8],
        values: &[u8],
        count: u32,
        elem_flags: u64,
    ) -> (u32, MapResult<()>) {
        if let Err(e) = self.check_lock_flag(elem_flags) {
            return (0, Err(e));
        }
        if !matches!(self.kind, Kind::Array(_) | Kind::Hash(_)) {
            return (
                0,
                Err(MapError::NotSupported("batch update on this map type")),
            );
        }
        let (ks, vs) = (self.spec.key_size as usize, self.host_value_size());
        for i in 0..count as usize {
            let (Some(k), Some(v)) = (
                keys.get(i * ks..(i + 1) * ks),
                values.get(i * vs..(i + 1) * vs),
            ) else {
                return (
                    i as u32,
                    Err(MapError::invalid("batch buffers shorter than count")),
                );
            };
            if let Err(e) = self.update(k, v, elem_flags) {
                return (i as u32, Err(e));
            }
        }
        (count, Ok(()))
    }

    /// `BPF_MAP_DELETE_BATCH` (hash maps): returns how many were deleted and the first error.
    pub fn delete_batch(&self, keys: &[u8], count: u32, elem_flags: u64) -> (u32, MapResult<()>) {
        if let Err(e) = self.check_lock_flag(elem_flags) {
            return (0, Err(e));
        }
        if !matches!(self.kind, Kind::Hash(_) | Kind::HashOfMaps(_)) {
            return (
                0,
                Err(MapError::NotSupported("batch delete on this map type")),
            );
        }
        let ks = self.spec.key_size as usize;
        for i in 0..count as usize {
            let Some(k) = keys.get(i * ks..(i + 1) * ks) else {
                return (
                    i as u32,
                    Err(MapError::invalid("batch buffer shorter than count")),
                );
            };
            if let Err(e) = self.delete(k) {
                return (i as u32, Err(e));
            }
        }
        (count, Ok(()))
    }
}

/// `array_map_get_next_key`.
fn array_next(key: Option<u32>, max_entries: u32) -> MapResult<u32> {
    let index = key.unwrap_or(u32::MAX);
    if index >= max_entries {
        return Ok(0);
    }
    if index == max_entries - 1 {
        return Err(MapError::NotFound);
    }
    Ok(index + 1)
}
