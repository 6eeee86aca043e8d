//! `bench`: runs `litellm-sync` against the in-process fakes and prints markdown tables of
//! measurements against their targets (README "Benchmark"). It only reports: no timing assertion
//! fails the run; errors in the set-up (binary missing, database, fakes) exit 1.
//!
//! `--backend sqlite|postgres|both` picks the database the binaries run on; the groups that
//! depend on it run once per backend and are printed side by side, the others (hostile
//! upstreams, slowloris, LiteLLM's cost) run on SQLite only, in a table of their own.
//!
//! Run it through `scripts/bench`, which builds the release binaries first. To add a measurement
//! group, write an `async fn ... -> Result<Vec<Row>>` and extend `per_backend` (it gets the
//! [`database::Target`] to take fresh databases from) or `sqlite_only` with it.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

mod database;
mod frontend;
mod litellm;
mod memory;

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, ValueEnum};
use database::{Fresh, Target};
use shared::Secret;
use shared::db::Backend;
use shared::db::providers::{self, NewProvider};
use shared::types::ProviderType;
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
    /// The database the binaries run on; `both` prints the two side by side.
    #[arg(long, value_enum, default_value_t = BackendChoice::Sqlite)]
    backend: BackendChoice,
    /// PostgreSQL admin URL: the bench creates its own database `lu_bench_<pid>` there and drops
    /// it at the end.
    #[arg(long, env = "BENCH_POSTGRES_URL", default_value = database::DEFAULT_POSTGRES_URL, hide_env_values = true)]
    postgres_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    Sqlite,
    Postgres,
    Both,
}

impl BackendChoice {
    fn backends(self) -> &'static [Backend] {
        match self {
            Self::Sqlite => &[Backend::Sqlite],
            Self::Postgres => &[Backend::Postgres],
            Self::Both => &[Backend::Sqlite, Backend::Postgres],
        }
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
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

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "✅",
        Some(false) => "❌",
        None => "—",
    }
}

fn print_table(rows: &[Row]) {
    println!("| measurement | target | result | verdict |");
    println!("|---|---|---|---|");
    for row in rows {
        println!("| {} | {} | {} | {} |", row.measurement, row.target, row.result, verdict(row.ok));
    }
}

