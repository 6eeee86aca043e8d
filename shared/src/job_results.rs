//! What a finished job produced, one type per kind of result: the worker stores a [`JobResult`]
//! in `jobs.result` and the frontend reads the same type back, so a renamed field fails to
//! compile on both sides. [`JobResult::summary_lines`] is the one plain-words summary every
//! place shows (job page, jobs list, toast, API).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::db::models::FetchCounts;
use crate::plan::{Action, Plan};
use crate::routing::FallbackType;

/// How many operations a summary names before it says "and N more".
const NAMED: usize = 10;

/// A job's result, tagged with `"type"`. Rows written before the tag existed do not parse:
/// [`StoredResult::read`] then keeps their raw JSON to show as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobResult {
    /// A fetch, a sync or a plan: the providers read, then the push or its plan (if any).
    Cycle(CycleReport),
    /// A push without a fetch before it.
    Push(PushReport),
    /// One model re-read from its provider.
    Refresh(FetchReport),
    DeleteEntries(DeleteReport),
    TestConnection(ConnectionReport),
    TestLitellm(LitellmTestReport),
}

/// A stored result as the frontend reads it: typed, or from an earlier version.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredResult {
    Typed(Box<JobResult>),
    /// Written by an earlier version in a shape this one does not know; shown raw.
    Earlier(Value),
}

/// The line shown instead of a summary for a result from an earlier version.
pub const EARLIER_VERSION: &str = "result from an earlier version (shown as it was stored)";

impl StoredResult {
    pub fn read(value: &Value) -> Self {
        match serde_json::from_value(value.clone()) {
            Ok(result) => Self::Typed(Box::new(result)),
            Err(_) => Self::Earlier(value.clone()),
        }
    }

    pub fn summary_lines(&self) -> Vec<String> {
        match self {
            Self::Typed(result) => result.summary_lines(),
            Self::Earlier(_) => vec![EARLIER_VERSION.to_owned()],
        }
    }

    /// The summary on one line (the jobs list, the toast, the API's `summary`).
    pub fn summary(&self) -> String {
        self.summary_lines().join(" · ")
    }

    pub fn has_warnings(&self) -> bool {
        match self {
            Self::Typed(result) => result.has_warnings(),
            Self::Earlier(_) => false,
        }
    }
}

/// One provider's part of a cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderOutcome {
    pub provider: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetch: Option<FetchReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CycleReport {
    pub providers: Vec<ProviderOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_error: Option<String>,
    /// LiteLLM is not configured, so nothing was pushed (not a failure).
    #[serde(default)]
    pub push_skipped: bool,
}

impl CycleReport {
    /// Any provider unreadable, the push impossible, or an operation failed or not sent.
    pub fn failed(&self) -> bool {
        self.providers.iter().any(|p| !p.ok)
            || self.push_error.is_some()
            || self.push.as_ref().is_some_and(|p| !p.clean())
    }

    pub fn failure_summary(&self) -> Option<String> {
        let mut parts: Vec<String> =
            self.providers.iter().filter_map(|p| Some(format!("{}: {}", p.provider, p.error.as_ref()?))).collect();
        if let Some(error) = &self.push_error {
            parts.push(format!("push: {error}"));
        }
        if let Some(failure) = self.push.as_ref().and_then(PushReport::failure_summary) {
            parts.push(format!("push: {failure}"));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// What reading one provider (or re-reading one model) changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FetchReport {
    pub provider_id: i64,
    pub provider: String,
    #[serde(flatten)]
    pub counts: FetchCounts,
    pub details_calls: usize,
    /// Listing entries naming an id listed before (ignored; the first is kept).
    pub duplicates: usize,
    /// The empty-answer guard held: nothing was changed.
    pub guarded: bool,
    pub warnings: Vec<String>,
}

/// One LiteLLM write and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpResult {
    pub action: Action,
    pub litellm_id: String,
    pub model_name: String,
    pub provider: Option<String>,
    #[serde(skip)]
    pub provider_id: Option<i64>,
    pub ok: bool,
    /// Not sent at all (`error` says why), as opposed to sent and refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// LiteLLM writes counted per kind; a replace is its own kind, not an update.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteCounts {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub deleted: usize,
    /// Sent, and LiteLLM refused or did not answer.
    pub failed: usize,
    /// Not sent (each result says why).
    pub skipped: usize,
}

impl WriteCounts {
    pub fn of<'a>(results: impl IntoIterator<Item = &'a OpResult>) -> Self {
        let mut counts = Self::default();
        for result in results {
            match (result.ok, result.skipped, result.action) {
                (false, true, _) => counts.skipped += 1,
                (false, false, _) => counts.failed += 1,
                (true, _, Action::Create) => counts.created += 1,
                (true, _, Action::Update) => counts.updated += 1,
                (true, _, Action::Replace) => counts.replaced += 1,
                (true, _, Action::Delete | Action::DeleteDuplicate) => counts.deleted += 1,
            }
        }
        counts
    }

