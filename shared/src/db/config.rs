//! `config`: the single settings row (LiteLLM connection, global interval, default pricing).

use crate::Database;
use crate::db::Json;
use sqlx::FromRow;

use crate::pricing::Profile;
use crate::secret::{KeyChange, Secret, key_after_url_change};
use crate::settings::Config;
use crate::types::Pricing;

use super::{DbError, with_pool};

/// The `config` row as stored (the pricing profiles come from their own table).
#[derive(FromRow)]
struct ConfigRow {
    litellm_base_url: Option<String>,
    litellm_api_key: Option<Secret>,
    sync_interval_seconds: i64,
    default_pricing: Option<Json<Pricing>>,
    default_pricing_profile: Option<String>,
    updated_at: String,
    installation_id: Option<String>,
}

pub async fn get(db: &Database) -> Result<Config, DbError> {
    const SQL: &str = "SELECT litellm_base_url, litellm_api_key, sync_interval_seconds, default_pricing, \
         default_pricing_profile, updated_at, installation_id FROM config WHERE id = 1";
    let row: ConfigRow = with_pool!(db, pool => sqlx::query_as(SQL).fetch_one(pool).await?);
    Ok(Config {
        litellm_base_url: row.litellm_base_url,
        litellm_api_key: row.litellm_api_key,
        sync_interval_seconds: row.sync_interval_seconds,
        default_pricing: row.default_pricing.map(|j| j.0),
        default_pricing_profile: row.default_pricing_profile,
        updated_at: row.updated_at,
        installation_id: row.installation_id,
        pricing_profiles: pricing_profiles(db).await?,
    })
}

/// The operator's pricing profiles, by name.
pub async fn pricing_profiles(db: &Database) -> Result<Vec<Profile>, DbError> {
    const SQL: &str = "SELECT name, input_cost_per_token, output_cost_per_token FROM pricing_profiles ORDER BY name";
    let rows: Vec<(String, f64, f64)> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows
        .into_iter()
        .map(|(name, input_cost_per_token, output_cost_per_token)| Profile {
            name,
            input_cost_per_token,
            output_cost_per_token,
        })
        .collect())
}

/// Fills the LiteLLM connection from the environment where the row has none yet, so a fresh
/// deployment works from `LITELLM_BASE_URL`/`LITELLM_API_KEY` without touching what the
/// operator later set in the UI.
pub async fn seed_litellm(db: &Database, base_url: Option<&str>, api_key: Option<&Secret>) -> Result<(), DbError> {
    const SQL: &str = "UPDATE config SET \
           litellm_base_url = COALESCE(NULLIF(TRIM(litellm_base_url), ''), $1), \
           litellm_api_key = COALESCE(NULLIF(litellm_api_key, ''), $2), \
           updated_at = $3 \
         WHERE id = 1 AND (($1 IS NOT NULL AND COALESCE(TRIM(litellm_base_url), '') = '') \
                        OR ($2 IS NOT NULL AND COALESCE(litellm_api_key, '') = ''))";
    let base_url = base_url.map(str::trim).filter(|u| !u.is_empty());
    let api_key = api_key.map(Secret::expose);
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(base_url)
            .bind(api_key)
            .bind(super::now_timestamp())
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Changes the LiteLLM connection as the operator asked: `base_url` `None` clears it; a changed
/// URL needs the master key again ([`key_after_url_change`]), so the stored key is never
/// delivered to a URL it was not given for. Answers whether anything changed.
pub async fn update_litellm(db: &Database, base_url: Option<&str>, key: KeyChange) -> Result<bool, DbError> {
    let current = get(db).await?;
    let base_url = base_url.map(|u| u.trim().trim_end_matches('/')).filter(|u| !u.is_empty());
    if let Some(url) = base_url {
        crate::db::providers::validate_base_url(url).map_err(|e| DbError::Invalid(format!("litellm_{e}")))?;
    }
    let api_key =
        key_after_url_change(current.litellm_url(), base_url, current.litellm_api_key.as_ref(), key, "LiteLLM")
            .map_err(DbError::Invalid)?;
    if base_url == current.litellm_url() && api_key == current.litellm_api_key {
        return Ok(false);
    }
    set_litellm(db, base_url, api_key.as_ref()).await?;
    Ok(true)
}

pub async fn set_litellm(db: &Database, base_url: Option<&str>, api_key: Option<&Secret>) -> Result<(), DbError> {
    const SQL: &str = "UPDATE config SET litellm_base_url = $1, litellm_api_key = $2, updated_at = $3 WHERE id = 1";
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(base_url)
            .bind(api_key.map(Secret::expose))
            .bind(super::now_timestamp())
            .execute(pool)
            .await?;
    });
    Ok(())
}

pub async fn set_sync_interval(db: &Database, seconds: i64) -> Result<(), DbError> {
    const SQL: &str = "UPDATE config SET sync_interval_seconds = $1, updated_at = $2 WHERE id = 1";
    if seconds != 0 && seconds < 30 {
        return Err(DbError::Invalid(format!("sync interval must be 0 (off) or at least 30 seconds, got {seconds}")));
    }
    with_pool!(db, pool => {
        sqlx::query(SQL).bind(seconds).bind(super::now_timestamp()).execute(pool).await?;
    });
    Ok(())
}

pub async fn set_default_pricing(db: &Database, pricing: Option<Pricing>) -> Result<(), DbError> {
    const SQL: &str = "UPDATE config SET default_pricing = $1, updated_at = $2 WHERE id = 1";
    let pricing = pricing.filter(|p| !p.is_empty()).map(Json);
    with_pool!(db, pool => {
        sqlx::query(SQL).bind(pricing).bind(super::now_timestamp()).execute(pool).await?;
    });
    Ok(())
}
