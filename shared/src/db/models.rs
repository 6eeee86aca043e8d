//! `models`: what each provider serves, the metadata derived from it, and the operator's
//! overrides. A fetch writes only the system-derived columns; the user-owned ones
//! (`user_params`, `user_tags`, `access_groups`, `pricing_override`, `ollama_mode`,
//! `sync_enabled`) are written only by [`set_overrides`].

use crate::Database;
use crate::db::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{ConnectOptions, Connection, FromRow};

use crate::metadata::Derived;
use crate::model::{Model, Overrides};
use crate::types::{OllamaMode, Pricing, ProviderType};

use super::{BeginWrite, DbError, PoolRef, now_timestamp, with_pool};

/// A `models` row as stored: JSON columns as [`Json`] text, converted into a [`Model`].
#[derive(FromRow)]
pub(crate) struct ModelRow {
    id: i64,
    provider_id: i64,
    model_id: String,
    model_type: Option<String>,
    context_window: Option<i64>,
    max_input_tokens: Option<i64>,
    max_output_tokens: Option<i64>,
    max_tokens: Option<i64>,
    capabilities: Json<Vec<String>>,
    derived_info: Json<Map<String, Value>>,
    upstream_pricing: Option<Json<Pricing>>,
    upstream_digest: Option<String>,
    system_tags: Json<Vec<String>>,
    user_params: Option<Json<Map<String, Value>>>,
    user_tags: Option<Json<Vec<String>>>,
    access_groups: Option<Json<Vec<String>>>,
    pricing_override: Option<Json<Pricing>>,
    pricing_profile: Option<String>,
    ollama_mode: Option<OllamaMode>,
    sync_enabled: bool,
    user_modified: bool,
    mapped_provider_id: Option<i64>,
    mapped_model_id: Option<String>,
    litellm_model_id: Option<String>,
    first_seen: String,
    last_seen: String,
    is_orphaned: bool,
    orphaned_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl From<ModelRow> for Model {
    fn from(row: ModelRow) -> Self {
        Self {
            id: row.id,
            provider_id: row.provider_id,
            model_id: row.model_id,
            model_type: row.model_type,
            context_window: row.context_window,
            max_input_tokens: row.max_input_tokens,
            max_output_tokens: row.max_output_tokens,
            max_tokens: row.max_tokens,
            capabilities: row.capabilities.0,
            derived_info: row.derived_info.0,
            upstream_pricing: row.upstream_pricing.map(|j| j.0),
            upstream_digest: row.upstream_digest,
            system_tags: row.system_tags.0,
            user_params: row.user_params.map(|j| j.0),
            user_tags: row.user_tags.map(|j| j.0),
            access_groups: row.access_groups.map(|j| j.0),
            pricing_override: row.pricing_override.map(|j| j.0),
            pricing_profile: row.pricing_profile,
            ollama_mode: row.ollama_mode,
            sync_enabled: row.sync_enabled,
            user_modified: row.user_modified,
            mapped_provider_id: row.mapped_provider_id,
            mapped_model_id: row.mapped_model_id,
            litellm_model_id: row.litellm_model_id,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            is_orphaned: row.is_orphaned,
            orphaned_at: row.orphaned_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

pub(crate) const COLUMNS: &str = "id, provider_id, model_id, model_type, context_window, max_input_tokens, max_output_tokens, \
     max_tokens, capabilities, derived_info, upstream_pricing, upstream_digest, system_tags, user_params, user_tags, \
     access_groups, pricing_override, pricing_profile, ollama_mode, sync_enabled, user_modified, mapped_provider_id, mapped_model_id, \
     litellm_model_id, first_seen, last_seen, is_orphaned, orphaned_at, created_at, updated_at";

fn into_models(rows: Vec<ModelRow>) -> Vec<Model> {
    rows.into_iter().map(Model::from).collect()
}

pub async fn list_all(db: &Database) -> Result<Vec<Model>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM models ORDER BY provider_id, model_id");
    let rows: Vec<ModelRow> = with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?);
    Ok(into_models(rows))
}

/// Up to `limit` models with a row id above `after`, by row id: the whole table a part at a
/// time (a push holds one part, not ten thousand rows).
pub async fn list_part(db: &Database, after: i64, limit: usize) -> Result<Vec<Model>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM models WHERE id > $1 ORDER BY id LIMIT $2");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows: Vec<ModelRow> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit).fetch_all(pool).await?);
    Ok(into_models(rows))
}

/// The models the compat aliases among `models` point at (those that exist).
pub async fn alias_targets(db: &Database, models: &[Model]) -> Result<Vec<Model>, DbError> {
    let mut targets = Vec::new();
    for alias in models {
        if let (Some(provider_id), Some(model_id)) = (alias.mapped_provider_id, alias.mapped_model_id.as_deref())
            && let Some(target) = get_by_model_id(db, provider_id, model_id).await?
        {
            targets.push(target);
        }
    }
    Ok(targets)
}

pub async fn list_for_provider(db: &Database, provider_id: i64) -> Result<Vec<Model>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM models WHERE provider_id = $1 ORDER BY model_id");
    let rows: Vec<ModelRow> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(provider_id).fetch_all(pool).await?);
    Ok(into_models(rows))
}

