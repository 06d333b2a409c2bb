//! Map descriptors (`MapSpec`), the runtime context maps are created in (`MapContext`), the
//! update/ring-buffer flag constants, and the kernel's creation-time validation
//! (`map_alloc_check` and the checks in `map_create`/`*_map_alloc`) with its errnos.

use crate::error::{MapError, MapResult};
use lull_abi::MapType;
use lull_abi::map_flags as mf;

/// Flags of `bpf_map_update_elem` and friends.
pub mod update_flags {
    /// `BPF_ANY`: create or update.
    pub const BPF_ANY: u64 = 0;
    /// `BPF_NOEXIST`: create only.
    pub const BPF_NOEXIST: u64 = 1;
    /// `BPF_EXIST`: update only (for queue/stack push: overwrite the oldest when full).
    pub const BPF_EXIST: u64 = 2;
    /// `BPF_F_LOCK`: take the value's `bpf_spin_lock` while copying.
    pub const BPF_F_LOCK: u64 = 4;
}

/// Ring buffer flags and `bpf_ringbuf_query` selectors.
pub mod ringbuf_flags {
    /// `BPF_RB_NO_WAKEUP`: never notify the consumer for this record.
    pub const BPF_RB_NO_WAKEUP: u64 = 1 << 0;
    /// `BPF_RB_FORCE_WAKEUP`: always notify the consumer for this record.
    pub const BPF_RB_FORCE_WAKEUP: u64 = 1 << 1;
    /// `BPF_RB_AVAIL_DATA`: bytes not yet consumed.
    pub const BPF_RB_AVAIL_DATA: u64 = 0;
    /// `BPF_RB_RING_SIZE`: size of the data area.
    pub const BPF_RB_RING_SIZE: u64 = 1;
    /// `BPF_RB_CONS_POS`: consumer position (wraps).
    pub const BPF_RB_CONS_POS: u64 = 2;
    /// `BPF_RB_PROD_POS`: producer position (wraps).
    pub const BPF_RB_PROD_POS: u64 = 3;
    /// `BPF_RINGBUF_BUSY_BIT` of a record header's length word.
    pub const BPF_RINGBUF_BUSY_BIT: u32 = 1 << 31;
    /// `BPF_RINGBUF_DISCARD_BIT` of a record header's length word.
    pub const BPF_RINGBUF_DISCARD_BIT: u32 = 1 << 30;
    /// `BPF_RINGBUF_HDR_SZ`: size of a record header.
    pub const BPF_RINGBUF_HDR_SZ: u32 = 8;
}

/// The kernel's `PCPU_MIN_UNIT_SIZE`: bound of a per-CPU value.
pub const PCPU_MIN_UNIT_SIZE: u32 = 32 * 1024;
/// The kernel's `KMALLOC_MAX_SIZE` on x86-64 (4 MiB).
pub const KMALLOC_MAX_SIZE: u64 = 4 << 20;
/// The kernel's `MAX_TAIL_CALL_CNT`: tail calls a program chain may make.
pub const MAX_TAIL_CALL_CNT: u32 = 33;
/// Size of the kernel's `struct htab_elem` header, used in the key+value size bound.
const HTAB_ELEM_HDR: u64 = 48;
/// The page size ring buffers must be aligned to.
pub const PAGE_SIZE: u32 = 4096;

/// Describes a map to create (the fields of `BPF_MAP_CREATE` Lull uses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (4 for fd maps: prog_array, array/hash of maps).
    pub value_size: u32,
    /// Capacity (ring buffer: data size in bytes).
    pub max_entries: u32,
    /// `BPF_F_*` map flags (`lull_abi::map_flags`).
    pub flags: u32,
    /// For array_of_maps/hash_of_maps: the template every inner map must match.
    pub inner: Option<Box<MapSpec>>,
    /// The map's name (informational).
    pub name: String,
    /// Offset of a `struct bpf_spin_lock` in the value, if the value's BTF has one.
    pub spin_lock_off: Option<u32>,
}

