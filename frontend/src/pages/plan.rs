//! `/plan`: compute a dry-run plan (a job), read the latest one as a diff grouped by action,
//! and apply it (a job that writes exactly what it shows, or nothing if LiteLLM changed since).

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use serde::Deserialize;
use serde_json::Value;
use shared::db::{jobs, views};
use shared::job_results::{FallbackAction, JobResult, StoredResult, plan_to_apply};
use shared::jobs::JobRequest;
use shared::plan::Action;

use super::jobs::start;
use super::view::{Badge, Stamp, inline_json};
use super::{Chrome, PageError, PageResult, form};
use crate::state::AppState;

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
    /// The action, as a word (`create`, `delete duplicate`, …).
    kind: &'static str,
    badge: Badge,
    operations: Vec<OperationRow>,
}

pub struct PlanView {
    job_id: i64,
    fetched: bool,
    /// Providers whose fetch before this plan failed: for them it reflects the last good fetch.
    fetch_failed: Vec<String>,
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
    /// Operations (deployments' and fallbacks') the plan shown can apply: set only when it is
    /// the newest plan job and has any.
    appliable: Option<usize>,
    /// The apply job that last applied the plan shown, if any.
    applied_by: Option<i64>,
}

const GROUPS: &[(Action, &str, &str, &str)] = &[
    (Action::Create, "Create", "ok", "create"),
    (Action::Update, "Update", "info", "update"),
    (Action::Replace, "Replace (recreate with the same id)", "warn", "replace"),
    (Action::Delete, "Delete", "bad", "delete"),
    (Action::DeleteDuplicate, "Delete duplicate", "warn", "delete duplicate"),
];

fn plan_view(job_id: i64, payload_fetch: bool, finished: Option<Stamp>, stored: &Value) -> Option<PlanView> {
    let StoredResult::Typed(result) = StoredResult::read(stored) else {
        return None;
    };
    let push = result.push()?;
    let plan = &push.plan;
    let total = plan.operations.len();
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .map(|&(_, title, class, text)| Group {
            title,
            kind: text,
            badge: Badge::new(class, text),
            operations: Vec::new(),
        })
        .collect();
    for op in &plan.operations {
        let index = GROUPS.iter().position(|(action, ..)| *action == op.action).unwrap_or(1);
        groups[index].operations.push(OperationRow {
            model_name: op.model_name.clone(),
            provider: op.provider.clone().unwrap_or_default(),
            litellm_id: op.litellm_id.clone(),
            reason: op.reason.clone(),
            changes: op
                .changes
                .iter()
                .map(|c| {
                    // A change of a key shows that it changed, never the key.
                    let secret = c.field.rsplit('.').next().is_some_and(shared::secret::is_secret_key);
                    let shown =
                        |v: &Value| if secret && !v.is_null() { "••••".to_owned() } else { inline_json(v) };
                    ChangeRow { from: shown(&c.from), to: shown(&c.to), field: c.field.clone() }
                })
                .collect(),
        });
    }
    groups.retain(|g| !g.operations.is_empty());
    let fallbacks = &push.fallbacks;
    let listed =
        |models: &Option<Vec<String>>| models.as_ref().map(|m| m.join(", ")).unwrap_or_else(|| "(none)".into());
    let fetch_failed = match &*result {
        JobResult::Cycle(cycle) => cycle.providers.iter().filter(|p| !p.ok).map(|p| p.provider.clone()).collect(),
        _ => Vec::new(),
    };
    let notes = match (&*result, payload_fetch) {
        (JobResult::Cycle(cycle), true) => {
            let providers_only = JobResult::Cycle(shared::job_results::CycleReport { push: None, ..cycle.clone() });
            providers_only.summary_lines()
        }
        _ => Vec::new(),
    };
    Some(PlanView {
        fallbacks: fallbacks
            .operations
            .iter()
            .map(|f| FallbackRow {
                action: match f.action {
                    FallbackAction::Set => "set".into(),
                    FallbackAction::Delete => "delete".into(),
                },
                model_name: f.model_name.clone(),
                fallback_type: serde_json::to_value(f.fallback_type)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                from: listed(&f.from),
                to: listed(&f.to),
                reason: f.reason.clone(),
            })
            .collect(),
        fallbacks_unchanged: fallbacks.unchanged as i64,
        fallback_notes: fallbacks.notes.clone(),
        job_id,
        fetched: payload_fetch,
        fetch_failed,
        finished,
        groups,
        total,
        unchanged: plan.unchanged as i64,
        adopted: plan.adopted as i64,
        config_entries: plan.config_entries as i64,
        foreign_entries: plan.foreign_entries as i64,
        notes,
    })
}

pub async fn page(State(state): State<AppState>, chrome: Chrome) -> PageResult<PlanPage> {
    let pool = &state.db;
    let done = views::latest_done_job(pool, "plan").await?;
    let plan = done.as_ref().and_then(|job| {
        let fetch = matches!(job.request(), Ok(JobRequest::Plan { fetch: true }));
        plan_view(job.id, fetch, Stamp::opt(job.finished_at.as_deref()), &job.result.as_ref()?.0)
    });
    let pending =
        views::latest_job(pool, "plan").await?.filter(|latest| done.as_ref().is_none_or(|d| latest.id > d.id)).map(
            |job| (job.id, Badge::outcome(&job.status), job.error.clone().or(job.progress.clone()).unwrap_or_default()),
        );
    let last_apply = views::latest_job(pool, JobRequest::ApplyPlan { plan_job_id: 0 }.kind()).await?;
    let applied_by = last_apply
        .filter(|apply| apply.status == "done")
        .filter(|apply| matches!(apply.request(), Ok(JobRequest::ApplyPlan { plan_job_id }) if done.as_ref().is_some_and(|d| d.id == plan_job_id)))
        .map(|apply| apply.id);
    let appliable = match (&done, &pending, applied_by) {
        (Some(job), None, None) => plan_to_apply(job).ok().map(|p| p.operation_count()),
        _ => None,
    };
    Ok(PlanPage { chrome, plan, pending, appliable, applied_by })
}

pub async fn apply(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    let job =
        jobs::get(&state.db, id).await?.ok_or_else(|| PageError::not_found(format!("job {id} does not exist")))?;
    plan_to_apply(&job).map_err(PageError::conflict)?;
    start(&state, JobRequest::ApplyPlan { plan_job_id: id }).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PlanForm {
    fetch: Option<String>,
}

pub async fn compute(State(state): State<AppState>, Form(input): Form<PlanForm>) -> PageResult<Redirect> {
    start(&state, JobRequest::Plan { fetch: form::checked(&input.fetch) }).await
}
