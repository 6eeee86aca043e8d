//! The actions that need the network, as the frontend requests them and the worker runs them
//! (SPEC §2 "Manual actions are jobs"). Stored as `jobs.kind` + `jobs.payload`.

use serde::{Deserialize, Serialize};

use crate::db::providers::validate_base_url;
use crate::secret::{KeyChange, Secret, key_after_url_change};
use crate::types::ProviderType;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobRequest {
    /// Fetch one provider, then push.
    SyncProvider {
        provider_id: i64,
    },
    /// Fetch every enabled provider, then push.
    SyncAll,
    /// Read one provider into the database; no LiteLLM calls.
    FetchProvider {
        provider_id: i64,
    },
    FetchAll,
    /// Reconcile LiteLLM for one provider's models only.
    PushProvider {
        provider_id: i64,
    },
    /// Reconcile LiteLLM with the whole database.
    PushAll,
    /// Re-read one model's details from its provider.
    RefreshModel {
        model_id: i64,
    },
    /// Reconcile LiteLLM for one model only.
    PushModel {
        model_id: i64,
    },
    /// Delete LiteLLM deployments litellm-updater owns, by `model_info.id`.
    DeleteLitellmEntries {
        ids: Vec<String>,
    },
    /// Check that a provider answers: a saved one, or connection details not saved yet.
    TestConnection {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        provider_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        provider_type: Option<ProviderType>,
        /// Removed from the stored payload when the job ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<String>,
    },
    /// Check that LiteLLM answers its admin API and accepts the key: the saved connection (both
    /// absent), or values typed in Settings and not saved yet.
    TestLitellm {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base_url: Option<String>,
        /// Removed from the stored payload when the job ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_key: Option<String>,
    },
    /// Compute the LiteLLM plan without applying it (a dry run).
    Plan {
        #[serde(default)]
        fetch: bool,
    },
    /// Apply a finished plan job's operations, refused if a plan computed now differs.
    ApplyPlan {
        plan_job_id: i64,
    },
}

