//! `worker_lease`: which one of any number of `litellm-sync` processes is the active worker.
//! Times are the database server's, so workers on machines whose clocks differ agree.

use std::time::Duration;

use serde::Serialize;
use sqlx::FromRow;

use super::{DbError, with_pool};
use crate::Database;

/// The lease as it stands.
#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct LeaseRow {
    pub holder: Option<String>,
    pub token: i64,
    pub acquired_at: Option<String>,
    pub expires_at: Option<String>,
}

/// Takes the lease for `holder` for `ttl`, or extends it if `holder` has it. `Some(token)` when
/// `holder` holds it now: the token is new whenever the lease changed hands (or lapsed), the same
/// while it is extended in time. `None` while another holder's lease runs.
pub async fn acquire(db: &Database, holder: &str, ttl: Duration) -> Result<Option<i64>, DbError> {
    let dialect = db.dialect();
    let now = dialect.now();
    let expires = dialect.now_plus_seconds("$2");
    // Still ours and not lapsed: keep token and acquisition time; otherwise a new term.
    let ours = format!("(holder IS NOT DISTINCT FROM $1 AND expires_at > {now})");
    let sql = format!(
        "UPDATE worker_lease SET \
           token = CASE WHEN {ours} THEN token ELSE token + 1 END, \
           acquired_at = CASE WHEN {ours} THEN acquired_at ELSE {now} END, \
           holder = $1, expires_at = {expires} \
         WHERE id = 1 AND (holder IS NULL OR holder = $1 OR expires_at IS NULL OR expires_at <= {now}) \
         RETURNING token"
    );
    Ok(with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(holder)
        .bind(ttl.as_secs_f64())
        .fetch_optional(pool)
        .await?))
}

/// Gives the lease up (at shutdown), so that a standby need not wait for it to expire.
pub async fn release(db: &Database, holder: &str, token: i64) -> Result<bool, DbError> {
    const SQL: &str =
        "UPDATE worker_lease SET holder = NULL, expires_at = NULL WHERE id = 1 AND holder = $1 AND token = $2";
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(holder).bind(token).execute(pool).await?.rows_affected() > 0))
}

pub async fn get(db: &Database) -> Result<Option<LeaseRow>, DbError> {
    const SQL: &str = "SELECT holder, token, acquired_at, expires_at FROM worker_lease WHERE id = 1";
    Ok(with_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?))
}

/// Whether `holder` still holds the lease with `token` by the server's clock.
pub async fn is_held(db: &Database, holder: &str, token: i64) -> Result<bool, DbError> {
    let sql = format!(
        "SELECT COUNT(*) FROM worker_lease WHERE id = 1 AND holder = $1 AND token = $2 AND expires_at > {}",
        db.dialect().now()
    );
    let count: i64 = with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(holder).bind(token).fetch_one(pool).await?);
    Ok(count > 0)
}

/// Wakes the active worker the moment a job is queued: PostgreSQL's `LISTEN` on the channel
/// the `jobs` insert trigger notifies. SQLite has nothing of the kind (the worker polls).
pub struct JobWakeups {
    listener: sqlx::postgres::PgListener,
}

/// The channel `jobs_notify_queued` (PostgreSQL migration 0012) notifies.
const JOBS_CHANNEL: &str = "litellm_updater_jobs";

impl JobWakeups {
    /// `None` on SQLite.
    pub async fn listen(db: &Database) -> Result<Option<Self>, DbError> {
        let super::PoolRef::Postgres(pool) = db.pool_ref() else { return Ok(None) };
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(JOBS_CHANNEL).await?;
        Ok(Some(Self { listener }))
    }

    /// Returns at the next notification. A lost connection is re-established (notifications
    /// sent meanwhile are lost; polling finds those jobs).
    pub async fn next(&mut self) -> Result<(), DbError> {
        self.listener.recv().await?;
        Ok(())
    }
}
