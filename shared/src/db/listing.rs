//! Paged, filtered, sorted listings of the Models and LiteLLM pages (and their API twins).
//!
//! Each listing reads only the ids and sort keys of the whole filtered set, orders them in Rust
//! ([`crate::listing`]: natural order, the same on SQLite and PostgreSQL), and then loads the rows
//! of the one requested page. Sorting therefore orders the whole list, not the page shown.

use crate::Database;
use std::collections::HashMap;

use crate::db::Json;
use serde_json::Value;
use sqlx::FromRow;

use super::models::{COLUMNS, ModelRow, ModelStatus};
use super::providers;
use super::{DbError, Dialect, with_pool};
use crate::listing::{Direction, PastTheEnd, Window, natural_key, window};
use crate::model::Model;
use crate::provider::Provider;
use crate::status::{detail_sql, status_sql};

/// One page of a listing and where it sits in the whole.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    /// Rows matching the filters (all pages).
    pub total: usize,
    pub window: Window,
    pub items: Vec<T>,
}

/// A sort key: numbers first (when the column is numeric), then natural text keys, then the
/// row id, so that equal keys keep one order on every request.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct SortKey {
    number: Option<i64>,
    primary: Vec<u8>,
    /// A provider's place in natural order of names (cheaper than its name per row).
    rank: i64,
    secondary: Vec<u8>,
    id: i64,
}

/// Sorts `keys` in `direction` and returns the ids of the rows of `window`.
fn page_ids(mut keys: Vec<SortKey>, direction: Direction, window: &Window) -> Vec<i64> {
    keys.sort_unstable();
    if direction == Direction::Descending {
        keys.reverse();
    }
    keys.into_iter().skip(window.offset).take(window.len).map(|k| k.id).collect()
}

/// A model's id, provider id, model id, text sort key and number sort key.
type ModelKeys = (i64, i64, String, Option<String>, Option<i64>);

/// The rows of a JSON array of sort keys ([`Dialect::json_rows`]).
fn keys_of<T: serde::de::DeserializeOwned>(json: &str) -> Result<Vec<T>, DbError> {
    serde_json::from_str(json).map_err(|e| DbError::Invalid(format!("the list's sort keys: {e}")))
}

fn lowered(text: Option<&str>) -> Option<String> {
    text.map(str::trim).filter(|t| !t.is_empty()).map(str::to_lowercase)
}

