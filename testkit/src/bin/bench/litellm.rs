//! Measurement group 4, opt-in (`--litellm-cost`; ~17 minutes on 2 idle CPUs): what LiteLLM
//! itself costs.
//!
//! Why: the groups above measure `litellm-sync` against a fake LiteLLM that answers at once, but
//! the real proxy is the slow side of a push. With a database, every model write ends in
//! `ProxyConfig.add_deployment`, which holds one global `MODEL_RECONCILE_LOCK` and reconciles
//! the router against the whole model table, so writes are serialised and slow down as the table
//! fills (an operator measured ~11 creates/s at 50 entries, ~7/s at 300). Three parts:
//!
//! 1. The per-write reconcile in LiteLLM's own code, in-process (`scripts/litellm-write-cost.py`),
//!    at 100, 1,000 and 5,000 deployments. It excludes the DB query and HTTP handling.
//! 2. The real proxy in config mode (its write API needs a Prisma engine that cannot be downloaded
//!    here) with the `model_list` that `litellm-sync render-config` writes for 1,000 and 5,000
//!    models: start-up, `GET /model/info` (what every push reads first, under our 30 s request
//!    timeout), resident memory, and `litellm-sync --dry-run` against it.
//! 3. Our first sync against the fake LiteLLM with a write cost calibrated from part 1, at 16 and
//!    4 writes in flight: against a serialising server each write waits for those before it, so
//!    does any reach the timeout? Then the same for a push into part 1's largest table.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;
use serde_json::Value;
use testkit::litellm::Reconcile;
use testkit::real_litellm;
use tokio::process::{Child, Command};

use crate::database::{Fresh, Target};
use crate::{Args, MASTER_KEY, Row, SyncEnv, drain, status_text};

/// Table sizes for the real proxy's read path (part 2).
const READ_SIZES: [usize; 2] = [1_000, 5_000];
/// First syncs against the costed fake (part 3), each at every concurrency.
const FIRST_SYNC_SIZES: [usize; 2] = [1_000, 5_000];
/// New models pushed into the costed fake already holding part 1's largest table.
const TOP_UP: usize = 64;
const CONCURRENCIES: [usize; 2] = [16, 4];
/// The operator's measurement the base cost is fitted to: creates/s at this many entries.
const OPERATOR_RATE: f64 = 11.0;
const OPERATOR_ENTRIES: f64 = 50.0;
/// `REQUEST_TIMEOUT_SECONDS`' default, which every write must beat.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A costed first sync the model predicts to take longer than this is skipped with a row.
const MAX_MODELED_SYNC: Duration = Duration::from_secs(10 * 60);
const INFO_READS: usize = 5;
/// `/model/info` reads stop once they took this long (and one read may take this long).
const INFO_BUDGET: Duration = Duration::from_secs(5 * 60);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(600);
const START_DEADLINE: Duration = Duration::from_secs(15 * 60);

