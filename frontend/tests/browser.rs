//! End to end in a real browser: the real `litellm-frontend` and `litellm-sync` binaries on one
//! database, fake Ollama and LiteLLM servers on 127.0.0.1, and headless Chromium driven through
//! chromedriver (Debian's `chromium` + `chromium-driver`; `scripts/test` installs them).
//! Screenshots of every page land in `target/browser-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use shared::Secret;
use shared::db::{config, models, snapshot};
use testkit::{FakeLiteLlm, FakeOllama, OllamaModel, free_port, wait_until};
use tokio::process::{Child, Command};

const MASTER_KEY: &str = "sk-browser-master-0001";

/// Fakes, a database, both services and a browser.
struct Stack {
    dir: tempfile::TempDir,
    db: shared::Database,
    ollama: FakeOllama,
    litellm: FakeLiteLlm,
    base: String,
    _worker: Child,
    _frontend: Child,
    _driver: Child,
    browser: Client,
}

fn binary(name: &str) -> PathBuf {
    let frontend = PathBuf::from(env!("CARGO_BIN_EXE_litellm-frontend"));
    let path = frontend.with_file_name(name);
    assert!(path.is_file(), "{} not built: run the workspace's tests (`cargo test --workspace`)", path.display());
    path
}

fn log_file(dir: &Path, name: &str) -> (std::fs::File, std::fs::File) {
    let file = std::fs::File::create(dir.join(name)).expect("log file");
    (file.try_clone().expect("clone"), file)
}

impl Stack {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db_path = dir.path().join("data").join("models.db");
        let ollama = FakeOllama::start().await;
        ollama.set_models(vec![
            OllamaModel::chat("llama3.2:3b").context_length(131072),
            OllamaModel::embedding("nomic-embed-text:latest"),
            OllamaModel::vision("qwen2.5vl:7b"),
        ]);
        let litellm = FakeLiteLlm::start(MASTER_KEY).await;

