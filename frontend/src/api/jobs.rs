//! Jobs: how every action answers (`202` + job id, or the finished job with `?wait=`), and
//! `GET /api/jobs[/{id}]`.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::db::jobs::{self, JobRecord};
use shared::job_results::StoredResult;
use shared::jobs::JobRequest;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{Path, Query, lenient};
use super::redact;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const MAX_WAIT_SECONDS: f64 = 120.0;
const POLL: Duration = Duration::from_millis(100);

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(get_one))
}

/// `?wait=<seconds>`: block until the job ends, at most this long.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Wait {
    /// Seconds (0–120) to wait for the job to end before answering.
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    #[param(value_type = Option<f64>, minimum = 0, maximum = 120)]
    pub wait: Option<f64>,
}

impl Wait {
    fn duration(&self) -> ApiResult<Option<Duration>> {
        match self.wait {
            None => Ok(None),
            Some(seconds) if (0.0..=MAX_WAIT_SECONDS).contains(&seconds) => {
                Ok(Some(Duration::from_secs_f64(seconds)).filter(|d| !d.is_zero()))
            }
            Some(seconds) => Err(ApiError::bad_request(format!(
                "wait must be between 0 and {MAX_WAIT_SECONDS} seconds, got {seconds}"
            ))),
        }
    }
}

/// The answer to an action: the job is queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub job_id: i64,
    /// Always `queued`.
    pub status: &'static str,
    pub kind: &'static str,
    /// Where to follow the job.
    pub url: String,
}

/// A job as the API shows it (an inline API key is never shown).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub job_id: i64,
    pub id: i64,
    pub kind: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    pub url: String,
    /// The step a running job is at.
    pub progress: Option<String>,
    /// What the job produced (shown even when it failed).
    pub result: Option<Value>,
    /// The result in one line of plain words (the same line the job page shows).
    pub summary: Option<String>,
    /// Why it failed, in plain words.
    pub error: Option<String>,
    pub payload: Value,
    pub attempts: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<JobRecord> for JobView {
    fn from(job: JobRecord) -> Self {
        let mut payload = job.payload.0;
        if let Some(object) = payload.as_object_mut() {
            object.remove("api_key");
        }
        let result = job.result.map(|r| redact(r.0));
        let summary = result.as_ref().map(|r| StoredResult::read(r).summary());
        Self {
            job_id: job.id,
            id: job.id,
            url: job_url(job.id),
            kind: job.kind,
            status: job.status,
            progress: job.progress,
            result,
            summary,
            error: job.error,
            payload: redact(payload),
            attempts: job.attempts,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
        }
    }
}

fn job_url(id: i64) -> String {
    format!("/api/jobs/{id}")
}

/// Queues `request` and answers `202` — or, with `?wait=`, the job once it ended (`200`) or as it
/// stands when the wait ran out (`202`).
pub async fn enqueue(state: &AppState, request: JobRequest, wait: &Wait) -> ApiResult<Response> {
    let wait = wait.duration()?;
    let id = jobs::enqueue(&state.db, &request).await?;
    tracing::info!(job_id = id, kind = request.kind(), "job queued");
    match wait {
        Some(wait) => waited(state, id, wait).await,
        None => {
            let queued = Queued { job_id: id, status: "queued", kind: request.kind(), url: job_url(id) };
            Ok(with_location(StatusCode::ACCEPTED, id, Json(queued).into_response()))
        }
    }
}

async fn waited(state: &AppState, id: i64, wait: Duration) -> ApiResult<Response> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let job = jobs::get(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
        if job.is_finished() {
            return Ok((StatusCode::OK, Json(JobView::from(job))).into_response());
        }
        if tokio::time::Instant::now() + POLL > deadline {
            return Ok(with_location(StatusCode::ACCEPTED, id, Json(JobView::from(job)).into_response()));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn with_location(status: StatusCode, id: i64, mut response: Response) -> Response {
    *response.status_mut() = status;
    if let Ok(location) = HeaderValue::from_str(&job_url(id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Recent {
    /// How many of the newest jobs (default 50, at most 500).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub limit: Option<i64>,
}

/// The newest jobs first.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", params(Recent),
    responses((status = 200, body = [JobView]), (status = 400, body = super::Detail)))]
async fn list(state: axum::extract::State<AppState>, Query(query): Query<Recent>) -> ApiResult<Json<Vec<JobView>>> {
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    Ok(Json(jobs::recent(&state.db, limit).await?.into_iter().map(JobView::from).collect()))
}

/// One job; with `?wait=` block until it ends.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = i64, Path), Wait),
    responses(
        (status = 200, description = "The job (finished, or as it stands without `wait`)", body = JobView),
        (status = 202, description = "The wait ran out; the job as it stands", body = JobView),
        (status = 404, body = super::Detail)))]
async fn get_one(
    state: axum::extract::State<AppState>,
    Path(id): Path<i64>,
    Query(wait): Query<Wait>,
) -> ApiResult<Response> {
    let job = jobs::get(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no job {id}")))?;
    match wait.duration()? {
        Some(wait) if !job.is_finished() => waited(&state, id, wait).await,
        _ => Ok(Json(JobView::from(job)).into_response()),
    }
}
