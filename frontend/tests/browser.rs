//! End to end in a real browser: the real `litellm-frontend` and `litellm-sync` binaries on one
//! database, fake Ollama and LiteLLM servers on 127.0.0.1, and headless Chromium driven through
//! chromedriver (Debian's `chromium` + `chromium-driver`; `scripts/test` installs them).
//! Screenshots of every page, in light, dark and at 390 px, land in `target/browser-artifacts/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use shared::Secret;
use shared::db::{config, models, snapshot};
use shared::types::ProviderType;
use testkit::{FakeLiteLlm, FakeOllama, OllamaModel, WriteFault, free_port, wait_until};
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

    /// A Chrome DevTools command through chromedriver (`goog/cdp/execute`): emulated media and
    /// screen sizes.
    async fn cdp(&self, cmd: &'static str, params: serde_json::Value) {
        self.browser.issue_cmd(Cdp { cmd, params }).await.unwrap_or_else(|e| panic!("{cmd}: {e}"));
    }

    async fn dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        let features = serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": value}]});
        self.cdp("Emulation.setEmulatedMedia", features).await;
    }

    /// Emulates a screen `width` CSS pixels wide (`None`: the window's own size again).
    async fn width(&self, width: Option<u32>) {
        match width {
            Some(width) => {
                let metrics =
                    serde_json::json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false});
                self.cdp("Emulation.setDeviceMetricsOverride", metrics).await;
            }
            None => self.cdp("Emulation.clearDeviceMetricsOverride", serde_json::json!({})).await,
        }
    }

    /// Runs `script` (a function body) in the page and returns its value.
    async fn eval(&self, script: &str) -> serde_json::Value {
        self.browser.execute(script, vec![]).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// The current page in light, dark and at 390 px: `<name>-light.png`, `<name>-dark.png` and
    /// `<name>-390.png`; at 390 px nothing may be wider than the screen.
    async fn screenshots(&self, name: &str) {
        self.dark(false).await;
        self.screenshot(&format!("{name}-light")).await;
        self.dark(true).await;
        self.screenshot(&format!("{name}-dark")).await;
        self.dark(false).await;
        self.width(Some(390)).await;
        let (inner, scroll) = self.page_widths().await;
        self.screenshot(&format!("{name}-390")).await;
        let wide = self.eval(WIDEST_ELEMENTS).await;
        self.width(None).await;
        assert_eq!(inner, 390, "the emulated screen is 390 px wide");
        assert!(scroll <= 390, "{name} is {scroll} px wide at 390 px; too wide: {wide}");
    }

    /// `window.innerWidth` and `document.documentElement.scrollWidth`.
    async fn page_widths(&self) -> (i64, i64) {
        let widths = self.eval("return [window.innerWidth, document.documentElement.scrollWidth];").await;
        (widths[0].as_i64().expect("innerWidth"), widths[1].as_i64().expect("scrollWidth"))
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

/// Elements that reach past the right edge of the screen, for a failure message.
const WIDEST_ELEMENTS: &str = "return Array.from(document.querySelectorAll('body *')) \
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1) \
    .slice(0, 5).map((el) => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right));";

/// `POST /session/{id}/goog/cdp/execute`: chromedriver's door to the DevTools protocol.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({"cmd": self.cmd, "params": self.params});
        (axum::http::Method::POST, Some(body.to_string()))
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
    stack.screenshots("01-overview-empty").await;

    // Add a provider through the form.
    stack.open("/providers/new").await;
    stack.fill("input[name=name]", "lab-ollama").await;
    stack.fill("input[name=base_url]", &stack.ollama.url()).await;
    stack.screenshots("02-provider-form").await;
    stack.click_button("Add provider").await;
    stack.wait_for_text("lab-ollama", Duration::from_secs(5)).await;

    // "Sync now", and watch the job finish in place.
    stack.open("/providers").await;
    stack.click_button("Sync lab-ollama now").await;
    stack.wait_for_job_done().await;
    stack.screenshots("03-providers-synced").await;
    assert_eq!(stack.litellm.entries().len(), 3);

    // The models are listed.
    stack.open("/models").await;
    for name in ["llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"] {
        stack.wait_for_text(name, Duration::from_secs(5)).await;
    }
    stack.screenshots("04-models").await;

    // Edit an override; it survives the next sync and reaches LiteLLM.
    stack.browser.find(Locator::LinkText("llama3.2:3b")).await.expect("model link").click().await.expect("open");
    stack.fill("textarea[name=params]", r#"{"rpm": 42}"#).await;
    stack.fill("input[name=user_tags]", "team-blue").await;
    stack.click_button("Save overrides").await;
    wait_until("the saved overrides", Duration::from_secs(5), || async {
        stack.browser.current_url().await.is_ok_and(|u| u.as_str().contains("notice=model-saved"))
    })
    .await;
    stack.screenshots("05-model-overrides").await;
    stack.open("/providers").await;
    stack.click_button("Sync lab-ollama now").await;
    stack.wait_for_job_done().await;
    let entry = stack.entry("llama3.2:3b").expect("entry in LiteLLM");
    assert_eq!(entry["litellm_params"]["rpm"], 42);
    assert!(entry["litellm_params"]["tags"].as_array().is_some_and(|t| t.contains(&"team-blue".into())));
    let lab = shared::db::providers::get_by_name(&stack.db, "lab-ollama").await.expect("query").expect("saved");
    let model = models::get_by_model_id(&stack.db, lab.id, "llama3.2:3b").await.expect("query").expect("model");
    assert_eq!(model.user_tags(), ["team-blue"]);

    // Delete one entry from the LiteLLM page.
    stack.open("/litellm").await;
    stack.wait_for_text("qwen2.5vl:7b", Duration::from_secs(5)).await;
    stack.screenshots("06-litellm").await;
    stack
        .browser
        .find(Locator::Css("button[aria-label='Delete qwen2.5vl:7b from LiteLLM']"))
        .await
        .expect("the row's delete button")
        .click()
        .await
        .expect("click");
    stack.browser.accept_alert().await.expect("confirm the deletion");
    stack.wait_for_job_done().await;
    assert!(stack.entry("qwen2.5vl:7b").is_none());
    assert_eq!(stack.litellm.entries().len(), 2);
    let (_, held) = snapshot::latest(&stack.db).await.expect("query").expect("snapshot");
    assert!(held.iter().all(|e| e["model_name"] != "qwen2.5vl:7b"), "the snapshot shows the deletion");

    let lab_page = format!("/providers/{}", lab.id);
    for (path, name, expected) in [
        ("/", "07-overview", "lab-ollama"),
        ("/compat", "08-compat", "Register"),
        ("/history", "09-history", "lab-ollama"),
        ("/plan", "10-plan", "dry-run"),
        ("/admin", "11-settings", "LiteLLM"),
        ("/jobs/1", "13-job", "Job #1"),
        (lab_page.as_str(), "14-provider-edit", "Test connection"),
    ] {
        stack.open(path).await;
        stack.wait_for_text(expected, Duration::from_secs(5)).await;
        stack.screenshots(name).await;
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
    let provider = shared::db::providers::insert(&stack.db, &hostile).await.expect("insert");
    let model = models::FetchedModel::from_upstream(
        shared::types::ProviderType::Ollama,
        payload,
        None,
        &serde_json::json!({"details": {"family": payload}}),
    );
    models::record_fetch(&stack.db, provider.id, &[model], &[payload.to_owned()]).await.expect("record");
    config::set_litellm(&stack.db, Some(&stack.litellm.url()), Some(&Secret::new(MASTER_KEY))).await.expect("cfg");

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

impl Stack {
    /// The texts of the cells of column `column` (1-based) of the list on the page.
    async fn column(&self, table: &str, column: usize) -> Vec<String> {
        let script = format!(
            "return Array.from(document.querySelectorAll('table.{table} tbody tr td:nth-child({column})')) \
               .map((td) => td.textContent.trim());"
        );
        let cells = self.eval(&script).await;
        cells.as_array().expect("cells").iter().map(|c| c.as_str().unwrap_or_default().to_owned()).collect()
    }

    /// The first word of each Models row's first cell: the model id, without its badges.
    async fn model_ids(&self) -> Vec<String> {
        self.column("models", 1).await.iter().map(|c| c.split_whitespace().next().unwrap_or("").to_owned()).collect()
    }

    async fn click_link(&self, text: &str) {
        self.browser
            .find(Locator::LinkText(text))
            .await
            .unwrap_or_else(|e| panic!("no link {text:?}: {e}"))
            .click()
            .await
            .expect("click");
    }

    async fn wait_for_url(&self, needle: &str) {
        wait_until(&format!("a URL with {needle:?}"), Duration::from_secs(5), || async {
            self.browser.current_url().await.is_ok_and(|u| u.as_str().contains(needle))
        })
        .await;
    }

    /// Waits until a job's status (next to its button, or in a toast) has ended, and returns its
    /// class (`done`, `warning` or `failed`) and text.
    async fn wait_for_job_end(&self) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .eval(
                    "const s = document.querySelector('.jobstatus.done, .jobstatus.warning, .jobstatus.failed'); \
                     return s ? [s.className, s.textContent] : null;",
                )
                .await;
            if let Some([class, text]) = found.as_array().map(Vec::as_slice) {
                let state = class.as_str().unwrap_or("").split_whitespace().nth(1).unwrap_or("").to_owned();
                return (state, text.as_str().unwrap_or("").to_owned());
            }
            assert!(Instant::now() < deadline, "the job never ended:\n{}", self.text().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Where an element is on screen: `[top, bottom, viewport height]`.
    async fn rect(&self, selector: &str) -> (f64, f64, f64) {
        let script = format!(
            "const r = document.querySelector({selector:?}).getBoundingClientRect(); \
             return [r.top, r.bottom, window.innerHeight];"
        );
        let r = self.eval(&script).await;
        let n = |i: usize| r[i].as_f64().unwrap_or_else(|| panic!("{selector}: {r}"));
        (n(0), n(1), n(2))
    }
}

/// `m1` … `m120` on one Ollama, three more (one with a very long id) on another with a prefix.
async fn long_list_stack() -> (Stack, FakeOllama, Vec<String>) {
    let stack = Stack::start().await;
    let names: Vec<String> = (1..=120).map(|i| format!("m{i}")).collect();
    stack.ollama.set_models(names.iter().map(|n| OllamaModel::chat(n)).collect());
    let other = FakeOllama::start().await;
    let long = format!("zz-{}", "x".repeat(150));
    other.set_models(vec![OllamaModel::chat("alpha-2"), OllamaModel::chat("zeta-1"), OllamaModel::chat(&long)]);
    let pool = &stack.db;
    shared::db::providers::insert(
        pool,
        &shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, stack.ollama.url()),
    )
    .await
    .expect("insert lab");
    let mut second = shared::db::providers::NewProvider::new("other", ProviderType::Ollama, other.url());
    second.prefix = Some("o".into());
    shared::db::providers::insert(pool, &second).await.expect("insert other");

    stack.open("/providers").await;
    stack.wait_for_text("worker online", Duration::from_secs(15)).await;
    stack.click_button("Sync all providers now").await;
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "done", "{text}");
    assert_eq!(stack.litellm.entries().len(), 123);
    (stack, other, names)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_sort_search_filter_and_page_on_the_server() {
    let (stack, _other, names) = long_list_stack().await;

    // Sorted by name, in natural order, over all 123 models: page 1 and, through the page
    // links, page 3 and the last page.
    stack.open("/models?sort=name&per_page=25").await;
    let mut expected: Vec<String> = vec!["alpha-2".into()];
    expected.extend(names.iter().take(24).cloned());
    assert_eq!(stack.model_ids().await, expected, "m2 comes before m10");
    stack.screenshots("20-models-sorted").await;
    stack.click_link("3").await;
    stack.wait_for_url("page=3").await;
    assert_eq!(stack.model_ids().await, names[49..74].to_vec(), "page 3 continues the whole list's order");
    stack.click_link("5").await;
    stack.wait_for_url("page=5").await;
    let last = stack.model_ids().await;
    assert_eq!(last.len(), 23);
    assert_eq!(&last[..21], &names[99..]);
    assert_eq!(last[21], "zeta-1");
    assert!(last[22].starts_with("zz-"));
    assert!(stack.text().await.contains("101–123 of 123"));

    // Sorting again (the header is a link) reverses the whole list and starts at page 1.
    stack.click_link("Model").await;
    stack.wait_for_url("dir=desc").await;
    let reversed = stack.model_ids().await;
    assert!(reversed[0].starts_with("zz-") && reversed[1] == "zeta-1" && reversed[2] == "m120", "{reversed:?}");
    assert!(stack.browser.current_url().await.expect("url").as_str().contains("sort=name"));

    // The LiteLLM model_name column shows the provider's prefix.
    let served = stack.column("models", 2).await;
    assert_eq!(served[1], "o/zeta-1");

    // Search and filter, kept in the query string with the sort; Back returns to the list before.
    stack.fill("input[name=q]", "m11").await;
    let lab = shared::db::providers::get_by_name(&stack.db, "lab").await.expect("query").expect("lab");
    stack
        .browser
        .find(Locator::Css(&format!("select[name=provider] option[value='{}']", lab.id)))
        .await
        .expect("provider option")
        .click()
        .await
        .expect("choose");
    stack.click_button("Filter").await;
    stack.wait_for_url("q=m11").await;
    let found = stack.model_ids().await;
    let wanted: Vec<&str> = vec!["m119", "m118", "m117", "m116", "m115", "m114", "m113", "m112", "m111", "m110", "m11"];
    assert_eq!(found, wanted, "filtered, still sorted by name descending");
    let url = stack.browser.current_url().await.expect("url");
    assert!(url.as_str().contains(&format!("provider={}", lab.id)) && url.as_str().contains("dir=desc"), "{url}");
    stack.browser.back().await.expect("back");
    stack.wait_for_url("dir=desc").await;
    assert!(stack.model_ids().await[0].starts_with("zz-"), "Back shows the unfiltered list again");

    // The LiteLLM page: sorted by model_name over every entry, with a search.
    stack.open("/litellm?per_page=25&q=m2").await;
    let shown = stack.column("entries", 2).await;
    assert_eq!(&shown[..4], ["m2", "m20", "m21", "m22"], "{shown:?}");
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_litellm_table_fits_and_its_sticky_bar_counts_and_deletes() {
    let (stack, _other, _) = long_list_stack().await;
    stack.width(Some(1440)).await;
    stack.open("/litellm?per_page=100").await;
    let (inner, scroll) = stack.page_widths().await;
    assert!(inner == 1440 && scroll <= 1440, "the LiteLLM page is {scroll} px wide on a 1440 px screen");
    let long_cell = stack
        .eval("return Array.from(document.querySelectorAll('table.entries td.cut')).map((td) => td.title).filter((t) => t.startsWith('zz-')).length;")
        .await;
    assert_eq!(long_cell, 0, "zz- sorts last: not on the first page");
    stack.open("/litellm?per_page=100&page=2").await;
    let titled = stack
        .eval("return Array.from(document.querySelectorAll('table.entries td.cut[title^=\"o/zz-\"]')).length;")
        .await;
    assert_eq!(titled, 1, "a long model_name is cut, whole in its title");
    let (_, scroll) = stack.page_widths().await;
    assert!(scroll <= 1440, "page 2 with a 150-character id is {scroll} px wide");

    // The bar is in view without scrolling down, and counts what is ticked.
    stack.open("/litellm?per_page=100").await;
    let bar = "button[data-delete-selected]";
    let (top, bottom, height) = stack.rect(bar).await;
    assert!(top >= 0.0 && bottom <= height, "the delete bar is on screen: {top}–{bottom} of {height}");
    let label = |stack: &Stack| {
        let browser = stack.browser.clone();
        async move { browser.find(Locator::Css(bar)).await.expect("bar").text().await.expect("text") }
    };
    assert_eq!(label(&stack).await, "Delete 0 selected");
    let boxes = stack.browser.find_all(Locator::Css("input[name=ids]")).await.expect("boxes");
    let confirm = |stack: &Stack| {
        let browser = stack.browser.clone();
        async move { browser.find(Locator::Css(bar)).await.expect("bar").attr("data-confirm").await.expect("attr") }
    };
    boxes[0].click().await.expect("tick");
    assert_eq!(confirm(&stack).await.as_deref(), Some("Delete 1 selected entry? This removes 1 entry from LiteLLM."));
    for b in &boxes[1..3] {
        b.click().await.expect("tick");
    }
    assert_eq!(label(&stack).await, "Delete 3 selected");
    boxes[1].click().await.expect("untick");
    assert_eq!(label(&stack).await, "Delete 2 selected");
    stack.screenshots("21-litellm-selected").await;
    let ticked: Vec<String> = {
        let mut ids = Vec::new();
        for b in [&boxes[0], &boxes[2]] {
            ids.push(b.attr("value").await.expect("value").expect("an id"));
        }
        ids
    };

    // Deleting: the result shows next to the bar's button, and the list and its counts refresh
    // without a reload.
    stack.browser.find(Locator::Css(bar)).await.expect("bar").click().await.expect("click");
    // The confirm names the number removed, in the words of the provider confirms.
    let asked = stack.browser.get_alert_text().await.expect("a confirm dialog");
    assert_eq!(asked, "Delete 2 selected entries? This removes 2 entries from LiteLLM.");
    stack.browser.accept_alert().await.expect("confirm");
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "done", "{text}");
    assert!(text.contains("2 deleted"), "{text}");
    let (top, bottom, height) = stack.rect(".selection-bar .jobstatus").await;
    assert!(top >= 0.0 && bottom <= height, "the result is in view: {top}–{bottom} of {height}");
    assert_eq!(stack.litellm.entries().len(), 121);
    wait_until("the counts to refresh", Duration::from_secs(5), || async {
        stack.text().await.contains("121 entries")
    })
    .await;
    let shown =
        stack.eval("return Array.from(document.querySelectorAll('input[name=ids]')).map((b) => b.value);").await;
    for id in &ticked {
        assert!(!shown.as_array().expect("ids").contains(&serde_json::Value::from(id.as_str())), "{id} still listed");
    }
    assert_eq!(label(&stack).await, "Delete 0 selected");

    // A row's own button: its row is re-read away, so the result moves to a toast in view.
    stack.eval("document.querySelectorAll('.jobstatus').forEach((s) => s.remove()); window.scrollTo(0, 1500);").await;
    let row_button = stack.browser.find(Locator::Css("td.act button[name=one]")).await.expect("a row button");
    let row_id = row_button.attr("value").await.expect("value").expect("an id");
    stack
        .eval(&format!(
            "document.querySelector(\"button[name=one][value='{row_id}']\").scrollIntoView({{block: 'center'}});"
        ))
        .await;
    row_button.click().await.expect("click");
    stack.browser.accept_alert().await.expect("confirm");
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "done", "{text}");
    let (top, bottom, height) = stack.rect("#job-toasts .jobstatus").await;
    assert!(top >= 0.0 && bottom <= height, "the toast is in view: {top}–{bottom} of {height}");
    assert_eq!(stack.litellm.entries().len(), 120);
    wait_until("the counts to refresh", Duration::from_secs(5), || async {
        stack.text().await.contains("120 entries")
    })
    .await;
    stack.screenshots("24-litellm-toast").await;
    stack.width(None).await;
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_feedback_shows_next_to_the_click_and_warnings_as_warnings() {
    let stack = Stack::start().await;
    let provider = shared::db::providers::insert(
        &stack.db,
        &shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, stack.ollama.url()),
    )
    .await
    .expect("insert");
    stack.open(&format!("/providers/{}", provider.id)).await;
    stack.wait_for_text("worker online", Duration::from_secs(15)).await;
    stack.click_button("Test connection with these settings").await;
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "done", "{text}");
    assert!(text.contains("Connection ok: 3 models listed"), "{text}");
    let (button_top, button_bottom, _) = stack.rect("button[formaction$='/test']").await;
    let (top, bottom, height) = stack.rect(".jobstatus").await;
    assert!(bottom <= height && top >= 0.0, "the result is in view");
    assert!(
        (top - button_top).abs() < 60.0 || (top - button_bottom).abs() < 60.0,
        "beside the button: {top} vs {button_top}"
    );
    stack.screenshots("22-test-connection").await;

    // Sync, then the provider answers with no models: the job is done, with a warning, shown as one.
    stack.open("/providers").await;
    stack.click_button("Sync lab now").await;
    assert_eq!(stack.wait_for_job_end().await.0, "done");
    stack.ollama.set_models(Vec::new());
    stack.open("/providers").await;
    stack.click_button("Sync lab now").await;
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "warning", "{text}");
    assert!(text.contains("with warnings") && text.contains("no models"), "{text}");
    stack.screenshots("23-sync-warning").await;

    // Times are shown in UTC, with the zone named.
    let stamps = stack.eval("return Array.from(document.querySelectorAll('time')).map((t) => t.textContent);").await;
    let stamps = stamps.as_array().expect("times");
    assert!(!stamps.is_empty());
    for stamp in stamps {
        let text = stamp.as_str().unwrap_or_default();
        assert!(text.ends_with(" UTC") && text.len() == "2026-12-02 04:30:12 UTC".len(), "{text}");
    }
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_change_shows_excluded_at_once_and_a_wrong_litellm_key_turns_the_light_red() {
    let stack = Stack::start().await;
    let mut new = shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, stack.ollama.url());
    new.sync_enabled = true;
    let lab = shared::db::providers::insert(&stack.db, &new).await.expect("provider");
    stack.open("/providers").await;
    stack.click_button("Sync lab now").await;
    stack.wait_for_job_done().await;
    assert_eq!(stack.litellm.entries().len(), 3);
    stack.open("/").await;
    stack.wait_for_text("LiteLLM ok", Duration::from_secs(10)).await;

    // The filter saved in the form shows at once: no fetch and no push in between.
    stack.open(&format!("/providers/{}", lab.id)).await;
    stack.fill("input[name=model_filter_exclude]", "embed").await;
    stack.click_button("Save changes").await;
    stack.wait_for_url("notice=provider-saved").await;
    stack.open("/models?status=excluded").await;
    stack.wait_for_text("nomic-embed-text:latest", Duration::from_secs(5)).await;
    assert_eq!(stack.model_ids().await, vec!["nomic-embed-text:latest"]);
    stack.screenshots("21-models-excluded").await;
    stack.click_link("nomic-embed-text:latest").await;
    stack.wait_for_text("exclude filter term", Duration::from_secs(5)).await;
    assert!(!stack.text().await.contains("no longer lists it"), "excluded is not orphaned");
    assert_eq!(stack.litellm.entries().len(), 3, "LiteLLM is untouched until the next push");

    // The next sync removes exactly the excluded model.
    stack.open("/providers").await;
    stack.click_button("Sync lab now").await;
    stack.wait_for_job_done().await;
    let mut names: Vec<String> =
        stack.litellm.entries().iter().filter_map(|e| e["model_name"].as_str().map(str::to_owned)).collect();
    names.sort();
    assert_eq!(names, vec!["llama3.2:3b", "qwen2.5vl:7b"]);

    // A wrong LiteLLM key: the next read fails and the top bar says so, in plain words.
    config::set_litellm(&stack.db, Some(&stack.litellm.url()), Some(&Secret::new("sk-wrong-key-0000")))
        .await
        .expect("config");
    stack.open("/providers").await;
    stack.click_button("Sync lab now").await;
    let _ = stack.wait_for_job_end().await;
    stack.open("/").await;
    stack.wait_for_text("LiteLLM: wrong key (HTTP 401) at", Duration::from_secs(10)).await;
    let class = stack.eval("return document.getElementById('litellm-health').className;").await;
    assert_eq!(class, "light off");
    stack.screenshots("22-litellm-health-red").await;
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_page_shows_a_pending_and_an_error_status_with_their_detail() {
    let stack = Stack::start().await;
    let mut new = shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, stack.ollama.url());
    new.sync_enabled = true;
    let lab = shared::db::providers::insert(&stack.db, &new).await.expect("provider");
    stack.open("/providers").await;
    stack.wait_for_text("worker online", Duration::from_secs(15)).await;
    stack.click_button("Sync lab now").await;
    stack.wait_for_job_done().await;
    assert_eq!(stack.litellm.entries().len(), 3);
    let tag = |model_id: &'static str, tag: &'static str| {
        let db = stack.db.clone();
        async move {
            let model = models::get_by_model_id(&db, lab.id, model_id).await.expect("query").expect("model");
            let tags = shared::model::Overrides {
                user_tags: Some(Some(vec![tag.into()])),
                ..shared::model::Overrides::default()
            };
            assert!(models::set_overrides(&db, model.id, &tags).await.expect("override"));
        }
    };

    // LiteLLM refuses the write of a changed model: error, with LiteLLM's words.
    tag("qwen2.5vl:7b", "team-a").await;
    stack.litellm.fail_write(1, WriteFault::Reject);
    stack.open("/providers").await;
    stack.click_button("Sync lab now").await;
    let (state, _) = stack.wait_for_job_end().await;
    assert_eq!(state, "failed");
    // Then a change not pushed yet: pending, naming what was changed.
    tag("llama3.2:3b", "team-b").await;

    stack.open("/models").await;
    stack.wait_for_text("LiteLLM answered HTTP 500", Duration::from_secs(5)).await;
    let rows: Vec<(String, String)> =
        stack.model_ids().await.into_iter().zip(stack.column("models", 7).await).collect();
    let status_of = |id: &str| rows.iter().find(|(m, _)| m == id).map(|(_, s)| s.clone()).unwrap_or_default();
    assert_eq!(status_of("qwen2.5vl:7b"), "error LiteLLM answered HTTP 500: Internal server error", "{rows:?}");
    assert_eq!(status_of("llama3.2:3b"), "pending changed here, not pushed yet: tags", "{rows:?}");
    assert_eq!(status_of("nomic-embed-text:latest"), "in sync", "{rows:?}");
    let badge = stack.eval("return document.querySelector('table.models .badge.bad').textContent;").await;
    assert_eq!(badge, "error");
    stack.screenshots("23-models-pending-error").await;

    // The filter and the model's own page say the same.
    stack.open("/models?status=error").await;
    assert_eq!(stack.model_ids().await, vec!["qwen2.5vl:7b"]);
    stack.click_link("qwen2.5vl:7b").await;
    stack.wait_for_text("LiteLLM answered HTTP 500: Internal server error", Duration::from_secs(5)).await;
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_pages_apply_applies_exactly_the_shown_operations() {
    let stack = Stack::start().await;
    let mut new = shared::db::providers::NewProvider::new("lab", ProviderType::Ollama, stack.ollama.url());
    new.sync_enabled = true;
    let lab = shared::db::providers::insert(&stack.db, &new).await.expect("provider");
    stack.open("/providers").await;
    stack.wait_for_text("worker online", Duration::from_secs(15)).await;
    stack.click_button("Sync lab now").await;
    stack.wait_for_job_done().await;
    assert_eq!(stack.litellm.entries().len(), 3);
    stack.litellm.reset_counters();

    // An override (an update), a model gone upstream (a delete) and a new one (a create).
    let llama = models::get_by_model_id(&stack.db, lab.id, "llama3.2:3b").await.expect("query").expect("llama");
    let tagged = shared::model::Overrides {
        user_tags: Some(Some(vec!["team-a".into()])),
        ..shared::model::Overrides::default()
    };
    assert!(models::set_overrides(&stack.db, llama.id, &tagged).await.expect("override"));
    assert!(stack.ollama.remove_model("nomic-embed-text:latest"));
    stack.ollama.add_model(OllamaModel::chat("qwen3:8b"));
    stack.open("/plan").await;
    stack.click_button("Fetch all providers, then compute a dry-run plan").await;
    stack.wait_for_job_done().await;
    stack.open("/plan").await;
    stack.wait_for_text("Apply these 3 operations", Duration::from_secs(5)).await;

    // What the page shows: (action, LiteLLM id, model_name) of every row.
    let rows = stack
        .eval(
            "return Array.from(document.querySelectorAll('table.plan[data-action] tbody tr')).map((tr) => \
               [tr.closest('table').dataset.action, tr.cells[0].querySelector('code').textContent.trim(), \
                tr.cells[0].firstChild.textContent.trim()]);",
        )
        .await;
    let mut shown: Vec<(String, String, String)> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (r[0].as_str().unwrap_or("").into(), r[1].as_str().unwrap_or("").into(), r[2].as_str().unwrap_or("").into())
        })
        .collect();
    shown.sort();
    let kinds: Vec<(&str, &str)> = shown.iter().map(|(a, _, n)| (a.as_str(), n.as_str())).collect();
    assert_eq!(kinds, vec![("create", "qwen3:8b"), ("delete", "nomic-embed-text:latest"), ("update", "llama3.2:3b")]);
    assert_eq!(stack.litellm.write_calls(), 0, "computing the plan wrote nothing");
    stack.screenshots("24-plan-to-apply").await;

    stack.litellm.reset_counters();
    stack.click_button("Apply these 3 operations").await;
    stack.browser.accept_alert().await.expect("confirm the apply");
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "done", "{text}");
    assert!(text.contains("LiteLLM: 1 created, 1 updated, 1 deleted"), "the summary is next to the click: {text}");
    let (button_top, button_bottom, _) = stack.rect("button[data-apply-plan]").await;
    let (top, _, _) = stack.rect(".jobstatus").await;
    assert!((top - button_top).abs() < 60.0 || (top - button_bottom).abs() < 60.0, "beside the button");

    // LiteLLM got exactly those writes, for those entries.
    let mut sent: Vec<(String, String, String)> = stack
        .litellm
        .requests()
        .into_iter()
        .map(|(method, path, body)| match (method.as_str(), path.as_str()) {
            ("POST", "/model/new") => (
                "create".to_owned(),
                body["model_info"]["id"].as_str().unwrap_or("").to_owned(),
                body["model_name"].as_str().unwrap_or("").to_owned(),
            ),
            ("POST", "/model/delete") => {
                let id = body["id"].as_str().unwrap_or("").to_owned();
                let name = shown.iter().find(|(_, i, _)| *i == id).map(|(.., n)| n.clone()).unwrap_or_default();
                ("delete".to_owned(), id, name)
            }
            (_, path) if path.ends_with("/update") => {
                let id = path.trim_start_matches("/model/").trim_end_matches("/update").to_owned();
                (
                    "update".to_owned(),
                    id,
                    body["model_name"].as_str().map(str::to_owned).unwrap_or_else(|| "llama3.2:3b".into()),
                )
            }
            other => panic!("a write the plan did not show: {other:?} {body}"),
        })
        .collect();
    sent.sort();
    assert_eq!(sent, shown, "{:?}", stack.litellm.requests());
    assert!(stack.entry("qwen3:8b").is_some() && stack.entry("nomic-embed-text:latest").is_none());

    // The page now says the plan was applied instead of offering it again.
    stack.open("/plan").await;
    stack.wait_for_text("This plan was applied by job #", Duration::from_secs(5)).await;
    assert!(!stack.text().await.contains("Apply these"), "{}", stack.text().await);
    stack.browser.clone().close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settings_litellm_test_shows_ok_then_a_wrong_keys_reason_next_to_the_button() {
    let stack = Stack::start().await;
    stack.open("/admin").await;
    stack.wait_for_text("worker online", Duration::from_secs(15)).await;
    stack.click_button("Test LiteLLM connection").await;
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "done", "{text}");
    assert!(text.contains("LiteLLM ok: its admin API at") && text.contains("accepted the key"), "{text}");
    let (button_top, button_bottom, _) = stack.rect("button[formaction='/admin/test-litellm']").await;
    let (top, bottom, height) = stack.rect(".jobstatus").await;
    assert!(top >= 0.0 && bottom <= height, "the result is in view");
    assert!(
        (top - button_top).abs() < 60.0 || (top - button_bottom).abs() < 60.0,
        "beside the button: {top} vs {button_top}"
    );
    assert_eq!(stack.litellm.write_calls(), 0, "a test writes nothing");
    // A test of the saved settings is what the top bar's light shows.
    stack.open("/").await;
    let light = "return [document.getElementById('litellm-health').className, \
                 document.getElementById('litellm-health').textContent];";
    assert_eq!(stack.eval(light).await, serde_json::json!(["light on", "LiteLLM ok"]));

    // A wrong key typed in the form: the reason shows next to the button; nothing is saved and
    // the light still shows the saved connection.
    stack.open("/admin").await;
    stack.fill("input[name=litellm_api_key]", "sk-typed-wrong-0000").await;
    stack.click_button("Test LiteLLM connection").await;
    let (state, text) = stack.wait_for_job_end().await;
    assert_eq!(state, "failed", "{text}");
    assert!(text.contains("wrong key (HTTP 401)"), "{text}");
    assert!(!text.contains("sk-typed-wrong-0000"), "{text}");
    stack.screenshots("25-settings-litellm-test").await;
    let saved = config::get(&stack.db).await.expect("config");
    assert_eq!(saved.litellm_api_key.as_ref().map(Secret::expose), Some(MASTER_KEY), "a test saves nothing");
    stack.open("/").await;
    assert_eq!(stack.eval(light).await, serde_json::json!(["light on", "LiteLLM ok"]), "the light is unchanged");
    stack.browser.clone().close().await.expect("close the browser");
}
