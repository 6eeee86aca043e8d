//! API keys that must never be printed: `Debug` and `Display` redact, and the only way to the
//! plain value is the explicit [`Secret::expose`].
//!
//! JSON that comes from outside (upstream metadata, LiteLLM entries, user params, job results)
//! may carry credentials under many names; [`is_secret_key`] is the one list of them and
//! [`mask_json`] the one function every page and API answer passes such JSON through.

use std::fmt;

use serde_json::Value;

use secrecy::{ExposeSecret, SecretString};
use sqlx::{Decode, Type};

#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// What pages and logs may show: `••••` and the last four characters (only when the
    /// secret is long enough that four characters do not give most of it away).
    pub fn masked(&self) -> String {
        let value = self.expose();
        let chars = value.chars().count();
        if chars >= 12 {
            let tail: String = value.chars().skip(chars - 4).collect();
            format!("••••{tail}")
        } else {
            "••••".to_owned()
        }
    }

    /// Empty strings from forms and env mean "no key".
    pub fn non_empty(value: Option<String>) -> Option<Self> {
        value.filter(|v| !v.trim().is_empty()).map(Self::new)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(••••)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("••••")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

/// Stored as text on either backend; decoding only (a key is written by its exposed value).
impl<DB: sqlx::Database> Type<DB> for Secret
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: sqlx::Database> Decode<'r, DB> for Secret
where
    String: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self::new(<String as Decode<DB>>::decode(value)?))
    }
}

/// What a request asks for a stored key (a provider's `api_key`, LiteLLM's master key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChange {
    /// Absent or empty: forms never show keys, so an empty field means "as it is".
    Keep,
    Set(String),
    Remove,
}

impl KeyChange {
    /// The API's and the forms' shape: `None` keep, `Some(None)` remove, `Some(Some(""))` keep.
    pub fn from_patch(patch: Option<Option<String>>) -> Self {
        match patch {
            None => Self::Keep,
            Some(None) => Self::Remove,
            Some(Some(key)) if key.trim().is_empty() => Self::Keep,
            Some(Some(key)) => Self::Set(key.trim().to_owned()),
        }
    }
}

/// The key to store after a change of where it is sent (`current_url` → `new_url`), or why the
/// change is refused: a kept key goes only to the URL it was given for. Without this rule,
/// anyone who may change a URL (a forged request, a stolen session) could re-point it at a
/// server of theirs and have the worker deliver the stored key there. URLs are compared
/// trimmed and without trailing slashes; a key given with the change, or removed, is fine.
pub fn key_after_url_change(
    current_url: Option<&str>,
    new_url: Option<&str>,
    current_key: Option<&Secret>,
    change: KeyChange,
    what: &str,
) -> Result<Option<Secret>, String> {
    let normal = |url: Option<&str>| url.map(|u| u.trim().trim_end_matches('/').to_owned()).filter(|u| !u.is_empty());
    match change {
        KeyChange::Set(key) => Ok(Some(Secret::new(key))),
        KeyChange::Remove => Ok(None),
        KeyChange::Keep => match current_key {
            Some(_) if normal(current_url) != normal(new_url) && normal(new_url).is_some() => Err(format!(
                "the {what} URL changed but its stored key was kept: enter the key again (or remove it) \
                 with the new URL, so the key is never sent to a server it was not given for"
            )),
            key => Ok(key.cloned()),
        },
    }
}

/// Key names that are a credential whatever the rest of the name says (compared after
/// lower-casing and turning `-` into `_`).
const SECRET_NAMES: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "credentials",
    "credential",
    "cookie",
    "bearer",
    "master_key",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "azure_ad_token",
    "access_token",
    "refresh_token",
    "id_token",
    "auth_token",
];

/// Endings that make a name a credential (`litellm_api_key`, `vertex_credentials`,
/// `client_secret`, …). Not a bare `_token`: `input_cost_per_token` and `max_tokens` are prices
/// and limits.
const SECRET_ENDINGS: &[&str] = &[
    "_api_key",
    "_key_id",
    "_secret",
    "_secret_key",
    "_access_key",
    "_private_key",
    "_password",
    "_credentials",
    "_credential",
    "_auth_token",
    "_access_token",
    "_session_token",
    "_refresh_token",
    "_ad_token",
    "_bearer_token",
];

