//! `route_groups`, `route_targets`, `route_fallbacks` and `pushed_fallbacks`: routing groups,
//! the operator's fallbacks, and what the last push set in LiteLLM.

use crate::Database;
use crate::db::Json;
use serde::Serialize;
use sqlx::FromRow;

use crate::plan::RouteIdToStore;
use crate::routing::{self, Fallback, FallbackType, Group, GroupInput, Routing, Target};

use super::{BeginWrite as _, DbError, with_pool};

/// Groups (with targets) and the operator's fallbacks: what the desired state needs.
pub async fn load(db: &Database) -> Result<Routing, DbError> {
    Ok(Routing { groups: list_groups(db).await?, fallbacks: list_fallbacks(db).await? })
}

type GroupRow = (i64, String, Option<String>, Json<Vec<String>>, bool);

fn group_from(row: GroupRow, targets: Vec<Target>) -> Group {
    let (id, name, description, capabilities, auto_context_fallback) = row;
    Group { id, name, description, capabilities: capabilities.0, auto_context_fallback, targets }
}

/// The columns of a [`GroupRow`] and a [`TargetRow`], as literals for `concat!`.
macro_rules! group_columns {
    () => {
        "id, name, description, capabilities, auto_context_fallback"
    };
}
macro_rules! target_columns {
    () => {
        "id, group_id, provider_id, model_id, weight, priority, enabled, litellm_model_id"
    };
}

#[derive(FromRow)]
struct TargetRow {
    id: i64,
    group_id: i64,
    provider_id: i64,
    model_id: String,
    weight: i64,
    priority: i64,
    enabled: bool,
    litellm_model_id: Option<String>,
}

impl TargetRow {
    fn into_target(self) -> (i64, Target) {
        let Self { id, group_id, provider_id, model_id, weight, priority, enabled, litellm_model_id } = self;
        (group_id, Target { id, provider_id, model_id, weight, priority, enabled, litellm_model_id })
    }
}

/// Every group by name, each with its targets by priority then id.
pub async fn list_groups(db: &Database) -> Result<Vec<Group>, DbError> {
    const GROUPS: &str = concat!("SELECT ", group_columns!(), " FROM route_groups ORDER BY name");
    const TARGETS: &str = concat!("SELECT ", target_columns!(), " FROM route_targets ORDER BY priority, id");
    let (groups, rows): (Vec<GroupRow>, Vec<TargetRow>) = with_pool!(db, pool => (
        sqlx::query_as(GROUPS).fetch_all(pool).await?,
        sqlx::query_as(TARGETS).fetch_all(pool).await?,
    ));
    let mut targets: Vec<(i64, Target)> = rows.into_iter().map(TargetRow::into_target).collect();
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
    const GROUP: &str = concat!("SELECT ", group_columns!(), " FROM route_groups WHERE id = $1");
    const TARGETS: &str =
        concat!("SELECT ", target_columns!(), " FROM route_targets WHERE group_id = $1 ORDER BY priority, id");
    let Some(row): Option<GroupRow> =
        with_pool!(db, pool => sqlx::query_as(GROUP).bind(id).fetch_optional(pool).await?)
    else {
        return Ok(None);
    };
    let rows: Vec<TargetRow> = with_pool!(db, pool => sqlx::query_as(TARGETS).bind(id).fetch_all(pool).await?);
    Ok(Some(group_from(row, rows.into_iter().map(|r| r.into_target().1).collect())))
}

