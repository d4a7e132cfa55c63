//! Real vendor definitions (`providers/*.toml`) run through the real executor
//! against local replays of the vendors' documented answers
//! (`tests/fixtures/vendors/`, copied from provider-reference): found, not
//! found, 401, 429 with the vendor's rate-limit signals, 5xx. The replay server
//! also checks every request's shape (method, path, auth, parameters) against
//! the vendor's documentation. `prism` runs the definitions against Prism
//! mocks of the vendors' OpenAPI specs.

pub mod replay;

mod async_job;
mod company;
mod finders;
mod people;
mod prism;
mod profile;
mod verifiers;

use leadfall::clock::SystemClock;
use leadfall::executor::{CallOutcome, CallResult, Executor, WebhookError};
use leadfall::model::{Catalogue, Value};
use leadfall::provider::{
    base_url_env, compile_provider, config::ProviderFile, Inputs, Provider, ProviderSet,
};
use leadfall::store::Store;
use replay::{Replay, Seen};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The key every test vendor is given (BuiltWith wants a GUID).
pub const KEY: &str = "00000000-0000-0000-0000-00000000c0de";

/// `providers/<id>.toml`.
pub fn definition(id: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("providers/{id}.toml"))
}

/// Compile `providers/<id>.toml` with its base URL pointed at `host` (the real
/// URL's path kept, through `LEADFALL_PROVIDER_<ID>_BASE_URL`) and its key set.
pub fn compile_pointed_at(id: &str, host: &str) -> Provider {
    let path = definition(id);
    let text = std::fs::read_to_string(&path).unwrap();
    let raw: ProviderFile =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let real = url::Url::parse(&raw.base_url).unwrap();
    let base = format!("{host}{}", real.path().trim_end_matches('/'));
    let key_env = raw.auth.as_ref().map(|a| a.env.clone()).unwrap_or_default();
    let url_env = base_url_env(id);
    let env = move |name: &str| {
        if name == url_env {
            Some(base.clone())
        } else if name == key_env {
            Some(KEY.to_string())
        } else {
            None
        }
    };
    let mut errors = Vec::new();
    let p = compile_provider(&path, raw, &Catalogue::standard(), &env, &mut errors);
    assert!(errors.is_empty(), "{errors:#?}");
    p.unwrap()
}

/// One vendor definition wired to its own replay server, executor and store.
pub struct Vendor {
    pub replay: Replay,
    pub executor: Executor,
    pub id: String,
}

impl Vendor {
    /// `providers/<id>.toml` against a fresh replay, with quick retries.
    pub async fn start(id: &str) -> Vendor {
        Vendor::start_with(id, |_| {}).await
    }

    /// Like [`Vendor::start`], with a change to the compiled provider.
    pub async fn start_with(id: &str, tweak: impl FnOnce(&mut Provider)) -> Vendor {
        let replay = Replay::start().await;
        let store = Arc::new(Store::temporary().unwrap());
        Vendor::on(id, replay, store, tweak)
    }

    /// Build over an existing replay and store (crash/restart tests).
    pub fn on(
        id: &str,
        replay: Replay,
        store: Arc<Store>,
        tweak: impl FnOnce(&mut Provider),
    ) -> Vendor {
        let mut p = compile_pointed_at(id, &replay.base);
        quick(&mut p);
        tweak(&mut p);
        let mut set = ProviderSet::default();
        set.insert(p);
        let executor = Executor::with_durability(
            Arc::new(set),
            Arc::new(Catalogue::standard()),
            store,
            Arc::new(SystemClock),
            true,
        );
        Vendor {
            replay,
            executor,
            id: id.to_string(),
        }
    }

    /// Run `<id>.<op>` with text inputs.
    pub async fn call(&self, op: &str, inputs: &[(&str, &str)]) -> CallResult {
        let inputs: Inputs = inputs
            .iter()
            .map(|(k, v)| ((*k).into(), Value::Text(v.to_string())))
            .collect();
        self.executor
            .execute(&format!("{}.{op}", self.id), &inputs, Some("r1"))
            .await
    }

    /// The single request the replay saw.
    pub fn only_request(&self) -> Seen {
        let seen = self.replay.seen();
        assert_eq!(seen.len(), 1, "expected one request, saw {seen:#?}");
        seen.into_iter().next().unwrap()
    }
}

