//! `/api/compat/…`: aliases (an OpenAI model name served by a local model) and the built-in
//! catalogue. Aliases are `models` rows under the `compat_models` provider (the Python tool's
//! convention); their target must exist.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::DbError;
use shared::db::models;
use shared::db::providers::{self, COMPAT_PROVIDER_NAME};
use shared::model::{Model, Overrides};
use shared::provider::Provider;
use shared::types::ProviderType;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Detail;
use super::input::{Input, Path, lenient};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
        .routes(routes!(register_defaults))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TargetProvider {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AliasView {
    pub id: i64,
    /// The alias (what clients ask LiteLLM for).
    pub model_name: String,
    pub mapped_provider_id: Option<i64>,
    pub mapped_model_id: Option<String>,
    pub mapped_provider: Option<TargetProvider>,
    /// Whether the target model exists and is not orphaned (else the alias is not pushed).
    pub target_available: bool,
    pub access_groups: Option<Vec<String>>,
    pub litellm_model_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn alias_view(alias: Model, providers: &HashMap<i64, Provider>, targets: &HashMap<(i64, String), bool>) -> AliasView {
    let target = alias.mapped_provider_id.and_then(|id| providers.get(&id));
    let available = match (alias.mapped_provider_id, &alias.mapped_model_id) {
        (Some(p), Some(m)) => targets.get(&(p, m.clone())).copied().unwrap_or(false),
        _ => false,
    };
    AliasView {
        id: alias.id,
        model_name: alias.model_id,
        mapped_provider_id: alias.mapped_provider_id,
        mapped_model_id: alias.mapped_model_id,
        mapped_provider: target.map(|p| TargetProvider { id: p.id, name: p.name.clone(), kind: p.kind.as_str() }),
        target_available: available,
        access_groups: alias.access_groups,
        litellm_model_id: alias.litellm_model_id,
        created_at: alias.created_at,
        updated_at: alias.updated_at,
    }
}

/// Every alias, with what it needs to be shown.
async fn all_aliases(state: &AppState) -> ApiResult<Vec<AliasView>> {
    let providers: HashMap<i64, Provider> = providers::list(&state.db).await?.into_iter().map(|p| (p.id, p)).collect();
    let Some(compat) = providers.values().find(|p| p.name == COMPAT_PROVIDER_NAME).map(|p| p.id) else {
        return Ok(Vec::new());
    };
    let all = models::list_all(&state.db).await?;
    let targets: HashMap<(i64, String), bool> = all
        .iter()
        .filter(|m| m.provider_id != compat)
        .map(|m| ((m.provider_id, m.model_id.clone()), !m.is_orphaned))
        .collect();
    Ok(all.into_iter().filter(|m| m.provider_id == compat).map(|m| alias_view(m, &providers, &targets)).collect())
}

async fn alias_by_id(state: &AppState, id: i64) -> ApiResult<AliasView> {
    all_aliases(state).await?.into_iter().find(|a| a.id == id).ok_or_else(|| not_found(id))
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("no compat alias {id}"))
}

#[utoipa::path(get, path = "/api/compat/models", tag = "compat", responses((status = 200, body = [AliasView])))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<AliasView>>> {
    Ok(Json(all_aliases(&state).await?))
}

/// An alias's fields (JSON or form). `alias`, `provider_id` and `model_id` are accepted too.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AliasInput {
    /// The alias, e.g. `gpt-4o-mini`.
    #[serde(default, alias = "alias", deserialize_with = "lenient::opt_string")]
    pub model_name: Option<String>,
    /// The target provider's id.
    #[serde(default, alias = "provider_id", deserialize_with = "lenient::opt_i64")]
    #[schema(value_type = Option<i64>)]
    pub mapped_provider_id: Option<i64>,
    /// The target model's id at that provider.
    #[serde(default, alias = "model_id", deserialize_with = "lenient::opt_string")]
    pub mapped_model_id: Option<String>,
    /// A list, or comma-separated text.
    #[serde(default, deserialize_with = "lenient::patch_list")]
    #[schema(value_type = Option<Vec<String>>, nullable)]
    pub access_groups: Option<Option<Vec<String>>>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
}

/// Checks the alias name and that the target exists.
async fn check(state: &AppState, name: &str, provider_id: i64, model_id: &str) -> ApiResult<()> {
    if name.trim().is_empty() {
        return Err(invalid("model_name (the alias) must not be empty"));
    }
    let provider = providers::get(&state.db, provider_id)
        .await?
        .filter(|p| p.kind != ProviderType::Compat)
        .ok_or_else(|| invalid(format!("target provider {provider_id} does not exist")))?;
    if models::get_by_model_id(&state.db, provider_id, model_id.trim()).await?.is_none() {
        return Err(invalid(format!("{} has no model {:?}", provider.name, model_id.trim())));
    }
    Ok(())
}