/// Refuses targets whose provider does not exist or holds compat aliases; in the transaction
/// `$tx` of either backend (a macro: its body is the same SQL for both connection types).
macro_rules! check_providers {
    ($tx:expr, $input:expr) => {
        for target in &$input.targets {
            let kind: Option<String> = sqlx::query_scalar("SELECT type FROM providers WHERE id = $1")
                .bind(target.provider_id)
                .fetch_optional(&mut *$tx)
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
    };
}

/// Replaces the group's targets with `input`'s, keeping the LiteLLM id of every target that
/// stays (same provider and model), so an edit patches LiteLLM's entries instead of
/// recreating them.
macro_rules! replace_targets {
    ($tx:expr, $group_id:expr, $input:expr) => {
        let kept: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT provider_id, model_id, litellm_model_id FROM route_targets WHERE group_id = $1")
                .bind($group_id)
                .fetch_all(&mut *$tx)
                .await?;
        sqlx::query("DELETE FROM route_targets WHERE group_id = $1").bind($group_id).execute(&mut *$tx).await?;
        for target in &$input.targets {
            let id = kept
                .iter()
                .find(|(p, m, _)| *p == target.provider_id && *m == target.model_id)
                .and_then(|(_, _, id)| id.clone());
            sqlx::query(
                "INSERT INTO route_targets (group_id, provider_id, model_id, weight, priority, enabled, \
                 litellm_model_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind($group_id)
            .bind(target.provider_id)
            .bind(&target.model_id)
            .bind(target.weight)
            .bind(target.priority)
            .bind(target.enabled)
            .bind(id)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Renames `$old` to `$new` wherever a fallback names it.
macro_rules! rename_in_fallbacks {
    ($tx:expr, $old:expr, $new:expr) => {
        let rows: Vec<(i64, String, Json<Vec<String>>)> =
            sqlx::query_as("SELECT id, model_name, fallback_models FROM route_fallbacks").fetch_all(&mut *$tx).await?;
        for (id, model_name, models) in rows {
            let renamed: Vec<String> =
                models.0.iter().map(|m| if m == $old { $new.to_owned() } else { m.clone() }).collect();
            let model_name = if model_name == $old { $new.to_owned() } else { model_name };
            sqlx::query("UPDATE route_fallbacks SET model_name = $1, fallback_models = $2 WHERE id = $3")
                .bind(model_name)
                .bind(Json(renamed))
                .bind(id)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

fn conflict(error: DbError, name: &str) -> DbError {
    match error {
        DbError::Conflict(_) => DbError::Conflict(format!("a routing group named {name} already exists")),
        other => other,
    }
}

/// Creates a group with its targets; its id.
pub async fn create_group(db: &Database, input: &GroupInput) -> Result<i64, DbError> {
    const SQL: &str = "INSERT INTO route_groups (name, description, capabilities, auto_context_fallback) \
         VALUES ($1, $2, $3, $4) RETURNING id";
    let input = input.checked().map_err(DbError::Invalid)?;
    with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        check_providers!(tx, input);
        let id: i64 = sqlx::query_scalar(SQL)
            .bind(&input.name)
            .bind(&input.description)
            .bind(Json(&input.capabilities))
            .bind(input.auto_context_fallback)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| conflict(e.into(), &input.name))?;
        replace_targets!(tx, id, input);
        tx.commit().await?;
        Ok(id)
    })
}

/// Replaces a group's settings and targets; `false` when there is no such group. A renamed
/// group renames the fallbacks that name it, so they keep applying.
pub async fn update_group(db: &Database, id: i64, input: &GroupInput) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE route_groups SET name = $1, description = $2, capabilities = $3, \
         auto_context_fallback = $4, updated_at = $5 WHERE id = $6";
    let input = input.checked().map_err(DbError::Invalid)?;
    with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let Some(old_name): Option<String> = sqlx::query_scalar("SELECT name FROM route_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(false);
        };
        check_providers!(tx, input);
        sqlx::query(SQL)
            .bind(&input.name)
            .bind(&input.description)
            .bind(Json(&input.capabilities))
            .bind(input.auto_context_fallback)
            .bind(super::now_timestamp())
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict(e.into(), &input.name))?;
        if old_name != input.name {
            rename_in_fallbacks!(tx, old_name.as_str(), input.name.as_str());
        }
        replace_targets!(tx, id, input);
        tx.commit().await?;
        Ok(true)
    })
}

/// Deletes a group (its targets go with it; the next push removes their deployments).
pub async fn delete_group(db: &Database, id: i64) -> Result<bool, DbError> {
    const SQL: &str = "DELETE FROM route_groups WHERE id = $1";
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(id).execute(pool).await?.rows_affected()) > 0)
}

