//! `sync_runs`: one row per provider fetch/sync and per LiteLLM push, for history and status
//! (what a row says is decided in `crate::runs`).

use crate::Database;
use crate::runs::{RunCounts, RunKind, RunStatus};
use serde::Serialize;
use sqlx::FromRow;

use super::{DbError, now_timestamp, seconds_since, with_pool};

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
    const SQL: &str = "INSERT INTO sync_runs (provider_id, provider_name, kind, trigger, job_id, started_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
    let started_at = now_timestamp();
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL)
        .bind(provider.map(|p| p.0))
        .bind(provider.map(|p| p.1))
        .bind(kind.as_str())
        .bind(trigger)
        .bind(job_id)
        .bind(&started_at)
        .fetch_one(pool)
        .await?))
}

pub async fn finish(
    db: &Database,
    id: i64,
    status: RunStatus,
    counts: &RunCounts,
    message: Option<&str>,
) -> Result<(), DbError> {
    const SQL: &str = "UPDATE sync_runs SET status = $1, finished_at = $2, models_seen = $3, added = $4, \
           updated = $5, orphaned = $6, unorphaned = $7, litellm_created = $8, litellm_updated = $9, \
           litellm_deleted = $10, litellm_failed = $11, message = $12 \
         WHERE id = $13";
    let finished_at = now_timestamp();
    with_pool!(db, pool => {
        sqlx::query(SQL)
        .bind(status.as_str())
        .bind(&finished_at)
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
    });
    Ok(())
}

/// Closes rows a crash left open, so history never shows a run "running" forever.
pub async fn close_abandoned(db: &Database) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE sync_runs SET status = 'failed', finished_at = $1, \
           message = COALESCE(message, 'interrupted: the worker stopped before this run ended') \
         WHERE status = 'running'";
    let finished_at = now_timestamp();
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(&finished_at).execute(pool).await?.rows_affected()))
}

pub async fn recent(db: &Database, limit: i64, offset: i64) -> Result<Vec<SyncRun>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM sync_runs ORDER BY id DESC LIMIT $1 OFFSET $2");
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).bind(offset).fetch_all(pool).await?))
}

/// When the newest provider fetch or sync ended.
pub async fn last_provider_sync_at(db: &Database) -> Result<Option<String>, DbError> {
    const SQL: &str = "SELECT MAX(finished_at) FROM sync_runs WHERE provider_id IS NOT NULL AND status != 'running'";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}

/// The latest finished fetch or sync of each provider.
pub async fn last_per_provider(db: &Database) -> Result<Vec<SyncRun>, DbError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sync_runs WHERE id IN ( \
           SELECT MAX(id) FROM sync_runs WHERE provider_id IS NOT NULL AND kind IN ('fetch', 'sync') \
           AND status != 'running' GROUP BY provider_id)"
    );
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?))
}

/// Seconds since each provider's latest fetch started, whatever its outcome (the scheduler's clock).
pub async fn seconds_since_last_start(db: &Database) -> Result<Vec<(i64, f64)>, DbError> {
    const SQL: &str = "SELECT provider_id, MAX(started_at) FROM sync_runs \
         WHERE provider_id IS NOT NULL AND kind IN ('fetch', 'sync') GROUP BY provider_id";
    let rows: Vec<(i64, String)> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    // A start time that is not a timestamp (never written by this program) counts as no start.
    Ok(rows.into_iter().filter_map(|(id, started_at)| Some((id, seconds_since(&started_at)?))).collect())
}
