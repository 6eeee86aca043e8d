//! `/models`: search, filter and page through every model; `/models/{id}`: one model's derived
//! and raw metadata and the operator's overrides.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use shared::db::listing::{self, ListedModel, ModelList, ModelSort};
use shared::db::models::{self, ModelStatus};
use shared::db::providers;
use shared::jobs::JobRequest;
use shared::listing::{Direction, PastTheEnd};
use shared::model::{Model, Overrides};
use shared::provider::Provider;
use shared::types::{Capability, OllamaMode, ProviderType};

use super::jobs::start;
use super::list::{self, Column, ListState, Pager};
use super::view::{Badge, SHOWN_JSON_BYTES, Stamp, opt_cost, opt_num, pretty_json, shown_json};
use super::{Chrome, PageError, PageResult, form};
use crate::state::AppState;

/// The list's query string, as text: a bad value falls back to its default (or is clamped),
/// never a 400 or a 500.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    provider: String,
    capability: String,
    status: String,
    sort: String,
    dir: String,
    per_page: String,
    page: String,
}

impl ListQuery {
    fn status(&self) -> Option<ModelStatus> {
        serde_json::from_value(Value::String(self.status.trim().to_ascii_lowercase())).ok()
    }

    fn filters(&self) -> Vec<(&'static str, String)> {
        vec![
            ("q", self.q.trim().to_owned()),
            ("provider", self.provider.trim().to_owned()),
            ("capability", self.capability.trim().to_owned()),
            ("status", self.status.trim().to_owned()),
        ]
    }
}

pub struct ModelRow {
    id: i64,
    model_id: String,
    model_name: String,
    provider: String,
    mode: String,
    context: String,
    capabilities: String,
    badge: Badge,
    orphaned: bool,
    overridden: bool,
    alias_of: Option<String>,
    last_seen: Option<Stamp>,
    /// What goes with the status: why, what differs, or the error.
    status_detail: String,
}

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "models.html")]
pub struct ModelsPage {
    chrome: Chrome,
    query: ListQuery,
    rows: Vec<ModelRow>,
    providers: Vec<Choice>,
    capabilities: Vec<Choice>,
    statuses: Vec<Choice>,
    columns: Vec<Column>,
    hidden: Vec<(&'static str, String)>,
    sizes: Vec<(i64, bool)>,
    pager: Pager,
    filtered: bool,
}

pub async fn list(
    State(state): State<AppState>,
    chrome: Chrome,
    Query(query): Query<ListQuery>,
) -> PageResult<ModelsPage> {
    let pool = &state.db;
    let all = providers::list(pool).await?;
    let names: HashMap<i64, &Provider> = all.iter().map(|p| (p.id, p)).collect();
    let sort = ModelSort::parse(&query.sort).unwrap_or_default();
    let direction = Direction::parse(&query.dir).unwrap_or_default();
    let per_page = list::per_page(&query.per_page);
    let search = ModelList {
        q: form::text(&query.q),
        provider_id: query.provider.trim().parse().ok(),
        capability: form::text(&query.capability),
        status: query.status(),
        sort,
        direction,
        page: list::page(&query.page),
        per_page: Some(per_page),
        past_the_end: PastTheEnd::LastPage,
    };
    let found = listing::models(pool, &search).await?;
    let rows: Vec<ModelRow> = found
        .items
        .iter()
        .map(|ListedModel { model: m, status, status_detail, model_name }| {
            let provider = names.get(&m.provider_id);
            let alias_of = provider
                .filter(|p| p.kind == ProviderType::Compat)
                .map(|_| m.mapped_model_id.clone().unwrap_or_else(|| "?".into()));
            ModelRow {
                id: m.id,
                model_id: m.model_id.clone(),
                model_name: model_name.clone(),
                provider: provider.map(|p| p.name.clone()).unwrap_or_default(),
                mode: m.model_type.clone().unwrap_or_default(),
                context: opt_num(m.context_window),
                capabilities: m.capabilities.join(", "),
                badge: Badge::model(*status),
                status_detail: status_detail.clone().unwrap_or_default(),
                orphaned: *status == ModelStatus::Orphaned,
                overridden: m.user_modified,
                alias_of,
                last_seen: Stamp::opt(Some(&m.last_seen)),
            }
        })
        .collect();
    let state =
        ListState::new("/models", query.filters(), (sort.as_str(), ModelSort::default().as_str()), direction, per_page);
    let columns = vec![
        state.column("Model", ModelSort::Name.as_str()),
        state.column("LiteLLM model_name", ModelSort::ModelName.as_str()),
        state.column("Provider", ModelSort::Provider.as_str()),
        state.column("Mode", ModelSort::Mode.as_str()),
        state.column("Context", ModelSort::Context.as_str()),
        state.plain("Capabilities"),
        state.column("Status", ModelSort::Status.as_str()),
        state.column("Last seen", ModelSort::LastSeen.as_str()),
    ];
    let choice = |value: &str, label: &str, current: &str| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: value == current.trim(),
    };
    Ok(ModelsPage {
        chrome,
        providers: all.iter().map(|p| choice(&p.id.to_string(), &p.name, &query.provider)).collect(),
        capabilities: Capability::ALL.iter().map(|c| choice(c.as_str(), c.as_str(), &query.capability)).collect(),
        statuses: ModelStatus::ALL.iter().map(|s| choice(s.as_str(), s.label(), &query.status)).collect(),
        pager: state.pager(&found.window, found.total, rows.len(), "models"),
        hidden: state.hidden(&["sort", "dir"]),
        sizes: state.sizes(),
        columns,
        filtered: search.q.is_some()
            || search.provider_id.is_some()
            || search.capability.is_some()
            || search.status.is_some(),
        rows,
        query,
    })
}

