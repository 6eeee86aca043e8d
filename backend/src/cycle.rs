//! One sync cycle: fetch some providers, then (optionally) push — with a `sync_runs` row per
//! provider and one for the push.

use shared::DbError;
use shared::db::sync_runs;
pub use shared::job_results::{CycleReport, ProviderOutcome};
use shared::provider::Provider;
use shared::runs::{self, RunKind};

use crate::context::Context;
use crate::fetch;
use crate::push::{self, PushError, PushReport, Scope};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Push {
    /// Fetch only.
    No,
    /// Fetch, then reconcile LiteLLM.
    Apply,
    /// Fetch, then compute the plan without applying it.
    DryRun,
    /// A dry run whose plan can be applied later ([`push::Mode::Plan`]).
    Plan,
}

/// Fetches `providers`, then pushes (or plans) `scope`: a provider's own sync changes only that
/// provider's LiteLLM entries; only a cycle over everything reconciles everything.
pub async fn run(
    ctx: &Context,
    providers: &[Provider],
    push_mode: Push,
    scope: Scope,
    trigger: &str,
    job_id: Option<i64>,
) -> Result<CycleReport, DbError> {
    let kind = if push_mode == Push::Apply { RunKind::Sync } else { RunKind::Fetch };
    let mut rows = Vec::new();
    let mut outcomes = Vec::new();
    for (index, provider) in providers.iter().enumerate() {
        ctx.step(format!("fetching {} ({}/{})", provider.name, index + 1, providers.len())).await;
        let run_id = sync_runs::start(&ctx.db, Some((provider.id, &provider.name)), kind, trigger, job_id).await?;
        let mut outcome = match fetch::fetch_provider(ctx, provider).await {
            Ok(report) => {
                ProviderOutcome { provider: provider.name.clone(), ok: true, fetch: Some(report), error: None }
            }
            Err(fetch::FetchError::Db(error)) => return Err(error),
            Err(error) => {
                let error = ctx.redact(&error.to_string());
                tracing::warn!(provider = ?provider.name, error = ?error, "fetch failed");
                ProviderOutcome { provider: provider.name.clone(), ok: false, fetch: None, error: Some(error) }
            }
        };
        if let Some(report) = outcome.fetch.as_mut() {
            for warning in &mut report.warnings {
                *warning = ctx.redact(warning);
            }
        }
        if let Some(report) = &outcome.fetch {
            tracing::info!(
                provider = ?provider.name, seen = report.counts.seen, added = report.counts.added,
                updated = report.counts.updated, orphaned = report.counts.orphaned,
                details_calls = report.details_calls, warnings = report.warnings.len(), "fetched"
            );
            for warning in &report.warnings {
                tracing::warn!(provider = ?provider.name, warning = ?warning, "fetch warning");
            }
        }
        rows.push((run_id, provider.id));
        outcomes.push(outcome);
    }

    let mut report = CycleReport { providers: outcomes, push: None, push_error: None, push_skipped: false };
    let push_run = if push_mode == Push::Apply {
        Some(sync_runs::start(&ctx.db, None, RunKind::Push, trigger, job_id).await?)
    } else {
        None
    };
    if push_mode != Push::No {
        let mode = match push_mode {
            Push::DryRun => push::Mode::DryRun,
            Push::Plan => push::Mode::Plan,
            Push::Apply | Push::No => push::Mode::Apply,
        };
        match push::push_with(ctx, scope, mode).await {
            Ok(mut pushed) => {
                for result in &mut pushed.results {
                    result.error = result.error.take().map(|e| ctx.redact(&e));
                }
                tracing::info!(
                    dry_run = pushed.dry_run,
                    created = pushed.writes.created,
                    updated = pushed.writes.updated,
                    replaced = pushed.writes.replaced,
                    deleted = pushed.writes.deleted,
                    failed = pushed.writes.failed,
                    skipped = pushed.writes.skipped,
                    planned = pushed.plan.operations.len(),
                    unchanged = pushed.plan.unchanged,
                    "pushed"
                );
                report.push = Some(pushed);
            }
            Err(PushError::NotConfigured) => report.push_skipped = true,
            Err(PushError::Db(error)) => return Err(error),
            Err(error) => {
                let error = ctx.redact(&error.to_string());
                tracing::error!(error = ?error, "push failed");
                report.push_error = Some(error);
            }
        }
    }

    for ((run_id, provider_id), outcome) in rows.iter().zip(&report.providers) {
        let end = runs::provider_run(outcome, *provider_id, report.push.as_ref(), report.push_error.as_deref());
        let message = end.message.map(|m| ctx.redact(&m));
        sync_runs::finish(&ctx.db, *run_id, end.status, &end.counts, message.as_deref()).await?;
    }
    if let Some(run_id) = push_run {
        record_push(ctx, run_id, &report.push, report.push_error.as_deref(), report.push_skipped).await?;
    }
    Ok(report)
}

/// Closes a push run row from its outcome.
pub async fn record_push(
    ctx: &Context,
    run_id: i64,
    pushed: &Option<PushReport>,
    error: Option<&str>,
    skipped: bool,
) -> Result<(), DbError> {
    let end = runs::push_run(pushed.as_ref(), error, skipped);
    let message = end.message.map(|m| ctx.redact(&m));
    sync_runs::finish(&ctx.db, run_id, end.status, &end.counts, message.as_deref()).await
}
