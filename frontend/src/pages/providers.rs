//! `/providers`: the upstreams — list with per-row actions, add/edit forms, enable, delete.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shared::db::providers::{self, NewProvider, ProviderChanges};
use shared::db::{config, views};
use shared::jobs::JobRequest;
use shared::presets::{self, Preset};
use shared::provider::Provider;
use shared::secret::{KeyChange, key_after_url_change};
use shared::types::{OllamaMode, ProviderType};
use shared::{DbError, Secret};

use super::jobs::start;
use super::view::{RunView, display_url, opt_cost, thousands};
use super::{Chrome, PageError, PageResult, form};
use crate::state::AppState;
use crate::status;

pub struct ProviderRow {
    id: i64,
    name: String,
    kind: &'static str,
    url: String,
    key: Option<String>,
    /// No key, so LiteLLM is given the placeholder.
    placeholder_key: bool,
    models: String,
    orphaned: i64,
    enabled: bool,
    /// litellm-updater's LiteLLM entries of this provider: what disabling it removes.
    in_litellm: i64,
    interval: String,
    last: Option<RunView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "providers.html")]
pub struct ProvidersPage {
    chrome: Chrome,
    rows: Vec<ProviderRow>,
}

pub async fn list(State(state): State<AppState>, chrome: Chrome) -> PageResult<ProvidersPage> {
    let pool = &state.db;
    let counts = views::model_counts(pool).await?;
    let in_litellm = views::litellm_entries_by_provider(pool).await?;
    let mut runs = status::last_runs(pool).await?;
    let global = config::get(pool).await?.sync_interval_seconds;
    let rows = providers::list(pool)
        .await?
        .into_iter()
        .filter(|p| p.kind != ProviderType::Compat)
        .map(|p| {
            let count = counts.get(&p.id).copied().unwrap_or_default();
            ProviderRow {
                id: p.id,
                kind: p.kind.as_str(),
                url: display_url(&p.base_url),
                key: p.api_key.as_ref().map(Secret::masked),
                placeholder_key: shared::desired::gets_placeholder_key(&p),
                models: thousands(count.total),
                orphaned: count.orphaned,
                enabled: p.sync_enabled,
                in_litellm: in_litellm.get(&p.id).copied().unwrap_or_default(),
                interval: interval_text(p.sync_interval_seconds, global),
                last: runs.remove(&p.id).as_ref().map(RunView::new),
                name: p.name,
            }
        })
        .collect();
    Ok(ProvidersPage { chrome, rows })
}

fn interval_text(own: Option<i64>, global: i64) -> String {
    match own {
        Some(seconds) if seconds > 0 => format!("{seconds} s"),
        _ if global == 0 => "global (off)".into(),
        _ => format!("global ({global} s)"),
    }
}

/// The add/edit form's fields, as typed (re-shown as typed when they are refused).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ProviderForm {
    name: String,
    base_url: String,
    #[serde(rename = "type")]
    kind: String,
    api_key: String,
    remove_api_key: Option<String>,
    prefix: String,
    default_ollama_mode: String,
    tags: String,
    access_groups: String,
    sync_enabled: Option<String>,
    sync_interval_seconds: String,
    model_filter: String,
    model_filter_exclude: String,
    /// The preset the form was filled from (a hidden field, so a refused form keeps its hints).
    preset: String,
    input_cost_per_token: String,
    output_cost_per_token: String,
}

impl ProviderForm {
    fn from_provider(p: &Provider) -> Self {
        let pricing = p.pricing();
        Self {
            name: p.name.clone(),
            base_url: p.base_url.clone(),
            kind: p.kind.as_str().into(),
            api_key: String::new(),
            remove_api_key: None,
            prefix: p.prefix.clone().unwrap_or_default(),
            default_ollama_mode: p.default_ollama_mode.as_str().into(),
            tags: p.tags.join(", "),
            access_groups: p.access_groups.join(", "),
            sync_enabled: p.sync_enabled.then(|| "on".into()),
            sync_interval_seconds: p.sync_interval_seconds.map(|s| s.to_string()).unwrap_or_default(),
            model_filter: p.model_filter.clone().unwrap_or_default(),
            model_filter_exclude: p.model_filter_exclude.clone().unwrap_or_default(),
            preset: String::new(),
            input_cost_per_token: opt_cost(pricing.and_then(|p| p.input_cost_per_token)),
            output_cost_per_token: opt_cost(pricing.and_then(|p| p.output_cost_per_token)),
        }
    }

