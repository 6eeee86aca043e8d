//! Which price a deployment carries, and where each half of it came from.
//!
//! Prices are set at three levels — the model, its provider, the installation — and each level may
//! name a pricing profile and override single keys on top of it. The model's level wins over the
//! provider's, the provider's over what the upstream declares, and that over the global default; a
//! level's override keys win over its own profile. Each of the two prices is resolved on its own,
//! so a model that overrides only the input price keeps its provider's output price. Ollama models
//! run locally and cost nothing unless a model or provider level says otherwise.

use serde::Serialize;

use crate::types::Pricing;

/// A named pair of per-token prices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Profile {
    pub name: String,
    pub input_cost_per_token: f64,
    pub output_cost_per_token: f64,
}

/// The profiles every installation knows (USD per token, as the providers list them).
pub const BUILT_IN: &[(&str, f64, f64)] =
    &[("gpt-4o", 5e-6, 1.5e-5), ("gpt-4o-mini", 1.5e-7, 6e-7), ("gpt-4.1", 1.5e-5, 6e-5), ("o1-mini", 1e-5, 4e-5)];

/// The built-in profiles followed by the operator's (an operator's profile of the same name wins).
pub fn catalogue(custom: &[Profile]) -> Vec<Profile> {
    let mut all: Vec<Profile> = BUILT_IN
        .iter()
        .filter(|(name, ..)| !custom.iter().any(|c| c.name == *name))
        .map(|&(name, input, output)| Profile {
            name: name.to_owned(),
            input_cost_per_token: input,
            output_cost_per_token: output,
        })
        .collect();
    all.extend(custom.iter().cloned());
    all
}

/// What one level (model, provider or global) says about prices.
#[derive(Debug, Clone, Copy, Default)]
pub struct Level<'a> {
    pub profile: Option<&'a str>,
    pub overrides: Option<Pricing>,
}

/// Where a price came from, for the "effective price" shown per model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    ModelOverride,
    ModelProfile {
        profile: String,
    },
    ProviderOverride,
    ProviderProfile {
        profile: String,
    },
    /// Declared by the upstream itself (e.g. another LiteLLM's model list).
    Upstream,
    GlobalOverride,
    GlobalProfile {
        profile: String,
    },
    /// A local Ollama model with no price set: free.
    LocalModel,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ModelOverride => f.write_str("the model's own price"),
            Self::ModelProfile { profile } => write!(f, "the model's profile {profile}"),
            Self::ProviderOverride => f.write_str("the provider's price"),
            Self::ProviderProfile { profile } => write!(f, "the provider's profile {profile}"),
            Self::Upstream => f.write_str("the upstream's declared price"),
            Self::GlobalOverride => f.write_str("the global default price"),
            Self::GlobalProfile { profile } => write!(f, "the global default profile {profile}"),
            Self::LocalModel => f.write_str("a local Ollama model (free)"),
        }
    }
}

/// One resolved price and its origin.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resolved {
    pub cost_per_token: f64,
    #[serde(flatten)]
    pub source: Source,
}

/// The effective input and output prices (`None`: no level sets one, so LiteLLM's own applies).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Effective {
    pub input: Option<Resolved>,
    pub output: Option<Resolved>,
    /// Profile names that no catalogue entry matches: ignored, and worth telling the operator.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_profiles: Vec<String>,
}

impl Effective {
    pub fn pricing(&self) -> Pricing {
        Pricing {
            input_cost_per_token: self.input.as_ref().map(|r| r.cost_per_token),
            output_cost_per_token: self.output.as_ref().map(|r| r.cost_per_token),
        }
    }
}

/// Everything the rule needs about one model.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub model: Level<'a>,
    pub provider: Level<'a>,
    pub upstream: Option<Pricing>,
    pub global: Level<'a>,
    /// Ollama models: free unless the model or provider level prices them.
    pub local: bool,
}

/// Resolves both prices (see the module documentation for the order).
pub fn effective(inputs: &Inputs<'_>, profiles: &[Profile]) -> Effective {
    let mut unknown = Vec::new();
    let mut candidates: Vec<(Pricing, Source)> = Vec::new();
    let model = |profile| Source::ModelProfile { profile };
    push_level(&inputs.model, Source::ModelOverride, model, profiles, &mut candidates, &mut unknown);
    let provider = |profile| Source::ProviderProfile { profile };
    push_level(&inputs.provider, Source::ProviderOverride, provider, profiles, &mut candidates, &mut unknown);
    if inputs.local {
        let free = Pricing { input_cost_per_token: Some(0.0), output_cost_per_token: Some(0.0) };
        candidates.push((free, Source::LocalModel));
    } else {
        if let Some(upstream) = inputs.upstream {
            candidates.push((upstream, Source::Upstream));
        }
        let global = |profile| Source::GlobalProfile { profile };
        push_level(&inputs.global, Source::GlobalOverride, global, profiles, &mut candidates, &mut unknown);
    }
    let pick = |field: fn(&Pricing) -> Option<f64>| {
        candidates.iter().find_map(|(pricing, source)| {
            field(pricing)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|cost_per_token| Resolved { cost_per_token, source: source.clone() })
        })
    };
    Effective {
        input: pick(|p| p.input_cost_per_token),
        output: pick(|p| p.output_cost_per_token),
        unknown_profiles: unknown,
    }
}

/// A level's candidates in its own order: its override keys, then its profile.
fn push_level(
    level: &Level<'_>,
    own: Source,
    profile_source: fn(String) -> Source,
    profiles: &[Profile],
    candidates: &mut Vec<(Pricing, Source)>,
    unknown: &mut Vec<String>,
) {
    if let Some(overrides) = level.overrides {
        candidates.push((overrides, own));
    }
    let Some(name) = level.profile.map(str::trim).filter(|n| !n.is_empty()) else { return };
    match profiles.iter().find(|p| p.name == name) {
        Some(p) => candidates.push((
            Pricing {
                input_cost_per_token: Some(p.input_cost_per_token),
                output_cost_per_token: Some(p.output_cost_per_token),
            },
            profile_source(p.name.clone()),
        )),
        None => unknown.push(name.to_owned()),
    }
}

#[cfg(test)]
mod tests;
