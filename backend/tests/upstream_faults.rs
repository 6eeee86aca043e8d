//! Upstreams that misbehave, run through the real `litellm-sync` binary: each fault ends in a
//! clear error for that provider, nothing recorded is lost or half-written, and the other
//! providers still sync. Every case is bounded in time (the support world sets a 3 s request
//! timeout).

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use shared::db::models;
use shared::db::providers::NewProvider;
use shared::db::sync_runs;
use shared::provider::Provider;
use shared::types::ProviderType;
use support::{World, closed_port_url};
use testkit::{Capture, Failure, OllamaModel, openai_model};

/// `lab` (Ollama, three models) and `hosted` (OpenAI-compatible, one model), synced once.
async fn synced_world() -> (World, Provider, Provider) {
    let (world, lab) = World::with_lab().await;
    let hosted = world.add_openai_provider("hosted", &["gpt-4o"]).await;
    world.once().await.assert_ok();
    (world, lab, hosted)
}

/// After a run in which `broken` failed: its models are all still there and not orphaned,
/// LiteLLM still holds them, and its last run row is `failed` with a message containing `says`.
async fn assert_untouched(world: &World, broken: &Provider, before: &[shared::model::Model], says: &str) {
    let mut after: Vec<(String, bool, Option<String>)> = world
        .models()
        .await
        .into_iter()
        .filter(|m| m.provider_id == broken.id)
        .map(|m| (m.model_id, m.is_orphaned, m.upstream_digest))
        .collect();
    let mut expected: Vec<(String, bool, Option<String>)> = before
        .iter()
        .filter(|m| m.provider_id == broken.id)
        .map(|m| (m.model_id.clone(), m.is_orphaned, m.upstream_digest.clone()))
        .collect();
    after.sort();
    expected.sort();
    assert_eq!(after, expected, "{} changed", broken.name);
    for (model_id, _, _) in &after {
        assert!(world.entry(model_id).is_some(), "{model_id} was removed from LiteLLM");
    }
    let last = sync_runs::last_per_provider(world.db()).await.expect("runs");
    let row = last.iter().find(|r| r.provider_id == Some(broken.id)).expect("a run row");
    assert_eq!(row.status, "failed");
    assert!(row.message.as_deref().unwrap_or("").contains(says), "{:?} lacks {says:?}", row.message);
}

mod listing {
    //! Faults of `/api/tags` and `/v1/models`.

    use super::*;

    /// `lab`'s listing fails with `failure`; `hosted` gains a model meanwhile and must get it.
    async fn listing_fault(failure: Failure, says: &str) {
        listing_fault_with(failure, says, &[]).await;
    }

    async fn listing_fault_with(failure: Failure, says: &str, env: &[(&str, &str)]) {
        let (world, lab, _) = synced_world().await;
        let before = world.models().await;
        world.ollama.set_failure(failure.clone());
        world.openai.set_models(vec![openai_model("gpt-4o"), openai_model("gpt-4o-mini")]);

        let started = Instant::now();
        let mut command = world.command(&["--once"]);
        command.envs(env.iter().copied());
        let run = support::Run::from(command.output().await.expect("run litellm-sync"));
        run.assert_failed();
        assert!(started.elapsed() < Duration::from_secs(30), "{failure:?} took {:?}", started.elapsed());
        assert!(run.stdout.contains("lab: FAILED:") && run.stdout.contains(says), "{failure:?}: {}", run.stdout);
        assert_untouched(&world, &lab, &before, says).await;
        assert!(world.entry("gpt-4o-mini").is_some(), "{failure:?}: the other provider still syncs");
    }

    #[tokio::test]
    async fn server_error() {
        listing_fault(Failure::Status(500), "answered HTTP 500: simulated failure").await;
    }

    #[tokio::test]
    async fn garbage() {
        listing_fault(Failure::InvalidJson, "did not answer with a model list").await;
    }

    #[tokio::test]
    async fn hanging() {
        listing_fault(Failure::Hang, "did not answer within 3 s").await;
    }

    /// reqwest's timeout is total: bytes trickling in do not extend it.
    #[tokio::test]
    async fn slow_drip() {
        listing_fault(Failure::SlowDrip(Duration::from_millis(200)), "did not answer within 3 s").await;
    }

    /// (A debug build parses 16 MiB slower than the tests' 3 s request timeout.)
    #[tokio::test]
    async fn huge() {
        let says = "sent more than 16777216 bytes; refusing to read further";
        listing_fault_with(Failure::Oversized(24 * 1024 * 1024), says, &[("REQUEST_TIMEOUT_SECONDS", "25")]).await;
    }

