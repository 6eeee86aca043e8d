//! Databases for tests, on either backend: a fresh, empty database per test, dropped with it.
//!
//! `TEST_DATABASE=postgres|sqlite` picks the backend of [`TestDatabase::new`] (SQLite when
//! unset); [`backend_test!`](crate::backend_test) runs one test body on both in the same
//! `cargo test`. PostgreSQL databases are created through the admin URL in `TEST_POSTGRES_URL`
//! (`scripts/test` sets it; by default the server on 127.0.0.1:5432 as `postgres`), named
//! `lu_test_<pid>_<n>` so that a sweep can tell a dead test process's leftovers from a live one's.
//! An unreachable server fails the test: a suite that skips itself proves nothing.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

use crate::Database;
use crate::db::{Backend, Location};

/// The admin URL when `TEST_POSTGRES_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long creating or dropping a database may take before the test fails.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

static NEXT: AtomicU64 = AtomicU64::new(1);

/// The backend `TEST_DATABASE` names, SQLite when it is unset or empty.
pub fn backend_from_env() -> Backend {
    match std::env::var("TEST_DATABASE").unwrap_or_default().trim().to_ascii_lowercase().as_str() {
        "" | "sqlite" => Backend::Sqlite,
        "postgres" | "postgresql" => Backend::Postgres,
        other => panic!("TEST_DATABASE must be sqlite or postgres (got {other:?})"),
    }
}

/// The admin URL the PostgreSQL test databases are created through.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .ok()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned())
}

/// One test's own empty database: a file in a temporary directory, or a PostgreSQL database of
/// its own. Dropping it removes the directory or drops the database (open connections too).
pub struct TestDatabase {
    location: Location,
    cleanup: Cleanup,
}

/// Its location only: the admin URL may hold a password.
impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestDatabase({})", self.location)
    }
}

enum Cleanup {
    Directory(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDatabase {
    /// A fresh database on the backend `TEST_DATABASE` names.
    pub async fn new() -> Self {
        Self::on(backend_from_env()).await
    }

    /// A fresh database on `backend`.
    pub async fn on(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let dir = std::env::temp_dir().join(format!("lu-test-{}-{n}", std::process::id()));
                // A directory left by an earlier process with the same pid is stale.
                let _ = std::fs::remove_dir_all(&dir);
                if let Err(error) = std::fs::create_dir_all(&dir) {
                    panic!("cannot create the test database directory {}: {error}", dir.display());
                }
                let location = Location::Sqlite(dir.join("litellm-updater.db"));
                Self { location, cleanup: Cleanup::Directory(dir) }
            }
            Backend::Postgres => Self::on_postgres(&postgres_admin_url()).await,
        }
    }

    /// A fresh PostgreSQL database, created through `admin_url`.
    pub async fn on_postgres(admin_url: &str) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("lu_test_{}_{n}", std::process::id());
        let url = database_url(admin_url, &name);
        admin(admin_url, &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
        admin(admin_url, &format!("CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")).await;
        Self { location: Location::Postgres(url), cleanup: Cleanup::Database { admin_url: admin_url.to_owned(), name } }
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn backend(&self) -> Backend {
        self.location.backend()
    }

    /// A connection pool on the database as it is (empty until migrated).
    pub async fn connect(&self) -> Database {
        match Database::connect(&self.location, 4).await {
            Ok(db) => db,
            Err(error) => panic!("cannot open the test database {}: {error}", self.location),
        }
    }

    /// A connection pool on the database at the current schema.
    pub async fn open(&self) -> Database {
        let db = self.connect().await;
        if let Err(error) = db.migrate().await {
            panic!("cannot migrate the test database {}: {error}", self.location);
        }
        db
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Directory(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                // Drop runs inside the test's runtime, which cannot be blocked on: the drop gets a
                // thread and a runtime of its own. A failure leaves the database to the sweep in
                // scripts/test; it is not worth failing a test that passed.
                let admin_url = admin_url.clone();
                let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    runtime.block_on(async {
                        let mut conn =
                            tokio::time::timeout(ADMIN_TIMEOUT, PgConnection::connect(&admin_url)).await.ok()?.ok()?;
                        let done = tokio::time::timeout(
                            ADMIN_TIMEOUT,
                            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn),
                        )
                        .await;
                        let _ = conn.close().await;
                        done.ok()?.ok()
                    })
                });
                let _ = dropped.join();
            }
        }
    }
}

