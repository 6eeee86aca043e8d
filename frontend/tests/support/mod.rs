//! The REST API in-process: `frontend::app::router` over a real, migrated database of its own
//! (SQLite, or PostgreSQL when `TEST_DATABASE=postgres`), driven with `tower::ServiceExt::oneshot`. Every answer is checked for
//! the secrets the tests store, so no test can see a key leak and pass.

#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use frontend::AppState;
use frontend::config::Settings;
use serde_json::{Value, json};
use shared::Secret;
use shared::db::Backend;
use shared::db::jobs::{self, JobRecord};
use shared::db::models::{self, FetchedModel};
use shared::db::providers::{self, NewProvider};
use shared::model::Model;
use shared::provider::Provider;
use shared::test_support::{TestDatabase, backend_from_env};
use shared::types::ProviderType;
use tower::ServiceExt;

pub const PROVIDER_KEY: &str = "sk-provider-SECRET-0001-abcd";
pub const OTHER_PROVIDER_KEY: &str = "sk-provider-OTHER-0004-efgh";
pub const LITELLM_KEY: &str = "sk-litellm-MASTER-0002-wxyz";
pub const TEST_KEY: &str = "sk-unsaved-TESTING-0003-qrst";
pub const SNAPSHOT_KEY: &str = "sk-snapshot-ENTRY-0005-ijkl";
pub const PARAMS_KEY: &str = "sk-params-LEGACY-0006-mnop";
/// Credentials under the names cloud providers use (`aws_secret_access_key`, `vertex_credentials`,
/// `client_secret`, …), as upstream metadata, params or job results may carry them.
pub const CLOUD_SECRET: &str = "cloud-SECRET-ACCESS-0007-uvwx";
const SECRETS: &[&str] =
    &[PROVIDER_KEY, OTHER_PROVIDER_KEY, LITELLM_KEY, TEST_KEY, SNAPSHOT_KEY, PARAMS_KEY, CLOUD_SECRET];

pub const TOKEN: &str = "admin-token-for-tests-0123456789";

pub struct Api {
    pub state: AppState,
    app: Router,
    database: TestDatabase,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?} {}", self.status, self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `detail` of an error answer (asserting it is one).
    pub fn detail(&self) -> String {
        let body = self.json();
        body.get("detail").and_then(Value::as_str).unwrap_or_else(|| panic!("no detail in {body}")).to_owned()
    }

    #[track_caller]
    pub fn expect(&self, status: StatusCode) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }

    /// Asserts an error answer with this status whose detail contains `needle`.
    #[track_caller]
    pub fn expect_error(&self, status: StatusCode, needle: &str) {
        assert_eq!(self.status, status, "body: {}", self.text());
        let detail = self.detail();
        assert!(detail.to_lowercase().contains(&needle.to_lowercase()), "detail {detail:?} lacks {needle:?}");
    }
}

impl Api {
    pub async fn new() -> Self {
        Self::with_token(None).await
    }

    pub async fn with_token(token: Option<&str>) -> Self {
        Self::with_settings(token, |_| {}).await
    }

    /// On SQLite whatever `TEST_DATABASE` says: for what only a database file has.
    pub async fn sqlite() -> Self {
        Self::on(Backend::Sqlite, None, |_| {}).await
    }

    /// A frontend with the default settings for `token`, changed by `change`, on the backend
    /// `TEST_DATABASE` names.
    pub async fn with_settings(token: Option<&str>, change: impl FnOnce(&mut Settings)) -> Self {
        Self::on(backend_from_env(), token, change).await
    }

    pub async fn on(backend: Backend, token: Option<&str>, change: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase::on(backend).await;
        let db = database.open().await;
        let mut settings = Settings::new(
            database.location().clone(),
            "127.0.0.1:8000".parse().expect("address"),
            token.map(Secret::new),
        );
        change(&mut settings);
        let state = AppState::new(db, settings);
        let app = frontend::app::router(state.clone());
        Self { state, app, database }
    }

    /// Another frontend on the same database (several replicas, or a restart with new settings).
    pub fn sibling(&self, token: Option<&str>) -> Router {
        let settings =
            Settings::new(self.state.settings.database.clone(), self.state.settings.listen, token.map(Secret::new));
        frontend::app::router(AppState::new(self.state.db.clone(), settings))
    }

    /// Sends `request` to another router (a [`Api::sibling`]), checked for leaks like [`Api::send`].
    pub async fn send_to(&self, app: &Router, request: Request<Body>) -> Reply {
        let response = app.clone().oneshot(request).await.expect("infallible");
        Self::checked(response).await
    }

    pub fn db(&self) -> &shared::Database {
        &self.state.db
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        Self::checked(response).await
    }