pub async fn get(db: &Database, id: i64) -> Result<Option<Model>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM models WHERE id = $1");
    let row: Option<ModelRow> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?);
    Ok(row.map(Model::from))
}

pub async fn get_by_model_id(db: &Database, provider_id: i64, model_id: &str) -> Result<Option<Model>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM models WHERE provider_id = $1 AND model_id = $2");
    let row: Option<ModelRow> = with_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(provider_id).bind(model_id).fetch_optional(pool).await?
    });
    Ok(row.map(Model::from))
}

/// The slimmed upstream answer a model was derived from (what the UI shows as "raw").
pub async fn raw_metadata(db: &Database, id: i64) -> Result<Option<Value>, DbError> {
    const SQL: &str = "SELECT raw_metadata FROM models WHERE id = $1";
    let raw: Option<Json<Value>> = with_pool!(db, pool => sqlx::query_scalar(SQL).bind(id).fetch_optional(pool).await?);
    Ok(raw.map(|json| json.0))
}

/// At most `max_bytes` of a model's raw metadata as stored (compact JSON text, cut at a character
/// boundary) and its whole length in bytes: what a page shows, however large the stored answer.
/// `octet_length` does not load the value; `substr` on text makes SQLite read it once (no `CAST`
/// copies), and only the head comes back to Rust.
pub async fn raw_metadata_head(db: &Database, id: i64, max_bytes: usize) -> Result<Option<(String, i64)>, DbError> {
    // PostgreSQL's `substr` takes an INTEGER length and its `octet_length` is one.
    const SQL: &str = "SELECT substr(raw_metadata, 1, CAST($1 AS INTEGER)), CAST(octet_length(raw_metadata) AS BIGINT) \
         FROM models WHERE id = $2";
    let max = i64::try_from(max_bytes.min(i32::MAX as usize)).unwrap_or(i64::from(i32::MAX));
    let row: Option<(String, i64)> =
        with_pool!(db, pool => sqlx::query_as(SQL).bind(max).bind(id).fetch_optional(pool).await?);
    Ok(row.map(|(mut head, total)| {
        // `substr` counts characters: cut the bytes to the limit too.
        if head.len() > max_bytes {
            let mut cut = max_bytes;
            while !head.is_char_boundary(cut) {
                cut -= 1;
            }
            head.truncate(cut);
        }
        (head, total)
    }))
}

/// The longest raw metadata stored per model (JSON text). An upstream decides how much it sends;
/// the database keeps what the UI shows as "raw", and 64 KiB is many times a real model's.
pub const MAX_RAW_METADATA: usize = 64 * 1024;
/// The member added to raw metadata that had to be cut to [`MAX_RAW_METADATA`].
pub const RAW_TRUNCATED: &str = "_truncated_by_litellm_updater";

/// `raw` as stored: its JSON text, or, when longer than [`MAX_RAW_METADATA`], the top-level
/// members that fit (in order) and a [`RAW_TRUNCATED`] marker saying how long it was.
pub fn capped_raw_metadata(raw: &Value) -> String {
    let text = raw.to_string();
    if text.len() <= MAX_RAW_METADATA {
        return text;
    }
    let mut kept = Map::new();
    kept.insert(
        RAW_TRUNCATED.into(),
        serde_json::json!({
            "original_bytes": text.len(),
            "note": "cut to 64 KiB when stored; the model's metadata was derived from all of it",
        }),
    );
    drop(text);
    let mut size = Value::Object(kept.clone()).to_string().len();
    if let Value::Object(members) = raw {
        for (key, value) in members {
            let cost = key.len() + value.to_string().len() + 4;
            if size + cost <= MAX_RAW_METADATA {
                kept.insert(key.clone(), value.clone());
                size += cost;
            }
        }
    }
    Value::Object(kept).to_string()
}

/// A model as one fetch saw it, with the details that were (re)read this time.
#[derive(Debug, Clone)]
pub struct FetchedModel {
    pub model_id: String,
    pub digest: Option<String>,
    pub derived: Derived,
    /// The slimmed upstream answer as JSON text: a fetch of thousands of models holds all of
    /// them until its one transaction, and text is a fraction of a parsed `Value`'s size.
    pub raw_metadata: String,
}

