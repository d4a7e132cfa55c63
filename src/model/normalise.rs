//! Normalisation: raw text or JSON from input files and providers → typed
//! [`Value`]s. Rejections carry a reason a person can act on.

use super::{FieldDef, FieldType, Value};
use thiserror::Error;

/// Longest accepted text value; longer input is rejected, not truncated.
pub const MAX_VALUE_CHARS: usize = 1024;

/// Why a raw value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NormaliseError {
    /// Empty after trimming: not a value (the field stays unknown).
    #[error("empty value")]
    Empty,
    /// Longer than [`MAX_VALUE_CHARS`].
    #[error("value is {0} characters long, over the limit of {MAX_VALUE_CHARS}")]
    TooLong(usize),
    /// Does not parse as the field's type.
    #[error("{value} is not a valid {kind}")]
    Invalid {
        /// What was expected.
        kind: &'static str,
        /// The offending input, quoted and shortened ([`crate::quoted`]).
        value: String,
    },
}

fn invalid(kind: &'static str, raw: &str) -> NormaliseError {
    let value = crate::quoted::quoted(raw).to_string();
    NormaliseError::Invalid { kind, value }
}

/// Normalise a JSON value (from a provider or a JSON-lines import) for a field.
pub fn normalise_json(def: &FieldDef, raw: &serde_json::Value) -> Result<Value, NormaliseError> {
    match raw {
        serde_json::Value::Null => Err(NormaliseError::Empty),
        serde_json::Value::String(s) => normalise_text(def, s),
        serde_json::Value::Bool(b) => match def.ty {
            FieldType::Bool => Ok(Value::Bool(*b)),
            _ => normalise_text(def, &b.to_string()),
        },
        serde_json::Value::Number(n) => match (def.ty.clone(), n.as_i64(), n.as_f64()) {
            (FieldType::Integer, Some(i), _) => Ok(Value::Integer(i)),
            (FieldType::Integer, None, Some(f)) if f.is_finite() => {
                Ok(Value::Integer(f.round() as i64))
            }
            _ => normalise_text(def, &n.to_string()),
        },
        serde_json::Value::Array(items) => {
            let texts: Vec<String> = items
                .iter()
                .filter_map(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect();
            match def.ty {
                FieldType::List => list(&texts),
                // A scalar field fed an array takes its first usable element.
                _ => texts
                    .iter()
                    .find_map(|t| normalise_text(def, t).ok())
                    .ok_or(NormaliseError::Empty),
            }
        }
        serde_json::Value::Object(_) => Err(invalid("scalar (got an object)", &raw.to_string())),
    }
}

/// Normalise text (a CSV cell, a provider string) for a field.
pub fn normalise_text(def: &FieldDef, raw: &str) -> Result<Value, NormaliseError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(NormaliseError::Empty);
    }
    let len = trimmed.chars().count();
    if len > MAX_VALUE_CHARS {
        return Err(NormaliseError::TooLong(len));
    }
    match def.ty {
        FieldType::String => Ok(Value::Text(collapse_spaces(trimmed))),
        FieldType::Email => email(trimmed).map(Value::Text),
        FieldType::Domain => domain(trimmed).map(Value::Text),
        FieldType::Url => url(trimmed).map(Value::Text),
        FieldType::Phone => phone(trimmed).map(Value::Text),
        FieldType::Integer => integer(trimmed).map(Value::Integer),
        FieldType::Bool => boolean(trimmed).map(Value::Bool),
        FieldType::Enum => enumeration(def, trimmed).map(Value::Text),
        FieldType::List => {
            let parts: Vec<String> = trimmed.split([';', ',']).map(str::to_string).collect();
            list(&parts)
        }
    }
}

