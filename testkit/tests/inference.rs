//! The inference routes of the upstream fakes: the shapes LiteLLM parses, recording, auth and the
//! not-found answers. The request bodies are the ones LiteLLM 1.108.7 sends (observed).

mod common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{client, send};
use serde_json::{Value, json};
use testkit::{FakeOllama, FakeOpenAi, OllamaModel, fake_embedding, openai_model};

async fn ollama() -> FakeOllama {
    let fake = FakeOllama::start().await;
    fake.set_models(vec![OllamaModel::chat("llama3.2:3b"), OllamaModel::embedding("nomic-embed-text:latest")]);
    fake
}

async fn openai() -> FakeOpenAi {
    let fake = FakeOpenAi::start().await;
    fake.set_models(vec![openai_model("Qwen/Qwen3-32B"), openai_model("bge-m3")]);
    fake
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    send(client().post(url).json(&body)).await
}

#[tokio::test]
async fn ollama_chat_answers_like_ollama() {
    let fake = ollama().await;
    let body = json!({
        "model": "llama3.2:3b", "options": {"num_predict": 7}, "stream": false,
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "ping there", "images": []}],
    });
    let (status, answer) = post(&format!("{}/api/chat", fake.url()), body.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["model"], "llama3.2:3b");
    assert!(answer["created_at"].is_string());
    assert_eq!(answer["message"], json!({"role": "assistant", "content": "pong from llama3.2:3b"}));
    assert_eq!((answer["done"].clone(), answer["done_reason"].clone()), (json!(true), json!("stop")));
    assert_eq!(answer["prompt_eval_count"], 4);
    assert_eq!(answer["eval_count"], 3);
    assert!(answer["total_duration"].is_u64() && answer["eval_duration"].is_u64());

    let received = fake.received();
    assert_eq!(received.len(), 1);
    assert_eq!((received[0].path.as_str(), received[0].model.as_str()), ("/api/chat", "llama3.2:3b"));
    assert_eq!(received[0].authorization, None);
    assert_eq!(received[0].body, body);
}

#[tokio::test]
async fn ollama_generate_and_untagged_name() {
    let fake = ollama().await;
    fake.add_model(OllamaModel::chat("qwen3:latest"));
    let body = json!({"model": "qwen3", "prompt": "### User:\nping there\n\n", "options": {}, "stream": false});
    let (status, answer) = post(&format!("{}/api/generate", fake.url()), body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["model"], "qwen3", "Ollama echoes the name as asked");
    assert_eq!(answer["response"], "pong from qwen3");
    assert_eq!((answer["done"].clone(), answer["done_reason"].clone()), (json!(true), json!("stop")));
    assert_eq!((answer["prompt_eval_count"].clone(), answer["eval_count"].clone()), (json!(4), json!(3)));
    assert!(answer["context"].is_array() && answer.get("message").is_none());
    assert_eq!(fake.received()[0].path, "/api/generate");
}

#[tokio::test]
async fn ollama_embed_is_deterministic_per_input() {
    let fake = ollama().await;
    let url = format!("{}/api/embed", fake.url());
    let (status, answer) = post(&url, json!({"model": "nomic-embed-text:latest", "input": ["hello", "world x"]})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["model"], "nomic-embed-text:latest");
    assert_eq!(answer["embeddings"], json!([fake_embedding("hello", 4), fake_embedding("world x", 4)]));
    assert_ne!(answer["embeddings"][0], answer["embeddings"][1]);
    assert_eq!(answer["prompt_eval_count"], 3);

    let (_, single) = post(&url, json!({"model": "nomic-embed-text", "input": "hello", "dimensions": 2})).await;
    assert_eq!(single["embeddings"], json!([fake_embedding("hello", 2)]));
    assert_eq!(fake_embedding("hello", 2)[..], fake_embedding("hello", 4)[..2]);
    assert!(fake_embedding("hello", 64).iter().all(|v| (-1.0..=1.0).contains(v)));

    let (status, bad) = post(&url, json!({"model": "nomic-embed-text", "input": [1, 2]})).await;
    assert_eq!((status, bad), (400, json!({"error": "invalid input type"})));
    // No legacy route: LiteLLM only calls /api/embed.
    assert_eq!(post(&format!("{}/api/embeddings", fake.url()), json!({})).await.0, 404);
}

