//! Equality of short names (fields, operations, providers) without a call to
//! `memcmp`. The planner compares names hundreds of times per record; most
//! are 12–22 bytes, often of equal length, and libc's `memcmp` costs a call
//! and its set-up each time, where two or three word compares settle it.

/// `a == b`, by 8-byte words.
#[inline]
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a == b;
    }
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().expect("8 bytes"));
    let mut i = 0;
    while i + 8 < n {
        if word(a, i) != word(b, i) {
            return false;
        }
        i += 8;
    }
    // The last word, overlapping the one before when `n` is not a multiple of 8.
    word(a, n - 8) == word(b, n - 8)
}

/// `a.cmp(b)`, by 8-byte big-endian words, without a call to `memcmp`
/// (field names share long prefixes like `company.`).
#[inline]
pub fn order(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let word = |s: &[u8]| u64::from_be_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        match word(a).cmp(&word(b)) {
            std::cmp::Ordering::Equal => i += 8,
            o => return o,
        }
    }
    // The last few bytes one by one (a slice compare would call `memcmp`).
    while i < n {
        match a[i].cmp(&b[i]) {
            std::cmp::Ordering::Equal => i += 1,
            o => return o,
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::{order, same};
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn agrees_with_string_equality(a in "[a-z._]{0,40}", b in "[a-z._]{0,40}") {
            prop_assert_eq!(same(&a, &b), a == b);
            prop_assert_eq!(order(&a, &b), a.cmp(&b));
            prop_assert!(same(&a, &a.clone()));
        }

        #[test]
        fn a_single_byte_changed_anywhere_is_seen(s in "[a-z._]{1,40}", at in 0usize..40) {
            let mut t = s.clone().into_bytes();
            let i = at % t.len();
            t[i] = if t[i] == b'x' { b'y' } else { b'x' };
            let t = String::from_utf8(t).unwrap();
            prop_assert!(!same(&s, &t));
        }
    }
}
