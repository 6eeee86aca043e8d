mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{client, send};
use serde_json::{Value, json};
use testkit::{Failure, FakeOllama, OllamaModel};

async fn show(fake: &FakeOllama, body: Value) -> (u16, Value) {
    send(client().post(format!("{}/api/show", fake.url())).json(&body)).await
}

#[tokio::test]
async fn tags_lists_models_and_v030_capabilities() {
    let fake = FakeOllama::start().await;
    fake.set_models(vec![
        OllamaModel::chat("llama3.2:3b").digest("abc123"),
        OllamaModel::embedding("nomic-embed-text:latest").tags_capabilities(),
    ]);
    let (status, body) = send(client().get(format!("{}/api/tags", fake.url()))).await;
    assert_eq!(status, 200);
    let models = body["models"].as_array().unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[0]["name"], "llama3.2:3b");
    assert_eq!(models[0]["model"], "llama3.2:3b");
    assert_eq!(models[0]["digest"], "abc123");
    assert_eq!(models[0]["details"]["family"], "llama");
    assert!(models[0].get("capabilities").is_none() && models[0]["details"].get("context_length").is_none());
    assert_eq!(models[1]["capabilities"], json!(["embedding"]));
    assert_eq!(models[1]["details"]["context_length"], 2048);
    assert_eq!(fake.tags_calls(), 1);
}

#[tokio::test]
async fn show_carries_heavy_fields_and_metadata() {
    let fake = FakeOllama::start().await;
    fake.add_model(OllamaModel::vision("qwen-vl:7b").context_length(32_768));
    let (status, body) = show(&fake, json!({"model": "qwen-vl:7b"})).await;
    assert_eq!(status, 200);
    assert!(body["license"].as_str().unwrap().len() > 9_000);
    assert!(body["modelfile"].as_str().unwrap().contains("LICENSE"));
    assert!(body["template"].as_str().unwrap().contains(".Tools"));
    assert_eq!(body["capabilities"], json!(["completion", "vision", "tools", "thinking"]));
    let info = &body["model_info"];
    assert_eq!(info["general.architecture"], "gemma3");
    assert_eq!(info["gemma3.context_length"], 32_768);
    assert!(info["gemma3.embedding_length"].is_u64() && info["general.parameter_count"].is_u64());
    assert!(info["tokenizer.ggml.tokens"].as_array().unwrap().len() >= 4096);
    assert!(body["tensors"].as_array().unwrap().len() > 100);
    assert!(body["projector_info"].is_object() && body["modified_at"].is_string());
    assert!(serde_json::to_vec(&body).unwrap().len() > 50_000);

    fake.add_model(OllamaModel::embedding("bge-m3:latest"));
    let (_, body) = show(&fake, json!({"model": "bge-m3"})).await; // no tag → :latest
    assert_eq!(body["capabilities"], json!(["embedding"]));
    assert!(body.get("license").is_none() && body.get("projector_info").is_none());
}

#[tokio::test]
async fn old_ollama_hides_capabilities_but_template_reveals_tools() {
    let fake = FakeOllama::start().await;
    fake.set_models(vec![
        OllamaModel::chat("old:1b").old_ollama(),
        OllamaModel::chat("plain:1b").capabilities(&["completion"]).arch("qwen3"),
    ]);
    let (_, old) = show(&fake, json!({"name": "old:1b"})).await; // deprecated field
    assert!(old.get("capabilities").is_none());
    assert!(
        old["template"].as_str().unwrap().contains("{{ .Tools }}")
            || old["template"].as_str().unwrap().contains(".Tools")
    );
    let (_, plain) = show(&fake, json!({"model": "plain:1b"})).await;
    assert!(!plain["template"].as_str().unwrap().contains("Tools"));
    assert_eq!(plain["model_info"]["qwen3.context_length"], 131_072);
    assert_eq!(fake.shown_names(), ["old:1b", "plain:1b"]);
}

