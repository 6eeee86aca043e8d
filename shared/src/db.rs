//! The SQLite database both services share: opening it (WAL, busy timeout, foreign keys),
//! the embedded migrations, and one module per table.

pub mod config;
pub mod copy;
pub mod exclusions;
pub mod jobs;
pub mod lease;
pub mod legacy;
pub mod listing;
pub mod litellm_health;
pub mod models;
pub mod pricing_settings;
pub mod providers;
pub mod routing;
pub mod sessions;
pub mod snapshot;
pub mod sync_runs;
pub mod views;
pub mod worker_status;

mod dialect;
mod json;
mod location;

#[allow(unused_imports)]
pub(crate) use dialect::{BeginWrite, Dialect};
pub use json::Json;
pub use location::{Backend, Location};

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
pub static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// SQL expression for "now" in the schema's timestamp format.
pub const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot connect to the database {location}: {source}")]
    Connect { location: String, source: sqlx::Error },
    #[error(
        "the database {path} is read-only for this process: litellm-updater must be able to write the file \
         and its directory (SQLite keeps -wal and -shm files beside it); check the volume's mount options \
         and that the file and directory belong to the user the service runs as"
    )]
    ReadOnly { path: PathBuf },
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database is at schema version {found}, newer than this binary understands ({known}); \
         upgrade litellm-updater or restore a backup"
    )]
    NewerSchema { found: i64, known: i64 },
    #[error("cannot adopt the Python litellm-updater database: {0}")]
    Legacy(String),
    #[error("{0}")]
    Invalid(String),
    /// A unique constraint said no (a provider name taken, an alias defined twice).
    #[error("{0}")]
    Conflict(String),
    #[error("{what} is not available on PostgreSQL yet")]
    Unsupported { what: &'static str },
    #[error(transparent)]
    Sqlx(sqlx::Error),
}

impl DbError {
    /// The error of opening `path`, in plain words where SQLite's are cryptic.
    fn open(path: &Path, source: sqlx::Error) -> Self {
        // SQLITE_READONLY and its extended codes (read-only directory, cannot create the WAL…).
        let read_only = source
            .as_database_error()
            .and_then(|e| e.code())
            .and_then(|code| code.parse::<i64>().ok())
            .is_some_and(|code| code & 0xff == 8);
        if read_only {
            Self::ReadOnly { path: path.to_path_buf() }
        } else {
            Self::Open { path: path.to_path_buf(), source }
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => DbError::Conflict(db.message().to_owned()),
            _ => DbError::Sqlx(error),
        }
    }
}

/// Runs `$body` with `$pool` bound to the store's pool, whichever backend it is: the SQL in
/// `$body` is written once, in the dialect both understand (`$1` placeholders, `TRUE`/`FALSE`).
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db.pool_ref() {
            $crate::db::PoolRef::Sqlite($pool) => $body,
            $crate::db::PoolRef::Postgres($pool) => $body,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use with_pool;

/// The pool of one backend, for [`with_pool!`].
pub(crate) enum PoolRef<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}
/// Where the schema stands relative to what this binary embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaStatus {
    /// Highest applied migration, `None` for an empty (or Python-created) database.
    pub applied: Option<i64>,
    pub known: i64,
}

impl SchemaStatus {
    pub fn is_current(&self) -> bool {
        self.applied == Some(self.known)
    }
}

/// "Now" in the schema's timestamp format, for values written from Rust.
pub fn now_timestamp() -> String {
    format_timestamp(time::OffsetDateTime::now_utc())
}

/// `age` before now, in the schema's timestamp format (timestamps compare as text).
pub fn timestamp_before(age: Duration) -> String {
    format_timestamp(time::OffsetDateTime::now_utc() - age)
}

/// Seconds from a stored timestamp to now; `None` for text that is not one.
pub fn seconds_since(timestamp: &str) -> Option<f64> {
    let then = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).ok()?;
    Some((time::OffsetDateTime::now_utc() - then).as_seconds_f64())
}

fn format_timestamp(at: time::OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.format(&format).unwrap_or_default()
}

/// What `migrate` did, for the start-up log line.
#[derive(Debug, Clone, Default)]
pub struct MigrationReport {
    pub applied: Vec<i64>,
    pub adopted: Option<legacy::AdoptionReport>,
}

/// The store both services share: a SQLite file (the default, one machine) or a PostgreSQL
/// database (several machines). Owns its connections; callers speak to it through the `db::*`
/// modules in domain types.
#[derive(Debug, Clone)]
pub struct Database {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Sqlite(Box<SqliteStore>),
    Postgres(PostgresStore),
}

#[derive(Debug, Clone)]
struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    /// Device and inode of the file opened, to notice it being deleted or replaced.
    identity: Option<FileIdentity>,
    options: SqliteConnectOptions,
}

