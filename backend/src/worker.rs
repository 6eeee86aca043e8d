//! The long-running worker: claims queued jobs within about a second, runs scheduled syncs,
//! beats its heartbeat, and stops within the grace period on shutdown without leaving a job
//! `running`.

use std::future::Future;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use shared::DbError;
use shared::backoff::Backoff;
use shared::db::lease::JobWakeups;
use shared::db::{jobs, sync_runs, worker_status};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::context::Context;
use crate::cycle::{self, Push};
use crate::lease::Renewal;
use crate::push::Scope;
use crate::scheduler;

/// What one turn of the loop did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    Idle,
    RanJob(i64),
    RanSchedule(usize),
    /// Shutdown came while working and the step did not finish within the grace period.
    Abandoned,
}

pub async fn run(ctx: &Context, shutdown: CancellationToken) -> Result<(), DbError> {
    let started_at = shared::db::now_timestamp();
    // The term whose leftovers were recovered: work starts only once this matches the lease.
    let recovered = AtomicI64::new(NO_TERM);
    renew(ctx, &recovered, &mut Role::Starting).await;
    ctx.set_activity("idle", None);
    beat(ctx, &started_at).await;
    if ctx.lease.is_held() {
        worker_status::set_db_file(&ctx.db, ctx.db.file_identity()).await?;
    }

    let lease = async {
        let mut tick = tokio::time::interval(ctx.lease.renew_every());
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.tick().await;
        let mut role = if ctx.lease.is_held() { Role::Active } else { Role::Standby };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => renew(ctx, &recovered, &mut role).await,
            }
        }
    };
    let heartbeat = async {
        let mut tick = tokio::time::interval(ctx.settings.heartbeat_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => beat(ctx, &started_at).await,
            }
        }
    };
    let work = async {
        let mut tick = tokio::time::interval(ctx.settings.poll_interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut outage = Outage::default();
        let mut wakeups = match JobWakeups::listen(&ctx.db).await {
            Ok(wakeups) => wakeups,
            Err(error) => {
                tracing::warn!(error = ?error.to_string(), "cannot listen for new jobs; polling for them instead");
                None
            }
        };
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break None,
                _ = tick.tick() => {}
                woke = next_wakeup(&mut wakeups) => {
                    if let Err(error) = woke {
                        tracing::warn!(error = ?error.to_string(), "lost the job notifications; polling for jobs instead");
                        wakeups = None;
                    }
                }
            }
            if let Some(lost) = ctx.db.check_on_disk().lost() {
                // Going on would write into a file nobody else reads (split brain): stop, and
                // let the restart open what is at the path now.
                let message = format!("{lost}; stopping so that a restart opens the database at its path");
                tracing::error!("{message}");
                shutdown.cancel();
                break Some(message);
            }
            if !may_work(ctx, &recovered) {
                continue;
            }
            // Drain the queue before looking at the schedule again.
            let failure = loop {
                match turn(ctx, &shutdown).await {
                    Ok(Turn::RanJob(_)) if !shutdown.is_cancelled() && may_work(ctx, &recovered) => continue,
                    Ok(_) => break None,
                    Err(error) => break Some(error),
                }
            };
            let Some(delay) = outage.after(failure.as_ref()) else { continue };
            tokio::select! {
                _ = shutdown.cancelled() => break None,
                _ = tokio::time::sleep(delay) => {}
            }
        }
    };
    let ((), (), lost) = tokio::join!(lease, heartbeat, work);
    if let Some(message) = lost {
        return Err(DbError::Invalid(message));
    }

    let me = ctx.lease.instance_id();
    let requeued = jobs::requeue_running(&ctx.db, me, "interrupted by a worker shutdown; will run again").await?;
    if ctx.lease.is_held() {
        sync_runs::close_abandoned(&ctx.db).await?;
    }
    if requeued > 0 {
        tracing::warn!(requeued, "unfinished jobs put back in the queue");
    }
    ctx.set_activity("stopped", None);
    beat(ctx, &started_at).await;
    ctx.lease.release(&ctx.db).await;
    tracing::info!("worker stopped");
    Ok(())
}

const NO_TERM: i64 = i64::MIN;

/// Whether this worker holds the lease and has recovered what the previous holder left.
fn may_work(ctx: &Context, recovered: &AtomicI64) -> bool {
    ctx.lease.is_held() && ctx.lease.token() == Some(recovered.load(Ordering::Acquire))
}

