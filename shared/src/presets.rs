//! Provider presets: hosted OpenAI-compatible APIs (and Ollama Cloud) an operator can add with one
//! choice instead of looking up their base URLs. URLs are stored exactly as listed here; each one
//! is the base under which the service answers `GET …/models`.

use serde::Serialize;

use crate::types::ProviderType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Preset {
    /// Stable identifier (`groq`), also the suggested provider name.
    pub id: &'static str,
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: ProviderType,
    pub base_url: &'static str,
    pub key_required: bool,
    /// Where an operator gets a key.
    pub key_url: &'static str,
    /// An include filter worth starting with (comma-separated substrings), if any.
    pub model_filter: Option<&'static str>,
    /// Hosted catalogues change rarely: an hour between automatic syncs is plenty.
    pub sync_interval_seconds: i64,
    pub note: &'static str,
}

const HOUR: i64 = 3600;

const fn hosted(id: &'static str, name: &'static str, base_url: &'static str, key_url: &'static str) -> Preset {
    Preset {
        id,
        name,
        kind: ProviderType::Openai,
        base_url,
        key_required: true,
        key_url,
        model_filter: None,
        sync_interval_seconds: HOUR,
        note: "",
    }
}

pub const PRESETS: &[Preset] = &[
    hosted("groq", "Groq", "https://api.groq.com/openai/v1", "https://console.groq.com/keys"),
    Preset {
        model_filter: Some(":free"),
        note: "the include filter :free keeps only the models OpenRouter serves at no cost; clear it for all",
        ..hosted("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", "https://openrouter.ai/settings/keys")
    },
    hosted("together", "Together AI", "https://api.together.xyz/v1", "https://api.together.xyz/settings/api-keys"),
    hosted("cerebras", "Cerebras", "https://api.cerebras.ai/v1", "https://cloud.cerebras.ai"),
    hosted("mistral", "Mistral", "https://api.mistral.ai/v1", "https://console.mistral.ai/api-keys"),
    hosted("huggingface", "Hugging Face", "https://router.huggingface.co/v1", "https://huggingface.co/settings/tokens"),
    hosted("deepinfra", "DeepInfra", "https://api.deepinfra.com/v1/openai", "https://deepinfra.com/dash/api_keys"),
    hosted("fireworks", "Fireworks", "https://api.fireworks.ai/inference/v1", "https://fireworks.ai/account/api-keys"),
    hosted("sambanova", "SambaNova", "https://api.sambanova.ai/v1", "https://cloud.sambanova.ai/apis"),
    hosted(
        "gemini",
        "Google Gemini",
        "https://generativelanguage.googleapis.com/v1beta/openai",
        "https://aistudio.google.com/app/apikey",
    ),
    Preset {
        kind: ProviderType::Ollama,
        note: "Ollama's hosted models; the key is sent as a bearer token",
        ..hosted("ollama-cloud", "Ollama Cloud", "https://ollama.com", "https://ollama.com/settings/keys")
    },
];

pub fn find(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::providers::NewProvider;
    use crate::desired::openai_base;

    #[test]
    fn every_preset_is_a_valid_provider_whose_url_is_kept_as_given() {
        for preset in PRESETS {
            let mut new = NewProvider::new(preset.id, preset.kind, preset.base_url);
            new.sync_interval_seconds = Some(preset.sync_interval_seconds);
            assert_eq!(new.validate(), Ok(()), "{}", preset.id);
            if preset.kind == ProviderType::Openai {
                assert_eq!(openai_base(preset.base_url), preset.base_url, "{} must be called where it is", preset.id);
            }
            assert!(preset.key_url.starts_with("https://"), "{}", preset.id);
        }
        let ids: std::collections::HashSet<&str> = PRESETS.iter().map(|p| p.id).collect();
        assert_eq!(ids.len(), PRESETS.len(), "ids are unique");
        assert_eq!(find("openrouter").and_then(|p| p.model_filter), Some(":free"));
        assert_eq!(find("ollama-cloud").map(|p| p.kind), Some(ProviderType::Ollama));
    }
}
