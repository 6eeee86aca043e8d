//! The desired state of LiteLLM (SPEC §4 "Push", step 1): one deployment per non-orphaned,
//! sync-enabled model of every sync-enabled provider, plus every compat alias whose target
//! resolves. Effective values are the derived fields, overlaid by provider settings, then by the
//! model's own overrides (the operator wins).

use std::collections::HashMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::model::Model;
use crate::pricing;
use crate::provider::Provider;
use crate::routing::{self, Routing};
use crate::secret::Secret;
use crate::settings::Config;
use crate::tags::{self, TagSources};
use crate::types::{Mode, OllamaMode, Pricing, ProviderType};

/// `model_info.managed_by` on every deployment litellm-updater owns.
pub const MANAGED_BY: &str = "litellm-updater";
/// `model_info` key holding the pushing installation's id (`config.installation_id`): with two
/// installations pointed at one LiteLLM, each owns only the entries carrying its own id.
pub const MANAGED_BY_INSTALLATION: &str = "managed_by_installation";
/// `model_info` key holding a fingerprint of the pushed API key: LiteLLM never echoes keys,
/// so this is how a changed key is noticed.
pub const KEY_FINGERPRINT: &str = "lupdater_api_key_sha256";
/// `model_info` key listing the `litellm_params` keys litellm-updater set, so that a key the
/// operator later removes can be removed from LiteLLM too (a PATCH cannot clear it).
pub const PARAM_KEYS: &str = "lupdater_params";
/// The `api_key` an OpenAI-style deployment gets when its upstream has none. LiteLLM's OpenAI
/// client refuses to send a request without *some* key ("Missing credentials"), while servers
/// that want no credentials (llama.cpp, vLLM, LM Studio, Ollama's `/v1`) ignore it. Not a secret.
pub const PLACEHOLDER_API_KEY: &str = "no-key";
/// What [`KEY_FINGERPRINT`] holds for the placeholder: its own name, since it hides nothing.
const PLACEHOLDER_FINGERPRINT: &str = "placeholder:no-key";

/// The `litellm_params.api_key` a deployment carries.
#[derive(Debug, Clone, PartialEq)]
pub enum DeploymentKey {
    /// The provider's key: sent to LiteLLM, never shown.
    Provider(Secret),
    /// [`PLACEHOLDER_API_KEY`], for an OpenAI-style upstream without a key: shown as it is.
    Placeholder,
}

impl DeploymentKey {
    /// The key for `litellm_params.model`: the provider's, else the placeholder where LiteLLM's
    /// client insists on one. Ollama's native API needs none.
    fn for_deployment(provider_key: Option<&Secret>, litellm_model: &str) -> Option<Self> {
        match provider_key {
            Some(key) => Some(Self::Provider(key.clone())),
            None if needs_some_key(litellm_model) => Some(Self::Placeholder),
            None => None,
        }
    }

    /// The value sent as `litellm_params.api_key`.
    pub fn value(&self) -> &str {
        match self {
            Self::Provider(key) => key.expose(),
            Self::Placeholder => PLACEHOLDER_API_KEY,
        }
    }

    pub fn is_placeholder(&self) -> bool {
        matches!(self, Self::Placeholder)
    }

    /// What `model_info` records of the key ([`KEY_FINGERPRINT`]).
    fn fingerprint(&self) -> String {
        match self {
            Self::Provider(key) => key_fingerprint(key),
            Self::Placeholder => PLACEHOLDER_FINGERPRINT.to_owned(),
        }
    }

    /// How the key appears in plans and pages.
    pub fn shown(&self) -> &'static str {
        match self {
            Self::Provider(_) => "(new key)",
            Self::Placeholder => "no-key (placeholder: the upstream needs no key)",
        }
    }

    /// How a recorded fingerprint appears in plans and pages: never the fingerprint itself.
    pub fn shown_fingerprint(fingerprint: &Value) -> &'static str {
        match fingerprint {
            Value::Null => "(none)",
            Value::String(f) if f == PLACEHOLDER_FINGERPRINT => "no-key (placeholder)",
            _ => "(hidden)",
        }
    }
}

/// Whether the provider's deployments (in its default Ollama mode) get [`PLACEHOLDER_API_KEY`].
pub fn gets_placeholder_key(provider: &Provider) -> bool {
    let openai_style = match provider.kind {
        ProviderType::Openai => true,
        ProviderType::Ollama => provider.default_ollama_mode == OllamaMode::Openai,
        ProviderType::Compat => false,
    };
    openai_style && provider.api_key.is_none()
}

