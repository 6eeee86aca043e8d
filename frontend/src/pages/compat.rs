//! `/compat`: aliases (an OpenAI name served by a local model) — list, add, re-point, delete,
//! and registering the built-in catalogue.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shared::compat::DEFAULT_CATALOGUE;
use shared::db::views::{self, Alias};
use shared::db::{models, providers};
use shared::types::ProviderType;

use super::form;
use super::view::Badge;
use super::{Chrome, PageError, PageResult};
use crate::state::AppState;

pub struct AliasRow {
    id: i64,
    alias: String,
    target: String,
    target_row_id: Option<i64>,
    badge: Badge,
}

impl AliasRow {
    fn new(a: &Alias) -> Self {
        let target = format!(
            "{}/{}",
            a.target_provider.as_deref().unwrap_or("(deleted provider)"),
            a.target_model_id.as_deref().unwrap_or("?")
        );
        let badge = match (a.target_row_id, a.target_orphaned) {
            (None, _) => Badge::new("bad", "target missing"),
            (Some(_), Some(true)) => Badge::new("warn", "target orphaned"),
            _ if !a.sync_enabled => Badge::new("muted", "disabled"),
            _ if a.in_litellm => Badge::new("ok", "synced"),
            _ => Badge::new("info", "pending"),
        };
        Self { id: a.id, alias: a.alias.clone(), target, target_row_id: a.target_row_id, badge }
    }
}

/// The add/edit form, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AliasForm {
    alias: String,
    provider_id: String,
    model_id: String,
}

pub struct ProviderChoice {
    id: String,
    name: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "compat.html")]
