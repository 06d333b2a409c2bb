//! BPF exceptions (`bpf_throw`): the throw is an exit of the whole program from wherever it
//! happens (`process_bpf_exit_full` with `exception_exit`), so it may not leave a lock, an RCU
//! section or a non-preemptible region open nor hold a reference; without an exception
//! callback its cookie becomes the program's return value. A throw may not happen in a
//! callback or anything a callback calls (`check_max_stack_depth_subprog`).
//!
//! The exception callback a program names (`exception_callback:NAME` decl tag, linked last by
//! the loader) is found like `bpf_find_exception_callback_insn_off`; it is a callback root that
//! is verified as an always-called global function taking the cookie, returning within the
//! program's return range, and it may not be called directly nor throw.

use crate::cfg::Program;
use crate::error::VerifierError as E;
use crate::explore::{Flow, Res, Verifier};
use crate::input::VerifyInput;
use crate::state::Reg;
use lull_btf::{FuncLinkage, Kind, TypeKind};
use lull_isa::{CallTarget, Insn, LdImm64Kind};

/// Whether the kfunc call to `btf_id` (in the vmlinux BTF) is `bpf_throw`.
pub(crate) fn is_bpf_throw(input: &VerifyInput<'_>, btf_id: i32, module: i16) -> bool {
    module == 0
        && input.kernel_btf.is_some_and(|btf| {
            btf.type_by_id(btf_id as u32).is_ok_and(|t| {
                matches!(t.kind, TypeKind::Func { .. }) && btf.name(t) == "bpf_throw"
            })
        })
}

/// How many exception callbacks the main program names (`exception_callback:` decl tags).
fn exception_cb_tags(input: &VerifyInput<'_>) -> usize {
    let (Some(btf), Some(main)) = (input.btf, input.func_info.as_ref().and_then(|f| f.first()))
    else {
        return 0;
    };
    if main.type_id == 0 {
        return 0;
    }
    btf.decl_tags_for(main.type_id)
        .filter(|(component, tag)| *component == -1 && tag.starts_with("exception_callback:"))
        .count()
}

/// Whether the main program names an exception callback.
fn has_exception_cb(input: &VerifyInput<'_>) -> bool {
    exception_cb_tags(input) > 0
}

/// `bpf_find_exception_callback_insn_off`: the slot of the exception callback the main
/// program names, if it names one. The name must be a global `FUNC` of the program's BTF that
/// has a func_info record past the main program.
pub(crate) fn find_exception_cb(input: &VerifyInput<'_>) -> Result<Option<usize>, E> {
    let (Some(btf), Some(fi)) = (input.btf, input.func_info.as_deref()) else {
        return Ok(None);
    };
    let Some(main) = fi.first().filter(|m| m.type_id != 0) else {
        return Ok(None);
    };
    let mut names = btf
        .decl_tags_for(main.type_id)
        .filter(|&(component, _)| component == -1)
        .filter_map(|(_, tag)| tag.strip_prefix("exception_callback:"));
    let name = match (names.next(), names.next()) {
        (None, _) => return Ok(None),
        (Some(name), None) => name,
        (Some(_), Some(_)) => {
            return Err(E::Malformed(
                "multiple exception callback tags for main subprog".into(),
            ));
        }
    };
    let Some(id) = btf.find_by_name(name, Some(Kind::Func)) else {
        return Err(E::Malformed(format!(
            "exception callback '{name}' could not be found in BTF"
        )));
    };
    let global = btf.type_by_id(id).is_ok_and(
        |t| matches!(t.kind, TypeKind::Func { linkage, .. } if linkage == FuncLinkage::Global),
    );
    if !global {
        return Err(E::Malformed(format!(
            "exception callback '{name}' must have global linkage"
        )));
    }
    // The kernel keeps the last record with this type.
    match fi.iter().rev().find(|f| f.type_id == id).map(|f| f.slot) {
        Some(0) => Err(E::Malformed(
            "invalid exception callback insn_off in func_info: 0".into(),
        )),
        Some(slot) => Ok(Some(slot)),
        None => Err(E::Malformed(
            "exception callback type id not found in func_info".into(),
        )),
    }
}

