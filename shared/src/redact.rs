//! Removing secrets from text that came from outside. An upstream or LiteLLM may quote the
//! request back in an error ("invalid key sk-…", "headers: {'Authorization': 'Bearer sk-…'}"),
//! and that text becomes job errors, sync-run messages, pages and log lines. Every such text
//! passes through a [`Redactor`] built from the secrets configured right now (the LiteLLM master
//! key, every provider key) before it is stored, logged or printed.
//!
//! Pure: the caller gives the secrets; nothing here reads the database.

use std::borrow::Cow;

use serde_json::Value;

/// What a removed secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Secrets shorter than this are not searched for: replacing every `abc` in every message
/// would garble text while protecting nothing a guess would not find.
pub const MIN_SECRET_LEN: usize = 4;

/// Header names whose value is a credential, matched case-insensitively wherever text quotes
/// them (`Authorization: Bearer …`, `'authorization': '…'`, `"x-api-key":"…"`).
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "x-litellm-api-key", "x-api-key", "api-key"];

/// Removes a fixed set of secrets, and any quoted credential header, from text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so that a secret containing another is removed whole.
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for these secrets (blank and too short ones are ignored; `Bearer <key>` needs
    /// no entry of its own: the key inside it is found).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().trim().to_owned())
            .filter(|s| s.chars().count() >= MIN_SECRET_LEN)
            .collect();
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        secrets.dedup();
        Self { secrets }
    }

    /// `text` with every secret and every quoted credential header value replaced by
    /// [`REDACTED`]; borrowed when there was nothing to remove.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        match redact_headers(&out) {
            Some(cleaned) => Cow::Owned(cleaned),
            None => out,
        }
    }

    /// [`Redactor::redact`] applied to every string (and object key) inside a JSON value.
    pub fn redact_json(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Cow::Owned(clean) = self.redact(text) {
                    *text = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.redact_json(item)),
            Value::Object(object) => {
                let dirty: Vec<String> =
                    object.keys().filter(|k| matches!(self.redact(k), Cow::Owned(_))).cloned().collect();
                for key in dirty {
                    if let Some(inner) = object.remove(&key) {
                        object.insert(self.redact(&key).into_owned(), inner);
                    }
                }
                object.values_mut().for_each(|inner| self.redact_json(inner));
            }
            _ => {}
        }
    }
}

