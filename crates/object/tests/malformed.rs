//! Malformed objects give clear errors, never panics: truncation, broken headers, bad
//! relocations and symbols, odd-sized code, and corrupted BTF.

mod common;

use lull_object::{Object, ObjectError};

fn base() -> Option<Vec<u8>> {
    Some(std::fs::read(common::compile("subprogs")?).unwrap())
}

fn u16at(b: &[u8], o: usize) -> usize {
    u16::from_le_bytes([b[o], b[o + 1]]) as usize
}
fn u32at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64at(b: &[u8], o: usize) -> usize {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize
}

/// (header offset, name, sh_type, file offset, size) of every section.
fn sections(b: &[u8]) -> Vec<(usize, String, u32, usize, usize)> {
    let shoff = u64at(b, 0x28);
    let n = u16at(b, 0x3c);
    let shstr = u16at(b, 0x3e);
    let str_off = u64at(b, shoff + shstr * 64 + 0x18);
    (0..n)
        .map(|i| {
            let h = shoff + i * 64;
            let no = str_off + u32at(b, h) as usize;
            let end = b[no..].iter().position(|&c| c == 0).unwrap();
            let name = String::from_utf8_lossy(&b[no..no + end]).into_owned();
            (
                h,
                name,
                u32at(b, h + 4),
                u64at(b, h + 0x18),
                u64at(b, h + 0x20),
            )
        })
        .collect()
}

fn find(b: &[u8], name: &str) -> (usize, String, u32, usize, usize) {
    sections(b).into_iter().find(|s| s.1 == name).unwrap()
}

fn err_of(b: &[u8]) -> String {
    match Object::parse(b) {
        Ok(_) => panic!("malformed object was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_truncation_is_an_error() {
    let Some(b) = base() else { return };
    for len in (0..b.len()).step_by(7) {
        // Truncations that only cut trailing sections' contents may still fail; none may panic.
        let _ = Object::parse(&b[..len]);
    }
    assert!(err_of(&b[..0]).contains("not an ELF"));
    assert!(
        err_of(&b[..b.len() / 2]).contains("malformed ELF"),
        "{}",
        err_of(&b[..b.len() / 2])
    );
}

#[test]
fn header_problems() {
    let Some(b) = base() else { return };
    let mut be = b.clone();
    be[5] = 2;
    assert_eq!(err_of(&be), "big-endian objects are not supported");
    let mut c32 = b.clone();
    c32[4] = 1;
    assert!(err_of(&c32).contains("64-bit"));
    let mut m = b.clone();
    m[0x12] = 62; // EM_X86_64
    assert!(err_of(&m).contains("EM_BPF"));
    let mut sh = b.clone();
    sh[0x28..0x30].copy_from_slice(&(b.len() as u64 + 100).to_le_bytes());
    assert!(err_of(&sh).contains("section header"), "{}", err_of(&sh));
    // A section whose data lies outside the file.
    let mut d = b.clone();
    let (h, ..) = find(&b, "socket");
    d[h + 0x18..h + 0x20].copy_from_slice(&(b.len() as u64).to_le_bytes());
    assert!(err_of(&d).contains("socket"), "{}", err_of(&d));
}

#[test]
fn relocation_problems() {
    let Some(b) = base() else { return };
    let (_, _, _, roff, _) = find(&b, ".relsocket");
    // Offset outside the section.
    let mut o = b.clone();
    o[roff..roff + 8].copy_from_slice(&0x1000u64.to_le_bytes());
    let e = err_of(&o);
    assert!(
        e.contains("section 'socket'") && e.contains("offset 0x1000") && e.contains("outside"),
        "{e}"
    );
    // Misaligned offset.
    let mut o = b.clone();
    o[roff..roff + 8].copy_from_slice(&12u64.to_le_bytes());
    assert!(err_of(&o).contains("instruction boundary"));
    // Offset on an instruction that is neither call nor ld_imm64.
    let mut o = b.clone();
    o[roff..roff + 8].copy_from_slice(&0u64.to_le_bytes());
    let e = err_of(&o);
    assert!(e.contains("does not match instruction code 0x61"), "{e}");
    // Symbol index past the symbol table.
    let mut o = b.clone();
    o[roff + 12..roff + 16].copy_from_slice(&0xffffu32.to_le_bytes());
    assert!(err_of(&o).contains("refers to symbol 65535"));
    // Wrong relocation type for a call.
    let mut o = b.clone();
    o[roff + 8..roff + 12].copy_from_slice(&1u32.to_le_bytes());
    assert!(err_of(&o).contains("does not match"));
}

#[test]
fn odd_sized_code_and_bad_symbols() {
    let Some(b) = base() else { return };
    // Shrink the size of the 'socket' section to a non-multiple of 8: its functions now
    // cross the section end.
    let mut o = b.clone();
    let (h, ..) = find(&b, "socket");
    let size = u64at(&b, h + 0x20) as u64;
    o[h + 0x20..h + 0x28].copy_from_slice(&(size - 3).to_le_bytes());
    let e = err_of(&o);
    assert!(
        e.contains("section 'socket'") && e.contains("crosses"),
        "{e}"
    );
    // A function symbol with an odd size.
    let (_, _, _, symoff, symsize) = find(&b, ".symtab");
    let mut o = b.clone();
    let mut patched = false;
    for i in 0..symsize / 24 {
        let s = symoff + i * 24;
        if o[s + 4] & 0xf == 2 {
            o[s + 16..s + 24].copy_from_slice(&13u64.to_le_bytes());
            patched = true;
            break;
        }
    }
    assert!(patched);
    assert!(err_of(&o).contains("corrupted"), "{}", err_of(&o));
}

#[test]
fn corrupted_btf() {
    let Some(b) = base() else { return };
    let (_, _, _, off, size) = find(&b, ".BTF");
    // Bad magic.
    let mut o = b.clone();
    o[off] = 0;
    let e = Object::parse(&o).unwrap_err();
    assert!(matches!(e, ObjectError::Btf { .. }), "{e}");
    // String offset pointing far outside the string section (first type's name_off).
    let hdr_len = u32at(&b, off + 4) as usize;
    let type_off = u32at(&b, off + 8) as usize;
    let mut o = b.clone();
    let t0 = off + hdr_len + type_off;
    o[t0..t0 + 4].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let e = err_of(&o);
    assert!(e.contains(".BTF") && e.contains("string offset"), "{e}");
    // A type that refers to itself (a loop): make the first type a pointer to type 1.
    let mut o = b.clone();
    o[t0 + 4..t0 + 8].copy_from_slice(&(2u32 << 24).to_le_bytes()); // KIND_PTR, vlen 0
    o[t0 + 8..t0 + 12].copy_from_slice(&1u32.to_le_bytes());
    let _ = Object::parse(&o); // must not hang or panic; loops are caught where walked
    // Every truncation of the BTF section length.
    for cut in (0..size).step_by(5) {
        let mut o = b.clone();
        let (h, ..) = find(&b, ".BTF");
        o[h + 0x20..h + 0x28].copy_from_slice(&(cut as u64).to_le_bytes());
        let _ = Object::parse(&o);
    }
}