fn collapse_spaces(s: &str) -> String {
    // Nearly every value is already single-spaced ASCII: copied as it is.
    // Byte scans: `str::contains("  ")` sets up a substring search per call.
    let b = s.as_bytes();
    let plain = s.is_ascii()
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !b.windows(2).any(|w| w == b"  ")
        && !b.iter().any(|&c| c.is_ascii_whitespace() && c != b' ');
    if plain {
        return s.to_string();
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Lower-case, one `@`, a plausible local part and a valid domain.
pub fn email(raw: &str) -> Result<String, NormaliseError> {
    let s = lower(raw.trim().trim_start_matches("mailto:"));
    let (local, dom) = s.split_once('@').ok_or_else(|| invalid("email", raw))?;
    if !local_ok(local) {
        return Err(invalid("email", raw));
    }
    let dom = bare_host(dom).ok_or_else(|| invalid("email", raw))?;
    Ok(joined(local, &dom))
}

/// [`email`] of `local@domain`, without building, trimming and lower-casing
/// that text first when both halves are already in normal form, as a
/// guessed address's are (a cleaned local part, the record's domain).
pub fn email_of(local: &str, domain: &str) -> Result<String, NormaliseError> {
    let lower = |s: &str| !s.bytes().any(|b| b.is_ascii_uppercase());
    if local_ok(local) && lower(local) && lower(domain) && host_of(domain) == Some(domain) {
        return Ok(joined(local, domain));
    }
    email(&format!("{local}@{domain}"))
}

/// A plausible local part. Byte tests: a non-ASCII byte is neither
/// alphanumeric nor allowed, as its char was not.
fn local_ok(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._%+-'".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
}

fn joined(local: &str, domain: &str) -> String {
    let mut out = String::with_capacity(local.len() + 1 + domain.len());
    out.push_str(local);
    out.push('@');
    out.push_str(domain);
    out
}

/// Lower-case text: ASCII (nearly all of it) without the Unicode tables.
fn lower(s: &str) -> String {
    if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        s.to_lowercase()
    }
}

/// A bare lower-case domain from a domain, a URL or an email address.
pub fn domain(raw: &str) -> Result<String, NormaliseError> {
    let s = raw.trim();
    // Copied only to lower-case it: most domains arrive lower-case.
    let s = if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(lower(s))
    };
    let host = match s.rsplit_once('@') {
        Some((_, d)) if !s.contains("://") => d,
        _ => &s,
    };
    bare_domain(host).ok_or_else(|| invalid("domain", raw))
}

fn bare_domain(s: &str) -> Option<String> {
    bare_host(s).map(std::borrow::Cow::into_owned)
}

/// [`bare_domain`], borrowing `s` when it is already bare and lower-case.
fn bare_host(s: &str) -> Option<std::borrow::Cow<'_, str>> {
    let s = s.trim();
    if !s.is_ascii() || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return host_of(&lower(s)).map(|h| std::borrow::Cow::Owned(h.to_string()));
    }
    host_of(s).map(std::borrow::Cow::Borrowed)
}

/// The valid host name in lower-case `s` (a domain, URL or address).
/// Byte scans throughout (the separators are ASCII, which no byte of a
/// multi-byte character equals): `str` patterns set up a search per call,
/// and splitting into labels walked the host once per test.
fn host_of(s: &str) -> Option<&str> {
    fn after(s: &str, i: Option<usize>, skip: usize) -> &str {
        i.map_or(s, |i| &s[i + skip..])
    }
    fn until(s: &str, i: Option<usize>) -> &str {
        i.map_or(s, |i| &s[..i])
    }
    let b = s.as_bytes();
    // The first `://`, found from its colons: comparing a 3-byte slice at
    // every position called `bcmp` each time.
    let mut scheme = None;
    let mut from = 0;
    while let Some(j) = b[from..].iter().position(|&c| c == b':') {
        let i = from + j;
        if b.get(i + 1) == Some(&b'/') && b.get(i + 2) == Some(&b'/') {
            scheme = Some(i);
            break;
        }
        from = i + 1;
    }
    let s = after(s, scheme, 3);
    let host = until(s, s.bytes().position(|b| matches!(b, b'/' | b'?' | b'#')));
    let host = after(host, host.bytes().rposition(|b| b == b'@'), 1);
    let host = until(host, host.bytes().position(|b| b == b':')).trim_end_matches('.');
    let host = host.strip_prefix("www.").unwrap_or(host);
    valid_host(host.as_bytes()).then_some(host)
}

