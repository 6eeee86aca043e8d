//! The fault suite: the real `litellm-sync` against a LiteLLM that resets connections, answers
//! 502/503, hangs, fails after saving, lists entries twice or quotes keys back; killed with
//! SIGKILL in the middle of a first sync and of a push; on a database deleted, replaced,
//! corrupted or failing. Each case is bounded in count and time, and checks that the next run
//! converges: no duplicate, no lost override, no stuck job, no key in anything stored or logged.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::db::models;
use shared::db::providers::NewProvider;
use shared::db::{config, worker_status};
use shared::jobs::JobRequest;
use shared::model::Overrides;
use shared::test_support::TestDatabase;
use shared::types::ProviderType;
use shared::{Database, Secret};
use support::{MASTER_KEY, Run, World};
use testkit::{OllamaModel, WriteFault, openai_model, wait_until};
use tokio::process::Child;

async fn kill(child: &mut Child, signal: &str) {
    let pid = child.id().expect("worker running").to_string();
    let status = tokio::process::Command::new("kill").args([&format!("-{signal}"), &pid]).status().await.expect("kill");
    assert!(status.success());
    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("worker exits");
}

/// `(model_name, count)` of every name LiteLLM holds more than once.
fn duplicates(world: &World) -> Vec<(String, usize)> {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for name in world.entry_names() {
        *seen.entry(name).or_default() += 1;
    }
    seen.into_iter().filter(|(_, n)| *n > 1).collect()
}

/// Every model's stored LiteLLM id is an entry LiteLLM holds, once.
async fn assert_converged(world: &World, expected: usize) {
    assert_eq!(duplicates(world), vec![], "no duplicates");
    let held: HashSet<String> = world.litellm_holds().into_iter().map(|(id, _)| id).collect();
    assert_eq!(held.len(), expected, "{:?}", world.entry_names());
    for model in world.models().await {
        let id = model.litellm_model_id.clone().unwrap_or_default();
        assert!(held.contains(&id), "{} ({id}) is not in LiteLLM", model.model_id);
    }
}

async fn lab_with(world: &World, count: usize) {
    world.ollama.set_models((0..count).map(OllamaModel::synthetic).collect());
    world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
}

#[tokio::test]
async fn transient_litellm_failures_are_retried_and_one_failure_does_not_stop_the_push() {
    let world = World::new().await;
    lab_with(&world, 14).await;
    // Write sequence numbers count every authorised write, retries included.
    world.litellm.fail_write(2, WriteFault::ResetBeforeApply);
    world.litellm.fail_write(4, WriteFault::ResetAfterApply);
    world.litellm.fail_write(6, WriteFault::Unavailable(503));
    world.litellm.fail_write(7, WriteFault::Unavailable(502));
    world.litellm.fail_write(9, WriteFault::HangAfterApply);
    world.litellm.fail_write(11, WriteFault::ApplyThenError);
    world.litellm.fail_write(12, WriteFault::Reject);

    let started = Instant::now();
    let run = world.run(&["--once", "--json"]).await;
    run.assert_failed();
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let push = &report["push"];
    assert_eq!((push["created"].as_u64(), push["failed"].as_u64()), (Some(13), Some(1)), "{push}");
    let errors: Vec<&str> =
        push["results"].as_array().into_iter().flatten().filter_map(|r| r["error"].as_str()).collect();
    assert_eq!(errors, vec!["LiteLLM answered HTTP 500: Internal server error"], "only the plain 500 fails");
    assert_eq!(duplicates(&world), vec![], "a create that landed before its answer broke is not sent again");
    assert_eq!(world.litellm.entry_count(), 13);
    assert!(started.elapsed() < Duration::from_secs(20), "bounded: {:?}", started.elapsed());

    world.once().await.assert_ok();
    assert_converged(&world, 14).await;
    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0);
}

