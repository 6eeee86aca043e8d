//! `litellm_snapshot` + `litellm_entries`: what LiteLLM held at the worker's last look, one row
//! per deployment (written row by row: a thousand entries never become one giant string).

use crate::Database;
use std::collections::HashMap;

use crate::db::Json;
use serde_json::Value;

use super::{BeginWrite, DbError, now_timestamp, with_pool};
use crate::plan::{self, Action};

/// Replaces the snapshot with `entries` (a whole `GET /model/info` answer).
pub async fn save(db: &Database, entries: &[Value]) -> Result<(), DbError> {
    let staged = Staged::begin(db).await?;
    staged.add(entries).await?;
    staged.publish().await
}

/// `(taken_at, entries)` of the latest snapshot, entries in LiteLLM's order.
pub async fn latest(db: &Database) -> Result<Option<(String, Vec<Value>)>, DbError> {
    const TAKEN_AT: &str = "SELECT taken_at FROM litellm_snapshot WHERE id = 1";
    const ENTRIES: &str = "SELECT entry FROM litellm_entries ORDER BY position";
    let found: Option<(String, Vec<Json<Value>>)> = with_pool!(db, pool => {
        match sqlx::query_scalar::<_, String>(TAKEN_AT).fetch_optional(pool).await? {
            None => None,
            Some(taken_at) => Some((taken_at, sqlx::query_scalar(ENTRIES).fetch_all(pool).await?)),
        }
    });
    Ok(found.map(|(taken_at, entries)| (taken_at, entries.into_iter().map(|e| e.0).collect())))
}

const INSERT_STAGED: &str =
    "INSERT INTO litellm_entries_staged (litellm_id, model_name, owned, entry) VALUES ($1, $2, $3, $4)";

/// Appends `$entry` (a `&Value`) to the staged entries in `$tx`, owned by `$installation`.
macro_rules! insert_staged {
    ($tx:expr, $installation:expr, $entry:expr) => {{
        let entry: &Value = $entry;
        sqlx::query(INSERT_STAGED)
            .bind(entry.pointer("/model_info/id").and_then(Value::as_str))
            .bind(entry.get("model_name").and_then(Value::as_str).unwrap_or(""))
            .bind(plan::is_owned(entry, $installation))
            .bind(Json(entry))
            .execute(&mut *$tx)
            .await?
    }};
}

/// A snapshot being written by a push: LiteLLM's list as it is read, then edited as the push's
/// operations succeed, and published (to what [`latest`] reads) when the push ends. Until then
/// readers see the previous snapshot.
pub struct Staged {
    db: Database,
    installation: Option<String>,
}

impl Staged {
    /// Starts an empty staged snapshot (dropping any a stopped push left behind).
    pub async fn begin(db: &Database) -> Result<Self, DbError> {
        const INSTALLATION: &str = "SELECT installation_id FROM config WHERE id = 1";
        const CLEAR: &str = "DELETE FROM litellm_entries_staged";
        let installation: Option<String> = with_pool!(db, pool => {
            let installation = sqlx::query_scalar(INSTALLATION).fetch_optional(pool).await?.flatten();
            sqlx::query(CLEAR).execute(pool).await?;
            installation
        });
        Ok(Self { db: db.clone(), installation })
    }

    /// Appends entries, as LiteLLM lists them.
    pub async fn add(&self, entries: &[Value]) -> Result<(), DbError> {
        let installation = self.installation.as_deref();
        with_pool!(self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for entry in entries {
                insert_staged!(tx, installation, entry);
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The staged entries with these ids (the first, where LiteLLM listed one twice).
    pub async fn entries(&self, ids: &[&str]) -> Result<HashMap<String, Value>, DbError> {
        let mut found = HashMap::new();
        for part in ids.chunks(500) {
            let marks = (1..=part.len()).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT litellm_id, entry FROM litellm_entries_staged WHERE litellm_id IN ({marks}) ORDER BY position"
            );
            let rows: Vec<(String, Json<Value>)> = with_pool!(self.db, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for id in part {
                    query = query.bind(*id);
                }
                query.fetch_all(pool).await?
            });
            for (id, entry) in rows {
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
        const DELETE: &str = "DELETE FROM litellm_entries_staged WHERE litellm_id = $1";
        const ROWS: &str = "SELECT position, entry FROM litellm_entries_staged WHERE litellm_id = $1";
        const UPDATE: &str = "UPDATE litellm_entries_staged SET model_name = $1, entry = $2 WHERE position = $3";
        let installation = self.installation.as_deref();
        with_pool!(self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for (action, id, body) in done {
                match action {
                    Action::Create | Action::Replace => {
                        if action == Action::Replace {
                            sqlx::query(DELETE).bind(id).execute(&mut *tx).await?;
                        }
                        let mut entry = body.clone();
                        if let Some(info) = entry.get_mut("model_info").and_then(Value::as_object_mut) {
                            info.insert("db_model".into(), true.into());
                        }
                        insert_staged!(tx, installation, &entry);
                    }
                    Action::Update => {
                        let rows: Vec<(i64, Json<Value>)> =
                            sqlx::query_as(ROWS).bind(id).fetch_all(&mut *tx).await?;
                        for (position, Json(mut entry)) in rows {
                            merge_patch(&mut entry, body);
                            sqlx::query(UPDATE)
                                .bind(entry.get("model_name").and_then(Value::as_str).unwrap_or(""))
                                .bind(Json(&entry))
                                .bind(position)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    Action::Delete | Action::DeleteDuplicate => {
                        sqlx::query(DELETE).bind(id).execute(&mut *tx).await?;
                    }
                }
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Makes the staged entries the latest snapshot.
    pub async fn publish(self) -> Result<(), DbError> {
        const CLEAR: &str = "DELETE FROM litellm_entries";
        const COPY: &str = "INSERT INTO litellm_entries (litellm_id, model_name, owned, entry) \
             SELECT litellm_id, model_name, owned, entry FROM litellm_entries_staged ORDER BY position";
        const CLEAR_STAGED: &str = "DELETE FROM litellm_entries_staged";
        const TAKEN: &str = "INSERT INTO litellm_snapshot (id, taken_at) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET taken_at = excluded.taken_at";
        with_pool!(self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(CLEAR).execute(&mut *tx).await?;
            sqlx::query(COPY).execute(&mut *tx).await?;
            sqlx::query(CLEAR_STAGED).execute(&mut *tx).await?;
            sqlx::query(TAKEN).bind(now_timestamp()).execute(&mut *tx).await?;
            tx.commit().await?;
        });
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
