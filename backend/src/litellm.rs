//! The LiteLLM admin API (SPEC §6): `GET /model/info`, `POST /model/new`,
//! `PATCH /model/{id}/update`, `POST /model/delete`, with LiteLLM's two error envelopes turned
//! into plain words.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use shared::Secret;
use shared::routing::{Fallback, FallbackType};

use crate::http::{self, Transport};
use crate::json_stream::{self, InFlight, StreamError};
use crate::lease::Fence;

/// `/model/info` with thousands of deployments and ~190 keys each is a few MB.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiteLlmError {
    #[error("cannot reach LiteLLM at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("LiteLLM at {url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("LiteLLM sent more than {0} bytes; refusing to read further")]
    TooLarge(usize),
    /// Not followed: the request (and the provider keys in its body) stayed here.
    #[error("LiteLLM at {url} answered with a redirect: {detail}")]
    Redirected { url: String, detail: String },
    #[error(
        "LiteLLM has no database connected, so it cannot store models (\"No DB Connected\"). \
         Start LiteLLM with DATABASE_URL set and STORE_MODEL_IN_DB=True"
    )]
    NoDatabase,
    #[error("LiteLLM does not store models in its database: set STORE_MODEL_IN_DB=True in LiteLLM's environment")]
    StoreModelInDbOff,
    #[error("LiteLLM rejected the API key (HTTP {0}); check the LiteLLM master key in Settings")]
    Unauthorized(u16),
    #[error("LiteLLM answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("LiteLLM's answer was not what its API documents: {0}")]
    InvalidPayload(String),
    /// What answered has no LiteLLM admin API (another server, a web page, a wrong port).
    #[error("the server at {url} does not look like LiteLLM: {detail}")]
    NotLiteLlm { url: String, detail: String },
    /// The write was not sent: see [`crate::lease`].
    #[error("{0}")]
    Fenced(&'static str),
}

impl LiteLlmError {
    /// The entry is already gone (a delete that raced, or was retried).
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Status { status, message } => {
                (*status == 400 || *status == 404) && message.to_lowercase().contains("not found")
            }
            _ => false,
        }
    }

    /// Failures that will fail every other call too, whatever is retried: a wrong key, or a
    /// LiteLLM that cannot store models. Only these stop a push; anything else fails its own
    /// operation and the push goes on.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Self::Redirected { .. }
                | Self::NoDatabase
                | Self::StoreModelInDbOff
                | Self::Unauthorized(_)
                | Self::Fenced(_)
        )
    }

    /// Failures that may pass by themselves: a refused or reset connection, no answer in time,
    /// a proxy in front of LiteLLM answering 502/503/504. Worth another attempt after a wait
    /// (a create must first be looked for: it may have been stored before the failure).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }
}

/// The `model_info.id` [`LiteLlmClient::probe`] looks up: no deployment has it.
const PROBE_ID: &str = "litellm-updater-connection-test";

/// What LiteLLM answered a [`LiteLlmClient::probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Answered,
    /// It answered, and said it has no models loaded yet.
    NoModels,
}

#[derive(Debug, Clone)]
pub struct LiteLlmClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<Secret>,
    request_timeout_seconds: u64,
    /// For the whole model list alone: LiteLLM builds it per deployment (measured: 2.9 s for
    /// 1,000 Ollama deployments, 54 s for 5,000), far slower than any single write.
    list_timeout_seconds: u64,
    /// Bytes of the model list read but not yet parsed (the list is parsed as it arrives).
    in_flight: InFlight,
    /// Checked before every write.
    fence: Fence,
}

impl LiteLlmClient {
    pub fn new(http: reqwest::Client, base_url: &str, api_key: Option<Secret>, request_timeout_seconds: u64) -> Self {
        Self {
            http,
            base_url: base_url.trim().trim_end_matches('/').to_owned(),
            api_key,
            request_timeout_seconds,
            list_timeout_seconds: request_timeout_seconds,
            in_flight: InFlight::default(),
            fence: Fence::default(),
        }
    }

