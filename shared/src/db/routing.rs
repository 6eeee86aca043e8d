//! `route_groups`, `route_targets`, `route_fallbacks` and `pushed_fallbacks`: routing groups,
//! the operator's fallbacks, and what the last push set in LiteLLM.

use crate::Database;
use crate::db::Json;
use serde::Serialize;
use sqlx::{Row, SqliteConnection};

use crate::plan::RouteIdToStore;
use crate::routing::{self, Fallback, FallbackType, Group, GroupInput, Routing, Target};

use super::{DbError, NOW};

/// Groups (with targets) and the operator's fallbacks: what the desired state needs.
pub async fn load(db: &Database) -> Result<Routing, DbError> {
    Ok(Routing { groups: list_groups(db).await?, fallbacks: list_fallbacks(db).await? })
}

type GroupRow = (i64, String, Option<String>, Json<Vec<String>>, bool);

fn group_from(row: GroupRow, targets: Vec<Target>) -> Group {
    let (id, name, description, capabilities, auto_context_fallback) = row;
    Group { id, name, description, capabilities: capabilities.0, auto_context_fallback, targets }
}

const GROUP_COLUMNS: &str = "id, name, description, capabilities, auto_context_fallback";
const TARGET_COLUMNS: &str = "id, group_id, provider_id, model_id, weight, priority, enabled, litellm_model_id";

fn target_from(row: &sqlx::sqlite::SqliteRow) -> Result<(i64, Target), sqlx::Error> {
    Ok((
        row.try_get("group_id")?,
        Target {
            id: row.try_get("id")?,
            provider_id: row.try_get("provider_id")?,
            model_id: row.try_get("model_id")?,
            weight: row.try_get("weight")?,
            priority: row.try_get("priority")?,
            enabled: row.try_get("enabled")?,
            litellm_model_id: row.try_get("litellm_model_id")?,
        },
    ))
}

