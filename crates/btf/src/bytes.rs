//! Little-endian, bounds-checked reads from a byte slice (never panics).

use crate::error::{BtfError, Result};

/// Reads a little-endian `u32` at `off`, or reports what was being read.
pub(crate) fn u32_at(data: &[u8], off: usize, what: &'static str) -> Result<u32> {
    match off.checked_add(4).and_then(|end| data.get(off..end)) {
        Some(b) => Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(BtfError::Truncated {
            what,
            offset: off,
            need: 4,
            have: data.len().saturating_sub(off),
        }),
    }
}

/// Reads a little-endian `u16` at `off`.
pub(crate) fn u16_at(data: &[u8], off: usize, what: &'static str) -> Result<u16> {
    match off.checked_add(2).and_then(|end| data.get(off..end)) {
        Some(b) => Ok(u16::from_le_bytes([b[0], b[1]])),
        None => Err(BtfError::Truncated {
            what,
            offset: off,
            need: 2,
            have: data.len().saturating_sub(off),
        }),
    }
}

/// Returns `data[off..off + len]` or a truncation error.
pub(crate) fn slice_at<'a>(
    data: &'a [u8],
    off: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8]> {
    off.checked_add(len)
        .and_then(|end| data.get(off..end))
        .ok_or(BtfError::Truncated {
            what,
            offset: off,
            need: len,
            have: data.len().saturating_sub(off),
        })
}
