use serde_json::json;

use super::*;
use crate::secret::Secret;
use crate::testing::{alias, config, id_generator, model, object, provider};
use crate::types::{OllamaMode, Pricing, ProviderType};

fn only(state: &DesiredState) -> &Deployment {
    assert_eq!(state.deployments.len(), 1, "excluded: {:?}", state.excluded);
    &state.deployments[0]
}

#[test]
fn connection_per_provider_type_and_ollama_mode() {
    let ollama = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434/");
    let chat = model(10, &ollama, "qwen3:8b", json!({"capabilities": ["completion", "tools"]}));
    let embed = model(11, &ollama, "nomic-embed-text", json!({"capabilities": ["embedding"]}));
    let generate = Model { ollama_mode: Some(OllamaMode::Ollama), ..chat.clone() };
    let via_openai = Model { ollama_mode: Some(OllamaMode::Openai), ..chat.clone() };
    let vllm = provider(2, "vllm", ProviderType::Openai, "http://vllm:8000");
    let vllm_model = model(20, &vllm, "Qwen/Qwen3-32B", json!({"max_model_len": 32768}));
    let hosted = provider(3, "hosted", ProviderType::Openai, "https://api.example.com/v1");
    let hosted_model = model(30, &hosted, "gpt-4o", json!({}));

    let cases = [
        (&ollama, &chat, "ollama_chat/qwen3:8b", "http://gpu:11434"),
        (&ollama, &embed, "ollama/nomic-embed-text", "http://gpu:11434"),
        (&ollama, &generate, "ollama/qwen3:8b", "http://gpu:11434"),
        (&ollama, &via_openai, "openai/qwen3:8b", "http://gpu:11434/v1"),
        (&vllm, &vllm_model, "openai/Qwen/Qwen3-32B", "http://vllm:8000/v1"),
        (&hosted, &hosted_model, "openai/gpt-4o", "https://api.example.com/v1"),
    ];
    for (provider, model, expected_model, expected_base) in cases {
        let state = build(
            &config(),
            std::slice::from_ref(provider),
            std::slice::from_ref(model),
            &Default::default(),
            &mut id_generator(),
        );
        let deployment = only(&state);
        assert_eq!(deployment.litellm_params["model"], json!(expected_model), "{}", model.model_id);
        assert_eq!(deployment.litellm_params["api_base"], json!(expected_base), "{}", model.model_id);
    }
}