    /// Writes only while `fence` allows (the worker lease is held).
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    /// How long the whole model list may take (never less than any other request).
    pub fn with_list_timeout(mut self, seconds: u64) -> Self {
        self.list_timeout_seconds = seconds.max(self.request_timeout_seconds);
        self
    }

    /// Every deployment LiteLLM holds (`data` of `GET /model/info`), without the null fields
    /// that make up most of each entry (LiteLLM lists ~190 `model_info` keys, nearly all null).
    pub async fn model_info(&self) -> Result<Vec<Value>, LiteLlmError> {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
        let collect = async {
            let mut entries = Vec::new();
            while let Some(entry) = receiver.recv().await {
                entries.push(entry);
            }
            entries
        };
        let (read, entries) = tokio::join!(self.model_info_each(sender), collect);
        read.map(|_| entries)
    }

    /// [`Self::model_info`] entry by entry: each is sent to `sink` as soon as it is parsed, so
    /// the list is never held whole (LiteLLM's entries are large: thousands of them are tens
    /// of MB as JSON values). Returns how many were sent.
    pub async fn model_info_each(&self, sink: tokio::sync::mpsc::Sender<Value>) -> Result<usize, LiteLlmError> {
        let url = format!("{}/model/info", self.base_url);
        let response = self.start_request(Method::GET, &url, None, self.list_timeout_seconds).await?;
        let parse = move |reader: &mut dyn std::io::Read| {
            let mut deserializer = serde_json::Deserializer::from_reader(reader);
            let sent = serde::de::DeserializeSeed::deserialize(
                entries::Entries(|entry| sink.blocking_send(entry).map_err(|_| "the reader of the list stopped")),
                &mut deserializer,
            )?;
            deserializer.end()?;
            Ok(sent)
        };
        json_stream::parse(response, MAX_BODY, &self.in_flight, parse).await.map_err(|e| match e {
            StreamError::Transport(t) => self.transport_error(t, self.list_timeout_seconds),
            StreamError::Json(e) => LiteLlmError::InvalidPayload(format!("GET /model/info: no \"data\" list ({e})")),
        })
    }

