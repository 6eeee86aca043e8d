//! A LiteLLM `config.yaml` holding exactly the deployments a push would hold, for operators who
//! run LiteLLM without a database or keep its configuration in git.
//!
//! The YAML is written here rather than by a generic serialiser because LiteLLM reads it with
//! PyYAML, a YAML 1.1 parser: unquoted `no`/`on`/`yes` become booleans and `5e-06` (no dot)
//! stays a string there. Every string is therefore a double-quoted JSON string and every float
//! has a dot and a signed exponent, which YAML 1.1 and 1.2 read alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::desired::{DeploymentKey, DesiredState};
use crate::plan;
use crate::provider::Provider;
use crate::routing::{Fallback, FallbackType};

/// How provider keys appear in the rendered file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretStyle {
    /// `os.environ/<VAR>` references that LiteLLM resolves at start-up: the file holds no secret.
    EnvReference,
    /// The keys themselves.
    Inline,
}

#[derive(Debug)]
pub struct RenderedConfig {
    pub yaml: String,
    pub deployments: usize,
    /// With [`SecretStyle::EnvReference`]: `(variable, provider name)` LiteLLM needs set.
    pub env: Vec<(String, String)>,
}

/// The `model_info.id` for a model that was never pushed: derived from its `unique_id:` key,
/// so rendering twice gives the same file.
pub fn stable_id(key: &str) -> String {
    format!("lupdater-{}", uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, format!("litellm-updater:{key}").as_bytes()))
}

/// Renders the `model_list` of `state`, ordered by `model_name` then id.
pub fn litellm_config(state: DesiredState, providers: &[Provider], style: SecretStyle) -> RenderedConfig {
    let router_settings = router_settings(&state.fallbacks);
    let variables = key_variables(providers);
    let mut used = BTreeMap::new();
    let mut entries: Vec<(String, String, Value)> = state
        .deployments
        .into_iter()
        .map(|deployment| {
            let key = deployment.api_key.as_ref().map(|key| match (key, style) {
                (DeploymentKey::Provider(secret), SecretStyle::EnvReference) => {
                    let (variable, provider) = variables
                        .iter()
                        .find(|(_, p)| p.api_key.as_ref() == Some(secret))
                        .map(|(v, p)| (v.clone(), p.name.clone()))
                        .unwrap_or_else(|| ("LUPDATER_API_KEY".to_owned(), deployment.provider_name.clone()));
                    used.insert(variable.clone(), provider);
                    format!("os.environ/{variable}")
                }
                (key, _) => key.value().to_owned(),
            });
            let mut body = plan::create_body(
                &deployment.model_name,
                &deployment.litellm_id,
                deployment.litellm_params,
                deployment.model_info,
            );
            if let (Some(key), Some(params)) = (key, body.get_mut("litellm_params").and_then(Value::as_object_mut)) {
                params.insert("api_key".into(), key.into());
            }
            (deployment.model_name, deployment.litellm_id, body)
        })
        .collect();
    entries.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));

    let mut yaml = String::new();
    let _ = writeln!(
        yaml,
        "# LiteLLM model_list written by `litellm-sync render-config`: {} deployments, as a push would hold them.",
        entries.len()
    );
    if !used.is_empty() {
        yaml.push_str("# Provider keys are read from these environment variables when LiteLLM starts:\n");
        for (variable, provider) in &used {
            let _ = writeln!(yaml, "#   {variable}  (provider {})", provider.replace(['\r', '\n'], " "));
        }
    }
    if entries.is_empty() {
        yaml.push_str("model_list: []\n");
    } else {
        yaml.push_str("model_list:\n");
        for (_, _, body) in &entries {
            list_item(&mut yaml, body, 1);
        }
    }
    if let Some(settings) = router_settings {
        yaml.push_str("router_settings:\n");
        mapping(&mut yaml, &settings, 1, false);
    }
    RenderedConfig { yaml, deployments: entries.len(), env: used.into_iter().collect() }
}

