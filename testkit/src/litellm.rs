//! Fake LiteLLM proxy (1.108, started with a database and `STORE_MODEL_IN_DB=True`): the model
//! management admin API — `GET /model/info`, `POST /model/new`, `PATCH /model/{id}/update`,
//! `POST /model/delete`, `GET /v1/models`, health probes — with LiteLLM's auth rules, both error envelopes
//! (`{"error":{message,type,param,code}}` and FastAPI's `{"detail":...}`) and its quirks: write
//! responses echo `litellm_params` encrypted, `/model/info` shows them decrypted without `api_key`,
//! PATCH responses carry a fresh random `model_info.id`, duplicate ids give 500, `null` in a PATCH
//! only clears pricing keys, and the no-DB mode answers writes with 500.
//!
//! Opt-in ([`FakeLiteLlm::set_write_cost`]): the cost a real proxy with a database pays per write.
//! There every successful write ends in `ProxyConfig.add_deployment`, which holds one global
//! `MODEL_RECONCILE_LOCK` and reconciles the router against the whole model table, so writes are
//! serialised and slow down as the table fills. The fake models that as one global async lock held
//! for `base + per_entry × entries` after the write is stored and before it is answered.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use crate::common::{Inner, Shared, bearer, spawn_server};

const INFO: &str = "/model/info";
const INFO_V1: &str = "/v1/model/info";
const NEW: &str = "/model/new";
const PATCH: &str = "/model/{id}/update";
const DELETE: &str = "/model/delete";
const FALLBACK: &str = "/fallback";
const FALLBACK_MODEL: &str = "/fallback/{model}";
const BAD_KEY: &str = "Authentication Error, Invalid proxy server token passed. Unable to find token in cache or `LiteLLM_VerificationTokenTable`";

type Object = Map<String, Value>;
type Answer = (StatusCode, Json<Value>);
type Reply = Result<Answer, Answer>;
type Fault = Option<WriteFault>;

/// What goes wrong on a scheduled write call (see [`FakeLiteLlm::fail_write`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteFault {
    /// 500 internal error; nothing is stored.
    Reject,
    /// The change is stored, then the answer is a 500 internal error (a DB hiccup after commit).
    ApplyThenError,
    /// Nothing is stored; a proxy in front of LiteLLM answers this status (502, 503, 504, ...).
    Unavailable(u16),
    /// Nothing is stored; the connection is cut before any answer.
    ResetBeforeApply,
    /// The change is stored, then the connection is cut before any answer.
    ResetAfterApply,
    /// The change is stored, then no answer comes for an hour (the client's timeout must fire).
    HangAfterApply,
}

/// Pricing keys: dropped from `model_info` on create, mirrored from `litellm_params`, clearable by `null`.
fn is_pricing(key: &str) -> bool {
    key.contains("_cost_per_") || key.ends_with("_token_cost")
}

fn now() -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::now_utc().format(format).unwrap_or_default()
}

/// Stand-in for `encrypt_value_helper`: urlsafe base64 of a random nonce and the value XORed with a
/// SHA-256 keystream of the master key. Different on every call, never the plaintext.
fn encrypt(key: &str, plain: &str) -> String {
    let nonce = *Uuid::new_v4().as_bytes();
    let mut out = nonce.to_vec();
    for (i, chunk) in plain.as_bytes().chunks(32).enumerate() {
        let pad = Sha256::new().chain_update(key).chain_update(nonce).chain_update((i as u64).to_le_bytes()).finalize();
        out.extend(chunk.iter().zip(pad).map(|(b, p)| b ^ p));
    }
    URL_SAFE.encode(out)
}

/// Shallow merge where `null` clears pricing keys and is otherwise ignored.
fn merge(target: &mut Object, patch: &Object) {
    for (key, value) in patch {
        match value {
            Value::Null if is_pricing(key) => drop(target.remove(key)),
            Value::Null => {}
            value => drop(target.insert(key.clone(), value.clone())),
        }
    }
}

fn mirror_pricing(params: &Object, info: &mut Object) {
    let pricing = params.iter().filter(|(k, v)| is_pricing(k) && !v.is_null());
    info.extend(pricing.map(|(k, v)| (k.clone(), v.clone())));
}

#[derive(Clone, Debug)]
struct Entry {
    id: String,
    model_name: String,
    /// Plaintext, including `api_key`.
    params: Object,
    /// Without `id` and `db_model`.
    info: Object,
    db: bool,
    blocked: bool,
    created_at: String,
    updated_at: String,
}

impl Entry {
    fn new(model_name: String, params: Object, mut info: Object, db: bool) -> Self {
        let id = match info.remove("id") {
            Some(Value::String(id)) if !id.is_empty() => id,
            _ if db => Uuid::new_v4().to_string(),
            // Config models without an id get a 64-hex hash.
            _ => format!("{:x}", Sha256::digest(format!("{model_name}{}", Value::Object(params.clone())))),
        };
        info.remove("db_model");
        if db {
            info.retain(|k, _| !is_pricing(k));
        }
        mirror_pricing(&params, &mut info);
        let created_at = now();
        Self { id, model_name, params, info, db, blocked: false, updated_at: created_at.clone(), created_at }
    }

