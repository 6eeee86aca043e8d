//! The REST API (SPEC §7) end to end, in-process against a real SQLite file: CRUD and the
//! Python tool's shapes, every 4xx (with its `detail`, and nothing changed), jobs and `?wait`,
//! status endpoints, OpenAPI, auth and CSRF. `support` fails any test whose answers leak a key.

mod support;

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use shared::db::providers::COMPAT_PROVIDER_NAME;
use shared::db::{config, jobs, models, providers, snapshot, sync_runs, worker_status};
use shared::runs::{RunCounts, RunKind, RunStatus};
use shared::types::ProviderType;
use support::{Api, LITELLM_KEY, OTHER_PROVIDER_KEY, PARAMS_KEY, PROVIDER_KEY, Reply, SNAPSHOT_KEY, TEST_KEY, TOKEN};

fn lab_provider() -> Value {
    json!({
        "name": "lab-ollama", "base_url": "http://ollama.lan:11434/", "type": "ollama", "api_key": PROVIDER_KEY,
        "prefix": "lab", "tags": ["gpu", "lab"], "access_groups": "team-a, team-b", "sync_interval_seconds": 120,
        "model_filter": "llama", "pricing_override": {"input_cost_per_token": 0.000001}
    })
}

async fn beat(api: &Api, state: &str) {
    let beat = worker_status::Beat {
        instance_id: "test-worker",
        role: "active",
        pid: 42,
        host: "worker-host",
        version: "0.1.0",
        started_at: "2025-01-01T00:00:00.000Z",
        state,
        current_job_id: None,
        current_step: None,
    };
    worker_status::beat(api.db(), &beat, true).await.expect("beat");
}

/// One finished provider run, as the worker records it.
async fn run(api: &Api, provider: &shared::provider::Provider, status: RunStatus, message: Option<&str>) -> i64 {
    let id = sync_runs::start(api.db(), Some((provider.id, &provider.name)), RunKind::Sync, "job", None)
        .await
        .expect("start run");
    let counts = RunCounts { models_seen: 3, added: 2, ..Default::default() };
    sync_runs::finish(api.db(), id, status, &counts, message).await.expect("finish run");
    id
}

fn owned_entry(id: &str, name: &str) -> Value {
    json!({"model_name": name,
           "litellm_params": {"model": format!("ollama_chat/{name}"), "api_key": SNAPSHOT_KEY,
                              "tags": ["lupdater", format!("unique_id:lab-ollama/{name}")]},
           "model_info": {"id": id, "db_model": true, "managed_by": "litellm-updater"}})
}

fn foreign_entry(id: &str, name: &str) -> Value {
    json!({"model_name": name, "litellm_params": {"model": "openai/gpt-4o"},
           "model_info": {"id": id, "db_model": true}})
}

fn config_entry(id: &str, name: &str) -> Value {
    json!({"model_name": name, "litellm_params": {"model": "openai/gpt-4o"}, "model_info": {"id": id, "db_model": false}})
}

/// The `jobs` row of a queued answer, checked against the answer.
async fn queued_job(api: &Api, reply: &Reply, kind: &str) -> jobs::JobRecord {
    reply.expect(StatusCode::ACCEPTED);
    let body = reply.json();
    assert_eq!(body["status"], "queued");
    assert_eq!(body["kind"], kind);
    let id = body["job_id"].as_i64().expect("job_id");
    assert_eq!(body["url"], format!("/api/jobs/{id}"));
    assert_eq!(
        reply.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
        Some(format!("/api/jobs/{id}").as_str())
    );
    let job = jobs::get(api.db(), id).await.expect("get job").expect("the job row exists");
    assert_eq!(job.kind, kind);
    assert_eq!(job.status, "queued");
    job
}

mod providers_api {
    use super::*;

