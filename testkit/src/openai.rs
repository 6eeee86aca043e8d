//! Fake OpenAI-compatible server: `GET /v1/models` as served by OpenAI, vLLM, llama.cpp, LM Studio
//! or LiteLLM (`{"object":"list","data":[...]}`), with OpenAI's bearer auth and error envelope.
//! Every route lives under `/v1`: a client configured with a base ending in `/v1` must call
//! `<base>/models`.
//!
//! Inference, for a proxy (LiteLLM `openai/` deployments) forwarding to this fake:
//! `POST /v1/chat/completions`, `POST /v1/completions` (LiteLLM's text completions for a model
//! that is not an OpenAI chat model) and `POST /v1/embeddings`, in OpenAI's response shapes. A
//! model is served when an entry of the model list has its `id`; every one answers
//! `pong from <model>` (embeddings: [`fake_embedding`] of each input, as floats or, for
//! `"encoding_format": "base64"`, as OpenAI's base64 of little-endian f32). Streaming is not faked
//! (`"stream": true` gets a 400). Every inference request is recorded, rejected ones too (see
//! [`FakeOpenAi::received`]).
//!
//! [`fake_embedding`]: crate::fake_embedding

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::common::{
    Inner, Received, Shared, bearer, count_tokens, fake_embedding, json, message_text, reply, spawn_server,
};
use crate::failure::Failure;

const MODELS: &str = "/v1/models";
const CHAT: &str = "/v1/chat/completions";
const COMPLETIONS: &str = "/v1/completions";
const EMBEDDINGS: &str = "/v1/embeddings";

/// Length of the fake embeddings unless the request asks for `dimensions`.
const EMBEDDING_DIMENSIONS: usize = 4;
/// `created` of every answer (OpenAI sends the time; fixed keeps answers deterministic).
const CREATED: u64 = 1_715_367_049;

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
    echo_credentials: bool,
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

fn invalid_request(status: StatusCode, message: &str, code: Value) -> Response {
    openai_error(status, message, "invalid_request_error", code)
}

