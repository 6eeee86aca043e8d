//! Fault injection for the listing routes of the upstream fakes (`/api/tags`, `/v1/models`):
//! the ways a real Ollama or OpenAI-compatible server, or a proxy in front of it, misbehaves.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::common::json;

/// How the next listing requests fail. Stays in effect until replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Failure {
    /// Answer normally.
    #[default]
    None,
    /// Answer with this status and the server's own error envelope (invalid codes become 500).
    Status(u16),
    /// 200 with `application/json` content type and a body that is not JSON.
    InvalidJson,
    /// Never answer (sleeps an hour): the client's timeout must fire.
    Hang,
    /// 200 with a body of exactly this many bytes, streamed in chunks without `Content-Length`:
    /// the valid prefix of an endless model list.
    Oversized(usize),
    /// A valid, empty model list.
    EmptyList,
}

impl Failure {
    /// The response replacing the normal listing, or `None` to answer normally.
    /// `list_key` names the array (`models` / `data`), `empty` is a valid empty listing and
    /// `error` the server's error envelope.
    pub(crate) async fn respond(&self, list_key: &str, empty: Value, error: Value) -> Option<Response> {
        match self {
            Self::None => None,
            Self::Status(code) => {
                let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Some(json(status, error))
            }
            Self::InvalidJson => {
                let body = format!("{{\"{list_key}\":[{{\"id\":\"broken\",,]");
                Some(([(header::CONTENT_TYPE, "application/json")], body).into_response())
            }
            Self::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                Some(json(StatusCode::GATEWAY_TIMEOUT, error))
            }
            Self::Oversized(len) => Some(oversized(list_key, *len)),
            Self::EmptyList => Some(json(StatusCode::OK, empty)),
        }
    }
}

fn oversized(list_key: &str, len: usize) -> Response {
    let entry = "{\"id\":\"padding\",\"name\":\"padding\"},";
    let block = Bytes::from(entry.repeat(64 * 1024 / entry.len()));
    let mut left = len;
    let chunks = std::iter::once(Bytes::from(format!("{{\"{list_key}\":["))).chain(std::iter::repeat(block));
    let chunks = chunks.map_while(move |chunk| {
        let take = chunk.len().min(left);
        left -= take;
        (take > 0).then(|| Ok::<_, std::io::Error>(chunk.slice(..take)))
    });
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(futures::stream::iter(chunks))).into_response()
}