/// The overrides form, as typed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OverridesForm {
    params: String,
    user_tags: String,
    access_groups: String,
    input_cost_per_token: String,
    output_cost_per_token: String,
    sync_enabled: Option<String>,
    ollama_mode: String,
}

impl OverridesForm {
    fn from_model(m: &Model) -> Self {
        let pricing = m.pricing();
        Self {
            params: m.user_params.as_ref().map(|p| pretty_json(&Value::Object(p.clone()))).unwrap_or_default(),
            user_tags: m.user_tags().join(", "),
            access_groups: m.access_groups().join(", "),
            input_cost_per_token: opt_cost(pricing.and_then(|p| p.input_cost_per_token)),
            output_cost_per_token: opt_cost(pricing.and_then(|p| p.output_cost_per_token)),
            sync_enabled: m.sync_enabled.then(|| "on".into()),
            ollama_mode: m.ollama_mode.map(|o| o.as_str().to_owned()).unwrap_or_default(),
        }
    }

    fn parse(&self) -> Result<Overrides, String> {
        let params = match self.params.trim() {
            "" => None,
            text => match serde_json::from_str::<Value>(text) {
                Ok(Value::Object(map)) => Some(map).filter(|m: &Map<String, Value>| !m.is_empty()),
                Ok(_) => return Err("params must be a JSON object, like {\"temperature\": 0.2}".into()),
                Err(e) => return Err(format!("params is not valid JSON: {e}")),
            },
        };
        let ollama_mode = match self.ollama_mode.trim() {
            "" => None,
            text => Some(text.parse::<OllamaMode>().map_err(|e| e.to_string())?),
        };
        let list = |text: &str| Some(form::list(text)).filter(|l| !l.is_empty());
        let overrides = Overrides {
            user_params: Some(params),
            user_tags: Some(list(&self.user_tags)),
            access_groups: Some(list(&self.access_groups)),
            pricing_override: Some(form::pricing(&self.input_cost_per_token, &self.output_cost_per_token)?),
            ollama_mode: Some(ollama_mode),
            sync_enabled: Some(form::checked(&self.sync_enabled)),
        };
        overrides.check()?;
        Ok(overrides)
    }
}