/// LiteLLM providers whose client refuses a request without an `api_key`.
fn needs_some_key(litellm_model: &str) -> bool {
    litellm_model.starts_with("openai/") || litellm_model.starts_with("text-completion-openai/")
}

/// One deployment litellm-updater wants LiteLLM to hold.
#[derive(Debug, Clone)]
pub struct Deployment {
    /// The model row this deployment serves (for a group deployment: its target's model).
    pub model_row_id: i64,
    /// Set for a routing group's deployment, which belongs to the target, not the model row.
    pub route_target_id: Option<i64>,
    pub provider_id: i64,
    pub provider_name: String,
    /// `<provider>/<model_id>`, normalised: the `unique_id:` tag value.
    pub key: String,
    pub litellm_id: String,
    /// The id was generated now and is not stored yet.
    pub id_is_new: bool,
    pub model_name: String,
    /// Without `api_key`, which travels separately.
    pub litellm_params: Map<String, Value>,
    pub model_info: Map<String, Value>,
    pub api_key: Option<DeploymentKey>,
}

/// A model in the database that should not be in LiteLLM, and why.
#[derive(Debug, Clone)]
pub struct Excluded {
    pub model_row_id: i64,
    pub route_target_id: Option<i64>,
    pub provider_id: i64,
    pub provider_name: String,
    pub key: String,
    pub litellm_id: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct DesiredState {
    pub deployments: Vec<Deployment>,
    pub excluded: Vec<Excluded>,
    /// This installation's id ([`MANAGED_BY_INSTALLATION`]), which decides what it owns.
    pub installation_id: Option<String>,
    /// The fallbacks LiteLLM should hold: the operator's, then the automatic ones.
    pub fallbacks: Vec<routing::Fallback>,
}

impl Deployment {
    /// The model row that owns this deployment, `None` for a group deployment.
    pub fn model_row(&self) -> Option<i64> {
        self.route_target_id.is_none().then_some(self.model_row_id)
    }
}

impl Excluded {
    pub fn model_row(&self) -> Option<i64> {
        self.route_target_id.is_none().then_some(self.model_row_id)
    }
}

/// Builds the desired state. `new_id` makes a `model_info.id` for models (and group targets)
/// that have none yet, given the `unique_id:` key. `routing` adds the group deployments and
/// the fallbacks.
pub fn build(
    config: &Config,
    providers: &[Provider],
    models: &[Model],
    routing: &Routing,
    new_id: &mut dyn FnMut(&str) -> String,
) -> DesiredState {
    let mut state = build_part(config, providers, models, models, new_id);
    let groups = build_groups(config, providers, models, routing, new_id);
    state.deployments.extend(groups.deployments);
    state.excluded.extend(groups.excluded);
    state.fallbacks = groups.fallbacks;
    state
}

/// The routing groups' part of [`build`]: their deployments, excluded targets and fallbacks.
/// `models` must hold the groups' target models (it may hold more).
pub fn build_groups(
    config: &Config,
    providers: &[Provider],
    models: &[Model],
    routing: &Routing,
    new_id: &mut dyn FnMut(&str) -> String,
) -> DesiredState {
    let providers_by_id: HashMap<i64, &Provider> = providers.iter().map(|p| (p.id, p)).collect();
    let models_by_key: HashMap<(i64, &str), &Model> =
        models.iter().map(|m| ((m.provider_id, m.model_id.as_str()), m)).collect();
    let installation_id = config.installation_id.clone().filter(|id| !id.is_empty());
    let mut state = DesiredState { installation_id, ..DesiredState::default() };
    groups::add(&mut state, config, &providers_by_id, &models_by_key, routing, new_id);
    state
}

/// [`build`] for some of the models: the deployments and exclusions of `models`, whose compat
/// aliases find their targets in `targets` (which may hold more models, or other ones).
pub fn build_part(
    config: &Config,
    providers: &[Provider],
    models: &[Model],
    targets: &[Model],
    new_id: &mut dyn FnMut(&str) -> String,
) -> DesiredState {
    let providers_by_id: HashMap<i64, &Provider> = providers.iter().map(|p| (p.id, p)).collect();
    let models_by_key: HashMap<(i64, &str), &Model> =
        targets.iter().map(|m| ((m.provider_id, m.model_id.as_str()), m)).collect();
    let installation_id = config.installation_id.clone().filter(|id| !id.is_empty());
    let mut state = DesiredState { installation_id: installation_id.clone(), ..DesiredState::default() };

    for model in models {
        let Some(provider) = providers_by_id.get(&model.provider_id) else { continue };
        let key = tags::unique_id(&provider.name, &model.model_id);
        let deployment = if provider.kind == ProviderType::Compat {
            alias_exclusion(provider, model)
                .map_or_else(|| resolve_alias(model, &providers_by_id, &models_by_key), Err)
                .map(|(target_provider, target)| alias_deployment(config, provider, model, target_provider, target))
        } else {
            exclusion_reason(provider, model).map_or_else(|| Ok(model_deployment(config, provider, model)), Err)
        };
        match deployment {
            Ok(deployment) => {
                let (litellm_id, id_is_new) = match &model.litellm_model_id {
                    Some(id) => (id.clone(), false),
                    None => (new_id(&key), true),
                };
                let mut deployment = Deployment {
                    model_row_id: model.id,
                    route_target_id: None,
                    key,
                    litellm_id,
                    id_is_new,
                    ..deployment
                };
                if let Some(id) = &installation_id {
                    deployment.model_info.insert(MANAGED_BY_INSTALLATION.into(), id.clone().into());
                }
                state.deployments.push(deployment);
            }
            Err(reason) => state.excluded.push(Excluded {
                model_row_id: model.id,
                route_target_id: None,
                provider_id: provider.id,
                provider_name: provider.name.clone(),
                key,
                litellm_id: model.litellm_model_id.clone(),
                reason,
            }),
        }
    }
    state
}

fn exclusion_reason(provider: &Provider, model: &Model) -> Option<String> {
    if !provider.sync_enabled {
        settings_exclusion(provider, &model.model_id)
    } else if model.is_orphaned {
        Some(format!("orphaned: {} no longer lists it", provider.name))
    } else if !model.sync_enabled {
        Some("model is disabled".to_owned())
    } else {
        settings_exclusion(provider, &model.model_id)
    }
}

/// Why the provider's own settings keep `model_id` out of LiteLLM, whatever the provider lists:
/// the provider is disabled, or one of its filters (named) leaves the model out. The desired
/// state and the stored `excluded` status both follow this one rule.
pub fn settings_exclusion(provider: &Provider, model_id: &str) -> Option<String> {
    if !provider.sync_enabled {
        Some(format!("provider {} is disabled", provider.name))
    } else {
        provider.filtered_out_by(model_id).map(|filter| format!("excluded by {}'s {filter}", provider.name))
    }
}

fn alias_exclusion(compat: &Provider, alias: &Model) -> Option<String> {
    if !compat.sync_enabled {
        Some(format!("provider {} is disabled", compat.name))
    } else if !alias.sync_enabled {
        Some("alias is disabled".to_owned())
    } else {
        None
    }
}

fn resolve_alias<'a>(
    alias: &Model,
    providers: &HashMap<i64, &'a Provider>,
    models: &HashMap<(i64, &str), &'a Model>,
) -> Result<(&'a Provider, &'a Model), String> {
    let target_name = alias.mapped_model_id.as_deref().unwrap_or("(none)");
    let missing = || format!("alias target {target_name} is missing");
    let provider = alias.mapped_provider_id.and_then(|id| providers.get(&id).copied()).ok_or_else(missing)?;
    let target_id = alias.mapped_model_id.as_deref().ok_or_else(missing)?;
    let target = models.get(&(provider.id, target_id)).copied().ok_or_else(missing)?;
    if provider.kind == ProviderType::Compat {
        return Err(missing());
    }
    if target.is_orphaned {
        return Err(format!("alias target {target_name} is orphaned: {} no longer lists it", provider.name));
    }
    if !target.sync_enabled {
        return Err(format!("alias target {target_name} is disabled"));
    }
    if let Some(reason) = settings_exclusion(provider, target_id) {
        return Err(format!("alias target {target_name} is not served: {reason}"));
    }
    Ok((provider, target))
}

