//! `/litellm`: what LiteLLM held at the worker's last look, who owns each entry, and deleting
//! entries litellm-updater owns (a job: only the worker talks to LiteLLM).

use std::collections::HashSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::Redirect;
use serde::Deserialize;
use serde_json::Value;
use shared::db::listing::{self, EntryList, EntrySort, ListedEntry, Owner};
use shared::db::{providers, views};
use shared::jobs::JobRequest;
use shared::listing::{Direction, PastTheEnd};

use super::jobs::start;
use super::list::{self, Column, ListState, Pager};
use super::view::{Badge, Stamp};
use super::{Chrome, PageResult, form};
use crate::state::AppState;

pub struct EntryRow {
    litellm_id: String,
    model_name: String,
    model: String,
    api_base: String,
    owner: Badge,
    deletable: bool,
    model_row_id: Option<i64>,
    provider: String,
}

impl EntryRow {
    fn new(e: &ListedEntry) -> Self {
        let entry = &e.entry.0;
        let text = |pointer: &str| entry.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
        let owner = match e.owner() {
            Owner::Ours => Badge::new("ok", "ours"),
            Owner::Python => Badge::new("info", "Python tool's"),
            Owner::ConfigFile => Badge::new("muted", "config file"),
            Owner::Others => Badge::new("muted", "someone else's"),
        };
        Self {
            litellm_id: e.litellm_id.clone().unwrap_or_default(),
            model_name: e.model_name.clone(),
            model: text("/litellm_params/model"),
            api_base: super::view::display_url(&text("/litellm_params/api_base")),
            owner,
            deletable: e.deletable(),
            model_row_id: e.model_row_id,
            provider: e.provider_name.clone().unwrap_or_default(),
        }
    }
}

fn owner_label(owner: Owner) -> &'static str {
    match owner {
        Owner::Ours => "litellm-updater's",
        Owner::Python => "the Python tool's",
        Owner::ConfigFile => "config file",
        Owner::Others => "someone else's",
    }
}

/// The list's query string, as text: a bad value falls back to its default (or is clamped),
/// never a 400 or a 500.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    q: String,
    owner: String,
    provider: String,
    sort: String,
    dir: String,
    per_page: String,
    page: String,
}

pub struct Choice {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "litellm.html")]
pub struct LitellmPage {
    chrome: Chrome,
    taken_at: Option<Stamp>,
    query: ListQuery,
    rows: Vec<EntryRow>,
    total: i64,
    owned: i64,
    owners: Vec<Choice>,
    providers: Vec<Choice>,
    columns: Vec<Column>,
    hidden: Vec<(&'static str, String)>,
    sizes: Vec<(i64, bool)>,
    pager: Pager,
    filtered: bool,
}

pub async fn page(
    State(state): State<AppState>,
    chrome: Chrome,
    Query(query): Query<ListQuery>,
) -> PageResult<LitellmPage> {
    let pool = &state.db;
    let sort = EntrySort::parse(&query.sort).unwrap_or_default();
    let direction = Direction::parse(&query.dir).unwrap_or_default();
    let per_page = list::per_page(&query.per_page);
    let search = EntryList {
        q: form::text(&query.q),
        owner: Owner::parse(&query.owner),
        provider_id: query.provider.trim().parse().ok(),
        sort,
        direction,
        page: list::page(&query.page),
        per_page: Some(per_page),
        past_the_end: PastTheEnd::LastPage,
    };
    let found = listing::entries(pool, &search).await?;
    let rows: Vec<EntryRow> = found.items.iter().map(EntryRow::new).collect();
    let (total, owned) = listing::entry_counts(pool).await?;
    let filters = vec![
        ("q", query.q.trim().to_owned()),
        ("owner", query.owner.trim().to_owned()),
        ("provider", query.provider.trim().to_owned()),
    ];
    let state =
        ListState::new("/litellm", filters, (sort.as_str(), EntrySort::default().as_str()), direction, per_page);
    let columns = vec![
        state.column("model_name", EntrySort::ModelName.as_str()),
        state.column("Deployment id", EntrySort::Id.as_str()),
        state.column("litellm_params.model", EntrySort::Model.as_str()),
        state.plain("api_base"),
        state.column("Owner", EntrySort::Owner.as_str()),
        state.column("Our model", EntrySort::Provider.as_str()),
    ];
    let choice = |value: &str, label: &str, current: &str| Choice {
        value: value.to_owned(),
        label: label.to_owned(),
        selected: value == current.trim(),
    };
    let providers = providers::list(pool).await?;
    Ok(LitellmPage {
        chrome,
        taken_at: Stamp::opt(views::snapshot_taken_at(pool).await?.as_deref()),
        owners: Owner::ALL.iter().map(|o| choice(o.as_str(), owner_label(*o), &query.owner)).collect(),
        providers: providers.iter().map(|p| choice(&p.id.to_string(), &p.name, &query.provider)).collect(),
        pager: state.pager(&found.window, found.total, rows.len(), "entries"),
        hidden: state.hidden(&["sort", "dir"]),
        sizes: state.sizes(),
        columns,
        filtered: search.q.is_some() || search.owner.is_some() || search.provider_id.is_some(),
        total,
        owned,
        rows,
        query,
    })
}

/// `ids` (ticked boxes) or `one` (a row's own button). Only entries the snapshot marks as ours
/// are passed on, whatever the form says.
pub async fn delete(State(state): State<AppState>, Form(fields): Form<Vec<(String, String)>>) -> PageResult<Redirect> {
    let one: Vec<&str> = fields.iter().filter(|(k, _)| k == "one").map(|(_, v)| v.as_str()).collect();
    let wanted: Vec<&str> =
        if one.is_empty() { fields.iter().filter(|(k, _)| k == "ids").map(|(_, v)| v.as_str()).collect() } else { one };
    let owned: HashSet<String> = views::owned_litellm_ids(&state.db).await?.into_iter().collect();
    let mut ids: Vec<String> = Vec::new();
    for id in wanted {
        if owned.contains(id) && !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    if ids.is_empty() {
        return Ok(Redirect::to("/litellm?notice=nothing-selected"));
    }
    start(&state, JobRequest::DeleteLitellmEntries { ids }).await
}
