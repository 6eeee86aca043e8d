//! `litellm-sync copy-db` with the real binary: SQLite → a real PostgreSQL and back, compared
//! value by value.

use std::collections::BTreeMap;
use std::process::Stdio;

use serde_json::{Value, json};
use shared::Database;
use shared::Secret;
use shared::db::providers::{self, NewProvider};
use shared::db::{Backend, Location, config};
use shared::test_support::TestDatabase;
use shared::types::ProviderType;
use sqlx::{Column as _, Row as _, TypeInfo as _, ValueRef as _};

const PROVIDER_KEY: &str = "sk-provider-key-7781";
const PASSWORD: &str = "pw-never-shown-5521";

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn copy_db(from: &str, to: &str) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_litellm-sync"))
        .args(["copy-db", "--from", from, "--to", to])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run litellm-sync copy-db");
    let run = Run {
        ok: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    for secret in [PROVIDER_KEY, PASSWORD] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{secret} shown:\n{}{}",
            run.stdout,
            run.stderr
        );
    }
    run
}

/// The PostgreSQL URL with a password in it (the test server trusts, so any password works).
fn with_password(location: &Location) -> String {
    let mut url = url::Url::parse(&location.to_url()).expect("test url");
    url.set_password(Some(PASSWORD)).expect("password");
    url.to_string()
}

/// Every row of every table, by column name, booleans as 0/1 and ordered by the first column.
async fn dump(db: &Database) -> BTreeMap<String, Vec<BTreeMap<String, Value>>> {
    let mut all = BTreeMap::new();
    match db.backend() {
        Backend::Sqlite => {
            let pool = db.sqlite_file_pool_for_tests();
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> '_sqlx_migrations'",
            )
            .fetch_all(pool)
            .await
            .expect("tables");
            for table in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY 1")))
                    .fetch_all(pool)
                    .await
                    .expect("rows");
                let rows = rows
                    .iter()
                    .map(|row| {
                        row.columns()
                            .iter()
                            .map(|c| {
                                let i = c.ordinal();
                                let raw = row.try_get_raw(i).expect("raw");
                                let value = match raw.type_info().name() {
                                    _ if raw.is_null() => Value::Null,
                                    "INTEGER" => json!(row.try_get_unchecked::<i64, _>(i).expect("int")),
                                    "REAL" => json!(row.try_get_unchecked::<f64, _>(i).expect("real")),
                                    "TEXT" => json!(row.try_get_unchecked::<String, _>(i).expect("text")),
                                    other => panic!("{table}.{} holds {other}", c.name()),
                                };
                                (c.name().to_owned(), value)
                            })
                            .collect()
                    })
                    .collect();
                all.insert(table, rows);
            }
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&db_url(db)).await.expect("connect");
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
            )
            .fetch_all(&pool)
            .await
            .expect("tables");
            for table in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table} ORDER BY 1")))
                    .fetch_all(&pool)
                    .await
                    .expect("rows");
                let rows = rows
                    .iter()
                    .map(|row| {
                        row.columns()
                            .iter()
                            .map(|c| {
                                let i = c.ordinal();
                                let value = match c.type_info().name() {
                                    "INT8" => json!(row.try_get::<Option<i64>, _>(i).expect("int")),
                                    "BOOL" => json!(row.try_get::<Option<bool>, _>(i).expect("bool").map(i64::from)),
                                    "FLOAT8" => json!(row.try_get::<Option<f64>, _>(i).expect("float")),
                                    "TEXT" => json!(row.try_get::<Option<String>, _>(i).expect("text")),
                                    other => panic!("{table}.{} is {other}", c.name()),
                                };
                                (c.name().to_owned(), value)
                            })
                            .collect()
                    })
                    .collect();
                all.insert(table, rows);
            }
            pool.close().await;
        }
    }
    all
}

fn db_url(db: &Database) -> String {
    // describe() masks a password; the test URLs carry none.
    db.describe()
}

