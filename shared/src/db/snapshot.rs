//! `litellm_snapshot` + `litellm_entries`: what LiteLLM held at the worker's last look, one row
//! per deployment (written row by row: a thousand entries never become one giant string).

use crate::Database;
use std::collections::HashMap;

use crate::db::Json;
use serde_json::Value;
use sqlx::SqlitePool;

use super::{DbError, NOW};
use crate::plan::{self, Action};

/// Replaces the snapshot with `entries` (a whole `GET /model/info` answer).
pub async fn save(db: &Database, entries: &[Value]) -> Result<(), DbError> {
    let staged = Staged::begin(db).await?;
    staged.add(entries).await?;
    staged.publish().await
}

/// `(taken_at, entries)` of the latest snapshot, entries in LiteLLM's order.
pub async fn latest(db: &Database) -> Result<Option<(String, Vec<Value>)>, DbError> {
    let pool = db.sqlite_pool("snapshot::latest")?;
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

/// A snapshot being written by a push: LiteLLM's list as it is read, then edited as the push's
/// operations succeed, and published (to what [`latest`] reads) when the push ends. Until then
/// readers see the previous snapshot.
pub struct Staged {
    pool: SqlitePool,
    installation: Option<String>,
}

impl Staged {
    /// Starts an empty staged snapshot (dropping any a stopped push left behind).
    pub async fn begin(db: &Database) -> Result<Self, DbError> {
        let pool = db.sqlite_pool("snapshot::begin")?;
        let installation: Option<String> =
            sqlx::query_scalar("SELECT installation_id FROM config WHERE id = 1").fetch_optional(pool).await?.flatten();
        sqlx::query("DELETE FROM litellm_entries_staged").execute(pool).await?;
        Ok(Self { pool: pool.clone(), installation })
    }

    /// Appends entries, as LiteLLM lists them.
    pub async fn add(&self, entries: &[Value]) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for entry in entries {
            self.insert(&mut tx, entry).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn insert(&self, tx: &mut sqlx::SqliteConnection, entry: &Value) -> Result<(), DbError> {
        sqlx::query("INSERT INTO litellm_entries_staged (litellm_id, model_name, owned, entry) VALUES (?, ?, ?, ?)")
            .bind(entry.pointer("/model_info/id").and_then(Value::as_str))
            .bind(entry.get("model_name").and_then(Value::as_str).unwrap_or(""))
            .bind(plan::is_owned(entry, self.installation.as_deref()))
            .bind(Json(entry))
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    /// The staged entries with these ids (the first, where LiteLLM listed one twice).
    pub async fn entries(&self, ids: &[&str]) -> Result<HashMap<String, Value>, DbError> {
        let mut found = HashMap::new();
        for part in ids.chunks(500) {
            let marks = vec!["?"; part.len()].join(", ");
            let sql = format!(
                "SELECT litellm_id, entry FROM litellm_entries_staged WHERE litellm_id IN ({marks}) ORDER BY position"
            );
            let mut query = sqlx::query_as::<_, (String, Json<Value>)>(sqlx::AssertSqlSafe(sql));
            for id in part {
                query = query.bind(*id);
            }
            for (id, entry) in query.fetch_all(&self.pool).await? {
                found.entry(id).or_insert(entry.0);
            }
        }
        Ok(found)
    }

    /// Records operations that succeeded, as LiteLLM then shows them: a created entry
    /// (`body`, the create request without its API key) is appended, an update (`body`, the
    /// patch) shallow-merged into its entry, a deleted one removed.
    pub async fn record<'a>(
        &self,
        done: impl IntoIterator<Item = (Action, &'a str, &'a Value)>,
    ) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (action, id, body) in done {
            match action {
                Action::Create | Action::Replace => {
                    if action == Action::Replace {
                        sqlx::query("DELETE FROM litellm_entries_staged WHERE litellm_id = ?")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    let mut entry = body.clone();
                    if let Some(info) = entry.get_mut("model_info").and_then(Value::as_object_mut) {
                        info.insert("db_model".into(), true.into());
                    }
                    self.insert(&mut tx, &entry).await?;
                }
                Action::Update => {
                    let rows: Vec<(i64, Json<Value>)> =
                        sqlx::query_as("SELECT position, entry FROM litellm_entries_staged WHERE litellm_id = ?")
                            .bind(id)
                            .fetch_all(&mut *tx)
                            .await?;
                    for (position, Json(mut entry)) in rows {
                        merge_patch(&mut entry, body);
                        sqlx::query("UPDATE litellm_entries_staged SET model_name = ?, entry = ? WHERE position = ?")
                            .bind(entry.get("model_name").and_then(Value::as_str).unwrap_or(""))
                            .bind(Json(&entry))
                            .bind(position)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Action::Delete | Action::DeleteDuplicate => {
                    sqlx::query("DELETE FROM litellm_entries_staged WHERE litellm_id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Makes the staged entries the latest snapshot.
    pub async fn publish(self) -> Result<(), DbError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM litellm_entries").execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO litellm_entries (litellm_id, model_name, owned, entry) \
             SELECT litellm_id, model_name, owned, entry FROM litellm_entries_staged ORDER BY position",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM litellm_entries_staged").execute(&mut *tx).await?;
        let sql = format!(
            "INSERT INTO litellm_snapshot (id, taken_at) VALUES (1, {NOW}) \
             ON CONFLICT (id) DO UPDATE SET taken_at = excluded.taken_at"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// `entry` after LiteLLM applied the update `patch`: each section's keys replaced one by one.
fn merge_patch(entry: &mut Value, patch: &Value) {
    for (section, changes) in patch.as_object().into_iter().flatten() {
        match (entry.get_mut(section).and_then(Value::as_object_mut), changes.as_object()) {
            (Some(target), Some(changes)) => target.extend(changes.clone()),
            _ => entry[section] = changes.clone(),
        }
    }
}
