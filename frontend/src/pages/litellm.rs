//! `/litellm`: what LiteLLM held at the worker's last look, who owns each entry, and deleting
//! entries litellm-updater owns (a job: only the worker talks to LiteLLM).

use std::collections::HashSet;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::State;
use axum::response::Redirect;
use serde_json::Value;
use shared::db::views::{self, LitellmEntry};
use shared::desired::MANAGED_BY;
use shared::jobs::JobRequest;

use super::jobs::start;
use super::view::{Badge, Stamp};
use super::{Chrome, PageResult};
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
    fn new(e: &LitellmEntry) -> Self {
        let entry = &e.entry.0;
        let text = |pointer: &str| entry.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
        let owner = if e.owned {
            if text("/model_info/managed_by") == MANAGED_BY {
                Badge::new("ok", "ours")
            } else {
                Badge::new("info", "Python tool's")
            }
        } else if entry.pointer("/model_info/db_model").and_then(Value::as_bool) != Some(true) {
            Badge::new("muted", "config file")
        } else {
            Badge::new("muted", "someone else's")
        };
        Self {
            litellm_id: e.litellm_id.clone().unwrap_or_default(),
            model_name: e.model_name.clone(),
            model: text("/litellm_params/model"),
            api_base: super::view::display_url(&text("/litellm_params/api_base")),
            owner,
            deletable: e.owned && e.litellm_id.is_some(),
            model_row_id: e.model_row_id,
            provider: e.provider_name.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "litellm.html")]
pub struct LitellmPage {
    chrome: Chrome,
    taken_at: Option<Stamp>,
    rows: Vec<EntryRow>,
    owned: usize,
}

pub async fn page(State(state): State<AppState>, chrome: Chrome) -> PageResult<LitellmPage> {
    let rows: Vec<EntryRow> = views::litellm_entries(state.pool()).await?.iter().map(EntryRow::new).collect();
    Ok(LitellmPage {
        chrome,
        taken_at: Stamp::opt(views::snapshot_taken_at(state.pool()).await?.as_deref()),
        owned: rows.iter().filter(|r| r.deletable).count(),
        rows,
    })
}

/// `ids` (ticked boxes) or `one` (a row's own button). Only entries the snapshot marks as ours
/// are passed on, whatever the form says.
pub async fn delete(State(state): State<AppState>, Form(fields): Form<Vec<(String, String)>>) -> PageResult<Redirect> {
    let one: Vec<&str> = fields.iter().filter(|(k, _)| k == "one").map(|(_, v)| v.as_str()).collect();
    let wanted: Vec<&str> =
        if one.is_empty() { fields.iter().filter(|(k, _)| k == "ids").map(|(_, v)| v.as_str()).collect() } else { one };
    let owned: HashSet<String> = views::owned_litellm_ids(state.pool()).await?.into_iter().collect();
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