pub struct CompatPage {
    chrome: Chrome,
    rows: Vec<AliasRow>,
    form: AliasForm,
    providers: Vec<ProviderChoice>,
    error: Option<String>,
    /// `Some` right after "Register the default aliases": what it registered.
    registered: Option<Vec<String>>,
    catalogue: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListQuery {
    registered: Option<String>,
}

async fn choices(state: &AppState, selected: &str) -> PageResult<Vec<ProviderChoice>> {
    Ok(providers::list(&state.db)
        .await?
        .into_iter()
        .filter(|p| p.kind != ProviderType::Compat)
        .map(|p| ProviderChoice { selected: p.id.to_string() == selected.trim(), id: p.id.to_string(), name: p.name })
        .collect())
}

async fn render(
    state: &AppState,
    chrome: Chrome,
    form: AliasForm,
    error: Option<String>,
    registered: Option<Vec<String>>,
) -> PageResult<CompatPage> {
    let rows = views::aliases(&state.db).await?.iter().map(AliasRow::new).collect();
    Ok(CompatPage {
        chrome,
        rows,
        providers: choices(state, &form.provider_id).await?,
        form,
        error,
        registered,
        catalogue: DEFAULT_CATALOGUE
            .iter()
            .map(|(alias, candidates)| format!("{alias} → {}", candidates.join(", ")))
            .collect(),
    })
}

pub async fn list(
    State(state): State<AppState>,
    chrome: Chrome,
    Query(query): Query<ListQuery>,
) -> PageResult<CompatPage> {
    // Only catalogue names are shown back, with their stored targets: the link carries no text of its own.
    let registered = match query.registered {
        Some(names) => {
            let aliases = views::aliases(&state.db).await?;
            Some(
                names
                    .split(',')
                    .filter(|name| DEFAULT_CATALOGUE.iter().any(|(alias, _)| alias == name))
                    .filter_map(|name| aliases.iter().find(|a| a.alias == name))
                    .map(|a| format!("{} → {}", a.alias, AliasRow::new(a).target))
                    .collect(),
            )
        }
        None => None,
    };
    render(&state, chrome, AliasForm::default(), None, registered).await
}

/// The target `(provider id, model id)` the form names, checked to exist.
async fn target(state: &AppState, form: &AliasForm) -> PageResult<Result<(i64, String), String>> {
    let Ok(provider_id) = form.provider_id.trim().parse::<i64>() else {
        return Ok(Err("choose the provider that serves the target model".into()));
    };
    let Some(provider) = providers::get(&state.db, provider_id).await?.filter(|p| p.kind != ProviderType::Compat)
    else {
        return Ok(Err(format!("provider {provider_id} does not exist")));
    };
    let model_id = form.model_id.trim();
    if model_id.is_empty() {
        return Ok(Err("give the target's model id, as the Models page lists it".into()));
    }
    match models::get_by_model_id(&state.db, provider_id, model_id).await? {
        Some(model) => Ok(Ok((provider_id, model.model_id))),
        None => Ok(Err(format!("{} has no model {model_id:?}: fetch it first, or check the spelling", provider.name))),
    }
}

pub async fn add(State(state): State<AppState>, chrome: Chrome, Form(input): Form<AliasForm>) -> PageResult<Response> {
    let alias = input.alias.trim().to_owned();
    let error = if alias.is_empty() {
        Some("give the alias a name, like gpt-4o-mini".to_owned())
    } else if alias.chars().any(char::is_whitespace) {
        Some("an alias is a model name: no spaces".to_owned())
    } else if views::aliases(&state.db).await?.iter().any(|a| a.alias == alias) {
        Some(format!("the alias {alias:?} already exists: edit it instead"))
    } else {
        None
    };
    if let Some(error) = error {
        return Ok(form::refused(render(&state, chrome, input, Some(error), None).await?));
    }
    let (provider_id, model_id) = match target(&state, &input).await? {
        Ok(target) => target,
        Err(error) => return Ok(form::refused(render(&state, chrome, input, Some(error), None).await?)),
    };
    let compat = providers::compat_provider(&state.db).await?;
    models::upsert_alias(&state.db, compat.id, &alias, provider_id, &model_id).await?;
    Ok(Redirect::to("/compat?notice=alias-added").into_response())
}

pub async fn register_defaults(State(state): State<AppState>) -> PageResult<Redirect> {
    let registered = shared::compat::register_defaults(&state.db).await?;
    let names: Vec<&str> = registered.iter().map(|r| r.alias.as_str()).collect();
    let query =
        url::form_urlencoded::Serializer::new(String::new()).append_pair("registered", &names.join(",")).finish();
    Ok(Redirect::to(&format!("/compat?{query}")))
}

#[derive(Template, WebTemplate)]
#[template(path = "alias_form.html")]
pub struct AliasPage {
    chrome: Chrome,
    id: i64,
    alias: String,
    form: AliasForm,
    providers: Vec<ProviderChoice>,
    error: Option<String>,
}

async fn load(state: &AppState, id: i64) -> PageResult<Alias> {
    views::aliases(&state.db)
        .await?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| PageError::not_found(format!("alias {id} does not exist")))
}

pub async fn edit_form(State(state): State<AppState>, chrome: Chrome, Path(id): Path<i64>) -> PageResult<AliasPage> {
    let alias = load(&state, id).await?;
    let form = AliasForm {
        alias: alias.alias.clone(),
        provider_id: alias.target_provider_id.map(|p| p.to_string()).unwrap_or_default(),
        model_id: alias.target_model_id.clone().unwrap_or_default(),
    };
    Ok(AliasPage {
        chrome,
        id,
        providers: choices(&state, &form.provider_id).await?,
        alias: alias.alias,
        form,
        error: None,
    })
}

pub async fn update(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<AliasForm>,
) -> PageResult<Response> {
    let alias = load(&state, id).await?;
    let (provider_id, model_id) = match target(&state, &input).await? {
        Ok(target) => target,
        Err(error) => {
            let providers = choices(&state, &input.provider_id).await?;
            return Ok(form::refused(AliasPage {
                chrome,
                id,
                alias: alias.alias,
                form: input,
                providers,
                error: Some(error),
            }));
        }
    };
    let compat = providers::compat_provider(&state.db).await?;
    models::upsert_alias(&state.db, compat.id, &alias.alias, provider_id, &model_id).await?;
    Ok(Redirect::to("/compat?notice=alias-saved").into_response())
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    load(&state, id).await?;
    models::delete(&state.db, id).await?;
    Ok(Redirect::to("/compat?notice=alias-deleted"))
}
