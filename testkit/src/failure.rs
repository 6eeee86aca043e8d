//! Fault injection for the listing routes of the upstream fakes (`/api/tags`, `/v1/models`) and
//! Ollama's `/api/show`: the ways a real Ollama or OpenAI-compatible server, or a proxy in front
//! of it, misbehaves.

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
    /// The normal answer, 16 bytes at a time with this pause between them (a slow or hostile
    /// server keeping the connection busy without ever timing out a single read).
    SlowDrip(Duration),
    /// `307 Temporary Redirect` to this base URL plus the request's path (a moved server, or a
    /// hostile one sending the request body and its credentials elsewhere).
    Redirect(String),
}

impl Failure {
    /// The response replacing the normal listing, or `None` to answer normally.
    /// `list_key` names the array (`models` / `data`), `empty` is a valid empty listing and
    /// `error` the server's error envelope.
    pub(crate) async fn respond(
        &self,
        list_key: &str,
        empty: Value,
        error: Value,
        path: &str,
        normal: impl FnOnce() -> Bytes,
    ) -> Option<Response> {
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
            Self::SlowDrip(pause) => Some(drip(normal(), *pause)),
            Self::Redirect(base) => Some(
                (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, format!("{}{path}", base.trim_end_matches('/')))],
                    "moved",
                )
                    .into_response(),
            ),
        }
    }
}

fn drip(body: Bytes, pause: Duration) -> Response {
    let pieces = futures::stream::unfold(body, move |mut rest| async move {
        if rest.is_empty() {
            return None;
        }
        tokio::time::sleep(pause).await;
        let piece = rest.split_to(rest.len().min(16));
        Some((Ok::<_, std::io::Error>(piece), rest))
    });
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(pieces)).into_response()
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
