//! What a model is, derived from what its upstream said (SPEC §5): LiteLLM mode, context window,
//! capabilities, upstream-declared cost. Pure functions over the slimmed upstream JSON that is
//! stored in `models.raw_metadata`.

pub mod ollama;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::types::{Capability, Mode, Pricing, ProviderType};

/// Everything a fetch derives for one model; written to the system-owned columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub mode: Mode,
    pub context_window: Option<i64>,
    pub max_input_tokens: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
    pub capabilities: BTreeSet<Capability>,
    /// The LiteLLM `model_info` fields this model should carry.
    pub model_info: Map<String, Value>,
    /// Model-intrinsic tags (`mode:`, `model_type:`, `capability:`), already normalised.
    pub system_tags: Vec<String>,
    /// What the upstream says the model costs, if it says.
    pub upstream_pricing: Option<Pricing>,
}

impl Derived {
    pub fn capability_names(&self) -> Vec<&'static str> {
        self.capabilities.iter().map(|c| c.as_str()).collect()
    }
}

/// Derives a model's metadata from its stored upstream facts.
pub fn derive(provider: ProviderType, model_id: &str, raw: &Value) -> Derived {
    let capabilities = capabilities(provider, model_id, raw);
    let mode = mode(model_id, raw, &capabilities);
    let context_window = context_window(model_id, raw);
    let max_input_tokens = int_field(raw, "max_input_tokens").or(context_window);
    let max_output_tokens = int_field(raw, "max_output_tokens");
    let max_tokens = max_output_tokens.or(context_window);

    let mut model_info = Map::new();
    model_info.insert("mode".into(), mode.as_str().into());
    for (key, value) in
        [("max_tokens", max_tokens), ("max_input_tokens", max_input_tokens), ("max_output_tokens", max_output_tokens)]
    {
        if let Some(value) = value {
            model_info.insert(key.into(), value.into());
        }
    }
    let has = |c: Capability| capabilities.contains(&c);
    for (key, supported) in [
        ("supports_vision", has(Capability::Vision)),
        ("supports_function_calling", has(Capability::Tools)),
        ("supports_tool_choice", has(Capability::Tools)),
        ("supports_reasoning", has(Capability::Thinking)),
        ("supports_audio_input", has(Capability::Audio)),
        ("supports_fill_in_middle", has(Capability::Insert)),
    ] {
        model_info.insert(key.into(), supported.into());
    }

    let mut system_tags = vec![format!("mode:{mode}"), format!("model_type:{mode}")];
    system_tags.extend(capabilities.iter().map(|c| format!("capability:{c}")));

    Derived {
        mode,
        context_window,
        max_input_tokens,
        max_output_tokens,
        max_tokens,
        capabilities,
        model_info,
        system_tags: crate::tags::normalize_all(system_tags),
        upstream_pricing: upstream_pricing(raw),
    }
}

/// Cost the upstream itself declares (LiteLLM's `*_cost_per_token` extras, or an OpenRouter-style
/// `pricing: {prompt, completion}` in dollars per token).
pub fn upstream_pricing(raw: &Value) -> Option<Pricing> {
    let pricing = Pricing {
        input_cost_per_token: number(raw.get("input_cost_per_token"))
            .or_else(|| number(raw.pointer("/pricing/prompt"))),
        output_cost_per_token: number(raw.get("output_cost_per_token"))
            .or_else(|| number(raw.pointer("/pricing/completion"))),
    };
    (!pricing.is_empty()).then_some(pricing)
}

fn capabilities(provider: ProviderType, model_id: &str, raw: &Value) -> BTreeSet<Capability> {
    let mut found: BTreeSet<Capability> = match raw.get("capabilities") {
        Some(Value::Array(list)) => list.iter().filter_map(|c| c.as_str()?.parse().ok()).collect(),
        Some(Value::Object(flags)) => flags
            .iter()
            .filter(|(_, on)| on.as_bool() == Some(true))
            .filter_map(|(name, _)| name.parse().ok())
            .collect(),
        _ => BTreeSet::new(),
    };
    for (flag, capability) in [
        ("supports_vision", Capability::Vision),
        ("supports_function_calling", Capability::Tools),
        ("supports_reasoning", Capability::Thinking),
        ("supports_audio_input", Capability::Audio),
    ] {
        if raw.get(flag).and_then(Value::as_bool) == Some(true) {
            found.insert(capability);
        }
    }
    if let Some(Value::Array(hints)) = raw.get("template_capabilities") {
        found.extend(hints.iter().filter_map(|c| c.as_str()?.parse::<Capability>().ok()));
    }
    let upstream_said_something = !found.is_empty();
    if !upstream_said_something {
        found.extend(capabilities_from_name(model_id));
        if provider == ProviderType::Ollama && !found.contains(&Capability::Embedding) {
            found.insert(Capability::Completion);
        }
    }
    if raw.get("mode").and_then(Value::as_str) == Some("embedding") {
        found.insert(Capability::Embedding);
    }
    found
}

