use serde_json::{Value, json};

use super::*;
use crate::desired::{self, DeploymentKey, DesiredState, PLACEHOLDER_API_KEY};
use crate::model::Model;
use crate::provider::Provider;
use crate::secret::Secret;
use crate::testing::{config, id_generator, model, provider};
use crate::types::{OllamaMode, ProviderType};

/// What `GET /model/info` shows for a deployment LiteLLM stored from `deployment`: decrypted
/// params without the key, extra null fields, integers as floats, `db_model: true`.
fn as_litellm_shows(deployment: &desired::Deployment) -> Value {
    let mut info = deployment.model_info.clone();
    info.insert("id".into(), deployment.litellm_id.clone().into());
    info.insert("db_model".into(), true.into());
    info.insert("input_cost_per_token".into(), Value::Null);
    info.insert("litellm_provider".into(), "ollama_chat".into());
    if let Some(Value::Number(n)) = info.get("max_tokens").cloned() {
        info.insert("max_tokens".into(), json!(n.as_f64()));
    }
    json!({"model_name": deployment.model_name, "litellm_params": deployment.litellm_params, "model_info": info})
}

fn state(models: &[Model]) -> DesiredState {
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    desired::build(&config(), &[lab], models, &Default::default(), &mut id_generator())
}

fn lab_model(id: i64, name: &str, litellm_id: Option<&str>) -> Model {
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    Model {
        litellm_model_id: litellm_id.map(str::to_owned),
        ..model(id, &lab, name, json!({"capabilities": ["completion"], "details": {"context_length": 8192}}))
    }
}

fn summary(plan: &Plan) -> Vec<(Action, &str, &str)> {
    plan.operations.iter().map(|op| (op.action, op.litellm_id.as_str(), op.reason.as_str())).collect()
}

#[test]
fn first_push_creates_and_leaves_others_alone() {
    let desired = state(&[lab_model(1, "a:1b", None), lab_model(2, "b:1b", None)]);
    let config_entry = json!({"model_name": "a:1b", "litellm_params": {"model": "openai/a"},
                              "model_info": {"id": "cfg", "db_model": false, "managed_by": "litellm-updater"}});
    let foreign = json!({"model_name": "b:1b", "litellm_params": {"model": "openai/b", "tags": ["unique_id:lab/b:1b"]},
                         "model_info": {"id": "theirs", "db_model": true}});
    let plan = compute(desired.clone(), &[config_entry, foreign]);
    assert_eq!(
        summary(&plan),
        vec![
            (Action::Create, "new-1", "lab/a:1b is not in LiteLLM"),
            (Action::Create, "new-2", "lab/b:1b is not in LiteLLM")
        ]
    );
    assert_eq!((plan.config_entries, plan.foreign_entries), (1, 1));
    let stored: Vec<(i64, &str)> = plan.ids_to_store.iter().map(|s| (s.model_row_id, s.litellm_id.as_str())).collect();
    assert_eq!(stored, vec![(1, "new-1"), (2, "new-2")]);
    let body = &plan.operations[0].body;
    assert_eq!(body["model_info"]["id"], json!("new-1"));
    assert_eq!(body["model_info"]["managed_by"], json!("litellm-updater"));
    assert_eq!(body["litellm_params"]["model"], json!("ollama_chat/a:1b"));
}

#[test]
fn nothing_changed_means_no_operations() {
    let desired = state(&[lab_model(1, "a:1b", Some("id-a")), lab_model(2, "b:1b", Some("id-b"))]);
    let actual: Vec<Value> = desired.deployments.iter().map(as_litellm_shows).collect();
    let plan = compute(desired.clone(), &actual);
    assert!(plan.is_empty(), "{:?}", summary(&plan));
    assert_eq!((plan.unchanged, plan.adopted), (2, 0));
    assert!(plan.ids_to_store.is_empty());
}

