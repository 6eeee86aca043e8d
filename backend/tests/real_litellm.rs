//! The real LiteLLM proxy in the loop. `litellm-sync --once` pushes to the fake LiteLLM (the
//! model-write API needs a database the real one cannot have here), `litellm-sync render-config`
//! writes the same deployments as a `config.yaml`, and the real LiteLLM, started with that file,
//! routes real requests to recording fake upstreams. Every provider type and Ollama mode, with
//! and without a key and a prefix, embedding models and compat aliases: the upstream must receive
//! its own model id and its own key (or none), and LiteLLM must report the metadata we derived.
//!
//! Routing groups too: requests to a group name reach its members by weight and by priority, and
//! a fallback fires when a member's upstream is down.
//!
//! LiteLLM needs ~8 s and ~700 MB to start: the tests take turns ([`ONE_LITELLM`]), so at most one
//! process runs at a time.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use shared::db::models;
use shared::db::providers::{self, NewProvider};
use shared::types::{OllamaMode, ProviderType};
use support::{MASTER_KEY, World};
use testkit::real_litellm::{self, RealLiteLlm};
use testkit::{FakeOllama, FakeOpenAi, OllamaModel, Received, openai_model};

const CLOUD_KEY: &str = "sk-ollama-cloud-key-7731";
const VLLM_KEY: &str = "sk-vllm-upstream-key-4410";
const PROXY_KEY: &str = "sk-upstream-litellm-key-9052";

/// Where a deployment's requests must arrive, and with which credentials.
#[derive(Clone, Debug)]
struct Expect {
    upstream: &'static str,
    /// The model id the upstream must be asked for.
    model: &'static str,
    /// `Authorization` the upstream must receive.
    authorization: Option<String>,
    /// Paths LiteLLM must call for (chat, text completion, embedding) requests.
    paths: Paths,
}

#[derive(Clone, Copy, Debug)]
enum Paths {
    OllamaChat,
    OllamaGenerate,
    OllamaEmbed,
    OpenAiChat,
    OpenAiEmbed,
}

fn bearer(key: &str) -> Option<String> {
    Some(format!("Bearer {key}"))
}

struct Upstreams {
    lab: FakeOllama,
    cloud: FakeOllama,
    vllm: FakeOpenAi,
    llamacpp: FakeOpenAi,
    proxy: FakeOpenAi,
}

impl Upstreams {
    fn received(&self, name: &str) -> Vec<Received> {
        match name {
            "lab" => self.lab.received(),
            "cloud" => self.cloud.received(),
            "vllm" => self.vllm.received(),
            "llamacpp" => self.llamacpp.received(),
            "proxy" => self.proxy.received(),
            _ => Vec::new(),
        }
    }

    fn clear(&self) {
        self.lab.clear_received();
        self.cloud.clear_received();
        self.vllm.clear_received();
        self.llamacpp.clear_received();
        self.proxy.clear_received();
    }
}