impl FetchedModel {
    /// Derives a model's metadata from its slimmed upstream answer.
    pub fn from_upstream(kind: ProviderType, model_id: &str, digest: Option<String>, raw: &Value) -> Self {
        Self {
            model_id: model_id.to_owned(),
            digest,
            derived: crate::metadata::derive(kind, model_id, raw),
            raw_metadata: capped_raw_metadata(raw),
        }
    }
}

/// What one provider's fetch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchCounts {
    pub seen: usize,
    pub added: usize,
    pub updated: usize,
    pub orphaned: usize,
    pub unorphaned: usize,
}

/// Per model: its id, its digest, and whether it is orphaned — what a fetch compares a listing
/// with (a fraction of a full [`Model`] row, for providers with thousands of models).
pub async fn digests_for_provider(
    db: &Database,
    provider_id: i64,
) -> Result<Vec<(String, Option<String>, bool)>, DbError> {
    const SQL: &str = "SELECT model_id, upstream_digest, is_orphaned FROM models WHERE provider_id = $1";
    Ok(with_pool!(db, pool => sqlx::query_as(SQL).bind(provider_id).fetch_all(pool).await?))
}

/// Records one provider's fetch in a single transaction: writes the models whose details were
/// read (`fetched`), marks every listed id (`listed`) as seen and not orphaned, and orphans the
/// provider's models that are no longer listed. User-owned columns are not touched.
pub async fn record_fetch(
    db: &Database,
    provider_id: i64,
    fetched: &[FetchedModel],
    listed: &[String],
) -> Result<FetchCounts, DbError> {
    record(db, provider_id, fetched, listed, true).await
}

const UPSERT_INSERT: &str = "INSERT INTO models (provider_id, model_id, model_type, context_window, \
     max_input_tokens, max_output_tokens, max_tokens, capabilities, derived_info, raw_metadata, upstream_pricing, \
     upstream_digest, system_tags)";

/// The upsert's conflict clause: system-derived columns only, and only when one differs; `now`
/// is the placeholder of the time written to `updated_at`.
fn upsert_conflict(now: &str) -> String {
    format!(
        "ON CONFLICT (provider_id, model_id) DO UPDATE SET \
           model_type = excluded.model_type, context_window = excluded.context_window, \
           max_input_tokens = excluded.max_input_tokens, max_output_tokens = excluded.max_output_tokens, \
           max_tokens = excluded.max_tokens, capabilities = excluded.capabilities, \
           derived_info = excluded.derived_info, raw_metadata = excluded.raw_metadata, \
           upstream_pricing = excluded.upstream_pricing, \
           upstream_digest = excluded.upstream_digest, system_tags = excluded.system_tags, updated_at = {now} \
         WHERE models.model_type IS DISTINCT FROM excluded.model_type \
           OR models.context_window IS DISTINCT FROM excluded.context_window \
           OR models.max_input_tokens IS DISTINCT FROM excluded.max_input_tokens \
           OR models.max_output_tokens IS DISTINCT FROM excluded.max_output_tokens \
           OR models.max_tokens IS DISTINCT FROM excluded.max_tokens \
           OR models.capabilities IS DISTINCT FROM excluded.capabilities \
           OR models.derived_info IS DISTINCT FROM excluded.derived_info \
           OR models.raw_metadata IS DISTINCT FROM excluded.raw_metadata \
           OR models.upstream_pricing IS DISTINCT FROM excluded.upstream_pricing \
           OR models.upstream_digest IS DISTINCT FROM excluded.upstream_digest \
           OR models.system_tags IS DISTINCT FROM excluded.system_tags"
    )
}

/// The statements a fetch ends with, `$1` the provider, `$2` its listing (a JSON array of
/// ids), `$3` now: listed models marked seen and not orphaned, unlisted ones orphaned.
fn listing_updates(dialect: super::Dialect) -> (String, String) {
    let listed = dialect.json_strings("$2");
    let touch = format!(
        "UPDATE models SET last_seen = $3, is_orphaned = FALSE, orphaned_at = NULL \
         WHERE provider_id = $1 AND model_id IN {listed}"
    );
    let orphan = format!(
        "UPDATE models SET is_orphaned = TRUE, orphaned_at = $3 \
         WHERE provider_id = $1 AND NOT is_orphaned AND model_id NOT IN {listed}"
    );
    (touch, orphan)
}

/// How many of the provider's (`$1`) orphaned models its listing (`$2`) names again.
fn unorphaned_count(dialect: super::Dialect) -> String {
    format!(
        "SELECT COUNT(*) FROM models WHERE provider_id = $1 AND is_orphaned AND model_id IN {}",
        dialect.json_strings("$2")
    )
}

