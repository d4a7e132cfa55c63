//! Typed client for the control API: the CLI and tests talk to the daemon
//! only through this. One method per route; answers are the `control` types.
//! Never prints. Bodies are read through [`read_capped`] (export alone
//! streams, straight into the caller's writer).

mod error;

pub use error::ClientError;

use crate::api::{Token, ADDR_FILE, TOKEN_FILE};
use crate::control::{
    ErrorBody, ReenrichRequest, ReenrichSummary, SignalRequest, Status, StoredRecord, UpsertSummary,
};
use crate::export::ExportFormat;
use crate::model::Record;
use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::Path;
use std::time::Duration;
use url::Url;

/// Largest answer body read into memory (a status with many providers is a
/// few KiB; a record with long history well under a MiB).
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;
/// Largest error body read (the message is one line).
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Connecting to a local daemon is instant, or the daemon is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout except export (a big upsert batch or a reenrich
/// selection over millions of records takes a while).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);

/// A control API client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Token,
}

impl Client {
    /// A client for the daemon at `base_url` (`http://127.0.0.1:41234`, or a
    /// bare `127.0.0.1:41234`).
    pub fn new(base_url: &str, token: Token) -> Result<Client, ClientError> {
        let with_scheme = if base_url.contains("://") {
            base_url.to_string()
        } else {
            format!("http://{base_url}")
        };
        let base = Url::parse(&with_scheme)
            .ok()
            .filter(|u| !u.cannot_be_a_base())
            .ok_or_else(|| ClientError::BadAddress(base_url.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("leadfall-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Transport)?;
        Ok(Client { http, base, token })
    }

    /// The client for the daemon serving `data_dir`: its address from
    /// `control.addr`, its token from `control.token`.
    pub fn from_data_dir(data_dir: &Path) -> Result<Client, ClientError> {
        let addr_path = data_dir.join(ADDR_FILE);
        let addr =
            std::fs::read_to_string(&addr_path).map_err(|source| ClientError::DaemonFile {
                path: addr_path.clone(),
                source,
            })?;
        let token_path = data_dir.join(TOKEN_FILE);
        let token = Token::read(&token_path).map_err(|source| ClientError::DaemonFile {
            path: token_path,
            source,
        })?;
        Client::new(addr.trim(), token)
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /healthz`: Ok when the daemon answers.
    pub async fn health(&self) -> Result<(), ClientError> {
        let resp = self.send(self.http.get(self.url(&["healthz"]))).await?;
        read_capped(resp, MAX_ERROR_BODY_BYTES).await.map(drop)
    }

    /// `POST /v1/records`: upsert a batch.
    pub async fn upsert(&self, records: &[Record]) -> Result<UpsertSummary, ClientError> {
        // Borrowing the records avoids copying a 5,000-record batch to send it.
        #[derive(Serialize)]
        struct Body<'a> {
            records: &'a [Record],
        }
        self.json(Method::POST, &["v1", "records"], Some(&Body { records }))
            .await
    }

    /// `GET /v1/records/{id}`.
    pub async fn show(&self, id: &str) -> Result<StoredRecord, ClientError> {
        self.json::<(), _>(Method::GET, &["v1", "records", id], None)
            .await
    }

    /// `POST /v1/records/{id}/signals`: record a behaviour event (`at`: default now).
    pub async fn signal(
        &self,
        id: &str,
        kind: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<(), ClientError> {
        let body = SignalRequest {
            kind: kind.to_string(),
            at,
        };
        let req = json_body(
            self.authed(Method::POST, &["v1", "records", id, "signals"]),
            &body,
        )?;
        let resp = self.send(req).await?;
        read_capped(resp, MAX_ERROR_BODY_BYTES).await.map(drop)
    }

    /// `POST /v1/reenrich`.
    pub async fn reenrich(&self, req: &ReenrichRequest) -> Result<ReenrichSummary, ClientError> {
        self.json(Method::POST, &["v1", "reenrich"], Some(req))
            .await
    }

    /// `POST /v1/reload`: the daemon reads its configuration again.
    pub async fn reload(&self) -> Result<crate::control::ReloadSummary, ClientError> {
        self.json::<(), _>(Method::POST, &["v1", "reload"], None)
            .await
    }

    /// `GET /v1/status`.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.json::<(), _>(Method::GET, &["v1", "status"], None)
            .await
    }

    /// `GET /v1/calls`: calls and credits per provider, from the ledger.
    pub async fn calls(&self) -> Result<crate::engine::Summary, ClientError> {
        self.json::<(), _>(Method::GET, &["v1", "calls"], None)
            .await
    }

    /// `GET /v1/report`: the provider cost/coverage report over `window`.
    pub async fn report(
        &self,
        window: &crate::report::Window,
    ) -> Result<crate::report::Report, ClientError> {
        self.get_window(&["v1", "report"], window).await
    }

    /// `POST /v1/providers/{id}/resume`: lift the kill switch's pause; the pause lifted, if any.
    pub async fn resume_provider(
        &self,
        provider: &str,
    ) -> Result<crate::control::ResumeResult, ClientError> {
        self.json::<(), _>(Method::POST, &["v1", "providers", provider, "resume"], None)
            .await
    }

    /// `GET /v1/advice`: the waterfall order advice over `window`.
    pub async fn advice(
        &self,
        window: &crate::report::Window,
    ) -> Result<crate::advisor::Advice, ClientError> {
        self.get_window(&["v1", "advice"], window).await
    }

    /// GET `path?from=..&to=..` (RFC 3339) and decode the JSON answer.
    async fn get_window<T: serde::de::DeserializeOwned>(
        &self,
        path: &[&str],
        window: &crate::report::Window,
    ) -> Result<T, ClientError> {
        let mut url = self.url(path);
        url.query_pairs_mut()
            .append_pair("from", &window.from.to_rfc3339())
            .append_pair("to", &window.to.to_rfc3339());
        let req = self
            .http
            .get(url)
            .bearer_auth(self.token.expose())
            .timeout(REQUEST_TIMEOUT);
        let resp = self.send(req).await?;
        let bytes = read_capped(resp, MAX_BODY_BYTES).await?;
        serde_json::from_slice(&bytes).map_err(ClientError::Decode)
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let resp = self.send(self.authed(Method::GET, &["metrics"])).await?;
        let bytes = read_capped(resp, MAX_BODY_BYTES).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// `GET /v1/export`: stream every matching record into `out` as it
    /// arrives; returns the bytes written. A transfer the daemon cut short is
    /// an error (never a silently short file).
    pub async fn export_to<W: Write + ?Sized>(
        &self,
        out: &mut W,
        format: ExportFormat,
        route: Option<&str>,
    ) -> Result<u64, ClientError> {
        let mut url = self.url(&["v1", "export"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("format", format.as_str());
            if let Some(r) = route {
                q.append_pair("route", r);
            }
        }
        // No whole-request timeout: a million records take as long as they take.
        let req = self.http.get(url).bearer_auth(self.token.expose());
        let mut resp = self.send(req).await?;
        let mut written = 0u64;
        while let Some(chunk) = resp.chunk().await.map_err(ClientError::Transport)? {
            out.write_all(&chunk)?;
            written += chunk.len() as u64;
        }
        out.flush()?;
        Ok(written)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        // Path segments are percent-encoded here: ids may hold `/` or `?`.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn authed(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.http
            .request(method, self.url(segments))
            .bearer_auth(self.token.expose())
            .timeout(REQUEST_TIMEOUT)
    }

    async fn json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let mut req = self.authed(method, segments);
        if let Some(b) = body {
            req = json_body(req, b)?;
        }
        let resp = self.send(req).await?;
        let bytes = read_capped(resp, MAX_BODY_BYTES).await?;
        serde_json::from_slice(&bytes).map_err(ClientError::Decode)
    }

    /// Send, and turn a failure status into its [`ClientError`].
    async fn send(&self, req: RequestBuilder) -> Result<Response, ClientError> {
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                ClientError::Unreachable {
                    addr: self.base.to_string(),
                    source: e,
                }
            } else {
                ClientError::Transport(e)
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = read_capped(resp, MAX_ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|b| b.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
        Err(match status {
            StatusCode::UNAUTHORIZED => ClientError::Unauthorized,
            StatusCode::NOT_FOUND => ClientError::NotFound(message),
            StatusCode::BAD_REQUEST => ClientError::BadRequest(message),
            StatusCode::UNPROCESSABLE_ENTITY => ClientError::ConfigInvalid(message),
            s => ClientError::Server {
                status: s.as_u16(),
                message,
            },
        })
    }
}

/// Attach a JSON body (reqwest's `json` feature is off; we encode here).
fn json_body<B: Serialize + ?Sized>(
    req: RequestBuilder,
    body: &B,
) -> Result<RequestBuilder, ClientError> {
    let bytes = serde_json::to_vec(body).map_err(ClientError::Decode)?;
    Ok(req
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes))
}

/// Read a whole body, failing once it passes `cap` bytes (the only way this
/// crate reads control API bodies; clippy bans the uncapped readers).
pub async fn read_capped(mut resp: Response, cap: usize) -> Result<Vec<u8>, ClientError> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(ClientError::TooLarge { cap });
    }
    let mut buf = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(ClientError::Transport)? {
        if buf.len() + chunk.len() > cap {
            return Err(ClientError::TooLarge { cap });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