/// Every kind of deployment litellm-updater creates, pushed once to the fake LiteLLM.
async fn world() -> (World, Upstreams, BTreeMap<&'static str, Expect>) {
    let world = World::new().await;
    let lab = world.ollama.clone();
    lab.set_models(vec![
        OllamaModel::chat("llama3.2:3b").context_length(131_072),
        OllamaModel::embedding("nomic-embed-text:latest"),
        OllamaModel::vision("qwen2.5vl:7b").context_length(32_768),
    ]);
    let cloud = FakeOllama::start().await;
    cloud.set_models(vec![OllamaModel::chat("gpt-oss:120b").context_length(131_072)]);
    cloud.require_bearer(Some(CLOUD_KEY.into()));
    let vllm = world.openai.clone();
    vllm.set_models(vec![
        json!({"id": "Qwen/Qwen3-32B", "object": "model", "owned_by": "vllm", "max_model_len": 32768}),
        json!({"id": "BAAI/bge-m3", "object": "model", "owned_by": "vllm", "max_model_len": 8192}),
    ]);
    vllm.require_bearer(Some(VLLM_KEY.into()));
    let llamacpp = FakeOpenAi::start().await;
    llamacpp.set_models(vec![openai_model("gemma-3-4b-it-Q4_K_M.gguf")]);
    // Another LiteLLM proxy as the source: its /v1/models carry LiteLLM's own metadata.
    let proxy = FakeOpenAi::start().await;
    proxy.set_models(vec![
        json!({"id": "team-gpt", "object": "model", "owned_by": "openai", "mode": "chat", "max_input_tokens": 128000,
               "supports_function_calling": true, "supports_vision": true}),
        json!({"id": "team-embed", "object": "model", "owned_by": "openai", "mode": "embedding", "max_input_tokens": 8191}),
    ]);
    proxy.require_bearer(Some(PROXY_KEY.into()));

    let mut new = NewProvider::new("lab", ProviderType::Ollama, lab.url());
    new.default_ollama_mode = OllamaMode::OllamaChat;
    let lab_provider = world.add_provider(new).await;
    let mut new = NewProvider::new("lab-generate", ProviderType::Ollama, lab.url());
    new.default_ollama_mode = OllamaMode::Ollama;
    new.prefix = Some("gen".into());
    world.add_provider(new).await;
    let mut new = NewProvider::new("lab-openai", ProviderType::Ollama, lab.url());
    new.default_ollama_mode = OllamaMode::Openai;
    new.prefix = Some("oai".into());
    world.add_provider(new).await;
    let mut new = NewProvider::new("cloud", ProviderType::Ollama, cloud.url());
    new.api_key = Some(CLOUD_KEY.into());
    world.add_provider(new).await;
    let mut new = NewProvider::new("vllm", ProviderType::Openai, vllm.url());
    new.api_key = Some(VLLM_KEY.into());
    new.prefix = Some("vllm".into());
    world.add_provider(new).await;
    let llamacpp_provider =
        world.add_provider(NewProvider::new("llamacpp", ProviderType::Openai, format!("{}/v1", llamacpp.url()))).await;
    let mut new = NewProvider::new("team-proxy", ProviderType::Openai, proxy.url());
    new.api_key = Some(PROXY_KEY.into());
    world.add_provider(new).await;

    world.once().await.assert_ok();
    // Aliases point at fetched models, so they are made after the first sync.
    let compat = providers::compat_provider(world.db()).await.expect("compat provider");
    let alias = |name, target: i64, model| models::upsert_alias(world.db(), compat.id, name, target, model);
    alias("gpt-4o-mini", lab_provider.id, "llama3.2:3b").await.expect("alias");
    alias("gpt-3.5-turbo", llamacpp_provider.id, "gemma-3-4b-it-Q4_K_M.gguf").await.expect("alias");
    world.once().await.assert_ok();

    let none = None;
    let ollama = |model, paths| Expect { upstream: "lab", model, authorization: none.clone(), paths };
    let expected = BTreeMap::from([
        ("llama3.2:3b", ollama("llama3.2:3b", Paths::OllamaChat)),
        ("qwen2.5vl:7b", ollama("qwen2.5vl:7b", Paths::OllamaChat)),
        ("nomic-embed-text:latest", ollama("nomic-embed-text:latest", Paths::OllamaEmbed)),
        ("gen/llama3.2:3b", ollama("llama3.2:3b", Paths::OllamaGenerate)),
        ("gen/qwen2.5vl:7b", ollama("qwen2.5vl:7b", Paths::OllamaGenerate)),
        ("gen/nomic-embed-text:latest", ollama("nomic-embed-text:latest", Paths::OllamaEmbed)),
        // Ollama's OpenAI-compatible API without a key: the placeholder reaches it.
        ("oai/llama3.2:3b", Expect { authorization: bearer("no-key"), ..ollama("llama3.2:3b", Paths::OpenAiChat) }),
        ("oai/qwen2.5vl:7b", Expect { authorization: bearer("no-key"), ..ollama("qwen2.5vl:7b", Paths::OpenAiChat) }),
        (
            "oai/nomic-embed-text:latest",
            Expect { authorization: bearer("no-key"), ..ollama("nomic-embed-text:latest", Paths::OpenAiEmbed) },
        ),
        (
            "gpt-oss:120b",
            Expect {
                upstream: "cloud",
                model: "gpt-oss:120b",
                authorization: bearer(CLOUD_KEY),
                paths: Paths::OllamaChat,
            },
        ),
        (
            "vllm/Qwen/Qwen3-32B",
            Expect {
                upstream: "vllm",
                model: "Qwen/Qwen3-32B",
                authorization: bearer(VLLM_KEY),
                paths: Paths::OpenAiChat,
            },
        ),
        (
            "vllm/BAAI/bge-m3",
            Expect {
                upstream: "vllm",
                model: "BAAI/bge-m3",
                authorization: bearer(VLLM_KEY),
                paths: Paths::OpenAiEmbed,
            },
        ),
        (
            "gemma-3-4b-it-Q4_K_M.gguf",
            Expect {
                upstream: "llamacpp",
                model: "gemma-3-4b-it-Q4_K_M.gguf",
                authorization: bearer("no-key"),
                paths: Paths::OpenAiChat,
            },
        ),
        (
            "team-gpt",
            Expect { upstream: "proxy", model: "team-gpt", authorization: bearer(PROXY_KEY), paths: Paths::OpenAiChat },
        ),
        (
            "team-embed",
            Expect {
                upstream: "proxy",
                model: "team-embed",
                authorization: bearer(PROXY_KEY),
                paths: Paths::OpenAiEmbed,
            },
        ),
        ("gpt-4o-mini", ollama("llama3.2:3b", Paths::OllamaChat)),
        (
            "gpt-3.5-turbo",
            Expect {
                upstream: "llamacpp",
                model: "gemma-3-4b-it-Q4_K_M.gguf",
                authorization: bearer("no-key"),
                paths: Paths::OpenAiChat,
            },
        ),
    ]);
    (world, Upstreams { lab, cloud, vllm, llamacpp, proxy }, expected)
}

