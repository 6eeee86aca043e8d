//! `/api/providers…`: CRUD of upstream model servers (JSON or form, the Python tool's fields) and
//! their actions (fetch, sync, push, test), which become jobs.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::DbError;
use shared::db::models::{self, ModelQuery};
use shared::db::providers::{self, COMPAT_PROVIDER_NAME, NewProvider, ProviderChanges};
use shared::jobs::JobRequest;
use shared::provider::Provider;
use shared::types::{OllamaMode, Pricing, ProviderType};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::diagnostics::RunView;
use super::input::{Input, Path, Query, lenient};
use super::jobs::{self, Wait};
use super::models::ModelView;
use super::{Detail, PricingDoc};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::status;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(provider_models))
        .routes(routes!(set_sync))
        .routes(routes!(sync_now))
        .routes(routes!(fetch_now))
        .routes(routes!(push))
        .routes(routes!(sync_all))
        .routes(routes!(fetch_all))
        .routes(routes!(test_saved))
        .routes(routes!(test_unsaved))
        .routes(routes!(sync_everything))
}

/// A provider as the API shows it: the key is write-only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    pub id: i64,
    pub name: String,
    pub base_url: String,
    /// `ollama`, `openai` or `compat`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub api_key_set: bool,
    /// `••••` and the last four characters of a long key.
    pub api_key_masked: Option<String>,
    pub prefix: Option<String>,
    /// `ollama_chat`, `ollama` or `openai`.
    pub default_ollama_mode: &'static str,
    pub tags: Vec<String>,
    pub access_groups: Vec<String>,
    pub sync_enabled: bool,
    /// Per-provider interval; `null` follows the global one.
    pub sync_interval_seconds: Option<i64>,
    pub model_filter: Option<String>,
    pub model_filter_exclude: Option<String>,
    #[schema(value_type = Option<PricingDoc>)]
    pub pricing_override: Option<Pricing>,
    pub created_at: String,
    pub updated_at: String,
    /// The latest finished fetch or sync of this provider.
    pub last_sync: Option<RunView>,
}

impl ProviderView {
    pub fn new(provider: Provider, last_sync: Option<RunView>) -> Self {
        Self {
            id: provider.id,
            api_key_set: provider.api_key.is_some(),
            api_key_masked: provider.api_key.as_ref().map(|k| k.masked()),
            pricing_override: provider.pricing(),
            name: provider.name,
            base_url: provider.base_url,
            kind: provider.kind.as_str(),
            prefix: provider.prefix,
            default_ollama_mode: provider.default_ollama_mode.as_str(),
            tags: provider.tags,
            access_groups: provider.access_groups,
            sync_enabled: provider.sync_enabled,
            sync_interval_seconds: provider.sync_interval_seconds,
            model_filter: provider.model_filter,
            model_filter_exclude: provider.model_filter_exclude,
            created_at: provider.created_at,
            updated_at: provider.updated_at,
            last_sync,
        }
    }
}

/// A provider's fields, from JSON or a form. On create, `name`, `base_url` and `type` are required;
/// on update every field is optional and an absent one is kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ProviderInput {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub base_url: Option<String>,
    /// `ollama` or `openai`.
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_enum")]
    #[schema(value_type = Option<String>)]
    pub kind: Option<ProviderType>,
    /// Write-only. On update, empty or absent keeps the stored key and `null` removes it.
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub api_key: Option<Option<String>>,
    /// `true` removes the stored key (what a form sends instead of `null`).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub clear_api_key: Option<bool>,
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub prefix: Option<Option<String>>,
    /// `ollama_chat` (default), `ollama` or `openai`.
    #[serde(default, deserialize_with = "lenient::opt_enum")]
    #[schema(value_type = Option<String>)]
    pub default_ollama_mode: Option<OllamaMode>,
    /// A list, or comma-separated text.
    #[serde(default, deserialize_with = "lenient::patch_list")]
    #[schema(value_type = Option<Vec<String>>)]
    pub tags: Option<Option<Vec<String>>>,
    /// A list, or comma-separated text.
    #[serde(default, deserialize_with = "lenient::patch_list")]
    #[schema(value_type = Option<Vec<String>>)]
    pub access_groups: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub sync_enabled: Option<bool>,
    /// Empty or 0 follows the global interval; otherwise at least 30.
    #[serde(default, deserialize_with = "lenient::patch_i64")]
    #[schema(value_type = Option<i64>, nullable)]
    pub sync_interval_seconds: Option<Option<i64>>,
    /// Comma-separated, case-insensitive substrings a model id must contain (one of).
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub model_filter: Option<Option<String>>,
    /// Comma-separated, case-insensitive substrings that exclude a model id.
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub model_filter_exclude: Option<Option<String>>,
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
}

