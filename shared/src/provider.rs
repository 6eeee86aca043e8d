//! A provider as the rules see it: an upstream model server and the settings its models inherit,
//! in plain values (the store converts its rows).

use crate::secret::Secret;
use crate::types::{OllamaMode, Pricing, ProviderType};

/// An upstream model server to discover from (or the holder of compat aliases).
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: i64,
    pub name: String,
    pub base_url: String,
    pub kind: ProviderType,
    pub api_key: Option<Secret>,
    pub prefix: Option<String>,
    pub default_ollama_mode: OllamaMode,
    pub tags: Vec<String>,
    pub access_groups: Vec<String>,
    pub sync_enabled: bool,
    pub sync_interval_seconds: Option<i64>,
    pub model_filter: Option<String>,
    pub model_filter_exclude: Option<String>,
    pub pricing_override: Option<Pricing>,
    /// A pricing profile's name: the provider's prices, under `pricing_override`'s keys.
    pub pricing_profile: Option<String>,
    /// Requests and tokens per minute LiteLLM allows each of its deployments.
    pub rpm: Option<i64>,
    pub tpm: Option<i64>,
    /// Whether fill-in-the-middle support is taken from what the upstream reports.
    pub auto_detect_fim: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl Provider {
    /// Whether a model id passes this provider's include/exclude filters
    /// (comma-separated, case-insensitive substrings; an empty include list admits all).
    pub fn admits(&self, model_id: &str) -> bool {
        self.filtered_out_by(model_id).is_none()
    }

    /// Which of this provider's filters leaves `model_id` out, in words that name it
    /// (`include filter "llama, qwen"`, `exclude filter term "embed"`); `None` when both admit it.
    pub fn filtered_out_by(&self, model_id: &str) -> Option<String> {
        let id = model_id.to_lowercase();
        let terms = |filter: &Option<String>| -> Vec<String> {
            filter
                .as_deref()
                .unwrap_or("")
                .split(',')
                .map(|t| t.trim().to_lowercase())
                .filter(|t| !t.is_empty())
                .collect()
        };
        let include = terms(&self.model_filter);
        if !include.is_empty() && !include.iter().any(|t| id.contains(t.as_str())) {
            return Some(format!("include filter \"{}\"", include.join(", ")));
        }
        terms(&self.model_filter_exclude)
            .into_iter()
            .find(|t| id.contains(t.as_str()))
            .map(|term| format!("exclude filter term \"{term}\""))
    }

    /// Whether the worker syncs this provider on its own ([`crate::schedule::syncs_automatically`]):
    /// a provider never synced is then synced at once.
    pub fn syncs_automatically(&self, global_interval_seconds: i64) -> bool {
        crate::schedule::syncs_automatically(self.sync_enabled, self.sync_interval_seconds, global_interval_seconds)
    }

    pub fn pricing(&self) -> Option<Pricing> {
        self.pricing_override.filter(|p| !p.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(include: Option<&str>, exclude: Option<&str>) -> Provider {
        Provider {
            id: 1,
            name: "p".into(),
            base_url: "http://x".into(),
            kind: ProviderType::Ollama,
            api_key: None,
            prefix: None,
            default_ollama_mode: OllamaMode::OllamaChat,
            tags: vec![],
            access_groups: vec![],
            sync_enabled: true,
            sync_interval_seconds: None,
            model_filter: include.map(str::to_owned),
            model_filter_exclude: exclude.map(str::to_owned),
            pricing_override: None,
            pricing_profile: None,
            rpm: None,
            tpm: None,
            auto_detect_fim: true,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn filters_are_case_insensitive_comma_separated_substrings() {
        let cases = [
            (None, None, "llama3.2:3b", true),
            (Some(""), Some(" , "), "llama3.2:3b", true),
            (Some("LLAMA, qwen"), None, "llama3.2:3b", true),
            (Some("llama, qwen"), None, "Qwen3:8B", true),
            (Some("llama"), None, "mistral:7b", false),
            (None, Some("embed"), "nomic-embed-text", false),
            (Some("qwen"), Some("EMBED"), "qwen3-embedding:8b", false),
            (Some("qwen"), Some("embed"), "qwen3:8b", true),
        ];
        for (include, exclude, id, expected) in cases {
            assert_eq!(provider(include, exclude).admits(id), expected, "{include:?} {exclude:?} {id}");
        }
    }
}
