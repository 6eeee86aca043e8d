//! The stored `models.excluded_reason`: [`crate::desired::settings_exclusion`] applied to every
//! model of a provider, so that a changed filter or a disabled provider shows at once, before
//! any fetch or push.

use crate::Database;

use super::providers;
use super::{DbError, with_pool};
use crate::desired::settings_exclusion;
use crate::types::ProviderType;

/// Recomputes the reason of every model of `provider_id`; returns how many changed. Aliases
/// (the compat holder's rows) have no upstream filter and keep none.
pub async fn refresh_for_provider(db: &Database, provider_id: i64) -> Result<u64, DbError> {
    const ROWS: &str = "SELECT id, model_id, excluded_reason FROM models WHERE provider_id = $1";
    const UPDATE: &str = "UPDATE models SET excluded_reason = $1 WHERE id = $2";
    let Some(provider) = providers::get(db, provider_id).await? else { return Ok(0) };
    let rows: Vec<(i64, String, Option<String>)> =
        with_pool!(db, pool => sqlx::query_as(ROWS).bind(provider_id).fetch_all(pool).await?);
    let changed: Vec<(i64, Option<String>)> = rows
        .into_iter()
        .filter_map(|(id, model_id, stored)| {
            let reason =
                if provider.kind == ProviderType::Compat { None } else { settings_exclusion(&provider, &model_id) };
            (reason != stored).then_some((id, reason))
        })
        .collect();
    if changed.is_empty() {
        return Ok(0);
    }
    with_pool!(db, pool => {
        let mut tx = pool.begin().await?;
        for (id, reason) in &changed {
            sqlx::query(UPDATE).bind(reason).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(changed.len() as u64)
}

/// The stored reason of one model; `None` when it is admitted or does not exist.
pub async fn reason(db: &Database, model_row_id: i64) -> Result<Option<String>, DbError> {
    const SQL: &str = "SELECT excluded_reason FROM models WHERE id = $1";
    let reason: Option<Option<String>> =
        with_pool!(db, pool => sqlx::query_scalar(SQL).bind(model_row_id).fetch_optional(pool).await?);
    Ok(reason.flatten())
}
