//! `/api/models…`: search, one model, the operator's overrides, raw upstream metadata, the
//! refresh/push actions, and the reset.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::db::listing::{self, ModelList, ModelSort};
use shared::db::models::{self, ModelStatus};
use shared::db::providers;
use shared::jobs::JobRequest;
use shared::listing::{Direction, PastTheEnd};
use shared::model::{Model, Overrides};
use shared::provider::Provider;
use shared::status::Shown;
use shared::types::{OllamaMode, Pricing, ProviderType};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::input::{Input, Path, Query, lenient};
use super::jobs::{self, Wait};
use super::{Detail, PricingDoc, redact};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one, patch))
        .routes(routes!(get_params, put_params, patch_params))
        .routes(routes!(raw))
        .routes(routes!(refresh))
        .routes(routes!(push))
        .routes(routes!(push_all))
        .routes(routes!(reset_all))
}

/// A model as the API shows it: the database columns, its provider, and its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub id: i64,
    pub model_id: String,
    pub provider_id: i64,
    pub provider_name: Option<String>,
    pub provider_type: Option<&'static str>,
    /// The LiteLLM `model_name` (with the provider's prefix).
    pub display_name: Option<String>,
    /// `synced` (in sync), `pending`, `error`, `orphaned`, `disabled` or `excluded`.
    #[schema(value_type = String)]
    pub status: ModelStatus,
    /// What goes with the status: the setting that excludes it, the fields that differ, the
    /// error of the last operation, or "still in LiteLLM; the next push removes it".
    pub status_detail: Option<String>,
    pub model_type: Option<String>,
    pub context_window: Option<i64>,
    pub max_input_tokens: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
    pub capabilities: Vec<String>,
    pub system_tags: Vec<String>,
    /// The LiteLLM `model_info` fields derived from upstream.
    pub derived_info: Value,
    #[schema(value_type = Option<PricingDoc>)]
    pub upstream_pricing: Option<Pricing>,
    pub user_params: Option<Value>,
    pub user_tags: Option<Vec<String>>,
    pub access_groups: Option<Vec<String>>,
    #[schema(value_type = Option<PricingDoc>)]
    pub pricing_override: Option<Pricing>,
    pub ollama_mode: Option<&'static str>,
    pub sync_enabled: bool,
    pub user_modified: bool,
    pub is_orphaned: bool,
    pub orphaned_at: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    /// The LiteLLM deployment id this model owns.
    pub litellm_model_id: Option<String>,
    /// For a compat alias: its target.
    pub mapped_provider_id: Option<i64>,
    pub mapped_model_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl ModelView {
    pub fn new(model: Model, shown: Shown, provider: Option<&Provider>) -> Self {
        Self {
            id: model.id,
            provider_id: model.provider_id,
            provider_name: provider.map(|p| p.name.clone()),
            provider_type: provider.map(|p| p.kind.as_str()),
            display_name: provider.map(|p| shared::desired::model_name(p, &model.model_id)),
            status: shown.status,
            status_detail: shown.detail,
            model_type: model.model_type,
            context_window: model.context_window,
            max_input_tokens: model.max_input_tokens,
            max_output_tokens: model.max_output_tokens,
            max_tokens: model.max_tokens,
            capabilities: model.capabilities,
            system_tags: model.system_tags,
            derived_info: Value::Object(model.derived_info),
            upstream_pricing: model.upstream_pricing,
            pricing_override: model.pricing_override.filter(|p| !p.is_empty()),
            user_params: model.user_params.map(|p| redact(Value::Object(p))),
            user_tags: model.user_tags,
            access_groups: model.access_groups,
            ollama_mode: model.ollama_mode.map(OllamaMode::as_str),
            sync_enabled: model.sync_enabled,
            user_modified: model.user_modified,
            is_orphaned: model.is_orphaned,
            orphaned_at: model.orphaned_at,
            first_seen: model.first_seen,
            last_seen: model.last_seen,
            litellm_model_id: model.litellm_model_id,
            mapped_provider_id: model.mapped_provider_id,
            mapped_model_id: model.mapped_model_id,
            created_at: model.created_at,
            updated_at: model.updated_at,
            model_id: model.model_id,
        }
    }
}

