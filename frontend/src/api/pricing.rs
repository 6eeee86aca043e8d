//! Pricing profiles (built-in, read-only, and the operator's), the pricing and rate-limit
//! settings of providers and models, each model's effective price with where it came from,
//! and the migration report.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use shared::db::pricing_settings::{self, AdoptionNoteRow, ProviderPricing};
use shared::db::{config, models, providers};
use shared::desired;
use shared::pricing::{self, Effective, Profile};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Detail;
use super::input::{Input, Path, lenient};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_profiles, upsert_profile))
        .routes(routes!(delete_profile))
        .routes(routes!(provider_pricing))
        .routes(routes!(model_price, model_pricing))
        .routes(routes!(migration_report))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub name: String,
    pub input_cost_per_token: f64,
    pub output_cost_per_token: f64,
    /// Shipped with litellm-updater (read-only); an operator's profile of the same name replaces it.
    pub built_in: bool,
}

/// The catalogue as the pages and the API show it.
pub fn profile_views(custom: &[Profile]) -> Vec<ProfileView> {
    pricing::catalogue(custom)
        .into_iter()
        .map(|p| ProfileView {
            built_in: !custom.iter().any(|c| c.name == p.name),
            name: p.name,
            input_cost_per_token: p.input_cost_per_token,
            output_cost_per_token: p.output_cost_per_token,
        })
        .collect()
}

#[utoipa::path(get, path = "/api/pricing-profiles", tag = "pricing", responses((status = 200, body = [ProfileView])))]
async fn list_profiles(State(state): State<AppState>) -> ApiResult<Json<Vec<ProfileView>>> {
    Ok(Json(profile_views(&config::pricing_profiles(&state.db).await?)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ProfileInput {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub input_cost_per_token: Option<f64>,
    #[serde(default, deserialize_with = "lenient::opt_f64")]
    pub output_cost_per_token: Option<f64>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
}

impl ProfileInput {
    pub fn profile(self) -> ApiResult<Profile> {
        let (Some(input), Some(output)) = (self.input_cost_per_token, self.output_cost_per_token) else {
            return Err(invalid("a pricing profile needs input_cost_per_token and output_cost_per_token"));
        };
        Ok(Profile { name: self.name.unwrap_or_default(), input_cost_per_token: input, output_cost_per_token: output })
    }
}

/// Creates or replaces one of the operator's profiles (JSON or form).
#[utoipa::path(post, path = "/api/pricing-profiles", tag = "pricing",
    request_body(content((ProfileInput = "application/json"), (ProfileInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = ProfileView), (status = 422, body = Detail)))]
async fn upsert_profile(
    State(state): State<AppState>,
    Input(input): Input<ProfileInput>,
) -> ApiResult<Json<ProfileView>> {
    let saved = pricing_settings::upsert_profile(&state.db, &input.profile()?).await?;
    Ok(Json(ProfileView {
        name: saved.name,
        input_cost_per_token: saved.input_cost_per_token,
        output_cost_per_token: saved.output_cost_per_token,
        built_in: false,
    }))
}

#[utoipa::path(delete, path = "/api/pricing-profiles/{name}", tag = "pricing", params(("name" = String, Path)),
    responses((status = 200, body = super::Done), (status = 404, body = Detail), (status = 409, body = Detail)))]
async fn delete_profile(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<super::Done>> {
    if pricing_settings::delete_profile(&state.db, &name).await? {
        return Ok(Json(super::Done::new("deleted", format!("deleted the pricing profile {name}"))));
    }
    if pricing::BUILT_IN.iter().any(|(built_in, ..)| *built_in == name) {
        return Err(ApiError::conflict(format!("{name} is a built-in profile and cannot be deleted")));
    }
    Err(ApiError::not_found(format!("no pricing profile {name}")))
}

/// A provider's or model's pricing settings (absent: unchanged; empty or `null`: cleared).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PricingInput {
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub pricing_profile: Option<Option<String>>,
    #[serde(default, deserialize_with = "lenient::patch_i64")]
    #[schema(value_type = Option<i64>, nullable)]
    pub rpm: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient::patch_i64")]
    #[schema(value_type = Option<i64>, nullable)]
    pub tpm: Option<Option<i64>>,
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub auto_detect_fim: Option<bool>,
}

