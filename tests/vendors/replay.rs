//! A replay server for one vendor: answers with scripted responses (the
//! documented bodies from `tests/fixtures/vendors/`), records every request it
//! receives, and lets a test await "N requests seen" instead of sleeping.

use axum::body::{to_bytes, Body};
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A fixture body from `tests/fixtures/vendors/`.
    pub fn fixture(status: u16, name: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: fixture_bytes(name),
        }
    }

    /// A literal body.
    pub fn text(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Add a response header.
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The bytes of a fixture file.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vendors")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    /// When forwarding (to a Prism mock): the answer's status and its
    /// `sl-violations` header (Prism's validation findings), if any.
    pub forwarded: Option<(u16, Option<String>)>,
}

impl Seen {
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    /// Answers for one path, used before `script`.
    by_path: std::collections::HashMap<String, VecDeque<Reply>>,
    /// Forward every request here instead of answering from the script.
    forward: Option<String>,
    script: VecDeque<Reply>,
    /// Answer given when the script is empty (a test that needs "always pending").
    repeat: Option<Reply>,
    seen: Vec<Seen>,
}

/// The running server.
#[derive(Clone)]
pub struct Replay {
    pub base: String,
    state: Arc<Mutex<State>>,
    seen_changed: Arc<Notify>,
}

impl Replay {
    /// Bind 127.0.0.1:0 and serve until the runtime ends.
    pub async fn start() -> Replay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let replay = Replay {
            base,
            state: Arc::default(),
            seen_changed: Arc::default(),
        };
        let r = replay.clone();
        let app = Router::new().fallback(move |req: Request<Body>| {
            let r = r.clone();
            async move { r.answer(req).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        replay
    }

    /// Queue answers, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Queue answers for requests to one path (used before the shared script).
    pub fn script_path(&self, path: &str, replies: impl IntoIterator<Item = Reply>) {
        self.state
            .lock()
            .unwrap()
            .by_path
            .entry(path.to_string())
            .or_default()
            .extend(replies);
    }

    /// Forward every request to `target` and relay its answer (a recording proxy).
    pub fn forward(&self, target: &str) {
        self.state.lock().unwrap().forward = Some(target.to_string());
    }

    /// The answer once the script is used up.
    pub fn repeat(&self, reply: Reply) {
        self.state.lock().unwrap().repeat = Some(reply);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Wait until at least `n` requests have arrived (fails after 10 s with what was seen).
    pub async fn wait_for_requests(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let notified = self.seen_changed.notified();
            if self.state.lock().unwrap().seen.len() >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {n} requests, saw {:#?}", self.seen());
            }
        }
    }

    async fn answer(&self, req: Request<Body>) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let bytes = to_bytes(body, 1 << 20).await.unwrap_or_default();
        let seen = Seen {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            query: parts
                .uri
                .query()
                .map(|q| {
                    url::form_urlencoded::parse(q.as_bytes())
                        .into_owned()
                        .collect()
                })
                .unwrap_or_default(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: serde_json::from_slice(&bytes).ok(),
            forwarded: None,
        };
        let target = self.state.lock().unwrap().forward.clone();
        if let Some(target) = target {
            let raw_query = parts.uri.query().map(str::to_string);
            return self.relay(&target, seen, raw_query, bytes.to_vec()).await;
        }
        let reply = {
            let mut st = self.state.lock().unwrap();
            let path = seen.path.clone();
            st.seen.push(seen);
            st.by_path
                .get_mut(&path)
                .and_then(VecDeque::pop_front)
                .or_else(|| st.script.pop_front())
                .or_else(|| st.repeat.clone())
        };
        self.seen_changed.notify_waiters();
        let Some(reply) = reply else {
            return Response::builder()
                .status(StatusCode::IM_A_TEAPOT)
                .body(Body::from("replay: no scripted answer left"))
                .unwrap();
        };
        let mut b = Response::builder().status(reply.status);
        for (k, v) in &reply.headers {
            b = b.header(k, v);
        }
        b.body(Body::from(reply.body)).unwrap()
    }

    /// Send the request on to `target` unchanged and relay the answer,
    /// recording its status and Prism's `sl-violations` header.
    // The mock's answers are small test bodies; the capped reader is for vendors.
    #[allow(clippy::disallowed_methods)]
    async fn relay(
        &self,
        target: &str,
        mut seen: Seen,
        raw_query: Option<String>,
        body: Vec<u8>,
    ) -> Response<Body> {
        let mut url = format!("{target}{}", seen.path);
        if let Some(q) = raw_query {
            url.push('?');
            url.push_str(&q);
        }
        let client = reqwest::Client::new();
        let method = reqwest::Method::from_bytes(seen.method.as_bytes()).unwrap();
        let mut req = client.request(method, url).body(body);
        for (k, v) in &seen.headers {
            if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
                req = req.header(k, v);
            }
        }
        let resp = req.send().await.expect("forward to the mock");
        let status = resp.status().as_u16();
        let violations = resp
            .headers()
            .get("sl-violations")
            .map(|v| v.to_str().unwrap_or("").to_string());
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let bytes = resp.bytes().await.unwrap_or_default();
        seen.forwarded = Some((status, violations));
        self.state.lock().unwrap().seen.push(seen);
        self.seen_changed.notify_waiters();
        let mut b = Response::builder().status(status);
        for (k, v) in headers {
            if !k.eq_ignore_ascii_case("content-length")
                && !k.eq_ignore_ascii_case("transfer-encoding")
            {
                b = b.header(k, v);
            }
        }
        b.body(Body::from(bytes)).unwrap()
    }
}
