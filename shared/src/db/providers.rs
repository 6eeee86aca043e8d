//! `providers`: the upstream model servers to discover from.

use crate::Database;
use crate::db::Json;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use crate::limits;
use crate::provider::Provider;
use crate::secret::{KeyChange, Secret, key_after_url_change};
use crate::types::{OllamaMode, Pricing, ProviderType};

use super::{DbError, with_pool};

/// The provider that holds compat aliases (the Python tool's convention).
pub const COMPAT_PROVIDER_NAME: &str = "compat_models";

/// A `providers` row as stored: JSON columns as [`Json`] text, converted into a [`Provider`].
#[derive(FromRow)]
struct ProviderRow {
    id: i64,
    name: String,
    base_url: String,
    #[sqlx(rename = "type")]
    kind: ProviderType,
    api_key: Option<Secret>,
    prefix: Option<String>,
    default_ollama_mode: OllamaMode,
    tags: Json<Vec<String>>,
    access_groups: Json<Vec<String>>,
    sync_enabled: bool,
    sync_interval_seconds: Option<i64>,
    model_filter: Option<String>,
    model_filter_exclude: Option<String>,
    pricing_override: Option<Json<Pricing>>,
    pricing_profile: Option<String>,
    rpm: Option<i64>,
    tpm: Option<i64>,
    auto_detect_fim: bool,
    created_at: String,
    updated_at: String,
}

impl From<ProviderRow> for Provider {
    fn from(row: ProviderRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            base_url: row.base_url,
            kind: row.kind,
            api_key: row.api_key,
            prefix: row.prefix,
            default_ollama_mode: row.default_ollama_mode,
            tags: row.tags.0,
            access_groups: row.access_groups.0,
            sync_enabled: row.sync_enabled,
            sync_interval_seconds: row.sync_interval_seconds,
            model_filter: row.model_filter,
            model_filter_exclude: row.model_filter_exclude,
            pricing_override: row.pricing_override.map(|j| j.0),
            pricing_profile: row.pricing_profile,
            rpm: row.rpm,
            tpm: row.tpm,
            auto_detect_fim: row.auto_detect_fim,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
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

/// Checks a provider's user-given values (the API and the forms both come through here).
pub fn validate(name: &str, base_url: &str, sync_interval_seconds: Option<i64>) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("name must not be empty".into());
    }
    limits::name("name", name.trim())?;
    if name.trim() == COMPAT_PROVIDER_NAME {
        return Err(format!("{COMPAT_PROVIDER_NAME} is reserved for compat aliases"));
    }
    validate_base_url(base_url)?;
    validate_interval(sync_interval_seconds)
}

fn validate_interval(sync_interval_seconds: Option<i64>) -> Result<(), String> {
    if let Some(seconds) = sync_interval_seconds
        && !(seconds == 0 || seconds >= 30)
    {
        return Err(format!(
            "sync_interval_seconds must be empty, 0 (use the global interval) or at least 30, got {seconds}"
        ));
    }
    Ok(())
}

/// The size limits on the rest of a provider's values.
pub fn validate_extras(
    prefix: Option<&str>,
    tags: &[String],
    access_groups: &[String],
    model_filter: Option<&str>,
    model_filter_exclude: Option<&str>,
) -> Result<(), String> {
    limits::name("prefix", prefix.unwrap_or(""))?;
    limits::list("tags", tags)?;
    limits::list("access_groups", access_groups)?;
    limits::filter("model_filter", model_filter.unwrap_or(""))?;
    limits::filter("model_filter_exclude", model_filter_exclude.unwrap_or(""))
}