#[derive(Debug, Clone)]
struct PostgresStore {
    pool: PgPool,
    /// Where, with any password masked: for messages.
    shown: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path).ok().map(|m| Self { dev: m.dev(), ino: m.ino() })
    }
}

/// Whether the file a [`Database`] has open is still the one at its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnDisk {
    /// The same file is at the path.
    Present,
    /// Nothing is at the path any more: the open file was deleted (the process still writes
    /// into it, and no other process will ever read it).
    Missing(PathBuf),
    /// Another file is at the path (restored from a backup, copied over): what this process
    /// writes is not what the other service reads.
    Replaced(PathBuf),
}

impl OnDisk {
    /// Plain words for a lost file, `None` while it is present.
    pub fn lost(&self) -> Option<String> {
        match self {
            Self::Present => None,
            Self::Missing(path) => Some(format!("the database file {} was deleted while in use", path.display())),
            Self::Replaced(path) => {
                Some(format!("the database file {} was replaced by another file while in use", path.display()))
            }
        }
    }
}

/// Who may read the database: it holds the LiteLLM master key and every provider key.
const DB_FILE_MODE: u32 = 0o600;

/// Creates the database file owner-only if it does not exist yet, so that it never exists with
/// wider permissions (SQLite gives `-wal` and `-shm` the main file's mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(DB_FILE_MODE).open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Narrows an existing database (and its `-wal`, `-shm`) to owner-only: files created by an
/// earlier version were 0644. Files owned by someone else are left as they are.
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mut names = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        names.push(PathBuf::from(name));
    }
    for name in names {
        let Ok(meta) = std::fs::metadata(&name) else { continue };
        if meta.permissions().mode() & 0o077 != 0
            && let Err(error) = std::fs::set_permissions(&name, std::fs::Permissions::from_mode(DB_FILE_MODE))
        {
            tracing::warn!(path = ?name, error = ?error.to_string(), "cannot make the database file owner-only");
        }
    }
}

