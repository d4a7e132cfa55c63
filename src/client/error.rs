//! What can go wrong talking to the daemon, as cases a caller acts on.

use std::path::PathBuf;
use thiserror::Error;

/// A failed control API call.
#[derive(Debug, Error)]
pub enum ClientError {
    /// A file the daemon writes into its data directory is missing or unreadable.
    #[error("cannot read {}: {source} (is `leadfall serve` running with this data directory?)", path.display())]
    DaemonFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The base URL or address is not usable.
    #[error("bad control address {0:?}")]
    BadAddress(String),
    /// Nothing answers at the address: the daemon is not running.
    #[error("the daemon is not reachable at {addr} (is `leadfall serve` running?)")]
    Unreachable {
        /// The address tried.
        addr: String,
        /// The connection error.
        #[source]
        source: reqwest::Error,
    },
    /// The token was refused.
    #[error("the daemon refused the control token (use the token file from the daemon's data directory)")]
    Unauthorized,
    /// No such record.
    #[error("{0}")]
    NotFound(String),
    /// The daemon refused the request; the message names the problem.
    #[error("rejected by the daemon: {0}")]
    BadRequest(String),
    /// The daemon's configuration files have errors; it runs on with the old one.
    #[error("the daemon kept its running configuration; the files have errors:\n{0}")]
    ConfigInvalid(String),
    /// Any other failure status.
    #[error("the daemon answered {status}: {message}")]
    Server {
        /// HTTP status code.
        status: u16,
        /// The error message from the body.
        message: String,
    },
    /// The connection failed after it was made (reset, timeout, a stream cut short).
    #[error("talking to the daemon failed")]
    Transport(#[source] reqwest::Error),
    /// An answer body exceeded the client's cap.
    #[error("the daemon's answer is over {cap} bytes")]
    TooLarge {
        /// The cap in bytes.
        cap: usize,
    },
    /// The answer was not the expected JSON.
    #[error("cannot decode the daemon's answer")]
    Decode(#[source] serde_json::Error),
    /// Writing the export failed.
    #[error("writing the export failed")]
    Io(#[from] std::io::Error),
}