#[test]
fn drift_is_patched_field_by_field_keeping_the_id() {
    let desired = state(&[lab_model(1, "a:1b", Some("id-a"))]);
    let mut actual = as_litellm_shows(&desired.deployments[0]);
    actual["litellm_params"]["api_base"] = json!("http://old-host:11434");
    actual["model_info"]["max_input_tokens"] = json!(4096);
    actual["model_info"]["supports_vision"] = Value::Null;
    let plan = compute(desired.clone(), &[actual]);
    assert_eq!(plan.operations.len(), 1);
    let op = &plan.operations[0];
    assert_eq!((op.action, op.litellm_id.as_str()), (Action::Update, "id-a"));
    assert_eq!(
        op.body,
        json!({"litellm_params": {"api_base": "http://gpu:11434"},
               "model_info": {"max_input_tokens": 8192, "supports_vision": false}})
    );
    assert_eq!(op.reason, "drifted: litellm_params.api_base, model_info.max_input_tokens, model_info.supports_vision");
    assert_eq!(
        op.changes[0],
        Change {
            field: "litellm_params.api_base".into(),
            from: json!("http://old-host:11434"),
            to: json!("http://gpu:11434")
        }
    );
}

#[test]
fn owned_entries_without_a_desired_model_are_deleted_with_a_reason() {
    let orphan = Model { is_orphaned: true, ..lab_model(1, "gone:1b", Some("id-gone")) };
    let desired = state(&[orphan, lab_model(2, "kept:1b", Some("id-kept"))]);
    let kept = as_litellm_shows(&desired.deployments[0]);
    let owned = |id: &str, key: &str| {
        json!({"model_name": key, "litellm_params": {"tags": ["lupdater", format!("unique_id:{key}")]},
               "model_info": {"id": id, "db_model": true, "managed_by": "litellm-updater"}})
    };
    let plan = compute(desired.clone(), &[kept, owned("id-gone", "lab/gone:1b"), owned("id-x", "deleted-provider/x")]);
    assert_eq!(
        summary(&plan),
        vec![
            (Action::Delete, "id-x", "its model or provider is no longer in litellm-updater's database"),
            (Action::Delete, "id-gone", "orphaned: lab no longer lists it"),
        ]
    );
    assert_eq!(plan.operations[1].provider_id, Some(1));
    assert_eq!(plan.operations[0].provider_id, None);
}

#[test]
fn a_second_entry_for_one_model_is_deleted_as_a_duplicate() {
    let desired = state(&[lab_model(1, "a:1b", Some("id-a"))]);
    let original = as_litellm_shows(&desired.deployments[0]);
    let mut copy = original.clone();
    copy["model_info"]["id"] = json!("id-copy");
    let plan = compute(desired.clone(), &[copy, original]);
    assert_eq!(summary(&plan), vec![(Action::DeleteDuplicate, "id-copy", "a second LiteLLM entry for lab/a:1b")]);
    assert_eq!(plan.unchanged, 1);
}

#[test]
fn python_tool_entries_are_adopted_not_duplicated() {
    let desired = state(&[lab_model(1, "a:1b", None)]);
    let python = json!({
        "model_name": "a:1b",
        "litellm_params": {"model": "ollama_chat/a:1b", "api_base": "http://gpu:11434",
                           "tags": ["lab", "unique_id:lab/a:1b"]},
        "model_info": {"id": "py-uuid", "db_model": true, "created_by": "updater", "mode": "chat"}
    });
    let plan = compute(desired.clone(), &[python]);
    assert_eq!(plan.adopted, 1);
    assert_eq!(plan.ids_to_store, vec![IdToStore { provider_id: 1, model_row_id: 1, litellm_id: "py-uuid".into() }]);
    assert_eq!(plan.count(Action::Create), 0);
    let op = &plan.operations[0];
    assert_eq!((op.action, op.litellm_id.as_str()), (Action::Update, "py-uuid"));
    assert_eq!(op.body["model_info"]["managed_by"], json!("litellm-updater"));
    assert!(op.body["litellm_params"]["tags"].as_array().is_some_and(|t| t.contains(&json!("lupdater"))));

    // Someone else's entry with the same tag but no `created_by: updater` is not ours.
    let mut theirs = plan.operations[0].body.clone();
    theirs = json!({"model_name": "a:1b", "litellm_params": {"tags": ["unique_id:lab/a:1b"]},
                    "model_info": {"id": "x", "db_model": true, "created_by": "alice"}, "_": theirs});
    let plan = compute(desired.clone(), &[theirs]);
    assert_eq!((plan.foreign_entries, plan.count(Action::Create)), (1, 1));
}