/// `admin_url` with its database replaced by `name`.
fn database_url(admin_url: &str, name: &str) -> String {
    match url::Url::parse(admin_url) {
        Ok(mut url) => {
            url.set_path(&format!("/{name}"));
            url.to_string()
        }
        Err(error) => panic!("TEST_POSTGRES_URL is not a URL ({error}); expected {DEFAULT_POSTGRES_URL}"),
    }
}

/// Runs one statement as the PostgreSQL admin, failing the test in plain words when it cannot.
async fn admin(admin_url: &str, sql: &str) {
    let shown = Location::Postgres(admin_url.to_owned());
    fn unreachable(shown: &Location, error: String) -> ! {
        panic!(
            "cannot reach PostgreSQL for the tests at {shown} ({error}): start PostgreSQL or run \
             ./scripts/test (it starts one and sets TEST_POSTGRES_URL)"
        )
    }
    let mut conn = match tokio::time::timeout(ADMIN_TIMEOUT, PgConnection::connect(admin_url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => unreachable(&shown, error.to_string()),
        Err(_) => unreachable(&shown, format!("no answer within {} s", ADMIN_TIMEOUT.as_secs())),
    };
    match tokio::time::timeout(ADMIN_TIMEOUT, sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn))
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => panic!("PostgreSQL at {shown} refused `{sql}`: {error}"),
        Err(_) => panic!("PostgreSQL at {shown} did not finish `{sql}` within {} s", ADMIN_TIMEOUT.as_secs()),
    }
    let _ = conn.close().await;
}

/// Runs `body` with a migrated database of its own on `backend` (what [`backend_test!`] expands
/// to); the database is dropped when the body ends, passed or failed.
///
/// [`backend_test!`]: crate::backend_test
pub async fn with_database<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()>,
{
    let test_db = TestDatabase::on(backend).await;
    let db = test_db.open().await;
    body(db).await;
    drop(test_db);
}

/// Runs `body` with an empty database of its own on `backend`, for tests that need its
/// location (to start a process on it) or want to migrate it themselves.
pub async fn with_test_database<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(TestDatabase) -> Fut,
    Fut: Future<Output = ()>,
{
    body(TestDatabase::on(backend).await).await;
}

