//! The long-running `litellm-sync`: jobs from the queue, the heartbeat, the schedule, and
//! stopping on SIGTERM without leaving work stuck.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use shared::db::{config, jobs, models, sync_runs, worker_status};
use shared::job_results::JobResult;
use shared::jobs::JobRequest;
use shared::types::ProviderType;
use support::World;
use testkit::{OllamaModel, wait_until};
use tokio::process::Child;

async fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("worker running").to_string();
    let status = tokio::process::Command::new("kill").args([&format!("-{name}"), &pid]).status().await.expect("kill");
    assert!(status.success());
}

/// Waits for the worker to exit and returns its exit code and how long that took.
async fn exit_of(child: &mut Child) -> (Option<i32>, Duration) {
    let started = Instant::now();
    let status =
        tokio::time::timeout(Duration::from_secs(20), child.wait()).await.expect("worker exits").expect("wait");
    (status.code(), started.elapsed())
}

#[tokio::test]
async fn every_job_kind_is_claimed_run_and_recorded() {
    let (world, lab) = World::with_lab().await;
    let mut worker = world.spawn_worker();

    let fetch = world.finished_job(world.enqueue(&JobRequest::FetchProvider { provider_id: lab.id }).await).await;
    assert_eq!(fetch.status, "done", "{fetch:?}");
    assert_eq!(fetch.result.as_ref().map(|r| r.0["providers"][0]["fetch"]["added"].clone()), Some(json!(3)));
    assert!(world.litellm.entries().is_empty(), "a fetch does not push");

    let plan = world.finished_job(world.enqueue(&JobRequest::Plan { fetch: false }).await).await;
    assert_eq!(plan.status, "done");
    let operations = plan.result.as_ref().map(|r| r.0["push"]["plan"]["operations"].clone()).unwrap_or_default();
    assert_eq!(operations.as_array().map(Vec::len), Some(3));
    assert_eq!(world.litellm.write_calls(), 0, "a plan writes nothing");

    let chat = world.model(&lab, "llama3.2:3b").await;
    let push_one = world.finished_job(world.enqueue(&JobRequest::PushModel { model_id: chat.id }).await).await;
    assert_eq!(push_one.status, "done", "{push_one:?}");
    assert_eq!(world.entry_names(), vec!["llama3.2:3b"]);

    let push_provider =
        world.finished_job(world.enqueue(&JobRequest::PushProvider { provider_id: lab.id }).await).await;
    assert_eq!(push_provider.status, "done");
    assert_eq!(world.entry_names().len(), 3);

    world.ollama.reset_counters();
    world.ollama.add_model(OllamaModel::chat("llama3.2:3b").context_length(4096));
    let refresh = world.finished_job(world.enqueue(&JobRequest::RefreshModel { model_id: chat.id }).await).await;
    assert_eq!(refresh.status, "done", "{refresh:?}");
    assert_eq!(world.ollama.shown_names(), vec!["llama3.2:3b"]);
    assert_eq!(world.model(&lab, "llama3.2:3b").await.context_window, Some(4096));

    let sync = world.finished_job(world.enqueue(&JobRequest::SyncAll).await).await;
    assert_eq!(sync.status, "done", "{sync:?}");
    let typed = sync.result.as_ref().map(|r| serde_json::from_value::<JobResult>(r.0.clone()));
    let Some(Ok(JobResult::Cycle(cycle))) = typed else { panic!("a sync stores a typed cycle result: {sync:?}") };
    let writes = cycle.push.expect("the sync pushed").writes;
    assert_eq!((writes.created, writes.deleted, writes.failed, writes.skipped), (0, 0, 0, 0), "{writes:?}");
    assert_eq!(writes.updated + writes.replaced, 1, "the refreshed context window is written once: {writes:?}");
    assert_eq!(world.entry("llama3.2:3b").expect("entry")["model_info"]["max_input_tokens"], 4096);

    let foreign = world.litellm.insert_db_entry("theirs", json!({"model": "openai/x"}), json!({}));
    let owned = world.model(&lab, "qwen2.5vl:7b").await.litellm_model_id.expect("owned id");
    let delete = world
        .finished_job(
            world.enqueue(&JobRequest::DeleteLitellmEntries { ids: vec![owned.clone(), foreign.clone()] }).await,
        )
        .await;
    assert_eq!(delete.status, "failed");
    assert_eq!(delete.error.as_deref(), Some("1 of 2 deletions failed"));
    let result = delete.result.expect("result").0;
    assert_eq!(result["deleted"], 1);
    assert!(result["results"].to_string().contains("not owned by litellm-updater"));
    let Ok(JobResult::DeleteEntries(typed)) = serde_json::from_value::<JobResult>(result) else {
        panic!("a delete stores a typed delete result");
    };
    assert_eq!((typed.writes.deleted, typed.writes.failed, typed.writes.skipped), (1, 0, 1));
    assert_eq!(
        JobResult::DeleteEntries(typed).summary_lines(),
        vec![
            "LiteLLM: 1 deleted, 1 skipped (not sent)".to_owned(),
            "not deleted: theirs: not owned by litellm-updater (a config-file or someone else's entry); left alone"
                .to_owned()
        ]
    );
    assert!(world.entry("qwen2.5vl:7b").is_none());
    assert!(world.entry("theirs").is_some());

    let test_ok = world
        .finished_job(
            world
                .enqueue(&JobRequest::TestConnection {
                    provider_id: None,
                    base_url: Some(world.ollama.url()),
                    provider_type: Some(ProviderType::Ollama),
                    api_key: Some("inline-secret-key-77".into()),
                })
                .await,
        )
        .await;
    assert_eq!(test_ok.status, "done");
    assert_eq!(test_ok.result.as_ref().map(|r| r.0["models"].clone()), Some(json!(3)));
    assert!(!test_ok.payload.0.to_string().contains("inline-secret-key-77"), "the inline key is not kept");
    let test_bad = world
        .finished_job(
            world
                .enqueue(&JobRequest::TestConnection {
                    provider_id: None,
                    base_url: Some(support::closed_port_url().await),
                    provider_type: Some(ProviderType::Openai),
                    api_key: None,
                })
                .await,
        )
        .await;
    assert_eq!(test_bad.status, "failed");
    assert!(test_bad.error.as_deref().unwrap_or("").contains("cannot reach"), "{test_bad:?}");

    let missing = world.finished_job(world.enqueue(&JobRequest::SyncProvider { provider_id: 999 }).await).await;
    assert_eq!(
        (missing.status.as_str(), missing.error.as_deref()),
        ("failed", Some("provider 999 does not exist or cannot be fetched"))
    );
    let bogus = world
        .db()
        .int_for_tests("INSERT INTO jobs (kind, payload) VALUES ('format_disk', '{}') RETURNING id", &[])
        .await;
    let bogus = world.finished_job(bogus).await;
    assert_eq!(bogus.status, "failed");
    assert!(bogus.error.as_deref().unwrap_or("").starts_with("cannot run a format_disk job"));

    let status = worker_status::get(world.db()).await.expect("status").expect("heartbeat row");
    assert!(status.is_online(), "{status:?}");
    assert_eq!(status.pid, i64::from(worker.id().expect("pid")));
    let health = world.run(&["health"]).await;
    assert!(health.ok() && health.stdout.starts_with("healthy"), "{health:?}");

    signal(&worker, "TERM").await;
    let (code, _) = exit_of(&mut worker).await;
    assert_eq!(code, Some(0));
    let status = worker_status::get(world.db()).await.expect("status").expect("row");
    assert_eq!(status.state, "stopped");
    assert!(!status.is_online());
    let health = world.run(&["health"]).await;
    assert_eq!(health.code, Some(1), "{health:?}");
    assert!(health.stdout.contains("unhealthy: worker stopped"), "{health:?}");
}

