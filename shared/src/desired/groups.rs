//! Routing groups in the desired state: one deployment per pushable target, a copy of its
//! model's deployment under the group's name with `weight` and `order`, and the fallbacks.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::{DesiredState, Excluded, MANAGED_BY_INSTALLATION, PARAM_KEYS, model_deployment, model_name};
use crate::model::Model;
use crate::provider::Provider;
use crate::routing::{self, FallbackType, Group, Member, Routing, Target};
use crate::settings::Config;
use crate::tags::{self, UNIQUE_ID_PREFIX};
use crate::types::ProviderType;

/// Adds the group deployments, the excluded targets and the fallbacks to `state`.
pub(super) fn add(
    state: &mut DesiredState,
    config: &Config,
    providers: &HashMap<i64, &Provider>,
    models: &HashMap<(i64, &str), &Model>,
    routing: &Routing,
    new_id: &mut dyn FnMut(&str) -> String,
) {
    let mut automatic = Vec::new();
    for group in &routing.groups {
        let mut members = Vec::new();
        for target in &group.targets {
            let Some(provider) = providers.get(&target.provider_id).copied() else { continue };
            let key = routing::route_key(&group.name, &provider.name, &target.model_id);
            let model = models.get(&(provider.id, target.model_id.as_str())).copied();
            match pushable(group, target, provider, model) {
                Ok(model) => {
                    push_target(state, config, group, target, provider, model, key, new_id);
                    let own_name = model_name(provider, &model.model_id);
                    // Only a member whose own deployment LiteLLM holds can be a fallback.
                    if super::exclusion_reason(provider, model).is_none() {
                        members.push(Member {
                            model_name: own_name,
                            context_window: model.context_window.or(model.max_input_tokens),
                        });
                    }
                }
                Err(reason) => state.excluded.push(Excluded {
                    model_row_id: model.map_or(0, |m| m.id),
                    route_target_id: Some(target.id),
                    provider_id: provider.id,
                    provider_name: provider.name.clone(),
                    key,
                    litellm_id: target.litellm_model_id.clone(),
                    reason,
                }),
            }
        }
        if group.auto_context_fallback
            && let Some(fallback) = routing::auto_context_fallback(&group.name, &members)
        {
            automatic.push(fallback);
        }
    }

    let mut fallbacks: Vec<routing::Fallback> =
        routing.fallbacks.iter().filter_map(|f| routing::check_fallback(f).ok()).collect();
    let explicit: HashSet<(String, FallbackType)> =
        fallbacks.iter().map(|f| (f.model_name.clone(), f.fallback_type)).collect();
    fallbacks.extend(automatic.into_iter().filter(|f| !explicit.contains(&(f.model_name.clone(), f.fallback_type))));
    fallbacks.sort_by(|a, b| (&a.model_name, a.fallback_type).cmp(&(&b.model_name, b.fallback_type)));
    state.fallbacks = fallbacks;
}

/// Why a routing group's target is not served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unserved {
    Disabled,
    ProviderDisabled,
    /// A compat alias's provider: its entries are aliases, not models.
    CompatProvider,
    /// The provider has no such model, or no longer lists it.
    Orphaned,
    /// The operator disabled the model itself.
    ModelDisabled,
    /// The provider's include or exclude filter leaves the model out.
    FilteredOut,
}

impl Unserved {
    /// A word or two for a list of targets.
    pub fn label(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::ProviderDisabled => "provider disabled",
            Self::CompatProvider => "compat alias",
            Self::Orphaned => "orphaned",
            Self::ModelDisabled => "model disabled",
            Self::FilteredOut => "excluded by filter",
        }
    }

    fn reason(self, group: &Group, target: &Target, provider: &Provider, model: Option<&Model>) -> String {
        match self {
            Self::Disabled => format!("target disabled in routing group {}", group.name),
            Self::ProviderDisabled => format!("provider {} is disabled", provider.name),
            Self::CompatProvider => "a compat alias cannot be a group target; add the model it points at".into(),
            Self::Orphaned if model.is_none() => {
                format!("orphaned target: {} has no model {}", provider.name, target.model_id)
            }
            Self::Orphaned => format!("orphaned target: {} no longer lists it", provider.name),
            Self::ModelDisabled => format!("target's model {} is disabled", target.model_id),
            Self::FilteredOut => super::settings_exclusion(provider, &target.model_id)
                .unwrap_or_else(|| format!("excluded by {}'s model filter", provider.name)),
        }
    }
}

/// The target's model when the target should be in LiteLLM, else why not.
pub fn served<'a>(target: &Target, provider: &Provider, model: Option<&'a Model>) -> Result<&'a Model, Unserved> {
    if !target.enabled {
        return Err(Unserved::Disabled);
    }
    if !provider.sync_enabled {
        return Err(Unserved::ProviderDisabled);
    }
    if provider.kind == ProviderType::Compat {
        return Err(Unserved::CompatProvider);
    }
    match model {
        None => Err(Unserved::Orphaned),
        Some(model) if model.is_orphaned => Err(Unserved::Orphaned),
        Some(model) if !model.sync_enabled => Err(Unserved::ModelDisabled),
        Some(_) if provider.filtered_out_by(&target.model_id).is_some() => Err(Unserved::FilteredOut),
        Some(model) => Ok(model),
    }
}

fn pushable<'a>(
    group: &Group,
    target: &Target,
    provider: &Provider,
    model: Option<&'a Model>,
) -> Result<&'a Model, String> {
    served(target, provider, model).map_err(|why| why.reason(group, target, provider, model))
}

#[allow(clippy::too_many_arguments)]
fn push_target(
    state: &mut DesiredState,
    config: &Config,
    group: &Group,
    target: &Target,
    provider: &Provider,
    model: &Model,
    key: String,
    new_id: &mut dyn FnMut(&str) -> String,
) {
    let mut deployment = model_deployment(config, provider, model);
    let params = &mut deployment.litellm_params;
    params.insert("weight".into(), target.weight.into());
    params.insert("order".into(), target.priority.into());
    let model_tags: Vec<String> = params
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|t| !t.starts_with(UNIQUE_ID_PREFIX))
        .map(str::to_owned)
        .collect();
    let group_tags = [format!("{UNIQUE_ID_PREFIX}{key}"), format!("{}{}", routing::GROUP_TAG_PREFIX, group.name)];
    params.insert("tags".into(), tags::normalize_all(model_tags.iter().chain(&group_tags)).into());
    let keys: Vec<&str> = params.keys().map(String::as_str).collect();
    let keys: Value = keys.into();
    deployment.model_info.insert(PARAM_KEYS.into(), keys);
    if let Some(id) = &state.installation_id {
        deployment.model_info.insert(MANAGED_BY_INSTALLATION.into(), id.clone().into());
    }
    let (litellm_id, id_is_new) = match &target.litellm_model_id {
        Some(id) => (id.clone(), false),
        None => (new_id(&key), true),
    };
    deployment.model_name = group.name.clone();
    deployment.route_target_id = Some(target.id);
    deployment.key = key;
    deployment.litellm_id = litellm_id;
    deployment.id_is_new = id_is_new;
    state.deployments.push(deployment);
}
