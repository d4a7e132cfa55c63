//! Shared by both formats: resolving column / key names against the
//! catalogue (with aliases and "did you mean" suggestions), checking ids, and
//! turning one row's checked values into a good [`Row`] or a [`Reject`].

use super::identity::{lacks_identity, NO_IDENTITY};
use super::{Reject, Row};
use crate::model::{
    normalise_json, normalise_text, Catalogue, FieldDef, FieldState, NormaliseError, Record, Value,
};
use crate::quoted::quoted;
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use std::collections::BTreeSet;

/// Longest accepted id, in characters.
pub(crate) const MAX_ID_CHARS: usize = 200;

/// Most of the raw row text kept in a reject, in characters.
pub(crate) const MAX_RAW_CHARS: usize = 2000;

/// Common spreadsheet headers and the catalogue fields they mean.
pub(crate) const ALIASES: &[(&str, &str)] = &[
    ("email", "person.email"),
    ("first_name", "person.first_name"),
    ("last_name", "person.last_name"),
    ("company", "company.name"),
    ("company_name", "company.name"),
    ("domain", "company.domain"),
    ("website", "company.domain"),
    ("title", "person.title"),
    ("phone", "person.phone"),
    ("linkedin", "person.linkedin_url"),
    ("linkedin_url", "person.linkedin_url"),
];

/// The catalogue as the importer sees it: names, aliases and group prefixes.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    catalogue: Catalogue,
    /// `person`, `company`, ...: keys a JSON object may nest fields under.
    groups: BTreeSet<String>,
}

/// Header / key spelling people use for the same name: `First Name`, `first-name`.
fn normalise_key(raw: &str) -> String {
    raw.trim().to_lowercase().replace([' ', '-'], "_")
}

impl Fields {
    pub fn new(catalogue: &Catalogue) -> Fields {
        let groups = catalogue
            .iter()
            .filter_map(|d| d.name.split_once('.').map(|(g, _)| g.to_string()))
            .collect();
        Fields {
            catalogue: catalogue.clone(),
            groups,
        }
    }

    /// The catalogue field a column or key means, if any.
    pub fn resolve(&self, raw: &str) -> Option<String> {
        let trimmed = raw.trim();
        if self.catalogue.contains(trimmed) {
            return Some(trimmed.to_string());
        }
        let key = normalise_key(raw);
        if self.catalogue.contains(&key) {
            return Some(key);
        }
        ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|(_, name)| name.to_string())
            .filter(|name| self.catalogue.contains(name))
    }

    /// The definition of a resolved field.
    pub fn def(&self, name: &str) -> Option<&FieldDef> {
        self.catalogue.get(name)
    }

    /// True when `key` is a group prefix (`person`, `company`).
    pub fn is_group(&self, key: &str) -> bool {
        self.groups.contains(&normalise_key(key))
    }

    /// The closest catalogue name to an unknown column: first a field whose
    /// last part matches (`seniority` → `person.seniority`), then the smallest
    /// edit distance to a name, a last part or an alias, if close enough.
    pub fn suggest(&self, raw: &str) -> Option<String> {
        let key = normalise_key(raw);
        if key.is_empty() {
            return None;
        }
        let suffix = |name: &str| name.rsplit_once('.').map_or(name, |(_, s)| s).to_string();
        if let Some(def) = self.catalogue.iter().find(|d| suffix(&d.name) == key) {
            return Some(def.name.to_string());
        }
        let key_chars = key.chars().count();
        let limit = (key_chars / 3).max(2);
        let mut best: Option<(usize, String)> = None;
        let mut consider = |candidate: &str, target: &str| {
            // The distance is at least the difference in length, so such a
            // candidate can never be close enough; and computing it costs the
            // key's length times the candidate's (a 1 MiB header cell).
            if key_chars.abs_diff(candidate.chars().count()) > limit {
                return;
            }
            let d = edit_distance(&key, candidate);
            if !matches!(&best, Some((b, _)) if *b <= d) {
                best = Some((d, target.to_string()));
            }
        };
        for def in self.catalogue.iter() {
            consider(&def.name, &def.name);
            consider(&suffix(&def.name), &def.name);
        }
        for (alias, target) in ALIASES {
            if self.catalogue.contains(target) {
                consider(alias, target);
            }
        }
        best.filter(|(d, _)| *d <= limit).map(|(_, name)| name)
    }

    /// The reason for rejecting an unknown JSON key.
    pub fn unknown_field(&self, key: &str) -> String {
        match self.suggest(key) {
            Some(s) => format!("unknown field {} (did you mean {s:?}?)", quoted(key)),
            None => format!("unknown field {} (not in the field catalogue)", quoted(key)),
        }
    }
}

/// Levenshtein distance over characters; names are short, so the simple
/// two-row version is plenty.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Lossy text of a row for the rejects file, cut to [`MAX_RAW_CHARS`].
pub(crate) fn raw_text(bytes: &[u8]) -> String {
    // Decode only a prefix: 4 bytes per char is the most UTF-8 needs, so the
    // prefix always holds the characters we keep.
    let prefix = &bytes[..bytes.len().min(MAX_RAW_CHARS * 4)];
    String::from_utf8_lossy(prefix)
        .chars()
        .take(MAX_RAW_CHARS)
        .collect()
}