/// Fragments that make a name a credential wherever they appear (`apikey`, `client_secret_v2`).
const SECRET_FRAGMENTS: &[&str] =
    &["api_key", "apikey", "secret", "password", "credential", "private_key", "authorization"];

/// Whether a JSON key (or header, or parameter) names a credential: `api_key`, `token`,
/// `aws_secret_access_key`, `vertex_credentials`, `Authorization`, … (case-insensitive).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.trim().to_ascii_lowercase().replace('-', "_");
    SECRET_NAMES.contains(&key.as_str())
        || SECRET_ENDINGS.iter().any(|end| key.ends_with(end))
        || SECRET_FRAGMENTS.iter().any(|fragment| key.contains(fragment))
}

/// `value` with every secret-named value masked, at any depth: a string becomes `••••` plus
/// its last four characters ([`Secret::masked`]), anything else but `null` (a service-account
/// object, a list of keys) becomes `••••`.
pub fn mask_json(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .map(|(key, value)| {
                    let value = match value {
                        Value::Null => Value::Null,
                        Value::String(secret) if is_secret_key(&key) => Value::String(Secret::new(secret).masked()),
                        _ if is_secret_key(&key) => Value::String("••••".to_owned()),
                        other => mask_json(other),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(mask_json).collect()),
        other => other,
    }
}

/// What a page shows of a JSON text: pretty-printed, secret-named values masked as
/// [`mask_json`] does, at most `max_bytes` long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub text: String,
    /// The output reached `max_bytes` and stops there.
    pub truncated: bool,
}

/// [`Preview`] of `json`, which may be cut anywhere (the first bytes of a large stored answer):
/// a small tokenizer rather than `serde_json`, because a cut text does not parse and a whole one
/// of 15 MB must never be held as a `Value` by a page (it takes several times its size). The
/// output for a whole, compact text is what `serde_json::to_string_pretty` of [`mask_json`]
/// writes.
pub fn preview_json(json: &str, max_bytes: usize) -> Preview {
    // Bytes, not chars: every structural character is ASCII and never part of a multi-byte
    // character, so byte positions are character boundaries wherever they are used to slice.
    let bytes = json.as_bytes();
    let mut out = Previewer { out: String::new(), max: max_bytes, truncated: false };
    // One entry per open container: `Some(key_is_next)` for an object, `None` for a list.
    let mut stack: Vec<Option<bool>> = Vec::new();
    let mut secret_value = false;
    let mut i = 0;
    let space = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    while i < bytes.len() && !out.truncated {
        let c = bytes[i];
        match c {
            _ if space(c) => {}
            b'{' | b'[' if secret_value => {
                i = skip_value(bytes, i);
                out.push("\"••••\"");
                secret_value = false;
                continue;
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let next = (i + 1..bytes.len()).find(|&j| !space(bytes[j]));
                if let Some(j) = next.filter(|&j| bytes[j] == close) {
                    out.push(if c == b'{' { "{}" } else { "[]" });
                    i = j;
                } else {
                    out.push(if c == b'{' { "{" } else { "[" });
                    stack.push((c == b'{').then_some(true));
                    out.newline(stack.len());
                }
            }
            b'}' | b']' => {
                stack.pop();
                out.newline(stack.len());
                out.push(if c == b'}' { "}" } else { "]" });
            }
            b',' => {
                out.push(",");
                if let Some(Some(key_next)) = stack.last_mut() {
                    *key_next = true;
                }
                out.newline(stack.len());
            }
            b':' => out.push(": "),
            b'"' => {
                let end = string_end(bytes, i);
                let raw = &json[i..end];
                if let Some(Some(key_next)) = stack.last_mut()
                    && *key_next
                {
                    *key_next = false;
                    let key: String = serde_json::from_str(raw).unwrap_or_else(|_| raw.trim_matches('"').to_owned());
                    secret_value = is_secret_key(&key);
                    out.push(raw);
                } else if secret_value {
                    let value: String = serde_json::from_str(raw).unwrap_or_default();
                    out.push(&serde_json::to_string(&Secret::new(value).masked()).unwrap_or_default());
                    secret_value = false;
                } else {
                    out.push(raw);
                }
                i = end;
                continue;
            }
            _ => {
                let end = (i..bytes.len())
                    .find(|&j| matches!(bytes[j], b',' | b'}' | b']' | b':') || space(bytes[j]))
                    .unwrap_or(bytes.len());
                let scalar = &json[i..end];
                if secret_value && scalar != "null" {
                    out.push("\"••••\"");
                } else {
                    out.push(scalar);
                }
                secret_value = false;
                i = end;
                continue;
            }
        }
        i += 1;
    }
    Preview { text: out.out, truncated: out.truncated }
}