/// One provider's fetch results, collected batch by batch in a temporary table on a connection
/// of its own (on disk, not in memory), then recorded by [`FetchStage::commit`] in one short
/// transaction with the same rules as [`record_fetch`].
///
/// Why: a first fetch of 10,000 models would otherwise hold 10,000 derived models until its
/// one transaction; and writing batches straight into `models` would leave half a fetch
/// recorded (and pushed) when it fails or times out. Dropped without `commit`, a stage leaves
/// the database as it was.
pub struct FetchStage {
    conn: StageConnection,
    staged: usize,
}

/// The stage's connection, outside the pool: its temporary table lives as long as it does.
enum StageConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

/// Runs `$body` with `$conn` bound to the stage's connection, whichever backend it is.
macro_rules! with_stage_conn {
    ($stage:expr, $conn:ident => $body:expr) => {
        match &mut $stage.conn {
            StageConnection::Sqlite($conn) => $body,
            StageConnection::Postgres($conn) => $body,
        }
    };
}

/// `seq` keeps the order models were staged in (a later copy of an id moves to the end), so
/// that new models get their row ids in the provider's order on both backends.
const STAGE_COLUMNS: &str = "(seq BIGINT NOT NULL, model_id TEXT PRIMARY KEY, model_type TEXT, \
     context_window BIGINT, max_input_tokens BIGINT, max_output_tokens BIGINT, max_tokens BIGINT, \
     capabilities TEXT, derived_info TEXT, raw_metadata TEXT, upstream_pricing TEXT, upstream_digest TEXT, \
     system_tags TEXT)";

const STAGE_INSERT: &str = "INSERT INTO fetch_stage (seq, model_id, model_type, context_window, max_input_tokens, \
       max_output_tokens, max_tokens, capabilities, derived_info, raw_metadata, upstream_pricing, upstream_digest, \
       system_tags) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
     ON CONFLICT (model_id) DO UPDATE SET seq = excluded.seq, model_type = excluded.model_type, \
       context_window = excluded.context_window, max_input_tokens = excluded.max_input_tokens, \
       max_output_tokens = excluded.max_output_tokens, max_tokens = excluded.max_tokens, \
       capabilities = excluded.capabilities, derived_info = excluded.derived_info, \
       raw_metadata = excluded.raw_metadata, upstream_pricing = excluded.upstream_pricing, \
       upstream_digest = excluded.upstream_digest, system_tags = excluded.system_tags";

