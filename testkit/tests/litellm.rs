mod common;

use common::{client, send};
use serde_json::{Value, json};
use testkit::{FakeLiteLlm, WriteFault};

const KEY: &str = "sk-master";

fn new_body(id: &str) -> Value {
    json!({
        "model_name": "llama3.2:3b",
        "litellm_params": {"model": "ollama_chat/llama3.2:3b", "api_base": "http://127.0.0.1:11434",
                           "api_key": "upstream-secret", "input_cost_per_token": 0.0, "rpm": 60},
        "model_info": {"id": id, "mode": "chat", "max_input_tokens": 131_072, "output_cost_per_token": 1.0,
                       "managed_by": "litellm-updater"},
    })
}

async fn post(fake: &FakeLiteLlm, path: &str, body: Value) -> (u16, Value) {
    send(client().post(format!("{}{path}", fake.url())).bearer_auth(KEY).json(&body)).await
}

async fn patch(fake: &FakeLiteLlm, id: &str, body: Value) -> (u16, Value) {
    send(client().patch(format!("{}/model/{id}/update", fake.url())).bearer_auth(KEY).json(&body)).await
}

async fn info(fake: &FakeLiteLlm, query: &str) -> (u16, Value) {
    send(client().get(format!("{}/model/info{query}", fake.url())).bearer_auth(KEY)).await
}

#[tokio::test]
async fn auth_rules() {
    let fake = FakeLiteLlm::start(KEY).await;
    let url = format!("{}/model/info", fake.url());
    assert_eq!(send(client().get(format!("{}/health/liveliness", fake.url()))).await, (200, json!("I'm alive!")));
    let (status, body) = send(client().get(&url)).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["type"], "auth_error");
    assert_eq!((&body["error"]["param"], &body["error"]["code"]), (&json!("None"), &json!("401")));
    assert_eq!(send(client().get(&url).bearer_auth("wrong")).await.0, 401);
    let both = client().get(&url).bearer_auth("wrong").header("x-litellm-api-key", KEY);
    assert_eq!(send(both).await, (200, json!({"data": []})));
    let prefixed = client().get(&url).header("x-litellm-api-key", format!("Bearer {KEY}"));
    assert_eq!(send(prefixed).await.0, 200);
    fake.set_no_db(true);
    let (status, body) = send(client().get(&url).bearer_auth("wrong")).await;
    assert_eq!((status, &body["error"]["type"]), (400, &json!("no_db_connection")));
    assert_eq!(fake.info_calls(), 5);
}

#[tokio::test]
async fn create_echoes_encrypted_and_info_shows_decrypted_without_api_key() {
    let fake = FakeLiteLlm::start(KEY).await;
    let (status, row) = post(&fake, "/model/new", new_body("m1")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (&row["model_id"], &row["created_by"], &row["blocked"]),
        (&json!("m1"), &json!("default_user_id"), &json!(false))
    );
    assert_ne!(row["litellm_params"]["model"], "ollama_chat/llama3.2:3b");
    assert!(!row.to_string().contains("upstream-secret") && !row.to_string().contains("127.0.0.1:11434"));
    assert_eq!(row["litellm_params"]["rpm"], 60);

    let (status, body) = info(&fake, "").await;
    assert_eq!(status, 200);
    let entry = &body["data"][0];
    assert_eq!(entry["model_name"], "llama3.2:3b");
    assert_eq!(entry["litellm_params"]["model"], "ollama_chat/llama3.2:3b");
    assert_eq!(entry["litellm_params"]["api_base"], "http://127.0.0.1:11434");
    assert!(entry["litellm_params"].get("api_key").is_none() && !body.to_string().contains("upstream-secret"));
    let mi = &entry["model_info"];
    assert_eq!(
        (&mi["id"], &mi["db_model"], &mi["managed_by"]),
        (&json!("m1"), &json!(true), &json!("litellm-updater"))
    );
    assert_eq!(
        (&mi["max_input_tokens"], &mi["mode"], &mi["litellm_provider"]),
        (&json!(131_072), &json!("chat"), &json!("ollama_chat"))
    );
    assert!(mi["max_tokens"].is_null() && mi["supports_vision"].is_null() && mi.get("supports_vision").is_some());
    assert!(mi["output_cost_per_token"].is_null(), "cost keys in model_info are stripped");
    assert_eq!(mi["input_cost_per_token"], 0.0, "cost keys in litellm_params are mirrored");
    assert_eq!(fake.stored_api_key("m1").as_deref(), Some("upstream-secret"));
    assert_eq!(fake.entries(), body["data"].as_array().unwrap().clone());
}