macro_rules! sort_keys {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
        pub enum $name { #[default] $($variant),+ }

        impl $name {
            pub const ALL: &[Self] = &[$(Self::$variant),+];

            /// The key as a query string names it; `None` for an unknown one.
            pub fn parse(text: &str) -> Option<Self> {
                match text.trim().to_ascii_lowercase().as_str() {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Every key, for an error message.
            pub fn names() -> String {
                [$($text),+].join(", ")
            }
        }
    };
}

sort_keys! {
    /// What the models list is sorted by (`sort=`); the first is the default.
    ModelSort {
        Provider = "provider",
        Name = "name",
        ModelName = "model_name",
        Mode = "mode",
        Context = "context",
        Status = "status",
        LastSeen = "last_seen",
    }
}

/// The models list's filters, order and page.
#[derive(Debug, Clone)]
pub struct ModelList {
    /// Case-insensitive substring of the model id.
    pub q: Option<String>,
    pub provider_id: Option<i64>,
    /// A capability name (`vision`, `tools`, `embedding`, …).
    pub capability: Option<String>,
    pub status: Option<ModelStatus>,
    pub sort: ModelSort,
    pub direction: Direction,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    pub past_the_end: PastTheEnd,
}

impl Default for ModelList {
    fn default() -> Self {
        Self {
            q: None,
            provider_id: None,
            capability: None,
            status: None,
            sort: ModelSort::default(),
            direction: Direction::default(),
            page: None,
            per_page: None,
            past_the_end: PastTheEnd::Empty,
        }
    }
}

/// A model of a listing: its row, its status and the `model_name` LiteLLM serves it under.
#[derive(Debug, Clone)]
pub struct ListedModel {
    pub model: Model,
    pub status: ModelStatus,
    /// What goes with the status: why, what differs, or the error ([`crate::status::Shown`]).
    pub status_detail: Option<String>,
    pub model_name: String,
}

/// A model row with its status ([`status_sql`]) and the status's detail ([`detail_sql`]).
#[derive(FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    model: ModelRow,
    status: String,
    status_detail: Option<String>,
}

/// One page of the models matching `query`, in its order.
pub async fn models(db: &Database, query: &ModelList) -> Result<Listed<ListedModel>, DbError> {
    let dialect = db.dialect();
    let providers: HashMap<i64, Provider> = providers::list(db).await?.into_iter().map(|p| (p.id, p)).collect();
    let mut by_name: Vec<&Provider> = providers.values().collect();
    by_name.sort_by(|a, b| crate::listing::natural_cmp(&a.name, &b.name));
    let ranks: HashMap<i64, i64> = by_name.iter().zip(0..).map(|(p, rank)| (p.id, rank)).collect();
    let rank = |id: i64| ranks.get(&id).copied().unwrap_or(i64::MAX);
    let litellm_name = |provider_id: i64, model_id: &str| match providers.get(&provider_id) {
        Some(provider) => crate::desired::model_name(provider, model_id),
        None => model_id.to_owned(),
    };

    let text_key = match query.sort {
        ModelSort::Mode => "m.model_type",
        ModelSort::Status => status_sql(),
        ModelSort::LastSeen => "m.last_seen",
        _ => "NULL",
    };
    let number_key = if query.sort == ModelSort::Context { "m.context_window" } else { "NULL" };
    let q = lowered(query.q.as_deref());
    let capability = lowered(query.capability.as_deref());
    let status = query.status.map(ModelStatus::as_str);
    // Only the filters given are in the SQL (an unused parameter is still named, as `$n IS
    // NULL`): without a capability or status filter, and sorted by a name, the query reads only
    // the (provider_id, model_id) index, never the rows.
    let when = |given: bool, condition: String, unused: &str| if given { condition } else { unused.to_owned() };
    let filter = format!(
        "FROM models m WHERE {} AND {} AND {} AND {}",
        when(q.is_some(), dialect.contains_ignoring_case("m.model_id", "$1"), "$1 IS NULL"),
        when(query.provider_id.is_some(), "m.provider_id = $2".into(), "$2 IS NULL"),
        when(capability.is_some(), dialect.json_array_has("m.capabilities", "$3"), "$3 IS NULL"),
        when(status.is_some(), format!("({}) = $4", status_sql()), "$4 IS NULL"),
    );
    // One row of JSON rather than a row per model: decoding 20,000 rows one by one costs more
    // than the query.
    let keys = dialect.json_rows(&["m.id", "m.provider_id", "m.model_id", text_key, number_key]);
    let sql = format!("SELECT {keys} {filter}");
    let rows: String = with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&q)
        .bind(query.provider_id)
        .bind(&capability)
        .bind(status)
        .fetch_one(pool)
        .await?);
    let rows: Vec<ModelKeys> = keys_of(&rows)?;

    let total = rows.len();
    let window = window(total, query.page, query.per_page, query.past_the_end);
    let keys: Vec<SortKey> = rows
        .into_iter()
        .map(|(id, provider_id, model_id, text, number)| match query.sort {
            ModelSort::Provider => SortKey {
                number: Some(rank(provider_id)),
                primary: natural_key(&model_id),
                rank: 0,
                secondary: Vec::new(),
                id,
            },
            ModelSort::Name => SortKey {
                number: None,
                primary: natural_key(&model_id),
                rank: rank(provider_id),
                secondary: Vec::new(),
                id,
            },
            ModelSort::ModelName => SortKey {
                number: None,
                primary: natural_key(&litellm_name(provider_id, &model_id)),
                rank: rank(provider_id),
                secondary: Vec::new(),
                id,
            },
            ModelSort::Context => {
                SortKey { number, primary: natural_key(&model_id), rank: rank(provider_id), secondary: Vec::new(), id }
            }
            ModelSort::Mode | ModelSort::Status | ModelSort::LastSeen => SortKey {
                number: None,
                primary: natural_key(text.as_deref().unwrap_or("")),
                rank: 0,
                secondary: natural_key(&model_id),
                id,
            },
        })
        .collect();
    let ids = page_ids(keys, query.direction, &window);

    let columns = COLUMNS.split(", ").map(|c| format!("m.{c}")).collect::<Vec<_>>().join(", ");
    let (status_sql, detail_sql) = (status_sql(), detail_sql());
    let sql = format!(
        "SELECT {columns}, {status_sql} AS status, {detail_sql} AS status_detail FROM models m WHERE m.id IN {}",
        dialect.json_integers("$1")
    );
    let rows: Vec<ListedRow> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(Json(&ids)).fetch_all(pool).await?);
    let mut loaded: HashMap<i64, ListedModel> = HashMap::with_capacity(rows.len());
    for ListedRow { model, status, status_detail } in rows {
        let model = Model::from(model);
        let status = ModelStatus::from_sql(&status);
        let model_name = litellm_name(model.provider_id, &model.model_id);
        loaded.insert(model.id, ListedModel { model, status, status_detail, model_name });
    }
    // A row deleted between the two reads is simply not shown.
    let items = ids.iter().filter_map(|id| loaded.remove(id)).collect();
    Ok(Listed { total, window, items })
}

