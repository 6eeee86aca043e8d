//! Measurement group 3: `litellm-frontend` — memory idle and with 5,000 models, `/models` latency,
//! `/api/providers` throughput, the time from a "Sync now" request to the worker starting it, and
//! memory under abuse (issue 9): 2,000 half-open slowloris connections, and repeated views of a
//! model whose raw metadata in the database is 15 MB; and the long lists (issue 8): the Models
//! and LiteLLM pages at 5,000 and 20,000 models, sorted by name, searched, and a late page.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use shared::Database;
use shared::db::models::{self, FetchedModel};
use shared::db::providers::{self, NewProvider};
use shared::types::ProviderType;
use testkit::{FakeLiteLlm, FakeOllama, OllamaModel};
use tokio::process::{Child, Command};

use crate::{MASTER_KEY, Row};

const MODELS: usize = 5_000;
const RSS_TARGET_MB: f64 = 20.0;
const P95_TARGET: Duration = Duration::from_millis(30);
const RPS_TARGET: f64 = 2_000.0;
const CLICK_TO_START_TARGET: Duration = Duration::from_millis(1_500);
const ABUSE_RSS_TARGET_MB: f64 = 40.0;
const SLOWLORIS_CONNECTIONS: usize = 2_000;
const RAW_METADATA_BYTES: usize = 15_000_000;

pub struct Binaries<'a> {
    pub frontend: &'a Path,
    pub sync: &'a Path,
}

pub async fn measure(bins: &Binaries<'_>) -> Result<Vec<Row>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let mut rows = Vec::new();

    let empty = Site::start(bins.frontend, |_| async { Ok(()) }).await?;
    empty.get(&http, "/").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = empty.rss_mb("VmRSS");
    rows.push(Row::new("frontend: RSS idle (empty database)", "—", format_mb(idle), None));
    drop(empty);

    let site = Site::start(bins.frontend, seed_models).await?;
    let (p50, p95) = models_page_latency(&http, &site).await?;
    rows.push(Row::new(
        format!("frontend: `/models` p95 latency ({MODELS} models, 200 pages)"),
        format!("≤ {} ms", P95_TARGET.as_millis()),
        format!("{:.1} ms (p50 {:.1} ms)", ms(p95), ms(p50)),
        Some(p95 <= P95_TARGET),
    ));
    let rps = throughput(&http, &site, "/api/providers", Duration::from_secs(5), 16).await?;
    rows.push(Row::new(
        "frontend: `/api/providers` requests/second (16 connections, 5 s)",
        format!("≥ {RPS_TARGET}"),
        format!("{rps:.0}"),
        Some(rps >= RPS_TARGET),
    ));
    let peak = site.rss_mb("VmHWM");
    rows.push(Row::new(
        format!("frontend: peak RSS with {MODELS} models (after the load above)"),
        format!("≤ {RSS_TARGET_MB} MB"),
        format_mb(peak),
        Some(peak.is_some_and(|mb| mb <= RSS_TARGET_MB)),
    ));
    drop(site);

    rows.extend(slowloris(&http, bins.frontend).await?);
    rows.push(large_model_page(&http, bins.frontend).await?);

    let (worst, median) = click_to_start(&http, bins).await?;
    rows.push(Row::new(
        "\"Sync now\" to the worker starting the job (5 clicks)",
        format!("≤ {:.1} s", CLICK_TO_START_TARGET.as_secs_f64()),
        format!("worst {:.2} s (median {:.2} s)", worst.as_secs_f64(), median.as_secs_f64()),
        Some(worst <= CLICK_TO_START_TARGET),
    ));
    Ok(rows)
}

/// Measurement group 3b: the server time of the long lists' pages — sorted by name over the whole
/// list, a search, and a late page — with `sizes` models (and as many LiteLLM entries).
pub async fn lists(bin: &Path, sizes: &[usize]) -> Result<Vec<Row>> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(8).build()?;
    let mut rows = Vec::new();
    for &size in sizes {
        let site = Site::start(bin, |db| seed_lists(db, size)).await?;
        let late = size / 50 - 1;
        let pages: [(&str, [String; 3]); 2] = [
            (
                "/models",
                [
                    "/models?sort=name".into(),
                    "/models?sort=name&q=-3-1".into(),
                    format!("/models?sort=name&page={late}"),
                ],
            ),
            (
                "/litellm",
                [
                    "/litellm?sort=model_name".into(),
                    "/litellm?sort=model_name&q=-3-1".into(),
                    format!("/litellm?sort=model_name&page={late}"),
                ],
            ),
        ];
        for (page, paths) in &pages {
            let mut all = Vec::new();
            let mut each = Vec::new();
            for path in paths {
                let mut latencies = timed_gets(&http, &site, path, LIST_REQUESTS).await?;
                latencies.sort();
                each.push(latencies[latencies.len() * 95 / 100]);
                all.extend(latencies);
            }
            all.sort();
            let p95 = all[all.len() * 95 / 100];
            rows.push(Row::new(
                format!("frontend: `{page}` p95 server time, {size} models (sorted by name, a search, page {late})"),
                format!("≤ {} ms", P95_TARGET.as_millis()),
                format!(
                    "{:.1} ms (sorted {:.1}, search {:.1}, late page {:.1}; p50 {:.1})",
                    ms(p95),
                    ms(each[0]),
                    ms(each[1]),
                    ms(each[2]),
                    ms(all[all.len() / 2])
                ),
                Some(p95 <= P95_TARGET),
            ));
        }
    }
    Ok(rows)
}