    /// The entry as `/model/info` shows it.
    fn view(&self) -> Value {
        let mut params = self.params.clone();
        params.remove("api_key");
        for flag in ["use_in_pass_through", "use_litellm_proxy", "merge_reasoning_content_in_choices"] {
            params.entry(flag).or_insert(Value::Bool(false));
        }
        let mut info = self.info.clone();
        mirror_pricing(&self.params, &mut info);
        info.insert("id".into(), json!(self.id));
        info.insert("db_model".into(), json!(self.db));
        let model = self.params.get("model").and_then(Value::as_str).unwrap_or_default();
        let provider = model.split_once('/').map_or("openai", |(p, _)| p);
        let pricing: Vec<&String> = self.params.keys().filter(|k| is_pricing(k)).collect();
        // A real proxy pads model_info with ~180 mostly-null keys; never over real values.
        let defaults = json!({
            "key": model, "litellm_provider": provider, "mode": "chat", "member_auto_router": false,
            "pricing_overrides": pricing, "max_tokens": null, "max_input_tokens": null,
            "max_output_tokens": null, "input_cost_per_token": null, "output_cost_per_token": null,
            "supports_vision": null, "supports_function_calling": null, "supports_reasoning": null,
        });
        for (key, value) in object(defaults, "defaults") {
            info.entry(key).or_insert(value);
        }
        json!({"model_name": self.model_name, "litellm_params": params, "model_info": info})
    }

    /// The DB row a write returns: string params encrypted, `model_info.id` as given.
    fn row(&self, master_key: &str, info_id: String) -> Value {
        let mut params = self.params.clone();
        for value in params.values_mut() {
            if let Value::String(plain) = value {
                *plain = encrypt(master_key, plain);
            }
        }
        let mut info = self.info.clone();
        info.insert("id".into(), json!(info_id));
        info.insert("db_model".into(), json!(false));
        json!({
            "model_id": self.id, "model_name": self.model_name, "litellm_params": params,
            "model_info": info, "blocked": self.blocked,
            "created_at": self.created_at, "created_by": "default_user_id",
            "updated_at": self.updated_at, "updated_by": "default_user_id",
        })
    }

    fn apply_patch(&mut self, req: &Object) {
        if let Some(Value::String(name)) = req.get("model_name") {
            name.clone_into(&mut self.model_name);
        }
        if let Some(Value::Bool(blocked)) = req.get("blocked") {
            self.blocked = *blocked;
        }
        if let Some(Value::Object(params)) = req.get("litellm_params") {
            merge(&mut self.params, params);
            let pricing = params.iter().filter(|(k, _)| is_pricing(k));
            merge(&mut self.info, &pricing.map(|(k, v)| (k.clone(), v.clone())).collect());
        }
        if let Some(Value::Object(info)) = req.get("model_info") {
            let mut info = info.clone();
            info.remove("id");
            info.remove("db_model");
            merge(&mut self.info, &info);
        }
        self.updated_at = now();
    }
}

#[derive(Debug, Default)]
struct Store {
    master_key: String,
    no_db: bool,
    entries: Vec<Entry>,
    /// Authorised write calls since start (never reset); faults are keyed by this sequence.
    writes_seen: usize,
    faults: HashMap<usize, WriteFault>,
    requests: Vec<(String, String, Value)>,
    /// Off by default: writes answer at once.
    write_cost: Option<WriteCost>,
    /// `MODEL_RECONCILE_LOCK`: one reconcile at a time, whatever the route.
    reconcile_lock: Arc<tokio::sync::Mutex<()>>,
    /// One per costed write, in the order they were answered.
    reconciles: Vec<Reconcile>,
    /// `GET /model/info` lists every entry twice (same id), as LiteLLM has been seen to.
    duplicate_listing: bool,
    /// Error answers quote the request's `Authorization` header (a debugging proxy, a careless
    /// error handler): the client must not store or show it.
    echo_credentials: bool,
    /// Extra time the whole model list takes (a real proxy builds it per deployment).
    list_latency: Duration,
    /// `GET /model/info` answers 500 after checking the key (see [`FakeLiteLlm::fail_reads`]).
    fail_reads: bool,
    /// `router_settings` fallbacks by key (`fallbacks`, `context_window_fallbacks`,
    /// `content_policy_fallbacks`): a list of `{model: [fallbacks…]}` maps, as LiteLLM keeps them.
    fallbacks: HashMap<String, Vec<(String, Vec<String>)>>,
}

/// The reconcile a successful write pays for (see [`FakeLiteLlm::set_write_cost`]).
#[derive(Clone, Copy, Debug)]
struct WriteCost {
    base: Duration,
    per_entry: Duration,
}

