//! The HTML UI, in-process: every page against a real temporary SQLite database, forms, actions
//! (job rows), escaping, secrets and the login.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use frontend::AppState;
use frontend::config::Settings;
use serde_json::{Value, json};
use shared::db::litellm_health::{self, Failure};
use shared::db::models::{self, FetchedModel};
use shared::db::providers::{self, NewProvider};
use shared::db::sync_runs;
use shared::db::{config, jobs, snapshot, worker_status};
use shared::jobs::JobRequest;
use shared::runs::{RunCounts, RunKind, RunStatus};
use shared::types::ProviderType;
use shared::{Database, Secret};
use tower::ServiceExt;

const XSS: &str = "<img src=x onerror=alert(1)>";
const PROVIDER_KEY: &str = "sk-provider-secret-abcdef123456";
const MASTER_KEY: &str = "sk-master-secret-zyxwvu654321";
const TOKEN: &str = "admin-token-for-tests-0001";

struct Env {
    _dir: tempfile::TempDir,
    db: Database,
    app: Router,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

async fn env(token: Option<&str>) -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("models.db");
    let db = Database::open(&path).await.expect("open");
    db.migrate().await.expect("migrate");
    let settings = Settings::new(path, "127.0.0.1:8000".parse().expect("address"), token.map(Secret::new));
    let app = frontend::app::router(AppState::new(db.clone(), settings));
    Env { _dir: dir, db, app }
}

impl Env {
    fn db(&self) -> &shared::Database {
        &self.db
    }

    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 8 * 1024 * 1024).await.expect("body");
        Reply { status, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Request::get(path).header(header::HOST, "127.0.0.1:8000").body(Body::empty()).expect("request")).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        self.send(
            Request::post(path)
                .header(header::HOST, "127.0.0.1:8000")
                .header(header::ORIGIN, "http://127.0.0.1:8000")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .expect("request"),
        )
        .await
    }

    async fn provider(&self, name: &str, key: Option<&str>) -> i64 {
        let mut new = NewProvider::new(name, ProviderType::Ollama, "http://lab:11434");
        new.api_key = key.map(str::to_owned);
        providers::insert(self.db(), &new).await.expect("insert provider").id
    }

    async fn models(&self, provider_id: i64, ids: &[&str]) -> Vec<i64> {
        let fetched: Vec<FetchedModel> = ids
            .iter()
            .map(|id| {
                let raw = json!({"details": {"family": "llama", "parameter_size": "3B"}, "capabilities": ["completion", "tools"],
                                 "model_info": {"llama.context_length": 131072}});
                FetchedModel::from_upstream(ProviderType::Ollama, id, Some(format!("sha-{id}")), &raw)
            })
            .collect();
        let listed: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        models::record_fetch(self.db(), provider_id, &fetched, &listed).await.expect("record fetch");
        let mut rows = Vec::new();
        for id in ids {
            rows.push(models::get_by_model_id(self.db(), provider_id, id).await.expect("get").expect("model").id);
        }
        rows
    }

    async fn last_job(&self) -> (String, Value) {
        let job = jobs::recent(self.db(), 1).await.expect("jobs").into_iter().next().expect("a job");
        (job.kind, job.payload.0)
    }

    async fn job_count(&self) -> usize {
        jobs::recent(self.db(), 1000).await.expect("jobs").len()
    }
}

/// A database with something on every page: providers (one named like an XSS payload), models
/// (one orphaned, one XSS), an alias, a heartbeat, sync runs, a LiteLLM snapshot, a plan.
async fn seeded() -> (Env, i64, Vec<i64>) {
    let env = env(None).await;
    let pool = env.db();
    let lab = env.provider("lab-ollama", Some(PROVIDER_KEY)).await;
    let xss_provider = env.provider(XSS, None).await;
    let ids = env.models(lab, &["llama3.2:3b", "qwen3:8b", XSS]).await;
    env.models(xss_provider, &["mistral:7b"]).await;
    // qwen3:8b disappears upstream: orphaned.
    let keep: Vec<String> = vec!["llama3.2:3b".into(), XSS.into()];
    models::record_fetch(pool, lab, &[], &keep).await.expect("orphan");
    config::set_litellm(pool, Some("http://litellm:4000"), Some(&Secret::new(MASTER_KEY))).await.expect("config");
    let compat = providers::compat_provider(pool).await.expect("compat");
    models::upsert_alias(pool, compat.id, "gpt-4o-mini", lab, "llama3.2:3b").await.expect("alias");
    worker_status::beat(
        pool,
        &worker_status::Beat {
            instance_id: "test-worker",
            role: "active",
            pid: 42,
            host: "worker-host",
            version: "0.1.0",
            started_at: "2025-01-01T00:00:00.000Z",
            state: "idle",
            current_job_id: None,
            current_step: None,
        },
        true,
    )
    .await
    .expect("beat");
    for (provider, name, status, message) in
        [(lab, "lab-ollama", RunStatus::Ok, None), (xss_provider, XSS, RunStatus::Failed, Some(XSS))]
    {
        let run = sync_runs::start(pool, Some((provider, name)), RunKind::Sync, "schedule", None).await.expect("run");
        let counts = RunCounts { models_seen: 3, added: 3, litellm_created: 2, ..RunCounts::default() };
        sync_runs::finish(pool, run, status, &counts, message).await.expect("finish");
    }
    snapshot::save(
        pool,
        &[
            json!({"model_name": "llama3.2:3b", "litellm_params": {"model": "ollama_chat/llama3.2:3b", "api_base": "http://lab:11434"},
                   "model_info": {"id": "ours-1", "db_model": true, "managed_by": "litellm-updater"}}),
            json!({"model_name": XSS, "litellm_params": {"model": "openai/x"}, "model_info": {"id": "foreign-1", "db_model": true}}),
            json!({"model_name": "from-config", "litellm_params": {"model": "openai/y"}, "model_info": {"id": "config-1", "db_model": false}}),
        ],
    )
    .await
    .expect("snapshot");
    let plan = jobs::enqueue(pool, &JobRequest::Plan { fetch: false }).await.expect("plan job");
    jobs::claim_next(pool, "test-worker").await.expect("claim");
    let result = json!({"type": "cycle", "providers": [], "push": {"dry_run": true, "created": 0, "updated": 0,
        "replaced": 0, "deleted": 0, "failed": 0, "skipped": 0, "results": [], "fallbacks": {"operations": [], "unchanged": 0},
        "plan": {"operations": [
            {"action": "create", "litellm_id": "new-1", "model_name": "qwen3:8b", "provider": "lab-ollama", "reason": "not in LiteLLM"},
            {"action": "update", "litellm_id": "ours-1", "model_name": XSS, "provider": "lab-ollama", "reason": "drifted",
             "changes": [{"field": "model_info.max_tokens", "from": 4096, "to": 131072}]},
            {"action": "delete_duplicate", "litellm_id": "dup-1", "model_name": "llama3.2:3b", "provider": "lab-ollama", "reason": "two entries"}
        ], "unchanged": 7, "adopted": 1, "config_entries": 1, "foreign_entries": 1}}});
    jobs::finish(pool, plan, "test-worker", Some(&result), None).await.expect("finish plan");
    (env, lab, ids)
}

