//! Per-kind relocation values from a (local or target) spec, and the combination of both into
//! a result (libbpf's `bpf_core_calc_*_relo`). A missing target spec means "no candidate
//! matched": existence kinds yield 0, type kinds yield 0, others request poisoning.

use super::spec::Spec;
use super::{CoreError, CoreReloKind};
use crate::types::{TypeId, TypeKind};

/// Combined local/target values (libbpf's `bpf_core_relo_res`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Calc {
    pub orig_val: u64,
    pub new_val: u64,
    pub poison: bool,
    pub validate: bool,
    pub fail_memsz_adjust: bool,
    pub orig_sz: u32,
    pub new_sz: u32,
}

/// A field value plus, for byte offsets, the accessed field's size and type.
#[derive(Debug, Clone, Copy, Default)]
struct FieldVal {
    val: u64,
    size: u32,
    type_id: TypeId,
    validate: bool,
}

/// `Err(None)` requests poisoning; `Err(Some(e))` is a hard error.
type CalcResult<T> = Result<T, Option<CoreError>>;

fn field_value(kind: CoreReloKind, spec: Option<&Spec<'_>>) -> CalcResult<FieldVal> {
    let mut out = FieldVal::default();
    if kind == CoreReloKind::FieldExists {
        out.val = u64::from(spec.is_some());
        out.validate = true;
        return Ok(out);
    }
    let spec = spec.ok_or(None)?;
    let btf = spec.btf;
    let acc = *spec.spec.last().ok_or(Some(CoreError::Unsupported {
        kind,
        what: "an empty access specification",
    }))?;
    let size_of = |id| btf.resolve_size(id).map_err(|e| Some(CoreError::from(e)));

    if acc.name.is_none() {
        // `a[n]` (or the root `s[0]`) accessor.
        match kind {
            CoreReloKind::FieldByteOffset => {
                out.val = spec.bit_offset / 8;
                out.size = size_of(acc.type_id)?;
                out.type_id = acc.type_id;
            }
            CoreReloKind::FieldByteSize => out.val = size_of(acc.type_id)? as u64,
            _ => {
                return Err(Some(CoreError::Unsupported {
                    kind,
                    what: "array access",
                }));
            }
        }
        out.validate = true;
        return Ok(out);
    }

    let t = btf.type_by_id(acc.type_id).map_err(|e| Some(e.into()))?;
    let m = *t
        .members()
        .get(acc.idx as usize)
        .ok_or(Some(CoreError::Unsupported {
            kind,
            what: "a member index past the end",
        }))?;
    let (field_type_id, mt) = btf
        .skip_mods_and_typedefs(m.type_id)
        .map_err(|e| Some(e.into()))?;
    // libbpf keeps these in 32 bits; so do we, wrapping the same way.
    let bit_off = spec.bit_offset as u32;
    let mut bit_sz = m.bitfield_size as u32;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz);
    if bitfield {
        let mut sz = mt.size().unwrap_or(0);
        if sz == 0 || sz > 8 {
            return Err(Some(CoreError::Unsupported {
                kind,
                what: "a bitfield whose base type has no usable size",
            }));
        }
        let mut off = bit_off / 8 / sz * sz;
        while bit_off.wrapping_add(bit_sz).wrapping_sub(off * 8) > sz * 8 {
            if sz >= 8 {
                return Err(Some(CoreError::Unsupported {
                    kind,
                    what: "a bitfield that can't be read with a 64-bit load",
                }));
            }
            sz *= 2;
            off = bit_off / 8 / sz * sz;
        }
        (byte_off, byte_sz) = (off, sz);
    } else {
        byte_sz = size_of(field_type_id)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz.wrapping_mul(8);
    }
    out.validate = !bitfield;
    match kind {
        CoreReloKind::FieldByteOffset => {
            out.val = byte_off as u64;
            if !bitfield {
                out.size = byte_sz;
                out.type_id = field_type_id;
            }
        }
        CoreReloKind::FieldByteSize => out.val = byte_sz as u64,
        CoreReloKind::FieldSigned => {
            out.val = u64::from(match &mt.kind {
                TypeKind::Enum(e) | TypeKind::Enum64(e) => e.signed,
                TypeKind::Int(i) => i.encoding.signed,
                _ => false,
            });
            out.validate = true;
        }
        CoreReloKind::FieldLshiftU64 => {
            out.val = 64u32.wrapping_sub(
                bit_off
                    .wrapping_add(bit_sz)
                    .wrapping_sub(byte_off.wrapping_mul(8)),
            ) as u64;
        }
        CoreReloKind::FieldRshiftU64 => {
            out.val = 64u32.wrapping_sub(bit_sz) as u64;
            out.validate = true;
        }
        _ => {
            return Err(Some(CoreError::Unsupported {
                kind,
                what: "a field",
            }));
        }
    }
    Ok(out)
}

