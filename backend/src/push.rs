//! Push (SPEC §4): reconcile LiteLLM with the database. One `GET /model/info`, a plan, then
//! the plan's operations, a few at a time. A call that fails transiently (a reset connection,
//! a timeout, 502/503/504) is tried again after a backoff; an operation that still fails does
//! not stop the others. Only a failure that would fail every call (a wrong key, LiteLLM
//! without a database) skips the rest, each skipped operation saying so.

use std::future::Future;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;
use shared::DbError;
use shared::backoff::Backoff;
use shared::db::{config, models, providers, routing, snapshot};
use shared::desired;
use shared::plan::{self, Action, Operation, Plan};

use crate::context::Context;
use crate::fallbacks::{self, FallbackReport};
use crate::litellm::{LiteLlmClient, LiteLlmError};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("LiteLLM is not configured: set its URL and key in Settings (or LITELLM_BASE_URL / LITELLM_API_KEY)")]
    NotConfigured,
    #[error(transparent)]
    LiteLlm(#[from] LiteLlmError),
    #[error("database: {0}")]
    Db(#[from] DbError),
}

/// Which part of the desired state a push reconciles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    All,
    Provider(i64),
    Model(i64),
}

#[derive(Debug, Clone, Serialize)]
pub struct OpResult {
    pub action: Action,
    pub litellm_id: String,
    pub model_name: String,
    pub provider: Option<String>,
    #[serde(skip)]
    pub provider_id: Option<i64>,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    pub dry_run: bool,
    pub plan: Plan,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub failed: usize,
    pub results: Vec<OpResult>,
    pub fallbacks: FallbackReport,
}

impl PushReport {
    pub fn counts_for(&self, provider_id: i64) -> (i64, i64, i64, i64) {
        let mut counts = (0, 0, 0, 0);
        for result in self.results.iter().filter(|r| r.provider_id == Some(provider_id)) {
            match (result.ok, result.action) {
                (false, _) => counts.3 += 1,
                (true, Action::Create) => counts.0 += 1,
                (true, Action::Update | Action::Replace) => counts.1 += 1,
                (true, Action::Delete | Action::DeleteDuplicate) => counts.2 += 1,
            }
        }
        counts
    }

    pub fn first_error(&self) -> Option<&str> {
        self.results.iter().find_map(|r| r.error.as_deref())
    }
}

/// The LiteLLM client for the configured proxy.
pub async fn client(ctx: &Context) -> Result<LiteLlmClient, PushError> {
    let config = config::get(ctx.pool()).await?;
    ctx.litellm(&config).ok_or(PushError::NotConfigured)
}

/// Computes the plan for `scope` (and, unless `dry_run`, applies it).
pub async fn push(ctx: &Context, scope: Scope, dry_run: bool) -> Result<PushReport, PushError> {
    let config = config::get(ctx.pool()).await?;
    let litellm = ctx.litellm(&config).ok_or(PushError::NotConfigured)?;
    ctx.step("reading LiteLLM's model list").await;
    let actual = ctx.settings.litellm_retry.run("read the model list", || litellm.model_info()).await?;

    let providers = providers::list(ctx.pool()).await?;
    let all_models = models::list_all(ctx.pool()).await?;
    let routing = routing::load(ctx.pool()).await?;
    let mut desired = desired::build(&config, &providers, &all_models, &routing, &mut |_| new_litellm_id());
    drop(all_models);
    let wanted_fallbacks = std::mem::take(&mut desired.fallbacks);
    let mut plan = plan::compute(desired, &actual);
    match scope {
        Scope::All => {}
        Scope::Provider(id) => plan.retain_provider(id),
        Scope::Model(id) => plan.retain_model(id),
    }
    let mut report = PushReport {
        dry_run,
        plan,
        created: 0,
        updated: 0,
        deleted: 0,
        failed: 0,
        results: Vec::new(),
        fallbacks: FallbackReport::default(),
    };
    if dry_run {
        report.fallbacks = fallbacks::for_scope(ctx, &litellm, scope, wanted_fallbacks, true).await;
        snapshot::save(ctx.pool(), &actual).await?;
        return Ok(report);
    }

    // Ids first: if the process dies mid-push, the next run recognises what it created.
    models::store_litellm_ids(ctx.pool(), &report.plan.ids_to_store).await?;
    routing::store_litellm_ids(ctx.pool(), &report.plan.route_ids_to_store).await?;
    if !report.plan.operations.is_empty() {
        ctx.step(format!("applying {} LiteLLM operations", report.plan.operations.len())).await;
    }
    report.results = apply(ctx, &litellm, &report.plan.operations).await;
    tally(&mut report);
    // After the deployments: LiteLLM refuses a fallback naming a model it does not hold yet.
    report.fallbacks = fallbacks::for_scope(ctx, &litellm, scope, wanted_fallbacks, false).await;
    report.failed += report.fallbacks.failed();
    // What LiteLLM holds now, without reading it again: the entries read, with what succeeded
    // applied. The request bodies are spent, so they move into the snapshot.
    let held = project(actual, &mut report.plan.operations, &report.results);
    snapshot::save(ctx.pool(), &held).await?;
    Ok(report)
}