/// At least two labels of letters, digits and inner hyphens, each 1 to 63
/// bytes, at most 253 in all, the last (the TLD) two or more letters: one
/// pass over the bytes.
fn valid_host(h: &[u8]) -> bool {
    if h.len() > 253 {
        return false;
    }
    let (mut label, mut dots, mut prev, mut tld_alpha) = (0usize, 0usize, b'.', true);
    for &c in h {
        if c == b'.' {
            if label == 0 || prev == b'-' {
                return false;
            }
            (label, dots, tld_alpha) = (0, dots + 1, true);
        } else {
            let ok = c.is_ascii_alphanumeric() || (c == b'-' && label > 0);
            if !ok || label == 63 {
                return false;
            }
            label += 1;
            tld_alpha &= c.is_ascii_alphabetic();
        }
        prev = c;
    }
    dots > 0 && label >= 2 && tld_alpha
}

/// An absolute http(s) URL with a lower-case host and no trailing slash;
/// `linkedin.com/in/x` gains `https://`.
pub fn url(raw: &str) -> Result<String, NormaliseError> {
    let s = raw.trim();
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let parsed = url::Url::parse(&with_scheme).map_err(|_| invalid("url", raw))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid("url", raw));
    }
    let host = parsed.host_str().unwrap_or_default();
    if bare_host(host).is_none() {
        return Err(invalid("url", raw));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Digits with a leading `+`; 10 bare digits are taken as North American (+1).
pub fn phone(raw: &str) -> Result<String, NormaliseError> {
    let s = raw.trim();
    let allowed = s
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c));
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if !allowed || digits.len() < 7 || digits.len() > 15 {
        return Err(invalid("phone number", raw));
    }
    if s.starts_with('+') {
        Ok(format!("+{digits}"))
    } else if let Some(rest) = digits.strip_prefix("00") {
        Ok(format!("+{rest}"))
    } else if digits.len() == 10 {
        Ok(format!("+1{digits}"))
    } else {
        // Already carries its country code (`14155550123`).
        Ok(format!("+{digits}"))
    }
}

/// `1200`, `1,200`, `1.2k`, `3M`, `$2B`, `51-200` (midpoint), `10001+`.
pub fn integer(raw: &str) -> Result<i64, NormaliseError> {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | '$' | ' '))
        .collect();
    if let Some(base) = s.strip_suffix('+') {
        return integer(base);
    }
    if let Some((lo, hi)) = s.split_once('-').filter(|(lo, _)| !lo.is_empty()) {
        let (lo, hi) = (integer(lo)?, integer(hi)?);
        if hi < lo {
            return Err(invalid("integer range", raw));
        }
        return Ok(lo + (hi - lo) / 2);
    }
    let lower = s.to_lowercase();
    let (number, scale) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1e3),
        Some('m') => (&lower[..lower.len() - 1], 1e6),
        Some('b') => (&lower[..lower.len() - 1], 1e9),
        _ => (lower.as_str(), 1.0),
    };
    let n: f64 = number.parse().map_err(|_| invalid("integer", raw))?;
    let v = (n * scale).round();
    if !v.is_finite() || v.abs() > 9e15 {
        return Err(invalid("integer", raw));
    }
    Ok(v as i64)
}

fn boolean(raw: &str) -> Result<bool, NormaliseError> {
    match raw.trim().to_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Ok(true),
        "false" | "no" | "n" | "0" => Ok(false),
        _ => Err(invalid("boolean", raw)),
    }
}

fn word(raw: &str) -> String {
    collapse_spaces(&raw.trim().to_lowercase()).replace([' ', '-'], "_")
}

fn enumeration(def: &FieldDef, raw: &str) -> Result<String, NormaliseError> {
    let w = word(raw);
    if def.values.is_empty() || def.values.contains(&w) {
        Ok(w)
    } else {
        Err(invalid(
            "value (expected one of the field's enum values)",
            raw,
        ))
    }
}

fn list(items: &[String]) -> Result<Value, NormaliseError> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let w = collapse_spaces(&item.trim().to_lowercase());
        if !w.is_empty() && !out.contains(&w) {
            out.push(w);
        }
    }
    if out.is_empty() {
        Err(NormaliseError::Empty)
    } else {
        Ok(Value::List(out))
    }
}