    async fn checked(response: axum::response::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        let reply = Reply { status, headers, body };
        let text = reply.text();
        for secret in SECRETS {
            // The masked form shows the last four characters; anything more is a leak.
            let revealing = &secret[..secret.len() - 4];
            assert!(!text.contains(revealing), "a secret leaked in an answer: {text}");
        }
        reply
    }

    pub fn request(method: Method, uri: &str) -> axum::http::request::Builder {
        Request::builder().method(method).uri(uri).header(header::HOST, "127.0.0.1:8000")
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Self::request(Method::GET, uri).body(Body::empty()).expect("request")).await
    }

    pub async fn call(&self, method: Method, uri: &str) -> Reply {
        self.send(Self::request(method, uri).body(Body::empty()).expect("request")).await
    }

    pub async fn post(&self, uri: &str) -> Reply {
        self.call(Method::POST, uri).await
    }

    pub async fn json(&self, method: Method, uri: &str, body: Value) -> Reply {
        self.raw(method, uri, "application/json", body.to_string()).await
    }

    pub async fn form(&self, method: Method, uri: &str, body: &str) -> Reply {
        self.raw(method, uri, "application/x-www-form-urlencoded", body.to_owned()).await
    }

    pub async fn raw(&self, method: Method, uri: &str, content_type: &str, body: impl Into<Body>) -> Reply {
        let request = Self::request(method, uri).header(header::CONTENT_TYPE, content_type).body(body.into());
        self.send(request.expect("request")).await
    }

    // --- rows, as the worker or an earlier request would have left them ---

    pub async fn provider(&self, name: &str, kind: ProviderType, key: Option<&str>) -> Provider {
        let base = match kind {
            ProviderType::Ollama => "http://ollama.lan:11434",
            _ => "https://api.example.com/v1",
        };
        let mut new = NewProvider::new(name, kind, base);
        new.api_key = key.map(str::to_owned);
        providers::insert(self.db(), &new).await.expect("insert provider")
    }

    /// Records a fetch of `ids` for `provider`, as the worker does (Ollama-style details).
    pub async fn models(&self, provider: &Provider, ids: &[&str]) -> Vec<Model> {
        let fetched: Vec<FetchedModel> = ids
            .iter()
            .map(|id| {
                let capabilities =
                    if id.contains("llava") { json!(["completion", "vision"]) } else { json!(["completion"]) };
                let raw = json!({"capabilities": capabilities, "details": {"family": "llama"},
                                  "model_info": {"general.architecture": "llama", "llama.context_length": 8192}});
                FetchedModel::from_upstream(provider.kind, id, Some(format!("sha-{id}")), &raw)
            })
            .collect();
        let listed: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        models::record_fetch(self.db(), provider.id, &fetched, &listed).await.expect("record fetch");
        let mut out = Vec::new();
        for id in ids {
            out.push(models::get_by_model_id(self.db(), provider.id, id).await.expect("get").expect("model"));
        }
        out
    }

    pub async fn model(&self, id: i64) -> Model {
        models::get(self.db(), id).await.expect("get model").expect("model exists")
    }

    pub async fn jobs(&self) -> Vec<JobRecord> {
        let mut all = jobs::recent(self.db(), 1000).await.expect("jobs");
        all.reverse();
        all
    }

    /// Plays the worker: claims the next queued job (waiting for one) and ends it.
    pub fn finish_next_job(&self, result: Value, error: Option<&'static str>) -> tokio::task::JoinHandle<JobRecord> {
        let pool = self.db().clone();
        tokio::spawn(async move {
            loop {
                if let Some(job) = jobs::claim_next(&pool, "test-worker").await.expect("claim") {
                    tokio::time::sleep(Duration::from_millis(150)).await;
                    jobs::finish(&pool, job.id, "test-worker", Some(&result), error).await.expect("finish");
                    return job;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    }

    /// Every row of the tables the API writes, as text: equal before and after a refused
    /// request means it changed nothing.
    pub async fn fingerprint(&self) -> String {
        let mut out = String::new();
        for table in ["config", "providers", "models", "jobs"] {
            // Every column, in table order; each of these tables has an integer key `id`.
            let rows = self.db().rows_for_tests(&format!("SELECT * FROM {table} ORDER BY id"), &[]).await;
            let rows: Vec<String> = rows
                .iter()
                .map(|row| {
                    let cells: Vec<String> = row
                        .iter()
                        .map(|cell| cell.as_ref().map_or_else(|| "NULL".to_owned(), |text| format!("{text:?}")))
                        .collect();
                    cells.join("|")
                })
                .collect();
            out.push_str(&format!("{table}:\n{}\n", rows.join("\n")));
        }
        out
    }
}