impl MapSpec {
    /// A spec with no flags, no inner map, no spin lock.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            inner: None,
            name: String::new(),
            spin_lock_off: None,
        }
    }

    /// Builder: set the flags.
    pub fn with_flags(mut self, flags: u32) -> MapSpec {
        self.flags = flags;
        self
    }

    /// Builder: set the name.
    pub fn with_name(mut self, name: impl Into<String>) -> MapSpec {
        self.name = name.into();
        self
    }

    /// Builder: set the inner-map template (map-in-map).
    pub fn with_inner(mut self, inner: MapSpec) -> MapSpec {
        self.inner = Some(Box::new(inner));
        self
    }

    /// Builder: the value holds a `bpf_spin_lock` at this offset.
    pub fn with_spin_lock(mut self, off: u32) -> MapSpec {
        self.spin_lock_off = Some(off);
        self
    }

    /// The spec libbpf creates for a global-data section (`.data`, `.bss`, `.rodata`): a
    /// one-element array whose value is the section; `.rodata` is `BPF_F_RDONLY_PROG` (and is
    /// frozen after its contents are written).
    pub fn global_data(name: impl Into<String>, size: u32, read_only: bool) -> MapSpec {
        let flags = if read_only { mf::RDONLY_PROG } else { 0 };
        MapSpec::new(MapType::Array, 4, size, 1)
            .with_flags(flags)
            .with_name(name)
    }

    /// True for the per-CPU value types.
    pub fn is_percpu(&self) -> bool {
        matches!(
            self.map_type,
            MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash
        )
    }

    /// Size of the value as the host (`bpf()` syscall ABI) sees it: per-CPU maps carry one
    /// 8-byte-rounded value per CPU; the fd maps carry a 4-byte id.
    pub fn host_value_size(&self, nr_cpus: u32) -> usize {
        if self.is_percpu() {
            round_up8(self.value_size) as usize * nr_cpus as usize
        } else {
            self.value_size as usize
        }
    }
}

/// Where maps live: the number of virtual CPUs and the RCU domain through which element
/// memory is reclaimed.
#[derive(Clone)]
pub struct MapContext {
    /// Number of virtual CPUs; per-CPU maps keep this many values per element.
    pub nr_cpus: u32,
    /// The reclamation domain readers (programs) of these maps enter.
    pub domain: lull_rcu::Domain,
}

impl MapContext {
    /// A context with `nr_cpus` virtual CPUs and the process-wide RCU domain.
    pub fn new(nr_cpus: u32) -> MapContext {
        MapContext {
            nr_cpus: nr_cpus.max(1),
            domain: lull_rcu::Domain::global().clone(),
        }
    }

    /// A context with its own RCU domain.
    pub fn with_domain(nr_cpus: u32, domain: lull_rcu::Domain) -> MapContext {
        MapContext {
            nr_cpus: nr_cpus.max(1),
            domain,
        }
    }
}

impl Default for MapContext {
    /// As many virtual CPUs as the machine has.
    fn default() -> Self {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        MapContext::new(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

impl std::fmt::Debug for MapContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapContext")
            .field("nr_cpus", &self.nr_cpus)
            .field("domain", &self.domain.id())
            .finish()
    }
}

/// Rounds up to a multiple of 8.
pub(crate) const fn round_up8(n: u32) -> u32 {
    (n + 7) & !7
}

const ACCESS_MASK: u32 = mf::RDONLY | mf::RDONLY_PROG | mf::WRONLY | mf::WRONLY_PROG;
const ARRAY_FLAGS: u32 =
    mf::NUMA_NODE | mf::MMAPABLE | ACCESS_MASK | mf::PRESERVE_ELEMS | mf::INNER_MAP;
const HTAB_FLAGS: u32 =
    mf::NO_PREALLOC | mf::NO_COMMON_LRU | mf::NUMA_NODE | ACCESS_MASK | mf::ZERO_SEED;
const QUEUE_STACK_FLAGS: u32 = mf::NUMA_NODE | ACCESS_MASK;
const RINGBUF_FLAGS: u32 = mf::NUMA_NODE;

fn access_ok(flags: u32) -> bool {
    flags & (mf::RDONLY_PROG | mf::WRONLY_PROG) != (mf::RDONLY_PROG | mf::WRONLY_PROG)
}

fn einval(spec: &MapSpec, why: impl std::fmt::Display) -> MapError {
    MapError::invalid(format!("{} map: {why}", spec.map_type))
}

/// Checks a spec as `BPF_MAP_CREATE` does, in the kernel's order, and returns the kernel's
/// errno for the first violated rule.
pub fn validate(spec: &MapSpec) -> MapResult<()> {
    if spec.flags & mf::RDONLY != 0 && spec.flags & mf::WRONLY != 0 {
        return Err(einval(spec, "BPF_F_RDONLY and BPF_F_WRONLY are exclusive"));
    }
    match spec.map_type {
        MapType::Array | MapType::PercpuArray => check_array(spec),
        MapType::ProgArray | MapType::ArrayOfMaps => {
            check_fd_map(spec)?;
            check_array(spec)?;
            if spec.map_type == MapType::ArrayOfMaps {
                check_inner(spec)?;
            }
            Ok(())
        }
        MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
            check_htab(spec)
        }
        MapType::HashOfMaps => {
            if spec.value_size != 4 {
                return Err(einval(spec, "value_size must be 4 (a map fd)"));
            }
            check_htab(spec)?;
            check_inner(spec)
        }
        MapType::Queue | MapType::Stack => check_queue_stack(spec),
        MapType::Ringbuf => check_ringbuf(spec),
        other => Err(MapError::invalid(format!(
            "map type {other} is not supported by Lull"
        ))),
    }
}

