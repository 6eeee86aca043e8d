//! Both backends hold the same schema, and the test databases behave as the suites rely on:
//! fresh and empty per test, on the backend asked for, gone after the test, and a PostgreSQL
//! that cannot be reached fails the test instead of skipping it.

use std::collections::BTreeMap;

use shared::backend_test;
use shared::db::{Backend, Location};
use shared::test_support::TestDatabase;
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

/// Tables only the SQLite schema has: `legacy_adoption` records adopting a Python
/// litellm-updater file in place, which happens on SQLite only.
const SQLITE_ONLY: &[&str] = &["legacy_adoption"];

/// The 0/1 flag columns of SQLite, BOOLEAN on PostgreSQL. Every other SQLite INTEGER is BIGINT.
const FLAGS: &[(&str, &str)] = &[
    ("litellm_entries", "owned"),
    ("litellm_entries_staged", "owned"),
    ("litellm_health", "ok"),
    ("models", "is_orphaned"),
    ("models", "sync_enabled"),
    ("models", "user_modified"),
    ("providers", "auto_detect_fim"),
    ("providers", "sync_enabled"),
    ("route_groups", "auto_context_fallback"),
    ("route_targets", "enabled"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    name: String,
    /// The PostgreSQL type the column has, or should have for the SQLite one.
    kind: String,
    nullable: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    tables: BTreeMap<String, Vec<Column>>,
    indexes: Vec<String>,
}

/// A pool of sqlx's own on a test database, to read its catalogue.
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    async fn open(location: &Location) -> Self {
        match location {
            Location::Sqlite(_) => Self::Sqlite(SqlitePool::connect(&location.to_url()).await.expect("sqlite pool")),
            Location::Postgres(_) => Self::Postgres(PgPool::connect(&location.to_url()).await.expect("postgres pool")),
        }
    }

    async fn count(&self, sql: &'static str) -> i64 {
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
            Self::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
        }
    }

    async fn execute(&self, sql: &'static str) {
        match self {
            Self::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop).expect(sql),
            Self::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop).expect(sql),
        }
    }

    async fn schema(&self) -> Schema {
        let mut schema = Schema::default();
        match self {
            Self::Sqlite(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' \
                     AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> '_sqlx_migrations' ORDER BY name",
                )
                .fetch_all(pool)
                .await
                .expect("sqlite tables");
                for table in tables.into_iter().filter(|t| !SQLITE_ONLY.contains(&t.as_str())) {
                    let rows: Vec<(String, String, bool, i64)> =
                        sqlx::query_as("SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid")
                            .bind(&table)
                            .fetch_all(pool)
                            .await
                            .expect("sqlite columns");
                    let columns = rows
                        .into_iter()
                        .map(|(name, kind, not_null, pk)| {
                            let kind = match kind.as_str() {
                                "INTEGER" if FLAGS.contains(&(table.as_str(), name.as_str())) => "boolean",
                                "INTEGER" => "bigint",
                                "REAL" => "double precision",
                                "TEXT" => "text",
                                other => panic!("{table}.{name} has a type the comparison does not know: {other}"),
                            };
                            // A primary key is never NULL on PostgreSQL; SQLite only says so for
                            // an INTEGER one, whatever the column's declaration.
                            Column { name, kind: kind.into(), nullable: !not_null && pk == 0 }
                        })
                        .collect();
                    schema.tables.insert(table, columns);
                }
                schema.indexes = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
                )
                .fetch_all(pool)
                .await
                .expect("sqlite indexes");
            }
            Self::Postgres(pool) => {
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
                     FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
                     ORDER BY table_name, ordinal_position",
                )
                .fetch_all(pool)
                .await
                .expect("postgres columns");
                for (table, name, kind, nullable) in rows {
                    schema.tables.entry(table).or_default().push(Column { name, kind, nullable: nullable == "YES" });
                }
                // Indexes created as such, not those behind a PRIMARY KEY or UNIQUE constraint
                // (SQLite does not list those either).
                schema.indexes = sqlx::query_scalar(
                    "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
                     AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname",
                )
                .fetch_all(pool)
                .await
                .expect("postgres indexes");
            }
        }
        schema
    }
}

async fn migrated(backend: Backend) -> (TestDatabase, shared::Database, Raw) {
    let test_db = TestDatabase::on(backend).await;
    let db = test_db.open().await;
    let raw = Raw::open(test_db.location()).await;
    (test_db, db, raw)
}

#[tokio::test]
async fn both_backends_build_the_same_schema_at_the_same_version() {
    let (_sqlite_db, sqlite, sqlite_raw) = migrated(Backend::Sqlite).await;
    let (_postgres_db, postgres, postgres_raw) = migrated(Backend::Postgres).await;

    let (expected, found) = (sqlite_raw.schema().await, postgres_raw.schema().await);
    assert!(expected.tables.len() >= 17, "the SQLite catalogue was not read: {:?}", expected.tables.keys());
    let names = |schema: &Schema| schema.tables.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&found), names(&expected), "tables: a migration was added to one backend only");
    let names_of = |columns: &[Column]| columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    for (table, columns) in &expected.tables {
        let found = &found.tables[table];
        assert_eq!(names_of(found), names_of(columns), "the columns of {table} differ (PostgreSQL, SQLite)");
        for (found, expected) in found.iter().zip(columns) {
            assert_eq!(found, expected, "{table}.{} differs (PostgreSQL, SQLite)", expected.name);
        }
    }
    assert_eq!(found.indexes, expected.indexes, "indexes differ between SQLite and PostgreSQL");
    for (table, column) in FLAGS {
        assert!(expected.tables.get(*table).is_some_and(|c| c.iter().any(|c| c.name == *column)), "{table}.{column}");
    }

    let (sqlite_status, postgres_status) =
        (sqlite.schema_status().await.expect("sqlite status"), postgres.schema_status().await.expect("pg status"));
    assert!(sqlite_status.is_current(), "{sqlite_status:?}");
    assert_eq!(postgres_status, sqlite_status, "both backends report the same schema version");
    assert!(postgres_status.is_current());
}

