//! Command line and environment of `litellm-frontend` (SPEC §7, §8).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

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
    /// SQLite database shared with litellm-sync.
    #[arg(long, env = "DATABASE_PATH", default_value = "data/models.db")]
    pub database_path: PathBuf,

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

    /// Mark the session cookie `Secure` (set when served behind HTTPS).
    #[arg(long, env = "SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Exit 0 if the frontend on HOST:PORT answers `GET /health` (a container health check).
    Health,
}

/// Settings the running service uses, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_path: PathBuf,
    pub listen: SocketAddr,
    pub admin_token: Option<Secret>,
    pub secure_cookies: bool,
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
        if admin_token.is_none() && !self.host.is_loopback() && !self.insecure_listen {
            return Err(ConfigError::InsecureListen(self.host));
        }
        Ok(Settings {
            database_path: self.database_path.clone(),
            listen: SocketAddr::new(self.host, self.port),
            admin_token,
            secure_cookies: self.secure_cookies,
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
        let secured = cli(&["--host", "0.0.0.0", "--admin-token", "s3cret-token"]).settings();
        assert!(secured.is_ok_and(|s| s.admin_token.is_some_and(|t| t.expose() == "s3cret-token")));
    }

    #[test]
    fn the_token_can_come_from_a_file() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("token");
        std::fs::write(&path, "from-file-token\n").expect("write");
        let path_arg = path.to_string_lossy().into_owned();
        let settings = cli(&["--admin-token-file", &path_arg, "--host", "::"]).settings();
        assert!(settings.is_ok_and(|s| s.admin_token.is_some_and(|t| t.expose() == "from-file-token")));
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
