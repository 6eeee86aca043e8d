//! Reading model lists from providers (SPEC §6): Ollama (`/api/tags`, `/api/show`) and
//! OpenAI-compatible servers (`/v1/models`). Answers are parsed as they stream in (see
//! [`json_stream`]), capped per endpoint, parsed leniently, and failures classified into
//! messages an operator understands.

use std::collections::HashSet;
use std::fmt;
use std::io::Read;

use reqwest::{Method, RequestBuilder, Response};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};
use shared::Secret;
use shared::desired::openai_base;
use shared::provider::Provider;
use shared::types::ProviderType;

use crate::http::{self, Transport};
use crate::json_stream::{self, BoundedValue, Budget, InFlight, KeyString, StreamError};

/// Largest model list read (`/api/tags`, `/v1/models`): 10,000 Ollama models list ~4 MB.
pub const MAX_LISTING_BYTES: usize = 16 * 1024 * 1024;
/// Largest `/api/show` answer read (a real one is ~50 KB; verbose tokenizer arrays a few MB).
/// Skipped fields cost no memory, so this only bounds the time spent reading.
pub const MAX_SHOW_BYTES: usize = 16 * 1024 * 1024;
/// Most models one listing may name (distinct ids); more is refused, not truncated.
pub const MAX_LISTED_MODELS: usize = 20_000;
/// Kept bytes of one listing entry; members past it are dropped.
const MAX_ENTRY_BYTES: usize = 8 * 1024;
/// Kept bytes of a whole listing (the entries as compact JSON).
const MAX_LISTING_KEPT: usize = 12 * 1024 * 1024;
/// Kept bytes of one `/api/show` answer, the template aside (itself at most [`json_stream::MAX_STRING`]).
const MAX_SHOW_KEPT: usize = 256 * 1024;
/// Most bytes of an error answer read for its message.
const MAX_ERROR_BYTES: usize = 64 * 1024;
/// `model_info` entries kept from `/api/show` (real ones have 20–40 scalars).
const MAX_MODEL_INFO_ENTRIES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("{url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} answered HTTP {status}: {message}")]
    Status { url: String, status: u16, message: String },
    #[error("{url} did not answer with a model list: {detail}")]
    InvalidPayload { url: String, detail: String },
    #[error("{url} sent more than {limit} bytes; refusing to read further")]
    TooLarge { url: String, limit: usize },
    #[error("{url} answered with a redirect: {detail}")]
    Redirected { url: String, detail: String },
    #[error("provider {0} is a compat-alias holder and has no upstream to read")]
    NotFetchable(String),
}

/// Where and how to reach one provider.
#[derive(Debug, Clone)]
pub struct Connection {
    pub kind: ProviderType,
    pub base_url: String,
    pub api_key: Option<Secret>,
}

impl From<&Provider> for Connection {
    fn from(provider: &Provider) -> Self {
        Self { kind: provider.kind, base_url: provider.base_url.clone(), api_key: provider.api_key.clone() }
    }
}

/// One model as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub id: String,
    pub digest: Option<String>,
    /// The listing entry itself (`/api/tags` item or `/v1/models` item) as compact JSON: a
    /// 10,000-model listing is held until its fetch ends, and text is a fraction of a `Value`.
    entry: String,
}

impl Listed {
    /// The listing entry.
    pub fn entry(&self) -> Value {
        serde_json::from_str(&self.entry).unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

/// What a provider lists: distinct ids in their first order, and how many repeats were dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listing {
    pub models: Vec<Listed>,
    /// Entries naming an id already listed (the first one is kept).
    pub duplicates: usize,
}

impl std::ops::Deref for Listing {
    type Target = [Listed];

    fn deref(&self) -> &[Listed] {
        &self.models
    }
}

impl IntoIterator for Listing {
    type Item = Listed;
    type IntoIter = std::vec::IntoIter<Listed>;

    fn into_iter(self) -> Self::IntoIter {
        self.models.into_iter()
    }
}

#[derive(Debug, Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    in_flight: InFlight,
    request_timeout_seconds: u64,
}

