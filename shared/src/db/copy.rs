//! Copying every row of one database into another, empty one (`litellm-sync copy-db`): a SQLite
//! file into PostgreSQL to move an install, or back. Both are migrated to the same schema first;
//! the columns come from the catalogs, so a table added by a later migration is copied too.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, TypeInfo as _, ValueRef as _};

use super::dialect::BeginWrite as _;
use super::with_pool;
use super::{Backend, Database, DbError, Location, PoolRef};

/// Tables in an order that inserts every referenced row before the rows referring to it. A table
/// the catalog lists that is not here comes after these, by name.
const ORDER: &[&str] = &[
    "config",
    "providers",
    "models",
    "pricing_profiles",
    "route_groups",
    "route_targets",
    "route_fallbacks",
    "pushed_fallbacks",
    "adoption_notes",
    "jobs",
    "sync_runs",
    "sessions",
    "litellm_snapshot",
    "litellm_entries",
    "litellm_entries_staged",
    "litellm_health",
    "worker_status",
    "worker_lease",
    "workers",
];

/// Single rows the migrations themselves insert: overwritten from the source, not a sign that the
/// target is in use.
const SEEDED: &[&str] = &["config", "worker_lease"];

/// Bound values per INSERT statement, under SQLite's and PostgreSQL's limits.
const PARAMETERS_PER_STATEMENT: usize = 900;

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Each target table with the rows copied into it, in the order copied.
    pub tables: Vec<(String, u64)>,
    /// Source tables the target has no table for (`legacy_adoption` exists on SQLite only).
    pub not_copied: Vec<String>,
}

impl CopyReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, rows)| rows).sum()
    }
}

/// How a column's values are read and bound, whatever the backend calls its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Boolean,
    Float,
    Text,
}