#[test]
fn a_new_api_key_is_sent_but_never_shown() {
    let mut cloud = provider(1, "cloud", ProviderType::Ollama, "https://ollama.com");
    cloud.api_key = Some(Secret::new("sk-old-key-000000"));
    let m = Model { litellm_model_id: Some("id-a".into()), ..model(1, &cloud, "gpt-oss:120b", json!({})) };
    let before = desired::build(
        &config(),
        std::slice::from_ref(&cloud),
        std::slice::from_ref(&m),
        &Default::default(),
        &mut id_generator(),
    );
    let actual = as_litellm_shows(&before.deployments[0]);
    assert!(compute(before.clone(), std::slice::from_ref(&actual)).is_empty());

    cloud.api_key = Some(Secret::new("sk-new-key-111111"));
    let after = desired::build(&config(), &[cloud], &[m], &Default::default(), &mut id_generator());
    let plan = compute(after, &[actual]);
    let op = &plan.operations[0];
    assert_eq!(op.action, Action::Update);
    assert_eq!(op.api_key.as_ref().map(DeploymentKey::value), Some("sk-new-key-111111"));
    assert!(op.body["litellm_params"].is_object());
    let shown = serde_json::to_string(&plan).unwrap_or_default();
    assert!(!shown.contains("sk-new-key") && !shown.contains("sk-old-key"), "{shown}");
    assert!(shown.contains("litellm_params.api_key"));
}

#[test]
fn scoped_plans_keep_only_their_operations() {
    let desired = state(&[lab_model(1, "a:1b", None), lab_model(2, "b:1b", None)]);
    let mut plan = compute(desired.clone(), &[]);
    plan.retain(Scope::Model(2));
    assert_eq!(summary(&plan), vec![(Action::Create, "new-2", "lab/b:1b is not in LiteLLM")]);
    assert_eq!(plan.ids_to_store.len(), 1);
    let mut plan = compute(desired.clone(), &[]);
    plan.retain(Scope::Provider(99));
    assert!(plan.is_empty() && plan.ids_to_store.is_empty());
}

#[test]
fn numbers_compare_by_value() {
    assert!(same(&json!(128000), &json!(128000.0)));
    assert!(same(&json!({"a": [1, 2.0]}), &json!({"a": [1.0, 2]})));
    assert!(!same(&json!(1), &json!("1")));
    assert!(!same(&json!([1]), &json!([1, 2])));
    assert!(same(&json!(1e-7), &json!(0.0000001)));
}

