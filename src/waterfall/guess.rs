//! The free first step for emails: build a candidate from the person's name and
//! the domain's local-part pattern (learned from verified emails at that
//! domain, `first.last` by default). Only a verifier's `valid` keeps it.

/// Local-part patterns, as names (`first.last`, `flast`, ...).
pub const PATTERNS: &[&str] = &[
    "first.last",
    "first",
    "flast",
    "firstl",
    "first_last",
    "firstlast",
    "last",
];

/// The pattern tried when the domain has none learned.
pub const DEFAULT_PATTERN: &str = "first.last";

fn clean(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The local part for a name under a pattern; `None` when a name part is empty
/// after stripping non-ASCII letters.
pub fn local_part(pattern: &str, first: &str, last: &str) -> Option<String> {
    let (f, l) = (clean(first), clean(last));
    if f.is_empty() || l.is_empty() {
        return None;
    }
    let fi = &f[..1];
    let li = &l[..1];
    Some(match pattern {
        "first" => f,
        "flast" => format!("{fi}{l}"),
        "firstl" => format!("{f}{li}"),
        "first_last" => format!("{f}_{l}"),
        "firstlast" => format!("{f}{l}"),
        "last" => l,
        _ => format!("{f}.{l}"),
    })
}

/// Which pattern produced `local` for this name, if any (to learn a domain's pattern).
pub fn detect(local: &str, first: &str, last: &str) -> Option<&'static str> {
    PATTERNS
        .iter()
        .copied()
        .find(|p| local_part(p, first, last).as_deref() == Some(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_round_trip() {
        for p in PATTERNS {
            let local = local_part(p, "Jane", "O'Neil").unwrap();
            assert_eq!(detect(&local, "Jane", "O'Neil"), Some(*p), "{p} → {local}");
        }
        assert_eq!(local_part("flast", "Jane", "Doe").unwrap(), "jdoe");
        assert_eq!(local_part("first.last", "", "Doe"), None);
    }
}
