//! Fallbacks in the push: make LiteLLM's fallbacks (`POST/GET/DELETE /fallback`) what the
//! desired state says, writing nothing when they already agree. LiteLLM has no call that
//! lists every fallback, so what the last push set is kept in `pushed_fallbacks`: only those
//! are ever removed, and a fallback someone changed in LiteLLM since is left alone.

use shared::db::routing;
pub use shared::job_results::{FallbackAction, FallbackOperation, FallbackReport};
use shared::routing::{Fallback, FallbackType};

use crate::context::Context;
use crate::litellm::{LiteLlmClient, LiteLlmError};
use crate::push::{PushError, Scope};

/// What LiteLLM holds for a fallback. Its `GET /fallback/{model}` cannot address a name with a
/// `/` (the path segment is decoded before routing), so for those the value the last push set
/// stands in: without it every push would set them again.
async fn current(
    litellm: &LiteLlmClient,
    model: &str,
    kind: FallbackType,
    recorded: Option<&Fallback>,
) -> Result<Option<Vec<String>>, LiteLlmError> {
    match litellm.fallback(model, kind).await? {
        None if model.contains('/') => Ok(recorded.map(|f| f.fallback_models.clone())),
        other => Ok(other),
    }
}

/// Compares `desired` with LiteLLM and, unless `dry_run`, applies the difference: all of it, or
/// (applying a plan) only the changes `only` holds, the others reported as not sent.
pub async fn reconcile(
    ctx: &Context,
    litellm: &LiteLlmClient,
    desired: Vec<Fallback>,
    dry_run: bool,
    only: Option<&[FallbackOperation]>,
) -> Result<FallbackReport, PushError> {
    let pushed = routing::pushed_fallbacks(&ctx.db).await?;
    let recorded =
        |f: &Fallback| pushed.iter().find(|p| p.model_name == f.model_name && p.fallback_type == f.fallback_type);
    let mut report = FallbackReport::default();
    for wanted in &desired {
        let record = recorded(wanted);
        let now = current(litellm, &wanted.model_name, wanted.fallback_type, record).await?;
        if now.as_ref() == Some(&wanted.fallback_models) {
            report.unchanged += 1;
            if record.is_none_or(|r| r.fallback_models != wanted.fallback_models) && !dry_run {
                routing::record_pushed(&ctx.db, wanted).await?;
            }
            continue;
        }
        let reason = match &now {
            None => format!("{} has no {} fallback in LiteLLM", wanted.model_name, wanted.fallback_type),
            Some(_) => format!("LiteLLM's {} fallback of {} differs", wanted.fallback_type, wanted.model_name),
        };
        report.operations.push(FallbackOperation {
            action: FallbackAction::Set,
            model_name: wanted.model_name.clone(),
            fallback_type: wanted.fallback_type,
            from: now,
            to: Some(wanted.fallback_models.clone()),
            reason,
            ok: None,
            error: None,
        });
    }
    for old in pushed
        .iter()
        .filter(|p| !desired.iter().any(|d| d.model_name == p.model_name && d.fallback_type == p.fallback_type))
    {
        let now = current(litellm, &old.model_name, old.fallback_type, Some(old)).await?;
        match now {
            None => {
                if !dry_run {
                    routing::forget_pushed(&ctx.db, &old.model_name, old.fallback_type).await?;
                }
            }
            Some(models) if models != old.fallback_models => {
                report.notes.push(format!(
                    "the {} fallback of {} was changed in LiteLLM since the last push; left alone",
                    old.fallback_type, old.model_name
                ));
                if !dry_run {
                    routing::forget_pushed(&ctx.db, &old.model_name, old.fallback_type).await?;
                }
            }
            Some(models) => report.operations.push(FallbackOperation {
                action: FallbackAction::Delete,
                model_name: old.model_name.clone(),
                fallback_type: old.fallback_type,
                from: Some(models),
                to: None,
                reason: "no longer wanted (its group or fallback was removed, or it became automatic-only)".into(),
                ok: None,
                error: None,
            }),
        }
    }
    if !dry_run {
        if let Some(only) = only {
            let mut allowed: Vec<String> = only.iter().map(FallbackOperation::identity).collect();
            for op in &mut report.operations {
                match allowed.iter().position(|a| *a == op.identity()) {
                    Some(found) => drop(allowed.swap_remove(found)),
                    None => {
                        op.ok = Some(false);
                        op.error = Some(crate::push::NOT_IN_PLAN.to_owned());
                    }
                }
            }
        }
        apply(ctx, litellm, &mut report.operations).await?;
    }
    Ok(report)
}

/// Sends every operation not already decided (`ok` unset).
async fn apply(ctx: &Context, litellm: &LiteLlmClient, operations: &mut [FallbackOperation]) -> Result<(), PushError> {
    for op in operations.iter_mut().filter(|op| op.ok.is_none()) {
        let outcome = match (op.action, &op.to) {
            (FallbackAction::Set, Some(models)) => {
                let fallback = Fallback {
                    model_name: op.model_name.clone(),
                    fallback_type: op.fallback_type,
                    fallback_models: models.clone(),
                };
                let sent = litellm.set_fallback(&fallback).await;
                if sent.is_ok() {
                    routing::record_pushed(&ctx.db, &fallback).await?;
                }
                sent
            }
            _ => {
                let sent = litellm.delete_fallback(&op.model_name, op.fallback_type).await;
                if sent.is_ok() {
                    routing::forget_pushed(&ctx.db, &op.model_name, op.fallback_type).await?;
                }
                sent
            }
        };
        if let Err(error) = &outcome {
            tracing::warn!(model = ?op.model_name, kind = %op.fallback_type, error = ?error.to_string(), "LiteLLM fallback change failed");
        }
        op.ok = Some(outcome.is_ok());
        op.error = outcome.err().map(|e| e.to_string());
    }
    Ok(())
}

/// The fallback part of a push of `scope`: all of it for a full push, nothing for a push of
/// one provider or model (fallbacks name groups across providers). A failure to reconcile
/// is reported, not raised: the deployments were pushed either way.
pub async fn for_scope(
    ctx: &Context,
    litellm: &LiteLlmClient,
    scope: Scope,
    desired: Vec<Fallback>,
    dry_run: bool,
    only: Option<&[FallbackOperation]>,
) -> FallbackReport {
    if scope != Scope::All {
        return FallbackReport::skipped("fallbacks are reconciled by a push of everything");
    }
    match reconcile(ctx, litellm, desired, dry_run, only).await {
        Ok(report) => report,
        Err(error) => {
            tracing::warn!(error = ?error.to_string(), "fallbacks not reconciled");
            FallbackReport {
                operations: vec![FallbackOperation {
                    action: FallbackAction::Set,
                    model_name: String::new(),
                    fallback_type: FallbackType::General,
                    from: None,
                    to: None,
                    reason: "reading LiteLLM's fallbacks".into(),
                    ok: Some(false),
                    error: Some(format!("fallbacks not reconciled: {error}")),
                }],
                ..FallbackReport::default()
            }
        }
    }
}
