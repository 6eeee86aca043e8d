//! Routing groups and fallbacks in a real, migrated SQLite database, through the access
//! functions the worker and the frontend use.

use serde_json::json;
use shared::db::models::FetchedModel;
use shared::db::providers::{NewProvider, Provider};
use shared::db::{models, providers, routing};
use shared::plan::RouteIdToStore;
use shared::routing::{Fallback, FallbackType, GroupInput, TargetInput};
use shared::types::ProviderType;
use shared::{Database, DbError};
use tempfile::TempDir;

async fn lab() -> (TempDir, Database, Provider) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(dir.path().join("models.db")).await.expect("open");
    db.migrate().await.expect("migrate");
    let lab = providers::insert(&db, &NewProvider::new("lab", ProviderType::Ollama, "http://gpu:11434"))
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
    models::record_fetch(&db, lab.id, &fetched, &names).await.expect("fetch");
    (dir, db, lab)
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

#[tokio::test]
async fn groups_are_stored_tidied_and_edits_keep_the_litellm_ids_of_targets_that_stay() {
    let (_dir, db, lab) = lab().await;
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
}

#[tokio::test]
async fn bad_groups_are_refused_with_their_reason_and_nothing_is_written() {
    let (_dir, db, lab) = lab().await;
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
}

#[tokio::test]
async fn fallbacks_follow_a_renamed_group_and_candidates_follow_capabilities() {
    let (_dir, db, lab) = lab().await;
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
}
