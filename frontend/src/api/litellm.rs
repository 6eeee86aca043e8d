//! `/litellm/models…`: what LiteLLM held at the worker's last look, and deleting entries
//! litellm-updater owns (a job: only the worker talks to LiteLLM).

use std::collections::HashSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::db::views;
use shared::jobs::JobRequest;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{Input, Query, lenient};
use super::jobs::{self, Wait};
use super::{Detail, redact};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(delete_one)).routes(routes!(delete_bulk))
}

/// One LiteLLM deployment: LiteLLM's own fields (`model_name`, `litellm_params`, `model_info`)
/// plus who owns it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryView {
    /// `model_info.id`.
    pub id: Option<String>,
    /// Whether litellm-updater may change or delete it.
    pub owned: bool,
    /// The model (row id) this deployment belongs to, if any.
    pub model_row_id: Option<i64>,
    pub provider_name: Option<String>,
    #[serde(flatten)]
    #[schema(ignore)]
    pub entry: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LitellmModels {
    /// When the worker last read LiteLLM; `null` if it never has.
    pub taken_at: Option<String>,
    pub total: usize,
    pub owned: usize,
    pub models: Vec<EntryView>,
}

#[utoipa::path(get, path = "/litellm/models", tag = "litellm", responses((status = 200, body = LitellmModels)))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<LitellmModels>> {
    let taken_at = views::snapshot_taken_at(&state.db).await?;
    let entries = views::litellm_entries(&state.db).await?;
    let models: Vec<EntryView> = entries
        .into_iter()
        .map(|e| EntryView {
            id: e.litellm_id,
            owned: e.owned,
            model_row_id: e.model_row_id,
            provider_name: e.provider_name,
            entry: match redact(e.entry.0) {
                Value::Object(object) => object,
                _ => Map::new(),
            },
        })
        .collect();
    let owned = models.iter().filter(|m| m.owned).count();
    Ok(Json(LitellmModels { taken_at, total: models.len(), owned, models }))
}

/// `{"id": ...}` (or the Python tool's form field `model_id`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteOne {
    #[serde(default, alias = "model_id", deserialize_with = "lenient::opt_string")]
    pub id: Option<String>,
}

/// `{"ids": [...]}` (or the Python tool's `model_ids`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteMany {
    #[serde(default, alias = "model_ids", deserialize_with = "lenient::opt_list")]
    #[schema(value_type = Vec<String>)]
    pub ids: Option<Vec<String>>,
}

/// Queues the deletion of `ids`, refusing any the snapshot shows belong to someone else.
async fn delete(state: &AppState, ids: Vec<String>, wait: &Wait) -> ApiResult<Response> {
    let mut seen = HashSet::new();
    let ids: Vec<String> =
        ids.into_iter().map(|id| id.trim().to_owned()).filter(|id| !id.is_empty() && seen.insert(id.clone())).collect();
    if ids.is_empty() {
        return Err(ApiError::bad_request("give the LiteLLM id (model_info.id) of at least one entry to delete"));
    }
    let foreign: HashSet<String> = views::litellm_entries(&state.db)
        .await?
        .into_iter()
        .filter(|e| !e.owned)
        .filter_map(|e| e.litellm_id)
        .collect();
    let refused: Vec<&str> = ids.iter().filter(|id| foreign.contains(*id)).map(String::as_str).collect();
    if !refused.is_empty() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "not owned by litellm-updater (config-file or someone else's entries are never deleted): {}",
                refused.join(", ")
            ),
        ));
    }
    jobs::enqueue(state, JobRequest::DeleteLitellmEntries { ids }, wait).await
}

/// Queues the deletion of one owned LiteLLM entry.
#[utoipa::path(post, path = "/litellm/models/delete", tag = "litellm", params(Wait),
    request_body(content((DeleteOne = "application/json"), (DeleteOne = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView),
              (status = 400, body = Detail), (status = 403, body = Detail)))]
async fn delete_one(
    State(state): State<AppState>,
    Query(wait): Query<Wait>,
    Input(input): Input<DeleteOne>,
) -> ApiResult<Response> {
    delete(&state, input.id.into_iter().collect(), &wait).await
}

/// Queues the deletion of several owned LiteLLM entries.
#[utoipa::path(post, path = "/litellm/models/delete/bulk", tag = "litellm", params(Wait),
    request_body(content((DeleteMany = "application/json"), (DeleteMany = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView),
              (status = 400, body = Detail), (status = 403, body = Detail)))]
async fn delete_bulk(
    State(state): State<AppState>,
    Query(wait): Query<Wait>,
    Input(input): Input<DeleteMany>,
) -> ApiResult<Response> {
    delete(&state, input.ids.unwrap_or_default(), &wait).await
}
