//! Where the database is: `DATABASE_URL` (`sqlite://…` or `postgres://…`) or, as before,
//! `DATABASE_PATH`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::DbError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// The URL as given; it may hold a password, so it is only shown through `Display`.
    Postgres(String),
}

impl Location {
    /// Reads `sqlite:///abs/path`, `sqlite://relative/path`, `sqlite:path`, `postgres://…` or
    /// `postgresql://…`.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let parsed = url::Url::parse(url).map_err(|error| {
                DbError::Invalid(format!("DATABASE_URL is not a valid PostgreSQL URL ({error}); expected postgres://user:password@host:5432/database"))
            })?;
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(DbError::Invalid(
                    "DATABASE_URL names no PostgreSQL host; expected postgres://user:password@host:5432/database"
                        .into(),
                ));
            }
            return Ok(Self::Postgres(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(DbError::Invalid(
                    "DATABASE_URL names no SQLite file; expected sqlite:///absolute/path.db or sqlite://relative/path.db"
                        .into(),
                ));
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        Err(DbError::Invalid(format!(
            "DATABASE_URL must start with sqlite:// or postgres:// (got {})",
            Self::Postgres(url.to_owned())
        )))
    }

    /// `DATABASE_URL` when set, otherwise the SQLite file at `DATABASE_PATH`.
    pub fn from_settings(url: Option<&str>, path: &Path) -> Result<Self, DbError> {
        match url.map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => Self::parse(url),
            None => Ok(Self::Sqlite(path.to_path_buf())),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// The URL to hand to another process (`DATABASE_URL`), password included.
    pub fn to_url(&self) -> String {
        match self {
            Self::Sqlite(path) if path.is_absolute() => format!("sqlite://{}", path.display()),
            Self::Sqlite(path) => format!("sqlite:{}", path.display()),
            Self::Postgres(url) => url.clone(),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Self::Sqlite(path)
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Self {
        Self::Sqlite(path.to_path_buf())
    }
}

/// The location without its password, for logs and messages.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => match url::Url::parse(url) {
                Ok(mut parsed) => {
                    if parsed.password().is_some() {
                        let _ = parsed.set_password(Some("***"));
                    }
                    parsed.set_query(None);
                    write!(f, "{parsed}")
                }
                Err(_) => f.write_str("postgres://(unreadable URL)"),
            },
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths_are_read_as_operators_write_them() {
        let cases: &[(&str, Location)] = &[
            ("sqlite:///data/models.db", Location::Sqlite("/data/models.db".into())),
            ("sqlite://data/models.db", Location::Sqlite("data/models.db".into())),
            ("sqlite:data/models.db", Location::Sqlite("data/models.db".into())),
            ("sqlite:///data/models.db?mode=rwc", Location::Sqlite("/data/models.db".into())),
            ("postgres://u:p@db:5432/updater", Location::Postgres("postgres://u:p@db:5432/updater".into())),
            ("postgresql://db/updater", Location::Postgres("postgresql://db/updater".into())),
        ];
        for (url, expected) in cases {
            assert_eq!(&Location::parse(url).expect(url), expected, "{url}");
        }
        for bad in ["mysql://db/x", "sqlite://", "postgres://", "/data/models.db"] {
            assert!(Location::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_password_is_never_shown() {
        let location = Location::parse("postgres://updater:s3cret-pw@db:5432/updater?sslmode=require").expect("parse");
        let shown = format!("{location} {location:?}");
        assert!(!shown.contains("s3cret-pw"), "{shown}");
        assert!(shown.contains("updater:***@db:5432/updater"), "{shown}");
        let error = Location::parse("mysql://root:s3cret-pw@db/x").expect_err("refused").to_string();
        assert!(!error.contains("s3cret-pw"), "{error}");
    }

    #[test]
    fn the_url_wins_over_the_path() {
        let path = Path::new("data/models.db");
        assert_eq!(Location::from_settings(None, path).expect("path"), Location::Sqlite(path.into()));
        assert_eq!(Location::from_settings(Some(" "), path).expect("blank"), Location::Sqlite(path.into()));
        assert_eq!(
            Location::from_settings(Some("postgres://db/u"), path).expect("url"),
            Location::Postgres("postgres://db/u".into())
        );
        assert_eq!(Location::Sqlite("/a/b.db".into()).to_url(), "sqlite:///a/b.db");
        assert_eq!(
            Location::parse(&Location::Sqlite("a/b.db".into()).to_url()).expect("round trip"),
            Location::Sqlite("a/b.db".into())
        );
    }
}