/// A SQLite database with a row in most tables and the awkward values: JSON, booleans both
/// ways, NULLs, unicode, integers past 2^53.
async fn filled_sqlite(path: &std::path::Path) -> Database {
    let db = Database::open(path).await.expect("open");
    db.migrate().await.expect("migrate");
    config::set_litellm(&db, Some("http://litellm.test:4000"), Some(&Secret::new("sk-master-9090")))
        .await
        .expect("config");
    let mut lab = NewProvider::new("läb-ünïcode 🚀", ProviderType::Ollama, "http://127.0.0.1:9");
    lab.api_key = Some(PROVIDER_KEY.to_owned());
    lab.tags = vec!["gpu".into(), "zürich".into()];
    lab.sync_enabled = false;
    let lab = providers::insert(&db, &lab).await.expect("provider");
    let other = providers::insert(&db, &NewProvider::new("other", ProviderType::Openai, "http://127.0.0.1:10"))
        .await
        .expect("provider");
    let pool = db.sqlite_file_pool_for_tests();
    let statements = [
        format!(
            "INSERT INTO models (id, provider_id, model_id, context_window, raw_metadata, capabilities, user_params, \
             sync_enabled, user_modified, is_orphaned, mapped_provider_id) VALUES \
             (41, {}, 'llama3.2:3b', 9007199254740993, '{{\"details\":{{\"family\":\"llama\",\"q\":\"Q4_K_M\"}},\"ß\":[1,2.5,null]}}', \
              '[\"chat\",\"tools\"]', NULL, 0, 1, 0, NULL), \
             (57, {}, 'gpt-4o', NULL, '{{}}', '[]', '{{\"temperature\":0.2}}', 1, 0, 1, {})",
            lab.id, other.id, lab.id
        ),
        "INSERT INTO pricing_profiles (name, input_cost_per_token, output_cost_per_token) VALUES ('cheap', 0.000000123, 0)".into(),
        "INSERT INTO route_groups (id, name, capabilities, auto_context_fallback) VALUES (3, 'smart', '[\"chat\"]', 1)".into(),
        format!("INSERT INTO route_targets (group_id, provider_id, model_id, weight, priority, enabled) VALUES (3, {}, 'llama3.2:3b', 2, 1, 0)", lab.id),
        "INSERT INTO route_fallbacks (model_name, fallback_type, fallback_models) VALUES ('smart', 'general', '[\"gpt-4o\"]')".into(),
        "INSERT INTO adoption_notes (outcome, subject, note) VALUES ('changed', 'provider «x»', 'renamed')".into(),
        "INSERT INTO jobs (id, kind, payload, status, attempts) VALUES (9000000000, 'sync_all', '{\"a\":1}', 'done', 2)".into(),
        format!("INSERT INTO sync_runs (provider_id, provider_name, kind, trigger, job_id, status, models_seen) VALUES ({}, 'läb', 'fetch', 'once', 9000000000, 'ok', 2)", lab.id),
        "INSERT INTO sessions (id_hash, token_fingerprint, expires_at) VALUES ('h1', 'f1', 4102444800)".into(),
        "INSERT INTO litellm_snapshot (id, taken_at) VALUES (1, '2026-12-02T10:00:00.000Z')".into(),
        "INSERT INTO litellm_entries (position, litellm_id, model_name, owned, entry) VALUES (1, 'abc', 'llama', 1, '{\"model_name\":\"llama\"}'), (2, NULL, 'foreign', 0, '{}')".into(),
        "INSERT INTO litellm_health (id, ok, reason, detail, checked_at) VALUES (1, 0, 'unreachable', NULL, '2026-12-02T10:00:00.000Z')".into(),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone())).execute(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    db
}