impl ProviderInput {
    /// The pricing override, from `pricing_override` or the form's two fields.
    fn pricing(&self) -> ApiResult<Option<Option<Pricing>>> {
        if self.pricing_input_cost_per_token.is_none() && self.pricing_output_cost_per_token.is_none() {
            return Ok(self.pricing_override);
        }
        let input = self.pricing_input_cost_per_token.flatten();
        let output = self.pricing_output_cost_per_token.flatten();
        if input.is_some_and(|p| p < 0.0) || output.is_some_and(|p| p < 0.0) {
            return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "prices must not be negative"));
        }
        let pricing = Pricing { input_cost_per_token: input, output_cost_per_token: output };
        Ok(Some(Some(pricing).filter(|p| !p.is_empty())))
    }

    fn api_key_change(&self) -> Option<Option<String>> {
        if self.clear_api_key == Some(true) { Some(None) } else { self.api_key.clone() }
    }

    fn into_new(self) -> ApiResult<NewProvider> {
        let missing = |what: &str| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{what} is required"));
        let name = self.name.clone().ok_or_else(|| missing("name"))?;
        let base_url = self.base_url.clone().ok_or_else(|| missing("base_url"))?;
        let kind = self.kind.ok_or_else(|| missing("type (ollama or openai)"))?;
        let mut new = NewProvider::new(name.trim(), kind, base_url.trim());
        new.pricing_override = self.pricing()?.flatten();
        new.api_key = self.api_key_change().flatten().filter(|k| !k.trim().is_empty());
        new.prefix = self.prefix.flatten();
        new.default_ollama_mode = self.default_ollama_mode.unwrap_or_default();
        new.tags = self.tags.flatten().unwrap_or_default();
        new.access_groups = self.access_groups.flatten().unwrap_or_default();
        new.sync_enabled = self.sync_enabled.unwrap_or(true);
        // 0 means "the global interval", which the schema stores as no override.
        new.sync_interval_seconds = self.sync_interval_seconds.flatten();
        new.model_filter = self.model_filter.flatten().filter(|f| !f.trim().is_empty());
        new.model_filter_exclude = self.model_filter_exclude.flatten().filter(|f| !f.trim().is_empty());
        new.validate().map_err(|detail| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail))?;
        new.sync_interval_seconds = new.sync_interval_seconds.filter(|s| *s != 0);
        Ok(new)
    }

    fn into_changes(self) -> ApiResult<ProviderChanges> {
        Ok(ProviderChanges {
            pricing_override: self.pricing()?,
            api_key: self.api_key_change(),
            name: self.name,
            base_url: self.base_url,
            kind: self.kind,
            prefix: self.prefix,
            default_ollama_mode: self.default_ollama_mode,
            tags: self.tags.map(Option::unwrap_or_default),
            access_groups: self.access_groups.map(Option::unwrap_or_default),
            sync_enabled: self.sync_enabled,
            sync_interval_seconds: self.sync_interval_seconds,
            model_filter: self.model_filter,
            model_filter_exclude: self.model_filter_exclude,
        })
    }
}

/// A taken name is a 409 that says which name.
fn name_conflict(name: Option<&str>) -> impl FnOnce(DbError) -> ApiError {
    let name = name.map(|n| n.trim().to_owned());
    move |error| match (error, name) {
        (DbError::Conflict(_), Some(name)) => ApiError::conflict(format!("a provider named {name:?} already exists")),
        (error, _) => error.into(),
    }
}

pub async fn find(state: &AppState, id: i64) -> ApiResult<Provider> {
    providers::get(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no provider {id}")))
}

/// A provider that can be fetched (not the compat-alias holder).
async fn fetchable(state: &AppState, id: i64, action: &str) -> ApiResult<Provider> {
    let provider = find(state, id).await?;
    if provider.kind == ProviderType::Compat {
        return Err(ApiError::bad_request(format!(
            "{} holds compat aliases and has no upstream to {action}; {action} the aliases' target providers",
            provider.name
        )));
    }
    Ok(provider)
}

async fn view(state: &AppState, provider: Provider) -> ApiResult<ProviderView> {
    let mut runs = status::last_runs(&state.db).await?;
    let last = runs.remove(&provider.id).map(RunView::from);
    Ok(ProviderView::new(provider, last))
}

/// Every provider (including `compat_models`, the alias holder), by name.
#[utoipa::path(get, path = "/api/providers", tag = "providers",
    responses((status = 200, body = [ProviderView])))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ProviderView>>> {
    let mut runs: HashMap<i64, _> = status::last_runs(&state.db).await?;
    let providers = providers::list(&state.db).await?;
    Ok(Json(
        providers
            .into_iter()
            .map(|p| {
                let last = runs.remove(&p.id).map(RunView::from);
                ProviderView::new(p, last)
            })
            .collect(),
    ))
}

