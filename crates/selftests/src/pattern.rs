//! `__msg` patterns and how the selftests match them against a verifier log.
//!
//! A pattern is verbatim text with `{{…}}` parts holding POSIX extended regular expressions.
//! Without `{{` it is a plain substring. The patterns of one program must be found in order:
//! each search starts where the previous match ended (the test loader's `validate_msgs`).
//! Regular expressions see the log with `^`/`$` matching at line boundaries and `.` not
//! crossing newlines (`REG_NEWLINE`).

use regex::Regex;

/// One expected message.
#[derive(Clone, Debug)]
pub enum MsgPattern {
    /// Found with a plain substring search.
    Substr(String),
    /// Verbatim text and `{{regex}}` parts, compiled.
    Regex {
        /// The pattern as annotated.
        source: String,
        /// The compiled expression.
        regex: Regex,
    },
}

impl MsgPattern {
    /// Parses an annotated pattern; errors name the problem (unclosed `{{`, bad regex).
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if !pattern.contains("{{") {
            return Ok(MsgPattern::Substr(pattern.to_string()));
        }
        let mut expr = String::from("(?m)");
        let mut rest = pattern;
        while let Some(open) = rest.find("{{") {
            expr.push_str(&regex::escape(&rest[..open]));
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("`{{{{` without `}}}}` in `{pattern}`"))?;
            expr.push_str(&after[..close]);
            rest = &after[close + 2..];
        }
        expr.push_str(&regex::escape(rest));
        let regex = Regex::new(&expr).map_err(|e| format!("bad regex in `{pattern}`: {e}"))?;
        Ok(MsgPattern::Regex {
            source: pattern.to_string(),
            regex,
        })
    }

    /// The pattern as annotated.
    pub fn source(&self) -> &str {
        match self {
            MsgPattern::Substr(s) => s,
            MsgPattern::Regex { source, .. } => source,
        }
    }

    /// Finds the pattern in `log`; returns the end of the match.
    fn find_end(&self, log: &str) -> Option<usize> {
        match self {
            MsgPattern::Substr(s) => log.find(s.as_str()).map(|i| i + s.len()),
            MsgPattern::Regex { regex, .. } => regex.find(log).map(|m| m.end()),
        }
    }
}

/// Checks that every pattern occurs in `log`, in order. `Err(i)` names the first pattern that
/// was not found after the previous ones.
pub fn match_in_order(log: &str, patterns: &[MsgPattern]) -> Result<(), usize> {
    let mut pos = 0;
    for (i, p) in patterns.iter().enumerate() {
        match p.find_end(&log[pos..]) {
            Some(end) => pos += end,
            None => return Err(i),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(ps: &[&str]) -> Vec<MsgPattern> {
        ps.iter().map(|p| MsgPattern::parse(p).unwrap()).collect()
    }

    #[test]
    fn substrings_must_appear_in_order() {
        let log = "0: r0 = 1\n1: exit\nR0 !read_ok\n";
        assert_eq!(match_in_order(log, &pats(&["r0 = 1", "!read_ok"])), Ok(()));
        assert_eq!(match_in_order(log, &pats(&["!read_ok", "r0 = 1"])), Err(1));
        assert_eq!(match_in_order(log, &pats(&["missing"])), Err(0));
    }

    #[test]
    fn verbatim_parts_are_escaped_and_regex_parts_are_not() {
        let p = MsgPattern::parse("R0=scalar(id={{[0-9]+}})").unwrap();
        assert_eq!(
            match_in_order("3: R0=scalar(id=12)", std::slice::from_ref(&p)),
            Ok(())
        );
        assert_eq!(match_in_order("3: R0=scalarXid=12)", &[p]), Err(0));
    }

    #[test]
    fn regex_dot_does_not_cross_lines_and_caret_is_per_line() {
        let p = pats(&["a{{.*}}b"]);
        assert_eq!(match_in_order("a\nb", &p), Err(0));
        let p = pats(&["{{^}}b"]);
        assert_eq!(match_in_order("a\nb", &p), Ok(()));
    }

    #[test]
    fn unclosed_braces_are_an_error() {
        assert!(MsgPattern::parse("x{{[0-9]").is_err());
    }
}
