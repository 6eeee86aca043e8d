//! The README's quickstart, literally: `scripts/run` in a fresh directory starts both real binaries
//! on the embedded SQLite default and prints the UI's URL; a provider is added through the API and
//! synced into LiteLLM (a fake on loopback); SIGTERM stops both services; a restart loses nothing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use testkit::{FakeLiteLlm, FakeOllama, OllamaModel, free_port};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const MASTER_KEY: &str = "sk-quickstart-master-7";

/// `scripts/run`, in its own process group so that both services go down with it.
struct Quickstart {
    child: Child,
    url: String,
}

impl Quickstart {
    async fn start(dir: &Path, port: u16, litellm: &FakeLiteLlm) -> Self {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/run");
        let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_litellm-frontend")).parent().expect("bin dir").to_path_buf();
        let mut child = Command::new("bash")
            .arg(script)
            .current_dir(dir)
            .env("LITELLM_UPDATER_BIN_DIR", bin_dir)
            .env("LITELLM_BASE_URL", litellm.url())
            .env("LITELLM_API_KEY", MASTER_KEY)
            .env("PORT", port.to_string())
            .env("POLL_INTERVAL_MS", "200")
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .expect("run scripts/run");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let announced = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.strip_prefix("litellm-updater is running: open ") {
                    return rest.split_whitespace().next().map(str::to_owned);
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("scripts/run printed the UI's URL");
        assert_eq!(announced, format!("http://127.0.0.1:{port}"));
        Self { child, url: announced }
    }

    /// SIGTERM, as a service manager (or Ctrl-C) would send it; both services must be gone after.
    async fn stop(mut self) {
        let pid = self.child.id().expect("running").to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().await.expect("kill");
        assert!(sent.success());
        let status =
            tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await.expect("stops").expect("wait");
        assert_eq!(status.code(), Some(0));
        let port = self.url.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).expect("port");
        assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "the frontend is down");
    }
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &format!("-{pid}")]).status();
        }
    }
}

async fn json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON");
    assert!(status.is_success(), "{status}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_runs_syncs_and_survives_a_restart() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let ollama = FakeOllama::start().await;
    ollama.set_models(vec![
        OllamaModel::chat("llama3.2:3b"),
        OllamaModel::embedding("nomic-embed-text:latest"),
        OllamaModel::vision("qwen2.5vl:7b"),
    ]);
    let litellm = FakeLiteLlm::start(MASTER_KEY).await;
    let dir = tempfile::tempdir().expect("a fresh directory");
    let port = free_port().await;

    let run = Quickstart::start(dir.path(), port, &litellm).await;
    assert!(dir.path().join("data/models.db").is_file(), "the embedded SQLite default");
    let provider = json(
        http.post(format!("{}/api/providers", run.url))
            .json(&json!({"name": "lab", "type": "ollama", "base_url": ollama.url()}))
            .send()
            .await
            .expect("add a provider"),
    )
    .await;
    let id = provider["id"].as_i64().expect("provider id");
    let job =
        json(http.post(format!("{}/api/providers/{id}/sync-now?wait=60", run.url)).send().await.expect("sync")).await;
    assert_eq!(job["status"], "done", "{job}");
    let mut names: Vec<String> =
        litellm.entries().iter().filter_map(|e| e["model_name"].as_str().map(str::to_owned)).collect();
    names.sort();
    assert_eq!(names, ["llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"]);
    run.stop().await;

    let before = litellm.entries();
    litellm.reset_counters();
    let run = Quickstart::start(dir.path(), port, &litellm).await;
    let providers = json(http.get(format!("{}/api/providers", run.url)).send().await.expect("list")).await;
    assert_eq!(providers.as_array().map(Vec::len), Some(1));
    let models = json(http.get(format!("{}/api/models", run.url)).send().await.expect("models")).await;
    assert_eq!(models["total"], 3);
    let job =
        json(http.post(format!("{}/api/providers/{id}/sync-now?wait=60", run.url)).send().await.expect("sync")).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(litellm.write_calls(), 0, "nothing was lost, so nothing is rewritten");
    assert_eq!(litellm.entries(), before);
    run.stop().await;
}
