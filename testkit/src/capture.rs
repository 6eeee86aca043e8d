//! Servers for redirect tests: [`Capture`], a third host that records whatever reaches it (a
//! redirect must never get a request there), and [`Redirector`], which stands in front of a
//! fake and answers some requests with `307 Temporary Redirect` to another host.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

/// One request a [`Capture`] received.
#[derive(Clone, Debug)]
pub struct Captured {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub body: String,
}

/// Records every request and answers `200 {}`.
#[derive(Clone, Debug)]
pub struct Capture {
    url: String,
    received: Arc<Mutex<Vec<Captured>>>,
}

async fn serve(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address of bound listener");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

impl Capture {
    pub async fn start() -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new().fallback(capture).with_state(received.clone());
        Self { url: serve(router).await, received }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn received(&self) -> Vec<Captured> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

async fn capture(State(received): State<Arc<Mutex<Vec<Captured>>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let authorization =
        parts.headers.get(header::AUTHORIZATION).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    if let Ok(mut received) = received.lock() {
        received.push(Captured {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            authorization,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    ([(header::CONTENT_TYPE, "application/json")], "{}").into_response()
}

/// Passes reads (`GET`) through to `pass_to` and answers every other method with a 307 to
/// `redirect_to` plus the request's path: a LiteLLM (or a proxy in front of one) whose reads
/// work and whose writes would land on another host.
#[derive(Clone, Debug)]
pub struct Redirector {
    url: String,
}

#[derive(Clone)]
struct Targets {
    pass_to: String,
    redirect_to: String,
    client: reqwest::Client,
}

impl Redirector {
    pub async fn start(pass_to: &str, redirect_to: &str) -> Self {
        let targets = Targets {
            pass_to: pass_to.trim_end_matches('/').to_owned(),
            redirect_to: redirect_to.trim_end_matches('/').to_owned(),
            client: crate::http_client(std::time::Duration::from_secs(30)),
        };
        let router = Router::new().fallback(redirect).with_state(targets);
        Self { url: serve(router).await }
    }

    pub fn url(&self) -> String {
        self.url.clone()
    }
}

async fn redirect(State(targets): State<Targets>, request: Request) -> Response {
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    if request.method() != Method::GET {
        let location = format!("{}{path_and_query}", targets.redirect_to);
        return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, location)], "moved").into_response();
    }
    let mut forward = targets.client.get(format!("{}{path_and_query}", targets.pass_to));
    if let Some(auth) = request.headers().get(header::AUTHORIZATION) {
        forward = forward.header(header::AUTHORIZATION, auth.as_bytes());
    }
    match forward.send().await {
        Ok(answer) => {
            let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body: Bytes = answer.bytes().await.unwrap_or_default();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}