pub async fn find(state: &AppState, id: i64) -> ApiResult<Model> {
    models::get(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no model {id}")))
}

async fn view(state: &AppState, model: Model) -> ApiResult<ModelView> {
    let shown = models::status_detail(&state.db, model.id).await?.map(models::StatusDetail::shown);
    let shown = shown.unwrap_or(Shown { status: ModelStatus::Pending, detail: None });
    let provider = providers::get(&state.db, model.provider_id).await?;
    Ok(ModelView::new(model, shown, provider.as_ref()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Search {
    /// Case-insensitive part of the model id.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub q: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub provider_id: Option<i64>,
    /// `vision`, `tools`, `embedding`, `thinking`, …
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub capability: Option<String>,
    /// `synced` (in sync), `pending`, `error`, `orphaned`, `disabled` or `excluded`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub status: Option<String>,
    /// 1-based.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub page: Option<i64>,
    /// 1–500, default 50 (larger sizes are clamped to 500).
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    #[param(value_type = Option<i64>)]
    pub per_page: Option<i64>,
    /// `provider` (the default: provider name, then model id), `name` (model id), `model_name`
    /// (LiteLLM's name), `mode`, `context`, `status` or `last_seen`; names in natural order
    /// (`m2` before `m10`), over the whole filtered list.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub sort: Option<String>,
    /// `asc` (the default) or `desc`.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub dir: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelPageView {
    pub items: Vec<ModelView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

fn parse_status(status: &str) -> ApiResult<ModelStatus> {
    serde_json::from_value(Value::String(status.trim().to_ascii_lowercase())).map_err(|_| {
        let known: Vec<&str> = ModelStatus::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::bad_request(format!("invalid query: unknown status {status:?} ({})", known.join(", ")))
    })
}

/// Searches models (`{items, total, page, per_page}`), sorted by `sort` (by default provider, then
/// model id); a page past the last is empty.
#[utoipa::path(get, path = "/api/models", tag = "models", params(Search),
    responses((status = 200, body = ModelPageView), (status = 400, body = Detail)))]
async fn list(State(state): State<AppState>, Query(search): Query<Search>) -> ApiResult<Json<ModelPageView>> {
    let status = search.status.as_deref().filter(|s| !s.trim().is_empty()).map(parse_status).transpose()?;
    if let Some(q) = &search.q {
        shared::limits::model_id("q", q).map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    }
    let sort = match search.sort.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => ModelSort::default(),
        Some(text) => ModelSort::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!("invalid query: unknown sort {text:?} ({})", ModelSort::names()))
        })?,
    };
    let direction = match search.dir.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Direction::default(),
        Some(text) => Direction::parse(text)
            .ok_or_else(|| ApiError::bad_request(format!("invalid query: unknown dir {text:?} (asc, desc)")))?,
    };
    let query = ModelList {
        q: search.q,
        provider_id: search.provider_id,
        capability: search.capability,
        status,
        sort,
        direction,
        page: search.page,
        per_page: search.per_page,
        past_the_end: PastTheEnd::Empty,
    };
    let found = listing::models(&state.db, &query).await?;
    let providers: HashMap<i64, Provider> = providers::list(&state.db).await?.into_iter().map(|p| (p.id, p)).collect();
    let items = found
        .items
        .into_iter()
        .map(|listed| {
            let provider = providers.get(&listed.model.provider_id);
            let shown = Shown { status: listed.status, detail: listed.status_detail };
            ModelView::new(listed.model, shown, provider)
        })
        .collect();
    let total = i64::try_from(found.total).unwrap_or(i64::MAX);
    Ok(Json(ModelPageView { items, total, page: found.window.page, per_page: found.window.per_page }))
}

#[utoipa::path(get, path = "/api/models/{id}", tag = "models", params(("id" = i64, Path)),
    responses((status = 200, body = ModelView), (status = 404, body = Detail)))]
async fn get_one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<ModelView>> {
    let model = find(&state, id).await?;
    Ok(Json(view(&state, model).await?))
}