impl JobRequest {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SyncProvider { .. } => "sync_provider",
            Self::SyncAll => "sync_all",
            Self::FetchProvider { .. } => "fetch_provider",
            Self::FetchAll => "fetch_all",
            Self::PushProvider { .. } => "push_provider",
            Self::PushAll => "push_all",
            Self::RefreshModel { .. } => "refresh_model",
            Self::PushModel { .. } => "push_model",
            Self::DeleteLitellmEntries { .. } => "delete_litellm_entries",
            Self::TestConnection { .. } => "test_connection",
            Self::TestLitellm { .. } => "test_litellm",
            Self::Plan { .. } => "plan",
            Self::ApplyPlan { .. } => "apply_plan",
        }
    }

    /// The LiteLLM connection test of the values typed in Settings (an empty field: the saved
    /// value), or why it is refused. The saved key goes only to the saved URL
    /// ([`key_after_url_change`], the rule Settings saves by): a test of another URL needs its
    /// key typed with it, so a forged request cannot have the worker send the master key away.
    pub fn test_litellm(
        saved_url: Option<&str>,
        saved_key: Option<&Secret>,
        base_url: Option<&str>,
        api_key: Option<&str>,
    ) -> Result<Self, String> {
        let typed_url = base_url.map(|u| u.trim().trim_end_matches('/')).filter(|u| !u.is_empty());
        let Some(url) = typed_url.or(saved_url) else {
            return Err("no LiteLLM URL to test: enter LiteLLM's URL".into());
        };
        validate_base_url(url).map_err(|e| e.replace("base_url", "LiteLLM URL"))?;
        let api_key = api_key.map(str::trim).filter(|k| !k.is_empty());
        let change = api_key.map_or(KeyChange::Keep, |key| KeyChange::Set(key.to_owned()));
        key_after_url_change(saved_url, Some(url), saved_key, change, "LiteLLM")?;
        Ok(Self::TestLitellm { base_url: typed_url.map(str::to_owned), api_key: api_key.map(str::to_owned) })
    }

    /// Splits into the `kind` and `payload` columns.
    pub fn to_columns(&self) -> (String, serde_json::Value) {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(object) = value.as_object_mut() {
            object.remove("kind");
        }
        (self.kind().to_owned(), value)
    }

    pub fn from_columns(kind: &str, payload: &serde_json::Value) -> Result<Self, serde_json::Error> {
        let mut value = match payload {
            serde_json::Value::Object(object) => serde_json::Value::Object(object.clone()),
            _ => serde_json::Value::Object(serde_json::Map::new()),
        };
        if let Some(object) = value.as_object_mut() {
            object.insert("kind".into(), kind.into());
        }
        serde_json::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_columns() {
        let requests = [
            JobRequest::SyncProvider { provider_id: 3 },
            JobRequest::SyncAll,
            JobRequest::FetchProvider { provider_id: 1 },
            JobRequest::FetchAll,
            JobRequest::PushProvider { provider_id: 2 },
            JobRequest::PushAll,
            JobRequest::RefreshModel { model_id: 9 },
            JobRequest::PushModel { model_id: 9 },
            JobRequest::DeleteLitellmEntries { ids: vec!["a".into(), "b".into()] },
            JobRequest::TestConnection {
                provider_id: None,
                base_url: Some("http://h:11434".into()),
                provider_type: Some(ProviderType::Ollama),
                api_key: Some("k".into()),
            },
            JobRequest::TestLitellm { base_url: None, api_key: None },
            JobRequest::TestLitellm { base_url: Some("http://litellm:4000".into()), api_key: Some("k".into()) },
            JobRequest::Plan { fetch: true },
            JobRequest::ApplyPlan { plan_job_id: 4 },
        ];
        for request in requests {
            let (kind, payload) = request.to_columns();
            assert_eq!(kind, request.kind());
            assert!(payload.get("kind").is_none());
            assert_eq!(JobRequest::from_columns(&kind, &payload).ok(), Some(request));
        }
    }

    #[test]
    fn a_litellm_test_sends_the_saved_key_only_to_the_saved_url() {
        let key = Secret::new("sk-saved-master");
        let saved = Some("http://litellm:4000");
        let job = |url: Option<&str>, key: Option<&str>| {
            Ok(JobRequest::TestLitellm { base_url: url.map(str::to_owned), api_key: key.map(str::to_owned) })
        };
        // (case, saved URL, saved key, typed URL, typed key, the job or words of the refusal)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a Secret>,
            Option<&'a str>,
            Option<&'a str>,
            Result<JobRequest, &'a str>,
        );
        let table: Vec<Case> = vec![
            ("the saved connection", saved, Some(&key), None, None, job(None, None)),
            ("empty fields are the saved values", saved, Some(&key), Some(" "), Some(""), job(None, None)),
            (
                "the saved URL typed again",
                saved,
                Some(&key),
                Some("http://litellm:4000/"),
                None,
                job(Some("http://litellm:4000"), None),
            ),
            ("another key for the saved URL", saved, Some(&key), None, Some(" sk-typed "), job(None, Some("sk-typed"))),
            (
                "another URL with its key",
                saved,
                Some(&key),
                Some("http://other:4000"),
                Some("sk-other"),
                job(Some("http://other:4000"), Some("sk-other")),
            ),
            (
                "another URL without a key",
                saved,
                Some(&key),
                Some("http://capture.example"),
                None,
                Err("enter the key again"),
            ),
            (
                "another URL, nothing saved to leak",
                saved,
                None,
                Some("http://other:4000"),
                None,
                job(Some("http://other:4000"), None),
            ),
            ("nothing to test", None, None, Some(""), None, Err("no LiteLLM URL to test")),
            (
                "not a URL",
                saved,
                Some(&key),
                Some("litellm"),
                Some("sk-other"),
                Err("LiteLLM URL \"litellm\" is not a URL"),
            ),
            ("not http", saved, Some(&key), Some("ftp://litellm"), Some("sk-other"), Err("http:// or https://")),
        ];
        for (case, saved_url, saved_key, url, typed, expected) in table {
            match (JobRequest::test_litellm(saved_url, saved_key, url, typed), expected) {
                (Ok(got), Ok(wanted)) => assert_eq!(got, wanted, "{case}"),
                (Err(got), Err(needle)) => assert!(got.contains(needle), "{case}: {got}"),
                (got, wanted) => panic!("{case}: got {got:?}, wanted {wanted:?}"),
            }
        }
    }

    #[test]
    fn unknown_kinds_and_bad_payloads_are_errors() {
        assert!(JobRequest::from_columns("format_disk", &serde_json::json!({})).is_err());
        assert!(JobRequest::from_columns("sync_provider", &serde_json::json!({"provider_id": "x"})).is_err());
        assert_eq!(
            JobRequest::from_columns("plan", &serde_json::Value::Null).ok(),
            Some(JobRequest::Plan { fetch: false })
        );
    }
}
