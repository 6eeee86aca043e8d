//! `/history`: every sync run, newest first, and the recent jobs.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use serde::Deserialize;
use shared::db::{jobs, sync_runs, views};

use super::jobs::{JobRow, provider_names};
use super::view::{Badge, Stamp, href, run_summary, thousands};
use super::{Chrome, PageResult};
use crate::state::AppState;

const PER_PAGE: i64 = 50;
const RECENT_JOBS: i64 = 30;

pub struct RunRow {
    id: i64,
    provider: String,
    kind: String,
    trigger: String,
    job_id: Option<i64>,
    badge: Badge,
    started: Stamp,
    finished: Option<Stamp>,
    summary: String,
    message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "history.html")]
pub struct HistoryPage {
    chrome: Chrome,
    runs: Vec<RunRow>,
    range: String,
    prev: Option<String>,
    next: Option<String>,
    jobs: Vec<JobRow>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PageQuery {
    page: String,
}

pub async fn page(
    State(state): State<AppState>,
    chrome: Chrome,
    Query(query): Query<PageQuery>,
) -> PageResult<HistoryPage> {
    let pool = &state.db;
    let page = shared::limits::page(query.page.trim().parse::<i64>().ok());
    let total = views::count_sync_runs(pool).await?;
    let offset = (page - 1) * PER_PAGE;
    let runs: Vec<RunRow> = sync_runs::recent(pool, PER_PAGE, offset)
        .await?
        .iter()
        .map(|r| RunRow {
            id: r.id,
            provider: r.provider_name.clone().unwrap_or_else(|| "all providers".into()),
            kind: r.kind.clone(),
            trigger: r.trigger.clone(),
            job_id: r.job_id,
            badge: Badge::outcome(&r.status),
            started: Stamp::new(&r.started_at),
            finished: Stamp::opt(r.finished_at.as_deref()),
            summary: run_summary(r),
            message: r.message.clone().unwrap_or_default(),
        })
        .collect();
    let shown = runs.len() as i64;
    let link = |p: i64| href("/history", &[("page", p.to_string())]);
    let names = provider_names(&state).await?;
    Ok(HistoryPage {
        chrome,
        range: if shown == 0 {
            "no sync runs yet".into()
        } else {
            format!("{}–{} of {}", thousands(offset + 1), thousands(offset + shown), thousands(total))
        },
        prev: (page > 1).then(|| link(page - 1)),
        next: (offset + shown < total).then(|| link(page + 1)),
        runs,
        jobs: jobs::recent(pool, RECENT_JOBS).await?.iter().map(|j| JobRow::new(j, &names)).collect(),
    })
}
