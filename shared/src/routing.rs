//! Routing groups and fallbacks: the rules, without storage or network.
//!
//! A routing group is a name clients call (`chat-pool`) served by several targets, each a model
//! of some provider with a weight (its share of the traffic) and a priority (LiteLLM's `order`:
//! 1 first, higher numbers only when the lower ones fail). Each target becomes one LiteLLM
//! deployment whose `model_name` is the group's name. A fallback tells LiteLLM which other
//! names to try when a name fails, per kind of failure.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::tags;

/// The tag every group deployment carries, with the group's name (as the Python tool tagged
/// its group deployments, which is how those are recognised).
pub const GROUP_TAG_PREFIX: &str = "routing_group:";
/// `model_info.created_by` of the Python tool's group deployments.
pub const PYTHON_GROUP_CREATED_BY: &str = "routing_group";
/// Weights and priorities above this are typing mistakes, not intent.
pub const MAX_WEIGHT: i64 = 1000;
pub const MAX_PRIORITY: i64 = 100;

/// The kinds of failure LiteLLM's fallbacks distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackType {
    /// Any error after the retries.
    General,
    /// The request is longer than the model's context window.
    ContextWindow,
    /// The model refused the content.
    ContentPolicy,
}

impl FallbackType {
    pub const ALL: [FallbackType; 3] = [Self::General, Self::ContextWindow, Self::ContentPolicy];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::General => "general",
            Self::ContextWindow => "context_window",
            Self::ContentPolicy => "content_policy",
        }
    }

    /// The `router_settings` key LiteLLM keeps this kind under.
    pub fn router_setting(self) -> &'static str {
        match self {
            Self::General => "fallbacks",
            Self::ContextWindow => "context_window_fallbacks",
            Self::ContentPolicy => "content_policy_fallbacks",
        }
    }
}

impl fmt::Display for FallbackType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FallbackType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s.trim())
            .ok_or_else(|| format!("unknown fallback type {s:?} (general, context_window or content_policy)"))
    }
}

/// One target of a group, as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    pub id: i64,
    pub provider_id: i64,
    pub model_id: String,
    pub weight: i64,
    pub priority: i64,
    pub enabled: bool,
    /// The `model_info.id` of its deployment, once pushed or adopted.
    #[serde(skip)]
    pub litellm_model_id: Option<String>,
}

/// A routing group with its targets (ordered by priority, then id).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    /// Capabilities a candidate must have; proposes targets, never removes one.
    pub capabilities: Vec<String>,
    /// Push a `context_window` fallback to the member with the largest context window.
    pub auto_context_fallback: bool,
    pub targets: Vec<Target>,
}

/// A fallback rule: when `model_name` fails with `fallback_type`, try `fallback_models` in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub model_name: String,
    pub fallback_type: FallbackType,
    pub fallback_models: Vec<String>,
}

/// Everything routing adds to the desired state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Routing {
    pub groups: Vec<Group>,
    /// The operator's fallbacks (automatic ones are derived from the groups).
    pub fallbacks: Vec<Fallback>,
}

/// The ownership key of a group deployment: `route:<group>/<provider>/<model_id>`, normalised
/// like every tag. It cannot clash with a model's key, which has no `route:` part.
pub fn route_key(group: &str, provider_name: &str, model_id: &str) -> String {
    tags::normalize(&format!("route:{group}/{provider_name}/{model_id}")).unwrap_or_default()
}

/// The key of a Python-tool group deployment, from its tags (`routing_group:`, `provider:`,
/// `model:`), so the first push adopts it instead of creating a second copy.
pub fn python_route_key<'a>(tags: impl IntoIterator<Item = &'a str> + Clone) -> Option<String> {
    let value = |prefix: &str| tags.clone().into_iter().find_map(|t| t.trim().strip_prefix(prefix).map(str::to_owned));
    Some(route_key(&value(GROUP_TAG_PREFIX)?, &value("provider:")?, &value("model:")?))
}

/// A group name as clients will call it: trimmed, non-empty, no control characters, no `/`
/// at either end (LiteLLM would read a leading segment as a provider).
pub fn check_group_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("a routing group needs a name".into());
    }
    if name.len() > 200 {
        return Err("a routing group name is at most 200 characters".into());
    }
    if name.chars().any(char::is_control) || name.starts_with('/') || name.ends_with('/') {
        return Err(format!("{name:?} is not a usable model name (control characters, or a / at either end)"));
    }
    Ok(name.to_owned())
}