/// The operator's settings of a model. Absent fields are kept; `null` (or an empty form field)
/// clears one. `params` and `tags` are accepted for `user_params` and `user_tags` (the Python
/// tool's names).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OverridesInput {
    /// Extra LiteLLM params (an object; a form sends it as JSON text).
    #[serde(default, alias = "params", deserialize_with = "lenient::patch_object")]
    #[schema(value_type = Option<Object>, nullable)]
    pub user_params: Option<Option<Map<String, Value>>>,
    /// A list, or comma-separated text.
    #[serde(default, alias = "tags", deserialize_with = "lenient::patch_list")]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub user_tags: Option<Option<Vec<String>>>,
    /// A list, or comma-separated text; empty follows the provider's groups.
    #[serde(default, deserialize_with = "lenient::patch_list")]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub access_groups: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "lenient::patch_pricing")]
    #[schema(value_type = Option<PricingDoc>, nullable)]
    pub pricing_override: Option<Option<Pricing>>,
    /// Form alternative to `pricing_override`.
    #[serde(default, deserialize_with = "lenient::patch_f64")]
    #[schema(value_type = Option<f64>)]
    pub pricing_input_cost_per_token: Option<Option<f64>>,
    /// Form alternative to `pricing_override`.
    #[serde(default, deserialize_with = "lenient::patch_f64")]
    #[schema(value_type = Option<f64>)]
    pub pricing_output_cost_per_token: Option<Option<f64>>,
    /// `ollama_chat`, `ollama` or `openai`; empty follows the provider.
    #[serde(default, deserialize_with = "lenient::patch_enum")]
    #[schema(value_type = Option<String>, nullable)]
    pub ollama_mode: Option<Option<OllamaMode>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub sync_enabled: Option<bool>,
}

impl OverridesInput {
    fn into_overrides(self) -> ApiResult<Overrides> {
        let pricing_override =
            if self.pricing_input_cost_per_token.is_none() && self.pricing_output_cost_per_token.is_none() {
                self.pricing_override
            } else {
                let input = self.pricing_input_cost_per_token.flatten();
                let output = self.pricing_output_cost_per_token.flatten();
                if input.is_some_and(|p| p < 0.0) || output.is_some_and(|p| p < 0.0) {
                    return Err(invalid("prices must not be negative"));
                }
                Some(Some(Pricing { input_cost_per_token: input, output_cost_per_token: output }))
            };
        let empty_to_none = |list: Option<Option<Vec<String>>>| list.map(|l| l.filter(|l| !l.is_empty()));
        let overrides = Overrides {
            user_params: self.user_params.map(|p| p.filter(|p| !p.is_empty())),
            user_tags: empty_to_none(self.user_tags),
            access_groups: empty_to_none(self.access_groups),
            pricing_override: pricing_override.map(|p| p.filter(|p| !p.is_empty())),
            ollama_mode: self.ollama_mode,
            sync_enabled: self.sync_enabled,
        };
        overrides.check().map_err(invalid)?;
        Ok(overrides)
    }
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
}

async fn apply(state: &AppState, id: i64, overrides: Overrides) -> ApiResult<ModelView> {
    if !models::set_overrides(&state.db, id, &overrides).await? {
        return Err(ApiError::not_found(format!("no model {id}")));
    }
    let model = find(state, id).await?;
    view(state, model).await
}

/// Sets the operator's overrides (survive every sync).
#[utoipa::path(patch, path = "/api/models/{id}", tag = "models", params(("id" = i64, Path)),
    request_body(content((OverridesInput = "application/json"), (OverridesInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = ModelView), (status = 404, body = Detail), (status = 422, body = Detail)))]
async fn patch(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<OverridesInput>,
) -> ApiResult<Json<ModelView>> {
    let overrides = input.into_overrides()?;
    Ok(Json(apply(&state, id, overrides).await?))
}

/// The model's `user_params` object (`{}` when none).
#[utoipa::path(get, path = "/api/models/{id}/params", tag = "models", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = Detail)))]
async fn get_params(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let model = find(&state, id).await?;
    Ok(Json(redact(Value::Object(model.user_params.unwrap_or_default()))))
}

/// Replaces `user_params` with the body (an object; `{}` or `null` clears them). Answers the new object.
#[utoipa::path(put, path = "/api/models/{id}/params", tag = "models", params(("id" = i64, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object), (status = 404, body = Detail), (status = 422, body = Detail)))]
async fn put_params(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(params): Input<Option<Map<String, Value>>>,
) -> ApiResult<Json<Value>> {
    let overrides = Overrides { user_params: Some(params.filter(|p| !p.is_empty())), ..Overrides::default() };
    overrides.check().map_err(invalid)?;
    let view = apply(&state, id, overrides).await?;
    Ok(Json(view.user_params.unwrap_or_else(|| Value::Object(Map::new()))))
}

