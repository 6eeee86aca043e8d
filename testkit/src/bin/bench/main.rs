//! `bench`: runs `litellm-sync` against the in-process fakes and prints one markdown table of
//! measurements against their targets (README "Performance"). It only reports: no timing assertion
//! fails the run; errors in the set-up (binary missing, database, fakes) exit 1.
//!
//! Run it through `scripts/bench`, which builds the release binaries first. To add a measurement
//! group, write an `async fn ... -> Result<Vec<Row>>` and extend `rows` in `main` with it.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod frontend;
mod litellm;
mod memory;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use shared::db::providers::{self, NewProvider};
use shared::types::ProviderType;
use shared::{Database, Secret};
use testkit::{FakeLiteLlm, FakeOllama, OllamaModel};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

const MASTER_KEY: &str = "sk-bench-master";
/// The target is in MB (10^6 bytes); results show MiB too.
const PEAK_RSS_TARGET_MB: f64 = 25.0;
const FIRST_SYNC_TARGET: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Parser)]
#[command(name = "bench", about = "Measures litellm-sync against fake Ollama and LiteLLM servers.")]
struct Args {
    /// The `litellm-sync` binary to measure (build it with `--release`).
    #[arg(long, default_value = "target/release/litellm-sync")]
    sync_bin: PathBuf,
    /// Models served by the fake Ollama.
    #[arg(long, default_value_t = 1000)]
    models: usize,
    /// Latency the fakes add to every request, in milliseconds.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// The `litellm-frontend` binary to measure; its rows are skipped when it is missing.
    #[arg(long, default_value = "target/release/litellm-frontend")]
    frontend_bin: PathBuf,
    /// Also measure LiteLLM's own cost (~17 minutes more on 2 idle CPUs): its per-write reconcile
    /// in-process (scripts/litellm-write-cost.py), the real proxy's start-up, `/model/info` and
    /// memory with 1,000 and 5,000 models, and syncs against a fake that slows like the real one.
    /// Needs the virtualenv `scripts/test` makes (target/litellm-venv, or $LITELLM_BIN); without
    /// it the group is one "skipped" row.
    #[arg(long)]
    litellm_cost: bool,
    /// Only the long lists' page times (the Models and LiteLLM pages at 5,000 and 20,000 models).
    #[arg(long)]
    lists_only: bool,
}

/// One line of the table. `ok: None` is informational (no target to meet).
#[derive(Debug, Clone)]
struct Row {
    measurement: String,
    target: String,
    result: String,
    ok: Option<bool>,
}

impl Row {
    fn new(
        measurement: impl Into<String>,
        target: impl Into<String>,
        result: impl Into<String>,
        ok: Option<bool>,
    ) -> Self {
        Self { measurement: measurement.into(), target: target.into(), result: result.into(), ok }
    }

    /// A count that must equal `want`.
    fn count(measurement: impl Into<String>, got: usize, want: usize) -> Self {
        Self::new(measurement, format!("{want}"), format!("{got}"), Some(got == want))
    }
}

fn print_table(rows: &[Row]) {
    println!("| measurement | target | result | verdict |");
    println!("|---|---|---|---|");
    for row in rows {
        let verdict = match row.ok {
            Some(true) => "✅",
            Some(false) => "❌",
            None => "—",
        };
        println!("| {} | {} | {} | {verdict} |", row.measurement, row.target, row.result);
    }
}

/// `date · nproc · commit` for the line above the table.
fn environment_line() -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    let date = time::OffsetDateTime::now_utc().format(&format).unwrap_or_default();
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = match (git(&["rev-parse", "--short", "HEAD"]), git(&["status", "--porcelain"])) {
        (Some(hash), Some(status)) if !status.is_empty() => format!("{hash} (+ uncommitted changes)"),
        (Some(hash), _) => hash,
        (None, _) => "unknown".into(),
    };
    format!("Date: {date} · nproc: {nproc} · commit: {commit}")
}

/// What one `litellm-sync` run did.
struct Run {
    status: ExitStatus,
    wall: Duration,
    /// Last `VmHWM` read from `/proc/<pid>/status` before the process exited, in kB.
    peak_rss_kb: Option<u64>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn status_row(&self, measurement: &str) -> Row {
        if !self.status.success() {
            eprintln!(
                "{measurement}: litellm-sync exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.status, self.stdout, self.stderr
            );
        }
        Row::new(measurement, "0", status_text(self.status), Some(self.status.success()))
    }
}

