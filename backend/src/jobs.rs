//! Running one queued job (SPEC §2 "Manual actions are jobs"): what each kind does, and the
//! result JSON the frontend shows.

use serde_json::Value;
use shared::DbError;
use shared::db::jobs::JobRecord;
use shared::db::sync_runs;
use shared::db::{config, litellm_health, models, providers};
use shared::job_results::{ConnectionReport, DeleteReport, JobResult, LitellmTestReport};
use shared::jobs::JobRequest;
use shared::provider::Provider;
use shared::runs::RunKind;
use shared::secret::{KeyChange, key_after_url_change};
use shared::types::ProviderType;

use crate::context::Context;
use crate::cycle::{self, Push};
use crate::fetch;
use crate::litellm::LiteLlmError;
use crate::push::{self, Mode, PushError, Scope};
use crate::upstream::Connection;

/// A job's end: its result (shown even on failure) and, when it failed, why.
#[derive(Debug)]
pub struct JobOutcome {
    pub result: Option<Value>,
    pub error: Option<String>,
}

impl JobOutcome {
    fn done(result: JobResult) -> Self {
        Self { result: stored(&result), error: None }
    }

    fn failed(error: impl Into<String>) -> Self {
        Self { result: None, error: Some(error.into()) }
    }
}

pub async fn run(ctx: &Context, job: &JobRecord) -> Result<JobOutcome, DbError> {
    let request = match job.request() {
        Ok(request) => request,
        Err(error) => return Ok(JobOutcome::failed(format!("cannot run a {} job: {error}", job.kind))),
    };
    let trigger = "job";
    let job_id = Some(job.id);
    Ok(match request {
        JobRequest::SyncProvider { provider_id } | JobRequest::FetchProvider { provider_id } => {
            let Some(provider) = fetchable(ctx, provider_id).await? else {
                return Ok(JobOutcome::failed(format!("provider {provider_id} does not exist or cannot be fetched")));
            };
            let mode = if matches!(request, JobRequest::SyncProvider { .. }) { Push::Apply } else { Push::No };
            cycle_outcome(cycle::run(ctx, &[provider], mode, Scope::Provider(provider_id), trigger, job_id).await?)
        }
        JobRequest::SyncAll | JobRequest::FetchAll => {
            let providers = enabled_providers(ctx).await?;
            let mode = if request == JobRequest::SyncAll { Push::Apply } else { Push::No };
            cycle_outcome(cycle::run(ctx, &providers, mode, Scope::All, trigger, job_id).await?)
        }
        JobRequest::PushAll => push_outcome(ctx, Scope::All, job_id).await?,
        JobRequest::PushProvider { provider_id } => {
            if providers::get(&ctx.db, provider_id).await?.is_none() {
                return Ok(JobOutcome::failed(format!("provider {provider_id} does not exist")));
            }
            push_outcome(ctx, Scope::Provider(provider_id), job_id).await?
        }
        JobRequest::PushModel { model_id } => {
            if models::get(&ctx.db, model_id).await?.is_none() {
                return Ok(JobOutcome::failed(format!("model {model_id} does not exist")));
            }
            push_outcome(ctx, Scope::Model(model_id), job_id).await?
        }
        JobRequest::RefreshModel { model_id } => refresh(ctx, model_id).await?,
        JobRequest::DeleteLitellmEntries { ids } => match push::delete_entries(ctx, &ids).await {
            Ok(results) => {
                let report = DeleteReport::new(results);
                let not_done = report.writes.failed + report.writes.skipped;
                let error = (not_done > 0).then(|| format!("{not_done} of {} deletions failed", ids.len()));
                JobOutcome { result: stored(&JobResult::DeleteEntries(report)), error }
            }
            Err(PushError::Db(error)) => return Err(error),
            Err(error) => JobOutcome::failed(error.to_string()),
        },
        JobRequest::TestConnection { provider_id, base_url, provider_type, api_key } => {
            test_connection(ctx, provider_id, base_url, provider_type, api_key).await?
        }
        JobRequest::TestLitellm { base_url, api_key } => test_litellm(ctx, base_url, api_key).await?,
        JobRequest::ApplyPlan { plan_job_id } => match crate::apply::check(ctx, plan_job_id).await? {
            Ok(mode) => recorded_push(ctx, job_id, push::push_with(ctx, Scope::All, mode)).await?,
            Err(refusal) => JobOutcome::failed(refusal),
        },
        JobRequest::Plan { fetch } => {
            if fetch {
                let providers = enabled_providers(ctx).await?;
                let report = cycle::run(ctx, &providers, Push::Plan, Scope::All, trigger, job_id).await?;
                return Ok(cycle_outcome(report));
            }
            match push::push_with(ctx, Scope::All, Mode::Plan).await {
                Ok(report) => JobOutcome::done(JobResult::Cycle(cycle::CycleReport {
                    providers: Vec::new(),
                    push: Some(report),
                    push_error: None,
                    push_skipped: false,
                })),
                Err(PushError::Db(error)) => return Err(error),
                Err(error) => JobOutcome::failed(error.to_string()),
            }
        }
    })
}