fn check_fd_map(spec: &MapSpec) -> MapResult<()> {
    if spec.value_size != 4 {
        return Err(einval(spec, "value_size must be 4 (an fd)"));
    }
    if spec.flags & (mf::RDONLY_PROG | mf::WRONLY_PROG) != 0 {
        return Err(einval(
            spec,
            "BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG not supported for fd maps",
        ));
    }
    Ok(())
}

fn check_array(spec: &MapSpec) -> MapResult<()> {
    let percpu = spec.map_type == MapType::PercpuArray;
    if spec.max_entries == 0 {
        return Err(einval(spec, "max_entries must not be 0"));
    }
    if spec.key_size != 4 {
        return Err(einval(
            spec,
            format!("key_size must be 4, not {}", spec.key_size),
        ));
    }
    if spec.value_size == 0 {
        return Err(einval(spec, "value_size must not be 0"));
    }
    if spec.flags & !ARRAY_FLAGS != 0 {
        return Err(einval(
            spec,
            format!("unsupported flags {:#x}", spec.flags & !ARRAY_FLAGS),
        ));
    }
    if !access_ok(spec.flags) {
        return Err(einval(
            spec,
            "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are exclusive",
        ));
    }
    if percpu && spec.flags & mf::NUMA_NODE != 0 {
        return Err(einval(spec, "per-CPU arrays take no NUMA node"));
    }
    if spec.map_type != MapType::Array && spec.flags & (mf::MMAPABLE | mf::INNER_MAP) != 0 {
        return Err(einval(
            spec,
            "BPF_F_MMAPABLE/BPF_F_INNER_MAP only for plain arrays",
        ));
    }
    if spec.flags & mf::PRESERVE_ELEMS != 0 {
        return Err(einval(
            spec,
            "BPF_F_PRESERVE_ELEMS only for perf event arrays",
        ));
    }
    if spec.value_size > i32::MAX as u32 {
        return Err(MapError::TooBig("value_size above INT_MAX"));
    }
    if percpu && round_up8(spec.value_size) > PCPU_MIN_UNIT_SIZE {
        return Err(MapError::TooBig("per-CPU value above PCPU_MIN_UNIT_SIZE"));
    }
    Ok(())
}

