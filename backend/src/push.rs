//! Push (SPEC §4): reconcile LiteLLM with the database. One `GET /model/info`, a plan, then
//! the plan's operations, a few at a time. A call that fails transiently (a reset connection,
//! a timeout, 502/503/504) is tried again after a backoff; an operation that still fails does
//! not stop the others. Only a failure that would fail every call (a wrong key, LiteLLM
//! without a database) skips the rest, each skipped operation saying so.
//!
//! Memory stays flat however many models there are: LiteLLM's list is parsed as it arrives
//! into the database (a staged snapshot), keeping only a summary of each entry; the desired
//! state is built twice, a part at a time — once to match it with LiteLLM's entries, once to
//! compute and apply each part's operations.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde_json::Value;
use shared::DbError;
use shared::backoff::Backoff;
use shared::db::snapshot::Staged;
use shared::db::{config, models, providers, routing, snapshot};
use shared::desired::{self, DesiredState};
pub use shared::job_results::{OpResult, PushReport};
pub use shared::plan::Scope;
use shared::plan::{self, Action, DeploymentRef, EntrySummary, Matching, Operation, OperationSet, Plan};
use shared::provider::Provider;
use shared::routing::Routing;
use shared::settings::Config;

use crate::context::Context;
use crate::fallbacks::{self, FallbackOperation};
use crate::litellm::{LiteLlmClient, LiteLlmError};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("LiteLLM is not configured: set its URL and key in Settings (or LITELLM_BASE_URL / LITELLM_API_KEY)")]
    NotConfigured,
    #[error(transparent)]
    LiteLlm(#[from] LiteLlmError),
    #[error("database: {0}")]
    Db(#[from] DbError),
}

/// Models whose deployments are built, compared and applied together.
const PART: usize = 200;
/// Entries of LiteLLM's list written to the staged snapshot per transaction.
const STAGE_BATCH: usize = 200;

/// The LiteLLM client for the configured proxy.
pub async fn client(ctx: &Context) -> Result<LiteLlmClient, PushError> {
    let config = config::get(&ctx.db).await?;
    ctx.litellm(&config).ok_or(PushError::NotConfigured)
}

/// Computes the plan for `scope` (and, unless `dry_run`, applies it).
pub async fn push(ctx: &Context, scope: Scope, dry_run: bool) -> Result<PushReport, PushError> {
    push_with(ctx, scope, if dry_run { Mode::DryRun } else { Mode::Apply }).await
}

/// What a push does with the plan it computes.
#[derive(Debug)]
pub enum Mode {
    Apply,
    /// Writes nothing to LiteLLM; of the database, only what it found (LiteLLM's list, each
    /// model's sync state), never settings or ids.
    DryRun,
    /// A dry run that keeps the ids it makes for new deployments, so that the plan shown names
    /// the entries an apply of it creates.
    Plan,
    /// Apply, sending only the operations a plan holds (the others are reported as not sent):
    /// how a plan is applied as it was shown, even should something change meanwhile.
    ApplyOnly {
        operations: OperationSet,
        fallbacks: Vec<FallbackOperation>,
    },
}

pub async fn push_with(ctx: &Context, scope: Scope, mode: Mode) -> Result<PushReport, PushError> {
    let dry_run = matches!(mode, Mode::DryRun | Mode::Plan);
    let keep_ids = !matches!(mode, Mode::DryRun);
    let (only, only_fallbacks) = match mode {
        Mode::ApplyOnly { operations, fallbacks } => (Some(operations), Some(fallbacks)),
        _ => (None, None),
    };
    let config = config::get(&ctx.db).await?;
    let litellm = ctx.litellm(&config).ok_or(PushError::NotConfigured)?;
    ctx.step("reading LiteLLM's model list").await;
    let installation = config.installation_id.clone().filter(|id| !id.is_empty());
    let read = read_actual(ctx, &litellm, installation.as_deref()).await;
    crate::health::record_read(ctx, &read).await;
    let (staged, actual) = read?;

    // The first pass: every deployment, in summary, matched with LiteLLM's entries.
    let providers = providers::list(&ctx.db).await?;
    let routing = routing::load(&ctx.db).await?;
    let mut parts = Parts::new(ctx, &config, &providers, &routing);
    let (mut refs, mut excluded, mut wanted_fallbacks) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(part) = parts.next().await? {
        refs.extend(part.deployments.iter().map(DeploymentRef::from));
        excluded.extend(part.excluded);
        wanted_fallbacks.extend(part.fallbacks);
    }
    let matching = Matching::compute(&refs, &excluded, &actual);
    let total = refs.len();
    drop((refs, excluded));

    let mut report = PushReport::new(dry_run);
    let mut applier =
        Applier { ctx, litellm: &litellm, staged: &staged, dry_run, keep_ids, stop: Mutex::new(None), only };

    // Ids first: if the process dies mid-push, the next run recognises what it adopted.
    let mut head = matching.head.clone();
    head.retain(scope);
    applier.run(&mut report, head).await?;

    // The second pass: each part's operations, computed and applied before the next is built.
    parts.restart();
    let mut checked = 0;
    while let Some(part) = parts.next().await? {
        checked += part.deployments.len();
        let wanted: Vec<i64> = part
            .deployments
            .iter()
            .filter(|d| scope.admits(Some(d.provider_id), d.model_row()))
            .filter_map(|d| d.model_row())
            .collect();
        let kept_ids: Vec<&str> = part
            .deployments
            .iter()
            .filter_map(|d| matching.claim(d))
            .filter_map(|position| actual[position].id.as_deref())
            .collect();
        let kept = staged.entries(&kept_ids).await?;
        let mut step = Plan::default();
        for deployment in part.deployments {
            let entry = matching
                .claim(&deployment)
                .and_then(|position| actual[position].id.as_deref())
                .and_then(|id| kept.get(id));
            Matching::add_operation(&mut step, deployment, entry);
        }
        drop(kept);
        step.retain(scope);
        step.sort();
        if !step.operations.is_empty() && !dry_run {
            let done = report.results.len();
            ctx.step(format!("applying LiteLLM operations ({done} done; {checked} of {total} deployments compared)"))
                .await;
        }
        let recorded = report.results.len();
        let operations = step.operations.clone();
        applier.run(&mut report, step).await?;
        let results = (!dry_run).then(|| &report.results[recorded..]);
        let states: Vec<_> = shared::status::sync_states(&wanted, &operations, results)
            .into_iter()
            .map(|(row, state, detail)| (row, state, detail.map(|d| ctx.redact(&d))))
            .collect();
        models::record_sync_states(&ctx.db, &states).await?;
    }
    report.plan.sort();
    // After the deployments: LiteLLM refuses a fallback naming a model it does not hold yet.
    report.fallbacks =
        fallbacks::for_scope(ctx, &litellm, scope, wanted_fallbacks, dry_run, only_fallbacks.as_deref()).await;
    report.tally();
    staged.publish().await?;
    Ok(report)
}

/// LiteLLM's list, staged in the database as it is read; the summaries are all that is kept.
/// A read that fails transiently starts again.
async fn read_actual(
    ctx: &Context,
    litellm: &LiteLlmClient,
    installation: Option<&str>,
) -> Result<(Staged, Vec<EntrySummary>), PushError> {
    let retry = &ctx.settings.litellm_retry;
    let mut attempt = 1;
    loop {
        let staged = Staged::begin(&ctx.db).await?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Value>(STAGE_BATCH);
        let staging = &staged;
        // Moves the receiver in: should staging fail, it is dropped with this block, so the
        // parser's next send fails and the read ends instead of waiting for room forever.
        let store = async move {
            let mut summaries = Vec::new();
            let mut batch = Vec::with_capacity(STAGE_BATCH);
            while let Some(entry) = receiver.recv().await {
                summaries.push(EntrySummary::of(&entry, installation));
                batch.push(entry);
                if batch.len() == STAGE_BATCH {
                    staging.add(&batch).await?;
                    batch.clear();
                }
            }
            staging.add(&batch).await?;
            Ok::<_, DbError>(summaries)
        };
        let (read, stored) = tokio::join!(litellm.model_info_each(sender), store);
        let summaries = stored?;
        match read {
            Ok(_) => return Ok((staged, summaries)),
            Err(error) if retry.again(attempt, &error, "read the model list").await => attempt += 1,
            Err(error) => return Err(error.into()),
        }
    }
}

/// The desired state a part at a time: the models by row id, then the routing groups. Ids
/// made for deployments without one are remembered, so both passes see the same.
struct Parts<'a> {
    ctx: &'a Context,
    config: &'a Config,
    providers: &'a [Provider],
    routing: &'a Routing,
    /// The last model row id read.
    after: i64,
    groups_done: bool,
    new_ids: HashMap<String, String>,
}

