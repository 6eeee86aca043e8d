//! What the operator asks when something looks wrong: `/api/diagnostics` (worker, schema,
//! counts, queue, last runs), `/api/sync-runs` (history) and `/api/plan` (a dry run).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::db::sync_runs::{self, SyncRun};
use shared::db::{jobs as job_table, models, providers, views};
use shared::jobs::JobRequest;
use shared::types::ProviderType;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{Path, Query, lenient};
use super::jobs::{self, JobView, Wait};
use super::{Detail, redact};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::status::{self, WorkerSummary};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(diagnostics))
        .routes(routes!(history))
        .routes(routes!(plan_latest, plan_now))
        .routes(routes!(plan_apply))
}

/// One provider fetch/sync or one LiteLLM push.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    pub id: i64,
    pub provider_id: Option<i64>,
    pub provider_name: Option<String>,
    /// `fetch`, `sync` or `push`.
    pub kind: String,
    /// What started it (`job`, `schedule`, `cli`, …).
    pub trigger: String,
    pub job_id: Option<i64>,
    /// `running`, `ok`, `warning` or `failed`.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub models_seen: i64,
    pub added: i64,
    pub updated: i64,
    pub orphaned: i64,
    pub unorphaned: i64,
    pub litellm_created: i64,
    pub litellm_updated: i64,
    pub litellm_deleted: i64,
    pub litellm_failed: i64,
    pub message: Option<String>,
}

