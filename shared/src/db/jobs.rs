//! `jobs`: the queue between the frontend (which enqueues) and the worker (which claims and runs).

use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{FromRow, SqlitePool};

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

pub async fn enqueue(pool: &SqlitePool, request: &JobRequest) -> Result<i64, DbError> {
    let (kind, payload) = request.to_columns();
    Ok(sqlx::query_scalar("INSERT INTO jobs (kind, payload) VALUES (?, ?) RETURNING id")
        .bind(kind)
        .bind(Json(payload))
        .fetch_one(pool)
        .await?)
}

pub async fn get(pool: &SqlitePool, id: i64) -> Result<Option<JobRecord>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE id = ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?)
}

pub async fn recent(pool: &SqlitePool, limit: i64) -> Result<Vec<JobRecord>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM jobs ORDER BY id DESC LIMIT ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(limit).fetch_all(pool).await?)
}

/// Marks the oldest queued job `running` and returns it; `None` when the queue is empty.
pub async fn claim_next(pool: &SqlitePool) -> Result<Option<JobRecord>, DbError> {
    let sql = format!(
        "UPDATE jobs SET status = 'running', started_at = {NOW}, attempts = attempts + 1, progress = NULL \
         WHERE id = (SELECT id FROM jobs WHERE status = 'queued' ORDER BY id LIMIT 1) \
         RETURNING {COLUMNS}"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_optional(pool).await?)
}

pub async fn set_progress(pool: &SqlitePool, id: i64, progress: &str) -> Result<(), DbError> {
    sqlx::query("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running'")
        .bind(progress)
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Ends a job: `done` with its result, or `failed` with a plain-words error (and whatever
/// result it produced). Any API key given inline in the payload is dropped from the stored row.
pub async fn finish(pool: &SqlitePool, id: i64, result: Option<&Value>, error: Option<&str>) -> Result<(), DbError> {
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

/// Puts jobs left `running` back in the queue: at start-up (a crash interrupted them) and at
/// shutdown (the worker abandoned them). Returns how many.
pub async fn requeue_running(pool: &SqlitePool, note: &str) -> Result<u64, DbError> {
    let done =
        sqlx::query("UPDATE jobs SET status = 'queued', progress = ?, started_at = NULL WHERE status = 'running'")
            .bind(note)
            .execute(pool)
            .await?;
    Ok(done.rows_affected())
}

pub async fn queue_depth(pool: &SqlitePool) -> Result<i64, DbError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')").fetch_one(pool).await?)
}

/// The newest job of `kind` that ended, done or failed.
pub async fn latest_finished(pool: &SqlitePool, kind: &str) -> Result<Option<JobRecord>, DbError> {
    let sql =
        format!("SELECT {COLUMNS} FROM jobs WHERE kind = ? AND status IN ('done', 'failed') ORDER BY id DESC LIMIT 1");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_optional(pool).await?)
}
