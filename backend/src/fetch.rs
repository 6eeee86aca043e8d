//! Fetch (SPEC §4): read one provider into the database. No LiteLLM calls.
//!
//! Guards: an unreadable upstream changes nothing; an empty answer while models are recorded
//! changes nothing (a restarting server must never wipe a provider). Ollama details
//! (`/api/show`) are read only for new models and changed digests, a few at a time.
//!
//! Bounds: reading a provider (its listing and every details request) has one deadline
//! (`FETCH_TIMEOUT_SECONDS`); results are staged in batches of [`BATCH`] outside the `models`
//! table and recorded in one short transaction at the end, so neither a 10,000-model provider
//! nor a failure half-way leaves memory or the database in between.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use shared::DbError;
use shared::db::exclusions;
use shared::db::models::{self, FetchStage, FetchedModel};
use shared::metadata::ollama;
use shared::model::Model;
use shared::provider::Provider;
use shared::types::ProviderType;

use crate::context::Context;
use crate::upstream::{Connection, Listed, UpstreamError};

/// Models derived and staged together.
pub const BATCH: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    NotFound(String),
    #[error(
        "reading {provider} took longer than {seconds} s (FETCH_TIMEOUT_SECONDS) and was stopped; \
         nothing was changed, the next fetch starts over"
    )]
    Deadline { provider: String, seconds: u64 },
}

pub use shared::job_results::FetchReport;

/// What reading a provider produced, before anything is recorded.
enum Read {
    /// Nothing to record (the empty-answer guard held).
    Guarded(FetchReport),
    Staged {
        stage: FetchStage,
        listed: Vec<String>,
        report: FetchReport,
    },
}

pub async fn fetch_provider(ctx: &Context, provider: &Provider) -> Result<FetchReport, FetchError> {
    let deadline = ctx.settings.fetch_timeout;
    let read = tokio::time::timeout(deadline, read_provider(ctx, provider))
        .await
        .map_err(|_| FetchError::Deadline { provider: provider.name.clone(), seconds: deadline.as_secs() })??;
    match read {
        Read::Guarded(report) => Ok(report),
        Read::Staged { stage, listed, mut report } => {
            ctx.step(format!("recording {} models of {}", listed.len(), provider.name)).await;
            report.counts = stage.commit(provider.id, &listed).await?;
            exclusions::refresh_for_provider(&ctx.db, provider.id).await?;
            Ok(report)
        }
    }
}

/// Reads the provider and stages what to record; no change to `models` yet.
async fn read_provider(ctx: &Context, provider: &Provider) -> Result<Read, FetchError> {
    let conn = Connection::from(provider);
    ctx.step(format!("listing models of {}", provider.name)).await;
    let answered = ctx.upstream.list(&conn).await?;
    let known = models::digests_for_provider(&ctx.db, provider.id).await?;
    let mut report =
        FetchReport { provider_id: provider.id, provider: provider.name.clone(), ..FetchReport::default() };
    if answered.duplicates > 0 {
        report.duplicates = answered.duplicates;
        report.warnings.push(format!(
            "{} listed {} entries under a model id it had already listed; each model was read once, \
             from its first entry",
            provider.name, answered.duplicates
        ));
    }

    // The guard is about the server's answer. Everything listed is recorded, filtered or not:
    // orphaned means "no longer listed", and the filters act in the desired state
    // (`excluded`), so a filter change takes effect without a fetch.
    let active = known.iter().filter(|(_, _, orphaned)| !orphaned).count();
    if answered.is_empty() && active > 0 {
        report.guarded = true;
        report.warnings.push(format!(
            "{} answered with no models while {active} are recorded; nothing was changed \
             (a restarting server must not wipe a provider)",
            provider.name
        ));
        return Ok(Read::Guarded(report));
    }
    let listed: Vec<Listed> = answered.into_iter().collect();
    let known: HashMap<&str, &Option<String>> = known.iter().map(|(id, digest, _)| (id.as_str(), digest)).collect();

    let mut stage = FetchStage::open(&ctx.db).await?;
    match provider.kind {
        ProviderType::Ollama => ollama_details(ctx, &conn, provider, &listed, &known, &mut stage, &mut report).await?,
        _ => {
            for batch in listed.chunks(BATCH) {
                let fetched: Vec<FetchedModel> =
                    batch.iter().map(|l| FetchedModel::from_upstream(provider.kind, &l.id, None, &l.entry())).collect();
                stage.add(&fetched).await?;
            }
        }
    }
    let listed = listed.into_iter().map(|l| l.id).collect();
    Ok(Read::Staged { stage, listed, report })
}