backend_test!(a_migrated_database_is_at_the_current_schema, |db| async move {
    let status = db.schema_status().await.expect("status");
    assert!(status.is_current(), "{status:?}");
    assert_eq!(status.applied, Some(status.known));
});

// shared/tests/db.rs's test of the same name, on both backends (rows written in SQL until the
// store's PostgreSQL side writes providers).
backend_test!(
    migrating_twice_is_a_no_op,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let raw = Raw::open(test_db.location()).await;
            raw.execute("INSERT INTO providers (name, base_url, type) VALUES ('lab', 'http://lab:11434', 'ollama')")
                .await;
            let migrations = raw.count("SELECT COUNT(*) FROM _sqlx_migrations").await;

            let again = db.migrate().await.expect("second migrate");

            assert!(again.applied.is_empty(), "{:?}", again.applied);
            assert!(again.adopted.is_none());
            assert_eq!(raw.count("SELECT COUNT(*) FROM _sqlx_migrations").await, migrations);
            assert_eq!(raw.count("SELECT COUNT(*) FROM providers WHERE name = 'lab'").await, 1);
            assert!(db.schema_status().await.expect("status").is_current());
        }
);

backend_test!(
    a_fresh_database_has_the_one_config_row_and_the_seeded_defaults,
    empty
        | test_db
        | async move {
            let _db = test_db.open().await;
            let raw = Raw::open(test_db.location()).await;
            assert_eq!(raw.count("SELECT COUNT(*) FROM config").await, 1);
            assert_eq!(raw.count("SELECT COUNT(*) FROM config WHERE id = 1 AND sync_interval_seconds = 300").await, 1);
            assert_eq!(raw.count("SELECT COUNT(*) FROM config WHERE length(installation_id) = 32").await, 1);
            // The seeded defaults: an enabled provider, a model neither modified nor orphaned.
            raw.execute("INSERT INTO providers (name, base_url, type) VALUES ('lab', 'http://lab:11434', 'ollama')")
                .await;
            raw.execute("INSERT INTO models (provider_id, model_id) SELECT id, 'llama3' FROM providers").await;
            let flags = "SELECT COUNT(*) FROM models JOIN providers ON providers.id = models.provider_id \
                 WHERE providers.sync_enabled = TRUE AND providers.auto_detect_fim = TRUE \
                 AND models.sync_enabled = TRUE AND models.user_modified = FALSE AND models.is_orphaned = FALSE \
                 AND models.created_at LIKE '____-__-__T__:__:__.___Z'";
            assert_eq!(raw.count(flags).await, 1);
        }
);

backend_test!(
    each_test_database_is_empty_its_own_and_gone_afterwards,
    empty
        | test_db
        | async move {
            let backend = test_db.backend();
            let other = TestDatabase::on(backend).await;
            assert_ne!(test_db.location(), other.location());
            let (db, other_db) = (test_db.open().await, other.open().await);
            assert_eq!(db.backend(), backend);
            let (raw, other_raw) = (Raw::open(test_db.location()).await, Raw::open(other.location()).await);
            raw.execute("INSERT INTO providers (name, base_url, type) VALUES ('lab', 'http://lab:11434', 'ollama')")
                .await;
            assert_eq!(raw.count("SELECT COUNT(*) FROM providers").await, 1);
            assert_eq!(other_raw.count("SELECT COUNT(*) FROM providers").await, 0, "the databases are not separate");

            let other_location = other.location().clone();
            drop((other_db, other_raw));
            drop(other);
            match &other_location {
                Location::Sqlite(path) => assert!(!path.exists(), "{} is left behind", path.display()),
                Location::Postgres(url) => {
                    let name = url.rsplit('/').next().expect("a database name").to_owned();
                    let admin = PgPool::connect(&shared::test_support::postgres_admin_url()).await.expect("admin");
                    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
                        .bind(&name)
                        .fetch_one(&admin)
                        .await
                        .expect("pg_database");
                    assert_eq!(left, 0, "the database {name} is left behind");
                    assert!(name.starts_with(&format!("lu_test_{}_", std::process::id())), "{name}");
                }
            }
        }
);

// A failing body fails both tests (and the attributes before the name reach both).
backend_test!(
    #[should_panic(expected = "the body failed")]
    a_failing_body_fails_the_test,
    |_db| async move { panic!("the body failed") }
);

#[tokio::test]
async fn an_unreachable_postgresql_fails_the_test_and_says_what_to_do() {
    let error = tokio::spawn(TestDatabase::on_postgres("postgres://postgres:hunter2@127.0.0.1:1/postgres"))
        .await
        .expect_err("no server listens on port 1");
    let message = error.into_panic().downcast::<String>().map(|m| *m).unwrap_or_default();
    assert!(message.contains("start PostgreSQL or run ./scripts/test"), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("hunter2"), "the password is shown: {message}");
}

#[test]
fn test_database_picks_the_backend_test_database_names() {
    // Only reads: the variable is the caller's, and tests run in threads of one process.
    let expected = match std::env::var("TEST_DATABASE").as_deref() {
        Ok("postgres") | Ok("postgresql") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    assert_eq!(shared::test_support::backend_from_env(), expected);
}