    /// Whether LiteLLM's admin API answers and accepts the key, for the price of one lookup:
    /// `GET /model/info` of an id no deployment has. LiteLLM checks the key first, then answers
    /// 400 "not found on litellm proxy"; the whole list would be a minute's work on a large
    /// proxy. Answers whether LiteLLM said it holds no models at all yet.
    pub async fn probe(&self, timeout_seconds: u64) -> Result<Probe, LiteLlmError> {
        let url = format!("{}/model/info?litellm_model_id={PROBE_ID}", self.base_url);
        let not_litellm = |detail: String| LiteLlmError::NotLiteLlm { url: http::display_url(&self.base_url), detail };
        match self.request_bytes_within(Method::GET, &url, None, timeout_seconds).await {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(body) if body.get("data").is_some_and(Value::is_array) => Ok(Probe::Answered),
                _ => Err(not_litellm("GET /model/info answered with something other than LiteLLM's model list".into())),
            },
            Err(LiteLlmError::Status { status: 400, message }) if message.contains("not found on litellm proxy") => {
                Ok(Probe::Answered)
            }
            Err(LiteLlmError::Status { status: 500, message })
                if ["model list not loaded", "router is not loaded"]
                    .iter()
                    .any(|m| message.to_lowercase().contains(m)) =>
            {
                Ok(Probe::NoModels)
            }
            Err(LiteLlmError::Status { status: status @ (404 | 405), .. }) => {
                Err(not_litellm(format!("GET /model/info answered HTTP {status} (no LiteLLM admin API at this URL)")))
            }
            Err(error) => Err(error),
        }
    }

    /// Whether a deployment with this `model_info.id` exists (after an ambiguous 500 on create).
    pub async fn exists(&self, id: &str) -> Result<bool, LiteLlmError> {
        let mut url = url::Url::parse(&format!("{}/model/info", self.base_url))
            .map_err(|e| LiteLlmError::InvalidPayload(format!("bad LiteLLM URL: {e}")))?;
        url.query_pairs_mut().append_pair("litellm_model_id", id);
        match self.send(Method::GET, url.as_str(), None).await {
            Ok(body) => Ok(body
                .get("data")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|e| e.pointer("/model_info/id").and_then(Value::as_str) == Some(id)))),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub async fn create(&self, body: &Value) -> Result<(), LiteLlmError> {
        self.call(Method::POST, "/model/new", Some(body)).await.map(drop)
    }

    pub async fn update(&self, id: &str, patch: &Value) -> Result<(), LiteLlmError> {
        let path = format!("/model/{}/update", urlencode(id));
        self.call(Method::PATCH, &path, Some(patch)).await.map(drop)
    }

    pub async fn delete(&self, id: &str) -> Result<(), LiteLlmError> {
        self.call(Method::POST, "/model/delete", Some(&json!({ "id": id }))).await.map(drop)
    }

    /// The `fallback_type` fallbacks LiteLLM holds for `model` (`GET /fallback/{model}`), `None`
    /// when it has none (LiteLLM answers 404 then).
    pub async fn fallback(&self, model: &str, kind: FallbackType) -> Result<Option<Vec<String>>, LiteLlmError> {
        let path = format!("/fallback/{}?fallback_type={}", urlencode(model), kind.as_str());
        match self.call(Method::GET, &path, None).await {
            Ok(body) => match body.get("fallback_models").and_then(Value::as_array) {
                Some(models) => Ok(Some(models.iter().filter_map(Value::as_str).map(str::to_owned).collect())),
                None => Err(LiteLlmError::InvalidPayload(format!("GET {path}: no \"fallback_models\" list"))),
            },
            Err(LiteLlmError::Status { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Creates or replaces one fallback (`POST /fallback`).
    pub async fn set_fallback(&self, fallback: &Fallback) -> Result<(), LiteLlmError> {
        let body = json!({
            "model": fallback.model_name,
            "fallback_models": fallback.fallback_models,
            "fallback_type": fallback.fallback_type.as_str(),
        });
        self.call(Method::POST, "/fallback", Some(&body)).await.map(drop)
    }

    /// Removes one fallback (`DELETE /fallback/{model}`); one already gone is not an error.
    pub async fn delete_fallback(&self, model: &str, kind: FallbackType) -> Result<(), LiteLlmError> {
        let path = format!("/fallback/{}?fallback_type={}", urlencode(model), kind.as_str());
        match self.call(Method::DELETE, &path, None).await {
            Ok(_) | Err(LiteLlmError::Status { status: 404, .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, LiteLlmError> {
        self.send(method, &format!("{}{path}", self.base_url), body).await
    }

    async fn send(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Value, LiteLlmError> {
        let bytes = self.request_bytes(method, url, body).await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| LiteLlmError::InvalidPayload(format!("not JSON ({e})")))
    }

    async fn request_bytes(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Vec<u8>, LiteLlmError> {
        self.request_bytes_within(method, url, body, self.request_timeout_seconds).await
    }

    async fn request_bytes_within(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        timeout_seconds: u64,
    ) -> Result<Vec<u8>, LiteLlmError> {
        let response = self.start_request(method, url, body, timeout_seconds).await?;
        http::read_body(response, MAX_BODY).await.map_err(|t| self.transport_error(t, timeout_seconds))
    }

    /// Sends the request; a successful answer is returned unread, any other is an error.
    async fn start_request(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        timeout_seconds: u64,
    ) -> Result<reqwest::Response, LiteLlmError> {
        if method != Method::GET {
            self.fence.check().map_err(LiteLlmError::Fenced)?;
        }
        let mut request = self.http.request(method, url).timeout(std::time::Duration::from_secs(timeout_seconds));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(e.into(), timeout_seconds))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = http::read_body(response, MAX_BODY).await.map_err(|t| self.transport_error(t, timeout_seconds))?;
        Err(classify_status(status, &bytes))
    }

    fn transport_error(&self, transport: Transport, timeout_seconds: u64) -> LiteLlmError {
        let url = http::display_url(&self.base_url);
        match transport {
            Transport::Unreachable(detail) | Transport::Broken(detail) => LiteLlmError::Unreachable { url, detail },
            Transport::Timeout => LiteLlmError::Timeout { url, seconds: timeout_seconds },
            Transport::TooLarge(limit) => LiteLlmError::TooLarge(limit),
            Transport::Redirected(detail) => LiteLlmError::Redirected { url, detail },
        }
    }
}

fn classify_status(status: StatusCode, body: &[u8]) -> LiteLlmError {
    let message = http::error_message(body);
    let lower = message.to_lowercase();
    // "No connected db." is also LiteLLM's answer to a wrong key when it has no database.
    if ["no db connected", "db not connected", "no connected db"].iter().any(|m| lower.contains(m)) {
        LiteLlmError::NoDatabase
    } else if lower.contains("store_model_in_db") {
        LiteLlmError::StoreModelInDbOff
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        LiteLlmError::Unauthorized(status.as_u16())
    } else {
        LiteLlmError::Status { status: status.as_u16(), message }
    }
}

mod entries {
    //! `{"data": [entry, …]}` read entry by entry: each entry is handed on as soon as it is
    //! parsed (without its null fields), and everything but `data` is skipped.

    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;

    use super::pruned::Pruned;

    /// Hands each entry to the function; the count of entries is the result.
    pub struct Entries<F>(pub F);

    impl<'de, F, E> DeserializeSeed<'de> for Entries<F>
    where
        F: FnMut(Value) -> Result<(), E>,
        E: fmt::Display,
    {
        type Value = usize;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
            deserializer.deserialize_map(self)
        }
    }

    impl<'de, F, E> Visitor<'de> for Entries<F>
    where
        F: FnMut(Value) -> Result<(), E>,
        E: fmt::Display,
    {
        type Value = usize;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object with a \"data\" list")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            let mut sink = Some(self.0);
            let mut sent = None;
            while let Some(key) = map.next_key::<String>()? {
                match (key.as_str(), sink.take()) {
                    ("data", Some(sink)) => sent = Some(map.next_value_seed(List(sink))?),
                    (_, unused) => {
                        sink = unused;
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            sent.ok_or_else(|| de::Error::missing_field("data"))
        }
    }

    struct List<F>(F);

    impl<'de, F, E> DeserializeSeed<'de> for List<F>
    where
        F: FnMut(Value) -> Result<(), E>,
        E: fmt::Display,
    {
        type Value = usize;

        fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
            deserializer.deserialize_seq(self)
        }
    }

    impl<'de, F, E> Visitor<'de> for List<F>
    where
        F: FnMut(Value) -> Result<(), E>,
        E: fmt::Display,
    {
        type Value = usize;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of deployments")
        }

        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<usize, A::Error> {
            let mut sent = 0;
            while let Some(Pruned(entry)) = seq.next_element()? {
                (self.0)(entry).map_err(de::Error::custom)?;
                sent += 1;
            }
            Ok(sent)
        }
    }
}

mod pruned {
    //! JSON read straight into a `Value` with null object members left out.

    use std::fmt;

    use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
    use serde_json::{Map, Value};

    pub struct Pruned(pub Value);

    impl<'de> Deserialize<'de> for Pruned {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(PrunedVisitor).map(Pruned)
        }
    }

    struct PrunedVisitor;

    impl<'de> Visitor<'de> for PrunedVisitor {
        type Value = Value;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }

        fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
            Ok(v.into())
        }

        fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
            Ok(v.into())
        }

        fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
            Ok(v.into())
        }

        fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
            Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }

        fn visit_str<E>(self, v: &str) -> Result<Value, E> {
            Ok(v.into())
        }

        fn visit_string<E>(self, v: String) -> Result<Value, E> {
            Ok(v.into())
        }

        fn visit_unit<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_none<E>(self) -> Result<Value, E> {
            Ok(Value::Null)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
            let mut items = Vec::new();
            while let Some(Pruned(item)) = seq.next_element()? {
                items.push(item);
            }
            Ok(Value::Array(items))
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
            let mut object = Map::new();
            while let Some((key, Pruned(value))) = map.next_entry::<String, Pruned>()? {
                if !value.is_null() {
                    object.insert(key, value);
                }
            }
            Ok(Value::Object(object))
        }
    }
}

fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_answers_become_plain_words() {
        let no_db = br#"{"error":{"message":"{'error': \"No DB Connected. Here's how to do it - https://docs.litellm.ai/docs/proxy/virtual_keys\"}","type":"auth_error","param":"None","code":"500"}}"#;
        let cases: Vec<(u16, &[u8], LiteLlmError)> = vec![
            (500, no_db, LiteLlmError::NoDatabase),
            (
                500,
                br#"{"detail":{"error":"DB not connected. This endpoint needs a database"}}"#,
                LiteLlmError::NoDatabase,
            ),
            (400, br#"{"error":{"message":"No connected db.","type":"no_db_connection"}}"#, LiteLlmError::NoDatabase),
            (
                500,
                br#"{"error": "Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature."}"#,
                LiteLlmError::StoreModelInDbOff,
            ),
            (
                401,
                br#"{"error":{"message":"Authentication Error, Invalid proxy server token passed."}}"#,
                LiteLlmError::Unauthorized(401),
            ),
            (
                400,
                br#"{"error":{"message":"Model with id=x not found in db"}}"#,
                LiteLlmError::Status { status: 400, message: "Model with id=x not found in db".into() },
            ),
        ];
        for (status, body, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(classify_status(status, body), expected);
        }
        assert!(
            classify_status(StatusCode::BAD_REQUEST, br#"{"error":{"message":"Model with id=x not found in db"}}"#)
                .is_not_found()
        );
        assert!(LiteLlmError::NoDatabase.to_string().contains("STORE_MODEL_IN_DB=True"));
    }

    fn parse_model_info(bytes: &[u8]) -> Result<Vec<Value>, serde_json::Error> {
        let mut entries = Vec::new();
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let push = |entry| {
            entries.push(entry);
            Ok::<(), String>(())
        };
        serde::de::DeserializeSeed::deserialize(entries::Entries(push), &mut deserializer)?;
        deserializer.end()?;
        Ok(entries)
    }

    #[test]
    fn model_info_entries_lose_their_null_fields() {
        let body = br#"{"data":[{"model_name":"a","litellm_params":{"model":"m","rpm":null,"tags":["x",null]},
            "model_info":{"id":"1","db_model":true,"max_tokens":null,"supports_vision":null,"cost":1.5,"n":-2}}]}"#;
        assert_eq!(
            parse_model_info(body).unwrap_or_default(),
            vec![json!({"model_name": "a", "litellm_params": {"model": "m", "tags": ["x", null]},
                        "model_info": {"id": "1", "db_model": true, "cost": 1.5, "n": -2}})]
        );
        assert!(parse_model_info(br#"{"detail": "nope"}"#).is_err());
        let other_keys = br#"{"object":"list","data":[{"model_name":"a"}],"extra":{"x":[1,2]}}"#;
        assert_eq!(parse_model_info(other_keys).unwrap_or_default(), vec![json!({"model_name": "a"})]);
        assert!(parse_model_info(br#"{"data": {"not": "a list"}}"#).is_err());
    }

    #[test]
    fn ids_are_path_safe() {
        assert_eq!(urlencode("lupdater-1/a b"), "lupdater-1%2Fa%20b");
    }
}