/// Adds a provider (JSON or form).
#[utoipa::path(post, path = "/api/providers", tag = "providers",
    request_body(content((ProviderInput = "application/json"), (ProviderInput = "application/x-www-form-urlencoded"))),
    responses((status = 201, body = ProviderView), (status = 400, body = Detail), (status = 409, body = Detail),
              (status = 422, body = Detail)))]
async fn create(
    State(state): State<AppState>,
    Input(input): Input<ProviderInput>,
) -> ApiResult<(StatusCode, Json<ProviderView>)> {
    let new = input.into_new()?;
    let provider = providers::insert(&state.db, &new).await.map_err(name_conflict(Some(&new.name)))?;
    tracing::info!(provider = %provider.name, "provider added");
    Ok((StatusCode::CREATED, Json(ProviderView::new(provider, None))))
}

#[utoipa::path(get, path = "/api/providers/{id}", tag = "providers", params(("id" = i64, Path)),
    responses((status = 200, body = ProviderView), (status = 404, body = Detail)))]
async fn get_one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<ProviderView>> {
    let provider = find(&state, id).await?;
    Ok(Json(view(&state, provider).await?))
}

/// Changes the given fields (PATCH, or POST/PUT as the Python tool's forms did). An empty
/// `api_key` keeps the stored one.
#[utoipa::path(method(patch, post, put), path = "/api/providers/{id}", tag = "providers", params(("id" = i64, Path)),
    request_body(content((ProviderInput = "application/json"), (ProviderInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = ProviderView), (status = 404, body = Detail), (status = 409, body = Detail),
              (status = 422, body = Detail)))]
async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<ProviderInput>,
) -> ApiResult<Json<ProviderView>> {
    let name = input.name.clone();
    let changes = input.into_changes()?;
    let provider = providers::update(&state.db, id, &changes)
        .await
        .map_err(name_conflict(name.as_deref()))?
        .ok_or_else(|| ApiError::not_found(format!("no provider {id}")))?;
    Ok(Json(view(&state, provider).await?))
}

/// Deletes a provider and its models (LiteLLM entries go at the next push).
#[utoipa::path(delete, path = "/api/providers/{id}", tag = "providers", params(("id" = i64, Path)),
    responses((status = 200, body = super::Done), (status = 400, body = Detail), (status = 404, body = Detail)))]
async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<super::Done>> {
    let provider = find(&state, id).await?;
    if provider.name == COMPAT_PROVIDER_NAME {
        return Err(ApiError::bad_request(format!(
            "{COMPAT_PROVIDER_NAME} holds the compat aliases; delete aliases at /api/compat/models/{{id}}"
        )));
    }
    providers::delete(&state.db, id).await?;
    tracing::info!(provider = %provider.name, "provider deleted");
    Ok(Json(super::Done::new("deleted", format!("deleted provider {}", provider.name))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ModelsOfProvider {
    /// Include models the provider no longer lists (default false, as the Python tool).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[param(value_type = Option<bool>)]
    pub include_orphaned: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderModels {
    pub provider: ProviderView,
    pub models: Vec<ModelView>,
}

/// The provider's models (`{"provider", "models"}`).
#[utoipa::path(get, path = "/api/providers/{id}/models", tag = "providers",
    params(("id" = i64, Path), ModelsOfProvider),
    responses((status = 200, body = ProviderModels), (status = 404, body = Detail)))]
async fn provider_models(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(query): Query<ModelsOfProvider>,
) -> ApiResult<Json<ProviderModels>> {
    let provider = find(&state, id).await?;
    let include_orphaned = query.include_orphaned.unwrap_or(false);
    let mut models = Vec::new();
    let mut search =
        ModelQuery { provider_id: Some(id), per_page: Some(ModelQuery::MAX_PER_PAGE), ..Default::default() };
    for page in 1.. {
        search.page = Some(page);
        let found = models::search(&state.db, &search).await?;
        let done = found.items.len() < found.per_page as usize;
        models.extend(
            found
                .items
                .into_iter()
                .filter(|(m, _)| include_orphaned || !m.is_orphaned)
                .map(|(m, shown)| ModelView::new(m, shown, Some(&provider))),
        );
        if done {
            break;
        }
    }
    Ok(Json(ProviderModels { provider: view(&state, provider).await?, models }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SyncFlag {
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    #[schema(value_type = bool)]
    pub sync_enabled: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncFlagSet {
    pub status: &'static str,
    pub provider_id: i64,
    pub sync_enabled: bool,
}

/// Enables or disables automatic sync of a provider (`{"sync_enabled": bool}`).
#[utoipa::path(patch, path = "/api/providers/{id}/sync", tag = "providers", params(("id" = i64, Path)),
    request_body(content((SyncFlag = "application/json"), (SyncFlag = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = SyncFlagSet), (status = 400, body = Detail), (status = 404, body = Detail)))]
async fn set_sync(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<SyncFlag>,
) -> ApiResult<Json<SyncFlagSet>> {
    let enabled =
        input.sync_enabled.ok_or_else(|| ApiError::bad_request("sync_enabled is required (true or false)"))?;
    if !providers::set_sync_enabled(&state.db, id, enabled).await? {
        return Err(ApiError::not_found(format!("no provider {id}")));
    }
    Ok(Json(SyncFlagSet { status: "updated", provider_id: id, sync_enabled: enabled }))
}

/// Queues a sync (fetch, then push) of one provider.
#[utoipa::path(post, path = "/api/providers/{id}/sync-now", tag = "providers", params(("id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView),
              (status = 400, body = Detail), (status = 404, body = Detail)))]
async fn sync_now(State(state): State<AppState>, Path(id): Path<i64>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    fetchable(&state, id, "sync").await?;
    jobs::enqueue(&state, JobRequest::SyncProvider { provider_id: id }, &wait).await
}

/// Queues a fetch of one provider (into the database only).
#[utoipa::path(post, path = "/api/providers/{id}/fetch-now", tag = "providers", params(("id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView),
              (status = 400, body = Detail), (status = 404, body = Detail)))]
