//! Request extractors whose every rejection is an [`ApiError`] (`{"detail": "..."}`), never
//! axum's plain-text default.
//!
//! - [`Input`] reads a JSON body or an HTML form by `Content-Type`. Both become one JSON object
//!   (a form's values are strings; a key given twice becomes a list) and are read into the same
//!   type, whose fields use the [`lenient`] readers so `"true"`, `"on"`, `"30"`, `"a, b"` or
//!   `'["a","b"]'` mean what a form or a script means by them.
//! - [`Query`] reads the query string the same way; [`Path`] reads path parameters.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ApiError;

const FORM: &str = "application/x-www-form-urlencoded";

/// A JSON or form body read into `T`.
#[derive(Debug)]
pub struct Input<T>(pub T);

impl<T, S> FromRequest<S> for Input<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase());
        let bytes = Bytes::from_request(request, state).await.map_err(body_rejection)?;
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        let value = match content_type.as_deref() {
            Some(FORM) => form_object(&bytes),
            _ if blank => Value::Object(Map::new()),
            Some(json) if json == "application/json" || json.ends_with("+json") => parse_json(&bytes)?,
            // curl and small scripts often send JSON without saying so.
            None => parse_json(&bytes)?,
            Some(other) => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    format!("send JSON (Content-Type: application/json) or a form ({FORM}), not {other}"),
                ));
            }
        };
        read(value).map(Input).map_err(|detail| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail))
    }
}

/// The query string read into `T` (400 on a bad value).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        read(form_object(query.as_bytes()))
            .map(Query)
            .map_err(|detail| ApiError::bad_request(format!("invalid query: {detail}")))
    }
}

/// Path parameters read into `T` (400 when, say, an id is not a number).
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
    }
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        let limit = crate::app::MAX_BODY_BYTES / 1024;
        return ApiError::new(status, format!("request body too large (the limit is {limit} KiB)"));
    }
    ApiError::new(status, format!("cannot read the request body: {}", rejection.body_text()))
}

fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| ApiError::bad_request(format!("malformed JSON: {error}")))
}

/// A form or query string as a JSON object of strings; a repeated key (or `key[]`) is a list.
pub fn form_object(bytes: &[u8]) -> Value {
    let mut object = Map::new();
    for (key, value) in url::form_urlencoded::parse(bytes) {
        let (key, listed) = match key.strip_suffix("[]") {
            Some(stripped) => (stripped.to_owned(), true),
            None => (key.into_owned(), false),
        };
        let value = Value::String(value.into_owned());
        match object.get_mut(&key) {
            Some(Value::Array(items)) => items.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
            None => {
                object.insert(key, if listed { Value::Array(vec![value]) } else { value });
            }
        }
    }
    Value::Object(object)
}

/// Reads `value` into `T`, naming the field at fault.
fn read<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        if path == "." { error.inner().to_string() } else { format!("{path}: {}", error.inner()) }
    })
}