/// LiteLLM's `router_settings` for `fallbacks`: one list per kind (`fallbacks`,
/// `context_window_fallbacks`, `content_policy_fallbacks`) of `{model: [fallbacks…]}` maps.
fn router_settings(fallbacks: &[Fallback]) -> Option<Map<String, Value>> {
    let mut settings = Map::new();
    for kind in FallbackType::ALL {
        let rules: Vec<Value> = fallbacks
            .iter()
            .filter(|f| f.fallback_type == kind)
            .map(|f| {
                let mut rule = Map::new();
                rule.insert(f.model_name.clone(), f.fallback_models.clone().into());
                Value::Object(rule)
            })
            .collect();
        if !rules.is_empty() {
            settings.insert(kind.router_setting().to_owned(), Value::Array(rules));
        }
    }
    (!settings.is_empty()).then_some(settings)
}

/// `LUPDATER_<NAME>_API_KEY` per provider with a key; names that clash after upper-casing use
/// the provider id instead, so no two providers share a variable.
fn key_variables(providers: &[Provider]) -> Vec<(String, &Provider)> {
    let sanitized = |p: &Provider| -> String {
        p.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
    };
    let keyed: Vec<&Provider> = providers.iter().filter(|p| p.api_key.is_some()).collect();
    keyed
        .iter()
        .map(|p| {
            let name = sanitized(p);
            let clashes = keyed.iter().filter(|q| sanitized(q) == name).count() > 1;
            let variable = if clashes {
                format!("LUPDATER_PROVIDER_{}_API_KEY", p.id)
            } else {
                format!("LUPDATER_{name}_API_KEY")
            };
            (variable, *p)
        })
        .collect()
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// `- ` followed by `value` (a mapping's first key on the dash's line).
fn list_item(out: &mut String, value: &Value, level: usize) {
    indent(out, level);
    out.push_str("- ");
    match value {
        Value::Object(map) if !map.is_empty() => mapping(out, map, level + 1, true),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
}

/// Keys in the order LiteLLM's documentation writes a deployment, then the rest sorted.
fn ordered(map: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    const FIRST: [&str; 3] = ["model_name", "litellm_params", "model_info"];
    let first = FIRST.iter().filter_map(|k| map.get_key_value(*k));
    first.chain(map.iter().filter(|(k, _)| !FIRST.contains(&k.as_str())))
}

fn mapping(out: &mut String, map: &Map<String, Value>, level: usize, first_inline: bool) {
    for (i, (key, value)) in ordered(map).enumerate() {
        if i > 0 || !first_inline {
            indent(out, level);
        }
        out.push_str(&mapping_key(key));
        out.push(':');
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                mapping(out, inner, level + 1, false);
            }
            Value::Array(items) if !items.is_empty() && !items.iter().all(is_scalar) => {
                out.push('\n');
                for item in items {
                    list_item(out, item, level + 1);
                }
            }
            value => {
                out.push(' ');
                out.push_str(&inline(value));
                out.push('\n');
            }
        }
    }
}

fn is_scalar(value: &Value) -> bool {
    !matches!(value, Value::Object(_) | Value::Array(_))
}

/// Plain keys where they cannot be misread (`model_name`), quoted otherwise.
fn mapping_key(key: &str) -> String {
    let plain = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            key.to_ascii_lowercase().as_str(),
            "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
        );
    if plain { key.to_owned() } else { quoted(key) }
}

/// A value in flow style: JSON, with floats spelled so YAML 1.1 reads them as floats.
fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => float(f),
            _ => n.to_string(),
        },
        Value::String(s) => quoted(s),
        Value::Array(items) => format!("[{}]", items.iter().map(inline).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", quoted(k), inline(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn quoted(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}

/// `1.5e-05`, `0.0`, `2.5`: a dot always, and an exponent with its sign (YAML 1.1's float).
fn float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            ".nan".to_owned()
        } else if f > 0.0 {
            ".inf".to_owned()
        } else {
            "-.inf".to_owned()
        };
    }
    let plain = f.to_string();
    if !plain.contains('e') && plain.len() <= 18 {
        return if plain.contains('.') { plain } else { format!("{plain}.0") };
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_owned() } else { format!("{mantissa}.0") };
    let exponent = if exponent.starts_with('-') { exponent.to_owned() } else { format!("+{exponent}") };
    format!("{mantissa}e{exponent}")
}

#[cfg(test)]
mod tests;