/// Sets a provider's pricing profile, rate limits (`rpm`, `tpm`: pushed as LiteLLM's
/// `litellm_params.rpm`/`tpm` on each of its deployments) and fill-in-the-middle detection.
#[utoipa::path(method(put, patch), path = "/api/providers/{id}/pricing", tag = "pricing", params(("id" = i64, Path)),
    request_body(content((PricingInput = "application/json"), (PricingInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = Object), (status = 404, body = Detail), (status = 422, body = Detail)))]
async fn provider_pricing(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<PricingInput>,
) -> ApiResult<Json<serde_json::Value>> {
    let settings = ProviderPricing {
        pricing_profile: input.pricing_profile,
        rpm: input.rpm,
        tpm: input.tpm,
        auto_detect_fim: input.auto_detect_fim,
    };
    if !pricing_settings::set_provider_pricing(&state.db, id, &settings).await? {
        return Err(ApiError::not_found(format!("no provider {id}")));
    }
    let provider =
        providers::get(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no provider {id}")))?;
    Ok(Json(serde_json::json!({
        "id": provider.id,
        "pricing_profile": provider.pricing_profile,
        "rpm": provider.rpm,
        "tpm": provider.tpm,
        "auto_detect_fim": provider.auto_detect_fim,
    })))
}

/// A model's effective prices and where each came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct EffectivePrice {
    pub model_id: i64,
    #[schema(value_type = Object)]
    pub effective: Effective,
    /// "input: 1.5e-7 per token, from the provider's profile gpt-4o-mini" and the like.
    pub explained: Vec<String>,
}

pub async fn effective_price(state: &AppState, id: i64) -> ApiResult<EffectivePrice> {
    let model = models::get(&state.db, id).await?.ok_or_else(|| ApiError::not_found(format!("no model {id}")))?;
    let provider = providers::get(&state.db, model.provider_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no provider {}", model.provider_id)))?;
    let settings = config::get(&state.db).await?;
    let inputs = desired::pricing_inputs(&settings, &provider, &model);
    let effective = pricing::effective(&inputs, &pricing::catalogue(&settings.pricing_profiles));
    let mut explained: Vec<String> = [("input", &effective.input), ("output", &effective.output)]
        .into_iter()
        .map(|(side, resolved)| match resolved {
            Some(r) => format!("{side}: {} per token, from {}", r.cost_per_token, r.source),
            None => format!("{side}: not set here, so LiteLLM's own price for the model applies"),
        })
        .collect();
    for unknown in &effective.unknown_profiles {
        explained.push(format!("the profile {unknown} is not defined and was ignored"));
    }
    Ok(EffectivePrice { model_id: id, effective, explained })
}

#[utoipa::path(get, path = "/api/models/{id}/pricing", tag = "pricing", params(("id" = i64, Path)),
    responses((status = 200, body = EffectivePrice), (status = 404, body = Detail)))]
async fn model_price(State(state): State<AppState>, Path(id): Path<i64>) -> ApiResult<Json<EffectivePrice>> {
    Ok(Json(effective_price(&state, id).await?))
}

/// Sets a model's pricing profile (its own prices are `pricing_override` in
/// `PATCH /api/models/{id}`; its own rate limits are `rpm`/`tpm` in its params).
#[utoipa::path(method(put, patch), path = "/api/models/{id}/pricing", tag = "pricing", params(("id" = i64, Path)),
    request_body(content((PricingInput = "application/json"), (PricingInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = EffectivePrice), (status = 404, body = Detail), (status = 422, body = Detail)))]
async fn model_pricing(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Input(input): Input<PricingInput>,
) -> ApiResult<Json<EffectivePrice>> {
    if let Some(profile) = input.pricing_profile
        && !pricing_settings::set_model_profile(&state.db, id, profile.as_deref()).await?
    {
        return Err(ApiError::not_found(format!("no model {id}")));
    }
    Ok(Json(effective_price(&state, id).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MigrationReport {
    /// Whether this database was adopted from the Python litellm-updater.
    pub adopted: bool,
    #[schema(value_type = Vec<Object>)]
    pub notes: Vec<AdoptionNoteRow>,
}

/// What adopting the Python tool's database kept, converted and changed, and why.
#[utoipa::path(get, path = "/api/migration-report", tag = "status", responses((status = 200, body = MigrationReport)))]
async fn migration_report(State(state): State<AppState>) -> ApiResult<Json<MigrationReport>> {
    let notes = pricing_settings::adoption_notes(&state.db).await?;
    Ok(Json(MigrationReport { adopted: !notes.is_empty(), notes }))
}
