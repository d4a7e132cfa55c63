//! `report --advise --apply`: write suggested orders into the config file,
//! keeping its comments and layout (toml_edit), after a timestamped backup.
//! The result is checked by the normal config loader; if it does not load,
//! the backup is put back.

use super::{Advice, ALL};
use crate::waterfall::GUESS_STEP;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// What `apply` changed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    /// The copy of the config before the change.
    pub backup: PathBuf,
    /// One line per change: `person.email [person.seniority=vp]: a, b → b, a`.
    pub changes: Vec<String>,
}

/// Why applying failed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Reading, backing up or writing the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML (it loaded before, so it changed meanwhile).
    #[error("{0}: cannot edit: {1}")]
    Parse(PathBuf, String),
    /// The edited config did not load; the backup was restored.
    #[error("the edited config did not load, so the original was restored:\n{0}")]
    Invalid(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ApplyError + '_ {
    move |source| ApplyError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write every suggestion that changes an order into `config`. `validate`
/// loads the written file (the caller's config loader: the advisor sits below
/// config); on error the backup is put back.
pub fn apply(
    config: &Path,
    advice: &Advice,
    now: DateTime<Utc>,
    validate: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<Applied, ApplyError> {
    let text = std::fs::read_to_string(config).map_err(io(config))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        ApplyError::Parse(config.to_path_buf(), e.to_string())
    })?;
    let mut changes = Vec::new();
    for a in advice.fields.iter().filter(|a| a.changes()) {
        let Some(suggested) = &a.suggested else {
            continue;
        };
        let table = doc["waterfall"]["fields"][a.field.as_str()]
            .or_insert(toml_edit::table())
            .as_table_like_mut()
            .ok_or_else(|| {
                ApplyError::Parse(
                    config.to_path_buf(),
                    format!("waterfall.fields.\"{}\" is not a table", a.field),
                )
            })?;
        // The free guess stays in front of the paid steps.
        let had_guess = table
            .get("steps")
            .and_then(|s| s.as_array())
            .is_some_and(|s| s.iter().any(|v| v.as_str() == Some(GUESS_STEP)));
        let mut list = toml_edit::Array::new();
        if had_guess {
            list.push(GUESS_STEP);
        }
        for op in suggested {
            list.push(op.as_str());
        }
        if a.segment == ALL {
            table.insert("steps", toml_edit::value(list));
        } else {
            let segs = table
                .entry("segments")
                .or_insert(toml_edit::table())
                .as_table_like_mut()
                .ok_or_else(|| {
                    ApplyError::Parse(
                        config.to_path_buf(),
                        format!("waterfall.fields.\"{}\".segments is not a table", a.field),
                    )
                })?;
            segs.insert(&a.segment, toml_edit::value(list));
        }
        changes.push(format!(
            "{} [{}]: {} → {}",
            a.field,
            a.segment,
            a.current.join(", "),
            suggested.join(", ")
        ));
    }
    let mut backup = config.as_os_str().to_owned();
    backup.push(format!(".bak-{}", now.format("%Y%m%dT%H%M%S")));
    let backup = PathBuf::from(backup);
    std::fs::copy(config, &backup).map_err(io(&backup))?;
    std::fs::write(config, doc.to_string()).map_err(io(config))?;
    if let Err(errs) = validate(config) {
        std::fs::copy(&backup, config).map_err(io(config))?;
        return Err(ApplyError::Invalid(errs));
    }
    Ok(Applied { backup, changes })
}
