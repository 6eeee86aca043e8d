//! Plumbing shared by the fakes: binding `127.0.0.1:0`, per-route call counters and injected latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::Value;
use tokio::net::TcpListener;

/// State shared by a fake's handles and its handlers: the fake's own state `S`, the injected
/// latency and call counters keyed by the matched route (e.g. `/api/tags`, `/model/{id}/update`).
#[derive(Debug, Default)]
pub(crate) struct Inner<S> {
    state: Mutex<S>,
    latency: Mutex<Duration>,
    calls: Mutex<HashMap<String, usize>>,
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
