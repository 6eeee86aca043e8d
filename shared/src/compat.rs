//! Compat aliases: OpenAI model names (`gpt-4o-mini`) served by local models, so clients written
//! for OpenAI work unchanged. The built-in catalogue maps common names to local candidates in
//! order of preference; registering it adds an alias only where a candidate exists.

use serde::Serialize;

use crate::db::{self, DbError};
use crate::types::ProviderType;

/// `(alias, candidates)`: the first candidate found among the known models becomes the target.
pub const DEFAULT_CATALOGUE: &[(&str, &[&str])] = &[
    ("gpt-4o-mini", &["llama3.2:3b", "qwen3:8b", "qwen2.5:7b", "llama3.1:8b", "gemma3:4b", "mistral:7b"]),
    ("gpt-4o", &["qwen3:32b", "llama3.3:70b", "qwen2.5:72b", "llama3.1:70b", "gemma3:27b", "mistral-small:24b"]),
    ("gpt-3.5-turbo", &["llama3.2:3b", "llama3.1:8b", "mistral:7b", "qwen2.5:7b", "phi3:mini"]),
    ("gpt-4-turbo", &["qwen3:32b", "llama3.3:70b", "qwen2.5:32b", "mixtral:8x7b"]),
    ("o3-mini", &["deepseek-r1:8b", "qwen3:8b", "qwq:32b", "deepseek-r1:14b"]),
    ("o1", &["qwq:32b", "deepseek-r1:32b", "deepseek-r1:70b"]),
    ("text-embedding-3-small", &["nomic-embed-text", "all-minilm", "mxbai-embed-large"]),
    ("text-embedding-3-large", &["mxbai-embed-large", "bge-m3", "nomic-embed-text"]),
    ("text-embedding-ada-002", &["nomic-embed-text", "all-minilm"]),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    pub alias: String,
    pub provider: String,
    pub model_id: String,
}

/// Registers every catalogue alias that is not defined yet and whose target exists (a
/// non-orphaned model of a non-compat provider; `name` matches `name:latest` too).
/// Existing aliases are left as the operator set them.
pub async fn register_defaults(db: &crate::Database) -> Result<Vec<Registered>, DbError> {
    let compat = db::providers::compat_provider(db).await?;
    let providers = db::providers::list(db).await?;
    let models = db::models::list_all(db).await?;
    let existing: Vec<&str> =
        models.iter().filter(|m| m.provider_id == compat.id).map(|m| m.model_id.as_str()).collect();

    let mut registered = Vec::new();
    for (alias, candidates) in DEFAULT_CATALOGUE {
        if existing.contains(alias) {
            continue;
        }
        let target = candidates.iter().find_map(|candidate| {
            let latest = format!("{candidate}:latest");
            providers.iter().filter(|p| p.kind != ProviderType::Compat).find_map(|provider| {
                models
                    .iter()
                    .find(|m| {
                        m.provider_id == provider.id
                            && !m.is_orphaned
                            && (m.model_id.eq_ignore_ascii_case(candidate) || m.model_id.eq_ignore_ascii_case(&latest))
                    })
                    .map(|m| (provider, m))
            })
        });
        if let Some((provider, model)) = target {
            db::models::upsert_alias(db, compat.id, alias, provider.id, &model.model_id).await?;
            registered.push(Registered {
                alias: (*alias).to_owned(),
                provider: provider.name.clone(),
                model_id: model.model_id.clone(),
            });
        }
    }
    Ok(registered)
}