struct Previewer {
    out: String,
    max: usize,
    truncated: bool,
}

impl Previewer {
    fn push(&mut self, text: &str) {
        if self.truncated {
            return;
        }
        if self.out.len() + text.len() > self.max {
            let mut cut = self.max.saturating_sub(self.out.len()).min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            self.out.push_str(&text[..cut]);
            self.truncated = true;
        } else {
            self.out.push_str(text);
        }
    }

    fn newline(&mut self, depth: usize) {
        self.push("\n");
        for _ in 0..depth {
            self.push("  ");
        }
    }
}

/// Index just past the string that starts at `start` (its opening quote), or the end.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Index just past the object or list that starts at `start`, or the end.
fn skip_value(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut j = start;
    while j < bytes.len() {
        match bytes[j] {
            b'"' => {
                j = string_end(bytes, j);
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn previews_match_serde_for_whole_texts_and_mask_secrets() {
        let value = json!({"a": {"api_key": "sk-1234567890abcd", "n": [1, 2.5, true, null], "e": {}, "l": []},
                           "vertex_credentials": {"private_key": "-----BEGIN", "x": [1, {"y": "}"}]},
                           "token": 12345, "password": null, "s": "q\"uo\\te é", "secret": ["a", "b"],
                           "list": [{"key": "abcdefghijklmnop"}, "plain"]});
        let expected = serde_json::to_string_pretty(&mask_json(value.clone())).unwrap_or_default();
        let preview = preview_json(&value.to_string(), 1 << 20);
        assert_eq!(preview.text, expected);
        assert!(!preview.truncated);
        assert!(
            !preview.text.contains("BEGIN") && !preview.text.contains("12345") && !preview.text.contains("1234567890")
        );
    }

    #[test]
    fn previews_of_cut_texts_stay_masked_and_bounded() {
        let text = json!({"model": "m", "api_key": "sk-1234567890abcdefgh", "big": "x".repeat(10_000)}).to_string();
        for cut in [5, 20, 30, 40, 60, text.len()] {
            let cut_text = &text[..cut];
            let preview = preview_json(cut_text, 1000);
            assert!(!preview.text.contains("1234567890"), "{cut}: {}", preview.text);
            assert!(preview.text.len() <= 1000);
        }
        let preview = preview_json(&text, 1000);
        assert!(preview.truncated && preview.text.len() == 1000);
        // Even a key cut in the middle of its value shows none of it.
        let cut = text.find("sk-").map_or(0, |at| at + 12);
        assert!(!preview_json(&text[..cut], 1000).text.contains("sk-12345"));
        assert_eq!(preview_json("é", 1).text, "", "never half a character");
    }

    #[test]
    fn a_kept_key_goes_only_where_it_was_given_for() {
        let key = Secret::new("sk-stored-key-0001");
        let set = || KeyChange::Set("sk-new".into());
        // (current URL, new URL, a key stored?, the change, the key after it or Err(()) refused)
        type Case<'a> = (Option<&'a str>, Option<&'a str>, bool, KeyChange, Result<Option<&'a str>, ()>);
        let cases: &[Case] = &[
            (Some("http://a"), Some("http://a"), true, KeyChange::Keep, Ok(Some("sk-stored-key-0001"))),
            (Some("http://a/"), Some(" http://a "), true, KeyChange::Keep, Ok(Some("sk-stored-key-0001"))),
            (Some("http://a"), Some("http://evil"), true, KeyChange::Keep, Err(())),
            (None, Some("http://evil"), true, KeyChange::Keep, Err(())),
            (Some("http://a"), Some("http://evil"), true, set(), Ok(Some("sk-new"))),
            (Some("http://a"), Some("http://evil"), true, KeyChange::Remove, Ok(None)),
            (Some("http://a"), Some("http://evil"), false, KeyChange::Keep, Ok(None)),
            (Some("http://a"), None, true, KeyChange::Keep, Ok(Some("sk-stored-key-0001"))),
            (Some("http://a"), Some(""), true, KeyChange::Keep, Ok(Some("sk-stored-key-0001"))),
            (Some("http://a"), Some("http://a"), true, KeyChange::Remove, Ok(None)),
        ];
        for (current, new, stored, change, expected) in cases {
            let got = key_after_url_change(*current, *new, stored.then_some(&key), change.clone(), "provider");
            let got = got.map(|k| k.map(|k| k.expose().to_owned())).map_err(|_| ());
            let expected = expected.map(|k| k.map(str::to_owned));
            assert_eq!(got, expected, "{current:?} -> {new:?}, stored {stored}, {change:?}");
        }
        let error = key_after_url_change(Some("http://a"), Some("http://b"), Some(&key), KeyChange::Keep, "LiteLLM");
        assert!(error.is_err_and(|e| e.contains("LiteLLM URL changed") && e.contains("enter the key again")));
    }

    #[test]
    fn patches_read_as_key_changes() {
        assert_eq!(KeyChange::from_patch(None), KeyChange::Keep);
        assert_eq!(KeyChange::from_patch(Some(Some(" ".into()))), KeyChange::Keep);
        assert_eq!(KeyChange::from_patch(Some(None)), KeyChange::Remove);
        assert_eq!(KeyChange::from_patch(Some(Some(" k ".into()))), KeyChange::Set("k".into()));
    }

    #[test]
    fn credential_names_are_recognised_and_ordinary_names_are_not() {
        let secret = [
            "api_key",
            "API_KEY",
            "key",
            "token",
            "secret",
            "password",
            "Authorization",
            "credentials",
            "aws_access_key_id",
            "aws_secret_access_key",
            "aws_session_token",
            "vertex_credentials",
            "vertex_ai_credentials",
            "client_secret",
            "azure_ad_token",
            "private_key",
            "litellm_api_key",
            "master_key",
            "x-api-key",
            "openai_apikey",
            "proxy_authorization",
            "access_token",
        ];
        for name in secret {
            assert!(is_secret_key(name), "{name} is a credential");
        }
        let ordinary = [
            "model",
            "max_tokens",
            "input_cost_per_token",
            "output_cost_per_token",
            "tokenizer",
            "keywords",
            "api_base",
            "model_info",
            "context_length",
            "temperature",
            "id",
        ];
        for name in ordinary {
            assert!(!is_secret_key(name), "{name} is not a credential");
        }
    }

    #[test]
    fn secrets_are_masked_wherever_they_are() {
        let value = json!({"a": {"api_key": "sk-1234567890abcd", "n": 1}, "list": [{"litellm_api_key": "x"}],
                           "api_key": null, "vertex_credentials": {"private_key": "-----BEGIN"},
                           "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG", "max_tokens": 10});
        assert_eq!(
            mask_json(value),
            json!({"a": {"api_key": "••••abcd", "n": 1}, "list": [{"litellm_api_key": "••••"}],
                   "api_key": null, "vertex_credentials": "••••", "AWS_SECRET_ACCESS_KEY": "••••DENG",
                   "max_tokens": 10})
        );
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("sk-very-secret-value-1234");
        assert!(!format!("{secret:?}").contains("secret-value"));
        assert!(!format!("{secret}").contains("secret-value"));
        assert_eq!(secret.masked(), "••••1234");
    }

    #[test]
    fn short_secrets_are_fully_masked() {
        assert_eq!(Secret::new("abc123").masked(), "••••");
    }

    #[test]
    fn blank_values_are_no_secret() {
        assert!(Secret::non_empty(Some("  ".into())).is_none());
        assert!(Secret::non_empty(None).is_none());
        assert!(Secret::non_empty(Some("k".into())).is_some());
    }
}
