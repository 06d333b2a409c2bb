//! `BPF_MAP_TYPE_QUEUE` and `BPF_MAP_TYPE_STACK` (`kernel/bpf/queue_stack_maps.c`): a ring of
//! `max_entries + 1` value slots under one lock. Values are copied in and out (programs never
//! get pointers into it), so this module needs no raw memory.
//!
//! Push with `BPF_EXIST` on a full map overwrites the oldest element; without it a full map
//! gives `-E2BIG`; pop/peek of an empty map give `-ENOENT` (and zero the output).

use crate::error::{MapError, MapResult};
use crate::spec::update_flags as uf;
use std::sync::Mutex;

struct Ring {
    head: u32,
    tail: u32,
    data: Vec<u8>,
}

/// A queue (FIFO) or stack (LIFO).
pub(crate) struct QueueStack {
    ring: Mutex<Ring>,
    size: u32,
    value_size: usize,
    lifo: bool,
}

impl QueueStack {
    pub(crate) fn new(max_entries: u32, value_size: u32, lifo: bool) -> MapResult<QueueStack> {
        let size = max_entries
            .checked_add(1)
            .ok_or(MapError::TooBig("max_entries too large"))?;
        let bytes = (size as usize)
            .checked_mul(value_size as usize)
            .ok_or(MapError::TooBig("queue size overflows"))?;
        let mut data = Vec::new();
        data.try_reserve_exact(bytes)
            .map_err(|_| MapError::NoMemory("queue storage"))?;
        data.resize(bytes, 0);
        Ok(QueueStack {
            ring: Mutex::new(Ring {
                head: 0,
                tail: 0,
                data,
            }),
            size,
            value_size: value_size as usize,
            lifo,
        })
    }

    fn slot(&self, i: u32) -> std::ops::Range<usize> {
        let s = i as usize * self.value_size;
        s..s + self.value_size
    }

    /// `queue_stack_map_push_elem`.
    pub(crate) fn push(&self, value: &[u8], flags: u64) -> MapResult<()> {
        if flags & uf::BPF_NOEXIST != 0 || flags > uf::BPF_EXIST {
            return Err(MapError::invalid(format!(
                "push flags {flags:#x} (only BPF_ANY or BPF_EXIST)"
            )));
        }
        let mut r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let next_head = if r.head + 1 >= self.size {
            0
        } else {
            r.head + 1
        };
        if next_head == r.tail {
            if flags & uf::BPF_EXIST == 0 {
                return Err(MapError::TooBig("queue/stack is full"));
            }
            r.tail = if r.tail + 1 >= self.size {
                0
            } else {
                r.tail + 1
            };
        }
        let range = self.slot(r.head);
        r.data[range].copy_from_slice(&value[..self.value_size]);
        r.head = next_head;
        Ok(())
    }

    /// Pop (`delete`) or peek.
    pub(crate) fn get(&self, out: &mut [u8], delete: bool) -> MapResult<()> {
        let out = &mut out[..self.value_size];
        let mut r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if r.head == r.tail {
            out.fill(0);
            return Err(MapError::NotFound);
        }
        if self.lifo {
            let index = if r.head == 0 {
                self.size - 1
            } else {
                r.head - 1
            };
            out.copy_from_slice(&r.data[self.slot(index)]);
            if delete {
                r.head = index;
            }
        } else {
            out.copy_from_slice(&r.data[self.slot(r.tail)]);
            if delete {
                r.tail = if r.tail + 1 >= self.size {
                    0
                } else {
                    r.tail + 1
                };
            }
        }
        Ok(())
    }

    /// Number of queued values.
    pub(crate) fn len(&self) -> u32 {
        let r = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        (r.head + self.size - r.tail) % self.size
    }
}
