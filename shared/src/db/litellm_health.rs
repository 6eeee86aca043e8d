//! `litellm_health`: the worker's latest read of LiteLLM, for the top bar's light.

use crate::Database;
use serde::Serialize;
use sqlx::FromRow;

use super::{DbError, NOW};

#[derive(Debug, Clone, PartialEq, Eq, FromRow, Serialize)]
pub struct LiteLlmHealth {
    pub ok: bool,
    /// Why the read failed, in a few plain words ("wrong key (HTTP 401)"); `None` when it worked.
    pub reason: Option<String>,
    /// The whole message of the failure.
    pub detail: Option<String>,
    pub checked_at: String,
}

/// Why a read of LiteLLM failed: a few words for the light and the whole message.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub reason: &'a str,
    pub detail: &'a str,
}

/// Records a read: `Ok(())` when LiteLLM answered, else why it did not. The words must already
/// be free of secrets (the errors of the LiteLLM client are).
pub async fn record(db: &Database, outcome: Result<(), Failure<'_>>) -> Result<(), DbError> {
    let pool = db.sqlite_pool("litellm_health::record")?;
    let sql = format!(
        "INSERT INTO litellm_health (id, ok, reason, detail, checked_at) VALUES (1, ?, ?, ?, {NOW}) \
         ON CONFLICT (id) DO UPDATE SET ok = excluded.ok, reason = excluded.reason, detail = excluded.detail, \
           checked_at = excluded.checked_at"
    );
    let failure = outcome.err();
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(failure.is_none())
        .bind(failure.map(|f| f.reason))
        .bind(failure.map(|f| f.detail))
        .execute(pool)
        .await?;
    Ok(())
}

/// The latest read; `None` before the worker has read LiteLLM at all.
pub async fn latest(db: &Database) -> Result<Option<LiteLlmHealth>, DbError> {
    let pool = db.sqlite_pool("litellm_health::latest")?;
    Ok(sqlx::query_as("SELECT ok, reason, detail, checked_at FROM litellm_health WHERE id = 1")
        .fetch_optional(pool)
        .await?)
}