#[tokio::test]
async fn only_a_failure_every_call_would_share_stops_the_push_and_each_skipped_operation_says_so() {
    let world = World::new().await;
    lab_with(&world, 6).await;
    world.litellm.set_no_db(true);
    let mut command = world.command(&["--once", "--json"]);
    command.env("LITELLM_CONCURRENCY", "1");
    let run = Run::from(command.output().await.expect("run"));
    run.assert_failed();
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let results = report["push"]["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 6);
    let skipped =
        results.iter().filter(|r| r["error"].as_str().is_some_and(|e| e.starts_with("skipped, not sent"))).count();
    assert_eq!(skipped, 5, "{results:?}");
    assert!(results.iter().all(|r| r["error"].as_str().is_some_and(|e| e.contains("no database connected"))));
    assert_eq!(world.litellm.write_calls(), 1, "one call found it out");
}

#[tokio::test]
async fn an_entry_litellm_lists_twice_is_kept() {
    let world = World::new().await;
    lab_with(&world, 5).await;
    world.once().await.assert_ok();
    world.litellm.set_duplicate_listing(true);
    world.litellm.reset_counters();
    let run = world.once().await;
    run.assert_ok();
    assert_eq!(world.litellm.delete_calls(), 0, "{:?}", world.litellm.requests());
    world.litellm.set_duplicate_listing(false);
    assert_converged(&world, 5).await;
}

#[tokio::test]
async fn keys_quoted_back_by_litellm_or_an_upstream_are_never_stored_or_logged() {
    const PROVIDER_KEY: &str = "sk-upstream-provider-key-7731";
    let world = World::new().await;
    world.ollama.set_models(vec![OllamaModel::chat("a:1b"), OllamaModel::chat("b:1b")]);
    world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
    world.openai.set_models(vec![openai_model("gpt-x")]);
    world.openai.require_bearer(Some(PROVIDER_KEY.into()));
    world.openai.set_echo_credentials(true);
    let mut hosted = NewProvider::new("hosted", ProviderType::Openai, world.openai.url());
    hosted.api_key = Some(PROVIDER_KEY.into());
    world.add_provider(hosted).await;
    world.litellm.set_echo_credentials(true);
    world.litellm.fail_write(1, WriteFault::Reject);

    let mut once = world.command(&["--once", "--json"]);
    once.env("LOG_LEVEL", "trace");
    let run = Run::from(once.output().await.expect("run"));
    run.assert_failed();
    assert!(run.stdout.contains("[REDACTED]"), "the echo was there and was removed: {}", run.stdout);

    let mut worker_command = world.command(&[]);
    worker_command.env("LOG_LEVEL", "trace");
    let mut worker = world.spawn(worker_command);
    world.litellm.fail_write(1, WriteFault::Reject);
    world.litellm.insert_db_entry("x", json!({"model": "openai/x"}), json!({}));
    let sync = world.finished_job(world.enqueue(&JobRequest::SyncAll).await).await;
    assert_eq!(sync.status, "failed", "{sync:?}");
    let delete =
        world.finished_job(world.enqueue(&JobRequest::DeleteLitellmEntries { ids: vec!["nope".into()] }).await).await;
    assert!(delete.is_finished());
    kill(&mut worker, "TERM").await;

    let mut stored = vec![run.all_output()];
    for table in ["jobs", "sync_runs", "litellm_entries", "worker_status", "models"] {
        stored.extend(table_text(&world, table).await);
    }
    for entry in std::fs::read_dir(world.dir.path()).expect("dir").flatten() {
        if entry.file_name().to_string_lossy().starts_with("worker-") {
            stored.push(std::fs::read_to_string(entry.path()).expect("worker log"));
        }
    }
    let all = stored.join("\n");
    assert!(all.contains("Authorization: [REDACTED]"), "the echoes reached the stored text, redacted");
    for secret in [MASTER_KEY, PROVIDER_KEY] {
        assert!(!all.contains(secret), "{secret} leaked into:\n{all}");
    }
}

/// Every row of `table`, all columns as text.
async fn table_text(world: &World, table: &str) -> Vec<String> {
    let rows = world.db().rows_for_tests(&format!("SELECT * FROM {table}"), &[]).await;
    rows.into_iter().map(|row| row.into_iter().map(Option::unwrap_or_default).collect::<Vec<_>>().join("|")).collect()
}

#[tokio::test]
async fn a_model_id_with_a_line_break_cannot_forge_a_log_line() {
    let world = World::new().await;
    let forged = "2026-01-01T00:00:00.000000Z ERROR forged: every key leaked";
    world.openai.set_models(vec![openai_model(&format!("evil\n{forged}\r\nmore"))]);
    world.add_provider(NewProvider::new("hosted", ProviderType::Openai, world.openai.url())).await;
    world.litellm.fail_write(1, WriteFault::Reject);
    let mut once = world.command(&["--once"]);
    once.env("LOG_LEVEL", "trace");
    let run = Run::from(once.output().await.expect("run"));
    assert!(run.stderr.contains("forged"), "the id was logged: {}", run.stderr);
    for line in run.stderr.lines() {
        assert!(!line.starts_with(forged) && !line.starts_with("more"), "forged line: {line:?}\n{}", run.stderr);
    }
}

/// SIGKILL after `after` LiteLLM writes were received (some stored, not yet answered), then a
/// second run: everything created once.
#[tokio::test]
async fn a_worker_killed_mid_first_sync_or_mid_push_converges_at_the_next_run() {
    for after in [1, 6, 12] {
        let world = World::new().await;
        lab_with(&world, 16).await;
        // Slow, serialised writes (a real proxy's reconcile lock): several are in flight.
        world.litellm.set_write_cost(Duration::from_millis(100), Duration::ZERO);
        let mut command = world.command(&["--once"]);
        command.env("LITELLM_CONCURRENCY", "4");
        let mut child = world.spawn(command);
        wait_until("LiteLLM writes", Duration::from_secs(20), || async { world.litellm.writes_seen() >= after }).await;
        kill(&mut child, "KILL").await;
        let partial = world.litellm.entry_count();
        assert!(partial < 16, "killed before the end ({after}: {partial})");

        world.litellm.set_write_cost(Duration::ZERO, Duration::ZERO);
        world.once().await.assert_ok();
        assert_converged(&world, 16).await;
    }

    // A push changing overrides, killed half-way: the next run applies all of them.
    let world = World::new().await;
    lab_with(&world, 12).await;
    world.once().await.assert_ok();
    for model in world.models().await {
        let overrides = Overrides {
            user_params: Some(Some(serde_json::from_value(json!({"rpm": 7})).expect("map"))),
            ..Overrides::default()
        };
        models::set_overrides(world.db(), model.id, &overrides).await.expect("override");
    }
    world.litellm.set_write_cost(Duration::from_millis(60), Duration::ZERO);
    let before = world.litellm.writes_seen();
    let mut child = world.spawn(world.command(&["--once"]));
    wait_until("LiteLLM writes", Duration::from_secs(20), || async { world.litellm.writes_seen() >= before + 5 }).await;
    kill(&mut child, "KILL").await;
    world.litellm.set_write_cost(Duration::ZERO, Duration::ZERO);
    world.once().await.assert_ok();
    assert_converged(&world, 12).await;
    assert!(world.litellm.entries().iter().all(|e| e["litellm_params"]["rpm"] == 7), "no override lost");
}

#[tokio::test]
async fn a_job_that_keeps_killing_the_worker_is_given_up_after_three_attempts() {
    let world = World::new().await;
    world.ollama.set_models(vec![OllamaModel::chat("a:1b")]);
    world.ollama.set_latency(Duration::from_secs(30));
    world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
    let job = world.enqueue(&JobRequest::SyncAll).await;
    for attempt in 1..=3 {
        let mut worker = world.spawn_worker();
        world.wait_for_job(job, |j| j.status == "running" && j.attempts == attempt).await;
        // What a panic does in a release build (panic = "abort").
        kill(&mut worker, "KILL").await;
    }
    let mut worker = world.spawn_worker();
    let given_up = world.finished_job(job).await;
    assert_eq!(given_up.status, "failed");
    assert_eq!(given_up.error.as_deref(), Some("gave up after 3 attempts; the last one stopped the worker"));
    assert_eq!(given_up.attempts, 3);
    // The worker goes on with other work.
    world.ollama.set_latency(Duration::ZERO);
    let next = world.finished_job(world.enqueue(&JobRequest::FetchAll).await).await;
    assert_eq!(next.status, "done", "{next:?}");
    kill(&mut worker, "TERM").await;
}

fn log_of(world: &World) -> String {
    let mut logs: Vec<(String, String)> = std::fs::read_dir(world.dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("worker-"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap_or_default()))
        .collect();
    logs.sort();
    logs.pop().map(|(_, log)| log).unwrap_or_default()
}

#[tokio::test]
async fn a_database_deleted_or_replaced_under_the_worker_stops_it_and_health_says_so() {
    for replace in [false, true] {
        let world = World::sqlite().await;
        let mut worker = world.spawn_worker();
        wait_until("a heartbeat", Duration::from_secs(10), || async { world.run(&["health"]).await.ok() }).await;
        wait_until("the worker's file recorded", Duration::from_secs(10), || async {
            worker_status::db_file(world.db()).await.ok().flatten().is_some()
        })
        .await;
        let copy = world.dir.path().join("copy.db");
        if replace {
            world.db().execute_for_tests("VACUUM INTO $1", &shared::binds![copy.to_string_lossy().into_owned()]).await;
        }
        // As an operator would: the file and its -wal and -shm.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", world.db_path().display()));
        }
        if replace {
            std::fs::rename(&copy, world.db_path()).expect("replace");
        }
        let status =
            tokio::time::timeout(Duration::from_secs(10), worker.wait()).await.expect("worker stops").expect("wait");
        assert_eq!(status.code(), Some(1), "replace={replace}");
        let log = log_of(&world);
        let expected = if replace { "was replaced by another file while in use" } else { "was deleted while in use" };
        assert!(log.contains(expected), "{log}");
        let health = world.run(&["health"]).await;
        assert_eq!(health.code, Some(1), "{health:?}");
        let said = if replace { "is not the database file the worker opened" } else { "no database at" };
        assert!(health.stdout.contains(said), "{health:?}");
    }
}

