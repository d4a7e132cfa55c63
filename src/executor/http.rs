//! One HTTP attempt: send through reqwest, read the body through the one
//! capped reader, and turn transport failures into named errors.
//!
//! The client speaks HTTP/1.1 over rustls (the Mozilla root set,
//! webpki-roots), keeps a pool of idle connections per vendor host and
//! follows no redirects: a vendor API that redirects is answered by its
//! status. Proxies are reqwest's own (`super::proxy`).

use super::proxy::Proxies;
use crate::provider::{HttpRequest, Method};
use std::sync::Arc;
use std::time::Duration;

/// The pooled HTTP/1.1 clients (plain or TLS, direct or through a proxy)
/// every vendor call uses.
#[derive(Clone, Debug)]
pub struct Client {
    /// Client 0 for the daemon's shared runtime; one more per batch lane: a
    /// connection's task runs on the runtime that opened it, so a lane
    /// reusing another lane's connection would wake that thread twice per
    /// request.
    clients: Arc<[reqwest::Client]>,
    /// The proxy a `CONNECT` tunnel goes to, without credentials, to name
    /// it when the tunnel fails (reqwest's error says only "tunnel").
    tunnel_proxy: Option<Arc<str>>,
}

/// Clients: the shared one and seven for batch lanes (taken in turn).
const CLIENTS: usize = 8;

/// The name of batch lanes' threads (`engine::batch` names them so).
pub const LANE_THREAD: &str = "leadfall-lane";

/// This thread's client: 0 except on a batch lane's thread, which gets one
/// of the others in turn the first time it asks.
fn slot() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = if std::thread::current().name() == Some(LANE_THREAD) {
            1 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (CLIENTS - 1)
        } else {
            0
        };
    }
    SLOT.with(|s| *s)
}

const USER_AGENT: &str = concat!("leadfall/", env!("CARGO_PKG_VERSION"));

/// A client that keeps up to 64 idle connections per vendor host, sends
/// without Nagle's delay, trusts the Mozilla root set (webpki-roots) and
/// goes through the proxies the environment names (reqwest reads them).
pub fn client() -> Client {
    client_with(None)
}

/// [`client`] with these proxies instead of the environment's (`None`).
pub fn client_with(proxies: Option<Proxies>) -> Client {
    build(proxies.as_ref())
}

fn build(proxies: Option<&Proxies>) -> Client {
    let clients = (0..CLIENTS)
        .map(|_| {
            let b = reqwest::Client::builder()
                .use_rustls_tls()
                .http1_only()
                .user_agent(USER_AGENT)
                .tcp_nodelay(true)
                .pool_max_idle_per_host(64)
                .redirect(reqwest::redirect::Policy::none())
                // An attempt is sent once: retries are the executor's (`crate::retry`).
                .retry(reqwest::retry::never());
            // Fails only without a TLS backend, which is compiled in.
            super::proxy::configure(b, proxies)
                .build()
                .expect("the HTTP client builds")
        })
        .collect();
    Client {
        clients,
        tunnel_proxy: super::proxy::tunnel_proxy(proxies).map(Arc::from),
    }
}

/// What came back from one attempt.
#[derive(Debug)]
pub enum Attempt {
    /// A response (any status).
    Response {
        /// Status.
        status: u16,
        /// Headers, lower-case names.
        headers: Vec<(String, String)>,
        /// Body (at most the cap).
        body: Vec<u8>,
    },
    /// No answer in time.
    Timeout,
    /// Could not connect or the connection broke.
    Connection(String),
    /// The body exceeded the cap.
    TooLarge(usize),
}

/// Send one request with a whole-request timeout and a body cap.
pub async fn send(
    client: &Client,
    req: &HttpRequest,
    timeout: Duration,
    max_body: usize,
) -> Attempt {
    let http = &client.clients[slot()];
    let request = match request(http, req) {
        Ok(r) => r,
        // Not the URL itself: it may carry a key-bearing query parameter.
        Err(e) => {
            return Attempt::Connection(format!(
                "request could not be built: {}",
                crate::diag::error_chain(&e.without_url())
            ))
        }
    };
    let fut = async {
        let resp = http
            .execute(request)
            .await
            .map_err(|e| failure(client, e))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = read_capped(resp, max_body)
            .await
            .map_err(|e| failure(client, e))?;
        Ok::<_, String>((status, headers, body))
    };
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Attempt::Timeout,
        Ok(Err(e)) => Attempt::Connection(e),
        Ok(Ok((status, headers, Ok(body)))) => Attempt::Response {
            status,
            headers,
            body,
        },
        Ok(Ok((_, _, Err(n)))) => Attempt::TooLarge(n),
    }
}

/// A transport error as one line, without the URL (it may carry a key);
/// a failed tunnel names its proxy.
fn failure(client: &Client, e: reqwest::Error) -> String {
    let chain = crate::diag::error_chain(&e.without_url());
    match &client.tunnel_proxy {
        Some(proxy) if chain.contains("tunnel") => format!("through the proxy {proxy}: {chain}"),
        _ => chain,
    }
}

fn request(http: &reqwest::Client, req: &HttpRequest) -> reqwest::Result<reqwest::Request> {
    let method = match req.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
    };
    let mut builder = http
        .request(method, req.url.clone())
        .header(reqwest::header::ACCEPT, "*/*");
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if let Some(body) = &req.body {
        builder = builder.body(body.clone());
    }
    builder.build()
}

/// Read at most `cap` bytes; `Err(n)` once the body is known to exceed it.
async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> reqwest::Result<Result<Vec<u8>, usize>> {
    let declared = resp
        .headers()
        .get(reqwest::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared {
        if len > cap {
            return Ok(Err(len));
        }
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(Err(body.len() + chunk.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body))
}
