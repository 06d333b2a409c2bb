//! `Btf::struct_access` on hand-built types: nested structs, arrays of structs, unions
//! (untrusted pointers, relaxed bounds), bitfields, flexible arrays and pointer type tags.

use lull_btf::builder::BtfBuilder;
use lull_btf::{Btf, StructAccess, WalkFlags};

struct T {
    btf: Btf,
    outer: u32,
    inner: u32,
    u: u32,
    flex: u32,
}

/// struct inner { int a; struct inner __rcu *next; }            (16 bytes)
/// union u { int i; struct inner *p; }                          (8 bytes)
/// struct outer { int x:4; int y:4; struct inner in; struct inner arr[2]; union u un;
///                struct inner __user *up; int ints[4]; }       (88 bytes)
/// struct flex { long n; struct inner items[]; }                (8 bytes)
fn types() -> T {
    let mut b = BtfBuilder::new();
    let int = b.add_int("int", 4, true);
    let long = b.add_int("long", 8, true);
    let inner = b.next_id() + 2; // after the tag and pointer below
    let rcu = b.add_type_tag("rcu", inner);
    let rcu_ptr = b.add_ptr(rcu);
    let inner2 = b.add_struct("inner", 16, &[("a", int, 0), ("next", rcu_ptr, 64)]);
    assert_eq!(inner, inner2);
    let plain_ptr = b.add_ptr(inner);
    let u = b.add_union("u", 8, &[("i", int, 0), ("p", plain_ptr, 0)]);
    let arr2 = b.add_array(inner, int, 2);
    let user = b.add_type_tag("user", inner);
    let user_ptr = b.add_ptr(user);
    let ints = b.add_array(int, int, 4);
    let outer = b.add_struct_bitfields(
        "outer",
        88,
        &[
            ("x", int, 0, 4),
            ("y", int, 4, 4),
            ("in", inner, 64, 0),
            ("arr", arr2, 192, 0),
            ("un", u, 448, 0),
            ("up", user_ptr, 512, 0),
            ("ints", ints, 576, 0),
        ],
    );
    let flex_arr = b.add_array(inner, int, 0);
    let flex = b.add_struct("flex", 8, &[("n", long, 0), ("items", flex_arr, 64)]);
    T {
        btf: Btf::parse(&b.build()).unwrap(),
        outer,
        inner,
        u,
        flex,
    }
}

fn ptr(target: u32, field: &str, flags: WalkFlags) -> StructAccess {
    StructAccess::Ptr {
        target,
        flags,
        field: field.into(),
    }
}

#[test]
fn walks() {
    let t = types();
    let b = &t.btf;
    let acc = |off, size| b.struct_access(t.outer, off, size, true);
    let err = |off, size| acc(off, size).unwrap_err().message;
    let rcu = WalkFlags {
        rcu: true,
        ..Default::default()
    };
    // Bitfields: a whole-byte read covering x is a scalar.
    assert_eq!(acc(0, 1), Ok(StructAccess::Scalar));
    // Nested struct member pointer, with its __rcu tag.
    assert_eq!(acc(16, 8), Ok(ptr(t.inner, "next", rcu)));
    // Array of structs: arr[1].next.
    assert_eq!(acc(24 + 16 + 8, 8), Ok(ptr(t.inner, "next", rcu)));
    // __user pointer.
    assert_eq!(
        acc(64, 8),
        Ok(ptr(
            t.inner,
            "up",
            WalkFlags {
                user: true,
                ..Default::default()
            }
        ))
    );
    // Unions with several members make the walk untrusted; the first member that overlaps
    // wins, so an 8-byte read of `un` hits `int i` and (bounds relaxed) yields a scalar.
    assert_eq!(acc(56, 8), Ok(StructAccess::Scalar));
    assert_eq!(b.struct_access(t.u, 0, 8, true), Ok(StructAccess::Scalar));
    // Int arrays are scratch space up to their true end.
    assert_eq!(acc(72, 8), Ok(StructAccess::Scalar));
    assert_eq!(err(84, 8), "access beyond struct outer at off 84 size 8");
    // Reading 8 bytes at `in.a` (4 bytes): restarted inside `inner` at offset 0.
    assert_eq!(
        err(8, 8),
        "access beyond the end of member a (mend:4) in struct inner with off 0 size 8"
    );
    assert_eq!(
        err(20, 4),
        "cannot access ptr member next with moff 8 in struct inner with off 12 size 4"
    );
    // Holes: between `a` (4 bytes) and `next` at 8.
    assert_eq!(err(12, 2), "struct inner doesn't have field at offset 4");
    assert_eq!(err(12, 8), "struct inner doesn't have field at offset 4");
    // Flexible array of structs: items[3].next.
    let f = b.struct_access(t.flex, 8 + 3 * 16 + 8, 8, true);
    assert_eq!(f, Ok(ptr(t.inner, "next", rcu)));
    let f = b
        .struct_access(t.flex, 8 + 3 * 16 + 8, 8, false)
        .unwrap_err();
    assert_eq!(f.message, "access beyond struct flex at off 64 size 8");
    assert_eq!(f.errno, 13);
    // Not a struct.
    let e = b.struct_access(1, 0, 4, true).unwrap_err();
    assert_eq!(e.message, "Type 'int' is not a struct");
}
