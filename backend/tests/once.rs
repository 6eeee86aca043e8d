//! `litellm-sync --once`, `--dry-run` and `migrate`, run as a real process against fake
//! upstreams and a fake LiteLLM on 127.0.0.1.

mod support;

use std::collections::HashSet;

use serde_json::{Value, json};
use shared::db::models::{self, ModelStatus};
use shared::db::providers::NewProvider;
use shared::db::{exclusions, litellm_health, providers, sync_runs};
use shared::model::{Model, Overrides};
use shared::types::{Pricing, ProviderType};
use shared::{Secret, compat};
use support::{MASTER_KEY, World, closed_port_url};
use testkit::{Failure, OllamaModel, WriteFault, openai_model};

fn tags(entry: &Value) -> Vec<String> {
    entry["litellm_params"]["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn first_sync_records_and_creates_every_model_with_its_metadata() {
    let (world, lab) = World::with_lab().await;
    let vllm = world.add_openai_provider("vllm", &["Qwen/Qwen3-32B"]).await;
    world.openai.set_models(vec![json!({"id": "Qwen/Qwen3-32B", "object": "model", "max_model_len": 32768})]);

    world.once().await.assert_ok();

    assert_eq!(world.entry_names(), vec!["Qwen/Qwen3-32B", "llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"]);
    let chat = world.entry("llama3.2:3b").expect("chat entry");
    assert_eq!(chat["litellm_params"]["model"], "ollama_chat/llama3.2:3b");
    assert_eq!(chat["litellm_params"]["api_base"], world.ollama.url());
    assert_eq!(chat["litellm_params"]["input_cost_per_token"], 0.0);
    assert_eq!(chat["model_info"]["mode"], "chat");
    assert_eq!(chat["model_info"]["max_input_tokens"], 131072);
    assert_eq!(chat["model_info"]["supports_function_calling"], true);
    assert_eq!(chat["model_info"]["managed_by"], "litellm-updater");
    assert_eq!(chat["model_info"]["db_model"], true);
    let chat_tags = tags(&chat);
    for tag in ["lupdater", "provider:lab", "type:ollama", "unique_id:lab/llama3.2:3b", "mode:chat", "capability:tools"]
    {
        assert!(chat_tags.contains(&tag.to_owned()), "{tag} missing from {chat_tags:?}");
    }

    let embed = world.entry("nomic-embed-text:latest").expect("embedding entry");
    assert_eq!(embed["litellm_params"]["model"], "ollama/nomic-embed-text:latest");
    assert_eq!(embed["model_info"]["mode"], "embedding");
    let vision = world.entry("qwen2.5vl:7b").expect("vision entry");
    assert_eq!(vision["model_info"]["supports_vision"], true);
    assert_eq!(vision["model_info"]["supports_reasoning"], true);
    let vllm_entry = world.entry("Qwen/Qwen3-32B").expect("vllm entry");
    assert_eq!(vllm_entry["litellm_params"]["model"], "openai/Qwen/Qwen3-32B");
    assert_eq!(vllm_entry["litellm_params"]["api_base"], format!("{}/v1", world.openai.url()));
    assert_eq!(vllm_entry["model_info"]["max_input_tokens"], 32768);

    // The database records each model, owning the LiteLLM id it pushed.
    let recorded = world.models().await;
    assert_eq!(recorded.len(), 4);
    let entry_ids: HashSet<String> =
        world.litellm.entries().iter().filter_map(|e| e["model_info"]["id"].as_str().map(str::to_owned)).collect();
    for model in &recorded {
        let id = model.litellm_model_id.clone().expect("id stored");
        assert!(entry_ids.contains(&id), "{id} not in LiteLLM");
    }
    let stored_chat = world.model(&lab, "llama3.2:3b").await;
    assert_eq!(stored_chat.context_window, Some(131072));
    let raw = models::raw_metadata(world.db(), stored_chat.id).await.expect("query").expect("raw");
    assert!(raw.get("license").is_none() && raw.get("modelfile").is_none(), "heavy fields are discarded");
    assert_eq!(raw["model_info"]["llama.context_length"], 131072);
    assert!(serde_json::to_string(&raw).map(|s| s.len()).unwrap_or(0) < 4096);
    assert_eq!(world.ollama.show_calls(), 3);

    let runs = sync_runs::recent(world.db(), 10, 0).await.expect("runs");
    let lab_run = runs.iter().find(|r| r.provider_id == Some(lab.id)).expect("lab run");
    assert_eq!((lab_run.status.as_str(), lab_run.added, lab_run.litellm_created), ("ok", 3, 3));
    let vllm_run = runs.iter().find(|r| r.provider_id == Some(vllm.id)).expect("vllm run");
    assert_eq!((vllm_run.status.as_str(), vllm_run.added, vllm_run.litellm_created), ("ok", 1, 1));
    let push_run = runs.iter().find(|r| r.kind == "push").expect("push run");
    assert_eq!((push_run.status.as_str(), push_run.litellm_created), ("ok", 4));
}

#[tokio::test]
async fn an_unchanged_second_run_reads_once_and_writes_nothing() {
    let (world, _lab) = World::with_lab().await;
    world.add_openai_provider("hosted", &["gpt-4o", "gpt-4o-mini"]).await;
    world.once().await.assert_ok();
    let before = world.litellm.entries();
    world.ollama.reset_counters();
    world.openai.reset_counters();
    world.litellm.reset_counters();

    let run = world.once().await;
    run.assert_ok();

    assert_eq!(world.litellm.info_calls(), 1, "one GET /model/info per run");
    assert_eq!(world.litellm.write_calls(), 0, "no LiteLLM writes: {:?}", world.litellm.requests());
    assert_eq!((world.ollama.tags_calls(), world.ollama.show_calls()), (1, 0));
    assert_eq!(world.openai.models_calls(), 1);
    assert_eq!(world.litellm.entries(), before);
    assert!(
        run.stdout.contains("0 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 not sent, 5 unchanged"),
        "{}",
        run.stdout
    );
}

#[tokio::test]
async fn a_model_gone_upstream_is_orphaned_and_removed_then_restored_with_the_same_id() {
    let (world, lab) = World::with_lab().await;
    world.once().await.assert_ok();
    let id = world.model(&lab, "qwen2.5vl:7b").await.litellm_model_id.expect("id");

    assert_eq!(world.snapshot_holds().await, world.litellm_holds(), "the snapshot shows what was created");

    assert!(world.ollama.remove_model("qwen2.5vl:7b"));
    let run = world.once().await;
    run.assert_ok();
    let gone = world.model(&lab, "qwen2.5vl:7b").await;
    assert!(gone.is_orphaned && gone.orphaned_at.is_some());
    assert!(world.entry("qwen2.5vl:7b").is_none());
    assert_eq!(world.entry_names(), vec!["llama3.2:3b", "nomic-embed-text:latest"]);
    assert!(
        world.litellm.requests().iter().any(|(m, p, b)| m == "POST" && p == "/model/delete" && b["id"] == id.as_str())
    );
    assert_eq!(world.snapshot_holds().await, world.litellm_holds(), "the snapshot shows the deletion");

    world.ollama.add_model(OllamaModel::vision("qwen2.5vl:7b"));
    world.once().await.assert_ok();
    let back = world.model(&lab, "qwen2.5vl:7b").await;
    assert!(!back.is_orphaned);
    assert_eq!(back.litellm_model_id.as_deref(), Some(id.as_str()));
    assert_eq!(world.entry("qwen2.5vl:7b").expect("recreated")["model_info"]["id"], id.as_str());
}

#[tokio::test]
async fn an_empty_answer_from_a_provider_with_models_changes_nothing() {
    let (world, lab) = World::with_lab().await;
    world.once().await.assert_ok();
    let before = world.litellm.entries();
    world.ollama.set_failure(Failure::EmptyList);
    world.litellm.reset_counters();

    let run = world.once().await;
    run.assert_ok();

    assert!(run.stdout.contains("answered with no models while 3 are recorded"), "{}", run.stdout);
    assert!(world.models().await.iter().all(|m| !m.is_orphaned));
    assert_eq!(world.litellm.entries(), before);
    assert_eq!(world.litellm.write_calls(), 0);
    let last = sync_runs::last_per_provider(world.db()).await.expect("runs");
    let run_row = last.iter().find(|r| r.provider_id == Some(lab.id)).expect("run row");
    assert_eq!(run_row.status, "warning");
}

#[tokio::test]
async fn an_unreadable_upstream_fails_the_run_and_changes_nothing() {
    let (world, lab) = World::with_lab().await;
    world.once().await.assert_ok();
    let before = world.litellm.entries();

    let cases: Vec<(Failure, &str)> = vec![
        (Failure::Status(500), "answered HTTP 500"),
        (Failure::InvalidJson, "did not answer with a model list"),
        (Failure::Hang, "did not answer within 3 s"),
        // An oversized listing: upstream_faults.rs (a debug build parses 16 MiB in more than 3 s).
    ];
    for (failure, message) in cases {
        world.ollama.set_failure(failure.clone());
        let run = world.once().await;
        run.assert_failed();
        assert!(run.stdout.contains(message), "{failure:?}: {}", run.stdout);
        assert!(world.models().await.iter().all(|m| !m.is_orphaned), "{failure:?}");
        assert_eq!(world.litellm.entries(), before, "{failure:?}");
    }

    // A provider whose server is down: its recorded models stay as they were.
    world.ollama.set_failure(Failure::None);
    let down = world.add_provider(NewProvider::new("down", ProviderType::Ollama, closed_port_url().await)).await;
    let known = models::FetchedModel::from_upstream(ProviderType::Ollama, "kept:7b", Some("d".into()), &json!({}));
    models::record_fetch(world.db(), down.id, &[known], &["kept:7b".to_owned()]).await.expect("record");
    let run = world.once().await;
    run.assert_failed();
    assert!(run.stdout.contains("down: FAILED: cannot reach http://127.0.0.1:"), "{}", run.stdout);
    assert!(!world.model(&down, "kept:7b").await.is_orphaned);
    let last = sync_runs::last_per_provider(world.db()).await.expect("runs");
    let row = last.iter().find(|r| r.provider_id == Some(down.id)).expect("row");
    assert_eq!(row.status, "failed");
    assert!(row.message.as_deref().unwrap_or("").contains("cannot reach"));
    let lab_row = last.iter().find(|r| r.provider_id == Some(lab.id)).expect("lab row");
    assert_eq!(lab_row.status, "ok");
}

#[tokio::test]
async fn a_litellm_failure_mid_plan_is_reported_and_the_next_run_converges_without_duplicates() {
    let world = World::new().await;
    world.ollama.set_models((0..12).map(OllamaModel::synthetic).collect());
    world.add_provider(NewProvider::new("lab", ProviderType::Ollama, world.ollama.url())).await;
    world.litellm.fail_write(4, WriteFault::Reject);
    world.litellm.fail_write(7, WriteFault::ApplyThenError);

    let run = world.once().await;
    run.assert_failed();
    assert!(run.stdout.contains("11 created, 0 updated, 0 replaced, 0 deleted, 1 failed"), "{}", run.stdout);
    assert!(run.stdout.contains("  failed to create "), "{}", run.stdout);
    assert_eq!(world.litellm.entries().len(), 11);

    let run = world.once().await;
    run.assert_ok();
    assert!(
        run.stdout.contains("1 created, 0 updated, 0 replaced, 0 deleted, 0 failed, 0 not sent, 11 unchanged"),
        "{}",
        run.stdout
    );
    let entries = world.litellm.entries();
    assert_eq!(entries.len(), 12);
    let names: HashSet<&str> = entries.iter().filter_map(|e| e["model_name"].as_str()).collect();
    assert_eq!(names.len(), 12, "no duplicates");
    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0);
}