/// Field readers that accept what both JSON and forms send. `opt_*` read `Option<T>` (`null` and,
/// for non-strings, `""` are `None`); `patch_*` read `Option<Option<T>>` for partial updates,
/// where an absent field (serde `default`) is `None` and `null` is `Some(None)` ("clear").
pub mod lenient {
    use std::str::FromStr;

    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};
    use serde_json::{Map, Value};
    use shared::types::Pricing;

    fn with<'de, D, T>(deserializer: D, convert: impl FnOnce(Value) -> Result<T, String>) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
    {
        convert(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }

    fn kind(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "an object",
        }
    }

    fn blank(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::String(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    pub fn to_bool(value: Value) -> Result<bool, String> {
        match &value {
            Value::Bool(b) => Ok(*b),
            Value::Number(n) if n.as_i64() == Some(0) => Ok(false),
            Value::Number(n) if n.as_i64() == Some(1) => Ok(true),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "yes" => Ok(true),
                "false" | "0" | "off" | "no" => Ok(false),
                _ => Err(format!("expected true or false, got {s:?}")),
            },
            // A form's hidden "false" plus a checked checkbox's "on" arrive as a list: the last wins.
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                items.last().cloned().map_or(Ok(false), to_bool)
            }
            other => Err(format!("expected true or false, got {}", kind(other))),
        }
    }

    pub fn to_i64(value: Value) -> Result<Option<i64>, String> {
        match &value {
            _ if blank(&value) => Ok(None),
            Value::Number(n) => n.as_i64().map(Some).ok_or_else(|| format!("expected a whole number, got {n}")),
            Value::String(s) => s.trim().parse().map(Some).map_err(|_| format!("expected a whole number, got {s:?}")),
            other => Err(format!("expected a whole number, got {}", kind(other))),
        }
    }

    pub fn to_f64(value: Value) -> Result<Option<f64>, String> {
        let number = match &value {
            _ if blank(&value) => return Ok(None),
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            other => return Err(format!("expected a number, got {}", kind(other))),
        };
        number.filter(|n| n.is_finite()).map(Some).ok_or_else(|| format!("expected a number, got {value}"))
    }

    pub fn to_string(value: Value) -> Result<Option<String>, String> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Err(format!("expected a string, got {}", kind(&other))),
        }
    }

    /// A list of strings: a JSON list, or a string holding a JSON list or comma-separated items.
    pub fn to_list(value: Value) -> Result<Option<Vec<String>>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(format!("expected a list of strings, found {} in it", kind(&other))),
                })
                .filter(|item| item.as_ref().map_or(true, |s| !s.is_empty()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Value::String(s) if s.trim_start().starts_with('[') => {
                let parsed: Value = serde_json::from_str(&s).map_err(|e| format!("not a JSON list: {e}"))?;
                to_list(parsed)
            }
            Value::String(s) => {
                Ok(Some(s.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()))
            }
            other => Err(format!("expected a list or comma-separated text, got {}", kind(&other))),
        }
    }

    /// A JSON object, or (from a form) a string holding one; `""` is `None`.
    pub fn to_object(value: Value) -> Result<Option<Map<String, Value>>, String> {
        match value {
            Value::Null => Ok(None),
            Value::Object(object) => Ok(Some(object)),
            Value::String(s) if s.trim().is_empty() => Ok(None),
            Value::String(s) => match serde_json::from_str(&s) {
                Ok(Value::Object(object)) => Ok(Some(object)),
                Ok(other) => Err(format!("expected a JSON object, got {}", kind(&other))),
                Err(e) => Err(format!("expected a JSON object: {e}")),
            },
            other => Err(format!("expected an object, got {}", kind(&other))),
        }
    }

    /// A value of one of the vocabulary enums (`ProviderType`, `OllamaMode`, …); `""` is `None`.
    pub fn to_enum<T>(value: Value) -> Result<Option<T>, String>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match value {
            _ if blank(&value) => Ok(None),
            Value::String(s) => s.parse().map(Some).map_err(|e: T::Err| e.to_string()),
            other => Err(format!("expected a string, got {}", kind(&other))),
        }
    }

    /// `{"input_cost_per_token": .., "output_cost_per_token": ..}`, non-negative numbers.
    pub fn to_pricing(value: Value) -> Result<Option<Pricing>, String> {
        let Some(mut object) = to_object(value)? else { return Ok(None) };
        if let Some(unknown) =
            object.keys().find(|k| !matches!(k.as_str(), "input_cost_per_token" | "output_cost_per_token"))
        {
            return Err(format!("unknown price {unknown:?} (expected input_cost_per_token, output_cost_per_token)"));
        }
        let mut price = |name: &str| -> Result<Option<f64>, String> {
            let price = to_f64(object.remove(name).unwrap_or(Value::Null)).map_err(|e| format!("{name}: {e}"))?;
            match price {
                Some(p) if p < 0.0 => Err(format!("{name} must not be negative, got {p}")),
                other => Ok(other),
            }
        };
        let pricing = Pricing {
            input_cost_per_token: price("input_cost_per_token")?,
            output_cost_per_token: price("output_cost_per_token")?,
        };
        Ok(Some(pricing).filter(|p| !p.is_empty()))
    }

    pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        with(d, to_bool)
    }

    pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        with(d, |v| if blank(&v) { Ok(None) } else { to_bool(v).map(Some) })
    }

    pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        with(d, to_i64)
    }

    pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        with(d, to_f64)
    }

    pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        with(d, to_string)
    }

    pub fn opt_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
        with(d, to_list)
    }

    pub fn opt_enum<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        with(d, to_enum)
    }

    pub fn opt_pricing<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Pricing>, D::Error> {
        with(d, to_pricing)
    }

    pub fn patch_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
        with(d, to_i64).map(Some)
    }

    pub fn patch_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<f64>>, D::Error> {
        with(d, to_f64).map(Some)
    }

    pub fn patch_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        with(d, to_string).map(Some)
    }

    pub fn patch_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
        with(d, to_list).map(Some)
    }

    pub fn patch_object<'de, D>(d: D) -> Result<Option<Option<Map<String, Value>>>, D::Error>
    where
        D: Deserializer<'de>,
    {
        with(d, to_object).map(Some)
    }

    pub fn patch_enum<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        with(d, to_enum).map(Some)
    }

    pub fn patch_pricing<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Pricing>>, D::Error> {
        with(d, to_pricing).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::lenient::*;
    use super::*;

    #[test]
    fn forms_become_objects_and_repeated_keys_lists() {
        let object = form_object(b"name=a+b&ids=1&ids=2&tags%5B%5D=x&empty=");
        assert_eq!(object, json!({"name": "a b", "ids": ["1", "2"], "tags": ["x"], "empty": ""}));
    }

    #[test]
    fn lenient_values_read_what_forms_and_scripts_send() {
        assert_eq!(to_bool(json!("on")), Ok(true));
        assert_eq!(to_bool(json!(["false", "on"])), Ok(true));
        assert!(to_bool(json!("maybe")).is_err());
        assert!(to_bool(json!([1])).is_err(), "only a form's repeated field is a list");
        assert_eq!(to_i64(json!("45")), Ok(Some(45)));
        assert_eq!(to_i64(json!("")), Ok(None));
        assert!(to_i64(json!(1.5)).is_err());
        assert_eq!(to_list(json!("a, b,,c")), Ok(Some(vec!["a".into(), "b".into(), "c".into()])));
        assert_eq!(to_list(json!(r#"["x", "y"]"#)), Ok(Some(vec!["x".into(), "y".into()])));
        assert!(to_list(json!([1])).is_err());
        assert!(to_pricing(json!({"input_cost_per_token": -1})).is_err());
        assert!(to_pricing(json!({"input_cost": 1})).is_err());
        assert_eq!(to_pricing(json!({})), Ok(None));
    }
}