async fn fetch_now(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(wait): Query<Wait>,
) -> ApiResult<Response> {
    fetchable(&state, id, "fetch").await?;
    jobs::enqueue(&state, JobRequest::FetchProvider { provider_id: id }, &wait).await
}

/// Queues a push of one provider's models to LiteLLM.
#[utoipa::path(post, path = "/api/providers/{id}/push", tag = "providers", params(("id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView), (status = 404, body = Detail)))]
async fn push(State(state): State<AppState>, Path(id): Path<i64>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    find(&state, id).await?;
    jobs::enqueue(&state, JobRequest::PushProvider { provider_id: id }, &wait).await
}

/// Queues a sync of every enabled provider.
#[utoipa::path(post, path = "/api/providers/sync-all", tag = "providers", params(Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView)))]
async fn sync_all(State(state): State<AppState>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    jobs::enqueue(&state, JobRequest::SyncAll, &wait).await
}

/// The Python tool's "Sync now" button: queues a sync of every enabled provider.
#[utoipa::path(post, path = "/sync", tag = "providers", params(Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView)))]
async fn sync_everything(State(state): State<AppState>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    jobs::enqueue(&state, JobRequest::SyncAll, &wait).await
}

/// Queues a fetch of every enabled provider.
#[utoipa::path(post, path = "/api/providers/fetch-all", tag = "providers", params(Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView)))]
async fn fetch_all(State(state): State<AppState>, Query(wait): Query<Wait>) -> ApiResult<Response> {
    jobs::enqueue(&state, JobRequest::FetchAll, &wait).await
}

/// Queues a connection test of a saved provider.
#[utoipa::path(post, path = "/api/providers/{id}/test", tag = "providers", params(("id" = i64, Path), Wait),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView),
              (status = 400, body = Detail), (status = 404, body = Detail)))]
async fn test_saved(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(wait): Query<Wait>,
) -> ApiResult<Response> {
    fetchable(&state, id, "test").await?;
    let request =
        JobRequest::TestConnection { provider_id: Some(id), base_url: None, provider_type: None, api_key: None };
    jobs::enqueue(&state, request, &wait).await
}

/// Connection details to test before saving them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TestInput {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub base_url: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "lenient::opt_enum")]
    #[schema(value_type = Option<String>)]
    pub kind: Option<ProviderType>,
    /// Used for this test only; dropped from the job when it ends and never shown.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub api_key: Option<String>,
}

/// Queues a connection test of unsaved details (`base_url`, `type`, optional `api_key`).
#[utoipa::path(post, path = "/api/providers/test", tag = "providers", params(Wait),
    request_body(content((TestInput = "application/json"), (TestInput = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView), (status = 422, body = Detail)))]
async fn test_unsaved(
    State(state): State<AppState>,
    Query(wait): Query<Wait>,
    Input(input): Input<TestInput>,
) -> ApiResult<Response> {
    let invalid = |detail: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail);
    let base_url = input.base_url.map(|u| u.trim().to_owned()).ok_or_else(|| invalid("base_url is required".into()))?;
    providers::validate_base_url(&base_url).map_err(invalid)?;
    let kind = match input.kind {
        Some(ProviderType::Compat) => return Err(invalid("compat providers have no upstream to test".into())),
        Some(kind) => kind,
        None => return Err(invalid("type is required (ollama or openai)".into())),
    };
    let api_key = input.api_key.filter(|k| !k.trim().is_empty());
    let request =
        JobRequest::TestConnection { provider_id: None, base_url: Some(base_url), provider_type: Some(kind), api_key };
    jobs::enqueue(&state, request, &wait).await
}