#[tokio::test]
async fn entries_litellm_updater_does_not_own_are_never_touched() {
    let (world, _lab) = World::with_lab().await;
    let config_id = world.litellm.add_config_entry(
        "llama3.2:3b",
        json!({"model": "openai/llama3.2:3b", "api_base": "http://elsewhere/v1"}),
        json!({"id": "cfg-1", "managed_by": "litellm-updater"}),
    );
    let foreign_id = world.litellm.insert_db_entry(
        "nomic-embed-text:latest",
        json!({"model": "ollama/nomic-embed-text", "api_base": "http://theirs:11434", "tags": ["unique_id:lab/nomic-embed-text:latest"]}),
        json!({"created_by": "alice"}),
    );
    let snapshot = |id: &str| world.litellm.entries().into_iter().find(|e| e["model_info"]["id"] == id);
    let (config_before, foreign_before) = (snapshot(&config_id), snapshot(&foreign_id));

    world.once().await.assert_ok();
    world.ollama.set_models(vec![]);
    world.ollama.set_failure(Failure::None);
    world.once().await.assert_ok();

    assert_eq!(snapshot(&config_id), config_before);
    assert_eq!(snapshot(&foreign_id), foreign_before);
    let touched: Vec<(String, String, Value)> = world
        .litellm
        .requests()
        .into_iter()
        .filter(|(_, path, body)| {
            path.contains(&config_id)
                || path.contains(&foreign_id)
                || body["id"] == config_id.as_str()
                || body["id"] == foreign_id.as_str()
        })
        .collect();
    assert!(touched.is_empty(), "{touched:?}");
}