#[test]
fn a_removed_param_or_key_recreates_the_entry_with_the_same_id() {
    let mut cloud = provider(1, "cloud", ProviderType::Ollama, "https://ollama.com");
    cloud.api_key = Some(Secret::new("sk-cloud-key-000000"));
    let with_rpm = Model {
        litellm_model_id: Some("id-a".into()),
        user_params: Some(crate::testing::object(json!({"rpm": 60}))),
        ..model(1, &cloud, "gpt-oss:120b", json!({}))
    };
    let before = desired::build(
        &config(),
        std::slice::from_ref(&cloud),
        std::slice::from_ref(&with_rpm),
        &Default::default(),
        &mut id_generator(),
    );
    let actual = as_litellm_shows(&before.deployments[0]);
    assert_eq!(actual["model_info"]["lupdater_params"].as_array().map(|k| k.contains(&json!("rpm"))), Some(true));

    let without_rpm = Model { user_params: None, ..with_rpm.clone() };
    let after = desired::build(
        &config(),
        std::slice::from_ref(&cloud),
        std::slice::from_ref(&without_rpm),
        &Default::default(),
        &mut id_generator(),
    );
    let plan = compute(after.clone(), std::slice::from_ref(&actual));
    assert_eq!(
        summary(&plan),
        vec![(Action::Replace, "id-a", "no longer set: litellm_params.rpm (recreated with the same id)")]
    );
    let op = &plan.operations[0];
    assert_eq!(op.body["model_info"]["id"], json!("id-a"));
    assert!(op.body["litellm_params"].get("rpm").is_none());
    assert_eq!(op.api_key.as_ref().map(DeploymentKey::value), Some("sk-cloud-key-000000"), "the create sends the key");

    // Whatever else differs is listed in the replace too, from -> to.
    let mut drifted = actual.clone();
    drifted["litellm_params"]["model"] = json!("ollama_chat/something-else");
    let wanted_model = after.deployments[0].litellm_params["model"].clone();
    let plan = compute(after, std::slice::from_ref(&drifted));
    let changes: Vec<(&str, &Value, &Value)> =
        plan.operations[0].changes.iter().map(|c| (c.field.as_str(), &c.from, &c.to)).collect();
    assert_eq!(plan.operations[0].action, Action::Replace);
    assert!(changes.contains(&("litellm_params.rpm", &json!("(set)"), &Value::Null)), "{changes:?}");
    assert!(
        changes.contains(&("litellm_params.model", &json!("ollama_chat/something-else"), &wanted_model)),
        "{changes:?}"
    );
    assert_eq!(changes.iter().filter(|c| c.0 == "litellm_params.rpm").count(), 1, "{changes:?}");

    cloud.api_key = None;
    let keyless = desired::build(
        &config(),
        std::slice::from_ref(&cloud),
        std::slice::from_ref(&with_rpm),
        &Default::default(),
        &mut id_generator(),
    );
    let plan = compute(keyless, std::slice::from_ref(&actual));
    assert_eq!(
        summary(&plan),
        vec![(Action::Replace, "id-a", "no longer set: litellm_params.api_key (recreated with the same id)")]
    );
    assert!(plan.operations[0].api_key.is_none());
}

/// A provider of `kind` at `url`, without a key, and one model of it already in LiteLLM as
/// `litellm_id` the way a keyless deployment was pushed before the placeholder existed.
fn keyless_entry_from_before(kind: ProviderType, mode: Option<OllamaMode>) -> (Provider, Model, Value) {
    let mut server = provider(1, "local", kind, "http://gpu:8080");
    if let Some(mode) = mode {
        server.default_ollama_mode = mode;
    }
    let m = Model { litellm_model_id: Some("id-a".into()), ..model(1, &server, "qwen3:8b", json!({})) };
    let now = desired::build(
        &config(),
        std::slice::from_ref(&server),
        std::slice::from_ref(&m),
        &Default::default(),
        &mut id_generator(),
    );
    let mut before = as_litellm_shows(&now.deployments[0]);
    if let Some(info) = before["model_info"].as_object_mut() {
        info.remove(KEY_FINGERPRINT);
    }
    (server, m, before)
}

#[test]
fn keyless_openai_style_deployments_carry_the_placeholder_key() {
    // (provider type, Ollama mode, whether LiteLLM needs some key to call it)
    let cases = [
        (ProviderType::Openai, None, true),
        (ProviderType::Ollama, Some(OllamaMode::Openai), true),
        (ProviderType::Ollama, Some(OllamaMode::OllamaChat), false),
        (ProviderType::Ollama, Some(OllamaMode::Ollama), false),
    ];
    for (kind, mode, needs_key) in cases {
        let (server, m, _) = keyless_entry_from_before(kind, mode);
        let desired = desired::build(
            &config(),
            &[server],
            &[Model { litellm_model_id: None, ..m }],
            &Default::default(),
            &mut id_generator(),
        );
        let plan = compute(desired, &[]);
        let op = &plan.operations[0];
        let key = op.api_key.as_ref().map(DeploymentKey::value);
        assert_eq!(key, needs_key.then_some(PLACEHOLDER_API_KEY), "{kind:?} {mode:?}");
        assert_eq!(op.body["model_info"][KEY_FINGERPRINT].is_string(), needs_key, "{kind:?} {mode:?}");
        assert!(op.body["litellm_params"].get("api_key").is_none(), "the key travels beside the body");
    }
}