    #[tokio::test]
    async fn json_crud_round_trip_keeps_the_key_write_only() {
        let api = Api::new().await;
        let created = api.json(Method::POST, "/api/providers", lab_provider()).await;
        created.expect(StatusCode::CREATED);
        let body = created.json();
        let id = body["id"].as_i64().expect("id");
        assert_eq!(body["name"], "lab-ollama");
        assert_eq!(body["base_url"], "http://ollama.lan:11434", "trailing slash trimmed");
        assert_eq!(body["type"], "ollama");
        assert_eq!(body["api_key_set"], true);
        assert_eq!(body["api_key_masked"], "••••abcd");
        assert!(body.get("api_key").is_none(), "never an api_key field");
        assert_eq!(body["tags"], json!(["gpu", "lab"]));
        assert_eq!(body["access_groups"], json!(["team-a", "team-b"]), "comma-separated text becomes a list");
        assert_eq!(body["sync_interval_seconds"], 120);
        assert_eq!(body["default_ollama_mode"], "ollama_chat");
        assert_eq!(body["pricing_override"], json!({"input_cost_per_token": 0.000001}));
        assert_eq!(body["sync_enabled"], true);

        let listed = api.get("/api/providers").await;
        listed.expect(StatusCode::OK);
        assert_eq!(listed.json().as_array().map(Vec::len), Some(1));
        api.get(&format!("/api/providers/{id}")).await.expect(StatusCode::OK);

        // An empty key keeps the stored one; other fields change.
        let patched =
            api.json(Method::PATCH, &format!("/api/providers/{id}"), json!({"api_key": "", "prefix": null})).await;
        patched.expect(StatusCode::OK);
        assert_eq!(patched.json()["prefix"], Value::Null);
        let stored = providers::get(api.db(), id).await.expect("get").expect("row");
        assert_eq!(stored.api_key.as_ref().map(|k| k.expose()), Some(PROVIDER_KEY));

        // A new URL with the key kept is refused (it would deliver the key there); with the key, fine.
        let before = api.fingerprint().await;
        let moved = json!({"api_key": "", "base_url": "http://capture.example:11434"});
        api.json(Method::PATCH, &format!("/api/providers/{id}"), moved)
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "enter the key again");
        api.json(Method::PATCH, &format!("/api/providers/{id}"), json!({"base_url": "http://capture.example:11434"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "URL changed");
        assert_eq!(api.fingerprint().await, before, "nothing changed");
        let moved = json!({"api_key": OTHER_PROVIDER_KEY, "base_url": "http://gpu2:11434"});
        let patched = api.json(Method::PATCH, &format!("/api/providers/{id}"), moved).await;
        patched.expect(StatusCode::OK);
        assert_eq!(patched.json()["base_url"], "http://gpu2:11434");
        let stored = providers::get(api.db(), id).await.expect("get").expect("row");
        assert_eq!(stored.api_key.as_ref().map(|k| k.expose()), Some(OTHER_PROVIDER_KEY));

        // `null` removes it.
        let cleared = api.json(Method::PATCH, &format!("/api/providers/{id}"), json!({"api_key": null})).await;
        assert_eq!(cleared.json()["api_key_set"], false);
        assert!(providers::get(api.db(), id).await.expect("get").expect("row").api_key.is_none());

        let deleted = api.call(Method::DELETE, &format!("/api/providers/{id}")).await;
        deleted.expect(StatusCode::OK);
        assert_eq!(deleted.json()["status"], "deleted");
        api.get(&format!("/api/providers/{id}")).await.expect_error(StatusCode::NOT_FOUND, "no provider");
        assert!(providers::get(api.db(), id).await.expect("get").is_none());
    }

    #[tokio::test]
    async fn forms_work_as_the_python_tool_sent_them() {
        let api = Api::new().await;
        let form = "name=vllm&base_url=https%3A%2F%2Fvllm.lan%2Fv1&type=openai&api_key=sk-provider-OTHER-0004-efgh\
                    &tags=a%2C+b&access_groups=%5B%22x%22%2C%22y%22%5D&sync_enabled=off&sync_interval_seconds=0\
                    &pricing_input_cost_per_token=0.5&pricing_output_cost_per_token=&model_filter=qwen";
        let created = api.form(Method::POST, "/api/providers", form).await;
        created.expect(StatusCode::CREATED);
        let body = created.json();
        assert_eq!(body["type"], "openai");
        assert_eq!(body["tags"], json!(["a", "b"]));
        assert_eq!(body["access_groups"], json!(["x", "y"]), "a JSON list in a form field");
        assert_eq!(body["sync_enabled"], false, "a form's off");
        assert_eq!(body["sync_interval_seconds"], Value::Null, "0 follows the global interval");
        assert_eq!(body["pricing_override"], json!({"input_cost_per_token": 0.5}));
        assert_eq!(body["model_filter"], "qwen");
        let id = body["id"].as_i64().expect("id");
        let stored = providers::get(api.db(), id).await.expect("get").expect("row");
        assert_eq!(stored.api_key.as_ref().map(|k| k.expose()), Some(OTHER_PROVIDER_KEY));

        // The Python tool updated with POST /api/providers/{id} and a form; an empty key keeps it.
        let updated =
            api.form(Method::POST, &format!("/api/providers/{id}"), "api_key=&sync_enabled=true&prefix=v").await;
        updated.expect(StatusCode::OK);
        assert_eq!(updated.json()["sync_enabled"], true);
        assert_eq!(updated.json()["prefix"], "v");
        assert_eq!(updated.json()["api_key_set"], true);
        let cleared = api.form(Method::PATCH, &format!("/api/providers/{id}"), "clear_api_key=on").await;
        assert_eq!(cleared.json()["api_key_set"], false);
    }

    #[tokio::test]
    async fn invalid_providers_are_refused_and_change_nothing() {
        let api = Api::new().await;
        api.provider("existing", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        let before = api.fingerprint().await;
        let with = |patch: Value| {
            let mut body = lab_provider();
            if let (Some(body), Some(patch)) = (body.as_object_mut(), patch.as_object()) {
                for (k, v) in patch {
                    if v.is_null() {
                        body.remove(k);
                    } else {
                        body.insert(k.clone(), v.clone());
                    }
                }
            }
            body
        };
        let cases = [
            (with(json!({"name": null})), StatusCode::UNPROCESSABLE_ENTITY, "name is required"),
            (with(json!({"name": "  "})), StatusCode::UNPROCESSABLE_ENTITY, "name must not be empty"),
            (with(json!({"base_url": "not a url"})), StatusCode::UNPROCESSABLE_ENTITY, "not a URL"),
            (with(json!({"base_url": "ftp://files.lan"})), StatusCode::UNPROCESSABLE_ENTITY, "http:// or https://"),
            (with(json!({"sync_interval_seconds": 29})), StatusCode::UNPROCESSABLE_ENTITY, "at least 30"),
            (with(json!({"sync_interval_seconds": 1})), StatusCode::UNPROCESSABLE_ENTITY, "at least 30"),
            (with(json!({"sync_interval_seconds": -5})), StatusCode::UNPROCESSABLE_ENTITY, "at least 30"),
            (with(json!({"sync_interval_seconds": "soon"})), StatusCode::UNPROCESSABLE_ENTITY, "sync_interval_seconds"),
            (with(json!({"type": "llama"})), StatusCode::UNPROCESSABLE_ENTITY, "unknown provider type"),
            (with(json!({"type": null})), StatusCode::UNPROCESSABLE_ENTITY, "type"),
            (with(json!({"type": "compat"})), StatusCode::UNPROCESSABLE_ENTITY, "compat"),
            (with(json!({"name": COMPAT_PROVIDER_NAME})), StatusCode::UNPROCESSABLE_ENTITY, "reserved"),
            (with(json!({"tags": 5})), StatusCode::UNPROCESSABLE_ENTITY, "tags"),
            (with(json!({"tags": [1, 2]})), StatusCode::UNPROCESSABLE_ENTITY, "tags"),
            (with(json!({"sync_enabled": "maybe"})), StatusCode::UNPROCESSABLE_ENTITY, "sync_enabled"),
            (with(json!({"default_ollama_mode": "chatty"})), StatusCode::UNPROCESSABLE_ENTITY, "Ollama mode"),
            (
                with(json!({"pricing_override": {"input_cost_per_token": -1}})),
                StatusCode::UNPROCESSABLE_ENTITY,
                "negative",
            ),
            (with(json!({"name": "existing"})), StatusCode::CONFLICT, "\"existing\" already exists"),
            (json!([1, 2]), StatusCode::UNPROCESSABLE_ENTITY, "expected"),
        ];
        for (body, status, needle) in cases {
            let reply = api.json(Method::POST, "/api/providers", body.clone()).await;
            assert_eq!(reply.status, status, "{body}: {}", reply.text());
            reply.expect_error(status, needle);
        }
        api.raw(Method::POST, "/api/providers", "application/json", "{\"name\": ")
            .await
            .expect_error(StatusCode::BAD_REQUEST, "malformed JSON");
        api.raw(Method::POST, "/api/providers", "text/plain", "name=x")
            .await
            .expect_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json");
        api.form(Method::POST, "/api/providers", "name=f&base_url=http%3A%2F%2Fh&type=ollama&sync_interval_seconds=10")
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "at least 30");
        assert_eq!(api.fingerprint().await, before, "a refused create wrote something");
    }

    #[tokio::test]
    async fn invalid_updates_are_refused_and_change_nothing() {
        let api = Api::new().await;
        let a = api.provider("a", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        api.provider("b", ProviderType::Openai, None).await;
        let before = api.fingerprint().await;
        let uri = format!("/api/providers/{}", a.id);
        let cases = [
            (json!({"name": "b"}), StatusCode::CONFLICT, "\"b\" already exists"),
            (json!({"sync_interval_seconds": 29}), StatusCode::UNPROCESSABLE_ENTITY, "at least 30"),
            (json!({"base_url": "gopher://x"}), StatusCode::UNPROCESSABLE_ENTITY, "http:// or https://"),
            (json!({"type": "compat"}), StatusCode::UNPROCESSABLE_ENTITY, "compat"),
            (json!({"sync_enabled": [1]}), StatusCode::UNPROCESSABLE_ENTITY, "sync_enabled"),
            (json!({"name": ""}), StatusCode::UNPROCESSABLE_ENTITY, "name must not be empty"),
        ];
        for (body, status, needle) in cases {
            api.json(Method::PATCH, &uri, body).await.expect_error(status, needle);
        }
        api.json(Method::PATCH, "/api/providers/999", json!({"name": "z"}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no provider 999");
        api.json(Method::PATCH, "/api/providers/abc", json!({"name": "z"}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "abc");
        api.call(Method::DELETE, "/api/providers/999").await.expect_error(StatusCode::NOT_FOUND, "no provider 999");
        assert_eq!(api.fingerprint().await, before);
    }

    #[tokio::test]
    async fn the_compat_alias_holder_cannot_be_deleted_or_fetched() {
        let api = Api::new().await;
        let compat = providers::compat_provider(api.db()).await.expect("compat");
        let before = api.fingerprint().await;
        api.call(Method::DELETE, &format!("/api/providers/{}", compat.id))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "compat aliases");
        for action in ["sync-now", "fetch-now", "test"] {
            api.post(&format!("/api/providers/{}/{action}", compat.id))
                .await
                .expect_error(StatusCode::BAD_REQUEST, "compat aliases");
        }
        assert_eq!(api.fingerprint().await, before, "no job queued, nothing deleted");
    }

    #[tokio::test]
    async fn the_sync_flag_takes_json_or_a_form() {
        let api = Api::new().await;
        let p = api.provider("p", ProviderType::Ollama, None).await;
        let uri = format!("/api/providers/{}/sync", p.id);
        let off = api.json(Method::PATCH, &uri, json!({"sync_enabled": false})).await;
        off.expect(StatusCode::OK);
        assert_eq!(off.json(), json!({"status": "updated", "provider_id": p.id, "sync_enabled": false}));
        assert!(!providers::get(api.db(), p.id).await.expect("get").expect("row").sync_enabled);
        api.form(Method::PATCH, &uri, "sync_enabled=true").await.expect(StatusCode::OK);
        assert!(providers::get(api.db(), p.id).await.expect("get").expect("row").sync_enabled);

        let before = api.fingerprint().await;
        api.json(Method::PATCH, &uri, json!({}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "sync_enabled is required");
        api.json(Method::PATCH, &uri, json!({"sync_enabled": "perhaps"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "sync_enabled");
        api.json(Method::PATCH, "/api/providers/404/sync", json!({"sync_enabled": true}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no provider 404");
        assert_eq!(api.fingerprint().await, before);
    }

    #[tokio::test]
    async fn a_providers_models_come_in_the_python_shape() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        api.models(&p, &["llama3.2:3b", "llava:7b", "gone:1b"]).await;
        api.models(&p, &["llama3.2:3b", "llava:7b"]).await; // gone:1b is now orphaned
        let reply = api.get(&format!("/api/providers/{}/models", p.id)).await;
        reply.expect(StatusCode::OK);
        let body = reply.json();
        assert_eq!(body["provider"]["name"], "lab");
        assert_eq!(body["provider"]["api_key_masked"], "••••abcd");
        let ids: Vec<&str> =
            body["models"].as_array().expect("models").iter().filter_map(|m| m["model_id"].as_str()).collect();
        assert_eq!(ids, ["llama3.2:3b", "llava:7b"], "orphans hidden by default, as the Python tool did");
        let all = api.get(&format!("/api/providers/{}/models?include_orphaned=true", p.id)).await.json();
        let orphan = all["models"]
            .as_array()
            .expect("models")
            .iter()
            .find(|m| m["model_id"] == "gone:1b")
            .cloned()
            .expect("orphan listed");
        assert_eq!(orphan["status"], "orphaned");
        assert_eq!(orphan["is_orphaned"], true);
        api.get("/api/providers/77/models").await.expect_error(StatusCode::NOT_FOUND, "no provider 77");
    }

    #[tokio::test]
    async fn oversized_bodies_get_a_json_413_and_change_nothing() {
        let api = Api::new().await;
        let before = api.fingerprint().await;
        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(frontend::app::MAX_BODY_BYTES + 1));
        api.raw(Method::POST, "/api/providers", "application/json", huge)
            .await
            .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too large");
        assert_eq!(api.fingerprint().await, before);
    }
}

mod actions {
    use super::*;

    #[tokio::test]
    async fn every_action_queues_its_job() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        let m = api.models(&p, &["llama3.2:3b"]).await.remove(0);
        snapshot::save(api.db(), &[owned_entry("lu-1", "a"), owned_entry("lu-2", "b")]).await.expect("snapshot");
        let (pid, mid) = (p.id, m.id);
        let cases: Vec<(String, Option<Value>, &str, Value)> = vec![
            (format!("/api/providers/{pid}/sync-now"), None, "sync_provider", json!({"provider_id": pid})),
            (format!("/api/providers/{pid}/fetch-now"), None, "fetch_provider", json!({"provider_id": pid})),
            (format!("/api/providers/{pid}/push"), None, "push_provider", json!({"provider_id": pid})),
            ("/api/providers/sync-all".into(), None, "sync_all", json!({})),
            ("/api/providers/fetch-all".into(), None, "fetch_all", json!({})),
            (format!("/api/providers/{pid}/test"), None, "test_connection", json!({"provider_id": pid})),
            (format!("/api/models/{mid}/refresh"), None, "refresh_model", json!({"model_id": mid})),
            (format!("/api/models/{mid}/push"), None, "push_model", json!({"model_id": mid})),
            ("/api/models/push-all".into(), None, "push_all", json!({})),
            ("/sync".into(), None, "sync_all", json!({})),
            ("/api/plan".into(), None, "plan", json!({"fetch": false})),
            ("/api/plan?fetch=true".into(), None, "plan", json!({"fetch": true})),
            (
                "/litellm/models/delete".into(),
                Some(json!({"id": "lu-1"})),
                "delete_litellm_entries",
                json!({"ids": ["lu-1"]}),
            ),
            (
                "/litellm/models/delete/bulk".into(),
                Some(json!({"ids": ["lu-1", "lu-2", "lu-1"]})),
                "delete_litellm_entries",
                json!({"ids": ["lu-1", "lu-2"]}),
            ),
        ];
        for (uri, body, kind, payload) in cases {
            let reply = match body {
                Some(body) => api.json(Method::POST, &uri, body).await,
                None => api.post(&uri).await,
            };
            let job = queued_job(&api, &reply, kind).await;
            assert_eq!(job.payload.0, payload, "{uri}");
        }
    }

    #[tokio::test]
    async fn actions_on_unknown_or_unsuitable_targets_queue_nothing() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, None).await;
        let target = api.models(&p, &["llama3.2:3b"]).await.remove(0);
        let compat = providers::compat_provider(api.db()).await.expect("compat");
        let alias =
            models::upsert_alias(api.db(), compat.id, "gpt-4o-mini", p.id, &target.model_id).await.expect("alias");
        let before = api.fingerprint().await;
        let cases = [
            ("/api/providers/999/sync-now", StatusCode::NOT_FOUND, "no provider 999"),
            ("/api/providers/999/fetch-now", StatusCode::NOT_FOUND, "no provider 999"),
            ("/api/providers/999/push", StatusCode::NOT_FOUND, "no provider 999"),
            ("/api/providers/999/test", StatusCode::NOT_FOUND, "no provider 999"),
            ("/api/models/999/refresh", StatusCode::NOT_FOUND, "no model 999"),
            ("/api/models/999/push", StatusCode::NOT_FOUND, "no model 999"),
            ("/api/models/x/push", StatusCode::BAD_REQUEST, "x"),
            ("/api/providers/sync-all?wait=121", StatusCode::BAD_REQUEST, "between 0 and 120"),
            ("/api/providers/sync-all?wait=-1", StatusCode::BAD_REQUEST, "between 0 and 120"),
            ("/api/providers/sync-all?wait=soon", StatusCode::BAD_REQUEST, "wait"),
            ("/api/plan?fetch=perhaps", StatusCode::BAD_REQUEST, "fetch"),
        ];
        for (uri, status, needle) in cases {
            api.post(uri).await.expect_error(status, needle);
        }
        api.post(&format!("/api/models/{alias}/refresh")).await.expect_error(StatusCode::BAD_REQUEST, "compat alias");
        assert_eq!(api.fingerprint().await, before);
    }

    #[tokio::test]
    async fn a_plan_is_applied_by_its_job_id_and_only_once_it_finished_with_operations() {
        use shared::job_results::{CycleReport, JobResult, PushReport};
        use shared::jobs::JobRequest;
        let api = Api::new().await;
        let plan_result = |operations: Value| {
            let mut push = PushReport::new(true);
            push.plan.operations = serde_json::from_value(operations).expect("operations");
            let cycle = CycleReport { providers: vec![], push: Some(push), push_error: None, push_skipped: false };
            serde_json::to_value(JobResult::Cycle(cycle)).expect("json")
        };
        let create =
            json!([{"action": "create", "litellm_id": "lu-1", "model_name": "a", "reason": "new", "digest": "d"}]);
        let finished = async |request: JobRequest, result: Option<Value>, error: Option<&str>| {
            let id = jobs::enqueue(api.db(), &request).await.expect("enqueue");
            jobs::claim_next(api.db(), "test-worker").await.expect("claim");
            jobs::finish(api.db(), id, "test-worker", result.as_ref(), error).await.expect("finish");
            id
        };
        let plan = finished(JobRequest::Plan { fetch: false }, Some(plan_result(create.clone())), None).await;
        let empty = finished(JobRequest::Plan { fetch: false }, Some(plan_result(json!([]))), None).await;
        let failed = finished(JobRequest::Plan { fetch: true }, Some(plan_result(create)), Some("lab: timeout")).await;
        let sync = finished(JobRequest::SyncAll, None, None).await;
        let waiting = jobs::enqueue(api.db(), &JobRequest::Plan { fetch: true }).await.expect("enqueue");

        let before = api.fingerprint().await;
        let cases = [
            ("/api/plan/999/apply".to_owned(), StatusCode::NOT_FOUND, "no job 999".to_owned()),
            ("/api/plan/x/apply".to_owned(), StatusCode::BAD_REQUEST, "x".to_owned()),
            (format!("/api/plan/{sync}/apply"), StatusCode::CONFLICT, format!("job {sync} is not a plan")),
            (format!("/api/plan/{waiting}/apply"), StatusCode::CONFLICT, "has not finished yet".to_owned()),
            (format!("/api/plan/{failed}/apply"), StatusCode::CONFLICT, "failed (lab: timeout)".to_owned()),
            (format!("/api/plan/{empty}/apply"), StatusCode::CONFLICT, "nothing to apply".to_owned()),
        ];
        for (uri, status, needle) in cases {
            api.post(&uri).await.expect_error(status, &needle);
        }
        assert_eq!(api.fingerprint().await, before, "a refused apply queues nothing");

        let reply = api.post(&format!("/api/plan/{plan}/apply")).await;
        let job = queued_job(&api, &reply, "apply_plan").await;
        assert_eq!(job.payload.0, json!({"plan_job_id": plan}));
    }

    #[tokio::test]
    async fn an_unsaved_connection_test_never_shows_its_key() {
        let api = Api::new().await;
        let body = json!({"base_url": "http://new.lan:11434", "type": "ollama", "api_key": TEST_KEY});
        let reply = api.json(Method::POST, "/api/providers/test", body).await;
        let job = queued_job(&api, &reply, "test_connection").await;
        assert_eq!(job.payload.0["api_key"], TEST_KEY, "the worker needs it while queued");
        let shown = api.get(&format!("/api/jobs/{}", job.id)).await;
        shown.expect(StatusCode::OK);
        assert!(shown.json()["payload"].get("api_key").is_none());
        assert_eq!(shown.json()["payload"]["base_url"], "http://new.lan:11434");
        let listed = api.get("/api/jobs").await;
        assert!(listed.json()[0]["payload"].get("api_key").is_none());

        let before = api.fingerprint().await;
        api.json(Method::POST, "/api/providers/test", json!({"type": "ollama"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "base_url is required");
        api.json(Method::POST, "/api/providers/test", json!({"base_url": "nope", "type": "ollama"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "not a URL");
        api.json(Method::POST, "/api/providers/test", json!({"base_url": "http://h"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "type is required");
        api.form(Method::POST, "/api/providers/test", "base_url=http%3A%2F%2Fh&type=compat")
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "compat");
        assert_eq!(api.fingerprint().await, before);
    }

    #[tokio::test]
    async fn wait_answers_with_the_finished_job() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, None).await;
        let worker = api.finish_next_job(json!({"providers": [{"name": "lab", "added": 2}]}), None);
        let reply = api.post(&format!("/api/providers/{}/sync-now?wait=10", p.id)).await;
        reply.expect(StatusCode::OK);
        let body = reply.json();
        assert_eq!(body["status"], "done");
        assert_eq!(body["kind"], "sync_provider");
        assert_eq!(body["result"]["providers"][0]["added"], 2);
        assert!(body["finished_at"].is_string());
        let claimed = worker.await.expect("worker");
        assert_eq!(body["job_id"], claimed.id);

        // A failure is a finished job too: 200 with the error.
        let worker = api.finish_next_job(json!({"ok": false}), Some("cannot reach http://ollama.lan:11434"));
        let failed = api.post("/api/providers/fetch-all?wait=10").await;
        failed.expect(StatusCode::OK);
        assert_eq!(failed.json()["status"], "failed");
        assert_eq!(failed.json()["error"], "cannot reach http://ollama.lan:11434");
        worker.await.expect("worker");
    }

    #[tokio::test]
    async fn wait_gives_up_with_a_202_and_the_job_as_it_stands() {
        let api = Api::new().await;
        let started = std::time::Instant::now();
        let reply = api.post("/api/models/push-all?wait=0.4").await;
        assert!(started.elapsed() >= std::time::Duration::from_millis(300), "it waited");
        reply.expect(StatusCode::ACCEPTED);
        let body = reply.json();
        assert_eq!(body["status"], "queued");
        let id = body["job_id"].as_i64().expect("id");
        assert_eq!(body["url"], format!("/api/jobs/{id}"));

        let polled = api.get(&format!("/api/jobs/{id}?wait=0.2")).await;
        polled.expect(StatusCode::ACCEPTED);
        assert_eq!(polled.json()["status"], "queued");
        api.get(&format!("/api/jobs/{id}")).await.expect(StatusCode::OK);

        let worker = api.finish_next_job(json!({"created": 1}), None);
        let finished = api.get(&format!("/api/jobs/{id}?wait=10")).await;
        finished.expect(StatusCode::OK);
        assert_eq!(finished.json()["status"], "done");
        assert_eq!(finished.json()["result"], json!({"created": 1}));
        assert_eq!(finished.json()["summary"], shared::job_results::EARLIER_VERSION, "an old result is shown raw");
        worker.await.expect("worker");

        api.get("/api/jobs/999").await.expect_error(StatusCode::NOT_FOUND, "no job 999");
        api.get(&format!("/api/jobs/{id}?wait=500")).await.expect_error(StatusCode::BAD_REQUEST, "between 0 and 120");
    }

    #[tokio::test]
    async fn recent_jobs_come_newest_first() {
        let api = Api::new().await;
        api.post("/api/providers/sync-all").await.expect(StatusCode::ACCEPTED);
        api.post("/api/models/push-all").await.expect(StatusCode::ACCEPTED);
        let listed = api.get("/api/jobs?limit=1").await.json();
        assert_eq!(listed.as_array().map(Vec::len), Some(1));
        assert_eq!(listed[0]["kind"], "push_all");
        let all = api.get("/api/jobs").await.json();
        let kinds: Vec<&str> = all.as_array().expect("list").iter().filter_map(|j| j["kind"].as_str()).collect();
        assert_eq!(kinds, ["push_all", "sync_all"]);
        api.get("/api/jobs?limit=lots").await.expect_error(StatusCode::BAD_REQUEST, "limit");
    }
}

mod models_api {
    use super::*;

    async fn seeded(api: &Api) -> (shared::provider::Provider, shared::provider::Provider, Vec<shared::model::Model>) {
        let a = api.provider("alpha", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        let b = api.provider("beta", ProviderType::Openai, Some(OTHER_PROVIDER_KEY)).await;
        let mut all = api.models(&a, &["llama3.2:3b", "llava:7b", "qwen3:8b"]).await;
        all.extend(api.models(&b, &["llama-70b"]).await);
        (a, b, all)
    }

    #[tokio::test]
    async fn search_filters_and_pages() {
        let api = Api::new().await;
        let (a, b, all) = seeded(&api).await;
        let page = api.get("/api/models").await;
        page.expect(StatusCode::OK);
        let body = page.json();
        assert_eq!(body["total"], 4);
        assert_eq!(body["page"], 1);
        assert_eq!(body["per_page"], 50);
        assert_eq!(body["items"][0]["provider_name"], "alpha");
        assert_eq!(body["items"][0]["status"], "pending");

        let ids = |body: &Value| -> Vec<String> {
            body["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|m| m["model_id"].as_str().map(str::to_owned))
                .collect()
        };
        assert_eq!(ids(&api.get("/api/models?q=LLAMA").await.json()), ["llama3.2:3b", "llama-70b"]);
        assert_eq!(ids(&api.get(&format!("/api/models?provider_id={}", b.id)).await.json()), ["llama-70b"]);
        assert_eq!(ids(&api.get("/api/models?capability=vision").await.json()), ["llava:7b"]);
        let second = api.get(&format!("/api/models?provider_id={}&per_page=2&page=2", a.id)).await.json();
        assert_eq!(ids(&second), ["qwen3:8b"]);
        assert_eq!(second["total"], 3);

        models::set_overrides(
            api.db(),
            all[2].id,
            &shared::model::Overrides { sync_enabled: Some(false), ..Default::default() },
        )
        .await
        .expect("disable");
        assert_eq!(ids(&api.get("/api/models?status=disabled").await.json()), ["qwen3:8b"]);
        assert_eq!(ids(&api.get("/api/models?status=&q=").await.json()).len(), 4, "empty filters are no filters");

        api.get("/api/models?status=lost").await.expect_error(StatusCode::BAD_REQUEST, "unknown status");
        api.get("/api/models?provider_id=abc").await.expect_error(StatusCode::BAD_REQUEST, "provider_id");
        api.get("/api/models?page=x").await.expect_error(StatusCode::BAD_REQUEST, "page");
    }

    #[tokio::test]
    async fn the_list_sorts_in_natural_order_pages_and_refuses_unknown_keys() {
        let api = Api::new().await;
        let a = api.provider("alpha", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        let b = api.provider("beta", ProviderType::Ollama, None).await;
        api.models(&a, &["m10", "m2", "m1"]).await;
        api.models(&b, &["m3"]).await;
        let ids = |body: Value| -> Vec<String> {
            body["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|m| m["model_id"].as_str().expect("id").to_owned())
                .collect()
        };
        assert_eq!(ids(api.get("/api/models").await.json()), ["m1", "m2", "m10", "m3"], "by provider, then name");
        assert_eq!(ids(api.get("/api/models?sort=name").await.json()), ["m1", "m2", "m3", "m10"]);
        assert_eq!(ids(api.get("/api/models?sort=NAME&dir=desc").await.json()), ["m10", "m3", "m2", "m1"]);
        let second = api.get("/api/models?sort=name&per_page=3&page=2").await.json();
        assert_eq!((second["page"].clone(), second["total"].clone()), (json!(2), json!(4)));
        assert_eq!(ids(second), ["m10"]);

        // Clamped: a page below 1 is the first, a size above the largest is the largest; past the
        // end is an empty page (a client paging until it gets nothing stops).
        let clamped = api.get("/api/models?page=0&per_page=100000").await.json();
        assert_eq!((clamped["page"].clone(), clamped["per_page"].clone()), (json!(1), json!(500)));
        let past = api.get("/api/models?page=99").await.json();
        assert_eq!((past["page"].clone(), past["total"].clone()), (json!(99), json!(4)));
        assert!(past["items"].as_array().expect("items").is_empty());

        api.get("/api/models?sort=size").await.expect_error(StatusCode::BAD_REQUEST, "unknown sort \"size\"");
        api.get("/api/models?sort=name&dir=up").await.expect_error(StatusCode::BAD_REQUEST, "unknown dir");
        api.get("/api/models?sort=&dir=").await.expect(StatusCode::OK);
    }

    #[tokio::test]
    async fn one_model_shows_its_columns_and_status() {
        let api = Api::new().await;
        let (a, _, all) = seeded(&api).await;
        let llava = &all[1];
        let store =
            shared::plan::IdToStore { provider_id: a.id, model_row_id: llava.id, litellm_id: "lu-llava".into() };
        models::store_litellm_ids(api.db(), &[store]).await.expect("store id");
        snapshot::save(api.db(), &[owned_entry("lu-llava", "llava:7b")]).await.expect("snapshot");

        let reply = api.get(&format!("/api/models/{}", llava.id)).await;
        reply.expect(StatusCode::OK);
        let body = reply.json();
        for field in [
            "model_id",
            "provider_id",
            "model_type",
            "context_window",
            "max_input_tokens",
            "max_output_tokens",
            "max_tokens",
            "capabilities",
            "user_params",
            "user_tags",
            "access_groups",
            "pricing_override",
            "ollama_mode",
            "sync_enabled",
            "is_orphaned",
            "orphaned_at",
            "first_seen",
            "last_seen",
            "user_modified",
            "system_tags",
            "litellm_model_id",
            "status",
            "derived_info",
        ] {
            assert!(body.get(field).is_some(), "{field} missing from {body}");
        }
        assert_eq!(body["status"], "synced");
        assert_eq!(body["litellm_model_id"], "lu-llava");
        assert_eq!(body["context_window"], 8192);
        assert_eq!(body["capabilities"], json!(["completion", "vision"]));
        assert_eq!(body["display_name"], "llava:7b");
        api.get("/api/models/999").await.expect_error(StatusCode::NOT_FOUND, "no model 999");
    }

    #[tokio::test]
    async fn overrides_are_set_from_json_or_a_form_and_cleared_with_null() {
        let api = Api::new().await;
        let (_, _, all) = seeded(&api).await;
        let id = all[0].id;
        let uri = format!("/api/models/{id}");
        let body = json!({"user_params": {"temperature": 0.2}, "user_tags": "fast, small", "access_groups": ["team-a"],
                          "pricing_override": {"output_cost_per_token": 0.002}, "ollama_mode": "ollama", "sync_enabled": false});
        let reply = api.json(Method::PATCH, &uri, body).await;
        reply.expect(StatusCode::OK);
        let shown = reply.json();
        assert_eq!(shown["user_params"], json!({"temperature": 0.2}));
        assert_eq!(shown["user_tags"], json!(["fast", "small"]));
        assert_eq!(shown["access_groups"], json!(["team-a"]));
        assert_eq!(shown["pricing_override"], json!({"output_cost_per_token": 0.002}));
        assert_eq!(shown["ollama_mode"], "ollama");
        assert_eq!(shown["sync_enabled"], false);
        assert_eq!(shown["status"], "disabled");
        assert_eq!(shown["user_modified"], true);

        // A form: params as JSON text; an absent field is kept.
        let form = "params=%7B%22top_p%22%3A0.9%7D&tags=&sync_enabled=on";
        let reply = api.form(Method::PATCH, &uri, form).await;
        reply.expect(StatusCode::OK);
        let shown = reply.json();
        assert_eq!(shown["user_params"], json!({"top_p": 0.9}));
        assert_eq!(shown["user_tags"], Value::Null, "an empty field clears");
        assert_eq!(shown["access_groups"], json!(["team-a"]), "absent is kept");
        assert_eq!(shown["sync_enabled"], true);

        let reply = api
            .json(Method::PATCH, &uri, json!({"access_groups": null, "ollama_mode": null, "pricing_override": null}))
            .await;
        let shown = reply.json();
        assert_eq!(shown["access_groups"], Value::Null);
        assert_eq!(shown["ollama_mode"], Value::Null);
        assert_eq!(shown["pricing_override"], Value::Null);
        let stored = api.model(id).await;
        assert!(stored.access_groups.is_none() && stored.ollama_mode.is_none() && stored.pricing_override.is_none());
    }

    #[tokio::test]
    async fn invalid_overrides_are_refused_and_change_nothing() {
        let api = Api::new().await;
        let (_, _, all) = seeded(&api).await;
        let uri = format!("/api/models/{}", all[0].id);
        let before = api.fingerprint().await;
        let cases = [
            (json!({"user_params": [1, 2]}), "user_params"),
            (json!({"user_params": {"api_key": "sk-x"}}), "api_key"),
            (json!({"user_params": {"litellm_params": {"api_key": "sk-x"}}}), "api_key"),
            (json!({"ollama_mode": "turbo"}), "Ollama mode"),
            (json!({"sync_enabled": "sometimes"}), "sync_enabled"),
            (json!({"user_tags": {"a": 1}}), "user_tags"),
            (json!({"pricing_override": {"input_cost_per_token": "cheap"}}), "input_cost_per_token"),
            (json!({"pricing_override": {"input_cost_per_token": -0.1}}), "negative"),
        ];
        for (body, needle) in cases {
            api.json(Method::PATCH, &uri, body).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, needle);
        }
        api.form(Method::PATCH, &uri, "params=%7Bnot+json")
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "params");
        api.json(Method::PATCH, "/api/models/999", json!({"sync_enabled": false}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no model 999");
        assert_eq!(api.fingerprint().await, before);
    }

    #[tokio::test]
    async fn params_are_read_and_replaced_whole() {
        let api = Api::new().await;
        let (_, _, all) = seeded(&api).await;
        let id = all[0].id;
        let uri = format!("/api/models/{id}/params");
        assert_eq!(api.get(&uri).await.json(), json!({}));
        let put = api.json(Method::PUT, &uri, json!({"temperature": 0.5, "max_tokens": 512})).await;
        put.expect(StatusCode::OK);
        assert_eq!(put.json(), json!({"temperature": 0.5, "max_tokens": 512}));
        let put = api.json(Method::PUT, &uri, json!({"top_k": 40})).await;
        assert_eq!(put.json(), json!({"top_k": 40}), "PUT replaces");
        assert_eq!(api.get(&uri).await.json(), json!({"top_k": 40}));

        // The Python tool's POST /params shape.
        let python =
            api.json(Method::POST, &uri, json!({"params": {"seed": 1}, "tags": "x,y", "sync_enabled": "false"})).await;
        python.expect(StatusCode::OK);
        assert_eq!(python.json()["user_params"], json!({"seed": 1}));
        assert_eq!(python.json()["user_tags"], json!(["x", "y"]));
        assert_eq!(python.json()["sync_enabled"], false);

        let before = api.fingerprint().await;
        api.json(Method::PUT, &uri, json!([1])).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "expected");
        api.json(Method::PUT, &uri, json!({"api_key": "sk-nope"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "api_key");
        api.json(Method::PUT, "/api/models/999/params", json!({}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no model 999");
        assert_eq!(api.fingerprint().await, before);

        api.json(Method::PUT, &uri, Value::Null).await.expect(StatusCode::OK);
        assert!(api.model(id).await.user_params.is_none(), "null clears");
    }

    #[tokio::test]
    async fn a_key_in_legacy_params_is_masked() {
        let api = Api::new().await;
        let (_, _, all) = seeded(&api).await;
        // As an adopted Python database may hold it: written behind the API's back.
        api.db()
            .execute_for_tests(
                "UPDATE models SET user_params = $1 WHERE id = $2",
                &shared::binds![json!({"api_key": PARAMS_KEY, "temperature": 1}).to_string(), all[0].id],
            )
            .await;
        let params = api.get(&format!("/api/models/{}/params", all[0].id)).await.json();
        assert_eq!(params, json!({"api_key": "••••mnop", "temperature": 1}));
        let model = api.get(&format!("/api/models/{}", all[0].id)).await.json();
        assert_eq!(model["user_params"]["api_key"], "••••mnop");
    }

    #[tokio::test]
    async fn raw_metadata_is_shown() {
        let api = Api::new().await;
        let (_, _, all) = seeded(&api).await;
        let raw = api.get(&format!("/api/models/{}/raw", all[0].id)).await;
        raw.expect(StatusCode::OK);
        assert_eq!(raw.json()["model_info"]["llama.context_length"], 8192);
        api.get("/api/models/999/raw").await.expect_error(StatusCode::NOT_FOUND, "no model 999");
    }

    #[tokio::test]
    async fn reset_all_needs_confirmation_and_keeps_aliases() {
        let api = Api::new().await;
        let (a, _, all) = seeded(&api).await;
        let compat = providers::compat_provider(api.db()).await.expect("compat");
        models::upsert_alias(api.db(), compat.id, "gpt-4o-mini", a.id, "llama3.2:3b").await.expect("alias");
        models::set_overrides(
            api.db(),
            all[0].id,
            &shared::model::Overrides { user_tags: Some(Some(vec!["t".into()])), ..Default::default() },
        )
        .await
        .expect("override");
        let before = api.fingerprint().await;
        api.post("/api/models/db/reset-all").await.expect_error(StatusCode::BAD_REQUEST, "confirm=true");
        api.json(Method::POST, "/api/models/db/reset-all", json!({"confirm": false}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "confirm");
        api.post("/api/models/db/reset-all?confirm=true&scope=everything")
            .await
            .expect_error(StatusCode::BAD_REQUEST, "unknown scope");
        assert_eq!(api.fingerprint().await, before, "nothing reset without confirmation");

        let cleared =
            api.json(Method::POST, "/api/models/db/reset-all", json!({"confirm": true, "scope": "overrides"})).await;
        cleared.expect(StatusCode::OK);
        assert_eq!(cleared.json()["affected"], 1);
        let kept = api.model(all[0].id).await;
        assert!(kept.user_tags.is_none() && !kept.user_modified, "overrides cleared, model kept");

        let reset = api.post("/api/models/db/reset-all?confirm=true").await;
        reset.expect(StatusCode::OK);
        assert_eq!(reset.json()["scope"], "models");
        assert_eq!(reset.json()["affected"], 4);
        let left = models::list_all(api.db()).await.expect("list");
        assert_eq!(
            left.iter().map(|m| m.model_id.as_str()).collect::<Vec<_>>(),
            ["gpt-4o-mini"],
            "only the alias is left"
        );
    }
}

mod admin_api {
    use super::*;

    #[tokio::test]
    async fn a_litellm_test_of_another_url_needs_its_key_and_never_shows_one() {
        let api = Api::new().await;
        let before = api.fingerprint().await;
        api.json(Method::POST, "/api/admin/litellm/test", json!({}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "no LiteLLM URL to test");
        config::set_litellm(api.db(), Some("http://litellm:4000"), Some(&shared::Secret::new(LITELLM_KEY)))
            .await
            .expect("config");
        let before_refusals = api.fingerprint().await;
        assert_ne!(before, before_refusals);
        // The saved key would go to a server of the requester's choosing: refused, no job made.
        api.json(Method::POST, "/api/admin/litellm/test", json!({"base_url": "http://capture.example:4000"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "enter the key again");
        api.form(Method::POST, "/api/admin/litellm/test", "base_url=http%3A%2F%2Fcapture.example&api_key=")
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "enter the key again");
        api.json(Method::POST, "/api/admin/litellm/test", json!({"base_url": "litellm", "api_key": TEST_KEY}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "not a URL");
        assert_eq!(api.fingerprint().await, before_refusals, "a refused test queues nothing");

        // The saved connection, and another URL with its own key.
        let saved = api.post("/api/admin/litellm/test").await;
        let job = queued_job(&api, &saved, "test_litellm").await;
        assert_eq!(job.payload.0, json!({}), "the saved key is read by the worker, never put in the job");
        let body = json!({"base_url": "http://other:4000/", "api_key": TEST_KEY});
        let typed = api.json(Method::POST, "/api/admin/litellm/test", body).await;
        let job = queued_job(&api, &typed, "test_litellm").await;
        assert_eq!(job.payload.0["base_url"], "http://other:4000");
        assert_eq!(job.payload.0["api_key"], TEST_KEY, "the worker needs it while queued");
        let shown = api.get(&format!("/api/jobs/{}", job.id)).await;
        assert!(shown.json()["payload"].get("api_key").is_none(), "{}", shown.text());
        assert!(api.get("/api/jobs").await.json()[0]["payload"].get("api_key").is_none());
        let page = api.get(&format!("/jobs/{}", job.id)).await;
        assert!(page.text().contains("Test LiteLLM connection to http://other:4000"), "{}", page.text());
    }

    #[tokio::test]
    async fn settings_are_changed_and_the_key_is_write_only() {
        let api = Api::new().await;
        let body = json!({"litellm_base_url": "http://litellm:4000/", "litellm_api_key": LITELLM_KEY,
                          "sync_interval_seconds": 600, "default_pricing": {"input_cost_per_token": 0.1}});
        let reply = api.json(Method::PUT, "/api/admin/config", body).await;
        reply.expect(StatusCode::OK);
        let shown = reply.json();
        assert_eq!(shown["litellm_base_url"], "http://litellm:4000");
        assert_eq!(shown["litellm_api_key_set"], true);
        assert_eq!(shown["litellm_api_key_masked"], "••••wxyz");
        assert!(shown.get("litellm_api_key").is_none());
        assert_eq!(shown["sync_interval_seconds"], 600);
        assert_eq!(shown["default_pricing"], json!({"input_cost_per_token": 0.1}));
        let stored = config::get(api.db()).await.expect("config");
        assert_eq!(stored.litellm_api_key.as_ref().map(|k| k.expose()), Some(LITELLM_KEY));

        // The Python tool's form POST; an empty key keeps it, 0 turns automatic sync off.
        let form = api.form(Method::POST, "/api/admin/config", "litellm_api_key=&sync_interval_seconds=0").await;
        form.expect(StatusCode::OK);
        assert_eq!(form.json()["sync_interval_seconds"], 0);
        assert_eq!(form.json()["litellm_api_key_set"], true);
        assert_eq!(api.get("/api/admin/config").await.json()["litellm_base_url"], "http://litellm:4000");

        let cleared = api
            .json(Method::PATCH, "/api/admin/config", json!({"litellm_api_key": null, "default_pricing": null}))
            .await;
        assert_eq!(cleared.json()["litellm_api_key_set"], false);
        assert_eq!(cleared.json()["default_pricing"], Value::Null);
    }

    #[tokio::test]
    async fn invalid_settings_change_nothing() {
        let api = Api::new().await;
        api.json(
            Method::PUT,
            "/api/admin/config",
            json!({"litellm_base_url": "http://litellm:4000", "litellm_api_key": LITELLM_KEY}),
        )
        .await
        .expect(StatusCode::OK);
        let before = api.fingerprint().await;
        for seconds in [1, 29, -30] {
            let body = json!({"sync_interval_seconds": seconds, "litellm_base_url": "http://elsewhere:4000"});
            api.json(Method::PUT, "/api/admin/config", body)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "at least 30");
        }
        let cases = [
            (json!({"litellm_base_url": "litellm:4000"}), "litellm_base_url"),
            (json!({"sync_interval_seconds": "often"}), "sync_interval_seconds"),
            (json!({"default_pricing": {"input_cost_per_token": -2}}), "negative"),
            (json!({"litellm_api_key": 1234}), "litellm_api_key"),
        ];
        for (body, needle) in cases {
            api.json(Method::PUT, "/api/admin/config", body)
                .await
                .expect_error(StatusCode::UNPROCESSABLE_ENTITY, needle);
        }
        api.form(Method::POST, "/api/admin/config", "sync_interval_seconds=15&litellm_base_url=http%3A%2F%2Fx")
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "at least 30");
        assert_eq!(api.fingerprint().await, before);
    }
}

mod compat_api {
    use super::*;

    #[tokio::test]
    async fn aliases_are_added_changed_and_removed() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        api.models(&p, &["llama3.2:3b", "qwen3:8b"]).await;
        assert_eq!(api.get("/api/compat/models").await.json(), json!([]));

        let created = api
            .json(Method::POST, "/api/compat/models", json!({"model_name": "gpt-4o-mini", "mapped_provider_id": p.id,
                                                               "mapped_model_id": "llama3.2:3b", "access_groups": "compat"}))
            .await;
        created.expect(StatusCode::CREATED);
        let alias = created.json();
        assert_eq!(alias["model_name"], "gpt-4o-mini");
        assert_eq!(alias["mapped_provider"]["name"], "lab");
        assert_eq!(alias["target_available"], true);
        assert_eq!(alias["access_groups"], json!(["compat"]));
        let id = alias["id"].as_i64().expect("id");

        let form = format!("model_name=gpt-3.5-turbo&mapped_provider_id={}&mapped_model_id=qwen3%3A8b", p.id);
        api.form(Method::POST, "/api/compat/models", &form).await.expect(StatusCode::CREATED);
        assert_eq!(api.get("/api/compat/models").await.json().as_array().map(Vec::len), Some(2));

        let patched = api
            .json(
                Method::PATCH,
                &format!("/api/compat/models/{id}"),
                json!({"model_name": "gpt-4o", "mapped_model_id": "qwen3:8b"}),
            )
            .await;
        patched.expect(StatusCode::OK);
        assert_eq!(patched.json()["model_name"], "gpt-4o");
        assert_eq!(patched.json()["mapped_model_id"], "qwen3:8b");
        assert_eq!(patched.json()["access_groups"], json!(["compat"]), "absent fields kept");

        api.call(Method::DELETE, &format!("/api/compat/models/{id}")).await.expect(StatusCode::OK);
        let left = api.get("/api/compat/models").await.json();
        assert_eq!(left.as_array().map(Vec::len), Some(1));
        api.call(Method::DELETE, &format!("/api/compat/models/{id}"))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no compat alias");
    }

    #[tokio::test]
    async fn an_alias_needs_an_existing_target_and_a_free_name() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, None).await;
        let real = api.models(&p, &["llama3.2:3b"]).await.remove(0);
        let taken = api
            .json(
                Method::POST,
                "/api/compat/models",
                json!({"alias": "gpt-4o", "provider_id": p.id, "model_id": "llama3.2:3b"}),
            )
            .await;
        taken.expect(StatusCode::CREATED);
        let other = api
            .json(
                Method::POST,
                "/api/compat/models",
                json!({"alias": "o1", "provider_id": p.id, "model_id": "llama3.2:3b"}),
            )
            .await
            .json();
        let before = api.fingerprint().await;
        let cases = [
            (
                json!({"model_name": "x", "mapped_provider_id": 999, "mapped_model_id": "llama3.2:3b"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "provider 999 does not exist",
            ),
            (
                json!({"model_name": "x", "mapped_provider_id": p.id, "mapped_model_id": "nope:1b"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "has no model",
            ),
            (
                json!({"model_name": "x", "mapped_model_id": "llama3.2:3b"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "mapped_provider_id is required",
            ),
            (
                json!({"model_name": "", "mapped_provider_id": p.id, "mapped_model_id": "llama3.2:3b"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "must not be empty",
            ),
            (
                json!({"model_name": "gpt-4o", "mapped_provider_id": p.id, "mapped_model_id": "llama3.2:3b"}),
                StatusCode::CONFLICT,
                "already exists",
            ),
            (
                json!({"model_name": "x", "mapped_provider_id": "one", "mapped_model_id": "m"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "mapped_provider_id",
            ),
        ];
        for (body, status, needle) in cases {
            api.json(Method::POST, "/api/compat/models", body).await.expect_error(status, needle);
        }
        let uri = format!("/api/compat/models/{}", other["id"]);
        api.json(Method::PATCH, &uri, json!({"model_name": "gpt-4o"}))
            .await
            .expect_error(StatusCode::CONFLICT, "already exists");
        api.json(Method::PUT, &uri, json!({"mapped_model_id": "gone"}))
            .await
            .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "has no model");
        api.json(Method::PATCH, &format!("/api/compat/models/{}", real.id), json!({"model_name": "z"}))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no compat alias");
        api.call(Method::DELETE, &format!("/api/compat/models/{}", real.id))
            .await
            .expect_error(StatusCode::NOT_FOUND, "no compat alias");
        assert_eq!(api.fingerprint().await, before);
    }

    #[tokio::test]
    async fn defaults_register_only_where_a_target_exists() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, None).await;
        api.models(&p, &["llama3.2:3b", "nomic-embed-text:latest"]).await;
        let reply = api.post("/api/compat/register-defaults").await;
        reply.expect(StatusCode::OK);
        let body = reply.json();
        let aliases: Vec<&str> =
            body["registered"].as_array().expect("list").iter().filter_map(|r| r["alias"].as_str()).collect();
        assert!(aliases.contains(&"gpt-4o-mini") && aliases.contains(&"text-embedding-3-small"), "{body}");
        assert!(!aliases.contains(&"o1"), "no target for o1");
        assert_eq!(body["created"], aliases.len());
        let again = api.post("/api/compat/register-defaults").await.json();
        assert_eq!(again["created"], 0, "existing aliases are left alone");
        assert!(jobs::recent(api.db(), 10).await.expect("jobs").is_empty(), "the database only, no job");
    }
}

mod litellm_api {
    use super::*;

    #[tokio::test]
    async fn the_snapshot_is_shown_with_ownership() {
        let api = Api::new().await;
        let empty = api.get("/litellm/models").await;
        empty.expect(StatusCode::OK);
        assert_eq!(empty.json(), json!({"taken_at": null, "total": 0, "owned": 0, "models": []}));

        snapshot::save(
            api.db(),
            &[owned_entry("lu-1", "llama3.2:3b"), foreign_entry("f-1", "gpt-4o"), config_entry("c-1", "cfg")],
        )
        .await
        .expect("snapshot");
        let body = api.get("/litellm/models").await.json();
        assert!(body["taken_at"].is_string());
        assert_eq!(body["total"], 3);
        assert_eq!(body["owned"], 1);
        let first = &body["models"][0];
        assert_eq!(first["id"], "lu-1");
        assert_eq!(first["owned"], true);
        assert_eq!(first["model_name"], "llama3.2:3b", "LiteLLM's own fields are kept");
        assert_eq!(first["litellm_params"]["api_key"], "••••ijkl", "keys in the snapshot are masked");
        assert_eq!(body["models"][1]["owned"], false);
        assert_eq!(body["models"][2]["owned"], false);
    }

    #[tokio::test]
    async fn entries_not_owned_are_refused_by_name() {
        let api = Api::new().await;
        snapshot::save(api.db(), &[owned_entry("lu-1", "a"), foreign_entry("f-1", "b"), config_entry("c-1", "c")])
            .await
            .expect("snapshot");
        let refused =
            api.json(Method::POST, "/litellm/models/delete/bulk", json!({"ids": ["lu-1", "f-1", "c-1"]})).await;
        refused.expect_error(StatusCode::FORBIDDEN, "not owned");
        let detail = refused.detail();
        assert!(detail.contains("f-1") && detail.contains("c-1") && !detail.contains("lu-1"), "{detail}");
        api.json(Method::POST, "/litellm/models/delete", json!({"id": "f-1"}))
            .await
            .expect_error(StatusCode::FORBIDDEN, "f-1");
        api.json(Method::POST, "/litellm/models/delete", json!({}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "at least one");
        api.json(Method::POST, "/litellm/models/delete/bulk", json!({"ids": []}))
            .await
            .expect_error(StatusCode::BAD_REQUEST, "at least one");
        api.json(Method::POST, "/litellm/models/delete/bulk", json!({"ids": "lu-1"}))
            .await
            .expect(StatusCode::ACCEPTED);
        assert_eq!(api.jobs().await.len(), 1, "only the accepted request queued a job");
    }

    #[tokio::test]
    async fn the_python_tools_field_names_work() {
        let api = Api::new().await;
        snapshot::save(api.db(), &[owned_entry("lu-1", "a"), owned_entry("lu-2", "b")]).await.expect("snapshot");
        let one = api.form(Method::POST, "/litellm/models/delete", "model_id=lu-1").await;
        assert_eq!(queued_job(&api, &one, "delete_litellm_entries").await.payload.0, json!({"ids": ["lu-1"]}));
        let many = api.form(Method::POST, "/litellm/models/delete/bulk", "model_ids=lu-1&model_ids=lu-2").await;
        assert_eq!(queued_job(&api, &many, "delete_litellm_entries").await.payload.0, json!({"ids": ["lu-1", "lu-2"]}));
        let json_many = api.json(Method::POST, "/litellm/models/delete/bulk", json!({"model_ids": ["lu-2"]})).await;
        assert_eq!(queued_job(&api, &json_many, "delete_litellm_entries").await.payload.0, json!({"ids": ["lu-2"]}));
    }
}

mod status_api {
    use super::*;

    #[tokio::test]
    async fn diagnostics_tell_worker_schema_counts_queue_and_runs() {
        let api = Api::new().await;
        let offline = api.get("/api/diagnostics").await;
        offline.expect(StatusCode::OK);
        let body = offline.json();
        assert_eq!(body["worker"]["online"], false);
        assert_eq!(body["worker"]["state"], "never seen");
        assert_eq!(body["schema"]["current"], true);
        assert_eq!(body["queue_depth"], 0);
        assert_eq!(body["litellm_configured"], false);

        let p = api.provider("lab", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        api.provider("off", ProviderType::Openai, None).await;
        providers::set_sync_enabled(api.db(), p.id + 1, false).await.expect("disable");
        api.models(&p, &["a:1b", "b:1b"]).await;
        run(&api, &p, RunStatus::Warning, Some("upstream answered with no models")).await;
        beat(&api, "idle").await;
        api.post("/api/providers/sync-all").await.expect(StatusCode::ACCEPTED);
        config::set_litellm(api.db(), Some("http://litellm:4000"), Some(&shared::Secret::new(LITELLM_KEY)))
            .await
            .expect("config");

        let body = api.get("/api/diagnostics").await.json();
        assert_eq!(body["worker"]["online"], true);
        assert_eq!(body["worker"]["host"], "worker-host");
        assert_eq!(body["models"]["total"], 2);
        assert_eq!(body["models"]["pending"], 2);
        assert_eq!(body["providers"], json!({"total": 2, "sync_enabled": 1}));
        assert_eq!(body["queue_depth"], 1);
        assert_eq!(body["litellm_configured"], true);
        assert_eq!(body["last_runs"][0]["provider_name"], "lab");
        assert_eq!(body["last_runs"][0]["status"], "warning");
        assert_eq!(body["last_runs"][0]["message"], "upstream answered with no models");
        assert_eq!(api.get("/api/providers").await.json()[0]["last_sync"]["status"], "warning");

        beat(&api, "stopped").await;
        assert_eq!(api.get("/api/diagnostics").await.json()["worker"]["online"], false, "a stopped worker is offline");
    }

    #[tokio::test]
    async fn sync_history_pages_newest_first() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, None).await;
        let ids = [
            run(&api, &p, RunStatus::Ok, None).await,
            run(&api, &p, RunStatus::Failed, Some("connection refused")).await,
            run(&api, &p, RunStatus::Ok, None).await,
        ];
        let first = api.get("/api/sync-runs?per_page=2").await.json();
        assert_eq!(first["total"], 3);
        assert_eq!(first["items"][0]["id"], ids[2]);
        assert_eq!(first["items"][1]["message"], "connection refused");
        let second = api.get("/api/sync-runs?per_page=2&page=2").await.json();
        assert_eq!(second["page"], 2);
        assert_eq!(second["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(second["items"][0]["id"], ids[0]);
        api.get("/api/sync-runs?page=two").await.expect_error(StatusCode::BAD_REQUEST, "page");
    }

    #[tokio::test]
    async fn a_finished_job_answers_its_one_line_summary() {
        use shared::job_results::{ConnectionReport, JobResult};
        let api = Api::new().await;
        let result = JobResult::TestConnection(ConnectionReport { ok: true, models: 2, sample: vec!["a".into()] });
        let worker = api.finish_next_job(serde_json::to_value(&result).expect("json"), None);
        let reply = api
            .json(Method::POST, "/api/providers/test", json!({"base_url": "http://h:11434", "type": "ollama"}))
            .await;
        worker.await.expect("worker");
        let id = reply.json()["job_id"].as_i64().expect("job id");
        let finished = api.get(&format!("/api/jobs/{id}?wait=10")).await;
        finished.expect(StatusCode::OK);
        assert_eq!(finished.json()["summary"], result.summary());
        assert_eq!(finished.json()["summary"], "Connection ok: 2 models listed. a");
    }

    #[tokio::test]
    async fn the_latest_plan_is_served_once_one_ran() {
        let api = Api::new().await;
        api.get("/api/plan").await.expect_error(StatusCode::NOT_FOUND, "no plan yet");
        let plan = json!({"push": {"dry_run": true, "plan": {"operations": [{"action": "create", "model_name": "a", "reason": "new"}]}}});
        let worker = api.finish_next_job(plan.clone(), None);
        let reply = api.post("/api/plan?wait=10").await;
        reply.expect(StatusCode::OK);
        worker.await.expect("worker");
        let latest = api.get("/api/plan").await;
        latest.expect(StatusCode::OK);
        assert_eq!(latest.json()["result"], plan);
        assert_eq!(latest.json()["status"], "done");
        assert_eq!(latest.json()["job_id"], reply.json()["job_id"]);
    }

    #[tokio::test]
    async fn metrics_are_prometheus_text() {
        let api = Api::new().await;
        let p = api.provider("lab \"one\"", ProviderType::Ollama, None).await;
        api.models(&p, &["a:1b", "b:1b", "c:1b"]).await;
        api.models(&p, &["a:1b", "b:1b"]).await;
        run(&api, &p, RunStatus::Failed, Some("boom")).await;
        api.post("/api/providers/sync-all").await.expect(StatusCode::ACCEPTED);

        let reply = api.get("/metrics").await;
        reply.expect(StatusCode::OK);
        let content_type = reply.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
        let text = reply.text();
        for line in [
            "# TYPE litellm_updater_models gauge",
            "litellm_updater_models{state=\"pending\"} 2",
            "litellm_updater_models{state=\"orphaned\"} 1",
            "litellm_updater_models{state=\"synced\"} 0",
            "litellm_updater_provider_last_sync_status{provider=\"lab \\\"one\\\"\",status=\"failed\"} 1",
            "litellm_updater_provider_last_sync_status{provider=\"lab \\\"one\\\"\",status=\"ok\"} 0",
            "litellm_updater_job_queue_depth 1",
            "litellm_updater_worker_online 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        let age = text.lines().find(|l| l.starts_with("litellm_updater_provider_sync_age_seconds{")).expect("sync age");
        let seconds: f64 = age.rsplit(' ').next().and_then(|v| v.parse().ok()).expect("a number");
        assert!((0.0..60.0).contains(&seconds), "{age}");
        assert!(!text.contains("worker_heartbeat_age_seconds "), "no heartbeat yet, no age");

        beat(&api, "idle").await;
        let text = api.get("/metrics").await.text();
        assert!(text.lines().any(|l| l == "litellm_updater_worker_online 1"));
        assert!(text.lines().any(|l| l.starts_with("litellm_updater_worker_heartbeat_age_seconds ")));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap_or("");
            assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
        }
    }

    /// One model in each status: the listing's filter, the detail it shows, the Overview, the
    /// diagnostics and `/metrics` all say the same.
    #[tokio::test]
    async fn the_status_filter_the_overview_and_the_metrics_agree() {
        use shared::db::models::ModelStatus;
        use shared::status::{STILL_IN_LITELLM, SyncState};
        let api = Api::new().await;
        let p = api.provider("alpha", ProviderType::Ollama, None).await;
        let names = ["m-sync", "m-pend", "m-err", "m-orph", "m-dis", "m-excl"];
        let all = api.models(&p, &names).await;
        let id_of = |name: &str| all[names.iter().position(|n| *n == name).expect("arranged")].id;
        let keep: Vec<String> = names.iter().filter(|n| **n != "m-orph").map(|n| (*n).to_owned()).collect();
        models::record_fetch(api.db(), p.id, &[], &keep).await.expect("orphan m-orph");
        let ids: Vec<shared::plan::IdToStore> = ["m-sync", "m-err", "m-dis", "m-excl", "m-orph"]
            .iter()
            .map(|n| shared::plan::IdToStore {
                provider_id: p.id,
                model_row_id: id_of(n),
                litellm_id: format!("lu-{n}"),
            })
            .collect();
        models::store_litellm_ids(api.db(), &ids).await.expect("store ids");
        let entries: Vec<Value> =
            ["m-sync", "m-err", "m-dis", "m-excl"].iter().map(|n| owned_entry(&format!("lu-{n}"), n)).collect();
        snapshot::save(api.db(), &entries).await.expect("snapshot");
        let states = [
            (id_of("m-sync"), SyncState::InSync, None),
            (id_of("m-err"), SyncState::Error, Some("LiteLLM answered HTTP 500: boom".to_owned())),
        ];
        models::record_sync_states(api.db(), &states).await.expect("sync states");
        let disable = shared::model::Overrides { sync_enabled: Some(false), ..Default::default() };
        assert!(models::set_overrides(api.db(), id_of("m-dis"), &disable).await.expect("disable"));
        providers::set_filters(api.db(), p.id, None, Some("excl")).await.expect("filter");

        let excluded = "excluded by alpha's exclude filter term \"excl\"";
        let expected: [(ModelStatus, &str, Option<String>); 6] = [
            (ModelStatus::Synced, "m-sync", None),
            (ModelStatus::Pending, "m-pend", Some("not in LiteLLM yet".into())),
            (ModelStatus::Error, "m-err", Some("LiteLLM answered HTTP 500: boom".into())),
            (ModelStatus::Orphaned, "m-orph", Some("the provider no longer lists it".into())),
            (ModelStatus::Disabled, "m-dis", Some(STILL_IN_LITELLM.into())),
            (ModelStatus::Excluded, "m-excl", Some(format!("{excluded}; {STILL_IN_LITELLM}"))),
        ];
        let metrics = api.get("/metrics").await.text();
        let diagnostics = api.get("/api/diagnostics").await.json();
        let overview = api.get("/").await.text();
        for (status, name, detail) in expected {
            let listed = api.get(&format!("/api/models?status={}", status.as_str())).await.json();
            let items = listed["items"].as_array().expect("items");
            let found: Vec<(&str, Value)> = items
                .iter()
                .map(|m| (m["model_id"].as_str().unwrap_or_default(), m["status_detail"].clone()))
                .collect();
            assert_eq!(found, vec![(name, json!(detail))], "{status:?}");
            assert_eq!(items[0]["status"], status.as_str());
            let one = api.get(&format!("/api/models/{}", id_of(name))).await.json();
            assert_eq!((one["status"].clone(), one["status_detail"].clone()), (json!(status.as_str()), json!(detail)));

            let sample = format!("litellm_updater_models{{state=\"{}\"}} 1", status.as_str());
            assert!(metrics.lines().any(|l| l == sample), "missing {sample:?} in\n{metrics}");
            assert_eq!(diagnostics["models"][status.as_str()], 1, "{status:?}: {diagnostics}");
            let link = format!("<a href=\"/models?status={}\"><strong>1</strong>", status.as_str());
            assert!(overview.contains(&link), "missing {link:?} in the Overview:\n{overview}");
        }
        assert_eq!(diagnostics["models"]["total"], 6);
        api.get("/api/models?status=still_in_litellm").await.expect_error(StatusCode::BAD_REQUEST, "unknown status");
    }
}

mod document {
    use super::*;

    /// The document's path with ids that exist (`{id}` → a real row where one is needed).
    fn concrete(path: &str) -> String {
        path.replace("{id}", "1")
    }

    #[tokio::test]
    async fn the_openapi_document_lists_every_route_and_every_listed_route_is_served() {
        let api = Api::new().await;
        let reply = api.get("/api/openapi.json").await;
        reply.expect(StatusCode::OK);
        let doc = reply.json();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", doc["openapi"]);
        let paths = doc["paths"].as_object().expect("paths");
        let expected = [
            ("get", "/api/providers"),
            ("post", "/api/providers"),
            ("get", "/api/providers/{id}"),
            ("patch", "/api/providers/{id}"),
            ("delete", "/api/providers/{id}"),
            ("get", "/api/providers/{id}/models"),
            ("patch", "/api/providers/{id}/sync"),
            ("post", "/api/providers/{id}/sync-now"),
            ("post", "/api/providers/{id}/fetch-now"),
            ("post", "/api/providers/{id}/push"),
            ("post", "/api/providers/sync-all"),
            ("post", "/api/providers/fetch-all"),
            ("post", "/api/providers/{id}/test"),
            ("post", "/api/providers/test"),
            ("get", "/api/models"),
            ("get", "/api/models/{id}"),
            ("patch", "/api/models/{id}"),
            ("get", "/api/models/{id}/params"),
            ("put", "/api/models/{id}/params"),
            ("post", "/api/models/{id}/refresh"),
            ("post", "/api/models/{id}/push"),
            ("post", "/api/models/push-all"),
            ("post", "/api/models/db/reset-all"),
            ("get", "/api/models/{id}/raw"),
            ("get", "/api/admin/config"),
            ("put", "/api/admin/config"),
            ("post", "/api/admin/litellm/test"),
            ("get", "/api/compat/models"),
            ("post", "/api/compat/models"),
            ("patch", "/api/compat/models/{id}"),
            ("delete", "/api/compat/models/{id}"),
            ("post", "/api/compat/register-defaults"),
            ("get", "/litellm/models"),
            ("post", "/litellm/models/delete"),
            ("post", "/litellm/models/delete/bulk"),
            ("post", "/sync"),
            ("get", "/api/jobs/{id}"),
            ("get", "/api/jobs"),
            ("get", "/api/diagnostics"),
            ("get", "/api/sync-runs"),
            ("post", "/api/plan"),
            ("get", "/api/plan"),
            ("post", "/api/plan/{job_id}/apply"),
            ("get", "/api/openapi.json"),
            ("get", "/metrics"),
        ];
        for (method, path) in expected {
            assert!(paths.get(path).and_then(|p| p.get(method)).is_some(), "{method} {path} missing from the document");
        }

        let mut operation_ids = std::collections::HashSet::new();
        for item in paths.values() {
            for operation in item.as_object().expect("path item").values() {
                let id = operation["operationId"].as_str().expect("operationId").to_owned();
                assert!(operation_ids.insert(id.clone()), "operationId {id} is not unique");
            }
        }

        // And every operation the document lists is routed: neither axum's empty 404 nor a 405.
        let p = api.provider("lab", ProviderType::Ollama, None).await;
        api.models(&p, &["m:1b"]).await;
        for (path, item) in paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_none() {
                    continue;
                }
                let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
                let reply = api.json(method.clone(), &concrete(path), json!({})).await;
                assert_ne!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                if reply.status == StatusCode::NOT_FOUND {
                    let detail = reply.detail();
                    assert!(!detail.contains("no such API route"), "{method} {path} is not routed");
                }
                assert!(!reply.status.is_server_error(), "{method} {path}: {}", reply.text());
            }
        }
    }

    #[tokio::test]
    async fn unknown_api_routes_and_methods_answer_json() {
        let api = Api::new().await;
        api.get("/api/nothing/here").await.expect_error(StatusCode::NOT_FOUND, "no such API route");
        api.call(Method::DELETE, "/api/models")
            .await
            .expect_error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
}

mod security {
    use super::*;

    fn with_bearer(method: Method, uri: &str, token: &str) -> axum::http::Request<Body> {
        Api::request(method, uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    }

    #[tokio::test]
    async fn with_an_admin_token_the_api_needs_it_and_health_does_not() {
        let api = Api::with_token(Some(TOKEN)).await;
        for (method, uri) in [
            (Method::GET, "/api/providers"),
            (Method::GET, "/api/diagnostics"),
            (Method::GET, "/litellm/models"),
            (Method::GET, "/metrics"),
            (Method::GET, "/api/openapi.json"),
            (Method::POST, "/sync"),
            (Method::POST, "/api/providers/sync-all"),
        ] {
            let reply = api.call(method.clone(), uri).await;
            reply.expect_error(StatusCode::UNAUTHORIZED, "authentication required");
            assert_eq!(
                reply.headers.get(header::WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "{uri}"
            );
            let wrong = api.send(with_bearer(method.clone(), uri, "not-the-token")).await;
            assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{method} {uri} with a wrong token");
        }
        assert!(api.jobs().await.is_empty(), "refused requests queued nothing");

        api.send(with_bearer(Method::GET, "/api/providers", TOKEN)).await.expect(StatusCode::OK);
        api.send(with_bearer(Method::GET, "/metrics", TOKEN)).await.expect(StatusCode::OK);
        api.send(with_bearer(Method::POST, "/api/providers/sync-all", TOKEN)).await.expect(StatusCode::ACCEPTED);
        api.get("/health").await.expect(StatusCode::OK);
    }

    #[tokio::test]
    async fn cross_site_writes_are_refused() {
        let api = Api::new().await;
        let evil = Api::request(Method::POST, "/api/providers/sync-all")
            .header(header::ORIGIN, "http://evil.example")
            .body(Body::empty())
            .expect("request");
        api.send(evil).await.expect_error(StatusCode::FORBIDDEN, "cross-site");
        let fetch_site = Api::request(Method::POST, "/api/providers")
            .header("sec-fetch-site", "cross-site")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(lab_provider().to_string()))
            .expect("request");
        api.send(fetch_site).await.expect_error(StatusCode::FORBIDDEN, "cross-site");
        assert!(api.jobs().await.is_empty());
        assert!(providers::list(api.db()).await.expect("list").is_empty());

        let same = Api::request(Method::POST, "/api/providers/sync-all")
            .header(header::ORIGIN, "http://127.0.0.1:8000")
            .body(Body::empty())
            .expect("request");
        api.send(same).await.expect(StatusCode::ACCEPTED);
    }

    /// Every GET route with keys stored everywhere a key can be: `support` checks each answer.
    #[tokio::test]
    async fn no_answer_contains_a_key() {
        let api = Api::new().await;
        let p = api.provider("lab", ProviderType::Ollama, Some(PROVIDER_KEY)).await;
        api.provider("hosted", ProviderType::Openai, Some(OTHER_PROVIDER_KEY)).await;
        let m = api.models(&p, &["llama3.2:3b"]).await.remove(0);
        config::set_litellm(api.db(), Some("http://litellm:4000"), Some(&shared::Secret::new(LITELLM_KEY)))
            .await
            .expect("config");
        snapshot::save(api.db(), &[owned_entry("lu-1", "llama3.2:3b")]).await.expect("snapshot");
        api.json(
            Method::POST,
            "/api/providers/test",
            json!({"base_url": "http://x:1", "type": "openai", "api_key": TEST_KEY}),
        )
        .await
        .expect(StatusCode::ACCEPTED);
        // A job result that echoes a key (it must be masked when shown).
        let worker = api.finish_next_job(json!({"request": {"api_key": TEST_KEY}}), None);
        worker.await.expect("worker");
        models::set_overrides(
            api.db(),
            m.id,
            &shared::model::Overrides { user_tags: Some(Some(vec!["t".into()])), ..Default::default() },
        )
        .await
        .expect("override");

        let doc = api.get("/api/openapi.json").await.json();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            if item.get("get").is_some() {
                let uri = path.replace("{id}", &if path.starts_with("/api/models") { m.id } else { 1 }.to_string());
                api.get(&uri).await; // `support` asserts no key is in it
                checked += 1;
            }
        }
        assert!(checked >= 15, "only {checked} GET routes checked");
        for uri in ["/api/providers/1/models?include_orphaned=true", "/api/jobs/1", "/api/jobs"] {
            let reply = api.get(uri).await;
            reply.expect(StatusCode::OK);
        }
        let job = api.get("/api/jobs/1").await.json();
        assert_eq!(job["result"]["request"]["api_key"], "••••qrst");
    }
}

#[tokio::test]
async fn provider_presets_list_hosted_apis_ready_to_add() {
    let api = Api::new().await;
    let reply = api.get("/api/provider-presets").await;
    assert_eq!(reply.status, StatusCode::OK);
    let presets = reply.json();
    let presets = presets.as_array().expect("a list");
    assert_eq!(presets.len(), 11);
    let by_id = |id: &str| presets.iter().find(|p| p["id"] == id).cloned().unwrap_or(Value::Null);
    assert_eq!(by_id("groq")["base_url"], "https://api.groq.com/openai/v1", "stored exactly as given");
    assert_eq!(by_id("openrouter")["model_filter"], ":free");
    assert_eq!(
        (by_id("ollama-cloud")["type"].clone(), by_id("ollama-cloud")["key_required"].clone()),
        (json!("ollama"), json!(true))
    );

    // A preset is what POST /api/providers takes, and its URL is kept as it is.
    let gemini = by_id("gemini");
    let body = json!({"name": "gemini", "type": gemini["type"], "base_url": gemini["base_url"], "api_key": "AIza-test-key-0000",
                      "sync_interval_seconds": gemini["sync_interval_seconds"]});
    let created = api.json(Method::POST, "/api/providers", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["base_url"], "https://generativelanguage.googleapis.com/v1beta/openai");
    let documented = api.get("/api/openapi.json").await.json();
    assert!(documented["paths"]["/api/provider-presets"]["get"].is_object());
}

#[tokio::test]
async fn health_fails_once_the_database_file_is_deleted_or_replaced() {
    let api = Api::sqlite().await;
    api.get("/health").await.expect(StatusCode::OK);
    let path = api.state.db.path().expect("a SQLite file").to_path_buf();
    let copy = path.with_extension("copy");
    std::fs::copy(&path, &copy).expect("copy");
    std::fs::remove_file(&path).expect("delete");
    let reply = api.get("/health").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains("was deleted while in use"), "{}", reply.text());
    std::fs::rename(&copy, &path).expect("replace");
    let reply = api.get("/health").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.text().contains("replaced by another file"), "{}", reply.text());
}