fn model_deployment(config: &Config, provider: &Provider, model: &Model) -> Deployment {
    let mode = requested_mode(model)
        .or_else(|| model.model_type.as_deref().and_then(|m| m.parse().ok()))
        .unwrap_or(Mode::Chat);
    let mut litellm_params = connection(provider, model, mode);
    for (key, limit) in [("rpm", provider.rpm), ("tpm", provider.tpm)] {
        if let Some(limit) = limit.filter(|l| *l > 0) {
            litellm_params.insert(key.into(), limit.into());
        }
    }
    let tags = tags::deployment_tags(&TagSources {
        provider_name: &provider.name,
        provider_type: provider.kind.as_str(),
        model_id: &model.model_id,
        system_tags: &model.system_tags,
        provider_tags: &provider.tags,
        user_tags: model.user_tags(),
    });
    litellm_params.insert("tags".into(), tags.into());
    insert_pricing(&mut litellm_params, effective_pricing(config, provider, model));

    let mut model_info = model.derived_info.clone();
    if !provider.auto_detect_fim {
        model_info.insert("supports_fill_in_middle".into(), false.into());
    }
    let groups = if model.access_groups().is_empty() { &provider.access_groups[..] } else { model.access_groups() };
    if !groups.is_empty() {
        model_info.insert("access_groups".into(), groups.into());
    }
    finish(provider, model, model_name(provider, &model.model_id), litellm_params, model_info)
}

