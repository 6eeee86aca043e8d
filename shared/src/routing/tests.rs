use super::*;

fn fallback(model: &str, to: &[&str]) -> Fallback {
    Fallback {
        model_name: model.into(),
        fallback_type: FallbackType::General,
        fallback_models: to.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn member(name: &str, context: Option<i64>) -> Member {
    Member { model_name: name.into(), context_window: context }
}

#[test]
fn route_keys_are_normalised_and_apart_from_model_keys() {
    assert_eq!(route_key("Chat Pool", "Lab GPU", "llama3:8b"), "route:chat-pool/lab-gpu/llama3:8b");
    assert_ne!(route_key("g", "lab", "m"), tags::unique_id("lab", "m"));
    let python = ["lupdater", "provider:lab-gpu", "model:llama3:8b", "routing_group:chat-pool"];
    assert_eq!(python_route_key(python.iter().copied()).as_deref(), Some("route:chat-pool/lab-gpu/llama3:8b"));
    assert_eq!(python_route_key(["provider:lab", "model:m"].iter().copied()), None, "no group tag");
}

#[test]
fn fallback_types_round_trip_and_name_their_router_setting() {
    for kind in FallbackType::ALL {
        assert_eq!(kind.as_str().parse::<FallbackType>(), Ok(kind));
    }
    assert_eq!(FallbackType::ContextWindow.router_setting(), "context_window_fallbacks");
    assert!("sometimes".parse::<FallbackType>().is_err());
}

#[test]
fn fallbacks_are_checked_as_litellm_checks_them() {
    let cases: [(Fallback, Result<&[&str], &str>); 5] = [
        (fallback(" pool ", &[" big ", "", "other"]), Ok(&["big", "other"])),
        (fallback("pool", &[]), Err("at least one")),
        (fallback("pool", &["a", "a"]), Err("listed twice")),
        (fallback("pool", &["pool"]), Err("its own fallback")),
        (fallback("  ", &["a"]), Err("needs the model name")),
    ];
    for (input, expected) in cases {
        match (check_fallback(&input), expected) {
            (Ok(got), Ok(models)) => assert_eq!(got.fallback_models, models, "{input:?}"),
            (Err(error), Err(words)) => assert!(error.contains(words), "{input:?}: {error}"),
            (got, expected) => panic!("{input:?}: got {got:?}, expected {expected:?}"),
        }
    }
}

#[test]
fn targets_need_sane_weights_priorities_and_no_repeats() {
    let target = |model: &str, weight, priority| TargetInput {
        provider_id: 1,
        model_id: model.into(),
        weight,
        priority,
        enabled: true,
    };
    assert!(check_targets(&[target("a", 3, 1), target("b", 1, 2)]).is_ok());
    for (targets, words) in [
        (vec![target("a", 0, 1)], "weight"),
        (vec![target("a", 1, 0)], "priority"),
        (vec![target("a", 1, 1), target("a", 2, 2)], "twice"),
        (vec![target(" ", 1, 1)], "model id"),
    ] {
        let error = check_targets(&targets).expect_err(words);
        assert!(error.contains(words), "{error}");
    }
}

#[test]
fn group_names_must_be_callable() {
    assert_eq!(check_group_name("  chat-pool ").as_deref(), Ok("chat-pool"));
    for bad in ["", "   ", "/pool", "pool/", "a\nb"] {
        assert!(check_group_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_automatic_context_fallback_goes_to_the_largest_member() {
    let members = [member("small", Some(8192)), member("large", Some(131072)), member("unknown", None)];
    let auto = auto_context_fallback("pool", &members).expect("a larger member exists");
    assert_eq!(
        auto,
        Fallback {
            model_name: "pool".into(),
            fallback_type: FallbackType::ContextWindow,
            fallback_models: vec!["large".into()],
        }
    );
    let equal = [member("a", Some(8192)), member("b", Some(8192))];
    assert_eq!(auto_context_fallback("pool", &equal), None, "no member is larger");
    assert_eq!(auto_context_fallback("pool", &[member("a", None)]), None, "nothing known");
}

#[test]
fn capability_filter_proposes_candidates() {
    let caps = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(offers(&caps(&["chat", "Tools"]), &caps(&["tools"])));
    assert!(offers(&caps(&["chat"]), &[]));
    assert!(!offers(&caps(&["chat"]), &caps(&["chat", "vision"])));
}
