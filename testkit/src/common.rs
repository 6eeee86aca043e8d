//! Plumbing shared by the fakes: binding `127.0.0.1:0`, per-route call counters, injected latency
//! and the log of inference requests (what a proxy such as LiteLLM actually sent upstream: tests
//! assert on it, so it keeps rejected and malformed requests too).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

/// One inference request a fake upstream received.
#[derive(Clone, Debug)]
pub struct Received {
    /// The route, e.g. `/api/chat` or `/v1/embeddings`.
    pub path: String,
    /// The body's `model`, or `""` when it has none (or is not JSON).
    pub model: String,
    /// The raw `Authorization` header value, if present (e.g. `Bearer sk-up`).
    pub authorization: Option<String>,
    /// The body as sent; a body that is not JSON is kept as a JSON string of its (lossy UTF-8) text.
    pub body: Value,
}

/// State shared by a fake's handles and its handlers: the fake's own state `S`, the injected
/// latency, call counters keyed by the matched route (e.g. `/api/tags`, `/model/{id}/update`) and
/// the received inference requests in arrival order.
#[derive(Debug, Default)]
pub(crate) struct Inner<S> {
    state: Mutex<S>,
    latency: Mutex<Duration>,
    calls: Mutex<HashMap<String, usize>>,
    received: Mutex<Vec<Received>>,
}

pub(crate) type Shared<S> = State<Arc<Inner<S>>>;

impl<S> Inner<S> {
    pub(crate) fn state(&self) -> MutexGuard<'_, S> {
        lock(&self.state)
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        *lock(&self.latency) = latency;
    }

    pub(crate) fn calls(&self, route: &str) -> usize {
        lock(&self.calls).get(route).copied().unwrap_or(0)
    }

    pub(crate) fn reset_calls(&self) {
        lock(&self.calls).clear();
    }

    /// Records an inference request before any check (auth, JSON, model) can reject it, and
    /// returns its body parsed as JSON (the parse error is the handler's 400).
    pub(crate) fn record(&self, path: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, serde_json::Error> {
        let parsed = serde_json::from_slice::<Value>(body);
        let body = match &parsed {
            Ok(value) => value.clone(),
            Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
        };
        let model = body.get("model").and_then(Value::as_str).unwrap_or_default().to_owned();
        let authorization =
            headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        lock(&self.received).push(Received { path: path.to_owned(), model, authorization, body });
        parsed
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    pub(crate) fn clear_received(&self) {
        lock(&self.received).clear();
    }

    /// How many inference requests arrived so far (numbers response ids).
    pub(crate) fn received_count(&self) -> usize {
        lock(&self.received).len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().expect("fake server state mutex poisoned")
}

async fn track<S>(State(inner): Shared<S>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    *lock(&inner.calls).entry(route.unwrap_or_default()).or_default() += 1;
    let latency = *lock(&inner.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    next.run(req).await
}

/// Binds `127.0.0.1:0` and serves `routes` on the current runtime until it shuts down.
/// Returns `http://127.0.0.1:PORT` and the shared state.
pub(crate) async fn spawn_server<S>(routes: Router<Arc<Inner<S>>>) -> (String, Arc<Inner<S>>)
where
    S: Default + Send + 'static,
{
    let inner = Arc::new(Inner::<S>::default());
    let router = routes.route_layer(from_fn_with_state(inner.clone(), track::<S>)).with_state(inner.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address of bound listener");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), inner)
}

pub(crate) fn json(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// The key of an `Authorization: Bearer <key>` header, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// Whether the request carries the required bearer key (always true when none is required).
pub(crate) fn bearer_ok(headers: &HeaderMap, required: Option<&str>) -> bool {
    required.is_none_or(|key| bearer(headers) == Some(key))
}

/// The vector the fakes answer for `text`: `dimensions` values in [-1, 1] derived from its SHA-256,
/// so equal inputs embed equally and different inputs differently. Every value has at most three
/// decimals, so it survives a round trip through JSON and Python floats bit for bit.
pub fn fake_embedding(text: &str, dimensions: usize) -> Vec<f64> {
    (0..dimensions)
        .map(|i| {
            let digest = Sha256::digest(format!("{i}:{text}").as_bytes());
            let n = u16::from_le_bytes([digest[0], digest[1]]) % 2001;
            (f64::from(n) - 1000.0) / 1000.0
        })
        .collect()
}

/// The fakes' token count: whitespace-separated words, at least one (real tokenizers differ; tests
/// only need a deterministic, input-dependent number).
pub(crate) fn count_tokens(text: &str) -> u64 {
    (text.split_whitespace().count() as u64).max(1)
}

/// The reply every fake model gives.
pub(crate) fn reply(model: &str) -> String {
    format!("pong from {model}")
}

/// The text of a chat message's `content`: a string, or the `text` of its parts
/// (`[{"type":"text","text":"..."}]`); anything else counts as empty.
pub(crate) fn message_text(message: &Value) -> String {
    match message.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}
