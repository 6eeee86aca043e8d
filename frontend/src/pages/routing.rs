//! `/routing`: routing groups (list, add, edit, delete, candidates by capability) and
//! fallbacks between names.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use shared::db::providers;
use shared::db::routing;
use shared::provider::Provider;
use shared::routing::{Fallback, FallbackType, Group, GroupInput, TargetInput};

use super::form;
use super::view::Badge;
use super::{Chrome, PageError, PageResult};
use crate::api::routing::{GroupView, Lookup, candidates_for};
use crate::state::AppState;

/// The group form, as typed. Targets are one per line: `provider/model weight=2 priority=1`,
/// with `disabled` to keep a target without serving it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GroupForm {
    name: String,
    description: String,
    capabilities: String,
    auto_context_fallback: Option<String>,
    targets: String,
}

/// Reads the target lines against the providers' names (a name may itself hold a `/`: the
/// longest matching name wins).
pub fn parse_targets(text: &str, providers: &[Provider]) -> Result<Vec<TargetInput>, String> {
    let mut targets = Vec::new();
    for (n, line) in text.lines().enumerate().map(|(n, l)| (n + 1, l.trim())).filter(|(_, l)| !l.is_empty()) {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        let provider = providers
            .iter()
            .filter(|p| first.len() > p.name.len() + 1 && first.starts_with(&format!("{}/", p.name)))
            .max_by_key(|p| p.name.len())
            .ok_or_else(|| format!("line {n}: {first:?} does not start with a provider name and a /"))?;
        let mut target = TargetInput {
            provider_id: provider.id,
            model_id: first[provider.name.len() + 1..].to_owned(),
            weight: 1,
            priority: 1,
            enabled: true,
        };
        for word in words {
            let number = |value: &str, what: &str| {
                value.parse::<i64>().map_err(|_| format!("line {n}: {what} must be a whole number, got {value:?}"))
            };
            match word.split_once('=') {
                Some(("weight", value)) => target.weight = number(value, "weight")?,
                Some(("priority", value)) => target.priority = number(value, "priority")?,
                None if word == "disabled" => target.enabled = false,
                _ => return Err(format!("line {n}: {word:?} is not weight=N, priority=N or disabled")),
            }
        }
        targets.push(target);
    }
    Ok(targets)
}

/// The lines [`parse_targets`] reads, for an edit form.
fn target_lines(view: &GroupView) -> String {
    view.targets
        .iter()
        .map(|t| {
            let provider = t.provider_name.as_deref().unwrap_or("(deleted provider)");
            let disabled = if t.enabled { "" } else { " disabled" };
            format!("{provider}/{} weight={} priority={}{disabled}\n", t.model_id, t.weight, t.priority)
        })
        .collect()
}

impl GroupForm {
    fn of(view: &GroupView) -> Self {
        Self {
            name: view.name.clone(),
            description: view.description.clone().unwrap_or_default(),
            capabilities: view.capabilities.join(", "),
            auto_context_fallback: view.auto_context_fallback.then(|| "on".to_owned()),
            targets: target_lines(view),
        }
    }

    fn input(&self, providers: &[Provider]) -> Result<GroupInput, String> {
        Ok(GroupInput {
            name: self.name.clone(),
            description: form::text(&self.description),
            capabilities: form::list(&self.capabilities),
            auto_context_fallback: form::checked(&self.auto_context_fallback),
            targets: parse_targets(&self.targets, providers)?,
        })
    }

    fn auto(&self) -> bool {
        form::checked(&self.auto_context_fallback)
    }
}

pub struct TargetRow {
    line: String,
    weight: i64,
    priority: i64,
    context: String,
    badge: Badge,
}

pub struct GroupRow {
    id: i64,
    name: String,
    description: String,
    capabilities: String,
    auto_context_fallback: bool,
    targets: Vec<TargetRow>,
}

fn group_row(view: GroupView) -> GroupRow {
    let targets = view
        .targets
        .iter()
        .map(|t| TargetRow {
            line: format!("{}/{}", t.provider_name.as_deref().unwrap_or("(deleted provider)"), t.model_id),
            weight: t.weight,
            priority: t.priority,
            context: t.context_window.map(|c| c.to_string()).unwrap_or_else(|| "—".into()),
            badge: match t.status.as_str() {
                "served" => Badge::new("ok", "served"),
                "disabled" => Badge::new("muted", "disabled"),
                other => Badge::new("warn", other.to_owned()),
            },
        })
        .collect();
    GroupRow {
        id: view.id,
        name: view.name,
        description: view.description.unwrap_or_default(),
        capabilities: view.capabilities.join(", "),
        auto_context_fallback: view.auto_context_fallback,
        targets,
    }
}