async fn next_wakeup(wakeups: &mut Option<JobWakeups>) -> Result<(), DbError> {
    match wakeups {
        Some(wakeups) => wakeups.next().await,
        None => std::future::pending().await,
    }
}

/// What this worker was at the last renewal, to log changes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Starting,
    Active,
    Standby,
    Unreachable,
}

/// Renews the lease; at the start of a term, recovers what the previous holder left running.
async fn renew(ctx: &Context, recovered: &AtomicI64, role: &mut Role) {
    match ctx.lease.renew(&ctx.db).await {
        Ok(Renewal::Began(token)) => {
            tracing::info!(
                token,
                instance = ctx.lease.instance_id(),
                "this worker is the active one (took the worker lease)"
            );
            match recover(ctx).await {
                Ok(()) => recovered.store(token, Ordering::Release),
                Err(error) => tracing::error!(error = ?error.to_string(), "cannot recover unfinished work; will retry"),
            }
            *role = Role::Active;
        }
        Ok(Renewal::Extended) => {
            if ctx.lease.token() != Some(recovered.load(Ordering::Acquire))
                && let Some(token) = ctx.lease.token()
                && recover(ctx).await.is_ok()
            {
                recovered.store(token, Ordering::Release);
            }
            *role = Role::Active;
        }
        Ok(Renewal::Standby) => {
            if *role != Role::Standby {
                let holder = shared::db::lease::get(&ctx.db).await.ok().flatten().and_then(|l| l.holder);
                tracing::info!(active = ?holder, "standing by: another worker holds the worker lease");
            }
            *role = Role::Standby;
        }
        Err(error) => {
            if *role != Role::Unreachable {
                tracing::error!(
                    error = ?error.to_string(),
                    "cannot renew the worker lease; LiteLLM writes stop when the current term runs out"
                );
            }
            *role = Role::Unreachable;
        }
    }
}

/// One turn: the oldest queued job if there is one, else any scheduled syncs that are due.
pub async fn turn(ctx: &Context, shutdown: &CancellationToken) -> Result<Turn, DbError> {
    if let Some(job) = jobs::claim_next(&ctx.db, ctx.lease.instance_id()).await? {
        let inline_key = job.payload.0.get("api_key").and_then(serde_json::Value::as_str);
        ctx.refresh_secrets(inline_key).await?;
        tracing::info!(job = job.id, kind = ?job.kind, "job started");
        ctx.set_activity("running job", Some(job.id));
        let outcome = finish_or_abandon(crate::jobs::run(ctx, &job), shutdown, ctx.settings.shutdown_grace).await;
        ctx.set_activity("idle", None);
        let Some(outcome) = outcome else { return Ok(Turn::Abandoned) };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                // Never leave the job `running`: record why it stopped, then report the error.
                let message = ctx.redact(&format!("database error while running the job: {error}"));
                record_end(ctx, job.id, None, Some(&message)).await?;
                return Err(error);
            }
        };
        // Errors and results quote outside answers, which may quote a key back.
        let error = outcome.error.map(|e| ctx.redact(&e));
        let result = outcome.result.map(|r| ctx.redact_json(r));
        match &error {
            None => tracing::info!(job = job.id, kind = ?job.kind, "job done"),
            Some(error) => tracing::warn!(job = job.id, kind = ?job.kind, error = ?error, "job failed"),
        }
        record_end(ctx, job.id, result.as_ref(), error.as_deref()).await?;
        return Ok(Turn::RanJob(job.id));
    }
    let due = scheduler::due_providers(ctx).await?;
    if due.is_empty() {
        return Ok(Turn::Idle);
    }
    ctx.refresh_secrets(None).await?;
    tracing::info!(providers = due.len(), "scheduled sync");
    ctx.set_activity("syncing", None);
    let outcome = finish_or_abandon(
        cycle::run(ctx, &due, Push::Apply, Scope::All, "schedule", None),
        shutdown,
        ctx.settings.shutdown_grace,
    )
    .await;
    ctx.set_activity("idle", None);
    match outcome {
        None => Ok(Turn::Abandoned),
        Some(report) => {
            if let Some(summary) = report?.failure_summary() {
                tracing::warn!(summary = ?summary, "scheduled sync had failures");
            }
            Ok(Turn::RanSchedule(due.len()))
        }
    }
}