    #[tokio::test]
    async fn redirecting_to_another_host() {
        let capture = Capture::start().await;
        listing_fault(Failure::Redirect(capture.url()), "another host; not followed").await;
        assert!(capture.received().is_empty(), "a redirect reached the third host: {:?}", capture.received());
    }

    #[tokio::test]
    async fn empty_while_models_are_recorded() {
        let (world, lab, _) = synced_world().await;
        let before = world.models().await;
        world.ollama.set_failure(Failure::EmptyList);
        world.openai.set_models(vec![openai_model("gpt-4o"), openai_model("gpt-4o-mini")]);
        let run = world.once().await;
        run.assert_ok();
        assert!(run.stdout.contains("answered with no models while 3 are recorded"), "{}", run.stdout);
        let kept = world.models().await;
        assert_eq!(kept.iter().filter(|m| m.provider_id == lab.id && !m.is_orphaned).count(), 3);
        assert_eq!(before.iter().filter(|m| m.provider_id == lab.id).count(), 3);
        assert!(world.entry("llama3.2:3b").is_some() && world.entry("gpt-4o-mini").is_some());
    }

    #[tokio::test]
    async fn down() {
        let (world, _, _) = synced_world().await;
        let down = world.add_provider(NewProvider::new("down", ProviderType::Ollama, closed_port_url().await)).await;
        let known = models::FetchedModel::from_upstream(ProviderType::Ollama, "kept:7b", Some("d".into()), &json!({}));
        models::record_fetch(world.db(), down.id, &[known], &["kept:7b".to_owned()]).await.expect("record");
        world.openai.set_models(vec![openai_model("gpt-4o"), openai_model("gpt-4o-mini")]);
        let run = world.once().await;
        run.assert_failed();
        assert!(run.stdout.contains("down: FAILED: cannot reach http://127.0.0.1:"), "{}", run.stdout);
        assert!(!world.model(&down, "kept:7b").await.is_orphaned);
        assert!(world.entry("gpt-4o-mini").is_some());
    }

    /// One id listed 3,000 times is one model, read once, and the report says so.
    #[tokio::test]
    async fn one_id_listed_3000_times() {
        let world = World::new().await;
        world.ollama.set_models(vec![OllamaModel::chat("same:latest"); 3000]);
        let lab = world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
        world.openai.set_models(vec![openai_model("gpt-4o"); 3000]);
        let hosted = world.add_provider(NewProvider::new("hosted", ProviderType::Openai, world.openai.url())).await;

        let run = world.once().await;
        run.assert_ok();
        assert_eq!(world.ollama.show_calls(), 1);
        assert_eq!(world.entry_names(), vec!["gpt-4o", "same:latest"]);
        let last = sync_runs::last_per_provider(world.db()).await.expect("runs");
        for provider in [&lab, &hosted] {
            let row = last.iter().find(|r| r.provider_id == Some(provider.id)).expect("row");
            assert_eq!((row.added, row.models_seen), (1, 1), "{}", provider.name);
            let message = row.message.as_deref().unwrap_or("");
            assert!(
                message.contains("listed 2999 entries under a model id it had already listed"),
                "{}: {message}",
                provider.name
            );
        }
    }
}

mod details {
    //! Faults of Ollama's `/api/show`.

    use super::*;

    /// A slow drip on every details request: the whole fetch has one deadline, after which it
    /// fails and records nothing, however many models are waiting.
    #[tokio::test]
    async fn slow_drip_is_cut_by_the_fetch_deadline_and_records_nothing() {
        let world = World::new().await;
        world.ollama.set_models((0..48).map(OllamaModel::synthetic).collect());
        world.ollama.set_show_failure(Failure::SlowDrip(Duration::from_millis(100)));
        let lab = world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
        world.add_openai_provider("hosted", &["gpt-4o"]).await;

        let started = Instant::now();
        let mut command = world.command(&["--once"]);
        command.env("FETCH_TIMEOUT_SECONDS", "4");
        let run = support::Run::from(command.output().await.expect("run"));
        let took = started.elapsed();
        run.assert_failed();
        assert!(took < Duration::from_secs(8), "took {took:?}");
        assert!(run.stdout.contains("reading lab took longer than 4 s (FETCH_TIMEOUT_SECONDS)"), "{}", run.stdout);
        assert!(world.models().await.iter().all(|m| m.provider_id != lab.id), "nothing of lab half-written");
        assert_eq!(world.entry_names(), vec!["gpt-4o"]);
    }

