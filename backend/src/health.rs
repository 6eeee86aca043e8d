//! LiteLLM's health as the top bar shows it: every read of LiteLLM's model list (a push, a
//! plan) records whether it worked, and if not why, for the frontend to show.

use shared::db::litellm_health::{self, Failure};

use crate::context::Context;
use crate::litellm::LiteLlmError;
use crate::push::PushError;

/// Records the outcome of a read of LiteLLM. A failure to record is logged, never fatal: the
/// push it belongs to goes on.
pub async fn record_read<T>(ctx: &Context, read: &Result<T, PushError>) {
    // LiteLLM may quote the request, key included, in its error; the light shows the detail.
    let detail = read.as_ref().err().map(|e| ctx.redact(&e.to_string()));
    let outcome = match (read, &detail) {
        (Err(error), Some(detail)) => Err(Failure { reason: &short_reason(error), detail }),
        _ => Ok(()),
    };
    if let Err(error) = litellm_health::record(&ctx.db, outcome).await {
        tracing::warn!(%error, "could not record LiteLLM's health");
    }
}

/// A few plain words for the light: what went wrong, not the whole story.
pub fn short_reason(error: &PushError) -> String {
    match error {
        PushError::NotConfigured => "not configured".into(),
        PushError::Db(_) => "database error on our side".into(),
        PushError::LiteLlm(error) => litellm_reason(error),
    }
}

/// A few plain words for what went wrong talking to LiteLLM.
pub fn litellm_reason(error: &LiteLlmError) -> String {
    match error {
        LiteLlmError::Unauthorized(status) => format!("wrong key (HTTP {status})"),
        LiteLlmError::Unreachable { .. } => "unreachable".into(),
        LiteLlmError::Timeout { .. } => "no answer in time".into(),
        LiteLlmError::TooLarge(_) => "answer too large".into(),
        LiteLlmError::Redirected { .. } => "redirected elsewhere".into(),
        LiteLlmError::NoDatabase => "no database connected".into(),
        LiteLlmError::StoreModelInDbOff => "STORE_MODEL_IN_DB is off".into(),
        LiteLlmError::Status { status, .. } => format!("error (HTTP {status})"),
        LiteLlmError::InvalidPayload(_) => "unexpected answer".into(),
        LiteLlmError::NotLiteLlm { .. } => "not LiteLLM".into(),
        LiteLlmError::Fenced(_) => "not written: this worker lost the worker lease".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_a_few_plain_words() {
        let unreachable = LiteLlmError::Unreachable { url: "http://127.0.0.1:1".into(), detail: "refused".into() };
        for (error, words) in [
            (PushError::LiteLlm(LiteLlmError::Unauthorized(401)), "wrong key (HTTP 401)"),
            (PushError::LiteLlm(unreachable), "unreachable"),
            (PushError::LiteLlm(LiteLlmError::NoDatabase), "no database connected"),
            (PushError::LiteLlm(LiteLlmError::Status { status: 500, message: "boom".into() }), "error (HTTP 500)"),
            (PushError::NotConfigured, "not configured"),
        ] {
            assert_eq!(short_reason(&error), words);
        }
    }
}
