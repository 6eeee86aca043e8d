//! Helpers shared by the testkit integration tests.

use serde_json::Value;

pub fn client() -> reqwest::Client {
    // The workspace reqwest has no default TLS provider; plain http needs none, but be safe.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Sends the request and returns the status and the body as JSON (a JSON string if it is not JSON).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, Value) {
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("read body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}