pub async fn measure(args: &Args) -> Result<Vec<Row>> {
    let litellm = real_litellm::litellm_bin();
    let python = litellm.with_file_name("python");
    if !litellm.is_file() || !python.is_file() {
        let why = format!("skipped: no LiteLLM virtualenv ({} missing; `scripts/test` installs it)", litellm.display());
        return Ok(vec![Row::new("LiteLLM's cost", "—", why, None)]);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/litellm-write-cost.py");
    let cost = write_cost(&python, &script).await?;
    let mut rows = cost.rows();
    for n in READ_SIZES {
        rows.extend(read_path(args, &litellm, n).await?);
    }
    let model = WriteModel::calibrate(&cost)?;
    rows.push(model.row(&cost));
    for n in FIRST_SYNC_SIZES {
        let modeled = model.serial_time(n);
        if modeled > MAX_MODELED_SYNC {
            rows.push(model.skipped_row(n, modeled));
            continue;
        }
        let runs = CONCURRENCIES.map(|concurrency| CostedRun { new: n, existing: 0, concurrency });
        rows.extend(costed_runs(args, model, runs).await?);
    }
    // The largest table, costed at what part 1 measured there: do the writes still beat the timeout?
    let largest = cost.sizes.last().context("the write-cost script measured no size")?;
    let runs = CONCURRENCIES.map(|concurrency| CostedRun { new: TOP_UP, existing: largest.n, concurrency });
    rows.extend(costed_runs(args, model.through(largest), runs).await?);
    Ok(rows)
}

/// Side by side: each run has its own fakes, and a costed write is a timer, not CPU.
async fn costed_runs(args: &Args, model: WriteModel, runs: [CostedRun; 2]) -> Result<Vec<Row>> {
    let runs = runs.map(|run| costed_sync(args, model, run));
    Ok(futures::future::try_join_all(runs).await?.into_iter().flatten().collect())
}

// ---- Part 1: the reconcile in LiteLLM's own code ----

#[derive(Debug, Deserialize)]
struct WriteCost {
    litellm: String,
    sizes: Vec<SizeCost>,
    seconds: f64,
}

#[derive(Debug, Deserialize)]
struct SizeCost {
    n: usize,
    write_ms: Vec<f64>,
    write_ms_median: f64,
    decrypt_list_ms: f64,
    upserted_per_write: Vec<usize>,
    router_build_s: f64,
}

impl WriteCost {
    fn rows(&self) -> Vec<Row> {
        let mut rows: Vec<Row> = self
            .sizes
            .iter()
            .map(|s| {
                let runs = s.write_ms.iter().map(|ms| format!("{ms:.0}")).collect::<Vec<_>>().join(", ");
                Row::new(
                    format!("LiteLLM {}: one write's reconcile with {} entries (in-process)", self.litellm, s.n),
                    "—",
                    format!("{:.1} ms median ({runs})", s.write_ms_median),
                    None,
                )
            })
            .collect();
        let upserted = self.sizes.iter().flat_map(|s| &s.upserted_per_write).filter(|&&u| u != 1).count();
        rows.push(Row::count("LiteLLM reconcile: writes that re-added more than the new deployment", upserted, 0));
        let list = |f: &dyn Fn(&SizeCost) -> String| self.sizes.iter().map(f).collect::<Vec<_>>().join(" / ");
        rows.push(Row::new(
            format!(
                "LiteLLM reconcile at N = {}: router built from N rows (start-up path)",
                list(&|s| s.n.to_string())
            ),
            "—",
            format!("{} s", list(&|s| format!("{:.1}", s.router_build_s))),
            None,
        ));
        rows.push(Row::new(
            "LiteLLM reconcile: `decrypt_model_list_from_db` of N rows (start-up only, not per write)",
            "—",
            format!("{} ms", list(&|s| format!("{:.0}", s.decrypt_list_ms))),
            None,
        ));
        rows
    }

    /// Slope of the median write cost between sizes `i` and `j` (indices), in ms per entry.
    fn slope_ms(&self, i: usize, j: usize) -> Result<f64> {
        let (Some(a), Some(b)) = (self.sizes.get(i), self.sizes.get(j)) else {
            bail!("the write-cost script measured {} sizes, not {}", self.sizes.len(), i.max(j) + 1);
        };
        ensure!(b.n > a.n, "the write-cost script's sizes must grow");
        Ok(((b.write_ms_median - a.write_ms_median) / (b.n - a.n) as f64).max(0.0))
    }

    /// `100→1000` for sizes `i` and `j`.
    fn span(&self, i: usize, j: usize) -> String {
        let n = |k: usize| self.sizes.get(k).map_or_else(|| "?".into(), |s| s.n.to_string());
        format!("{}→{}", n(i), n(j))
    }
}

async fn write_cost(python: &Path, script: &Path) -> Result<WriteCost> {
    ensure!(script.is_file(), "{} not found", script.display());
    let output = Command::new(python).arg(script).stdin(Stdio::null()).kill_on_drop(true).output();
    let output = tokio::time::timeout(SCRIPT_TIMEOUT, output)
        .await
        .with_context(|| format!("{} ran longer than {} s", script.display(), SCRIPT_TIMEOUT.as_secs()))??;
    if !output.status.success() {
        bail!("{} exited with {}:\n{}", script.display(), output.status, String::from_utf8_lossy(&output.stderr));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).context("the write-cost script printed no JSON")?;
    let cost: WriteCost =
        serde_json::from_str(line).with_context(|| format!("cannot parse the write-cost script's output: {line}"))?;
    eprintln!("bench: {} measured in {:.0} s (import excluded)", script.display(), cost.seconds);
    Ok(cost)
}

// ---- Part 2: the real proxy's read path ----

async fn read_path(args: &Args, litellm: &Path, n: usize) -> Result<Vec<Row>> {
    // The fake Ollama stays up and answers at once: LiteLLM asks it (`/api/show`) about models.
    let env = SyncEnv::start(&Args { models: n, latency_ms: 0, ..args.clone() }, &Target::Sqlite).await?;
    let run = crate::run_once(&env.sync_bin, &env.db).await?;
    ensure!(
        run.status.success(),
        "seeding {n} models: litellm-sync --once exited with {}:\n{}",
        run.status,
        run.stderr
    );
    let config = env.db.dir().join("config.yaml");
    render_config(&env.sync_bin, &env.db, &config).await?;
    env.ollama.reset_counters();
    let label = format!("real LiteLLM, {n} models (render-config, config mode)");
    let proxy = match Proxy::start(litellm, &config).await {
        Ok(proxy) => proxy,
        Err(error) => {
            eprintln!("{label}: {error:#}");
            return Ok(vec![Row::new(
                format!("{label}: start-up"),
                "healthy",
                "did not start (see stderr)",
                Some(false),
            )]);
        }
    };
    let rss = vm_rss_mb(proxy.pid);
    let startup_shows = env.ollama.show_calls();
    env.ollama.reset_counters();
    let reads = model_info_reads(&proxy.url).await?;
    let read_shows = env.ollama.show_calls() / reads.times.len().max(1);
    let dry_run = dry_run(&env, &proxy.url).await?;
    let started_in = proxy.started_in;
    drop(proxy); // kill_on_drop: its memory back before the next size starts
    env.ollama.set_models(Vec::new()); // the fake's server outlives `env`; its models need not
    Ok(vec![
        Row::new(
            format!("{label}: start-up to first healthy `/health/liveliness`"),
            "—",
            format!("{:.1} s ({startup_shows} Ollama `/api/show` calls)", started_in.as_secs_f64()),
            None,
        ),
        Row::new(
            format!("{label}: `GET /model/info` wall time (median of {})", reads.times.len()),
            format!("< {} s (REQUEST_TIMEOUT_SECONDS)", REQUEST_TIMEOUT.as_secs()),
            format!("{} ({read_shows} Ollama `/api/show` calls each)", reads.summary()),
            None,
        ),
        Row::new(format!("{label}: RSS after start (VmRSS)"), "—", format_mb(rss), None),
        Row::count(format!("{label}: entries in `/model/info`"), reads.entries, n),
        dry_run.row(&format!("{label}: `litellm-sync --dry-run` against it (one `/model/info` read)")),
    ])
}

/// `litellm-sync --dry-run` against the real proxy: the read every push starts with, under the
/// push's own `REQUEST_TIMEOUT_SECONDS`.
async fn dry_run(env: &SyncEnv, url: &str) -> Result<SyncRun> {
    let db = env.db.connect().await?;
    shared::db::config::set_litellm(&db, Some(url), Some(&shared::Secret::new(MASTER_KEY))).await?;
    db.close().await;
    run_sync(&env.sync_bin, &env.db, &["--dry-run", "--json"], CONCURRENCIES[0]).await
}

/// The real `litellm --config` on 127.0.0.1, killed when dropped. Like
/// [`testkit::real_litellm::RealLiteLlm`], but polled every 100 ms (the start-up is a result here)
/// and given [`START_DEADLINE`]: its tests' 120 s is too short for 5,000 models.
struct Proxy {
    url: String,
    pid: u32,
    started_in: Duration,
    _child: Child,
}

impl Proxy {
    async fn start(bin: &Path, config: &Path) -> Result<Self> {
        let port = testkit::free_port().await;
        let log = std::fs::File::create(config.with_extension("litellm.log"))?;
        let started = Instant::now();
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_else(|_| "/tmp".into()))
            .env("LITELLM_MASTER_KEY", MASTER_KEY)
            // The cost map ships with the package; without this it is fetched from GitHub.
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env("LITELLM_TELEMETRY", "False")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("LiteLLM exited before its pid could be read")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
        while started.elapsed() < START_DEADLINE {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "LiteLLM exited with {status} before it was ready (log: {})",
                    config.with_extension("litellm.log").display()
                );
            }
            if http.get(format!("{url}/health/liveliness")).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(Self { url, pid, started_in: started.elapsed(), _child: child });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("LiteLLM did not answer /health/liveliness within {} s", START_DEADLINE.as_secs())
    }
}

