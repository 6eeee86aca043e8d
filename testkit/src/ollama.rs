//! Fake Ollama server (v0.6.4 … v0.33): `GET /api/tags` and `POST /api/show` with Ollama's
//! `{"error":"..."}` envelope and status codes. `/api/show` answers as with `"verbose": true`, so
//! every response carries the heavy fields a client must discard: a ~10 KB `license`, a `modelfile`
//! embedding it, `template`, `tensors`, `projector_info` (vision) and tokenizer arrays of thousands
//! of entries in `model_info`. Optional bearer auth mimics Ollama Cloud.
//!
//! Inference, for a proxy (LiteLLM) forwarding to this fake: `POST /api/chat` (LiteLLM's
//! `ollama_chat/` deployments), `POST /api/generate` (`ollama/` chat and text completions) and
//! `POST /api/embed` (`ollama/` embeddings; LiteLLM 1.108 never calls the legacy `/api/embeddings`,
//! so the fake has none). Every model answers `pong from <model>` (embeddings: [`fake_embedding`]
//! of each input) with Ollama's non-streaming fields, including the `prompt_eval_count` and
//! `eval_count` LiteLLM turns into `usage`. Streaming is not faked: Ollama streams unless the body
//! says `"stream": false`, so a request without it gets a 400 rather than a shape no client expects.
//! Ollama's OpenAI-compatible `/v1/chat/completions` and `/v1/embeddings` answer in OpenAI's shapes
//! (LiteLLM's `openai/` deployments of an Ollama). Every inference request is recorded, rejected
//! ones too (see [`FakeOllama::received`]).
//!
//! [`fake_embedding`]: crate::fake_embedding

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;

use crate::common::{
    Inner, Received, Shared, bearer_ok, count_tokens, fake_embedding, json, message_text, reply, spawn_server,
};
use crate::failure::Failure;

const TAGS: &str = "/api/tags";
const SHOW: &str = "/api/show";
const CHAT: &str = "/api/chat";
const GENERATE: &str = "/api/generate";
const EMBED: &str = "/api/embed";
const OPENAI_CHAT: &str = "/v1/chat/completions";
const OPENAI_EMBEDDINGS: &str = "/v1/embeddings";

/// Length of the fake embeddings unless the request asks for `dimensions`.
const EMBEDDING_DIMENSIONS: usize = 4;
/// `created_at` of every inference answer (Ollama sends the time it finished; nothing parses it).
const CREATED_AT: &str = "2025-11-12T23:54:20.117500865Z";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Chat,
    Embedding,
    Vision,
}

/// One model installed on the fake Ollama, built with the constructors and builder methods.
#[derive(Clone, Debug)]
pub struct OllamaModel {
    name: String,
    kind: Kind,
    arch: String,
    context_length: u64,
    embedding_length: u64,
    parameter_size: &'static str,
    size: u64,
    digest: String,
    capabilities: Vec<String>,
    show_capabilities: bool,
    tags_capabilities: bool,
    modified_at: String,
    /// Extra `license` bytes in front of the `/api/show` answer (0: none).
    show_padding: usize,
    /// The serialised `/api/show` answer, built on first request (keeps 1,000-model benchmarks cheap).
    show_body: Arc<OnceLock<Bytes>>,
}

impl OllamaModel {
    fn new(name: &str, kind: Kind, arch: &str, capabilities: &[&str]) -> Self {
        let model = Self {
            name: name.to_owned(),
            kind,
            arch: String::new(),
            context_length: 131_072,
            embedding_length: 3072,
            parameter_size: "3.2B",
            size: 2_019_393_189,
            digest: format!("{:x}", Sha256::digest(name.as_bytes())),
            capabilities: Vec::new(),
            show_capabilities: true,
            tags_capabilities: false,
            modified_at: timestamp(0),
            show_padding: 0,
            show_body: Arc::default(),
        };
        model.arch(arch).capabilities(capabilities)
    }

    /// A chat model (`completion`, `tools`; arch `llama`, 128K context).
    pub fn chat(name: &str) -> Self {
        Self::new(name, Kind::Chat, "llama", &["completion", "tools"])
    }

