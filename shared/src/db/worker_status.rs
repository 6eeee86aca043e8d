//! The workers' heartbeats, which the frontend reads to say online/offline: `worker_status`
//! holds the active worker's, `workers` every worker process's (active, standby, stopped).

use serde::Serialize;
use sqlx::FromRow;

use super::{DbError, now_timestamp, seconds_since, timestamp_before, with_pool};
use crate::Database;

/// A worker whose last beat is older than this is shown offline.
pub const OFFLINE_AFTER_SECONDS: f64 = 30.0;

/// Stopped or silent workers are forgotten after this long.
const FORGET_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct Beat<'a> {
    /// This process among all workers (a random id chosen at start).
    pub instance_id: &'a str,
    pub pid: u32,
    pub host: &'a str,
    pub version: &'a str,
    pub started_at: &'a str,
    pub state: &'a str,
    pub current_job_id: Option<i64>,
    pub current_step: Option<&'a str>,
    /// `active` (holds the lease), `standby` or `stopped`.
    pub role: &'a str,
}

#[derive(Debug, Clone, Serialize)]
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

#[derive(Debug, Clone, FromRow)]
struct StatusRow {
    pid: i64,
    host: String,
    version: String,
    started_at: String,
    last_beat: String,
    state: String,
    current_job_id: Option<i64>,
    current_step: Option<String>,
}

/// One worker process, as the diagnostics list it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerInstance {
    pub instance_id: String,
    pub pid: i64,
    pub host: String,
    pub version: String,
    pub started_at: String,
    pub last_beat: String,
    pub role: String,
    pub state: String,
    pub current_job_id: Option<i64>,
    pub seconds_since_beat: f64,
}

impl WorkerInstance {
    pub fn is_online(&self) -> bool {
        self.role != "stopped" && self.seconds_since_beat <= OFFLINE_AFTER_SECONDS
    }
}

#[derive(Debug, Clone, FromRow)]
struct InstanceRow {
    instance_id: String,
    pid: i64,
    host: String,
    version: String,
    started_at: String,
    last_beat: String,
    role: String,
    state: String,
    current_job_id: Option<i64>,
}

/// Records `beat` in `workers`, and also in `worker_status` when it is the active worker's (or
/// the last words of one that stops).
pub async fn beat(db: &Database, beat: &Beat<'_>, active: bool) -> Result<(), DbError> {
    const INSTANCE: &str = "INSERT INTO workers \
           (instance_id, pid, host, version, started_at, last_beat, role, state, current_job_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (instance_id) DO UPDATE SET last_beat = excluded.last_beat, role = excluded.role, \
           state = excluded.state, current_job_id = excluded.current_job_id";
    const ACTIVE: &str = "INSERT INTO worker_status \
           (id, pid, host, version, started_at, last_beat, state, current_job_id, current_step) \
         VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, version = excluded.version, \
           started_at = excluded.started_at, last_beat = excluded.last_beat, state = excluded.state, \
           current_job_id = excluded.current_job_id, current_step = excluded.current_step";
    const FORGET: &str = "DELETE FROM workers WHERE last_beat < $1";
    let now = now_timestamp();
    let pid = i64::from(beat.pid);
    with_pool!(db, pool => {
        sqlx::query(INSTANCE)
            .bind(beat.instance_id)
            .bind(pid)
            .bind(beat.host)
            .bind(beat.version)
            .bind(beat.started_at)
            .bind(&now)
            .bind(beat.role)
            .bind(beat.state)
            .bind(beat.current_job_id)
            .execute(pool)
            .await?;
        if active {
            sqlx::query(ACTIVE)
                .bind(pid)
                .bind(beat.host)
                .bind(beat.version)
                .bind(beat.started_at)
                .bind(&now)
                .bind(beat.state)
                .bind(beat.current_job_id)
                .bind(beat.current_step)
                .execute(pool)
                .await?;
        }
        sqlx::query(FORGET).bind(timestamp_before(FORGET_AFTER)).execute(pool).await?;
    });
    Ok(())
}

/// The active worker's last beat.
pub async fn get(db: &Database) -> Result<Option<WorkerStatus>, DbError> {
    const SQL: &str = "SELECT pid, host, version, started_at, last_beat, state, current_job_id, current_step \
         FROM worker_status WHERE id = 1";
    let row: Option<StatusRow> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?);
    Ok(row.map(|row| WorkerStatus {
        seconds_since_beat: seconds_since(&row.last_beat).unwrap_or(f64::INFINITY),
        pid: row.pid,
        host: row.host,
        version: row.version,
        started_at: row.started_at,
        last_beat: row.last_beat,
        state: row.state,
        current_job_id: row.current_job_id,
        current_step: row.current_step,
    }))
}

/// Every worker process seen in the last day, newest start first.
pub async fn instances(db: &Database) -> Result<Vec<WorkerInstance>, DbError> {
    const SQL: &str = "SELECT instance_id, pid, host, version, started_at, last_beat, role, state, current_job_id \
         FROM workers ORDER BY started_at DESC, instance_id";
    let rows: Vec<InstanceRow> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows
        .into_iter()
        .map(|row| WorkerInstance {
            seconds_since_beat: seconds_since(&row.last_beat).unwrap_or(f64::INFINITY),
            instance_id: row.instance_id,
            pid: row.pid,
            host: row.host,
            version: row.version,
            started_at: row.started_at,
            last_beat: row.last_beat,
            role: row.role,
            state: row.state,
            current_job_id: row.current_job_id,
        })
        .collect())
}

/// Records the device and inode of the database file the worker has open (once, at start).
pub async fn set_db_file(db: &Database, identity: Option<(u64, u64)>) -> Result<(), DbError> {
    const SQL: &str = "UPDATE worker_status SET db_dev = $1, db_ino = $2 WHERE id = 1";
    let (dev, ino) = identity.map_or((None, None), |(d, i)| (i64::try_from(d).ok(), i64::try_from(i).ok()));
    with_pool!(db, pool => sqlx::query(SQL).bind(dev).bind(ino).execute(pool).await?.rows_affected());
    Ok(())
}

/// The device and inode the worker recorded with [`set_db_file`], if any.
pub async fn db_file(db: &Database) -> Result<Option<(u64, u64)>, DbError> {
    const SQL: &str = "SELECT db_dev, db_ino FROM worker_status WHERE id = 1";
    let row: Option<(Option<i64>, Option<i64>)> =
        with_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?);
    Ok(row.and_then(|(dev, ino)| Some((u64::try_from(dev?).ok()?, u64::try_from(ino?).ok()?))))
}