pub async fn enabled_providers(ctx: &Context) -> Result<Vec<Provider>, DbError> {
    Ok(providers::list(&ctx.db)
        .await?
        .into_iter()
        .filter(|p| p.sync_enabled && p.kind != ProviderType::Compat)
        .collect())
}

async fn fetchable(ctx: &Context, provider_id: i64) -> Result<Option<Provider>, DbError> {
    Ok(providers::get(&ctx.db, provider_id).await?.filter(|p| p.kind != ProviderType::Compat))
}

/// The result as stored in `jobs.result`.
fn stored(result: &JobResult) -> Option<Value> {
    serde_json::to_value(result).ok()
}

fn cycle_outcome(report: cycle::CycleReport) -> JobOutcome {
    let error = report.failure_summary();
    JobOutcome { result: stored(&JobResult::Cycle(report)), error }
}

async fn push_outcome(ctx: &Context, scope: Scope, job_id: Option<i64>) -> Result<JobOutcome, DbError> {
    recorded_push(ctx, job_id, push::push(ctx, scope, false)).await
}

/// Runs `push`, recorded as a push in the sync history.
async fn recorded_push(
    ctx: &Context,
    job_id: Option<i64>,
    push: impl Future<Output = Result<push::PushReport, PushError>>,
) -> Result<JobOutcome, DbError> {
    let run_id = sync_runs::start(&ctx.db, None, RunKind::Push, "job", job_id).await?;
    let outcome = push.await;
    let (report, error, skipped) = match outcome {
        Ok(report) => (Some(report), None, false),
        Err(PushError::Db(error)) => return Err(error),
        Err(PushError::NotConfigured) => (None, Some(PushError::NotConfigured.to_string()), true),
        Err(error) => (None, Some(error.to_string()), false),
    };
    cycle::record_push(ctx, run_id, &report, error.as_deref(), skipped).await?;
    let failure = error.or_else(|| report.as_ref().and_then(|r| r.failure_summary()));
    Ok(JobOutcome { result: report.and_then(|r| stored(&JobResult::Push(r))), error: failure })
}

async fn refresh(ctx: &Context, model_id: i64) -> Result<JobOutcome, DbError> {
    let Some(model) = models::get(&ctx.db, model_id).await? else {
        return Ok(JobOutcome::failed(format!("model {model_id} does not exist")));
    };
    let Some(provider) = fetchable(ctx, model.provider_id).await? else {
        return Ok(JobOutcome::failed(format!("{} is a compat alias; refresh its target instead", model.model_id)));
    };
    Ok(match fetch::refresh_model(ctx, &provider, &model).await {
        Ok(report) => JobOutcome::done(JobResult::Refresh(report)),
        Err(fetch::FetchError::Db(error)) => return Err(error),
        Err(error) => JobOutcome::failed(error.to_string()),
    })
}

