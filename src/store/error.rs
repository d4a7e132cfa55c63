//! Store errors.

use thiserror::Error;

/// What can go wrong in the store.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The data directory could not be opened.
    #[error("cannot open the store at {0}: {1}")]
    Open(String, String),
    /// sled failed.
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value did not decode (written by another version?).
    #[error("store: corrupt {what}: {message}")]
    Corrupt {
        /// Which kind of value.
        what: &'static str,
        /// The decoder's message.
        message: String,
    },
}