/// `render-config` into the world's directory; returns the file and the variables it references.
async fn render(world: &World) -> (std::path::PathBuf, Vec<(String, String)>) {
    let path = world.dir.path().join("config.yaml");
    let output = path.to_str().expect("utf-8 temp path");
    world.run(&["render-config", "--output", output]).await.assert_ok();
    let yaml = std::fs::read_to_string(&path).expect("rendered config");
    let keys = BTreeMap::from([("cloud", CLOUD_KEY), ("vllm", VLLM_KEY), ("team-proxy", PROXY_KEY)]);
    let env = yaml
        .lines()
        .filter_map(|line| line.strip_prefix("#   "))
        .filter_map(|line| {
            let (variable, rest) = line.split_once("  (provider ")?;
            let provider = rest.strip_suffix(')')?;
            Some((variable.to_owned(), keys.get(provider)?.to_string()))
        })
        .collect();
    (path, env)
}

fn client() -> reqwest::Client {
    testkit::http_client(Duration::from_secs(60))
}

async fn call(litellm: &RealLiteLlm, path: &str, body: Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}{path}", litellm.url()))
        .bearer_auth(MASTER_KEY)
        .json(&body)
        .send()
        .await
        .expect("LiteLLM answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(litellm: &RealLiteLlm, path: &str) -> Value {
    let response =
        client().get(format!("{}{path}", litellm.url())).bearer_auth(MASTER_KEY).send().await.expect("LiteLLM answers");
    assert!(response.status().is_success(), "GET {path}: {}", response.status());
    response.json().await.expect("JSON")
}