    /// `2 created, 1 replaced`: only the kinds that happened, each once.
    fn phrase(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.created, "created"),
            (self.updated, "updated"),
            (self.replaced, "replaced"),
            (self.deleted, "deleted"),
            (self.failed, "failed"),
            (self.skipped, "skipped (not sent)"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| format!("{n} {word}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushReport {
    pub dry_run: bool,
    pub plan: Plan,
    #[serde(flatten)]
    pub writes: WriteCounts,
    pub results: Vec<OpResult>,
    pub fallbacks: FallbackReport,
}

impl PushReport {
    pub fn new(dry_run: bool) -> Self {
        Self {
            dry_run,
            plan: Plan::default(),
            writes: WriteCounts::default(),
            results: Vec::new(),
            fallbacks: FallbackReport::default(),
        }
    }

    /// Counts the results (deployments) and the fallbacks that failed.
    pub fn tally(&mut self) {
        self.writes = WriteCounts::of(&self.results);
        self.writes.failed += self.fallbacks.failed();
    }

    /// The writes of one provider's deployments.
    pub fn counts_for(&self, provider_id: i64) -> WriteCounts {
        WriteCounts::of(self.results.iter().filter(|r| r.provider_id == Some(provider_id)))
    }

    pub fn first_error(&self) -> Option<&str> {
        self.results.iter().filter(|r| !r.skipped).find_map(|r| r.error.as_deref())
    }

    /// Nothing failed and nothing was left unsent.
    pub fn clean(&self) -> bool {
        self.writes.failed == 0 && self.writes.skipped == 0
    }

    pub fn failure_summary(&self) -> Option<String> {
        if self.clean() {
            return None;
        }
        let mut parts = Vec::new();
        if self.writes.failed > 0 {
            parts.push(format!(
                "{} of {} LiteLLM operations failed (first: {})",
                self.writes.failed,
                self.results.len(),
                self.first_error().unwrap_or("a fallback")
            ));
        }
        if self.writes.skipped > 0 {
            parts.push(format!("{} not sent", self.writes.skipped));
        }
        Some(parts.join("; "))
    }

    /// How many operations, deployments' and fallbacks', this plan and `fresh` do not have in
    /// common: 0 when applying `fresh` writes exactly what this plan shows.
    pub fn differences(&self, fresh: &PushReport) -> usize {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for f in &self.fallbacks.operations {
            *counts.entry(f.identity()).or_default() += 1;
        }
        for f in &fresh.fallbacks.operations {
            *counts.entry(f.identity()).or_default() -= 1;
        }
        let fallbacks: usize = counts.values().map(|n| n.unsigned_abs() as usize).sum();
        crate::plan::differing(&self.plan.operations, &fresh.plan.operations) + fallbacks
    }

    /// Deployment and fallback operations in all.
    pub fn operation_count(&self) -> usize {
        self.plan.operations.len() + self.fallbacks.operations.len()
    }

    fn summary_lines(&self, lines: &mut Vec<String>) {
        let plan = &self.plan;
        if self.dry_run {
            let planned: Vec<String> = [
                (Action::Create, "to create"),
                (Action::Update, "to update"),
                (Action::Replace, "to replace"),
                (Action::Delete, "to delete"),
                (Action::DeleteDuplicate, "duplicates to delete"),
            ]
            .iter()
            .map(|&(action, words)| (plan.count(action), words))
            .filter(|(n, _)| *n > 0)
            .map(|(n, words)| format!("{n} {words}"))
            .collect();
            let planned = if planned.is_empty() { "nothing to change".to_owned() } else { planned.join(", ") };
            lines.push(format!(
                "Plan: {planned}; {} unchanged (dry run: nothing was written to LiteLLM)",
                plan.unchanged
            ));
        } else {
            let writes = self.writes.phrase().unwrap_or_else(|| "nothing to change".to_owned());
            lines.push(format!("LiteLLM: {writes}; {} unchanged", plan.unchanged));
            for failure in self.results.iter().filter(|r| !r.ok && !r.skipped).take(NAMED) {
                lines.push(format!(
                    "failed to {} {}: {}",
                    verb(failure.action),
                    failure.model_name,
                    failure.error.as_deref().unwrap_or("no reason given")
                ));
            }
            if self.writes.failed > NAMED {
                lines.push(format!("…and {} more failed", self.writes.failed - NAMED));
            }
            skipped_lines(&self.results, lines);
        }
        if let Some(reason) = &self.fallbacks.skipped {
            lines.push(format!("Fallbacks not looked at: {reason}"));
        } else if !self.fallbacks.operations.is_empty() {
            let failed = self.fallbacks.failed();
            let tail = if failed > 0 { format!(", {failed} failed") } else { String::new() };
            let done = if self.dry_run { "to change" } else { "changed" };
            lines.push(format!("Fallbacks: {} {done}{tail}", self.fallbacks.operations.len()));
        }
    }
}

/// The plan a `plan` job computed, if it can be applied; otherwise why not, in plain words.
pub fn plan_to_apply(job: &crate::db::jobs::JobRecord) -> Result<PushReport, String> {
    let id = job.id;
    if job.kind != "plan" {
        return Err(format!("job {id} is not a plan (it is a {} job)", job.kind));
    }
    match job.status.as_str() {
        "done" => {}
        "failed" => {
            let why = job.error.as_deref().unwrap_or("no reason given");
            return Err(format!("plan job {id} failed ({why}): compute the plan again"));
        }
        _ => return Err(format!("plan job {id} has not finished yet: wait for it, then apply it")),
    }
    let plan = job.result.as_ref().map(|r| StoredResult::read(&r.0)).and_then(|stored| match stored {
        StoredResult::Typed(result) => result.push().filter(|p| p.dry_run).cloned(),
        StoredResult::Earlier(_) => None,
    });
    let Some(plan) = plan else {
        return Err(format!("plan job {id} holds no plan this version can apply: compute the plan again"));
    };
    if plan.operation_count() == 0 {
        return Err(format!("plan job {id} has nothing to apply: LiteLLM already matched the database"));
    }
    Ok(plan)
}

/// The operations not sent, grouped by why, each named.
fn skipped_lines(results: &[OpResult], lines: &mut Vec<String>) {
    let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for result in results.iter().filter(|r| r.skipped) {
        by_reason.entry(result.error.as_deref().unwrap_or("no reason given")).or_default().push(format!(
            "{} {}",
            verb(result.action),
            result.model_name
        ));
    }
    for (reason, names) in by_reason {
        let more = names.len().saturating_sub(NAMED);
        let mut named = names.into_iter().take(NAMED).collect::<Vec<_>>().join(", ");
        if more > 0 {
            named.push_str(&format!(" and {more} more"));
        }
        lines.push(format!("not sent ({reason}): {named}"));
    }
}

pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Replace => "replace",
        Action::Delete => "delete",
        Action::DeleteDuplicate => "delete duplicate",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackAction {
    Set,
    Delete,
}

/// One fallback change, with its reason and (once applied) its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FallbackOperation {
    pub action: FallbackAction,
    pub model_name: String,
    pub fallback_type: FallbackType,
    /// What LiteLLM holds now (`None`: nothing).
    pub from: Option<Vec<String>>,
    /// What it will hold (`None` for a delete).
    pub to: Option<Vec<String>>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl FallbackOperation {
    /// What it writes (its action, the fallback, from what to what), not the words about it.
    pub fn identity(&self) -> String {
        serde_json::to_string(&(self.action, &self.model_name, self.fallback_type, &self.from, &self.to))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FallbackReport {
    pub operations: Vec<FallbackOperation>,
    pub unchanged: usize,
    /// Why fallbacks were not looked at (a push of one provider or model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Fallbacks left alone, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl FallbackReport {
    pub fn skipped(reason: &str) -> Self {
        Self { skipped: Some(reason.to_owned()), ..Self::default() }
    }

    pub fn failed(&self) -> usize {
        self.operations.iter().filter(|op| op.ok == Some(false)).count()
    }
}

/// Deleting LiteLLM entries by id: the ones refused are skipped, saying why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteReport {
    #[serde(flatten)]
    pub writes: WriteCounts,
    pub results: Vec<OpResult>,
}

impl DeleteReport {
    pub fn new(results: Vec<OpResult>) -> Self {
        Self { writes: WriteCounts::of(&results), results }
    }
}

/// A provider that answered its model list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionReport {
    pub ok: bool,
    pub models: usize,
    /// The first few model ids listed.
    pub sample: Vec<String>,
}

/// Testing the LiteLLM connection: whether its admin API answered and took the key, or why not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LitellmTestReport {
    pub ok: bool,
    /// Where, without credentials.
    pub url: String,
    pub key_sent: bool,
    /// The saved URL and key were tested, so the top bar's light shows this outcome; a test
    /// of values not saved leaves the light alone.
    pub saved: bool,
    /// LiteLLM answered that it has no models loaded yet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_models: bool,
    /// Why it failed, in a few plain words ("wrong key (HTTP 401)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The whole message of the failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub elapsed_ms: u64,
}

impl LitellmTestReport {
    /// The job's error when the test failed: the reason, then the whole story.
    pub fn failure(&self) -> Option<String> {
        if self.ok {
            return None;
        }
        let reason = self.reason.as_deref().unwrap_or("failed");
        Some(match &self.detail {
            Some(detail) => format!("{reason}: {detail}"),
            None => reason.to_owned(),
        })
    }