fn alias_deployment(
    config: &Config,
    compat: &Provider,
    alias: &Model,
    provider: &Provider,
    target: &Model,
) -> Deployment {
    let target_deployment = model_deployment(config, provider, target);
    let mut litellm_params = target_deployment.litellm_params;
    let target_name = model_name(provider, &target.model_id);
    let mut alias_tags = vec![format!("alias_of:{target_name}")];
    alias_tags.extend(alias.user_tags().iter().cloned());
    let tags = tags::deployment_tags(&TagSources {
        provider_name: &compat.name,
        provider_type: compat.kind.as_str(),
        model_id: &alias.model_id,
        system_tags: &target.system_tags,
        provider_tags: &provider.tags,
        user_tags: &alias_tags,
    });
    litellm_params.insert("tags".into(), tags.into());
    if let Some(pricing) = alias.pricing() {
        insert_pricing(&mut litellm_params, pricing);
    }
    let mut model_info = target_deployment.model_info;
    model_info.remove("id");
    if !alias.access_groups().is_empty() {
        model_info.insert("access_groups".into(), alias.access_groups().into());
    }
    let mut deployment = finish(provider, alias, alias.model_id.trim().to_owned(), litellm_params, model_info);
    deployment.provider_id = compat.id;
    deployment.provider_name = compat.name.clone();
    deployment
}

/// Stamps ownership, the key fingerprint and the operator's params onto a deployment.
fn finish(
    provider: &Provider,
    model: &Model,
    model_name: String,
    mut litellm_params: Map<String, Value>,
    mut model_info: Map<String, Value>,
) -> Deployment {
    model_info.insert("managed_by".into(), MANAGED_BY.into());
    if let Some(params) = &model.user_params {
        apply_user_params(params, &mut litellm_params, &mut model_info);
    }
    model_info.remove("id");
    litellm_params.remove("api_key");
    let litellm_model = litellm_params.get("model").and_then(Value::as_str).unwrap_or_default();
    let api_key = DeploymentKey::for_deployment(provider.api_key.as_ref(), litellm_model);
    match &api_key {
        Some(key) => model_info.insert(KEY_FINGERPRINT.into(), key.fingerprint().into()),
        None => model_info.remove(KEY_FINGERPRINT),
    };
    let keys: Vec<&str> = litellm_params.keys().map(String::as_str).collect();
    model_info.insert(PARAM_KEYS.into(), keys.into());
    Deployment {
        model_row_id: model.id,
        route_target_id: None,
        provider_id: provider.id,
        provider_name: provider.name.clone(),
        key: String::new(),
        litellm_id: String::new(),
        id_is_new: false,
        model_name,
        litellm_params,
        model_info,
        api_key,
    }
}

/// `model_name` as clients will call it: `<prefix>/<model_id>` when the provider has a prefix.
pub fn model_name(provider: &Provider, model_id: &str) -> String {
    match provider.prefix.as_deref().map(|p| p.trim().trim_matches('/')).filter(|p| !p.is_empty()) {
        Some(prefix) => format!("{prefix}/{model_id}"),
        None => model_id.to_owned(),
    }
}

/// `litellm_params.model` and `api_base` for the provider type and Ollama mode (SPEC §5).
fn connection(provider: &Provider, model: &Model, mode: Mode) -> Map<String, Value> {
    let base = provider.base_url.trim().trim_end_matches('/');
    let id = &model.model_id;
    let (model, api_base) = match provider.kind {
        ProviderType::Ollama => match model.ollama_mode.unwrap_or(provider.default_ollama_mode) {
            // Text completion goes to `/api/generate`, which LiteLLM's `ollama/` calls.
            OllamaMode::OllamaChat if !matches!(mode, Mode::Embedding | Mode::Completion) => {
                (format!("ollama_chat/{id}"), base.to_owned())
            }
            OllamaMode::OllamaChat | OllamaMode::Ollama => (format!("ollama/{id}"), base.to_owned()),
            OllamaMode::Openai => (format!("openai/{id}"), openai_base(base)),
        },
        ProviderType::Openai | ProviderType::Compat => (format!("openai/{id}"), openai_base(base)),
    };
    let mut params = Map::new();
    params.insert("model".into(), model.into());
    params.insert("api_base".into(), api_base.into());
    params
}

