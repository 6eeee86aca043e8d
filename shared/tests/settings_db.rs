//! Settings in a real, migrated database (each test on SQLite and on PostgreSQL): the LiteLLM
//! connection and default pricing, pricing profiles, provider pricing and rate limits, and the
//! browser sessions of the frontend.

use serde_json::json;
use shared::db::models::FetchedModel;
use shared::db::pricing_settings::{self, ProviderPricing};
use shared::db::providers::NewProvider;
use shared::db::{config, models, providers, sessions};
use shared::pricing::Profile;
use shared::secret::KeyChange;
use shared::types::{Pricing, ProviderType};
use shared::{DbError, Secret, backend_test};

fn profile(name: &str, input: f64, output: f64) -> Profile {
    Profile { name: name.into(), input_cost_per_token: input, output_cost_per_token: output }
}

backend_test!(pricing_profiles_are_created_replaced_listed_by_name_and_deleted, |db| async move {
    pricing_settings::upsert_profile(&db, &profile(" zeta ", 1e-6, 2e-6)).await.expect("create");
    pricing_settings::upsert_profile(&db, &profile("alpha", 3e-6, 4e-6)).await.expect("create");
    let replaced = pricing_settings::upsert_profile(&db, &profile("zeta", 5e-6, 6e-6)).await.expect("replace");
    assert_eq!(replaced.name, "zeta", "the name is trimmed");
    let stored = config::pricing_profiles(&db).await.expect("list");
    assert_eq!(stored, [profile("alpha", 3e-6, 4e-6), profile("zeta", 5e-6, 6e-6)]);
    assert_eq!(config::get(&db).await.expect("config").pricing_profiles, stored);

    for bad in [profile("", 1e-6, 1e-6), profile("neg", -1e-6, 0.0), profile("nan", f64::NAN, 0.0)] {
        let result = pricing_settings::upsert_profile(&db, &bad).await;
        assert!(matches!(result, Err(DbError::Invalid(_))), "{bad:?}: {result:?}");
    }
    assert!(pricing_settings::delete_profile(&db, "zeta").await.expect("delete"));
    assert!(!pricing_settings::delete_profile(&db, "zeta").await.expect("delete again"));
    assert_eq!(config::pricing_profiles(&db).await.expect("list"), [profile("alpha", 3e-6, 4e-6)]);
});

backend_test!(
    provider_pricing_takes_known_profiles_and_positive_limits_and_keeps_what_it_is_not_given,
    |db| async move {
        let lab = providers::insert(&db, &NewProvider::new("lab", ProviderType::Ollama, "http://lab:11434"))
            .await
            .expect("provider");
        pricing_settings::upsert_profile(&db, &profile("house", 1e-6, 2e-6)).await.expect("profile");
        let settings = ProviderPricing {
            pricing_profile: Some(Some(" house ".into())),
            rpm: Some(Some(60)),
            tpm: Some(Some(100_000)),
            auto_detect_fim: Some(false),
        };
        assert!(pricing_settings::set_provider_pricing(&db, lab.id, &settings).await.expect("set"));
        let read = providers::get(&db, lab.id).await.expect("get").expect("lab");
        assert_eq!((read.pricing_profile.as_deref(), read.rpm, read.tpm), (Some("house"), Some(60), Some(100_000)));
        assert!(!read.auto_detect_fim);

        let only_rpm = ProviderPricing { rpm: Some(None), ..Default::default() };
        assert!(pricing_settings::set_provider_pricing(&db, lab.id, &only_rpm).await.expect("clear rpm"));
        let read = providers::get(&db, lab.id).await.expect("get").expect("lab");
        assert_eq!((read.pricing_profile.as_deref(), read.rpm, read.tpm), (Some("house"), None, Some(100_000)));
        assert!(!read.auto_detect_fim, "not given, kept");

        let refused = [
            ProviderPricing { pricing_profile: Some(Some("no-such-profile".into())), ..Default::default() },
            ProviderPricing { tpm: Some(Some(0)), ..Default::default() },
        ];
        for bad in refused {
            let result = pricing_settings::set_provider_pricing(&db, lab.id, &bad).await;
            assert!(matches!(result, Err(DbError::Invalid(_))), "{bad:?}: {result:?}");
        }
        assert_eq!(providers::get(&db, lab.id).await.expect("get").expect("lab").tpm, Some(100_000));
        assert!(!pricing_settings::set_provider_pricing(&db, lab.id + 1000, &only_rpm).await.expect("unknown id"));
    }
);