const LIST_REQUESTS: usize = 40;

/// `count` sequential GETs of `path` after five warm-up ones: each one's time to the last byte
/// over loopback (the server's time plus a loopback round trip).
async fn timed_gets(http: &reqwest::Client, site: &Site, path: &str, count: usize) -> Result<Vec<Duration>> {
    for _ in 0..5 {
        site.get(http, path).await?.bytes().await?;
    }
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let started = Instant::now();
        site.get(http, path).await?.bytes().await?;
        latencies.push(started.elapsed());
    }
    Ok(latencies)
}

/// `size` models over five Ollama providers, each owning a LiteLLM entry of the snapshot.
async fn seed_lists(db: Database, size: usize) -> Result<()> {
    for p in 0..5 {
        let provider = providers::insert(
            &db,
            &NewProvider::new(format!("lab-{p}"), ProviderType::Ollama, format!("http://lab-{p}:11434")),
        )
        .await?;
        let fetched: Vec<FetchedModel> = (0..size / 5)
            .map(|i| {
                let id = format!("model-{p}-{i}:7b");
                let raw = json!({
                    "details": {"family": "llama", "parameter_size": "7B"}, "capabilities": ["completion", "tools"],
                    "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                });
                FetchedModel::from_upstream(ProviderType::Ollama, &id, Some(format!("d{p}-{i}")), &raw)
            })
            .collect();
        let ids: Vec<String> = fetched.iter().map(|f| f.model_id.clone()).collect();
        models::record_fetch(&db, provider.id, &fetched, &ids).await?;
    }
    db.execute_for_tests("UPDATE models SET litellm_model_id = 'lu-' || CAST(id AS TEXT)", &[]).await;
    let rows: Vec<(i64, String)> = db
        .rows_for_tests("SELECT id, model_id FROM models", &[])
        .await
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Some(id), Some(model_id)] => Some((id.parse().ok()?, model_id.clone())),
            _ => None,
        })
        .collect();
    let entries: Vec<Value> = rows
        .iter()
        .map(|(id, model_id)| {
            json!({"model_name": model_id,
                   "litellm_params": {"model": format!("ollama_chat/{model_id}"), "api_base": "http://lab:11434"},
                   "model_info": {"id": format!("lu-{id}"), "db_model": true, "managed_by": "litellm-updater"}})
        })
        .collect();
    shared::db::snapshot::save(&db, &entries).await?;
    Ok(())
}

