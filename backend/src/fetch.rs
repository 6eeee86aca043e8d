//! Fetch (SPEC §4): read one provider into the database. No LiteLLM calls.
//!
//! Guards: an unreadable upstream changes nothing; an empty answer while models are recorded
//! changes nothing (a restarting server must never wipe a provider). Ollama details
//! (`/api/show`) are read only for new models and changed digests, a few at a time.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use shared::DbError;
use shared::db::models::{self, FetchCounts, FetchedModel, Model};
use shared::db::providers::Provider;
use shared::metadata::ollama;
use shared::types::ProviderType;

use crate::context::Context;
use crate::upstream::{Connection, Listed, UpstreamError};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("database: {0}")]
    Db(#[from] DbError),
    #[error("{0}")]
    NotFound(String),
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FetchReport {
    pub provider_id: i64,
    pub provider: String,
    #[serde(flatten)]
    pub counts: FetchCounts,
    pub details_calls: usize,
    /// The empty-answer guard held: nothing was changed.
    pub guarded: bool,
    pub warnings: Vec<String>,
}

pub async fn fetch_provider(ctx: &Context, provider: &Provider) -> Result<FetchReport, FetchError> {
    let conn = Connection::from(provider);
    ctx.step(format!("listing models of {}", provider.name)).await;
    let answered = ctx.upstream.list(&conn).await?;
    let known = models::list_for_provider(ctx.pool(), provider.id).await?;
    let mut report =
        FetchReport { provider_id: provider.id, provider: provider.name.clone(), ..FetchReport::default() };

    // The guard is about the server's answer; models the operator filters out are orphaned.
    let active = known.iter().filter(|m| !m.is_orphaned).count();
    if answered.is_empty() && active > 0 {
        report.guarded = true;
        report.warnings.push(format!(
            "{} answered with no models while {active} are recorded; nothing was changed \
             (a restarting server must not wipe a provider)",
            provider.name
        ));
        return Ok(report);
    }
    let listed: Vec<Listed> = answered.into_iter().filter(|l| provider.admits(&l.id)).collect();

    let known: HashMap<&str, &Model> = known.iter().map(|m| (m.model_id.as_str(), m)).collect();
    let fetched = match provider.kind {
        ProviderType::Ollama => ollama_details(ctx, &conn, provider, &listed, &known, &mut report).await,
        _ => listed.iter().map(|l| FetchedModel::from_upstream(provider.kind, &l.id, None, &l.entry)).collect(),
    };
    let ids: Vec<String> = listed.iter().map(|l| l.id.clone()).collect();
    ctx.step(format!("recording {} models of {}", ids.len(), provider.name)).await;
    report.counts = models::record_fetch(ctx.pool(), provider.id, &fetched, &ids).await?;
    Ok(report)
}

/// Reads `/api/show` for the models that need it and builds what to write. A model whose details
/// fail is still recorded from its listing (new) or left as it was (known); either way its
/// digest is not updated, so the next fetch tries again.
async fn ollama_details(
    ctx: &Context,
    conn: &Connection,
    provider: &Provider,
    listed: &[Listed],
    known: &HashMap<&str, &Model>,
    report: &mut FetchReport,
) -> Vec<FetchedModel> {
    let needs_details: Vec<&Listed> = listed
        .iter()
        .filter(|l| match known.get(l.id.as_str()) {
            None => true,
            Some(model) => l.digest.is_none() || model.upstream_digest != l.digest,
        })
        .collect();
    if needs_details.is_empty() {
        return Vec::new();
    }
    ctx.step(format!("reading details of {} models of {}", needs_details.len(), provider.name)).await;
    report.details_calls = needs_details.len();
    // Each answer (~100 KB of license, template and tokenizer) is slimmed as soon as it
    // arrives, so at most `upstream_concurrency` full answers are ever in memory.
    let details: Vec<(&Listed, Result<serde_json::Value, UpstreamError>)> = stream::iter(needs_details)
        .map(|listed| async move {
            let show = ctx.upstream.ollama_show(conn, &listed.id).await;
            (listed, show.map(|show| ollama::raw_metadata(&listed.entry, Some(&show))))
        })
        .buffer_unordered(ctx.settings.upstream_concurrency.max(1))
        .collect()
        .await;

    let mut fetched = Vec::with_capacity(details.len());
    for (listed, raw) in details {
        let (raw, digest) = match raw {
            Ok(raw) => (raw, listed.digest.clone()),
            Err(error) => {
                report.warnings.push(format!("details of {}: {error}", listed.id));
                if known.contains_key(listed.id.as_str()) {
                    continue;
                }
                (ollama::raw_metadata(&listed.entry, None), None)
            }
        };
        fetched.push(FetchedModel::from_upstream(ProviderType::Ollama, &listed.id, digest, &raw));
    }
    fetched.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    fetched
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
        (ollama::raw_metadata(&entry.entry, Some(&show)), 1)
    } else {
        (entry.entry.clone(), 0)
    };
    let fetched = FetchedModel::from_upstream(provider.kind, &entry.id, entry.digest.clone(), &raw);
    let counts = models::record_refresh(ctx.pool(), provider.id, &fetched).await?;
    Ok(FetchReport {
        provider_id: provider.id,
        provider: provider.name.clone(),
        counts,
        details_calls,
        guarded: false,
        warnings: Vec::new(),
    })
}