impl FetchStage {
    pub async fn open(db: &Database) -> Result<Self, DbError> {
        let mut conn = match db.pool_ref() {
            PoolRef::Sqlite(_) => {
                let mut conn = db.connect_one_sqlite().await?;
                // Temporary tables live in memory unless told otherwise; this one may hold thousands of rows.
                sqlx::query("PRAGMA temp_store = FILE").execute(&mut conn).await?;
                StageConnection::Sqlite(conn)
            }
            PoolRef::Postgres(pool) => StageConnection::Postgres(
                pool.connect_options()
                    .connect()
                    .await
                    .map_err(|source| DbError::Connect { location: db.describe(), source })?,
            ),
        };
        let create = match &conn {
            StageConnection::Sqlite(_) => format!("CREATE TEMP TABLE fetch_stage {STAGE_COLUMNS}"),
            // The rows must outlive each batch's transaction.
            StageConnection::Postgres(_) => {
                format!("CREATE TEMP TABLE fetch_stage {STAGE_COLUMNS} ON COMMIT PRESERVE ROWS")
            }
        };
        match &mut conn {
            StageConnection::Sqlite(c) => {
                sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut *c).await?.rows_affected()
            }
            StageConnection::Postgres(c) => {
                sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut *c).await?.rows_affected()
            }
        };
        Ok(Self { conn, staged: 0 })
    }

    /// Models staged so far.
    pub fn len(&self) -> usize {
        self.staged
    }

    pub fn is_empty(&self) -> bool {
        self.staged == 0
    }

    fn dialect(&self) -> super::Dialect {
        match self.conn {
            StageConnection::Sqlite(_) => super::Dialect::Sqlite,
            StageConnection::Postgres(_) => super::Dialect::Postgres,
        }
    }

    /// The statement that opens a write transaction on the stage's connection (see [`BeginWrite`]).
    fn begin_write_statement(&self) -> &'static str {
        match self.conn {
            StageConnection::Sqlite(_) => "BEGIN IMMEDIATE",
            StageConnection::Postgres(_) => "BEGIN",
        }
    }

    /// Stages a batch (a later model with the same id replaces the earlier one).
    pub async fn add(&mut self, batch: &[FetchedModel]) -> Result<(), DbError> {
        let first = i64::try_from(self.staged).unwrap_or(i64::MAX);
        with_stage_conn!(self, conn => {
            let mut tx = conn.begin().await?;
            for (seq, model) in (first..).zip(batch) {
                let derived = &model.derived;
                sqlx::query(STAGE_INSERT)
                    .bind(seq)
                    .bind(&model.model_id)
                    .bind(derived.mode.as_str())
                    .bind(derived.context_window)
                    .bind(derived.max_input_tokens)
                    .bind(derived.max_output_tokens)
                    .bind(derived.max_tokens)
                    .bind(Json(&derived.capability_names()))
                    .bind(Json(&derived.model_info))
                    .bind(&model.raw_metadata)
                    .bind(derived.upstream_pricing.map(Json))
                    .bind(model.digest.as_deref())
                    .bind(Json(&derived.system_tags))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        self.staged += batch.len();
        Ok(())
    }

    /// Records the staged models and the listing (`listed`: every id the provider listed) in one
    /// transaction: staged models written, listed ones marked seen, unlisted ones orphaned.
    pub async fn commit(mut self, provider_id: i64, listed: &[String]) -> Result<FetchCounts, DbError> {
        let listed_json = Json(listed);
        let now = now_timestamp();
        let dialect = self.dialect();
        let unorphaned = unorphaned_count(dialect);
        let (touch, orphan) = listing_updates(dialect);
        const ADDED: &str = "SELECT COUNT(*) FROM fetch_stage s \
             WHERE NOT EXISTS (SELECT 1 FROM models m WHERE m.provider_id = $1 AND m.model_id = s.model_id)";
        // `WHERE true` keeps SQLite from reading ON CONFLICT as a join constraint.
        let upsert = format!(
            "{UPSERT_INSERT} SELECT $1, model_id, model_type, context_window, max_input_tokens, max_output_tokens, \
               max_tokens, capabilities, derived_info, raw_metadata, upstream_pricing, upstream_digest, system_tags \
             FROM fetch_stage WHERE true ORDER BY seq {}",
            upsert_conflict("$2")
        );
        let begin = self.begin_write_statement();
        let counts = with_stage_conn!(self, conn => {
            let mut tx = conn.begin_with(begin).await?;
            let mut counts = FetchCounts { seen: listed.len(), ..FetchCounts::default() };
            counts.unorphaned = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(unorphaned))
                .bind(provider_id)
                .bind(listed_json)
                .fetch_one(&mut *tx)
                .await? as usize;
            counts.added =
                sqlx::query_scalar::<_, i64>(ADDED).bind(provider_id).fetch_one(&mut *tx).await? as usize;
            let written = sqlx::query(sqlx::AssertSqlSafe(upsert))
                .bind(provider_id)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            counts.updated = written.saturating_sub(counts.added);
            sqlx::query(sqlx::AssertSqlSafe(touch))
                .bind(provider_id)
                .bind(listed_json)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
            counts.orphaned = sqlx::query(sqlx::AssertSqlSafe(orphan))
                .bind(provider_id)
                .bind(listed_json)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
            tx.commit().await?;
            counts
        });
        match self.conn {
            StageConnection::Sqlite(conn) => {
                let _ = conn.close().await;
            }
            StageConnection::Postgres(conn) => {
                let _ = conn.close().await;
            }
        }
        Ok(counts)
    }
}

/// Records one model re-read on its own (a refresh): written and marked seen, others untouched.
pub async fn record_refresh(db: &Database, provider_id: i64, model: &FetchedModel) -> Result<FetchCounts, DbError> {
    record(db, provider_id, std::slice::from_ref(model), std::slice::from_ref(&model.model_id), false).await
}

async fn record(
    db: &Database,
    provider_id: i64,
    fetched: &[FetchedModel],
    listed: &[String],
    orphan_unlisted: bool,
) -> Result<FetchCounts, DbError> {
    let listed_json = Json(listed);
    let now = now_timestamp();
    let unorphaned = unorphaned_count(db.dialect());
    let (touch, orphan) = listing_updates(db.dialect());
    const EXISTING: &str = "SELECT model_id FROM models WHERE provider_id = $1";
    let upsert = format!(
        "{UPSERT_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) {} RETURNING id",
        upsert_conflict("$14")
    );
    let counts = with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let mut counts = FetchCounts { seen: listed.len(), ..FetchCounts::default() };
        counts.unorphaned = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(unorphaned))
            .bind(provider_id)
            .bind(listed_json)
            .fetch_one(&mut *tx)
            .await? as usize;
        let existing: std::collections::HashSet<String> =
            sqlx::query_scalar(EXISTING).bind(provider_id).fetch_all(&mut *tx).await?.into_iter().collect();
        for model in fetched {
            let derived = &model.derived;
            let written: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(upsert.as_str()))
                .bind(provider_id)
                .bind(&model.model_id)
                .bind(derived.mode.as_str())
                .bind(derived.context_window)
                .bind(derived.max_input_tokens)
                .bind(derived.max_output_tokens)
                .bind(derived.max_tokens)
                .bind(Json(&derived.capability_names()))
                .bind(Json(&derived.model_info))
                .bind(&model.raw_metadata)
                .bind(derived.upstream_pricing.map(Json))
                .bind(model.digest.as_deref())
                .bind(Json(&derived.system_tags))
                .bind(&now)
                .fetch_optional(&mut *tx)
                .await?;
            if !existing.contains(&model.model_id) {
                counts.added += 1;
            } else if written.is_some() {
                counts.updated += 1;
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(touch))
            .bind(provider_id)
            .bind(listed_json)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        if orphan_unlisted {
            counts.orphaned = sqlx::query(sqlx::AssertSqlSafe(orphan))
                .bind(provider_id)
                .bind(listed_json)
                .bind(&now)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
        }
        tx.commit().await?;
        counts
    });
    super::exclusions::refresh_for_provider(db, provider_id).await?;
    Ok(counts)
}