/// What one costed write went through (see [`FakeLiteLlm::reconciles`]).
#[derive(Clone, Copy, Debug)]
pub struct Reconcile {
    /// From the write being stored to its answer: waiting for the lock plus holding it.
    pub waited: Duration,
    /// When the lock was released and the write answered.
    pub answered_at: Instant,
    /// Entries stored when the reconcile began (what its duration was computed from).
    pub entries: usize,
}

impl Store {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Answer> {
        // x-litellm-api-key supersedes Authorization.
        let key = headers
            .get("x-litellm-api-key")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.strip_prefix("Bearer ").unwrap_or(v))
            .or_else(|| bearer(headers));
        let (status, message) = match key {
            Some(key) if key == self.master_key => return Ok(()),
            None | Some("") => (401, "Authentication Error, No api key passed in."),
            Some(_) if self.no_db => {
                return Err(proxy_error(400, "No connected db.", "no_db_connection", None));
            }
            Some(_) => (401, BAD_KEY),
        };
        Err(proxy_error(status, message, "auth_error", Some("None")))
    }

    /// Records a write, checks auth and returns the fault scheduled for it.
    fn begin_write(&mut self, method: &str, path: &str, headers: &HeaderMap, body: &Bytes) -> Result<Fault, Answer> {
        let recorded =
            serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
        self.requests.push((method.to_owned(), path.to_owned(), recorded));
        self.authorize(headers)?;
        self.writes_seen += 1;
        Ok(self.faults.remove(&self.writes_seen))
    }

    /// After validation: the DB must be connected and the write not scheduled to be rejected.
    fn writable(&self, fault: Fault, no_db: impl FnOnce() -> Answer) -> Result<(), Answer> {
        match fault {
            _ if self.no_db => Err(no_db()),
            Some(WriteFault::Reject | WriteFault::ResetBeforeApply) => Err(internal()),
            Some(WriteFault::Unavailable(status)) => {
                Err(proxy_error(status, "upstream connect error or disconnect/reset before headers", "proxy", None))
            }
            _ => Ok(()),
        }
    }
}

/// A successful write answers 200, unless scheduled to fail after applying.
fn finish(fault: Fault, body: Value) -> Reply {
    match fault {
        Some(WriteFault::ApplyThenError) => Err(internal()),
        _ => Ok(answer(StatusCode::OK, body)),
    }
}

/// With a write cost set, a successful write waits for the global reconcile lock and holds it for
/// `base + per_entry × entries stored at that moment` (those of writes still waiting included:
/// the real reconcile re-reads the whole table), then is answered.
async fn reconcile(inner: &Inner<Store>, reply: &Reply) {
    let (cost, lock) = {
        let st = inner.state();
        (st.write_cost, st.reconcile_lock.clone())
    };
    let Some(cost) = cost.filter(|_| reply.is_ok()) else {
        return;
    };
    let stored = Instant::now();
    let _held = lock.lock().await;
    let entries = inner.state().entries.len();
    tokio::time::sleep(cost.base + cost.per_entry.saturating_mul(u32::try_from(entries).unwrap_or(u32::MAX))).await;
    let answered_at = Instant::now();
    inner.state().reconciles.push(Reconcile { waited: answered_at - stored, answered_at, entries });
}

fn answer(status: StatusCode, body: Value) -> Answer {
    (status, Json(body))
}

/// LiteLLM's `ProxyException` envelope; `param` is `None` → JSON null.
fn proxy_error(status: u16, message: &str, kind: &str, param: Option<&str>) -> Answer {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let error = json!({"message": message, "type": kind, "param": param, "code": status.to_string()});
    answer(code, json!({ "error": error }))
}

fn internal() -> Answer {
    proxy_error(500, "Internal server error", "internal_server_error", None)
}

fn no_db() -> Answer {
    let message =
        "{'error': \"No DB Connected. Here's how to do it - https://docs.litellm.ai/docs/proxy/virtual_keys\"}";
    proxy_error(500, message, "auth_error", Some("None"))
}

fn detail(status: StatusCode, detail: Value) -> Answer {
    answer(status, json!({ "detail": detail }))
}

/// FastAPI's 422 validation envelope.
fn invalid(kind: &str, loc: Value, msg: &str) -> Answer {
    let detail_item = json!([{"type": kind, "loc": loc, "msg": msg}]);
    detail(StatusCode::UNPROCESSABLE_ENTITY, detail_item)
}

fn missing(loc: Value) -> Answer {
    invalid("missing", loc, "Field required")
}

/// FastAPI body validation: the body must be a JSON object.
fn parse_object(body: &Bytes) -> Result<Object, Answer> {
    if body.is_empty() {
        return Err(missing(json!(["body"])));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(invalid(
            "model_attributes_type",
            json!(["body"]),
            "Input should be a valid dictionary or object to extract fields from",
        )),
        Err(_) => Err(invalid("json_invalid", json!(["body", 0]), "JSON decode error")),
    }
}

fn object(value: Value, what: &str) -> Object {
    match value {
        Value::Object(object) => object,
        Value::Null => Object::new(),
        other => panic!("{what} must be a JSON object, got {other}"),
    }
}

