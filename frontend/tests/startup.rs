//! The real `litellm-frontend` binary at start-up: it waits for `litellm-sync` to migrate the
//! database, refuses a schema newer than it knows, and refuses to expose itself unprotected.

use std::process::Stdio;
use std::time::{Duration, Instant};

use testkit::free_port;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

fn frontend(db: &std::path::Path, host: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_litellm-frontend"));
    command
        .env_clear()
        .env("DATABASE_PATH", db)
        .env("HOST", host)
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn answers(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
}

#[tokio::test]
async fn it_waits_for_the_worker_to_migrate_then_serves() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("data").join("models.db");
    let port = free_port().await;
    let mut child = frontend(&db, "127.0.0.1", port).spawn().expect("start");
    let mut stderr = child.stderr.take().expect("stderr");

    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!answers(port).await, "it must not serve an unmigrated database");
    assert!(child.try_wait().expect("status").is_none(), "it waits rather than exits");

    let sync = std::path::PathBuf::from(env!("CARGO_BIN_EXE_litellm-frontend")).with_file_name("litellm-sync");
    assert!(sync.is_file(), "build the workspace first: {}", sync.display());
    let migrated = Command::new(sync).arg("migrate").env("DATABASE_PATH", &db).output().await.expect("migrate");
    assert!(migrated.status.success(), "{migrated:?}");

    let deadline = Instant::now() + Duration::from_secs(15);
    while !answers(port).await {
        assert!(Instant::now() < deadline, "it never started serving after the migration");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let probe = |port: u16| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_litellm-frontend"));
        command.arg("health").env_clear().env("PORT", port.to_string());
        command
    };
    let healthy = probe(port).output().await.expect("probe");
    assert!(healthy.status.success(), "{healthy:?}");
    child.kill().await.expect("stop");
    child.wait().await.expect("reaped");
    let unhealthy = probe(port).output().await.expect("probe");
    assert_eq!(unhealthy.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unhealthy.stderr).contains("unhealthy: cannot connect"), "{unhealthy:?}");
    let mut log = String::new();
    stderr.read_to_string(&mut log).await.expect("read log");
    assert!(log.contains("waiting for litellm-sync to create or migrate the database"), "{log}");
    assert!(log.contains("litellm-frontend listening"), "{log}");
}

#[tokio::test]
async fn a_database_newer_than_the_binary_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("models.db");
    let db = shared::Database::open(&path).await.expect("open");
    db.migrate().await.expect("migrate");
    db.execute_for_tests(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'from the future', TRUE, x'00', 0)",
        &[],
    )
    .await;
    db.close().await;

    let output = frontend(&path, "127.0.0.1", free_port().await).output().await.expect("run");
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("schema version 999, newer than this binary understands"), "{log}");
}

#[tokio::test]
async fn a_public_address_without_a_token_is_refused_unless_insecure_is_explicit() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("models.db");
    let output = frontend(&db, "0.0.0.0", free_port().await).output().await.expect("run");
    assert_eq!(output.status.code(), Some(1));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("refusing to listen on 0.0.0.0 without an admin credential"), "{log}");
    assert!(!db.exists(), "nothing was opened or created");
}

#[tokio::test]
async fn a_short_or_placeholder_admin_token_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("models.db");
    let example = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../example.env")).expect("example.env");
    let placeholder = example
        .lines()
        .find_map(|line| line.strip_prefix("ADMIN_TOKEN="))
        .expect("example.env sets ADMIN_TOKEN")
        .to_owned();
    for (token, expected) in [
        ("a".to_owned(), "ADMIN_TOKEN is too short (length 1): use at least 16"),
        (placeholder, "ADMIN_TOKEN is still example.env's placeholder"),
    ] {
        let run = frontend(&db, "0.0.0.0", free_port().await).env("ADMIN_TOKEN", &token).output();
        let output = tokio::time::timeout(Duration::from_secs(10), run).await.expect("it exits at once").expect("run");
        assert_eq!(output.status.code(), Some(1), "{token}");
        let log = String::from_utf8_lossy(&output.stderr);
        assert!(log.contains(expected), "{log}");
        assert!(!db.exists(), "nothing was opened or created");
    }
}
