//! Push (SPEC §4): reconcile LiteLLM with the database. One `GET /model/info`, a plan, then
//! the plan's operations, a few at a time; one failing operation does not stop the others
//! (unless LiteLLM itself is unusable, which would fail them all).

use std::sync::atomic::{AtomicBool, Ordering};

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::Value;
use shared::DbError;
use shared::db::{config, models, providers, snapshot};
use shared::desired;
use shared::plan::{self, Action, Operation, Plan};

use crate::context::Context;
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
    let actual = litellm.model_info().await?;

    let providers = providers::list(ctx.pool()).await?;
    let all_models = models::list_all(ctx.pool()).await?;
    let desired = desired::build(&config, &providers, &all_models, &mut |_| new_litellm_id());
    drop(all_models);
    let mut plan = plan::compute(desired, &actual);
    match scope {
        Scope::All => {}
        Scope::Provider(id) => plan.retain_provider(id),
        Scope::Model(id) => plan.retain_model(id),
    }
    let mut report = PushReport { dry_run, plan, created: 0, updated: 0, deleted: 0, failed: 0, results: Vec::new() };
    if dry_run {
        snapshot::save(ctx.pool(), &actual).await?;
        return Ok(report);
    }

    // Ids first: if the process dies mid-push, the next run recognises what it created.
    models::store_litellm_ids(ctx.pool(), &report.plan.ids_to_store).await?;
    if !report.plan.operations.is_empty() {
        ctx.step(format!("applying {} LiteLLM operations", report.plan.operations.len())).await;
    }
    report.results = apply(ctx, &litellm, &report.plan.operations).await;
    tally(&mut report);
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
    let unusable = AtomicBool::new(false);
    let fatal = std::sync::Mutex::new(None::<String>);
    stream::iter(operations)
        .map(|op| {
            let unusable = &unusable;
            let fatal = &fatal;
            async move {
                let outcome = if unusable.load(Ordering::Relaxed) {
                    let reason = fatal.lock().ok().and_then(|f| f.clone()).unwrap_or_default();
                    Err(format!("skipped: {reason}"))
                } else {
                    match apply_one(litellm, op).await {
                        Ok(()) => Ok(()),
                        Err(error) => {
                            if error.is_fatal() {
                                unusable.store(true, Ordering::Relaxed);
                                if let Ok(mut f) = fatal.lock() {
                                    f.get_or_insert_with(|| error.to_string());
                                }
                            }
                            tracing::warn!(action = ?op.action, id = %op.litellm_id, model = %op.model_name, %error, "LiteLLM operation failed");
                            Err(error.to_string())
                        }
                    }
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

async fn apply_one(litellm: &LiteLlmClient, op: &Operation) -> Result<(), LiteLlmError> {
    match op.action {
        Action::Create => {
            let body = with_api_key(&op.body, op);
            match litellm.create(&body).await {
                Ok(()) => Ok(()),
                // LiteLLM answers 500 both when the write failed and when it stored the row and
                // then tripped: look before calling it a failure (and before a retry duplicates it).
                Err(LiteLlmError::Status { status: 500, .. }) if litellm.exists(&op.litellm_id).await? => Ok(()),
                Err(error) => Err(error),
            }
        }
        Action::Update => litellm.update(&op.litellm_id, &with_api_key(&op.body, op)).await,
        // If the create fails after the delete, the model's id is still stored: the next push
        // creates it (the entry is missing meanwhile, which the result reports).
        Action::Replace => {
            match litellm.delete(&op.litellm_id).await {
                Err(error) if !error.is_not_found() => return Err(error),
                _ => {}
            }
            litellm.create(&with_api_key(&op.body, op)).await
        }
        Action::Delete | Action::DeleteDuplicate => match litellm.delete(&op.litellm_id).await {
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
