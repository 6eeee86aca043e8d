//! `worker_status`: the worker's heartbeat, which the frontend reads to say online/offline.

use crate::Database;
use serde::Serialize;
use sqlx::FromRow;

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

pub async fn beat(db: &Database, beat: &Beat<'_>) -> Result<(), DbError> {
    let pool = db.sqlite_pool("worker_status::beat")?;
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

pub async fn get(db: &Database) -> Result<Option<WorkerStatus>, DbError> {
    let pool = db.sqlite_pool("worker_status::get")?;
    Ok(sqlx::query_as(
        "SELECT pid, host, version, started_at, last_beat, state, current_job_id, current_step, \
           (julianday('now') - julianday(last_beat)) * 86400.0 AS seconds_since_beat \
         FROM worker_status WHERE id = 1",
    )
    .fetch_optional(pool)
    .await?)
}

/// Records the device and inode of the database file the worker has open (once, at start).
pub async fn set_db_file(db: &Database, identity: Option<(u64, u64)>) -> Result<(), DbError> {
    let pool = db.sqlite_pool("worker_status::set_db_file")?;
    let (dev, ino) = identity.map_or((None, None), |(d, i)| (i64::try_from(d).ok(), i64::try_from(i).ok()));
    sqlx::query("UPDATE worker_status SET db_dev = ?, db_ino = ? WHERE id = 1")
        .bind(dev)
        .bind(ino)
        .execute(pool)
        .await?;
    Ok(())
}

/// The device and inode the worker recorded with [`set_db_file`], if any.
pub async fn db_file(db: &Database) -> Result<Option<(u64, u64)>, DbError> {
    let pool = db.sqlite_pool("worker_status::db_file")?;
    let row: Option<(Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT db_dev, db_ino FROM worker_status WHERE id = 1").fetch_optional(pool).await?;
    Ok(row.and_then(|(dev, ino)| Some((u64::try_from(dev?).ok()?, u64::try_from(ino?).ok()?))))
}