impl From<SyncRun> for RunView {
    fn from(run: SyncRun) -> Self {
        Self {
            id: run.id,
            provider_id: run.provider_id,
            provider_name: run.provider_name,
            kind: run.kind,
            trigger: run.trigger,
            job_id: run.job_id,
            status: run.status,
            started_at: run.started_at,
            finished_at: run.finished_at,
            models_seen: run.models_seen,
            added: run.added,
            updated: run.updated,
            orphaned: run.orphaned,
            unorphaned: run.unorphaned,
            litellm_created: run.litellm_created,
            litellm_updated: run.litellm_updated,
            litellm_deleted: run.litellm_deleted,
            litellm_failed: run.litellm_failed,
            message: run.message,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SchemaView {
    /// Highest applied migration (`null`: not migrated yet).
    pub applied: Option<i64>,
    /// Highest migration this binary knows.
    pub known: i64,
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelCounts {
    pub total: i64,
    pub synced: i64,
    pub pending: i64,
    pub error: i64,
    pub orphaned: i64,
    pub disabled: i64,
    pub excluded: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderCounts {
    /// Upstream providers (the compat-alias holder is not one).
    pub total: usize,
    pub sync_enabled: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SnapshotView {
    pub taken_at: Option<String>,
    pub entries: usize,
    pub owned: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Diagnostics {
    pub version: &'static str,
    pub worker: WorkerSummary,
    pub schema: SchemaView,
    pub models: ModelCounts,
    pub providers: ProviderCounts,
    /// Jobs queued or running.
    pub queue_depth: i64,
    pub litellm_configured: bool,
    pub litellm_snapshot: SnapshotView,
    /// The latest finished fetch or sync of each provider.
    pub last_runs: Vec<RunView>,
}

#[utoipa::path(get, path = "/api/diagnostics", tag = "status", responses((status = 200, body = Diagnostics)))]
async fn diagnostics(State(state): State<AppState>) -> ApiResult<Json<Diagnostics>> {
    let pool = &state.db;
    let worker = status::worker_summary(pool).await?;
    let schema = state.db.schema_status().await?;
    let counts = models::status_counts(pool).await?;
    let upstreams: Vec<_> =
        providers::list(pool).await?.into_iter().filter(|p| p.kind != ProviderType::Compat).collect();
    let entries = views::litellm_entries(pool).await?;
    let mut last_runs: Vec<RunView> =
        sync_runs::last_per_provider(pool).await?.into_iter().map(RunView::from).collect();
    last_runs.sort_by(|a, b| a.provider_name.cmp(&b.provider_name));
    Ok(Json(Diagnostics {
        version: env!("CARGO_PKG_VERSION"),
        worker,
        schema: SchemaView { applied: schema.applied, known: schema.known, current: schema.is_current() },
        models: ModelCounts {
            total: counts.total,
            synced: counts.synced,
            pending: counts.pending,
            error: counts.error,
            orphaned: counts.orphaned,
            disabled: counts.disabled,
            excluded: counts.excluded,
        },
        providers: ProviderCounts {
            total: upstreams.len(),
            sync_enabled: upstreams.iter().filter(|p| p.sync_enabled).count(),
        },
        queue_depth: job_table::queue_depth(pool).await?,
        litellm_configured: shared::db::config::get(pool).await?.litellm_url().is_some(),
        litellm_snapshot: SnapshotView {
            taken_at: views::snapshot_taken_at(pool).await?,
            entries: entries.len(),
            owned: entries.iter().filter(|e| e.owned).count(),
        },
        last_runs,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// 1-based.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub page: Option<i64>,
    /// 1–500, default 50.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RunPage {
    pub items: Vec<RunView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// Sync history, newest first.
#[utoipa::path(get, path = "/api/sync-runs", tag = "status", params(Paging),
    responses((status = 200, body = RunPage), (status = 400, body = Detail)))]
async fn history(State(state): State<AppState>, Query(paging): Query<Paging>) -> ApiResult<Json<RunPage>> {
    let per_page = paging.per_page.unwrap_or(50).clamp(1, 500);
    let page = shared::limits::page(paging.page);
    let offset = (page - 1).saturating_mul(per_page);
    let items = sync_runs::recent(&state.db, per_page, offset).await?.into_iter().map(RunView::from).collect();
    let total = views::count_sync_runs(&state.db).await?;
    Ok(Json(RunPage { items, total, page, per_page }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanOptions {
    /// Fetch every enabled provider first (default false: plan from the database as it is).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub fetch: Option<bool>,
}

/// Queues a dry run: the plan of LiteLLM operations a push would make, applied to nothing.
#[utoipa::path(post, path = "/api/plan", tag = "status", params(PlanOptions, Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = JobView), (status = 400, body = Detail)))]
async fn plan_now(
    State(state): State<AppState>,
    Query(options): Query<PlanOptions>,
    Query(wait): Query<Wait>,
) -> ApiResult<Response> {
    jobs::enqueue(&state, JobRequest::Plan { fetch: options.fetch.unwrap_or(false) }, &wait).await
}

/// Queues the apply of a finished plan job: the worker computes the plan again and, if it is the
/// same, writes exactly its operations; if LiteLLM or the settings changed since, the job fails
/// and writes nothing.
#[utoipa::path(post, path = "/api/plan/{job_id}/apply", tag = "status", params(("job_id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = JobView), (status = 404, body = Detail),
        (status = 409, body = Detail)))]
async fn plan_apply(
    State(state): State<AppState>,
    Path(job_id): Path<i64>,
    Query(wait): Query<Wait>,
) -> ApiResult<Response> {
    let job =
        job_table::get(&state.db, job_id).await?.ok_or_else(|| ApiError::not_found(format!("no job {job_id}")))?;
    shared::job_results::plan_to_apply(&job).map_err(ApiError::conflict)?;
    jobs::enqueue(&state, JobRequest::ApplyPlan { plan_job_id: job_id }, &wait).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    pub job_id: i64,
    /// `done` or `failed`.
    pub status: String,
    pub finished_at: Option<String>,
    /// The plan (`push.plan.operations`, each with its reason), or the fetch-then-plan report.
    pub result: Option<Value>,
    pub error: Option<String>,
}

/// The latest finished plan (404 when none has run yet).
#[utoipa::path(get, path = "/api/plan", tag = "status",
    responses((status = 200, body = PlanView), (status = 404, body = Detail)))]
async fn plan_latest(State(state): State<AppState>) -> ApiResult<Json<PlanView>> {
    let job = job_table::latest_finished(&state.db, JobRequest::Plan { fetch: false }.kind())
        .await?
        .ok_or_else(|| ApiError::not_found("no plan yet: POST /api/plan to compute one"))?;
    Ok(Json(PlanView {
        job_id: job.id,
        status: job.status,
        finished_at: job.finished_at,
        result: job.result.map(|r| redact(r.0)),
        error: job.error,
    }))
}
