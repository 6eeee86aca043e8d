//! Reading model lists from providers (SPEC §6): Ollama (`/api/tags`, `/api/show`) and
//! OpenAI-compatible servers (`/v1/models`). Answers are parsed leniently, sized-capped, and
//! failures classified into messages an operator understands.

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use shared::Secret;
use shared::db::providers::Provider;
use shared::desired::openai_base;
use shared::types::ProviderType;

use crate::http::{self, Transport};

/// Largest listing or details answer read (a real `/api/show` is ~50 KB; 1,000-model lists ~1 MB).
pub const DEFAULT_MAX_BODY: usize = 16 * 1024 * 1024;

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
    /// The listing entry itself (`/api/tags` item or `/v1/models` item).
    pub entry: Value,
}

#[derive(Debug, Clone)]
pub struct UpstreamClient {
    http: reqwest::Client,
    max_body: usize,
    request_timeout_seconds: u64,
}

impl UpstreamClient {
    pub fn new(http: reqwest::Client, max_body: usize, request_timeout_seconds: u64) -> Self {
        Self { http, max_body, request_timeout_seconds }
    }

    /// Lists what the provider serves.
    pub async fn list(&self, conn: &Connection) -> Result<Vec<Listed>, UpstreamError> {
        match conn.kind {
            ProviderType::Ollama => {
                let url = format!("{}/api/tags", conn.base_url.trim_end_matches('/'));
                let body = self.call(conn, Method::GET, &url, None).await?;
                parse_ollama_tags(&body).map_err(|detail| invalid(&url, detail))
            }
            ProviderType::Openai => {
                let url = format!("{}/models", openai_base(&conn.base_url));
                let body = self.call(conn, Method::GET, &url, None).await?;
                parse_openai_models(&body).map_err(|detail| invalid(&url, detail))
            }
            ProviderType::Compat => Err(UpstreamError::NotFetchable(conn.base_url.clone())),
        }
    }

    /// Ollama `/api/show` for one model: the full answer (slim it before storing).
    pub async fn ollama_show(&self, conn: &Connection, model: &str) -> Result<Value, UpstreamError> {
        let url = format!("{}/api/show", conn.base_url.trim_end_matches('/'));
        let body = self.call(conn, Method::POST, &url, Some(json!({ "model": model }))).await?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(invalid(&url, "expected a JSON object".into())),
            Err(e) => Err(invalid(&url, format!("not JSON ({e})"))),
        }
    }

    async fn call(
        &self,
        conn: &Connection,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Vec<u8>, UpstreamError> {
        let mut request: RequestBuilder = self.http.request(method, url);
        if let Some(key) = &conn.api_key {
            request = request.bearer_auth(key.expose());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let shown = http::display_url(url);
        let classify = |t: Transport| match t {
            Transport::Unreachable(detail) | Transport::Broken(detail) => {
                UpstreamError::Unreachable { url: shown.clone(), detail }
            }
            Transport::Timeout => UpstreamError::Timeout { url: shown.clone(), seconds: self.request_timeout_seconds },
            Transport::TooLarge(limit) => UpstreamError::TooLarge { url: shown.clone(), limit },
        };
        let response = request.send().await.map_err(|e| classify(e.into()))?;
        let status = response.status();
        let body = http::read_body(response, self.max_body).await.map_err(classify)?;
        if !status.is_success() {
            return Err(UpstreamError::Status {
                url: shown,
                status: status.as_u16(),
                message: http::error_message(&body),
            });
        }
        Ok(body)
    }
}

fn invalid(url: &str, detail: String) -> UpstreamError {
    UpstreamError::InvalidPayload { url: http::display_url(url), detail }
}

fn parse_json(body: &[u8]) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))
}

/// `{"models": [{"name", "model"?, "digest", ...}]}`; entries without a name are skipped.
pub fn parse_ollama_tags(body: &[u8]) -> Result<Vec<Listed>, String> {
    let json = parse_json(body)?;
    let models = match json.get("models") {
        Some(Value::Array(models)) => models,
        Some(Value::Null) => return Ok(Vec::new()),
        _ => return Err("no \"models\" list in the answer".into()),
    };
    Ok(models
        .iter()
        .filter_map(|entry| {
            let id = entry.get("model").or_else(|| entry.get("name")).and_then(Value::as_str)?.trim();
            (!id.is_empty()).then(|| Listed {
                id: id.to_owned(),
                digest: entry.get("digest").and_then(Value::as_str).map(str::to_owned),
                entry: entry.clone(),
            })
        })
        .collect())
}

/// `{"object": "list", "data": [{"id", ...}]}`; entries without an id are skipped.
pub fn parse_openai_models(body: &[u8]) -> Result<Vec<Listed>, String> {
    let json = parse_json(body)?;
    let data = match json.get("data") {
        Some(Value::Array(data)) => data,
        _ => return Err("no \"data\" list in the answer".into()),
    };
    Ok(data
        .iter()
        .filter_map(|entry| {
            let id = entry.get("id").and_then(Value::as_str)?.trim();
            (!id.is_empty()).then(|| Listed { id: id.to_owned(), digest: None, entry: entry.clone() })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ollama_listing_is_parsed_leniently() {
        let body = br#"{"models":[{"name":"a:latest","model":"a:latest","digest":"d1"},{"name":"b"},{"size":1},{"model":" "}]}"#;
        let listed = parse_ollama_tags(body).unwrap_or_default();
        let ids: Vec<(&str, Option<&str>)> = listed.iter().map(|l| (l.id.as_str(), l.digest.as_deref())).collect();
        assert_eq!(ids, vec![("a:latest", Some("d1")), ("b", None)]);
        assert_eq!(parse_ollama_tags(br#"{"models":null}"#).map(|l| l.len()), Ok(0));
        assert_eq!(parse_ollama_tags(br#"{"data":[]}"#).err().as_deref(), Some("no \"models\" list in the answer"));
        assert!(parse_ollama_tags(b"<html>").is_err_and(|e| e.starts_with("not JSON")));
    }

    #[test]
    fn openai_listing_is_parsed_leniently() {
        let body = br#"{"object":"list","data":[{"id":"gpt-4o","max_model_len":8192},{"object":"model"}]}"#;
        let listed = parse_openai_models(body).unwrap_or_default();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].entry["max_model_len"], 8192);
        assert!(parse_openai_models(br#"{"models":[]}"#).is_err());
    }
}
