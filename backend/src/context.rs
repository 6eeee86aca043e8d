//! What every part of the worker needs: the database, the HTTP clients, the tuning knobs, and
//! the activity the heartbeat reports.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::db::config;
use shared::db::{jobs, providers};
use shared::redact::Redactor;
use shared::settings::Config;
use shared::{Database, DbError};

use crate::http;
use crate::json_stream::{DEFAULT_IN_FLIGHT, InFlight};
use crate::lease::Lease;
use crate::litellm::LiteLlmClient;
use crate::push::Retry;
use crate::upstream::UpstreamClient;

pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone)]
pub struct Settings {
    /// Ollama `/api/show` calls in flight per provider.
    pub upstream_concurrency: usize,
    /// LiteLLM write calls in flight during a push.
    pub litellm_concurrency: usize,
    pub connect_timeout: Duration,
    /// Per request, total: a server trickling bytes cannot extend it.
    pub request_timeout: Duration,
    /// For LiteLLM's whole model list (`GET /model/info`), which LiteLLM builds slowly.
    pub litellm_list_timeout: Duration,
    /// Per provider fetch, total (listing and every details request): one slow upstream
    /// cannot hold the only work loop while queued jobs wait.
    pub fetch_timeout: Duration,
    /// Answer bytes buffered between the sockets and the parsers, all answers together.
    pub in_flight_bytes: usize,
    /// How often the queue and the schedule are checked.
    pub poll_interval: Duration,
    pub heartbeat_interval: Duration,
    /// How long the current step may take to finish after SIGTERM before it is abandoned.
    pub shutdown_grace: Duration,
    /// Retries of LiteLLM calls that failed transiently.
    pub litellm_retry: Retry,
    /// How long the worker lease lasts without renewal.
    pub lease_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            upstream_concurrency: 16,
            litellm_concurrency: 16,
            connect_timeout: http::CONNECT_TIMEOUT,
            request_timeout: http::REQUEST_TIMEOUT,
            litellm_list_timeout: Duration::from_secs(300),
            fetch_timeout: DEFAULT_FETCH_TIMEOUT,
            in_flight_bytes: DEFAULT_IN_FLIGHT,
            poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(6),
            litellm_retry: Retry::default(),
            lease_ttl: crate::lease::DEFAULT_TTL,
        }
    }
}

/// What the worker is doing right now, for the heartbeat row.
#[derive(Debug, Clone, Default)]
pub struct Activity {
    pub state: &'static str,
    pub job_id: Option<i64>,
    pub step: Option<String>,
}

pub struct Context {
    pub db: Database,
    /// Whether this process is the active worker; every LiteLLM write checks it.
    pub lease: Lease,
    pub http: reqwest::Client,
    pub upstream: UpstreamClient,
    pub settings: Settings,
    activity: Arc<Mutex<Activity>>,
    /// Whether the last heartbeat write failed (its log lines mark changes only).
    pub heartbeat_failing: std::sync::atomic::AtomicBool,
    /// The secrets configured at the last [`Context::refresh_secrets`], removed from all
    /// outside text before it is stored, logged or printed.
    secrets: Mutex<Arc<Redactor>>,
}

impl Context {
    pub fn new(db: Database, settings: Settings) -> reqwest::Result<Self> {
        let lease = Lease::new(settings.lease_ttl);
        let http = http::client(settings.connect_timeout, settings.request_timeout, lease.instance_id())?;
        let in_flight = InFlight::new(settings.in_flight_bytes);
        let upstream = UpstreamClient::new(http.clone(), in_flight, settings.request_timeout.as_secs());
        let activity = Arc::new(Mutex::new(Activity { state: "idle", ..Activity::default() }));
        Ok(Self {
            db,
            lease,
            http,
            upstream,
            settings,
            activity,
            heartbeat_failing: Default::default(),
            secrets: Mutex::new(Arc::default()),
        })
    }

    /// A LiteLLM client for the configured proxy, or `None` when no URL is set.
    pub fn litellm(&self, config: &Config) -> Option<LiteLlmClient> {
        let url = config.litellm_url()?;
        Some(
            LiteLlmClient::new(
                self.http.clone(),
                url,
                config.litellm_api_key.clone(),
                self.settings.request_timeout.as_secs(),
            )
            .with_list_timeout(self.settings.litellm_list_timeout.as_secs())
            .with_fence(self.lease.fence()),
        )
    }

    /// Re-reads the secrets to redact: the LiteLLM master key, every provider's key, and
    /// `extra` (a key given inline with a job). Also used for every log line from now on.
    pub async fn refresh_secrets(&self, extra: Option<&str>) -> Result<(), DbError> {
        let master = config::get(&self.db).await?.litellm_api_key;
        let providers = providers::list(&self.db).await?;
        let secrets: Vec<String> = master
            .iter()
            .chain(providers.iter().filter_map(|p| p.api_key.as_ref()))
            .map(|s| s.expose().to_owned())
            .chain(extra.map(str::to_owned))
            .collect();
        let redactor = Arc::new(Redactor::new(secrets));
        shared::logging::set_secrets(redactor.clone());
        if let Ok(mut current) = self.secrets.lock() {
            *current = redactor;
        }
        Ok(())
    }

    fn redactor(&self) -> Arc<Redactor> {
        self.secrets.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// `text` without any configured secret or quoted credential header.
    pub fn redact(&self, text: &str) -> String {
        self.redactor().redact(text).into_owned()
    }

    /// [`Context::redact`] for every string inside a JSON value.
    pub fn redact_json(&self, mut value: serde_json::Value) -> serde_json::Value {
        self.redactor().redact_json(&mut value);
        value
    }

    pub fn activity(&self) -> Activity {
        self.activity.lock().map(|a| a.clone()).unwrap_or_default()
    }

    pub fn set_activity(&self, state: &'static str, job_id: Option<i64>) {
        if let Ok(mut activity) = self.activity.lock() {
            *activity = Activity { state, job_id, step: None };
        }
    }

    /// Records the current step: on the heartbeat, and on the job the worker is running.
    pub async fn step(&self, text: impl Into<String>) {
        let text = self.redact(&text.into());
        tracing::debug!(step = ?text);
        let job_id = match self.activity.lock() {
            Ok(mut activity) => {
                activity.step = Some(text.clone());
                activity.job_id
            }
            Err(_) => None,
        };
        if let Some(id) = job_id {
            match jobs::set_progress(&self.db, id, self.lease.instance_id(), &text).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(job = id, "job progress not recorded: another worker took the job over"),
                Err(error) => tracing::warn!(job = id, %error, "could not record job progress"),
            }
        }
    }
}
