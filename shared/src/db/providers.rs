//! `providers`: the upstream model servers to discover from.

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, SqlitePool};

use crate::secret::Secret;
use crate::types::{OllamaMode, Pricing, ProviderType};

use super::DbError;

/// The provider that holds compat aliases (the Python tool's convention).
pub const COMPAT_PROVIDER_NAME: &str = "compat_models";

#[derive(Debug, Clone, FromRow)]
pub struct Provider {
    pub id: i64,
    pub name: String,
    pub base_url: String,
    #[sqlx(rename = "type")]
    pub kind: ProviderType,
    pub api_key: Option<Secret>,
    pub prefix: Option<String>,
    pub default_ollama_mode: OllamaMode,
    pub tags: Json<Vec<String>>,
    pub access_groups: Json<Vec<String>>,
    pub sync_enabled: bool,
    pub sync_interval_seconds: Option<i64>,
    pub model_filter: Option<String>,
    pub model_filter_exclude: Option<String>,
    pub pricing_override: Option<Json<Pricing>>,
    pub created_at: String,
    pub updated_at: String,
}

impl Provider {
    /// Whether a model id passes this provider's include/exclude filters
    /// (comma-separated, case-insensitive substrings; an empty include list admits all).
    pub fn admits(&self, model_id: &str) -> bool {
        let id = model_id.to_lowercase();
        let terms = |filter: &Option<String>| -> Vec<String> {
            filter
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        };
        let include = terms(&self.model_filter);
        let exclude = terms(&self.model_filter_exclude);
        (include.is_empty() || include.iter().any(|t| id.contains(t.as_str())))
            && !exclude.iter().any(|t| id.contains(t.as_str()))
    }

    pub fn pricing(&self) -> Option<Pricing> {
        self.pricing_override.as_ref().map(|p| p.0).filter(|p| !p.is_empty())
    }
}

/// What it takes to create a provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewProvider {
    pub name: String,
    pub base_url: String,
    #[serde(rename = "type")]
    pub kind: ProviderType,
    #[serde(skip_serializing)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub default_ollama_mode: OllamaMode,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub access_groups: Vec<String>,
    #[serde(default = "enabled")]
    pub sync_enabled: bool,
    #[serde(default)]
    pub sync_interval_seconds: Option<i64>,
    #[serde(default)]
    pub model_filter: Option<String>,
    #[serde(default)]
    pub model_filter_exclude: Option<String>,
    #[serde(default)]
    pub pricing_override: Option<Pricing>,
}

fn enabled() -> bool {
    true
}

impl NewProvider {
    pub fn new(name: impl Into<String>, kind: ProviderType, base_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            base_url: base_url.into(),
            kind,
            api_key: None,
            prefix: None,
            default_ollama_mode: OllamaMode::default(),
            tags: Vec::new(),
            access_groups: Vec::new(),
            sync_enabled: true,
            sync_interval_seconds: None,
            model_filter: None,
            model_filter_exclude: None,
            pricing_override: None,
        }
    }
}

const COLUMNS: &str = "id, name, base_url, type, api_key, prefix, default_ollama_mode, tags, access_groups, \
     sync_enabled, sync_interval_seconds, model_filter, model_filter_exclude, pricing_override, created_at, updated_at";

pub async fn list(pool: &SqlitePool) -> Result<Vec<Provider>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM providers ORDER BY name");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?)
}

pub async fn get(pool: &SqlitePool, id: i64) -> Result<Option<Provider>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM providers WHERE id = ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?)
}

pub async fn get_by_name(pool: &SqlitePool, name: &str) -> Result<Option<Provider>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM providers WHERE name = ?");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(name).fetch_optional(pool).await?)
}

pub async fn insert(pool: &SqlitePool, new: &NewProvider) -> Result<Provider, DbError> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO providers (name, base_url, type, api_key, prefix, default_ollama_mode, tags, access_groups, \
         sync_enabled, sync_interval_seconds, model_filter, model_filter_exclude, pricing_override) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(new.name.trim())
    .bind(new.base_url.trim().trim_end_matches('/'))
    .bind(new.kind)
    .bind(new.api_key.as_deref().filter(|k| !k.trim().is_empty()))
    .bind(new.prefix.as_deref().map(str::trim).filter(|p| !p.is_empty()))
    .bind(new.default_ollama_mode)
    .bind(Json(&new.tags))
    .bind(Json(&new.access_groups))
    .bind(new.sync_enabled)
    .bind(new.sync_interval_seconds)
    .bind(new.model_filter.as_deref())
    .bind(new.model_filter_exclude.as_deref())
    .bind(new.pricing_override.filter(|p| !p.is_empty()).map(Json))
    .fetch_one(pool)
    .await?;
    get(pool, id).await?.ok_or_else(|| DbError::Invalid(format!("provider {id} vanished after insert")))
}

pub async fn set_sync_enabled(pool: &SqlitePool, id: i64, enabled: bool) -> Result<bool, DbError> {
    let sql = format!("UPDATE providers SET sync_enabled = ?, updated_at = {NOW} WHERE id = ?", NOW = super::NOW);
    let done = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(enabled).bind(id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_filters(
    pool: &SqlitePool,
    id: i64,
    include: Option<&str>,
    exclude: Option<&str>,
) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE providers SET model_filter = ?, model_filter_exclude = ?, updated_at = {NOW} WHERE id = ?",
        NOW = super::NOW
    );
    let done = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(include).bind(exclude).bind(id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

pub async fn delete(pool: &SqlitePool, id: i64) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM providers WHERE id = ?").bind(id).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// The compat-alias holder, created on first use.
pub async fn compat_provider(pool: &SqlitePool) -> Result<Provider, DbError> {
    if let Some(found) = get_by_name(pool, COMPAT_PROVIDER_NAME).await? {
        return Ok(found);
    }
    let mut new = NewProvider::new(COMPAT_PROVIDER_NAME, ProviderType::Compat, "compat://aliases");
    new.sync_enabled = true;
    insert(pool, &new).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(include: Option<&str>, exclude: Option<&str>) -> Provider {
        Provider {
            id: 1,
            name: "p".into(),
            base_url: "http://x".into(),
            kind: ProviderType::Ollama,
            api_key: None,
            prefix: None,
            default_ollama_mode: OllamaMode::OllamaChat,
            tags: Json(vec![]),
            access_groups: Json(vec![]),
            sync_enabled: true,
            sync_interval_seconds: None,
            model_filter: include.map(str::to_owned),
            model_filter_exclude: exclude.map(str::to_owned),
            pricing_override: None,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn filters_are_case_insensitive_comma_separated_substrings() {
        let cases = [
            (None, None, "llama3.2:3b", true),
            (Some(""), Some(" , "), "llama3.2:3b", true),
            (Some("LLAMA, qwen"), None, "llama3.2:3b", true),
            (Some("llama, qwen"), None, "Qwen3:8B", true),
            (Some("llama"), None, "mistral:7b", false),
            (None, Some("embed"), "nomic-embed-text", false),
            (Some("qwen"), Some("EMBED"), "qwen3-embedding:8b", false),
            (Some("qwen"), Some("embed"), "qwen3:8b", true),
        ];
        for (include, exclude, id, expected) in cases {
            assert_eq!(provider(include, exclude).admits(id), expected, "{include:?} {exclude:?} {id}");
        }
    }
}