#[test]
fn a_chat_model_in_full() {
    let mut lab = provider(1, "Lab", ProviderType::Ollama, "http://gpu:11434");
    lab.prefix = Some("lab".into());
    lab.tags = vec!["GPU Box".into()];
    lab.access_groups = vec!["local".into()];
    let raw = json!({"capabilities": ["completion", "vision"],
                     "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 40960}});
    let model = Model { user_tags: Some(vec!["favourite".into()]), ..model(7, &lab, "qwq:32b", raw) };
    let state = build(&config(), &[lab], &[model], &Default::default(), &mut id_generator());
    let d = only(&state);
    assert_eq!(d.model_name, "lab/qwq:32b");
    assert_eq!(d.key, "lab/qwq:32b");
    assert_eq!(d.litellm_id, "new-1");
    assert!(d.id_is_new);
    assert_eq!(
        Value::Object(d.litellm_params.clone()),
        json!({
            "model": "ollama_chat/qwq:32b",
            "api_base": "http://gpu:11434",
            "tags": ["lupdater", "provider:lab", "type:ollama", "model:qwq:32b", "unique_id:lab/qwq:32b",
                     "mode:chat", "model_type:chat", "capability:completion", "capability:vision",
                     "gpu-box", "favourite"],
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
        })
    );
    assert_eq!(
        Value::Object(d.model_info.clone()),
        json!({
            "mode": "chat", "max_tokens": 40960, "max_input_tokens": 40960,
            "supports_vision": true, "supports_function_calling": false, "supports_tool_choice": false,
            "supports_reasoning": false, "supports_audio_input": false, "supports_fill_in_middle": false,
            "access_groups": ["local"], "managed_by": "litellm-updater",
            "lupdater_params": ["api_base", "input_cost_per_token", "model", "output_cost_per_token", "tags"],
        })
    );
}

#[test]
fn what_is_left_out_and_why() {
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    let off = Provider { sync_enabled: false, ..provider(2, "off", ProviderType::Ollama, "http://x:11434") };
    let filtered =
        Provider { model_filter_exclude: Some("embed".into()), ..provider(3, "f", ProviderType::Ollama, "http://y") };
    let included =
        Provider { model_filter: Some("Llama, qwen".into()), ..provider(4, "only", ProviderType::Ollama, "http://z") };
    let models = [
        Model { is_orphaned: true, litellm_model_id: Some("old".into()), ..model(1, &lab, "gone:1b", json!({})) },
        Model { sync_enabled: false, ..model(2, &lab, "muted:1b", json!({})) },
        model(3, &off, "any:1b", json!({})),
        model(4, &filtered, "nomic-embed-text", json!({})),
        model(5, &lab, "kept:1b", json!({})),
        model(6, &included, "mistral:7b", json!({})),
    ];
    let state = build(&config(), &[lab, off, filtered, included], &models, &Default::default(), &mut id_generator());
    assert_eq!(only(&state).model_row_id, 5);
    let reasons: Vec<(i64, &str, Option<&str>)> =
        state.excluded.iter().map(|e| (e.model_row_id, e.reason.as_str(), e.litellm_id.as_deref())).collect();
    assert_eq!(
        reasons,
        vec![
            (1, "orphaned: lab no longer lists it", Some("old")),
            (2, "model is disabled", None),
            (3, "provider off is disabled", None),
            (4, "excluded by f's exclude filter term \"embed\"", None),
            (6, "excluded by only's include filter \"llama, qwen\"", None),
        ]
    );
}

#[test]
fn the_operator_wins() {
    let mut hosted = provider(1, "hosted", ProviderType::Openai, "https://api.example.com");
    hosted.access_groups = vec!["provider-group".into()];
    hosted.pricing_override = Some(Pricing { input_cost_per_token: Some(2.0), output_cost_per_token: Some(3.0) });
    let upstream = json!({"input_cost_per_token": 9.0, "output_cost_per_token": 9.0, "max_input_tokens": 1000});
    let model = Model {
        user_params: Some(object(json!({
            "rpm": 60, "max_input_tokens": 64000, "supports_vision": true,
            "litellm_params": {"timeout": 30}, "model_info": {"base_model": "gpt-4o"}
        }))),
        access_groups: Some(vec!["vip".into()]),
        pricing_override: Some(Pricing { input_cost_per_token: Some(1.0), output_cost_per_token: None }),
        ..model(1, &hosted, "gpt-4o", upstream)
    };
    let mut cfg = config();
    cfg.default_pricing = Some(Pricing { input_cost_per_token: Some(7.0), output_cost_per_token: Some(7.0) });
    let state = build(&cfg, &[hosted], &[model], &Default::default(), &mut id_generator());
    let d = only(&state);
    assert_eq!(d.litellm_params["rpm"], json!(60));
    assert_eq!(d.litellm_params["timeout"], json!(30));
    assert_eq!(d.litellm_params["input_cost_per_token"], json!(1.0), "model override first");
    assert_eq!(d.litellm_params["output_cost_per_token"], json!(3.0), "then the provider's");
    assert_eq!(d.model_info["max_input_tokens"], json!(64000));
    assert_eq!(d.model_info["supports_vision"], json!(true));
    assert_eq!(d.model_info["base_model"], json!("gpt-4o"));
    assert_eq!(d.model_info["access_groups"], json!(["vip"]));
}

#[test]
fn pricing_falls_back_to_upstream_then_the_global_default() {
    let hosted = provider(1, "hosted", ProviderType::Openai, "https://api.example.com");
    let declared = model(1, &hosted, "a", json!({"input_cost_per_token": 0.5, "output_cost_per_token": 0.6}));
    let silent = model(2, &hosted, "b", json!({}));
    let mut cfg = config();
    cfg.default_pricing = Some(Pricing { input_cost_per_token: Some(0.1), output_cost_per_token: Some(0.2) });
    let state = build(&cfg, &[hosted], &[declared, silent], &Default::default(), &mut id_generator());
    let costs: Vec<(Value, Value)> = state
        .deployments
        .iter()
        .map(|d| (d.litellm_params["input_cost_per_token"].clone(), d.litellm_params["output_cost_per_token"].clone()))
        .collect();
    assert_eq!(costs, vec![(json!(0.5), json!(0.6)), (json!(0.1), json!(0.2))]);

    let bare = build(
        &config(),
        &[provider(1, "h", ProviderType::Openai, "http://h")],
        &[model(3, &provider(1, "h", ProviderType::Openai, "http://h"), "c", json!({}))],
        &Default::default(),
        &mut id_generator(),
    );
    assert!(!only(&bare).litellm_params.contains_key("input_cost_per_token"));
}

#[test]
fn api_keys_travel_apart_with_a_fingerprint() {
    let mut cloud = provider(1, "cloud", ProviderType::Ollama, "https://ollama.com");
    cloud.api_key = Some(Secret::new("sk-cloud-key-0001"));
    let model = Model {
        user_params: Some(object(json!({"api_key": "sneaky"}))),
        litellm_model_id: Some("kept-id".into()),
        ..model(1, &cloud, "gpt-oss:120b", json!({}))
    };
    let state = build(&config(), &[cloud], &[model], &Default::default(), &mut id_generator());
    let d = only(&state);
    assert!(!d.litellm_params.contains_key("api_key"));
    assert_eq!(d.api_key.as_ref().map(DeploymentKey::value), Some("sk-cloud-key-0001"));
    assert_eq!(d.model_info[KEY_FINGERPRINT], json!(key_fingerprint(&Secret::new("sk-cloud-key-0001"))));
    assert_ne!(d.model_info[KEY_FINGERPRINT], json!(key_fingerprint(&Secret::new("sk-cloud-key-0002"))));
    assert_eq!((d.litellm_id.as_str(), d.id_is_new), ("kept-id", false));
}

#[test]
fn compat_aliases_push_with_their_targets_connection() {
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    let compat = provider(2, "compat_models", ProviderType::Compat, "compat://aliases");
    let target = model(10, &lab, "llama3.2:3b", json!({"capabilities": ["completion", "tools"]}));
    let gone = Model { is_orphaned: true, ..model(11, &lab, "old:1b", json!({})) };
    let muted = Model { sync_enabled: false, ..model(12, &lab, "muted:1b", json!({})) };
    let aliases = [
        alias(20, &compat, "gpt-4o-mini", &target),
        alias(21, &compat, "gpt-3.5-turbo", &gone),
        alias(22, &compat, "gpt-4", &muted),
    ];
    let models = [target.clone(), gone, muted, aliases[0].clone(), aliases[1].clone(), aliases[2].clone()];
    let state = build(&config(), &[lab, compat], &models, &Default::default(), &mut id_generator());

    let names: Vec<&str> = state.deployments.iter().map(|d| d.model_name.as_str()).collect();
    assert_eq!(names, vec!["llama3.2:3b", "gpt-4o-mini"]);
    let alias = &state.deployments[1];
    assert_eq!(alias.key, "compat_models/gpt-4o-mini");
    assert_eq!(alias.provider_name, "compat_models");
    assert_eq!(alias.litellm_params["model"], json!("ollama_chat/llama3.2:3b"));
    assert_eq!(alias.litellm_params["api_base"], json!("http://gpu:11434"));
    assert_eq!(alias.model_info["supports_function_calling"], json!(true));
    let tags = alias.litellm_params["tags"].as_array().cloned().unwrap_or_default();
    assert!(tags.contains(&json!("unique_id:compat_models/gpt-4o-mini")), "{tags:?}");
    assert!(tags.contains(&json!("alias_of:llama3.2:3b")), "{tags:?}");
    assert_eq!(
        state.excluded.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
        vec![
            "orphaned: lab no longer lists it",
            "model is disabled",
            "alias target old:1b is orphaned: lab no longer lists it",
            "alias target muted:1b is disabled",
        ]
    );
}

#[test]
fn the_openai_base_keeps_a_versioned_path_and_adds_v1_otherwise() {
    for (given, base) in [
        ("http://gpu:8000", "http://gpu:8000/v1"),
        ("http://gpu:8000/", "http://gpu:8000/v1"),
        ("http://gpu:8000/v1/", "http://gpu:8000/v1"),
        ("https://host/vllm", "https://host/vllm/v1"),
        ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
        ("https://api.deepinfra.com/v1/openai", "https://api.deepinfra.com/v1/openai"),
        (
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "https://generativelanguage.googleapis.com/v1beta/openai",
        ),
        ("https://api.fireworks.ai/inference/v1", "https://api.fireworks.ai/inference/v1"),
        ("https://host/video/api", "https://host/video/api/v1"),
        ("https://v1.example.com", "https://v1.example.com/v1"),
    ] {
        assert_eq!(openai_base(given), base, "{given}");
    }
}

#[test]
fn pricing_profiles_apply_at_every_level_with_overrides_on_top() {
    let mut hosted = provider(1, "hosted", ProviderType::Openai, "https://api.example.com/v1");
    hosted.pricing_profile = Some("gpt-4o-mini".into());
    let plain = model(10, &hosted, "plain", json!({}));
    let own_input = Model {
        pricing_override: Some(Pricing { input_cost_per_token: Some(2e-6), output_cost_per_token: None }),
        ..model(11, &hosted, "own-input", json!({}))
    };
    let house = Model { pricing_profile: Some("house".into()), ..model(12, &hosted, "house", json!({})) };
    let mut cfg = config();
    cfg.default_pricing_profile = Some("gpt-4.1".into());
    cfg.pricing_profiles =
        vec![pricing::Profile { name: "house".into(), input_cost_per_token: 1e-7, output_cost_per_token: 3e-7 }];
    let unpriced = provider(2, "other", ProviderType::Openai, "https://other.example.com/v1");
    let global = model(20, &unpriced, "global", json!({}));

    let state =
        build(&cfg, &[hosted, unpriced], &[plain, own_input, house, global], &Default::default(), &mut id_generator());
    let price = |name: &str| {
        let d = state.deployments.iter().find(|d| d.model_name == name).expect("deployment");
        (d.litellm_params["input_cost_per_token"].clone(), d.litellm_params["output_cost_per_token"].clone())
    };
    assert_eq!(price("plain"), (json!(1.5e-7), json!(6e-7)), "the provider's profile");
    assert_eq!(price("own-input"), (json!(2e-6), json!(6e-7)), "the model's key over the provider's profile");
    assert_eq!(price("house"), (json!(1e-7), json!(3e-7)), "an operator-defined profile");
    assert_eq!(price("global"), (json!(1.5e-5), json!(6e-5)), "the global profile");
}

#[test]
fn rate_limits_fim_detection_and_the_requested_mode_are_pushed() {
    let mut lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    lab.rpm = Some(120);
    lab.tpm = Some(50_000);
    lab.auto_detect_fim = false;
    let coder = model(10, &lab, "qwen2.5-coder:7b", json!({"capabilities": ["completion", "insert"]}));
    let as_completion = Model {
        user_params: Some(object(json!({"mode": "completion", "rpm": 30}))),
        ..model(11, &lab, "llama3.2:3b", json!({"capabilities": ["completion"]}))
    };
    let state = build(&config(), &[lab], &[coder, as_completion], &Default::default(), &mut id_generator());
    let coder = &state.deployments[0];
    assert_eq!((coder.litellm_params["rpm"].clone(), coder.litellm_params["tpm"].clone()), (json!(120), json!(50_000)));
    assert_eq!(coder.model_info["supports_fill_in_middle"], json!(false), "not detected when the provider says so");
    let completion = &state.deployments[1];
    assert_eq!(
        completion.litellm_params["model"],
        json!("ollama/llama3.2:3b"),
        "text completion goes to /api/generate"
    );
    assert_eq!(completion.model_info["mode"], json!("completion"));
    assert_eq!(completion.litellm_params["rpm"], json!(30), "the model's own limit wins");
}

fn target(id: i64, provider_id: i64, model_id: &str, weight: i64, priority: i64, enabled: bool) -> routing::Target {
    routing::Target { id, provider_id, model_id: model_id.into(), weight, priority, enabled, litellm_model_id: None }
}

fn group(name: &str, targets: Vec<routing::Target>) -> routing::Group {
    routing::Group {
        id: 1,
        name: name.into(),
        description: None,
        capabilities: vec![],
        auto_context_fallback: true,
        targets,
    }
}

/// A lab with a small and a large model, a hosted provider with a key, and a disabled provider.
fn routing_world() -> (Vec<Provider>, Vec<Model>) {
    let lab = provider(1, "lab", ProviderType::Ollama, "http://gpu:11434");
    let mut hosted = provider(2, "hosted", ProviderType::Openai, "https://api.example.com/v1");
    hosted.api_key = Some(Secret::new("sk-hosted-0001"));
    hosted.pricing_profile = Some("gpt-4o-mini".into());
    let off = Provider { sync_enabled: false, ..provider(3, "off", ProviderType::Openai, "http://off:8000") };
    let small =
        model(10, &lab, "small:1b", json!({"capabilities": ["completion"], "details": {"context_length": 8192}}));
    let large = model(20, &hosted, "large", json!({"context_length": 131072}));
    let gone = Model { is_orphaned: true, ..model(11, &lab, "gone:1b", json!({})) };
    let elsewhere = model(30, &off, "other", json!({}));
    (vec![lab, hosted, off], vec![small, large, gone, elsewhere])
}

#[test]
fn a_group_target_copies_its_models_deployment_under_the_group_name() {
    let (providers, models) = routing_world();
    let routing = Routing {
        groups: vec![group("pool", vec![target(1, 1, "small:1b", 3, 1, true), target(2, 2, "large", 1, 2, true)])],
        fallbacks: vec![],
    };
    let state = build(&config(), &providers, &models, &routing, &mut id_generator());
    let own = |key: &str| state.deployments.iter().find(|d| d.key == key).expect(key);
    let small = own("lab/small:1b");
    let member = own("route:pool/lab/small:1b");
    assert_eq!(member.model_name, "pool");
    assert_eq!((member.route_target_id, member.model_row()), (Some(1), None), "owned by the target, not the model");
    assert_eq!(member.provider_id, 1);
    assert_eq!(member.litellm_params["weight"], json!(3));
    assert_eq!(member.litellm_params["order"], json!(1));
    for key in ["model", "api_base", "input_cost_per_token", "output_cost_per_token"] {
        assert_eq!(member.litellm_params[key], small.litellm_params[key], "{key}");
    }
    let tags = member.litellm_params["tags"].as_array().expect("tags");
    assert!(tags.contains(&json!("unique_id:route:pool/lab/small:1b")) && tags.contains(&json!("routing_group:pool")));
    assert!(!tags.contains(&json!("unique_id:lab/small:1b")), "the model's own key stays with the model");
    let listed = member.model_info[PARAM_KEYS].as_array().expect("param keys");
    assert!(listed.contains(&json!("weight")) && listed.contains(&json!("order")));

    let hosted = own("route:pool/hosted/large");
    assert_eq!(hosted.api_key, own("hosted/large").api_key, "the target's key travels with it");
    assert_eq!(hosted.litellm_params["input_cost_per_token"], json!(1.5e-7), "the provider's profile prices it");
    assert_eq!(hosted.litellm_params["order"], json!(2));
}

#[test]
fn disabled_orphaned_and_disabled_provider_targets_are_not_pushed() {
    let (providers, models) = routing_world();
    let routing = Routing {
        groups: vec![group(
            "pool",
            vec![
                target(1, 1, "small:1b", 1, 1, false),
                target(2, 1, "gone:1b", 1, 1, true),
                target(3, 1, "never-listed", 1, 1, true),
                target(4, 3, "other", 1, 1, true),
            ],
        )],
        fallbacks: vec![],
    };
    let state = build(&config(), &providers, &models, &routing, &mut id_generator());
    assert!(state.deployments.iter().all(|d| d.route_target_id.is_none()), "no group deployment");
    let reasons: Vec<(&str, &str)> = state
        .excluded
        .iter()
        .filter(|e| e.route_target_id.is_some())
        .map(|e| (e.key.as_str(), e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("route:pool/lab/small:1b", "target disabled in routing group pool"),
            ("route:pool/lab/gone:1b", "orphaned target: lab no longer lists it"),
            ("route:pool/lab/never-listed", "orphaned target: lab has no model never-listed"),
            ("route:pool/off/other", "provider off is disabled"),
        ]
    );
}

#[test]
fn targets_whose_model_is_disabled_or_filtered_out_are_not_pushed() {
    let (mut providers, mut models) = routing_world();
    providers[1].model_filter_exclude = Some("large".into());
    models.push(Model { sync_enabled: false, ..model(12, &providers[0], "off:1b", json!({})) });
    let routing = Routing {
        groups: vec![group("pool", vec![target(1, 1, "off:1b", 1, 1, true), target(2, 2, "large", 1, 1, true)])],
        fallbacks: vec![],
    };
    let state = build(&config(), &providers, &models, &routing, &mut id_generator());
    assert!(state.deployments.iter().all(|d| d.route_target_id.is_none()), "no group deployment");
    let reasons: Vec<&str> =
        state.excluded.iter().filter(|e| e.route_target_id.is_some()).map(|e| e.reason.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert_eq!(reasons[0], "target's model off:1b is disabled");
    assert!(reasons[1].starts_with("excluded by hosted's") && reasons[1].contains("large"), "{reasons:?}");
}

#[test]
fn fallbacks_are_the_operators_plus_the_automatic_context_window_one() {
    let (providers, models) = routing_world();
    let general = routing::Fallback {
        model_name: "pool".into(),
        fallback_type: routing::FallbackType::General,
        fallback_models: vec!["hosted/large".into()],
    };
    let routing = Routing {
        groups: vec![group("pool", vec![target(1, 1, "small:1b", 1, 1, true), target(2, 2, "large", 1, 1, true)])],
        fallbacks: vec![general.clone()],
    };
    let state = build(&config(), &providers, &models, &routing, &mut id_generator());
    let automatic = routing::Fallback {
        model_name: "pool".into(),
        fallback_type: routing::FallbackType::ContextWindow,
        fallback_models: vec!["large".into()],
    };
    assert_eq!(state.fallbacks, vec![general.clone(), automatic]);

    let explicit = routing::Fallback { fallback_type: routing::FallbackType::ContextWindow, ..general };
    let routing = Routing { fallbacks: vec![explicit.clone()], ..routing };
    let state = build(&config(), &providers, &models, &routing, &mut id_generator());
    assert_eq!(state.fallbacks, vec![explicit], "the operator's context-window fallback wins over the automatic one");
}