/// Stores how a job this worker ran ended, unless the job is no longer this worker's: cut off
/// from the database, it lost the lease, and the worker that took the lease over re-queued the
/// job and may have run it again since. That run's outcome stands.
async fn record_end(
    ctx: &Context,
    id: i64,
    result: Option<&serde_json::Value>,
    error: Option<&str>,
) -> Result<(), DbError> {
    if !jobs::finish(&ctx.db, id, ctx.lease.instance_id(), result, error).await? {
        tracing::warn!(
            job = id,
            "this run's outcome was not recorded: another worker took the job over while this one lost the worker lease"
        );
    }
    Ok(())
}

/// At the start of a term: the previous holder (crashed, killed, cut off) may have left jobs
/// `running` and runs open. A job that was at its last attempt is failed rather than run again
/// (it may be what crashed the worker).
async fn recover(ctx: &Context) -> Result<(), DbError> {
    let recovered =
        jobs::recover_abandoned(&ctx.db, ctx.lease.instance_id(), "interrupted by a worker restart; running again")
            .await?;
    let closed = sync_runs::close_abandoned(&ctx.db).await?;
    if recovered.requeued + recovered.gave_up + closed > 0 {
        tracing::warn!(
            requeued = recovered.requeued,
            gave_up = recovered.gave_up,
            closed,
            "recovered work a previous worker left unfinished"
        );
    }
    Ok(())
}

/// The database failing turn after turn (locked by another process, its disk full or gone):
/// waits longer after each failure (0.5 s doubling to 30 s) and logs once when it starts
/// failing and once when it works again, not at every attempt.
#[derive(Debug, Default)]
struct Outage {
    failures: u32,
}

impl Outage {
    const BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));

    /// After a turn: how long to wait before the next one beyond the poll interval, if at all.
    fn after(&mut self, failure: Option<&DbError>) -> Option<Duration> {
        match failure {
            None => {
                if self.failures > 0 {
                    tracing::info!(failed_turns = self.failures, "the database works again");
                }
                self.failures = 0;
                None
            }
            Some(error) => {
                self.failures = self.failures.saturating_add(1);
                if self.failures == 1 {
                    tracing::error!(
                        error = ?error.to_string(),
                        "worker turn failed; retrying with a growing pause (up to 30 s) until the database works again"
                    );
                }
                Some(Self::BACKOFF.delay(self.failures))
            }
        }
    }
}

/// Runs `work` to completion, unless shutdown comes and it does not finish within `grace`.
async fn finish_or_abandon<F: Future>(work: F, shutdown: &CancellationToken, grace: Duration) -> Option<F::Output> {
    tokio::pin!(work);
    tokio::select! {
        output = &mut work => Some(output),
        _ = shutdown.cancelled() => {
            tracing::info!(grace_seconds = grace.as_secs_f32(), "shutdown requested; letting the current step finish");
            tokio::time::timeout(grace, &mut work).await.ok()
        }
    }
}

async fn beat(ctx: &Context, started_at: &str) {
    let activity = ctx.activity();
    let host = hostname();
    let active = ctx.lease.is_held();
    let role = match (activity.state, active) {
        ("stopped", _) => "stopped",
        (_, true) => "active",
        (_, false) => "standby",
    };
    let state = if active || activity.state == "stopped" { activity.state } else { "standby" };
    let beat = worker_status::Beat {
        instance_id: ctx.lease.instance_id(),
        role,
        pid: std::process::id(),
        host: &host,
        version: env!("CARGO_PKG_VERSION"),
        started_at,
        state,
        current_job_id: activity.job_id,
        current_step: activity.step.as_deref(),
    };
    // The last words of the active worker go to worker_status too, so the frontend shows it stopped.
    let failed =
        worker_status::beat(&ctx.db, &beat, active || (role == "stopped" && ctx.lease.token().is_some())).await.err();
    // One line when beating starts failing and one when it works again, not one per beat.
    let was_failing = ctx.heartbeat_failing.swap(failed.is_some(), std::sync::atomic::Ordering::Relaxed);
    match (failed, was_failing) {
        (Some(error), false) => tracing::warn!(error = ?error.to_string(), "could not write the heartbeat"),
        (None, true) => tracing::info!("the heartbeat is written again"),
        _ => {}
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}