pub async fn set_overrides(db: &Database, id: i64, overrides: &Overrides) -> Result<bool, DbError> {
    overrides.check().map_err(DbError::Invalid)?;
    let Some(before) = get(db, id).await? else {
        return Ok(false);
    };
    let o = overrides;
    let changed = o.changed_fields(&before);
    let pending = (!changed.is_empty()).then(|| format!("changed here, not pushed yet: {}", changed.join(", ")));
    const SQL: &str = "UPDATE models SET \
           user_params = CASE WHEN $1 THEN $2 ELSE user_params END, \
           user_tags = CASE WHEN $3 THEN $4 ELSE user_tags END, \
           access_groups = CASE WHEN $5 THEN $6 ELSE access_groups END, \
           pricing_override = CASE WHEN $7 THEN $8 ELSE pricing_override END, \
           ollama_mode = CASE WHEN $9 THEN $10 ELSE ollama_mode END, \
           sync_enabled = COALESCE($11, sync_enabled), \
           sync_state = CASE WHEN $14 IS NULL THEN sync_state ELSE 'pending' END, \
           sync_detail = COALESCE($14, sync_detail), \
           user_modified = TRUE, updated_at = $12 \
         WHERE id = $13";
    let done = with_pool!(db, pool => sqlx::query(SQL)
        .bind(o.user_params.is_some())
        .bind(o.user_params.clone().flatten().map(Json))
        .bind(o.user_tags.is_some())
        .bind(o.user_tags.clone().flatten().map(Json))
        .bind(o.access_groups.is_some())
        .bind(o.access_groups.clone().flatten().map(Json))
        .bind(o.pricing_override.is_some())
        .bind(o.pricing_override.flatten().filter(|p| !p.is_empty()).map(Json))
        .bind(o.ollama_mode.is_some())
        .bind(o.ollama_mode.flatten())
        .bind(o.sync_enabled)
        .bind(now_timestamp())
        .bind(id)
        .bind(pending.as_deref())
        .execute(pool)
        .await?
        .rows_affected());
    Ok(done == 1)
}