#[tokio::test]
async fn sigterm_mid_sync_stops_promptly_and_the_job_runs_again_at_the_next_start() {
    let world = World::new().await;
    world.ollama.set_models((0..40).map(OllamaModel::synthetic).collect());
    world.ollama.set_latency(Duration::from_millis(400));
    let lab = world
        .add_provider(shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, world.ollama.url()))
        .await;
    let mut slow = world.command(&[]);
    slow.env("UPSTREAM_CONCURRENCY", "1");
    let mut worker = world.spawn(slow);
    let job = world.enqueue(&JobRequest::SyncProvider { provider_id: lab.id }).await;
    world.wait_for_job(job, |j| j.status == "running" && j.progress.as_deref().unwrap_or("").contains("details")).await;

    signal(&worker, "TERM").await;
    let (code, took) = exit_of(&mut worker).await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    let interrupted = jobs::get(world.db(), job).await.expect("get").expect("job");
    assert_eq!(interrupted.status, "queued", "{interrupted:?}");
    let open_runs = world.db().int_for_tests("SELECT COUNT(*) FROM sync_runs WHERE status = 'running'", &[]).await;
    assert_eq!(open_runs, 0);

    world.ollama.set_latency(Duration::ZERO);
    let mut worker = world.spawn_worker();
    let finished = world.finished_job(job).await;
    assert_eq!(finished.status, "done", "{finished:?}");
    assert_eq!(finished.attempts, 2);
    assert_eq!(world.litellm.entries().len(), 40);
    signal(&worker, "TERM").await;
    assert_eq!(exit_of(&mut worker).await.0, Some(0));
}