async fn model_info(
    State(inner): Shared<Store>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let whole_list = query.get("litellm_model_id").is_none_or(|id| id.is_empty());
    let latency = inner.state().list_latency;
    if whole_list && !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let reply = list_models(&inner, &headers, &query);
    echo_credentials(&inner, &headers, reply)
}

fn list_models(inner: &Inner<Store>, headers: &HeaderMap, query: &HashMap<String, String>) -> Reply {
    let st = inner.state();
    st.authorize(headers)?;
    if st.fail_reads {
        return Err(internal());
    }
    let data: Vec<Value> = match query.get("litellm_model_id").filter(|id| !id.is_empty()) {
        None if st.duplicate_listing => st.entries.iter().flat_map(|e| [e.view(), e.view()]).collect(),
        None => st.entries.iter().map(Entry::view).collect(),
        Some(id) => match st.entries.iter().find(|e| &e.id == id) {
            Some(entry) => vec![entry.view()],
            None => {
                let error = format!("Model id = {id} not found on litellm proxy");
                return Err(detail(StatusCode::BAD_REQUEST, json!({ "error": error })));
            }
        },
    };
    Ok(answer(StatusCode::OK, json!({ "data": data })))
}

async fn new_model(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    let mut fault = None;
    let reply = store_new(&inner, &headers, &body, &mut fault);
    reconcile(&inner, &reply).await;
    deliver(&inner, &headers, fault, reply).await
}

/// The answer as the client gets it: cut, late, or with the caller's credentials quoted in
/// an error, when a fault says so.
async fn deliver(inner: &Inner<Store>, headers: &HeaderMap, fault: Fault, reply: Reply) -> Response {
    match fault {
        Some(WriteFault::ResetBeforeApply | WriteFault::ResetAfterApply) => return reset_connection(),
        Some(WriteFault::HangAfterApply) => tokio::time::sleep(Duration::from_secs(3600)).await,
        _ => {}
    }
    echo_credentials(inner, headers, reply).into_response()
}

/// A 200 whose body fails mid-stream: the server drops the connection without a complete
/// answer, as a crashing process or a reset socket does.
fn reset_connection() -> Response {
    let broken = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"))
    });
    Response::new(Body::from_stream(broken))
}

/// With [`FakeLiteLlm::set_echo_credentials`], error answers quote the `Authorization` header.
fn echo_credentials(inner: &Inner<Store>, headers: &HeaderMap, reply: Reply) -> Reply {
    let (status, Json(mut body)) = match reply {
        Ok(answer) => return Ok(answer),
        Err(answer) => answer,
    };
    if inner.state().echo_credentials {
        let auth = headers.get("authorization").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let quoted = format!(" (request headers: Authorization: {})", auth.unwrap_or_default());
        if let Some(Value::String(message)) = body.pointer_mut("/error/message") {
            message.push_str(&quoted);
        } else if let Some(Value::Object(detail)) = body.get_mut("detail") {
            detail.insert("headers".into(), json!(quoted));
        }
    }
    Err((status, Json(body)))
}

fn store_new(inner: &Inner<Store>, headers: &HeaderMap, body: &Bytes, fault_out: &mut Fault) -> Reply {
    let mut st = inner.state();
    let fault = st.begin_write("POST", NEW, headers, body)?;
    *fault_out = fault;
    let mut req = parse_object(body)?;
    // A missing litellm_params is a TypeError inside `Deployment.__init__`: 500, not 422.
    let Some(Value::Object(params)) = req.remove("litellm_params") else {
        return Err(internal());
    };
    let Some(Value::String(model_name)) = req.remove("model_name") else {
        return Err(missing(json!(["body", "model_name"])));
    };
    if !params.get("model").is_some_and(Value::is_string) {
        return Err(missing(json!(["body", "litellm_params", "model"])));
    }
    let info = match req.remove("model_info") {
        Some(Value::Object(info)) => info,
        None | Some(Value::Null) => Object::new(),
        Some(_) => {
            return Err(invalid("dict_type", json!(["body", "model_info"]), "Input should be a valid dictionary"));
        }
    };
    st.writable(fault, no_db)?;
    let mut entry = Entry::new(model_name, params, info, true);
    entry.blocked = req.get("blocked").and_then(Value::as_bool).unwrap_or(false);
    if st.entries.iter().any(|e| e.id == entry.id) {
        return Err(internal()); // Prisma unique-constraint violation, surfaced as a plain 500.
    }
    let row = entry.row(&st.master_key, entry.id.clone());
    st.entries.push(entry);
    finish(fault, row)
}

async fn patch_model(State(inner): Shared<Store>, Path(id): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let mut fault = None;
    let reply = store_patch(&inner, &id, &headers, &body, &mut fault);
    reconcile(&inner, &reply).await;
    deliver(&inner, &headers, fault, reply).await
}