#[tokio::test]
async fn ollama_rejections_are_recorded() {
    let fake = ollama().await;
    let base = fake.url();
    let cases = [
        ("/api/chat", json!({"model": "nope:1b", "messages": [], "stream": false})),
        ("/api/generate", json!({"model": "nope:1b", "prompt": "hi", "stream": false})),
        ("/api/embed", json!({"model": "nope-embed", "input": ["hi"]})),
    ];
    for (path, body) in &cases {
        let (status, answer) = post(&format!("{base}{path}"), body.clone()).await;
        let name = body["model"].as_str().unwrap();
        assert_eq!(status, 404, "{path}");
        assert_eq!(answer, json!({"error": format!("model \"{name}\" not found, try pulling it first")}));
    }

    let chat = |model: &str, stream: Value| json!({"model": model, "messages": [], "stream": stream});
    let (status, answer) = post(&format!("{base}/api/chat"), chat("nomic-embed-text:latest", json!(false))).await;
    assert_eq!((status, answer), (400, json!({"error": "\"nomic-embed-text:latest\" does not support chat"})));
    let (status, answer) = post(&format!("{base}/api/generate"), json!({"model": "nomic-embed-text"})).await;
    assert_eq!((status, answer), (400, json!({"error": "\"nomic-embed-text\" does not support generate"})));
    // Ollama streams unless told not to; the fake does not stream.
    for stream in [json!(true), Value::Null] {
        let (status, answer) = post(&format!("{base}/api/chat"), chat("llama3.2:3b", stream)).await;
        assert_eq!(status, 400);
        assert!(answer["error"].as_str().unwrap().contains("stream"));
    }
    let (status, answer) = post(&format!("{base}/api/chat"), json!({"messages": []})).await;
    assert_eq!((status, answer), (400, json!({"error": "model is required"})));

    let raw = client().post(format!("{base}/api/chat")).body("{not json").header("content-type", "application/json");
    let (status, answer) = send(raw).await;
    assert_eq!(status, 400);
    assert!(answer["error"].is_string());

    let received = fake.received();
    assert_eq!(received.len(), 9, "every request is recorded, rejected ones too");
    assert_eq!(received.iter().map(|r| r.path.as_str()).take(3).collect::<Vec<_>>(), cases.map(|c| c.0));
    assert_eq!(received[0].model, "nope:1b");
    assert_eq!((received[8].model.as_str(), received[8].body.clone()), ("", json!("{not json")));
    fake.clear_received();
    assert!(fake.received().is_empty());
}

#[tokio::test]
async fn ollama_inference_enforces_bearer_and_records_the_header() {
    let fake = ollama().await;
    fake.require_bearer(Some("ol-key".into()));
    let url = format!("{}/api/chat", fake.url());
    let body = json!({"model": "llama3.2:3b", "messages": [{"role": "user", "content": "hi"}], "stream": false});
    for req in [client().post(&url), client().post(&url).bearer_auth("wrong")] {
        assert_eq!(send(req.json(&body)).await, (401, json!({"error": "unauthorized"})));
    }
    // Auth comes first: a missing model behind a wrong key is still a 401.
    let embed = json!({"model": "nope", "input": "hi"});
    let (status, _) = send(client().post(format!("{}/api/embed", fake.url())).json(&embed)).await;
    assert_eq!(status, 401);
    let (status, answer) = send(client().post(&url).bearer_auth("ol-key").json(&body)).await;
    assert_eq!((status, answer["message"]["content"].clone()), (200, json!("pong from llama3.2:3b")));

    let auth: Vec<_> = fake.received().into_iter().map(|r| r.authorization).collect();
    assert_eq!(auth, [None, Some("Bearer wrong".into()), None, Some("Bearer ol-key".into())]);
}

