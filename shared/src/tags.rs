//! LiteLLM tags (SPEC §5): normalised (trim, lower-case, commas → space, whitespace runs → `-`),
//! de-duplicated, order kept.

use std::collections::HashSet;

/// The tag every deployment litellm-updater owns carries.
pub const OWNER_TAG: &str = "lupdater";
pub const UNIQUE_ID_PREFIX: &str = "unique_id:";

pub fn normalize(tag: &str) -> Option<String> {
    let spaced = tag.replace(',', " ").to_lowercase();
    let joined = spaced.split_whitespace().collect::<Vec<_>>().join("-");
    (!joined.is_empty()).then_some(joined)
}

pub fn normalize_all<I, S>(tags: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut seen = HashSet::new();
    tags.into_iter().filter_map(|tag| normalize(tag.as_ref())).filter(|tag| seen.insert(tag.clone())).collect()
}

/// The ownership key of a model: `<provider>/<model_id>`, as the `unique_id:` tag carries it.
pub fn unique_id(provider_name: &str, model_id: &str) -> String {
    normalize(&format!("{provider_name}/{model_id}")).unwrap_or_default()
}

/// The value of the `unique_id:` tag among `tags`, if any.
pub fn find_unique_id<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<String> {
    tags.into_iter().find_map(|tag| tag.trim().strip_prefix(UNIQUE_ID_PREFIX)).and_then(normalize)
}

pub struct TagSources<'a> {
    pub provider_name: &'a str,
    pub provider_type: &'a str,
    pub model_id: &'a str,
    pub system_tags: &'a [String],
    pub provider_tags: &'a [String],
    pub user_tags: &'a [String],
}

/// All tags of one deployment, in the documented order.
pub fn deployment_tags(sources: &TagSources<'_>) -> Vec<String> {
    let fixed = [
        OWNER_TAG.to_owned(),
        format!("provider:{}", sources.provider_name),
        format!("type:{}", sources.provider_type),
        format!("model:{}", sources.model_id),
        format!("{UNIQUE_ID_PREFIX}{}", unique_id(sources.provider_name, sources.model_id)),
    ];
    normalize_all(
        fixed
            .iter()
            .chain(sources.system_tags)
            .chain(sources.provider_tags)
            .chain(sources.user_tags)
            .map(String::as_str),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let cases = [
            ("  Lab GPU  ", Some("lab-gpu")),
            ("a,b", Some("a-b")),
            ("team:\tResearch   Group", Some("team:-research-group")),
            ("MiXeD", Some("mixed")),
            (" , ", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize(input).as_deref(), expected, "{input:?}");
        }
        assert_eq!(normalize_all(["b", "A", "a", " b ", "c"]), vec!["b", "a", "c"]);
    }

    #[test]
    fn deployment_tags_in_order_with_user_tags_last() {
        let tags = deployment_tags(&TagSources {
            provider_name: "Lab Ollama",
            provider_type: "ollama",
            model_id: "Qwen3:8B",
            system_tags: &["mode:chat".into(), "capability:tools".into()],
            provider_tags: &["gpu".into(), "lupdater".into()],
            user_tags: &["Favourite, Fast".into()],
        });
        assert_eq!(
            tags,
            vec![
                "lupdater",
                "provider:lab-ollama",
                "type:ollama",
                "model:qwen3:8b",
                "unique_id:lab-ollama/qwen3:8b",
                "mode:chat",
                "capability:tools",
                "gpu",
                "favourite-fast"
            ]
        );
    }

    #[test]
    fn finds_the_unique_id() {
        assert_eq!(find_unique_id(["x", "unique_id:Lab/Model:1"]).as_deref(), Some("lab/model:1"));
        assert_eq!(find_unique_id(["x"]), None);
    }
}
