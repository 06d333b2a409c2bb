//! The string section of one BTF object. When the whole section is valid UTF-8 (always the
//! case for compiler- and pahole-produced BTF) it is kept as a `String`, so a lookup is a
//! NUL search plus an O(1) boundary check; otherwise each lookup validates its own string.

use std::ffi::CStr;

/// A NUL-separated string table.
#[derive(Debug, Clone)]
pub(crate) enum StrTab {
    /// Valid UTF-8 throughout.
    Text(String),
    /// Contains non-UTF-8 bytes somewhere.
    Bytes(Vec<u8>),
}

impl StrTab {
    pub(crate) fn new(bytes: &[u8]) -> StrTab {
        match std::str::from_utf8(bytes) {
            Ok(s) => StrTab::Text(s.to_owned()),
            Err(_) => StrTab::Bytes(bytes.to_vec()),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes().len()
    }

    fn bytes(&self) -> &[u8] {
        match self {
            StrTab::Text(s) => s.as_bytes(),
            StrTab::Bytes(b) => b,
        }
    }

    /// The bytes of the NUL-terminated string at `off`.
    pub(crate) fn bytes_at(&self, off: usize) -> Option<&[u8]> {
        let rest = self.bytes().get(off..)?;
        CStr::from_bytes_until_nul(rest).ok().map(CStr::to_bytes)
    }

    /// Whether `off` starts a valid string (cheaper than [`StrTab::str_at`]: a UTF-8 table
    /// ends in NUL, so any in-range character boundary starts a valid, terminated string).
    pub(crate) fn valid_off(&self, off: usize) -> bool {
        match self {
            StrTab::Text(s) => off < s.len() && s.is_char_boundary(off),
            StrTab::Bytes(_) => self.str_at(off).is_some(),
        }
    }

    /// The NUL-terminated string at `off`, if it is in range, terminated and valid UTF-8.
    pub(crate) fn str_at(&self, off: usize) -> Option<&str> {
        match self {
            StrTab::Text(s) => {
                let len = self.bytes_at(off)?.len();
                s.get(off..off + len)
            }
            StrTab::Bytes(_) => std::str::from_utf8(self.bytes_at(off)?).ok(),
        }
    }
}