pub struct FallbackRow {
    model_name: String,
    kind: &'static str,
    models: String,
    delete_url: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FallbackForm {
    model_name: String,
    fallback_type: String,
    fallback_models: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "routing.html")]
pub struct RoutingPage {
    chrome: Chrome,
    groups: Vec<GroupRow>,
    fallbacks: Vec<FallbackRow>,
    form: GroupForm,
    fallback_form: FallbackForm,
    capability_filter: String,
    candidates: Vec<String>,
    error: Option<String>,
    fallback_error: Option<String>,
    kinds: Vec<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoutingQuery {
    capabilities: Option<String>,
}

async fn render(
    state: &AppState,
    chrome: Chrome,
    form: GroupForm,
    fallback_form: FallbackForm,
    capability_filter: String,
    errors: (Option<String>, Option<String>),
) -> PageResult<RoutingPage> {
    let groups = routing::list_groups(&state.db).await?;
    let lookup = Lookup::load(state, &groups).await.map_err(|e| PageError { status: e.status, message: e.detail })?;
    let groups = groups.into_iter().map(|g| group_row(lookup.view(g))).collect();
    let fallbacks = routing::list_fallbacks(&state.db)
        .await?
        .into_iter()
        .map(|f| FallbackRow {
            delete_url: format!(
                "/routing/fallbacks/delete?{}",
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("model_name", &f.model_name)
                    .append_pair("fallback_type", f.fallback_type.as_str())
                    .finish()
            ),
            kind: f.fallback_type.as_str(),
            models: f.fallback_models.join(", "),
            model_name: f.model_name,
        })
        .collect();
    let candidates = candidates_for(state, Some(&capability_filter))
        .await
        .map_err(|e| PageError { status: e.status, message: e.detail })?
        .into_iter()
        .map(|c| format!("{}/{}", c.provider_name, c.model_id))
        .collect();
    Ok(RoutingPage {
        chrome,
        groups,
        fallbacks,
        form,
        fallback_form,
        capability_filter,
        candidates,
        error: errors.0,
        fallback_error: errors.1,
        kinds: FallbackType::ALL.iter().map(|k| k.as_str()).collect(),
    })
}

pub async fn page(
    State(state): State<AppState>,
    chrome: Chrome,
    Query(query): Query<RoutingQuery>,
) -> PageResult<RoutingPage> {
    let filter = query.capabilities.unwrap_or_default();
    let form = GroupForm { capabilities: filter.clone(), ..GroupForm::default() };
    render(&state, chrome, form, FallbackForm::default(), filter, (None, None)).await
}

pub async fn create(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<GroupForm>,
) -> PageResult<Response> {
    let providers = providers::list(&state.db).await?;
    let error = match input.input(&providers) {
        Ok(group) => match routing::create_group(&state.db, &group).await {
            Ok(_) => None,
            Err(error) => Some(form::message(error)?),
        },
        Err(error) => Some(error),
    };
    match error {
        None => Ok(Redirect::to("/routing?notice=group-saved").into_response()),
        Some(error) => {
            let filter = input.capabilities.clone();
            Ok(form::refused(
                render(&state, chrome, input, FallbackForm::default(), filter, (Some(error), None)).await?,
            ))
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "routing_group.html")]
pub struct GroupPage {
    chrome: Chrome,
    id: i64,
    name: String,
    form: GroupForm,
    error: Option<String>,
}

async fn load(state: &AppState, id: i64) -> PageResult<GroupView> {
    let group: Group = routing::get_group(&state.db, id)
        .await?
        .ok_or_else(|| PageError::not_found(format!("no routing group {id}")))?;
    let lookup = Lookup::load(state, [&group]).await.map_err(|e| PageError { status: e.status, message: e.detail })?;
    Ok(lookup.view(group))
}

pub async fn edit_form(State(state): State<AppState>, chrome: Chrome, Path(id): Path<i64>) -> PageResult<GroupPage> {
    let view = load(&state, id).await?;
    Ok(GroupPage { chrome, id, name: view.name.clone(), form: GroupForm::of(&view), error: None })
}

pub async fn update(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<GroupForm>,
) -> PageResult<Response> {
    let view = load(&state, id).await?;
    let providers = providers::list(&state.db).await?;
    let error = match input.input(&providers) {
        Ok(group) => match routing::update_group(&state.db, id, &group).await {
            Ok(_) => None,
            Err(error) => Some(form::message(error)?),
        },
        Err(error) => Some(error),
    };
    match error {
        None => Ok(Redirect::to("/routing?notice=group-saved").into_response()),
        Some(error) => Ok(form::refused(GroupPage { chrome, id, name: view.name, form: input, error: Some(error) })),
    }
}

pub async fn delete(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    if !routing::delete_group(&state.db, id).await? {
        return Err(PageError::not_found(format!("no routing group {id}")));
    }
    Ok(Redirect::to("/routing?notice=group-deleted"))
}

pub async fn set_fallback(
    State(state): State<AppState>,
    chrome: Chrome,
    Form(input): Form<FallbackForm>,
) -> PageResult<Response> {
    let error = match input.fallback_type.parse::<FallbackType>() {
        Err(error) => Some(error),
        Ok(fallback_type) => {
            let fallback = Fallback {
                model_name: input.model_name.clone(),
                fallback_type,
                fallback_models: form::list(&input.fallback_models),
            };
            match routing::set_fallback(&state.db, &fallback).await {
                Ok(_) => None,
                Err(error) => Some(form::message(error)?),
            }
        }
    };
    match error {
        None => Ok(Redirect::to("/routing?notice=fallback-saved").into_response()),
        Some(error) => Ok(form::refused(
            render(&state, chrome, GroupForm::default(), input, String::new(), (None, Some(error))).await?,
        )),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FallbackKey {
    model_name: String,
    fallback_type: String,
}

pub async fn delete_fallback(State(state): State<AppState>, Query(key): Query<FallbackKey>) -> PageResult<Redirect> {
    let kind: FallbackType =
        key.fallback_type.parse().map_err(|e: String| PageError { status: StatusCode::BAD_REQUEST, message: e })?;
    if !routing::delete_fallback(&state.db, &key.model_name, kind).await? {
        return Err(PageError::not_found(format!("no {kind} fallback for {}", key.model_name)));
    }
    Ok(Redirect::to("/routing?notice=fallback-deleted"))
}

#[cfg(test)]
mod tests {
    use shared::types::ProviderType;

    use super::*;

    fn provider(id: i64, name: &str) -> Provider {
        shared::provider::Provider {
            id,
            name: name.into(),
            base_url: "http://x".into(),
            kind: ProviderType::Ollama,
            api_key: None,
            prefix: None,
            default_ollama_mode: Default::default(),
            tags: vec![],
            access_groups: vec![],
            sync_enabled: true,
            sync_interval_seconds: None,
            model_filter: None,
            model_filter_exclude: None,
            pricing_override: None,
            pricing_profile: None,
            rpm: None,
            tpm: None,
            auto_detect_fim: true,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn target_lines_name_provider_model_weight_priority_and_disabled() {
        let providers = [provider(1, "lab"), provider(2, "lab/gpu")];
        let parsed = parse_targets(
            "lab/llama3:8b weight=3\n\n  lab/gpu/qwen:7b priority=2 disabled \nlab/org/model:1",
            &providers,
        )
        .expect("valid lines");
        let summary: Vec<(i64, &str, i64, i64, bool)> =
            parsed.iter().map(|t| (t.provider_id, t.model_id.as_str(), t.weight, t.priority, t.enabled)).collect();
        assert_eq!(
            summary,
            vec![(1, "llama3:8b", 3, 1, true), (2, "qwen:7b", 1, 2, false), (1, "org/model:1", 1, 1, true)]
        );
        for (bad, words) in [
            ("other/x", "does not start with a provider"),
            ("lab/x weight=much", "weight must be a whole number"),
            ("lab/x loud", "is not weight=N"),
            ("lab/", "does not start with a provider"),
        ] {
            let error = parse_targets(bad, &providers).expect_err(bad);
            assert!(error.contains(words), "{bad}: {error}");
        }
    }
}