#[tokio::test]
async fn the_operators_overrides_win_and_survive_later_syncs() {
    let (world, lab) = World::with_lab().await;
    world.once().await.assert_ok();
    let model = world.model(&lab, "llama3.2:3b").await;
    let overrides = Overrides {
        user_params: Some(Some(serde_json::from_value(json!({"rpm": 30, "max_input_tokens": 8000})).expect("map"))),
        user_tags: Some(Some(vec!["Team Blue".into()])),
        access_groups: Some(Some(vec!["blue".into()])),
        pricing_override: Some(Some(Pricing { input_cost_per_token: Some(1e-6), output_cost_per_token: Some(2e-6) })),
        ..Overrides::default()
    };
    assert!(models::set_overrides(world.db(), model.id, &overrides).await.expect("override"));
    let muted = world.model(&lab, "nomic-embed-text:latest").await;
    models::set_overrides(world.db(), muted.id, &Overrides { sync_enabled: Some(false), ..Overrides::default() })
        .await
        .expect("disable");

    world.once().await.assert_ok();
    let check = |entry: &Value| {
        assert_eq!(entry["litellm_params"]["rpm"], 30);
        assert_eq!(entry["litellm_params"]["input_cost_per_token"], 1e-6);
        assert_eq!(entry["litellm_params"]["output_cost_per_token"], 2e-6);
        assert_eq!(entry["model_info"]["max_input_tokens"], 8000);
        assert_eq!(entry["model_info"]["access_groups"], json!(["blue"]));
        assert!(tags(entry).contains(&"team-blue".to_owned()));
    };
    check(&world.entry("llama3.2:3b").expect("entry"));
    assert!(world.entry("nomic-embed-text:latest").is_none(), "a disabled model is removed from LiteLLM");
    let (_, snapshot) = shared::db::snapshot::latest(world.db()).await.expect("query").expect("snapshot");
    let patched = snapshot.iter().find(|e| e["model_name"] == "llama3.2:3b").expect("in the snapshot");
    assert_eq!(
        (patched["litellm_params"]["rpm"].clone(), patched["model_info"]["access_groups"].clone()),
        (json!(30), json!(["blue"]))
    );

    // Upstream changes the model: details are re-read, derived fields move, overrides stay.
    world.ollama.add_model(OllamaModel::chat("llama3.2:3b").context_length(65536).digest("sha256:new"));
    world.ollama.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.ollama.shown_names(), vec!["llama3.2:3b"]);
    let after = world.model(&lab, "llama3.2:3b").await;
    assert_eq!(after.context_window, Some(65536));
    assert_eq!(after.user_tags, Some(vec!["Team Blue".to_owned()]));
    assert_eq!(after.access_groups, Some(vec!["blue".to_owned()]));
    let entry = world.entry("llama3.2:3b").expect("entry");
    check(&entry);
    assert_eq!(entry["model_info"]["max_tokens"], 65536);

    // Removing an override removes it from LiteLLM too: LiteLLM's PATCH cannot clear a field, so
    // the entry is recreated with the same id.
    let id = entry["model_info"]["id"].as_str().expect("id").to_owned();
    let clear = Overrides { user_params: Some(None), ..Overrides::default() };
    models::set_overrides(world.db(), model.id, &clear).await.expect("clear params");
    let run = world.once().await;
    run.assert_ok();
    assert!(run.stdout.contains("0 created, 0 updated, 1 replaced, 0 deleted, 0 failed"), "{}", run.stdout);
    let entry = world.entry("llama3.2:3b").expect("entry");
    assert!(entry["litellm_params"].get("rpm").is_none(), "{entry}");
    assert_eq!(entry["model_info"]["id"], id.as_str(), "same id");
    assert_eq!(entry["model_info"]["access_groups"], json!(["blue"]), "the other overrides stay");
    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0);
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_writes_nothing_to_litellm() {
    let (world, _lab) = World::with_lab().await;
    let run = world.run(&["--dry-run"]).await;
    run.assert_ok();
    assert!(run.stdout.contains("LiteLLM plan (dry run, nothing applied): 3 to create"), "{}", run.stdout);
    assert!(run.stdout.contains("create llama3.2:3b"), "{}", run.stdout);
    assert_eq!(world.litellm.write_calls(), 0);
    assert!(world.litellm.entries().is_empty());
    assert!(world.models().await.iter().all(|m| m.litellm_model_id.is_none()), "ids are not assigned by a dry run");

    world.once().await.assert_ok();
    world.ollama.remove_model("llama3.2:3b");
    world.litellm.reset_counters();
    let run = world.run(&["--dry-run", "--json"]).await;
    run.assert_ok();
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    let operations = report["push"]["plan"]["operations"].as_array().expect("operations");
    assert_eq!(operations.len(), 1);
    assert_eq!(operations[0]["action"], "delete");
    assert_eq!(operations[0]["model_name"], "llama3.2:3b");
    assert_eq!(operations[0]["reason"], "orphaned: lab no longer lists it");
    assert_eq!(report["push"]["dry_run"], true);
    assert_eq!(world.litellm.write_calls(), 0);
    assert!(world.entry("llama3.2:3b").is_some());
}