fn capabilities_from_name(model_id: &str) -> BTreeSet<Capability> {
    let name = model_id.to_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| name.contains(n));
    let mut found = BTreeSet::new();
    if any(&["rerank"]) {
        return found;
    }
    if any(&["embed", "bge-", "bge:", "minilm"]) {
        found.insert(Capability::Embedding);
        return found;
    }
    if any(&["vision", "llava", "-vl", "vl:", "pixtral", "moondream", "minicpm-v"]) {
        found.insert(Capability::Vision);
    }
    if any(&["deepseek-r1", "qwq", "thinking", "reasoning", "gpt-oss", "magistral"]) {
        found.insert(Capability::Thinking);
    }
    found
}

fn mode(model_id: &str, raw: &Value, capabilities: &BTreeSet<Capability>) -> Mode {
    if let Some(declared) = raw.get("mode").and_then(Value::as_str).and_then(|m| m.parse().ok()) {
        return declared;
    }
    if capabilities.contains(&Capability::Embedding) {
        return Mode::Embedding;
    }
    if capabilities.contains(&Capability::Image) {
        return Mode::ImageGeneration;
    }
    let name = model_id.to_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| name.contains(n));
    if any(&["rerank"]) {
        Mode::Rerank
    } else if any(&["whisper", "transcribe"]) {
        Mode::AudioTranscription
    } else if any(&["tts", "speech"]) {
        Mode::AudioSpeech
    } else if any(&["dall-e", "stable-diffusion", "sdxl", "flux"]) {
        Mode::ImageGeneration
    } else {
        Mode::Chat
    }
}

fn context_window(model_id: &str, raw: &Value) -> Option<i64> {
    let info = raw.get("model_info");
    let from_architecture = info.and_then(|info| {
        let arch = info.get("general.architecture")?.as_str()?;
        int_value(info.get(format!("{arch}.context_length")))
    });
    let from_any_architecture_key = || {
        info?.as_object()?.iter().find(|(k, _)| k.ends_with(".context_length")).and_then(|(_, v)| int_value(Some(v)))
    };
    from_architecture
        .or_else(|| int_value(raw.pointer("/details/context_length")))
        .or_else(from_any_architecture_key)
        .or_else(|| {
            ["context_length", "max_model_len", "max_input_tokens", "context_window"]
                .iter()
                .find_map(|key| int_field(raw, key))
        })
        .or_else(|| context_from_name(model_id))
}

/// `…-128k…` → 131072: the last resort when the upstream says nothing.
fn context_from_name(model_id: &str) -> Option<i64> {
    let name = model_id.to_lowercase();
    let bytes = name.as_bytes();
    let mut best = None;
    for (i, window) in bytes.windows(2).enumerate() {
        let (digit, unit) = (window[0], window[1]);
        if !digit.is_ascii_digit() || !(unit == b'k' || unit == b'm') {
            continue;
        }
        if bytes.get(i + 2).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        let start = bytes[..=i].iter().rposition(|b| !b.is_ascii_digit()).map_or(0, |p| p + 1);
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            continue;
        }
        let n: i64 = name[start..=i].parse().ok()?;
        let tokens = if unit == b'k' { n * 1024 } else { n * 1024 * 1024 };
        if (2048..=10 * 1024 * 1024).contains(&tokens) {
            best = Some(tokens);
        }
    }
    best
}

fn int_field(raw: &Value, key: &str) -> Option<i64> {
    int_value(raw.get(key))
}

