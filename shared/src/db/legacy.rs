//! Adopting a database created by the Python litellm-updater (SQLAlchemy `create_all`, no
//! migration table; SPEC §3). The file is upgraded in place and nothing is lost:
//!
//! 1. a copy of the untouched file is written beside it (`VACUUM INTO`), for rollback;
//! 2. the Python tables are renamed `legacy_*` (kept, never dropped);
//! 3. the embedded migrations create the current schema;
//! 4. every provider, model, override, alias and the config row are copied across in one
//!    transaction, keeping ids; duplicate model rows are merged, the operator's values first.
//!
//! Step 4 is recorded in `legacy_adoption`, so an interrupted adoption resumes at the next start.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use crate::db::Json;
use serde_json::{Map, Value};
use sqlx::{Row, SqliteConnection, SqlitePool};

use crate::tags;
use crate::types::{OllamaMode, Pricing, ProviderType};

use super::{Database, DbError};

const PYTHON_TABLES: &[&str] = &["providers", "models", "config"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptionReport {
    pub backup_path: Option<PathBuf>,
    pub providers: usize,
    pub models: usize,
    pub duplicates_merged: usize,
    /// What was kept, converted or changed beyond a plain copy, and why (also in `adoption_notes`).
    pub notes: Vec<AdoptionNote>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdoptionNote {
    /// `kept`, `converted` or `changed`.
    pub outcome: &'static str,
    /// What the note is about (`provider groq`, `settings`).
    pub subject: String,
    pub note: String,
}

impl AdoptionNote {
    fn new(outcome: &'static str, subject: impl Into<String>, note: impl Into<String>) -> Self {
        Self { outcome, subject: subject.into(), note: note.into() }
    }
}

async fn table_exists(conn: &mut SqliteConnection, name: &str) -> Result<bool, DbError> {
    Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?)")
        .bind(name)
        .fetch_one(conn)
        .await?)
}

async fn columns(conn: &mut SqliteConnection, table: &str) -> Result<HashSet<String>, DbError> {
    let rows = sqlx::query("SELECT name FROM pragma_table_info(?)").bind(table).fetch_all(conn).await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect())
}