#[tokio::test]
async fn a_failing_database_is_retried_with_a_growing_pause_and_logged_once() {
    let world = World::new().await;
    let mut worker = world.spawn_worker();
    wait_until("a heartbeat", Duration::from_secs(10), || async { world.run(&["health"]).await.ok() }).await;
    world.db().execute_for_tests("ALTER TABLE jobs RENAME TO jobs_away", &[]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    world.db().execute_for_tests("ALTER TABLE jobs_away RENAME TO jobs", &[]).await;
    let job = world.enqueue(&JobRequest::FetchAll).await;
    let done = world.finished_job(job).await;
    assert_eq!(done.status, "done");
    kill(&mut worker, "TERM").await;
    let log = log_of(&world);
    let failures = log.lines().filter(|l| l.contains("worker turn failed")).count();
    assert_eq!(failures, 1, "one line for the outage, not one per 100 ms tick:\n{log}");
    assert!(log.contains("the database works again"), "{log}");
}

#[tokio::test]
async fn a_corrupted_database_is_a_clear_error_and_litellm_is_not_touched() {
    let world = World::sqlite().await;
    lab_with(&world, 3).await;
    world.db.close().await;
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", world.db_path().display()));
    }
    std::fs::write(world.db_path(), vec![0x5a; 64 * 1024]).expect("corrupt");
    let run = world.once().await;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("file is not a database"), "{}", run.stderr);
    assert_eq!(world.litellm.write_calls() + world.litellm.info_calls(), 0);
}

