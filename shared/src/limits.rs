//! The sizes user input may have, in one place: the API and the forms refuse anything bigger
//! with a message that names the limit, before it reaches the database, LiteLLM or a page.
//! Generous for real use (a provider name is a word, a model id a path), small enough that no
//! single value can make a page, a plan or `/metrics` heavy.

use serde_json::{Map, Value};

/// Provider and alias names, prefixes.
pub const NAME_CHARS: usize = 100;
/// Base URLs.
pub const URL_CHARS: usize = 2048;
/// Tags and access groups per list.
pub const LIST_ITEMS: usize = 64;
/// Characters per tag or access group.
pub const ITEM_CHARS: usize = 100;
/// `user_params`, as compact JSON.
pub const PARAMS_BYTES: usize = 16 * 1024;
/// Model ids (alias targets, search terms).
pub const MODEL_ID_CHARS: usize = 512;
/// A provider's include/exclude filter text.
pub const FILTER_CHARS: usize = 2048;
/// Highest page number a list accepts (larger ones are clamped: past the end is empty anyway).
pub const MAX_PAGE: i64 = 1_000_000;

fn too_long(label: &str, value: &str, max: usize) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > max { Err(format!("{label} is {chars} characters; the limit is {max}")) } else { Ok(()) }
}

/// Names end up in labels, headers and one-line displays: no control characters either.
pub fn name(label: &str, value: &str) -> Result<(), String> {
    too_long(label, value, NAME_CHARS)?;
    if value.chars().any(char::is_control) {
        return Err(format!("{label} must not contain control characters (tabs, line breaks)"));
    }
    Ok(())
}

pub fn url(label: &str, value: &str) -> Result<(), String> {
    too_long(label, value, URL_CHARS)
}

pub fn model_id(label: &str, value: &str) -> Result<(), String> {
    too_long(label, value, MODEL_ID_CHARS)
}

pub fn filter(label: &str, value: &str) -> Result<(), String> {
    too_long(label, value, FILTER_CHARS)
}

/// Tags, access groups: at most [`LIST_ITEMS`] of at most [`ITEM_CHARS`] each.
pub fn list(label: &str, items: &[String]) -> Result<(), String> {
    if items.len() > LIST_ITEMS {
        return Err(format!("{label} has {} entries; the limit is {LIST_ITEMS}", items.len()));
    }
    for item in items {
        if item.chars().count() > ITEM_CHARS {
            let start: String = item.chars().take(20).collect();
            return Err(format!("{label} entry {start:?}… is longer than the limit of {ITEM_CHARS} characters"));
        }
    }
    Ok(())
}

pub fn params(label: &str, params: &Map<String, Value>) -> Result<(), String> {
    let bytes = Value::Object(params.clone()).to_string().len();
    if bytes > PARAMS_BYTES {
        return Err(format!("{label} is {bytes} bytes of JSON; the limit is {} KiB", PARAMS_BYTES / 1024));
    }
    Ok(())
}

/// A requested page number, within 1..=[`MAX_PAGE`].
pub fn page(page: Option<i64>) -> i64 {
    page.unwrap_or(1).clamp(1, MAX_PAGE)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_at_the_limit_pass_and_over_it_are_refused_by_name() {
        assert!(name("name", &"n".repeat(NAME_CHARS)).is_ok());
        assert!(name("name", &"é".repeat(NAME_CHARS)).is_ok(), "characters, not bytes");
        assert!(
            name("name", &"n".repeat(NAME_CHARS + 1)).is_err_and(|e| e == "name is 101 characters; the limit is 100")
        );
        assert!(name("name", "lab\r").is_err_and(|e| e.contains("control characters")));
        assert!(url("base_url", &"u".repeat(URL_CHARS + 1)).is_err_and(|e| e.contains("2048")));
        assert!(model_id("model id", &"m".repeat(MODEL_ID_CHARS + 1)).is_err_and(|e| e.contains("512")));
        let tags: Vec<String> = (0..LIST_ITEMS).map(|i| i.to_string()).collect();
        assert!(list("tags", &tags).is_ok());
        let more: Vec<String> = (0..=LIST_ITEMS).map(|i| i.to_string()).collect();
        assert!(list("tags", &more).is_err_and(|e| e.contains("65 entries; the limit is 64")));
        assert!(list("tags", &["t".repeat(ITEM_CHARS + 1)]).is_err_and(|e| e.contains("limit of 100")));
        let Value::Object(small) = json!({"temperature": 0.2}) else { return };
        assert!(params("user_params", &small).is_ok());
        let Value::Object(big) = json!({"x": "y".repeat(PARAMS_BYTES)}) else { return };
        assert!(params("user_params", &big).is_err_and(|e| e.contains("limit is 16 KiB")));
    }

    #[test]
    fn pages_are_clamped() {
        assert_eq!(page(None), 1);
        assert_eq!(page(Some(0)), 1);
        assert_eq!(page(Some(-5)), 1);
        assert_eq!(page(Some(i64::MAX)), MAX_PAGE);
        assert_eq!(page(Some(7)), 7);
    }
}