/// Who an entry of LiteLLM belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// litellm-updater (this installation's `managed_by`).
    Ours,
    /// Owned, but written by the Python tool (adopted).
    Python,
    /// Declared in LiteLLM's config file (not in its database): never touched.
    ConfigFile,
    /// Added to LiteLLM's database by someone else: never touched.
    Others,
}

impl Owner {
    pub const ALL: &[Self] = &[Self::Ours, Self::Python, Self::ConfigFile, Self::Others];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ours => "ours",
            Self::Python => "python",
            Self::ConfigFile => "config",
            Self::Others => "others",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|o| o.as_str() == text.trim().to_ascii_lowercase())
    }
}

/// An entry's [`Owner`] in SQL (`e` is `litellm_entries`; `managed_by` the parameter bound to
/// [`crate::desired::MANAGED_BY`]).
fn owner_sql(dialect: Dialect, managed_by: &str) -> String {
    format!(
        "CASE WHEN e.owned THEN \
           (CASE WHEN {} IS NOT DISTINCT FROM {managed_by} THEN 'ours' ELSE 'python' END) \
         WHEN {} THEN 'others' ELSE 'config' END",
        dialect.json_text("e.entry", &["model_info", "managed_by"]),
        dialect.json_is_true("e.entry", &["model_info", "db_model"]),
    )
}

sort_keys! {
    /// What the LiteLLM entries are sorted by (`sort=`); the first is the default.
    EntrySort {
        ModelName = "model_name",
        Id = "id",
        Model = "model",
        Owner = "owner",
        Provider = "provider",
    }
}

/// The LiteLLM list's filters, order and page.
#[derive(Debug, Clone)]
pub struct EntryList {
    /// Case-insensitive substring of `model_name` or the deployment id (both in one index: a
    /// search never parses 20,000 entries' JSON).
    pub q: Option<String>,
    pub owner: Option<Owner>,
    /// Entries of this provider's models.
    pub provider_id: Option<i64>,
    pub sort: EntrySort,
    pub direction: Direction,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    pub past_the_end: PastTheEnd,
}

impl Default for EntryList {
    fn default() -> Self {
        Self {
            q: None,
            owner: None,
            provider_id: None,
            sort: EntrySort::default(),
            direction: Direction::default(),
            page: None,
            per_page: None,
            past_the_end: PastTheEnd::Empty,
        }
    }
}

/// One deployment of the worker's latest LiteLLM snapshot, with its owner and our model, if any.
#[derive(Debug, Clone, FromRow)]
pub struct ListedEntry {
    pub position: i64,
    pub litellm_id: Option<String>,
    pub model_name: String,
    pub owned: bool,
    #[sqlx(try_from = "String")]
    pub owner: OwnerText,
    pub entry: Json<Value>,
    pub model_row_id: Option<i64>,
    pub provider_name: Option<String>,
}

impl ListedEntry {
    pub fn owner(&self) -> Owner {
        self.owner.0
    }

    /// Whether litellm-updater may delete it.
    pub fn deletable(&self) -> bool {
        self.owned && self.litellm_id.is_some()
    }
}

/// [`Owner`] as the SQL of this module spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerText(pub Owner);

impl TryFrom<String> for OwnerText {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Owner::parse(&text).map(OwnerText).ok_or_else(|| format!("unknown owner {text:?}"))
    }
}

/// How many entries the snapshot holds, and how many of them litellm-updater may delete.
pub async fn entry_counts(db: &Database) -> Result<(i64, i64), DbError> {
    const SQL: &str =
        "SELECT COUNT(*), COUNT(CASE WHEN owned AND litellm_id IS NOT NULL THEN 1 END) FROM litellm_entries";
    Ok(with_pool!(db, pool => sqlx::query_as(SQL).fetch_one(pool).await?))
}