pub fn validate_base_url(base_url: &str) -> Result<(), String> {
    limits::url("base_url", base_url.trim())?;
    let parsed = url::Url::parse(base_url.trim()).map_err(|e| format!("base_url {base_url:?} is not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("base_url {base_url:?} must be an http:// or https:// URL with a host"));
    }
    Ok(())
}

impl NewProvider {
    pub fn validate(&self) -> Result<(), String> {
        if self.kind == ProviderType::Compat {
            return Err("providers of type compat hold aliases; add aliases under /compat instead".into());
        }
        validate(&self.name, &self.base_url, self.sync_interval_seconds)?;
        validate_extras(
            self.prefix.as_deref(),
            &self.tags,
            &self.access_groups,
            self.model_filter.as_deref(),
            self.model_filter_exclude.as_deref(),
        )
    }
}

/// A partial update of a provider: `None` leaves a field as it is. For `api_key`, an empty
/// string also means "keep" (forms show secrets write-only); `Some(None)` removes the key.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProviderChanges {
    pub name: Option<String>,
    pub base_url: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<ProviderType>,
    pub api_key: Option<Option<String>>,
    pub prefix: Option<Option<String>>,
    pub default_ollama_mode: Option<OllamaMode>,
    pub tags: Option<Vec<String>>,
    pub access_groups: Option<Vec<String>>,
    pub sync_enabled: Option<bool>,
    pub sync_interval_seconds: Option<Option<i64>>,
    pub model_filter: Option<Option<String>>,
    pub model_filter_exclude: Option<Option<String>>,
    pub pricing_override: Option<Option<Pricing>>,
}

/// Applies `changes` after validating the result; `Ok(None)` when there is no such provider.
/// A changed `base_url` needs its key again ([`key_after_url_change`]).
pub async fn update(db: &Database, id: i64, changes: &ProviderChanges) -> Result<Option<Provider>, DbError> {
    let Some(current) = get(db, id).await? else { return Ok(None) };
    let name = changes.name.as_deref().unwrap_or(&current.name).trim().to_owned();
    let base_url = changes.base_url.as_deref().unwrap_or(&current.base_url).trim().trim_end_matches('/').to_owned();
    let kind = changes.kind.unwrap_or(current.kind);
    let interval = changes.sync_interval_seconds.unwrap_or(current.sync_interval_seconds).filter(|s| *s != 0);
    let blank_to_none = |v: Option<String>| v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let prefix = blank_to_none(changes.prefix.clone().unwrap_or(current.prefix));
    let tags = changes.tags.clone().unwrap_or(current.tags);
    let access_groups = changes.access_groups.clone().unwrap_or(current.access_groups);
    let model_filter = blank_to_none(changes.model_filter.clone().unwrap_or(current.model_filter));
    let model_filter_exclude =
        blank_to_none(changes.model_filter_exclude.clone().unwrap_or(current.model_filter_exclude));
    if current.kind == ProviderType::Compat {
        // The alias holder has no upstream: its name, type and URL are fixed, the rest is checked
        // as for any provider.
        if changes.kind.is_some_and(|k| k != ProviderType::Compat)
            || changes.name.as_deref().is_some_and(|n| n.trim() != current.name)
        {
            return Err(DbError::Invalid(format!("{COMPAT_PROVIDER_NAME} holds compat aliases and cannot be renamed")));
        }
        if base_url != current.base_url {
            return Err(DbError::Invalid(format!(
                "{COMPAT_PROVIDER_NAME} has no upstream: its base_url cannot change"
            )));
        }
        validate_interval(interval).map_err(DbError::Invalid)?;
    } else {
        if kind == ProviderType::Compat {
            return Err(DbError::Invalid("a provider cannot become a compat-alias holder".into()));
        }
        validate(&name, &base_url, interval).map_err(DbError::Invalid)?;
    }
    validate_extras(prefix.as_deref(), &tags, &access_groups, model_filter.as_deref(), model_filter_exclude.as_deref())
        .map_err(DbError::Invalid)?;
    let api_key = key_after_url_change(
        Some(&current.base_url),
        Some(&base_url),
        current.api_key.as_ref(),
        KeyChange::from_patch(changes.api_key.clone()),
        "provider's base",
    )
    .map_err(DbError::Invalid)?;
    const SQL: &str = "UPDATE providers SET name = $1, base_url = $2, type = $3, api_key = $4, prefix = $5, \
         default_ollama_mode = $6, tags = $7, access_groups = $8, sync_enabled = $9, sync_interval_seconds = $10, \
         model_filter = $11, model_filter_exclude = $12, pricing_override = $13, updated_at = $14 WHERE id = $15";
    let default_ollama_mode = changes.default_ollama_mode.unwrap_or(current.default_ollama_mode);
    let sync_enabled = changes.sync_enabled.unwrap_or(current.sync_enabled);
    let pricing_override =
        changes.pricing_override.unwrap_or(current.pricing_override).filter(|p| !p.is_empty()).map(Json);
    let (tags, access_groups) = (Json(tags), Json(access_groups));
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(&name)
            .bind(&base_url)
            .bind(kind)
            .bind(api_key.as_ref().map(Secret::expose))
            .bind(&prefix)
            .bind(default_ollama_mode)
            .bind(&tags)
            .bind(&access_groups)
            .bind(sync_enabled)
            .bind(interval)
            .bind(&model_filter)
            .bind(&model_filter_exclude)
            .bind(pricing_override)
            .bind(super::now_timestamp())
            .bind(id)
            .execute(pool)
            .await?;
    });
    super::exclusions::refresh_for_provider(db, id).await?;
    get(db, id).await
}

