//! JSON pointers (RFC 6901) extended with a `*` segment that collects over an
//! array, and pick rules that choose one element of an array.

use serde_json::Value as Json;

/// A parsed pointer.
#[derive(Debug, Clone, PartialEq)]
pub struct Pointer {
    segments: Vec<Segment>,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Each,
}

impl Pointer {
    /// Parse `/a/b/0`, `/a/*/name`; the empty string is the whole document.
    pub fn parse(text: &str) -> Result<Pointer, String> {
        if !text.is_empty() && !text.starts_with('/') {
            return Err(format!("JSON pointer {text:?} must start with '/'"));
        }
        let segments = text
            .split('/')
            .skip(1)
            .map(|s| {
                if s == "*" {
                    Segment::Each
                } else {
                    Segment::Key(s.replace("~1", "/").replace("~0", "~"))
                }
            })
            .collect();
        Ok(Pointer {
            segments,
            text: text.to_string(),
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The segments: a key (or array index), or `None` for `*`.
    pub fn keys(&self) -> Vec<Option<&str>> {
        self.segments
            .iter()
            .map(|s| match s {
                Segment::Key(k) => Some(k.as_str()),
                Segment::Each => None,
            })
            .collect()
    }

    /// True when the pointer collects (`*`) and so yields a list.
    pub fn collects(&self) -> bool {
        self.segments.contains(&Segment::Each)
    }

    /// Every value reached; empty when the path is missing. Nulls are kept.
    pub fn resolve<'a>(&self, doc: &'a Json) -> Vec<&'a Json> {
        let mut current = vec![doc];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                match (seg, v) {
                    (Segment::Each, Json::Array(items)) => next.extend(items.iter()),
                    (Segment::Key(k), Json::Object(map)) => next.extend(map.get(k)),
                    (Segment::Key(k), Json::Array(items)) => {
                        next.extend(k.parse::<usize>().ok().and_then(|i| items.get(i)))
                    }
                    _ => {}
                }
            }
            current = next;
        }
        current
    }

    /// The single value reached (first when collecting), if any and not null.
    pub fn get<'a>(&self, doc: &'a Json) -> Option<&'a Json> {
        self.resolve(doc).into_iter().find(|v| !v.is_null())
    }
}

/// Chooses one element of an array.
#[derive(Debug, Clone, PartialEq)]
pub enum Pick {
    /// The first element whose `pointer` equals `value`.
    Where {
        /// Pointer inside each element.
        pointer: Pointer,
        /// Wanted value.
        value: Json,
    },
    /// The element with the largest number at `pointer`.
    MaxBy(Pointer),
}

impl Pick {
    /// Apply to an array; `None` for non-arrays or no match.
    pub fn apply<'a>(&self, v: &'a Json) -> Option<&'a Json> {
        let items = v.as_array()?;
        match self {
            Pick::Where { pointer, value } => items.iter().find(|i| pointer.get(i) == Some(value)),
            Pick::MaxBy(pointer) => items
                .iter()
                .filter_map(|i| pointer.get(i).and_then(Json::as_f64).map(|n| (n, i)))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, i)| i),
        }
    }
}