/// Stores the LiteLLM ids a push gave (or adopted for) group targets.
pub async fn store_litellm_ids(db: &Database, ids: &[RouteIdToStore]) -> Result<(), DbError> {
    const SQL: &str = "UPDATE route_targets SET litellm_model_id = $1 WHERE id = $2";
    if ids.is_empty() {
        return Ok(());
    }
    with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        for RouteIdToStore { route_target_id, litellm_id, .. } in ids {
            sqlx::query(SQL).bind(litellm_id).bind(route_target_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

fn fallback_from((model_name, kind, models): FallbackRow) -> Option<Fallback> {
    Some(Fallback { model_name, fallback_type: kind.parse().ok()?, fallback_models: models.0 })
}

type FallbackRow = (String, String, Json<Vec<String>>);

/// The operator's fallbacks, by model name then type.
pub async fn list_fallbacks(db: &Database) -> Result<Vec<Fallback>, DbError> {
    const SQL: &str =
        "SELECT model_name, fallback_type, fallback_models FROM route_fallbacks ORDER BY model_name, fallback_type";
    let rows: Vec<FallbackRow> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows.into_iter().filter_map(fallback_from).collect())
}

/// Creates or replaces the fallback of (`model_name`, `fallback_type`).
pub async fn set_fallback(db: &Database, fallback: &Fallback) -> Result<Fallback, DbError> {
    const SQL: &str = "INSERT INTO route_fallbacks (model_name, fallback_type, fallback_models) VALUES ($1, $2, $3) \
         ON CONFLICT (model_name, fallback_type) DO UPDATE SET fallback_models = excluded.fallback_models, \
         updated_at = $4";
    let fallback = routing::check_fallback(fallback).map_err(DbError::Invalid)?;
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(&fallback.model_name)
            .bind(fallback.fallback_type.as_str())
            .bind(Json(&fallback.fallback_models))
            .bind(super::now_timestamp())
            .execute(pool)
            .await?;
    });
    Ok(fallback)
}

pub async fn delete_fallback(db: &Database, model_name: &str, kind: FallbackType) -> Result<bool, DbError> {
    const SQL: &str = "DELETE FROM route_fallbacks WHERE model_name = $1 AND fallback_type = $2";
    let done = with_pool!(db, pool => sqlx::query(SQL).bind(model_name).bind(kind.as_str()).execute(pool).await?.rows_affected());
    Ok(done > 0)
}

/// What the last push set in LiteLLM.
pub async fn pushed_fallbacks(db: &Database) -> Result<Vec<Fallback>, DbError> {
    const SQL: &str =
        "SELECT model_name, fallback_type, fallback_models FROM pushed_fallbacks ORDER BY model_name, fallback_type";
    let rows: Vec<FallbackRow> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows.into_iter().filter_map(fallback_from).collect())
}

pub async fn record_pushed(db: &Database, fallback: &Fallback) -> Result<(), DbError> {
    const SQL: &str = "INSERT INTO pushed_fallbacks (model_name, fallback_type, fallback_models) VALUES ($1, $2, $3) \
         ON CONFLICT (model_name, fallback_type) DO UPDATE SET fallback_models = excluded.fallback_models";
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(&fallback.model_name)
            .bind(fallback.fallback_type.as_str())
            .bind(Json(&fallback.fallback_models))
            .execute(pool)
            .await?;
    });
    Ok(())
}

pub async fn forget_pushed(db: &Database, model_name: &str, kind: FallbackType) -> Result<(), DbError> {
    const SQL: &str = "DELETE FROM pushed_fallbacks WHERE model_name = $1 AND fallback_type = $2";
    with_pool!(db, pool => {
        sqlx::query(SQL).bind(model_name).bind(kind.as_str()).execute(pool).await?;
    });
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
    const SQL: &str = "SELECT p.id, p.name, m.model_id, m.capabilities, COALESCE(m.context_window, m.max_input_tokens) \
         FROM models m JOIN providers p ON p.id = m.provider_id \
         WHERE NOT m.is_orphaned AND p.type <> 'compat' AND p.sync_enabled ORDER BY p.name, m.model_id";
    type CandidateRow = (i64, String, String, Json<Vec<String>>, Option<i64>);
    let rows: Vec<CandidateRow> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
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