/// The columns a [`Provider`] is read from, as a literal for `concat!` (SQL stays `const`).
macro_rules! columns {
    () => {
        "id, name, base_url, type, api_key, prefix, default_ollama_mode, tags, access_groups, sync_enabled, \
         sync_interval_seconds, model_filter, model_filter_exclude, pricing_override, pricing_profile, rpm, tpm, \
         auto_detect_fim, created_at, updated_at"
    };
}

pub async fn list(db: &Database) -> Result<Vec<Provider>, DbError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM providers ORDER BY name");
    let rows: Vec<ProviderRow> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows.into_iter().map(Provider::from).collect())
}

pub async fn get(db: &Database, id: i64) -> Result<Option<Provider>, DbError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM providers WHERE id = $1");
    let row: Option<ProviderRow> = with_pool!(db, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await?);
    Ok(row.map(Provider::from))
}

pub async fn get_by_name(db: &Database, name: &str) -> Result<Option<Provider>, DbError> {
    const SQL: &str = concat!("SELECT ", columns!(), " FROM providers WHERE name = $1");
    let row: Option<ProviderRow> = with_pool!(db, pool => sqlx::query_as(SQL).bind(name).fetch_optional(pool).await?);
    Ok(row.map(Provider::from))
}

pub async fn insert(db: &Database, new: &NewProvider) -> Result<Provider, DbError> {
    const SQL: &str = "INSERT INTO providers (name, base_url, type, api_key, prefix, default_ollama_mode, tags, \
         access_groups, sync_enabled, sync_interval_seconds, model_filter, model_filter_exclude, pricing_override) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id";
    let pricing_override = new.pricing_override.filter(|p| !p.is_empty()).map(Json);
    let id: i64 = with_pool!(db, pool => sqlx::query_scalar(SQL)
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
        .bind(pricing_override)
        .fetch_one(pool)
        .await?);
    get(db, id).await?.ok_or_else(|| DbError::Invalid(format!("provider {id} vanished after insert")))
}

pub async fn set_sync_enabled(db: &Database, id: i64, enabled: bool) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE providers SET sync_enabled = $1, updated_at = $2 WHERE id = $3";
    let done = with_pool!(db, pool => sqlx::query(SQL)
        .bind(enabled)
        .bind(super::now_timestamp())
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    super::exclusions::refresh_for_provider(db, id).await?;
    Ok(done == 1)
}

pub async fn set_filters(
    db: &Database,
    id: i64,
    include: Option<&str>,
    exclude: Option<&str>,
) -> Result<bool, DbError> {
    const SQL: &str =
        "UPDATE providers SET model_filter = $1, model_filter_exclude = $2, updated_at = $3 WHERE id = $4";
    let done = with_pool!(db, pool => sqlx::query(SQL)
        .bind(include)
        .bind(exclude)
        .bind(super::now_timestamp())
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    super::exclusions::refresh_for_provider(db, id).await?;
    Ok(done == 1)
}

pub async fn delete(db: &Database, id: i64) -> Result<bool, DbError> {
    const SQL: &str = "DELETE FROM providers WHERE id = $1";
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(id).execute(pool).await?.rows_affected()) == 1)
}

/// The compat-alias holder, created on first use.
pub async fn compat_provider(db: &Database) -> Result<Provider, DbError> {
    if let Some(found) = get_by_name(db, COMPAT_PROVIDER_NAME).await? {
        return Ok(found);
    }
    let mut new = NewProvider::new(COMPAT_PROVIDER_NAME, ProviderType::Compat, "compat://aliases");
    new.sync_enabled = true;
    match insert(db, &new).await {
        // Another frontend created it between the read and the insert (two first aliases at once).
        Err(DbError::Conflict(conflict)) => {
            get_by_name(db, COMPAT_PROVIDER_NAME).await?.ok_or(DbError::Conflict(conflict))
        }
        other => other,
    }
}
