//! `/api/routing-groups` and `/api/fallbacks`: routing groups (a name served by several
//! targets with weights and priorities), candidates by capability, and fallbacks between
//! names. Stored here; the worker's next push puts them into LiteLLM.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::db::models;
use shared::db::providers;
use shared::db::routing;
use shared::desired::{self, Unserved};
use shared::model::Model;
use shared::provider::Provider;
use shared::routing::{Fallback, FallbackType, Group, GroupInput};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Detail;
use super::input::{Input, Path, Query};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(candidates))
        .routes(routes!(get_one, replace, delete))
        .routes(routes!(list_fallbacks, set_fallback))
        .routes(routes!(delete_fallback))
}

/// A target as shown: its stored values, its provider's name, and whether it is pushed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TargetView {
    pub id: i64,
    pub provider_id: i64,
    pub provider_name: Option<String>,
    pub model_id: String,
    pub weight: i64,
    /// LiteLLM's `order`: 1 first.
    pub priority: i64,
    pub enabled: bool,
    /// `served`, or why not: `disabled`, `provider disabled`, `orphaned`.
    pub status: String,
    pub context_window: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub capabilities: Vec<String>,
    pub auto_context_fallback: bool,
    pub targets: Vec<TargetView>,
}

/// What the views need to say whether each target is served: the providers, and the models
/// the groups' targets name (not the whole models table).
pub struct Lookup {
    providers: HashMap<i64, Provider>,
    models: HashMap<(i64, String), Model>,
}

impl Lookup {
    pub async fn load<'g>(state: &AppState, groups: impl IntoIterator<Item = &'g Group>) -> ApiResult<Self> {
        let providers = providers::list(&state.db).await?.into_iter().map(|p| (p.id, p)).collect();
        let mut models = HashMap::new();
        for target in groups.into_iter().flat_map(|g| &g.targets) {
            if let Some(model) = models::get_by_model_id(&state.db, target.provider_id, &target.model_id).await? {
                models.insert((target.provider_id, target.model_id.clone()), model);
            }
        }
        Ok(Self { providers, models })
    }

    pub fn view(&self, group: Group) -> GroupView {
        let targets = group
            .targets
            .into_iter()
            .map(|t| {
                let provider = self.providers.get(&t.provider_id);
                let model = self.models.get(&(t.provider_id, t.model_id.clone()));
                let status = match provider.map(|p| desired::target_served(&t, p, model)) {
                    Some(Ok(_)) => "served",
                    Some(Err(why)) => why.label(),
                    None if !t.enabled => Unserved::Disabled.label(),
                    None => Unserved::Orphaned.label(),
                };
                TargetView {
                    id: t.id,
                    provider_id: t.provider_id,
                    provider_name: provider.map(|p| p.name.clone()),
                    model_id: t.model_id,
                    weight: t.weight,
                    priority: t.priority,
                    enabled: t.enabled,
                    status: status.to_owned(),
                    context_window: model.and_then(|m| m.context_window.or(m.max_input_tokens)),
                }
            })
            .collect();
        GroupView {
            id: group.id,
            name: group.name,
            description: group.description,
            capabilities: group.capabilities,
            auto_context_fallback: group.auto_context_fallback,
            targets,
        }
    }
}

fn not_found(id: i64) -> ApiError {
    ApiError::not_found(format!("no routing group {id}"))
}

async fn group_view(state: &AppState, id: i64) -> ApiResult<GroupView> {
    let group = routing::get_group(&state.db, id).await?.ok_or_else(|| not_found(id))?;
    Ok(Lookup::load(state, [&group]).await?.view(group))
}

#[utoipa::path(get, path = "/api/routing-groups", tag = "routing", responses((status = 200, body = [GroupView])))]
async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<GroupView>>> {
    let groups = routing::list_groups(&state.db).await?;
    let lookup = Lookup::load(&state, &groups).await?;
    Ok(Json(groups.into_iter().map(|g| lookup.view(g)).collect()))
}

/// Creates a group: `{"name", "description", "capabilities": [...], "auto_context_fallback",
/// "targets": [{"provider_id", "model_id", "weight", "priority", "enabled"}]}`.
#[utoipa::path(post, path = "/api/routing-groups", tag = "routing", request_body = Object,
    responses((status = 201, body = GroupView), (status = 409, body = Detail), (status = 422, body = Detail)))]
async fn create(
    State(state): State<AppState>,
    Input(input): Input<GroupInput>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let id = routing::create_group(&state.db, &input).await?;
    Ok((StatusCode::CREATED, Json(group_view(&state, id).await?)))
}