#[tokio::test]
async fn create_errors_and_generated_ids() {
    let fake = FakeLiteLlm::start(KEY).await;
    let mut body = new_body("x");
    body["model_info"].as_object_mut().unwrap().remove("id");
    let (status, row) = post(&fake, "/model/new", body).await;
    assert_eq!(status, 200);
    assert_eq!(row["model_id"].as_str().unwrap().len(), 36);
    assert_eq!(post(&fake, "/model/new", new_body("dup")).await.0, 200);
    let internal = json!({"error": {"message": "Internal server error", "type": "internal_server_error", "param": null, "code": "500"}});
    assert_eq!(post(&fake, "/model/new", new_body("dup")).await, (500, internal.clone()));
    assert_eq!(post(&fake, "/model/new", json!({"model_name": "x"})).await, (500, internal));
    fake.set_no_db(true);
    let (status, body) = post(&fake, "/model/new", new_body("y")).await;
    assert_eq!(status, 500);
    assert!(body["error"]["message"].as_str().unwrap().contains("No DB Connected"));
    assert_eq!(fake.entries().len(), 2);
    assert_eq!((fake.new_calls(), fake.write_calls()), (5, 5));
}

#[tokio::test]
async fn patch_merges_with_null_semantics_and_fresh_response_id() {
    let fake = FakeLiteLlm::start(KEY).await;
    post(&fake, "/model/new", new_body("m1")).await;
    let change = json!({
        "model_name": "renamed",
        "litellm_params": {"api_base": "http://other:11434", "rpm": null, "input_cost_per_token": null},
        "model_info": {"max_input_tokens": 8192, "mode": null, "supports_vision": true},
    });
    let (status, row) = patch(&fake, "m1", change.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(row["model_id"], "m1");
    assert_ne!(row["model_info"]["id"], "m1", "write response carries a fresh id");
    assert_ne!(row["litellm_params"]["api_base"], "http://other:11434");

    let (_, body) = info(&fake, "?litellm_model_id=m1").await;
    let entry = &body["data"][0];
    assert_eq!(entry["model_name"], "renamed");
    assert_eq!(entry["litellm_params"]["api_base"], "http://other:11434");
    assert_eq!(entry["litellm_params"]["rpm"], 60, "null does not clear ordinary keys");
    assert!(entry["litellm_params"].get("input_cost_per_token").is_none(), "null clears pricing keys");
    assert_eq!((&entry["model_info"]["id"], &entry["model_info"]["max_input_tokens"]), (&json!("m1"), &json!(8192)));
    assert_eq!((&entry["model_info"]["mode"], &entry["model_info"]["supports_vision"]), (&json!("chat"), &json!(true)));
    assert_eq!(fake.stored_api_key("m1").as_deref(), Some("upstream-secret"));
    assert_eq!(fake.requests().last().unwrap(), &("PATCH".to_owned(), "/model/m1/update".to_owned(), change));
    assert_eq!(fake.patch_calls(), 1);
}

#[tokio::test]
async fn patch_and_delete_errors() {
    let fake = FakeLiteLlm::start(KEY).await;
    let cfg = fake.add_config_entry("cfg", json!({"model": "openai/cfg", "api_key": "k"}), Value::Null);
    let db = fake.insert_db_entry("db", json!({"model": "openai/db"}), json!({"id": "db-1"}));
    assert_eq!((cfg.len(), db.as_str()), (64, "db-1"));
    assert_eq!(fake.entries()[0]["model_info"]["db_model"], false);

    let (status, body) = patch(&fake, &cfg, json!({"model_info": {"x": 1}})).await;
    assert_eq!(status, 400);
    assert!(body["error"]["message"].as_str().unwrap().starts_with("Cannot edit config-based model"));
    let (status, body) = patch(&fake, "nope", json!({})).await;
    assert_eq!((status, &body["error"]["message"]), (404, &json!("Model nope not found on proxy.")));

    assert_eq!(
        post(&fake, "/model/delete", json!({"id": "db-1"})).await,
        (200, json!({"message": "Model: db-1 deleted successfully"}))
    );
    let missing = json!({"detail": [{"type": "missing", "loc": ["body", "id"], "msg": "Field required"}]});
    assert_eq!(post(&fake, "/model/delete", json!({})).await, (422, missing));
    for id in ["db-1", cfg.as_str()] {
        let (status, body) = post(&fake, "/model/delete", json!({ "id": id })).await;
        assert_eq!((status, &body["error"]["message"]), (400, &json!(format!("Model with id={id} not found in db"))));
    }
    let (status, body) = info(&fake, "?litellm_model_id=db-1").await;
    assert_eq!((status, body), (400, json!({"detail": {"error": "Model id = db-1 not found on litellm proxy"}})));
    let (status, body) = send(client().get(format!("{}/v1/model/info", fake.url())).bearer_auth(KEY)).await;
    assert_eq!((status, body["data"].as_array().unwrap().len()), (200, 1));

    fake.set_no_db(true);
    let (status, body) = patch(&fake, &cfg, json!({})).await;
    assert_eq!(status, 500);
    assert!(body["detail"]["error"].as_str().unwrap().starts_with("DB not connected"));
    assert_eq!((fake.patch_calls(), fake.delete_calls(), fake.info_calls()), (3, 4, 2));
}

#[tokio::test]
async fn write_fault_injection() {
    let fake = FakeLiteLlm::start(KEY).await;
    fake.fail_write(2, WriteFault::Reject);
    fake.fail_write(3, WriteFault::ApplyThenError);
    assert_eq!(post(&fake, "/model/new", new_body("a")).await.0, 200);
    assert_eq!(post(&fake, "/model/new", new_body("b")).await.0, 500);
    assert_eq!(patch(&fake, "a", json!({"model_info": {"max_input_tokens": 1}})).await.0, 500);
    assert_eq!(post(&fake, "/model/new", new_body("c")).await.0, 200);
    let ids: Vec<Value> = fake.entries().iter().map(|e| e["model_info"]["id"].clone()).collect();
    assert_eq!(ids, [json!("a"), json!("c")], "rejected write stored nothing");
    assert_eq!(fake.entries()[0]["model_info"]["max_input_tokens"], 1, "ApplyThenError stored the change");

    fake.reset_counters();
    fake.fail_write(1, WriteFault::ApplyThenError);
    assert_eq!(post(&fake, "/model/delete", json!({"id": "c"})).await.0, 500);
    assert_eq!(fake.entries().len(), 1);
    assert_eq!((fake.write_calls(), fake.requests().len()), (1, 1));
}

/// `POST/GET/DELETE /fallback` answer as LiteLLM's fallback management endpoints do.
#[tokio::test]
async fn fallbacks_are_validated_stored_and_removed_as_litellm_does() {
    let fake = FakeLiteLlm::start(KEY).await;
    for name in ["pool", "big"] {
        fake.insert_db_entry(name, json!({"model": "openai/x"}), json!({}));
    }
    let body =
        |model: &str, to: Value, kind: &str| json!({"model": model, "fallback_models": to, "fallback_type": kind});
    let (status, answer) = post(&fake, "/fallback", body(" pool ", json!(["big"]), "context_window")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["message"], "Fallback configuration created successfully");
    assert_eq!(answer["model"], "pool", "the model name is trimmed");
    let (status, answer) = post(&fake, "/fallback", body("pool", json!(["big"]), "context_window")).await;
    assert_eq!((status, answer["message"].clone()), (200, json!("Fallback configuration updated successfully")));

    let refusals = [
        (body("nowhere", json!(["big"]), "general"), 404, "Model 'nowhere' not found in router"),
        (body("pool", json!(["missing"]), "general"), 400, "Invalid fallback models: ['missing']"),
        (body("pool", json!(["pool"]), "general"), 400, "cannot be its own fallback"),
    ];
    for (request, code, words) in refusals {
        let (status, answer) = post(&fake, "/fallback", request.clone()).await;
        assert_eq!(status, code, "{request}: {answer}");
        assert!(answer["detail"]["error"].as_str().is_some_and(|e| e.contains(words)), "{answer}");
    }
    let (status, answer) = post(&fake, "/fallback", body("pool", json!([]), "general")).await;
    assert_eq!(status, 422, "empty list: {answer}");
    let (status, _) = post(&fake, "/fallback", body("pool", json!(["big", "big"]), "general")).await;
    assert_eq!(status, 422, "duplicates");

    let get = |query: &'static str| {
        let url = format!("{}/fallback/pool{query}", fake.url());
        async move { send(client().get(url).bearer_auth(KEY)).await }
    };
    assert_eq!(get("?fallback_type=context_window").await.1["fallback_models"], json!(["big"]));
    let (status, answer) = get("").await;
    assert_eq!(status, 404, "no general fallback: {answer}");
    assert_eq!(answer["detail"]["error"], "No general fallbacks configured for model 'pool'");
    assert_eq!(
        fake.fallbacks(),
        vec![("context_window_fallbacks".to_owned(), "pool".to_owned(), vec!["big".to_owned()])]
    );

    let delete = |query: &'static str| {
        let url = format!("{}/fallback/pool{query}", fake.url());
        async move { send(client().delete(url).bearer_auth(KEY)).await }
    };
    assert_eq!(delete("?fallback_type=general").await.0, 404);
    assert_eq!(delete("?fallback_type=context_window").await.0, 200);
    assert!(fake.fallbacks().is_empty());
    let slashed = send(client().get(format!("{}/fallback/a%2Fb", fake.url())).bearer_auth(KEY)).await;
    assert_eq!(slashed, (404, json!({"detail": "Not Found"})), "a name with / reaches no route");
}