/// Fast backoff (the vendor's Retry-After signals are kept) so fault tests finish quickly.
fn quick(p: &mut Provider) {
    p.retry.initial_backoff = Duration::from_millis(5);
    p.retry.max_backoff = Duration::from_millis(20);
    p.retry.max_elapsed = Duration::from_secs(5);
    p.rate = None;
}

/// The values of a hit, or a panic naming the outcome.
pub fn hit(r: &CallResult) -> Vec<(String, serde_json::Value, f64)> {
    match &r.outcome {
        CallOutcome::Hit(ex) => ex
            .values
            .iter()
            .map(|(f, v, c)| (f.to_string(), v.to_json(), *c))
            .collect(),
        other => panic!("expected a hit, got {other:?} ({:?})", r.entry),
    }
}

/// The value and confidence of one field in a hit.
pub fn field(r: &CallResult, name: &str) -> (serde_json::Value, f64) {
    hit(r)
        .into_iter()
        .find(|(f, _, _)| f == name)
        .map(|(_, v, c)| (v, c))
        .unwrap_or_else(|| panic!("{name} not in {:?}", hit(r)))
}

/// The failure kind, or a panic naming the outcome.
pub fn failed(r: &CallResult) -> &'static str {
    match &r.outcome {
        CallOutcome::Failed { kind, .. } => kind,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Assert a not-found outcome that billed nothing.
pub fn assert_not_found(r: &CallResult) {
    assert_eq!(r.outcome, CallOutcome::NotFound, "{:?}", r.entry);
    assert_eq!(r.entry.credits, 0.0, "a miss is not billed");
}

/// Where the key is expected.
pub enum AuthAt {
    Query(&'static str),
    Header(&'static str, &'static str),
}

/// Assert the documented request shape: method, path, key placement, and the
/// query parameters / JSON body pointers that must be present.
pub fn assert_shape(
    seen: &Seen,
    method: &str,
    path: &str,
    auth: AuthAt,
    query: &[(&str, &str)],
    body: &[(&str, serde_json::Value)],
) {
    assert_eq!(seen.method, method, "{seen:#?}");
    assert_eq!(seen.path, path, "{seen:#?}");
    match auth {
        AuthAt::Query(name) => {
            assert_eq!(seen.query(name), Some(KEY), "key in ?{name}: {seen:#?}")
        }
        AuthAt::Header(name, prefix) => assert_eq!(
            seen.header(name),
            Some(format!("{prefix}{KEY}").as_str()),
            "key in header {name}: {seen:#?}"
        ),
    }
    for (k, v) in query {
        assert_eq!(seen.query(k), Some(*v), "query {k}: {seen:#?}");
    }
    for (ptr, v) in body {
        let b = seen.body.as_ref().expect("a JSON body");
        assert_eq!(b.pointer(ptr), Some(v), "body {ptr}: {b:#}");
    }
    if !body.is_empty() {
        assert_eq!(seen.header("content-type"), Some("application/json"));
    }
}

/// The standard fault cases every vendor must get right with its own signals:
/// 401 is an auth error and not retried; 5xx is retried, then succeeds
/// (`found` is the success answer); 5xx for good is `transient`.
pub async fn assert_faults(id: &str, op: &str, inputs: &[(&str, &str)], found: replay::Reply) {
    let v = Vendor::start(id).await;
    v.replay
        .script([replay::Reply::text(401, "text/plain", "Invalid API key")]);
    let r = v.call(op, inputs).await;
    assert_eq!(failed(&r), "auth_error", "{id}.{op} 401");
    assert_eq!(v.replay.seen().len(), 1, "{id}.{op}: a 401 is not retried");

    let v = Vendor::start(id).await;
    let five = replay::Reply::text(503, "text/html", "<html>upstream down</html>");
    v.replay.script([five.clone(), five.clone(), found]);
    let r = v.call(op, inputs).await;
    assert!(!hit(&r).is_empty() || r.entry.outcome == "hit", "{id}.{op}");
    assert_eq!(
        v.replay.seen().len(),
        3,
        "{id}.{op}: 5xx twice, then the answer"
    );
    assert_eq!(r.entry.attempts, 3);

    let v = Vendor::start(id).await;
    v.replay.repeat(five);
    let r = v.call(op, inputs).await;
    assert_eq!(failed(&r), "transient", "{id}.{op} 5xx for good");
}
