//! `litellm_snapshot` + `litellm_entries`: what LiteLLM held at the worker's last look, one row
//! per deployment (written row by row: a thousand entries never become one giant string).

use serde_json::Value;
use sqlx::SqlitePool;
use sqlx::types::Json;

use super::{DbError, NOW};
use crate::plan;

pub async fn save(pool: &SqlitePool, entries: &[Value]) -> Result<(), DbError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let installation: Option<String> =
        sqlx::query_scalar("SELECT installation_id FROM config WHERE id = 1").fetch_optional(&mut *tx).await?.flatten();
    sqlx::query("DELETE FROM litellm_entries").execute(&mut *tx).await?;
    for entry in entries {
        sqlx::query("INSERT INTO litellm_entries (litellm_id, model_name, owned, entry) VALUES (?, ?, ?, ?)")
            .bind(entry.pointer("/model_info/id").and_then(Value::as_str))
            .bind(entry.get("model_name").and_then(Value::as_str).unwrap_or(""))
            .bind(plan::is_owned(entry, installation.as_deref()))
            .bind(Json(entry))
            .execute(&mut *tx)
            .await?;
    }
    let sql = format!(
        "INSERT INTO litellm_snapshot (id, taken_at) VALUES (1, {NOW}) \
         ON CONFLICT (id) DO UPDATE SET taken_at = excluded.taken_at"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// `(taken_at, entries)` of the latest snapshot, entries in LiteLLM's order.
pub async fn latest(pool: &SqlitePool) -> Result<Option<(String, Vec<Value>)>, DbError> {
    let Some(taken_at) = sqlx::query_scalar::<_, String>("SELECT taken_at FROM litellm_snapshot WHERE id = 1")
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let entries: Vec<Json<Value>> =
        sqlx::query_scalar("SELECT entry FROM litellm_entries ORDER BY position").fetch_all(pool).await?;
    Ok(Some((taken_at, entries.into_iter().map(|e| e.0).collect())))
}
