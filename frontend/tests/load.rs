//! Both real binaries on one SQLite file under mixed load: the worker syncing without pause while
//! clients read every kind of page and API answer and write overrides, settings and jobs. Nothing
//! may answer 5xx, no process may log "database is locked", and no write may be lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use testkit::{FakeLiteLlm, FakeOllama, FakeOpenAi, OllamaModel, free_port, openai_model, wait_until};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

const MASTER_KEY: &str = "sk-load-test-master-key-0042";
const LOAD: Duration = Duration::from_secs(30);
const CLIENTS: usize = 8;

fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_litellm-frontend")).with_file_name(name);
    assert!(path.is_file(), "{} not built: run the workspace's tests (`cargo test --workspace`)", path.display());
    path
}

fn spawn(dir: &Path, name: &str, db: &Path, env: &[(&str, String)]) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log file");
    Command::new(binary(name))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_PATH", db)
        .env("LOG_LEVEL", "debug")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}

#[derive(Default)]
struct Tally {
    requests: AtomicUsize,
    failures: Mutex<Vec<String>>,
    /// The last user tags written per model id, to check none was lost.
    written: Mutex<std::collections::HashMap<i64, Vec<String>>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_api_load_during_continuous_syncs_never_fails_or_locks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("data").join("models.db");
    let ollama = FakeOllama::start().await;
    ollama.set_models((0..200).map(OllamaModel::synthetic).collect());
    let openai = FakeOpenAi::start().await;
    openai.set_models((0..50).map(|i| openai_model(&format!("hosted-model-{i:02}"))).collect());
    let litellm = FakeLiteLlm::start(MASTER_KEY).await;

    let _worker = spawn(
        dir.path(),
        "litellm-sync",
        &db,
        &[
            ("LITELLM_BASE_URL", litellm.url()),
            ("LITELLM_API_KEY", MASTER_KEY.into()),
            ("POLL_INTERVAL_MS", "100".into()),
            ("HEARTBEAT_SECONDS", "1".into()),
        ],
    );
    let port = free_port().await;
    let _frontend = spawn(dir.path(), "litellm-frontend", &db, &[("PORT", port.to_string())]);
    let base = format!("http://127.0.0.1:{port}");
    let http = testkit::http_client(Duration::from_secs(30));
    wait_until("the frontend to answer", Duration::from_secs(30), || {
        let http = http.clone();
        let url = format!("{base}/health");
        async move { http.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;

    for (name, kind, url) in [("lab", "ollama", ollama.url()), ("hosted", "openai", openai.url())] {
        let created = http
            .post(format!("{base}/api/providers"))
            .json(&json!({"name": name, "type": kind, "base_url": url}))
            .send()
            .await
            .expect("create provider");
        assert_eq!(created.status().as_u16(), 201, "{name}");
    }
    let first = http.post(format!("{base}/api/providers/sync-all?wait=60")).send().await.expect("first sync");
    assert!(first.status().is_success());
    let models: Value =
        http.get(format!("{base}/api/models?per_page=100")).send().await.expect("models").json().await.expect("JSON");
    let ids: Vec<i64> = models["items"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_i64()).collect();
    assert!(ids.len() >= 50, "the first sync recorded the models: {models}");

    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + LOAD;
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (http, base, ids, tally) = (http.clone(), base.clone(), ids.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0usize;
            while Instant::now() < deadline {
                n += 1;
                let id = ids[(client * 31 + n) % ids.len()];
                let request = match (client + n) % 10 {
                    0 => http.get(format!("{base}/api/providers")),
                    1 => http.get(format!("{base}/api/models?page={}&per_page=50", n % 5 + 1)),
                    2 => http.get(format!("{base}/models?q=synth&page={}", n % 3 + 1)),
                    3 => http.get(format!("{base}/")),
                    4 => http.get(format!("{base}/api/models/{id}")),
                    5 => http.get(format!("{base}/metrics")),
                    6 => http.get(format!("{base}/litellm")),
                    7 => http.post(format!("{base}/api/providers/sync-all")),
                    8 => http.get(format!("{base}/api/jobs?limit=20")),
                    _ => {
                        // Each client writes its own share of the models, so the last value
                        // written to a model is known without ordering clients' requests.
                        let own: Vec<i64> = ids.iter().copied().skip(client).step_by(CLIENTS).collect();
                        let id = own[n % own.len()];
                        let tags = vec![format!("load-{client}-{n}")];
                        tally.written.lock().await.insert(id, tags.clone());
                        http.patch(format!("{base}/api/models/{id}")).json(&json!({"user_tags": tags}))
                    }
                };
                tally.requests.fetch_add(1, Ordering::Relaxed);
                match request.send().await {
                    Ok(response) if response.status().is_server_error() => {
                        let status = response.status();
                        let body = response.text().await.unwrap_or_default();
                        tally
                            .failures
                            .lock()
                            .await
                            .push(format!("{status}: {}", body.chars().take(300).collect::<String>()));
                    }
                    Ok(_) => {}
                    Err(error) => tally.failures.lock().await.push(format!("transport: {error}")),
                }
            }
        }));
    }
    for client in clients {
        client.await.expect("client task");
    }

    let failures = tally.failures.lock().await;
    let requests = tally.requests.load(Ordering::Relaxed);
    eprintln!("{requests} requests by {CLIENTS} clients in {} s", LOAD.as_secs());
    assert!(requests > 200, "the load ran: {requests} requests");
    assert!(failures.is_empty(), "{} of {requests} requests failed:\n{}", failures.len(), failures.join("\n"));
    for name in ["litellm-sync", "litellm-frontend"] {
        let log = std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default();
        assert!(!log.contains("database is locked"), "{name} logged a locked database");
    }
    // Every override written is what the database holds now.
    for (id, tags) in tally.written.lock().await.iter() {
        let model: Value =
            http.get(format!("{base}/api/models/{id}")).send().await.expect("model").json().await.expect("JSON");
        assert_eq!(model["user_tags"], json!(tags), "model {id} lost an override write");
    }
}