/// Sends each request kind the deployment serves and checks what its upstream received.
async fn check_routing(litellm: &RealLiteLlm, upstreams: &Upstreams, name: &str, expect: &Expect) -> Vec<String> {
    let mut failures = Vec::new();
    let requests: Vec<(&str, Value, &str)> = match expect.paths {
        Paths::OllamaChat => vec![("/v1/chat/completions", chat(name), "/api/chat")],
        Paths::OllamaGenerate => vec![
            ("/v1/chat/completions", chat(name), "/api/generate"),
            ("/v1/completions", json!({"model": name, "prompt": "ping", "max_tokens": 8}), "/api/generate"),
        ],
        Paths::OllamaEmbed => vec![("/v1/embeddings", json!({"model": name, "input": ["ping"]}), "/api/embed")],
        Paths::OpenAiChat => vec![("/v1/chat/completions", chat(name), "/v1/chat/completions")],
        Paths::OpenAiEmbed => vec![("/v1/embeddings", json!({"model": name, "input": ["ping"]}), "/v1/embeddings")],
    };
    for (path, body, upstream_path) in requests {
        upstreams.clear();
        let (status, answer) = call(litellm, path, body).await;
        if status != 200 {
            failures.push(format!("{name}: {path} answered {status}: {answer}"));
            continue;
        }
        let received = upstreams.received(expect.upstream);
        match received.as_slice() {
            [one] => {
                if one.path != upstream_path || one.model != expect.model || one.authorization != expect.authorization {
                    failures.push(format!(
                        "{name}: {path} reached {} {} as {:?} with {:?}; expected {upstream_path} {} with {:?}",
                        expect.upstream, one.path, one.model, one.authorization, expect.model, expect.authorization
                    ));
                }
            }
            other => {
                failures.push(format!("{name}: {path} gave {} requests at {}: {other:?}", other.len(), expect.upstream))
            }
        }
    }
    failures
}

fn chat(name: &str) -> Value {
    json!({"model": name, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 8})
}

/// Held by each test while its LiteLLM runs.
static ONE_LITELLM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_deployment_we_create_routes_through_the_real_litellm() {
    let Some(bin) = real_litellm::available() else { return };
    let _turn = ONE_LITELLM.lock().await;
    let (world, upstreams, expected) = world().await;
    let (config, env) = render(&world).await;
    assert_eq!(env.len(), 3, "one variable per keyed provider: {env:?}");

    // What a push holds is what the file holds.
    let mut held = world.entry_names();
    held.sort();
    let mut wanted: Vec<String> = expected.keys().map(|k| (*k).to_owned()).collect();
    wanted.sort();
    assert_eq!(held, wanted, "the push created exactly the expected deployments");
    assert_same_deployments(&world, &config);

    let litellm = RealLiteLlm::start(&bin, &config, MASTER_KEY, &env).await.expect("real LiteLLM starts");
    let mut failures = Vec::new();
    for (name, expect) in &expected {
        failures.extend(check_routing(&litellm, &upstreams, name, expect).await);
    }
    failures.extend(check_reported_metadata(&litellm, &world).await);
    failures.extend(check_read_path_fidelity(&litellm, &world).await);
    failures.extend(check_connection_test(&litellm, &world).await);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}\n--- LiteLLM log ---\n{}",
        failures.len(),
        failures.join("\n"),
        litellm.log_tail()
    );
}

/// Settings' "Test LiteLLM connection" against the real proxy: its one GET is answered as LiteLLM
/// (key accepted), a wrong key is named as such, and the job keeps neither key.
async fn check_connection_test(litellm: &RealLiteLlm, world: &World) -> Vec<String> {
    use shared::job_results::JobResult;
    use shared::jobs::JobRequest;
    const WRONG: &str = "sk-wrong-for-the-real-one-3141";
    let mut worker = world.spawn_worker();
    let mut failures = Vec::new();
    // Without a database (config mode) LiteLLM answers a key other than its master key with
    // "No connected db." instead of a 401.
    let wrong = Some("wrong key (no database connected)");
    for (key, want_ok, want_reason) in [(MASTER_KEY, true, None), (WRONG, false, wrong)] {
        let request =
            JobRequest::TestLitellm { base_url: Some(litellm.url().to_owned()), api_key: Some(key.to_owned()) };
        let job = world.finished_job(world.enqueue(&request).await).await;
        let report = match job.result.as_ref().map(|r| serde_json::from_value::<JobResult>(r.0.clone())) {
            Some(Ok(JobResult::TestLitellm(report))) => report,
            other => {
                failures.push(format!("connection test with {want_reason:?}: no typed result: {other:?} {job:?}"));
                continue;
            }
        };
        if report.ok != want_ok || report.reason.as_deref() != want_reason {
            failures.push(format!("connection test: wanted ok={want_ok} {want_reason:?}, got {report:?}"));
        }
        let row = serde_json::to_string(&job).unwrap_or_default();
        if row.contains(MASTER_KEY) || row.contains(WRONG) {
            failures.push(format!("connection test: a key is in the job row: {row}"));
        }
    }
    let _ = worker.start_kill();
    failures
}