/// What the operator sends for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInput {
    pub provider_id: i64,
    pub model_id: String,
    #[serde(default = "one")]
    pub weight: i64,
    #[serde(default = "one")]
    pub priority: i64,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn one() -> i64 {
    1
}

fn yes() -> bool {
    true
}

/// Checks a group's targets: sane weights and priorities, each (provider, model) once.
pub fn check_targets(targets: &[TargetInput]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for target in targets {
        if target.model_id.trim().is_empty() {
            return Err("every target needs a model id".into());
        }
        if !(1..=MAX_WEIGHT).contains(&target.weight) {
            return Err(format!("weight of {} must be between 1 and {MAX_WEIGHT}", target.model_id));
        }
        if !(1..=MAX_PRIORITY).contains(&target.priority) {
            return Err(format!("priority of {} must be between 1 (first) and {MAX_PRIORITY}", target.model_id));
        }
        if !seen.insert((target.provider_id, target.model_id.trim())) {
            return Err(format!("{} is listed twice for the same provider", target.model_id));
        }
    }
    Ok(())
}

/// Checks a fallback as LiteLLM will: a name, at least one fallback, none twice, not itself.
pub fn check_fallback(fallback: &Fallback) -> Result<Fallback, String> {
    let model_name = fallback.model_name.trim().to_owned();
    if model_name.is_empty() {
        return Err("a fallback needs the model name it applies to".into());
    }
    let fallback_models: Vec<String> =
        fallback.fallback_models.iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
    if fallback_models.is_empty() {
        return Err(format!("the fallback of {model_name} needs at least one model to fall back to"));
    }
    let mut seen = HashSet::new();
    if let Some(twice) = fallback_models.iter().find(|m| !seen.insert(m.as_str())) {
        return Err(format!("{twice} is listed twice in the fallback of {model_name}"));
    }
    if fallback_models.contains(&model_name) {
        return Err(format!("{model_name} cannot be its own fallback"));
    }
    Ok(Fallback { model_name, fallback_type: fallback.fallback_type, fallback_models })
}

/// A member of a group as pushed: the name its own deployment is called by, and its context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub model_name: String,
    pub context_window: Option<i64>,
}

/// The automatic `context_window` fallback of `group`: to the member with the largest known
/// context window, when one is strictly larger than another member's (otherwise a request too
/// long for one member is too long for all). Ties go to the first listed.
pub fn auto_context_fallback(group: &str, members: &[Member]) -> Option<Fallback> {
    let known: Vec<(&str, i64)> =
        members.iter().filter_map(|m| Some((m.model_name.as_str(), m.context_window.filter(|c| *c > 0)?))).collect();
    let largest = known.iter().copied().reduce(|best, next| if next.1 > best.1 { next } else { best })?;
    let smallest = known.iter().map(|(_, c)| *c).min()?;
    (largest.1 > smallest && largest.0 != group).then(|| Fallback {
        model_name: group.to_owned(),
        fallback_type: FallbackType::ContextWindow,
        fallback_models: vec![largest.0.to_owned()],
    })
}

/// Whether a model with `capabilities` is a candidate for a group wanting `wanted`
/// (case-insensitive; an empty wish list admits every model).
pub fn offers(capabilities: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| capabilities.iter().any(|c| c.trim().eq_ignore_ascii_case(w.trim())))
}

#[cfg(test)]
mod tests;

/// What the operator sends to create or replace a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInput {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub capabilities: Vec<String>,
    #[serde(default)]
    pub auto_context_fallback: bool,
    #[serde(default)]
    pub targets: Vec<TargetInput>,
}

impl GroupInput {
    /// The input with its name, description and capabilities tidied, or why it is refused.
    pub fn checked(&self) -> Result<GroupInput, String> {
        let name = check_group_name(&self.name)?;
        check_targets(&self.targets)?;
        let description = self.description.as_deref().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
        let mut seen = HashSet::new();
        let capabilities = self
            .capabilities
            .iter()
            .map(|c| c.trim().to_lowercase())
            .filter(|c| !c.is_empty() && seen.insert(c.clone()))
            .collect();
        let targets =
            self.targets.iter().map(|t| TargetInput { model_id: t.model_id.trim().to_owned(), ..t.clone() }).collect();
        Ok(GroupInput { name, description, capabilities, auto_context_fallback: self.auto_context_fallback, targets })
    }
}
