//! Command line and environment of `litellm-sync` (SPEC §8).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "litellm-sync",
    version,
    about = "Keeps a LiteLLM proxy's model list true to what its upstream model servers serve.",
    long_about = "Runs forever by default: scheduled syncs, queued jobs from the frontend, a heartbeat.\n\
                  --once runs one full cycle and exits (non-zero if any provider or the push failed);\n\
                  --dry-run fetches and prints the LiteLLM plan without applying it."
)]
pub struct Cli {
    /// SQLite database shared with litellm-frontend (parent directory created); used when
    /// DATABASE_URL is not set.
    #[arg(long, env = "DATABASE_PATH", default_value = "data/models.db", global = true)]
    pub database_path: PathBuf,

    /// The database shared with litellm-frontend: `postgres://user:password@host:5432/db` or
    /// `sqlite:///path/models.db`. Wins over DATABASE_PATH.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, global = true)]
    pub database_url: Option<String>,

    /// Run one full cycle (fetch every enabled provider, push) and exit.
    #[arg(long)]
    pub once: bool,

    /// Fetch, then print the LiteLLM plan without applying it: zero LiteLLM writes.
    #[arg(long)]
    pub dry_run: bool,

    /// With --once or --dry-run: print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Seeds the LiteLLM URL when the database has none.
    #[arg(long, env = "LITELLM_BASE_URL", hide_env_values = true)]
    pub litellm_base_url: Option<String>,

    /// Seeds the LiteLLM master key when the database has none.
    #[arg(long, env = "LITELLM_API_KEY", hide_env_values = true)]
    pub litellm_api_key: Option<String>,

    /// Ollama details requests in flight per provider.
    #[arg(long, env = "UPSTREAM_CONCURRENCY", default_value_t = 16)]
    pub upstream_concurrency: usize,

    /// LiteLLM write requests in flight during a push.
    #[arg(long, env = "LITELLM_CONCURRENCY", default_value_t = 16)]
    pub litellm_concurrency: usize,

    /// Seconds to wait for a connection to an upstream or LiteLLM.
    #[arg(long, env = "CONNECT_TIMEOUT_SECONDS", default_value_t = 10)]
    pub connect_timeout_seconds: u64,

    /// Seconds to wait for a whole answer from an upstream or LiteLLM.
    #[arg(long, env = "REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,

    /// Seconds LiteLLM may take to list every model (`GET /model/info`, read once per push): it
    /// builds the list per deployment, ~54 s for 5,000 Ollama deployments when measured.
    #[arg(long, env = "LITELLM_LIST_TIMEOUT_SECONDS", default_value_t = 300)]
    pub litellm_list_timeout_seconds: u64,

    /// Attempts of a LiteLLM call that failed transiently (reset connection, timeout, 502/503/504).
    #[arg(long, env = "LITELLM_ATTEMPTS", default_value_t = 4)]
    pub litellm_attempts: u32,

    /// First wait (milliseconds) before retrying a LiteLLM call; doubles each time, at most 4 s.
    #[arg(long, env = "LITELLM_RETRY_DELAY_MS", default_value_t = 500)]
    pub litellm_retry_delay_ms: u64,

    /// Seconds one provider's fetch may take in all (its listing and every details request);
    /// past it the fetch fails and changes nothing, and the worker moves on.
    #[arg(long, env = "FETCH_TIMEOUT_SECONDS", default_value_t = 120)]
    pub fetch_timeout_seconds: u64,

    /// How often (milliseconds) the job queue and schedule are checked.
    #[arg(long, env = "POLL_INTERVAL_MS", default_value_t = 500)]
    pub poll_interval_ms: u64,

    /// How often (seconds) the heartbeat is written.
    #[arg(long, env = "HEARTBEAT_SECONDS", default_value_t = 5)]
    pub heartbeat_seconds: u64,

    /// Seconds a worker's lease lasts without renewal (renewed every third of it): a standby
    /// takes over this long after the active worker dies or loses the database.
    #[arg(long, env = "WORKER_LEASE_SECONDS", default_value_t = 10)]
    pub worker_lease_seconds: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply database migrations (adopting a Python litellm-updater database) and exit.
    Migrate,
    /// Exit 0 while a worker's heartbeat in the database is fresh (a container health check).
    Health,
    /// Copy the whole database into another, empty one and exit: `sqlite://…` to `postgres://…`
    /// to move an install, or back. Stop every litellm-sync and litellm-frontend first.
    ///
    /// Migrates both, refuses a target that already holds rows, keeps every id, and writes the
    /// target in one transaction (all or nothing). The source is only read (and migrated).
    CopyDb {
        /// The database to copy: `sqlite:///path/models.db` or `postgres://user:password@host/db`.
        #[arg(long)]
        from: String,
        /// The empty database to fill.
        #[arg(long)]
        to: String,
    },
    /// Print a LiteLLM config.yaml `model_list` holding exactly the deployments a push would hold.
    ///
    /// For LiteLLM without a database, or a configuration kept in git: stable ordering, and
    /// provider keys as `os.environ/LUPDATER_<PROVIDER>_API_KEY` references unless
    /// --inline-secrets is given. Reads the database only; LiteLLM is not contacted.
    RenderConfig {
        /// Write to this file (replaced atomically; owner-only with --inline-secrets) instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Write the provider keys themselves into the file.
        #[arg(long)]
        inline_secrets: bool,
    },
}

impl Cli {
    /// Where the database is: DATABASE_URL, else DATABASE_PATH.
    pub fn database(&self) -> Result<shared::db::Location, shared::DbError> {
        shared::db::Location::from_settings(self.database_url.as_deref(), &self.database_path)
    }
}
