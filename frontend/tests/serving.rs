//! The real `litellm-frontend` binary over real sockets: a client that sends half a request
//! (slowloris) is cut off after the header-read timeout, connections beyond the cap wait
//! unaccepted instead of piling up, a rebinding `Host` is refused on the wire, and SIGTERM
//! still stops the service gracefully.

use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::{free_port, wait_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A frontend on a migrated database with a 1 s header-read timeout and room for `cap` clients.
async fn start(cap: usize) -> (Child, u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("models.db");
    let db = shared::Database::open(&path).await.expect("open");
    db.migrate().await.expect("migrate");
    db.close().await;
    let port = free_port().await;
    let child = Command::new(env!("CARGO_BIN_EXE_litellm-frontend"))
        .env_clear()
        .env("DATABASE_PATH", &path)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("HEADER_READ_TIMEOUT", "1")
        .env("MAX_CONNECTIONS", cap.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start");
    wait_until("the frontend to answer", Duration::from_secs(15), || async move {
        get(port, "localhost").await.is_some_and(|head| head.starts_with("HTTP/1.1 200"))
    })
    .await;
    (child, port, dir)
}

/// `GET /health` with `Host: host`; the status line and headers, `None` if nothing came back in 3 s.
async fn get(port: u16, host: &str) -> Option<String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        let request = format!("GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(String::from_utf8_lossy(&answer).into_owned()).filter(|a| !a.is_empty())
    };
    tokio::time::timeout(Duration::from_secs(3), exchange).await.ok().flatten()
}

/// A connection that sent half a request head and nothing more.
async fn half_sent(port: u16) -> TcpStream {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.expect("write");
    stream
}

/// How long until the server closes `stream` (reads until end of stream), at most `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0u8; 512];
    let read_to_end = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(limit, read_to_end).await.ok().map(|()| started.elapsed())
}

#[tokio::test]
async fn half_sent_requests_are_closed_after_the_header_timeout() {
    let (_child, port, _dir) = start(64).await;
    let mut slow: Vec<TcpStream> = Vec::new();
    for _ in 0..20 {
        slow.push(half_sent(port).await);
    }
    let mut silent = TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    for stream in slow.iter_mut().chain(std::iter::once(&mut silent)) {
        let closed = closed_within(stream, Duration::from_secs(4)).await;
        assert!(closed.is_some(), "a half-sent or silent connection was still open after 4 s (timeout 1 s)");
    }
    assert!(get(port, "localhost").await.is_some_and(|head| head.starts_with("HTTP/1.1 200")), "still serving");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_unserved_until_one_ends() {
    let (_child, port, _dir) = start(4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(half_sent(port).await);
    }
    // Give the server a moment to accept all four: the fifth must now wait in the backlog.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let fifth = tokio::spawn(get(port, "localhost"));
    let answer = fifth.await.expect("join");
    let waited = started.elapsed();
    assert!(answer.is_some_and(|head| head.starts_with("HTTP/1.1 200")), "answered once a slot freed");
    assert!(waited >= Duration::from_millis(500), "answered after {waited:?}: the cap did not hold");
    drop(held);
}

#[tokio::test]
async fn a_rebinding_host_is_refused_on_the_wire_and_sigterm_stops_gracefully() {
    let (mut child, port, _dir) = start(64).await;
    let refused = get(port, "rebind.evil.example:8000").await.expect("an answer");
    assert!(refused.starts_with("HTTP/1.1 421"), "{refused}");
    let _held = half_sent(port).await;
    let pid = child.id().expect("pid").to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await.expect("stopped within 5 s");
    assert!(status.expect("status").success(), "a clean exit");
}