/// A running `litellm-frontend` on a fresh database.
struct Site {
    child: Child,
    base: String,
    db_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Site {
    async fn start<F, Fut>(bin: &Path, seed: F) -> Result<Self>
    where
        F: FnOnce(Database) -> Fut,
        Fut: std::future::Future<Output = Result<()>>,
    {
        let dir = tempfile::tempdir()?;
        let db_path = dir.path().join("models.db");
        let db = Database::open(&db_path).await?;
        db.migrate().await?;
        seed(db.clone()).await?;
        db.close().await;
        let port = testkit::free_port().await;
        let child = Command::new(bin)
            .env("DATABASE_PATH", &db_path)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let site = Self { child, base: format!("http://127.0.0.1:{port}"), db_path, _dir: dir };
        site.wait_healthy().await?;
        Ok(site)
    }

    async fn wait_healthy(&self) -> Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http.get(format!("{}/health", self.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("litellm-frontend did not answer /health within 20 s")
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> Result<reqwest::Response> {
        let response = http.get(format!("{}{path}", self.base)).send().await?;
        if !response.status().is_success() {
            bail!("GET {path} answered {}", response.status());
        }
        Ok(response)
    }

    fn rss_mb(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let kb: f64 = status.lines().find(|l| l.starts_with(field))?.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024.0 / 1e6)
    }
}

/// 2,000 clients that each send half a request head and then nothing: the frontend's peak RSS
/// while they hold on, and how long a normal request waits meanwhile (the connection cap of 512
/// makes it queue until the 10 s header-read timeout frees slots).
async fn slowloris(http: &reqwest::Client, bin: &Path) -> Result<Vec<Row>> {
    use tokio::io::AsyncWriteExt;
    let site = Site::start(bin, |_| async { Ok(()) }).await?;
    let address = site.base.trim_start_matches("http://").to_owned();
    // All at once, so that they are held together (one by one, the first would time out before
    // the last connected). Past the cap and the kernel's backlog a connect may hang: count what
    // got through.
    let connecting: Vec<_> = (0..SLOWLORIS_CONNECTIONS)
        .map(|_| {
            let address = address.clone();
            tokio::spawn(async move {
                let connect = tokio::net::TcpStream::connect(address);
                let mut stream = tokio::time::timeout(Duration::from_secs(2), connect).await.ok()?.ok()?;
                stream.write_all(b"GET /api/providers HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ").await.ok()?;
                Some(stream)
            })
        })
        .collect();
    let mut held = Vec::with_capacity(SLOWLORIS_CONNECTIONS);
    for task in connecting {
        if let Ok(Some(stream)) = task.await {
            held.push(stream);
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let answered = http.get(format!("{}/health", site.base)).timeout(Duration::from_secs(30)).send().await;
    let waited = started.elapsed();
    let peak = site.rss_mb("VmHWM");
    let connected = held.len();
    drop(held);
    Ok(vec![
        Row::new(
            format!(
                "frontend: peak RSS, {SLOWLORIS_CONNECTIONS} half-open slowloris connections ({connected} connected)"
            ),
            format!("≤ {ABUSE_RSS_TARGET_MB} MB"),
            format_mb(peak),
            Some(peak.is_some_and(|mb| mb <= ABUSE_RSS_TARGET_MB)),
        ),
        Row::new(
            "frontend: `/health` during the slowloris (waits for the 10 s header timeout to free a slot)",
            "answered",
            match answered {
                Ok(response) => format!("{} after {:.1} s", response.status().as_u16(), waited.as_secs_f64()),
                Err(error) => format!("failed after {:.1} s: {error}", waited.as_secs_f64()),
            },
            None,
        ),
    ])
}

/// A model whose stored raw metadata is 15 MB, viewed 20 times in a row and 4 at once: the page
/// shows 64 KiB of it, and the frontend must stay small whatever the database holds.
async fn large_model_page(http: &reqwest::Client, bin: &Path) -> Result<Row> {
    let site = Site::start(bin, |db| async move {
        let provider =
            providers::insert(&db, &NewProvider::new("lab", ProviderType::Ollama, "http://lab:11434")).await?;
        let layers: Vec<Value> = (0..RAW_METADATA_BYTES / 60)
            .map(|i| json!({"layer": i, "tensor": "blk.attn_q.weight.abcdefghijklmnop"}))
            .collect();
        let mut fetched = FetchedModel::from_upstream(ProviderType::Ollama, "big:70b", None, &json!({}));
        // Stored as the worker would store an (uncapped) upstream answer of this size.
        fetched.raw_metadata = json!({"model_info": {"tensors": layers}}).to_string();
        models::record_fetch(&db, provider.id, &[fetched], &["big:70b".to_owned()]).await?;
        Ok(())
    })
    .await?;
    let id: i64 = {
        let body: Value = site.get(http, "/api/models").await?.json().await?;
        body.pointer("/items/0/id").and_then(Value::as_i64).context("the seeded model")?
    };
    let path = format!("/models/{id}");
    let mut largest = 0;
    for _ in 0..20 {
        largest = largest.max(site.get(http, &path).await?.bytes().await?.len());
    }
    let views: Vec<_> = (0..4)
        .map(|_| {
            let (http, url) = (http.clone(), format!("{}{path}", site.base));
            tokio::spawn(async move { http.get(url).send().await?.bytes().await.map(|b| b.len()) })
        })
        .collect();
    for view in views {
        largest = largest.max(view.await??);
    }
    let peak = site.rss_mb("VmHWM");
    Ok(Row::new(
        format!("frontend: peak RSS, model page with 15 MB raw metadata (24 views, page ≤ {} KiB)", largest / 1024 + 1),
        format!("≤ {ABUSE_RSS_TARGET_MB} MB"),
        format_mb(peak),
        Some(peak.is_some_and(|mb| mb <= ABUSE_RSS_TARGET_MB)),
    ))
}

/// Five Ollama providers of 1,000 models each, recorded as a fetch would record them.
async fn seed_models(db: Database) -> Result<()> {
    for p in 0..5 {
        let provider = providers::insert(
            &db,
            &NewProvider::new(format!("lab-{p}"), ProviderType::Ollama, format!("http://lab-{p}:11434")),
        )
        .await?;
        let fetched: Vec<FetchedModel> = (0..MODELS / 5)
            .map(|i| {
                let id = format!("model-{p}-{i:04}:7b");
                let raw = json!({
                    "digest": format!("sha256:{p}{i:060}"), "size": 4_000_000_000_u64,
                    "details": {"family": "llama", "parameter_size": "7B", "quantization_level": "Q4_K_M"},
                    "capabilities": ["completion", "tools"],
                    "model_info": {"general.architecture": "llama", "llama.context_length": 131072},
                });
                FetchedModel::from_upstream(ProviderType::Ollama, &id, Some(format!("d{p}-{i}")), &raw)
            })
            .collect();
        let ids: Vec<String> = fetched.iter().map(|f| f.model_id.clone()).collect();
        models::record_fetch(&db, provider.id, &fetched, &ids).await?;
    }
    Ok(())
}

async fn models_page_latency(http: &reqwest::Client, site: &Site) -> Result<(Duration, Duration)> {
    let pages = MODELS / 50;
    for page in 1..=10 {
        site.get(http, &format!("/models?page={page}")).await?.bytes().await?;
    }
    let mut latencies = Vec::with_capacity(200);
    for n in 0..200 {
        let started = Instant::now();
        site.get(http, &format!("/models?page={}", n % pages + 1)).await?.bytes().await?;
        latencies.push(started.elapsed());
    }
    latencies.sort();
    Ok((latencies[latencies.len() / 2], latencies[latencies.len() * 95 / 100]))
}

async fn throughput(
    http: &reqwest::Client,
    site: &Site,
    path: &str,
    duration: Duration,
    workers: usize,
) -> Result<f64> {
    let url = format!("{}{path}", site.base);
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let (http, url) = (http.clone(), url.clone());
            tokio::spawn(async move {
                let mut ok = 0_u64;
                while Instant::now() < deadline {
                    if let Ok(response) = http.get(&url).send().await
                        && response.status().is_success()
                        && response.bytes().await.is_ok()
                    {
                        ok += 1;
                    }
                }
                ok
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Starts the real worker and frontend on one database, asks for "Sync now" five times, and
/// measures each until the job leaves `queued`.
async fn click_to_start(http: &reqwest::Client, bins: &Binaries<'_>) -> Result<(Duration, Duration)> {
    let ollama = FakeOllama::start().await;
    ollama.set_models((0..3).map(OllamaModel::synthetic).collect());
    let litellm = FakeLiteLlm::start(MASTER_KEY).await;
    let (ollama_url, litellm_url) = (ollama.url(), litellm.url());
    let site = Site::start(bins.frontend, |db| async move {
        providers::insert(&db, &NewProvider::new("lab", ProviderType::Ollama, ollama_url)).await?;
        let key = shared::Secret::new(MASTER_KEY);
        shared::db::config::set_litellm(&db, Some(&litellm_url), Some(&key)).await?;
        Ok(())
    })
    .await?;
    let mut worker = Command::new(bins.sync)
        .env("DATABASE_PATH", &site.db_path)
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bins.sync.display()))?;
    let providers: Value = site.get(http, "/api/providers").await?.json().await?;
    let id = providers
        .as_array()
        .and_then(|list| list.first())
        .and_then(|p| p["id"].as_i64())
        .context("GET /api/providers listed no provider")?;
    let mut waits = Vec::new();
    for _ in 0..5 {
        let clicked = Instant::now();
        let job: Value = http
            .post(format!("{}/api/providers/{id}/sync-now", site.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let job_id = job["job_id"].as_i64().context("sync-now answered without a job_id")?;
        let started = loop {
            let record: Value = site.get(http, &format!("/api/jobs/{job_id}")).await?.json().await?;
            if record["status"] != "queued" {
                break clicked.elapsed();
            }
            if clicked.elapsed() > Duration::from_secs(20) {
                bail!("the worker did not start job {job_id} within 20 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        waits.push(started);
        site.get(http, &format!("/api/jobs/{job_id}?wait=30")).await?;
    }
    let _ = worker.kill().await;
    waits.sort();
    Ok((waits[waits.len() - 1], waits[waits.len() / 2]))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn format_mb(mb: Option<f64>) -> String {
    mb.map_or_else(|| "not sampled".into(), |mb| format!("{mb:.1} MB ({:.1} MiB)", mb * 1e6 / 1048576.0))
}
