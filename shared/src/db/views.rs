//! Read-only queries shaped for the web UI's pages (joins and counts the per-table modules do not
//! need themselves).

use crate::Database;
use std::collections::HashMap;

use crate::db::Json;
use serde_json::Value;
use sqlx::FromRow;

use super::jobs::JobRecord;
use super::{DbError, with_pool};

/// How many models each provider has, and how many of them are orphaned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ModelCount {
    pub total: i64,
    pub orphaned: i64,
}

pub async fn model_counts(db: &Database) -> Result<HashMap<i64, ModelCount>, DbError> {
    const SQL: &str =
        "SELECT provider_id, COUNT(*), COUNT(CASE WHEN is_orphaned THEN 1 END) FROM models GROUP BY provider_id";
    let rows: Vec<(i64, i64, i64)> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows.into_iter().map(|(id, total, orphaned)| (id, ModelCount { total, orphaned })).collect())
}

/// How many of litellm-updater's LiteLLM entries (per the latest snapshot) serve each
/// provider's models: what disabling or deleting the provider removes at the next push.
pub async fn litellm_entries_by_provider(db: &Database) -> Result<HashMap<i64, i64>, DbError> {
    const SQL: &str = "SELECT m.provider_id, COUNT(*) FROM litellm_entries e \
         JOIN models m ON m.litellm_model_id = e.litellm_id WHERE e.owned GROUP BY m.provider_id";
    let rows: Vec<(i64, i64)> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows.into_iter().collect())
}

pub async fn count_sync_runs(db: &Database) -> Result<i64, DbError> {
    const SQL: &str = "SELECT COUNT(*) FROM sync_runs";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await?))
}

use super::jobs::COLUMNS as JOB_COLUMNS;

/// The newest job of `kind`, whatever its status.
pub async fn latest_job(db: &Database, kind: &str) -> Result<Option<JobRecord>, DbError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 ORDER BY id DESC LIMIT 1");
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_optional(pool).await?))
}

/// The newest job of `kind` that ended successfully.
pub async fn latest_done_job(db: &Database, kind: &str) -> Result<Option<JobRecord>, DbError> {
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 AND status = 'done' ORDER BY id DESC LIMIT 1");
    Ok(with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(kind).fetch_optional(pool).await?))
}

/// One deployment of the worker's latest LiteLLM snapshot, with the model it belongs to, if any.
#[derive(Debug, Clone, FromRow)]
pub struct LitellmEntry {
    pub litellm_id: Option<String>,
    pub model_name: String,
    pub owned: bool,
    pub entry: Json<Value>,
    pub model_row_id: Option<i64>,
    pub provider_name: Option<String>,
}

pub async fn litellm_entries(db: &Database) -> Result<Vec<LitellmEntry>, DbError> {
    const SQL: &str = "SELECT e.litellm_id, e.model_name, e.owned, e.entry, m.id AS model_row_id, \
           p.name AS provider_name \
         FROM litellm_entries e \
         LEFT JOIN models m ON m.litellm_model_id = e.litellm_id \
         LEFT JOIN providers p ON p.id = m.provider_id \
         ORDER BY e.position";
    Ok(with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}

pub async fn snapshot_taken_at(db: &Database) -> Result<Option<String>, DbError> {
    const SQL: &str = "SELECT taken_at FROM litellm_snapshot WHERE id = 1";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL).fetch_optional(pool).await?))
}

/// The `model_info.id`s of the snapshot's entries litellm-updater may delete.
pub async fn owned_litellm_ids(db: &Database) -> Result<Vec<String>, DbError> {
    const SQL: &str = "SELECT litellm_id FROM litellm_entries WHERE owned AND litellm_id IS NOT NULL";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL).fetch_all(pool).await?))
}

/// A compat alias with what its target resolves to.
#[derive(Debug, Clone, FromRow)]
pub struct Alias {
    pub id: i64,
    pub alias: String,
    pub target_provider_id: Option<i64>,
    pub target_provider: Option<String>,
    pub target_model_id: Option<String>,
    /// The target's model row, when it exists.
    pub target_row_id: Option<i64>,
    pub target_orphaned: Option<bool>,
    pub sync_enabled: bool,
    /// LiteLLM holds the alias's deployment (per the latest snapshot).
    pub in_litellm: bool,
}

pub async fn aliases(db: &Database) -> Result<Vec<Alias>, DbError> {
    const SQL: &str = "SELECT a.id, a.model_id AS alias, a.mapped_provider_id AS target_provider_id, \
           tp.name AS target_provider, a.mapped_model_id AS target_model_id, t.id AS target_row_id, \
           t.is_orphaned AS target_orphaned, a.sync_enabled, \
           EXISTS (SELECT 1 FROM litellm_entries e WHERE e.litellm_id = a.litellm_model_id) AS in_litellm \
         FROM models a \
         JOIN providers cp ON cp.id = a.provider_id AND cp.type = 'compat' \
         LEFT JOIN providers tp ON tp.id = a.mapped_provider_id \
         LEFT JOIN models t ON t.provider_id = a.mapped_provider_id AND t.model_id = a.mapped_model_id \
         ORDER BY a.model_id, a.id";
    Ok(with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?))
}

/// Whether the latest snapshot holds a deployment with this `model_info.id`.
pub async fn in_litellm(db: &Database, litellm_id: &str) -> Result<bool, DbError> {
    const SQL: &str = "SELECT EXISTS (SELECT 1 FROM litellm_entries WHERE litellm_id = $1)";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL).bind(litellm_id).fetch_one(pool).await?))
}