/// `entries` (a `GET /model/info` answer) after the successful operations, as LiteLLM shows them:
/// creates added (without the API key), updates shallow-merged, deletions removed.
fn project(mut entries: Vec<Value>, operations: &mut [Operation], results: &[OpResult]) -> Vec<Value> {
    let id_of = |entry: &Value| entry.pointer("/model_info/id").and_then(Value::as_str).map(str::to_owned);
    let succeeded: std::collections::HashSet<(Action, &str)> =
        results.iter().filter(|r| r.ok).map(|r| (r.action, r.litellm_id.as_str())).collect();
    for op in operations.iter_mut() {
        if !succeeded.contains(&(op.action, op.litellm_id.as_str())) {
            continue;
        }
        match op.action {
            Action::Create => {
                let mut entry = std::mem::take(&mut op.body);
                if let Some(info) = entry.get_mut("model_info").and_then(Value::as_object_mut) {
                    info.insert("db_model".into(), true.into());
                }
                entries.push(entry);
            }
            Action::Update => {
                let Some(entry) = entries.iter_mut().find(|e| id_of(e).as_deref() == Some(op.litellm_id.as_str()))
                else {
                    continue;
                };
                for (section, changes) in op.body.as_object().into_iter().flatten() {
                    match (entry.get_mut(section).and_then(Value::as_object_mut), changes.as_object()) {
                        (Some(target), Some(changes)) => target.extend(changes.clone()),
                        _ => entry[section] = changes.clone(),
                    }
                }
            }
            Action::Delete | Action::DeleteDuplicate => {
                entries.retain(|e| id_of(e).as_deref() != Some(op.litellm_id.as_str()));
            }
            Action::Replace => {
                entries.retain(|e| id_of(e).as_deref() != Some(op.litellm_id.as_str()));
                let mut entry = std::mem::take(&mut op.body);
                if let Some(info) = entry.get_mut("model_info").and_then(Value::as_object_mut) {
                    info.insert("db_model".into(), true.into());
                }
                entries.push(entry);
            }
        }
    }
    entries
}

fn new_litellm_id() -> String {
    format!("lupdater-{}", uuid::Uuid::new_v4())
}

fn tally(report: &mut PushReport) {
    for result in &report.results {
        match (result.ok, result.action) {
            (false, _) => report.failed += 1,
            (true, Action::Create) => report.created += 1,
            (true, Action::Update | Action::Replace) => report.updated += 1,
            (true, Action::Delete | Action::DeleteDuplicate) => report.deleted += 1,
        }
    }
}

async fn apply(ctx: &Context, litellm: &LiteLlmClient, operations: &[Operation]) -> Vec<OpResult> {
    // Set by the first failure that would fail every other call too (a wrong key, no DB):
    // the operations not yet started are then skipped, each saying why.
    let stop = std::sync::Mutex::new(None::<String>);
    let retry = &ctx.settings.litellm_retry;
    stream::iter(operations)
        .map(|op| {
            let stop = &stop;
            async move {
                let stopped = stop.lock().ok().and_then(|s| s.clone());
                let outcome = match stopped {
                    Some(reason) => Err(format!("skipped, not sent: an earlier operation failed with: {reason}")),
                    None => match apply_one(litellm, op, retry).await {
                        Ok(()) => Ok(()),
                        Err(error) => {
                            if error.is_fatal()
                                && let Ok(mut reason) = stop.lock()
                            {
                                reason.get_or_insert_with(|| error.to_string());
                            }
                            tracing::warn!(action = ?op.action, id = ?op.litellm_id, model = ?op.model_name, error = ?error.to_string(), "LiteLLM operation failed");
                            Err(error.to_string())
                        }
                    },
                };
                OpResult {
                    action: op.action,
                    litellm_id: op.litellm_id.clone(),
                    model_name: op.model_name.clone(),
                    provider: op.provider.clone(),
                    provider_id: op.provider_id,
                    ok: outcome.is_ok(),
                    error: outcome.err(),
                }
            }
        })
        .buffer_unordered(ctx.settings.litellm_concurrency.max(1))
        .collect()
        .await
}

/// How often and how patiently a LiteLLM call that failed transiently is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    pub backoff: Backoff,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 4, backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(4)) }
    }
}