impl<'a> Parts<'a> {
    fn new(ctx: &'a Context, config: &'a Config, providers: &'a [Provider], routing: &'a Routing) -> Self {
        Self { ctx, config, providers, routing, after: 0, groups_done: false, new_ids: HashMap::new() }
    }

    fn restart(&mut self) {
        self.after = 0;
        self.groups_done = false;
    }

    async fn next(&mut self) -> Result<Option<DesiredState>, DbError> {
        let pool = &self.ctx.db;
        let new_ids = &mut self.new_ids;
        let mut new_id = |key: &str| new_ids.entry(key.to_owned()).or_insert_with(new_litellm_id).clone();
        let models = models::list_part(pool, self.after, PART).await?;
        if let Some(last) = models.last() {
            self.after = last.id;
            let targets = models::alias_targets(pool, &models).await?;
            return Ok(Some(desired::build_part(self.config, self.providers, &models, &targets, &mut new_id)));
        }
        if self.groups_done {
            return Ok(None);
        }
        self.groups_done = true;
        let mut targets = Vec::new();
        for target in self.routing.groups.iter().flat_map(|g| &g.targets) {
            if let Some(model) = models::get_by_model_id(pool, target.provider_id, &target.model_id).await? {
                targets.push(model);
            }
        }
        Ok(Some(desired::build_groups(self.config, self.providers, &targets, self.routing, &mut new_id)))
    }
}

