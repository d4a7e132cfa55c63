//! Record inputs → one HTTP request. Values go into the query string, headers
//! or the JSON body, never into the host or path.

use super::{AuthKind, Inputs, Method, Operation, Provider, Template};
use thiserror::Error;

/// A request ready to send. `Debug` never shows the key.
#[derive(Clone)]
pub struct HttpRequest {
    /// Method.
    pub method: super::Method,
    /// Full URL, query included (may carry the key: never log it; use `redacted_url`).
    pub url: url::Url,
    /// The query parameter that carries the key, if one does.
    key_param: Option<String>,
    /// Headers (may carry the key).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Option<Vec<u8>>,
}

impl HttpRequest {
    /// The URL with the key-bearing parameter replaced by `[redacted]`, made
    /// only when asked for (it is for messages; a request is sent far more often).
    pub fn redacted_url(&self) -> String {
        let Some(key) = &self.key_param else {
            return self.url.to_string();
        };
        let pairs: Vec<(String, String)> = self
            .url
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == key.as_str() {
                    "[redacted]".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        let mut redacted = self.url.clone();
        redacted.query_pairs_mut().clear().extend_pairs(pairs);
        redacted.to_string()
    }
}

/// A bare GET, for the executor's transport tests.
#[cfg(test)]
impl HttpRequest {
    pub(crate) fn get(url: url::Url) -> HttpRequest {
        HttpRequest {
            method: super::Method::Get,
            url,
            key_param: None,
            headers: Vec::new(),
            body: None,
        }
    }
}

impl std::fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.redacted_url())
            .finish_non_exhaustive()
    }
}

/// Why a request could not be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum RequestError {
    /// The provider's key is not set.
    #[error("provider {provider} is disabled: environment variable {env} is not set")]
    MissingKey {
        /// Provider id.
        provider: String,
        /// The variable.
        env: String,
    },
    /// No requirement set is satisfied by the inputs.
    #[error("operation {0} lacks its required inputs")]
    MissingInput(String),
    /// The base URL and path do not form a URL.
    #[error("operation {0} has an invalid URL")]
    BadUrl(String),
    /// The operation is not an asynchronous job.
    #[error("operation {0} has no job to poll")]
    NotAJob(String),
}

/// Build the poll request of an asynchronous operation for the vendor's `job_id`.
/// The id fills the `{job_id}` path segment (percent-encoded, so it can never
/// change the path structure); auth is placed as for the submit.
pub fn build_poll_request(
    p: &Provider,
    op: &Operation,
    job_id: &str,
) -> Result<HttpRequest, RequestError> {
    let job = op
        .job
        .as_ref()
        .ok_or_else(|| RequestError::NotAJob(op.id.clone()))?;
    if let Some(env) = &p.missing_key_env {
        return Err(RequestError::MissingKey {
            provider: p.id.clone(),
            env: env.clone(),
        });
    }
    let mut url = url::Url::parse(&p.base_url).map_err(|_| RequestError::BadUrl(op.id.clone()))?;
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|_| RequestError::BadUrl(op.id.clone()))?;
        segs.pop_if_empty();
        for seg in job.poll_path.split('/').skip(1) {
            segs.push(if seg == "{job_id}" { job_id } else { seg });
        }
    }
    let query_auth = p.auth.as_ref().filter(|a| a.kind == AuthKind::Query);
    {
        let mut q = url.query_pairs_mut();
        for (name, v) in &job.poll_query {
            q.append_pair(name, v);
        }
        if let Some(a) = query_auth {
            q.append_pair(&a.name, a.secret.expose());
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let mut headers = Vec::new();
    if let Some(a) = p.auth.as_ref().filter(|a| a.kind != AuthKind::Query) {
        headers.push((a.name.clone(), format!("{}{}", a.prefix, a.secret.expose())));
    }
    let body = (job.poll_method == Method::Post).then(|| {
        headers.push(("content-type".into(), "application/json".into()));
        b"{}".to_vec()
    });
    Ok(HttpRequest {
        method: job.poll_method,
        url,
        key_param: query_auth.map(|a| a.name.clone()),
        headers,
        body,
    })
}

/// Build the request for `op` with `inputs`.
pub fn build_request(
    p: &Provider,
    op: &Operation,
    inputs: &Inputs,
) -> Result<HttpRequest, RequestError> {
    if let Some(env) = &p.missing_key_env {
        return Err(RequestError::MissingKey {
            provider: p.id.clone(),
            env: env.clone(),
        });
    }
    if !op.satisfied_by(&|f| inputs.contains_key(f)) {
        return Err(RequestError::MissingInput(op.id.clone()));
    }
    // The URL parsed at load, unless base URL or path changed since (or the
    // parsed form is spelled differently): then it is parsed again.
    let parsed = op.url.as_ref().filter(|u| {
        u.as_str()
            .strip_prefix(p.base_url.as_str())
            .is_some_and(|rest| rest == op.path)
    });
    let mut url = match parsed {
        Some(u) => u.clone(),
        None => url::Url::parse(&format!("{}{}", p.base_url, op.path))
            .map_err(|_| RequestError::BadUrl(op.id.clone()))?,
    };
    let query_auth = p.auth.as_ref().filter(|a| a.kind == AuthKind::Query);
    {
        let mut q = url.query_pairs_mut();
        for (name, t) in &op.query {
            if let Some(v) = t.render(inputs) {
                q.append_pair(name, &v);
            }
        }
        if let Some(a) = query_auth {
            q.append_pair(&a.name, a.secret.expose());
        }
    }
    if url.query() == Some("") {
        url.set_query(None);
    }
    let mut headers: Vec<(String, String)> = op
        .headers
        .iter()
        .filter_map(|(k, t): &(String, Template)| t.render(inputs).map(|v| (k.clone(), v)))
        .collect();
    if let Some(a) = p.auth.as_ref().filter(|a| a.kind != AuthKind::Query) {
        headers.push((a.name.clone(), format!("{}{}", a.prefix, a.secret.expose())));
    }
    let body = op.body.as_ref().map(|b| {
        headers.push(("content-type".into(), "application/json".into()));
        let mut filled = b.fill(inputs).unwrap_or(serde_json::Value::Null);
        // The vendor posts the finished job back, when this deployment has a public URL.
        if let (Some(w), Some(url), Some(obj)) = (
            op.job.as_ref().and_then(|j| j.webhook.as_ref()),
            &p.webhook_url,
            filled.as_object_mut(),
        ) {
            obj.insert(w.url_key.clone(), serde_json::Value::String(url.clone()));
        }
        serde_json::to_vec(&filled).unwrap_or_default()
    });
    Ok(HttpRequest {
        method: op.method,
        url,
        key_param: query_auth.map(|a| a.name.clone()),
        headers,
        body,
    })
}
