//! Routing groups and fallbacks in a real, migrated database (each test on SQLite and on
//! PostgreSQL), through the access functions the worker and the frontend use.

use serde_json::json;
use shared::db::models::FetchedModel;
use shared::db::providers::NewProvider;
use shared::db::{models, providers, routing};
use shared::plan::RouteIdToStore;
use shared::provider::Provider;
use shared::routing::{Fallback, FallbackType, GroupInput, TargetInput};
use shared::types::ProviderType;
use shared::{Database, DbError, backend_test};

async fn lab(db: &Database) -> Provider {
    let lab = providers::insert(db, &NewProvider::new("lab", ProviderType::Ollama, "http://gpu:11434"))
        .await
        .expect("provider");
    let listed = |id: &str, raw| FetchedModel::from_upstream(ProviderType::Ollama, id, None, &raw);
    let fetched = [
        listed(
            "chat:8b",
            json!({"capabilities": ["completion", "tools"], "model_info": {"llama.context_length": 8192}}),
        ),
        listed("vision:7b", json!({"capabilities": ["completion", "vision"]})),
        listed("embed", json!({"capabilities": ["embedding"]})),
    ];
    let names: Vec<String> = fetched.iter().map(|f| f.model_id.clone()).collect();
    models::record_fetch(db, lab.id, &fetched, &names).await.expect("fetch");
    lab
}

fn input(name: &str, lab: &Provider, models: &[(&str, i64)]) -> GroupInput {
    GroupInput {
        name: name.into(),
        description: Some("  ".into()),
        capabilities: vec![" Chat ".into(), "chat".into()],
        auto_context_fallback: true,
        targets: models
            .iter()
            .map(|(m, w)| TargetInput {
                provider_id: lab.id,
                model_id: (*m).into(),
                weight: *w,
                priority: 1,
                enabled: true,
            })
            .collect(),
    }
}

backend_test!(groups_are_stored_tidied_and_edits_keep_the_litellm_ids_of_targets_that_stay, |db| async move {
    let lab = lab(&db).await;
    let id =
        routing::create_group(&db, &input(" pool ", &lab, &[("chat:8b", 2), ("vision:7b", 1)])).await.expect("create");
    let group = routing::get_group(&db, id).await.expect("read").expect("group");
    assert_eq!((group.name.as_str(), group.description.as_deref()), ("pool", None));
    assert_eq!(group.capabilities, vec!["chat"]);
    let stored =
        [RouteIdToStore { provider_id: lab.id, route_target_id: group.targets[0].id, litellm_id: "ll-1".into() }];
    routing::store_litellm_ids(&db, &stored).await.expect("store ids");

    let edited = input("pool", &lab, &[("chat:8b", 5), ("embed", 1)]);
    assert!(routing::update_group(&db, id, &edited).await.expect("update"));
    let group = routing::get_group(&db, id).await.expect("read").expect("group");
    let targets: Vec<(&str, i64, Option<&str>)> =
        group.targets.iter().map(|t| (t.model_id.as_str(), t.weight, t.litellm_model_id.as_deref())).collect();
    assert_eq!(targets, vec![("chat:8b", 5, Some("ll-1")), ("embed", 1, None)]);
    assert!(!routing::update_group(&db, 999, &edited).await.expect("update of nothing"));
});

backend_test!(bad_groups_are_refused_with_their_reason_and_nothing_is_written, |db| async move {
    let lab = lab(&db).await;
    routing::create_group(&db, &input("pool", &lab, &[("chat:8b", 1)])).await.expect("create");
    let refusals = [
        (input("pool", &lab, &[]), "already exists"),
        (input("other", &lab, &[("chat:8b", 0)]), "weight"),
        (input("", &lab, &[]), "needs a name"),
        (
            GroupInput {
                targets: vec![TargetInput { provider_id: 999, ..input("x", &lab, &[("a", 1)]).targets[0].clone() }],
                ..input("x", &lab, &[])
            },
            "no provider",
        ),
    ];
    for (bad, words) in refusals {
        let error = routing::create_group(&db, &bad).await.expect_err(words);
        assert!(matches!(error, DbError::Invalid(_) | DbError::Conflict(_)), "{error:?}");
        assert!(error.to_string().contains(words), "{error}");
    }
    assert_eq!(routing::list_groups(&db).await.expect("list").len(), 1);
});