/// Reads `/api/show` for the models that need it and stages what to write, a batch at a time.
/// A model whose details fail is still recorded from its listing (new) or left as it was
/// (known); either way its digest is not updated, so the next fetch tries again.
async fn ollama_details(
    ctx: &Context,
    conn: &Connection,
    provider: &Provider,
    listed: &[Listed],
    known: &HashMap<&str, &Option<String>>,
    stage: &mut FetchStage,
    report: &mut FetchReport,
) -> Result<(), FetchError> {
    let needs_details: Vec<&Listed> = listed
        .iter()
        .filter(|l| match known.get(l.id.as_str()) {
            None => true,
            Some(digest) => l.digest.is_none() || **digest != l.digest,
        })
        .collect();
    if needs_details.is_empty() {
        return Ok(());
    }
    ctx.step(format!("reading details of {} models of {}", needs_details.len(), provider.name)).await;
    report.details_calls = needs_details.len();
    // Each answer is slimmed while it streams in; each batch is derived and staged as it
    // completes, so memory holds at most one batch.
    let mut batches = stream::iter(needs_details)
        .map(|listed| async move {
            let show = ctx.upstream.ollama_show(conn, &listed.id).await;
            (listed, show)
        })
        .buffer_unordered(ctx.settings.upstream_concurrency.max(1))
        .chunks(BATCH);
    while let Some(batch) = batches.next().await {
        let mut fetched = Vec::with_capacity(batch.len());
        for (listed, show) in batch {
            let entry = listed.entry();
            let (raw, digest) = match show {
                Ok(show) => (ollama::raw_metadata(&entry, Some(&show)), listed.digest.clone()),
                Err(error) => {
                    report.warnings.push(format!("details of {}: {error}", listed.id));
                    if known.contains_key(listed.id.as_str()) {
                        continue;
                    }
                    (ollama::raw_metadata(&entry, None), None)
                }
            };
            fetched.push(FetchedModel::from_upstream(ProviderType::Ollama, &listed.id, digest, &raw));
        }
        stage.add(&fetched).await?;
    }
    Ok(())
}

/// Refresh (SPEC §4): re-reads one model's details from its provider, whatever its digest.
pub async fn refresh_model(ctx: &Context, provider: &Provider, model: &Model) -> Result<FetchReport, FetchError> {
    let conn = Connection::from(provider);
    ctx.step(format!("refreshing {} from {}", model.model_id, provider.name)).await;
    let listed = ctx.upstream.list(&conn).await?;
    let Some(entry) = listed.into_iter().find(|l| l.id == model.model_id) else {
        return Err(FetchError::NotFound(format!(
            "{} no longer lists {}; a fetch will mark it orphaned",
            provider.name, model.model_id
        )));
    };
    let (raw, details_calls) = if provider.kind == ProviderType::Ollama {
        let show = ctx.upstream.ollama_show(&conn, &entry.id).await?;
        (ollama::raw_metadata(&entry.entry(), Some(&show)), 1)
    } else {
        (entry.entry(), 0)
    };
    let fetched = FetchedModel::from_upstream(provider.kind, &entry.id, entry.digest.clone(), &raw);
    let counts = models::record_refresh(&ctx.db, provider.id, &fetched).await?;
    Ok(FetchReport {
        provider_id: provider.id,
        provider: provider.name.clone(),
        counts,
        details_calls,
        duplicates: 0,
        guarded: false,
        warnings: Vec::new(),
    })
}
