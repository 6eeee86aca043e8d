//! `config`: the single settings row (LiteLLM connection, global interval, default pricing).

use sqlx::types::Json;
use sqlx::{FromRow, SqlitePool};

use crate::secret::Secret;
use crate::types::Pricing;

use super::{DbError, NOW};

#[derive(Debug, Clone, FromRow)]
pub struct Config {
    pub litellm_base_url: Option<String>,
    pub litellm_api_key: Option<Secret>,
    /// 0 = automatic sync off; otherwise at least 30.
    pub sync_interval_seconds: i64,
    pub default_pricing: Option<Json<Pricing>>,
    pub updated_at: String,
    /// Random, created once per database (migration 0003): marks this installation's entries
    /// in LiteLLM (see `desired::MANAGED_BY_INSTALLATION`).
    pub installation_id: Option<String>,
}

impl Config {
    /// The LiteLLM URL, when one is configured.
    pub fn litellm_url(&self) -> Option<&str> {
        self.litellm_base_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    pub fn default_pricing(&self) -> Option<Pricing> {
        self.default_pricing.as_ref().map(|p| p.0).filter(|p| !p.is_empty())
    }
}

pub async fn get(pool: &SqlitePool) -> Result<Config, DbError> {
    Ok(sqlx::query_as(
        "SELECT litellm_base_url, litellm_api_key, sync_interval_seconds, default_pricing, updated_at, \
           installation_id FROM config WHERE id = 1",
    )
    .fetch_one(pool)
    .await?)
}

/// Fills the LiteLLM connection from the environment where the row has none yet, so a fresh
/// deployment works from `LITELLM_BASE_URL`/`LITELLM_API_KEY` without touching what the
/// operator later set in the UI.
pub async fn seed_litellm(pool: &SqlitePool, base_url: Option<&str>, api_key: Option<&Secret>) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE config SET \
           litellm_base_url = COALESCE(NULLIF(TRIM(litellm_base_url), ''), ?), \
           litellm_api_key = COALESCE(NULLIF(litellm_api_key, ''), ?), \
           updated_at = {NOW} \
         WHERE id = 1 AND ((? IS NOT NULL AND COALESCE(TRIM(litellm_base_url), '') = '') \
                        OR (? IS NOT NULL AND COALESCE(litellm_api_key, '') = ''))"
    );
    let base_url = base_url.map(str::trim).filter(|u| !u.is_empty());
    let api_key = api_key.map(Secret::expose);
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(base_url)
        .bind(api_key)
        .bind(base_url)
        .bind(api_key)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn set_litellm(pool: &SqlitePool, base_url: Option<&str>, api_key: Option<&Secret>) -> Result<(), DbError> {
    let sql = format!("UPDATE config SET litellm_base_url = ?, litellm_api_key = ?, updated_at = {NOW} WHERE id = 1");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(base_url).bind(api_key.map(Secret::expose)).execute(pool).await?;
    Ok(())
}

pub async fn set_sync_interval(pool: &SqlitePool, seconds: i64) -> Result<(), DbError> {
    if seconds != 0 && seconds < 30 {
        return Err(DbError::Invalid(format!("sync interval must be 0 (off) or at least 30 seconds, got {seconds}")));
    }
    let sql = format!("UPDATE config SET sync_interval_seconds = ?, updated_at = {NOW} WHERE id = 1");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(seconds).execute(pool).await?;
    Ok(())
}

pub async fn set_default_pricing(pool: &SqlitePool, pricing: Option<Pricing>) -> Result<(), DbError> {
    let sql = format!("UPDATE config SET default_pricing = ?, updated_at = {NOW} WHERE id = 1");
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(pricing.filter(|p| !p.is_empty()).map(Json)).execute(pool).await?;
    Ok(())
}