impl UpstreamClient {
    pub fn new(http: reqwest::Client, in_flight: InFlight, request_timeout_seconds: u64) -> Self {
        Self { http, in_flight, request_timeout_seconds }
    }

    /// Lists what the provider serves.
    pub async fn list(&self, conn: &Connection) -> Result<Listing, UpstreamError> {
        let (url, kind) = match conn.kind {
            ProviderType::Ollama => (format!("{}/api/tags", conn.base_url.trim_end_matches('/')), ListKind::Ollama),
            ProviderType::Openai => (format!("{}/models", openai_base(&conn.base_url)), ListKind::OpenAi),
            ProviderType::Compat => return Err(UpstreamError::NotFetchable(conn.base_url.clone())),
        };
        let response = self.call(conn, Method::GET, &url, None).await?;
        self.stream(response, &url, MAX_LISTING_BYTES, move |reader| parse_listing(reader, kind)).await
    }

    /// Ollama `/api/show` for one model, already slimmed: the heavy fields (license, modelfile,
    /// tensors, tokenizer arrays, ...) are skipped while the answer streams in, never held.
    pub async fn ollama_show(&self, conn: &Connection, model: &str) -> Result<Value, UpstreamError> {
        let url = format!("{}/api/show", conn.base_url.trim_end_matches('/'));
        let response = self.call(conn, Method::POST, &url, Some(json!({ "model": model }))).await?;
        self.stream(response, &url, MAX_SHOW_BYTES, parse_show).await
    }

    async fn stream<T, F>(&self, response: Response, url: &str, limit: usize, parse: F) -> Result<T, UpstreamError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn Read) -> Result<T, serde_json::Error> + Send + 'static,
    {
        json_stream::parse(response, limit, &self.in_flight, parse).await.map_err(|e| match e {
            StreamError::Transport(t) => self.classify(url, t),
            StreamError::Json(detail) => invalid(url, detail),
        })
    }

    fn classify(&self, url: &str, transport: Transport) -> UpstreamError {
        let url = http::display_url(url);
        match transport {
            Transport::Unreachable(detail) | Transport::Broken(detail) => UpstreamError::Unreachable { url, detail },
            Transport::Timeout => UpstreamError::Timeout { url, seconds: self.request_timeout_seconds },
            Transport::TooLarge(limit) => UpstreamError::TooLarge { url, limit },
            Transport::Redirected(detail) => UpstreamError::Redirected { url, detail },
        }
    }

    /// Sends the request; a success answer is returned unread, an error answer becomes its message.
    async fn call(
        &self,
        conn: &Connection,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Response, UpstreamError> {
        let mut request: RequestBuilder = self.http.request(method, url);
        if let Some(key) = &conn.api_key {
            request = request.bearer_auth(key.expose());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| self.classify(url, e.into()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = match http::read_body(response, MAX_ERROR_BYTES).await {
            Ok(body) => http::error_message(&body),
            Err(Transport::TooLarge(_)) => format!("(an error answer larger than {MAX_ERROR_BYTES} bytes)"),
            Err(other) => return Err(self.classify(url, other)),
        };
        Err(UpstreamError::Status { url: http::display_url(url), status: status.as_u16(), message })
    }
}

fn invalid(url: &str, detail: String) -> UpstreamError {
    UpstreamError::InvalidPayload { url: http::display_url(url), detail }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    /// `{"models": [{"name", "model"?, "digest", ...}]}`; `"models": null` is an empty list.
    Ollama,
    /// `{"object": "list", "data": [{"id", ...}]}`.
    OpenAi,
}

impl ListKind {
    fn key(self) -> &'static str {
        match self {
            Self::Ollama => "models",
            Self::OpenAi => "data",
        }
    }

    /// The id an entry lists, if it lists one.
    fn id(self, entry: &Value) -> Option<&str> {
        let id = match self {
            Self::Ollama => entry.get("model").or_else(|| entry.get("name")),
            Self::OpenAi => entry.get("id"),
        }
        .and_then(Value::as_str)?
        .trim();
        (!id.is_empty()).then_some(id)
    }

    fn listed(self, id: String, entry: &Value) -> Listed {
        let digest = match self {
            Self::Ollama => entry.get("digest").and_then(Value::as_str).map(str::to_owned),
            Self::OpenAi => None,
        };
        Listed { id, digest, entry: entry.to_string() }
    }
}

/// serde_json reads a reader byte by byte; through a `BufReader` that is a buffer access.
fn buffered(reader: &mut dyn Read) -> std::io::BufReader<&mut dyn Read> {
    std::io::BufReader::with_capacity(8 * 1024, reader)
}

fn parse_listing(reader: &mut dyn Read, kind: ListKind) -> Result<Listing, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(buffered(reader));
    let listing = ListingVisitor(kind).deserialize(&mut de)?;
    de.end()?;
    Ok(listing)
}

