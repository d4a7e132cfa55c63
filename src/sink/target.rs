//! Where one event goes, per sink kind: append a line to a file, print a line,
//! or POST it ([`super::webhook`]). One call is one attempt; retrying and
//! cursor moves belong to [`super::deliver`].

use super::config::{Sink, SinkTarget};
use super::error::DeliveryError;
use super::webhook::Webhook;
use bytes::Bytes;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A sink's target, ready to deliver.
pub(crate) enum Target {
    Jsonl(PathBuf),
    Stdout,
    Webhook(Webhook),
}

/// The name `status` shows for a sink's kind.
pub(crate) fn kind(target: &SinkTarget) -> &'static str {
    match target {
        SinkTarget::Jsonl(_) => "jsonl",
        SinkTarget::Stdout => "stdout",
        SinkTarget::Webhook { .. } => "webhook",
    }
}

impl Target {
    pub(crate) fn new(sink: &Sink) -> Result<Target, reqwest::Error> {
        Ok(match &sink.target {
            SinkTarget::Jsonl(path) => Target::Jsonl(path.clone()),
            SinkTarget::Stdout => Target::Stdout,
            SinkTarget::Webhook {
                url,
                secret,
                timeout,
            } => Target::Webhook(Webhook::new(url.clone(), secret.clone(), *timeout)?),
        })
    }

    /// One delivery attempt of `event` (compact JSON, no newline inside).
    pub(crate) async fn deliver(&self, event_id: &str, event: &Bytes) -> Result<(), DeliveryError> {
        match self {
            Target::Webhook(w) => w.post(event_id, event.clone()).await,
            Target::Jsonl(path) => {
                let (path, event) = (path.clone(), event.clone());
                blocking(move || {
                    append_line(&path, &event).map_err(|source| DeliveryError::File {
                        path: path.display().to_string(),
                        source,
                    })
                })
                .await
            }
            Target::Stdout => {
                let event = event.clone();
                // A blocked stdout pipe must not stall a runtime thread.
                blocking(move || {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&event)
                        .and_then(|()| out.write_all(b"\n"))
                        .and_then(|()| out.flush())
                        .map_err(DeliveryError::Stdout)
                })
                .await
            }
        }
    }
}

async fn blocking(
    f: impl FnOnce() -> Result<(), DeliveryError> + Send + 'static,
) -> Result<(), DeliveryError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DeliveryError::Task(e.to_string()))?
}

/// Append `line` and a newline to `path`, durably (data synced) before
/// returning. A file whose last line was cut short (a crash mid-write) gets a
/// newline first, so the torn line stays on its own and the redelivered event
/// is a whole line.
fn append_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let mut buf = Vec::with_capacity(line.len() + 2);
    if file.metadata()?.len() > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            buf.push(b'\n');
        }
    }
    buf.extend_from_slice(line);
    buf.push(b'\n');
    // Append mode: the write lands at the end whatever the read position.
    file.write_all(&buf)?;
    file.flush()?;
    file.sync_data()
}

/// The event's stable `"id"` (the dedupe key receivers see), or `seq-<seq>`
/// when it has none. Bytes outside visible ASCII and `%` are percent-encoded
/// so the id always fits an HTTP header and stays the same on every attempt.
pub(crate) fn event_id(seq: u64, event: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Id {
        id: Option<String>,
    }
    let raw = serde_json::from_slice::<Id>(event)
        .ok()
        .and_then(|i| i.id)
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("seq-{seq}"));
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
