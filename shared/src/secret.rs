//! API keys that must never be printed: `Debug` and `Display` redact, and the only way to the
//! plain value is the explicit [`Secret::expose`].

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
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

impl Type<Sqlite> for Secret {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
}

impl<'r> Decode<'r, Sqlite> for Secret {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        Ok(Self::new(<String as Decode<Sqlite>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