#[cfg(test)]
mod collapse_tests {
    use super::{invalid, NormaliseError};
    use proptest::prelude::*;

    /// The char-by-char versions the fast ones replaced, as the oracle.
    fn email_by_chars(raw: &str) -> Result<String, NormaliseError> {
        let s = raw.trim().trim_start_matches("mailto:").to_lowercase();
        let (local, dom) = s.split_once('@').ok_or_else(|| invalid("email", raw))?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-'".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.');
        if !local_ok {
            return Err(invalid("email", raw));
        }
        let dom = domain_by_chars(dom).ok_or_else(|| invalid("email", raw))?;
        Ok(format!("{local}@{dom}"))
    }

    fn domain_by_chars(s: &str) -> Option<String> {
        let s = s.trim().to_lowercase();
        let s = s.split_once("://").map_or(s.as_str(), |(_, rest)| rest);
        let host = s.split(['/', '?', '#']).next()?;
        let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
        let host = host.split(':').next()?.trim_end_matches('.');
        let host = host.strip_prefix("www.").unwrap_or(host);
        let labels: Vec<&str> = host.split('.').collect();
        let ok = labels.len() >= 2
            && host.len() <= 253
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()) && tld.len() >= 2);
        ok.then(|| host.to_string())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn emails_and_domains_as_before(s in "(mailto:)?[ a-zA-Z0-9._%+'@:/?#Éé-]{0,10}(@[a-zA-Z0-9.-]{0,12})?(\\.[a-zA-Z0-9İ]{0,4})?[ /:]?") {
            prop_assert_eq!(super::email(&s), email_by_chars(&s));
            prop_assert_eq!(super::bare_domain(&s), domain_by_chars(&s));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]
        #[test]
        fn an_email_from_its_halves_is_the_email_of_their_text(
            local in "[ a-zA-Z0-9._%+'@:Éé-]{0,8}",
            domain in "(www\\.)?[ a-zA-Z0-9.:/-]{0,12}(\\.[a-zA-Z0-9İ]{0,4})?\\.?",
        ) {
            prop_assert_eq!(super::email_of(&local, &domain), super::email(&format!("{local}@{domain}")));
        }
    }

    #[test]
    fn long_labels_and_hosts_are_judged_as_before() {
        let label = |n: usize| "a".repeat(n);
        let hosts = [
            format!("{}.com", label(63)),
            format!("{}.com", label(64)),
            format!(
                "{}.{}.{}.{}.com",
                label(63),
                label(63),
                label(63),
                label(57)
            ),
            format!(
                "{}.{}.{}.{}.com",
                label(63),
                label(63),
                label(63),
                label(58)
            ),
            "a-b.c-d.io".to_string(),
            "-ab.io".to_string(),
            "ab-.io".to_string(),
            "ab.i-o".to_string(),
            "ab..io".to_string(),
            "ab.i".to_string(),
            "ab.io.".to_string(),
            "ab.1o".to_string(),
        ];
        for h in hosts {
            assert_eq!(super::bare_domain(&h), domain_by_chars(&h), "{h}");
        }
    }

    #[test]
    fn a_guessed_address_takes_the_short_way_and_agrees() {
        for (l, d) in [
            ("jane.doe", "acme.com"),
            ("j_doe", "sub.acme.co"),
            ("Jane", "acme.com"),
            ("jane", "ACME.com"),
            ("jane", "www.acme.com"),
            (".jane", "acme.com"),
            ("jane", "acme"),
        ] {
            assert_eq!(
                super::email_of(l, d),
                super::email(&format!("{l}@{d}")),
                "{l}@{d}"
            );
        }
        assert_eq!(
            super::email_of("jane.doe", "acme.com").unwrap(),
            "jane.doe@acme.com"
        );
    }

    proptest! {
        #[test]
        fn the_fast_path_agrees_with_splitting(s in "[a-zé \\t\\n\u{a0}]{0,12}") {
            let slow = s.split_whitespace().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(super::collapse_spaces(&s), slow);
        }
    }
}
