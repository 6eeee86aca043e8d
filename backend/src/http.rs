//! The one HTTP client the worker uses for upstreams and LiteLLM: fixed timeouts (total per
//! request: a server trickling bytes cannot extend them), redirects followed only within the
//! same origin, a response size cap, and failures sorted into what an operator can act on.

use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Installs the process-wide TLS provider (ring); call once before building clients.
pub fn install_tls_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Redirects followed in a row before giving up.
const MAX_REDIRECTS: usize = 5;

/// `instance` (this worker among several) goes into the User-Agent, so that LiteLLM's access
/// log tells which worker wrote what.
pub fn client(connect: Duration, request: Duration, instance: &str) -> reqwest::Result<reqwest::Client> {
    install_tls_provider();
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(request)
        .redirect(reqwest::redirect::Policy::custom(same_origin_only))
        .user_agent(user_agent(instance))
        .build()
}

pub fn user_agent(instance: &str) -> String {
    format!("litellm-updater/{} (worker {instance})", env!("CARGO_PKG_VERSION"))
}

/// Why: a 307 replays the request body, and both the body (`/model/new` carries provider keys)
/// and the `Authorization` header would go to whatever host the `Location` names. A server
/// that moved is a configuration error to fix, not something to follow silently.
fn same_origin_only(attempt: reqwest::redirect::Attempt) -> reqwest::redirect::Action {
    let Some(from) = attempt.previous().last().cloned() else { return attempt.follow() };
    let to = attempt.url().clone();
    if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error(CrossOrigin { from, to, too_many: true })
    } else if from.origin() == to.origin() {
        attempt.follow()
    } else {
        attempt.error(CrossOrigin { from, to, too_many: false })
    }
}

/// A redirect that was not followed.
#[derive(Debug)]
struct CrossOrigin {
    from: url::Url,
    to: url::Url,
    too_many: bool,
}

impl std::fmt::Display for CrossOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (from, to) = (display_url(self.from.as_str()), display_url(self.to.as_str()));
        if self.too_many {
            write!(f, "more than {MAX_REDIRECTS} redirects, the last from {from} to {to}")
        } else {
            write!(
                f,
                "{from} redirected to {to}, another host; not followed (set the provider's or LiteLLM's URL to \
                 where it really is)"
            )
        }
    }
}

impl std::error::Error for CrossOrigin {}

/// How a request failed, before any body was understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Transport {
    #[error("cannot connect ({0})")]
    Unreachable(String),
    #[error("no answer within the time limit")]
    Timeout,
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the connection failed while reading the answer ({0})")]
    Broken(String),
    /// A redirect to another origin (or too many): the request was not sent there.
    #[error("{0}")]
    Redirected(String),
}

impl From<reqwest::Error> for Transport {
    fn from(error: reqwest::Error) -> Self {
        if error.is_redirect() {
            Transport::Redirected(root_cause(&error))
        } else if error.is_timeout() {
            Transport::Timeout
        } else if error.is_connect() {
            Transport::Unreachable(root_cause(&error))
        } else {
            Transport::Broken(root_cause(&error))
        }
    }
}

/// The innermost error text ("Connection refused (os error 111)"), without the URL reqwest
/// prefixes (the caller names the URL itself, with any credentials removed).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// Reads at most `limit` bytes of body; more is an error, not a truncation.
pub async fn read_body(mut response: Response, limit: usize) -> Result<Vec<u8>, Transport> {
    if response.content_length().is_some_and(|len| len > limit as u64) {
        return Err(Transport::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Transport::from)? {
        if body.len() + chunk.len() > limit {
            return Err(Transport::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The human part of an error answer: Ollama's `{"error": "..."}`, OpenAI/LiteLLM's
/// `{"error": {"message": ...}}`, FastAPI's `{"detail": ...}`, or the start of the text.
pub fn error_message(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let message = serde_json::from_str::<Value>(&text).ok().and_then(|json| {
        let pick = |v: &Value| -> Option<String> {
            match v {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o
                    .get("message")
                    .or_else(|| o.get("error"))
                    .and_then(|m| m.as_str().map(str::to_owned).or_else(|| Some(m.to_string()))),
                Value::Array(items) => {
                    items.first().and_then(|i| i.get("msg")).and_then(Value::as_str).map(str::to_owned)
                }
                _ => None,
            }
        };
        json.get("error").and_then(pick).or_else(|| json.get("detail").and_then(pick))
    });
    snippet(&message.unwrap_or_else(|| text.into_owned()))
}

fn snippet(text: &str) -> String {
    const MAX: usize = 300;
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX { flat } else { format!("{}…", flat.chars().take(MAX).collect::<String>()) }
}

/// A URL safe to print: user name and password removed.
pub fn display_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => url.split('@').next_back().unwrap_or(url).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_from_every_envelope() {
        let cases = [
            (r#"{"error":"model 'x' not found"}"#, "model 'x' not found"),
            (r#"{"error":{"message":"No connected db.","type":"no_db_connection"}}"#, "No connected db."),
            (
                r#"{"detail":{"error":"Model id = x not found on litellm proxy"}}"#,
                "Model id = x not found on litellm proxy",
            ),
            (r#"{"detail":"Not Found"}"#, "Not Found"),
            (r#"{"detail":[{"type":"missing","loc":["body","id"],"msg":"Field required"}]}"#, "Field required"),
            ("Internal Server Error\n\n", "Internal Server Error"),
        ];
        for (body, expected) in cases {
            assert_eq!(error_message(body.as_bytes()), expected);
        }
        assert!(error_message("x".repeat(1000).as_bytes()).ends_with('…'));
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(display_url("http://user:hunter2@host:11434/"), "http://host:11434");
        assert_eq!(display_url("https://api.example.com/v1"), "https://api.example.com/v1");
        assert_eq!(display_url("https://api.example.com/v1?key=secret"), "https://api.example.com/v1");
    }
}