/// One row being checked: its id, its values and every problem found, so a
/// reject lists all of them at once rather than one per re-import.
#[derive(Debug)]
pub(crate) struct Draft {
    line: u64,
    id: Option<String>,
    /// The id as far as it could be read, for the reject even when invalid.
    shown_id: Option<String>,
    id_problem: Option<String>,
    values: Vec<(crate::model::FieldName, Value)>,
    problems: Vec<String>,
}

impl Draft {
    pub fn new(line: u64) -> Draft {
        Draft {
            line,
            id: None,
            shown_id: None,
            id_problem: None,
            // A typical row's values without regrowing.
            values: Vec::with_capacity(8),
            problems: Vec::new(),
        }
    }

    /// Check and keep the id.
    pub fn set_id(&mut self, raw: &str) {
        let id = raw.trim();
        if id.is_empty() {
            return; // reported as `missing id` when the row is finished
        }
        // Cut at a byte offset: collecting chars regrew the string as it went.
        let shown = id
            .char_indices()
            .nth(MAX_ID_CHARS)
            .map_or(id, |(at, _)| &id[..at]);
        self.shown_id = Some(shown.to_string());
        if shown.len() < id.len() {
            let chars = id.chars().count();
            self.id_problem = Some(format!(
                "id is {chars} characters long, over the limit of {MAX_ID_CHARS}"
            ));
        } else if id.chars().any(char::is_control) {
            self.id_problem =
                Some("id contains a control character (tab, newline or similar)".into());
        } else {
            self.id = Some(id.to_string());
        }
    }

    /// Record a problem with the id that is not about its text (JSON type).
    pub fn id_problem(&mut self, reason: String) {
        self.id_problem = Some(reason);
    }

    /// Record a problem with the row.
    pub fn problem(&mut self, reason: String) {
        self.problems.push(reason);
    }

    /// Normalise a text cell for `def`; `label` is how the reason names it.
    pub fn add_text(&mut self, def: &FieldDef, raw: &str, label: &dyn std::fmt::Display) {
        let result = normalise_text(def, raw);
        self.add(def, result, label);
    }

    /// Normalise a JSON value for `def`; `label` is how the reason names it.
    pub fn add_json(
        &mut self,
        def: &FieldDef,
        raw: &serde_json::Value,
        label: &dyn std::fmt::Display,
    ) {
        let result = normalise_json(def, raw);
        self.add(def, result, label);
    }

    /// `label` is formatted only for a problem: it is asked for every cell.
    fn add(
        &mut self,
        def: &FieldDef,
        result: Result<Value, NormaliseError>,
        label: &dyn std::fmt::Display,
    ) {
        match result {
            Ok(value) => self.values.push((def.name, value)),
            // Empty means "not given": the field stays not_attempted.
            Err(NormaliseError::Empty) => {}
            Err(e) => self.problems.push(format!("{label}: {e}")),
        }
    }
}

/// What every row shares: the catalogue, the clock, and the ids seen so far.
#[derive(Debug)]
pub(crate) struct Rows {
    pub fields: Fields,
    now: DateTime<Utc>,
    /// Ids of good rows → their line. Only good rows count: a rejected row
    /// never reaches the store, so a later row with its id duplicates nothing.
    seen: HashMap<String, u64>,
}

impl Rows {
    pub fn new(catalogue: &Catalogue, now: DateTime<Utc>) -> Rows {
        Rows {
            fields: Fields::new(catalogue),
            now,
            seen: HashMap::default(),
        }
    }

    /// Turn a checked row into a good record or a reject; `raw` is only
    /// decoded when the row is rejected.
    pub fn finish(&mut self, draft: Draft, raw: &[u8]) -> Row {
        let Draft {
            line,
            id,
            shown_id,
            id_problem,
            values,
            mut problems,
        } = draft;
        let reject = |reason: String| {
            Row::Rejected(Reject {
                line,
                id: shown_id.clone(),
                reason,
                raw: raw_text(raw),
            })
        };
        match (&id, id_problem) {
            (_, Some(p)) => problems.insert(0, p),
            (None, None) => problems.insert(0, "missing id".to_string()),
            (Some(_), None) => {}
        }
        if !problems.is_empty() {
            return reject(problems.join("; "));
        }
        let Some(id) = id else {
            return reject("missing id".into());
        };
        if let Some(first) = self.seen.get(&id) {
            return reject(format!(
                "duplicate id {} (first seen on line {first})",
                quoted(&id)
            ));
        }
        self.seen.insert(id.clone(), line);
        let mut record = Record::new(id, self.now);
        // Room for enrichment to fill the rest of the catalogue without regrowing.
        record.fields.reserve(self.fields.catalogue.iter().count());
        for (name, value) in values {
            record.set(name, FieldState::input(value, self.now));
        }
        let warning = lacks_identity(&record, &self.fields.catalogue).then(|| Reject {
            line,
            id: Some(record.id.clone()),
            reason: NO_IDENTITY.into(),
            raw: raw_text(raw),
        });
        Row::Good {
            line,
            record,
            warning,
        }
    }
}