backend_test!(a_models_pricing_profile_is_checked_and_marks_it_modified, |db| async move {
    let lab = providers::insert(&db, &NewProvider::new("lab", ProviderType::Ollama, "http://lab:11434"))
        .await
        .expect("provider");
    let fetched = FetchedModel::from_upstream(ProviderType::Ollama, "qwen3:8b", None, &json!({}));
    models::record_fetch(&db, lab.id, &[fetched], &["qwen3:8b".to_owned()]).await.expect("fetch");
    let model = models::get_by_model_id(&db, lab.id, "qwen3:8b").await.expect("read").expect("model");
    assert!(!model.user_modified);
    pricing_settings::upsert_profile(&db, &profile("house", 1e-6, 2e-6)).await.expect("profile");

    assert!(pricing_settings::set_model_profile(&db, model.id, Some("house")).await.expect("set"));
    let read = models::get(&db, model.id).await.expect("read").expect("model");
    assert_eq!(read.pricing_profile.as_deref(), Some("house"));
    assert!(read.user_modified);
    let refused = pricing_settings::set_model_profile(&db, model.id, Some("nope")).await;
    assert!(matches!(refused, Err(DbError::Invalid(_))), "{refused:?}");
    assert!(pricing_settings::set_model_profile(&db, model.id, Some("  ")).await.expect("clear"));
    assert_eq!(models::get(&db, model.id).await.expect("read").expect("model").pricing_profile, None);
    assert!(!pricing_settings::set_model_profile(&db, model.id + 1000, None).await.expect("unknown id"));
    assert!(pricing_settings::adoption_notes(&db).await.expect("notes").is_empty(), "nothing was adopted");
});

backend_test!(the_litellm_connection_and_default_pricing_are_changed_as_asked, |db| async move {
    let before = config::get(&db).await.expect("config");
    assert_eq!((before.litellm_url(), before.sync_interval_seconds), (None, 300));
    assert!(before.installation_id.is_some_and(|id| !id.is_empty()), "created with the database");

    let set = KeyChange::Set("sk-master-0123456789".into());
    assert!(config::update_litellm(&db, Some(" http://litellm:4000/ "), set).await.expect("set"));
    let read = config::get(&db).await.expect("config");
    assert_eq!(read.litellm_url(), Some("http://litellm:4000"));
    assert_eq!(read.litellm_api_key.as_ref().map(Secret::expose), Some("sk-master-0123456789"));
    assert!(read.updated_at > before.updated_at, "{} then {}", before.updated_at, read.updated_at);
    assert!(!config::update_litellm(&db, Some("http://litellm:4000"), KeyChange::Keep).await.expect("same"));
    let moved = config::update_litellm(&db, Some("http://elsewhere:4000"), KeyChange::Keep).await;
    assert!(matches!(moved, Err(DbError::Invalid(_))), "the key does not follow a new URL: {moved:?}");

    let pricing = Pricing { input_cost_per_token: Some(1e-6), output_cost_per_token: Some(2e-6) };
    config::set_default_pricing(&db, Some(pricing)).await.expect("set pricing");
    assert_eq!(config::get(&db).await.expect("config").default_pricing(), Some(pricing));
    config::set_default_pricing(&db, Some(Pricing::default())).await.expect("empty pricing");
    assert_eq!(config::get(&db).await.expect("config").default_pricing, None, "empty is none");
});

backend_test!(sessions_expire_end_at_logout_and_follow_the_token, |db| async move {
    let (token, other) = (sessions::token_fingerprint("token-one"), sessions::token_fingerprint("token-two"));
    let (a, b) = (sessions::new_id(), sessions::new_id());
    assert_ne!(a, b);
    sessions::create(&db, &a, &token, 2000, 1000).await.expect("create");
    sessions::create(&db, &b, &token, 2000, 1000).await.expect("create");
    assert!(sessions::is_valid(&db, &a, &token, 1999).await.expect("check"));
    assert!(!sessions::is_valid(&db, &a, &token, 2000).await.expect("check"), "expired");
    assert!(!sessions::is_valid(&db, &a, &other, 1500).await.expect("check"), "the token changed");
    assert!(!sessions::is_valid(&db, "guess", &token, 1500).await.expect("check"));
    sessions::delete(&db, &a).await.expect("logout");
    assert!(!sessions::is_valid(&db, &a, &token, 1500).await.expect("check"), "logged out");
    assert!(sessions::is_valid(&db, &b, &token, 1500).await.expect("check"), "other sessions stay");
    sessions::create(&db, &sessions::new_id(), &other, 3000, 1500).await.expect("create");
    assert!(
        !sessions::is_valid(&db, &b, &token, 1500).await.expect("check"),
        "a new token's login drops the old token's"
    );
});