impl Database {
    /// Opens (creating if needed) the SQLite database file and its parent directory.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, DbError> {
        Self::open_with(path, 3).await
    }

    /// Connects to the database at `location` with up to `max_connections` pooled connections:
    /// the worker is mostly sequential, a web server reads concurrently.
    pub async fn connect(location: &Location, max_connections: u32) -> Result<Self, DbError> {
        match location {
            Location::Sqlite(path) => Self::open_with(path, max_connections).await,
            Location::Postgres(url) => Self::connect_postgres(url, location.to_string(), max_connections).await,
        }
    }

    async fn connect_postgres(url: &str, shown: String, max_connections: u32) -> Result<Self, DbError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| DbError::Connect { location: shown.clone(), source })?
            .application_name("litellm-updater");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(15))
            .connect_with(options)
            .await
            .map_err(|source| DbError::Connect { location: shown.clone(), source })?;
        Ok(Self { inner: Inner::Postgres(PostgresStore { pool, shown }) })
    }

    /// [`Database::open`] with a chosen number of pooled connections (each holds up to 1 MiB
    /// of page cache).
    pub async fn open_with(path: impl AsRef<Path>, max_connections: u32) -> Result<Self, DbError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| DbError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        create_private(&path).map_err(|source| DbError::Open { path: path.clone(), source: source.into() })?;
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| DbError::Open { path: path.clone(), source })?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(15))
            .foreign_keys(true)
            // 1 MiB of page cache per connection (SQLite's default is 2): the database is small
            // and the worker's memory budget is not.
            .pragma("cache_size", "-1024");
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .min_connections(1)
            .idle_timeout(None)
            .connect_with(options.clone())
            .await
            .map_err(|source| DbError::open(&path, source))?;
        restrict_permissions(&path);
        let identity = FileIdentity::of(&path);
        Ok(Self { inner: Inner::Sqlite(Box::new(SqliteStore { pool, path, identity, options })) })
    }

    pub fn backend(&self) -> Backend {
        match &self.inner {
            Inner::Sqlite(_) => Backend::Sqlite,
            Inner::Postgres(_) => Backend::Postgres,
        }
    }

    /// Where the database is, for messages: a file path, or a PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match &self.inner {
            Inner::Sqlite(store) => store.path.display().to_string(),
            Inner::Postgres(store) => store.shown.clone(),
        }
    }

    #[allow(dead_code)]
    pub(crate) fn dialect(&self) -> Dialect {
        match self.backend() {
            Backend::Sqlite => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        }
    }

    pub(crate) fn pool_ref(&self) -> PoolRef<'_> {
        match &self.inner {
            Inner::Sqlite(store) => PoolRef::Sqlite(&store.pool),
            Inner::Postgres(store) => PoolRef::Postgres(&store.pool),
        }
    }

    /// The SQLite pool, for the parts of the store written in SQLite's dialect only.
    pub(crate) fn sqlite_pool(&self, what: &'static str) -> Result<&SqlitePool, DbError> {
        match &self.inner {
            Inner::Sqlite(store) => Ok(&store.pool),
            Inner::Postgres(_) => Err(DbError::Unsupported { what }),
        }
    }

    /// The SQLite pool itself, for the tests that are about SQLite files by nature (adopting a
    /// Python database, copying one). Every other test arranges its state with
    /// `execute_for_tests` and reads with `rows_for_tests` (`shared::test_support`), on either backend.
    #[cfg(feature = "test-support")]
    #[doc(hidden)]
    pub fn sqlite_file_pool_for_tests(&self) -> &SqlitePool {
        match &self.inner {
            Inner::Sqlite(store) => &store.pool,
            Inner::Postgres(_) => panic!("this test is about a SQLite file: give it a SQLite database"),
        }
    }

    fn sqlite_store(&self) -> Option<&SqliteStore> {
        match &self.inner {
            Inner::Sqlite(store) => Some(store),
            Inner::Postgres(_) => None,
        }
    }

    /// Whether the file this handle opened is still the one at its path. Deleting or replacing
    /// the file under a running service leaves it working on the old one while the other
    /// service (or a restart) uses the new one; callers stop, or report unhealthy, on anything
    /// but [`OnDisk::Present`]. A PostgreSQL database has no file: always present.
    pub fn check_on_disk(&self) -> OnDisk {
        let Some(store) = self.sqlite_store() else { return OnDisk::Present };
        match (FileIdentity::of(&store.path), store.identity) {
            (None, _) => OnDisk::Missing(store.path.clone()),
            (Some(now), Some(opened)) if now != opened => OnDisk::Replaced(store.path.clone()),
            _ => OnDisk::Present,
        }
    }

    /// Device and inode of the file opened (to record for other processes to compare).
    pub fn file_identity(&self) -> Option<(u64, u64)> {
        self.sqlite_store().and_then(|store| store.identity).map(|i| (i.dev, i.ino))
    }

    /// [`Database::check_on_disk`] as a yes or no.
    pub fn is_still_on_disk(&self) -> bool {
        self.check_on_disk() == OnDisk::Present
    }

    /// A connection of its own, outside the pool, with the pool's settings: for work that keeps
    /// per-connection state (a temporary table) for a while without starving the pool.
    pub(crate) async fn connect_one_sqlite(&self) -> Result<SqliteConnection, DbError> {
        let store = self.sqlite_store().ok_or(DbError::Unsupported { what: "a staged fetch" })?;
        store.options.connect().await.map_err(|source| DbError::open(&store.path, source))
    }

    /// The SQLite file, `None` on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.sqlite_store().map(|store| store.path.as_path())
    }

    fn migrator(&self) -> &'static Migrator {
        match self.backend() {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        }
    }

    /// Brings the schema up to date: adopts a Python litellm-updater file first if that is what
    /// this is, then applies the embedded migrations. Refuses a schema newer than it knows.
    pub async fn migrate(&self) -> Result<MigrationReport, DbError> {
        let before = self.schema_status().await?;
        if let Some(found) = before.applied.filter(|found| *found > before.known) {
            return Err(DbError::NewerSchema { found, known: before.known });
        }
        let migrator = self.migrator();
        let adopted = match &self.inner {
            Inner::Sqlite(store) => {
                legacy::set_aside_python_tables(self).await?;
                migrator.run(&store.pool).await?;
                let adopted = legacy::adopt_python_rows(&store.pool).await?;
                legacy::catch_up_earlier_adoption(&store.pool).await?;
                adopted
            }
            Inner::Postgres(store) => {
                migrator.run(&store.pool).await?;
                None
            }
        };
        let applied = migrator.iter().map(|m| m.version).filter(|v| before.applied.is_none_or(|a| *v > a)).collect();
        Ok(MigrationReport { applied, adopted })
    }

    pub async fn schema_status(&self) -> Result<SchemaStatus, DbError> {
        let known = self.migrator().iter().map(|m| m.version).max().unwrap_or(0);
        let applied = match &self.inner {
            Inner::Sqlite(store) => {
                let has_table: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations')",
                )
                .fetch_one(&store.pool)
                .await?;
                if has_table {
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                        .fetch_one(&store.pool)
                        .await?
                } else {
                    None
                }
            }
            Inner::Postgres(store) => {
                let has_table: bool = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations')",
                )
                .fetch_one(&store.pool)
                .await?;
                if has_table {
                    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                        .fetch_one(&store.pool)
                        .await?
                } else {
                    None
                }
            }
        };
        Ok(SchemaStatus { applied, known })
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
