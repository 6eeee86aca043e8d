//! `/api/admin/config`: the LiteLLM connection (key write-only), the global sync interval and
//! the default pricing.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use shared::db::{config, providers};
use shared::secret::{KeyChange, Secret, key_after_url_change};
use shared::types::Pricing;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use shared::jobs::JobRequest;

use super::input::{Input, Query, lenient};
use super::jobs::{self, Wait};
use super::{Detail, PricingDoc};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_config, put_config)).routes(routes!(test_litellm))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigView {
    pub litellm_base_url: Option<String>,
    pub litellm_api_key_set: bool,
    /// `••••` and the last four characters of a long key.
    pub litellm_api_key_masked: Option<String>,
    /// 0 = automatic sync off; otherwise at least 30.
    pub sync_interval_seconds: i64,
    #[schema(value_type = Option<PricingDoc>)]
    pub default_pricing: Option<Pricing>,
    pub updated_at: String,
}

impl From<shared::settings::Config> for ConfigView {
    fn from(config: shared::settings::Config) -> Self {
        Self {
            litellm_api_key_set: config.litellm_api_key.is_some(),
            litellm_api_key_masked: config.litellm_api_key.as_ref().map(Secret::masked),
            default_pricing: config.default_pricing(),
            litellm_base_url: config.litellm_base_url,
            sync_interval_seconds: config.sync_interval_seconds,
            updated_at: config.updated_at,
        }
    }
}

/// Settings to change (JSON or form); absent fields are kept.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConfigInput {
    /// Empty clears it.
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub litellm_base_url: Option<Option<String>>,
    /// Write-only: empty or absent keeps the stored key, `null` removes it.
    #[serde(default, deserialize_with = "lenient::patch_string")]
    #[schema(value_type = Option<String>, nullable)]
    pub litellm_api_key: Option<Option<String>>,
    /// `true` removes the stored key (what a form sends instead of `null`).
    #[serde(default, deserialize_with = "lenient::opt_bool")]
    pub clear_litellm_api_key: Option<bool>,
    /// 0 (automatic sync off) or at least 30.
    #[serde(default, deserialize_with = "lenient::opt_i64")]
    pub sync_interval_seconds: Option<i64>,
    #[serde(default, deserialize_with = "lenient::patch_pricing")]
    #[schema(value_type = Option<PricingDoc>, nullable)]
    pub default_pricing: Option<Option<Pricing>>,
    /// Form alternative to `default_pricing`.
    #[serde(default, deserialize_with = "lenient::patch_f64")]
    #[schema(value_type = Option<f64>)]
    pub default_pricing_input_cost_per_token: Option<Option<f64>>,
    /// Form alternative to `default_pricing`.
    #[serde(default, deserialize_with = "lenient::patch_f64")]
    #[schema(value_type = Option<f64>)]
    pub default_pricing_output_cost_per_token: Option<Option<f64>>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
}

#[utoipa::path(get, path = "/api/admin/config", tag = "admin", responses((status = 200, body = ConfigView)))]
async fn get_config(State(state): State<AppState>) -> ApiResult<Json<ConfigView>> {
    Ok(Json(config::get(&state.db).await?.into()))
}

/// Changes settings (PUT; PATCH and the Python tool's POST too). Nothing is written unless every
/// given value is valid.
#[utoipa::path(method(put, patch, post), path = "/api/admin/config", tag = "admin",
    request_body(content((ConfigInput = "application/json"), (ConfigInput = "application/x-www-form-urlencoded"))),
    responses((status = 200, body = ConfigView), (status = 400, body = Detail), (status = 422, body = Detail)))]
async fn put_config(State(state): State<AppState>, Input(input): Input<ConfigInput>) -> ApiResult<Json<ConfigView>> {
    let pool = &state.db;
    let current = config::get(pool).await?;

    if let Some(seconds) = input.sync_interval_seconds
        && seconds != 0
        && seconds < 30
    {
        return Err(invalid(format!(
            "sync_interval_seconds must be 0 (automatic sync off) or at least 30, got {seconds}"
        )));
    }
    let base_url = match input.litellm_base_url {
        None => current.litellm_base_url.clone(),
        Some(url) => url,
    };
    if let Some(url) = base_url.as_deref().map(|u| u.trim().trim_end_matches('/')).filter(|u| !u.is_empty()) {
        providers::validate_base_url(url).map_err(|e| invalid(format!("litellm_{e}")))?;
    }
    let key = match (input.clear_litellm_api_key, input.litellm_api_key) {
        (Some(true), _) => KeyChange::Remove,
        (_, patch) => KeyChange::from_patch(patch),
    };
    // Checked before anything is written: a changed URL needs its key again.
    key_after_url_change(
        current.litellm_url(),
        base_url.as_deref().map(|u| u.trim().trim_end_matches('/')),
        current.litellm_api_key.as_ref(),
        key.clone(),
        "LiteLLM",
    )
    .map_err(invalid)?;
    let pricing = if input.default_pricing_input_cost_per_token.is_some()
        || input.default_pricing_output_cost_per_token.is_some()
    {
        let input_cost = input.default_pricing_input_cost_per_token.flatten();
        let output_cost = input.default_pricing_output_cost_per_token.flatten();
        if input_cost.is_some_and(|p| p < 0.0) || output_cost.is_some_and(|p| p < 0.0) {
            return Err(invalid("prices must not be negative"));
        }
        Some(Some(Pricing { input_cost_per_token: input_cost, output_cost_per_token: output_cost }))
    } else {
        input.default_pricing
    };

    if let Some(seconds) = input.sync_interval_seconds {
        config::set_sync_interval(pool, seconds).await?;
    }
    if let Some(pricing) = pricing {
        config::set_default_pricing(pool, pricing).await?;
    }
    config::update_litellm(pool, base_url.as_deref(), key).await?;
    tracing::info!("settings changed");
    Ok(Json(config::get(pool).await?.into()))
}

/// LiteLLM connection details to test; absent or empty fields are the saved ones.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LitellmTestInput {
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub base_url: Option<String>,
    /// Used for this test only; dropped from the job when it ends and never shown. Needed with a
    /// URL other than the saved one whenever a key is saved.
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub api_key: Option<String>,
}

/// Queues a test of the LiteLLM connection: the saved one, or the given `base_url`/`api_key`.
/// The worker sends one GET to LiteLLM's admin API; only a test of the saved values changes the
/// LiteLLM health light. A URL other than the saved one with no key given is refused (the saved
/// key goes only where it was saved for), and no job is queued.
#[utoipa::path(post, path = "/api/admin/litellm/test", tag = "admin", params(Wait),
    request_body(content((LitellmTestInput = "application/json"), (LitellmTestInput = "application/x-www-form-urlencoded"))),
    responses((status = 202, body = jobs::Queued), (status = 200, body = jobs::JobView), (status = 422, body = Detail)))]
async fn test_litellm(
    State(state): State<AppState>,
    Query(wait): Query<Wait>,
    Input(input): Input<LitellmTestInput>,
) -> ApiResult<Response> {
    let current = config::get(&state.db).await?;
    let request = JobRequest::test_litellm(
        current.litellm_url(),
        current.litellm_api_key.as_ref(),
        input.base_url.as_deref(),
        input.api_key.as_deref(),
    )
    .map_err(invalid)?;
    jobs::enqueue(&state, request, &wait).await
}
