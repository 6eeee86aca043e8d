//! The installation's settings as the rules see them: the LiteLLM connection, the global sync
//! interval and the default pricing, in plain values (the store converts its row).

use crate::pricing::Profile;
use crate::secret::Secret;
use crate::types::Pricing;

/// The single settings row and the operator's pricing profiles.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub litellm_base_url: Option<String>,
    pub litellm_api_key: Option<Secret>,
    /// 0 = automatic sync off; otherwise at least 30.
    pub sync_interval_seconds: i64,
    pub default_pricing: Option<Pricing>,
    /// The global pricing profile, under `default_pricing`'s keys.
    pub default_pricing_profile: Option<String>,
    pub updated_at: String,
    /// Random, created once per database (migration 0003): marks this installation's entries
    /// in LiteLLM (see `desired::MANAGED_BY_INSTALLATION`).
    pub installation_id: Option<String>,
    /// The operator's pricing profiles (the `pricing_profiles` table).
    pub pricing_profiles: Vec<Profile>,
}

impl Config {
    /// The LiteLLM URL, when one is configured.
    pub fn litellm_url(&self) -> Option<&str> {
        self.litellm_base_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    pub fn default_pricing(&self) -> Option<Pricing> {
        self.default_pricing.filter(|p| !p.is_empty())
    }
}
