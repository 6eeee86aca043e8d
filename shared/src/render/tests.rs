use serde_json::json;

use super::*;
use crate::desired;
use crate::secret::Secret;
use crate::testing::{config, model, provider};
use crate::types::ProviderType;

#[test]
fn floats_always_read_as_floats_in_yaml_1_1() {
    let cases = [
        (0.0, "0.0"),
        (2.5, "2.5"),
        (5e-6, "0.000005"),
        (1.5e-7, "0.00000015"),
        (6e-5, "0.00006"),
        (1.234_567_890_123e-12, "1.234567890123e-12"),
        (1e20, "1.0e+20"),
        (-3.0, "-3.0"),
    ];
    for (value, expected) in cases {
        assert_eq!(float(value), expected, "{value}");
        let reread: f64 = expected.parse().unwrap_or(f64::NAN);
        assert_eq!(reread, value, "{expected} must read back exactly");
    }
}

#[test]
fn keys_that_yaml_1_1_would_misread_are_quoted() {
    for (key, expected) in [
        ("model_name", "model_name"),
        ("supports_vision", "supports_vision"),
        ("no", "\"no\""),
        ("On", "\"On\""),
        ("max-tokens", "\"max-tokens\""),
        ("1st", "\"1st\""),
        ("", "\"\""),
    ] {
        assert_eq!(mapping_key(key), expected);
    }
}

fn keyed(id: i64, name: &str, key: Option<&str>) -> Provider {
    let mut p = provider(id, name, ProviderType::Openai, "http://gpu:8000");
    p.api_key = key.map(Secret::new);
    p
}

#[test]
fn renders_every_deployment_sorted_with_keys_as_environment_references() {
    let vllm = keyed(1, "vllm", Some("sk-vllm-secret-0001"));
    let local = keyed(2, "local", None);
    let models = [
        model(1, &vllm, "zeta", json!({"max_model_len": 8192})),
        model(2, &local, "alpha", json!({})),
        model(3, &vllm, "beta: no", json!({})),
    ];
    let providers = [vllm.clone(), local];
    let state = desired::build(&config(), &providers, &models, &Default::default(), &mut stable_id);
    let rendered = litellm_config(state, &providers, SecretStyle::EnvReference);

    assert_eq!(rendered.deployments, 3);
    assert_eq!(rendered.env, vec![("LUPDATER_VLLM_API_KEY".to_owned(), "vllm".to_owned())]);
    let yaml = &rendered.yaml;
    assert!(!yaml.contains("sk-vllm-secret"), "{yaml}");
    assert!(yaml.contains("api_key: \"os.environ/LUPDATER_VLLM_API_KEY\""), "{yaml}");
    assert!(yaml.contains("api_key: \"no-key\""), "the keyless server gets the placeholder: {yaml}");
    assert!(yaml.contains("#   LUPDATER_VLLM_API_KEY  (provider vllm)"), "{yaml}");
    let names: Vec<&str> = yaml.lines().filter_map(|l| l.strip_prefix("  - model_name: ")).collect();
    assert_eq!(names, vec!["\"alpha\"", "\"beta: no\"", "\"zeta\""]);
    assert!(yaml.contains(&format!("      id: \"{}\"", stable_id("vllm/zeta"))), "{yaml}");
    assert!(yaml.contains("\n      max_input_tokens: 8192\n"), "{yaml}");
    assert!(yaml.contains("\n      tags: [\"lupdater\", "), "{yaml}");

    let again = desired::build(&config(), &providers, &models, &Default::default(), &mut stable_id);
    assert_eq!(litellm_config(again, &providers, SecretStyle::EnvReference).yaml, *yaml, "stable output");
}

#[test]
fn inline_secrets_are_written_and_clashing_names_get_distinct_variables() {
    let a = keyed(7, "my-lab", Some("sk-first-key-0007"));
    let b = keyed(9, "my_lab", Some("sk-second-key-0009"));
    let models = [model(1, &a, "m", json!({})), model(2, &b, "n", json!({}))];
    let providers = [a, b];
    let build = || desired::build(&config(), &providers, &models, &Default::default(), &mut stable_id);

    let inline = litellm_config(build(), &providers, SecretStyle::Inline);
    assert!(inline.yaml.contains("api_key: \"sk-first-key-0007\"") && inline.yaml.contains("sk-second-key-0009"));
    assert!(inline.env.is_empty());

    let referenced = litellm_config(build(), &providers, SecretStyle::EnvReference);
    let variables: Vec<&str> = referenced.env.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(variables, vec!["LUPDATER_PROVIDER_7_API_KEY", "LUPDATER_PROVIDER_9_API_KEY"]);
}

#[test]
fn an_empty_state_is_an_empty_list() {
    let rendered = litellm_config(DesiredState::default(), &[], SecretStyle::EnvReference);
    assert!(rendered.yaml.ends_with("model_list: []\n"), "{}", rendered.yaml);
}

#[test]
fn groups_render_as_deployments_and_fallbacks_as_router_settings() {
    use crate::routing::{Fallback, FallbackType, Group, Routing, Target};
    let vllm = keyed(1, "vllm", None);
    let models = [model(1, &vllm, "small", json!({"max_model_len": 8192})), model(2, &vllm, "big", json!({}))];
    let target = |id: i64, model_id: &str, weight: i64, priority: i64| Target {
        id,
        provider_id: 1,
        model_id: model_id.into(),
        weight,
        priority,
        enabled: true,
        litellm_model_id: None,
    };
    let routing = Routing {
        groups: vec![Group {
            id: 1,
            name: "pool".into(),
            description: None,
            capabilities: vec![],
            auto_context_fallback: false,
            targets: vec![target(1, "small", 3, 1), target(2, "big", 1, 2)],
        }],
        fallbacks: vec![
            Fallback {
                model_name: "pool".into(),
                fallback_type: FallbackType::General,
                fallback_models: vec!["big".into()],
            },
            Fallback {
                model_name: "small".into(),
                fallback_type: FallbackType::ContextWindow,
                fallback_models: vec!["big".into(), "pool".into()],
            },
        ],
    };
    let providers = [vllm];
    let state = desired::build(&config(), &providers, &models, &routing, &mut stable_id);
    let rendered = litellm_config(state, &providers, SecretStyle::EnvReference);
    assert_eq!(rendered.deployments, 4);
    assert_eq!(rendered.yaml.matches("model_name: \"pool\"").count(), 2, "{}", rendered.yaml);
    assert!(rendered.yaml.contains("weight: 3") && rendered.yaml.contains("order: 2"), "{}", rendered.yaml);
    let tail = rendered.yaml.split("router_settings:\n").nth(1).expect("router_settings");
    assert_eq!(
        tail,
        "  context_window_fallbacks:\n    - small: [\"big\", \"pool\"]\n  fallbacks:\n    - pool: [\"big\"]\n"
    );
}
