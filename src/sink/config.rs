//! `[[sinks]]` in `config/leadfall.toml`: where route-change events go.

use crate::diag::ConfigError;
use crate::provider::Secret;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One sink as written in config.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkFile {
    /// Unique name (its delivery cursor is kept under it).
    pub name: String,
    /// `jsonl`, `stdout` or `webhook`.
    pub kind: String,
    /// `jsonl`: the file events are appended to (relative to the config file).
    #[serde(default)]
    pub path: Option<String>,
    /// `webhook`: the URL events are POSTed to.
    #[serde(default)]
    pub url: Option<String>,
    /// `webhook`: environment variable holding the HMAC-SHA256 signing secret.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// Attempts per event before it is dead-lettered.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// `webhook`: request timeout, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

const fn default_max_attempts() -> u32 {
    8
}
const fn default_timeout_ms() -> u64 {
    5_000
}

/// Where a sink delivers.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkTarget {
    /// Append JSON lines to a file.
    Jsonl(PathBuf),
    /// Print JSON lines on stdout.
    Stdout,
    /// POST each event, signed.
    Webhook {
        /// The URL.
        url: url::Url,
        /// The signing secret.
        secret: Secret,
        /// Request timeout.
        timeout: Duration,
    },
}

/// A validated sink.
#[derive(Debug, Clone, PartialEq)]
pub struct Sink {
    /// Name.
    pub name: String,
    /// Target.
    pub target: SinkTarget,
    /// Attempts per event before dead-lettering.
    pub max_attempts: u32,
}

/// Check and compile the sinks.
pub fn compile_sinks(
    file: &Path,
    raw: &[SinkFile],
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<ConfigError>,
) -> Vec<Sink> {
    let base = file.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let key = format!("sinks[{i}]");
        let mut err =
            |k: &str, m: String| errors.push(ConfigError::at(file, format!("{key}.{k}"), m));
        if s.name.is_empty() || raw[..i].iter().any(|o| o.name == s.name) {
            err("name", format!("{:?} must be non-empty and unique", s.name));
        }
        if s.max_attempts == 0 {
            err("max_attempts", "must be ≥ 1, got 0".into());
        }
        let target = match s.kind.as_str() {
            "stdout" => Some(SinkTarget::Stdout),
            "jsonl" => match &s.path {
                Some(p) => Some(SinkTarget::Jsonl(base.join(p))),
                None => {
                    err("path", "a jsonl sink needs `path`".into());
                    None
                }
            },
            "webhook" => {
                let url = s
                    .url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https"));
                if url.is_none() {
                    err(
                        "url",
                        format!("{:?} is not an http(s) URL", s.url.as_deref().unwrap_or("")),
                    );
                }
                let secret = match &s.secret_env {
                    None => {
                        err(
                            "secret_env",
                            "a webhook sink needs `secret_env` (signatures are not optional)"
                                .into(),
                        );
                        None
                    }
                    Some(v) => match env(v).filter(|x| !x.is_empty()) {
                        Some(x) => Some(Secret::new(x)),
                        None => {
                            err("secret_env", format!("environment variable {v} is not set"));
                            None
                        }
                    },
                };
                url.zip(secret).map(|(url, secret)| SinkTarget::Webhook {
                    url,
                    secret,
                    timeout: Duration::from_millis(s.timeout_ms.max(1)),
                })
            }
            other => {
                err("kind", format!("{other:?} is not jsonl, stdout or webhook"));
                None
            }
        };
        if let Some(target) = target {
            out.push(Sink {
                name: s.name.clone(),
                target,
                max_attempts: s.max_attempts.max(1),
            });
        }
    }
    out
}
