//! `worker_status`: the worker's heartbeat, which the frontend reads to say online/offline.

use serde::Serialize;
use sqlx::{FromRow, SqlitePool};

use super::{DbError, NOW};

/// A worker whose last beat is older than this is shown offline.
pub const OFFLINE_AFTER_SECONDS: f64 = 30.0;

#[derive(Debug, Clone)]
pub struct Beat<'a> {
    pub pid: u32,
    pub host: &'a str,
    pub version: &'a str,
    pub started_at: &'a str,
    pub state: &'a str,
    pub current_job_id: Option<i64>,
    pub current_step: Option<&'a str>,
}

#[derive(Debug, Clone, FromRow, Serialize)]
pub struct WorkerStatus {
    pub pid: i64,
    pub host: String,
    pub version: String,
    pub started_at: String,
    pub last_beat: String,
    pub state: String,
    pub current_job_id: Option<i64>,
    pub current_step: Option<String>,
    pub seconds_since_beat: f64,
}

impl WorkerStatus {
    pub fn is_online(&self) -> bool {
        self.state != "stopped" && self.seconds_since_beat <= OFFLINE_AFTER_SECONDS
    }
}

pub async fn beat(pool: &SqlitePool, beat: &Beat<'_>) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO worker_status (id, pid, host, version, started_at, last_beat, state, current_job_id, current_step) \
         VALUES (1, ?, ?, ?, ?, {NOW}, ?, ?, ?) \
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, version = excluded.version, \
           started_at = excluded.started_at, last_beat = excluded.last_beat, state = excluded.state, \
           current_job_id = excluded.current_job_id, current_step = excluded.current_step"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(beat.pid)
        .bind(beat.host)
        .bind(beat.version)
        .bind(beat.started_at)
        .bind(beat.state)
        .bind(beat.current_job_id)
        .bind(beat.current_step)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn get(pool: &SqlitePool) -> Result<Option<WorkerStatus>, DbError> {
    Ok(sqlx::query_as(
        "SELECT pid, host, version, started_at, last_beat, state, current_job_id, current_step, \
           (julianday('now') - julianday(last_beat)) * 86400.0 AS seconds_since_beat \
         FROM worker_status WHERE id = 1",
    )
    .fetch_optional(pool)
    .await?)
}