async fn render_config(sync_bin: &Path, db: &Fresh, out: &Path) -> Result<()> {
    let output = Command::new(sync_bin)
        .arg("render-config")
        .arg("-o")
        .arg(out)
        .env(db.env().0, db.env().1)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot start {}", sync_bin.display()))?;
    ensure!(
        output.status.success(),
        "litellm-sync render-config exited with {}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

/// What [`model_info_reads`] saw.
struct InfoReads {
    times: Vec<Duration>,
    /// Body size and `data` entries of the last answer.
    bytes: usize,
    entries: usize,
    /// Why reading stopped early (a timeout, an error status).
    failure: Option<String>,
}

impl InfoReads {
    fn summary(&self) -> String {
        let failure = self.failure.as_deref().map(|f| format!("; then {f}")).unwrap_or_default();
        if self.times.is_empty() {
            return format!("no answer{failure}");
        }
        let mut sorted = self.times.clone();
        sorted.sort();
        let runs = self.times.iter().map(|t| format!("{:.1}", t.as_secs_f64())).collect::<Vec<_>>().join(", ");
        let median = sorted[sorted.len() / 2].as_secs_f64();
        format!("{median:.1} s (runs {runs}; {:.1} MB body{failure})", self.bytes as f64 / 1e6)
    }
}

/// `GET /model/info` (body read included) [`INFO_READS`] times, or fewer once [`INFO_BUDGET`] is
/// spent: with thousands of Ollama models one read takes minutes.
async fn model_info_reads(url: &str) -> Result<InfoReads> {
    let http = reqwest::Client::builder().timeout(INFO_BUDGET).build()?;
    let started = Instant::now();
    let mut reads = InfoReads { times: Vec::with_capacity(INFO_READS), bytes: 0, entries: 0, failure: None };
    while reads.times.len() < INFO_READS && started.elapsed() < INFO_BUDGET {
        let read_started = Instant::now();
        match read_model_info(&http, url).await {
            Ok((bytes, entries)) => {
                reads.times.push(read_started.elapsed());
                (reads.bytes, reads.entries) = (bytes, entries);
            }
            Err(error) => {
                reads.failure = Some(format!("{error:#}"));
                break;
            }
        }
    }
    Ok(reads)
}

/// One `/model/info`: the body's size and its number of entries.
async fn read_model_info(http: &reqwest::Client, url: &str) -> Result<(usize, usize)> {
    let response = http.get(format!("{url}/model/info")).bearer_auth(MASTER_KEY).send().await?;
    let body = response.error_for_status()?.bytes().await?;
    let info: Value = serde_json::from_slice(&body).context("/model/info is not JSON")?;
    Ok((body.len(), info["data"].as_array().map_or(0, Vec::len)))
}

fn vm_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

fn format_mb(mb: Option<f64>) -> String {
    mb.map_or_else(|| "not sampled".into(), |mb| format!("{mb:.0} MB ({:.0} MiB)", mb * 1e6 / 1_048_576.0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

// ---- Part 3: our push against a LiteLLM that slows like the real one ----

/// `base + per_entry × entries` per write, as [`testkit::FakeLiteLlm::set_write_cost`] takes it.
#[derive(Clone, Copy)]
struct WriteModel {
    base: Duration,
    per_entry: Duration,
}

impl WriteModel {
    /// `per_entry`: the slope of part 1 between its two smallest sizes (the range a first sync of
    /// 1,000 crosses; the cost grows faster beyond). `base`: what is left of the operator's 1/11 s
    /// per write at 50 entries, i.e. what part 1 leaves out (the DB, HTTP, settings reads).
    fn calibrate(cost: &WriteCost) -> Result<Self> {
        let per_entry_ms = cost.slope_ms(0, 1)?;
        let base_ms = (1000.0 / OPERATOR_RATE - per_entry_ms * OPERATOR_ENTRIES).max(0.0);
        Ok(Self {
            base: Duration::from_secs_f64(base_ms / 1000.0),
            per_entry: Duration::from_secs_f64(per_entry_ms / 1000.0),
        })
    }

    /// The same base, with a slope that gives a write at `size.n` entries what part 1 measured there.
    fn through(self, size: &SizeCost) -> Self {
        Self { per_entry: Duration::from_secs_f64(size.write_ms_median / 1000.0 / size.n as f64), ..self }
    }

    fn write(&self, entries: usize) -> Duration {
        self.base + self.per_entry.mul_f64(entries as f64)
    }

    /// What `n` serialised creates into an empty table cost in total.
    fn serial_time(&self, n: usize) -> Duration {
        self.base.mul_f64(n as f64) + self.per_entry.mul_f64((n * (n + 1) / 2) as f64)
    }

    fn row(&self, cost: &WriteCost) -> Row {
        let rate = |entries: usize| 1.0 / self.write(entries).as_secs_f64();
        let steeper = cost.slope_ms(1, 2).map(|ms| format!("{ms:.3}")).unwrap_or_else(|_| "—".into());
        Row::new(
            "costed fake LiteLLM: one global lock held base + per_entry × entries per write",
            format!("≈ {OPERATOR_RATE}/s at {OPERATOR_ENTRIES} entries (operator)"),
            format!(
                "base {:.1} ms, per entry {:.3} ms (in-process slope {}; {steeper} ms {}): {:.1}/s at 50, {:.1}/s at 275 (operator ≈ 7/s for 251–300)",
                ms(self.base),
                ms(self.per_entry),
                cost.span(0, 1),
                cost.span(1, 2),
                rate(50),
                rate(275)
            ),
            None,
        )
    }

    fn skipped_row(&self, n: usize, modeled: Duration) -> Row {
        Row::new(
            format!("costed first sync of {n} models"),
            "—",
            format!(
                "skipped: ≥ {:.0} min of serialised writes per run by the model (limit {:.0} min); see the push into {n} entries below",
                modeled.as_secs_f64() / 60.0,
                MAX_MODELED_SYNC.as_secs_f64() / 60.0,
            ),
            None,
        )
    }
}

/// One run against the costed fake: `new` models pushed into a LiteLLM already holding
/// `existing` entries that are not ours (left alone by the push, but paid for by every write).
#[derive(Clone, Copy)]
struct CostedRun {
    new: usize,
    existing: usize,
    concurrency: usize,
}

impl CostedRun {
    fn label(&self) -> String {
        let (new, concurrency) = (self.new, self.concurrency);
        match self.existing {
            0 => format!("costed first sync of {new} models, {concurrency} in flight"),
            existing => format!("costed push of {new} models into {existing} entries, {concurrency} in flight"),
        }
    }
}

/// What `litellm-sync --once --json` reported.
struct SyncRun {
    status: ExitStatus,
    wall: Duration,
    report: Option<Value>,
    stderr: String,
}

impl SyncRun {
    fn results(&self) -> impl Iterator<Item = &Value> {
        let results = self.report.as_ref().and_then(|r| r.pointer("/push/results")).and_then(Value::as_array);
        results.into_iter().flatten()
    }

    fn failed(&self) -> usize {
        self.results().filter(|r| r["ok"] != Value::Bool(true)).count()
    }

    /// Operations that failed on `REQUEST_TIMEOUT_SECONDS` ("did not answer within").
    fn timeouts(&self) -> usize {
        self.results().filter(|r| r["error"].as_str().is_some_and(|e| e.contains("did not answer within"))).count()
    }

    /// Exit status, wall time and why the push failed, if it did.
    fn row(&self, measurement: &str) -> Row {
        let error = self.report.as_ref().and_then(|r| r["push_error"].as_str()).map(|e| format!(": {e}"));
        let result = format!(
            "exit {} in {:.1} s{}",
            status_text(self.status),
            self.wall.as_secs_f64(),
            error.unwrap_or_default()
        );
        if !self.status.success() {
            eprintln!("{measurement}: {result}\n{}", self.stderr.trim());
        }
        Row::new(measurement, "exit 0", result, Some(self.status.success()))
    }
}

async fn run_sync(bin: &Path, db: &Fresh, args: &[&str], concurrency: usize) -> Result<SyncRun> {
    let started = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        .env(db.env().0, db.env().1)
        .env("LOG_LEVEL", "warn")
        .env("LITELLM_CONCURRENCY", concurrency.to_string())
        .env("REQUEST_TIMEOUT_SECONDS", REQUEST_TIMEOUT.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let status = child.wait().await?;
    let wall = started.elapsed();
    let (stdout, stderr) = (stdout.await?, stderr.await?);
    Ok(SyncRun { status, wall, report: serde_json::from_str(&stdout).ok(), stderr })
}

/// `count` DB entries someone else created, as the table a push lands in.
fn prefill(litellm: &testkit::FakeLiteLlm, count: usize) {
    for i in 0..count {
        let name = format!("other-team-model-{i:05}");
        let params = serde_json::json!({"model": format!("openai/{name}"), "api_base": "http://10.0.0.9:8000/v1"});
        litellm.insert_db_entry(&name, params, serde_json::json!({"id": format!("other-{i:05}")}));
    }
}

async fn costed_sync(args: &Args, model: WriteModel, run: CostedRun) -> Result<Vec<Row>> {
    let env = SyncEnv::start(&Args { models: run.new, ..args.clone() }, &Target::Sqlite).await?;
    prefill(&env.litellm, run.existing);
    env.litellm.set_write_cost(model.base, model.per_entry);
    let sync = run_sync(&env.sync_bin, &env.db, &["--once", "--json"], run.concurrency).await?;
    let label = run.label();
    if !sync.status.success() {
        eprintln!("{label}: litellm-sync exited with {}\n{}", sync.status, sync.stderr.trim());
    }
    env.ollama.set_models(Vec::new()); // the fake's server outlives `env`; its models need not
    let reconciles = env.litellm.reconciles();
    let longest = reconciles.iter().map(|r| r.waited).max().unwrap_or_default();
    Ok(vec![
        Row::new(format!("{label}: wall time"), "—", format!("{:.1} s", sync.wall.as_secs_f64()), None),
        Row::new(format!("{label}: creates/s, first 10 % / last 10 % of writes"), "—", tenth_rates(&reconciles), None),
        Row::new(
            format!("{label}: longest write, stored to answered (lock wait + reconcile)"),
            format!("< {} s (REQUEST_TIMEOUT_SECONDS)", REQUEST_TIMEOUT.as_secs()),
            format!(
                "{:.1} s ({:.2} s per write at the end)",
                longest.as_secs_f64(),
                model.write(run.existing + run.new).as_secs_f64()
            ),
            None,
        ),
        Row::count(format!("{label}: failed operations"), sync.failed(), 0),
        Row::count(format!("{label}: of which timeouts"), sync.timeouts(), 0),
        // A write that timed out on our side was still stored: LiteLLM finishes it regardless.
        Row::count(format!("{label}: LiteLLM entries afterwards"), env.litellm.entry_count(), run.existing + run.new),
    ])
}

/// Creates/s over the first and the last tenth of the answered writes.
fn tenth_rates(reconciles: &[Reconcile]) -> String {
    let tenth = reconciles.len() / 10;
    if tenth < 2 {
        return "too few writes".into();
    }
    let rate = |span: &[Reconcile]| {
        let seconds = (span[span.len() - 1].answered_at - span[0].answered_at).as_secs_f64();
        (span.len() - 1) as f64 / seconds.max(f64::EPSILON)
    };
    let (first, last) = (&reconciles[..tenth], &reconciles[reconciles.len() - tenth..]);
    format!("{:.1} / {:.1}", rate(first), rate(last))
}
