//! `/api/provider-presets`: hosted APIs an operator can add without looking up their URLs.

use axum::Json;
use serde::Serialize;
use shared::presets::{PRESETS, Preset};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// A preset as the API shows it: what to fill into `POST /api/providers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PresetView {
    pub id: &'static str,
    pub name: &'static str,
    /// `ollama` or `openai`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Stored exactly as given.
    pub base_url: &'static str,
    pub key_required: bool,
    /// Where to get a key.
    pub key_url: &'static str,
    pub model_filter: Option<&'static str>,
    pub sync_interval_seconds: i64,
    pub note: &'static str,
}

impl From<&Preset> for PresetView {
    fn from(p: &Preset) -> Self {
        Self {
            id: p.id,
            name: p.name,
            kind: p.kind.as_str(),
            base_url: p.base_url,
            key_required: p.key_required,
            key_url: p.key_url,
            model_filter: p.model_filter,
            sync_interval_seconds: p.sync_interval_seconds,
            note: p.note,
        }
    }
}

#[utoipa::path(get, path = "/api/provider-presets", tag = "providers",
    responses((status = 200, body = [PresetView])))]
async fn list() -> Json<Vec<PresetView>> {
    Json(PRESETS.iter().map(PresetView::from).collect())
}