    /// An embedding model (`embedding`; arch `nomic-bert`, 2K context; no license, no parameters).
    pub fn embedding(name: &str) -> Self {
        Self {
            context_length: 2048,
            embedding_length: 768,
            parameter_size: "137M",
            size: 274_302_450,
            ..Self::new(name, Kind::Embedding, "nomic-bert", &["embedding"])
        }
    }

    /// A vision model (`completion`, `vision`, `tools`, `thinking`; arch `gemma3`; has `projector_info`).
    pub fn vision(name: &str) -> Self {
        let caps = ["completion", "vision", "tools", "thinking"];
        Self {
            embedding_length: 2560,
            parameter_size: "4.3B",
            size: 3_338_801_804,
            ..Self::new(name, Kind::Vision, "gemma3", &caps)
        }
    }

    /// The i-th of a varied, deterministic population (10% embedding, 10% vision, chat models
    /// with and without tools over five families and context lengths); names and digests distinct.
    pub fn synthetic(i: usize) -> Self {
        const FAMILIES: [(&str, &str); 5] =
            [("llama", "llama"), ("qwen", "qwen3"), ("mistral", "llama"), ("gemma", "gemma3"), ("phi", "phi3")];
        const TAGS: [&str; 5] = ["latest", "7b", "8b-q4_K_M", "14b", "32b-instruct"];
        const CONTEXTS: [u64; 5] = [4096, 8192, 32_768, 131_072, 262_144];
        let (family, arch) = FAMILIES[i % 5];
        let tag = TAGS[(i / 5) % 5];
        let context = CONTEXTS[(i / 25) % 5];
        let mut model = match i % 10 {
            3 => Self::embedding(&format!("synth-embed-{i:04}:latest")),
            7 => Self::vision(&format!("synth-{family}-vision-{i:04}:{tag}")).context_length(context),
            _ => Self::chat(&format!("synth-{family}-{i:04}:{tag}")).arch(arch).context_length(context),
        };
        if i.is_multiple_of(3) && model.kind == Kind::Chat {
            model = model.capabilities(&["completion"]);
        }
        model.modified_at = timestamp(i as i64);
        model
    }

    pub fn context_length(mut self, context_length: u64) -> Self {
        self.context_length = context_length;
        self
    }

    pub fn digest(mut self, digest: &str) -> Self {
        digest.clone_into(&mut self.digest);
        self
    }

    /// Sets `general.architecture`, hence the `<arch>.` prefix of `model_info` keys and `details.family`.
    pub fn arch(mut self, arch: &str) -> Self {
        arch.clone_into(&mut self.arch);
        self
    }