/// One page of the snapshot's entries matching `query`, in its order.
pub async fn entries(db: &Database, query: &EntryList) -> Result<Listed<ListedEntry>, DbError> {
    let dialect = db.dialect();
    let owner = owner_sql(dialect, "$4");
    let (text_key, join) = match query.sort {
        EntrySort::ModelName => ("e.model_name".to_owned(), ""),
        EntrySort::Id => ("e.litellm_id".to_owned(), ""),
        EntrySort::Model => (dialect.json_text("e.entry", &["litellm_params", "model"]), ""),
        EntrySort::Owner => (owner.clone(), ""),
        EntrySort::Provider => (
            "p.name".to_owned(),
            "LEFT JOIN models m ON m.litellm_model_id = e.litellm_id LEFT JOIN providers p ON p.id = m.provider_id",
        ),
    };
    let q = lowered(query.q.as_deref());
    // As for models: only the filters given are in the SQL.
    let when = |given: bool, condition: String, unused: &str| if given { condition } else { unused.to_owned() };
    let sql = format!(
        "SELECT {} FROM litellm_entries e {join} WHERE {} AND {} AND {} AND $4 IS NOT NULL",
        dialect.json_rows(&["e.position", "e.model_name", &text_key]),
        when(
            q.is_some(),
            format!(
                "({} OR {})",
                dialect.contains_ignoring_case("e.model_name", "$1"),
                dialect.contains_ignoring_case("COALESCE(e.litellm_id, '')", "$1")
            ),
            "$1 IS NULL"
        ),
        when(query.owner.is_some(), format!("({owner}) = $2"), "$2 IS NULL"),
        when(
            query.provider_id.is_some(),
            "e.litellm_id IN (SELECT litellm_model_id FROM models WHERE provider_id = $3)".to_owned(),
            "$3 IS NULL"
        ),
    );
    let rows: String = with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(&q)
        .bind(query.owner.map(Owner::as_str))
        .bind(query.provider_id)
        .bind(crate::desired::MANAGED_BY)
        .fetch_one(pool)
        .await?);
    let rows: Vec<(i64, String, Option<String>)> = keys_of(&rows)?;

    let total = rows.len();
    let window = window(total, query.page, query.per_page, query.past_the_end);
    let keys: Vec<SortKey> = rows
        .into_iter()
        .map(|(position, model_name, text)| {
            let (primary, secondary) = match query.sort {
                EntrySort::ModelName => (natural_key(&model_name), Vec::new()),
                _ => (natural_key(text.as_deref().unwrap_or("")), natural_key(&model_name)),
            };
            SortKey { number: None, primary, rank: 0, secondary, id: position }
        })
        .collect();
    let positions = page_ids(keys, query.direction, &window);

    let sql = format!(
        "SELECT e.position, e.litellm_id, e.model_name, e.owned, {} AS owner, e.entry, \
           CAST(NULL AS BIGINT) AS model_row_id, CAST(NULL AS TEXT) AS provider_name \
         FROM litellm_entries e WHERE e.position IN {}",
        owner_sql(dialect, "$2"),
        dialect.json_integers("$1"),
    );
    let mut rows: Vec<ListedEntry> = with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(Json(&positions))
        .bind(crate::desired::MANAGED_BY)
        .fetch_all(pool)
        .await?);
    // Our model of each entry, in one pass over `models` (its `litellm_model_id` has no index).
    let ids: Vec<&str> = rows.iter().filter_map(|e| e.litellm_id.as_deref()).collect();
    let sql = format!(
        "SELECT m.litellm_model_id, m.id, p.name FROM models m LEFT JOIN providers p ON p.id = m.provider_id \
         WHERE m.litellm_model_id IN {}",
        dialect.json_strings("$1")
    );
    let ours: Vec<(String, i64, Option<String>)> =
        with_pool!(db, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(Json(&ids)).fetch_all(pool).await?);
    let ours: HashMap<String, (i64, Option<String>)> =
        ours.into_iter().map(|(litellm_id, id, provider)| (litellm_id, (id, provider))).collect();
    for entry in &mut rows {
        if let Some((id, provider)) = entry.litellm_id.as_ref().and_then(|l| ours.get(l)) {
            entry.model_row_id = Some(*id);
            entry.provider_name = provider.clone();
        }
    }
    let mut loaded: HashMap<i64, ListedEntry> = rows.into_iter().map(|e| (e.position, e)).collect();
    let items = positions.iter().filter_map(|p| loaded.remove(p)).collect();
    Ok(Listed { total, window, items })
}
