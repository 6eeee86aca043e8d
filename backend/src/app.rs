//! What `main` runs: open and migrate the database, then the worker, one cycle, or a dry run.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use shared::db::Location;
use shared::db::config;
use shared::render::SecretStyle;
use shared::{Database, Secret};
use tokio_util::sync::CancellationToken;

use crate::cli::{Cli, Command};
use crate::context::{Context, Settings};
use crate::cycle::{self, Push};
use crate::lease::Renewal;
use crate::push::Scope;
use crate::{copy_db, jobs, render_config, report, worker};

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if matches!(cli.command, Some(Command::Health)) {
        return health(&cli).await;
    }
    if let Some(Command::CopyDb { from, to }) = &cli.command {
        return copy_db::run(from, to).await;
    }
    let location = cli.database()?;
    // Two connections: the work (one step at a time) and the heartbeat beside it.
    let db = Database::connect(&location, 2).await?;
    let migrated = db.migrate().await?;
    if let Some(adopted) = &migrated.adopted {
        tracing::info!(
            providers = adopted.providers, models = adopted.models, duplicates_merged = adopted.duplicates_merged,
            backup = ?adopted.backup_path, "adopted the Python litellm-updater database"
        );
        for note in &adopted.notes {
            tracing::info!(outcome = note.outcome, subject = ?note.subject, "adoption: {}", note.note);
        }
    }
    if !migrated.applied.is_empty() {
        tracing::info!(versions = ?migrated.applied, database = %location, "database migrated");
    }
    if matches!(cli.command, Some(Command::Migrate)) {
        let status = db.schema_status().await?;
        println!("database {location} is at schema version {}", status.applied.unwrap_or(0));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(Command::RenderConfig { output, inline_secrets }) = &cli.command {
        let style = if *inline_secrets { SecretStyle::Inline } else { SecretStyle::EnvReference };
        let rendered = render_config::render(&db, style).await?;
        db.close().await;
        match output {
            Some(path) => {
                render_config::write_file(path, &rendered.yaml, *inline_secrets)?;
                eprintln!("wrote {} deployments to {}", rendered.deployments, path.display());
            }
            None => print!("{}", rendered.yaml),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let api_key = Secret::non_empty(cli.litellm_api_key.clone());
    config::seed_litellm(&db, cli.litellm_base_url.as_deref(), api_key.as_ref()).await?;

    let settings = Settings {
        upstream_concurrency: cli.upstream_concurrency.max(1),
        litellm_concurrency: cli.litellm_concurrency.max(1),
        poll_interval: Duration::from_millis(cli.poll_interval_ms.max(50)),
        heartbeat_interval: Duration::from_secs(cli.heartbeat_seconds.max(1)),
        lease_ttl: Duration::from_secs(cli.worker_lease_seconds.max(2)),
        connect_timeout: Duration::from_secs(cli.connect_timeout_seconds.max(1)),
        request_timeout: Duration::from_secs(cli.request_timeout_seconds.max(1)),
        litellm_list_timeout: Duration::from_secs(cli.litellm_list_timeout_seconds.max(1)),
        litellm_retry: crate::push::Retry {
            attempts: cli.litellm_attempts.max(1),
            backoff: shared::backoff::Backoff::new(
                Duration::from_millis(cli.litellm_retry_delay_ms),
                Duration::from_millis(cli.litellm_retry_delay_ms.max(4000)),
            ),
        },
        fetch_timeout: Duration::from_secs(cli.fetch_timeout_seconds.max(1)),
        ..Settings::default()
    };
    let ctx = Context::new(db.clone(), settings).context("cannot build the HTTP client")?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));

    let code = if cli.once || cli.dry_run {
        one_cycle(&ctx, &cli, &shutdown).await?
    } else {
        tracing::info!(database = %location, version = env!("CARGO_PKG_VERSION"), "worker started");
        worker::run(&ctx, shutdown).await?;
        ExitCode::SUCCESS
    };
    db.close().await;
    Ok(code)
}

