//! The real LiteLLM proxy (`litellm[proxy]` from PyPI, installed by `scripts/test` into
//! `target/litellm-venv`), started in config mode on 127.0.0.1 for one test suite.
//!
//! Config mode is all that runs here: LiteLLM's model-write API needs a Prisma engine that cannot
//! be downloaded. The process takes ~8 s to start and ~700 MB, so a suite starts one and sends
//! every request through it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// `LITELLM_TIER=skip` (set by `scripts/test` only when the package could not be installed).
const SKIP_VARIABLE: &str = "LITELLM_TIER";

/// Where the `litellm` executable is: `$LITELLM_BIN`, else the virtualenv `scripts/test` makes.
pub fn litellm_bin() -> PathBuf {
    std::env::var_os("LITELLM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/litellm-venv/bin/litellm"))
}

/// Whether the real-LiteLLM tests can run. `None` means: skip, which is allowed only when
/// `scripts/test` said so loudly; a missing install otherwise fails the test.
pub fn available() -> Option<PathBuf> {
    let bin = litellm_bin();
    if bin.is_file() {
        return Some(bin);
    }
    if std::env::var(SKIP_VARIABLE).as_deref() == Ok("skip") {
        eprintln!("SKIPPED: the real LiteLLM is not installed ({SKIP_VARIABLE}=skip)");
        return None;
    }
    panic!(
        "the real LiteLLM is not installed at {}: run ./scripts/test (it installs litellm[proxy] into \
         target/litellm-venv), set LITELLM_BIN, or set {SKIP_VARIABLE}=skip to skip these tests",
        bin.display()
    );
}

/// A running `litellm --config` process, killed when dropped.
pub struct RealLiteLlm {
    url: String,
    log: PathBuf,
    started_in: Duration,
    child: Child,
}

impl RealLiteLlm {
    /// Starts `bin --config config` on a free port with `master_key` and the extra environment
    /// (e.g. the provider keys the config references), and waits until it answers.
    pub async fn start(bin: &Path, config: &Path, master_key: &str, env: &[(String, String)]) -> anyhow::Result<Self> {
        let port = crate::free_port().await;
        let log = config.with_extension("litellm.log");
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(bin);
        command
            .arg("--config")
            .arg(config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()))
            .env("LITELLM_MASTER_KEY", master_key)
            // The cost map ships with the package; without this it is fetched from GitHub.
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env("LITELLM_TELEMETRY", "False")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn()?;
        let url = format!("http://127.0.0.1:{port}");
        let http = crate::http_client(Duration::from_secs(5));
        let deadline = started + Duration::from_secs(120);
        loop {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!("LiteLLM exited with {status} before it was ready:\n{}", tail(&log));
            }
            let ready = http.get(format!("{url}/health/liveliness")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            if Instant::now() > deadline {
                anyhow::bail!("LiteLLM did not answer within 120 s:\n{}", tail(&log));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(Self { url, log, started_in: started.elapsed(), child })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// From spawning to the first healthy answer.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The process id (for memory readings).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The last lines LiteLLM logged, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