fn store_patch(inner: &Inner<Store>, id: &str, headers: &HeaderMap, body: &Bytes, fault_out: &mut Fault) -> Reply {
    let mut st = inner.state();
    let fault = st.begin_write("PATCH", &format!("/model/{id}/update"), headers, body)?;
    *fault_out = fault;
    let req = parse_object(body)?;
    st.writable(fault, || {
        let error = "DB not connected. This endpoint needs a database; set DATABASE_URL and STORE_MODEL_IN_DB=True.";
        detail(StatusCode::INTERNAL_SERVER_ERROR, json!({ "error": error }))
    })?;
    let master_key = st.master_key.clone();
    let Some(entry) = st.entries.iter_mut().find(|e| e.id == id) else {
        let message = format!("Model {id} not found on proxy.");
        return Err(proxy_error(404, &message, "not_found_error", Some("model_id")));
    };
    if !entry.db {
        let message = "Cannot edit config-based model. Store model in DB via /model/new first.";
        return Err(proxy_error(400, message, "bad_request_error", Some("model_id")));
    }
    entry.apply_patch(&req);
    // Real quirk: the write response carries a fresh random model_info.id.
    let row = entry.row(&master_key, Uuid::new_v4().to_string());
    finish(fault, row)
}

async fn delete_model(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Response {
    let mut fault = None;
    let reply = store_delete(&inner, &headers, &body, &mut fault);
    reconcile(&inner, &reply).await;
    deliver(&inner, &headers, fault, reply).await
}

fn store_delete(inner: &Inner<Store>, headers: &HeaderMap, body: &Bytes, fault_out: &mut Fault) -> Reply {
    let mut st = inner.state();
    let fault = st.begin_write("POST", DELETE, headers, body)?;
    *fault_out = fault;
    let req = parse_object(body)?;
    let Some(Value::String(id)) = req.get("id") else {
        return Err(missing(json!(["body", "id"])));
    };
    st.writable(fault, no_db)?;
    let Some(pos) = st.entries.iter().position(|e| e.db && e.id == *id) else {
        let message = format!("Model with id={id} not found in db");
        return Err(proxy_error(400, &message, "bad_request_error", Some("None")));
    };
    st.entries.remove(pos);
    finish(fault, json!({ "message": format!("Model: {id} deleted successfully") }))
}

/// `GET /v1/models`: one OpenAI-style entry per `model_name` (LiteLLM's model groups) in the order
/// first seen, with the group's `mode` and token limits where a deployment states them (the real
/// one also fills them from its bundled cost map, which the fake does not have).
async fn models(State(inner): Shared<Store>, headers: HeaderMap) -> Reply {
    let st = inner.state();
    st.authorize(&headers)?;
    let mut groups: Vec<(&str, Object)> = Vec::new();
    for entry in &st.entries {
        let index = match groups.iter().position(|(name, _)| *name == entry.model_name) {
            Some(index) => index,
            None => {
                let model =
                    json!({"id": entry.model_name, "object": "model", "created": 1_677_610_602, "owned_by": "openai"});
                groups.push((&entry.model_name, model.as_object().cloned().unwrap_or_default()));
                groups.len() - 1
            }
        };
        for key in ["mode", "max_input_tokens", "max_output_tokens"] {
            if let Some(value) = entry.info.get(key).filter(|v| !v.is_null()) {
                groups[index].1.entry(key).or_insert_with(|| value.clone());
            }
        }
    }
    let data: Vec<Value> = groups.into_iter().map(|(_, model)| Value::Object(model)).collect();
    Ok(answer(StatusCode::OK, json!({ "data": data, "object": "list" })))
}

/// The `router_settings` key of a `fallback_type` (LiteLLM's default is `general`).
fn fallback_key(kind: Option<&str>) -> Result<&'static str, Answer> {
    match kind.unwrap_or("general") {
        "general" => Ok("fallbacks"),
        "context_window" => Ok("context_window_fallbacks"),
        "content_policy" => Ok("content_policy_fallbacks"),
        _ => Err(invalid(
            "literal_error",
            json!(["query", "fallback_type"]),
            "Input should be 'general', 'context_window' or 'content_policy'",
        )),
    }
}

fn fallback_error(status: StatusCode, error: String, available: Option<Vec<String>>) -> Answer {
    let mut body = json!({ "error": error });
    if let Some(models) = available {
        body["available_models"] = json!(models);
    }
    detail(status, body)
}

