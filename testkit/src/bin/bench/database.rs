//! The database the measured binaries run on: a SQLite file in a temporary directory, or the
//! bench's own PostgreSQL database `lu_bench_<pid>`, created through an admin URL and dropped
//! when the bench ends (on an error, a panic or Ctrl-C too).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use shared::Database;
use shared::db::{Backend, Location};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// The admin URL when `BENCH_POSTGRES_URL` is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long creating or dropping the database may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where fresh databases come from, one backend.
#[derive(Clone)]
pub enum Target {
    Sqlite,
    Postgres(Arc<PgServer>),
}

impl Target {
    /// For PostgreSQL, checks the server answers `admin_url` (and may create databases) by
    /// creating the bench's database once.
    pub async fn open(backend: Backend, admin_url: &str) -> Result<Self> {
        match backend {
            Backend::Sqlite => Ok(Self::Sqlite),
            Backend::Postgres => Ok(Self::Postgres(Arc::new(PgServer::create(admin_url).await?))),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// An empty, migrated database (and a scratch directory beside it). On PostgreSQL there is
    /// one database, made empty again for each: only one [`Fresh`] may exist at a time.
    pub async fn fresh(&self) -> Result<Fresh> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let (location, claim) = match self {
            Self::Sqlite => (Location::Sqlite(dir.path().join("models.db")), None),
            Self::Postgres(server) => {
                if server.in_use.swap(true, Ordering::AcqRel) {
                    bail!("bench bug: a second PostgreSQL database was asked for while the first is in use");
                }
                let claim = Claim(Arc::clone(server));
                server.recreate().await?;
                (Location::Postgres(server.url.clone()), Some(claim))
            }
        };
        let db = Database::connect(&location, 2).await.with_context(|| format!("cannot open {location}"))?;
        db.migrate().await.with_context(|| format!("cannot migrate {location}"))?;
        db.close().await;
        Ok(Fresh { location, dir, _claim: claim })
    }

    /// Drops the PostgreSQL database now, saying so when that fails.
    pub async fn finish(self) {
        if let Self::Postgres(server) = self {
            server.drop_now().await;
        }
    }
}

/// One empty database in use.
pub struct Fresh {
    location: Location,
    dir: tempfile::TempDir,
    _claim: Option<Claim>,
}

impl Fresh {
    /// The environment that points `litellm-sync` and `litellm-frontend` at it.
    pub fn env(&self) -> (&'static str, String) {
        ("DATABASE_URL", self.location.to_url())
    }

    /// A directory for files beside the database (rendered configs, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A pool on it, for seeding and reading results.
    pub async fn connect(&self) -> Result<Database> {
        Database::connect(&self.location, 4).await.with_context(|| format!("cannot open {}", self.location))
    }
}

struct Claim(Arc<PgServer>);

impl Drop for Claim {
    fn drop(&mut self) {
        self.0.in_use.store(false, Ordering::Release);
    }
}

/// The bench's PostgreSQL database.
pub struct PgServer {
    admin_url: String,
    name: String,
    url: String,
    in_use: AtomicBool,
    dropped: AtomicBool,
}

impl PgServer {
    async fn create(admin_url: &str) -> Result<Self> {
        let name = format!("lu_bench_{}", std::process::id());
        let mut url = url::Url::parse(admin_url)
            .with_context(|| format!("BENCH_POSTGRES_URL is not a URL; expected one like {DEFAULT_POSTGRES_URL}"))?;
        url.set_path(&format!("/{name}"));
        let server = Self {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
            in_use: AtomicBool::new(false),
            // Nothing to drop until the database exists.
            dropped: AtomicBool::new(true),
        };
        server.recreate().await?;
        server.dropped.store(false, Ordering::Release);
        eprintln!("bench: PostgreSQL database {}", Location::Postgres(server.url.clone()));
        Ok(server)
    }

    async fn recreate(&self) -> Result<()> {
        admin(&self.admin_url, &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)).await?;
        admin(&self.admin_url, &format!("CREATE DATABASE \"{}\" TEMPLATE template0 ENCODING 'UTF8'", self.name)).await
    }

    fn drop_sql(&self) -> String {
        format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
    }

    async fn drop_now(&self) {
        if self.dropped.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Err(error) = admin(&self.admin_url, &self.drop_sql()).await {
            eprintln!("bench: {error:#}; drop it by hand: {}", self.drop_sql());
        }
    }
}

/// The last resort when the bench ends without [`Target::finish`] (an error, a panic, Ctrl-C):
/// the runtime it ends in cannot be blocked on, so the drop gets a thread and a runtime of its own.
impl Drop for PgServer {
    fn drop(&mut self) {
        if self.dropped.swap(true, Ordering::AcqRel) {
            return;
        }
        let (admin_url, sql) = (self.admin_url.clone(), self.drop_sql());
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(admin(&admin_url, &sql))
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("bench: {error:#}; drop it by hand: {}", self.drop_sql()),
            Err(_) => eprintln!("bench: dropping the database failed; drop it by hand: {}", self.drop_sql()),
        }
    }
}

/// Runs one statement as the PostgreSQL admin. Messages show the URL without its password.
async fn admin(admin_url: &str, sql: &str) -> Result<()> {
    let shown = Location::Postgres(admin_url.to_owned());
    let mut conn = match tokio::time::timeout(ADMIN_TIMEOUT, PgConnection::connect(admin_url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => bail!(
            "cannot reach PostgreSQL at {shown} ({error}): start it, or point BENCH_POSTGRES_URL at a server \
             where this user may create databases"
        ),
        Err(_) => bail!("PostgreSQL at {shown} did not answer within {} s", ADMIN_TIMEOUT.as_secs()),
    };
    let done =
        tokio::time::timeout(ADMIN_TIMEOUT, sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned())).execute(&mut conn))
            .await;
    let _ = conn.close().await;
    match done {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => bail!("PostgreSQL at {shown} refused `{sql}`: {error}"),
        Err(_) => bail!("PostgreSQL at {shown} did not finish `{sql}` within {} s", ADMIN_TIMEOUT.as_secs()),
    }
}