fn taken(name: &str) -> impl FnOnce(DbError) -> ApiError + '_ {
    move |error| match error {
        DbError::Conflict(_) => ApiError::conflict(format!("the alias {:?} already exists", name.trim())),
        other => other.into(),
    }
}

async fn set_groups(state: &AppState, id: i64, groups: Option<Option<Vec<String>>>) -> ApiResult<()> {
    if let Some(groups) = groups {
        let overrides = Overrides { access_groups: Some(groups.filter(|g| !g.is_empty())), ..Overrides::default() };
        models::set_overrides(&state.db, id, &overrides).await?;
    }
    Ok(())
}

/// Adds an alias.
#[utoipa::path(post, path = "/api/compat/models", tag = "compat",
    request_body(content((AliasInput = "application/json"), (AliasInput = "application/x-www-form-urlencoded"))),
    responses((status = 201, body = AliasView), (status = 409, body = Detail), (status = 422, body = Detail)))]
async fn create(
    State(state): State<AppState>,
    Input(input): Input<AliasInput>,
) -> ApiResult<(StatusCode, Json<AliasView>)> {
    let name = input.model_name.unwrap_or_default();
    let provider_id = input.mapped_provider_id.ok_or_else(|| invalid("mapped_provider_id is required"))?;
    let model_id = input.mapped_model_id.unwrap_or_default();
    check(&state, &name, provider_id, &model_id).await?;
    let compat = providers::compat_provider(&state.db).await?;
    if models::get_by_model_id(&state.db, compat.id, name.trim()).await?.is_some() {
        return Err(taken(&name)(DbError::Conflict(String::new())));
    }
    let id = models::upsert_alias(&state.db, compat.id, &name, provider_id, model_id.trim()).await?;
    set_groups(&state, id, input.access_groups).await?;
    Ok((StatusCode::CREATED, Json(alias_by_id(&state, id).await?)))
}

/// Renames, re-targets or regroups an alias (absent fields are kept).
#[utoipa::path(method(patch, put), path = "/api/compat/models/{id}", tag = "compat", params(("id" = i64, Path)),
    request_body(content((AliasInput = "application/json"), (AliasInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = AliasView), (status = 404, body = Detail), (status = 409, body = Detail),
              (status = 422, body = Detail)))]
async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<AliasInput>,
) -> ApiResult<Json<AliasView>> {
    let current = alias_by_id(&state, id).await?;
    let name = input.model_name.unwrap_or(current.model_name);
    let provider_id = input
        .mapped_provider_id
        .or(current.mapped_provider_id)
        .ok_or_else(|| invalid("mapped_provider_id is required (this alias has no target)"))?;
    let model_id = input.mapped_model_id.or(current.mapped_model_id).unwrap_or_default();
    check(&state, &name, provider_id, &model_id).await?;
    models::update_alias(&state.db, id, &name, provider_id, model_id.trim()).await.map_err(taken(&name))?;
    set_groups(&state, id, input.access_groups).await?;
    Ok(Json(alias_by_id(&state, id).await?))
}

#[utoipa::path(delete, path = "/api/compat/models/{id}", tag = "compat", params(("id" = i64, Path)),
    responses((status = 200, body = super::Done), (status = 404, body = Detail)))]
async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<super::Done>> {
    let alias = alias_by_id(&state, id).await?;
    models::delete(&state.db, id).await?;
    Ok(Json(super::Done::new("deleted", format!("deleted the alias {}", alias.model_name))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub alias: String,
    pub provider: String,
    pub model_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DefaultsRegistered {
    pub message: String,
    pub created: usize,
    pub registered: Vec<Registered>,
}

/// Adds the built-in catalogue's aliases whose target exists (existing aliases are left alone).
#[utoipa::path(post, path = "/api/compat/register-defaults", tag = "compat",
    responses((status = 200, body = DefaultsRegistered)))]
async fn register_defaults(State(state): State<AppState>) -> ApiResult<Json<DefaultsRegistered>> {
    let registered = shared::compat::register_defaults(&state.db).await?;
    Ok(Json(DefaultsRegistered {
        message: format!("registered {} compat aliases", registered.len()),
        created: registered.len(),
        registered: registered
            .into_iter()
            .map(|r| Registered { alias: r.alias, provider: r.provider, model_id: r.model_id })
            .collect(),
    }))
}