/// Every group by name, each with its targets by priority then id.
pub async fn list_groups(db: &Database) -> Result<Vec<Group>, DbError> {
    let pool = db.sqlite_pool("routing::list_groups")?;
    let sql = format!("SELECT {GROUP_COLUMNS} FROM route_groups ORDER BY name");
    let groups: Vec<GroupRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    let sql = format!("SELECT {TARGET_COLUMNS} FROM route_targets ORDER BY priority, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    let mut targets: Vec<(i64, Target)> = rows.iter().map(target_from).collect::<Result<_, _>>()?;
    Ok(groups
        .into_iter()
        .map(|row| {
            let id = row.0;
            let mine = targets.extract_if(.., |(group, _)| *group == id).map(|(_, t)| t).collect();
            group_from(row, mine)
        })
        .collect())
}

pub async fn get_group(db: &Database, id: i64) -> Result<Option<Group>, DbError> {
    let pool = db.sqlite_pool("routing::get_group")?;
    let sql = format!("SELECT {GROUP_COLUMNS} FROM route_groups WHERE id = ?");
    let Some(row) = sqlx::query_as::<_, GroupRow>(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await? else {
        return Ok(None);
    };
    let sql = format!("SELECT {TARGET_COLUMNS} FROM route_targets WHERE group_id = ? ORDER BY priority, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_all(pool).await?;
    let targets = rows.iter().map(|r| target_from(r).map(|(_, t)| t)).collect::<Result<_, _>>()?;
    Ok(Some(group_from(row, targets)))
}

async fn check_providers(conn: &mut SqliteConnection, input: &GroupInput) -> Result<(), DbError> {
    for target in &input.targets {
        let kind: Option<String> = sqlx::query_scalar("SELECT type FROM providers WHERE id = ?")
            .bind(target.provider_id)
            .fetch_optional(&mut *conn)
            .await?;
        match kind.as_deref() {
            None => return Err(DbError::Invalid(format!("no provider with id {}", target.provider_id))),
            Some("compat") => {
                return Err(DbError::Invalid(
                    "a compat alias cannot be a group target; add the model it points at".into(),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Replaces the group's targets with `input`'s, keeping the LiteLLM id of every target that
/// stays (same provider and model), so an edit patches LiteLLM's entries instead of
/// recreating them.
async fn replace_targets(conn: &mut SqliteConnection, group_id: i64, input: &GroupInput) -> Result<(), DbError> {
    let kept: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT provider_id, model_id, litellm_model_id FROM route_targets WHERE group_id = ?")
            .bind(group_id)
            .fetch_all(&mut *conn)
            .await?;
    sqlx::query("DELETE FROM route_targets WHERE group_id = ?").bind(group_id).execute(&mut *conn).await?;
    for target in &input.targets {
        let id = kept
            .iter()
            .find(|(p, m, _)| *p == target.provider_id && *m == target.model_id)
            .and_then(|(_, _, id)| id.clone());
        sqlx::query(
            "INSERT INTO route_targets (group_id, provider_id, model_id, weight, priority, enabled, litellm_model_id) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(group_id)
        .bind(target.provider_id)
        .bind(&target.model_id)
        .bind(target.weight)
        .bind(target.priority)
        .bind(target.enabled)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn conflict(error: DbError, name: &str) -> DbError {
    match error {
        DbError::Conflict(_) => DbError::Conflict(format!("a routing group named {name} already exists")),
        other => other,
    }
}

/// Creates a group with its targets; its id.
pub async fn create_group(db: &Database, input: &GroupInput) -> Result<i64, DbError> {
    let pool = db.sqlite_pool("routing::create_group")?;
    let input = input.checked().map_err(DbError::Invalid)?;
    let mut tx = pool.begin().await?;
    check_providers(&mut tx, &input).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO route_groups (name, description, capabilities, auto_context_fallback) VALUES (?, ?, ?, ?) \
         RETURNING id",
    )
    .bind(&input.name)
    .bind(&input.description)
    .bind(Json(&input.capabilities))
    .bind(input.auto_context_fallback)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| conflict(e.into(), &input.name))?;
    replace_targets(&mut tx, id, &input).await?;
    tx.commit().await?;
    Ok(id)
}

/// Replaces a group's settings and targets; `false` when there is no such group. A renamed
/// group renames the fallbacks that name it, so they keep applying.
pub async fn update_group(db: &Database, id: i64, input: &GroupInput) -> Result<bool, DbError> {
    let pool = db.sqlite_pool("routing::update_group")?;
    let input = input.checked().map_err(DbError::Invalid)?;
    let mut tx = pool.begin().await?;
    let Some(old_name): Option<String> =
        sqlx::query_scalar("SELECT name FROM route_groups WHERE id = ?").bind(id).fetch_optional(&mut *tx).await?
    else {
        return Ok(false);
    };
    check_providers(&mut tx, &input).await?;
    let sql = format!(
        "UPDATE route_groups SET name = ?, description = ?, capabilities = ?, auto_context_fallback = ?, \
         updated_at = {NOW} WHERE id = ?"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&input.name)
        .bind(&input.description)
        .bind(Json(&input.capabilities))
        .bind(input.auto_context_fallback)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict(e.into(), &input.name))?;
    if old_name != input.name {
        rename_in_fallbacks(&mut tx, &old_name, &input.name).await?;
    }
    replace_targets(&mut tx, id, &input).await?;
    tx.commit().await?;
    Ok(true)
}

async fn rename_in_fallbacks(conn: &mut SqliteConnection, old: &str, new: &str) -> Result<(), DbError> {
    let rows: Vec<(i64, String, Json<Vec<String>>)> =
        sqlx::query_as("SELECT id, model_name, fallback_models FROM route_fallbacks").fetch_all(&mut *conn).await?;
    for (id, model_name, models) in rows {
        let renamed: Vec<String> = models.0.iter().map(|m| if m == old { new.to_owned() } else { m.clone() }).collect();
        let model_name = if model_name == old { new.to_owned() } else { model_name };
        sqlx::query("UPDATE route_fallbacks SET model_name = ?, fallback_models = ? WHERE id = ?")
            .bind(model_name)
            .bind(Json(renamed))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Deletes a group (its targets go with it; the next push removes their deployments).
pub async fn delete_group(db: &Database, id: i64) -> Result<bool, DbError> {
    let pool = db.sqlite_pool("routing::delete_group")?;
    Ok(sqlx::query("DELETE FROM route_groups WHERE id = ?").bind(id).execute(pool).await?.rows_affected() > 0)
}

/// Stores the LiteLLM ids a push gave (or adopted for) group targets.
pub async fn store_litellm_ids(db: &Database, ids: &[RouteIdToStore]) -> Result<(), DbError> {
    let pool = db.sqlite_pool("routing::store_litellm_ids")?;
    if ids.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    for RouteIdToStore { route_target_id, litellm_id, .. } in ids {
        sqlx::query("UPDATE route_targets SET litellm_model_id = ? WHERE id = ?")
            .bind(litellm_id)
            .bind(route_target_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn fallback_from((model_name, kind, models): (String, String, Json<Vec<String>>)) -> Option<Fallback> {
    Some(Fallback { model_name, fallback_type: kind.parse().ok()?, fallback_models: models.0 })
}

/// The operator's fallbacks, by model name then type.
pub async fn list_fallbacks(db: &Database) -> Result<Vec<Fallback>, DbError> {
    let pool = db.sqlite_pool("routing::list_fallbacks")?;
    let rows: Vec<(String, String, Json<Vec<String>>)> = sqlx::query_as(
        "SELECT model_name, fallback_type, fallback_models FROM route_fallbacks ORDER BY model_name, fallback_type",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(fallback_from).collect())
}

/// Creates or replaces the fallback of (`model_name`, `fallback_type`).
pub async fn set_fallback(db: &Database, fallback: &Fallback) -> Result<Fallback, DbError> {
    let pool = db.sqlite_pool("routing::set_fallback")?;
    let fallback = routing::check_fallback(fallback).map_err(DbError::Invalid)?;
    let sql = format!(
        "INSERT INTO route_fallbacks (model_name, fallback_type, fallback_models) VALUES (?, ?, ?) \
         ON CONFLICT (model_name, fallback_type) DO UPDATE SET fallback_models = excluded.fallback_models, \
         updated_at = {NOW}"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(&fallback.model_name)
        .bind(fallback.fallback_type.as_str())
        .bind(Json(&fallback.fallback_models))
        .execute(pool)
        .await?;
    Ok(fallback)
}

pub async fn delete_fallback(db: &Database, model_name: &str, kind: FallbackType) -> Result<bool, DbError> {
    let pool = db.sqlite_pool("routing::delete_fallback")?;
    Ok(sqlx::query("DELETE FROM route_fallbacks WHERE model_name = ? AND fallback_type = ?")
        .bind(model_name)
        .bind(kind.as_str())
        .execute(pool)
        .await?
        .rows_affected()
        > 0)
}

/// What the last push set in LiteLLM.
pub async fn pushed_fallbacks(db: &Database) -> Result<Vec<Fallback>, DbError> {
    let pool = db.sqlite_pool("routing::pushed_fallbacks")?;
    let rows: Vec<(String, String, Json<Vec<String>>)> = sqlx::query_as(
        "SELECT model_name, fallback_type, fallback_models FROM pushed_fallbacks ORDER BY model_name, fallback_type",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().filter_map(fallback_from).collect())
}

pub async fn record_pushed(db: &Database, fallback: &Fallback) -> Result<(), DbError> {
    let pool = db.sqlite_pool("routing::record_pushed")?;
    sqlx::query(
        "INSERT INTO pushed_fallbacks (model_name, fallback_type, fallback_models) VALUES (?, ?, ?) \
         ON CONFLICT (model_name, fallback_type) DO UPDATE SET fallback_models = excluded.fallback_models",
    )
    .bind(&fallback.model_name)
    .bind(fallback.fallback_type.as_str())
    .bind(Json(&fallback.fallback_models))
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn forget_pushed(db: &Database, model_name: &str, kind: FallbackType) -> Result<(), DbError> {
    let pool = db.sqlite_pool("routing::forget_pushed")?;
    sqlx::query("DELETE FROM pushed_fallbacks WHERE model_name = ? AND fallback_type = ?")
        .bind(model_name)
        .bind(kind.as_str())
        .execute(pool)
        .await?;
    Ok(())
}

/// A model that may join a group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub provider_id: i64,
    pub provider_name: String,
    pub model_id: String,
    pub capabilities: Vec<String>,
    pub context_window: Option<i64>,
}

/// Models that may join a group wanting `capabilities`: listed (not orphaned) models of
/// enabled, non-alias providers, by provider then model. At most `limit`.
pub async fn candidates(db: &Database, capabilities: &[String], limit: usize) -> Result<Vec<Candidate>, DbError> {
    let pool = db.sqlite_pool("routing::candidates")?;
    type CandidateRow = (i64, String, String, Json<Vec<String>>, Option<i64>);
    let rows: Vec<CandidateRow> = sqlx::query_as(
        "SELECT p.id, p.name, m.model_id, m.capabilities, COALESCE(m.context_window, m.max_input_tokens) \
         FROM models m JOIN providers p ON p.id = m.provider_id \
         WHERE m.is_orphaned = 0 AND p.type != 'compat' AND p.sync_enabled = 1 ORDER BY p.name, m.model_id",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter(|(.., caps, _)| routing::offers(&caps.0, capabilities))
        .take(limit)
        .map(|(provider_id, provider_name, model_id, caps, context_window)| Candidate {
            provider_id,
            provider_name,
            model_id,
            capabilities: caps.0,
            context_window,
        })
        .collect())
}
