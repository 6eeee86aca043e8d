//! `litellm_health`: the worker's latest read of LiteLLM, for the top bar's light.

use crate::Database;
use serde::Serialize;
use sqlx::FromRow;

use super::{DbError, now_timestamp, with_pool};

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
    const SQL: &str = "INSERT INTO litellm_health (id, ok, reason, detail, checked_at) VALUES (1, $1, $2, $3, $4) \
         ON CONFLICT (id) DO UPDATE SET ok = excluded.ok, reason = excluded.reason, detail = excluded.detail, \
           checked_at = excluded.checked_at";
    let failure = outcome.err();
    let checked_at = now_timestamp();
    with_pool!(db, pool => {
        sqlx::query(SQL)
        .bind(failure.is_none())
        .bind(failure.map(|f| f.reason))
        .bind(failure.map(|f| f.detail))
        .bind(&checked_at)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// The latest read; `None` before the worker has read LiteLLM at all.
pub async fn latest(db: &Database) -> Result<Option<LiteLlmHealth>, DbError> {
    const SQL: &str = "SELECT ok, reason, detail, checked_at FROM litellm_health WHERE id = 1";
    Ok(with_pool!(db, pool => sqlx::query_as(SQL).fetch_optional(pool).await?))
}
