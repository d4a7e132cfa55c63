//! Shared by both formats: resolving column / key names against the
//! catalogue, the header aliases and the user's `--map` / `--ignore`
//! ([`ColumnRules`]), "did you mean" suggestions, checking ids, and turning
//! one row's checked values into a good [`Row`] or a [`Reject`].

use super::aliases::{self, header_key, ID};
use super::identity::{lacks_identity, NO_IDENTITY};
use super::{Reject, Row};
use crate::model::{
    normalise_json, normalise_text, Catalogue, FieldDef, FieldState, NormaliseError, Record, Value,
};
use crate::quoted::quoted;
use chrono::{DateTime, Utc};
use foldhash::HashMap;
use serde::Serialize;
use std::collections::BTreeSet;

/// Longest accepted id, in characters.
pub(crate) const MAX_ID_CHARS: usize = 200;

/// Most of the raw row text kept in a reject, in characters.
pub(crate) const MAX_RAW_CHARS: usize = 2000;

/// The user's say over columns (CSV headers, JSON keys): `--map 'Col=field'`
/// reads a column as a field (or as `id`), `--ignore Col` skips it. Column
/// names match as headers do: case and punctuation aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnRules {
    /// (column, field or `id`) pairs, as given.
    pub map: Vec<(String, String)>,
    /// Columns to skip, as given.
    pub ignore: Vec<String>,
}

impl ColumnRules {
    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty() && self.ignore.is_empty()
    }
}

/// A `--map` value: `COLUMN=FIELD`, split at the last `=` (a field name has
/// none; a column name might).
pub fn parse_map(raw: &str) -> Result<(String, String), String> {
    let (column, field) = raw.rsplit_once('=').ok_or_else(|| {
        format!("expected COLUMN=FIELD (e.g. 'Company Domain=company.domain'), got {raw:?}")
    })?;
    if column.trim().is_empty() || field.trim().is_empty() {
        return Err(format!(
            "expected COLUMN=FIELD with both sides given, got {raw:?}"
        ));
    }
    Ok((column.trim().to_string(), field.trim().to_string()))
}

/// Shell-quote a column for a message the user can paste (`'Job Title'`).
/// A name too long to quote in a message (see [`quoted`]) becomes a
/// placeholder: pasting a cut name would not work anyway.
pub(crate) fn shell_quote(s: &str) -> String {
    if s.chars().nth(crate::quoted::MAX_QUOTED_CHARS).is_some() {
        return "'COLUMN'".to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What a column or key means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The record id.
    Id,
    /// A catalogue field.
    Field(String),
    /// Skipped (`--ignore`).
    Ignored,
}

/// How a column was matched, as `import --dry-run` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The field's own name (`person.email`, `Person Email`, `id`).
    Name,
    /// A header alias (`Email Address`).
    Alias,
    /// `--map`.
    Map,
    /// `--ignore`.
    Ignore,
    /// An empty header: skipped while its cells are empty.
    Unnamed,
}

/// One `--map` / `--ignore` rule, resolved.
#[derive(Debug, Clone)]
struct Rule {
    /// As the user wrote it, for messages (`--map 'A=b'`).
    shown: String,
    target: Target,
}

/// The catalogue as the importer sees it: names, aliases, group prefixes and
/// the user's rules.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    catalogue: Catalogue,
    /// `person`, `company`, ...: keys a JSON object may nest fields under.
    groups: BTreeSet<String>,
    /// [`header_key`] → target, for `id`, catalogue names and aliases.
    keys: HashMap<String, (Target, MatchedBy)>,
    /// [`rule_key`] → the user's rule.
    rules: HashMap<String, Rule>,
}

/// The key a rule and a column are matched by: [`header_key`], or the
/// trimmed text when that leaves nothing (a header of only punctuation).
pub(crate) fn rule_key(raw: &str) -> String {
    let key = header_key(raw);
    if key.is_empty() {
        raw.trim().to_string()
    } else {
        key
    }
}

impl Fields {
    /// Without rules.
    pub fn new(catalogue: &Catalogue) -> Fields {
        let groups = catalogue
            .iter()
            .filter_map(|d| d.name.split_once('.').map(|(g, _)| g.to_string()))
            .collect();
        let mut keys: HashMap<String, (Target, MatchedBy)> = HashMap::default();
        keys.insert(ID.to_string(), (Target::Id, MatchedBy::Name));
        // Two custom fields with one key (`x.a_b`, `x.ab`) claim it for neither.
        let mut clashes = BTreeSet::new();
        for def in catalogue.iter() {
            let key = header_key(&def.name);
            let target = (Target::Field(def.name.to_string()), MatchedBy::Name);
            if keys.insert(key.clone(), target).is_some() {
                clashes.insert(key);
            }
        }
        for key in clashes {
            keys.remove(&key);
        }
        // Aliases after names: a catalogue name always means itself.
        for (header, field) in aliases::pairs() {
            let target = if field == ID {
                Target::Id
            } else if catalogue.contains(field) {
                Target::Field(field.to_string())
            } else {
                continue;
            };
            keys.entry(header_key(header))
                .or_insert((target, MatchedBy::Alias));
        }
        Fields {
            catalogue: catalogue.clone(),
            groups,
            keys,
            rules: HashMap::default(),
        }
    }

