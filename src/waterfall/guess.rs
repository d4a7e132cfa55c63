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

/// The name's ASCII letters and digits, lower-cased.
fn clean(s: &str) -> String {
    let bytes: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Write the local part of cleaned, non-empty names `f` and `l` under `pattern`.
fn build(pattern: &str, f: &str, l: &str, out: &mut String) {
    let (fi, li) = (&f[..1], &l[..1]);
    let parts: [&str; 3] = match pattern {
        "first" => [f, "", ""],
        "flast" => [fi, l, ""],
        "firstl" => [f, li, ""],
        "first_last" => [f, "_", l],
        "firstlast" => [f, l, ""],
        "last" => [l, "", ""],
        _ => [f, ".", l],
    };
    parts.iter().for_each(|p| out.push_str(p));
}

/// The local part for a name under a pattern; `None` when a name part is empty
/// after stripping non-ASCII letters.
pub fn local_part(pattern: &str, first: &str, last: &str) -> Option<String> {
    let (f, l) = (clean(first), clean(last));
    if f.is_empty() || l.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(f.len() + l.len() + 1);
    build(pattern, &f, &l, &mut out);
    Some(out)
}

/// Which pattern produced `local` for this name, if any (to learn a domain's
/// pattern). The names are cleaned once for all the patterns.
pub fn detect(local: &str, first: &str, last: &str) -> Option<&'static str> {
    let (f, l) = (clean(first), clean(last));
    if f.is_empty() || l.is_empty() {
        return None;
    }
    let mut candidate = String::with_capacity(f.len() + l.len() + 1);
    PATTERNS.iter().copied().find(|p| {
        candidate.clear();
        build(p, &f, &l, &mut candidate);
        candidate == local
    })
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