fn check_htab(spec: &MapSpec) -> MapResult<()> {
    let percpu = matches!(spec.map_type, MapType::PercpuHash | MapType::LruPercpuHash);
    let lru = matches!(spec.map_type, MapType::LruHash | MapType::LruPercpuHash);
    let percpu_lru = spec.flags & mf::NO_COMMON_LRU != 0;
    let prealloc = spec.flags & mf::NO_PREALLOC == 0;
    if spec.flags & !HTAB_FLAGS != 0 {
        return Err(einval(
            spec,
            format!("unsupported flags {:#x}", spec.flags & !HTAB_FLAGS),
        ));
    }
    if !access_ok(spec.flags) {
        return Err(einval(
            spec,
            "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are exclusive",
        ));
    }
    if !lru && percpu_lru {
        return Err(einval(spec, "BPF_F_NO_COMMON_LRU needs an LRU map"));
    }
    if lru && !prealloc {
        return Err(MapError::NotSupported(
            "LRU maps are always preallocated (BPF_F_NO_PREALLOC)",
        ));
    }
    if spec.flags & mf::NUMA_NODE != 0 && (percpu || percpu_lru) {
        return Err(einval(spec, "per-CPU maps take no NUMA node"));
    }
    if spec.max_entries == 0 || spec.key_size == 0 || spec.value_size == 0 {
        return Err(einval(
            spec,
            "max_entries, key_size and value_size must not be 0",
        ));
    }
    if u64::from(spec.key_size) + u64::from(spec.value_size) >= KMALLOC_MAX_SIZE - HTAB_ELEM_HDR {
        return Err(MapError::TooBig(
            "key_size + value_size above KMALLOC_MAX_SIZE",
        ));
    }
    if percpu && round_up8(spec.value_size) > PCPU_MIN_UNIT_SIZE {
        return Err(MapError::TooBig("per-CPU value above PCPU_MIN_UNIT_SIZE"));
    }
    if spec.max_entries > 1 << 31 {
        return Err(MapError::TooBig("max_entries above 2^31"));
    }
    Ok(())
}

fn check_queue_stack(spec: &MapSpec) -> MapResult<()> {
    if spec.max_entries == 0 || spec.key_size != 0 || spec.value_size == 0 {
        return Err(einval(
            spec,
            "key_size must be 0, max_entries and value_size not 0",
        ));
    }
    if spec.flags & !QUEUE_STACK_FLAGS != 0 {
        return Err(einval(
            spec,
            format!("unsupported flags {:#x}", spec.flags & !QUEUE_STACK_FLAGS),
        ));
    }
    if !access_ok(spec.flags) {
        return Err(einval(
            spec,
            "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG are exclusive",
        ));
    }
    if u64::from(spec.value_size) > KMALLOC_MAX_SIZE {
        return Err(MapError::TooBig("value_size above KMALLOC_MAX_SIZE"));
    }
    if spec.max_entries >= u32::MAX / spec.value_size {
        return Err(MapError::TooBig("max_entries * value_size overflows"));
    }
    Ok(())
}

fn check_ringbuf(spec: &MapSpec) -> MapResult<()> {
    if spec.flags & !RINGBUF_FLAGS != 0 {
        return Err(einval(
            spec,
            format!("unsupported flags {:#x}", spec.flags & !RINGBUF_FLAGS),
        ));
    }
    if spec.key_size != 0 || spec.value_size != 0 {
        return Err(einval(spec, "key_size and value_size must be 0"));
    }
    if !spec.max_entries.is_power_of_two() || !spec.max_entries.is_multiple_of(PAGE_SIZE) {
        return Err(einval(
            spec,
            format!(
                "max_entries ({}) must be a power of 2 and a multiple of the page size",
                spec.max_entries
            ),
        ));
    }
    Ok(())
}

fn check_inner(spec: &MapSpec) -> MapResult<()> {
    let Some(inner) = spec.inner.as_deref() else {
        return Err(einval(spec, "map-in-map needs an inner map template"));
    };
    if inner.inner.is_some() || matches!(inner.map_type, MapType::ArrayOfMaps | MapType::HashOfMaps)
    {
        return Err(einval(spec, "map-in-map supports one level only"));
    }
    if inner.map_type == MapType::ProgArray {
        return Err(MapError::NotSupported("prog_array cannot be an inner map"));
    }
    validate(inner)
}

/// The kernel's `bpf_map_meta_equal` (+ `array_map_meta_equal`): may `candidate` be stored in
/// an outer map whose template is `meta`?
pub fn inner_compatible(meta: &MapSpec, candidate: &MapSpec) -> bool {
    let base = meta.map_type == candidate.map_type
        && meta.key_size == candidate.key_size
        && meta.value_size == candidate.value_size
        && meta.flags == candidate.flags
        && meta.spin_lock_off == candidate.spin_lock_off;
    if !base {
        return false;
    }
    if meta.map_type == MapType::Array && meta.flags & mf::INNER_MAP == 0 {
        return meta.max_entries == candidate.max_entries;
    }
    true
}