/// One test, run on each backend: `backend_test!(name, |db| async move { … })` defines
/// `name::sqlite` and `name::postgres`, each a `#[tokio::test]` whose body gets a migrated
/// [`Database`] of its own. `backend_test!(name, empty |test_db| async move { … })` hands over
/// the empty [`TestDatabase`] instead. Attributes written before the name (`#[ignore = "…"]`)
/// go on both tests. `cargo test postgres` runs the PostgreSQL half only. A test that needs
/// another runtime flavour calls [`with_database`] from its own `#[tokio::test(…)]` functions.
///
/// The calling crate needs `tokio` (with `macros`) among its dev-dependencies.
#[macro_export]
macro_rules! backend_test {
    (@each [$($attrs:tt)*] $name:ident, $run:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            $($attrs)*
            #[tokio::test]
            async fn sqlite() {
                $crate::test_support::$run($crate::db::Backend::Sqlite, $body).await;
            }

            $($attrs)*
            #[tokio::test]
            async fn postgres() {
                $crate::test_support::$run($crate::db::Backend::Postgres, $body).await;
            }
        }
    };
    ($(#[$meta:meta])* $name:ident, empty $body:expr) => {
        $crate::backend_test!(@each [$(#[$meta])*] $name, with_test_database, $body);
    };
    ($(#[$meta:meta])* $name:ident, $body:expr) => {
        $crate::backend_test!(@each [$(#[$meta])*] $name, with_database, $body);
    };
}

/// A value bound to a statement of [`Database::execute_for_tests`] or
/// [`Database::rows_for_tests`] (write NULL, TRUE and FALSE into the SQL itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Int(i64),
    Text(String),
}

impl From<i64> for Bind {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<&str> for Bind {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for Bind {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<&String> for Bind {
    fn from(value: &String) -> Self {
        Self::Text(value.clone())
    }
}

/// `[a, b, …]` as an array of [`Bind`], for the raw test statements: `binds![id, "text"]`.
#[macro_export]
macro_rules! binds {
    ($($value:expr),* $(,)?) => {
        [$($crate::test_support::Bind::from($value)),*]
    };
}

/// Raw SQL for tests that arrange states no API writes (an aged session, a broken row) or read
/// what no API returns, on either backend: write it in the dialect both understand (`$1`
/// placeholders, `TRUE`/`FALSE`, explicit column lists, no `rowid`). A statement the database
/// refuses fails the test, naming the statement.
impl Database {
    /// Runs one statement; the number of rows it changed.
    pub async fn execute_for_tests(&self, sql: &str, binds: &[Bind]) -> u64 {
        let result = crate::db::with_pool!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for bind in binds {
                query = match bind {
                    Bind::Int(value) => query.bind(*value),
                    Bind::Text(value) => query.bind(value.clone()),
                };
            }
            query.execute(pool).await.map(|done| done.rows_affected())
        });
        result.unwrap_or_else(|error| panic!("the test statement `{sql}` failed: {error}"))
    }

    /// Runs one query; every row, each column as text (`None` for NULL): integers and floats
    /// in decimal, booleans as `true`/`false` on PostgreSQL (SQLite has integers), bytes in hex.
    pub async fn rows_for_tests(&self, sql: &str, binds: &[Bind]) -> Vec<Vec<Option<String>>> {
        let result = crate::db::with_pool!(self, pool => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()));
            for bind in binds {
                query = match bind {
                    Bind::Int(value) => query.bind(*value),
                    Bind::Text(value) => query.bind(value.clone()),
                };
            }
            match query.fetch_all(pool).await {
                Ok(rows) => Ok(rows.iter().map(|row| row_as_text(sql, row)).collect::<Vec<_>>()),
                Err(error) => Err(error),
            }
        });
        result.unwrap_or_else(|error| panic!("the test query `{sql}` failed: {error}"))
    }

    /// The first column of the only row of a query, as text; `None` for NULL.
    pub async fn text_for_tests(&self, sql: &str, binds: &[Bind]) -> Option<String> {
        let rows = self.rows_for_tests(sql, binds).await;
        match rows.as_slice() {
            [row] if !row.is_empty() => row[0].clone(),
            _ => panic!("the test query `{sql}` should return one row, returned {}", rows.len()),
        }
    }

    /// The first column of the only row of a query, as an integer (a count, an id).
    pub async fn int_for_tests(&self, sql: &str, binds: &[Bind]) -> i64 {
        let text = self.text_for_tests(sql, binds).await;
        match text.as_deref().map(str::parse::<i64>) {
            Some(Ok(value)) => value,
            _ => panic!("the test query `{sql}` should return an integer, returned {text:?}"),
        }
    }
}

/// One row, each column as text, whatever its type.
fn row_as_text<R>(sql: &str, row: &R) -> Vec<Option<String>>
where
    R: sqlx::Row,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i32>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<bool>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<Vec<u8>>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    usize: sqlx::ColumnIndex<R>,
{
    use sqlx::Column as _;
    (0..row.columns().len())
        .map(|i| {
            if let Ok(value) = row.try_get::<Option<String>, _>(i) {
                return value;
            }
            if let Ok(value) = row.try_get::<Option<i64>, _>(i) {
                return value.map(|v| v.to_string());
            }
            if let Ok(value) = row.try_get::<Option<i32>, _>(i) {
                return value.map(|v| v.to_string());
            }
            if let Ok(value) = row.try_get::<Option<f64>, _>(i) {
                return value.map(|v| v.to_string());
            }
            if let Ok(value) = row.try_get::<Option<bool>, _>(i) {
                return value.map(|v| v.to_string());
            }
            if let Ok(value) = row.try_get::<Option<Vec<u8>>, _>(i) {
                return value.map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect());
            }
            panic!("the test query `{sql}` returned column {} of a type the tests cannot read", row.columns()[i].name())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_replaces_the_admin_urls_and_keeps_the_rest() {
        let cases = [
            ("postgres://postgres@127.0.0.1:5432/postgres", "postgres://postgres@127.0.0.1:5432/lu_test_7_1"),
            ("postgres://u:pw@db:6543/admin?sslmode=disable", "postgres://u:pw@db:6543/lu_test_7_1?sslmode=disable"),
            ("postgresql://db", "postgresql://db/lu_test_7_1"),
        ];
        for (admin, expected) in cases {
            assert_eq!(database_url(admin, "lu_test_7_1"), expected, "{admin}");
        }
    }
}
