//! The xfail inventory: every case where Lull disagrees today, one line each:
//! `file/program[/unpriv]  category  short reason`. Lines starting with `#` are comments.
//! A run is checked against it both ways: a disagreement not listed is a regression, a listed
//! case that now agrees must be removed (so the file stays true).

use crate::error::{Error, Result, io};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// One inventory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The category (`verifier-missing`, `feature:kfunc`, `message-mismatch`, …).
    pub category: String,
    /// A short reason.
    pub reason: String,
}

/// The inventory, keyed by case id.
pub type Inventory = BTreeMap<String, Entry>;

/// Parses an inventory file's text.
pub fn parse(path: &Path, text: &str) -> Result<Inventory> {
    let mut inv = Inventory::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: &str| Error::Inventory {
            path: path.to_path_buf(),
            line: n + 1,
            reason: reason.into(),
        };
        let mut parts = line.splitn(3, char::is_whitespace);
        let id = parts.next().ok_or_else(|| bad("empty line"))?;
        let rest = parts.collect::<Vec<_>>().join(" ");
        let rest = rest.trim_start();
        let (category, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        if category.is_empty() {
            return Err(bad("missing category"));
        }
        if id.split('/').count() < 2 {
            return Err(bad("case id must be file/program[/unpriv]"));
        }
        let entry = Entry {
            category: category.into(),
            reason: reason.trim().into(),
        };
        if inv.insert(id.to_string(), entry).is_some() {
            return Err(bad("duplicate case"));
        }
    }
    Ok(inv)
}

/// Reads the inventory (a missing file is an empty inventory).
pub fn load(path: &Path) -> Result<Inventory> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Inventory::new()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Renders an inventory deterministically (sorted, aligned).
pub fn render(inv: &Inventory, header: &str) -> String {
    let width = inv.keys().map(String::len).max().unwrap_or(0);
    let cat_width = inv.values().map(|e| e.category.len()).max().unwrap_or(0);
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    for (id, e) in inv {
        let _ = writeln!(out, "{id:width$}  {:cat_width$}  {}", e.category, e.reason);
    }
    out
}

/// The difference between the inventory and a run.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// Disagreements not in the inventory (regressions).
    pub new: Vec<(String, Entry)>,
    /// Listed cases that now agree.
    pub fixed: Vec<String>,
    /// Listed cases whose category changed (informational).
    pub recategorised: Vec<(String, String, String)>,
    /// Listed cases that did not run (informational).
    pub not_run: Vec<String>,
}

impl Diff {
    /// `true` when the run matches the inventory.
    pub fn is_clean(&self) -> bool {
        self.new.is_empty() && self.fixed.is_empty()
    }
}

/// Compares the inventory with this run's disagreements; `ran` holds every case id that ran.
pub fn compare(
    inv: &Inventory,
    current: &Inventory,
    ran: &std::collections::BTreeSet<String>,
) -> Diff {
    let mut diff = Diff::default();
    for (id, e) in current {
        match inv.get(id) {
            None => diff.new.push((id.clone(), e.clone())),
            Some(old) if old.category != e.category => {
                diff.recategorised
                    .push((id.clone(), old.category.clone(), e.category.clone()))
            }
            Some(_) => {}
        }
    }
    for id in inv.keys() {
        if !current.contains_key(id) {
            if ran.contains(id) {
                diff.fixed.push(id.clone());
            } else {
                diff.not_run.push(id.clone());
            }
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn entry(c: &str) -> Entry {
        Entry {
            category: c.into(),
            reason: "r".into(),
        }
    }

    #[test]
    fn render_then_parse_round_trips() {
        let mut inv = Inventory::new();
        inv.insert("verifier_a/p".into(), entry("verifier-missing"));
        inv.insert(
            "verifier_a/q/unpriv".into(),
            Entry {
                category: "feature:kfunc".into(),
                reason: "two words".into(),
            },
        );
        let text = render(&inv, "header");
        assert_eq!(parse(Path::new("x"), &text).unwrap(), inv);
    }

    #[test]
    fn compare_finds_new_and_fixed() {
        let mut inv = Inventory::new();
        inv.insert("f/a".into(), entry("x"));
        inv.insert("f/b".into(), entry("x"));
        inv.insert("f/gone".into(), entry("x"));
        let mut cur = Inventory::new();
        cur.insert("f/a".into(), entry("x"));
        cur.insert("f/c".into(), entry("y"));
        let ran: BTreeSet<String> = ["f/a", "f/b", "f/c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let d = compare(&inv, &cur, &ran);
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.fixed, vec!["f/b".to_string()]);
        assert_eq!(d.not_run, vec!["f/gone".to_string()]);
        assert!(!d.is_clean());
    }

    #[test]
    fn malformed_lines_are_errors() {
        assert!(parse(Path::new("x"), "f/a\n").is_err());
        assert!(parse(Path::new("x"), "nofile cat\n").is_err());
        assert!(parse(Path::new("x"), "f/a c r\nf/a c r\n").is_err());
    }
}
