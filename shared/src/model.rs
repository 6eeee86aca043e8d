//! A model as the rules see it: what a provider serves, the metadata derived from it and the
//! operator's overrides ([`Overrides`]), in plain values (the store converts its rows).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::types::{OllamaMode, Pricing};

/// One model of a provider (or a compat alias). Its raw upstream metadata is not part of it: the
/// store reads that on demand, being the largest column.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub id: i64,
    pub provider_id: i64,
    pub model_id: String,
    pub model_type: Option<String>,
    pub context_window: Option<i64>,
    pub max_input_tokens: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
    pub capabilities: Vec<String>,
    pub derived_info: Map<String, Value>,
    pub upstream_pricing: Option<Pricing>,
    pub upstream_digest: Option<String>,
    pub system_tags: Vec<String>,
    pub user_params: Option<Map<String, Value>>,
    pub user_tags: Option<Vec<String>>,
    pub access_groups: Option<Vec<String>>,
    pub pricing_override: Option<Pricing>,
    /// A pricing profile's name: the model's prices, under `pricing_override`'s keys.
    pub pricing_profile: Option<String>,
    pub ollama_mode: Option<OllamaMode>,
    pub sync_enabled: bool,
    pub user_modified: bool,
    pub mapped_provider_id: Option<i64>,
    pub mapped_model_id: Option<String>,
    pub litellm_model_id: Option<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub is_orphaned: bool,
    pub orphaned_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Model {
    pub fn pricing(&self) -> Option<Pricing> {
        self.pricing_override.filter(|p| !p.is_empty())
    }

    pub fn user_tags(&self) -> &[String] {
        self.user_tags.as_deref().unwrap_or_default()
    }

    pub fn access_groups(&self) -> &[String] {
        self.access_groups.as_deref().unwrap_or_default()
    }
}

/// The operator's per-model settings. `None` leaves a field as it is; `Some(None)` clears it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(default)]
    pub user_params: Option<Option<Map<String, Value>>>,
    #[serde(default)]
    pub user_tags: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub access_groups: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub pricing_override: Option<Option<Pricing>>,
    #[serde(default)]
    pub ollama_mode: Option<Option<OllamaMode>>,
    #[serde(default)]
    pub sync_enabled: Option<bool>,
}

impl Overrides {
    /// The settings this would change on `model`, in the words the model page uses.
    pub fn changed_fields(&self, model: &Model) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.user_params.as_ref().is_some_and(|p| p.as_ref() != model.user_params.as_ref()) {
            changed.push("params");
        }
        if self.user_tags.as_ref().is_some_and(|t| t.as_deref().unwrap_or_default() != model.user_tags()) {
            changed.push("tags");
        }
        if self.access_groups.as_ref().is_some_and(|g| g.as_deref().unwrap_or_default() != model.access_groups()) {
            changed.push("access groups");
        }
        if self.pricing_override.is_some_and(|p| p.filter(|p| !p.is_empty()) != model.pricing()) {
            changed.push("pricing");
        }
        if self.ollama_mode.is_some_and(|m| m != model.ollama_mode) {
            changed.push("Ollama mode");
        }
        changed
    }

    /// The size limits of [`crate::limits`] (the API and the form check before saving, and
    /// the store again).
    pub fn check(&self) -> Result<(), String> {
        if let Some(Some(params)) = &self.user_params {
            crate::limits::params("user_params", params)?;
            // Keys are write-only, so they live on the provider, never in a model's params.
            let section = params.get("litellm_params").and_then(Value::as_object);
            let keys = params.keys().chain(section.into_iter().flat_map(|s| s.keys()));
            if let Some(key) = keys.into_iter().find(|k| crate::secret::is_secret_key(k)) {
                return Err(format!(
                    "user_params must not hold {key:?}: set the provider's api_key instead (it is write-only there)"
                ));
            }
        }
        if let Some(Some(tags)) = &self.user_tags {
            crate::limits::list("user_tags", tags)?;
        }
        if let Some(Some(groups)) = &self.access_groups {
            crate::limits::list("access_groups", groups)?;
        }
        Ok(())
    }
}
