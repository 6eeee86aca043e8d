//! `/jobs/{id}`: one action's status, progress and result. Every action button enqueues a job
//! and lands here; without JavaScript the page refreshes itself until the job ends.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::Redirect;
use serde_json::Value;
use shared::db::jobs::{self, JobRecord};
use shared::db::{models, providers};
use shared::jobs::JobRequest;

use super::view::{Badge, Stamp, inline_json, pretty_json};
use super::{Chrome, PageError, PageResult};
use crate::state::AppState;

/// Enqueues `request` and sends the browser to its job page.
pub async fn start(state: &AppState, request: JobRequest) -> PageResult<Redirect> {
    let id = jobs::enqueue(state.pool(), &request).await?;
    Ok(Redirect::to(&format!("/jobs/{id}")))
}

/// A job as the history and job pages list it.
pub struct JobRow {
    pub id: i64,
    pub what: String,
    pub badge: Badge,
    pub progress: String,
    pub created: Option<Stamp>,
    pub finished: Option<Stamp>,
    pub error: String,
}

impl JobRow {
    pub fn new(job: &JobRecord, provider_names: &HashMap<i64, String>) -> Self {
        Self {
            id: job.id,
            what: describe(job, provider_names, None),
            badge: outcome(job),
            progress: job.progress.clone().unwrap_or_default(),
            created: Stamp::opt(Some(&job.created_at)),
            finished: Stamp::opt(job.finished_at.as_deref()),
            error: job.error.clone().unwrap_or_default(),
        }
    }
}

pub async fn provider_names(state: &AppState) -> PageResult<HashMap<i64, String>> {
    Ok(providers::list(state.pool()).await?.into_iter().map(|p| (p.id, p.name)).collect())
}

/// What a job does, in the UI's words (SPEC §4 vocabulary).
pub fn describe(job: &JobRecord, providers: &HashMap<i64, String>, model: Option<&str>) -> String {
    let provider = |id: i64| providers.get(&id).cloned().unwrap_or_else(|| format!("provider #{id}"));
    let model = |id: i64| model.map(str::to_owned).unwrap_or_else(|| format!("model #{id}"));
    match job.request() {
        Ok(JobRequest::SyncProvider { provider_id }) => format!("Sync {}", provider(provider_id)),
        Ok(JobRequest::SyncAll) => "Sync all providers".into(),
        Ok(JobRequest::FetchProvider { provider_id }) => format!("Fetch {}", provider(provider_id)),
        Ok(JobRequest::FetchAll) => "Fetch all providers".into(),
        Ok(JobRequest::PushProvider { provider_id }) => format!("Push {} to LiteLLM", provider(provider_id)),
        Ok(JobRequest::PushAll) => "Push everything to LiteLLM".into(),
        Ok(JobRequest::RefreshModel { model_id }) => format!("Refresh {}", model(model_id)),
        Ok(JobRequest::PushModel { model_id }) => format!("Push {} to LiteLLM", model(model_id)),
        Ok(JobRequest::DeleteLitellmEntries { ids }) => {
            format!("Delete {} LiteLLM {}", ids.len(), if ids.len() == 1 { "entry" } else { "entries" })
        }
        Ok(JobRequest::TestConnection { provider_id, base_url, .. }) => match (provider_id, base_url) {
            (_, Some(url)) => format!("Test connection to {}", super::view::display_url(&url)),
            (Some(id), None) => format!("Test connection to {}", provider(id)),
            (None, None) => "Test connection".into(),
        },
        Ok(JobRequest::Plan { fetch: true }) => "Fetch, then compute a dry-run plan".into(),
        Ok(JobRequest::Plan { fetch: false }) => "Compute a dry-run plan".into(),
        Err(_) => job.kind.replace('_', " "),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "job.html")]
pub struct JobPage {
    chrome: Chrome,
    job: JobRow,
    running: bool,
    started: Option<Stamp>,
    summary: Vec<String>,
    result: String,
    plan_link: bool,
}

pub async fn page(State(state): State<AppState>, chrome: Chrome, Path(id): Path<i64>) -> PageResult<JobPage> {
    let job =
        jobs::get(state.pool(), id).await?.ok_or_else(|| PageError::not_found(format!("job {id} does not exist")))?;
    let names = provider_names(&state).await?;
    let model_name = match job.request() {
        Ok(JobRequest::RefreshModel { model_id } | JobRequest::PushModel { model_id }) => {
            models::get(state.pool(), model_id).await?.map(|m| m.model_id)
        }
        _ => None,
    };
    let mut row = JobRow::new(&job, &names);
    row.what = describe(&job, &names, model_name.as_deref());
    let result = job.result.as_ref().map(|r| shared::secret::mask_json(r.0.clone()));
    let result = result.as_ref();
    Ok(JobPage {
        chrome,
        running: !job.is_finished(),
        started: Stamp::opt(job.started_at.as_deref()),
        summary: result.map(summarize).unwrap_or_default(),
        result: result.map(pretty_json).unwrap_or_default(),
        plan_link: job.kind == "plan" && job.status == "done",
        job: row,
    })
}

