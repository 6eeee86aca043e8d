//! `/jobs/{id}`: one action's status, progress and result. Every action button enqueues a job
//! and lands here; without JavaScript the page refreshes itself until the job ends.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::response::Redirect;
use shared::db::jobs::{self, JobRecord};
use shared::db::{models, providers};
use shared::job_results::StoredResult;
use shared::jobs::JobRequest;

use super::view::{Badge, Stamp, pretty_json};
use super::{Chrome, PageError, PageResult};
use crate::state::AppState;

/// Enqueues `request` and sends the browser to its job page.
pub async fn start(state: &AppState, request: JobRequest) -> PageResult<Redirect> {
    let id = jobs::enqueue(&state.db, &request).await?;
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
    /// The result in one line.
    pub summary: String,
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
            summary: stored_result(job).map(|r| r.summary()).unwrap_or_default(),
        }
    }
}

pub async fn provider_names(state: &AppState) -> PageResult<HashMap<i64, String>> {
    Ok(providers::list(&state.db).await?.into_iter().map(|p| (p.id, p.name)).collect())
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
        Ok(JobRequest::TestLitellm { base_url: Some(url), .. }) => {
            format!("Test LiteLLM connection to {}", super::view::display_url(&url))
        }
        Ok(JobRequest::TestLitellm { base_url: None, .. }) => "Test the saved LiteLLM connection".into(),
        Ok(JobRequest::Plan { fetch: true }) => "Fetch, then compute a dry-run plan".into(),
        Ok(JobRequest::Plan { fetch: false }) => "Compute a dry-run plan".into(),
        Ok(JobRequest::ApplyPlan { plan_job_id }) => format!("Apply plan #{plan_job_id}"),
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
        jobs::get(&state.db, id).await?.ok_or_else(|| PageError::not_found(format!("job {id} does not exist")))?;
    let names = provider_names(&state).await?;
    let model_name = match job.request() {
        Ok(JobRequest::RefreshModel { model_id } | JobRequest::PushModel { model_id }) => {
            models::get(&state.db, model_id).await?.map(|m| m.model_id)
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
        summary: result.map(|r| StoredResult::read(r).summary_lines()).unwrap_or_default(),
        result: result.map(pretty_json).unwrap_or_default(),
        plan_link: job.kind == "plan" && job.status == "done",
        job: row,
    })
}

/// A job's status badge: a job that ended `done` but reported warnings (a provider that failed
/// or answered with no models, a LiteLLM write that failed) is shown as a warning, not green.
fn outcome(job: &JobRecord) -> Badge {
    if job.status == "done" && stored_result(job).is_some_and(|r| r.has_warnings()) {
        Badge::new("warn", "done, with warnings")
    } else {
        Badge::outcome(&job.status)
    }
}

/// A job's stored result, typed (or kept raw when an earlier version wrote it).
pub fn stored_result(job: &JobRecord) -> Option<StoredResult> {
    job.result.as_ref().map(|r| StoredResult::read(&shared::secret::mask_json(r.0.clone())))
}
