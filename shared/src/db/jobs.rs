//! `jobs`: the queue between the frontend (which enqueues) and the worker (which claims and runs).

use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;

use super::{BeginWrite, DbError, Json, now_timestamp, with_pool};
use crate::Database;
use crate::jobs::JobRequest;

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub payload: Json<Value>,
    pub status: String,
    pub progress: Option<String>,
    pub result: Option<Json<Value>>,
    pub error: Option<String>,
    pub attempts: i64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The worker instance that claimed it last.
    pub claimed_by: Option<String>,
}

impl JobRecord {
    pub fn request(&self) -> Result<JobRequest, serde_json::Error> {
        JobRequest::from_columns(&self.kind, &self.payload.0)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "done" | "failed")
    }
}

/// Every column of a [`JobRecord`], for each query that reads one.
pub(super) const COLUMNS: &str =
    "id, kind, payload, status, progress, result, error, attempts, created_at, started_at, finished_at, claimed_by";

/// How many times a job is started before a crash during it makes the worker give up on it.
/// A job that takes the worker down (a panic aborts the process) would otherwise run again at
/// every restart, forever.
pub const MAX_ATTEMPTS: i64 = 3;

/// Queues `request`, unless an identical job (same kind and payload) is already waiting: then
/// that job's id is returned, so 300 clicks on "Sync all" are one sync. A job identical to a
/// running one is queued once (its result may predate what the click wanted to see), and
/// further identical requests join that follow-up.
pub async fn enqueue(db: &Database, request: &JobRequest) -> Result<i64, DbError> {
    const INSERT_UNLESS_WAITING: &str = "INSERT INTO jobs (kind, payload) SELECT $1, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND kind = $1 AND payload = $2) \
         RETURNING id";
    const WAITING: &str =
        "SELECT id FROM jobs WHERE status = 'queued' AND kind = $1 AND payload = $2 ORDER BY id LIMIT 1";
    const INSERT: &str = "INSERT INTO jobs (kind, payload) VALUES ($1, $2) RETURNING id";
    let (kind, payload) = request.to_columns();
    let payload = Json(payload);
    with_pool!(db, pool => {
        // One statement is atomic against other writers; the follow-up read can lose a race
        // with the worker claiming the job it found, hence the loop.
        for _ in 0..3 {
            let inserted: Option<i64> =
                sqlx::query_scalar(INSERT_UNLESS_WAITING).bind(&kind).bind(&payload).fetch_optional(pool).await?;
            if let Some(id) = inserted {
                return Ok(id);
            }
            let waiting: Option<i64> = sqlx::query_scalar(WAITING).bind(&kind).bind(&payload).fetch_optional(pool).await?;
            if let Some(id) = waiting {
                return Ok(id);
            }
        }
        Ok(sqlx::query_scalar(INSERT).bind(kind).bind(payload).fetch_one(pool).await?)
    })
}

pub async fn get(db: &Database, id: i64) -> Result<Option<JobRecord>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?))
}

pub async fn recent(db: &Database, limit: i64) -> Result<Vec<JobRecord>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs ORDER BY id DESC LIMIT $1");
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await?))
}

/// Marks the oldest queued job `running`, claimed by `worker`, and returns it; `None` when the
/// queue is empty. One statement: two claimers never get the same job (on PostgreSQL the
/// second skips the row the first has locked).
pub async fn claim_next(db: &Database, worker: &str) -> Result<Option<JobRecord>, DbError> {
    let sql = format!(
        "UPDATE jobs SET status = 'running', started_at = $1, attempts = attempts + 1, progress = NULL, claimed_by = $2 \
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1 {}) AND status = 'queued' \
         RETURNING {COLUMNS}",
        db.dialect().for_update_skip_locked()
    );
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(now_timestamp())
        .bind(worker)
        .fetch_optional(pool)
        .await?))
}