/// The OpenAI-style base: the provider URL as given when its path already names an API version
/// (`…/v1`, DeepInfra's `…/v1/openai`, Gemini's `…/v1beta/openai`), else with `/v1` added
/// (`http://gpu:8000`, or a reverse proxy's `https://host/vllm`).
pub fn openai_base(base_url: &str) -> String {
    let base = base_url.trim().trim_end_matches('/');
    let path = base.split_once("://").map_or(base, |(_, rest)| rest).split_once('/').map_or("", |(_, path)| path);
    if path.split('/').any(is_api_version) { base.to_owned() } else { format!("{base}/v1") }
}

/// `v1`, `v2`, `v1beta`, `v1alpha2`: a path segment that names an API version.
fn is_api_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else { return false };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && rest[digits..].chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// The prices a deployment carries ([`pricing::effective`]).
fn effective_pricing(config: &Config, provider: &Provider, model: &Model) -> Pricing {
    pricing::effective(&pricing_inputs(config, provider, model), &pricing::catalogue(&config.pricing_profiles))
        .pricing()
}

/// What the pricing rule needs to know about `model`.
pub fn pricing_inputs<'a>(config: &'a Config, provider: &'a Provider, model: &'a Model) -> pricing::Inputs<'a> {
    pricing::Inputs {
        model: pricing::Level { profile: model.pricing_profile.as_deref(), overrides: model.pricing() },
        provider: pricing::Level { profile: provider.pricing_profile.as_deref(), overrides: provider.pricing() },
        upstream: model.upstream_pricing,
        global: pricing::Level {
            profile: config.default_pricing_profile.as_deref(),
            overrides: config.default_pricing(),
        },
        local: provider.kind == ProviderType::Ollama,
    }
}

/// The request mode the operator chose for a model (`user_params.mode`: `chat` or `completion`).
fn requested_mode(model: &Model) -> Option<Mode> {
    let params = model.user_params.as_ref()?;
    let mode = params.get("mode").or_else(|| params.get("model_info").and_then(|i| i.get("mode")))?;
    mode.as_str()?.trim().parse().ok()
}

fn insert_pricing(params: &mut Map<String, Value>, pricing: Pricing) {
    for (key, value) in [
        ("input_cost_per_token", pricing.input_cost_per_token),
        ("output_cost_per_token", pricing.output_cost_per_token),
    ] {
        if let Some(value) = value {
            params.insert(key.into(), value.into());
        }
    }
}

/// Keys of the operator's params that belong in `model_info`; everything else is a
/// `litellm_params` key. Explicit `{"litellm_params": {..}, "model_info": {..}}` sections work too.
fn is_model_info_key(key: &str) -> bool {
    key.starts_with("supports_")
        || matches!(
            key,
            "mode" | "max_tokens" | "max_input_tokens" | "max_output_tokens" | "base_model" | "access_groups"
        )
}

fn apply_user_params(
    user: &Map<String, Value>,
    litellm_params: &mut Map<String, Value>,
    model_info: &mut Map<String, Value>,
) {
    for (key, value) in user {
        match (key.as_str(), value) {
            ("litellm_params", Value::Object(section)) => litellm_params.extend(section.clone()),
            ("model_info", Value::Object(section)) => model_info.extend(section.clone()),
            (_, Value::Null) => {}
            ("tags", Value::Array(extra)) => {
                let existing = litellm_params.get("tags").and_then(Value::as_array).cloned().unwrap_or_default();
                let merged = existing.iter().chain(extra).filter_map(Value::as_str).collect::<Vec<_>>();
                litellm_params.insert("tags".into(), tags::normalize_all(merged).into());
            }
            _ if is_model_info_key(key) => {
                model_info.insert(key.clone(), value.clone());
            }
            _ => {
                litellm_params.insert(key.clone(), value.clone());
            }
        }
    }
}

/// A short, irreversible fingerprint of an API key.
pub fn key_fingerprint(key: &Secret) -> String {
    let digest = Sha256::digest(key.expose().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

mod groups;

pub use groups::{Unserved, served as target_served};

#[cfg(test)]
mod tests;