async fn test_connection(
    ctx: &Context,
    provider_id: Option<i64>,
    base_url: Option<String>,
    provider_type: Option<ProviderType>,
    api_key: Option<String>,
) -> Result<JobOutcome, DbError> {
    let saved = match provider_id {
        Some(id) => match providers::get(&ctx.db, id).await? {
            Some(provider) => Some(provider),
            None => return Ok(JobOutcome::failed(format!("provider {id} does not exist"))),
        },
        None => None,
    };
    let kind = provider_type.or(saved.as_ref().map(|p| p.kind));
    let base_url = base_url.filter(|u| !u.trim().is_empty()).or(saved.as_ref().map(|p| p.base_url.clone()));
    let (Some(kind), Some(base_url)) = (kind, base_url) else {
        return Ok(JobOutcome::failed("give a saved provider or a URL and a type to test"));
    };
    // A saved key goes only to the URL it was saved for, whoever queued this job.
    let change = KeyChange::from_patch(api_key.map(Some));
    let saved_url = saved.as_ref().map(|p| p.base_url.as_str());
    let saved_key = saved.as_ref().and_then(|p| p.api_key.as_ref());
    let api_key = match key_after_url_change(saved_url, Some(&base_url), saved_key, change, "provider") {
        Ok(key) => key,
        Err(refusal) => return Ok(JobOutcome::failed(refusal)),
    };
    let conn = Connection { kind, base_url: base_url.trim().trim_end_matches('/').to_owned(), api_key };
    ctx.step(format!("connecting to {}", crate::http::display_url(&conn.base_url))).await;
    Ok(match ctx.upstream.list(&conn).await {
        Ok(listed) => JobOutcome::done(JobResult::TestConnection(ConnectionReport {
            ok: true,
            models: listed.len(),
            sample: listed.iter().take(10).map(|l| l.id.clone()).collect(),
        })),
        Err(error) => JobOutcome::failed(error.to_string()),
    })
}

/// The longest a LiteLLM connection test waits for the answer (less if requests are set
/// shorter): the operator is looking at the button.
const LITELLM_TEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One GET to LiteLLM with the saved connection or the values typed in Settings. Only a test of
/// the saved URL and key is recorded for the top bar's light: values not saved say nothing
/// about the connection the pushes use.
async fn test_litellm(ctx: &Context, base_url: Option<String>, api_key: Option<String>) -> Result<JobOutcome, DbError> {
    let saved = config::get(&ctx.db).await?;
    let saved_url = saved.litellm_url().map(|u| u.trim_end_matches('/').to_owned());
    let url = base_url.map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
    let Some(url) = url.or_else(|| saved_url.clone()) else {
        return Ok(JobOutcome::failed("LiteLLM is not configured: enter its URL in Settings"));
    };
    // Checked again here, whoever queued the job: the saved key goes only to the saved URL.
    let change = KeyChange::from_patch(api_key.map(Some));
    let key =
        match key_after_url_change(saved_url.as_deref(), Some(&url), saved.litellm_api_key.as_ref(), change, "LiteLLM")
        {
            Ok(key) => key,
            Err(refusal) => return Ok(JobOutcome::failed(refusal)),
        };
    let is_saved = saved_url.as_deref() == Some(url.as_str()) && key == saved.litellm_api_key;
    let shown = crate::http::display_url(&url);
    ctx.step(format!("asking LiteLLM at {shown}")).await;
    let timeout = LITELLM_TEST_TIMEOUT.min(ctx.settings.request_timeout).as_secs().max(1);
    let client = crate::litellm::LiteLlmClient::new(ctx.http.clone(), &url, key.clone(), timeout);
    let started = std::time::Instant::now();
    let answer = client.probe(timeout).await;
    let mut report = LitellmTestReport {
        ok: answer.is_ok(),
        url: shown,
        key_sent: key.is_some(),
        saved: is_saved,
        no_models: matches!(answer, Ok(crate::litellm::Probe::NoModels)),
        reason: None,
        detail: None,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    match &answer {
        // A read needs no database with the master key: this answer says the key is not it.
        Err(LiteLlmError::NoDatabase) => {
            report.reason = Some("wrong key (no database connected)".into());
            report.detail = Some(
                "LiteLLM answered \"No connected db.\": the key is not its master key, and it has no database \
                 to look other keys up in (it needs one, with STORE_MODEL_IN_DB=True, to store models)"
                    .into(),
            );
        }
        Err(error) => {
            // LiteLLM may quote the request, key included, in its error.
            report.reason = Some(crate::health::litellm_reason(error));
            report.detail = Some(ctx.redact(&error.to_string()));
        }
        Ok(_) => {}
    }
    if is_saved {
        let failure = report.reason.as_deref().zip(report.detail.as_deref());
        let outcome = match failure {
            Some((reason, detail)) => Err(litellm_health::Failure { reason, detail }),
            None => Ok(()),
        };
        litellm_health::record(&ctx.db, outcome).await?;
    }
    let error = report.failure();
    Ok(JobOutcome { result: stored(&JobResult::TestLitellm(report)), error })
}