#[tokio::test]
async fn sqlite_to_postgres_and_back_keeps_every_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_path = dir.path().join("models.db");
    let source = filled_sqlite(&sqlite_path).await;
    let before = dump(&source).await;
    let from = format!("sqlite://{}", sqlite_path.display());
    let pg = TestDatabase::on(Backend::Postgres).await;
    let to = with_password(pg.location());

    let run = copy_db(&from, &to).await;
    assert!(run.ok, "copy-db failed:\n{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("providers") && run.stdout.contains("legacy_adoption"), "{}", run.stdout);
    assert!(
        run.stdout.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["models", "2", "rows"]),
        "{}",
        run.stdout
    );

    let target = pg.connect().await;
    let copied = dump(&target).await;
    for (table, rows) in &copied {
        let source_rows = &before[table];
        assert_eq!(rows.len(), source_rows.len(), "{table}: row count");
        for (copied_row, source_row) in rows.iter().zip(source_rows) {
            for (column, value) in copied_row {
                assert_eq!(Some(value), source_row.get(column), "{table}.{column}");
            }
        }
    }
    for table in
        ["providers", "models", "route_targets", "jobs", "sessions", "litellm_entries", "config", "pricing_profiles"]
    {
        assert!(!copied[table].is_empty(), "{table} was filled and copied");
    }
    assert_eq!(copied["models"][0]["context_window"], json!(9007199254740993_i64));
    assert_eq!(copied["config"][0]["litellm_api_key"], before["config"][0]["litellm_api_key"]);

    // A second copy onto the now filled target is refused and changes nothing.
    let again = copy_db(&from, &to).await;
    assert!(!again.ok, "a second copy-db succeeded:\n{}", again.stdout);
    assert!(
        again.stderr.contains("copy-db only fills an empty database") && again.stderr.contains("providers"),
        "{}",
        again.stderr
    );
    assert_eq!(dump(&target).await, copied);

    // PostgreSQL back into a new SQLite file: the same rows as the original.
    let back_path = dir.path().join("back.db");
    let back = copy_db(&with_password(pg.location()), &format!("sqlite://{}", back_path.display())).await;
    assert!(back.ok, "copy-db back failed:\n{}\n{}", back.stdout, back.stderr);
    let round_trip = Database::open(&back_path).await.expect("open copy");
    assert_eq!(dump(&round_trip).await, before);

    // The identities moved past the copied ids.
    let pool = sqlx::PgPool::connect(&pg.location().to_url()).await.expect("connect");
    let max: i64 = sqlx::query_scalar("SELECT MAX(id) FROM providers").fetch_one(&pool).await.expect("max");
    let fresh: i64 = sqlx::query_scalar(
        "INSERT INTO providers (name, base_url, type) VALUES ('new', 'http://x', 'openai') RETURNING id",
    )
    .fetch_one(&pool)
    .await
    .expect("insert after the copy");
    assert!(fresh > max, "fresh id {fresh} after copied {max}");
    let job: i64 = sqlx::query_scalar("INSERT INTO jobs (kind) VALUES ('sync_all') RETURNING id")
        .fetch_one(&pool)
        .await
        .expect("job");
    assert_eq!(job, 9000000001);
    pool.close().await;
}

#[tokio::test]
async fn the_same_database_as_both_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("models.db");
    filled_sqlite(&path).await;
    let url = format!("sqlite://{}", path.display());
    let run = copy_db(&url, &format!("sqlite://{}/./models.db", dir.path().display())).await;
    assert!(!run.ok && run.stderr.contains("the same database"), "{}", run.stderr);
}

#[tokio::test]
async fn a_source_behind_the_schema_is_migrated_first_and_says_so() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    // A file no migration has run on yet: the oldest schema there is.
    Database::open(&path).await.expect("create").close().await;
    let pg = TestDatabase::on(Backend::Postgres).await;
    let run = copy_db(&format!("sqlite://{}", path.display()), &pg.location().to_url()).await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    let source_line = run.stdout.lines().next().unwrap_or_default();
    assert!(
        source_line.contains("migrated to schema version") && source_line.contains("(applied 1, 2"),
        "{}",
        run.stdout
    );
}
