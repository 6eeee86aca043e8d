//! Small helpers the end-to-end tests and the benchmark share.

use std::future::Future;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now (for a service the caller is about to start, or
/// for an upstream that must be unreachable).
pub async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Polls `check` every 50 ms until it holds; panics naming `what` after `timeout`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A reqwest client for loopback servers. The workspace's reqwest brings no TLS provider of its
/// own (the services install ring at start-up), so this installs it too.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(timeout).build().expect("an HTTP client without TLS settings builds")
}
