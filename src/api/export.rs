//! `GET /v1/export?format=jsonl|csv&route=R`: every matching record, streamed.
//! The store scan runs on a blocking thread and hands ~64 KiB chunks over a
//! bounded channel to the response body, so memory stays flat however many
//! records there are, and a slow reader slows the scan instead of filling RAM.

use super::extract::ApiQuery;
use super::ApiError;
use crate::control::{Control, ExportFilter};
use crate::export::{csv_header, csv_row, jsonl_line, ExportFormat};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use chrono::Utc;
use serde::Deserialize;
use std::io::{self, Write};
use tokio::sync::mpsc;

/// Bytes gathered before a chunk goes to the client.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks buffered between the scan and the socket (when full, the scan waits).
const CHUNKS_IN_FLIGHT: usize = 8;

/// The export route.
pub fn router() -> Router<Control> {
    Router::new().route("/v1/export", get(export))
}

/// The query string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportQuery {
    #[serde(default)]
    format: ExportFormat,
    #[serde(default)]
    route: Option<String>,
}

async fn export(
    State(control): State<Control>,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let filter = ExportFilter { route: q.route };
    let format = q.format;
    let (tx, rx) = mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
    let scan = tokio::task::spawn_blocking(move || scan(&control, &filter, format, tx));
    // The body ends cleanly only when the scan finished; a failed or panicked
    // scan makes the body fail, so the client sees an aborted transfer rather
    // than a short file that looks complete.
    let body = futures::stream::unfold(Some((rx, scan)), |st| async move {
        let (mut rx, scan) = st?;
        match rx.recv().await {
            Some(chunk) => Some((Ok(chunk), Some((rx, scan)))),
            None => {
                let failure = match scan.await {
                    Ok(Ok(())) => return None,
                    Ok(Err(e)) => e,
                    Err(join) => format!("export task failed: {join}"),
                };
                tracing::error!(error = %failure, "export stopped part-way");
                Some((Err(io::Error::other(failure)), None))
            }
        }
    });
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        Body::from_stream(body),
    )
        .into_response())
}

/// Write every matching record into the channel. A client that goes away
/// ends the scan quietly (the send fails, so `f` returns false).
fn scan(
    control: &Control,
    filter: &ExportFilter,
    format: ExportFormat,
    tx: mpsc::Sender<Bytes>,
) -> Result<(), String> {
    let now = Utc::now();
    let sink = ChunkSink {
        buf: Vec::with_capacity(CHUNK_BYTES),
        tx,
    };
    let mut failure: Option<io::Error> = None;
    let result = match format {
        ExportFormat::Jsonl => {
            let mut sink = sink;
            let r = control.export(filter, &mut |rec| {
                let mut line = jsonl_line(&rec);
                line.push('\n');
                keep_going(sink.write_all(line.as_bytes()), &mut failure)
            });
            r.map(|()| keep_going(sink.flush(), &mut failure))
        }
        ExportFormat::Csv => {
            let catalogue = control.settings().catalogue.clone();
            let mut out = crate::csv_safe::Writer::from_writer(sink);
            let header = out
                .write_row(&csv_header(&catalogue))
                .map_err(io::Error::from);
            if keep_going(header, &mut failure) {
                let r = control.export(filter, &mut |rec| {
                    let row = out.write_row(&csv_row(&rec, &catalogue, now));
                    keep_going(row.map_err(io::Error::from), &mut failure)
                });
                r.map(|()| keep_going(out.flush(), &mut failure))
            } else {
                Ok(false)
            }
        }
    };
    result.map_err(|e| format!("export scan: {e}"))?;
    match failure {
        None => Ok(()),
        // The client hung up; nothing is wrong on our side.
        Some(e) if e.kind() == io::ErrorKind::BrokenPipe => {
            tracing::debug!("export client went away");
            Ok(())
        }
        Some(e) => Err(format!("export write: {e}")),
    }
}

fn keep_going(r: io::Result<()>, failure: &mut Option<io::Error>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) => {
            *failure = Some(e);
            false
        }
    }
}

/// An `io::Write` that sends full chunks down the channel, blocking (this is
/// a blocking thread) while the channel is full.
struct ChunkSink {
    buf: Vec<u8>,
    tx: mpsc::Sender<Bytes>,
}

impl ChunkSink {
    fn send(&mut self) -> io::Result<()> {
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK_BYTES),
        ));
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "export client went away"))
    }
}

impl Write for ChunkSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            self.send()
        }
    }
}