backend_test!(fallbacks_follow_a_renamed_group_and_candidates_follow_capabilities, |db| async move {
    let lab = lab(&db).await;
    let id = routing::create_group(&db, &input("pool", &lab, &[("chat:8b", 1)])).await.expect("create");
    let fallback = Fallback {
        model_name: "pool".into(),
        fallback_type: FallbackType::General,
        fallback_models: vec!["embed".into()],
    };
    routing::set_fallback(&db, &fallback).await.expect("set");
    let onto = Fallback { model_name: "vision:7b".into(), fallback_models: vec!["pool".into()], ..fallback.clone() };
    routing::set_fallback(&db, &onto).await.expect("set");
    let self_fallback = Fallback { fallback_models: vec!["pool".into()], ..fallback.clone() };
    assert!(routing::set_fallback(&db, &self_fallback).await.is_err());

    routing::update_group(&db, id, &input("chat-pool", &lab, &[("chat:8b", 1)])).await.expect("rename");
    let names: Vec<(String, Vec<String>)> = routing::list_fallbacks(&db)
        .await
        .expect("list")
        .into_iter()
        .map(|f| (f.model_name, f.fallback_models))
        .collect();
    assert_eq!(
        names,
        vec![
            ("chat-pool".to_owned(), vec!["embed".to_owned()]),
            ("vision:7b".to_owned(), vec!["chat-pool".to_owned()]),
        ]
    );

    let vision: Vec<String> = routing::candidates(&db, &["vision".into()], 50)
        .await
        .expect("candidates")
        .into_iter()
        .map(|c| c.model_id)
        .collect();
    assert_eq!(vision, vec!["vision:7b"]);
    let all = routing::candidates(&db, &[], 2).await.expect("candidates");
    assert_eq!(all.len(), 2, "the limit holds");
    assert_eq!(all[0].context_window, Some(8192));
});

backend_test!(pushed_fallbacks_are_recorded_and_forgotten_and_a_deleted_group_takes_its_targets, |db| async move {
    let lab = lab(&db).await;
    let pool = routing::create_group(&db, &input("pool", &lab, &[("chat:8b", 1)])).await.expect("create");
    routing::create_group(&db, &input("a-pool", &lab, &[("embed", 1)])).await.expect("create");
    let names: Vec<String> = routing::list_groups(&db).await.expect("list").into_iter().map(|g| g.name).collect();
    assert_eq!(names, ["a-pool", "pool"]);

    let general = Fallback {
        model_name: "pool".into(),
        fallback_type: FallbackType::General,
        fallback_models: vec!["embed".into()],
    };
    let context = Fallback { fallback_type: FallbackType::ContextWindow, ..general.clone() };
    routing::record_pushed(&db, &context).await.expect("record");
    routing::record_pushed(&db, &general).await.expect("record");
    let again = Fallback { fallback_models: vec!["vision:7b".into()], ..general.clone() };
    routing::record_pushed(&db, &again).await.expect("record over");
    assert_eq!(routing::pushed_fallbacks(&db).await.expect("pushed"), [context.clone(), again]);
    routing::forget_pushed(&db, "pool", FallbackType::General).await.expect("forget");
    assert_eq!(routing::pushed_fallbacks(&db).await.expect("pushed"), [context]);

    routing::set_fallback(&db, &general).await.expect("set");
    assert!(routing::delete_fallback(&db, "pool", FallbackType::General).await.expect("delete"));
    assert!(!routing::delete_fallback(&db, "pool", FallbackType::General).await.expect("delete again"));
    assert!(routing::list_fallbacks(&db).await.expect("list").is_empty());

    assert!(routing::delete_group(&db, pool).await.expect("delete"));
    assert!(!routing::delete_group(&db, pool).await.expect("delete again"));
    assert!(routing::get_group(&db, pool).await.expect("read").is_none());
    let left = routing::load(&db).await.expect("load");
    let targets: Vec<&str> = left.groups.iter().flat_map(|g| &g.targets).map(|t| t.model_id.as_str()).collect();
    assert_eq!(targets, ["embed"], "the deleted group's targets went with it");
});