        // The worker creates and migrates the database; the frontend waits for it.
        let (out, err) = log_file(dir.path(), "worker.log");
        let worker = Command::new(binary("litellm-sync"))
            .env("DATABASE_PATH", &db_path)
            .env("LITELLM_BASE_URL", litellm.url())
            .env("LITELLM_API_KEY", MASTER_KEY)
            .env("POLL_INTERVAL_MS", "200")
            .env("HEARTBEAT_SECONDS", "1")
            .env("LOG_LEVEL", "debug")
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("start litellm-sync");
        let port = free_port().await;
        let (out, err) = log_file(dir.path(), "frontend.log");
        let frontend = Command::new(binary("litellm-frontend"))
            .env("DATABASE_PATH", &db_path)
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("LOG_LEVEL", "debug")
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .expect("start litellm-frontend");
        let base = format!("http://127.0.0.1:{port}");
        wait_until("the frontend to listen", Duration::from_secs(30), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
        let db = shared::Database::open(&db_path).await.expect("open database");

        let driver_port = free_port().await;
        let driver = Command::new("chromedriver")
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver (apt-get install chromium chromium-driver)");
        let profile = dir.path().join("chromium-profile");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--window-size=1400,1000",
                         format!("--user-data-dir={}", profile.display())],
            }),
        );
        let driver_url = format!("http://127.0.0.1:{driver_port}");
        let mut browser = None;
        for _ in 0..50 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&driver_url).await {
                Ok(client) => {
                    browser = Some(client);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let browser = browser.expect("a Chromium session through chromedriver");
        Self { dir, db, ollama, litellm, base, _worker: worker, _frontend: frontend, _driver: driver, browser }
    }

    async fn open(&self, path: &str) {
        self.browser.goto(&format!("{}{path}", self.base)).await.expect("navigate");
    }

    /// Saves a screenshot as `target/browser-artifacts/<name>.png`.
    async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let png = self.browser.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// The page's visible text; empty while a navigation replaces the page (the element found a
    /// moment ago is then stale), so callers that poll simply look again.
    async fn text(&self) -> String {
        match self.browser.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn wait_for_text(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text().await;
            if text.contains(needle) {
                return;
            }
            assert!(Instant::now() < deadline, "{needle:?} never appeared; page text:\n{text}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn fill(&self, selector: &str, value: &str) {
        let field = self.browser.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("{selector}: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }
}

fn button(label: &str) -> String {
    format!("//button[normalize-space(.)='{label}']")
}

impl Stack {
    async fn click_button(&self, label: &str) {
        let xpath = button(label);
        self.browser
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {label:?}: {e}"))
            .click()
            .await
            .expect("click");
    }

    /// Waits for the in-place job status next to an action to say the job is done.
    async fn wait_for_job_done(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(status) = self.browser.find(Locator::Css(".jobstatus.done")).await {
                let text = status.text().await.unwrap_or_default();
                assert!(text.starts_with("done"), "{text}");
                return;
            }
            if let Ok(failed) = self.browser.find(Locator::Css(".jobstatus.failed")).await {
                panic!("the job failed: {}", failed.text().await.unwrap_or_default());
            }
            assert!(Instant::now() < deadline, "the job never finished:\n{}", self.text().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn entry(&self, model_name: &str) -> Option<serde_json::Value> {
        self.litellm.entries().into_iter().find(|e| e["model_name"] == model_name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_a_provider_syncs_overrides_and_deletes_in_the_browser() {
    let stack = Stack::start().await;

    stack.open("/").await;
    stack.wait_for_text("worker online", Duration::from_secs(15)).await;
    stack.screenshot("01-overview-empty").await;

    // Add a provider through the form.
    stack.open("/providers/new").await;
    stack.fill("input[name=name]", "lab-ollama").await;
    stack.fill("input[name=base_url]", &stack.ollama.url()).await;
    stack.screenshot("02-provider-form").await;
    stack.click_button("Add provider").await;
    stack.wait_for_text("lab-ollama", Duration::from_secs(5)).await;

    // "Sync now", and watch the job finish in place.
    stack.open("/providers").await;
    stack.click_button("Sync lab-ollama now").await;
    stack.wait_for_job_done().await;
    stack.screenshot("03-providers-synced").await;
    assert_eq!(stack.litellm.entries().len(), 3);

    // The models are listed.
    stack.open("/models").await;
    for name in ["llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"] {
        stack.wait_for_text(name, Duration::from_secs(5)).await;
    }
    stack.screenshot("04-models").await;

    // Edit an override; it survives the next sync and reaches LiteLLM.
    stack.browser.find(Locator::LinkText("llama3.2:3b")).await.expect("model link").click().await.expect("open");
    stack.fill("textarea[name=params]", r#"{"rpm": 42}"#).await;
    stack.fill("input[name=user_tags]", "team-blue").await;
    stack.click_button("Save overrides").await;
    wait_until("the saved overrides", Duration::from_secs(5), || async {
        stack.browser.current_url().await.is_ok_and(|u| u.as_str().contains("notice=model-saved"))
    })
    .await;
    stack.screenshot("05-model-overrides").await;
    stack.open("/providers").await;
    stack.click_button("Sync lab-ollama now").await;
    stack.wait_for_job_done().await;
    let entry = stack.entry("llama3.2:3b").expect("entry in LiteLLM");
    assert_eq!(entry["litellm_params"]["rpm"], 42);
    assert!(entry["litellm_params"]["tags"].as_array().is_some_and(|t| t.contains(&"team-blue".into())));
    let lab = shared::db::providers::get_by_name(stack.db.pool(), "lab-ollama").await.expect("query").expect("saved");
    let model = models::get_by_model_id(stack.db.pool(), lab.id, "llama3.2:3b").await.expect("query").expect("model");
    assert_eq!(model.user_tags(), ["team-blue"]);

    // Delete one entry from the LiteLLM page.
    stack.open("/litellm").await;
    stack.wait_for_text("qwen2.5vl:7b", Duration::from_secs(5)).await;
    stack.screenshot("06-litellm").await;
    stack.click_button("Delete qwen2.5vl:7b from LiteLLM").await;
    stack.browser.accept_alert().await.expect("confirm the deletion");
    stack.wait_for_job_done().await;
    assert!(stack.entry("qwen2.5vl:7b").is_none());
    assert_eq!(stack.litellm.entries().len(), 2);
    let (_, held) = snapshot::latest(stack.db.pool()).await.expect("query").expect("snapshot");
    assert!(held.iter().all(|e| e["model_name"] != "qwen2.5vl:7b"), "the snapshot shows the deletion");

    for (path, name, expected) in [
        ("/", "07-overview", "lab-ollama"),
        ("/compat", "08-compat", "Register"),
        ("/history", "09-history", "lab-ollama"),
        ("/plan", "10-plan", "dry-run"),
        ("/admin", "11-settings", "LiteLLM"),
    ] {
        stack.open(path).await;
        stack.wait_for_text(expected, Duration::from_secs(5)).await;
        stack.screenshot(name).await;
    }
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_from_upstreams_and_users_renders_as_text_in_the_browser() {
    let stack = Stack::start().await;
    let payload = "<img src=x onerror=alert(1)>";
    let mut hostile =
        shared::db::providers::NewProvider::new(payload, shared::types::ProviderType::Ollama, "http://h:1");
    hostile.tags = vec![payload.into()];
    let provider = shared::db::providers::insert(stack.db.pool(), &hostile).await.expect("insert");
    let model = models::FetchedModel::from_upstream(
        shared::types::ProviderType::Ollama,
        payload,
        None,
        &serde_json::json!({"details": {"family": payload}}),
    );
    models::record_fetch(stack.db.pool(), provider.id, &[model], &[payload.to_owned()]).await.expect("record");
    config::set_litellm(stack.db.pool(), Some(&stack.litellm.url()), Some(&Secret::new(MASTER_KEY)))
        .await
        .expect("cfg");

    for path in ["/providers", "/models"] {
        stack.open(path).await;
        stack.wait_for_text(payload, Duration::from_secs(5)).await;
        assert!(stack.browser.get_alert_text().await.is_err(), "{path} ran the payload");
        let images = stack.browser.find_all(Locator::Css("img")).await.expect("query");
        assert!(images.is_empty(), "{path} rendered an <img> element");
    }
    stack.screenshot("12-escaped").await;
    let logs = std::fs::read_to_string(stack.dir.path().join("frontend.log")).unwrap_or_default();
    assert!(!logs.contains(MASTER_KEY), "the frontend never logs the LiteLLM key");
    stack.browser.clone().close().await.expect("close the browser");
}
