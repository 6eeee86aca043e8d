//! What a sync history row says about one provider's fetch (or sync) or one LiteLLM push: its
//! kind, its status, its counts and its message, from the cycle's and the push's outcomes.

use serde::{Deserialize, Serialize};

use crate::job_results::{ProviderOutcome, PushReport, WriteCounts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    Fetch,
    Push,
    Sync,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fetch => "fetch",
            Self::Push => "push",
            Self::Sync => "sync",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Warning,
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Failed => "failed",
        }
    }

    /// The worse of two outcomes.
    pub fn worst(self, other: Self) -> Self {
        use RunStatus::*;
        match (self, other) {
            (Failed, _) | (_, Failed) => Failed,
            (Warning, _) | (_, Warning) => Warning,
            _ => Ok,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCounts {
    pub models_seen: i64,
    pub added: i64,
    pub updated: i64,
    pub orphaned: i64,
    pub unorphaned: i64,
    pub litellm_created: i64,
    pub litellm_updated: i64,
    pub litellm_deleted: i64,
    pub litellm_failed: i64,
}

/// How a run ended: what its row is closed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEnd {
    pub status: RunStatus,
    pub counts: RunCounts,
    pub message: Option<String>,
}

/// A provider's run in a cycle: its fetch (failed, or with warnings), then, when the cycle
/// pushed for real (`pushed` not a dry run), that provider's LiteLLM writes and the push's
/// error (`push_error`), which fail the run too.
pub fn provider_run(
    outcome: &ProviderOutcome,
    provider_id: i64,
    pushed: Option<&PushReport>,
    push_error: Option<&str>,
) -> RunEnd {
    let mut counts = RunCounts::default();
    let mut status = if outcome.ok { RunStatus::Ok } else { RunStatus::Failed };
    let mut messages: Vec<String> = outcome.error.iter().cloned().collect();
    if let Some(fetched) = &outcome.fetch {
        let c = fetched.counts;
        counts.models_seen = c.seen as i64;
        counts.added = c.added as i64;
        counts.updated = c.updated as i64;
        counts.orphaned = c.orphaned as i64;
        counts.unorphaned = c.unorphaned as i64;
        if !fetched.warnings.is_empty() {
            status = status.worst(RunStatus::Warning);
            messages.extend(fetched.warnings.iter().cloned());
        }
    }
    if let Some(pushed) = pushed.filter(|p| !p.dry_run) {
        let writes = pushed.counts_for(provider_id);
        record_writes(&mut counts, writes);
        if writes.failed + writes.skipped > 0 {
            status = status.worst(RunStatus::Failed);
            messages.push(format!("{} LiteLLM operations failed or not sent", writes.failed + writes.skipped));
        }
    }
    if let Some(error) = push_error {
        status = status.worst(RunStatus::Failed);
        messages.push(format!("push: {error}"));
    }
    RunEnd { status, counts, message: (!messages.is_empty()).then(|| messages.join("; ")) }
}

/// A push's run: failed with its error, else from its report, else skipped because LiteLLM is
/// not configured (a warning, not a failure).
pub fn push_run(pushed: Option<&PushReport>, error: Option<&str>, skipped: bool) -> RunEnd {
    let mut counts = RunCounts::default();
    let (status, message) = match (pushed, error) {
        (_, Some(error)) => (RunStatus::Failed, Some(error.to_owned())),
        (Some(p), None) => {
            record_writes(&mut counts, p.writes);
            (if p.clean() { RunStatus::Ok } else { RunStatus::Failed }, p.failure_summary())
        }
        (None, None) if skipped => (RunStatus::Warning, Some("LiteLLM is not configured; nothing pushed".to_owned())),
        (None, None) => (RunStatus::Ok, None),
    };
    RunEnd { status, counts, message }
}

/// A run row's LiteLLM columns. `sync_runs` has no column for replaces, so they count as
/// updates there (the job's result keeps them apart); an operation not sent counts as failed.
fn record_writes(counts: &mut RunCounts, writes: WriteCounts) {
    counts.litellm_created = writes.created as i64;
    counts.litellm_updated = (writes.updated + writes.replaced) as i64;
    counts.litellm_deleted = writes.deleted as i64;
    counts.litellm_failed = (writes.failed + writes.skipped) as i64;
}

#[cfg(test)]
mod tests;
