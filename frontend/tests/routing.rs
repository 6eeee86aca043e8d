//! Routing groups, fallbacks, pricing profiles, provider and model pricing, effective prices and
//! the migration report, through the REST API and the pages, in-process against a real SQLite
//! file. `support` fails any test whose answers leak a key.

mod support;

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use shared::db::routing;
use shared::types::ProviderType;
use support::Api;

async fn lab(api: &Api) -> shared::provider::Provider {
    let lab = api.provider("lab", ProviderType::Ollama, None).await;
    api.models(&lab, &["llama3:8b", "llava:7b", "qwen:7b"]).await;
    lab
}

fn group_body(lab_id: i64) -> Value {
    json!({
        "name": "pool",
        "capabilities": ["vision"],
        "auto_context_fallback": true,
        "targets": [
            {"provider_id": lab_id, "model_id": "llava:7b", "weight": 3, "priority": 1},
            {"provider_id": lab_id, "model_id": "llama3:8b", "priority": 2, "enabled": false},
            {"provider_id": lab_id, "model_id": "gone:1b"}
        ]
    })
}

#[tokio::test]
async fn routing_groups_round_trip_through_the_api() {
    let api = Api::new().await;
    let lab = lab(&api).await;
    let created = api.json(Method::POST, "/api/routing-groups", group_body(lab.id)).await;
    created.expect(StatusCode::CREATED);
    let body = created.json();
    let id = body["id"].as_i64().expect("id");
    let targets: Vec<(String, i64, i64, String)> = body["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .map(|t| {
            (
                t["model_id"].as_str().unwrap_or_default().to_owned(),
                t["weight"].as_i64().unwrap_or_default(),
                t["priority"].as_i64().unwrap_or_default(),
                t["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        targets,
        vec![
            ("llava:7b".to_owned(), 3, 1, "served".to_owned()),
            ("gone:1b".to_owned(), 1, 1, "orphaned".to_owned()),
            ("llama3:8b".to_owned(), 1, 2, "disabled".to_owned()),
        ]
    );
    assert_eq!(body["targets"][0]["provider_name"], "lab");

    api.json(Method::POST, "/api/routing-groups", group_body(lab.id))
        .await
        .expect_error(StatusCode::CONFLICT, "already exists");
    let mut bad = group_body(lab.id);
    bad["targets"][0]["weight"] = json!(0);
    bad["name"] = json!("other");
    api.json(Method::POST, "/api/routing-groups", bad).await.expect_error(StatusCode::UNPROCESSABLE_ENTITY, "weight");

    let mut renamed = group_body(lab.id);
    renamed["name"] = json!("vision-pool");
    let replaced = api.json(Method::PUT, &format!("/api/routing-groups/{id}"), renamed).await;
    replaced.expect(StatusCode::OK);
    assert_eq!(replaced.json()["name"], "vision-pool");
    assert_eq!(api.get("/api/routing-groups").await.json().as_array().map(Vec::len), Some(1));

    let candidates = api.get("/api/routing-groups/candidates?capabilities=vision").await.json();
    let names: Vec<&str> = candidates.as_array().expect("list").iter().filter_map(|c| c["model_id"].as_str()).collect();
    assert_eq!(names, vec!["llava:7b"]);

    api.call(Method::DELETE, &format!("/api/routing-groups/{id}")).await.expect(StatusCode::OK);
    api.get(&format!("/api/routing-groups/{id}")).await.expect_error(StatusCode::NOT_FOUND, "no routing group");
}

#[tokio::test]
async fn fallbacks_round_trip_and_bad_ones_are_refused() {
    let api = Api::new().await;
    let saved = api
        .json(
            Method::POST,
            "/api/fallbacks",
            json!({"model_name": "pool", "fallback_type": "context_window",
                                                     "fallback_models": ["big", "bigger"]}),
        )
        .await;
    saved.expect(StatusCode::OK);
    assert_eq!(saved.json()["fallback_models"], json!(["big", "bigger"]));
    api.json(
        Method::POST,
        "/api/fallbacks",
        json!({"model_name": "pool", "fallback_type": "general",
                                                  "fallback_models": ["pool"]}),
    )
    .await
    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "its own fallback");
    let unknown = api
        .json(
            Method::POST,
            "/api/fallbacks",
            json!({"model_name": "pool", "fallback_type": "sometimes",
                                                     "fallback_models": ["big"]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.text());
    assert_eq!(api.get("/api/fallbacks").await.json().as_array().map(Vec::len), Some(1));
    api.call(Method::DELETE, "/api/fallbacks/pool?fallback_type=general")
        .await
        .expect_error(StatusCode::NOT_FOUND, "no general fallback");
    api.call(Method::DELETE, "/api/fallbacks/pool?fallback_type=context_window").await.expect(StatusCode::OK);
    assert!(routing::list_fallbacks(api.db()).await.expect("list").is_empty());
}

#[tokio::test]
async fn profiles_provider_pricing_and_the_effective_price_with_its_source() {
    let api = Api::new().await;
    let cloud = api.provider("cloud", ProviderType::Openai, Some("sk-provider-secret-0001-abcd")).await;
    let models = api.models(&cloud, &["house-model"]).await;
    let model_id = models[0].id;

    let profiles = api.get("/api/pricing-profiles").await.json();
    let built_in: Vec<&str> = profiles
        .as_array()
        .expect("list")
        .iter()
        .filter(|p| p["built_in"] == true)
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(built_in, vec!["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o1-mini"]);
    api.form(
        Method::POST,
        "/api/pricing-profiles",
        "name=house&input_cost_per_token=0.000001&output_cost_per_token=0.000002",
    )
    .await
    .expect(StatusCode::OK);
    api.json(
        Method::POST,
        "/api/pricing-profiles",
        json!({"name": "neg", "input_cost_per_token": -1, "output_cost_per_token": 1}),
    )
    .await
    .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "at least 0");
    api.call(Method::DELETE, "/api/pricing-profiles/gpt-4o").await.expect_error(StatusCode::CONFLICT, "built-in");

    let pricing = api
        .json(
            Method::PUT,
            &format!("/api/providers/{}/pricing", cloud.id),
            json!({"pricing_profile": "house", "rpm": 20, "tpm": 100000, "auto_detect_fim": false}),
        )
        .await;
    pricing.expect(StatusCode::OK);
    assert_eq!(
        pricing.json(),
        json!({"id": cloud.id, "pricing_profile": "house", "rpm": 20, "tpm": 100000,
                                      "auto_detect_fim": false})
    );
    api.json(Method::PUT, &format!("/api/providers/{}/pricing", cloud.id), json!({"pricing_profile": "housee"}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "no pricing profile named");
    api.json(Method::PUT, &format!("/api/providers/{}/pricing", cloud.id), json!({"rpm": 0}))
        .await
        .expect_error(StatusCode::UNPROCESSABLE_ENTITY, "rpm must be a positive number");

    let price = api.get(&format!("/api/models/{model_id}/pricing")).await.json();
    assert_eq!(
        price["effective"]["input"],
        json!({"cost_per_token": 0.000001, "from": "provider_profile", "profile": "house"})
    );
    assert_eq!(price["explained"][0], "input: 0.000001 per token, from the provider's profile house");

    let own =
        api.json(Method::PUT, &format!("/api/models/{model_id}/pricing"), json!({"pricing_profile": "gpt-4o"})).await;
    own.expect(StatusCode::OK);
    assert_eq!(own.json()["effective"]["output"]["from"], "model_profile");

    let page = api.get(&format!("/models/{model_id}")).await;
    page.expect(StatusCode::OK);
    assert!(page.text().contains("output: 0.000015 per token, from the model&#39;s profile gpt-4o"), "{}", page.text());
}

#[tokio::test]
async fn the_routing_page_adds_edits_and_deletes_groups_and_fallbacks() {
    let api = Api::new().await;
    lab(&api).await;
    let page = api.get("/routing?capabilities=vision").await;
    page.expect(StatusCode::OK);
    assert!(page.text().contains("<code>lab/llava:7b</code>"), "candidates listed");
    assert!(!page.text().contains("<code>lab/qwen:7b</code>"), "filtered by capability");

    let added = api
        .form(
            Method::POST,
            "/routing",
            "name=pool&capabilities=&targets=lab%2Fllava%3A7b+weight%3D3%0Alab%2Fqwen%3A7b+priority%3D2+disabled",
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let groups = routing::list_groups(api.db()).await.expect("groups");
    let summary: Vec<(&str, i64, i64, bool)> =
        groups[0].targets.iter().map(|t| (t.model_id.as_str(), t.weight, t.priority, t.enabled)).collect();
    assert_eq!(summary, vec![("llava:7b", 3, 1, true), ("qwen:7b", 1, 2, false)]);

    let refused = api.form(Method::POST, "/routing", "name=other&targets=nowhere%2Fx").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("does not start with a provider name"), "{}", refused.text());

    let edit = api.get(&format!("/routing/{}", groups[0].id)).await;
    assert!(edit.text().contains("lab/qwen:7b weight=1 priority=2 disabled"), "{}", edit.text());
    let saved =
        api.form(Method::POST, &format!("/routing/{}", groups[0].id), "name=pool&targets=lab%2Fllava%3A7b").await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());

    let fallback = api
        .form(Method::POST, "/routing/fallbacks", "model_name=pool&fallback_type=general&fallback_models=llama3%3A8b")
        .await;
    assert_eq!(fallback.status, StatusCode::SEE_OTHER, "{}", fallback.text());
    let listed = api.get("/routing").await.text();
    assert!(listed.contains("llama3:8b") && listed.contains("general"), "{listed}");
    let gone = api.post("/routing/fallbacks/delete?model_name=pool&fallback_type=general").await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(routing::list_fallbacks(api.db()).await.expect("list").is_empty());

    let deleted = api.post(&format!("/routing/{}/delete", groups[0].id)).await;
    assert_eq!(
        deleted.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()),
        Some("/routing?notice=group-deleted")
    );
    assert!(routing::list_groups(api.db()).await.expect("groups").is_empty());
}

#[tokio::test]
async fn the_pricing_page_saves_profiles_and_provider_limits() {
    let api = Api::new().await;
    let cloud = api.provider("cloud", ProviderType::Openai, None).await;
    let saved = api
        .form(
            Method::POST,
            "/pricing/profiles",
            "name=house&input_cost_per_token=0.000001&output_cost_per_token=0.000002",
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let bad =
        api.form(Method::POST, "/pricing/profiles", "name=half&input_cost_per_token=0.1&output_cost_per_token=").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let limits =
        api.form(Method::POST, &format!("/pricing/providers/{}", cloud.id), "pricing_profile=house&rpm=30&tpm=").await;
    assert_eq!(limits.status, StatusCode::SEE_OTHER, "{}", limits.text());
    let stored = shared::db::providers::get(api.db(), cloud.id).await.expect("read").expect("provider");
    assert_eq!(
        (stored.pricing_profile.as_deref(), stored.rpm, stored.tpm, stored.auto_detect_fim),
        (Some("house"), Some(30), None, false)
    );
    let page = api.get("/pricing").await.text();
    assert!(page.contains("house") && page.contains("built-in"), "{page}");
    let deleted = api.post("/pricing/profiles/house/delete").await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_migration_report_is_linked_from_the_overview_only_when_there_are_notes() {
    let api = Api::new().await;
    assert!(!api.get("/").await.text().contains("/migration"));
    assert_eq!(api.get("/api/migration-report").await.json(), json!({"adopted": false, "notes": []}));
    api.db()
        .execute_for_tests(
            "INSERT INTO adoption_notes (outcome, subject, note) \
             VALUES ('changed', 'routing group pool', 'target lab/x is disabled')",
            &[],
        )
        .await;
    assert!(api.get("/").await.text().contains("href=\"/migration\""));
    let page = api.get("/migration").await.text();
    assert!(page.contains("routing group pool") && page.contains("target lab/x is disabled"), "{page}");
    let report = api.get("/api/migration-report").await.json();
    assert_eq!(report["adopted"], true);
    assert_eq!(report["notes"][0]["outcome"], "changed");
}

#[tokio::test]
async fn the_plan_page_shows_fallback_changes() {
    use shared::db::jobs;
    use shared::jobs::JobRequest;

    let api = Api::new().await;
    let plan = jobs::enqueue(api.db(), &JobRequest::Plan { fetch: false }).await.expect("plan job");
    jobs::claim_next(api.db(), "test-worker").await.expect("claim");
    let result = json!({"type": "cycle", "providers": [], "push": {"dry_run": true, "results": [], "created": 0,
        "updated": 0, "replaced": 0, "deleted": 0, "failed": 0, "skipped": 0,
        "plan": {"operations": [], "unchanged": 3, "adopted": 0, "config_entries": 0, "foreign_entries": 0},
        "fallbacks": {"operations": [
            {"action": "set", "model_name": "pool", "fallback_type": "context_window", "from": null, "to": ["big"],
             "reason": "pool has no context_window fallback in LiteLLM"},
            {"action": "delete", "model_name": "old-pool", "fallback_type": "general", "from": ["x"], "to": null,
             "reason": "no longer wanted"}
        ], "unchanged": 1, "notes": ["the general fallback of y was changed in LiteLLM since the last push; left alone"]}}});
    jobs::finish(api.db(), plan, "test-worker", Some(&result), None).await.expect("finish plan");
    let page = api.get("/plan").await;
    page.expect(StatusCode::OK);
    let text = page.text();
    for expected in [
        "Fallbacks (2 to change, 1 unchanged)",
        "pool has no context_window fallback in LiteLLM",
        "<del>(none)</del> → <ins>big</ins>",
        "old-pool",
        "changed in LiteLLM since the last push; left alone",
    ] {
        assert!(text.contains(expected), "{expected} missing from {text}");
    }
}
