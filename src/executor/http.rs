//! One HTTP attempt: send, read the body through the one capped reader, and
//! turn transport failures into named errors.
//!
//! Vendor calls go through hyper's pooled client directly rather than
//! reqwest: a request's URL is parsed once (reqwest parsed it three times, once
//! more in its redirect policy), and no redirect layer runs — a vendor API that
//! redirects is answered by its status, not followed. The environment's
//! proxies are honoured as reqwest honoured them (`super::proxy`).

use super::proxy::ProxyConnector;
use crate::provider::{HttpRequest, Method};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as PooledClient;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::Duration;

/// The pooled HTTP/1.1 client (plain or TLS, direct or through a proxy)
/// every vendor call uses.
#[derive(Clone, Debug)]
pub struct Client {
    /// Pool 0 for the daemon's shared runtime; one more per batch lane: a
    /// connection's task runs on the runtime that opened it, so a lane
    /// reusing another lane's connection would wake that thread twice per
    /// request.
    pools: Arc<[Pooled]>,
    proxies: Arc<Matcher>,
}

type Pooled = PooledClient<hyper_rustls::HttpsConnector<ProxyConnector>, Full<Bytes>>;

/// Pools: the shared one and seven for batch lanes (taken in turn).
const POOLS: usize = 8;

/// The name of batch lanes' threads (`engine::batch` names them so).
pub const LANE_THREAD: &str = "leadfall-lane";

/// This thread's pool: 0 except on a batch lane's thread, which gets one of
/// the others in turn the first time it asks.
fn slot() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = if std::thread::current().name() == Some(LANE_THREAD) {
            1 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (POOLS - 1)
        } else {
            0
        };
    }
    SLOT.with(|s| *s)
}

const USER_AGENT: &str = concat!("leadfall/", env!("CARGO_PKG_VERSION"));

/// A client that keeps up to 64 idle connections per vendor host, sends
/// without Nagle's delay, trusts the Mozilla root set (webpki-roots) and
/// goes through the proxies the environment names.
pub fn client() -> Client {
    client_with(Matcher::from_env())
}

/// [`client`] with these proxies.
pub fn client_with(proxies: Matcher) -> Client {
    let proxies = Arc::new(proxies);
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    // The TLS layer below decides the scheme; this one must let https through.
    http.enforce_http(false);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(ProxyConnector::new(http, proxies.clone()));
    let pools = (0..POOLS)
        .map(|_| {
            PooledClient::builder(TokioExecutor::new())
                .pool_max_idle_per_host(64)
                .build(connector.clone())
        })
        .collect();
    Client { pools, proxies }
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
    let mut request = match build(req) {
        Ok(r) => r,
        // Not the URL itself: it may carry a key-bearing query parameter.
        Err(e) => return Attempt::Connection(format!("request could not be built: {e}")),
    };
    if let Some(auth) = super::proxy::absolute_form_auth(&client.proxies, request.uri()) {
        request
            .headers_mut()
            .insert(hyper::header::PROXY_AUTHORIZATION, auth);
    }
    let fut = async {
        let resp = client.pools[slot()]
            .request(request)
            .await
            .map_err(|e| crate::diag::error_chain(&e))?;
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
        let body = read_capped(resp, max_body).await?;
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

fn build(req: &HttpRequest) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
    let method = match req.method {
        Method::Get => hyper::Method::GET,
        Method::Post => hyper::Method::POST,
        Method::Put => hyper::Method::PUT,
    };
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(req.url.as_str())
        .header(hyper::header::USER_AGENT, USER_AGENT)
        .header(hyper::header::ACCEPT, "*/*");
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let body = req.body.clone().map(Bytes::from).unwrap_or_default();
    builder.body(Full::new(body))
}

/// Read at most `cap` bytes; `Err(n)` once the body is known to exceed it.
async fn read_capped(
    resp: hyper::Response<hyper::body::Incoming>,
    cap: usize,
) -> Result<Result<Vec<u8>, usize>, String> {
    let declared = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(len) = declared {
        if len > cap {
            return Ok(Err(len));
        }
    }
    let mut incoming = resp.into_body();
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = incoming.frame().await {
        let frame = frame.map_err(|e| crate::diag::error_chain(&e))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if body.len() + chunk.len() > cap {
            return Ok(Err(body.len() + chunk.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body))
}
