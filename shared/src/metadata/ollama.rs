//! Slimming Ollama answers to what is worth keeping. An `/api/show` answer is tens of kilobytes
//! (license, modelfile, template, tensors, tokenizer arrays); a stored model keeps well under one.

use serde_json::{Map, Value};

const LISTING_KEYS: &[&str] =
    &["digest", "size", "modified_at", "details", "capabilities", "remote_model", "remote_host"];
const SHOW_KEYS: &[&str] = &["details", "capabilities", "parameters", "modified_at", "remote_model", "remote_host"];

/// The stored form of one model: its `/api/tags` entry overlaid by its slimmed `/api/show`.
pub fn raw_metadata(listing: &Value, show: Option<&Value>) -> Value {
    let mut raw = pick(listing, LISTING_KEYS);
    if let Some(show) = show {
        let listing_details = raw.remove("details");
        for (key, value) in pick(show, SHOW_KEYS) {
            raw.insert(key, value);
        }
        if let (Some(Value::Object(mut details)), Some(Value::Object(shown))) = (listing_details, raw.remove("details"))
        {
            details.extend(shown);
            raw.insert("details".into(), Value::Object(details));
        }
        if let Some(Value::Object(info)) = show.get("model_info") {
            raw.insert("model_info".into(), Value::Object(slim_model_info(info)));
        }
        let hints = template_capabilities(show.get("template").and_then(Value::as_str).unwrap_or(""));
        if !hints.is_empty() {
            raw.insert("template_capabilities".into(), hints.into());
        }
    }
    Value::Object(raw)
}

/// Ollama before v0.6.4 does not list capabilities; its chat template still shows them.
pub fn template_capabilities(template: &str) -> Vec<&'static str> {
    let mut hints = Vec::new();
    if template.contains(".Tools") {
        hints.push("tools");
    }
    if template.contains(".Suffix") {
        hints.push("insert");
    }
    if template.contains(".Think") {
        hints.push("thinking");
    }
    hints
}

/// Scalars only: tokenizer vocabularies and other arrays are megabytes of nothing useful.
fn slim_model_info(info: &Map<String, Value>) -> Map<String, Value> {
    info.iter()
        .filter(|(key, value)| {
            !key.starts_with("tokenizer.") && !matches!(value, Value::Array(_) | Value::Object(_) | Value::Null)
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

fn pick(source: &Value, keys: &[&str]) -> Map<String, Value> {
    keys.iter()
        .filter_map(|key| {
            let value = source.get(*key)?;
            (!value.is_null()).then(|| ((*key).to_owned(), value.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_what_derivation_needs_and_drops_the_heavy_fields() {
        let listing = json!({"name": "qwen3:8b", "model": "qwen3:8b", "digest": "abc", "size": 5,
                             "details": {"family": "qwen3", "parameter_size": "8.2B"}});
        let show = json!({
            "license": "x".repeat(10_000), "modelfile": "FROM ...", "template": "{{ if .Tools }}tools{{ end }}",
            "tensors": [{"name": "t"}], "projector_info": {"clip.vision.image_size": 336},
            "parameters": "temperature 0.6",
            "details": {"family": "qwen3", "quantization_level": "Q4_K_M"},
            "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960,
                           "tokenizer.ggml.tokens": ["a", "b"], "tokenizer.ggml.model": "gpt2",
                           "general.tags": null, "general.languages": ["en"]}
        });
        let raw = raw_metadata(&listing, Some(&show));
        assert_eq!(
            raw,
            json!({"digest": "abc", "size": 5, "parameters": "temperature 0.6",
                   "details": {"family": "qwen3", "parameter_size": "8.2B", "quantization_level": "Q4_K_M"},
                   "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960},
                   "template_capabilities": ["tools"]})
        );
    }

    #[test]
    fn listing_alone_is_kept_as_is() {
        let listing =
            json!({"name": "a", "digest": "d", "capabilities": ["completion"], "details": {"context_length": 4096}});
        assert_eq!(
            raw_metadata(&listing, None),
            json!({"digest": "d", "capabilities": ["completion"], "details": {"context_length": 4096}})
        );
    }

    #[test]
    fn template_hints() {
        assert_eq!(template_capabilities("{{ .Prompt }}"), Vec::<&str>::new());
        assert_eq!(
            template_capabilities("{{- if .Suffix }}<fim>{{ end }}{{ if .Tools }}{{ end }}{{ if .Think }}"),
            vec!["tools", "insert", "thinking"]
        );
    }
}