/// The Python tool's form: `{"params", "tags", "access_groups", "sync_enabled"}` (any of them).
#[utoipa::path(method(patch, post), path = "/api/models/{id}/params", tag = "models", params(("id" = i64, Path)),
    request_body(content((OverridesInput = "application/json"), (OverridesInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = ModelView), (status = 404, body = Detail), (status = 422, body = Detail)))]
async fn patch_params(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<OverridesInput>,
) -> ApiResult<Json<ModelView>> {
    let overrides = input.into_overrides()?;
    Ok(Json(apply(&state, id, overrides).await?))
}

/// The slimmed upstream answer the model was derived from.
#[utoipa::path(get, path = "/api/models/{id}/raw", tag = "models", params(("id" = i64, Path)),
    responses((status = 200, body = Object), (status = 404, body = Detail)))]
async fn raw(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let raw =
        models::raw_metadata(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no model {id}")))?;
    Ok(Json(redact(raw)))
}

/// Queues a re-read of one model's details from its provider.
#[utoipa::path(post, path = "/api/models/{id}/refresh", tag = "models", params(("id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView),
              (status = 400, body = Detail), (status = 404, body = Detail)))]
async fn refresh(State(state): State<AppState>, Path(id): Path<i64>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    let model = find(&state, id).await?;
    let provider = providers::get(&state.db, model.provider_id).await?;
    if provider.is_some_and(|p| p.kind == ProviderType::Compat) {
        return Err(ApiError::bad_request(format!(
            "{} is a compat alias: refresh its target model instead",
            model.model_id
        )));
    }
    jobs::enqueue(&state, JobRequest::RefreshModel { model_id: id }, &wait).await
}

/// Queues a push of one model to LiteLLM.
#[utoipa::path(post, path = "/api/models/{id}/push", tag = "models", params(("id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView), (status = 404, body = Detail)))]
async fn push(State(state): State<AppState>, Path(id): Path<i64>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    find(&state, id).await?;
    jobs::enqueue(&state, JobRequest::PushModel { model_id: id }, &wait).await
}

/// Queues a push of the whole database to LiteLLM.
#[utoipa::path(post, path = "/api/models/push-all", tag = "models", params(Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView)))]
async fn push_all(State(state): State<AppState>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    jobs::enqueue(&state, JobRequest::PushAll, &wait).await
}

/// `?confirm=true` (or `{"confirm": true}`), and what to reset.
#[derive(Debug, Default, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct Reset {
    /// Must be true: the reset cannot be undone.
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub confirm: Option<bool>,
    /// `models` (default, as the Python tool: delete every discovered model; the next fetch finds
    /// them again without overrides) or `overrides` (keep the models, clear every override).
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub scope: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetDone {
    pub status: &'static str,
    pub message: String,
    pub scope: &'static str,
    /// Models deleted (scope `models`) or models whose overrides were cleared (scope `overrides`).
    pub affected: u64,
}

/// Resets the models table. Compat aliases are kept. Needs `confirm`.
#[utoipa::path(post, path = "/api/models/db/reset-all", tag = "models", params(Reset),
    request_body(content((Reset = "application/json"), (Reset = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = ResetDone), (status = 400, body = Detail)))]
async fn reset_all(
    State(state): State<AppState>,
    Query(query): Query<Reset>,
    Input(body): Input<Reset>,
) -> ApiResult<Json<ResetDone>> {
    if query.confirm != Some(true) && body.confirm != Some(true) {
        return Err(ApiError::bad_request(
            "this deletes every discovered model (and with them every override); \
             confirm with ?confirm=true or {\"confirm\": true} (scope=overrides keeps the models)",
        ));
    }
    let scope = body.scope.or(query.scope).map(|s| s.trim().to_ascii_lowercase());
    let done = match scope.as_deref() {
        None | Some("") | Some("models") => {
            let deleted = models::delete_discovered(&state.db).await?;
            ResetDone {
                status: "reset",
                message: format!("deleted {deleted} models; the next fetch finds them again"),
                scope: "models",
                affected: deleted,
            }
        }
        Some("overrides") => {
            let cleared = models::clear_all_overrides(&state.db).await?;
            ResetDone {
                status: "reset",
                message: format!("cleared the overrides of {cleared} models"),
                scope: "overrides",
                affected: cleared,
            }
        }
        Some(other) => return Err(ApiError::bad_request(format!("unknown scope {other:?} (models or overrides)"))),
    };
    tracing::warn!(scope = done.scope, affected = done.affected, "models reset");
    Ok(Json(done))
}