/// The top-level object of a listing: only its list is read, entry by entry.
struct ListingVisitor(ListKind);

impl<'de> DeserializeSeed<'de> for ListingVisitor {
    type Value = Listing;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Listing, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListingVisitor {
    type Value = Listing;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a \"{}\" list", self.0.key())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Listing, A::Error> {
        let mut listing = None;
        while let Some(KeyString(key)) = map.next_key()? {
            if key == self.0.key() && listing.is_none() {
                listing = Some(map.next_value_seed(EntriesVisitor(self.0))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        match listing {
            Some(Some(listing)) => Ok(listing),
            Some(None) if self.0 == ListKind::Ollama => Ok(Listing::default()),
            _ => Err(de::Error::custom(format!("no \"{}\" list in the answer", self.0.key()))),
        }
    }
}

/// The list itself: `None` for `null`.
struct EntriesVisitor(ListKind);

impl<'de> DeserializeSeed<'de> for EntriesVisitor {
    type Value = Option<Listing>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Option<Listing>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of models")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut listing = Listing::default();
        let mut seen = HashSet::new();
        let mut kept = 0usize;
        loop {
            let budget = Budget::new(MAX_ENTRY_BYTES);
            let Some(entry) = seq.next_element_seed(BoundedValue(&budget))? else { break };
            let Some(entry) = entry else { continue };
            let Some(id) = self.0.id(&entry) else { continue };
            if seen.contains(id) {
                listing.duplicates += 1;
                continue;
            }
            seen.insert(id.to_owned());
            let listed = self.0.listed(id.to_owned(), &entry);
            kept += listed.entry.len() + listed.id.len();
            if listing.models.len() >= MAX_LISTED_MODELS || kept > MAX_LISTING_KEPT {
                return Err(de::Error::custom(format!(
                    "it lists more than {} models (or more than {} MiB of them), more than this worker reads",
                    listing.models.len(),
                    MAX_LISTING_KEPT / (1024 * 1024)
                )));
            }
            listing.models.push(listed);
        }
        Ok(Some(listing))
    }
}

/// `/api/show` slimmed while it streams in.
fn parse_show(reader: &mut dyn Read) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_reader(buffered(reader));
    let show = ShowVisitor.deserialize(&mut de)?;
    de.end()?;
    Ok(show)
}

/// Keeps what [`shared::metadata::ollama::raw_metadata`] uses; skips the rest unread.
struct ShowVisitor;

impl<'de> DeserializeSeed<'de> for ShowVisitor {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShowVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let budget = Budget::new(MAX_SHOW_KEPT);
        let mut show = Map::new();
        while let Some(KeyString(key)) = map.next_key()? {
            if show.contains_key(&key) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let value = match key.as_str() {
                "details" | "capabilities" | "parameters" | "modified_at" | "remote_model" | "remote_host" => {
                    map.next_value_seed(BoundedValue(&budget))?
                }
                "model_info" => map.next_value_seed(ScalarInfo(&budget))?,
                // At most MAX_STRING bytes (the stream clamps longer strings); read for its hints.
                "template" => map.next_value::<Option<String>>()?.map(Value::String),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    None
                }
            };
            if let Some(value) = value.filter(|v| !v.is_null()) {
                show.insert(key, value);
            }
        }
        Ok(Value::Object(show))
    }
}