/// Records the live step of a job `worker` runs. Only the claimer's word counts: a worker cut
/// off from the database that comes back late must not write over the run of the worker that
/// took the job over. Returns whether it took effect.
pub async fn set_progress(db: &Database, id: i64, worker: &str, progress: &str) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE jobs SET progress = $1 WHERE id = $2 AND status = 'running' AND claimed_by = $3";
    Ok(
        with_pool!(db, pool => sqlx::query(SQL).bind(progress).bind(id).bind(worker).execute(pool).await?.rows_affected())
            > 0,
    )
}

/// Ends a job `worker` runs: `done` with its result, or `failed` with a plain-words error (and
/// whatever result it produced). Any API key given inline in the payload is dropped from the
/// stored row. Nothing happens unless `worker` claimed the job and it is still running: once
/// it was recovered (re-queued, re-claimed, given up on) by the worker that took the lease,
/// this run's outcome is stale. Returns whether it took effect.
pub async fn finish(
    db: &Database,
    id: i64,
    worker: &str,
    result: Option<&Value>,
    error: Option<&str>,
) -> Result<bool, DbError> {
    let status = if error.is_some() { "failed" } else { "done" };
    let sql = format!(
        "UPDATE jobs SET status = $1, result = $2, error = $3, finished_at = $4, payload = {} \
         WHERE id = $5 AND status = 'running' AND claimed_by = $6",
        db.dialect().json_without_key("payload", "api_key")
    );
    let finished = with_pool!(db, pool => sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(result.map(Json))
        .bind(error)
        .bind(now_timestamp())
        .bind(id)
        .bind(worker)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(finished > 0)
}

/// Puts the jobs `worker` left `running` back in the queue when it abandons them at shutdown.
/// Returns how many.
pub async fn requeue_running(db: &Database, worker: &str, note: &str) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE jobs SET status = 'queued', progress = $1, started_at = NULL \
         WHERE status = 'running' AND claimed_by IS NOT DISTINCT FROM $2";
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(note).bind(worker).execute(pool).await?.rows_affected()))
}

/// What recovery did with the jobs a dead worker left `running`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Put back in the queue.
    pub requeued: u64,
    /// Failed: started [`MAX_ATTEMPTS`] times, the last one ending with the worker.
    pub gave_up: u64,
}

/// When `worker` has just taken the lease: jobs still `running` under any other claimer were
/// interrupted (a kill, a panic, a power cut, a worker cut off from the database), since only
/// the lease holder runs jobs. Each start counted as an attempt when it was claimed; a job at
/// [`MAX_ATTEMPTS`] is failed instead of being run again, since it may be what brings workers
/// down. Jobs `worker` itself runs are left alone.
pub async fn recover_abandoned(db: &Database, worker: &str, note: &str) -> Result<Recovered, DbError> {
    let give_up = format!(
        "UPDATE jobs SET status = 'failed', finished_at = $1, \
           error = 'gave up after ' || attempts || ' attempts; the last one stopped the worker', \
           payload = {} \
         WHERE status = 'running' AND attempts >= $2 AND claimed_by IS DISTINCT FROM $3",
        db.dialect().json_without_key("payload", "api_key")
    );
    const REQUEUE: &str = "UPDATE jobs SET status = 'queued', progress = $1, started_at = NULL \
         WHERE status = 'running' AND claimed_by IS DISTINCT FROM $2";
    with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let gave_up = sqlx::query(sqlx::AssertSqlSafe(give_up))
            .bind(now_timestamp())
            .bind(MAX_ATTEMPTS)
            .bind(worker)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let requeued = sqlx::query(REQUEUE).bind(note).bind(worker).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(Recovered { requeued, gave_up })
    })
}

pub async fn queue_depth(db: &Database) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}

/// The newest job of `kind` that ended, done or failed.
pub async fn latest_finished(db: &Database, kind: &str) -> Result<Option<JobRecord>, DbError> {
    let sql =
        format!("SELECT {COLUMNS} FROM jobs WHERE kind = $1 AND status IN ('done', 'failed') ORDER BY id DESC LIMIT 1");
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_optional(pool).await?))
}