#[utoipa::path(get, path = "/api/routing-groups/{id}", tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = Detail)))]
async fn get_one(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<GroupView>> {
    Ok(Json(group_view(&state, id).await?))
}

/// Replaces a group's settings and targets (same body as create). Targets that stay keep
/// their LiteLLM entry; fallbacks naming a renamed group follow it.
#[utoipa::path(put, path = "/api/routing-groups/{id}", tag = "routing", params(("id" = i64, Path)), request_body = Object,
    responses((status = 200, body = GroupView), (status = 404, body = Detail), (status = 409, body = Detail),
              (status = 422, body = Detail)))]
async fn replace(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<GroupInput>,
) -> ApiResult<Json<GroupView>> {
    if !routing::update_group(&state.db, id, &input).await? {
        return Err(not_found(id));
    }
    Ok(Json(group_view(&state, id).await?))
}

#[utoipa::path(delete, path = "/api/routing-groups/{id}", tag = "routing", params(("id" = i64, Path)),
    responses((status = 200, body = super::Done), (status = 404, body = Detail)))]
async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<super::Done>> {
    let group = routing::get_group(&state.db, id).await?.ok_or_else(|| not_found(id))?;
    routing::delete_group(&state.db, id).await?;
    Ok(Json(super::Done::new(
        "deleted",
        format!("deleted the routing group {}; the next push removes its LiteLLM entries", group.name),
    )))
}

#[derive(Debug, Default, Deserialize)]
struct CandidateQuery {
    /// Comma-separated capabilities every candidate must have.
    #[serde(default)]
    capabilities: Option<String>,
}

/// Models that may join a group: listed models of enabled providers having every capability.
#[utoipa::path(get, path = "/api/routing-groups/candidates", tag = "routing",
    params(("capabilities" = Option<String>, Query, description = "comma-separated, e.g. chat,tools")),
    responses((status = 200, body = Object)))]
async fn candidates(
    State(state): State<AppState>,
    Query(query): Query<CandidateQuery>,
) -> ApiResult<Json<Vec<routing::Candidate>>> {
    Ok(Json(candidates_for(&state, query.capabilities.as_deref()).await?))
}

/// At most this many candidates are proposed at once.
const CANDIDATE_LIMIT: usize = 500;

pub async fn candidates_for(state: &AppState, capabilities: Option<&str>) -> ApiResult<Vec<routing::Candidate>> {
    let wanted: Vec<String> =
        capabilities.unwrap_or("").split(',').map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
    Ok(routing::candidates(&state.db, &wanted, CANDIDATE_LIMIT).await?)
}

#[utoipa::path(get, path = "/api/fallbacks", tag = "routing", responses((status = 200, body = Object)))]
async fn list_fallbacks(State(state): State<AppState>) -> ApiResult<Json<Vec<Fallback>>> {
    Ok(Json(routing::list_fallbacks(&state.db).await?))
}

/// Creates or replaces a fallback: `{"model_name", "fallback_type": "general" |
/// "context_window" | "content_policy", "fallback_models": [...]}`.
#[utoipa::path(post, path = "/api/fallbacks", tag = "routing", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = Detail)))]
async fn set_fallback(State(state): State<AppState>, Input(fallback): Input<Fallback>) -> ApiResult<Json<Fallback>> {
    Ok(Json(routing::set_fallback(&state.db, &fallback).await?))
}

#[derive(Debug, Default, Deserialize)]
struct KindQuery {
    #[serde(default)]
    fallback_type: Option<String>,
}

#[utoipa::path(delete, path = "/api/fallbacks/{model_name}", tag = "routing",
    params(("model_name" = String, Path), ("fallback_type" = Option<String>, Query, description = "default general")),
    responses((status = 200, body = super::Done), (status = 404, body = Detail), (status = 422, body = Detail)))]
async fn delete_fallback(
    State(state): State<AppState>,
    Path(model_name): Path<String>,
    Query(query): Query<KindQuery>,
) -> ApiResult<Json<super::Done>> {
    let kind: FallbackType = query
        .fallback_type
        .as_deref()
        .unwrap_or("general")
        .parse()
        .map_err(|e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    if !routing::delete_fallback(&state.db, &model_name, kind).await? {
        return Err(ApiError::not_found(format!("no {kind} fallback for {model_name}")));
    }
    Ok(Json(super::Done::new("deleted", format!("deleted the {kind} fallback of {model_name}"))))
}
