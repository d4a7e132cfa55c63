//! One HTTP attempt: send, read the body through the one capped reader, and
//! turn transport failures into named errors.

use crate::provider::HttpRequest;
use std::time::Duration;

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
    client: &reqwest::Client,
    req: &HttpRequest,
    timeout: Duration,
    max_body: usize,
) -> Attempt {
    let method =
        reqwest::Method::from_bytes(req.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut builder = client.request(method, req.url.clone());
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    if let Some(body) = &req.body {
        builder = builder.body(body.clone());
    }
    let fut = async {
        let resp = builder.send().await?;
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
        Ok::<_, reqwest::Error>((status, headers, body))
    };
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Attempt::Timeout,
        Ok(Err(e)) if e.is_timeout() => Attempt::Timeout,
        Ok(Err(e)) => Attempt::Connection(describe(e)),
        Ok(Ok((status, headers, Ok(body)))) => Attempt::Response {
            status,
            headers,
            body,
        },
        Ok(Ok((_, _, Err(n)))) => Attempt::TooLarge(n),
    }
}

fn describe(e: reqwest::Error) -> String {
    // Strip the URL: it may carry a key-bearing query parameter.
    let e = e.without_url();
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// Read at most `cap` bytes; `Err(n)` once the body is known to exceed it.
async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Result<Vec<u8>, usize>, reqwest::Error> {
    if let Some(len) = resp.content_length() {
        if len as usize > cap {
            return Ok(Err(len as usize));
        }
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Ok(Err(body.len() + chunk.len()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Ok(body))
}