    fn blank() -> Self {
        Self {
            kind: "ollama".into(),
            default_ollama_mode: "ollama_chat".into(),
            sync_enabled: Some("on".into()),
            ..Self::default()
        }
    }

    /// A blank form filled from a preset.
    fn from_preset(preset: &Preset) -> Self {
        Self {
            name: preset.id.into(),
            base_url: preset.base_url.into(),
            kind: preset.kind.as_str().into(),
            sync_interval_seconds: preset.sync_interval_seconds.to_string(),
            model_filter: preset.model_filter.unwrap_or_default().into(),
            preset: preset.id.into(),
            ..Self::blank()
        }
    }

    fn enabled(&self) -> bool {
        form::checked(&self.sync_enabled)
    }

    fn parse(&self) -> Result<NewProvider, String> {
        let kind: ProviderType = self.kind.parse().map_err(|e: shared::types::ParseError| e.to_string())?;
        let mode = match self.default_ollama_mode.trim() {
            "" => OllamaMode::default(),
            text => text.parse().map_err(|e: shared::types::ParseError| e.to_string())?,
        };
        let interval = form::opt_int("sync interval", &self.sync_interval_seconds)?;
        Ok(NewProvider {
            name: self.name.trim().to_owned(),
            base_url: self.base_url.trim().to_owned(),
            kind,
            api_key: form::text(&self.api_key),
            prefix: form::text(&self.prefix),
            default_ollama_mode: mode,
            tags: form::list(&self.tags),
            access_groups: form::list(&self.access_groups),
            sync_enabled: self.enabled(),
            sync_interval_seconds: interval,
            model_filter: form::text(&self.model_filter),
            model_filter_exclude: form::text(&self.model_filter_exclude),
            pricing_override: form::pricing(&self.input_cost_per_token, &self.output_cost_per_token)?,
        })
    }
}

/// What the edit form knows about the saved provider.
pub struct Saved {
    id: i64,
    name: String,
    masked_key: Option<String>,
    models: i64,
    /// litellm-updater's LiteLLM entries of this provider: what deleting it removes.
    in_litellm: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "provider_form.html")]
pub struct ProviderFormPage {
    chrome: Chrome,
    form: ProviderForm,
    saved: Option<Saved>,
    error: Option<String>,
    delete_error: Option<String>,
}

impl ProviderFormPage {
    fn presets(&self) -> Vec<(&'static Preset, bool)> {
        presets::PRESETS.iter().map(|p| (p, p.id == self.form.preset)).collect()
    }