    /// With the user's rules, each checked: a `--map` must name a field (or
    /// `id`, or anything a header could say for one), and no column may be
    /// both mapped and ignored, or mapped twice.
    pub fn with_rules(catalogue: &Catalogue, given: &ColumnRules) -> Result<Fields, String> {
        let mut fields = Fields::new(catalogue);
        let mut rules: HashMap<String, Rule> = HashMap::default();
        let mut add = |column: &str, rule: Rule| -> Result<(), String> {
            match rules.get(&rule_key(column)) {
                Some(first) if first.target != rule.target => Err(format!(
                    "{} and {} both name column {}; keep one",
                    first.shown,
                    rule.shown,
                    quoted(column)
                )),
                _ => {
                    rules.insert(rule_key(column), rule);
                    Ok(())
                }
            }
        };
        for (column, field) in &given.map {
            let shown = format!("--map {}", shell_quote(&format!("{column}={field}")));
            let target = match fields.resolve(field) {
                Some((target @ (Target::Id | Target::Field(_)), _)) => target,
                _ => {
                    let hint = match fields.suggest(field) {
                        Some(s) => format!("did you mean {s:?}?"),
                        None => "name a catalogue field (see `leadfall check`) or id".into(),
                    };
                    return Err(format!("{shown}: {} is not a field; {hint}", quoted(field)));
                }
            };
            add(column, Rule { shown, target })?;
        }
        for column in &given.ignore {
            let shown = format!("--ignore {}", shell_quote(column));
            add(
                column,
                Rule {
                    shown,
                    target: Target::Ignored,
                },
            )?;
        }
        fields.rules = rules;
        Ok(fields)
    }

    /// The rules no column in `columns` matched, as the user wrote them.
    pub fn unused_rules<'a>(&'a self, columns: &[String]) -> Vec<&'a str> {
        let used: BTreeSet<String> = columns.iter().map(|c| rule_key(c)).collect();
        let mut unused: Vec<&str> = self
            .rules
            .iter()
            .filter(|(key, _)| !used.contains(*key))
            .map(|(_, rule)| rule.shown.as_str())
            .collect();
        unused.sort_unstable();
        unused
    }

    /// What a column or key means, and how that was decided; `None` for an
    /// unknown one.
    pub fn resolve(&self, raw: &str) -> Option<(Target, MatchedBy)> {
        if !self.rules.is_empty() {
            if let Some(rule) = self.rules.get(&rule_key(raw)) {
                let by = match rule.target {
                    Target::Ignored => MatchedBy::Ignore,
                    _ => MatchedBy::Map,
                };
                return Some((rule.target.clone(), by));
            }
        }
        // The common case first, without building a key: a catalogue name.
        let trimmed = raw.trim();
        if self.catalogue.contains(trimmed) {
            return Some((Target::Field(trimmed.to_string()), MatchedBy::Name));
        }
        self.keys.get(&header_key(raw)).cloned()
    }

    /// The definition of a resolved field.
    pub fn def(&self, name: &str) -> Option<&FieldDef> {
        self.catalogue.get(name)
    }

    /// True when `key` is a group prefix (`person`, `company`).
    pub fn is_group(&self, key: &str) -> bool {
        self.groups.contains(&key.trim().to_lowercase())
    }

    /// The closest catalogue name to an unknown column: first a field whose
    /// last part matches (`seniority` → `person.seniority`), then the smallest
    /// edit distance to a name, a last part or an alias, if close enough.
    /// Names are compared by [`header_key`], so punctuation costs nothing.
    pub fn suggest(&self, raw: &str) -> Option<String> {
        let key = header_key(raw);
        if key.is_empty() {
            return None;
        }
        let suffix = |name: &str| header_key(name.rsplit_once('.').map_or(name, |(_, s)| s));
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
            consider(&header_key(&def.name), &def.name);
            consider(&suffix(&def.name), &def.name);
        }
        for (header, target) in aliases::pairs() {
            if self.catalogue.contains(target) {
                consider(&header_key(header), target);
            }
        }
        best.filter(|(d, _)| *d <= limit).map(|(_, name)| name)
    }

    /// The reason for rejecting an unknown JSON key.
    pub fn unknown_field(&self, key: &str) -> String {
        let what = match self.suggest(key) {
            Some(s) => format!("unknown field {} (did you mean {s:?}?)", quoted(key)),
            None => format!("unknown field {} (not in the field catalogue)", quoted(key)),
        };
        format!(
            "{what}; read it as a field with --map {} or skip it with --ignore {}",
            shell_quote(&format!("{key}=FIELD")),
            shell_quote(key)
        )
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
    pub fn new(fields: Fields, now: DateTime<Utc>) -> Rows {
        Rows {
            fields,
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