#[tokio::test]
async fn litellm_without_a_database_or_with_a_wrong_key_is_explained_in_plain_words() {
    let (world, _lab) = World::with_lab().await;
    world.litellm.set_no_db(true);
    let run = world.once().await;
    run.assert_failed();
    assert!(run.stdout.contains("LiteLLM has no database connected"), "{}", run.all_output());
    assert!(run.stdout.contains("STORE_MODEL_IN_DB=True"), "{}", run.stdout);

    world.litellm.set_no_db(false);
    shared::db::config::set_litellm(world.db(), Some(&world.litellm.url()), Some(&Secret::new("sk-wrong-key-9999")))
        .await
        .expect("config");
    let run = world.once().await;
    run.assert_failed();
    assert!(run.stdout.contains("LiteLLM rejected the API key (HTTP 401)"), "{}", run.stdout);
    assert!(!run.all_output().contains("sk-wrong-key-9999"), "the key never appears in output");
    // The top bar's light: the failed read is recorded with a few plain words, never the key.
    let health = litellm_health::latest(world.db()).await.expect("health").expect("a read was recorded");
    assert!(!health.ok);
    assert_eq!(health.reason.as_deref(), Some("wrong key (HTTP 401)"));
    let detail = health.detail.unwrap_or_default();
    assert!(detail.contains("HTTP 401") && !detail.contains("sk-wrong-key-9999"), "{detail}");

    shared::db::config::set_litellm(world.db(), Some(&world.litellm.url()), Some(&Secret::new(MASTER_KEY)))
        .await
        .expect("config");
    world.once().await.assert_ok();
    let health = litellm_health::latest(world.db()).await.expect("health").expect("a read was recorded");
    assert!(health.ok && health.reason.is_none(), "{health:?}");
}