    /// Answers of 4 MB each (a license that size), 16 at a time: skipped while they stream in.
    /// Before streaming, each was held whole and parsed into a `Value`: ~190 MB peak.
    #[tokio::test]
    async fn huge_answers_are_streamed_not_held() {
        let world = World::new().await;
        let padded = (0..16).map(|i| OllamaModel::synthetic(i).show_padding(4 * 1024 * 1024)).collect();
        world.ollama.set_models(padded);
        let lab = world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;

        let mut command = world.command(&["--once"]);
        command.env("LOG_LEVEL", "warn").stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        let mut child = command.spawn().expect("spawn");
        let pid = child.id().expect("pid");
        let mut peak_kb = 0u64;
        let status = loop {
            if let Some(kb) = vm_hwm_kb(pid) {
                peak_kb = peak_kb.max(kb);
            }
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert!(status.success());
        assert!(peak_kb < 60 * 1024, "peak RSS {peak_kb} kB");
        let model = world.model(&lab, OllamaModel::synthetic(1).name()).await;
        assert!(model.context_window.is_some(), "details were read");
        let raw = models::raw_metadata(world.db(), model.id).await.expect("query").expect("raw");
        assert!(raw.get("license").is_none());
    }

    fn vm_hwm_kb(pid: u32) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
    }

    /// A details request redirected elsewhere carries the provider key and a body: not sent.
    #[tokio::test]
    async fn redirecting_to_another_host() {
        let capture = Capture::start().await;
        let world = World::new().await;
        world.ollama.set_models(vec![OllamaModel::chat("llama3.2:3b")]);
        world.ollama.require_bearer(Some("sk-ollama-cloud".into()));
        world.ollama.set_show_failure(Failure::Redirect(capture.url()));
        let mut new = NewProvider::new("cloud", ProviderType::Ollama, world.ollama.url());
        new.api_key = Some("sk-ollama-cloud".into());
        world.add_provider(new).await;

        let run = world.once().await;
        assert!(run.stdout.contains("another host; not followed"), "{}", run.stdout);
        assert!(capture.received().is_empty(), "{:?}", capture.received());
    }
}

mod litellm {
    //! A LiteLLM whose writes redirect to a third host.

    use super::*;
    use testkit::Redirector;

    #[tokio::test]
    async fn writes_redirected_to_another_host_are_not_sent() {
        let (world, _lab) = World::with_lab().await;
        let capture = Capture::start().await;
        let redirector = Redirector::start(&world.litellm.url(), &capture.url()).await;
        let key = shared::Secret::new(support::MASTER_KEY);
        shared::db::config::set_litellm(world.db(), Some(&redirector.url()), Some(&key)).await.expect("config");

        let run = world.once().await;
        run.assert_failed();
        assert!(capture.received().is_empty(), "provider keys went to a third host: {:?}", capture.received());
        let output = run.all_output();
        assert!(
            output.contains(&format!("{}/model/new redirected to {}/model/new", redirector.url(), capture.url())),
            "{output}"
        );
        assert!(world.litellm.entries().is_empty());
    }
}

mod queue {
    //! The worker keeps taking jobs while an upstream drips.

    use super::*;
    use shared::jobs::JobRequest;

    #[tokio::test]
    async fn a_dripping_provider_fails_at_its_deadline_and_the_next_job_runs() {
        let world = World::new().await;
        world.ollama.set_models((0..48).map(OllamaModel::synthetic).collect());
        world.ollama.set_show_failure(Failure::SlowDrip(Duration::from_millis(100)));
        let lab = world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
        let hosted = world.add_openai_provider("hosted", &["gpt-4o"]).await;
        let slow = world.enqueue(&JobRequest::FetchProvider { provider_id: lab.id }).await;
        let next = world.enqueue(&JobRequest::FetchProvider { provider_id: hosted.id }).await;

        let mut command = world.command(&[]);
        command.env("FETCH_TIMEOUT_SECONDS", "3");
        let _worker = world.spawn(command);
        let started = Instant::now();
        let next = world.finished_job(next).await;
        assert!(started.elapsed() < Duration::from_secs(10), "the queue waited {:?}", started.elapsed());
        assert_eq!(next.status, "done", "{next:?}");
        let slow = world.finished_job(slow).await;
        assert_eq!(slow.status, "failed");
        assert!(slow.error.as_deref().unwrap_or("").contains("took longer than 3 s"), "{slow:?}");
        assert!(world.models().await.iter().all(|m| m.provider_id != lab.id));
    }
}
