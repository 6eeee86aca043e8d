//! `/admin`: the LiteLLM connection, the global sync interval and the default pricing.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shared::db::config;
use shared::db::providers::validate_base_url;
use shared::jobs::JobRequest;
use shared::secret::{KeyChange, Secret, key_after_url_change};
use shared::settings::Config;

use super::jobs::start;
use super::view::{Stamp, opt_cost};
use super::{Chrome, PageResult, form};
use crate::state::AppState;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    litellm_base_url: String,
    litellm_api_key: String,
    remove_api_key: Option<String>,
    sync_interval_seconds: String,
    input_cost_per_token: String,
    output_cost_per_token: String,
}

impl SettingsForm {
    fn from_config(c: &Config) -> Self {
        let pricing = c.default_pricing();
        Self {
            litellm_base_url: c.litellm_base_url.clone().unwrap_or_default(),
            litellm_api_key: String::new(),
            remove_api_key: None,
            sync_interval_seconds: c.sync_interval_seconds.to_string(),
            input_cost_per_token: opt_cost(pricing.and_then(|p| p.input_cost_per_token)),
            output_cost_per_token: opt_cost(pricing.and_then(|p| p.output_cost_per_token)),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
pub struct SettingsPage {
    chrome: Chrome,
    form: SettingsForm,
    masked_key: Option<String>,
    updated: Stamp,
    error: Option<String>,
}

pub async fn page(State(state): State<AppState>, chrome: Chrome) -> PageResult<SettingsPage> {
    let config = config::get(&state.db).await?;
    Ok(SettingsPage {
        chrome,
        form: SettingsForm::from_config(&config),
        masked_key: config.litellm_api_key.as_ref().map(Secret::masked),
        updated: Stamp::new(&config.updated_at),
        error: None,
    })
}

pub async fn save(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<SettingsForm>,
) -> PageResult<Response> {
    let pool = &state.db;
    let current = config::get(pool).await?;
    let checked = (|| {
        let url = form::text(&input.litellm_base_url).map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &url {
            validate_base_url(url).map_err(|e| e.replace("base_url", "LiteLLM URL"))?;
        }
        let interval = form::opt_int("sync interval", &input.sync_interval_seconds)?.unwrap_or(0);
        if interval != 0 && interval < 30 {
            return Err(format!("sync interval must be 0 (automatic sync off) or at least 30 seconds, got {interval}"));
        }
        let pricing = form::pricing(&input.input_cost_per_token, &input.output_cost_per_token)?;
        Ok((url, interval, pricing))
    })();
    // An empty key field keeps the saved key (the form never shows it), unless the URL changed.
    let key = if form::checked(&input.remove_api_key) {
        KeyChange::Remove
    } else {
        KeyChange::from_patch(Some(Some(input.litellm_api_key.clone())))
    };
    let checked = checked.and_then(|(url, interval, pricing)| {
        key_after_url_change(
            current.litellm_url(),
            url.as_deref(),
            current.litellm_api_key.as_ref(),
            key.clone(),
            "LiteLLM",
        )?;
        Ok((url, interval, pricing))
    });
    let (url, interval, pricing) = match checked {
        Ok(values) => values,
        Err(error) => {
            let page = SettingsPage {
                chrome,
                masked_key: current.litellm_api_key.as_ref().map(Secret::masked),
                updated: Stamp::new(&current.updated_at),
                form: input,
                error: Some(error),
            };
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    config::update_litellm(pool, url.as_deref(), key).await?;
    config::set_sync_interval(pool, interval).await?;
    config::set_default_pricing(pool, pricing).await?;
    Ok(Redirect::to("/admin?notice=settings-saved").into_response())
}

/// "Test LiteLLM connection": tests the URL and key in the form (an empty key field: the saved
/// key, which goes only to the saved URL), as a job the worker runs. Nothing is saved.
pub async fn test_litellm(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<SettingsForm>,
) -> PageResult<Response> {
    let current = config::get(&state.db).await?;
    let request = JobRequest::test_litellm(
        current.litellm_url(),
        current.litellm_api_key.as_ref(),
        Some(&input.litellm_base_url),
        Some(&input.litellm_api_key),
    );
    match request {
        Ok(request) => Ok(start(&state, request).await?.into_response()),
        Err(error) => Ok(form::refused(SettingsPage {
            chrome,
            masked_key: current.litellm_api_key.as_ref().map(Secret::masked),
            updated: Stamp::new(&current.updated_at),
            form: input,
            error: Some(error),
        })),
    }
}
