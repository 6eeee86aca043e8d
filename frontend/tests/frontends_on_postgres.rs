//! Three real `litellm-frontend` processes and one `litellm-sync` on one PostgreSQL database:
//! clients write through all three at once while syncs run. No request may fail and every
//! write must be in the database afterwards, whichever frontend it went through.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Client, RequestBuilder};
use serde_json::{Value, json};
use shared::db::{Backend, jobs};
use shared::test_support::TestDatabase;
use testkit::{FakeLiteLlm, FakeOllama, FakeOpenAi, OllamaModel, free_port, openai_model, wait_until};
use tokio::process::{Child, Command};

const MASTER_KEY: &str = "sk-frontends-master-key-0042";
const FRONTENDS: usize = 3;
const WRITES: usize = 30;

fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_litellm-frontend")).with_file_name(name);
    assert!(path.is_file(), "{} not built: run the workspace's tests (`cargo test --workspace`)", path.display());
    path
}

fn spawn(dir: &std::path::Path, name: &str, log: &str, url: &str, env: &[(&str, String)]) -> Child {
    let file = std::fs::File::create(dir.join(format!("{log}.log"))).expect("log file");
    Command::new(binary(name))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("LOG_LEVEL", "debug")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(file.try_clone().expect("log file"))
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"))
}

/// Sends `request`; anything but a 2xx answer is a failure, described.
async fn send(request: RequestBuilder, what: &str) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| format!("{what}: transport: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{what}: body: {e}"))?;
    if !status.is_success() {
        return Err(format!("{what}: {status}: {}", body.chars().take(300).collect::<String>()));
    }
    Ok(serde_json::from_str(&body).unwrap_or(Value::Null))
}

async fn ok(request: RequestBuilder, what: &str) -> Value {
    send(request, what).await.unwrap_or_else(|failure| panic!("{failure}"))
}

/// What one client wrote through its frontend, to be found in the database afterwards.
#[derive(Debug, Default)]
struct Written {
    requests: usize,
    failures: Vec<String>,
    /// The last user tags written per model (each client writes only its own models).
    model_tags: Vec<(i64, Vec<String>)>,
    /// Its own provider and the tags written last.
    provider: Option<(i64, Vec<String>)>,
    aliases: Vec<String>,
}