/// `model_info` without its tokenizer vocabularies and other arrays: scalars only, at most
/// [`MAX_MODEL_INFO_ENTRIES`] of them.
struct ScalarInfo<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for ScalarInfo<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarInfo<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut info = Map::new();
        while let Some(KeyString(key)) = map.next_key()? {
            if key.starts_with("tokenizer.") || info.len() >= MAX_MODEL_INFO_ENTRIES || !self.0.take(key.len()) {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if let Some(value) = map.next_value_seed(Scalar(self.0))? {
                info.insert(key, value);
            }
        }
        Ok(Some(Value::Object(info)))
    }
}

/// A scalar kept within the budget; arrays, objects and nulls are skipped unread.
struct Scalar<'b>(&'b Budget);

impl<'de> DeserializeSeed<'de> for Scalar<'_> {
    type Value = Option<Value>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Scalar<'_> {
    type Value = Option<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        BoundedValue(self.0).visit_bool(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        BoundedValue(self.0).visit_i64(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        BoundedValue(self.0).visit_u64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        BoundedValue(self.0).visit_f64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        BoundedValue(self.0).visit_str(v)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(body: &[u8], kind: ListKind) -> Result<Listing, String> {
        parse_listing(&mut &body[..], kind).map_err(|e| e.to_string())
    }

    #[test]
    fn ollama_listing_is_parsed_leniently() {
        let body = br#"{"models":[{"name":"a:latest","model":"a:latest","digest":"d1"},{"name":"b"},{"size":1},{"model":" "}]}"#;
        let listed = listing(body, ListKind::Ollama).unwrap_or_default();
        let ids: Vec<(&str, Option<&str>)> = listed.iter().map(|l| (l.id.as_str(), l.digest.as_deref())).collect();
        assert_eq!(ids, vec![("a:latest", Some("d1")), ("b", None)]);
        assert_eq!(listing(br#"{"models":null}"#, ListKind::Ollama).map(|l| l.len()), Ok(0));
        assert!(listing(br#"{"data":[]}"#, ListKind::Ollama).is_err_and(|e| e.contains("no \"models\" list")));
        assert!(listing(b"<html>", ListKind::Ollama).is_err());
        assert!(listing(br#"[1, 2]"#, ListKind::Ollama).is_err());
    }

    #[test]
    fn openai_listing_is_parsed_leniently() {
        let body = br#"{"object":"list","data":[{"id":"gpt-4o","max_model_len":8192},{"object":"model"}]}"#;
        let listed = listing(body, ListKind::OpenAi).unwrap_or_default();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].entry()["max_model_len"], 8192);
        assert!(listing(br#"{"models":[]}"#, ListKind::OpenAi).is_err());
    }

    #[test]
    fn repeated_ids_are_listed_once_and_counted() {
        let body = br#"{"data":[{"id":"a","n":1},{"id":"b"},{"id":"a","n":2},{"id":"a"}]}"#;
        let listed = listing(body, ListKind::OpenAi).unwrap_or_default();
        assert_eq!(listed.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(listed[0].entry()["n"], 1, "the first is kept");
        assert_eq!(listed.duplicates, 2);
    }

    #[test]
    fn show_answers_keep_only_what_derivation_reads() {
        let body = serde_json::to_vec(&json!({
            "license": "x".repeat(100_000), "modelfile": "FROM ...", "template": "{{ if .Tools }}{{ end }}",
            "tensors": [{"name": "t"}], "parameters": "temperature 0.6", "details": {"family": "qwen3"},
            "capabilities": ["completion", "tools"],
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960,
                           "tokenizer.ggml.tokens": ["a", "b"], "general.languages": ["en"], "x": {"y": 1}}
        }))
        .unwrap_or_default();
        let show = parse_show(&mut &body[..]).unwrap_or_default();
        assert_eq!(
            show,
            json!({"template": "{{ if .Tools }}{{ end }}", "parameters": "temperature 0.6",
                   "details": {"family": "qwen3"}, "capabilities": ["completion", "tools"],
                   "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960}})
        );
        assert!(parse_show(&mut &b"[]"[..]).is_err());
        assert!(parse_show(&mut &br#"{"details": {}} trailing"#[..]).is_err());
    }
}