#[test]
fn entries_pushed_without_a_key_get_the_placeholder_by_a_patch() {
    let (server, m, before) = keyless_entry_from_before(ProviderType::Openai, None);
    let desired = desired::build(&config(), &[server], &[m], &Default::default(), &mut id_generator());
    let plan = compute(desired, std::slice::from_ref(&before));
    let op = &plan.operations[0];
    assert_eq!(op.action, Action::Update);
    assert!(op.reason.contains("placeholder no-key"), "{}", op.reason);
    assert_eq!(op.api_key.as_ref().map(DeploymentKey::value), Some(PLACEHOLDER_API_KEY));
    assert_eq!(
        op.changes,
        vec![Change {
            field: "litellm_params.api_key".into(),
            from: "(none)".into(),
            to: "no-key (placeholder: the upstream needs no key)".into()
        }]
    );

    // Once LiteLLM holds it, nothing more to do: the placeholder is not a key change.
    let mut after = before;
    after["model_info"][KEY_FINGERPRINT] = op.body["model_info"][KEY_FINGERPRINT].clone();
    let (server, m, _) = keyless_entry_from_before(ProviderType::Openai, None);
    let desired = desired::build(&config(), &[server], &[m], &Default::default(), &mut id_generator());
    assert!(compute(desired, &[after]).is_empty());
}

#[test]
fn switching_between_a_real_key_and_the_placeholder_patches_the_key() {
    let (mut server, m, _) = keyless_entry_from_before(ProviderType::Openai, None);
    let placeholder = desired::build(
        &config(),
        std::slice::from_ref(&server),
        std::slice::from_ref(&m),
        &Default::default(),
        &mut id_generator(),
    );
    let held_placeholder = as_litellm_shows(&placeholder.deployments[0]);

    server.api_key = Some(Secret::new("sk-vllm-key-123456"));
    let keyed = desired::build(
        &config(),
        std::slice::from_ref(&server),
        std::slice::from_ref(&m),
        &Default::default(),
        &mut id_generator(),
    );
    let held_keyed = as_litellm_shows(&keyed.deployments[0]);
    let plan = compute(keyed, &[held_placeholder]);
    let op = &plan.operations[0];
    assert_eq!(
        (op.action, op.api_key.as_ref().map(DeploymentKey::value)),
        (Action::Update, Some("sk-vllm-key-123456"))
    );
    assert_eq!(
        (op.changes[0].from.clone(), op.changes[0].to.clone()),
        (json!("no-key (placeholder)"), json!("(new key)"))
    );

    server.api_key = None;
    let keyless = desired::build(&config(), &[server], &[m], &Default::default(), &mut id_generator());
    let plan = compute(keyless, &[held_keyed]);
    let op = &plan.operations[0];
    assert_eq!((op.action, op.api_key.as_ref().map(DeploymentKey::value)), (Action::Update, Some(PLACEHOLDER_API_KEY)));
    let shown = serde_json::to_string(&plan).unwrap_or_default();
    assert!(!shown.contains("sk-vllm-key"), "{shown}");
}

