//! A user's value quoted in a message: at most [`MAX_QUOTED_CHARS`] of it,
//! so a 100 KB id in a bad request does not come back as a 100 KB error (or
//! fill a log line). Every error that quotes what a user sent goes through
//! [`quoted`]; messages made by a library that quotes values its own way
//! (serde's, through axum) go through [`shorten_message`].

use std::fmt;

/// The most characters of a value a message shows.
pub const MAX_QUOTED_CHARS: usize = 80;

/// The most characters of a library's message [`shorten_message`] keeps.
pub const MAX_MESSAGE_CHARS: usize = 400;

/// Where `value` is cut and its length in characters, when it is over `max`.
fn cut(value: &str, max: usize) -> Option<(&str, usize)> {
    let (at, _) = value.char_indices().nth(max)?;
    Some((&value[..at], value.chars().count()))
}

/// `value` quoted as `{:?}` prints it; a longer value is cut at a character
/// boundary and ends with `…` and its full length: `"aaaa…" (100000 characters)`.
pub fn quoted(value: &str) -> Quoted<'_> {
    Quoted(value)
}

/// See [`quoted`]; formats without allocating when the value is short.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some((head, chars)) = cut(self.0, MAX_QUOTED_CHARS) else {
            return write!(f, "{:?}", self.0);
        };
        let shown = format!("{head:?}");
        // The ellipsis goes inside the closing quote: the text ran on.
        let open = &shown[..shown.len() - 1];
        write!(f, "{open}…\" ({chars} characters)")
    }
}

/// A library's message with every word (text between blanks, quotes and
/// path punctuation) over [`MAX_QUOTED_CHARS`] cut as [`quoted`] cuts a
/// value, and the whole cut at [`MAX_MESSAGE_CHARS`]. serde quotes a key
/// in the path and again in the message, each in full.
pub fn shorten_message(text: &str) -> String {
    let is_break = |c: char| c.is_whitespace() || "`\"'.,:[]".contains(c);
    let mut out = String::with_capacity(text.len().min(4 * MAX_MESSAGE_CHARS));
    for piece in text.split_inclusive(is_break) {
        let (word, end) = match piece.char_indices().last() {
            Some((i, c)) if is_break(c) => piece.split_at(i),
            _ => (piece, ""),
        };
        match cut(word, MAX_QUOTED_CHARS) {
            Some((head, chars)) => out.push_str(&format!("{head}… ({chars} characters)")),
            None => out.push_str(word),
        }
        out.push_str(end);
    }
    match cut(&out, MAX_MESSAGE_CHARS) {
        Some((head, _)) => format!("{head}…"),
        None => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(quoted("bob").to_string(), "\"bob\"");
        assert_eq!(quoted("a\"b\n").to_string(), "\"a\\\"b\\n\"");
        let exact = "x".repeat(MAX_QUOTED_CHARS);
        assert_eq!(quoted(&exact).to_string(), format!("\"{exact}\""));
    }

    #[test]
    fn long_values_are_cut_at_a_char_boundary_with_their_length() {
        let long = "é".repeat(100_000);
        let shown = quoted(&long).to_string();
        let want = format!("\"{}…\" (100000 characters)", "é".repeat(MAX_QUOTED_CHARS));
        assert_eq!(shown, want);
    }

    #[test]
    fn a_library_message_has_its_long_words_and_its_length_cut() {
        let key = "k".repeat(100_000);
        let text = format!("records[0].{key}: unknown field `{key}`, expected `id`");
        let k80 = "k".repeat(MAX_QUOTED_CHARS);
        let want = format!(
            "records[0].{k80}… (100000 characters): unknown field `{k80}… (100000 characters)`, expected `id`"
        );
        assert_eq!(shorten_message(&text), want);
        assert_eq!(shorten_message("at line 1 column 5"), "at line 1 column 5");
        let spaced = "a ".repeat(100_000);
        let shown = shorten_message(&spaced);
        assert_eq!(shown.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
