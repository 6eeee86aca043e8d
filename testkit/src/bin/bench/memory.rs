//! Measurement group: the worker's memory and time against large and hostile upstreams (issue 9,
//! "Hardening"). Every row runs the real `litellm-sync --once` on a database of its own and
//! reads its peak RSS (`VmHWM`); the target for every case is the same 40 MB.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use shared::Secret;
use shared::db::providers::{self, NewProvider};
use shared::types::ProviderType;
use testkit::{Failure, FakeLiteLlm, FakeOllama, OllamaModel};

use super::{MASTER_KEY, Row, Run};
use crate::database::{Fresh, Target};

const PEAK_TARGET_MB: f64 = 40.0;
const LARGE: usize = 10_000;
/// The slow-drip row's fetch deadline (the default, 120 s, would make the bench slow).
const DRIP_DEADLINE_SECONDS: u64 = 10;

/// One Ollama provider on a fake and an empty fake LiteLLM, in a database of its own.
struct Env {
    ollama: FakeOllama,
    litellm: FakeLiteLlm,
    db: Fresh,
}

impl Env {
    async fn start(models: Vec<OllamaModel>, latency: Duration) -> Result<Self> {
        Self::start_with(models, latency, true).await
    }

    /// `with_litellm: false` leaves LiteLLM unconfigured: the run fetches and skips the push.
    async fn start_with(models: Vec<OllamaModel>, latency: Duration, with_litellm: bool) -> Result<Self> {
        let ollama = FakeOllama::start().await;
        ollama.set_models(models);
        ollama.set_latency(latency);
        let litellm = FakeLiteLlm::start(MASTER_KEY).await;
        litellm.set_latency(latency);
        let fresh = Target::Sqlite.fresh().await?;
        let db = fresh.connect().await?;
        providers::insert(&db, &NewProvider::new("bench-ollama", ProviderType::Ollama, ollama.url())).await?;
        if with_litellm {
            shared::db::config::set_litellm(&db, Some(&litellm.url()), Some(&Secret::new(MASTER_KEY))).await?;
        }
        db.close().await;
        Ok(Self { ollama, litellm, db: fresh })
    }
}

fn peak_row(what: &str, run: &Run) -> Row {
    let measurement = format!("{what}: peak RSS (VmHWM)");
    match run.peak_rss_kb {
        Some(kb) => {
            let (mb, mib) = (kb as f64 * 1024.0 / 1e6, kb as f64 / 1024.0);
            Row::new(
                measurement,
                format!("≤ {PEAK_TARGET_MB} MB"),
                format!("{mb:.1} MB ({mib:.1} MiB)"),
                Some(mb <= PEAK_TARGET_MB),
            )
        }
        None => Row::new(measurement, format!("≤ {PEAK_TARGET_MB} MB"), "not sampled", Some(false)),
    }
}

fn wall_row(what: &str, run: &Run, target: Option<Duration>) -> Row {
    let result = format!("{:.2} s", run.wall.as_secs_f64());
    match target {
        Some(t) => Row::new(format!("{what}: wall time"), format!("≤ {} s", t.as_secs()), result, Some(run.wall <= t)),
        None => Row::new(format!("{what}: wall time"), "—", result, None),
    }
}

/// Whether the run failed for `lab` with a message containing `says` (and did not crash).
fn refused_row(what: &str, run: &Run, says: &str) -> Row {
    let refused = run.status.code() == Some(1) && run.stdout.contains(says);
    if !refused {
        eprintln!(
            "{what}: expected exit 1 and {says:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            run.stdout, run.stderr
        );
    }
    let result = if refused { format!("exit 1, \"…{says}…\"") } else { format!("exit {:?}", run.status.code()) };
    Row::new(format!("{what}: outcome"), "a clear per-provider error", result, Some(refused))
}