/// One column per backend, rows matched by their measurement; a cell holds the result and its
/// verdict.
fn print_side_by_side(columns: &[(Backend, Vec<Row>)]) {
    let header: Vec<&str> = columns.iter().map(|(backend, _)| backend_name(*backend)).collect();
    println!("| measurement | target | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(columns.len()));
    let Some((_, first)) = columns.first() else { return };
    let mut names: Vec<(&str, &str)> = first.iter().map(|r| (r.measurement.as_str(), r.target.as_str())).collect();
    for (_, rows) in &columns[1..] {
        for row in rows {
            if !names.iter().any(|(name, _)| *name == row.measurement) {
                names.push((&row.measurement, &row.target));
            }
        }
    }
    for (name, target) in names {
        let cells: Vec<String> = columns
            .iter()
            .map(|(_, rows)| match rows.iter().find(|r| r.measurement == name) {
                Some(row) if row.ok.is_some() => format!("{} {}", row.result, verdict(row.ok)),
                Some(row) => row.result.clone(),
                None => "not measured".into(),
            })
            .collect();
        println!("| {name} | {target} | {} |", cells.join(" | "));
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

/// Runs `litellm-sync --once` on `db`, sampling its peak RSS every ~5 ms until it exits.
async fn run_once(bin: &Path, db: &Fresh) -> Result<Run> {
    run_once_with(bin, db, &[]).await
}

/// [`run_once`] with extra environment.
async fn run_once_with(bin: &Path, db: &Fresh, env: &[(&str, String)]) -> Result<Run> {
    let start = Instant::now();
    let (db_key, db_url) = db.env();
    let mut child = Command::new(bin)
        .arg("--once")
        .env(db_key, db_url)
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
    db: Fresh,
    models: usize,
    sync_bin: PathBuf,
}

impl SyncEnv {
    async fn start(args: &Args, target: &Target) -> Result<Self> {
        let latency = Duration::from_millis(args.latency_ms);
        let ollama = FakeOllama::start().await;
        ollama.set_models((0..args.models).map(OllamaModel::synthetic).collect());
        ollama.set_latency(latency);
        let litellm = FakeLiteLlm::start(MASTER_KEY).await;
        litellm.set_latency(latency);

        let fresh = target.fresh().await?;
        let db = fresh.connect().await?;
        providers::insert(&db, &NewProvider::new("bench-ollama", ProviderType::Ollama, ollama.url())).await?;
        let key = Secret::new(MASTER_KEY);
        shared::db::config::set_litellm(&db, Some(&litellm.url()), Some(&key)).await?;
        db.close().await;
        Ok(Self { ollama, litellm, db: fresh, models: args.models, sync_bin: args.sync_bin.clone() })
    }
}

/// Measurement group 1: the first sync of an empty LiteLLM from an Ollama with `models` models.
async fn first_sync(env: &SyncEnv) -> Result<Vec<Row>> {
    let run = run_once(&env.sync_bin, &env.db).await?;
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
    let run = run_once(&env.sync_bin, &env.db).await?;
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

/// The groups whose figures depend on the database, on fresh databases from `target`.
async fn per_backend(args: &Args, target: &Target) -> Result<Vec<Row>> {
    let env = SyncEnv::start(args, target).await?;
    let mut rows = first_sync(&env).await?;
    rows.extend(unchanged_sync(&env).await?);
    drop(env);
    if args.frontend_bin.is_file() {
        let bins = frontend::Binaries { frontend: &args.frontend_bin, sync: &args.sync_bin };
        rows.extend(frontend::measure(&bins, target).await?);
        rows.extend(frontend::lists(&args.frontend_bin, target, &LIST_SIZES).await?);
    } else {
        eprintln!("bench: {} not found; frontend rows skipped", args.frontend_bin.display());
    }
    Ok(rows)
}

/// The groups that measure upstreams, HTTP and LiteLLM rather than the database: once, on SQLite.
async fn sqlite_only(args: &Args) -> Result<Vec<Row>> {
    let mut rows = memory::measure(&args.sync_bin, args.latency_ms).await?;
    if args.frontend_bin.is_file() {
        rows.extend(frontend::abuse(&args.frontend_bin).await?);
    }
    if args.litellm_cost {
        rows.extend(litellm::measure(args).await?);
    } else {
        eprintln!("bench: LiteLLM's cost not measured (pass --litellm-cost, ~17 minutes more)");
    }
    Ok(rows)
}

/// `measure` on each backend `args` names, each PostgreSQL database dropped when its groups end,
/// whatever their outcome.
async fn each_backend<'a, F, Fut>(args: &'a Args, measure: F) -> Result<Vec<(Backend, Vec<Row>)>>
where
    F: Fn(Target) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Row>>> + 'a,
{
    let mut columns = Vec::new();
    for &backend in args.backend.backends() {
        eprintln!("bench: measuring on {}", backend_name(backend));
        let target = Target::open(backend, &args.postgres_url).await?;
        let rows = measure(target.clone()).await;
        target.finish().await;
        columns.push((backend, rows?));
    }
    Ok(columns)
}

async fn run(args: Args) -> Result<()> {
    if args.lists_only {
        ensure!(args.frontend_bin.is_file(), "litellm-frontend binary not found at {}", args.frontend_bin.display());
        let columns = each_backend(&args, |target| {
            let bin = args.frontend_bin.clone();
            async move { frontend::lists(&bin, &target, &LIST_SIZES).await }
        })
        .await?;
        println!("{}\n", environment_line());
        print_side_by_side(&columns);
        return Ok(());
    }
    if !args.sync_bin.is_file() {
        bail!(
            "litellm-sync binary not found at {} (build it with `cargo build --release -p backend` or pass --sync-bin)",
            args.sync_bin.display()
        );
    }
    ensure!(args.models > 0, "--models must be at least 1");
    let columns = each_backend(&args, |target| {
        let args = &args;
        async move { per_backend(args, &target).await }
    })
    .await?;
    let once = if args.backend.backends().contains(&Backend::Sqlite) { sqlite_only(&args).await? } else { Vec::new() };
    println!("{}\n", environment_line());
    print_side_by_side(&columns);
    if !once.is_empty() {
        println!("\nOn SQLite only (upstreams, HTTP and LiteLLM; the database plays no part):\n");
        print_table(&once);
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    // On Ctrl-C the measurement is dropped, and with it the PostgreSQL database and the children.
    let outcome = tokio::select! {
        outcome = run(Args::parse()) => outcome,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Err(e) = outcome {
        eprintln!("bench: {e:#}");
        std::process::exit(1);
    }
}