pub struct Fact {
    label: &'static str,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "model.html")]
pub struct ModelPage {
    chrome: Chrome,
    id: i64,
    model_id: String,
    provider: String,
    provider_id: i64,
    is_ollama: bool,
    is_alias: bool,
    badge: Badge,
    orphaned_at: Option<Stamp>,
    facts: Vec<Fact>,
    derived: String,
    raw: String,
    form: OverridesForm,
    modes: Vec<(&'static str, bool)>,
    error: Option<String>,
    /// The effective price, each half with where it came from.
    price_lines: Vec<String>,
    profiles: Vec<(String, bool)>,
    /// The provider's settings leave this model out (the detail names which one).
    excluded: bool,
    /// What goes with the status: why, what differs, or the error.
    status_detail: String,
}

async fn page(
    state: &AppState,
    chrome: Chrome,
    id: i64,
    form: Option<OverridesForm>,
    error: Option<String>,
) -> PageResult<ModelPage> {
    let pool = &state.db;
    let model =
        models::get(pool, id).await?.ok_or_else(|| PageError::not_found(format!("model {id} does not exist")))?;
    let provider = providers::get(pool, model.provider_id).await?;
    // The listing's rule, so the page and the list never disagree.
    let shown = models::status_detail(pool, id).await?;
    let status = shown.as_ref().map_or(ModelStatus::Pending, |s| s.status);
    let status_detail = shown.and_then(|s| s.detail).unwrap_or_default();
    // The stored answer can be megabytes: only its head comes back, on the one raw-metadata
    // connection (SQLite loads the whole value to cut it), so such reads never add up.
    let raw = models::raw_metadata_head(state.raw_reader().await?, id, SHOWN_JSON_BYTES).await?;
    let raw = raw.map(|(head, total)| shown_json(&head, Some(total))).unwrap_or_default();
    let form = form.unwrap_or_else(|| OverridesForm::from_model(&model));
    let name = match provider.as_ref().and_then(|p| p.prefix.as_deref()) {
        Some(prefix) => format!("{prefix}/{}", model.model_id),
        None => model.model_id.clone(),
    };
    let upstream = model.upstream_pricing;
    let mut facts = vec![
        Fact { label: "LiteLLM model_name", value: name },
        Fact { label: "Mode", value: model.model_type.clone().unwrap_or_default() },
        Fact { label: "Context window", value: opt_num(model.context_window) },
        Fact { label: "Max input tokens", value: opt_num(model.max_input_tokens) },
        Fact { label: "Max output tokens", value: opt_num(model.max_output_tokens) },
        Fact { label: "Max tokens", value: opt_num(model.max_tokens) },
        Fact { label: "Capabilities", value: model.capabilities.join(", ") },
        Fact { label: "System tags", value: model.system_tags.join(", ") },
        Fact { label: "Upstream input cost / token", value: opt_cost(upstream.and_then(|p| p.input_cost_per_token)) },
        Fact { label: "Upstream output cost / token", value: opt_cost(upstream.and_then(|p| p.output_cost_per_token)) },
        Fact { label: "Upstream digest", value: model.upstream_digest.clone().unwrap_or_default() },
        Fact { label: "LiteLLM deployment id", value: model.litellm_model_id.clone().unwrap_or_default() },
        Fact { label: "First seen", value: Stamp::new(&model.first_seen).text },
        Fact { label: "Last seen", value: Stamp::new(&model.last_seen).text },
    ];
    if let (Some(target_provider), Some(target)) = (model.mapped_provider_id, &model.mapped_model_id) {
        let target_name = providers::get(pool, target_provider).await?.map(|p| p.name).unwrap_or_default();
        facts.insert(0, Fact { label: "Alias of", value: format!("{target_name}/{target}") });
    }
    let modes = OllamaMode::ALL.iter().map(|m| (m.as_str(), m.as_str() == form.ollama_mode)).collect();
    let price_lines = crate::api::pricing::effective_price(state, id)
        .await
        .map_err(|e| PageError { status: e.status, message: e.detail })?
        .explained;
    let catalogue = crate::api::pricing::profile_views(&shared::db::config::pricing_profiles(pool).await?);
    let profiles = super::pricing::profile_choices(&catalogue, model.pricing_profile.as_deref());
    Ok(ModelPage {
        chrome,
        id,
        provider: provider.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        provider_id: model.provider_id,
        is_ollama: provider.as_ref().is_some_and(|p| p.kind == ProviderType::Ollama),
        is_alias: provider.as_ref().is_some_and(|p| p.kind == ProviderType::Compat),
        badge: Badge::model(status),
        excluded: status == ModelStatus::Excluded,
        status_detail,
        orphaned_at: Stamp::opt(model.orphaned_at.as_deref()).filter(|_| model.is_orphaned),
        facts,
        derived: pretty_json(&Value::Object(model.derived_info.clone())),
        raw,
        model_id: model.model_id,
        form,
        modes,
        error,
        price_lines,
        profiles,
    })
}

pub async fn detail(State(state): State<AppState>, chrome: Chrome, Path(id): Path<i64>) -> PageResult<ModelPage> {
    page(&state, chrome, id, None, None).await
}

pub async fn save(
    State(state): State<AppState>,
    chrome: Chrome,
    Path(id): Path<i64>,
    Form(input): Form<OverridesForm>,
) -> PageResult<Response> {
    let overrides = match input.parse() {
        Ok(overrides) => overrides,
        Err(error) => {
            let page = page(&state, chrome, id, Some(input), Some(error)).await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    if !models::set_overrides(&state.db, id, &overrides).await? {
        return Err(PageError::not_found(format!("model {id} does not exist")));
    }
    Ok(Redirect::to(&format!("/models/{id}?notice=model-saved")).into_response())
}

async fn exists(state: &AppState, id: i64) -> PageResult<()> {
    models::get(&state.db, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| PageError::not_found(format!("model {id} does not exist")))
}

pub async fn refresh(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    exists(&state, id).await?;
    start(&state, JobRequest::RefreshModel { model_id: id }).await
}

pub async fn push(State(state): State<AppState>, Path(id): Path<i64>) -> PageResult<Redirect> {
    exists(&state, id).await?;
    start(&state, JobRequest::PushModel { model_id: id }).await
}