    fn summary_lines(&self, lines: &mut Vec<String>) {
        if self.ok {
            let key = if self.key_sent { "accepted the key" } else { "needed no key" };
            let empty = if self.no_models { "; it holds no models yet" } else { "" };
            lines.push(format!(
                "LiteLLM ok: its admin API at {} answered in {} ms and {key}{empty}",
                self.url, self.elapsed_ms
            ));
        } else {
            let reason = self.reason.as_deref().unwrap_or("failed");
            lines.push(format!("LiteLLM test failed: {reason} at {}", self.url));
            lines.extend(self.detail.clone());
        }
        lines.push(if self.saved {
            "Tested the saved settings: the top bar's LiteLLM light shows this result".to_owned()
        } else {
            "Tested the values in the form, not saved: the top bar's LiteLLM light is unchanged".to_owned()
        });
    }
}

impl JobResult {
    /// The plain-words summary, a line per fact.
    pub fn summary_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self {
            Self::Cycle(cycle) => {
                for outcome in &cycle.providers {
                    fetch_lines(&outcome.provider, outcome.fetch.as_ref(), outcome.error.as_deref(), &mut lines);
                }
                if cycle.push_skipped {
                    lines.push("LiteLLM: not configured, nothing pushed".to_owned());
                }
                if let Some(error) = &cycle.push_error {
                    lines.push(format!("LiteLLM: {error}"));
                }
                if let Some(push) = &cycle.push {
                    push.summary_lines(&mut lines);
                }
            }
            Self::Push(push) => push.summary_lines(&mut lines),
            Self::Refresh(fetch) => {
                let changed =
                    if fetch.counts.updated + fetch.counts.added > 0 { "details changed" } else { "no change" };
                lines.push(format!("Re-read from {}: {changed}", fetch.provider));
                lines.extend(fetch.warnings.iter().map(|w| format!("{}: warning: {w}", fetch.provider)));
            }
            Self::DeleteEntries(delete) => {
                let writes = delete.writes.phrase().unwrap_or_else(|| "nothing deleted".to_owned());
                lines.push(format!("LiteLLM: {writes}"));
                for failure in delete.results.iter().filter(|r| !r.ok && !r.skipped).take(NAMED) {
                    lines.push(format!(
                        "failed to delete {} [{}]: {}",
                        failure.model_name,
                        failure.litellm_id,
                        failure.error.as_deref().unwrap_or("no reason given")
                    ));
                }
                for skipped in delete.results.iter().filter(|r| r.skipped).take(NAMED) {
                    let name = if skipped.model_name.is_empty() { &skipped.litellm_id } else { &skipped.model_name };
                    lines.push(format!(
                        "not deleted: {name}: {}",
                        skipped.error.as_deref().unwrap_or("no reason given")
                    ));
                }
            }
            Self::TestConnection(connection) => {
                let sample = if connection.sample.is_empty() {
                    String::new()
                } else {
                    format!(" {}", connection.sample.join(", "))
                };
                lines.push(format!("Connection ok: {} models listed.{sample}", connection.models));
            }
            Self::TestLitellm(test) => test.summary_lines(&mut lines),
        }
        lines
    }