#[tokio::test]
async fn show_errors_match_ollama() {
    let fake = FakeOllama::start().await;
    assert_eq!(show(&fake, json!({})).await, (400, json!({"error": "model is required"})));
    assert_eq!(show(&fake, json!({"model": "nope"})).await, (404, json!({"error": "model 'nope' not found"})));
    let (status, body) = send(client().post(format!("{}/api/show", fake.url())).body("{not json")).await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string());
    assert_eq!(fake.show_calls(), 3);
}

#[tokio::test]
async fn bearer_auth_and_state_changes() {
    let fake = FakeOllama::start().await;
    fake.set_models(vec![OllamaModel::chat("a:1b"), OllamaModel::chat("b:1b")]);
    fake.require_bearer(Some("secret".into()));
    let tags = format!("{}/api/tags", fake.url());
    assert_eq!(send(client().get(&tags)).await, (401, json!({"error": "unauthorized"})));
    assert_eq!(send(client().get(&tags).bearer_auth("wrong")).await.0, 401);
    assert!(fake.set_digest("a:1b", "d1") && fake.remove_model("b:1b") && !fake.remove_model("b:1b"));
    let (status, body) = send(client().get(&tags).bearer_auth("secret")).await;
    assert_eq!(status, 200);
    assert_eq!(body["models"].as_array().unwrap().len(), 1);
    assert_eq!(body["models"][0]["digest"], "d1");
    assert_eq!(fake.tags_calls(), 3);
    fake.reset_counters();
    assert_eq!((fake.tags_calls(), fake.show_calls(), fake.shown_names().len()), (0, 0, 0));
}

#[tokio::test]
async fn listing_failures_and_latency() {
    let fake = FakeOllama::start().await;
    fake.add_model(OllamaModel::chat("a:1b"));
    let tags = format!("{}/api/tags", fake.url());

    fake.set_failure(Failure::Status(503));
    assert_eq!(send(client().get(&tags)).await, (503, json!({"error": "simulated failure"})));
    fake.set_failure(Failure::InvalidJson);
    let (status, body) = send(client().get(&tags)).await;
    assert!(status == 200 && body.is_string(), "body must not parse: {body}");
    fake.set_failure(Failure::EmptyList);
    assert_eq!(send(client().get(&tags)).await, (200, json!({"models": []})));
    fake.set_failure(Failure::Oversized(300_000));
    let text = client().get(&tags).send().await.unwrap().text().await.unwrap();
    assert_eq!(text.len(), 300_000);
    assert!(text.starts_with("{\"models\":[{") && serde_json::from_str::<Value>(&text).is_err());

    fake.set_failure(Failure::Hang);
    let err = client().get(&tags).timeout(Duration::from_millis(200)).send().await.unwrap_err();
    assert!(err.is_timeout());

    fake.set_failure(Failure::None);
    fake.set_latency(Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(send(client().get(&tags)).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn synthetic_models_are_varied_with_distinct_names_and_digests() {
    let models: Vec<OllamaModel> = (0..1000).map(OllamaModel::synthetic).collect();
    assert_eq!(OllamaModel::synthetic(42).name(), models[42].name());
    let fake = FakeOllama::start().await;
    fake.set_models(models);
    let (_, body) = send(client().get(format!("{}/api/tags", fake.url()))).await;
    let models = body["models"].as_array().unwrap();
    let distinct = |key: &str| models.iter().map(|m| m[key].as_str().unwrap()).collect::<HashSet<_>>().len();
    assert_eq!((distinct("name"), distinct("digest")), (1000, 1000));
    let families: HashSet<_> = models.iter().map(|m| m["details"]["family"].as_str().unwrap()).collect();
    assert!(families.len() >= 5 && families.contains("nomic-bert"), "{families:?}");
}

#[tokio::test]
async fn set_digest_is_visible_in_show() {
    let fake = FakeOllama::start().await;
    fake.add_model(OllamaModel::chat("a:1b").digest("d0"));
    assert!(show(&fake, json!({"model": "a:1b"})).await.1["modelfile"].as_str().unwrap().contains("sha256-d0"));
    fake.set_digest("a:1b", "d1");
    assert!(show(&fake, json!({"model": "a:1b"})).await.1["modelfile"].as_str().unwrap().contains("sha256-d1"));
}