/// The text with the value of every quoted credential header replaced, or `None` if it quotes
/// none. A value runs from after `name:` (or `name=`, quotes allowed around either) to its
/// closing quote, or else to the end of the line or a `,` `;` `}` `)` `]`.
fn redact_headers(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if !CREDENTIAL_HEADERS.iter().any(|name| lower.contains(name)) {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut changed = false;
    let mut at = 0;
    while at < bytes.len() {
        let Some(name) = CREDENTIAL_HEADERS.iter().find(|name| lower.as_bytes()[at..].starts_with(name.as_bytes()))
        else {
            at += 1;
            continue;
        };
        let Some((start, end)) = header_value(bytes, at + name.len()) else {
            at += name.len();
            continue;
        };
        if end > start && &text[start..end] != REDACTED {
            out.push_str(&text[copied..start]);
            out.push_str(REDACTED);
            copied = end;
            changed = true;
        }
        at = end.max(at + name.len());
    }
    changed.then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

/// Where the value after a header name at `at` starts and ends, if a `:` or `=` follows.
fn header_value(bytes: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let skip = |at: &mut usize, set: &[u8]| {
        while *at < bytes.len() && set.contains(&bytes[*at]) {
            *at += 1;
        }
    };
    skip(&mut at, b"\"'");
    skip(&mut at, b" \t");
    if at >= bytes.len() || !matches!(bytes[at], b':' | b'=') {
        return None;
    }
    at += 1;
    skip(&mut at, b" \t");
    let quote = bytes.get(at).copied().filter(|b| matches!(b, b'"' | b'\''));
    if quote.is_some() {
        at += 1;
    }
    let start = at;
    while at < bytes.len() {
        // A value redacted before is one piece, brackets included.
        if bytes[at..].starts_with(REDACTED.as_bytes()) {
            at += REDACTED.len();
            continue;
        }
        let b = bytes[at];
        let ends = match quote {
            Some(q) => b == q || b == b'\n',
            None => matches!(b, b'\n' | b'\r' | b',' | b';' | b'}' | b')' | b']' | b'"' | b'\''),
        };
        if ends {
            break;
        }
        at += 1;
    }
    // Unquoted values do not keep trailing blanks.
    let mut end = at;
    while end > start && bytes[end - 1] == b' ' {
        end -= 1;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const MASTER: &str = "sk-master-0042-secret";
    const PROVIDER: &str = "ollama-cloud-key-1234";

    fn redactor() -> Redactor {
        Redactor::new([MASTER, PROVIDER, "", "  ", "abc", "no"])
    }

    #[test]
    fn every_secret_and_credential_header_is_removed() {
        let cases = [
            ("nothing to hide", "nothing to hide"),
            ("invalid key sk-master-0042-secret passed", "invalid key [REDACTED] passed"),
            ("Bearer ollama-cloud-key-1234", "Bearer [REDACTED]"),
            ("keys sk-master-0042-secret and ollama-cloud-key-1234", "keys [REDACTED] and [REDACTED]"),
            ("twice: sk-master-0042-secretsk-master-0042-secret", "twice: [REDACTED][REDACTED]"),
            ("Authorization: Bearer unknown-token-99", "Authorization: [REDACTED]"),
            ("(request headers: Authorization: Bearer zzz)", "(request headers: Authorization: [REDACTED])"),
            ("{'Authorization': 'Bearer zzz', 'x': 1}", "{'Authorization': '[REDACTED]', 'x': 1}"),
            (r#"{"authorization":"Bearer zzz"}"#, r#"{"authorization":"[REDACTED]"}"#),
            ("AUTHORIZATION=Basic dXNlcjpwYXNz; next", "AUTHORIZATION=[REDACTED]; next"),
            ("x-api-key: k-123456\nline two", "x-api-key: [REDACTED]\nline two"),
            ("x-litellm-api-key: Bearer k-1, ok", "x-litellm-api-key: [REDACTED], ok"),
            ("authorization header missing", "authorization header missing"),
            ("Authorization: ", "Authorization: "),
            ("short secrets like abc and no stay", "short secrets like abc and no stay"),
            ("unicode ✓ sk-master-0042-secret ✓", "unicode ✓ [REDACTED] ✓"),
        ];
        let r = redactor();
        for (text, expected) in cases {
            assert_eq!(r.redact(text), expected, "{text:?}");
            assert_eq!(r.redact(expected), expected, "redacting twice changes nothing: {expected:?}");
        }
    }

    #[test]
    fn a_secret_inside_another_is_removed_whole() {
        let r = Redactor::new(["sk-1234", "sk-1234-longer"]);
        assert_eq!(r.redact("sk-1234-longer / sk-1234"), "[REDACTED] / [REDACTED]");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(redactor().redact("LiteLLM answered HTTP 500"), Cow::Borrowed(_)));
        assert!(matches!(Redactor::default().redact("sk-anything"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_strings_and_keys_are_redacted_everywhere() {
        let mut value = json!({
            "error": "LiteLLM answered HTTP 401: bad key sk-master-0042-secret",
            "results": [{"error": "Authorization: Bearer ollama-cloud-key-1234"}, {"ok": true, "n": 3}],
            "ollama-cloud-key-1234": "as a key",
        });
        redactor().redact_json(&mut value);
        assert_eq!(
            value,
            json!({
                "error": "LiteLLM answered HTTP 401: bad key [REDACTED]",
                "results": [{"error": "Authorization: [REDACTED]"}, {"ok": true, "n": 3}],
                "[REDACTED]": "as a key",
            })
        );
    }
}