#[tokio::test]
async fn a_read_only_database_is_a_clear_error_and_nothing_is_written() {
    use std::os::unix::fs::PermissionsExt;
    let world = World::sqlite().await;
    lab_with(&world, 3).await;
    world.once().await.assert_ok();
    world.db.close().await;
    // Changes upstream that a run able to write would record and push.
    world.ollama.set_models((0..5).map(OllamaModel::synthetic).collect());
    let (writes, reads) = (world.litellm.write_calls(), world.litellm.info_calls());

    // Read-only for the worker: root ignores file modes, so as root the worker runs as nobody.
    let data = world.db_path().parent().expect("data directory");
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    let mut path = data.to_path_buf();
    while path.pop() && path != std::path::Path::new("/") {
        if path.starts_with(std::env::temp_dir()) && path != std::env::temp_dir() {
            mode(&path, 0o755);
        }
    }
    for entry in std::fs::read_dir(data).expect("data directory") {
        mode(&entry.expect("entry").path(), 0o444);
    }
    mode(data, 0o555);
    let before: Vec<(String, Vec<u8>)> = std::fs::read_dir(data)
        .expect("data directory")
        .map(|e| e.expect("entry").path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read")))
        .collect();
    let wrapper: &[&str] = if as_root { &["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] } else { &[] };
    let output = tokio::time::timeout(Duration::from_secs(30), world.command_via(wrapper, &["--once"]).output())
        .await
        .expect("bounded")
        .expect("run litellm-sync");
    let run = Run::from(output);
    mode(data, 0o755);

    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("is read-only for this process"), "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let after: Vec<(String, Vec<u8>)> = std::fs::read_dir(data)
        .expect("data directory")
        .map(|e| e.expect("entry").path())
        .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read")))
        .collect();
    assert!(before == after, "the database files changed");
    assert_eq!((world.litellm.write_calls(), world.litellm.info_calls()), (writes, reads), "LiteLLM was not touched");
}

#[tokio::test]
async fn two_installations_on_one_litellm_never_touch_each_others_entries() {
    let world = World::new().await;
    lab_with(&world, 3).await;
    // An entry pushed before installation ids existed: ours, adopted and stamped.
    let old = world.litellm.insert_db_entry(
        "legacy",
        json!({"model": "openai/legacy", "tags": ["lupdater", "unique_id:lab/legacy"]}),
        json!({"managed_by": "litellm-updater"}),
    );
    world.once().await.assert_ok();
    let ours = config::get(world.db()).await.expect("config").installation_id.expect("an installation id");
    assert!(
        world
            .litellm
            .entries()
            .iter()
            .all(|e| e["model_info"]["id"] == old.as_str()
                || e["model_info"]["managed_by_installation"] == ours.as_str())
    );
    assert!(world.entry("legacy").is_none(), "adopted, then deleted as ours and unwanted");

    // A second installation: its own database, another provider, the same LiteLLM.
    let other_database = TestDatabase::on(world.database.backend()).await;
    let other = other_database.open().await;
    config::set_litellm(&other, Some(&world.litellm.url()), Some(&Secret::new(MASTER_KEY))).await.expect("config");
    world.openai.set_models(vec![openai_model("gpt-other")]);
    shared::db::providers::insert(&other, &NewProvider::new("hosted", ProviderType::Openai, world.openai.url()))
        .await
        .expect("provider");
    let theirs = config::get(&other).await.expect("config").installation_id.expect("id");
    assert_ne!(theirs, ours);
    let before = world.litellm.entries();
    let mut command = world.command(&["--once"]);
    command.env("DATABASE_URL", other_database.location().to_url());
    Run::from(command.output().await.expect("run")).assert_ok();
    let after = world.litellm.entries();
    assert_eq!(after.len(), before.len() + 1, "{:?}", world.entry_names());
    for entry in &before {
        assert!(after.contains(entry), "the other installation changed {entry}");
    }
    // And back: ours leaves theirs alone.
    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0);
    assert!(world.entry("gpt-other").is_some());
}

#[tokio::test]
async fn the_database_and_its_wal_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let world = World::sqlite().await;
    let mode = |path: &std::path::Path| std::fs::metadata(path).map(|m| m.permissions().mode() & 0o777).ok();
    let fresh = world.dir.path().join("fresh").join("models.db");
    let mut command = world.command(&["--once"]);
    command.env_remove("DATABASE_URL").env("DATABASE_PATH", &fresh).env_remove("LITELLM_BASE_URL");
    let run = Run::from(command.output().await.expect("run"));
    run.assert_ok();
    // Open it again so that -wal and -shm exist while looking.
    let db = Database::open(&fresh).await.expect("open");
    db.execute_for_tests("UPDATE config SET sync_interval_seconds = 600", &[]).await;
    for suffix in ["", "-wal", "-shm"] {
        let path = std::path::PathBuf::from(format!("{}{suffix}", fresh.display()));
        assert_eq!(mode(&path), Some(0o600), "{}", path.display());
    }
    db.close().await;

    // A file an earlier version created 0644 is narrowed at the next start.
    std::fs::set_permissions(world.db_path(), std::fs::Permissions::from_mode(0o644)).expect("chmod");
    world.run(&["migrate"]).await.assert_ok();
    assert_eq!(mode(world.db_path()), Some(0o600));
}
