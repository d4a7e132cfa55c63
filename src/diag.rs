//! Configuration diagnostics: one error type shared by every config check, so
//! `leadfall check` and `serve` print the same `file: key: message` lines;
//! and the one-line form of any error with its causes.

use std::fmt;
use std::path::PathBuf;

/// One problem in a configuration or provider file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as given (relative paths stay relative).
    pub file: PathBuf,
    /// Dotted key path inside the file (`operations.find.rate_limit.burst`), empty for the whole file.
    pub key: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong, lower-case, no final period.
    pub message: String,
}

impl ConfigError {
    /// A problem at a key.
    pub fn at(
        file: impl Into<PathBuf>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ConfigError {
            file: file.into(),
            key: key.into(),
            line: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        writeln!(
            f,
            "{n} configuration error{}:",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Turn a TOML parse error into a `ConfigError` with the line it points at.
pub fn toml_error(file: impl Into<PathBuf>, text: &str, err: &toml::de::Error) -> ConfigError {
    let line = err
        .span()
        .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
    // toml's messages span lines; one line per error reads better in `check`.
    let message = err
        .message()
        .trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    // toml gives no message for some syntax errors (an inline table cut off
    // at the end of the file); its display still says where.
    let message = if message.is_empty() {
        let shown = err.to_string();
        shown.lines().next().unwrap_or("invalid TOML").to_string()
    } else {
        message
    };
    ConfigError {
        file: file.into(),
        key: String::new(),
        line,
        message,
    }
}

/// An error and its causes on one line (`a: b: c`), for logs and messages
/// (hyper's and the sinks' errors say what failed only in their causes).
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toml_error_always_says_something() {
        // Found by fuzzing (fuzz/regressions/config_load): toml's own
        // message is empty for an inline table cut off at the end.
        let text = "a = 1\nmap = { x = 0.5, y = ";
        let err = toml::from_str::<toml::Table>(text).unwrap_err();
        let e = toml_error("p.toml", text, &err);
        assert!(!e.message.trim().is_empty(), "{e:?}");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("line 2"), "{}", e.message);
    }
}