#[test]
fn an_entry_listed_twice_with_the_same_id_is_one_entry_never_deleted() {
    // (what LiteLLM lists, the operations expected): the same id twice is one entry, whatever
    // else holds; a copy under another id is still a duplicate.
    let desired = state(&[lab_model(1, "a:1b", Some("id-a")), lab_model(2, "gone:1b", None)]);
    let original = as_litellm_shows(&desired.deployments[0]);
    let mut other_id = original.clone();
    other_id["model_info"]["id"] = json!("id-copy");
    let orphan = json!({"model_name": "x", "litellm_params": {"tags": ["lupdater", "unique_id:lab/x"]},
                        "model_info": {"id": "id-x", "db_model": true, "managed_by": "litellm-updater"}});
    type Case<'a> = (Vec<Value>, Vec<(Action, &'a str)>);
    let cases: Vec<Case> = vec![
        (vec![original.clone(), original.clone()], vec![(Action::Create, "new-1")]),
        (vec![original.clone(), original.clone(), original.clone()], vec![(Action::Create, "new-1")]),
        (
            vec![original.clone(), other_id.clone(), original.clone()],
            vec![(Action::DeleteDuplicate, "id-copy"), (Action::Create, "new-1")],
        ),
        (
            vec![other_id.clone(), other_id.clone(), original.clone()],
            vec![(Action::DeleteDuplicate, "id-copy"), (Action::Create, "new-1")],
        ),
        // An owned entry nothing wants, listed twice: one delete, not two.
        (
            vec![original.clone(), orphan.clone(), orphan.clone()],
            vec![(Action::Delete, "id-x"), (Action::Create, "new-1")],
        ),
    ];
    for (actual, expected) in cases {
        let plan = compute(desired.clone(), &actual);
        let got: Vec<(Action, &str)> = plan.operations.iter().map(|op| (op.action, op.litellm_id.as_str())).collect();
        assert_eq!(got, expected, "{actual:?}");
        assert_eq!(plan.unchanged, 1);
    }
}

#[test]
fn ownership_follows_the_installation_id() {
    let marked = |installation: Option<&str>, managed: bool, python: bool| {
        let mut info = json!({"id": "e", "db_model": true});
        if managed {
            info["managed_by"] = json!("litellm-updater");
        }
        if python {
            info["created_by"] = json!("updater");
        }
        if let Some(id) = installation {
            info["managed_by_installation"] = json!(id);
        }
        json!({"model_name": "m", "litellm_params": {"tags": ["unique_id:lab/m"]}, "model_info": info})
    };
    // (entry's installation, our marker, Python tool's marker, our installation, owned?)
    let cases = [
        (Some("ours"), true, false, Some("ours"), true),
        (Some("theirs"), true, false, Some("ours"), false),
        (None, true, false, Some("ours"), true), // pushed before installation ids: adopted
        (None, false, true, Some("ours"), true), // the Python tool's: adopted
        (Some("theirs"), false, true, Some("ours"), false), // adopted by another installation
        (Some("theirs"), true, false, None, false),
        (None, true, false, None, true),
        (None, false, false, Some("ours"), false),
    ];
    for (stamped, managed, python, ours, owned) in cases {
        let entry = marked(stamped, managed, python);
        assert_eq!(is_owned(&entry, ours), owned, "{stamped:?} managed={managed} python={python} ours={ours:?}");
    }
}

#[test]
fn entries_without_our_installation_id_are_stamped_and_others_left_alone() {
    let mut config = config();
    config.installation_id = Some("inst-a".into());
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    let desired = desired::build(
        &config,
        std::slice::from_ref(&lab),
        &[lab_model(1, "a:1b", Some("id-a"))],
        &Default::default(),
        &mut id_generator(),
    );
    assert_eq!(desired.deployments[0].model_info["managed_by_installation"], json!("inst-a"));
    let mut before_ids = as_litellm_shows(&desired.deployments[0]);
    if let Some(info) = before_ids["model_info"].as_object_mut() {
        info.remove("managed_by_installation");
    }
    let mut theirs = as_litellm_shows(&desired.deployments[0]);
    theirs["model_info"]["id"] = json!("id-b");
    theirs["model_info"]["managed_by_installation"] = json!("inst-b");
    let plan = compute(desired, &[before_ids, theirs]);
    assert_eq!(summary(&plan), vec![(Action::Update, "id-a", "drifted: model_info.managed_by_installation")]);
    assert_eq!(plan.foreign_entries, 1);
}

fn pool_routing(litellm_id: Option<&str>) -> crate::routing::Routing {
    crate::routing::Routing {
        groups: vec![crate::routing::Group {
            id: 7,
            name: "pool".into(),
            description: None,
            capabilities: vec![],
            auto_context_fallback: false,
            targets: vec![crate::routing::Target {
                id: 70,
                provider_id: 1,
                model_id: "a:1b".into(),
                weight: 2,
                priority: 1,
                enabled: true,
                litellm_model_id: litellm_id.map(str::to_owned),
            }],
        }],
        fallbacks: vec![],
    }
}

