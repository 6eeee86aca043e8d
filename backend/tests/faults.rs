//! The fault suite: the real `litellm-sync` against a LiteLLM that resets connections, answers
//! 502/503, hangs, fails after saving, lists entries twice or quotes keys back; killed with
//! SIGKILL in the middle of a first sync and of a push; on a database deleted, replaced,
//! corrupted or failing. Each case is bounded in count and time, and checks that the next run
//! converges: no duplicate, no lost override, no stuck job, no key in anything stored or logged.

mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::db::providers::NewProvider;
use shared::jobs::JobRequest;
use shared::types::ProviderType;
use support::{MASTER_KEY, Run, World};
use testkit::{OllamaModel, WriteFault, openai_model};
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
    for table in ["jobs", "sync_runs", "litellm_entries", "worker_status"] {
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
    let columns: Vec<String> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT name FROM pragma_table_info('{table}')")))
            .fetch_all(world.pool())
            .await
            .expect("columns");
    let joined: Vec<String> = columns.iter().map(|c| format!("COALESCE(CAST(\"{c}\" AS TEXT), '')")).collect();
    let sql = format!("SELECT {} FROM {table}", joined.join(" || '|' || "));
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(world.pool()).await.expect("rows")
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