#[tokio::test]
async fn a_job_a_crash_left_running_is_picked_up_at_the_next_start() {
    let world = World::new().await;
    world.ollama.set_models(vec![OllamaModel::chat("a:1b")]);
    world.ollama.set_latency(Duration::from_millis(300));
    world.add_provider(shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
    let mut worker = world.spawn_worker();
    let job = world.enqueue(&JobRequest::SyncAll).await;
    world.wait_for_job(job, |j| j.status == "running").await;

    signal(&worker, "KILL").await;
    let _ = exit_of(&mut worker).await;
    assert_eq!(jobs::get(world.db(), job).await.expect("get").expect("job").status, "running");

    world.ollama.set_latency(Duration::ZERO);
    let mut worker = world.spawn_worker();
    let finished = world.finished_job(job).await;
    assert_eq!(finished.status, "done", "{finished:?}");
    assert_eq!(world.entry_names(), vec!["a:1b"]);
    signal(&worker, "INT").await;
    assert_eq!(exit_of(&mut worker).await.0, Some(0));
}

#[tokio::test]
async fn the_schedule_syncs_due_providers_on_their_own_intervals() {
    let (world, lab) = World::with_lab().await;
    let hosted = world.add_openai_provider("hosted", &["gpt-4o"]).await;
    config::set_sync_interval(world.db(), 0).await.expect("global off");
    world
        .db()
        .execute_for_tests(
            "UPDATE providers SET sync_interval_seconds = 3600 WHERE id = $1",
            &shared::binds![hosted.id],
        )
        .await;

    let mut worker = world.spawn_worker();
    wait_until("the scheduled sync of hosted", Duration::from_secs(20), || async { world.entry("gpt-4o").is_some() })
        .await;
    let runs = sync_runs::recent(world.db(), 20, 0).await.expect("runs");
    assert!(runs.iter().any(|r| r.provider_id == Some(hosted.id) && r.trigger == "schedule"));
    assert!(runs.iter().all(|r| r.provider_id != Some(lab.id)), "global interval 0 = lab not automatic");
    let hosted_runs = runs.iter().filter(|r| r.provider_id == Some(hosted.id)).count();

    // Turning the global interval on schedules lab too; hosted is not due again for an hour.
    config::set_sync_interval(world.db(), 30).await.expect("global on");
    wait_until("the scheduled sync of lab", Duration::from_secs(20), || async { world.entry_names().len() == 4 }).await;
    let runs = sync_runs::recent(world.db(), 20, 0).await.expect("runs");
    assert_eq!(runs.iter().filter(|r| r.provider_id == Some(hosted.id)).count(), hosted_runs);
    assert!(models::list_all(world.db()).await.expect("models").iter().all(|m| m.litellm_model_id.is_some()));

    signal(&worker, "TERM").await;
    assert_eq!(exit_of(&mut worker).await.0, Some(0));
}

#[tokio::test]
async fn syncing_one_provider_never_changes_another_providers_entries() {
    let (world, lab) = World::with_lab().await;
    let vllm = world.add_openai_provider("vllm", &["Qwen/Qwen3-32B", "BAAI/bge-m3"]).await;
    world.once().await.assert_ok();
    assert_eq!(world.entry_names().len(), 5);
    // vllm's filter now excludes everything: a push of *everything* would delete its two entries.
    shared::db::providers::set_filters(world.db(), vllm.id, None, Some("qwen,bge")).await.expect("filters");
    world.ollama.add_model(OllamaModel::chat("qwen3:8b"));
    let mut worker = world.spawn_worker();

    let sync_lab = world.finished_job(world.enqueue(&JobRequest::SyncProvider { provider_id: lab.id }).await).await;
    assert_eq!(sync_lab.status, "done", "{sync_lab:?}");
    let names = world.entry_names();
    assert!(names.contains(&"Qwen/Qwen3-32B".to_owned()) && names.contains(&"BAAI/bge-m3".to_owned()), "{names:?}");
    assert!(names.contains(&"qwen3:8b".to_owned()), "lab's new model was pushed: {names:?}");
    let operations = sync_lab.result.as_ref().map(|r| r.0["push"]["plan"]["operations"].clone()).unwrap_or_default();
    let providers: Vec<&str> =
        operations.as_array().into_iter().flatten().filter_map(|op| op["provider"].as_str()).collect();
    assert_eq!(providers, vec!["lab"], "only lab's entries were planned: {operations}");

    let push_vllm = world.finished_job(world.enqueue(&JobRequest::PushProvider { provider_id: vllm.id }).await).await;
    assert_eq!(push_vllm.status, "done", "{push_vllm:?}");
    assert_eq!(world.entry_names().len(), 4, "vllm's own push removes what its filter excludes");
    let _ = worker.start_kill();
}

#[tokio::test]
async fn testing_a_saved_provider_against_another_url_never_sends_its_key() {
    let world = World::new().await;
    world.ollama.set_models(vec![OllamaModel::chat("gpt-oss:120b")]);
    world.ollama.require_bearer(Some("sk-cloud-saved-key-5150".into()));
    let mut new = shared::db::providers::NewProvider::new("cloud", ProviderType::Ollama, world.ollama.url());
    new.api_key = Some("sk-cloud-saved-key-5150".into());
    let cloud = world.add_provider(new).await;
    let elsewhere = testkit::FakeOllama::start().await;
    let mut worker = world.spawn_worker();

    let test = |base_url: Option<String>, api_key: Option<String>| JobRequest::TestConnection {
        provider_id: Some(cloud.id),
        base_url,
        provider_type: Some(ProviderType::Ollama),
        api_key,
    };
    let moved = world.finished_job(world.enqueue(&test(Some(elsewhere.url()), None)).await).await;
    assert_eq!(moved.status, "failed");
    assert!(moved.error.as_deref().unwrap_or("").contains("enter the key again"), "{moved:?}");
    assert_eq!(elsewhere.tags_calls(), 0, "nothing was sent to the other URL");

    let saved = world.finished_job(world.enqueue(&test(None, None)).await).await;
    assert_eq!(saved.status, "done", "the saved URL gets the saved key: {saved:?}");
    let retyped = world
        .finished_job(world.enqueue(&test(Some(elsewhere.url()), Some("sk-typed-with-the-url".into()))).await)
        .await;
    assert_eq!(retyped.status, "done", "a key typed with the new URL is used: {retyped:?}");
    let _ = worker.start_kill();
}

#[tokio::test]
async fn the_litellm_connection_test_names_the_reason_and_keeps_no_key() {
    let world = World::new().await;
    let mut worker = world.spawn_worker();
    let test = |base_url: Option<String>, api_key: Option<&str>| JobRequest::TestLitellm {
        base_url,
        api_key: api_key.map(str::to_owned),
    };
    let report = |job: &shared::db::jobs::JobRecord| {
        let stored = job.result.as_ref().map(|r| serde_json::from_value::<JobResult>(r.0.clone()));
        match stored {
            Some(Ok(JobResult::TestLitellm(report))) => report,
            other => panic!("a LiteLLM test stores a typed result: {other:?} in {job:?}"),
        }
    };
    let light = || async { shared::db::litellm_health::latest(world.db()).await.expect("health") };

    // The saved connection: one GET, ok, and the top bar's light records it.
    let saved = world.finished_job(world.enqueue(&test(None, None)).await).await;
    assert_eq!(saved.status, "done", "{saved:?}");
    let ok = report(&saved);
    assert!(ok.ok && ok.saved && ok.key_sent, "{ok:?}");
    assert_eq!(ok.url, world.litellm.url());
    assert_eq!(world.litellm.info_calls(), 1, "one GET");
    assert_eq!(world.litellm.write_calls(), 0);
    assert!(light().await.is_some_and(|h| h.ok));

    // A wrong key typed in the form: the reason in plain words; the light is left alone.
    const WRONG: &str = "sk-typed-WRONG-key-4242";
    let wrong = world.finished_job(world.enqueue(&test(None, Some(WRONG))).await).await;
    assert_eq!(wrong.status, "failed");
    assert!(wrong.error.as_deref().unwrap_or("").starts_with("wrong key (HTTP 401): "), "{wrong:?}");
    let failed = report(&wrong);
    assert_eq!((failed.ok, failed.saved, failed.reason.as_deref()), (false, false, Some("wrong key (HTTP 401)")));
    assert!(light().await.is_some_and(|h| h.ok), "a test of unsaved values does not change the light");

    // Without a database LiteLLM answers a key other than its master key with "No connected db.".
    world.litellm.set_no_db(true);
    let no_db = world.finished_job(world.enqueue(&test(None, Some(WRONG))).await).await;
    assert_eq!(report(&no_db).reason.as_deref(), Some("wrong key (no database connected)"), "{no_db:?}");
    world.litellm.set_no_db(false);

    // A URL nothing listens on (typed with its key), and a server that is not LiteLLM.
    let closed = support::closed_port_url().await;
    let unreachable = world.finished_job(world.enqueue(&test(Some(closed), Some("sk-x-0001"))).await).await;
    assert_eq!(unreachable.status, "failed");
    assert_eq!(report(&unreachable).reason.as_deref(), Some("unreachable"), "{unreachable:?}");
    let ollama = world.finished_job(world.enqueue(&test(Some(world.ollama.url()), Some("sk-x-0002"))).await).await;
    assert_eq!(report(&ollama).reason.as_deref(), Some("not LiteLLM"), "{ollama:?}");

    // Another URL without a key: refused before anything is sent; the master key stays here.
    let capture = testkit::Capture::start().await;
    let moved = world.finished_job(world.enqueue(&test(Some(capture.url()), None)).await).await;
    assert_eq!(moved.status, "failed");
    assert!(moved.error.as_deref().unwrap_or("").contains("enter the key again"), "{moved:?}");
    assert!(capture.received().is_empty(), "nothing was sent to the other URL");

    // LiteLLM quoting the request's key back in an error: stored redacted.
    world.litellm.set_echo_credentials(true);
    world.litellm.fail_reads(true);
    let echoed = world.finished_job(world.enqueue(&test(None, None)).await).await;
    assert_eq!(echoed.status, "failed");
    assert_eq!(report(&echoed).reason.as_deref(), Some("error (HTTP 500)"));
    assert!(light().await.is_some_and(|h| !h.ok), "a failed test of the saved values turns the light red");

    let rows = serde_json::to_string(&jobs::recent(world.db(), 100).await.expect("jobs")).expect("json");
    let health = format!("{:?}", light().await);
    assert!(health.contains("Authorization: [REDACTED]"), "{health}");
    // A push reading LiteLLM records the light too, as redacted.
    let push = world.finished_job(world.enqueue(&JobRequest::PushAll).await).await;
    assert_eq!(push.status, "failed");
    let pushed = format!("{:?}", light().await);
    assert!(pushed.contains("Authorization: [REDACTED]") && !pushed.contains(support::MASTER_KEY), "{pushed}");
    assert!(rows.contains("Authorization: [REDACTED]"), "the echo reached the row, redacted: {rows}");
    for secret in [support::MASTER_KEY, WRONG, "sk-x-0001", "sk-x-0002"] {
        assert!(!rows.contains(secret), "{secret} is in the job rows: {rows}");
        assert!(!health.contains(secret), "{secret} is in the health row: {health}");
    }
    let _ = worker.start_kill();
}