fn type_value(kind: CoreReloKind, spec: Option<&Spec<'_>>) -> CalcResult<(u64, bool)> {
    let Some(spec) = spec else {
        return Ok((0, true));
    };
    Ok(match kind {
        CoreReloKind::TypeIdTarget => (spec.root_type_id as u64, false),
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => (1, true),
        CoreReloKind::TypeSize => {
            let sz = spec
                .btf
                .resolve_size(spec.root_type_id)
                .map_err(|e| Some(e.into()))?;
            (sz as u64, true)
        }
        _ => {
            return Err(Some(CoreError::Unsupported {
                kind,
                what: "a type",
            }));
        }
    })
}

fn enumval_value(kind: CoreReloKind, spec: Option<&Spec<'_>>) -> CalcResult<u64> {
    match kind {
        CoreReloKind::EnumvalExists => Ok(u64::from(spec.is_some())),
        CoreReloKind::EnumvalValue => {
            let spec = spec.ok_or(None)?;
            let acc = spec.spec.first().ok_or(Some(CoreError::Unsupported {
                kind,
                what: "an empty enumerator specification",
            }))?;
            let t = spec
                .btf
                .type_by_id(acc.type_id)
                .map_err(|e| Some(e.into()))?;
            let v = t
                .as_enum()
                .and_then(|e| e.values.get(acc.idx as usize))
                .ok_or(Some(CoreError::Unsupported {
                    kind,
                    what: "a missing enumerator",
                }))?;
            // A 32-bit enumerator is stored as `__s32` and widened with sign extension by libbpf.
            Ok(match t.kind {
                TypeKind::Enum(_) => v.value as u32 as i32 as i64 as u64,
                _ => v.value,
            })
        }
        _ => Err(Some(CoreError::Unsupported {
            kind,
            what: "an enumerator",
        })),
    }
}

/// Computes local and target values (target `None` = no candidate matched).
pub(crate) fn calc_relo(
    kind: CoreReloKind,
    local: &Spec<'_>,
    targ: Option<&Spec<'_>>,
) -> Result<Calc, CoreError> {
    let mut res = Calc {
        validate: true,
        ..Calc::default()
    };
    let r: CalcResult<()> = (|| {
        if kind.is_field_based() {
            let o = field_value(kind, Some(local))?;
            (res.orig_val, res.orig_sz, res.validate) = (o.val, o.size, o.validate);
            let n = field_value(kind, targ)?;
            (res.new_val, res.new_sz) = (n.val, n.size);
            if res.orig_sz != res.new_sz {
                let ot = local
                    .btf
                    .type_by_id(o.type_id)
                    .map_err(|e| Some(e.into()))?;
                let Some(targ) = targ else { return Ok(()) };
                let nt = targ.btf.type_by_id(n.type_id).map_err(|e| Some(e.into()))?;
                let both_ptr =
                    matches!(ot.kind, TypeKind::Ptr(_)) && matches!(nt.kind, TypeKind::Ptr(_));
                // libbpf compares the whole encoding against BTF_INT_SIGNED.
                let unsigned = |t: &crate::Type| {
                    t.as_int().is_some_and(|i| {
                        !(i.encoding.signed && !i.encoding.char && !i.encoding.bool)
                    })
                };
                let both_unsigned_int = unsigned(ot) && unsigned(nt);
                res.fail_memsz_adjust = !(both_ptr || both_unsigned_int);
            }
        } else if kind.is_type_based() {
            (res.orig_val, res.validate) = type_value(kind, Some(local))?;
            res.new_val = type_value(kind, targ)?.0;
        } else {
            res.orig_val = enumval_value(kind, Some(local))?;
            res.new_val = enumval_value(kind, targ)?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(res),
        Err(None) => {
            res.poison = true;
            Ok(res)
        }
        Err(Some(e)) => Err(e),
    }
}