/// Reads the heartbeat without migrating or writing anything.
async fn health(cli: &Cli) -> anyhow::Result<ExitCode> {
    let location = cli.database()?;
    if let Location::Sqlite(path) = &location
        && !path.is_file()
    {
        println!("unhealthy: no database at {}", path.display());
        return Ok(ExitCode::FAILURE);
    }
    let db = match Database::connect(&location, 1).await {
        Ok(db) => db,
        Err(error) => {
            println!("unhealthy: {error}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let workers = shared::db::worker_status::instances(&db).await;
    let worker_file = shared::db::worker_status::db_file(&db).await.ok().flatten();
    db.close().await;
    // A worker whose file was deleted or replaced beats into a file nobody reads: what is at the
    // path now (perhaps a copy with a recent beat in it) says nothing about it.
    if let (Some(recorded), Some(now)) = (worker_file, db.file_identity())
        && recorded != now
    {
        println!(
            "unhealthy: {location} is not the database file the worker opened (deleted or replaced while it ran); restart the worker"
        );
        return Ok(ExitCode::FAILURE);
    }
    // The probe runs beside the worker it checks (same host or container): that worker's beat,
    // active or standby, is what counts.
    let host = worker::hostname();
    Ok(match workers.map(|all| all.into_iter().find(|w| w.host == host)) {
        Ok(Some(worker)) if worker.is_online() => {
            println!(
                "healthy: {} {} (pid {}), last beat {:.0} s ago",
                worker.role, worker.state, worker.pid, worker.seconds_since_beat
            );
            ExitCode::SUCCESS
        }
        Ok(Some(worker)) => {
            println!("unhealthy: worker {}, last beat {:.0} s ago", worker.state, worker.seconds_since_beat);
            ExitCode::FAILURE
        }
        Ok(None) => {
            println!("unhealthy: no worker on {host} has written a heartbeat yet");
            ExitCode::FAILURE
        }
        Err(error) => {
            println!("unhealthy: {error}");
            ExitCode::FAILURE
        }
    })
}

async fn one_cycle(ctx: &Context, cli: &Cli, shutdown: &CancellationToken) -> anyhow::Result<ExitCode> {
    // A dry run writes nothing to LiteLLM; a real cycle must be the only worker writing there.
    let term = if cli.dry_run { None } else { Some(hold_lease(ctx, shutdown).await?) };
    ctx.refresh_secrets(None).await?;
    let providers = jobs::enabled_providers(ctx).await?;
    let mode = if cli.dry_run { Push::DryRun } else { Push::Apply };
    let trigger = if cli.dry_run { "dry-run" } else { "once" };
    let report = tokio::select! {
        report = cycle::run(ctx, &providers, mode, Scope::All, trigger, None) => report?,
        _ = shutdown.cancelled() => {
            shared::db::sync_runs::close_abandoned(&ctx.db).await?;
            anyhow::bail!("interrupted before the cycle finished");
        }
    };
    // The report quotes outside answers, which may quote a key back.
    if cli.json {
        let value = ctx.redact_json(serde_json::to_value(&report)?);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", ctx.redact(&report::render(&report)));
    }
    if let Some(term) = term {
        drop(term);
        ctx.lease.release(&ctx.db).await;
    }
    Ok(if report.failed() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Takes the worker lease for a one-off cycle, waiting up to two terms for a running worker to
/// give it up, and keeps it renewed until the returned guard is dropped.
async fn hold_lease(ctx: &Context, shutdown: &CancellationToken) -> anyhow::Result<LeaseGuard> {
    let deadline = tokio::time::Instant::now() + ctx.settings.lease_ttl * 2;
    loop {
        if let Renewal::Began(_) | Renewal::Extended = ctx.lease.renew(&ctx.db).await? {
            break;
        }
        if tokio::time::Instant::now() >= deadline || shutdown.is_cancelled() {
            let holder = shared::db::worker_status::instances(&ctx.db)
                .await
                .ok()
                .and_then(|all| all.into_iter().find(|w| w.role == "active" && w.is_online()))
                .map(|w| format!(" ({} pid {})", w.host, w.pid))
                .unwrap_or_default();
            anyhow::bail!(
                "another litellm-sync{holder} is the active worker; --once would race it for LiteLLM's entries. \
                 Queue a sync from the frontend (Sync all) instead, or stop that worker first"
            );
        }
        tokio::time::sleep(ctx.lease.renew_every()).await;
    }
    let renewing = CancellationToken::new();
    let stop = renewing.clone();
    let (db, every) = (ctx.db.clone(), ctx.lease.renew_every());
    let lease = ctx.lease.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    if let Err(error) = lease.renew(&db).await {
                        tracing::warn!(error = ?error.to_string(), "cannot renew the worker lease");
                    }
                }
            }
        }
    });
    Ok(LeaseGuard(renewing))
}

/// Stops renewing (and releases) the lease when dropped.
struct LeaseGuard(CancellationToken);

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

async fn stop_on_signal(shutdown: CancellationToken) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = terminate => tracing::info!("SIGTERM received; stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; stopping"),
    }
    shutdown.cancel();
}