impl Retry {
    /// Waits before attempt `attempt + 1` and says whether there is one, after `error` ended
    /// attempt `attempt` (1-based).
    async fn again(&self, attempt: u32, error: &LiteLlmError, what: &str) -> bool {
        if !error.is_transient() || attempt >= self.attempts {
            return false;
        }
        let delay = self.backoff.delay(attempt);
        tracing::debug!(what, attempt, delay_ms = delay.as_millis() as u64, error = ?error.to_string(), "retrying a LiteLLM call");
        tokio::time::sleep(delay).await;
        true
    }

    /// `call` until it succeeds, fails for good, or the attempts run out. For idempotent calls.
    async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, LiteLlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LiteLlmError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(error) if self.again(attempt, &error, what).await => attempt += 1,
                other => return other,
            }
        }
    }
}

/// Creates `body` (whose `model_info.id` is `id`), without ever storing it twice: LiteLLM answers
/// 500 both when the write failed and when it stored the row and then tripped, and a reset
/// connection or a timeout says nothing about whether the row landed, so before calling it a
/// failure, and before sending it again, look for it.
async fn create_once(litellm: &LiteLlmClient, id: &str, body: &Value, retry: &Retry) -> Result<(), LiteLlmError> {
    let mut attempt = 1;
    loop {
        let error = match litellm.create(body).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let ambiguous = error.is_transient() || matches!(error, LiteLlmError::Status { status: 500, .. });
        if ambiguous && litellm.exists(id).await.unwrap_or(false) {
            return Ok(());
        }
        if !retry.again(attempt, &error, "create").await {
            return Err(error);
        }
        attempt += 1;
        // The wait may have been enough for a slow write to show up.
        if litellm.exists(id).await.unwrap_or(false) {
            return Ok(());
        }
    }
}

async fn apply_one(litellm: &LiteLlmClient, op: &Operation, retry: &Retry) -> Result<(), LiteLlmError> {
    let id = op.litellm_id.as_str();
    match op.action {
        Action::Create => create_once(litellm, id, &with_api_key(&op.body, op), retry).await,
        Action::Update => {
            let body = with_api_key(&op.body, op);
            retry.run("update", || litellm.update(id, &body)).await
        }
        // If the create fails after the delete, the model's id is still stored: the next push
        // creates it (the entry is missing meanwhile, which the result reports).
        Action::Replace => {
            match retry.run("delete", || litellm.delete(id)).await {
                Err(error) if !error.is_not_found() => return Err(error),
                _ => {}
            }
            create_once(litellm, id, &with_api_key(&op.body, op), retry).await
        }
        Action::Delete | Action::DeleteDuplicate => match retry.run("delete", || litellm.delete(id)).await {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        },
    }
}

/// The request body with the provider's API key, which the plan never holds in its body.
fn with_api_key(body: &Value, op: &Operation) -> Value {
    let mut body = body.clone();
    if let (Some(key), Some(params)) = (&op.api_key, body.get_mut("litellm_params").and_then(Value::as_object_mut)) {
        params.insert("api_key".into(), key.value().into());
    }
    body
}

/// Deletes LiteLLM entries by id, refusing any that litellm-updater does not own.
pub async fn delete_entries(ctx: &Context, ids: &[String]) -> Result<Vec<OpResult>, PushError> {
    let installation = config::get(ctx.pool()).await?.installation_id;
    let litellm = client(ctx).await?;
    let actual = litellm.model_info().await?;
    let mut results = Vec::new();
    let mut operations = Vec::new();
    for id in ids {
        let entry = actual.iter().find(|e| e.pointer("/model_info/id").and_then(Value::as_str) == Some(id.as_str()));
        let name = entry.and_then(|e| e.get("model_name")).and_then(Value::as_str).unwrap_or("").to_owned();
        let refusal = match entry {
            None => Some("LiteLLM has no entry with this id".to_owned()),
            Some(entry) if !plan::is_owned(entry, installation.as_deref()) => {
                Some("not owned by litellm-updater (a config-file or someone else's entry); left alone".to_owned())
            }
            Some(_) => None,
        };
        match refusal {
            Some(error) => results.push(OpResult {
                action: Action::Delete,
                litellm_id: id.clone(),
                model_name: name,
                provider: None,
                provider_id: None,
                ok: false,
                error: Some(error),
            }),
            None => operations.push(Operation {
                action: Action::Delete,
                litellm_id: id.clone(),
                model_name: name,
                provider: None,
                provider_id: None,
                model_row_id: None,
                reason: "requested by the operator".into(),
                changes: Vec::new(),
                body: serde_json::json!({ "id": id }),
                api_key: None,
            }),
        }
    }
    results.extend(apply(ctx, &litellm, &operations).await);
    let remaining = litellm.model_info().await?;
    snapshot::save(ctx.pool(), &remaining).await?;
    Ok(results)
}