    /// The summary on one line (the jobs list, the toast, the API's `summary`).
    pub fn summary(&self) -> String {
        self.summary_lines().join(" · ")
    }

    /// Whether anything in it needs the operator's eye (a provider that failed or answered with
    /// no models, a write that failed or was not sent).
    pub fn has_warnings(&self) -> bool {
        let fetch_warned = |f: &FetchReport| f.guarded || !f.warnings.is_empty();
        match self {
            Self::Cycle(cycle) => {
                cycle.providers.iter().any(|p| p.error.is_some() || p.fetch.as_ref().is_some_and(fetch_warned))
                    || cycle.push_error.is_some()
                    || cycle.push.as_ref().is_some_and(|p| !p.clean())
            }
            Self::Push(push) => !push.clean(),
            Self::Refresh(fetch) => fetch_warned(fetch),
            Self::DeleteEntries(delete) => delete.writes.failed + delete.writes.skipped > 0,
            Self::TestConnection(_) => false,
            Self::TestLitellm(test) => !test.ok,
        }
    }

    /// The push (or plan) in it, if any.
    pub fn push(&self) -> Option<&PushReport> {
        match self {
            Self::Cycle(cycle) => cycle.push.as_ref(),
            Self::Push(push) => Some(push),
            _ => None,
        }
    }
}