/// Applies operations a batch at a time, records what succeeded in the staged snapshot and
/// keeps each operation (without its request body) for the report.
struct Applier<'a> {
    ctx: &'a Context,
    litellm: &'a LiteLlmClient,
    staged: &'a Staged,
    dry_run: bool,
    /// Store the ids of new and adopted deployments (all but a plain dry run do).
    keep_ids: bool,
    /// Set by the first failure that would fail every other call too (a wrong key, no DB):
    /// every later operation is then skipped, saying why.
    stop: Mutex<Option<String>>,
    /// When applying a plan: what it may send.
    only: Option<OperationSet>,
}

/// Why an operation of an applied plan was not sent.
pub(crate) const NOT_IN_PLAN: &str = "not in the plan being applied (something changed while it was applied); not sent";

impl Applier<'_> {
    /// Stores `step`'s ids, applies its operations (unless a dry run) and adds it to the report.
    async fn run(&mut self, report: &mut PushReport, step: Plan) -> Result<(), PushError> {
        let Plan {
            mut operations,
            ids_to_store,
            route_ids_to_store,
            unchanged,
            adopted,
            config_entries,
            foreign_entries,
        } = step;
        if self.keep_ids {
            models::store_litellm_ids(&self.ctx.db, &ids_to_store).await?;
            routing::store_litellm_ids(&self.ctx.db, &route_ids_to_store).await?;
        }
        if !self.dry_run {
            let mut refused = Vec::new();
            if let Some(only) = &mut self.only {
                let (sent, not): (Vec<Operation>, Vec<Operation>) =
                    operations.into_iter().partition(|op| only.take(op));
                operations = sent;
                refused = not.iter().map(|op| not_sent(op, NOT_IN_PLAN)).collect();
            }
            let mut results = apply(self.ctx, self.litellm, &operations, &self.stop).await;
            results.extend(refused);
            let succeeded: std::collections::HashSet<(Action, &str)> =
                results.iter().filter(|r| r.ok).map(|r| (r.action, r.litellm_id.as_str())).collect();
            let done = operations
                .iter()
                .filter(|op| succeeded.contains(&(op.action, op.litellm_id.as_str())))
                .map(|op| (op.action, op.litellm_id.as_str(), &op.body));
            self.staged.record(done).await?;
            report.results.extend(results);
        }
        let plan = &mut report.plan;
        plan.ids_to_store.extend(ids_to_store);
        plan.route_ids_to_store.extend(route_ids_to_store);
        plan.unchanged += unchanged;
        plan.adopted += adopted;
        plan.config_entries += config_entries;
        plan.foreign_entries += foreign_entries;
        for mut operation in operations.drain(..) {
            // The bodies are spent; the report shows what was done, not the requests.
            operation.spend_body();
            plan.operations.push(operation);
        }
        Ok(())
    }
}