#[tokio::test]
async fn entries_made_by_the_python_tool_are_adopted_not_duplicated() {
    let (world, lab) = World::with_lab().await;
    let python_id = world.litellm.insert_db_entry(
        "llama3.2:3b",
        json!({"model": "ollama_chat/llama3.2:3b", "api_base": world.ollama.url(), "tags": ["lab", "unique_id:lab/llama3.2:3b"]}),
        json!({"created_by": "updater", "mode": "chat"}),
    );

    world.once().await.assert_ok();

    assert_eq!(world.entry_names(), vec!["llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"]);
    let adopted = world.entry("llama3.2:3b").expect("entry");
    assert_eq!(adopted["model_info"]["id"], python_id.as_str());
    assert_eq!(adopted["model_info"]["managed_by"], "litellm-updater");
    assert_eq!(world.model(&lab, "llama3.2:3b").await.litellm_model_id.as_deref(), Some(python_id.as_str()));
    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0);
}

#[tokio::test]
async fn compat_aliases_are_pushed_with_their_targets_connection() {
    let (world, _lab) = World::with_lab().await;
    world.once().await.assert_ok();
    let registered = compat::register_defaults(world.db()).await.expect("register");
    let aliases: Vec<&str> = registered.iter().map(|r| r.alias.as_str()).collect();
    assert_eq!(
        aliases,
        vec![
            "gpt-4o-mini",
            "gpt-3.5-turbo",
            "text-embedding-3-small",
            "text-embedding-3-large",
            "text-embedding-ada-002"
        ]
    );

    world.once().await.assert_ok();
    let alias = world.entry("gpt-4o-mini").expect("alias entry");
    assert_eq!(alias["litellm_params"]["model"], "ollama_chat/llama3.2:3b");
    assert_eq!(alias["litellm_params"]["api_base"], world.ollama.url());
    assert_eq!(alias["model_info"]["supports_function_calling"], true);
    assert!(tags(&alias).contains(&"unique_id:compat_models/gpt-4o-mini".to_owned()));
    let embedding_alias = world.entry("text-embedding-3-small").expect("embedding alias");
    assert_eq!(embedding_alias["litellm_params"]["model"], "ollama/nomic-embed-text:latest");

    world.ollama.remove_model("llama3.2:3b");
    world.once().await.assert_ok();
    assert!(world.entry("gpt-4o-mini").is_none(), "an alias whose target is gone is removed");
}

