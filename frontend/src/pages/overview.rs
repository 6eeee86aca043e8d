//! `/`: how many models stand where, the worker, and each provider's latest sync.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use shared::db::models::{self, StatusCounts};
use shared::db::{jobs, providers};
use shared::types::ProviderType;

use super::jobs::JobRow;
use super::view::{Badge, RunView};
use super::{Chrome, PageResult};
use crate::state::AppState;
use crate::status;

pub struct ProviderLine {
    id: i64,
    name: String,
    kind: &'static str,
    enabled: Badge,
    last: Option<RunView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "overview.html")]
pub struct OverviewPage {
    chrome: Chrome,
    counts: StatusCounts,
    providers: Vec<ProviderLine>,
    enabled_providers: usize,
    queued: i64,
    jobs: Vec<JobRow>,
    /// Notes of the migration report, when this database was adopted from the Python tool.
    migration_notes: usize,
}

pub async fn page(State(state): State<AppState>, chrome: Chrome) -> PageResult<OverviewPage> {
    let pool = &state.db;
    let counts = models::status_counts(pool).await?;
    let mut last_runs = status::last_runs(pool).await?;
    let all = providers::list(pool).await?;
    let names = all.iter().map(|p| (p.id, p.name.clone())).collect();
    let providers: Vec<ProviderLine> = all
        .into_iter()
        .filter(|p| p.kind != ProviderType::Compat)
        .map(|p| ProviderLine {
            id: p.id,
            kind: p.kind.as_str(),
            enabled: Badge::enabled(p.sync_enabled),
            last: last_runs.remove(&p.id).as_ref().map(RunView::new),
            name: p.name,
        })
        .collect();
    let jobs = jobs::recent(pool, 8).await?.iter().map(|j| JobRow::new(j, &names)).collect();
    Ok(OverviewPage {
        chrome,
        counts,
        enabled_providers: providers.iter().filter(|p| p.enabled.class == "ok").count(),
        providers,
        queued: jobs::queue_depth(pool).await?,
        jobs,
        migration_notes: shared::db::pricing_settings::adoption_notes(pool).await?.len(),
    })
}