/// The rendered file and the fake LiteLLM (after a real push) hold the same deployments.
fn assert_same_deployments(world: &World, config: &std::path::Path) {
    let yaml = std::fs::read_to_string(config).expect("config");
    for entry in world.litellm.entries() {
        let id = entry["model_info"]["id"].as_str().expect("id");
        assert!(
            yaml.contains(&format!("id: \"{id}\"")),
            "{id} ({}) missing from the rendered file",
            entry["model_name"]
        );
        let name = serde_json::to_string(&entry["model_name"]).expect("name");
        assert!(yaml.contains(&format!("- model_name: {name}\n")), "{name} missing");
    }
    assert_eq!(yaml.matches("\n  - model_name: ").count(), world.litellm.entries().len());
}

/// Capabilities `/model_group/info` reports per group (it leaves out the other `supports_*`).
const GROUP_CAPABILITIES: [&str; 3] = ["supports_function_calling", "supports_vision", "supports_reasoning"];

/// `/v1/model/info` and `/model_group/info` report what we derived: mode, context window,
/// capabilities and prices.
async fn check_reported_metadata(litellm: &RealLiteLlm, world: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let info = get(litellm, "/v1/model/info").await;
    let groups = get(litellm, "/model_group/info").await;
    for ours in world.litellm.entries() {
        let name = ours["model_name"].as_str().unwrap_or_default();
        let id = &ours["model_info"]["id"];
        let Some(theirs) = info["data"].as_array().and_then(|d| d.iter().find(|e| &e["model_info"]["id"] == id)) else {
            failures.push(format!("{name}: not in /v1/model/info"));
            continue;
        };
        let Some(group) = groups["data"].as_array().and_then(|d| d.iter().find(|g| g["model_group"] == name)) else {
            failures.push(format!("{name}: no /model_group/info entry"));
            continue;
        };
        let mut expect = |source: &str, key: &str, want: &Value, got: &Value| {
            if !want.is_null() && !shared::plan::same(want, got) {
                failures.push(format!("{name}: {source} {key} = {got}, we pushed {want}"));
            }
        };
        let pushed = ours["model_info"].as_object().cloned().unwrap_or_default();
        for (key, want) in
            pushed.iter().filter(|(k, _)| k.starts_with("supports_") || *k == "mode" || k.starts_with("max_"))
        {
            expect("/v1/model/info", key, want, &theirs["model_info"][key]);
            if GROUP_CAPABILITIES.contains(&key.as_str()) || matches!(key.as_str(), "mode" | "max_input_tokens") {
                expect("/model_group/info", key, want, &group[key]);
            }
        }
        for key in ["input_cost_per_token", "output_cost_per_token"] {
            expect("/model_group/info", key, &ours["litellm_params"][key], &group[key]);
        }
    }
    failures
}

/// The fake LiteLLM answers the read endpoints our code uses in the real one's shape.
async fn check_read_path_fidelity(litellm: &RealLiteLlm, world: &World) -> Vec<String> {
    let mut failures = Vec::new();
    let fake = client();
    for path in ["/model/info", "/v1/model/info", "/v1/models"] {
        let real = get(litellm, path).await;
        let faked: Value = match fake.get(format!("{}{path}", world.litellm.url())).bearer_auth(MASTER_KEY).send().await
        {
            Ok(response) => response.json().await.unwrap_or(Value::Null),
            Err(error) => {
                failures.push(format!("fake {path}: {error}"));
                continue;
            }
        };
        failures.extend(shape_differences(path, &real, &faked));
    }
    failures
}