fn group_state(litellm_id: Option<&str>) -> DesiredState {
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    desired::build(
        &config(),
        &[lab],
        &[lab_model(1, "a:1b", Some("id-a"))],
        &pool_routing(litellm_id),
        &mut id_generator(),
    )
}

#[test]
fn a_group_target_is_created_then_unchanged_and_its_id_goes_to_the_target() {
    let desired = group_state(None);
    let model_entry = as_litellm_shows(&desired.deployments[0]);
    let plan = compute(desired.clone(), std::slice::from_ref(&model_entry));
    assert_eq!(summary(&plan), vec![(Action::Create, "new-1", "route:pool/lab/a:1b is not in LiteLLM")]);
    assert_eq!(plan.operations[0].model_name, "pool");
    assert_eq!(plan.operations[0].model_row_id, None, "a per-model push leaves group entries alone");
    assert!(plan.ids_to_store.is_empty());
    assert_eq!(
        plan.route_ids_to_store,
        vec![RouteIdToStore { provider_id: 1, route_target_id: 70, litellm_id: "new-1".into() }]
    );

    let stored = group_state(Some("new-1"));
    let actual: Vec<Value> = stored.deployments.iter().map(as_litellm_shows).collect();
    let again = compute(stored, &actual);
    assert!(again.is_empty(), "{:?}", summary(&again));
    assert_eq!(again.unchanged, 2);
}

#[test]
fn a_per_provider_push_keeps_only_that_providers_group_entries() {
    let mut plan = compute(group_state(None), &[]);
    plan.retain(Scope::Provider(2));
    assert!(plan.is_empty() && plan.route_ids_to_store.is_empty());
    let mut plan = compute(group_state(None), &[]);
    plan.retain(Scope::Provider(1));
    assert_eq!(plan.count(Action::Create), 2);
    assert_eq!(plan.route_ids_to_store.len(), 1);
}

#[test]
fn the_python_tools_group_deployment_is_adopted_not_duplicated() {
    let desired = group_state(None);
    let model_entry = as_litellm_shows(&desired.deployments[0]);
    let mut python = as_litellm_shows(&desired.deployments[1]);
    python["model_info"] = json!({"id": "py-group-1", "db_model": true, "created_by": "routing_group"});
    python["litellm_params"]["tags"] =
        json!(["lupdater", "provider:lab", "type:ollama", "model:a:1b", "routing_group:pool"]);
    let second = {
        let mut copy = python.clone();
        copy["model_info"]["id"] = json!("py-group-2");
        copy
    };
    let stranger = json!({"model_name": "pool", "litellm_params": {"model": "openai/x", "tags": ["routing_group:pool"]},
                          "model_info": {"id": "someone-else", "db_model": true}});
    let plan = compute(desired, &[model_entry, python, second, stranger]);
    assert_eq!(plan.adopted, 1);
    assert_eq!(plan.route_ids_to_store.first().map(|s| s.litellm_id.as_str()), Some("py-group-1"));
    assert_eq!(plan.foreign_entries, 1, "an entry without the Python tool's marker stays foreign");
    let actions: Vec<(Action, &str)> = plan.operations.iter().map(|op| (op.action, op.litellm_id.as_str())).collect();
    assert_eq!(actions.iter().filter(|(a, _)| *a == Action::Create).count(), 0, "no second copy: {actions:?}");
    assert!(actions.contains(&(Action::DeleteDuplicate, "py-group-2")), "{actions:?}");
    assert!(actions.contains(&(Action::Update, "py-group-1")), "stamped as ours: {actions:?}");
}

#[test]
fn a_disabled_target_the_python_tool_served_is_removed_with_its_reason() {
    let mut routing = pool_routing(None);
    routing.groups[0].targets[0].enabled = false;
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    let desired =
        desired::build(&config(), &[lab], &[lab_model(1, "a:1b", Some("id-a"))], &routing, &mut id_generator());
    let python = json!({"model_name": "pool",
        "litellm_params": {"model": "ollama_chat/a:1b", "tags": ["provider:lab", "model:a:1b", "routing_group:pool"]},
        "model_info": {"id": "py-disabled", "db_model": true, "created_by": "routing_group"}});
    let model_entry = as_litellm_shows(&desired.deployments[0]);
    let plan = compute(desired, &[model_entry, python]);
    assert_eq!(summary(&plan), vec![(Action::Delete, "py-disabled", "target disabled in routing group pool")]);
    assert_eq!(plan.operations[0].provider_id, Some(1));
}