    pub fn capabilities(mut self, capabilities: &[&str]) -> Self {
        self.capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// A hostile or broken Ollama: `/api/show` answers carry a `license` of `bytes` bytes (in
    /// place of the usual one), streamed without being built in memory.
    pub fn show_padding(mut self, bytes: usize) -> Self {
        self.show_padding = bytes;
        self
    }

    /// Ollama before v0.6.4: no `capabilities` in `/api/show` (tools stay visible as `.Tools` in the template).
    pub fn old_ollama(mut self) -> Self {
        self.show_capabilities = false;
        self
    }

    /// Ollama v0.30+: `/api/tags` also lists `capabilities` and `details.context_length`/`embedding_length`.
    pub fn tags_capabilities(mut self) -> Self {
        self.tags_capabilities = true;
        self
    }

    /// A copy with its own, empty `/api/show` cache (clones share one).
    fn uncached(self) -> Self {
        Self { show_body: Arc::default(), ..self }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn details(&self) -> Value {
        json!({
            "parent_model": "", "format": "gguf", "family": self.arch, "families": [self.arch],
            "parameter_size": self.parameter_size, "quantization_level": "Q4_K_M",
        })
    }

    fn tags_json(&self) -> Value {
        let mut entry = json!({
            "name": self.name, "model": self.name, "modified_at": self.modified_at,
            "size": self.size, "digest": self.digest, "details": self.details(),
        });
        if self.tags_capabilities {
            entry["capabilities"] = json!(self.capabilities);
            entry["details"]["context_length"] = json!(self.context_length);
            entry["details"]["embedding_length"] = json!(self.embedding_length);
        }
        entry
    }

    fn template(&self) -> String {
        if self.kind == Kind::Embedding {
            return "{{ .Prompt }}".to_owned();
        }
        let system = if self.capabilities.iter().any(|c| c == "tools") {
            concat!(
                "{{- if or .System .Tools }}<|im_start|>system\n{{ .System }}\n{{- if .Tools }}\n# Tools\n",
                "You may call one or more functions to assist with the user query.\n<tools>\n{{ .Tools }}\n</tools>\n",
                "{{- end }}<|im_end|>\n{{ end }}",
            )
        } else {
            "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
        };
        let messages = "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}";
        [system, messages, "<|im_start|>assistant\n"].concat()
    }

    fn model_info(&self) -> Value {
        let mut info = json!({
            "general.architecture": self.arch, "general.basename": self.name.split(':').next(),
            "general.file_type": 15, "general.license": "apache-2.0", "general.quantization_version": 2,
            "general.parameter_count": self.size * 8 / 5, "general.size_label": self.parameter_size,
            "general.type": "model", "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
            "tokenizer.ggml.bos_token_id": 151_643, "tokenizer.ggml.eos_token_id": 151_645,
            "tokenizer.ggml.tokens": (0..4096).map(|i| format!("\u{120}tok{i:x}")).collect::<Vec<_>>(),
            "tokenizer.ggml.token_type": (0..4096).map(|i| 1 + i % 3).collect::<Vec<_>>(),
            "tokenizer.ggml.merges": (0..2048).map(|i| format!("\u{120}t {i:x}")).collect::<Vec<_>>(),
        });
        let arch_keys = [
            ("attention.head_count", json!(32)),
            ("attention.head_count_kv", json!(8)),
            ("attention.layer_norm_rms_epsilon", json!(1e-6)),
            ("block_count", json!(self.blocks())),
            ("context_length", json!(self.context_length)),
            ("embedding_length", json!(self.embedding_length)),
            ("feed_forward_length", json!(self.embedding_length * 3)),
            ("rope.freq_base", json!(1_000_000)),
        ];
        for (key, value) in arch_keys {
            info[format!("{}.{key}", self.arch)] = value;
        }
        if self.kind == Kind::Embedding {
            info[format!("{}.pooling_type", self.arch)] = json!(1);
        }
        info
    }

    fn blocks(&self) -> u64 {
        if self.kind == Kind::Embedding { 12 } else { 28 }
    }

    fn show_json(&self) -> Value {
        let template = self.template();
        let width = self.embedding_length;
        let tensors: Vec<Value> = (0..self.blocks())
            .flat_map(|b| ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_down"].map(|t| (b, t)))
            .map(|(b, t)| json!({"name": format!("blk.{b}.{t}.weight"), "type": "Q4_K", "shape": [width, width]}))
            .collect();
        let mut show = json!({
            "modelfile": self.modelfile(&template), "template": template, "details": self.details(),
            "model_info": self.model_info(), "tensors": tensors, "modified_at": self.modified_at,
        });
        if self.kind != Kind::Embedding && self.show_padding == 0 {
            show["license"] = json!(license());
            show["parameters"] = json!(PARAMETERS);
        }
        if self.show_capabilities {
            show["capabilities"] = json!(self.capabilities);
        }
        if self.kind == Kind::Vision {
            show["projector_info"] = json!({
                "clip.has_vision_encoder": true, "clip.projector_type": self.arch,
                "clip.vision.image_size": 896, "clip.vision.patch_size": 14,
                "clip.vision.embedding_length": 1152, "clip.vision.block_count": 27,
            });
        }
        show
    }

    fn modelfile(&self, template: &str) -> String {
        let mut m = format!(
            "# Modelfile generated by \"ollama show\"\n# To build a new Modelfile based on this, replace FROM with:\n# FROM {}\n\nFROM /root/.ollama/models/blobs/sha256-{}\nTEMPLATE \"\"\"{template}\"\"\"\n",
            self.name, self.digest
        );
        if self.kind != Kind::Embedding {
            for line in PARAMETERS.lines() {
                m.push_str(&format!("PARAMETER {line}\n"));
            }
            m.push_str(&format!("LICENSE \"\"\"{}\"\"\"\n", license()));
        }
        m
    }
}

fn timestamp(minutes_back: i64) -> String {
    (datetime!(2025-11-12 23:54:20.117500865 UTC) - time::Duration::minutes(37 * minutes_back))
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn license() -> String {
    "This synthetic model may be used, copied and modified for testing purposes only, without warranty.\n".repeat(104)
}

const PARAMETERS: &str = "repeat_penalty                 1\nstop                           \"<|im_start|>\"\nstop                           \"<|im_end|>\"\ntemperature                    0.6\ntop_k                          20\ntop_p                          0.95";

#[derive(Debug, Default)]
struct Store {
    models: Vec<OllamaModel>,
    bearer: Option<String>,
    failure: Failure,
    show_failure: Failure,
    shown: Vec<String>,
}

impl Store {
    /// Ollama resolves a name without a tag to `:latest`.
    fn find(&self, name: &str) -> Option<&OllamaModel> {
        let tagged = format!("{name}:latest");
        self.models.iter().find(|m| m.name == name || (!name.contains(':') && m.name == tagged))
    }
}

/// Handle to a running fake Ollama; clones share the same server.
#[derive(Clone, Debug)]
pub struct FakeOllama {
    url: String,
    inner: Arc<Inner<Store>>,
}

fn error(status: StatusCode, message: &str) -> Response {
    json(status, json!({ "error": message }))
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "unauthorized")
}

async fn tags(State(inner): Shared<Store>, headers: HeaderMap) -> Response {
    let failure = {
        let st = inner.state();
        if !bearer_ok(&headers, st.bearer.as_deref()) {
            return unauthorized();
        }
        st.failure.clone()
    };
    let envelope = json!({"error": "simulated failure"});
    let listing = || {
        let st = inner.state();
        let models: Vec<Value> = st.models.iter().map(OllamaModel::tags_json).collect();
        drop(st);
        serde_json::to_vec(&json!({ "models": models })).unwrap_or_default()
    };
    if let Some(response) = failure.respond("models", json!({"models": []}), envelope, TAGS, || listing().into()).await
    {
        return response;
    }
    ([(header::CONTENT_TYPE, "application/json")], listing()).into_response()
}

#[derive(Deserialize)]
struct ShowRequest {
    #[serde(default)]
    model: String,
    /// Deprecated since v0.3.9 but still honoured when `model` is empty.
    #[serde(default)]
    name: String,
}

async fn show(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    let (model, failure) = {
        let mut st = inner.state();
        if !bearer_ok(&headers, st.bearer.as_deref()) {
            return unauthorized();
        }
        if body.is_empty() {
            return error(StatusCode::BAD_REQUEST, "missing request body");
        }
        let req: ShowRequest = match serde_json::from_slice(&body) {
            Ok(req) => req,
            Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let name = if req.model.is_empty() { req.name } else { req.model };
        if name.is_empty() {
            return error(StatusCode::BAD_REQUEST, "model is required");
        }
        st.shown.push(name.clone());
        match st.find(&name) {
            Some(model) => (model.clone(), st.show_failure.clone()),
            None => return error(StatusCode::NOT_FOUND, &format!("model '{name}' not found")),
        }
    };
    let body = model.show_body.get_or_init(|| serde_json::to_vec(&model.show_json()).unwrap_or_default().into());
    let envelope = json!({"error": "simulated failure"});
    if let Some(response) = failure.respond("license", json!({}), envelope, SHOW, || body.clone()).await {
        return response;
    }
    if model.show_padding > 0 {
        return padded(body.clone(), model.show_padding);
    }
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// The answer with a `license` of `padding` bytes in front, streamed in 64 KiB chunks and
/// generated on the fly (32 answers of 15 MB must not cost the fake 480 MB).
fn padded(body: Bytes, padding: usize) -> Response {
    const LINE: &[u8] = b"This synthetic license text pads the answer; a client must skip it unread. ";
    let block = Bytes::from(LINE.repeat(64 * 1024 / LINE.len()));
    let head = Bytes::from_static(b"{\"license\":\"");
    let mut left = padding;
    let pad = std::iter::repeat(block).map_while(move |block| {
        let take = block.len().min(left);
        left -= take;
        (take > 0).then(|| block.slice(..take))
    });
    let tail = Bytes::from([b"\",".as_slice(), &body[1..]].concat());
    let chunks = std::iter::once(head).chain(pad).chain(std::iter::once(tail)).map(Ok::<_, std::io::Error>);
    let stream = axum::body::Body::from_stream(futures::stream::iter(chunks));
    ([(header::CONTENT_TYPE, "application/json")], stream).into_response()
}

/// The fields of `/api/chat`, `/api/generate` and `/api/embed` bodies the fake reads; the rest
/// (`options`, `keep_alive`, `format`, `tools`, `think`, ...) is only recorded. Like Go's decoder,
/// a `null` reads as absent.
#[derive(Deserialize)]
struct InferenceRequest {
    #[serde(default, deserialize_with = "null_as_default")]
    model: String,
    /// Ollama's default is to stream.
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    messages: Vec<Value>,
    #[serde(default, deserialize_with = "null_as_default")]
    prompt: String,
    /// `/api/embed`: a string or a list of strings.
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    dimensions: Option<usize>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Ollama's timing fields (nanoseconds), fixed so answers are deterministic.
fn durations(answer: &mut Value) {
    answer["total_duration"] = json!(1_234_567_890_u64);
    answer["load_duration"] = json!(12_345_678_u64);
    answer["prompt_eval_duration"] = json!(23_456_789_u64);
}

fn chat_answer(req: &InferenceRequest) -> Value {
    let prompt: Vec<String> = req.messages.iter().map(message_text).collect();
    let content = reply(&req.model);
    let mut answer = json!({
        "model": req.model, "created_at": CREATED_AT,
        "message": {"role": "assistant", "content": content},
        "done_reason": "stop", "done": true,
        "prompt_eval_count": count_tokens(&prompt.join(" ")), "eval_count": count_tokens(&content),
        "eval_duration": 345_678_901_u64,
    });
    durations(&mut answer);
    answer
}

fn generate_answer(req: &InferenceRequest) -> Value {
    let content = reply(&req.model);
    let (prompt_tokens, eval_tokens) = (count_tokens(&req.prompt), count_tokens(&content));
    let mut answer = json!({
        "model": req.model, "created_at": CREATED_AT, "response": content,
        "done": true, "done_reason": "stop",
        "context": (1..=prompt_tokens + eval_tokens).collect::<Vec<_>>(),
        "prompt_eval_count": prompt_tokens, "eval_count": eval_tokens,
        "eval_duration": 345_678_901_u64,
    });
    durations(&mut answer);
    answer
}

fn embed_answer(req: &InferenceRequest) -> Response {
    let inputs: Vec<&str> = match &req.input {
        None => Vec::new(),
        Some(Value::String(text)) => vec![text.as_str()],
        Some(Value::Array(items)) => match items.iter().map(Value::as_str).collect::<Option<Vec<_>>>() {
            Some(texts) => texts,
            None => return error(StatusCode::BAD_REQUEST, "invalid input type"),
        },
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid input type"),
    };
    let dimensions = req.dimensions.filter(|d| (1..=4096).contains(d)).unwrap_or(EMBEDDING_DIMENSIONS);
    let mut answer = json!({
        "model": req.model,
        "embeddings": inputs.iter().map(|text| fake_embedding(text, dimensions)).collect::<Vec<_>>(),
        "prompt_eval_count": inputs.iter().map(|text| count_tokens(text)).sum::<u64>(),
    });
    durations(&mut answer);
    json(StatusCode::OK, answer)
}

/// The checks Ollama makes, in its order (auth by the Cloud front end first), then the answer.
fn infer(inner: &Inner<Store>, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let parsed = inner.record(path, headers, body);
    let st = inner.state();
    if !bearer_ok(headers, st.bearer.as_deref()) {
        return unauthorized();
    }
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "missing request body");
    }
    let req: InferenceRequest = match parsed.and_then(serde_json::from_value) {
        Ok(req) => req,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    if req.model.is_empty() {
        return error(StatusCode::BAD_REQUEST, "model is required");
    }
    let Some(model) = st.find(&req.model) else {
        return error(StatusCode::NOT_FOUND, &format!("model {:?} not found, try pulling it first", req.model));
    };
    if path != EMBED && !model.capabilities.iter().any(|c| c == "completion") {
        let what = if path == CHAT { "chat" } else { "generate" };
        return error(StatusCode::BAD_REQUEST, &format!("{:?} does not support {what}", req.model));
    }
    drop(st);
    if path != EMBED && req.stream != Some(false) {
        return error(StatusCode::BAD_REQUEST, "the testkit fake does not stream: send \"stream\": false");
    }
    match path {
        CHAT => json(StatusCode::OK, chat_answer(&req)),
        GENERATE => json(StatusCode::OK, generate_answer(&req)),
        _ => embed_answer(&req),
    }
}

async fn chat(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer(&inner, CHAT, &headers, &body)
}

/// Ollama's OpenAI-compatible API under `/v1` (LiteLLM's `openai/` deployments of an Ollama),
/// answered in OpenAI's shapes for the models Ollama has.
fn infer_openai(inner: &Inner<Store>, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let parsed = inner.record(path, headers, body);
    let n = inner.received_count();
    let st = inner.state();
    if !bearer_ok(headers, st.bearer.as_deref()) {
        return unauthorized();
    }
    let served = |model: &str| st.find(model).is_some();
    crate::openai::answer(path, parsed, &served, n)
}

async fn openai_chat(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer_openai(&inner, OPENAI_CHAT, &headers, &body)
}

async fn openai_embeddings(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer_openai(&inner, OPENAI_EMBEDDINGS, &headers, &body)
}

async fn generate(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer(&inner, GENERATE, &headers, &body)
}

async fn embed(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    infer(&inner, EMBED, &headers, &body)
}

impl FakeOllama {
    /// Starts an empty fake Ollama on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let router = Router::new()
            .route(TAGS, get(tags))
            .route(SHOW, post(show))
            .route(CHAT, post(chat))
            .route(GENERATE, post(generate))
            .route(EMBED, post(embed))
            .route(OPENAI_CHAT, post(openai_chat))
            .route(OPENAI_EMBEDDINGS, post(openai_embeddings));
        let (url, inner) = spawn_server(router).await;
        Self { url, inner }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn set_models(&self, models: Vec<OllamaModel>) {
        self.inner.state().models = models.into_iter().map(OllamaModel::uncached).collect();
    }

    /// Adds a model, replacing one with the same name.
    pub fn add_model(&self, model: OllamaModel) {
        let mut st = self.inner.state();
        st.models.retain(|m| m.name != model.name);
        st.models.push(model.uncached());
    }

    /// Removes a model; returns whether it existed.
    pub fn remove_model(&self, name: &str) -> bool {
        let mut st = self.inner.state();
        let before = st.models.len();
        st.models.retain(|m| m.name != name);
        st.models.len() != before
    }

    /// Changes a model's digest (a re-pull); returns whether the model exists.
    pub fn set_digest(&self, name: &str, digest: &str) -> bool {
        let mut st = self.inner.state();
        st.models
            .iter_mut()
            .find(|m| m.name == name)
            .map(|m| {
                digest.clone_into(&mut m.digest);
                m.show_body = Arc::default();
            })
            .is_some()
    }

    /// When set, every request needs `Authorization: Bearer <key>` (else 401 `{"error":"unauthorized"}`).
    pub fn require_bearer(&self, key: Option<String>) {
        self.inner.state().bearer = key;
    }

    /// Fault for `GET /api/tags`.
    pub fn set_failure(&self, failure: Failure) {
        self.inner.state().failure = failure;
    }

    /// Fault for every `POST /api/show` of a known model (`Oversized` and `InvalidJson` answer
    /// as for a listing, `EmptyList` with `{}`).
    pub fn set_show_failure(&self, failure: Failure) {
        self.inner.state().show_failure = failure;
    }

    pub fn set_latency(&self, latency: Duration) {
        self.inner.set_latency(latency);
    }

    /// Requests to `GET /api/tags`, including rejected ones.
    pub fn tags_calls(&self) -> usize {
        self.inner.calls(TAGS)
    }

    /// Requests to `POST /api/show`, including rejected ones.
    pub fn show_calls(&self) -> usize {
        self.inner.calls(SHOW)
    }

    /// Model names asked for by authorised, well-formed `/api/show` requests, in order.
    pub fn shown_names(&self) -> Vec<String> {
        self.inner.state().shown.clone()
    }

    /// Zeroes the call counters and clears `shown_names` (not `received`).
    pub fn reset_counters(&self) {
        self.inner.reset_calls();
        self.inner.state().shown.clear();
    }

    /// Requests to `/api/chat`, `/api/generate` and `/api/embed` in arrival order, including
    /// rejected and malformed ones.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received()
    }

    pub fn clear_received(&self) {
        self.inner.clear_received();
    }
}
