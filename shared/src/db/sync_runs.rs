//! `sync_runs`: one row per provider fetch/sync and per LiteLLM push, for history and status.

use crate::Database;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::{DbError, NOW};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Fetch,
    Push,
    Sync,
}

impl RunKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::Push => "push",
            Self::Sync => "sync",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Warning,
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Failed => "failed",
        }
    }

    /// The worse of two outcomes.
    pub fn worst(self, other: Self) -> Self {
        use RunStatus::*;
        match (self, other) {
            (Failed, _) | (_, Failed) => Failed,
            (Warning, _) | (_, Warning) => Warning,
            _ => Ok,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub models_seen: i64,
    pub added: i64,
    pub updated: i64,
    pub orphaned: i64,
    pub unorphaned: i64,
    pub litellm_created: i64,
    pub litellm_updated: i64,
    pub litellm_deleted: i64,
    pub litellm_failed: i64,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct SyncRun {
    pub id: i64,
    pub provider_id: Option<i64>,
    pub provider_name: Option<String>,
    pub kind: String,
    pub trigger: String,
    pub job_id: Option<i64>,
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub models_seen: i64,
    pub added: i64,
    pub updated: i64,
    pub orphaned: i64,
    pub unorphaned: i64,
    pub litellm_created: i64,
    pub litellm_updated: i64,
    pub litellm_deleted: i64,
    pub litellm_failed: i64,
    pub message: Option<String>,
}

const COLUMNS: &str = "id, provider_id, provider_name, kind, trigger, job_id, status, started_at, finished_at, \
     models_seen, added, updated, orphaned, unorphaned, litellm_created, litellm_updated, litellm_deleted, \
     litellm_failed, message";

/// Opens a run row; `provider` is `None` for a LiteLLM push over all providers.
pub async fn start(
    db: &Database,
    provider: Option<(i64, &str)>,
    kind: RunKind,
    trigger: &str,
    job_id: Option<i64>,
) -> Result<i64, DbError> {
    let pool = db.sqlite_pool("sync_runs::start")?;
    Ok(sqlx::query_scalar(
        "INSERT INTO sync_runs (provider_id, provider_name, kind, trigger, job_id) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(provider.map(|p| p.0))
    .bind(provider.map(|p| p.1))
    .bind(kind.as_str())
    .bind(trigger)
    .bind(job_id)
    .fetch_one(pool)
    .await?)
}

pub async fn finish(
    db: &Database,
    id: i64,
    status: RunStatus,
    counts: &RunCounts,
    message: Option<&str>,
) -> Result<(), DbError> {
    let pool = db.sqlite_pool("sync_runs::finish")?;
    let sql = format!(
        "UPDATE sync_runs SET status = ?, finished_at = {NOW}, models_seen = ?, added = ?, updated = ?, \
           orphaned = ?, unorphaned = ?, litellm_created = ?, litellm_updated = ?, litellm_deleted = ?, \
           litellm_failed = ?, message = ? \
         WHERE id = ?"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status.as_str())
        .bind(counts.models_seen)
        .bind(counts.added)
        .bind(counts.updated)
        .bind(counts.orphaned)
        .bind(counts.unorphaned)
        .bind(counts.litellm_created)
        .bind(counts.litellm_updated)
        .bind(counts.litellm_deleted)
        .bind(counts.litellm_failed)
        .bind(message)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Closes rows a crash left open, so history never shows a run "running" forever.
pub async fn close_abandoned(db: &Database) -> Result<u64, DbError> {
    let pool = db.sqlite_pool("sync_runs::close_abandoned")?;
    let sql = format!(
        "UPDATE sync_runs SET status = 'failed', finished_at = {NOW}, \
           message = COALESCE(message, 'interrupted: the worker stopped before this run ended') \
         WHERE status = 'running'"
    );
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?.rows_affected())
}

pub async fn recent(db: &Database, limit: i64, offset: i64) -> Result<Vec<SyncRun>, DbError> {
    let pool = db.sqlite_pool("sync_runs::recent")?;
    let sql = format!("SELECT {COLUMNS} FROM sync_runs ORDER BY id DESC LIMIT ? OFFSET ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).bind(offset).fetch_all(pool).await?)
}

/// When the newest provider fetch or sync ended.
pub async fn last_provider_sync_at(db: &Database) -> Result<Option<String>, DbError> {
    const SQL: &str = "SELECT MAX(finished_at) FROM sync_runs WHERE provider_id IS NOT NULL AND status != 'running'";
    Ok(super::with_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}

/// The latest finished fetch or sync of each provider.
pub async fn last_per_provider(db: &Database) -> Result<Vec<SyncRun>, DbError> {
    let pool = db.sqlite_pool("sync_runs::last_per_provider")?;
    let sql = format!(
        "SELECT {COLUMNS} FROM sync_runs WHERE id IN ( \
           SELECT MAX(id) FROM sync_runs WHERE provider_id IS NOT NULL AND kind IN ('fetch', 'sync') \
           AND status != 'running' GROUP BY provider_id)"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?)
}

/// Seconds since each provider's latest fetch started, whatever its outcome (the scheduler's clock).
pub async fn seconds_since_last_start(db: &Database) -> Result<Vec<(i64, f64)>, DbError> {
    let pool = db.sqlite_pool("sync_runs::seconds_since_last_start")?;
    Ok(sqlx::query_as(
        "SELECT provider_id, (julianday('now') - julianday(MAX(started_at))) * 86400.0 \
         FROM sync_runs WHERE provider_id IS NOT NULL AND kind IN ('fetch', 'sync') GROUP BY provider_id",
    )
    .fetch_all(pool)
    .await?)
}
