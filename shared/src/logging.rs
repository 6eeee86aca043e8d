//! Log set-up both binaries share (SPEC §8): one line per event on stderr, `LOG_LEVEL` (or
//! `RUST_LOG`) filters, `LOG_FORMAT=json` for one JSON object per line.

use tracing_subscriber::EnvFilter;

/// A bare `debug`/`trace` level keeps the libraries' chatter (every SQL statement, every
/// connection) at `info`; a full filter (`info,backend=debug`) is used as given.
pub fn init() {
    let filter = std::env::var("LOG_LEVEL")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .map(|level| level.trim().to_lowercase())
        .map(|level| match level.as_str() {
            "debug" | "trace" => format!("{level},sqlx=info,hyper=info,hyper_util=info,reqwest=info"),
            _ => level,
        })
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let json = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
