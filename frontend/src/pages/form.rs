//! Reading form fields: every field arrives as text, so a typo is a message on the re-rendered
//! form rather than a bare rejection.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::DbError;
use shared::types::Pricing;

use super::PageError;

/// A form page shown again with what was wrong: 422, so scripts see the refusal.
pub fn refused(page: impl IntoResponse) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

/// A refusal the form shows (invalid input, a name taken); any other error fails the page.
pub fn message(error: DbError) -> Result<String, PageError> {
    match error {
        DbError::Invalid(m) | DbError::Conflict(m) => Ok(m),
        other => Err(other.into()),
    }
}

/// `a, b,,c ` → `["a", "b", "c"]`.
pub fn list(text: &str) -> Vec<String> {
    text.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

pub fn text(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A checkbox: present (any value but `false`/`0`) means ticked.
pub fn checked(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !matches!(v, "" | "false" | "0" | "off"))
}

pub fn opt_int(label: &str, text: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| format!("{label} must be a whole number, got {text:?}"))
}

pub fn opt_cost(label: &str, text: &str) -> Result<Option<f64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(cost) if cost.is_finite() && cost >= 0.0 => Ok(Some(cost)),
        _ => Err(format!("{label} must be a number of dollars per token, zero or more (like 0.0000015), got {text:?}")),
    }
}

/// Both prices empty means no pricing.
pub fn pricing(input: &str, output: &str) -> Result<Option<Pricing>, String> {
    let pricing = Pricing {
        input_cost_per_token: opt_cost("input cost per token", input)?,
        output_cost_per_token: opt_cost("output cost per token", output)?,
    };
    Ok((!pricing.is_empty()).then_some(pricing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_or_say_why_not() {
        assert_eq!(list(" a, b,,c "), ["a", "b", "c"]);
        assert_eq!(opt_int("interval", " 60 "), Ok(Some(60)));
        assert_eq!(opt_int("interval", ""), Ok(None));
        assert!(opt_int("interval", "1m").is_err_and(|e| e.contains("whole number")));
        assert!(opt_cost("input", "-1").is_err());
        assert!(opt_cost("input", "NaN").is_err());
        assert_eq!(pricing("", " "), Ok(None));
        assert_eq!(pricing("0.5", "").ok().flatten().and_then(|p| p.input_cost_per_token), Some(0.5));
        assert!(checked(&Some("on".into())) && !checked(&None) && !checked(&Some("false".into())));
    }
}
