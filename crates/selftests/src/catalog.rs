//! The programs of a compiled selftest object and their annotations.
//!
//! Programs are found the way libbpf finds them: every function symbol in an executable section
//! other than `.text`, ordered by section and offset. Their annotations are the decl tags on the
//! FUNC of the same name, read with `lull-btf`.

use crate::error::{Error, Result};
use crate::spec::{TestSpec, parse_spec};
use lull_btf::Btf;
use lull_btf::types::Kind;
use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};
use std::path::Path;

/// One program of an object file.
#[derive(Clone, Debug)]
pub struct Program {
    /// Symbol (and FUNC) name.
    pub name: String,
    /// ELF section, i.e. the `SEC()` name.
    pub section: String,
    /// The decl tags on its FUNC, in BTF order.
    pub tags: Vec<String>,
    /// The test specification derived from the tags.
    pub spec: TestSpec,
}

/// Lists the programs of an object with their specifications.
pub fn programs(path: &Path, data: &[u8]) -> Result<Vec<Program>> {
    let bad = |reason: String| Error::Object {
        path: path.to_path_buf(),
        reason,
    };
    let file = object::File::parse(data).map_err(|e| bad(format!("not an ELF object: {e}")))?;
    let btf_data = file
        .section_by_name(".BTF")
        .ok_or_else(|| bad("no .BTF section (compiled without -g?)".into()))?
        .data()
        .map_err(|e| bad(format!(".BTF: {e}")))?;
    let btf = Btf::parse(btf_data).map_err(|e| bad(format!(".BTF: {e}")))?;
    let mut found = Vec::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text {
            continue;
        }
        let Some(idx) = sym.section_index() else {
            continue;
        };
        let Ok(section) = file.section_by_index(idx) else {
            continue;
        };
        let Ok(section_name) = section.name() else {
            continue;
        };
        if section.kind() != SectionKind::Text || section_name == ".text" {
            continue;
        }
        let Ok(name) = sym.name() else { continue };
        found.push((
            idx.0,
            sym.address(),
            name.to_string(),
            section_name.to_string(),
        ));
    }
    found.sort();
    found
        .into_iter()
        .map(|(_, _, name, section)| {
            let tags: Vec<String> = match btf.find_by_name(&name, Some(Kind::Func)) {
                Some(id) => btf
                    .decl_tags_for(id)
                    .filter(|&(component, _)| component == -1)
                    .map(|(_, t)| t.to_string())
                    .collect(),
                None => return Err(bad(format!("program {name} has no BTF FUNC"))),
            };
            let spec = parse_spec(&name, tags.iter().map(String::as_str))?;
            Ok(Program {
                name,
                section,
                tags,
                spec,
            })
        })
        .collect()
}
