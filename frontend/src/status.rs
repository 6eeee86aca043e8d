//! What every page's top bar and `/api/diagnostics` say about the worker and the last syncs.

use serde::Serialize;
use shared::db::worker_status::WorkerInstance;
use shared::db::{sync_runs, worker_status};
use shared::{Database, DbError};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkerSummary {
    pub online: bool,
    /// `running job`, `syncing`, `idle`, `stopped`, or `never seen`.
    pub state: String,
    pub current_job_id: Option<i64>,
    pub current_step: Option<String>,
    pub last_beat: Option<String>,
    pub seconds_since_beat: Option<f64>,
    pub version: Option<String>,
    pub pid: Option<i64>,
    pub host: Option<String>,
    pub started_at: Option<String>,
    /// When the newest provider fetch/sync ended.
    pub last_sync_at: Option<String>,
    /// Every worker process seen in the last day: the active one and its standbys.
    #[schema(value_type = Vec<Object>)]
    pub workers: Vec<WorkerInstance>,
    /// Standby workers beating now, ready to take over.
    pub standbys: usize,
}

pub async fn worker_summary(db: &Database) -> Result<WorkerSummary, DbError> {
    let status = worker_status::get(db).await?;
    let last_sync_at = sync_runs::last_provider_sync_at(db).await?;
    let workers = worker_status::instances(db).await?;
    let standbys = workers.iter().filter(|w| w.role == "standby" && w.is_online()).count();
    Ok(match status {
        Some(s) => WorkerSummary {
            online: s.is_online(),
            state: s.state.clone(),
            current_job_id: s.current_job_id,
            current_step: s.current_step.clone(),
            last_beat: Some(s.last_beat.clone()),
            seconds_since_beat: Some(s.seconds_since_beat),
            version: Some(s.version.clone()),
            pid: Some(s.pid),
            host: Some(s.host.clone()),
            started_at: Some(s.started_at.clone()),
            last_sync_at,
            workers,
            standbys,
        },
        None => WorkerSummary {
            online: false,
            state: "never seen".into(),
            current_job_id: None,
            current_step: None,
            last_beat: None,
            seconds_since_beat: None,
            version: None,
            pid: None,
            host: None,
            started_at: None,
            last_sync_at,
            workers,
            standbys,
        },
    })
}

/// The latest finished fetch/sync of each provider, by provider id.
pub async fn last_runs(db: &Database) -> Result<std::collections::HashMap<i64, sync_runs::SyncRun>, DbError> {
    Ok(sync_runs::last_per_provider(db).await?.into_iter().filter_map(|r| Some((r.provider_id?, r))).collect())
}
