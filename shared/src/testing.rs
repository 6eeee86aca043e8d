//! Builders for rows in unit tests.

use serde_json::{Map, Value, json};

use crate::metadata;
use crate::model::Model;
use crate::provider::Provider;
use crate::settings::Config;
use crate::types::{OllamaMode, ProviderType};

pub fn config() -> Config {
    Config {
        litellm_base_url: Some("http://litellm:4000".into()),
        litellm_api_key: None,
        sync_interval_seconds: 300,
        default_pricing: None,
        default_pricing_profile: None,
        updated_at: String::new(),
        pricing_profiles: Vec::new(),
        installation_id: None,
    }
}

pub fn provider(id: i64, name: &str, kind: ProviderType, base_url: &str) -> Provider {
    Provider {
        id,
        name: name.into(),
        base_url: base_url.into(),
        kind,
        api_key: None,
        prefix: None,
        default_ollama_mode: OllamaMode::OllamaChat,
        tags: vec![],
        access_groups: vec![],
        sync_enabled: true,
        sync_interval_seconds: None,
        model_filter: None,
        model_filter_exclude: None,
        pricing_override: None,
        pricing_profile: None,
        rpm: None,
        tpm: None,
        auto_detect_fim: true,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

/// A fetched model whose derived columns come from `raw` as a fetch would write them.
pub fn model(id: i64, provider: &Provider, model_id: &str, raw: Value) -> Model {
    let derived = metadata::derive(provider.kind, model_id, &raw);
    Model {
        id,
        provider_id: provider.id,
        model_id: model_id.into(),
        model_type: Some(derived.mode.as_str().into()),
        context_window: derived.context_window,
        max_input_tokens: derived.max_input_tokens,
        max_output_tokens: derived.max_output_tokens,
        max_tokens: derived.max_tokens,
        capabilities: derived.capability_names().iter().map(|c| (*c).to_owned()).collect(),
        derived_info: derived.model_info,
        upstream_pricing: derived.upstream_pricing,
        upstream_digest: None,
        system_tags: derived.system_tags,
        user_params: None,
        user_tags: None,
        access_groups: None,
        pricing_override: None,
        pricing_profile: None,
        ollama_mode: None,
        sync_enabled: true,
        user_modified: false,
        mapped_provider_id: None,
        mapped_model_id: None,
        litellm_model_id: None,
        first_seen: String::new(),
        last_seen: String::new(),
        is_orphaned: false,
        orphaned_at: None,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

pub fn alias(id: i64, compat: &Provider, alias: &str, target: &Model) -> Model {
    Model {
        mapped_provider_id: Some(target.provider_id),
        mapped_model_id: Some(target.model_id.clone()),
        ..model(id, compat, alias, json!({}))
    }
}

pub fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Sequential ids `new-1`, `new-2`, … for deterministic plans.
pub fn id_generator() -> impl FnMut(&str) -> String {
    let mut n = 0;
    move |_| {
        n += 1;
        format!("new-{n}")
    }
}