/// Stores the LiteLLM deployment ids the push assigned or adopted, before it writes to LiteLLM,
/// so a crash between the two can never produce an entry nobody owns.
pub async fn store_litellm_ids(db: &Database, ids: &[crate::plan::IdToStore]) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    const RELEASE: &str = "UPDATE models SET litellm_model_id = NULL WHERE litellm_model_id = $1 AND id <> $2";
    const STORE: &str = "UPDATE models SET litellm_model_id = $1 WHERE id = $2";
    with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        for crate::plan::IdToStore { model_row_id, litellm_id, .. } in ids {
            sqlx::query(RELEASE).bind(litellm_id).bind(model_row_id).execute(&mut *tx).await?;
            sqlx::query(STORE).bind(litellm_id).bind(model_row_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// Adds (or re-points) a compat alias: `alias` served by `target_model_id` of `target_provider_id`.
pub async fn upsert_alias(
    db: &Database,
    compat_provider_id: i64,
    alias: &str,
    target_provider_id: i64,
    target_model_id: &str,
) -> Result<i64, DbError> {
    check_alias(alias, target_model_id)?;
    const SQL: &str = "INSERT INTO models (provider_id, model_id, mapped_provider_id, mapped_model_id, user_modified) \
         VALUES ($1, $2, $3, $4, TRUE) \
         ON CONFLICT (provider_id, model_id) DO UPDATE SET mapped_provider_id = excluded.mapped_provider_id, \
           mapped_model_id = excluded.mapped_model_id, updated_at = $5 \
         RETURNING id";
    Ok(with_pool!(db, pool => sqlx::query_scalar(SQL)
        .bind(compat_provider_id)
        .bind(alias.trim())
        .bind(target_provider_id)
        .bind(target_model_id)
        .bind(now_timestamp())
        .fetch_one(pool)
        .await?))
}

fn check_alias(alias: &str, target_model_id: &str) -> Result<(), DbError> {
    crate::limits::model_id("the alias", alias.trim())
        .and_then(|()| crate::limits::model_id("the target model id", target_model_id))
        .map_err(DbError::Invalid)
}

pub async fn delete(db: &Database, id: i64) -> Result<bool, DbError> {
    const SQL: &str = "DELETE FROM models WHERE id = $1";
    let done = with_pool!(db, pool => sqlx::query(SQL).bind(id).execute(pool).await?.rows_affected());
    Ok(done == 1)
}

pub use crate::status::ModelStatus;
use crate::status::{Shown, SyncState, detail_sql, status_sql};

/// Records what a push or plan found for the models it wants in LiteLLM (see
/// [`crate::status::sync_states`]); the detail must already be free of secrets.
pub async fn record_sync_states(db: &Database, states: &[(i64, SyncState, Option<String>)]) -> Result<(), DbError> {
    if states.is_empty() {
        return Ok(());
    }
    const SQL: &str = "UPDATE models SET sync_state = $1, sync_detail = $2, sync_checked_at = $3 WHERE id = $4";
    let now = now_timestamp();
    with_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        for (id, state, detail) in states {
            sqlx::query(SQL).bind(state.as_str()).bind(detail.as_deref()).bind(&now).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
    });
    Ok(())
}

/// A model's status with its detail ([`crate::status::Shown`]) and when a push or plan last
/// looked at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusDetail {
    pub status: ModelStatus,
    pub detail: Option<String>,
    pub checked_at: Option<String>,
}

impl StatusDetail {
    pub fn shown(self) -> Shown {
        Shown { status: self.status, detail: self.detail }
    }
}

/// Search, filters and paging of the models list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ModelQuery {
    /// Case-insensitive substring of the model id.
    pub q: Option<String>,
    pub provider_id: Option<i64>,
    /// A capability name (`vision`, `tools`, `embedding`, …).
    pub capability: Option<String>,
    pub status: Option<ModelStatus>,
    /// 1-based.
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ModelPage {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub items: Vec<(Model, Shown)>,
}

impl ModelQuery {
    pub const MAX_PER_PAGE: i64 = 500;

    fn page(&self) -> (i64, i64) {
        let per_page = self.per_page.unwrap_or(50).clamp(1, Self::MAX_PER_PAGE);
        (crate::limits::page(self.page), per_page)
    }
}

/// One page of models matching `query`, ordered by provider then model id.
pub async fn search(db: &Database, query: &ModelQuery) -> Result<ModelPage, DbError> {
    let (page, per_page) = query.page();
    let dialect = db.dialect();
    let filter = format!(
        "FROM models m WHERE ($1 IS NULL OR {}) \
         AND ($2 IS NULL OR m.provider_id = $2) \
         AND ($3 IS NULL OR {}) \
         AND ($4 IS NULL OR ({}) = $4)",
        dialect.contains_ignoring_case("m.model_id", "$1"),
        dialect.json_array_has("m.capabilities", "lower($3)"),
        status_sql(),
    );
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let capability = query.capability.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let status = query.status.map(ModelStatus::as_str);
    let count = format!("SELECT COUNT(*) {filter}");
    let columns = COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
    let (status_sql, detail_sql) = (status_sql(), detail_sql());
    let sql = format!(
        "SELECT {columns}, {status_sql} AS status, {detail_sql} AS status_detail {filter} \
         ORDER BY m.provider_id, m.model_id LIMIT $5 OFFSET $6"
    );
    let (total, items) = with_pool!(db, pool => {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count))
            .bind(q)
            .bind(query.provider_id)
            .bind(capability)
            .bind(status)
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(q)
            .bind(query.provider_id)
            .bind(capability)
            .bind(status)
            .bind(per_page)
            .bind((page - 1) * per_page)
            .fetch_all(pool)
            .await?;
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            let model = Model::from(<ModelRow as sqlx::FromRow<_>>::from_row(row)?);
            let status: String = sqlx::Row::try_get(row, "status")?;
            let detail: Option<String> = sqlx::Row::try_get(row, "status_detail")?;
            items.push((model, Shown { status: ModelStatus::from_sql(&status), detail }));
        }
        (total, items)
    });
    Ok(ModelPage { total, page, per_page, items })
}

