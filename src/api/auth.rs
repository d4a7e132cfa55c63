//! The control token: created once per data directory (mode 0600), required
//! as `Authorization: Bearer <token>` on every route but `/healthz`. The
//! comparison is constant-time so response timing does not leak the token.

use super::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use std::fmt;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

/// The token file's name inside the data directory.
pub const TOKEN_FILE: &str = "control.token";

/// Random bytes in a new token (hex-encoded on disk and on the wire).
const TOKEN_BYTES: usize = 32;

/// The control API's bearer token. Prints as `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token([redacted])")
    }
}

impl Token {
    /// A token from its text (tests, `--token-file` already read).
    pub fn new(secret: impl Into<String>) -> Token {
        Token(secret.into())
    }

    /// The secret, for the `Authorization` header. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Read a token file (surrounding whitespace ignored; empty is an error).
    pub fn read(path: &Path) -> io::Result<Token> {
        let text = std::fs::read_to_string(path)?;
        let secret = text.trim();
        if secret.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("token file {} is empty", path.display()),
            ));
        }
        Ok(Token(secret.to_string()))
    }

    /// The token in `<data_dir>/control.token`, created (32 random bytes,
    /// hex, mode 0600) when the daemon starts there for the first time.
    pub fn load_or_create(data_dir: &Path) -> io::Result<Token> {
        let path = data_dir.join(TOKEN_FILE);
        crate::data_dir::create(data_dir)?;
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        // `create_new` makes creation atomic: of two daemons starting at once,
        // one writes and the other reads what it wrote. The mode is set at
        // creation, so the file is never readable by others, not even briefly.
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(mut f) => {
                f.write_all(secret.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_all()?;
                Ok(Token(secret))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Token::read(&path),
            Err(e) => Err(e),
        }
    }

    /// Constant-time check of a presented secret.
    fn matches(&self, presented: &[u8]) -> bool {
        constant_time_eq(self.0.as_bytes(), presented)
    }
}

/// Equal-length inputs are compared without an early exit, so the time taken
/// does not say how many leading bytes were right. Lengths are not secret
/// (every token is 64 hex digits), so a mismatch returns at once.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // black_box keeps the optimiser from turning the fold into an early exit.
    std::hint::black_box(diff) == 0
}

/// Middleware: pass the request on only with the right bearer token.
pub async fn require_token(State(token): State<Arc<Token>>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    match presented {
        Some(p) if token.matches(p.as_bytes()) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// The credentials of a `Bearer` authorization value (the scheme is
/// case-insensitive, RFC 9110 §11.1).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn constant_time_eq_cases() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(constant_time_eq(b"", b""));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
    }

    #[test]
    fn debug_is_redacted() {
        let t = Token::new("s3cret");
        assert_eq!(format!("{t:?}"), "Token([redacted])");
    }
}