/// A job's status badge: a job that ended `done` but reported warnings (a provider that failed
/// or answered with no models, a LiteLLM write that failed) is shown as a warning, not green.
fn outcome(job: &JobRecord) -> Badge {
    if job.status == "done" && job.result.as_ref().is_some_and(|r| has_warnings(&r.0)) {
        Badge::new("warn", "done, with warnings")
    } else {
        Badge::outcome(&job.status)
    }
}

/// Whether a finished job's result carries anything the operator should look at.
pub fn has_warnings(result: &Value) -> bool {
    let positive = |v: Option<&Value>| v.and_then(Value::as_i64).is_some_and(|n| n > 0);
    let providers = result.get("providers").and_then(Value::as_array).into_iter().flatten();
    let provider_warned = providers.into_iter().any(|p| {
        p.get("error").is_some_and(|e| !e.is_null())
            || p.pointer("/fetch/guarded").and_then(Value::as_bool) == Some(true)
            || p.pointer("/fetch/warnings").and_then(Value::as_array).is_some_and(|w| !w.is_empty())
    });
    let push = result.get("push").unwrap_or(result);
    provider_warned
        || result.get("push_error").is_some_and(|e| !e.is_null())
        || positive(push.get("failed"))
        || positive(result.get("failed"))
}

/// Plain-words lines for the result shapes the worker writes (`backend/src/jobs.rs`).
pub fn summarize(result: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let num = |v: &Value, key: &str| v.get(key).and_then(Value::as_i64).unwrap_or(0);
    if let Some(providers) = result.get("providers").and_then(Value::as_array) {
        for outcome in providers {
            let name = outcome.get("provider").map(inline_json).unwrap_or_default();
            let line = match (outcome.get("fetch"), outcome.get("error").and_then(Value::as_str)) {
                (_, Some(error)) => format!("{name}: failed: {error}"),
                (Some(fetch), None) => {
                    let mut line = format!(
                        "{name}: {} models seen, {} added, {} updated, {} orphaned",
                        num(fetch, "seen"),
                        num(fetch, "added"),
                        num(fetch, "updated"),
                        num(fetch, "orphaned")
                    );
                    if fetch.get("guarded").and_then(Value::as_bool) == Some(true) {
                        line.push_str(" (the upstream answered with no models: nothing was changed)");
                    }
                    line
                }
                (None, None) => format!("{name}: done"),
            };
            lines.push(line);
            for warning in outcome.pointer("/fetch/warnings").and_then(Value::as_array).into_iter().flatten() {
                lines.push(format!("{name}: warning: {}", inline_json(warning)));
            }
        }
    }
    if let Some(error) = result.get("push_error").and_then(Value::as_str) {
        lines.push(format!("LiteLLM: {error}"));
    }
    let push = result.get("push").unwrap_or(result);
    if let Some(plan) = push.get("plan") {
        let ops = plan.get("operations").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        if push.get("dry_run").and_then(Value::as_bool) == Some(true) {
            lines.push(format!(
                "Plan: {ops} operations, {} unchanged (dry run: nothing was written to LiteLLM)",
                num(plan, "unchanged")
            ));
        } else {
            lines.push(format!(
                "LiteLLM: {} created, {} updated, {} deleted, {} failed, {} unchanged",
                num(push, "created"),
                num(push, "updated"),
                num(push, "deleted"),
                num(push, "failed"),
                num(plan, "unchanged")
            ));
        }
    }
    if result.get("details_calls").is_some() {
        let provider = result.get("provider").map(inline_json).unwrap_or_default();
        let changed = if num(result, "updated") + num(result, "added") > 0 { "details changed" } else { "no change" };
        lines.push(format!("Re-read from {provider}: {changed}"));
    }
    if result.get("ok").and_then(Value::as_bool) == Some(true) {
        let sample: Vec<String> =
            result.get("sample").and_then(Value::as_array).into_iter().flatten().map(inline_json).collect();
        lines.push(format!("Connection ok: {} models listed. {}", num(result, "models"), sample.join(", ")));
    }
    if result.get("deleted").is_some() && result.get("results").is_some() {
        lines.push(format!("{} deleted, {} failed", num(result, "deleted"), num(result, "failed")));
    }
    lines
}