/// Steps 1–2: only for a Python-created file (Python tables, no migration table).
pub(super) async fn set_aside_python_tables(db: &Database) -> Result<(), DbError> {
    let mut conn = db.sqlite_pool("adopting a Python database")?.acquire().await?;
    if table_exists(&mut conn, "_sqlx_migrations").await? || !table_exists(&mut conn, "providers").await? {
        return Ok(());
    }
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let backup = PathBuf::from(format!("{}.python-backup-{stamp}", db.describe()));
    sqlx::query("VACUUM INTO ?")
        .bind(backup.to_string_lossy().into_owned())
        .execute(&mut *conn)
        .await
        .map_err(|e| DbError::Legacy(format!("cannot write the backup copy {}: {e}", backup.display())))?;
    tracing::info!(backup = %backup.display(), "adopting a Python litellm-updater database; backup written");

    let mut tx = sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await?;
    for table in PYTHON_TABLES {
        if table_exists(&mut tx, table).await? {
            let sql = format!("ALTER TABLE \"{table}\" RENAME TO \"legacy_{table}\"");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
        }
    }
    if table_exists(&mut tx, "providers_new").await? {
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM providers_new").fetch_one(&mut *tx).await?;
        let sql = if rows == 0 {
            "DROP TABLE providers_new"
        } else {
            "ALTER TABLE providers_new RENAME TO legacy_providers_new"
        };
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    sqlx::query("CREATE TABLE IF NOT EXISTS legacy_pending_backup (path TEXT NOT NULL)").execute(&mut *tx).await?;
    sqlx::query("INSERT INTO legacy_pending_backup (path) VALUES (?)")
        .bind(backup.to_string_lossy().into_owned())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Step 4, once.
pub(super) async fn adopt_python_rows(pool: &SqlitePool) -> Result<Option<AdoptionReport>, DbError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    if !table_exists(&mut tx, "legacy_providers").await? {
        return Ok(None);
    }
    let done: Option<String> = sqlx::query_scalar("SELECT adopted_at FROM legacy_adoption WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?
        .flatten();
    if done.is_some() {
        return Ok(None);
    }
    let backup_path: Option<String> = if table_exists(&mut tx, "legacy_pending_backup").await? {
        sqlx::query_scalar("SELECT path FROM legacy_pending_backup LIMIT 1").fetch_optional(&mut *tx).await?
    } else {
        None
    };

    let mut report = AdoptionReport { backup_path: backup_path.clone().map(PathBuf::from), ..Default::default() };
    report.providers = copy_providers(&mut tx, &mut report.notes).await?;
    copy_config(&mut tx, &mut report.notes).await?;
    let (models, merged) = copy_models(&mut tx).await?;
    report.models = models;
    report.duplicates_merged = merged;
    copy_routing_groups(&mut tx, &mut report.notes).await?;
    let profiled: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM models WHERE pricing_profile IS NOT NULL").fetch_one(&mut *tx).await?;
    if profiled > 0 {
        report.notes.push(AdoptionNote::new(
            "kept",
            "models",
            format!("{profiled} models keep their pricing profile, so their prices in LiteLLM stay the same"),
        ));
    }
    store_notes(&mut tx, &report.notes).await?;

    sqlx::query(
        "INSERT INTO legacy_adoption (id, adopted_at, backup_path, providers, models, duplicates_merged, caught_up_at) \
         VALUES (1, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    )
    .bind(backup_path)
    .bind(report.providers as i64)
    .bind(report.models as i64)
    .bind(report.duplicates_merged as i64)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DROP TABLE IF EXISTS legacy_pending_backup").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(Some(report))
}

async fn store_notes(conn: &mut SqliteConnection, notes: &[AdoptionNote]) -> Result<(), DbError> {
    for note in notes {
        sqlx::query("INSERT INTO adoption_notes (outcome, subject, note) VALUES (?, ?, ?)")
            .bind(note.outcome)
            .bind(&note.subject)
            .bind(&note.note)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// For a database adopted by an earlier litellm-updater, which copied providers, models and
/// settings but not the Python tool's newer fields: converts those now, once, from the
/// `legacy_*` tables and the leftover routing tables. Only values still at their defaults are
/// filled in, so nothing the operator set since is overwritten. Returns the notes (also stored).
pub(super) async fn catch_up_earlier_adoption(pool: &SqlitePool) -> Result<Vec<AdoptionNote>, DbError> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let pending: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM legacy_adoption WHERE id = 1 AND adopted_at IS NOT NULL AND caught_up_at IS NULL",
    )
    .fetch_optional(&mut *tx)
    .await?;
    if pending.is_none() {
        return Ok(Vec::new());
    }
    let mut notes = vec![AdoptionNote::new(
        "converted",
        "settings",
        "this database was adopted by an earlier litellm-updater: the Python tool's pricing profiles, rate \
         limits, fill-in-the-middle setting, compat aliases and routing groups are converted now",
    )];
    for row in read_rows(&mut tx, "legacy_providers", PROVIDER_COLUMNS).await? {
        let get = |c: &str| row.get(c).map(String::as_str);
        let Some(id) = integer(get("id")) else { continue };
        let Ok(kind) = get("type").unwrap_or_default().parse::<ProviderType>() else { continue };
        let parity = provider_parity(&row, kind, &mut notes);
        sqlx::query(
            "UPDATE providers SET pricing_profile = COALESCE(pricing_profile, ?), rpm = COALESCE(rpm, ?), \
               auto_detect_fim = (auto_detect_fim AND ?), sync_enabled = (sync_enabled OR ?), \
               pricing_override = COALESCE(pricing_override, ?) WHERE id = ?",
        )
        .bind(parity.profile)
        .bind(parity.rpm)
        .bind(parity.auto_detect_fim)
        .bind(parity.compat_enabled)
        .bind(pricing(get("pricing_override")).map(Json))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    }
    let config = read_rows(&mut tx, "legacy_config", &["id", "default_pricing_profile"]).await?;
    if let Some(profile) =
        config.first().and_then(|row| non_blank(row.get("default_pricing_profile").map(String::as_str)))
    {
        sqlx::query("UPDATE config SET default_pricing_profile = COALESCE(default_pricing_profile, ?) WHERE id = 1")
            .bind(&profile)
            .execute(&mut *tx)
            .await?;
        notes.push(AdoptionNote::new("kept", "settings", format!("global pricing profile {profile}")));
    }
    let mut profiled = 0;
    for row in
        read_rows(&mut tx, "legacy_models", &["id", "provider_id", "model_id", "pricing_profile", "pricing_override"])
            .await?
    {
        let get = |c: &str| row.get(c).map(String::as_str);
        let (profile, override_) = (non_blank(get("pricing_profile")), pricing(get("pricing_override")));
        if profile.is_none() && override_.is_none() {
            continue;
        }
        let updated = sqlx::query(
            "UPDATE models SET pricing_profile = COALESCE(pricing_profile, ?), \
               pricing_override = COALESCE(pricing_override, ?) WHERE provider_id = ? AND model_id = ?",
        )
        .bind(profile)
        .bind(override_.map(Json))
        .bind(integer(get("provider_id")))
        .bind(get("model_id"))
        .execute(&mut *tx)
        .await?;
        profiled += updated.rows_affected();
    }
    if profiled > 0 {
        notes.push(AdoptionNote::new(
            "kept",
            "models",
            format!(
                "{profiled} models keep their pricing profile or override, so their prices in LiteLLM stay the same"
            ),
        ));
    }
    let groups: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM route_groups").fetch_one(&mut *tx).await?;
    if groups == 0 {
        copy_routing_groups(&mut tx, &mut notes).await?;
    }
    store_notes(&mut tx, &notes).await?;
    sqlx::query("UPDATE legacy_adoption SET caught_up_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    for note in &notes {
        tracing::info!(outcome = note.outcome, subject = %note.subject, "{}", note.note);
    }
    Ok(notes)
}

/// All wanted columns of a legacy table as text (`NULL` where the column does not exist in this
/// version of the Python schema), one map per row, in id order.
async fn read_rows(
    conn: &mut SqliteConnection,
    table: &str,
    wanted: &[&str],
) -> Result<Vec<BTreeMap<String, String>>, DbError> {
    if !table_exists(conn, table).await? {
        return Ok(Vec::new());
    }
    let present = columns(conn, table).await?;
    let select = wanted
        .iter()
        .map(|c| if present.contains(*c) { format!("CAST(\"{c}\" AS TEXT)") } else { "NULL".to_owned() })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("SELECT {select} FROM \"{table}\" ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut map = BTreeMap::new();
        for (i, column) in wanted.iter().enumerate() {
            if let Some(value) = row.try_get::<Option<String>, _>(i)? {
                map.insert((*column).to_owned(), value);
            }
        }
        out.push(map);
    }
    Ok(out)
}

const PROVIDER_COLUMNS: &[&str] = &[
    "id",
    "name",
    "base_url",
    "type",
    "api_key",
    "prefix",
    "default_ollama_mode",
    "tags",
    "access_groups",
    "sync_enabled",
    "sync_interval_seconds",
    "model_filter",
    "model_filter_exclude",
    "pricing_override",
    "pricing_profile",
    "max_requests_per_hour",
    "auto_detect_fim",
    "created_at",
    "updated_at",
];

/// The Python tool's newer provider fields, as they are served here.
struct ProviderParity {
    sync_enabled: bool,
    /// The compat provider was marked sync-disabled, yet its aliases were served.
    compat_enabled: bool,
    rpm: Option<i64>,
    profile: Option<String>,
    auto_detect_fim: bool,
}

/// Converts one Python provider row's newer fields, noting each conversion.
fn provider_parity(
    row: &BTreeMap<String, String>,
    kind: ProviderType,
    notes: &mut Vec<AdoptionNote>,
) -> ProviderParity {
    let get = |c: &str| row.get(c).map(String::as_str);
    let subject = format!("provider {}", get("name").unwrap_or_default().trim());
    let mut sync_enabled = boolean(get("sync_enabled")).unwrap_or(true);
    let compat_enabled = kind == ProviderType::Compat && !sync_enabled;
    if compat_enabled {
        // The Python tool's "push all" served compat aliases whatever this flag said.
        sync_enabled = true;
        notes.push(AdoptionNote::new(
            "changed",
            &subject,
            "its compat aliases were served by the Python tool although the provider was marked \
             sync-disabled; it is enabled so they stay in LiteLLM (disable it to remove them)",
        ));
    }
    let per_hour = integer(get("max_requests_per_hour")).filter(|n| *n > 0);
    let rpm = per_hour.map(|n| (n + 59) / 60);
    if let (Some(per_hour), Some(rpm)) = (per_hour, rpm) {
        notes.push(AdoptionNote::new(
            "converted",
            &subject,
            format!("max_requests_per_hour {per_hour} became rpm {rpm} (LiteLLM limits per minute; rounded up)"),
        ));
    }
    let profile = non_blank(get("pricing_profile"));
    if let Some(profile) = &profile {
        notes.push(AdoptionNote::new("kept", &subject, format!("pricing profile {profile}")));
    }
    let auto_detect_fim = boolean(get("auto_detect_fim")).unwrap_or(true);
    if !auto_detect_fim {
        notes.push(AdoptionNote::new(
            "kept",
            &subject,
            "fill-in-the-middle detection stays off: its models are pushed with supports_fill_in_middle false",
        ));
    }
    ProviderParity { sync_enabled, compat_enabled, rpm, profile, auto_detect_fim }
}

async fn copy_providers(conn: &mut SqliteConnection, notes: &mut Vec<AdoptionNote>) -> Result<usize, DbError> {
    let rows = read_rows(conn, "legacy_providers", PROVIDER_COLUMNS).await?;
    for row in &rows {
        let get = |c: &str| row.get(c).map(String::as_str);
        let name = get("name").unwrap_or_default().trim().to_owned();
        let kind: ProviderType =
            get("type").unwrap_or_default().parse().map_err(|e| DbError::Legacy(format!("provider {name:?}: {e}")))?;
        let ProviderParity { sync_enabled, rpm, profile, auto_detect_fim, .. } = provider_parity(row, kind, notes);
        sqlx::query(
            "INSERT INTO providers (id, name, base_url, type, api_key, prefix, default_ollama_mode, tags, access_groups, \
               sync_enabled, sync_interval_seconds, model_filter, model_filter_exclude, pricing_override, pricing_profile, \
               rpm, auto_detect_fim, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(integer(get("id")))
        .bind(&name)
        .bind(get("base_url").unwrap_or_default().trim().trim_end_matches('/'))
        .bind(kind)
        .bind(non_blank(get("api_key")))
        .bind(non_blank(get("prefix")))
        .bind(get("default_ollama_mode").and_then(|m| m.parse::<OllamaMode>().ok()).unwrap_or_default())
        .bind(Json(string_list(get("tags"))))
        .bind(Json(string_list(get("access_groups"))))
        .bind(sync_enabled)
        .bind(integer(get("sync_interval_seconds")).filter(|s| *s > 0).map(|s| s.max(30)))
        .bind(non_blank(get("model_filter")))
        .bind(non_blank(get("model_filter_exclude")))
        .bind(pricing(get("pricing_override")).map(Json))
        .bind(profile)
        .bind(rpm)
        .bind(auto_detect_fim)
        .bind(timestamp(get("created_at")))
        .bind(timestamp(get("updated_at")))
        .execute(&mut *conn)
        .await?;
    }
    Ok(rows.len())
}

async fn copy_config(conn: &mut SqliteConnection, notes: &mut Vec<AdoptionNote>) -> Result<(), DbError> {
    let wanted = [
        "id",
        "litellm_base_url",
        "litellm_api_key",
        "sync_interval_seconds",
        "default_pricing_override",
        "default_pricing_profile",
    ];
    let rows = read_rows(conn, "legacy_config", &wanted).await?;
    let Some(row) = rows.first() else { return Ok(()) };
    let get = |c: &str| row.get(c).map(String::as_str);
    let interval = integer(get("sync_interval_seconds")).map(|s| if s <= 0 { 0 } else { s.max(30) }).unwrap_or(300);
    sqlx::query(
        "UPDATE config SET litellm_base_url = ?, litellm_api_key = ?, sync_interval_seconds = ?, default_pricing = ?, \
           default_pricing_profile = ?, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 1",
    )
    .bind(non_blank(get("litellm_base_url")).map(|u| u.trim_end_matches('/').to_owned()))
    .bind(non_blank(get("litellm_api_key")))
    .bind(interval)
    .bind(pricing(get("default_pricing_override")).map(Json))
    .bind(non_blank(get("default_pricing_profile")))
    .execute(&mut *conn)
    .await?;
    if let Some(profile) = non_blank(get("default_pricing_profile")) {
        notes.push(AdoptionNote::new("kept", "settings", format!("global pricing profile {profile}")));
    }
    Ok(())
}

const MODEL_COLUMNS: &[&str] = &[
    "id",
    "provider_id",
    "model_id",
    "model_type",
    "context_window",
    "max_input_tokens",
    "max_output_tokens",
    "max_tokens",
    "capabilities",
    "litellm_params",
    "raw_metadata",
    "user_params",
    "system_tags",
    "user_tags",
    "access_groups",
    "ollama_mode",
    "mapped_provider_id",
    "mapped_model_id",
    "first_seen",
    "last_seen",
    "is_orphaned",
    "orphaned_at",
    "user_modified",
    "sync_enabled",
    "pricing_override",
    "pricing_profile",
    "created_at",
    "updated_at",
];

/// Fields the operator owns: for a merged duplicate the first non-empty value wins, taking the
/// rows in order of preference.
const USER_OWNED: &[&str] = &[
    "user_params",
    "user_tags",
    "access_groups",
    "pricing_override",
    "pricing_profile",
    "ollama_mode",
    "mapped_provider_id",
    "mapped_model_id",
];

/// Copies the models. SQLAlchemy left SQLite's foreign keys off, so a Python file can hold
/// rows whose provider is gone: a model of a deleted provider cannot exist in the new schema and
/// stays only in `legacy_models`; an alias pointing at a deleted provider is kept, unmapped.
async fn copy_models(conn: &mut SqliteConnection) -> Result<(usize, usize), DbError> {
    let providers: HashSet<i64> =
        sqlx::query_scalar("SELECT id FROM providers").fetch_all(&mut *conn).await?.into_iter().collect();
    let rows = read_rows(conn, "legacy_models", MODEL_COLUMNS).await?;
    let mut groups: BTreeMap<(i64, String), Vec<BTreeMap<String, String>>> = BTreeMap::new();
    for mut row in rows {
        let (Some(provider_id), Some(model_id)) =
            (integer(row.get("provider_id").map(String::as_str)), row.get("model_id").cloned())
        else {
            continue;
        };
        if !providers.contains(&provider_id) {
            tracing::warn!(provider_id, %model_id, "a Python model row of a deleted provider is left in legacy_models");
            continue;
        }
        if integer(row.get("mapped_provider_id").map(String::as_str)).is_some_and(|id| !providers.contains(&id)) {
            row.remove("mapped_provider_id");
        }
        groups.entry((provider_id, model_id)).or_default().push(row);
    }
    let mut merged = 0;
    for ((provider_id, model_id), mut copies) in groups {
        merged += copies.len() - 1;
        // Preference: edited by the operator, then most recently updated, then newest row.
        copies.sort_by_key(|r| {
            let get = |c: &str| r.get(c).cloned().unwrap_or_default();
            (
                std::cmp::Reverse(boolean(r.get("user_modified").map(String::as_str)).unwrap_or(false)),
                std::cmp::Reverse(timestamp(Some(&get("updated_at")))),
                std::cmp::Reverse(integer(r.get("id").map(String::as_str))),
            )
        });
        let mut row = copies[0].clone();
        for field in USER_OWNED {
            if let Some(value) = copies.iter().find_map(|c| c.get(*field).filter(|v| !is_empty_json(v))) {
                row.insert((*field).to_owned(), value.clone());
            }
        }
        let earliest = copies.iter().filter_map(|c| c.get("first_seen")).map(|v| timestamp(Some(v))).min();
        let latest = copies.iter().filter_map(|c| c.get("last_seen")).map(|v| timestamp(Some(v))).max();
        let user_modified = copies.iter().any(|c| boolean(c.get("user_modified").map(String::as_str)) == Some(true));
        insert_model(conn, provider_id, &model_id, &row, earliest, latest, user_modified).await?;
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM models").fetch_one(&mut *conn).await?;
    Ok((count as usize, merged))
}

async fn insert_model(
    conn: &mut SqliteConnection,
    provider_id: i64,
    model_id: &str,
    row: &BTreeMap<String, String>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    user_modified: bool,
) -> Result<(), DbError> {
    let get = |c: &str| row.get(c).map(String::as_str);
    let system_tags = string_list(get("system_tags"));
    let raw =
        get("raw_metadata").and_then(|v| serde_json::from_str::<Value>(v).ok()).unwrap_or(Value::Object(Map::new()));
    sqlx::query(
        "INSERT INTO models (id, provider_id, model_id, model_type, context_window, max_input_tokens, max_output_tokens, \
           max_tokens, capabilities, derived_info, raw_metadata, upstream_pricing, system_tags, user_params, user_tags, access_groups, \
           pricing_override, pricing_profile, ollama_mode, sync_enabled, user_modified, mapped_provider_id, mapped_model_id, \
           first_seen, last_seen, is_orphaned, orphaned_at, created_at, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(integer(get("id")))
    .bind(provider_id)
    .bind(model_id)
    .bind(non_blank(get("model_type")))
    .bind(integer(get("context_window")))
    .bind(integer(get("max_input_tokens")))
    .bind(integer(get("max_output_tokens")))
    .bind(integer(get("max_tokens")))
    .bind(Json(string_list(get("capabilities"))))
    .bind(Json(object(get("litellm_params")).unwrap_or_default()))
    .bind(Json(&raw))
    .bind(crate::metadata::upstream_pricing(&raw).map(Json))
    .bind(Json(tags::normalize_all(system_tags)))
    .bind(object(get("user_params")).map(Json))
    .bind(list_or_none(get("user_tags")).map(Json))
    .bind(list_or_none(get("access_groups")).map(Json))
    .bind(pricing(get("pricing_override")).map(Json))
    .bind(non_blank(get("pricing_profile")))
    .bind(get("ollama_mode").and_then(|m| m.parse::<OllamaMode>().ok()))
    .bind(boolean(get("sync_enabled")).unwrap_or(true))
    .bind(user_modified)
    .bind(integer(get("mapped_provider_id")))
    .bind(non_blank(get("mapped_model_id")))
    .bind(first_seen.unwrap_or_else(|| timestamp(None)))
    .bind(last_seen.unwrap_or_else(|| timestamp(None)))
    .bind(boolean(get("is_orphaned")).unwrap_or(false))
    .bind(get("orphaned_at").map(|t| timestamp(Some(t))))
    .bind(timestamp(get("created_at")))
    .bind(timestamp(get("updated_at")))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The Python tool's `routing_groups`/`routing_targets` (kept as they are) converted into
/// `route_groups`/`route_targets`: ids, names, capabilities, weights and enabled flags as they
/// were; priorities (0 first in the Python tool) become LiteLLM orders from 1, keeping their
/// sequence. A target whose provider is gone cannot be served and is left out, with a note.
async fn copy_routing_groups(conn: &mut SqliteConnection, notes: &mut Vec<AdoptionNote>) -> Result<(), DbError> {
    let groups = read_rows(conn, "routing_groups", &["id", "name", "description", "capabilities"]).await?;
    if groups.is_empty() {
        return Ok(());
    }
    let wanted = ["id", "group_id", "provider_id", "model_id", "weight", "priority", "enabled"];
    let targets = read_rows(conn, "routing_targets", &wanted).await?;
    for group in &groups {
        let get = |c: &str| group.get(c).map(String::as_str);
        let (Some(id), Some(name)) = (integer(get("id")), non_blank(get("name"))) else { continue };
        let capabilities = string_list(get("capabilities"));
        sqlx::query(
            "INSERT INTO route_groups (id, name, description, capabilities, auto_context_fallback) VALUES (?, ?, ?, ?, 0)",
        )
        .bind(id)
        .bind(&name)
        .bind(non_blank(get("description")))
        .bind(Json(&capabilities))
        .execute(&mut *conn)
        .await?;
        let subject = format!("routing group {name}");
        let mine: Vec<&BTreeMap<String, String>> =
            targets.iter().filter(|t| integer(t.get("group_id").map(String::as_str)) == Some(id)).collect();
        let priority_of = |t: &BTreeMap<String, String>| integer(t.get("priority").map(String::as_str)).unwrap_or(0);
        let lowest = mine.iter().map(|t| priority_of(t)).min().unwrap_or(0);
        let mut kept = 0;
        let mut orders = Vec::new();
        for target in &mine {
            let get = |c: &str| target.get(c).map(String::as_str);
            let (Some(provider_id), Some(model_id)) = (integer(get("provider_id")), non_blank(get("model_id"))) else {
                continue;
            };
            let provider: Option<String> = sqlx::query_scalar("SELECT name FROM providers WHERE id = ?")
                .bind(provider_id)
                .fetch_optional(&mut *conn)
                .await?;
            let Some(provider) = provider else {
                notes.push(AdoptionNote::new(
                    "changed",
                    &subject,
                    format!("target {model_id} was left out: its provider (id {provider_id}) no longer exists"),
                ));
                continue;
            };
            let weight = integer(get("weight")).unwrap_or(1).clamp(1, crate::routing::MAX_WEIGHT);
            let order = (priority_of(target) - lowest + 1).clamp(1, crate::routing::MAX_PRIORITY);
            let enabled = boolean(get("enabled")).unwrap_or(true);
            sqlx::query(
                "INSERT OR IGNORE INTO route_targets (id, group_id, provider_id, model_id, weight, priority, enabled) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(integer(get("id")))
            .bind(id)
            .bind(provider_id)
            .bind(&model_id)
            .bind(weight)
            .bind(order)
            .bind(enabled)
            .execute(&mut *conn)
            .await?;
            kept += 1;
            orders.push(format!("{provider}/{model_id} priority {} became order {order}", priority_of(target)));
            if !enabled {
                notes.push(AdoptionNote::new(
                    "changed",
                    &subject,
                    format!(
                        "target {provider}/{model_id} is disabled: the Python tool still pushed it to LiteLLM; \
                         the first push removes its entry, as the operator asked"
                    ),
                ));
            }
        }
        notes.push(AdoptionNote::new(
            "converted",
            &subject,
            format!(
                "{kept} targets kept with their weights and enabled flags ({}); served as LiteLLM deployments \
                 named {name}",
                orders.join("; ")
            ),
        ));
    }
    Ok(())
}

fn non_blank(value: Option<&str>) -> Option<String> {
    value.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn integer(value: Option<&str>) -> Option<i64> {
    let value = value?.trim();
    value.parse::<i64>().ok().or_else(|| value.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f as i64))
}

fn boolean(value: Option<&str>) -> Option<bool> {
    match value?.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" => Some(true),
        "0" | "false" | "f" | "no" => Some(false),
        _ => None,
    }
}

/// `2025-01-02 03:04:05.123456` (naive UTC, SQLAlchemy) → `2025-01-02T03:04:05.123Z`; anything
/// unreadable becomes the adoption time.
fn timestamp(value: Option<&str>) -> String {
    let value = value.map(str::trim).unwrap_or_default();
    let shape = b"dddd-dd-dd?dd:dd:dd";
    let bytes = value.as_bytes();
    let readable = bytes.len() >= shape.len()
        && shape.iter().zip(bytes).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            b'?' => *got == b' ' || *got == b'T',
            other => got == other,
        });
    if !readable {
        return super::now_timestamp();
    }
    let fraction = value[19..].strip_prefix('.').unwrap_or("");
    let millis: String = fraction.chars().take_while(char::is_ascii_digit).chain("000".chars()).take(3).collect();
    format!("{}T{}.{millis}Z", &value[..10], &value[11..19])
}

fn is_empty_json(value: &str) -> bool {
    matches!(value.trim(), "" | "null" | "[]" | "{}")
}

fn object(value: Option<&str>) -> Option<Map<String, Value>> {
    match serde_json::from_str(value?) {
        Ok(Value::Object(map)) if !map.is_empty() => Some(map),
        _ => None,
    }
}

fn pricing(value: Option<&str>) -> Option<Pricing> {
    serde_json::from_str::<Pricing>(value?).ok().filter(|p| !p.is_empty())
}

/// A JSON list of strings, tolerating the comma-separated text some old rows hold.
fn string_list(value: Option<&str>) -> Vec<String> {
    let Some(value) = value.map(str::trim).filter(|v| !v.is_empty()) else { return Vec::new() };
    match serde_json::from_str::<Value>(value) {
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .collect(),
        Ok(Value::Null) => Vec::new(),
        Ok(Value::String(s)) => vec![s],
        _ => value.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
    }
}

fn list_or_none(value: Option<&str>) -> Option<Vec<String>> {
    Some(string_list(value)).filter(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_python_values() {
        assert_eq!(timestamp(Some("2025-01-02 03:04:05.123456")), "2025-01-02T03:04:05.123Z");
        assert_eq!(timestamp(Some("2025-01-02 03:04:05")), "2025-01-02T03:04:05.000Z");
        assert_eq!(timestamp(Some("2025-01-02T03:04:05.9Z")), "2025-01-02T03:04:05.900Z");
        for unreadable in [None, Some(""), Some("yesterday"), Some("2025年01月02日 03:04:05.123")] {
            let now = timestamp(unreadable);
            assert_eq!((now.len(), &now[10..11], &now[23..]), (24, "T", "Z"), "{unreadable:?} -> {now}");
        }
        assert_eq!(boolean(Some("1")), Some(true));
        assert_eq!(boolean(Some("0")), Some(false));
        assert_eq!(string_list(Some(r#"["a", "b"]"#)), vec!["a", "b"]);
        assert_eq!(string_list(Some("a, b")), vec!["a", "b"]);
        assert_eq!(string_list(Some("null")), Vec::<String>::new());
        assert_eq!(integer(Some("300")), Some(300));
        assert_eq!(integer(Some("3.0")), Some(3));
        assert!(object(Some("{}")).is_none());
        assert!(is_empty_json(" [] "));
    }
}