#[tokio::test]
async fn provider_keys_reach_upstreams_and_litellm_but_never_the_output() {
    let world = World::new().await;
    world.ollama.set_models(vec![OllamaModel::chat("gpt-oss:120b")]);
    world.ollama.require_bearer(Some("ollama-cloud-secret-1234".into()));
    let mut cloud = NewProvider::new("cloud", ProviderType::Ollama, world.ollama.url());
    cloud.api_key = Some("ollama-cloud-secret-1234".into());
    cloud.prefix = Some("cloud".into());
    world.add_provider(cloud).await;

    let run = world.once().await;
    run.assert_ok();
    let entry = world.entry("cloud/gpt-oss:120b").expect("prefixed entry");
    let id = entry["model_info"]["id"].as_str().expect("id").to_owned();
    assert_eq!(world.litellm.stored_api_key(&id).as_deref(), Some("ollama-cloud-secret-1234"));
    assert!(entry["litellm_params"].get("api_key").is_none());
    let dry = world.run(&["--dry-run", "--json"]).await;
    for output in [run.all_output(), dry.all_output()] {
        assert!(!output.contains("ollama-cloud-secret-1234") && !output.contains(MASTER_KEY), "{output}");
    }

    // A rotated key is pushed (LiteLLM never echoes keys; the fingerprint notices).
    world.db().execute_for_tests("UPDATE providers SET api_key = 'ollama-cloud-secret-5678'", &[]).await;
    world.ollama.require_bearer(Some("ollama-cloud-secret-5678".into()));
    world.once().await.assert_ok();
    assert_eq!(world.litellm.stored_api_key(&id).as_deref(), Some("ollama-cloud-secret-5678"));

    // A removed key is removed from LiteLLM too (recreated without it, same id).
    world.db().execute_for_tests("UPDATE providers SET api_key = NULL", &[]).await;
    world.ollama.require_bearer(None);
    world.once().await.assert_ok();
    assert_eq!(world.litellm.stored_api_key(&id), None);
    assert!(world.entry("cloud/gpt-oss:120b").is_some_and(|e| e["model_info"]["id"] == id.as_str()));
}

#[tokio::test]
async fn filters_and_disabled_providers_shape_what_is_pushed() {
    let (world, lab) = World::with_lab().await;
    let hosted = world.add_openai_provider("hosted", &["gpt-4o", "text-embedding-3-small", "whisper-1"]).await;
    providers::set_filters(world.db(), hosted.id, Some("gpt, whisper"), Some("WHISPER")).await.expect("filters");
    world.once().await.assert_ok();
    assert_eq!(world.entry_names(), vec!["gpt-4o", "llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"]);

    // A filter that excludes everything a provider serves is the operator's choice, not an empty answer.
    providers::set_filters(world.db(), hosted.id, Some("no-such-model"), None).await.expect("filters");
    world.once().await.assert_ok();
    assert_eq!(world.entry_names(), vec!["llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"]);
    assert!(world.models().await.iter().filter(|m| m.provider_id == hosted.id).all(|m| !m.is_orphaned));
    providers::set_filters(world.db(), hosted.id, None, None).await.expect("filters");
    world.once().await.assert_ok();
    assert_eq!(world.entry_names().len(), 6);

    providers::set_sync_enabled(world.db(), lab.id, false).await.expect("disable");
    world.once().await.assert_ok();
    assert_eq!(world.entry_names(), vec!["gpt-4o", "text-embedding-3-small", "whisper-1"]);
    assert!(world.models().await.iter().filter(|m| m.provider_id == lab.id).all(|m| !m.is_orphaned));
}