/// The plan as a stored plan job holds it: bodies spent, JSON round trip.
fn stored(plan: &Plan) -> Vec<Operation> {
    let mut operations = plan.operations.clone();
    operations.iter_mut().for_each(Operation::spend_body);
    serde_json::from_value(serde_json::to_value(&operations).expect("serialise")).expect("parse")
}

#[test]
fn an_applied_plan_is_compared_by_what_each_operation_writes() {
    let models = [lab_model(1, "a:1b", None), lab_model(2, "b:1b", Some("lu-b")), lab_model(3, "c:1b", Some("lu-c"))];
    let base = state(&models);
    let mut drifted = as_litellm_shows(&base.deployments[1]);
    drifted["model_info"]["max_input_tokens"] = json!(4096);
    let actual = vec![drifted, as_litellm_shows(&base.deployments[2])];
    let plan = compute(state(&models), &actual);
    assert_eq!(plan.operations.iter().map(|op| op.action).collect::<Vec<_>>(), vec![Action::Update, Action::Create]);
    let shown = stored(&plan);
    assert!(shown.iter().all(|op| op.body.is_null() && op.digest.is_some()), "bodies are spent, digests kept");

    let mut tagged = models.clone();
    tagged[0].user_tags = Some(vec!["team".into()]);
    let mut renamed = actual.clone();
    renamed[1]["model_name"] = json!("c-old");
    let mut drifted_otherwise = actual.clone();
    drifted_otherwise[0]["model_info"]["max_input_tokens"] = json!(2048);
    let table: Vec<(&str, Vec<Operation>, usize)> = vec![
        ("the same state", compute(state(&models), &actual).operations, 0),
        ("the same state, stored too", stored(&compute(state(&models), &actual)), 0),
        ("an entry deleted in LiteLLM: one more create", compute(state(&models), &actual[..1]).operations, 1),
        (
            "a create that would send other tags: its changes list nothing",
            compute(state(&tagged), &actual).operations,
            2,
        ),
        (
            "the update no longer needed",
            compute(state(&models), &[as_litellm_shows(&base.deployments[1]), actual[1].clone()]).operations,
            1,
        ),
        ("an update from another value", compute(state(&models), &drifted_otherwise).operations, 2),
        ("another update besides", compute(state(&models), &renamed).operations, 1),
        ("applied already: nothing left", Vec::new(), 2),
    ];
    for (case, fresh, expected) in table {
        assert_eq!(differing(&shown, &fresh), expected, "{case}");
    }

    // The set an apply sends from gives each operation once.
    let mut set = OperationSet::of(&shown);
    let fresh = compute(state(&models), &actual).operations;
    assert!(fresh.iter().all(|op| set.take(op)));
    assert!(!set.take(&fresh[0]), "an operation is sent once");
    assert_eq!(set.remaining(), 0);
}

#[test]
fn a_body_digest_ignores_key_order_but_not_values() {
    let a = json!({"model_name": "m", "litellm_params": {"model": "x", "tags": ["a", "b"]}});
    let b = json!({"litellm_params": {"tags": ["a", "b"], "model": "x"}, "model_name": "m"});
    assert_eq!(body_digest(&a), body_digest(&b));
    for other in [
        json!({"model_name": "m", "litellm_params": {"model": "x", "tags": ["b", "a"]}}),
        json!({"model_name": "m", "litellm_params": {"model": "y", "tags": ["a", "b"]}}),
        json!({"model_name": "m", "litellm_params": {"model": "x", "tags": ["a", "b"], "rpm": 1}}),
    ] {
        assert_ne!(body_digest(&a), body_digest(&other), "{other}");
    }
}