impl Kind {
    /// From a declared type: `BIGINT`, `boolean`, `double precision`, `REAL`, `TEXT`…
    fn of(declared: &str) -> Self {
        let declared = declared.to_ascii_uppercase();
        if declared.contains("BOOL") {
            Self::Boolean
        } else if declared.contains("INT") {
            Self::Integer
        } else if ["REAL", "DOUB", "FLOA", "NUMERIC", "DECIMAL"].iter().any(|t| declared.contains(t)) {
            Self::Float
        } else {
            Self::Text
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Integer(Option<i64>),
    Boolean(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
}

/// Binds one [`Value`] with its own type, NULLs included (PostgreSQL refuses a NULL of another type).
macro_rules! bind {
    ($query:expr, $value:expr) => {
        match $value {
            Value::Integer(v) => $query.bind(*v),
            Value::Boolean(v) => $query.bind(*v),
            Value::Float(v) => $query.bind(*v),
            Value::Text(v) => $query.bind(v.clone()),
        }
    };
}

struct Column {
    name: String,
    kind: Kind,
}

/// Whether `a` and `b` name the same database: the same SQLite file, or the same PostgreSQL
/// server, port and database (whoever connects).
pub fn same_database(a: &Location, b: &Location) -> bool {
    match (a, b) {
        (Location::Sqlite(a), Location::Sqlite(b)) => {
            let canonical = |path: &std::path::Path| {
                std::fs::canonicalize(path)
                    .or_else(|_| std::path::absolute(path))
                    .unwrap_or_else(|_| path.to_path_buf())
            };
            canonical(a) == canonical(b)
        }
        (Location::Postgres(a), Location::Postgres(b)) => {
            let place = |url: &str| {
                url::Url::parse(url).ok().map(|url| {
                    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
                    let host = if host == "localhost" { "127.0.0.1".to_owned() } else { host };
                    let database = url.path().trim_start_matches('/').to_owned();
                    let database = if database.is_empty() { url.username().to_owned() } else { database };
                    (host, url.port().unwrap_or(5432), database)
                })
            };
            place(a) == place(b) || a == b
        }
        _ => false,
    }
}

/// Copies every row of `source` into `target`, keeping ids, in one transaction on the target:
/// all of it or nothing. Both must be at the same schema version (migrate both first). Refuses a
/// target holding any row beyond those the migrations insert.
pub async fn copy(source: &Database, target: &Database) -> Result<CopyReport, DbError> {
    let (from, to) = (source.schema_status().await?, target.schema_status().await?);
    if from.applied != to.applied {
        return Err(DbError::Invalid(format!(
            "the source is at schema version {} and the target at {}; migrate both first",
            from.applied.unwrap_or(0),
            to.applied.unwrap_or(0)
        )));
    }
    let source_tables = tables(source).await?;
    let mut target_tables = tables(target).await?;
    target_tables.sort_by_key(|name| (ORDER.iter().position(|t| t == name).unwrap_or(ORDER.len()), name.clone()));

    let mut in_use = Vec::new();
    for table in target_tables.iter().filter(|t| !SEEDED.contains(&t.as_str())) {
        if has_rows(target, table).await? {
            in_use.push(table.clone());
        }
    }
    if !in_use.is_empty() {
        return Err(DbError::Invalid(format!(
            "the target database {} is not empty: {} {} rows; copy-db only fills an empty database \
             (create a new one, or drop and recreate this one, and run copy-db again)",
            target.describe(),
            in_use.join(", "),
            if in_use.len() == 1 { "holds" } else { "hold" },
        )));
    }

    let mut plan = Vec::new();
    for table in target_tables.iter().filter(|t| source_tables.contains(t)) {
        let source_columns = columns(source, table).await?;
        let columns: Vec<Column> = columns(target, table)
            .await?
            .into_iter()
            .filter_map(|(name, target_type)| {
                let source_type = source_columns.iter().find(|(n, _)| *n == name).map(|(_, t)| t)?;
                // PostgreSQL's types are the precise ones (SQLite keeps flags as INTEGER).
                let declared = match (target.backend(), source.backend()) {
                    (Backend::Sqlite, Backend::Postgres) => source_type,
                    _ => &target_type,
                };
                Some(Column { kind: Kind::of(declared), name })
            })
            .collect();
        if !columns.is_empty() {
            plan.push((table.clone(), columns));
        }
    }
    let not_copied = source_tables.iter().filter(|t| !target_tables.contains(t)).cloned().collect();

    let mut report = CopyReport { tables: Vec::new(), not_copied };
    let mut loaded = Vec::new();
    for (table, columns) in &plan {
        let rows = read_rows(source, table, columns).await?;
        loaded.push(rows);
    }
    match target.pool_ref() {
        PoolRef::Sqlite(pool) => {
            let mut tx = pool.begin_write().await?;
            for ((table, columns), rows) in plan.iter().zip(&loaded) {
                if SEEDED.contains(&table.as_str()) {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", quote(table)))).execute(&mut *tx).await?;
                }
                for batch in rows.chunks(rows_per_statement(columns.len())) {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_sql(table, columns, batch.len())));
                    for value in batch.iter().flatten() {
                        query = bind!(query, value);
                    }
                    query.execute(&mut *tx).await.map_err(|e| insert_error(table, e))?;
                }
                report.tables.push((table.clone(), rows.len() as u64));
            }
            tx.commit().await?;
        }
        PoolRef::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            for ((table, columns), rows) in plan.iter().zip(&loaded) {
                if SEEDED.contains(&table.as_str()) {
                    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", quote(table)))).execute(&mut *tx).await?;
                }
                for batch in rows.chunks(rows_per_statement(columns.len())) {
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(insert_sql(table, columns, batch.len())));
                    for value in batch.iter().flatten() {
                        query = bind!(query, value);
                    }
                    query.execute(&mut *tx).await.map_err(|e| insert_error(table, e))?;
                }
                report.tables.push((table.clone(), rows.len() as u64));
            }
            // The ids were inserted as given: each identity must move past the highest, or the
            // next insert collides with a copied row.
            for (table, _) in &plan {
                let identities: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'",
                )
                .bind(table)
                .fetch_all(&mut *tx)
                .await?;
                for column in identities {
                    let sql = format!(
                        "SELECT setval(pg_get_serial_sequence($1, $2), MAX({})) FROM {}",
                        quote(&column),
                        quote(table)
                    );
                    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(quote(table)).bind(&column).execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        }
    }
    Ok(report)
}

fn rows_per_statement(columns: usize) -> usize {
    (PARAMETERS_PER_STATEMENT / columns.max(1)).max(1)
}

fn insert_error(table: &str, error: sqlx::Error) -> DbError {
    DbError::Invalid(format!("cannot insert the rows of {table} into the target: {error}"))
}

fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)…` for `rows` rows.
fn insert_sql(table: &str, columns: &[Column], rows: usize) -> String {
    let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", quote(table), names.join(", "));
    let mut n = 0;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            n += 1;
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    sql
}

/// The application's tables (not the migrations' bookkeeping nor SQLite's own).
async fn tables(db: &Database) -> Result<Vec<String>, DbError> {
    Ok(match db.pool_ref() {
        PoolRef::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 AND name <> '_sqlx_migrations' ORDER BY name",
            )
            .fetch_all(pool)
            .await?
        }
        PoolRef::Postgres(pool) => {
            sqlx::query_scalar(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() \
                 AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY table_name",
            )
            .fetch_all(pool)
            .await?
        }
    })
}

/// Each column's name and declared type, in table order.
async fn columns(db: &Database, table: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(match db.pool_ref() {
        PoolRef::Sqlite(pool) => {
            sqlx::query_as("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(pool)
                .await?
        }
        PoolRef::Postgres(pool) => {
            sqlx::query_as(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(pool)
            .await?
        }
    })
}

async fn has_rows(db: &Database, table: &str) -> Result<bool, DbError> {
    let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quote(table));
    Ok(with_pool!(db, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await?))
}

async fn read_rows(db: &Database, table: &str, columns: &[Column]) -> Result<Vec<Vec<Value>>, DbError> {
    let names: Vec<String> = columns.iter().map(|c| quote(&c.name)).collect();
    let sql = format!("SELECT {} FROM {} ORDER BY 1", names.join(", "), quote(table));
    match db.pool_ref() {
        PoolRef::Sqlite(pool) => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter()
                .map(|row| columns.iter().enumerate().map(|(i, c)| sqlite_value(row, i, c, table)).collect())
                .collect()
        }
        PoolRef::Postgres(pool) => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
            rows.iter()
                .map(|row| columns.iter().enumerate().map(|(i, c)| postgres_value(row, i, c.kind)).collect())
                .collect()
        }
    }
}

/// SQLite keeps whatever was written: a value that is not of the column's kind stops the copy
/// rather than arrive as something else.
fn sqlite_value(row: &SqliteRow, i: usize, column: &Column, table: &str) -> Result<Value, DbError> {
    let raw = row.try_get_raw(i)?;
    let stored = raw.type_info().name().to_owned();
    let null = raw.is_null();
    let fits = null
        || match column.kind {
            Kind::Integer | Kind::Boolean => stored == "INTEGER",
            Kind::Float => stored == "REAL" || stored == "INTEGER",
            Kind::Text => stored == "TEXT",
        };
    if !fits {
        return Err(DbError::Invalid(format!(
            "{table}.{} holds a {stored} value where {:?} is expected; fix the row in the source and run copy-db again",
            column.name, column.kind
        )));
    }
    Ok(match column.kind {
        Kind::Integer => Value::Integer(row.try_get_unchecked(i)?),
        Kind::Boolean => Value::Boolean(row.try_get_unchecked::<Option<i64>, _>(i)?.map(|v| v != 0)),
        Kind::Float => Value::Float(row.try_get_unchecked(i)?),
        Kind::Text => Value::Text(row.try_get_unchecked(i)?),
    })
}

fn postgres_value(row: &PgRow, i: usize, kind: Kind) -> Result<Value, DbError> {
    Ok(match kind {
        Kind::Integer => Value::Integer(row.try_get(i)?),
        Kind::Boolean => Value::Boolean(row.try_get(i)?),
        Kind::Float => Value::Float(row.try_get(i)?),
        Kind::Text => Value::Text(row.try_get(i)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_of_both_backends_map_to_kinds() {
        let cases = [
            ("BIGINT", Kind::Integer),
            ("bigint", Kind::Integer),
            ("INTEGER", Kind::Integer),
            ("boolean", Kind::Boolean),
            ("double precision", Kind::Float),
            ("REAL", Kind::Float),
            ("TEXT", Kind::Text),
            ("text", Kind::Text),
            ("", Kind::Text),
        ];
        for (declared, kind) in cases {
            assert_eq!(Kind::of(declared), kind, "{declared}");
        }
    }

    #[test]
    fn same_database_sees_through_spellings_and_tells_different_ones_apart() {
        let pg = |url: &str| Location::Postgres(url.to_owned());
        let cases = [
            (pg("postgres://a:x@db/lu"), pg("postgres://b@db:5432/lu"), true),
            (pg("postgres://a@localhost/lu"), pg("postgresql://a@127.0.0.1/lu"), true),
            (pg("postgres://a@db/lu"), pg("postgres://a@db/other"), false),
            (pg("postgres://a@db/lu"), pg("postgres://a@db:6543/lu"), false),
            (Location::Sqlite("/tmp/a/models.db".into()), Location::Sqlite("/tmp/a/models.db".into()), true),
            (Location::Sqlite("/tmp/a.db".into()), pg("postgres://a@db/lu"), false),
        ];
        for (a, b, same) in cases {
            assert_eq!(same_database(&a, &b), same, "{a} / {b}");
        }
    }

    #[test]
    fn inserts_number_their_placeholders_across_rows() {
        let columns =
            [Column { name: "id".into(), kind: Kind::Integer }, Column { name: "na\"me".into(), kind: Kind::Text }];
        assert_eq!(insert_sql("t", &columns, 2), r#"INSERT INTO "t" ("id", "na""me") VALUES ($1, $2), ($3, $4)"#);
        assert_eq!(rows_per_statement(30), 30);
        assert_eq!(rows_per_statement(2000), 1);
    }
}