#[tokio::test]
async fn every_page_renders_with_its_key_content() {
    let (env, lab, ids) = seeded().await;
    let alias =
        models::get_by_model_id(env.db(), providers::compat_provider(env.db()).await.expect("c").id, "gpt-4o-mini")
            .await
            .expect("alias")
            .expect("alias row")
            .id;
    let pages: Vec<(String, Vec<&str>)> = vec![
        (
            "/".into(),
            vec!["Overview", "Sync all providers now", "worker online", "last sync", "Sync lab-ollama now", "orphaned"],
        ),
        (
            "/providers".into(),
            vec![
                "lab-ollama",
                "Sync lab-ollama now",
                "Fetch lab-ollama",
                "Push lab-ollama to LiteLLM",
                "Test connection",
                "Add a provider",
            ],
        ),
        ("/providers/new".into(), vec!["Add a provider", "name=\"base_url\"", "name=\"sync_interval_seconds\""]),
        (
            format!("/providers/{lab}"),
            vec!["Edit provider lab-ollama", "leave empty to keep", "Yes, delete lab-ollama"],
        ),
        (
            "/models".into(),
            vec!["llama3.2:3b", "qwen3:8b", "class=\"orphaned\"", "badge warn\">orphaned", "name=\"capability\""],
        ),
        ("/models?status=orphaned".into(), vec!["qwen3:8b", "1–1 of 1"]),
        (
            format!("/models/{}", ids[0]),
            vec![
                "llama3.2:3b",
                "Refresh from lab-ollama",
                "Push to LiteLLM",
                "Raw upstream metadata",
                "llama.context_length",
                "Save overrides",
            ],
        ),
        ("/compat".into(), vec!["gpt-4o-mini", "lab-ollama/llama3.2:3b", "Register the default aliases", "Add alias"]),
        (format!("/compat/{alias}"), vec!["Alias gpt-4o-mini", "Save alias"]),
        (
            "/litellm".into(),
            vec!["ours-1", "badge ok\">ours", "config file", "someone else&#39;s", "Delete selected from LiteLLM"],
        ),
        ("/admin".into(), vec!["Settings", "http://litellm:4000", "leave empty to keep", "Interval (seconds)"]),
        ("/history".into(), vec!["Sync runs", "lab-ollama", "Recent jobs", "Compute a dry-run plan"]),
        (
            "/plan".into(),
            vec![
                "Compute a dry-run plan",
                "Create (1)",
                "Update (1)",
                "Delete duplicate (1)",
                "model_info.max_tokens",
                "4096",
                "131072",
                "7 unchanged",
                "action=\"/plan/1/apply\"",
                "Apply these 3 operations",
            ],
        ),
        (
            "/jobs/1".into(),
            vec![
                "Job #1",
                "Compute a dry-run plan",
                "badge ok\">done",
                "Plan: 1 to create, 1 to update, 1 duplicates to delete; 7 unchanged",
            ],
        ),
    ];
    for (path, needles) in pages {
        let reply = env.get(&path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        for needle in needles {
            assert!(reply.body.contains(needle), "{path} lacks {needle:?}:\n{}", reply.body);
        }
        assert!(reply.body.contains("href=\"/static/app.css\""), "{path} has the layout");
    }
    for asset in ["/static/app.css", "/static/app.js"] {
        let reply = env.get(asset).await;
        assert_eq!(reply.status, StatusCode::OK, "{asset}");
        assert!(reply.body.len() > 1000, "{asset} has content");
    }
    assert_eq!(env.get("/models/99999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(env.get("/providers/99999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(env.get("/jobs/99999").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_result_from_an_earlier_version_is_shown_raw_not_an_error() {
    let (env, _, _) = seeded().await;
    let pool = env.db();
    let old = jobs::enqueue(pool, &JobRequest::PushAll).await.expect("push job");
    jobs::claim_next(pool, "test-worker").await.expect("claim");
    let stored = json!({"created": 2, "updated": 1, "deleted": 0, "failed": 0, "unchanged": 4});
    jobs::finish(pool, old, "test-worker", Some(&stored), None).await.expect("finish");
    let page = env.get(&format!("/jobs/{old}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(shared::job_results::EARLIER_VERSION), "{}", page.body);
    let unescaped = page.body.replace("&#34;", "\"").replace("&quot;", "\"");
    assert!(unescaped.contains("\"unchanged\": 4"), "the raw JSON is shown: {}", page.body);
    let history = env.get("/history").await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(history.body.contains(shared::job_results::EARLIER_VERSION), "{}", history.body);
}

#[tokio::test]
async fn a_plan_after_a_failed_fetch_says_what_it_reflects() {
    use shared::job_results::{CycleReport, JobResult, ProviderOutcome, PushReport};
    let (env, _, _) = seeded().await;
    let pool = env.db();
    let job = jobs::enqueue(pool, &JobRequest::Plan { fetch: true }).await.expect("plan job");
    assert_eq!(jobs::claim_next(pool, "test-worker").await.expect("claim").map(|claimed| claimed.id), Some(job));
    let down = ProviderOutcome { provider: "lab-ollama".into(), ok: false, fetch: None, error: Some("timeout".into()) };
    let result = JobResult::Cycle(CycleReport {
        providers: vec![down],
        push: Some(PushReport::new(true)),
        push_error: None,
        push_skipped: false,
    });
    jobs::finish(pool, job, "test-worker", Some(&serde_json::to_value(&result).expect("json")), None)
        .await
        .expect("finish");
    let page = env.get("/plan").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&format!("job #{job}")), "the newest plan is shown: {}", page.body);
    assert!(
        page.body.contains(
            "The fetch before this plan failed for lab-ollama: for it the plan reflects the last successful fetch"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("lab-ollama: failed, skipped: timeout"), "{}", page.body);
}

#[tokio::test]
async fn upstream_and_user_text_is_escaped_everywhere() {
    let (env, _, ids) = seeded().await;
    let xss_model = ids[2];
    for path in
        ["/", "/providers", "/models", &format!("/models/{xss_model}"), "/litellm", "/history", "/plan", "/compat"]
    {
        let reply = env.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(!reply.body.contains("<img"), "{path} renders the payload as markup:\n{}", reply.body);
        if path != "/compat" {
            assert!(
                reply.body.contains("&#60;img src=x onerror=alert(1)&#62;"),
                "{path} shows the payload as text:\n{}",
                reply.body
            );
        }
    }
    assert!(env.get("/models").await.headers.contains_key(header::CONTENT_SECURITY_POLICY));
}

#[tokio::test]
async fn secrets_never_appear_on_any_page() {
    let (env, lab, ids) = seeded().await;
    let job = jobs::enqueue(
        env.db(),
        &JobRequest::TestConnection {
            provider_id: None,
            base_url: Some("http://other:11434".into()),
            provider_type: Some(ProviderType::Ollama),
            api_key: Some("sk-inline-test-key-999999".into()),
        },
    )
    .await
    .expect("job");
    let paths = [
        "/".to_owned(),
        "/providers".into(),
        format!("/providers/{lab}"),
        "/models".into(),
        format!("/models/{}", ids[0]),
        "/compat".into(),
        "/litellm".into(),
        "/admin".into(),
        "/history".into(),
        "/plan".into(),
        format!("/jobs/{job}"),
    ];
    for path in &paths {
        let body = env.get(path).await.body;
        for secret in [PROVIDER_KEY, MASTER_KEY, "sk-inline-test-key-999999", "abcdef12"] {
            assert!(!body.contains(secret), "{path} shows a secret");
        }
    }
    assert!(env.get("/providers").await.body.contains("••••3456"), "the provider key is shown masked");
    assert!(env.get(&format!("/providers/{lab}")).await.body.contains("••••3456"));
    assert!(env.get("/admin").await.body.contains("••••4321"), "the master key is shown masked");
}

#[tokio::test]
async fn adding_a_provider_validates_and_saves() {
    let env = env(None).await;
    let reply = env
        .post(
            "/providers",
            &[
                ("name", "lab-ollama"),
                ("type", "ollama"),
                ("base_url", "http://lab:11434/"),
                ("api_key", "sk-new-provider-key-1234"),
                ("prefix", "lab"),
                ("default_ollama_mode", "ollama"),
                ("tags", "gpu, Lab"),
                ("access_groups", "team-a"),
                ("sync_enabled", "on"),
                ("sync_interval_seconds", "600"),
                ("model_filter", "llama"),
                ("input_cost_per_token", "0.000001"),
            ],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(reply.location(), "/providers?notice=provider-added");
    let saved = providers::get_by_name(env.db(), "lab-ollama").await.expect("get").expect("saved");
    assert_eq!(saved.base_url, "http://lab:11434");
    assert_eq!(saved.prefix.as_deref(), Some("lab"));
    assert_eq!(saved.sync_interval_seconds, Some(600));
    assert_eq!(saved.tags, ["gpu", "Lab"]);
    assert_eq!(saved.api_key.as_ref().map(|k| k.expose()), Some("sk-new-provider-key-1234"));
    assert_eq!(saved.pricing().and_then(|p| p.input_cost_per_token), Some(0.000001));
    let notice = env.get("/providers?notice=provider-added").await.body;
    assert!(notice.contains("The worker syncs it now: its models are fetched and pushed to LiteLLM"), "{notice}");
    // The notice says what will happen: a disabled provider is neither fetched nor pushed.
    let reply =
        env.post("/providers", &[("name", "later"), ("type", "ollama"), ("base_url", "http://later:11434")]).await;
    assert_eq!(reply.location(), "/providers?notice=provider-added-disabled");
    let notice = env.get(reply.location()).await.body;
    assert!(notice.contains("nothing is fetched or pushed to LiteLLM until you enable it"), "{notice}");

    let refusals: [(&[(&str, &str)], &str); 4] = [
        (&[("name", "bad-url"), ("type", "ollama"), ("base_url", "not a url")], "is not a URL"),
        (
            &[("name", "too-often"), ("type", "ollama"), ("base_url", "http://h:1"), ("sync_interval_seconds", "15")],
            "at least 30",
        ),
        (&[("name", "lab-ollama"), ("type", "openai"), ("base_url", "http://other:8000")], "already exists"),
        (
            &[("name", "bad-cost"), ("type", "openai"), ("base_url", "http://h:1"), ("input_cost_per_token", "cheap")],
            "input cost per token",
        ),
    ];
    for (form, message) in refusals {
        let reply = env.post("/providers", form).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}");
        assert!(reply.body.contains(message), "{form:?} says {message:?}:\n{}", reply.body);
        assert!(reply.body.contains(&format!("value=\"{}\"", form[0].1)), "the form keeps the input");
    }
    assert_eq!(providers::list(env.db()).await.expect("list").len(), 2, "nothing else was saved");
}

#[tokio::test]
async fn editing_a_provider_keeps_its_key_unless_told() {
    let env = env(None).await;
    let id = env.provider("lab", Some(PROVIDER_KEY)).await;
    let form = [
        ("name", "lab-renamed"),
        ("type", "ollama"),
        ("base_url", "http://lab:11434"),
        ("api_key", ""),
        ("sync_interval_seconds", "0"),
    ];
    let reply = env.post(&format!("/providers/{id}"), &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let saved = providers::get(env.db(), id).await.expect("get").expect("provider");
    assert_eq!((saved.name.as_str(), saved.base_url.as_str()), ("lab-renamed", "http://lab:11434"));
    assert_eq!(saved.api_key.as_ref().map(|k| k.expose()), Some(PROVIDER_KEY), "empty key field keeps the key");
    assert!(!saved.sync_enabled, "unticked box disables");

    // A new URL needs the key again: the stored key must not follow the URL somewhere else.
    let mut moved = form;
    moved[2] = ("base_url", "http://capture.example:11434");
    let reply = env.post(&format!("/providers/{id}"), &moved).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("enter the key again"), "{}", reply.body);
    let reply = env.post(&format!("/providers/{id}/test"), &moved).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "nor may a test send it there");
    assert_eq!(env.job_count().await, 0);
    assert_eq!(providers::get(env.db(), id).await.expect("get").expect("p").base_url, "http://lab:11434");
    moved[3] = ("api_key", "sk-lab-key-for-the-new-url-77");
    let reply = env.post(&format!("/providers/{id}"), &moved).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let saved = providers::get(env.db(), id).await.expect("get").expect("provider");
    assert_eq!(saved.base_url, "http://capture.example:11434");
    assert_eq!(saved.api_key.as_ref().map(|k| k.expose()), Some("sk-lab-key-for-the-new-url-77"));

    let reply = env
        .post(&format!("/providers/{id}"), &[("name", "lab-renamed"), ("type", "ollama"), ("base_url", "ftp://x")])
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);

    let mut remove = form.to_vec();
    remove.push(("remove_api_key", "on"));
    env.post(&format!("/providers/{id}"), &remove).await;
    assert!(providers::get(env.db(), id).await.expect("get").expect("p").api_key.is_none());

    let reply = env.post(&format!("/providers/{id}/enabled"), &[("enabled", "true")]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(providers::get(env.db(), id).await.expect("get").expect("p").sync_enabled);

    let reply = env.post(&format!("/providers/{id}/delete"), &[]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "deleting needs the confirmation");
    assert!(reply.body.contains("tick the confirmation box"));
    let reply = env.post(&format!("/providers/{id}/delete"), &[("confirm", "yes")]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(providers::get(env.db(), id).await.expect("get").is_none());
}

#[tokio::test]
async fn model_overrides_are_saved_and_bad_params_refused() {
    let env = env(None).await;
    let lab = env.provider("lab", None).await;
    let id = env.models(lab, &["llama3.2:3b"]).await[0];
    let path = format!("/models/{id}");
    let form = [
        ("params", "{\"temperature\": 0.2}"),
        ("user_tags", "fast, cheap"),
        ("access_groups", "team-a"),
        ("input_cost_per_token", "0.5"),
        ("output_cost_per_token", ""),
        ("ollama_mode", "openai"),
    ];
    let reply = env.post(&path, &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let model = models::get(env.db(), id).await.expect("get").expect("model");
    assert_eq!(model.user_params.clone(), json!({"temperature": 0.2}).as_object().cloned());
    assert_eq!(model.user_tags(), ["fast", "cheap"]);
    assert_eq!(model.access_groups(), ["team-a"]);
    assert_eq!(model.pricing().and_then(|p| p.input_cost_per_token), Some(0.5));
    assert_eq!(model.ollama_mode.map(|m| m.as_str()), Some("openai"));
    assert!(!model.sync_enabled && model.user_modified);
    let page = env.get(&path).await.body;
    assert!(
        page.contains("fast, cheap") && page.contains("&#34;temperature&#34;: 0.2"),
        "the form shows what is saved"
    );

    for bad in ["{not json", "[1, 2]"] {
        let reply = env.post(&path, &[("params", bad), ("user_tags", "changed"), ("sync_enabled", "on")]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        assert!(reply.body.contains("params"), "{}", reply.body);
        assert!(reply.body.contains("changed"), "the form keeps the input");
    }
    assert_eq!(
        models::get(env.db(), id).await.expect("get").expect("m").user_tags(),
        ["fast", "cheap"],
        "nothing saved"
    );
}

#[tokio::test]
async fn settings_validate_the_interval_and_keep_the_key() {
    let env = env(None).await;
    config::set_litellm(env.db(), Some("http://litellm:4000"), Some(&Secret::new(MASTER_KEY))).await.expect("config");
    let reply =
        env.post("/admin", &[("litellm_base_url", "http://litellm:4000"), ("sync_interval_seconds", "15")]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("at least 30"), "{}", reply.body);
    assert_eq!(config::get(env.db()).await.expect("config").sync_interval_seconds, 300, "nothing saved");

    let form = [
        ("litellm_base_url", "http://litellm:4000/"),
        ("litellm_api_key", ""),
        ("sync_interval_seconds", "0"),
        ("input_cost_per_token", "0.000002"),
        ("output_cost_per_token", "0.000004"),
    ];
    let reply = env.post("/admin", &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let saved = config::get(env.db()).await.expect("config");
    assert_eq!(saved.litellm_url(), Some("http://litellm:4000"));
    assert_eq!(saved.litellm_api_key.as_ref().map(|k| k.expose()), Some(MASTER_KEY), "empty field keeps the key");

    // A new URL with the key kept would send the master key somewhere new: refused, on the form.
    let mut moved = form;
    moved[0] = ("litellm_base_url", "http://capture.example:4000");
    let reply = env.post("/admin", &moved).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("enter the key again"), "{}", reply.body);
    assert_eq!(config::get(env.db()).await.expect("config").litellm_url(), Some("http://litellm:4000"));
    assert_eq!(saved.sync_interval_seconds, 0);
    assert_eq!(saved.default_pricing().and_then(|p| p.output_cost_per_token), Some(0.000004));

    let reply = env
        .post(
            "/admin",
            &[("litellm_base_url", ""), ("litellm_api_key", "sk-new-master-key-0000"), ("sync_interval_seconds", "30")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let saved = config::get(env.db()).await.expect("config");
    assert_eq!(saved.litellm_api_key.as_ref().map(|k| k.expose()), Some("sk-new-master-key-0000"));
    assert_eq!(saved.litellm_url(), None);
}

#[tokio::test]
async fn aliases_are_added_only_for_existing_targets() {
    let env = env(None).await;
    let lab = env.provider("lab", None).await;
    env.models(lab, &["llama3.2:3b", "nomic-embed-text:latest"]).await;
    let lab_id = lab.to_string();
    let reply =
        env.post("/compat", &[("alias", "my-alias"), ("provider_id", &lab_id), ("model_id", "llama3.2:3b")]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(env.get("/compat").await.body.contains("my-alias"));

    let reply =
        env.post("/compat", &[("alias", "ghost"), ("provider_id", &lab_id), ("model_id", "no-such-model")]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply.body.contains("has no model"), "{}", reply.body);
    let reply =
        env.post("/compat", &[("alias", "my-alias"), ("provider_id", &lab_id), ("model_id", "llama3.2:3b")]).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "duplicate alias");

    let reply = env.post("/compat/register-defaults", &[]).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    let page = env.get(reply.location()).await.body;
    assert!(page.contains("gpt-4o-mini → lab/llama3.2:3b"), "{page}");
    assert!(page.contains("text-embedding-3-small → lab/nomic-embed-text:latest"));
    let again = env.post("/compat/register-defaults", &[]).await;
    assert!(env.get(again.location()).await.body.contains("No default alias was registered"));
    assert!(
        !env.get("/compat?registered=%3Cscript%3E").await.body.contains("&#60;script"),
        "only catalogue names are echoed"
    );
}

/// `(path, form, job kind, job payload)`.
type ActionCase = (String, Vec<(&'static str, &'static str)>, &'static str, Value);

#[tokio::test]
async fn action_buttons_enqueue_the_right_jobs() {
    let (env, lab, ids) = seeded().await;
    let model = ids[0];
    let cases: Vec<ActionCase> = vec![
        (format!("/providers/{lab}/sync"), vec![], "sync_provider", json!({"provider_id": lab})),
        (format!("/providers/{lab}/fetch"), vec![], "fetch_provider", json!({"provider_id": lab})),
        (format!("/providers/{lab}/push"), vec![], "push_provider", json!({"provider_id": lab})),
        (format!("/providers/{lab}/test"), vec![], "test_connection", json!({"provider_id": lab})),
        ("/providers/sync-all".into(), vec![], "sync_all", json!({})),
        ("/providers/fetch-all".into(), vec![], "fetch_all", json!({})),
        ("/providers/push-all".into(), vec![], "push_all", json!({})),
        (format!("/models/{model}/refresh"), vec![], "refresh_model", json!({"model_id": model})),
        (format!("/models/{model}/push"), vec![], "push_model", json!({"model_id": model})),
        ("/plan/1/apply".into(), vec![], "apply_plan", json!({"plan_job_id": 1})),
        ("/plan".into(), vec![], "plan", json!({"fetch": false})),
        ("/plan".into(), vec![("fetch", "1")], "plan", json!({"fetch": true})),
        (
            "/providers/test".into(),
            vec![("type", "openai"), ("base_url", "http://vllm:8000"), ("api_key", "k")],
            "test_connection",
            json!({"base_url": "http://vllm:8000", "type": "openai", "api_key": "k"}),
        ),
        (
            "/litellm".into(),
            vec![("ids", "ours-1"), ("ids", "foreign-1"), ("ids", "config-1")],
            "delete_litellm_entries",
            json!({"ids": ["ours-1"]}),
        ),
        (
            "/litellm".into(),
            vec![("ids", "x"), ("one", "ours-1")],
            "delete_litellm_entries",
            json!({"ids": ["ours-1"]}),
        ),
    ];
    for (path, form, kind, payload) in cases {
        let reply = env.post(&path, &form).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{path}: {}", reply.body);
        let (found_kind, found_payload) = env.last_job().await;
        let id = jobs::recent(env.db(), 1).await.expect("jobs")[0].id;
        assert_eq!(reply.location(), format!("/jobs/{id}"), "{path}");
        assert_eq!((found_kind.as_str(), &found_payload), (kind, &payload), "{path}");
        let page = env.get(reply.location()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("http-equiv=\"refresh\""), "a queued job's page refreshes itself");
        assert!(page.body.contains("badge muted\">queued"));
    }
    let before = env.job_count().await;
    let reply = env.post("/litellm", &[("ids", "foreign-1"), ("ids", "config-1")]).await;
    assert_eq!(reply.location(), "/litellm?notice=nothing-selected", "entries we do not own are never deleted");
    assert_eq!(env.job_count().await, before);
    assert_eq!(env.post("/providers/99999/sync", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(env.post("/plan/99999/apply", &[]).await.status, StatusCode::NOT_FOUND);
    let queued_plan =
        jobs::recent(env.db(), 50).await.expect("jobs").into_iter().find(|j| j.kind == "plan" && j.status == "queued");
    let refused = env.post(&format!("/plan/{}/apply", queued_plan.expect("a queued plan job").id), &[]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("has not finished yet"), "{}", refused.body);
    assert_eq!(env.job_count().await, before);
    assert!(
        !env.get("/jobs/1").await.body.contains("http-equiv=\"refresh\""),
        "a finished job's page does not refresh"
    );
}

#[tokio::test]
async fn worker_offline_and_never_seen_are_said() {
    let env = env(None).await;
    assert!(env.get("/").await.body.contains("worker never seen"));
    env.db()
        .execute_for_tests(
            "INSERT INTO worker_status (id, pid, host, version, started_at, last_beat, state) \
             VALUES (1, 1, 'h', 'v', '2025-01-01T00:00:00.000Z', '2025-01-02T03:04:05.000Z', 'stopped')",
            &[],
        )
        .await;
    assert!(env.get("/").await.body.contains("worker offline since 2025-01-02 03:04:05 UTC"));
}

#[tokio::test]
async fn with_an_admin_token_pages_need_a_login() {
    let env = env(Some(TOKEN)).await;
    let reply = env.get("/models?page=2").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), "/login?next=%2Fmodels%3Fpage%3D2");
    let login = env.get(reply.location()).await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(login.body.contains("Admin token") && login.body.contains("value=\"/models?page=2\""));
    assert!(!login.body.contains("worker"), "the login page says nothing about the system");

    let wrong = env.post("/login", &[("token", "guess"), ("next", "/models")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("not the admin token") && wrong.body.contains("name=\"token\""));
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());

    let right = env.post("/login", &[("token", TOKEN), ("next", "//evil.example")]).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.location(), "/", "only local paths are followed");
    let cookie = right.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).expect("cookie").to_owned();
    let session = cookie.split(';').next().expect("pair").to_owned();
    let request = |path: &str| {
        Request::get(path)
            .header(header::HOST, "127.0.0.1:8000")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .expect("req")
    };
    let page = env.send(request("/")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Log out"), "a logout link when a token is configured");
    let bearer = Request::get("/providers")
        .header(header::HOST, "127.0.0.1:8000")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("req");
    assert_eq!(env.send(bearer).await.status, StatusCode::OK);

    let logout = env
        .send(
            Request::post("/logout")
                .header(header::HOST, "127.0.0.1:8000")
                .header(header::COOKIE, &session)
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    assert!(
        logout.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("Max-Age=0"))
    );
}

#[tokio::test]
async fn without_a_token_login_redirects_home_and_there_is_no_logout() {
    let env = env(None).await;
    let reply = env.get("/login").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.location(), "/");
    assert!(!env.get("/").await.body.contains("Log out"));
}

#[tokio::test]
async fn cross_site_form_posts_are_refused() {
    let env = env(None).await;
    let request = Request::post("/providers")
        .header(header::HOST, "127.0.0.1:8000")
        .header(header::ORIGIN, "http://evil.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("name=evil&type=ollama&base_url=http%3A%2F%2Fevil%3A1"))
        .expect("request");
    assert_eq!(env.send(request).await.status, StatusCode::FORBIDDEN);
    assert!(providers::list(env.db()).await.expect("list").is_empty());
    let request = Request::post("/providers/sync-all")
        .header(header::HOST, "127.0.0.1:8000")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .expect("request");
    assert_eq!(env.send(request).await.status, StatusCode::FORBIDDEN);
    assert_eq!(env.job_count().await, 0);
}

#[tokio::test]
async fn models_are_searched_filtered_and_paged() {
    let env = env(None).await;
    let lab = env.provider("lab", None).await;
    let names: Vec<String> = (0..120).map(|i| format!("model-{i:03}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    env.models(lab, &refs).await;
    let first = env.get("/models").await.body;
    assert!(first.contains("1–50 of 120") && first.contains("model-049") && !first.contains("model-050"));
    assert!(first.contains("href=\"/models?page=2\""));
    let third = env.get("/models?page=3").await.body;
    assert!(third.contains("101–120 of 120") && third.contains("model-119"));
    let searched = env.get(&format!("/models?q=model-11&provider={lab}&capability=tools&status=pending")).await.body;
    assert!(searched.contains("1–10 of 10"), "{searched}");
    let none = env.get("/models?capability=vision").await.body;
    assert!(none.contains("No model matches these filters"));
    assert_eq!(env.get("/models?page=abc&status=bogus").await.status, StatusCode::OK, "bad query values are ignored");
}

#[tokio::test]
async fn providers_without_a_key_say_litellm_gets_the_placeholder() {
    let env = env(None).await;
    let mut llamacpp = NewProvider::new("llamacpp", ProviderType::Openai, "http://gpu:8080/v1");
    llamacpp.api_key = None;
    providers::insert(env.db(), &llamacpp).await.expect("insert provider");
    env.provider("lab-native", None).await;
    env.provider("cloud", Some(PROVIDER_KEY)).await;

    let page = env.get("/providers").await;
    assert_eq!(page.status, StatusCode::OK);
    let row = |name: &str| {
        let start = page.body.find(&format!(">{name}</a>")).unwrap_or(0);
        let end = page.body[start..].find("</tr>").map_or(page.body.len(), |e| start + e);
        page.body[start..end].to_owned()
    };
    let placeholder = "no key: LiteLLM gets the placeholder <code>no-key</code>";
    assert!(row("llamacpp").contains(placeholder), "{}", row("llamacpp"));
    assert!(!row("lab-native").contains(placeholder), "Ollama's native API needs no key at all");
    assert!(!row("cloud").contains(placeholder) && row("cloud").contains("key ••••"), "{}", row("cloud"));
}

#[tokio::test]
async fn the_add_form_fills_in_a_preset() {
    let env = env(None).await;
    let blank = env.get("/providers/new").await;
    assert_eq!(blank.status, StatusCode::OK);
    assert!(
        blank.body.contains("Start from a preset") && blank.body.contains(">OpenRouter</option>"),
        "{}",
        blank.body
    );

    let page = env.get("/providers/new?preset=openrouter").await;
    assert_eq!(page.status, StatusCode::OK);
    for wanted in [
        r#"name="base_url" value="https://openrouter.ai/api/v1""#,
        r#"value=":free""#,
        r#"<option value="openrouter" selected>"#,
        "https://openrouter.ai/settings/keys",
        r#"name="sync_interval_seconds" value="3600""#,
    ] {
        assert!(page.body.contains(wanted), "{wanted} missing from the filled form");
    }
    let unknown = env.get("/providers/new?preset=nope").await;
    assert!(unknown.status == StatusCode::OK && unknown.body.contains(r#"name="base_url" value="""#));

    // Saving the filled form stores the URL exactly as the preset gives it.
    let saved = env
        .post(
            "/providers",
            &[
                ("name", "deepinfra"),
                ("type", "openai"),
                ("base_url", "https://api.deepinfra.com/v1/openai"),
                ("preset", "deepinfra"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let stored = providers::get_by_name(env.db(), "deepinfra").await.expect("query").expect("saved");
    assert_eq!(stored.base_url, "https://api.deepinfra.com/v1/openai");
}

/// Where each of `needles` first appears in `body` (panics when one is missing).
fn positions(body: &str, needles: &[&str]) -> Vec<usize> {
    needles.iter().map(|n| body.find(n).unwrap_or_else(|| panic!("{n:?} missing from the page"))).collect()
}

fn ascending(positions: &[usize]) -> bool {
    positions.windows(2).all(|w| w[0] < w[1])
}

#[tokio::test]
async fn the_models_list_sorts_the_whole_list_in_natural_order_and_keeps_it_in_links() {
    let env = env(None).await;
    let lab = env.provider("lab", None).await;
    let mut other = NewProvider::new("other", ProviderType::Ollama, "http://other:11434");
    other.prefix = Some("team".into());
    let other = providers::insert(env.db(), &other).await.expect("insert").id;
    env.models(lab, &["m10", "m2", "m1", "m100"]).await;
    env.models(other, &["m3"]).await;

    let cell = |name: &str| format!(">{name}</a>");
    let sorted = env.get("/models?sort=name").await.body;
    assert!(ascending(&positions(&sorted, &[&cell("m1"), &cell("m2"), &cell("m3"), &cell("m10"), &cell("m100")])));
    assert!(sorted.contains("<code>team/m3</code>"), "the LiteLLM model_name column shows the prefix");
    assert!(sorted.contains(r#"aria-sort="ascending"><a href="/models?sort=name&#38;dir=desc""#), "{sorted}");

    // Two per page: page 2 of the descending list is the middle of the whole list.
    let page = env.get("/models?sort=name&dir=desc&per_page=2&page=2").await.body;
    assert!(ascending(&positions(&page, &[&cell("m3"), &cell("m2")])), "{page}");
    assert!(!page.contains(&cell("m100")) && !page.contains(&cell("m1")));
    assert!(page.contains("3–4 of 5"));
    for link in [
        r#"href="/models?sort=name&#38;dir=desc&#38;per_page=2&#38;page=3""#,
        r#"href="/models?sort=name&#38;dir=desc&#38;per_page=2""#,
    ] {
        assert!(page.contains(link), "{link} missing: links keep the order and the page size");
    }
    let by_model_name = env.get("/models?sort=model_name").await.body;
    assert!(ascending(&positions(&by_model_name, &[&cell("m100"), &cell("m3")])), "team/m3 sorts after m100");

    // The filters are kept in the page links and the filter form keeps the order.
    let filtered = env.get(&format!("/models?q=m1&provider={lab}&sort=name&per_page=2")).await.body;
    assert!(filtered.contains("1–2 of 3"), "{filtered}");
    assert!(
        filtered
            .contains(&format!(r#"href="/models?q=m1&#38;provider={lab}&#38;sort=name&#38;per_page=2&#38;page=2""#))
    );
    assert!(filtered.contains(r#"<input type="hidden" name="sort" value="name">"#));
}

#[tokio::test]
async fn bad_list_query_values_are_clamped_or_ignored_never_an_error() {
    let env = env(None).await;
    let lab = env.provider("lab", None).await;
    let names: Vec<String> = (1..=30).map(|i| format!("m{i}")).collect();
    env.models(lab, &names.iter().map(String::as_str).collect::<Vec<_>>()).await;
    let cases: &[(&str, &str)] = &[
        ("/models?page=0", "1–30 of 30"),
        ("/models?page=-3&per_page=10", "1–10 of 30"),
        ("/models?page=99999999999999999999", "1–30 of 30"),
        ("/models?per_page=10&page=1000000", "21–30 of 30"),
        ("/models?per_page=100000", "1–30 of 30"),
        ("/models?per_page=0", "1–1 of 30"),
        ("/models?sort=bogus&dir=sideways", "1–30 of 30"),
        ("/models?sort=%00%FF&per_page=abc", "1–30 of 30"),
        ("/litellm?page=0&per_page=100000&sort=nope&owner=who&provider=x", "No snapshot yet"),
    ];
    for (path, needle) in cases {
        let reply = env.get(path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}");
        assert!(reply.body.contains(needle), "{path}: {needle} missing");
    }
    snapshot::save(env.db(), &[json!({"model_name": "m1", "model_info": {"id": "x"}})]).await.expect("snapshot");
    let entries = env.get("/litellm?page=0&per_page=100000&sort=nope&dir=up&owner=who&provider=x").await;
    assert!(entries.status == StatusCode::OK && entries.body.contains("1–1 of 1"), "{}", entries.body);
    // A page past the end shows the last page, with its rows.
    let last = env.get("/models?sort=name&per_page=10&page=7").await.body;
    assert!(last.contains(">m30</a>") && last.contains("21–30 of 30"));
}

#[tokio::test]
async fn the_litellm_list_searches_filters_sorts_and_pages() {
    let (env, lab, _) = seeded().await;
    let mut entries: Vec<Value> = (1..=12)
        .map(|i| {
            json!({"model_name": format!("m{i}"), "litellm_params": {"model": format!("ollama_chat/m{i}")},
                   "model_info": {"id": format!("lu-{i}"), "db_model": true, "managed_by": "litellm-updater"}})
        })
        .collect();
    entries.push(json!({"model_name": "from-config", "litellm_params": {"model": "openai/y"}, "model_info": {"id": "config-1", "db_model": false}}));
    entries.push(json!({"model_name": "theirs", "litellm_params": {"model": "openai/z"}, "model_info": {"id": "foreign-1", "db_model": true}}));
    snapshot::save(env.db(), &entries).await.expect("snapshot");
    let llama = models::get_by_model_id(env.db(), lab, "llama3.2:3b").await.expect("get").expect("model");
    env.db()
        .execute_for_tests("UPDATE models SET litellm_model_id = 'lu-2' WHERE id = $1", &shared::binds![llama.id])
        .await;

    let cell = |name: &str| format!(r#"title="{name}">{name}</td>"#);
    let first = env.get("/litellm?per_page=5").await.body;
    assert!(first.contains("14 entries, 12 of them"), "{first}");
    assert!(ascending(&positions(&first, &[&cell("from-config"), &cell("m1"), &cell("m2"), &cell("m3"), &cell("m4")])));
    assert!(first.contains("1–5 of 14") && first.contains(r#"href="/litellm?per_page=5&#38;page=3""#));
    let last = env.get("/litellm?per_page=5&page=3").await.body;
    assert!(ascending(&positions(&last, &[&cell("m11"), &cell("m12"), &cell("theirs")])), "{last}");

    let searched = env.get("/litellm?q=M1&sort=model_name&dir=desc").await.body;
    assert!(ascending(&positions(&searched, &[&cell("m12"), &cell("m11"), &cell("m10"), &cell("m1")])));
    assert!(searched.contains("1–4 of 4"));
    let config = env.get("/litellm?owner=config").await.body;
    assert!(config.contains(&cell("from-config")) && config.contains("1–1 of 1") && !config.contains(&cell("m1")));
    let theirs = env.get("/litellm?owner=others").await.body;
    assert!(theirs.contains(&cell("theirs")) && theirs.contains("1–1 of 1"));
    let of_lab = env.get(&format!("/litellm?provider={lab}")).await.body;
    assert!(of_lab.contains(&cell("m2")) && of_lab.contains("1–1 of 1"), "{of_lab}");
    let by_owner = env.get("/litellm?sort=owner&per_page=100").await.body;
    assert!(
        ascending(&positions(&by_owner, &[&cell("from-config"), &cell("theirs"), &cell("m1")])),
        "config < others < ours"
    );
    let none = env.get("/litellm?q=nothing-like-this").await.body;
    assert!(none.contains("No entry matches these filters"));
    assert!(first.contains("data-delete-selected"), "the bulk delete bar");
}

#[tokio::test]
async fn a_filter_change_shows_models_as_excluded_at_once() {
    let env = env(None).await;
    let lab = env.provider("lab", None).await;
    let ids = env.models(lab, &["llama3.2:3b", "nomic-embed-text"]).await;
    let form = [
        ("name", "lab"),
        ("type", "ollama"),
        ("base_url", "http://lab:11434"),
        ("sync_enabled", "on"),
        ("sync_interval_seconds", "0"),
        ("model_filter_exclude", "embed"),
    ];
    let reply = env.post(&format!("/providers/{lab}"), &form).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);

    let excluded = env.get("/models?status=excluded").await.body;
    assert!(excluded.contains("nomic-embed-text"), "{excluded}");
    assert!(!excluded.contains("llama3.2:3b"), "{excluded}");
    let page = env.get(&format!("/models/{}", ids[1])).await.body;
    assert!(page.contains("exclude filter term"), "the filter is named: {page}");
    assert!(!page.contains("no longer lists it"), "excluded is not orphaned: {page}");
    let overview = env.get("/").await.body;
    assert!(overview.contains("<strong>1</strong> <span class=\"badge muted\">excluded</span>"), "{overview}");
}

#[tokio::test]
async fn the_top_bar_shows_litellms_last_read() {
    let env = env(None).await;
    let before = env.get("/").await.body;
    assert!(before.contains("LiteLLM: not read yet"), "{before}");

    let failure = Failure {
        reason: "wrong key (HTTP 401)",
        detail: "LiteLLM rejected the API key (HTTP 401); check the LiteLLM master key in Settings",
    };
    litellm_health::record(env.db(), Err(failure)).await.expect("record");
    let page = env.get("/providers").await.body;
    let light = page.split("id=\"litellm-health\"").nth(1).expect("the LiteLLM light");
    let light = light.split("</span>").next().unwrap_or_default();
    assert!(light.contains("LiteLLM: wrong key (HTTP 401) at ") && light.contains(" UTC"), "{light}");
    assert!(page.contains("class=\"light off\" id=\"litellm-health\""), "{page}");

    litellm_health::record(env.db(), Ok(())).await.expect("record");
    let page = env.get("/providers").await.body;
    assert!(page.contains("class=\"light on\" id=\"litellm-health\""), "{page}");
    assert!(page.contains(">LiteLLM ok</span>"), "{page}");
}

#[tokio::test]
async fn disabling_or_deleting_a_provider_confirms_with_the_entries_it_removes() {
    let (env, lab, ids) = seeded().await;
    let id = shared::plan::IdToStore { provider_id: lab, model_row_id: ids[0], litellm_id: "ours-1".into() };
    models::store_litellm_ids(env.db(), &[id]).await.expect("store id");

    let list = env.get("/providers").await.body;
    assert!(
        list.contains("data-confirm=\"Disable lab-ollama? This removes 1 entry from LiteLLM at the next push.\""),
        "{list}"
    );
    let form = env.get(&format!("/providers/{lab}")).await.body;
    assert!(form.contains("This removes 1 entry from LiteLLM at the next push."), "{form}");
    assert!(form.contains("data-confirm=\"Delete lab-ollama? This removes 1 entry"), "{form}");
}

#[tokio::test]
async fn the_settings_litellm_test_sends_the_saved_key_only_to_the_saved_url() {
    let env = env(None).await;
    const SAVED: &str = "sk-saved-master-key-8080";
    config::set_litellm(env.db(), Some("http://litellm:4000"), Some(&Secret::new(SAVED))).await.expect("config");
    let form = |url: &'static str, key: &'static str| {
        [("litellm_base_url", url), ("litellm_api_key", key), ("sync_interval_seconds", "0")]
    };
    let reply = env.post("/admin/test-litellm", &form("http://capture.example:4000", "")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.body);
    assert!(reply.body.contains("enter the key again"), "{}", reply.body);
    assert!(reply.body.contains("http://capture.example:4000"), "the form keeps what was typed");
    assert!(!reply.body.contains(SAVED));
    assert_eq!(env.job_count().await, 0, "no job for a refused test");

    let reply = env.post("/admin/test-litellm", &form("http://litellm:4000/", "")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let id: i64 = reply.location().trim_start_matches("/jobs/").parse().expect("a job page");
    let job = jobs::get(env.db(), id).await.expect("get").expect("job");
    assert_eq!(
        job.request().ok(),
        Some(JobRequest::TestLitellm { base_url: Some("http://litellm:4000".into()), api_key: None })
    );
    let saved = config::get(env.db()).await.expect("config");
    assert_eq!(saved.litellm_api_key.as_ref().map(Secret::expose), Some(SAVED), "a test saves nothing");
    let page = env.get("/admin").await;
    assert!(page.body.contains("formaction=\"/admin/test-litellm\""), "{}", page.body);
}