fn fetch_lines(name: &str, fetch: Option<&FetchReport>, error: Option<&str>, lines: &mut Vec<String>) {
    match (fetch, error) {
        (_, Some(error)) => {
            lines.push(format!("{name}: failed, skipped: {error} (its models in the database were left as they were)"))
        }
        (Some(fetch), None) => {
            let c = fetch.counts;
            let mut line = format!(
                "{name}: {} models seen, {} added, {} updated, {} orphaned",
                c.seen, c.added, c.updated, c.orphaned
            );
            if fetch.guarded {
                line.push_str(" (the upstream answered with no models: nothing was changed)");
            }
            lines.push(line);
            lines.extend(fetch.warnings.iter().map(|w| format!("{name}: warning: {w}")));
        }
        (None, None) => lines.push(format!("{name}: done")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::Operation;

    fn op(action: Action, name: &str) -> Operation {
        Operation {
            action,
            litellm_id: format!("id-{name}"),
            model_name: name.into(),
            provider: Some("lab".into()),
            provider_id: Some(1),
            model_row_id: Some(1),
            reason: "because".into(),
            changes: Vec::new(),
            body: Value::Null,
            api_key: None,
            digest: None,
        }
    }

    fn result(action: Action, name: &str, ok: bool, skipped: bool, error: Option<&str>) -> OpResult {
        OpResult {
            action,
            litellm_id: format!("id-{name}"),
            model_name: name.into(),
            provider: Some("lab".into()),
            provider_id: Some(1),
            ok,
            skipped,
            error: error.map(str::to_owned),
        }
    }

    fn applied(results: Vec<OpResult>, unchanged: usize) -> PushReport {
        let mut report = PushReport::new(false);
        report.plan.unchanged = unchanged;
        report.results = results;
        report.tally();
        report
    }

    fn planned(operations: Vec<Operation>, unchanged: usize) -> PushReport {
        let mut report = PushReport::new(true);
        report.plan.operations = operations;
        report.plan.unchanged = unchanged;
        report
    }

    fn litellm_test(ok: bool, saved: bool) -> LitellmTestReport {
        LitellmTestReport {
            ok,
            url: "http://litellm:4000".into(),
            key_sent: true,
            saved,
            no_models: false,
            reason: (!ok).then(|| "wrong key (HTTP 401)".into()),
            detail: (!ok).then(|| "LiteLLM rejected the API key (HTTP 401)".into()),
            elapsed_ms: 12,
        }
    }

    fn cycle(providers: Vec<ProviderOutcome>, push: Option<PushReport>) -> JobResult {
        JobResult::Cycle(CycleReport { providers, push, push_error: None, push_skipped: false })
    }

    #[test]
    fn summaries_name_each_kind_of_write_once() {
        use Action::*;
        let fetched = ProviderOutcome {
            provider: "lab".into(),
            ok: true,
            fetch: Some(FetchReport {
                provider: "lab".into(),
                counts: FetchCounts { seen: 3, added: 1, ..FetchCounts::default() },
                ..FetchReport::default()
            }),
            error: None,
        };
        let unreadable =
            ProviderOutcome { provider: "down".into(), ok: false, fetch: None, error: Some("timeout".into()) };
        let stopped = "an earlier operation failed with: 401";
        let table: Vec<(&str, JobResult, Vec<&str>)> = vec![
            ("nothing to do", JobResult::Push(applied(vec![], 4)), vec!["LiteLLM: nothing to change; 4 unchanged"]),
            (
                "replace is its own kind",
                JobResult::Push(applied(
                    vec![
                        result(Create, "a", true, false, None),
                        result(Update, "b", true, false, None),
                        result(Replace, "c", true, false, None),
                        result(Replace, "d", true, false, None),
                        result(DeleteDuplicate, "e", true, false, None),
                        result(Delete, "f", true, false, None),
                    ],
                    1,
                )),
                vec!["LiteLLM: 1 created, 1 updated, 2 replaced, 2 deleted; 1 unchanged"],
            ),
            (
                "failed and skipped are named",
                JobResult::Push(applied(
                    vec![
                        result(Update, "a", false, false, Some("401 bad key")),
                        result(Create, "b", false, true, Some(stopped)),
                        result(Delete, "c", false, true, Some(stopped)),
                    ],
                    0,
                )),
                vec![
                    "LiteLLM: 1 failed, 2 skipped (not sent); 0 unchanged",
                    "failed to update a: 401 bad key",
                    "not sent (an earlier operation failed with: 401): create b, delete c",
                ],
            ),
            (
                "a dry run counts what it would do",
                cycle(vec![], Some(planned(vec![op(Create, "a"), op(Replace, "b"), op(Replace, "c")], 2))),
                vec!["Plan: 1 to create, 2 to replace; 2 unchanged (dry run: nothing was written to LiteLLM)"],
            ),
            (
                "an empty dry run",
                cycle(vec![], Some(planned(vec![], 7))),
                vec!["Plan: nothing to change; 7 unchanged (dry run: nothing was written to LiteLLM)"],
            ),
            (
                "a sync names the provider it skipped",
                cycle(vec![fetched, unreadable], Some(applied(vec![result(Delete, "x", true, false, None)], 0))),
                vec![
                    "lab: 3 models seen, 1 added, 0 updated, 0 orphaned",
                    "down: failed, skipped: timeout (its models in the database were left as they were)",
                    "LiteLLM: 1 deleted; 0 unchanged",
                ],
            ),
            (
                "deleting entries",
                JobResult::DeleteEntries(DeleteReport::new(vec![
                    result(Delete, "a", true, false, None),
                    result(Delete, "", false, true, Some("LiteLLM has no entry with this id")),
                ])),
                vec!["LiteLLM: 1 deleted, 1 skipped (not sent)", "not deleted: id-: LiteLLM has no entry with this id"],
            ),
            ("deleting nothing", JobResult::DeleteEntries(DeleteReport::new(vec![])), vec!["LiteLLM: nothing deleted"]),
            (
                "a connection test",
                JobResult::TestConnection(ConnectionReport {
                    ok: true,
                    models: 2,
                    sample: vec!["a".into(), "b".into()],
                }),
                vec!["Connection ok: 2 models listed. a, b"],
            ),
            (
                "the saved LiteLLM connection works",
                JobResult::TestLitellm(litellm_test(true, true)),
                vec![
                    "LiteLLM ok: its admin API at http://litellm:4000 answered in 12 ms and accepted the key",
                    "Tested the saved settings: the top bar's LiteLLM light shows this result",
                ],
            ),
            (
                "an empty LiteLLM, no key",
                JobResult::TestLitellm(LitellmTestReport {
                    key_sent: false,
                    no_models: true,
                    ..litellm_test(true, false)
                }),
                vec![
                    "LiteLLM ok: its admin API at http://litellm:4000 answered in 12 ms and needed no key; it holds \
                     no models yet",
                    "Tested the values in the form, not saved: the top bar's LiteLLM light is unchanged",
                ],
            ),
            (
                "a wrong key typed in the form",
                JobResult::TestLitellm(litellm_test(false, false)),
                vec![
                    "LiteLLM test failed: wrong key (HTTP 401) at http://litellm:4000",
                    "LiteLLM rejected the API key (HTTP 401)",
                    "Tested the values in the form, not saved: the top bar's LiteLLM light is unchanged",
                ],
            ),
        ];
        for (case, result, expected) in table {
            let lines = result.summary_lines();
            assert_eq!(lines, expected, "{case}");
            let one_line = result.summary();
            assert_eq!(one_line, expected.join(" · "), "{case}");
            let counts = lines.iter().find(|l| l.starts_with("LiteLLM:")).cloned().unwrap_or_default();
            for word in ["created", "updated", "replaced", "deleted", "failed", "skipped"] {
                assert!(counts.matches(&format!(" {word}")).count() <= 1, "{case}: {word} twice in {counts}");
                for zero in [format!(": 0 {word}"), format!(", 0 {word}")] {
                    assert!(!counts.contains(&zero), "{case}: {counts}");
                }
            }
        }
    }

    #[test]
    fn warnings_come_from_failures_skips_and_unreadable_providers() {
        let clean = JobResult::Push(applied(vec![result(Action::Create, "a", true, false, None)], 0));
        let skipped = JobResult::Push(applied(vec![result(Action::Create, "a", false, true, Some("stop"))], 0));
        let unreadable = cycle(
            vec![ProviderOutcome { provider: "down".into(), ok: false, fetch: None, error: Some("timeout".into()) }],
            None,
        );
        assert!(!clean.has_warnings());
        assert!(skipped.has_warnings());
        assert!(unreadable.has_warnings());
        assert!(!JobResult::TestLitellm(litellm_test(true, true)).has_warnings());
        let failed = litellm_test(false, true);
        assert_eq!(failed.failure().as_deref(), Some("wrong key (HTTP 401): LiteLLM rejected the API key (HTTP 401)"));
        assert!(JobResult::TestLitellm(failed).has_warnings());
        assert_eq!(litellm_test(true, true).failure(), None);
    }

    #[test]
    fn every_kind_round_trips_through_json() {
        let mut push = applied(vec![result(Action::Replace, "a", true, false, None)], 3);
        push.plan.operations.push(op(Action::Replace, "a"));
        push.fallbacks.operations.push(FallbackOperation {
            action: FallbackAction::Set,
            model_name: "a".into(),
            fallback_type: FallbackType::General,
            from: None,
            to: Some(vec!["b".into()]),
            reason: "wanted".into(),
            ok: Some(true),
            error: None,
        });
        let results = [
            cycle(vec![], Some(push.clone())),
            JobResult::Push(push),
            JobResult::Refresh(FetchReport { provider: "lab".into(), details_calls: 1, ..FetchReport::default() }),
            JobResult::DeleteEntries(DeleteReport::new(vec![result(Action::Delete, "x", false, false, Some("500"))])),
            JobResult::TestConnection(ConnectionReport { ok: true, models: 1, sample: vec!["m".into()] }),
            JobResult::TestLitellm(litellm_test(false, false)),
            JobResult::TestLitellm(LitellmTestReport { no_models: true, ..litellm_test(true, true) }),
        ];
        for original in results {
            let stored = serde_json::to_value(&original).expect("serialise");
            let mut expected = original.clone();
            // Row ids stay in the worker; the stored result does not carry them.
            if let Some(push) = match &mut expected {
                JobResult::Cycle(c) => c.push.as_mut(),
                JobResult::Push(p) => Some(p),
                _ => None,
            } {
                push.results.iter_mut().for_each(|r| r.provider_id = None);
                push.plan.operations.iter_mut().for_each(|o| (o.provider_id, o.model_row_id) = (None, None));
            }
            if let JobResult::DeleteEntries(d) = &mut expected {
                d.results.iter_mut().for_each(|r| r.provider_id = None);
            }
            assert_eq!(StoredResult::read(&stored), StoredResult::Typed(Box::new(expected)), "{stored}");
        }
    }

    fn job(kind: &str, status: &str, result: Option<Value>, error: Option<&str>) -> crate::db::jobs::JobRecord {
        crate::db::jobs::JobRecord {
            id: 7,
            kind: kind.into(),
            payload: crate::db::Json(json!({})),
            status: status.into(),
            progress: None,
            result: result.map(crate::db::Json),
            error: error.map(str::to_owned),
            attempts: 1,
            created_at: String::new(),
            started_at: None,
            finished_at: None,
            claimed_by: None,
        }
    }

    #[test]
    fn only_a_finished_plan_with_operations_can_be_applied() {
        let plan = serde_json::to_value(cycle(vec![], Some(planned(vec![op(Action::Create, "a")], 1)))).expect("json");
        let empty = serde_json::to_value(cycle(vec![], Some(planned(vec![], 3)))).expect("json");
        let pushed = serde_json::to_value(JobResult::Push(applied(vec![], 0))).expect("json");
        let table = [
            (job("plan", "done", Some(plan.clone()), None), Ok(1)),
            (job("push_all", "done", Some(pushed.clone()), None), Err("job 7 is not a plan (it is a push_all job)")),
            (job("plan", "queued", None, None), Err("plan job 7 has not finished yet: wait for it, then apply it")),
            (job("plan", "running", None, None), Err("plan job 7 has not finished yet: wait for it, then apply it")),
            (
                job("plan", "failed", Some(plan), Some("lab: timeout")),
                Err("plan job 7 failed (lab: timeout): compute the plan again"),
            ),
            (
                job("plan", "done", Some(json!({"push": {"plan": {}}})), None),
                Err("plan job 7 holds no plan this version can apply: compute the plan again"),
            ),
            (
                job("plan", "done", Some(pushed), None),
                Err("plan job 7 holds no plan this version can apply: compute the plan again"),
            ),
            (
                job("plan", "done", Some(empty), None),
                Err("plan job 7 has nothing to apply: LiteLLM already matched the database"),
            ),
        ];
        for (job, expected) in table {
            let got = plan_to_apply(&job).map(|p| p.operation_count());
            assert_eq!(got, expected.map_err(str::to_owned), "{} {}", job.kind, job.status);
        }
    }

    #[test]
    fn fallback_changes_count_as_differences_too() {
        let set = |to: &str| FallbackOperation {
            action: FallbackAction::Set,
            model_name: "pool".into(),
            fallback_type: FallbackType::General,
            from: None,
            to: Some(vec![to.into()]),
            reason: "wanted".into(),
            ok: None,
            error: None,
        };
        let mut shown = planned(vec![op(Action::Create, "a")], 0);
        shown.fallbacks.operations.push(set("big"));
        let mut same = shown.clone();
        same.fallbacks.operations[0].reason = "other words".into();
        let mut other = shown.clone();
        other.fallbacks.operations[0] = set("small");
        let mut none = shown.clone();
        none.fallbacks.operations.clear();
        assert_eq!(shown.differences(&same), 0);
        assert_eq!(shown.differences(&other), 2);
        assert_eq!(shown.differences(&none), 1);
        assert_eq!(shown.operation_count(), 2);
    }

    #[test]
    fn results_from_earlier_versions_are_kept_raw() {
        for old in [
            json!({"push": {"dry_run": true, "plan": {"operations": []}}}),
            json!({"deleted": 0, "failed": 0, "results": []}),
            json!({"ok": true, "models": 3, "sample": []}),
            json!("text"),
            Value::Null,
        ] {
            let stored = StoredResult::read(&old);
            assert_eq!(stored, StoredResult::Earlier(old.clone()));
            assert_eq!(stored.summary_lines(), vec![EARLIER_VERSION.to_owned()]);
            assert!(!stored.has_warnings());
        }
    }

    #[test]
    fn a_renamed_field_is_not_read_silently() {
        let renamed = json!({"type": "test_connection", "ok": true, "model_count": 3, "sample": []});
        assert!(matches!(StoredResult::read(&renamed), StoredResult::Earlier(_)));
    }
}
