//! The few SQL fragments SQLite and PostgreSQL spell differently. Everything else the store
//! writes once, in the dialect both understand: `$1` placeholders, `TRUE`/`FALSE`,
//! `ON CONFLICT … DO …`, `RETURNING`, `IS NOT DISTINCT FROM`, `NULLS FIRST/LAST`, timestamps
//! bound from Rust ([`super::now_timestamp`]) and JSON kept as text.

use std::future::Future;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

// Used by the store modules as they move to both backends.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

#[allow(dead_code)]
impl Dialect {
    /// The strings of a JSON array held in `param` (text), as a sub-select of one column `value`.
    pub fn json_strings(self, param: &str) -> String {
        match self {
            Self::Sqlite => format!("(SELECT value FROM json_each({param}))"),
            Self::Postgres => {
                format!("(SELECT value FROM jsonb_array_elements_text(CAST({param} AS jsonb)) AS e(value))")
            }
        }
    }

    /// The integers of a JSON array held in `param` (text), as a sub-select of one column `value`.
    pub fn json_integers(self, param: &str) -> String {
        match self {
            Self::Sqlite => format!("(SELECT value FROM json_each({param}))"),
            Self::Postgres => format!(
                "(SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST({param} AS jsonb)) AS e(value))"
            ),
        }
    }

    /// The text at `path` (object keys) inside the JSON text `expr`; NULL when absent.
    pub fn json_text(self, expr: &str, path: &[&str]) -> String {
        match self {
            Self::Sqlite => format!("json_extract({expr}, '$.{}')", path.join(".")),
            Self::Postgres => format!("(CAST({expr} AS jsonb) #>> '{{{}}}')", path.join(",")),
        }
    }

    /// Whether the JSON text `expr` holds `true` at `path`.
    pub fn json_is_true(self, expr: &str, path: &[&str]) -> String {
        match self {
            Self::Sqlite => format!("(json_type({expr}, '$.{}') = 'true')", path.join(".")),
            Self::Postgres => format!("(CAST({expr} AS jsonb) #> '{{{}}}' = 'true'::jsonb)", path.join(",")),
        }
    }

    /// Whether the JSON array text `expr` has the string `needle` among its elements.
    pub fn json_array_has(self, expr: &str, needle: &str) -> String {
        match self {
            Self::Sqlite => format!("EXISTS (SELECT 1 FROM json_each({expr}) j WHERE j.value = {needle})"),
            Self::Postgres => format!("(CAST({expr} AS jsonb) ? {needle})"),
        }
    }

    /// The JSON text `expr` without its top-level `key`.
    pub fn json_without_key(self, expr: &str, key: &str) -> String {
        match self {
            Self::Sqlite => format!("json_remove({expr}, '$.{key}')"),
            Self::Postgres => format!("CAST(CAST({expr} AS jsonb) - '{key}' AS TEXT)"),
        }
    }

    /// One JSON array (text) of per-row arrays of `items`, `[]` for no rows: an aggregate.
    pub fn json_rows(self, items: &[&str]) -> String {
        let items = items.join(", ");
        match self {
            Self::Sqlite => format!("json_group_array(json_array({items}))"),
            Self::Postgres => format!("COALESCE(CAST(json_agg(json_build_array({items})) AS TEXT), '[]')"),
        }
    }

    /// Whether `needle` occurs in `haystack`, ignoring ASCII case.
    pub fn contains_ignoring_case(self, haystack: &str, needle: &str) -> String {
        match self {
            Self::Sqlite => format!("instr(lower({haystack}), lower({needle})) > 0"),
            Self::Postgres => format!("strpos(lower({haystack}), lower({needle})) > 0"),
        }
    }
}

// Lease and jobs (the lead): the lease compares times on the database server's clock, so that
// workers on machines whose clocks differ agree on when it expires.
#[allow(dead_code)]
impl Dialect {
    /// The server's "now" in the schema's timestamp format.
    pub fn now(self) -> &'static str {
        match self {
            Self::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            Self::Postgres => "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')",
        }
    }

    /// The server's "now" plus the seconds (a float) bound at `param`.
    pub fn now_plus_seconds(self, param: &str) -> String {
        match self {
            Self::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('%+.3f seconds', {param}))"),
            Self::Postgres => format!(
                "to_char((clock_timestamp() + make_interval(secs => {param})) AT TIME ZONE 'UTC', \
                 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            ),
        }
    }

    /// Row locking for a claim: other claimers skip a row one of them holds (SQLite has one
    /// writer at a time, so a single statement is already atomic there).
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

/// A write transaction. SQLite must take its write lock up front (`BEGIN IMMEDIATE`), or two
/// readers that both start writing deadlock into SQLITE_BUSY; PostgreSQL locks per row.
#[allow(dead_code)]
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(&self) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_name_their_arguments_in_both_dialects() {
        for dialect in [Dialect::Sqlite, Dialect::Postgres] {
            assert!(dialect.json_strings("$2").contains("$2"));
            assert!(dialect.json_text("e.entry", &["model_info", "id"]).contains("e.entry"));
            assert!(dialect.json_rows(&["m.id", "m.model_id"]).contains("m.id, m.model_id"));
        }
        assert_eq!(Dialect::Postgres.json_text("x", &["a", "b"]), "(CAST(x AS jsonb) #>> '{a,b}')");
        assert_eq!(Dialect::Sqlite.json_text("x", &["a", "b"]), "json_extract(x, '$.a.b')");
    }
}
