//! `litellm_snapshot`: what LiteLLM held at the worker's last `GET /model/info`.

use serde_json::Value;
use sqlx::SqlitePool;
use sqlx::types::Json;

use super::{DbError, NOW};

pub async fn save(pool: &SqlitePool, entries: &[Value]) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO litellm_snapshot (id, taken_at, entries) VALUES (1, {NOW}, ?) \
         ON CONFLICT (id) DO UPDATE SET taken_at = excluded.taken_at, entries = excluded.entries"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(Json(entries)).execute(pool).await?;
    Ok(())
}

/// `(taken_at, entries)` of the latest snapshot.
pub async fn latest(pool: &SqlitePool) -> Result<Option<(String, Vec<Value>)>, DbError> {
    let row: Option<(String, Json<Vec<Value>>)> =
        sqlx::query_as("SELECT taken_at, entries FROM litellm_snapshot WHERE id = 1").fetch_optional(pool).await?;
    Ok(row.map(|(taken_at, entries)| (taken_at, entries.0)))
}
