//! `jobs`: the queue between the frontend (which enqueues) and the worker (which claims and runs).

use crate::Database;
use crate::db::Json;
use serde::Serialize;
use serde_json::Value;
use sqlx::FromRow;

use crate::jobs::JobRequest;

use super::{DbError, NOW};

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
}

impl JobRecord {
    pub fn request(&self) -> Result<JobRequest, serde_json::Error> {
        JobRequest::from_columns(&self.kind, &self.payload.0)
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "done" | "failed")
    }
}

const COLUMNS: &str =
    "id, kind, payload, status, progress, result, error, attempts, created_at, started_at, finished_at";

/// How many times a job is started before a crash during it makes the worker give up on it.
/// A job that takes the worker down (a panic aborts the process) would otherwise run again at
/// every restart, forever.
pub const MAX_ATTEMPTS: i64 = 3;

/// Queues `request`, unless an identical job (same kind and payload) is already waiting: then
/// that job's id is returned, so 300 clicks on "Sync all" are one sync. A job identical to a
/// running one is queued once (its result may predate what the click wanted to see), and
/// further identical requests join that follow-up.
pub async fn enqueue(db: &Database, request: &JobRequest) -> Result<i64, DbError> {
    let pool = db.sqlite_pool("jobs::enqueue")?;
    let (kind, payload) = request.to_columns();
    let payload = Json(payload);
    // One statement is atomic against other writers; the follow-up read can lose a race with
    // the worker claiming the job it found, hence the loop.
    for _ in 0..3 {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO jobs (kind, payload) SELECT ?1, ?2 \
             WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND kind = ?1 AND payload = ?2) \
             RETURNING id",
        )
        .bind(&kind)
        .bind(&payload)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = inserted {
            return Ok(id);
        }
        let waiting: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE status = 'queued' AND kind = ? AND payload = ? ORDER BY id LIMIT 1",
        )
        .bind(&kind)
        .bind(&payload)
        .fetch_optional(pool)
        .await?;
        if let Some(id) = waiting {
            return Ok(id);
        }
    }
    Ok(sqlx::query_scalar("INSERT INTO jobs (kind, payload) VALUES (?, ?) RETURNING id")
        .bind(kind)
        .bind(payload)
        .fetch_one(pool)
        .await?)
}

pub async fn get(db: &Database, id: i64) -> Result<Option<JobRecord>, DbError> {
    let pool = db.sqlite_pool("jobs::get")?;
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?)
}

pub async fn recent(db: &Database, limit: i64) -> Result<Vec<JobRecord>, DbError> {
    let pool = db.sqlite_pool("jobs::recent")?;
    let sql = format!("SELECT {COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await?)
}

/// Marks the oldest queued job `running` and returns it; `None` when the queue is empty.
pub async fn claim_next(db: &Database) -> Result<Option<JobRecord>, DbError> {
    let pool = db.sqlite_pool("jobs::claim_next")?;
    let sql = format!(
        "UPDATE jobs SET status = 'running', started_at = {NOW}, attempts = attempts + 1, progress = NULL \
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1) \
         RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_optional(pool).await?)
}

pub async fn set_progress(db: &Database, id: i64, progress: &str) -> Result<(), DbError> {
    let pool = db.sqlite_pool("jobs::set_progress")?;
    sqlx::query("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'")
        .bind(progress)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a job: `done` with its result, or `failed` with a plain-words error (and whatever
/// result it produced). Any API key given inline in the payload is dropped from the stored row.
pub async fn finish(db: &Database, id: i64, result: Option<&Value>, error: Option<&str>) -> Result<(), DbError> {
    let pool = db.sqlite_pool("jobs::finish")?;
    let status = if error.is_some() { "failed" } else { "done" };
    let sql = format!(
        "UPDATE jobs SET status = ?, result = ?, error = ?, finished_at = {NOW}, \
           payload = json_remove(payload, '$.api_key') \
         WHERE id = ?"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(status)
        .bind(result.map(Json))
        .bind(error)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Puts jobs left `running` back in the queue when the worker abandons them at shutdown.
/// Returns how many.
pub async fn requeue_running(db: &Database, note: &str) -> Result<u64, DbError> {
    let pool = db.sqlite_pool("jobs::requeue_running")?;
    let done =
        sqlx::query("UPDATE jobs SET status = 'queued', progress = ?, started_at = NULL WHERE status = 'running'")
            .bind(note)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

/// What start-up recovery did with the jobs a dead worker left `running`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Put back in the queue.
    pub requeued: u64,
    /// Failed: started [`MAX_ATTEMPTS`] times, the last one ending with the worker.
    pub gave_up: u64,
}

/// At start-up: jobs still `running` were interrupted by a crash (a kill, a panic, a power
/// cut). Each start counted as an attempt when it was claimed; a job at [`MAX_ATTEMPTS`] is
/// failed instead of being run again, since it may be what brings the worker down.
pub async fn recover_after_crash(db: &Database, note: &str) -> Result<Recovered, DbError> {
    let pool = db.sqlite_pool("jobs::recover_after_crash")?;
    let sql = format!(
        "UPDATE jobs SET status = 'failed', finished_at = {NOW}, \
           error = 'gave up after ' || attempts || ' attempts; the last one stopped the worker', \
           payload = json_remove(payload, '$.api_key') \
         WHERE status = 'running' AND attempts >= ?"
    );
    let gave_up = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(MAX_ATTEMPTS).execute(pool).await?.rows_affected();
    let requeued = requeue_running(db, note).await?;
    Ok(Recovered { requeued, gave_up })
}

pub async fn queue_depth(db: &Database) -> Result<i64, DbError> {
    let pool = db.sqlite_pool("jobs::queue_depth")?;
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')").fetch_one(pool).await?)
}

/// The newest job of `kind` that ended, done or failed.
pub async fn latest_finished(db: &Database, kind: &str) -> Result<Option<JobRecord>, DbError> {
    let pool = db.sqlite_pool("jobs::latest_finished")?;
    let sql =
        format!("SELECT {COLUMNS} FROM jobs WHERE kind = ? AND status IN ('done', 'failed') ORDER BY id DESC LIMIT 1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_optional(pool).await?)
}