/// Differences in structure (keys and JSON types) that a client could trip over. The real
/// LiteLLM adds keys of its own to each entry; what must match is the envelope, the keys every
/// real entry has, and the type of every value both show.
fn shape_differences(path: &str, real: &Value, fake: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(real_data), Some(fake_data)) = (real["data"].as_array(), fake["data"].as_array()) else {
        return vec![format!("{path}: no `data` array (real {}, fake {})", kind(&real["data"]), kind(&fake["data"]))];
    };
    let envelope = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    if envelope(real) != envelope(fake) {
        out.push(format!("{path}: envelope keys real {:?}, fake {:?}", envelope(real), envelope(fake)));
    }
    if real_data.len() != fake_data.len() {
        out.push(format!("{path}: real lists {} entries, fake {}", real_data.len(), fake_data.len()));
    }
    let id_of = |e: &Value| {
        e.pointer("/model_info/id").or_else(|| e.get("id")).and_then(Value::as_str).unwrap_or_default().to_owned()
    };
    for real_entry in real_data {
        let id = id_of(real_entry);
        let Some(fake_entry) = fake_data.iter().find(|e| id_of(e) == id) else {
            out.push(format!("{path}: {id} only in the real answer"));
            continue;
        };
        compare(&format!("{path} {id}"), real_entry, fake_entry, 0, &mut out);
    }
    out
}

fn compare(at: &str, real: &Value, fake: &Value, depth: usize, out: &mut Vec<String>) {
    match (real, fake) {
        (Value::Object(r), Value::Object(f)) if depth < 2 => {
            for (key, value) in r {
                match f.get(key) {
                    // Keys LiteLLM derives itself from its cost map; the fake adds only what clients read.
                    None if depth == 1 || COST_MAP_LIMITS.contains(&key.as_str()) => {}
                    None => out.push(format!("{at}: `{key}` missing from the fake")),
                    Some(other) => compare(&format!("{at}.{key}"), value, other, depth + 1, out),
                }
            }
            for key in f.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!("{at}: `{key}` only in the fake"));
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Number(_), Value::Number(_)) => {}
        (r, f) if kind(r) != kind(f) => out.push(format!("{at}: real {}, fake {}", kind(r), kind(f))),
        _ => {}
    }
}

/// Token limits the real LiteLLM fills from its bundled cost map when a deployment does not state
/// them (a `gpt-4o-mini` alias gets OpenAI's `max_output_tokens`); the fake has no cost map.
const COST_MAP_LIMITS: [&str; 2] = ["max_input_tokens", "max_output_tokens"];

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// --- Routing groups and fallbacks ---------------------------------------------------------

/// Records `ids` as fetched from `provider` (Ollama chat models with a context window), as a
/// sync would, without reaching the upstream (one of them is down on purpose).
async fn listed(world: &World, provider: &shared::provider::Provider, ids: &[&str]) {
    let fetched: Vec<models::FetchedModel> = ids
        .iter()
        .map(|id| {
            let raw = json!({"capabilities": ["completion"], "details": {"family": "llama"},
                              "model_info": {"general.architecture": "llama", "llama.context_length": 8192}});
            models::FetchedModel::from_upstream(ProviderType::Ollama, id, None, &raw)
        })
        .collect();
    let names: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    models::record_fetch(world.db(), provider.id, &fetched, &names).await.expect("record fetch");
}