fn not_sent(op: &Operation, why: &str) -> OpResult {
    OpResult {
        action: op.action,
        litellm_id: op.litellm_id.clone(),
        model_name: op.model_name.clone(),
        provider: op.provider.clone(),
        provider_id: op.provider_id,
        ok: false,
        skipped: true,
        error: Some(why.to_owned()),
    }
}

fn new_litellm_id() -> String {
    format!("lupdater-{}", uuid::Uuid::new_v4())
}

/// Applies `operations`, a few at a time. `stop` is set by the first failure that would fail
/// every other call too (a wrong key, no DB): the operations not yet started are then
/// skipped, each saying why.
async fn apply(
    ctx: &Context,
    litellm: &LiteLlmClient,
    operations: &[Operation],
    stop: &Mutex<Option<String>>,
) -> Vec<OpResult> {
    let retry = &ctx.settings.litellm_retry;
    stream::iter(operations)
        .map(|op| {
            let stop = &stop;
            async move {
                let stopped = stop.lock().ok().and_then(|s| s.clone());
                let skipped = stopped.is_some();
                let outcome = match stopped {
                    Some(reason) => Err(format!("skipped, not sent: an earlier operation failed with: {reason}")),
                    None => match apply_one(litellm, op, retry).await {
                        Ok(()) => Ok(()),
                        Err(error) => {
                            if error.is_fatal()
                                && let Ok(mut reason) = stop.lock()
                            {
                                reason.get_or_insert_with(|| error.to_string());
                            }
                            tracing::warn!(action = ?op.action, id = ?op.litellm_id, model = ?op.model_name, error = ?error.to_string(), "LiteLLM operation failed");
                            Err(error.to_string())
                        }
                    },
                };
                OpResult {
                    action: op.action,
                    litellm_id: op.litellm_id.clone(),
                    model_name: op.model_name.clone(),
                    provider: op.provider.clone(),
                    provider_id: op.provider_id,
                    ok: outcome.is_ok(),
                    skipped,
                    error: outcome.err(),
                }
            }
        })
        .buffer_unordered(ctx.settings.litellm_concurrency.max(1))
        .collect()
        .await
}

/// How often and how patiently a LiteLLM call that failed transiently is tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    pub backoff: Backoff,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 4, backoff: Backoff::new(Duration::from_millis(500), Duration::from_secs(4)) }
    }
}

impl Retry {
    /// Waits before attempt `attempt + 1` and says whether there is one, after `error` ended
    /// attempt `attempt` (1-based).
    async fn again(&self, attempt: u32, error: &LiteLlmError, what: &str) -> bool {
        if !error.is_transient() || attempt >= self.attempts {
            return false;
        }
        let delay = self.backoff.delay(attempt);
        tracing::debug!(what, attempt, delay_ms = delay.as_millis() as u64, error = ?error.to_string(), "retrying a LiteLLM call");
        tokio::time::sleep(delay).await;
        true
    }

    /// `call` until it succeeds, fails for good, or the attempts run out. For idempotent calls.
    async fn run<T, F, Fut>(&self, what: &str, mut call: F) -> Result<T, LiteLlmError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, LiteLlmError>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(error) if self.again(attempt, &error, what).await => attempt += 1,
                other => return other,
            }
        }
    }
}