/// `POST /fallback`, validated as LiteLLM's `FallbackCreateRequest` and `create_fallback` do:
/// a non-empty trimmed `model`, at least one fallback and none twice, every name served by the
/// router (404 for the model, 400 for a fallback), not its own fallback, a database connected.
/// An existing rule for the model is replaced in place, a new one appended.
async fn create_fallback(State(inner): Shared<Store>, headers: HeaderMap, body: Bytes) -> Reply {
    let mut st = inner.state();
    let recorded = serde_json::from_slice(&body).unwrap_or(Value::Null);
    st.requests.push(("POST".into(), FALLBACK.into(), recorded));
    st.authorize(&headers)?;
    let request = parse_object(&body)?;
    let model = match request.get("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m.trim().to_owned(),
        Some(Value::String(_)) => {
            return Err(invalid(
                "value_error",
                json!(["body", "model"]),
                "Value error, model must be a non-empty string",
            ));
        }
        _ => return Err(missing(json!(["body", "model"]))),
    };
    let fallbacks: Vec<String> = match request.get("fallback_models") {
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
        }
        Some(_) => {
            return Err(invalid("list_type", json!(["body", "fallback_models"]), "Input should be a valid list"));
        }
        None => return Err(missing(json!(["body", "fallback_models"]))),
    };
    if fallbacks.is_empty() {
        return Err(invalid(
            "too_short",
            json!(["body", "fallback_models"]),
            "List should have at least 1 item after validation, not 0",
        ));
    }
    if fallbacks.iter().enumerate().any(|(i, f)| fallbacks[..i].contains(f)) {
        return Err(invalid(
            "value_error",
            json!(["body", "fallback_models"]),
            "Value error, fallback_models must not contain duplicates",
        ));
    }
    let key = fallback_key(request.get("fallback_type").and_then(Value::as_str))?;
    let mut known: Vec<String> = st.entries.iter().map(|e| e.model_name.clone()).collect();
    known.sort();
    known.dedup();
    if !known.contains(&model) {
        return Err(fallback_error(StatusCode::NOT_FOUND, format!("Model '{model}' not found in router"), Some(known)));
    }
    let unknown: Vec<&String> = fallbacks.iter().filter(|f| !known.contains(f)).collect();
    if !unknown.is_empty() {
        let listed = unknown.iter().map(|m| format!("'{m}'")).collect::<Vec<_>>().join(", ");
        return Err(fallback_error(
            StatusCode::BAD_REQUEST,
            format!("Invalid fallback models: [{listed}]"),
            Some(known),
        ));
    }
    if fallbacks.contains(&model) {
        return Err(fallback_error(
            StatusCode::BAD_REQUEST,
            format!("Model '{model}' cannot be its own fallback"),
            None,
        ));
    }
    if st.no_db {
        let error =
            "Database storage not enabled. Set 'STORE_MODEL_IN_DB=True' in your environment to use this feature.";
        return Err(fallback_error(StatusCode::BAD_REQUEST, error.into(), None));
    }
    let rules = st.fallbacks.entry(key.to_owned()).or_default();
    let updated = match rules.iter_mut().find(|(m, _)| *m == model) {
        Some(rule) => {
            rule.1 = fallbacks.clone();
            true
        }
        None => {
            rules.push((model.clone(), fallbacks.clone()));
            false
        }
    };
    let kind = request.get("fallback_type").and_then(Value::as_str).unwrap_or("general");
    let message = format!("Fallback configuration {} successfully", if updated { "updated" } else { "created" });
    Ok(answer(
        StatusCode::OK,
        json!({"model": model, "fallback_models": fallbacks, "fallback_type": kind, "message": message}),
    ))
}

/// The `{model}` path segment as LiteLLM's router sees it: decoded before routing, so a name
/// with a `/` (sent as `%2F`) reaches no route at all.
fn fallback_path_model(model: &str) -> Result<String, Answer> {
    if model.contains('/') {
        return Err(detail(StatusCode::NOT_FOUND, json!("Not Found")));
    }
    Ok(model.to_owned())
}

async fn get_fallback(
    State(inner): Shared<Store>,
    Path(model): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let st = inner.state();
    st.authorize(&headers)?;
    let model = fallback_path_model(&model)?;
    let kind = query.get("fallback_type").map(String::as_str);
    let key = fallback_key(kind)?;
    let kind = kind.unwrap_or("general");
    match st.fallbacks.get(key).and_then(|rules| rules.iter().find(|(m, _)| *m == model)) {
        Some((_, models)) if !models.is_empty() => {
            Ok(answer(StatusCode::OK, json!({"model": model, "fallback_models": models, "fallback_type": kind})))
        }
        _ => Err(fallback_error(
            StatusCode::NOT_FOUND,
            format!("No {kind} fallbacks configured for model '{model}'"),
            None,
        )),
    }
}