/// OpenAI's 401 when a key is required and the request lacks it or carries another one.
fn check_bearer(headers: &HeaderMap, required: Option<&str>) -> Option<Response> {
    let key = required?;
    let message = match bearer(headers) {
        Some(given) if given == key => return None,
        Some(_) => {
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."
        }
        None => {
            "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        }
    };
    Some(invalid_request(StatusCode::UNAUTHORIZED, message, json!("invalid_api_key")))
}

async fn models(State(inner): Shared<Store>, headers: HeaderMap) -> Response {
    let failure = {
        let st = inner.state();
        if let Some(response) = check_bearer(&headers, st.bearer.as_deref()) {
            return response;
        }
        st.failure.clone()
    };
    if inner.state().echo_credentials {
        let auth = headers.get("authorization").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let message = format!("upstream rejected the request (Authorization: {})", auth.unwrap_or_default());
        return openai_error(StatusCode::BAD_GATEWAY, &message, "server_error", Value::Null);
    }
    let envelope =
        json!({"error": {"message": "simulated failure", "type": "server_error", "param": null, "code": null}});
    let listing = || serde_json::to_vec(&json!({"object": "list", "data": inner.state().models})).unwrap_or_default();
    let empty = json!({"object": "list", "data": []});
    if let Some(response) = failure.respond("data", empty, envelope, MODELS, || listing().into()).await {
        return response;
    }
    ([(axum::http::header::CONTENT_TYPE, "application/json")], listing()).into_response()
}

/// The fields of inference bodies the fake reads; the rest (`temperature`, `max_tokens`, `user`, ...)
/// is only recorded.
#[derive(Deserialize)]
struct InferenceRequest {
    #[serde(default)]
    model: String,
    #[serde(default)]
    stream: Option<bool>,
    messages: Option<Vec<Value>>,
    /// `/v1/completions`: a string, a list of strings or token ids.
    prompt: Option<Value>,
    /// `/v1/embeddings`: a string, a list of strings or token ids.
    input: Option<Value>,
    #[serde(default)]
    encoding_format: Option<String>,
    #[serde(default)]
    dimensions: Option<usize>,
}

/// The items of a `prompt` or `input`: each string, or each token array as its JSON text
/// (tokens counted one each). `None` when the value has none of OpenAI's accepted shapes.
fn items(value: &Value) -> Option<Vec<(String, u64)>> {
    let text = |s: &str| (s.to_owned(), count_tokens(s));
    let tokens =
        |t: &Vec<Value>| t.iter().all(Value::is_u64).then(|| (Value::Array(t.clone()).to_string(), t.len() as u64));
    match value {
        Value::String(s) => Some(vec![text(s)]),
        Value::Array(list) if list.iter().all(Value::is_u64) && !list.is_empty() => Some(vec![tokens(list)?]),
        Value::Array(list) => list
            .iter()
            .map(|item| match item {
                Value::String(s) => Some(text(s)),
                Value::Array(t) if !t.is_empty() => tokens(t),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn missing(param: &str) -> Response {
    openai_error(
        StatusCode::BAD_REQUEST,
        &format!("Missing required parameter: '{param}'."),
        "invalid_request_error",
        json!("missing_required_parameter"),
    )
}

fn usage(prompt_tokens: u64, completion_tokens: u64) -> Value {
    json!({
        "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    })
}

fn chat_answer(req: &InferenceRequest, n: usize) -> Response {
    let Some(messages) = &req.messages else { return missing("messages") };
    let prompt: Vec<String> = messages.iter().map(message_text).collect();
    let content = reply(&req.model);
    let answer = json!({
        "id": format!("chatcmpl-fake{n}"), "object": "chat.completion", "created": CREATED, "model": req.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null, "finish_reason": "stop",
        }],
        "usage": usage(count_tokens(&prompt.join(" ")), count_tokens(&content)),
        "system_fingerprint": null,
    });
    json(StatusCode::OK, answer)
}

fn completion_answer(req: &InferenceRequest, n: usize) -> Response {
    let Some(prompt) = &req.prompt else { return missing("prompt") };
    let Some(prompts) = items(prompt).filter(|p| !p.is_empty()) else {
        return invalid_request(StatusCode::BAD_REQUEST, "Invalid value for 'prompt'.", Value::Null);
    };
    let text = reply(&req.model);
    let choices: Vec<Value> = (0..prompts.len())
        .map(|index| json!({"text": text, "index": index, "logprobs": null, "finish_reason": "stop"}))
        .collect();
    let prompt_tokens = prompts.iter().map(|(_, tokens)| tokens).sum();
    let answer = json!({
        "id": format!("cmpl-fake{n}"), "object": "text_completion", "created": CREATED, "model": req.model,
        "choices": choices, "usage": usage(prompt_tokens, count_tokens(&text) * prompts.len() as u64),
        "system_fingerprint": null,
    });
    json(StatusCode::OK, answer)
}

fn embeddings_answer(req: &InferenceRequest) -> Response {
    let Some(input) = &req.input else { return missing("input") };
    let Some(inputs) = items(input).filter(|i| !i.is_empty()) else {
        return invalid_request(StatusCode::BAD_REQUEST, "'$.input' is invalid.", Value::Null);
    };
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            let message = format!("Invalid value for 'encoding_format': '{other}'. Expected 'float' or 'base64'.");
            return invalid_request(StatusCode::BAD_REQUEST, &message, Value::Null);
        }
    };
    let dimensions = req.dimensions.filter(|d| (1..=4096).contains(d)).unwrap_or(EMBEDDING_DIMENSIONS);
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, (text, _))| {
            let vector = fake_embedding(text, dimensions);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|v| (*v as f32).to_le_bytes()).collect();
                json!(BASE64.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt_tokens: u64 = inputs.iter().map(|(_, tokens)| tokens).sum();
    let answer = json!({
        "object": "list", "data": data, "model": req.model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    });
    json(StatusCode::OK, answer)
}

/// The checks OpenAI makes, in its order (key, body, model), then the answer.
fn infer(inner: &Inner<Store>, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let parsed = inner.record(path, headers, body);
    let n = inner.received_count();
    let st = inner.state();
    if let Some(response) = check_bearer(headers, st.bearer.as_deref()) {
        return response;
    }
    let models = st.models.clone();
    drop(st);
    let served = |model: &str| models.iter().any(|m| m.get("id").and_then(Value::as_str) == Some(model));
    answer(path, parsed, &served, n)
}

/// An OpenAI-style inference answer to an authorised request (also what Ollama's `/v1` serves):
/// body checks, the model check against `served`, then the answer for `path`.
pub(crate) fn answer(
    path: &str,
    parsed: Result<Value, serde_json::Error>,
    served: &dyn Fn(&str) -> bool,
    n: usize,
) -> Response {
    let Ok(parsed) = parsed else {
        return invalid_request(
            StatusCode::BAD_REQUEST,
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
            Value::Null,
        );
    };
    let req: InferenceRequest = match serde_json::from_value(parsed) {
        Ok(req) => req,
        Err(e) => return invalid_request(StatusCode::BAD_REQUEST, &e.to_string(), Value::Null),
    };
    if req.model.is_empty() {
        return invalid_request(StatusCode::BAD_REQUEST, "you must provide a model parameter", Value::Null);
    }
    if !served(&req.model) {
        let message = format!("The model `{}` does not exist or you do not have access to it.", req.model);
        return invalid_request(StatusCode::NOT_FOUND, &message, json!("model_not_found"));
    }
    if req.stream == Some(true) {
        return invalid_request(StatusCode::BAD_REQUEST, "the testkit fake does not stream", Value::Null);
    }
    match path {
        CHAT => chat_answer(&req, n),
        COMPLETIONS => completion_answer(&req, n),
        _ => embeddings_answer(&req),
    }
}

async fn chat(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer(&inner, CHAT, &headers, &body)
}

async fn completions(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer(&inner, COMPLETIONS, &headers, &body)
}

async fn embeddings(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer(&inner, EMBEDDINGS, &headers, &body)
}

impl FakeOpenAi {
    /// Starts an empty fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let router = Router::new()
            .route(MODELS, get(models))
            .route(CHAT, post(chat))
            .route(COMPLETIONS, post(completions))
            .route(EMBEDDINGS, post(embeddings));
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

    /// When set, every request needs `Authorization: Bearer <key>`; otherwise 401 `invalid_api_key`.
    pub fn require_bearer(&self, key: Option<String>) {
        self.inner.state().bearer = key;
    }

    pub fn set_failure(&self, failure: Failure) {
        self.inner.state().failure = failure;
    }

    /// Makes `GET /v1/models` fail with a 502 whose message quotes the request's
    /// `Authorization` header (a careless proxy): the client must not store or show it.
    pub fn set_echo_credentials(&self, on: bool) {
        self.inner.state().echo_credentials = on;
    }

    pub fn set_latency(&self, latency: Duration) {
        self.inner.set_latency(latency);
    }

    /// Requests to `GET /v1/models`, including rejected ones.
    pub fn models_calls(&self) -> usize {
        self.inner.calls(MODELS)
    }

    /// Zeroes the call counters (not `received`).
    pub fn reset_counters(&self) {
        self.inner.reset_calls();
    }

    /// Requests to `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings` in arrival
    /// order, including rejected and malformed ones.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received()
    }

    pub fn clear_received(&self) {
        self.inner.clear_received();
    }
}