/// How many models are in each status (the overview and `/metrics`).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StatusCounts {
    pub total: i64,
    pub synced: i64,
    pub pending: i64,
    pub error: i64,
    pub orphaned: i64,
    pub disabled: i64,
    pub excluded: i64,
}

impl StatusCounts {
    pub fn get(&self, status: ModelStatus) -> i64 {
        match status {
            ModelStatus::Synced => self.synced,
            ModelStatus::Pending => self.pending,
            ModelStatus::Error => self.error,
            ModelStatus::Orphaned => self.orphaned,
            ModelStatus::Disabled => self.disabled,
            ModelStatus::Excluded => self.excluded,
        }
    }

    fn slot(&mut self, status: ModelStatus) -> &mut i64 {
        match status {
            ModelStatus::Synced => &mut self.synced,
            ModelStatus::Pending => &mut self.pending,
            ModelStatus::Error => &mut self.error,
            ModelStatus::Orphaned => &mut self.orphaned,
            ModelStatus::Disabled => &mut self.disabled,
            ModelStatus::Excluded => &mut self.excluded,
        }
    }
}

pub async fn status_counts(db: &Database) -> Result<StatusCounts, DbError> {
    let status_sql = status_sql();
    let sql = format!(
        "SELECT s, COUNT(*) FROM (SELECT {status_sql} AS s FROM models m JOIN providers p ON p.id = m.provider_id \
           WHERE p.type <> 'compat') AS statuses GROUP BY s"
    );
    let rows: Vec<(String, i64)> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?);
    let mut counts = StatusCounts::default();
    for (status, count) in rows {
        *counts.slot(ModelStatus::from_sql(&status)) += count;
        counts.total += count;
    }
    Ok(counts)
}

/// One model's status, as [`search`] reports it; `None` when there is no such model.
pub async fn status(db: &Database, id: i64) -> Result<Option<ModelStatus>, DbError> {
    Ok(status_detail(db, id).await?.map(|s| s.status))
}

/// One model's status with its detail, as the listing reports them; `None` when there is no such
/// model.
pub async fn status_detail(db: &Database, id: i64) -> Result<Option<StatusDetail>, DbError> {
    let (status_sql, detail_sql) = (status_sql(), detail_sql());
    let sql = format!("SELECT {status_sql}, {detail_sql}, m.sync_checked_at FROM models m WHERE m.id = $1");
    let row: Option<(String, Option<String>, Option<String>)> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(pool).await?);
    Ok(row.map(|(status, detail, checked_at)| StatusDetail {
        status: ModelStatus::from_sql(&status),
        detail,
        checked_at,
    }))
}

/// Deletes every discovered model (compat aliases are settings and stay): the next fetch finds
/// them again, without overrides; the next push adopts their LiteLLM entries by `unique_id` tag.
pub async fn delete_discovered(db: &Database) -> Result<u64, DbError> {
    const SQL: &str = "DELETE FROM models WHERE provider_id IN (SELECT id FROM providers WHERE type <> 'compat')";
    Ok(with_pool!(db, pool => sqlx::query(SQL).execute(pool).await?.rows_affected()))
}

/// Clears the operator's overrides of every discovered model (compat aliases keep theirs).
pub async fn clear_all_overrides(db: &Database) -> Result<u64, DbError> {
    const SQL: &str = "UPDATE models SET user_params = NULL, user_tags = NULL, access_groups = NULL, \
           pricing_override = NULL, ollama_mode = NULL, sync_enabled = TRUE, user_modified = FALSE, updated_at = $1 \
         WHERE provider_id IN (SELECT id FROM providers WHERE type <> 'compat') \
           AND (user_modified OR user_params IS NOT NULL OR user_tags IS NOT NULL OR access_groups IS NOT NULL \
             OR pricing_override IS NOT NULL OR ollama_mode IS NOT NULL OR NOT sync_enabled)";
    Ok(with_pool!(db, pool => sqlx::query(SQL).bind(now_timestamp()).execute(pool).await?.rows_affected()))
}

/// Renames or re-points the compat alias `id`; `false` when there is no such row.
pub async fn update_alias(
    db: &Database,
    id: i64,
    alias: &str,
    target_provider_id: i64,
    target_model_id: &str,
) -> Result<bool, DbError> {
    check_alias(alias, target_model_id)?;
    const SQL: &str = "UPDATE models SET model_id = $1, mapped_provider_id = $2, mapped_model_id = $3, \
           user_modified = TRUE, updated_at = $4 WHERE id = $5";
    let done = with_pool!(db, pool => sqlx::query(SQL)
        .bind(alias.trim())
        .bind(target_provider_id)
        .bind(target_model_id)
        .bind(now_timestamp())
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected());
    Ok(done == 1)
}
