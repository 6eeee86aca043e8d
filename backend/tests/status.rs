//! A model's status from desired vs actual, end to end: the real `litellm-sync` against the fake
//! LiteLLM, read back as the pages and the API read it (`models::status_detail`, the counts).

mod support;

use shared::db::models::{self, ModelStatus};
use shared::db::providers;
use shared::model::Overrides;
use shared::provider::Provider;
use shared::status::STILL_IN_LITELLM;
use support::{MASTER_KEY, World};
use testkit::WriteFault;

async fn shown(world: &World, provider: &Provider, model_id: &str) -> (ModelStatus, Option<String>) {
    let model = world.model(provider, model_id).await;
    let shown = models::status_detail(world.db(), model.id).await.expect("status").expect("model").shown();
    (shown.status, shown.detail)
}

async fn set(world: &World, provider: &Provider, model_id: &str, overrides: Overrides) {
    let model = world.model(provider, model_id).await;
    assert!(models::set_overrides(world.db(), model.id, &overrides).await.expect("overrides"));
}

fn tagged(tag: &str) -> Overrides {
    Overrides { user_tags: Some(Some(vec![tag.into()])), ..Overrides::default() }
}

#[tokio::test]
async fn each_models_status_follows_what_litellm_holds_and_what_the_last_push_did() {
    let (world, lab) = World::with_lab().await;
    let hosted = world.add_openai_provider("hosted", &["gpt-4o", "gpt-4o-mini"]).await;
    world.once().await.assert_ok();
    let counts = models::status_counts(world.db()).await.expect("counts");
    assert_eq!((counts.total, counts.synced), (5, 5), "after a push everything is in sync: {counts:?}");
    assert_eq!(shown(&world, &lab, "llama3.2:3b").await, (ModelStatus::Synced, None));

    // An override not pushed yet: pending, naming the setting; a plan then names the field.
    set(&world, &lab, "llama3.2:3b", tagged("team-a")).await;
    assert_eq!(
        shown(&world, &lab, "llama3.2:3b").await,
        (ModelStatus::Pending, Some("changed here, not pushed yet: tags".into()))
    );
    world.run(&["--dry-run"]).await.assert_ok();
    assert_eq!(shown(&world, &lab, "llama3.2:3b").await, (ModelStatus::Pending, Some("litellm_params.tags".into())));
    world.once().await.assert_ok();
    assert_eq!(shown(&world, &lab, "llama3.2:3b").await, (ModelStatus::Synced, None));

    // A LiteLLM write that fails: error, with LiteLLM's message (the key it quotes back redacted).
    set(&world, &hosted, "gpt-4o", tagged("team-b")).await;
    world.litellm.set_echo_credentials(true);
    world.litellm.fail_write(1, WriteFault::Reject);
    world.once().await.assert_failed();
    world.litellm.set_echo_credentials(false);
    let (status, detail) = shown(&world, &hosted, "gpt-4o").await;
    let detail = detail.unwrap_or_default();
    assert_eq!(status, ModelStatus::Error, "{detail}");
    assert!(detail.starts_with("LiteLLM answered HTTP 500: Internal server error"), "{detail}");
    assert!(detail.contains("[REDACTED]") && !detail.contains(MASTER_KEY), "{detail}");
    let counts = models::status_counts(world.db()).await.expect("counts");
    assert_eq!((counts.error, counts.synced), (1, 4), "{counts:?}");
    world.once().await.assert_ok();
    assert_eq!(shown(&world, &hosted, "gpt-4o").await, (ModelStatus::Synced, None));

    // Disabled: still in LiteLLM until the next push removes it.
    set(&world, &lab, "qwen2.5vl:7b", Overrides { sync_enabled: Some(false), ..Overrides::default() }).await;
    assert_eq!(shown(&world, &lab, "qwen2.5vl:7b").await, (ModelStatus::Disabled, Some(STILL_IN_LITELLM.into())));
    world.once().await.assert_ok();
    assert!(world.entry("qwen2.5vl:7b").is_none());
    assert_eq!(shown(&world, &lab, "qwen2.5vl:7b").await, (ModelStatus::Disabled, None));

    // A filter change: excluded at once, naming the filter, while LiteLLM still serves it.
    providers::set_filters(world.db(), hosted.id, None, Some("mini")).await.expect("filters");
    let filter = "excluded by hosted's exclude filter term \"mini\"";
    assert_eq!(
        shown(&world, &hosted, "gpt-4o-mini").await,
        (ModelStatus::Excluded, Some(format!("{filter}; {STILL_IN_LITELLM}")))
    );
    world.once().await.assert_ok();
    assert!(world.entry("gpt-4o-mini").is_none());
    assert_eq!(shown(&world, &hosted, "gpt-4o-mini").await, (ModelStatus::Excluded, Some(filter.into())));
    let counts = models::status_counts(world.db()).await.expect("counts");
    assert_eq!(
        (counts.synced, counts.pending, counts.error, counts.disabled, counts.excluded, counts.orphaned),
        (3, 0, 0, 1, 1, 0),
        "{counts:?}"
    );
}