/// The group's rows; none when `BENCH_SKIP_MEMORY` is set (to compare an older binary, which
/// the hostile cases would take to gigabytes).
pub async fn measure(sync_bin: &Path, latency_ms: u64) -> Result<Vec<Row>> {
    if std::env::var_os("BENCH_SKIP_MEMORY").is_some() {
        return Ok(Vec::new());
    }
    let latency = Duration::from_millis(latency_ms);
    let mut rows = Vec::new();

    // 0. The same 10,000 models, fetch only (no LiteLLM configured): the fetch's own share.
    let env = Env::start_with((0..LARGE).map(OllamaModel::synthetic).collect(), latency, false).await?;
    let fetched = crate::run_once_with(sync_bin, &env.db, &[]).await?;
    let what = "fetch only (no LiteLLM) of 10,000 models";
    rows.push(wall_row(what, &fetched, None));
    rows.push(peak_row(what, &fetched));
    rows.push(fetched.status_row(&format!("{what}: exit status")));
    drop(env);

    // 1. A first sync of 10,000 models.
    let env = Env::start((0..LARGE).map(OllamaModel::synthetic).collect(), latency).await?;
    let first = crate::run_once_with(sync_bin, &env.db, &[]).await?;
    let what = "first sync of 10,000 models";
    rows.push(wall_row(what, &first, None));
    rows.push(peak_row(what, &first));
    rows.push(first.status_row(&format!("{what}: exit status")));
    rows.push(Row::count(format!("{what}: LiteLLM entries afterwards"), env.litellm.entries().len(), LARGE));
    drop(env);

    // 2. 32 `/api/show` answers of 15 MB each (a 15 MB license).
    let padded = (0..32).map(|i| OllamaModel::synthetic(i).show_padding(15 * 1000 * 1000)).collect();
    let env = Env::start(padded, latency).await?;
    let hostile = crate::run_once_with(sync_bin, &env.db, &[]).await?;
    let what = "hostile: 32 `/api/show` answers of 15 MB";
    rows.push(wall_row(what, &hostile, None));
    rows.push(peak_row(what, &hostile));
    rows.push(hostile.status_row(&format!("{what}: exit status")));
    rows.push(Row::count(format!("{what}: LiteLLM entries afterwards"), env.litellm.entries().len(), 32));
    drop(env);

    // 3. A listing larger than its cap (a valid prefix of an endless list).
    let env = Env::start(Vec::new(), latency).await?;
    env.ollama.set_failure(Failure::Oversized(64 * 1024 * 1024));
    let huge = crate::run_once_with(sync_bin, &env.db, &[]).await?;
    let what = "hostile: a 64 MiB `/api/tags` listing";
    rows.push(wall_row(what, &huge, None));
    rows.push(peak_row(what, &huge));
    rows.push(refused_row(what, &huge, "refusing to read further"));
    drop(env);

    // 4. One id listed 3,000 times.
    let env = Env::start(vec![OllamaModel::chat("same:latest"); 3000], latency).await?;
    let repeated = crate::run_once_with(sync_bin, &env.db, &[]).await?;
    let what = "hostile: one id listed 3,000 times";
    rows.push(repeated.status_row(&format!("{what}: exit status")));
    rows.push(Row::count(format!("{what}: `/api/show` calls"), env.ollama.show_calls(), 1));
    rows.push(Row::count(format!("{what}: LiteLLM entries afterwards"), env.litellm.entries().len(), 1));
    drop(env);

    // 5. Every `/api/show` answer trickles in, 16 bytes every 100 ms.
    let env = Env::start((0..1000).map(OllamaModel::synthetic).collect(), latency).await?;
    env.ollama.set_show_failure(Failure::SlowDrip(Duration::from_millis(100)));
    let deadline = [("FETCH_TIMEOUT_SECONDS", DRIP_DEADLINE_SECONDS.to_string())];
    let drip = crate::run_once_with(sync_bin, &env.db, &deadline).await?;
    let what = format!("hostile: slow-drip `/api/show`, 1,000 models, FETCH_TIMEOUT_SECONDS={DRIP_DEADLINE_SECONDS}");
    rows.push(wall_row(&what, &drip, Some(Duration::from_secs(DRIP_DEADLINE_SECONDS + 5))));
    rows.push(peak_row(&what, &drip));
    rows.push(refused_row(&what, &drip, "(FETCH_TIMEOUT_SECONDS) and was stopped"));
    Ok(rows)
}
