//! Pricing profiles the operator defines, and the pricing and rate-limit settings of providers
//! and models that the provider and model forms do not cover.

use crate::Database;

use crate::pricing::{self, Profile};

use super::{DbError, config, with_pool};

/// Creates or replaces the operator's profile `name` (one named like a built-in replaces it
/// for this installation).
pub async fn upsert_profile(db: &Database, profile: &Profile) -> Result<Profile, DbError> {
    const SQL: &str = "INSERT INTO pricing_profiles (name, input_cost_per_token, output_cost_per_token) \
         VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET input_cost_per_token = excluded.input_cost_per_token, \
         output_cost_per_token = excluded.output_cost_per_token, updated_at = $4";
    let name = profile.name.trim();
    if name.is_empty() || name.len() > 100 || name.chars().any(char::is_control) {
        return Err(DbError::Invalid("a pricing profile needs a name of at most 100 printable characters".into()));
    }
    for (what, value) in [("input", profile.input_cost_per_token), ("output", profile.output_cost_per_token)] {
        if !value.is_finite() || value < 0.0 {
            return Err(DbError::Invalid(format!("the {what} cost per token must be a number of at least 0")));
        }
    }
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(name)
            .bind(profile.input_cost_per_token)
            .bind(profile.output_cost_per_token)
            .bind(super::now_timestamp())
            .execute(pool)
            .await?;
    });
    Ok(Profile { name: name.to_owned(), ..profile.clone() })
}

/// Deletes the operator's profile; `false` when there is none (built-ins cannot be deleted).
pub async fn delete_profile(db: &Database, name: &str) -> Result<bool, DbError> {
    const SQL: &str = "DELETE FROM pricing_profiles WHERE name = $1";
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(name).execute(pool).await?.rows_affected()) > 0)
}

/// A profile name the operator chose, checked against the catalogue (a typo would silently
/// leave the price unset); blank clears it.
async fn known_profile(db: &Database, name: Option<&str>) -> Result<Option<String>, DbError> {
    let Some(name) = name.map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    let custom = config::pricing_profiles(db).await?;
    if pricing::catalogue(&custom).iter().any(|p| p.name == name) {
        Ok(Some(name.to_owned()))
    } else {
        Err(DbError::Invalid(format!("there is no pricing profile named {name:?}")))
    }
}

/// A provider's pricing profile, rate limits and fill-in-the-middle detection; `None` fields
/// stay as they are, `Some(None)` clears.
#[derive(Debug, Clone, Default)]
pub struct ProviderPricing {
    pub pricing_profile: Option<Option<String>>,
    pub rpm: Option<Option<i64>>,
    pub tpm: Option<Option<i64>>,
    pub auto_detect_fim: Option<bool>,
}

fn limit(what: &str, value: Option<i64>) -> Result<Option<i64>, DbError> {
    match value {
        Some(v) if v <= 0 => Err(DbError::Invalid(format!("{what} must be a positive number (or empty for no limit)"))),
        other => Ok(other),
    }
}

/// Applies `settings` to provider `id`; `false` when there is no such provider.
pub async fn set_provider_pricing(db: &Database, id: i64, settings: &ProviderPricing) -> Result<bool, DbError> {
    const CURRENT: &str = "SELECT pricing_profile, rpm, tpm, auto_detect_fim FROM providers WHERE id = $1";
    const SQL: &str = "UPDATE providers SET pricing_profile = $1, rpm = $2, tpm = $3, auto_detect_fim = $4, \
         updated_at = $5 WHERE id = $6";
    type Current = (Option<String>, Option<i64>, Option<i64>, bool);
    let current: Option<Current> = with_pool!(db, pool => sqlx::query_as(CURRENT).bind(id).fetch_optional(pool).await?);
    let Some((profile, rpm, tpm, fim)) = current else { return Ok(false) };
    let profile = match &settings.pricing_profile {
        Some(choice) => known_profile(db, choice.as_deref()).await?,
        None => profile,
    };
    let rpm = limit("rpm", settings.rpm.unwrap_or(rpm))?;
    let tpm = limit("tpm", settings.tpm.unwrap_or(tpm))?;
    let fim = settings.auto_detect_fim.unwrap_or(fim);
    with_pool!(db, pool => {
        sqlx::query(SQL)
            .bind(&profile)
            .bind(rpm)
            .bind(tpm)
            .bind(fim)
            .bind(super::now_timestamp())
            .bind(id)
            .execute(pool)
            .await?;
    });
    Ok(true)
}

/// Sets (or, with `None` or blank, clears) a model's pricing profile; `false` when there is no
/// such model.
pub async fn set_model_profile(db: &Database, id: i64, profile: Option<&str>) -> Result<bool, DbError> {
    const SQL: &str = "UPDATE models SET pricing_profile = $1, user_modified = TRUE, updated_at = $2 WHERE id = $3";
    let profile = known_profile(db, profile).await?;
    let done = with_pool!(db, pool => sqlx::query(SQL)
        .bind(&profile)
        .bind(super::now_timestamp())
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(done > 0)
}

/// One note of the migration report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AdoptionNoteRow {
    pub id: i64,
    /// `kept`, `converted` or `changed`.
    pub outcome: String,
    pub subject: String,
    pub note: String,
}

/// What adopting the Python tool's database kept, converted and changed, in order.
pub async fn adoption_notes(db: &Database) -> Result<Vec<AdoptionNoteRow>, DbError> {
    const SQL: &str = "SELECT id, outcome, subject, note FROM adoption_notes ORDER BY id";
    let rows: Vec<(i64, String, String, String)> = with_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    Ok(rows.into_iter().map(|(id, outcome, subject, note)| AdoptionNoteRow { id, outcome, subject, note }).collect())
}