#[tokio::test]
async fn a_filter_change_excludes_models_at_once_and_a_push_removes_exactly_those() {
    let (world, _lab) = World::with_lab().await;
    let hosted = world.add_openai_provider("hosted", &["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]).await;
    world.once().await.assert_ok();
    assert_eq!(world.entry_names().len(), 6);
    let status_of = |id: &'static str| {
        let hosted = hosted.clone();
        let world = &world;
        async move {
            let model = world.model(&hosted, id).await;
            let status = models::status(world.db(), model.id).await.expect("status").expect("model");
            (status, exclusions::reason(world.db(), model.id).await.expect("reason"))
        }
    };

    // The settings change alone, with no fetch and no push, makes the models excluded.
    providers::set_filters(world.db(), hosted.id, None, Some("mini, embedding")).await.expect("filters");
    assert_eq!(
        status_of("gpt-4o-mini").await,
        (ModelStatus::Excluded, Some("excluded by hosted's exclude filter term \"mini\"".into()))
    );
    assert_eq!(status_of("text-embedding-3-small").await.0, ModelStatus::Excluded);
    assert_eq!(status_of("gpt-4o").await, (ModelStatus::Synced, None));
    let counts = models::status_counts(world.db()).await.expect("counts");
    assert_eq!((counts.excluded, counts.orphaned), (2, 0));

    // The next run fetches (recording everything hosted lists) and removes exactly those two.
    world.once().await.assert_ok();
    let names = world.entry_names();
    assert_eq!(names, vec!["gpt-4o", "llama3.2:3b", "nomic-embed-text:latest", "qwen2.5vl:7b"]);
    let hosted_models: Vec<Model> = world.models().await.into_iter().filter(|m| m.provider_id == hosted.id).collect();
    assert_eq!(hosted_models.len(), 3, "excluded models stay recorded");
    assert!(hosted_models.iter().all(|m| !m.is_orphaned), "excluded is never orphaned: {hosted_models:?}");
    assert_eq!(status_of("gpt-4o-mini").await.0, ModelStatus::Excluded);

    // Clearing the filter includes them again at once, and the next push brings them back.
    providers::set_filters(world.db(), hosted.id, None, None).await.expect("filters");
    assert_eq!(status_of("gpt-4o-mini").await, (ModelStatus::Pending, None));
    world.once().await.assert_ok();
    assert_eq!(world.entry_names().len(), 6);

    // Disabling the provider excludes all its models at once, naming why.
    providers::set_sync_enabled(world.db(), hosted.id, false).await.expect("disable");
    assert_eq!(status_of("gpt-4o").await, (ModelStatus::Excluded, Some("provider hosted is disabled".into())));
}

#[tokio::test]
async fn an_alias_to_a_disabled_or_orphaned_target_is_not_pushed_and_says_why() {
    let (world, lab) = World::with_lab().await;
    let compat = providers::compat_provider(world.db()).await.expect("compat provider");
    models::upsert_alias(world.db(), compat.id, "gpt-4o-mini", lab.id, "llama3.2:3b").await.expect("alias");
    models::upsert_alias(world.db(), compat.id, "gpt-3.5-turbo", lab.id, "qwen2.5vl:7b").await.expect("alias");
    world.once().await.assert_ok();
    assert!(world.entry("gpt-4o-mini").is_some() && world.entry("gpt-3.5-turbo").is_some());

    let target = world.model(&lab, "llama3.2:3b").await;
    let disable = Overrides { sync_enabled: Some(false), ..Overrides::default() };
    assert!(models::set_overrides(world.db(), target.id, &disable).await.expect("disable"));
    world.ollama.remove_model("qwen2.5vl:7b");
    let plan = world.run(&["--dry-run"]).await;
    plan.assert_ok();
    let output = plan.all_output();
    assert!(output.contains("alias target llama3.2:3b is disabled"), "{output}");
    assert!(output.contains("alias target qwen2.5vl:7b is orphaned: lab no longer lists it"), "{output}");
    world.once().await.assert_ok();
    let names = world.entry_names();
    assert!(!names.contains(&"llama3.2:3b".to_owned()), "{names:?}");
    assert!(
        !names.contains(&"gpt-4o-mini".to_owned()),
        "the disabled target is not served through its alias: {names:?}"
    );
    assert!(!names.contains(&"gpt-3.5-turbo".to_owned()), "nor an orphaned one: {names:?}");
}

#[tokio::test]
async fn openai_compatible_bases_with_and_without_v1() {
    let world = World::new().await;
    world.openai.set_models(vec![openai_model("local-model")]);
    let mut with_v1 = NewProvider::new("lmstudio", ProviderType::Openai, format!("{}/v1/", world.openai.url()));
    with_v1.prefix = Some("lms".into());
    world.add_provider(with_v1).await;
    world.once().await.assert_ok();
    let entry = world.entry("lms/local-model").expect("entry");
    assert_eq!(entry["litellm_params"]["api_base"], format!("{}/v1", world.openai.url()));
    assert_eq!(world.openai.models_calls(), 1);
}

#[tokio::test]
async fn migrate_creates_the_database_and_its_directory() {
    let world = World::sqlite().await;
    let fresh = world.dir.path().join("nested").join("dir").join("fresh.db");
    let run = world
        .command(&["migrate"])
        .env_remove("DATABASE_URL")
        .env("DATABASE_PATH", &fresh)
        .output()
        .await
        .expect("run");
    let run = support::Run::from(run);
    run.assert_ok();
    let latest = shared::db::SQLITE_MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    assert!(run.stdout.contains(&format!("is at schema version {latest}")), "{}", run.stdout);
    assert!(fresh.exists());
    let db = shared::Database::open(&fresh).await.expect("open");
    assert!(db.schema_status().await.expect("status").is_current());
}

#[tokio::test]
async fn with_no_litellm_configured_a_run_fetches_and_says_so() {
    let (world, _lab) = World::with_lab().await;
    shared::db::config::set_litellm(world.db(), None, None).await.expect("clear");
    let run = world.once().await;
    run.assert_ok();
    assert!(run.stdout.contains("LiteLLM: not configured, nothing pushed"), "{}", run.stdout);
    assert_eq!(world.models().await.len(), 3);
    assert_eq!(world.litellm.info_calls(), 0);

    // The environment seeds an empty configuration.
    let run = world
        .command(&["--once"])
        .env("LITELLM_BASE_URL", world.litellm.url())
        .env("LITELLM_API_KEY", MASTER_KEY)
        .output()
        .await
        .expect("run");
    support::Run::from(run).assert_ok();
    assert_eq!(world.entry_names().len(), 3);
}

#[tokio::test]
async fn keyless_entries_pushed_before_the_placeholder_get_it_by_one_update() {
    let world = World::new().await;
    world.add_openai_provider("llamacpp", &["gemma-3-4b"]).await;
    // What an earlier version pushed: our ownership marker, no key, no key fingerprint.
    let old_id = world.litellm.insert_db_entry(
        "gemma-3-4b",
        json!({"model": "openai/gemma-3-4b", "api_base": format!("{}/v1", world.openai.url()),
               "tags": ["lupdater", "unique_id:llamacpp/gemma-3-4b"]}),
        json!({"managed_by": "litellm-updater", "mode": "chat"}),
    );

    let dry = world.run(&["--dry-run", "--json"]).await;
    dry.assert_ok();
    let report: Value = serde_json::from_str(&dry.stdout).expect("JSON report");
    let operations = report["push"]["plan"]["operations"].as_array().expect("operations");
    assert_eq!(operations.len(), 1, "{operations:?}");
    let op = &operations[0];
    assert_eq!((op["action"].as_str(), op["litellm_id"].as_str()), (Some("update"), Some(old_id.as_str())));
    assert!(op["reason"].as_str().is_some_and(|r| r.contains("placeholder no-key")), "{op}");
    let key_change = op["changes"].as_array().into_iter().flatten().find(|c| c["field"] == "litellm_params.api_key");
    assert_eq!(
        key_change.map(|c| (c["from"].clone(), c["to"].clone())),
        Some((json!("(none)"), json!("no-key (placeholder: the upstream needs no key)")))
    );

    world.once().await.assert_ok();
    assert_eq!(world.litellm_holds().len(), 1, "updated in place, not duplicated");
    assert_eq!(world.litellm.stored_api_key(&old_id).as_deref(), Some("no-key"));
    world.litellm.reset_counters();
    world.once().await.assert_ok();
    assert_eq!(world.litellm.write_calls(), 0, "the placeholder is not a key change at the next push");
}

#[tokio::test]
async fn render_config_is_stable_and_inlines_keys_only_when_asked() {
    let (world, _lab) = World::with_lab().await;
    let mut vllm = NewProvider::new("vllm", ProviderType::Openai, world.openai.url());
    vllm.api_key = Some("sk-vllm-render-key-8812".into());
    world.openai.set_models(vec![openai_model("Qwen/Qwen3-32B")]);
    world.add_provider(vllm).await;
    world.once().await.assert_ok();
    world.litellm.reset_counters();

    let first = world.run(&["render-config"]).await;
    first.assert_ok();
    assert_eq!(world.run(&["render-config"]).await.stdout, first.stdout, "the same file every time");
    assert!(!first.all_output().contains("sk-vllm-render-key"), "{}", first.stdout);
    assert!(first.stdout.contains("api_key: \"os.environ/LUPDATER_VLLM_API_KEY\""), "{}", first.stdout);
    assert_eq!(first.stdout.matches("\n  - model_name: ").count(), world.litellm.entries().len());
    for entry in world.litellm.entries() {
        let id = entry["model_info"]["id"].as_str().unwrap_or_default();
        assert!(first.stdout.contains(&format!("      id: \"{id}\"\n")), "{id} missing");
    }
    assert_eq!(world.litellm.info_calls() + world.litellm.write_calls(), 0, "LiteLLM is not contacted");

    let path = world.dir.path().join("litellm").join("config.yaml");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let output = path.to_str().expect("utf-8 path");
    world.run(&["render-config", "--inline-secrets", "--output", output]).await.assert_ok();
    let written = std::fs::read_to_string(&path).expect("written");
    assert!(written.contains("api_key: \"sk-vllm-render-key-8812\""));
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a file holding keys is the owner's alone");
}

#[tokio::test]
async fn a_model_list_slower_than_the_request_timeout_still_pushes() {
    let (world, _lab) = World::with_lab().await;
    // LiteLLM lists 5,000 deployments in ~54 s while each write takes well under a second.
    world.litellm.set_list_latency(std::time::Duration::from_secs(4));
    let run = world.run(&["--once", "--request-timeout-seconds", "3", "--litellm-list-timeout-seconds", "10"]).await;
    run.assert_ok();
    assert_eq!(world.entry_names().len(), 3);
    let short = world.run(&["--once", "--request-timeout-seconds", "3", "--litellm-list-timeout-seconds", "3"]).await;
    short.assert_failed();
    assert!(short.all_output().contains("did not answer within 3 s"), "{}", short.all_output());
}