/// Chat requests to `name`, one at a time; how many reached `first` and `second` (`/api/chat`).
async fn spread(
    litellm: &RealLiteLlm,
    name: &str,
    requests: usize,
    first: &FakeOllama,
    second: &FakeOllama,
) -> (usize, usize, Vec<String>) {
    first.clear_received();
    second.clear_received();
    let mut failures = Vec::new();
    for _ in 0..requests {
        let (status, answer) = call(litellm, "/v1/chat/completions", chat(name)).await;
        if status != 200 {
            failures.push(format!("{name}: answered {status}: {answer}"));
        }
    }
    let chats = |fake: &FakeOllama| fake.received().iter().filter(|r| r.path == "/api/chat").count();
    (chats(first), chats(second), failures)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_route_by_weight_and_priority_and_fallbacks_fire_in_the_real_litellm() {
    use shared::db::routing;
    use shared::routing::{Fallback, FallbackType, GroupInput, TargetInput};

    let Some(bin) = real_litellm::available() else { return };
    let world = World::new().await;
    let first = world.ollama.clone();
    first.set_models(vec![OllamaModel::chat("small:1b")]);
    let second = FakeOllama::start().await;
    second.set_models(vec![OllamaModel::chat("big:1b")]);
    let a = world.add_provider(NewProvider::new("a", ProviderType::Ollama, first.url())).await;
    let b = world.add_provider(NewProvider::new("b", ProviderType::Ollama, second.url())).await;
    let dead =
        world.add_provider(NewProvider::new("dead", ProviderType::Ollama, support::closed_port_url().await)).await;
    listed(&world, &a, &["small:1b"]).await;
    listed(&world, &b, &["big:1b"]).await;
    listed(&world, &dead, &["gone:1b"]).await;

    let target = |provider: &shared::provider::Provider, model: &str, weight, priority| TargetInput {
        provider_id: provider.id,
        model_id: model.into(),
        weight,
        priority,
        enabled: true,
    };
    let group = |name: &str, targets| GroupInput {
        name: name.into(),
        description: None,
        capabilities: vec![],
        auto_context_fallback: false,
        targets,
    };
    for input in [
        group("weighted", vec![target(&a, "small:1b", 3, 1), target(&b, "big:1b", 1, 1)]),
        group("ordered", vec![target(&a, "small:1b", 1, 2), target(&b, "big:1b", 1, 1)]),
        group("failover", vec![target(&dead, "gone:1b", 1, 1)]),
    ] {
        routing::create_group(world.db(), &input).await.expect("create group");
    }
    let fallback = Fallback {
        model_name: "failover".into(),
        fallback_type: FallbackType::General,
        fallback_models: vec!["big:1b".into()],
    };
    routing::set_fallback(world.db(), &fallback).await.expect("fallback");

    let (config, env) = render(&world).await;
    let yaml = std::fs::read_to_string(&config).expect("config");
    assert!(yaml.contains("router_settings:\n  fallbacks:\n    - failover: [\"big:1b\"]\n"), "{yaml}");
    let _turn = ONE_LITELLM.lock().await;
    let litellm = RealLiteLlm::start(&bin, &config, MASTER_KEY, &env).await.expect("real LiteLLM starts");

    let mut failures = Vec::new();
    // Weight 3 against 1: with 60 requests the heavier member getting no more than the lighter
    // one has a chance of about 1 in 100,000; neither getting none is what is checked hardest.
    let (heavy, light, failed) = spread(&litellm, "weighted", 60, &first, &second).await;
    failures.extend(failed);
    if heavy + light != 60 || heavy <= light || light == 0 {
        failures.push(format!("weighted: {heavy} to the weight-3 member, {light} to the weight-1 member"));
    }
    let (second_choice, first_choice, failed) = spread(&litellm, "ordered", 10, &first, &second).await;
    failures.extend(failed);
    if (first_choice, second_choice) != (10, 0) {
        failures.push(format!("ordered: {first_choice} to priority 1, {second_choice} to priority 2"));
    }
    let (_, fallen_back, failed) = spread(&litellm, "failover", 1, &first, &second).await;
    failures.extend(failed);
    if fallen_back != 1 {
        failures.push(format!("failover: the fallback big:1b got {fallen_back} requests"));
    }
    assert!(failures.is_empty(), "{}\n--- LiteLLM log ---\n{}", failures.join("\n"), litellm.log_tail());
}
