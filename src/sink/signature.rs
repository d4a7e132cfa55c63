//! Webhook signatures: the one scheme both the sender (the webhook target) and
//! receivers (and our tests) use.
//!
//! # Scheme (`v1`)
//! Every webhook request carries
//! - `x-leadfall-event-id`: the event's stable `id` (dedupe on it: delivery is
//!   at least once, so the same id can arrive again after a retry or a restart);
//! - `x-leadfall-timestamp`: Unix seconds when this attempt was signed (each
//!   retry is signed afresh);
//! - `x-leadfall-signature`: `v1=<hex>`, where `<hex>` is the lowercase hex of
//!   `HMAC-SHA256(secret, "<timestamp>.<raw body>")`.
//!
//! To verify, a receiver recomputes the HMAC over the timestamp header, a `.`
//! and the raw request body bytes (before any JSON parsing), compares it with
//! the header in constant time ([`verify`] does both), and rejects timestamps
//! more than [`MAX_AGE_SECS`] away from its own clock (replays). The header may
//! hold several comma-separated `v1=` entries (room for secret rotation); one
//! match is enough.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header with the event's stable id.
pub const EVENT_ID_HEADER: &str = "x-leadfall-event-id";
/// Header with the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-leadfall-timestamp";
/// Header with `v1=<hex HMAC-SHA256>`.
pub const SIGNATURE_HEADER: &str = "x-leadfall-signature";
/// Oldest timestamp a receiver should accept, in seconds.
pub const MAX_AGE_SECS: i64 = 300;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("hmac accepts any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `x-leadfall-signature` value for `body` signed at `timestamp`: `v1=<hex>`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    let mut out = String::with_capacity(3 + tag.len() * 2);
    out.push_str("v1=");
    for b in tag {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

/// Whether `header` (an `x-leadfall-signature` value) signs `body` at
/// `timestamp` with `secret`. The comparison is constant-time. The caller
/// still checks that `timestamp` is recent (see [`MAX_AGE_SECS`]).
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let expected = mac(secret, timestamp, body);
    header
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("v1="))
        .filter_map(decode_hex)
        // `verify_slice` compares in constant time; the hex decoding above only
        // looks at the header, never at the expected tag.
        .any(|tag| expected.clone().verify_slice(&tag).is_ok())
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?))
        .collect()
}