async fn client(http: Client, base: String, me: usize, own_models: Vec<i64>, target: i64) -> Written {
    let mut written = Written::default();
    let provider = ok(
        http.post(format!("{base}/api/providers")).json(&json!({
            "name": format!("edited-by-{me}"), "type": "openai", "base_url": "http://127.0.0.1:9", "sync_enabled": false
        })),
        "create a provider",
    )
    .await;
    let provider_id = provider["id"].as_i64().expect("provider id");
    let mut latest: Vec<(i64, Vec<String>)> = Vec::new();
    let mut provider_tags = Vec::new();
    for n in 0..WRITES {
        let (request, what) = match n % 3 {
            0 => {
                let id = own_models[n / 3 % own_models.len()];
                let tags = vec![format!("fe{me}-{n}")];
                latest.retain(|(m, _)| *m != id);
                latest.push((id, tags.clone()));
                (http.patch(format!("{base}/api/models/{id}")).json(&json!({"user_tags": tags})), "model override")
            }
            1 => {
                provider_tags = vec![format!("fe{me}-{n}")];
                let body = json!({"tags": provider_tags});
                (http.patch(format!("{base}/api/providers/{provider_id}")).json(&body), "provider edit")
            }
            _ => {
                let alias = format!("alias-{me}-{n}");
                written.aliases.push(alias.clone());
                let body =
                    json!({"model_name": alias, "mapped_provider_id": target, "mapped_model_id": "hosted-model-00"});
                (http.post(format!("{base}/api/compat/models")).json(&body), "alias create")
            }
        };
        // Around every write: a sync queued, and a read.
        let requests = [
            (request, what),
            (http.post(format!("{base}/api/providers/sync-all")), "queue a sync"),
            (http.get(format!("{base}/api/models?per_page=50&page={}", n % 2 + 1)), "list models"),
        ];
        for (request, what) in requests {
            written.requests += 1;
            if let Err(failure) = send(request, what).await {
                written.failures.push(failure);
            }
        }
    }
    written.model_tags = latest;
    written.provider = Some((provider_id, provider_tags));
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_frontends_writing_while_syncs_run_on_postgresql_lose_nothing_and_fail_nothing() {
    let database = TestDatabase::on(Backend::Postgres).await;
    let url = database.location().to_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let ollama = FakeOllama::start().await;
    ollama.set_models((0..60).map(OllamaModel::synthetic).collect());
    let openai = FakeOpenAi::start().await;
    openai.set_models((0..20).map(|i| openai_model(&format!("hosted-model-{i:02}"))).collect());
    let litellm = FakeLiteLlm::start(MASTER_KEY).await;
    litellm.set_latency(Duration::from_millis(5));

    let _worker = spawn(
        dir.path(),
        "litellm-sync",
        "worker",
        &url,
        &[
            ("LITELLM_BASE_URL", litellm.url()),
            ("LITELLM_API_KEY", MASTER_KEY.into()),
            ("POLL_INTERVAL_MS", "100".into()),
            ("HEARTBEAT_SECONDS", "1".into()),
        ],
    );
    let mut frontends = Vec::new();
    let mut bases = Vec::new();
    for n in 0..FRONTENDS {
        let port = free_port().await;
        frontends.push(spawn(
            dir.path(),
            "litellm-frontend",
            &format!("frontend-{n}"),
            &url,
            &[("PORT", port.to_string())],
        ));
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    let http = testkit::http_client(Duration::from_secs(30));
    for base in &bases {
        wait_until("every frontend answering", Duration::from_secs(30), || {
            let (http, url) = (http.clone(), format!("{base}/health"));
            async move { http.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
    }

    let mut hosted = 0;
    for (name, kind, upstream) in [("lab", "ollama", ollama.url()), ("hosted", "openai", openai.url())] {
        let body = json!({"name": name, "type": kind, "base_url": upstream});
        let created = ok(http.post(format!("{}/api/providers", bases[0])).json(&body), "create provider").await;
        if name == "hosted" {
            hosted = created["id"].as_i64().expect("id");
        }
    }
    ok(http.post(format!("{}/api/providers/sync-all?wait=60", bases[1])), "first sync").await;
    let models = ok(http.get(format!("{}/api/models?per_page=100", bases[2])), "models").await;
    let ids: Vec<i64> = models["items"].as_array().into_iter().flatten().filter_map(|m| m["id"].as_i64()).collect();
    assert_eq!(ids.len(), 80, "the first sync recorded every model: {models}");
    let first_job = jobs::recent(&database.open().await, 1).await.expect("jobs")[0].id;

    let clients: Vec<_> = (0..FRONTENDS)
        .map(|me| {
            let own: Vec<i64> = ids.iter().copied().skip(me).step_by(FRONTENDS).collect();
            tokio::spawn(client(http.clone(), bases[me].clone(), me, own, hosted))
        })
        .collect();
    let mut all = Vec::new();
    for client in clients {
        all.push(client.await.expect("client task"));
    }

    let requests: usize = all.iter().map(|w| w.requests).sum();
    let failures: Vec<&String> = all.iter().flat_map(|w| &w.failures).collect();
    assert_eq!(requests, FRONTENDS * WRITES * 3);
    assert!(failures.is_empty(), "{} of {requests} requests failed:\n{failures:#?}", failures.len());

    // Every write is in the database, read back through another frontend than the one it
    // went through.
    for (me, written) in all.iter().enumerate() {
        let base = &bases[(me + 1) % FRONTENDS];
        for (id, tags) in &written.model_tags {
            let model = ok(http.get(format!("{base}/api/models/{id}")), "read a model").await;
            assert_eq!(model["user_tags"], json!(tags), "model {id} lost an override written through frontend {me}");
        }
        let (provider, tags) = written.provider.as_ref().expect("a provider");
        let provider = ok(http.get(format!("{base}/api/providers/{provider}")), "read a provider").await;
        assert_eq!(provider["tags"], json!(tags), "frontend {me}'s provider edit lost: {provider}");
    }
    let aliases = ok(http.get(format!("{}/api/compat/models", bases[0])), "aliases").await;
    let mut held: Vec<String> =
        aliases.as_array().into_iter().flatten().filter_map(|a| a["model_name"].as_str().map(str::to_owned)).collect();
    held.sort();
    let mut wanted: Vec<String> = all.iter().flat_map(|w| w.aliases.clone()).collect();
    wanted.sort();
    assert_eq!(held, wanted, "every alias created, none twice");

    // The syncs ran meanwhile, and none failed.
    let db = database.open().await;
    wait_until("the queue drained", Duration::from_secs(30), || async {
        jobs::queue_depth(&db).await.expect("depth") == 0
    })
    .await;
    let ran: Vec<_> = jobs::recent(&db, 1000).await.expect("jobs").into_iter().filter(|j| j.id > first_job).collect();
    let failed: Vec<_> = ran.iter().filter(|j| j.status != "done").collect();
    assert!(ran.len() >= 2, "syncs ran during the writes: {} jobs", ran.len());
    assert!(failed.is_empty(), "failed syncs: {failed:#?}");
    eprintln!("{requests} requests through {FRONTENDS} frontends, {} syncs meanwhile, 0 failed", ran.len());
}