impl Verifier<'_> {
    /// The exceptional exit after a `bpf_throw` call (already checked as a kfunc call).
    /// `cookie` is `r1` at the call (the clobbered argument).
    pub(crate) fn exception_exit(&mut self, cookie: Reg) -> Res<Flow> {
        // check_resource_leak: the lock, then references (of every frame), then the regions.
        let region = |r: &str| {
            Err(E::Malformed(format!(
                "bpf_throw cannot be used inside {r}-ed region"
            )))
        };
        if self.cur.lock.is_some() {
            return region("bpf_spin_lock");
        }
        if let Some(r) = self.cur.refs.first() {
            return Err(E::WithNote {
                first: Box::new(E::UnreleasedRef {
                    id: r.id,
                    insn: r.insn,
                }),
                note: "bpf_throw would lead to reference leak".into(),
            });
        }
        if self.cur.rcu_lock {
            return region("bpf_rcu_read_lock");
        }
        if self.cur.preempt_locks > 0 {
            return region("bpf_preempt_disable");
        }
        if !has_exception_cb(self.input) {
            // The default callback returns the cookie.
            let r1 = cookie;
            let range =
                crate::lsm::return_range(self.input).unwrap_or_else(|| self.pt.return_range());
            if let Some(range) = range {
                if !r1.is_scalar() {
                    return Err(E::ReturnNotKnown {
                        reg: 1,
                        ty: r1.type_str(),
                    });
                }
                if r1.var.smin < range.min || r1.var.smax > range.max {
                    return Err(E::ReturnRange {
                        reg: 1,
                        value: crate::check::scalar_desc(&r1.var),
                        range: format!("[{}, {}]", range.min, range.max),
                    });
                }
            }
        }
        Ok(Flow::PathDone)
    }
}

/// `bpf_throw` may not be reached from a callback: walks the call graph from the main program
/// (callbacks are the subprograms whose address is taken) and reports the first throw found in
/// a callback or in a function a callback calls.
pub(crate) fn check_throw_in_callback(
    prog: &Program,
    input: &VerifyInput<'_>,
) -> Result<(), (E, usize)> {
    let throws = |sp: usize| -> Vec<usize> {
        let s = &prog.subprogs[sp];
        (s.start..s.end)
            .filter(|&t| {
                matches!(prog.slots[t], Some(Insn::Call(CallTarget::Kfunc { btf_id, module }))
                    if is_bpf_throw(input, btf_id, module))
            })
            .collect()
    };
    // (subprogram, inside a callback) pairs to visit; each pair once. The exception
    // callback is a callback root of its own.
    let mut seen = vec![[false; 2]; prog.subprogs.len()];
    let mut todo = vec![(0usize, false)];
    todo.extend(
        prog.subprogs
            .iter()
            .position(|s| s.exception_cb)
            .map(|sp| (sp, true)),
    );
    todo.reverse();
    while let Some((sp, in_cb)) = todo.pop() {
        if std::mem::replace(&mut seen[sp][usize::from(in_cb)], true) {
            continue;
        }
        if in_cb && let Some(&t) = throws(sp).first() {
            return Err((
                E::Malformed(format!(
                    "bpf_throw kfunc (insn {t}) cannot be called from callback subprog {sp}"
                )),
                t,
            ));
        }
        let s = &prog.subprogs[sp];
        for t in s.start..s.end {
            let (rel, cb) = match prog.slots[t] {
                Some(Insn::Call(CallTarget::Local(imm))) => (imm as i64, false),
                Some(Insn::LdImm64 {
                    kind: LdImm64Kind::Func,
                    imm,
                    ..
                }) => (imm as i64, true),
                _ => continue,
            };
            if let Some(c) = prog.subprog_at((t as i64 + rel + 1) as usize) {
                todo.push((c, in_cb || cb));
            }
        }
    }
    Ok(())
}