async fn delete_fallback(
    State(inner): Shared<Store>,
    Path(model): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Reply {
    let mut st = inner.state();
    st.requests.push(("DELETE".into(), format!("{FALLBACK}/{model}"), json!(query)));
    st.authorize(&headers)?;
    let model = fallback_path_model(&model)?;
    let kind = query.get("fallback_type").map(String::as_str);
    let key = fallback_key(kind)?;
    let kind = kind.unwrap_or("general");
    if st.no_db {
        let error =
            "Database storage not enabled. Set 'STORE_MODEL_IN_DB=True' in your environment to use this feature.";
        return Err(fallback_error(StatusCode::BAD_REQUEST, error.into(), None));
    }
    let rules = st.fallbacks.entry(key.to_owned()).or_default();
    let before = rules.len();
    rules.retain(|(m, _)| *m != model);
    if rules.len() == before {
        return Err(fallback_error(
            StatusCode::NOT_FOUND,
            format!("No {kind} fallbacks configured for model '{model}'"),
            None,
        ));
    }
    let message = "Fallback configuration deleted successfully";
    Ok(answer(StatusCode::OK, json!({"model": model, "fallback_type": kind, "message": message})))
}

async fn readiness(State(inner): Shared<Store>) -> Answer {
    let no_db = inner.state().no_db;
    answer(StatusCode::OK, json!({"status": "healthy", "db": if no_db { "Not connected" } else { "connected" }}))
}

/// Handle to a running fake LiteLLM proxy; clones share the same server.
#[derive(Clone, Debug)]
pub struct FakeLiteLlm {
    url: String,
    inner: Arc<Inner<Store>>,
}

impl FakeLiteLlm {
    /// Starts an empty proxy with a database on `127.0.0.1:0`.
    pub async fn start(master_key: &str) -> Self {
        let router = Router::new()
            .route(INFO, get(model_info))
            .route(INFO_V1, get(model_info))
            .route("/v1/models", get(models))
            .route(NEW, post(new_model))
            .route(PATCH, patch(patch_model))
            .route(DELETE, post(delete_model))
            .route(FALLBACK, post(create_fallback))
            .route(FALLBACK_MODEL, get(get_fallback).delete(delete_fallback))
            .route("/health/liveliness", get(|| async { Json("I'm alive!") }))
            .route("/health/readiness", get(readiness));
        let (url, inner) = spawn_server(router).await;
        master_key.clone_into(&mut inner.state().master_key);
        Self { url, inner }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// All entries exactly as `GET /model/info` shows them.
    pub fn entries(&self) -> Vec<Value> {
        self.inner.state().entries.iter().map(Entry::view).collect()
    }

    /// The plaintext `api_key` stored for a model id (never shown by `/model/info`).
    pub fn stored_api_key(&self, id: &str) -> Option<String> {
        let st = self.inner.state();
        let entry = st.entries.iter().find(|e| e.id == id)?;
        entry.params.get("api_key")?.as_str().map(str::to_owned)
    }

    /// Adds a model from the proxy's config file (`db_model: false`, read-only); returns its id.
    pub fn add_config_entry(&self, model_name: &str, litellm_params: Value, model_info: Value) -> String {
        self.insert(model_name, litellm_params, model_info, false)
    }

    /// Adds a DB model as if created via `/model/new` by someone else; returns its id.
    pub fn insert_db_entry(&self, model_name: &str, litellm_params: Value, model_info: Value) -> String {
        self.insert(model_name, litellm_params, model_info, true)
    }

    fn insert(&self, model_name: &str, params: Value, info: Value, db: bool) -> String {
        let entry = Entry::new(model_name.to_owned(), object(params, "litellm_params"), object(info, "model_info"), db);
        let mut st = self.inner.state();
        assert!(st.entries.iter().all(|e| e.id != entry.id), "duplicate model id {}", entry.id);
        st.entries.push(entry.clone());
        entry.id
    }

    /// Deletes an entry as someone would in LiteLLM's own UI (no call recorded); whether it existed.
    pub fn remove(&self, id: &str) -> bool {
        let mut st = self.inner.state();
        let before = st.entries.len();
        st.entries.retain(|e| e.id != id);
        st.entries.len() < before
    }

    /// Simulates a proxy started without `DATABASE_URL`: writes fail, wrong keys get 400.
    pub fn set_no_db(&self, no_db: bool) {
        self.inner.state().no_db = no_db;
    }

    /// Makes the whole model list (`GET /model/info` without an id) slower than other calls, as a
    /// real proxy holding thousands of deployments is.
    pub fn set_list_latency(&self, latency: Duration) {
        self.inner.state().list_latency = latency;
    }

    pub fn set_latency(&self, latency: Duration) {
        self.inner.set_latency(latency);
    }

    /// Makes every successful write cost what a real proxy with a database pays: the write is
    /// stored, then waits for one global lock (LiteLLM's `MODEL_RECONCILE_LOCK`) and holds it for
    /// `base + per_entry × entries stored` before it is answered, so writes are serialised and
    /// slow down as the table fills. Off by default; `Duration::ZERO` for both turns it off.
    pub fn set_write_cost(&self, base: Duration, per_entry: Duration) {
        let off = base.is_zero() && per_entry.is_zero();
        self.inner.state().write_cost = (!off).then_some(WriteCost { base, per_entry });
    }

    /// Every costed write so far, in the order they were answered (see [`Self::set_write_cost`]).
    pub fn reconciles(&self) -> Vec<Reconcile> {
        self.inner.state().reconciles.clone()
    }

    /// Makes `GET /model/info` list every entry twice, with the same id (off by default).
    pub fn set_duplicate_listing(&self, on: bool) {
        self.inner.state().duplicate_listing = on;
    }

    /// Makes `GET /model/info` answer LiteLLM's 500 envelope to every authorised caller (off by
    /// default), as a proxy whose model table is broken does.
    pub fn fail_reads(&self, on: bool) {
        self.inner.state().fail_reads = on;
    }

    /// Makes every error answer quote the request's `Authorization` header (off by default).
    pub fn set_echo_credentials(&self, on: bool) {
        self.inner.state().echo_credentials = on;
    }

    /// Authorised write calls that reached the handler so far (after any injected latency,
    /// before any write cost: a write counted here may be stored but not yet answered).
    pub fn writes_seen(&self) -> usize {
        self.inner.state().writes_seen
    }

    /// How many entries are stored (cheaper than `entries().len()`).
    pub fn entry_count(&self) -> usize {
        self.inner.state().entries.len()
    }

    /// Makes the n-th (1-based; 0 counts as 1) authorised write call from now fail with `mode`.
    /// `/model/new`, PATCH and `/model/delete` are counted together.
    pub fn fail_write(&self, n: usize, mode: WriteFault) {
        let mut st = self.inner.state();
        let at = st.writes_seen + n.max(1);
        st.faults.insert(at, mode);
    }

    /// Requests to `/model/info` and `/v1/model/info`.
    pub fn info_calls(&self) -> usize {
        self.inner.calls(INFO) + self.inner.calls(INFO_V1)
    }

    pub fn new_calls(&self) -> usize {
        self.inner.calls(NEW)
    }

    pub fn patch_calls(&self) -> usize {
        self.inner.calls(PATCH)
    }

    pub fn delete_calls(&self) -> usize {
        self.inner.calls(DELETE)
    }

    /// `new_calls + patch_calls + delete_calls`.
    pub fn write_calls(&self) -> usize {
        self.new_calls() + self.patch_calls() + self.delete_calls()
    }

    /// The fallbacks held, as `router_settings` keeps them: `(setting key, model, fallbacks)`,
    /// e.g. `("context_window_fallbacks", "pool", ["big"])`, in stored order.
    pub fn fallbacks(&self) -> Vec<(String, String, Vec<String>)> {
        let st = self.inner.state();
        let mut all: Vec<(String, String, Vec<String>)> = st
            .fallbacks
            .iter()
            .flat_map(|(key, rules)| rules.iter().map(move |(m, f)| (key.clone(), m.clone(), f.clone())))
            .collect();
        all.sort();
        all
    }

    /// `POST /fallback` and `DELETE /fallback/{model}` calls (the writes of fallbacks).
    pub fn fallback_write_calls(&self) -> usize {
        self.inner.calls(FALLBACK)
            + self.requests().iter().filter(|(m, p, _)| m == "DELETE" && p.starts_with(FALLBACK)).count()
    }

    /// Zeroes the counters and clears `requests` (scheduled faults stay).
    pub fn reset_counters(&self) {
        self.inner.reset_calls();
        self.inner.state().requests.clear();
    }

    /// Every write call as `(method, path, body)`, including rejected ones; an unparsable body
    /// is recorded as a JSON string.
    pub fn requests(&self) -> Vec<(String, String, Value)> {
        self.inner.state().requests.clone()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const KEY: &str = "sk-master";

    async fn create(http: &reqwest::Client, fake: &FakeLiteLlm, key: &str, id: &str) -> u16 {
        let body =
            json!({"model_name": id, "litellm_params": {"model": format!("openai/{id}")}, "model_info": {"id": id}});
        let response = http.post(format!("{}/model/new", fake.url())).bearer_auth(key).json(&body).send().await;
        response.expect("the fake answers").status().as_u16()
    }

    #[tokio::test]
    async fn write_cost_is_paid_by_successful_writes_only_and_can_be_turned_off() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let fake = FakeLiteLlm::start(KEY).await;
        assert_eq!(create(&http, &fake, KEY, "free").await, 200);
        assert!(fake.reconciles().is_empty(), "off by default");

        fake.set_write_cost(Duration::from_millis(1), Duration::from_micros(10));
        let ids = ["m1", "m2", "m3", "m4"];
        let statuses = futures::future::join_all(ids.iter().map(|id| create(&http, &fake, KEY, id))).await;
        assert_eq!(statuses, vec![200; 4]);
        assert_eq!(create(&http, &fake, "wrong", "m5").await, 401);
        assert_eq!(create(&http, &fake, KEY, "m1").await, 500, "duplicate id");
        let reconciles = fake.reconciles();
        assert_eq!(reconciles.len(), 4, "one per stored write, none for rejected ones");
        assert!(reconciles.iter().all(|r| (2..=5).contains(&r.entries)), "{reconciles:?}");
        assert!(reconciles.windows(2).all(|w| w[0].answered_at <= w[1].answered_at), "in answer order");

        fake.set_write_cost(Duration::ZERO, Duration::ZERO);
        assert_eq!(create(&http, &fake, KEY, "m6").await, 200);
        assert_eq!(fake.reconciles().len(), 4, "off again");
        assert_eq!(fake.entry_count(), 6);
    }
}
