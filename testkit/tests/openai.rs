mod common;

use common::{client, send};
use serde_json::json;
use testkit::{Failure, FakeOpenAi, openai_model};

#[tokio::test]
async fn lists_models_with_extras_only_under_v1() {
    let fake = FakeOpenAi::start().await;
    let mut vllm = openai_model("Qwen/Qwen3-8B");
    vllm["max_model_len"] = json!(32_768);
    fake.set_models(vec![openai_model("gpt-4o"), vllm]);
    let (status, body) = send(client().get(format!("{}/v1/models", fake.url()))).await;
    assert_eq!(status, 200);
    assert_eq!(body["object"], "list");
    assert_eq!(
        body["data"][0],
        json!({"id": "gpt-4o", "object": "model", "created": 1_715_367_049, "owned_by": "system"})
    );
    assert_eq!(body["data"][1]["max_model_len"], 32_768);
    assert_eq!(send(client().get(format!("{}/models", fake.url()))).await.0, 404);
    assert_eq!(fake.models_calls(), 1);
}

#[tokio::test]
async fn bearer_key_and_failures() {
    let fake = FakeOpenAi::start().await;
    fake.require_bearer(Some("sk-test".into()));
    let url = format!("{}/v1/models", fake.url());
    for req in [client().get(&url), client().get(&url).bearer_auth("sk-wrong")] {
        let (status, body) = send(req).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["code"], "invalid_api_key");
        assert!(body["error"]["param"].is_null() && body["error"]["message"].is_string());
    }
    assert_eq!(send(client().get(&url).bearer_auth("sk-test")).await, (200, json!({"object": "list", "data": []})));

    fake.set_failure(Failure::Status(502));
    let (status, body) = send(client().get(&url).bearer_auth("sk-test")).await;
    assert_eq!((status, &body["error"]["type"]), (502, &json!("server_error")));
    fake.set_failure(Failure::Oversized(100_000));
    let text = client().get(&url).bearer_auth("sk-test").send().await.unwrap().text().await.unwrap();
    assert!(text.len() == 100_000 && text.starts_with("{\"data\":["));
    assert_eq!(fake.models_calls(), 5);
    fake.reset_counters();
    assert_eq!(fake.models_calls(), 0);
}