    fn chosen_preset(&self) -> Option<&'static Preset> {
        presets::find(&self.form.preset)
    }

    fn mode_options(&self) -> Vec<(&'static str, bool)> {
        OllamaMode::ALL.iter().map(|m| (m.as_str(), m.as_str() == self.form.default_ollama_mode)).collect()
    }

    fn type_options(&self) -> Vec<(&'static str, bool)> {
        [ProviderType::Ollama, ProviderType::Openai]
            .iter()
            .map(|t| (t.as_str(), t.as_str() == self.form.kind))
            .collect()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewFormQuery {
    preset: String,
}

/// The "Add a provider" form, blank or filled from `?preset=<id>` (the preset picker is a GET
/// form, so it works without JavaScript).
pub async fn new_form(chrome: Chrome, Query(query): Query<NewFormQuery>) -> ProviderFormPage {
    let form = presets::find(query.preset.trim()).map_or_else(ProviderForm::blank, ProviderForm::from_preset);
    ProviderFormPage { chrome, form, saved: None, error: None, delete_error: None }
}

pub async fn create(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<ProviderForm>,
) -> PageResult<Response> {
    let checked = input.parse().and_then(|new| {
        new.validate()?;
        Ok(NewProvider { sync_interval_seconds: new.sync_interval_seconds.filter(|s| *s != 0), ..new })
    });
    let new = match checked {
        Ok(new) => new,
        Err(error) => {
            return Ok(form::refused(ProviderFormPage {
                chrome,
                form: input,
                saved: None,
                error: Some(error),
                delete_error: None,
            }));
        }
    };
    if providers::get_by_name(&state.db, &new.name).await?.is_some() {
        let error = Some(format!("a provider named {:?} already exists; choose another name", new.name));
        return Ok(form::refused(ProviderFormPage { chrome, form: input, saved: None, error, delete_error: None }));
    }
    match providers::insert(&state.db, &new).await {
        Ok(added) => {
            let global = shared::db::config::get(&state.db).await?.sync_interval_seconds;
            let notice = if added.syncs_automatically(global) {
                "provider-added"
            } else if added.sync_enabled {
                "provider-added-manual"
            } else {
                "provider-added-disabled"
            };
            Ok(Redirect::to(&format!("/providers?notice={notice}")).into_response())
        }
        Err(DbError::Conflict(_)) => {
            let error = Some(format!("a provider named {:?} already exists; choose another name", new.name));
            Ok(form::refused(ProviderFormPage { chrome, form: input, saved: None, error, delete_error: None }))
        }
        Err(error) => Err(error.into()),
    }
}

async fn load(state: &AppState, id: i64) -> PageResult<Provider> {
    providers::get(&state.db, id)
        .await?
        .filter(|p| p.kind != ProviderType::Compat)
        .ok_or_else(|| PageError::not_found(format!("provider {id} does not exist")))
}

async fn saved(state: &AppState, provider: &Provider) -> PageResult<Saved> {
    let counts = views::model_counts(&state.db).await?;
    Ok(Saved {
        id: provider.id,
        name: provider.name.clone(),
        masked_key: provider.api_key.as_ref().map(Secret::masked),
        models: counts.get(&provider.id).map_or(0, |c| c.total),
        in_litellm: views::litellm_entries_by_provider(&state.db).await?.get(&provider.id).copied().unwrap_or_default(),
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
) -> PageResult<ProviderFormPage> {
    let provider = load(&state, id).await?;
    Ok(ProviderFormPage {
        chrome,
        form: ProviderForm::from_provider(&provider),
        saved: Some(saved(&state, &provider).await?),
        error: None,
        delete_error: None,
    })
}

pub async fn update(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<ProviderForm>,
) -> PageResult<Response> {
    let provider = load(&state, id).await?;
    let saved = saved(&state, &provider).await?;
    let new = match input.parse().and_then(|new| {
        new.validate()?;
        Ok(new)
    }) {
        Ok(new) => new,
        Err(error) => {
            return Ok(form::refused(ProviderFormPage {
                chrome,
                form: input,
                saved: Some(saved),
                error: Some(error),
                delete_error: None,
            }));
        }
    };
    // An empty key field keeps the saved key: the form never shows it.
    let api_key = if form::checked(&input.remove_api_key) { Some(None) } else { new.api_key.clone().map(Some) };
    let changes = ProviderChanges {
        name: Some(new.name.clone()),
        base_url: Some(new.base_url),
        kind: Some(new.kind),
        api_key,
        prefix: Some(new.prefix),
        default_ollama_mode: Some(new.default_ollama_mode),
        tags: Some(new.tags),
        access_groups: Some(new.access_groups),
        sync_enabled: Some(new.sync_enabled),
        sync_interval_seconds: Some(new.sync_interval_seconds),
        model_filter: Some(new.model_filter),
        model_filter_exclude: Some(new.model_filter_exclude),
        pricing_override: Some(new.pricing_override),
    };
    let error = match providers::update(&state.db, id, &changes).await {
        Ok(Some(_)) => return Ok(Redirect::to("/providers?notice=provider-saved").into_response()),
        Ok(None) => return Err(PageError::not_found(format!("provider {id} does not exist"))),
        Err(DbError::Conflict(_)) => format!("a provider named {:?} already exists; choose another name", new.name),
        Err(DbError::Invalid(message)) => message,
        Err(error) => return Err(error.into()),
    };
    Ok(form::refused(ProviderFormPage {
        chrome,
        form: input,
        saved: Some(saved),
        error: Some(error),
        delete_error: None,
    }))
}

#[derive(Deserialize)]
pub struct Enabled {
    enabled: String,
}

pub async fn set_enabled(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Form(input): Form<Enabled>,
) -> PageResult<Redirect> {
    let enabled = form::checked(&Some(input.enabled));
    load(&state, id).await?;
    providers::set_sync_enabled(&state.db, id, enabled).await?;
    Ok(Redirect::to(if enabled { "/providers?notice=provider-enabled" } else { "/providers?notice=provider-disabled" }))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Confirm {
    confirm: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<Confirm>,
) -> PageResult<Response> {
    let provider = load(&state, id).await?;
    if !form::checked(&input.confirm) {
        let saved = saved(&state, &provider).await?;
        return Ok(form::refused(ProviderFormPage {
            chrome,
            form: ProviderForm::from_provider(&provider),
            saved: Some(saved),
            error: None,
            delete_error: Some("tick the confirmation box to delete this provider".into()),
        }));
    }
    providers::delete(&state.db, id).await?;
    Ok(Redirect::to("/providers?notice=provider-deleted").into_response())
}

pub async fn sync(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    load(&state, id).await?;
    start(&state, JobRequest::SyncProvider { provider_id: id }).await
}

pub async fn fetch(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    load(&state, id).await?;
    start(&state, JobRequest::FetchProvider { provider_id: id }).await
}

pub async fn push(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    load(&state, id).await?;
    start(&state, JobRequest::PushProvider { provider_id: id }).await
}

pub async fn sync_all(State(state): State<AppState>) -> PageResult<Redirect> {
    start(&state, JobRequest::SyncAll).await
}

pub async fn fetch_all(State(state): State<AppState>) -> PageResult<Redirect> {
    start(&state, JobRequest::FetchAll).await
}

pub async fn push_all(State(state): State<AppState>) -> PageResult<Redirect> {
    start(&state, JobRequest::PushAll).await
}

/// Tests a saved provider: as saved (the list's button) or with the edit form's values.
/// The edit form's test with a changed URL needs the key too: the worker would otherwise send the
/// saved key to the typed URL (the same rule as saving, [`key_after_url_change`]).
pub async fn test(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<ProviderForm>,
) -> PageResult<Response> {
    let provider = load(&state, id).await?;
    let typed_url = form::text(&input.base_url);
    let checked = providers::validate_base_url(typed_url.as_deref().unwrap_or(&provider.base_url)).and_then(|()| {
        let key = KeyChange::from_patch(Some(Some(input.api_key.clone())));
        key_after_url_change(
            Some(&provider.base_url),
            typed_url.as_deref(),
            provider.api_key.as_ref(),
            key,
            "provider's base",
        )
    });
    if let Err(error) = checked {
        let saved = saved(&state, &provider).await?;
        return Ok(form::refused(ProviderFormPage {
            chrome,
            form: input,
            saved: Some(saved),
            error: Some(error),
            delete_error: None,
        }));
    }
    Ok(start(&state, test_request(Some(id), &input)).await?.into_response())
}

/// Tests connection details before they are saved (the add form's button).
pub async fn test_unsaved(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<ProviderForm>,
) -> PageResult<Response> {
    if let Err(error) = providers::validate_base_url(&input.base_url) {
        return Ok(form::refused(ProviderFormPage {
            chrome,
            form: input,
            saved: None,
            error: Some(error),
            delete_error: None,
        }));
    }
    Ok(start(&state, test_request(None, &input)).await?.into_response())
}

fn test_request(provider_id: Option<i64>, input: &ProviderForm) -> JobRequest {
    JobRequest::TestConnection {
        provider_id,
        base_url: form::text(&input.base_url),
        provider_type: input.kind.parse().ok(),
        api_key: form::text(&input.api_key),
    }
}