fn int_value(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite() && *n >= 0.0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use Capability::*;

    fn caps(list: &[Capability]) -> BTreeSet<Capability> {
        list.iter().copied().collect()
    }

    #[test]
    fn mode_and_capabilities() {
        let cases: Vec<(ProviderType, &str, Value, Mode, BTreeSet<Capability>)> = vec![
            // Ollama with capabilities (v0.6.4+)
            (
                ProviderType::Ollama,
                "qwq:32b",
                json!({"capabilities": ["completion", "vision", "tools", "thinking"]}),
                Mode::Chat,
                caps(&[Completion, Tools, Vision, Thinking]),
            ),
            (
                ProviderType::Ollama,
                "qwen3-embedding:8b",
                json!({"capabilities": ["embedding"]}),
                Mode::Embedding,
                caps(&[Embedding]),
            ),
            (
                ProviderType::Ollama,
                "x/flux:dev",
                json!({"capabilities": ["image"]}),
                Mode::ImageGeneration,
                caps(&[Image]),
            ),
            // old Ollama: template hints, then the name
            (
                ProviderType::Ollama,
                "qwen3:8b",
                json!({"template_capabilities": ["tools", "thinking"]}),
                Mode::Chat,
                caps(&[Tools, Thinking]),
            ),
            (ProviderType::Ollama, "llava:13b", json!({}), Mode::Chat, caps(&[Completion, Vision])),
            (ProviderType::Ollama, "nomic-embed-text:latest", json!({}), Mode::Embedding, caps(&[Embedding])),
            (ProviderType::Ollama, "deepseek-r1:8b", json!({}), Mode::Chat, caps(&[Completion, Thinking])),
            // OpenAI-compatible: LiteLLM extras, flags, names
            (
                ProviderType::Openai,
                "text-embedding-3-small",
                json!({"mode": "embedding"}),
                Mode::Embedding,
                caps(&[Embedding]),
            ),
            (
                ProviderType::Openai,
                "gpt-4o",
                json!({"supports_vision": true, "supports_function_calling": true}),
                Mode::Chat,
                caps(&[Tools, Vision]),
            ),
            (
                ProviderType::Openai,
                "gpt-3.5-turbo-instruct",
                json!({"mode": "completion"}),
                Mode::Completion,
                caps(&[]),
            ),
            (ProviderType::Openai, "whisper-1", json!({}), Mode::AudioTranscription, caps(&[])),
            (ProviderType::Openai, "tts-1-hd", json!({}), Mode::AudioSpeech, caps(&[])),
            (ProviderType::Openai, "bge-reranker-v2-m3", json!({}), Mode::Rerank, caps(&[])),
            (ProviderType::Openai, "dall-e-3", json!({}), Mode::ImageGeneration, caps(&[])),
            (ProviderType::Openai, "mystery", json!({"mode": "ollama_chat"}), Mode::Chat, caps(&[])),
        ];
        for (provider, id, raw, mode, capabilities) in cases {
            let derived = derive(provider, id, &raw);
            assert_eq!(derived.mode, mode, "{id}");
            assert_eq!(derived.capabilities, capabilities, "{id}");
        }
    }

    #[test]
    fn context_window_sources_in_priority_order() {
        let cases = [
            (
                "coder",
                json!({"model_info": {"general.architecture": "qwen3moe", "qwen3moe.context_length": 262144,
                "llama.context_length": 4096}, "details": {"context_length": 8192}}),
                Some(262144),
            ),
            ("new-ollama", json!({"details": {"context_length": 131072}}), Some(131072)),
            ("no-arch", json!({"model_info": {"gemma3.context_length": 32768}}), Some(32768)),
            ("vllm", json!({"max_model_len": 32768}), Some(32768)),
            ("litellm", json!({"max_input_tokens": 128000.0}), Some(128000)),
            ("lmstudio", json!({"context_length": "16384"}), Some(16384)),
            ("mistral-nemo-128k", json!({}), Some(131072)),
            ("phi-3-mini-4k-instruct", json!({}), Some(4096)),
            ("llama3.2:3b", json!({}), None),
            ("gpt-4o", json!({"context_window": 0}), None),
        ];
        for (id, raw, expected) in cases {
            assert_eq!(derive(ProviderType::Openai, id, &raw).context_window, expected, "{id}");
        }
    }

    #[test]
    fn model_info_fields() {
        let raw = json!({"capabilities": ["completion", "tools", "insert"],
                         "model_info": {"general.architecture": "llama", "llama.context_length": 8192}});
        let derived = derive(ProviderType::Ollama, "codellama:7b", &raw);
        assert_eq!(
            Value::Object(derived.model_info.clone()),
            json!({"mode": "chat", "max_tokens": 8192, "max_input_tokens": 8192,
                   "supports_vision": false, "supports_function_calling": true, "supports_tool_choice": true,
                   "supports_reasoning": false, "supports_audio_input": false, "supports_fill_in_middle": true})
        );
        assert_eq!(
            derived.system_tags,
            vec!["mode:chat", "model_type:chat", "capability:completion", "capability:tools", "capability:insert"]
        );
        let litellm = derive(ProviderType::Openai, "m", &json!({"max_input_tokens": 1000, "max_output_tokens": 100}));
        assert_eq!(litellm.max_input_tokens, Some(1000));
        assert_eq!(litellm.max_output_tokens, Some(100));
        assert_eq!(litellm.max_tokens, Some(100));
    }

    #[test]
    fn upstream_pricing_forms() {
        assert_eq!(upstream_pricing(&json!({})), None);
        assert_eq!(
            upstream_pricing(&json!({"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6})),
            Some(Pricing { input_cost_per_token: Some(1e-6), output_cost_per_token: Some(2e-6) })
        );
        assert_eq!(
            upstream_pricing(&json!({"pricing": {"prompt": "0.0000005", "completion": "0.0000015"}})),
            Some(Pricing { input_cost_per_token: Some(5e-7), output_cost_per_token: Some(1.5e-6) })
        );
        assert_eq!(upstream_pricing(&json!({"pricing": {"prompt": "-1"}})), None);
    }
}
