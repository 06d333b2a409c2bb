//! A C-like pretty-printer for types, for diagnostics: `struct task_struct *`,
//! `const char *`, `int (*)(void *, long)`, `u8 [16]`. Never fails: unknown ids and loops
//! print as `<bad type N>` / `...`, and output size is bounded.

use crate::btf::Btf;
use crate::query::MAX_RESOLVE_DEPTH;
use crate::types::{TypeId, TypeKind};

/// Types visited per formatted type; bounds the output for (malicious) prototypes whose
/// parameters refer back to themselves, which would otherwise grow exponentially.
const MAX_FORMAT_NODES: usize = 4096;

impl Btf {
    /// Formats type `id` as C would spell it in a cast, e.g. `struct sk_buff *`.
    pub fn format_type(&self, id: TypeId) -> String {
        let s = self.declare(id, String::new(), 0, &mut 0);
        s.trim_end().to_string()
    }

    /// Formats a declaration of `name` with type `id`, e.g. `char comm[16]`.
    pub fn format_decl(&self, id: TypeId, name: &str) -> String {
        self.declare(id, name.to_string(), 0, &mut 0)
            .trim_end()
            .to_string()
    }

    /// Builds `<type> <declarator>` where `inner` is the declarator built so far.
    fn declare(&self, id: TypeId, inner: String, depth: usize, nodes: &mut usize) -> String {
        *nodes += 1;
        if depth > MAX_RESOLVE_DEPTH || *nodes > MAX_FORMAT_NODES {
            return format!("... {inner}");
        }
        let t = match self.type_by_id(id) {
            Ok(t) => t,
            Err(_) => return join(&format!("<bad type {id}>"), &inner),
        };
        let name = self.name(t);
        let named = |prefix: &str| {
            if name.is_empty() {
                format!("{prefix} (anon)")
            } else {
                format!("{prefix} {name}")
            }
        };
        match &t.kind {
            TypeKind::Void => join("void", &inner),
            TypeKind::Int(_) | TypeKind::Float { .. } | TypeKind::Typedef(_) => join(name, &inner),
            TypeKind::Struct(_) => join(&named("struct"), &inner),
            TypeKind::Union(_) => join(&named("union"), &inner),
            TypeKind::Enum(_) | TypeKind::Enum64(_) => join(&named("enum"), &inner),
            TypeKind::Fwd { is_union } => {
                join(&named(if *is_union { "union" } else { "struct" }), &inner)
            }
            TypeKind::Ptr(target) => self.declare(*target, format!("*{inner}"), depth + 1, nodes),
            TypeKind::Const(r) | TypeKind::Volatile(r) | TypeKind::Restrict(r) => {
                let q = match t.kind {
                    TypeKind::Const(_) => "const",
                    TypeKind::Volatile(_) => "volatile",
                    _ => "restrict",
                };
                let under_ptr = matches!(
                    self.skip_mods(*r).map(|(_, u)| &u.kind),
                    Ok(TypeKind::Ptr(_))
                );
                if under_ptr {
                    // `int *const p`: the qualifier binds to the pointer declarator.
                    self.declare(*r, join(q, &inner), depth + 1, nodes)
                } else {
                    format!("{q} {}", self.declare(*r, inner, depth + 1, nodes))
                }
            }
            TypeKind::TypeTag(r) => self.declare(*r, inner, depth + 1, nodes),
            TypeKind::Array(a) => {
                let inner = if inner.starts_with('*') {
                    format!("({inner})")
                } else {
                    inner
                };
                self.declare(
                    a.elem_type,
                    format!("{inner}[{}]", a.nelems),
                    depth + 1,
                    nodes,
                )
            }
            TypeKind::FuncProto(p) => {
                let inner = if inner.starts_with('*') {
                    format!("({inner})")
                } else {
                    inner
                };
                let mut params = Vec::with_capacity(p.params.len());
                for q in &p.params {
                    if *nodes > MAX_FORMAT_NODES {
                        params.push("...".to_string());
                        break;
                    }
                    let n = self.try_str_at(q.name_off).unwrap_or("");
                    let d = self.declare(q.type_id, n.to_string(), depth + 1, nodes);
                    params.push(d.trim_end().to_string());
                }
                if p.variadic {
                    params.push("...".into());
                }
                if params.is_empty() {
                    params.push("void".into());
                }
                self.declare(
                    p.ret_type,
                    format!("{inner}({})", params.join(", ")),
                    depth + 1,
                    nodes,
                )
            }
            TypeKind::Func { proto, .. } => {
                self.declare(*proto, join(name, &inner), depth + 1, nodes)
            }
            TypeKind::Var { type_id, .. } => {
                self.declare(*type_id, join(name, &inner), depth + 1, nodes)
            }
            TypeKind::Datasec(_) => join(&format!("SEC(\"{name}\")"), &inner),
            TypeKind::DeclTag { target, .. } => {
                format!(
                    "__tag(\"{name}\") {}",
                    self.declare(*target, inner, depth + 1, nodes)
                )
            }
        }
    }
}

/// `base` followed by the declarator, with C spacing (`int x`, `char *`, `int [4]`).
fn join(base: &str, inner: &str) -> String {
    if inner.is_empty() {
        base.to_string()
    } else {
        format!("{base} {inner}")
    }
}