#[tokio::test]
async fn openai_chat_and_completions_shapes() {
    let fake = openai().await;
    let body =
        json!({"model": "Qwen/Qwen3-32B", "messages": [{"role": "user", "content": "ping there"}], "max_tokens": 7});
    let (status, answer) = post(&format!("{}/v1/chat/completions", fake.url()), body.clone()).await;
    assert_eq!(status, 200);
    assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(answer["object"], "chat.completion");
    assert!(answer["created"].is_u64());
    assert_eq!(answer["model"], "Qwen/Qwen3-32B");
    let choice = &answer["choices"][0];
    assert_eq!((choice["index"].clone(), choice["finish_reason"].clone()), (json!(0), json!("stop")));
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "pong from Qwen/Qwen3-32B");
    assert_eq!(answer["usage"], json!({"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}));

    let prompt = json!({"model": "Qwen/Qwen3-32B", "prompt": ["say pong", "and again"]});
    let (status, answer) = post(&format!("{}/v1/completions", fake.url()), prompt).await;
    assert_eq!(status, 200);
    assert!(answer["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(answer["object"], "text_completion");
    assert_eq!(answer["choices"].as_array().unwrap().len(), 2);
    assert_eq!(answer["choices"][1]["index"], 1);
    assert_eq!(answer["choices"][0]["text"], "pong from Qwen/Qwen3-32B");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["usage"]["prompt_tokens"], 4);

    let received = fake.received();
    let paths: Vec<_> = received.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/completions"]);
    assert_eq!(received[0].body, body);
    assert!(received.iter().all(|r| r.model == "Qwen/Qwen3-32B"));
}

#[tokio::test]
async fn openai_embeddings_as_floats_and_base64() {
    let fake = openai().await;
    let url = format!("{}/v1/embeddings", fake.url());
    let (status, answer) = post(&url, json!({"model": "bge-m3", "input": ["hello", "world x"]})).await;
    assert_eq!(status, 200);
    let data = json!([
        {"object": "embedding", "index": 0, "embedding": fake_embedding("hello", 4)},
        {"object": "embedding", "index": 1, "embedding": fake_embedding("world x", 4)},
    ]);
    let usage = json!({"prompt_tokens": 3, "total_tokens": 3});
    assert_eq!(answer, json!({"object": "list", "data": data, "model": "bge-m3", "usage": usage}));

    let (_, answer) = post(&url, json!({"model": "bge-m3", "input": "hello", "encoding_format": "base64"})).await;
    let bytes = BASE64.decode(answer["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let floats: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(floats, fake_embedding("hello", 4).iter().map(|v| *v as f32).collect::<Vec<_>>());

    let (_, answer) = post(&url, json!({"model": "bge-m3", "input": [[1, 2, 3]], "dimensions": 2})).await;
    assert_eq!(answer["data"][0]["embedding"].as_array().unwrap().len(), 2);
    assert_eq!(answer["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn openai_rejections_use_the_error_envelope_and_are_recorded() {
    let fake = openai().await;
    let base = fake.url();
    let (status, answer) = post(&format!("{base}/v1/chat/completions"), json!({"model": "nope", "messages": []})).await;
    assert_eq!(status, 404);
    assert_eq!(answer["error"]["code"], "model_not_found");
    assert_eq!(answer["error"]["type"], "invalid_request_error");
    assert_eq!(answer["error"]["message"], "The model `nope` does not exist or you do not have access to it.");
    let (status, answer) = post(&format!("{base}/v1/embeddings"), json!({"model": "gpt-4o", "input": "x"})).await;
    assert_eq!((status, answer["error"]["code"].clone()), (404, json!("model_not_found")));

    let (status, answer) = post(&format!("{base}/v1/chat/completions"), json!({"model": "bge-m3"})).await;
    assert_eq!((status, answer["error"]["code"].clone()), (400, json!("missing_required_parameter")));
    let streamed = json!({"model": "bge-m3", "messages": [], "stream": true});
    assert_eq!(post(&format!("{base}/v1/chat/completions"), streamed).await.0, 400);
    let raw = client().post(format!("{base}/v1/completions")).body("nope").header("content-type", "application/json");
    let (status, answer) = send(raw).await;
    assert_eq!(status, 400);
    assert_eq!(
        (answer["error"]["type"].clone(), answer["error"]["code"].clone()),
        (json!("invalid_request_error"), Value::Null)
    );

    fake.require_bearer(Some("sk-up".into()));
    let url = format!("{base}/v1/chat/completions");
    let body = json!({"model": "Qwen/Qwen3-32B", "messages": [{"role": "user", "content": "hi"}]});
    for req in [client().post(&url), client().post(&url).bearer_auth("sk-wrong")] {
        let (status, answer) = send(req.json(&body)).await;
        assert_eq!((status, answer["error"]["code"].clone()), (401, json!("invalid_api_key")));
    }
    assert_eq!(send(client().post(&url).bearer_auth("sk-up").json(&body)).await.0, 200);

    let received = fake.received();
    assert_eq!(received.len(), 8);
    assert_eq!(received[0].model, "nope");
    assert_eq!(received[4].body, json!("nope"));
    let auth: Vec<_> = received[5..].iter().map(|r| r.authorization.clone()).collect();
    assert_eq!(auth, [None, Some("Bearer sk-wrong".into()), Some("Bearer sk-up".into())]);
    fake.clear_received();
    assert!(fake.received().is_empty());
}
