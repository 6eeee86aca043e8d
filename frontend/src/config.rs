//! Command line and environment of `litellm-frontend` (SPEC §7, §8).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use shared::db::Location;
use std::time::Duration;

use clap::{Parser, Subcommand};
use shared::Secret;

#[derive(Debug, Parser)]
#[command(
    name = "litellm-frontend",
    version,
    about = "REST API and web UI of litellm-updater. Reads and writes the shared database only; \
             every network action becomes a job that litellm-sync runs."
)]
pub struct Cli {
    /// SQLite database shared with litellm-sync; used when DATABASE_URL is not set.
    #[arg(long, env = "DATABASE_PATH", default_value = "data/models.db")]
    pub database_path: PathBuf,

    /// The database shared with litellm-sync: `postgres://user:password@host:5432/db` or
    /// `sqlite:///path/models.db`. Wins over DATABASE_PATH.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Address to listen on. Anything but loopback needs ADMIN_TOKEN (or --insecure-listen).
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,

    /// The admin credential: the login form asks for it; `Authorization: Bearer <token>` works on
    /// every route. Without it, only loopback is served.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// A file holding the admin credential (Docker/Kubernetes secrets).
    #[arg(long, env = "ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,

    /// Serve a non-loopback address without an admin credential. Anyone who can reach the port
    /// can then change providers and LiteLLM.
    #[arg(long, env = "INSECURE_LISTEN", default_value_t = false)]
    pub insecure_listen: bool,

    /// Always mark the session cookie `Secure`. Without it the cookie is `Secure` when the login
    /// request says it came over HTTPS (`X-Forwarded-Proto: https` or `Forwarded: proto=https`).
    #[arg(long, env = "SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Further host names this service is reached by (comma-separated; a port is ignored), on top
    /// of localhost, 127.0.0.1, [::1] and the listen address. Requests naming any other host in
    /// `Host` are refused: that is what stops DNS rebinding.
    #[arg(long = "allowed-host", env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// Most connections served at once; more wait in the kernel's accept queue.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 512)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers before the connection is closed.
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value_t = 10)]
    pub header_read_timeout: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exit 0 if the frontend on HOST:PORT answers `GET /health` (a container health check).
    Health,
}

/// The shortest admin token accepted: guessing a 16-character random token is out of reach even
/// without the login throttle.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The `ADMIN_TOKEN` example.env ships with: a deployment that still has it has no secret.
pub const PLACEHOLDER_TOKEN: &str = "change-me-to-a-long-random-string";

/// Settings the running service uses, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: Location,
    pub listen: SocketAddr,
    pub admin_token: Option<Secret>,
    pub secure_cookies: bool,
    /// Host names (lower case, no port, IPv6 in brackets) a request's `Host` and `Origin` may name.
    pub allowed_hosts: Vec<String>,
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

impl Settings {
    /// The defaults for a database and an address (what `Cli` gives without flags): tests and
    /// embedders start here and change what they need.
    pub fn new(database: impl Into<Location>, listen: SocketAddr, admin_token: Option<Secret>) -> Self {
        Self {
            database: database.into(),
            listen,
            admin_token,
            secure_cookies: false,
            allowed_hosts: allowed_hosts(listen.ip(), &[]),
            max_connections: 512,
            header_read_timeout: Duration::from_secs(10),
        }
    }

    /// Whether `host` (a `Host` header or an origin's host, with or without port) is served here.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalize_host(host);
        !host.is_empty() && self.allowed_hosts.contains(&host)
    }
}

/// `Example.COM.:8000` → `example.com`, `[::1]:80` → `[::1]`, `::1` → `[::1]`.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim().to_ascii_lowercase();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map(|(ip, _)| format!("[{ip}]")).unwrap_or_default()
    } else if host.matches(':').count() > 1 {
        format!("[{host}]")
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name.to_owned(),
            Some(_) => String::new(),
            None => host,
        }
    };
    name.trim_end_matches('.').to_owned()
}

/// Loopback names, the listen address (unless it is all interfaces) and the operator's names.
fn allowed_hosts(listen: IpAddr, extra: &[String]) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "[::1]"].iter().map(|h| (*h).to_owned()).collect();
    if !listen.is_unspecified() {
        hosts.push(normalize_host(&listen.to_string()));
    }
    hosts.extend(extra.iter().map(|h| normalize_host(h)).filter(|h| !h.is_empty()));
    hosts.sort();
    hosts.dedup();
    hosts
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read ADMIN_TOKEN_FILE {path}: {source}")]
    TokenFile { path: PathBuf, source: std::io::Error },
    #[error("ADMIN_TOKEN_FILE {0} is empty")]
    EmptyTokenFile(PathBuf),
    #[error("set either ADMIN_TOKEN or ADMIN_TOKEN_FILE, not both")]
    TwoTokens,
    #[error(
        "ADMIN_TOKEN is too short (length {0}): use at least {MIN_TOKEN_CHARS} random characters \
         (for example: openssl rand -hex 32)"
    )]
    ShortToken(usize),
    #[error(
        "ADMIN_TOKEN is still example.env's placeholder {PLACEHOLDER_TOKEN:?}: set a random one \
         (for example: openssl rand -hex 32)"
    )]
    PlaceholderToken,
    #[error(transparent)]
    Database(#[from] shared::DbError),
    #[error("MAX_CONNECTIONS must be at least 1")]
    NoConnections,
    #[error("HEADER_READ_TIMEOUT must be at least 1 second")]
    NoHeaderTime,
    #[error(
        "refusing to listen on {0} without an admin credential: set ADMIN_TOKEN (or ADMIN_TOKEN_FILE), \
         listen on 127.0.0.1, or pass --insecure-listen if the network is trusted"
    )]
    InsecureListen(IpAddr),
}

