//! Fake OpenAI-compatible server: `GET /v1/models` as served by OpenAI, vLLM, llama.cpp, LM Studio
//! or LiteLLM (`{"object":"list","data":[...]}`), with OpenAI's bearer auth and error envelope.
//! Only `/v1/models` exists: a client configured with a base ending in `/v1` must call `<base>/models`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use crate::common::{Inner, Shared, bearer, json, spawn_server};
use crate::failure::Failure;

const MODELS: &str = "/v1/models";

/// A minimal model entry: `{"id","object":"model","created","owned_by"}`. Add extras with
/// `value["max_model_len"] = json!(32768)` (vLLM) or `mode`/`max_input_tokens` (LiteLLM).
pub fn openai_model(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_715_367_049, "owned_by": "system"})
}

#[derive(Debug, Default)]
struct Store {
    models: Vec<Value>,
    bearer: Option<String>,
    failure: Failure,
}

/// Handle to a running fake OpenAI-compatible server; clones share the same server.
#[derive(Clone, Debug)]
pub struct FakeOpenAi {
    url: String,
    inner: Arc<Inner<Store>>,
}

fn openai_error(status: StatusCode, message: &str, kind: &str, code: Value) -> Response {
    json(status, json!({"error": {"message": message, "type": kind, "param": null, "code": code}}))
}

async fn models(State(inner): Shared<Store>, headers: HeaderMap) -> Response {
    let failure = {
        let st = inner.state();
        if let Some(key) = st.bearer.as_deref() {
            let message = match bearer(&headers) {
                Some(given) if given == key => None,
                Some(_) => Some(
                    "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
                ),
                None => Some(
                    "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                ),
            };
            if let Some(message) = message {
                return openai_error(
                    StatusCode::UNAUTHORIZED,
                    message,
                    "invalid_request_error",
                    json!("invalid_api_key"),
                );
            }
        }
        st.failure.clone()
    };
    let envelope =
        json!({"error": {"message": "simulated failure", "type": "server_error", "param": null, "code": null}});
    if let Some(response) = failure.respond("data", json!({"object": "list", "data": []}), envelope).await {
        return response;
    }
    let st = inner.state();
    json(StatusCode::OK, json!({"object": "list", "data": st.models}))
}

impl FakeOpenAi {
    /// Starts an empty fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let router = Router::new().route(MODELS, get(models));
        let (url, inner) = spawn_server(router).await;
        Self { url, inner }
    }

    /// `http://127.0.0.1:PORT` (no `/v1`, no trailing slash).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The model entries served as `data`, verbatim.
    pub fn set_models(&self, models: Vec<Value>) {
        self.inner.state().models = models;
    }

    /// When set, requests need `Authorization: Bearer <key>`; otherwise 401 `invalid_api_key`.
    pub fn require_bearer(&self, key: Option<String>) {
        self.inner.state().bearer = key;
    }

    pub fn set_failure(&self, failure: Failure) {
        self.inner.state().failure = failure;
    }

    pub fn set_latency(&self, latency: Duration) {
        self.inner.set_latency(latency);
    }

    /// Requests to `GET /v1/models`, including rejected ones.
    pub fn models_calls(&self) -> usize {
        self.inner.calls(MODELS)
    }

    pub fn reset_counters(&self) {
        self.inner.reset_calls();
    }
}