/// Creates `body` (whose `model_info.id` is `id`), without ever storing it twice: LiteLLM answers
/// 500 both when the write failed and when it stored the row and then tripped, and a reset
/// connection or a timeout says nothing about whether the row landed, so before calling it a
/// failure, and before sending it again, look for it.
async fn create_once(litellm: &LiteLlmClient, id: &str, body: &Value, retry: &Retry) -> Result<(), LiteLlmError> {
    let mut attempt = 1;
    loop {
        let error = match litellm.create(body).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let ambiguous = error.is_transient() || matches!(error, LiteLlmError::Status { status: 500, .. });
        if ambiguous && litellm.exists(id).await.unwrap_or(false) {
            return Ok(());
        }
        if !retry.again(attempt, &error, "create").await {
            return Err(error);
        }
        attempt += 1;
        // The wait may have been enough for a slow write to show up.
        if litellm.exists(id).await.unwrap_or(false) {
            return Ok(());
        }
    }
}

async fn apply_one(litellm: &LiteLlmClient, op: &Operation, retry: &Retry) -> Result<(), LiteLlmError> {
    let id = op.litellm_id.as_str();
    match op.action {
        Action::Create => create_once(litellm, id, &with_api_key(&op.body, op), retry).await,
        Action::Update => {
            let body = with_api_key(&op.body, op);
            retry.run("update", || litellm.update(id, &body)).await
        }
        // If the create fails after the delete, the model's id is still stored: the next push
        // creates it (the entry is missing meanwhile, which the result reports).
        Action::Replace => {
            match retry.run("delete", || litellm.delete(id)).await {
                Err(error) if !error.is_not_found() => return Err(error),
                _ => {}
            }
            create_once(litellm, id, &with_api_key(&op.body, op), retry).await
        }
        Action::Delete | Action::DeleteDuplicate => match retry.run("delete", || litellm.delete(id)).await {
            Err(error) if error.is_not_found() => Ok(()),
            other => other,
        },
    }
}

/// The request body with the provider's API key, which the plan never holds in its body.
fn with_api_key(body: &Value, op: &Operation) -> Value {
    let mut body = body.clone();
    if let (Some(key), Some(params)) = (&op.api_key, body.get_mut("litellm_params").and_then(Value::as_object_mut)) {
        params.insert("api_key".into(), key.value().into());
    }
    body
}

/// Deletes LiteLLM entries by id, refusing any that litellm-updater does not own.
pub async fn delete_entries(ctx: &Context, ids: &[String]) -> Result<Vec<OpResult>, PushError> {
    let installation = config::get(&ctx.db).await?.installation_id;
    let litellm = client(ctx).await?;
    let actual = litellm.model_info().await?;
    let mut results = Vec::new();
    let mut operations = Vec::new();
    for id in ids {
        let entry = actual.iter().find(|e| e.pointer("/model_info/id").and_then(Value::as_str) == Some(id.as_str()));
        let name = entry.and_then(|e| e.get("model_name")).and_then(Value::as_str).unwrap_or("").to_owned();
        let refusal = match entry {
            None => Some("LiteLLM has no entry with this id".to_owned()),
            Some(entry) if !plan::is_owned(entry, installation.as_deref()) => {
                Some("not owned by litellm-updater (a config-file or someone else's entry); left alone".to_owned())
            }
            Some(_) => None,
        };
        match refusal {
            Some(error) => results.push(OpResult {
                action: Action::Delete,
                litellm_id: id.clone(),
                model_name: name,
                provider: None,
                provider_id: None,
                ok: false,
                skipped: true,
                error: Some(error),
            }),
            None => operations.push(Operation {
                action: Action::Delete,
                litellm_id: id.clone(),
                model_name: name,
                provider: None,
                provider_id: None,
                model_row_id: None,
                reason: "requested by the operator".into(),
                changes: Vec::new(),
                body: serde_json::json!({ "id": id }),
                api_key: None,
                digest: None,
            }),
        }
    }
    results.extend(apply(ctx, &litellm, &operations, &Mutex::new(None)).await);
    let remaining = litellm.model_info().await?;
    snapshot::save(&ctx.db, &remaining).await?;
    Ok(results)
}