impl Cli {
    /// Where the health probe knocks: the configured address, or loopback when listening on all.
    pub fn probe_address(&self) -> SocketAddr {
        let host = if self.host.is_unspecified() {
            if self.host.is_ipv4() { IpAddr::from([127, 0, 0, 1]) } else { IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]) }
        } else {
            self.host
        };
        SocketAddr::new(host, self.port)
    }

    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let from_file = match &self.admin_token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::TokenFile { path: path.clone(), source })?;
                let token = text.trim().to_owned();
                if token.is_empty() {
                    return Err(ConfigError::EmptyTokenFile(path.clone()));
                }
                Some(token)
            }
            None => None,
        };
        let direct = self.admin_token.clone().filter(|t| !t.trim().is_empty());
        let admin_token = match (direct, from_file) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoTokens),
            (token, None) | (None, token) => token.map(|t| Secret::new(t.trim())),
        };
        if let Some(token) = &admin_token {
            if token.expose() == PLACEHOLDER_TOKEN {
                return Err(ConfigError::PlaceholderToken);
            }
            let chars = token.expose().chars().count();
            if chars < MIN_TOKEN_CHARS {
                return Err(ConfigError::ShortToken(chars));
            }
        }
        if admin_token.is_none() && !self.host.is_loopback() && !self.insecure_listen {
            return Err(ConfigError::InsecureListen(self.host));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::NoConnections);
        }
        if self.header_read_timeout == 0 {
            return Err(ConfigError::NoHeaderTime);
        }
        let listen = SocketAddr::new(self.host, self.port);
        let database = Location::from_settings(self.database_url.as_deref(), &self.database_path)?;
        Ok(Settings {
            allowed_hosts: allowed_hosts(self.host, &self.allowed_hosts),
            secure_cookies: self.secure_cookies,
            max_connections: self.max_connections,
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            ..Settings::new(database, listen, admin_token)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::parse_from(std::iter::once("litellm-frontend").chain(args.iter().copied()))
    }

    #[test]
    fn loopback_needs_no_token_but_other_addresses_do() {
        assert!(cli(&[]).settings().is_ok_and(|s| s.listen.to_string() == "127.0.0.1:8000"));
        let refused = cli(&["--host", "0.0.0.0"]).settings();
        assert!(matches!(refused, Err(ConfigError::InsecureListen(_))));
        assert!(cli(&["--host", "0.0.0.0", "--insecure-listen"]).settings().is_ok());
        let secured = cli(&["--host", "0.0.0.0", "--admin-token", "s3cret-token-0123456"]).settings();
        assert!(secured.is_ok_and(|s| s.admin_token.is_some_and(|t| t.expose() == "s3cret-token-0123456")));
    }

    #[test]
    fn short_and_placeholder_tokens_are_refused() {
        assert!(matches!(cli(&["--admin-token", "a"]).settings(), Err(ConfigError::ShortToken(1))));
        assert!(matches!(cli(&["--admin-token", "fifteen-chars-x"]).settings(), Err(ConfigError::ShortToken(15))));
        assert!(cli(&["--admin-token", "sixteen-chars-xx"]).settings().is_ok());
        let placeholder = cli(&["--admin-token", PLACEHOLDER_TOKEN]).settings();
        assert!(matches!(placeholder, Err(ConfigError::PlaceholderToken)));
        let example =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../example.env")).unwrap_or_default();
        assert!(example.contains(&format!("ADMIN_TOKEN={PLACEHOLDER_TOKEN}")), "example.env's placeholder changed");
    }

    #[test]
    fn served_hosts_are_loopback_the_listen_address_and_the_configured_names() {
        let local = cli(&[]).settings().expect("settings");
        for host in ["localhost", "localhost:8000", "127.0.0.1:1", "[::1]:8000", "LOCALHOST.", "127.0.0.1"] {
            assert!(local.allows_host(host), "{host}");
        }
        for host in ["evil.example", "evil.example:8000", "", "127.0.0.1.evil.example", "localhost:80x", "[::2]"] {
            assert!(!local.allows_host(host), "{host}");
        }
        let public = cli(&[
            "--host",
            "0.0.0.0",
            "--admin-token",
            "a-long-enough-token",
            "--allowed-host",
            "Updater.Example.com,10.0.0.5:8000",
        ])
        .settings()
        .expect("settings");
        assert!(public.allows_host("updater.example.com:443") && public.allows_host("10.0.0.5"));
        assert!(!public.allows_host("0.0.0.0"), "all interfaces is not a name");
        let bound = cli(&["--host", "192.168.1.9", "--insecure-listen"]).settings().expect("settings");
        assert!(bound.allows_host("192.168.1.9:8000"));
    }

    #[test]
    fn the_token_can_come_from_a_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file-token-0123\n").expect("write");
        let path_arg = path.to_string_lossy().into_owned();
        let settings = cli(&["--admin-token-file", &path_arg, "--host", "::"]).settings();
        assert!(settings.is_ok_and(|s| s.admin_token.is_some_and(|t| t.expose() == "from-file-token-0123")));
        std::fs::write(&path, "  \n").expect("write");
        assert!(matches!(cli(&["--admin-token-file", &path_arg]).settings(), Err(ConfigError::EmptyTokenFile(_))));
        assert!(matches!(
            cli(&["--admin-token-file", &path_arg, "--admin-token", "x"]).settings(),
            Err(ConfigError::TwoTokens | ConfigError::EmptyTokenFile(_))
        ));
        let missing = cli(&["--admin-token-file", "/nonexistent/token"]).settings();
        assert!(matches!(missing, Err(ConfigError::TokenFile { .. })));
    }
}
