//! Routing groups and fallbacks pushed by the real `litellm-sync` binary to the fake LiteLLM:
//! group deployments with weight and order, fallbacks through `/fallback`, nothing written when
//! nothing changed, and the Python tool's group deployments adopted without a duplicate.

mod support;

use serde_json::{Value, json};
use shared::db::routing;
use shared::provider::Provider;
use shared::routing::{Fallback, FallbackType, GroupInput, TargetInput};
use support::World;
use testkit::OllamaModel;

async fn lab_world() -> (World, Provider) {
    let (world, lab) = World::with_lab().await;
    world.ollama.set_models(vec![
        OllamaModel::chat("llama3.2:3b").context_length(131072),
        OllamaModel::embedding("nomic-embed-text:latest"),
        OllamaModel::vision("qwen2.5vl:7b").context_length(8192),
    ]);
    world.once().await.assert_ok();
    (world, lab)
}

fn target(lab: &Provider, model_id: &str, weight: i64, priority: i64, enabled: bool) -> TargetInput {
    TargetInput { provider_id: lab.id, model_id: model_id.into(), weight, priority, enabled }
}

fn pool(lab: &Provider, big_weight: i64) -> GroupInput {
    GroupInput {
        name: "pool".into(),
        description: Some("chat across the lab".into()),
        capabilities: vec!["chat".into()],
        auto_context_fallback: true,
        targets: vec![
            target(lab, "llama3.2:3b", big_weight, 1, true),
            target(lab, "qwen2.5vl:7b", 1, 2, true),
            target(lab, "nomic-embed-text:latest", 1, 3, false),
        ],
    }
}

fn group_entries(world: &World) -> Vec<(String, Value, Value)> {
    let mut found: Vec<(String, Value, Value)> = world
        .litellm
        .entries()
        .into_iter()
        .filter(|e| e["model_name"] == "pool")
        .map(|e| {
            let model = e["litellm_params"]["model"].as_str().unwrap_or_default().to_owned();
            (model, e["litellm_params"]["weight"].clone(), e["litellm_params"]["order"].clone())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn held(kind: &str, model: &str, to: &[&str]) -> (String, String, Vec<String>) {
    (kind.to_owned(), model.to_owned(), to.iter().map(|s| (*s).to_owned()).collect())
}

#[tokio::test]
async fn a_group_and_its_fallbacks_are_pushed_kept_in_step_and_removed() {
    let (world, lab) = lab_world().await;
    let group_id = routing::create_group(world.db(), &pool(&lab, 3)).await.expect("create group");
    let general = Fallback {
        model_name: "pool".into(),
        fallback_type: FallbackType::General,
        fallback_models: vec!["llama3.2:3b".into()],
    };
    routing::set_fallback(world.db(), &general).await.expect("set fallback");

    world.once().await.assert_ok();
    assert_eq!(
        group_entries(&world),
        vec![
            ("ollama_chat/llama3.2:3b".to_owned(), json!(3), json!(1)),
            ("ollama_chat/qwen2.5vl:7b".to_owned(), json!(1), json!(2)),
        ]
    );
    assert_eq!(
        world.litellm.fallbacks(),
        vec![held("context_window_fallbacks", "pool", &["llama3.2:3b"]), held("fallbacks", "pool", &["llama3.2:3b"]),]
    );
    let group = routing::get_group(world.db(), group_id).await.expect("read").expect("group");
    let ids: Vec<bool> = group.targets.iter().map(|t| t.litellm_model_id.is_some()).collect();
    assert_eq!(ids, vec![true, true, false], "pushed targets own their LiteLLM id; the disabled one has none");

    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0, "{:?}", world.litellm.requests());
    assert_eq!(world.litellm.fallback_write_calls(), 0, "{:?}", world.litellm.requests());

    // An edit shows in the plan, then patches in place; the removed fallback goes.
    routing::update_group(world.db(), group_id, &pool(&lab, 5)).await.expect("update");
    routing::delete_fallback(world.db(), "pool", FallbackType::General).await.expect("delete fallback");
    let dry = world.run(&["--dry-run"]).await;
    dry.assert_ok();
    let out = dry.all_output();
    assert!(out.contains("update pool") && out.contains("litellm_params.weight: 3 -> 5"), "{out}");
    assert!(out.contains("delete general fallback of pool"), "{out}");
    assert_eq!(world.litellm.fallbacks().len(), 2, "a dry run changes nothing");

    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!((world.litellm.new_calls(), world.litellm.patch_calls()), (0, 1));
    assert_eq!(group_entries(&world)[0].1, json!(5));
    assert_eq!(world.litellm.fallbacks(), vec![held("context_window_fallbacks", "pool", &["llama3.2:3b"])]);

    assert!(routing::delete_group(world.db(), group_id).await.expect("delete"));
    world.once().await.assert_ok();
    assert!(group_entries(&world).is_empty());
    assert!(world.litellm.fallbacks().is_empty(), "the automatic fallback goes with its group");
    assert!(routing::pushed_fallbacks(world.db()).await.expect("pushed").is_empty());
}

#[tokio::test]
async fn the_python_tools_group_deployments_are_adopted_without_a_duplicate() {
    let (world, lab) = lab_world().await;
    let python_entry = |model: &str| {
        json!({"model": format!("ollama_chat/{model}"), "api_base": world.ollama.url(),
               "tags": ["lupdater", "provider:lab", "type:ollama", format!("model:{model}"), "routing_group:pool"]})
    };
    let info = json!({"created_by": "routing_group"});
    let big = world.litellm.insert_db_entry("pool", python_entry("llama3.2:3b"), info.clone());
    let small = world.litellm.insert_db_entry("pool", python_entry("qwen2.5vl:7b"), info.clone());
    let disabled = world.litellm.insert_db_entry("pool", python_entry("nomic-embed-text:latest"), info);
    let group_id = routing::create_group(world.db(), &pool(&lab, 3)).await.expect("create group");

    world.litellm.reset_counters();
    let run = world.once().await;
    run.assert_ok();
    assert_eq!(world.litellm.new_calls(), 0, "adopted, not created again: {:?}", world.litellm.requests());
    let ids: Vec<String> =
        world.litellm.entries().iter().filter_map(|e| e["model_info"]["id"].as_str().map(str::to_owned)).collect();
    assert!(ids.contains(&big) && ids.contains(&small));
    assert!(!ids.contains(&disabled), "the disabled target the Python tool still served is removed");
    assert_eq!(group_entries(&world).len(), 2);
    let group = routing::get_group(world.db(), group_id).await.expect("read").expect("group");
    let stored: Vec<Option<String>> = group.targets.iter().map(|t| t.litellm_model_id.clone()).collect();
    assert_eq!(stored, vec![Some(big), Some(small), None]);
}
