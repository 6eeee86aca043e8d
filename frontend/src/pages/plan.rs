//! `/plan`: compute a dry-run plan (a job) and read the latest one as a diff, grouped by action.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::response::Redirect;
use serde::Deserialize;
use serde_json::Value;
use shared::db::views;
use shared::jobs::JobRequest;

use super::jobs::{start, summarize};
use super::view::{Badge, Stamp, inline_json};
use super::{Chrome, PageResult, form};
use crate::state::AppState;

/// The plan as the worker serialises it (`shared::plan::Plan`); read leniently, since older
/// results may lack fields.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PlanJson {
    operations: Vec<OperationJson>,
    unchanged: i64,
    adopted: i64,
    config_entries: i64,
    foreign_entries: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OperationJson {
    action: String,
    litellm_id: String,
    model_name: String,
    provider: Option<String>,
    reason: String,
    changes: Vec<ChangeJson>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ChangeJson {
    field: String,
    from: Value,
    to: Value,
}

/// The fallback part of a push report (`backend::fallbacks::FallbackReport`), read leniently.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FallbacksJson {
    operations: Vec<FallbackJson>,
    unchanged: i64,
    notes: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FallbackJson {
    action: String,
    model_name: String,
    fallback_type: String,
    from: Option<Vec<String>>,
    to: Option<Vec<String>>,
    reason: String,
}

pub struct FallbackRow {
    action: String,
    model_name: String,
    fallback_type: String,
    from: String,
    to: String,
    reason: String,
}

pub struct ChangeRow {
    field: String,
    from: String,
    to: String,
}

pub struct OperationRow {
    model_name: String,
    provider: String,
    litellm_id: String,
    reason: String,
    changes: Vec<ChangeRow>,
}

pub struct Group {
    title: &'static str,
    badge: Badge,
    operations: Vec<OperationRow>,
}

pub struct PlanView {
    job_id: i64,
    fetched: bool,
    finished: Option<Stamp>,
    groups: Vec<Group>,
    total: usize,
    unchanged: i64,
    adopted: i64,
    config_entries: i64,
    foreign_entries: i64,
    notes: Vec<String>,
    fallbacks: Vec<FallbackRow>,
    fallbacks_unchanged: i64,
    fallback_notes: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "plan.html")]
pub struct PlanPage {
    chrome: Chrome,
    plan: Option<PlanView>,
    /// A newer plan job that has not finished or failed.
    pending: Option<(i64, Badge, String)>,
}

const GROUPS: &[(&str, &str, &str, &str)] = &[
    ("create", "Create", "ok", "create"),
    ("update", "Update", "info", "update"),
    ("replace", "Replace (recreate with the same id)", "warn", "replace"),
    ("delete", "Delete", "bad", "delete"),
    ("delete_duplicate", "Delete duplicate", "warn", "delete duplicate"),
];

fn plan_view(job_id: i64, payload_fetch: bool, finished: Option<Stamp>, result: &Value) -> Option<PlanView> {
    let plan: PlanJson = serde_json::from_value(result.pointer("/push/plan")?.clone()).ok()?;
    let total = plan.operations.len();
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .map(|&(_, title, class, text)| Group { title, badge: Badge::new(class, text), operations: Vec::new() })
        .collect();
    for op in plan.operations {
        let index = GROUPS.iter().position(|(action, ..)| *action == op.action).unwrap_or(1);
        groups[index].operations.push(OperationRow {
            model_name: op.model_name,
            provider: op.provider.unwrap_or_default(),
            litellm_id: op.litellm_id,
            reason: op.reason,
            changes: op
                .changes
                .into_iter()
                .map(|c| {
                    // A change of a key shows that it changed, never the key.
                    let secret = c.field.rsplit('.').next().is_some_and(shared::secret::is_secret_key);
                    let shown =
                        |v: &Value| if secret && !v.is_null() { "••••".to_owned() } else { inline_json(v) };
                    ChangeRow { from: shown(&c.from), to: shown(&c.to), field: c.field }
                })
                .collect(),
        });
    }
    groups.retain(|g| !g.operations.is_empty());
    let fallbacks: FallbacksJson =
        result.pointer("/push/fallbacks").and_then(|f| serde_json::from_value(f.clone()).ok()).unwrap_or_default();
    let listed = |models: Option<Vec<String>>| models.map(|m| m.join(", ")).unwrap_or_else(|| "(none)".into());
    Some(PlanView {
        fallbacks: fallbacks
            .operations
            .into_iter()
            .map(|f| FallbackRow {
                action: f.action,
                model_name: f.model_name,
                fallback_type: f.fallback_type,
                from: listed(f.from),
                to: listed(f.to),
                reason: f.reason,
            })
            .collect(),
        fallbacks_unchanged: fallbacks.unchanged,
        fallback_notes: fallbacks.notes,
        job_id,
        fetched: payload_fetch,
        finished,
        groups,
        total,
        unchanged: plan.unchanged,
        adopted: plan.adopted,
        config_entries: plan.config_entries,
        foreign_entries: plan.foreign_entries,
        notes: if payload_fetch {
            summarize(result).into_iter().filter(|l| !l.starts_with("Plan:")).collect()
        } else {
            Vec::new()
        },
    })
}

pub async fn page(State(state): State<AppState>, chrome: Chrome) -> PageResult<PlanPage> {
    let pool = state.pool();
    let done = views::latest_done_job(pool, "plan").await?;
    let plan = done.as_ref().and_then(|job| {
        let fetch = matches!(job.request(), Ok(JobRequest::Plan { fetch: true }));
        plan_view(job.id, fetch, Stamp::opt(job.finished_at.as_deref()), &job.result.as_ref()?.0)
    });
    let pending =
        views::latest_job(pool, "plan").await?.filter(|latest| done.as_ref().is_none_or(|d| latest.id > d.id)).map(
            |job| (job.id, Badge::outcome(&job.status), job.error.clone().or(job.progress.clone()).unwrap_or_default()),
        );
    Ok(PlanPage { chrome, plan, pending })
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PlanForm {
    fetch: Option<String>,
}

pub async fn compute(State(state): State<AppState>, Form(input): Form<PlanForm>) -> PageResult<Redirect> {
    start(&state, JobRequest::Plan { fetch: form::checked(&input.fetch) }).await
}