fn status_text(status: ExitStatus) -> String {
    status.code().map_or_else(|| status.to_string(), |code| code.to_string())
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn drain(pipe: Option<impl AsyncRead + Unpin + Send + 'static>) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf).await;
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Runs `litellm-sync --once` on `db_path`, sampling its peak RSS every ~5 ms until it exits.
async fn run_once(bin: &Path, db_path: &Path) -> Result<Run> {
    run_once_with(bin, db_path, &[]).await
}

/// [`run_once`] with extra environment.
async fn run_once_with(bin: &Path, db_path: &Path, env: &[(&str, String)]) -> Result<Run> {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .arg("--once")
        .env("DATABASE_PATH", db_path)
        .env("LOG_LEVEL", "warn")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id().context("litellm-sync exited before its pid could be read")?;
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let mut peak_rss_kb = None;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            peak_rss_kb = Some(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let wall = start.elapsed();
    Ok(Run { status, wall, peak_rss_kb, stdout: stdout.await?, stderr: stderr.await? })
}

/// Fakes and a database with one Ollama provider and the LiteLLM connection configured.
struct SyncEnv {
    ollama: FakeOllama,
    litellm: FakeLiteLlm,
    db_path: PathBuf,
    models: usize,
    sync_bin: PathBuf,
    _dir: tempfile::TempDir,
}

impl SyncEnv {
    async fn start(args: &Args) -> Result<Self> {
        let latency = Duration::from_millis(args.latency_ms);
        let ollama = FakeOllama::start().await;
        ollama.set_models((0..args.models).map(OllamaModel::synthetic).collect());
        ollama.set_latency(latency);
        let litellm = FakeLiteLlm::start(MASTER_KEY).await;
        litellm.set_latency(latency);

        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let db_path = dir.path().join("models.db");
        let db = Database::open(&db_path).await?;
        db.migrate().await?;
        providers::insert(&db, &NewProvider::new("bench-ollama", ProviderType::Ollama, ollama.url())).await?;
        let key = Secret::new(MASTER_KEY);
        shared::db::config::set_litellm(&db, Some(&litellm.url()), Some(&key)).await?;
        db.close().await;
        Ok(Self { ollama, litellm, db_path, models: args.models, sync_bin: args.sync_bin.clone(), _dir: dir })
    }
}

/// Measurement group 1: the first sync of an empty LiteLLM from an Ollama with `models` models.
async fn first_sync(env: &SyncEnv) -> Result<Vec<Row>> {
    let run = run_once(&env.sync_bin, &env.db_path).await?;
    let n = env.models;
    let peak = match run.peak_rss_kb {
        Some(kb) => {
            let (mb, mib) = (kb as f64 * 1024.0 / 1e6, kb as f64 / 1024.0);
            Row::new(
                "first sync: peak RSS (VmHWM)",
                format!("≤ {PEAK_RSS_TARGET_MB} MB"),
                format!("{mb:.1} MB ({mib:.1} MiB)"),
                // A run that failed proves nothing about its cost.
                Some(run.status.success() && mb <= PEAK_RSS_TARGET_MB),
            )
        }
        None => {
            Row::new("first sync: peak RSS (VmHWM)", format!("≤ {PEAK_RSS_TARGET_MB} MB"), "not sampled", Some(false))
        }
    };
    Ok(vec![
        Row::new(
            format!("first sync of {n} models: wall time"),
            format!("≤ {} s", FIRST_SYNC_TARGET.as_secs()),
            format!("{:.2} s", run.wall.as_secs_f64()),
            Some(run.status.success() && run.wall <= FIRST_SYNC_TARGET),
        ),
        peak,
        run.status_row("first sync: exit status"),
        Row::count("first sync: LiteLLM entries afterwards", env.litellm.entries().len(), n),
        Row::count("first sync: Ollama `/api/show` calls", env.ollama.show_calls(), n),
    ])
}

/// Measurement group 2: a second run with nothing changed upstream.
async fn unchanged_sync(env: &SyncEnv) -> Result<Vec<Row>> {
    env.ollama.reset_counters();
    env.litellm.reset_counters();
    let run = run_once(&env.sync_bin, &env.db_path).await?;
    let peak =
        run.peak_rss_kb.map_or_else(|| "not sampled".to_owned(), |kb| format!("{:.1} MB", kb as f64 * 1024.0 / 1e6));
    Ok(vec![
        Row::new("unchanged re-sync: wall time", "—", format!("{:.2} s", run.wall.as_secs_f64()), None),
        Row::new("unchanged re-sync: peak RSS (VmHWM)", "—", peak, None),
        run.status_row("unchanged re-sync: exit status"),
        Row::count("unchanged re-sync: LiteLLM reads (`/model/info`)", env.litellm.info_calls(), 1),
        Row::count("unchanged re-sync: LiteLLM writes", env.litellm.write_calls(), 0),
        Row::count(
            "unchanged re-sync: upstream calls (`/api/tags` + `/api/show`)",
            env.ollama.tags_calls() + env.ollama.show_calls(),
            1,
        ),
    ])
}

/// The sizes the long lists are measured at.
const LIST_SIZES: [usize; 2] = [5_000, 20_000];

async fn run(args: Args) -> Result<()> {
    if args.lists_only {
        ensure!(args.frontend_bin.is_file(), "litellm-frontend binary not found at {}", args.frontend_bin.display());
        let rows = frontend::lists(&args.frontend_bin, &LIST_SIZES).await?;
        println!("{}\n", environment_line());
        print_table(&rows);
        return Ok(());
    }
    if !args.sync_bin.is_file() {
        bail!(
            "litellm-sync binary not found at {} (build it with `cargo build --release -p backend` or pass --sync-bin)",
            args.sync_bin.display()
        );
    }
    ensure!(args.models > 0, "--models must be at least 1");
    let env = SyncEnv::start(&args).await?;
    let mut rows = first_sync(&env).await?;
    rows.extend(unchanged_sync(&env).await?);
    rows.extend(memory::measure(&args.sync_bin, args.latency_ms).await?);
    if args.frontend_bin.is_file() {
        let bins = frontend::Binaries { frontend: &args.frontend_bin, sync: &args.sync_bin };
        rows.extend(frontend::measure(&bins).await?);
        rows.extend(frontend::lists(&args.frontend_bin, &LIST_SIZES).await?);
    } else {
        eprintln!("bench: {} not found; frontend rows skipped", args.frontend_bin.display());
    }
    if args.litellm_cost {
        rows.extend(litellm::measure(&args).await?);
    } else {
        eprintln!("bench: LiteLLM's cost not measured (pass --litellm-cost, ~17 minutes more)");
    }
    println!("{}\n", environment_line());
    print_table(&rows);
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if let Err(e) = run(Args::parse()).await {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}
