//! The database layer against a real temporary SQLite file: opening and migrating, and each
//! table's access functions as the worker and the frontend use them.

use serde_json::{Map, Value, json};
use shared::compat::{self, Registered};
use shared::db::models::{FetchCounts, FetchedModel, ModelQuery, ModelStatus};
use shared::db::providers::{NewProvider, ProviderChanges};
use shared::db::worker_status::Beat;
use shared::db::{SQLITE_MIGRATOR, config, exclusions, jobs, models, providers, snapshot, worker_status};
use shared::jobs::JobRequest;
use shared::model::Overrides;
use shared::plan::{Action, IdToStore};
use shared::provider::Provider;
use shared::types::{OllamaMode, Pricing, ProviderType};
use shared::{Database, DbError, Secret, backend_test};
use tempfile::TempDir;

// --- fixtures ------------------------------------------------------------------------------

/// A migrated database in its own temporary directory (dropped with the directory).
async fn migrated_db() -> (TempDir, Database) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(dir.path().join("litellm-updater.db")).await.expect("open");
    db.migrate().await.expect("migrate");
    (dir, db)
}

async fn ollama_provider(db: &Database, name: &str) -> Provider {
    let new = NewProvider::new(name, ProviderType::Ollama, format!("http://{name}:11434"));
    providers::insert(db, &new).await.expect("insert provider")
}

/// An Ollama model as a fetch reads it; `context_length` is the detail tests vary.
fn fetched(model_id: &str, context_length: i64) -> FetchedModel {
    let raw = json!({
        "details": {"family": "llama"},
        "model_info": {"general.architecture": "llama", "llama.context_length": context_length},
    });
    FetchedModel::from_upstream(
        ProviderType::Ollama,
        model_id,
        Some(format!("sha256:{model_id}-{context_length}")),
        &raw,
    )
}

fn ids(model_ids: &[&str]) -> Vec<String> {
    model_ids.iter().map(|id| (*id).to_owned()).collect()
}

fn counts(seen: usize, added: usize, updated: usize, orphaned: usize, unorphaned: usize) -> FetchCounts {
    FetchCounts { seen, added, updated, orphaned, unorphaned }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

async fn model_named(db: &Database, provider_id: i64, model_id: &str) -> shared::model::Model {
    models::get_by_model_id(db, provider_id, model_id)
        .await
        .expect("read model")
        .unwrap_or_else(|| panic!("{model_id} missing"))
}

// --- opening and migrating -----------------------------------------------------------------

#[tokio::test]
async fn open_creates_the_file_and_its_parent_directories_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("data").join("nested").join("models.db");

    let db = Database::open(&path).await.expect("open");

    assert!(path.is_file(), "{} not created", path.display());
    assert_eq!(db.path(), Some(path.as_path()));
    assert_eq!(db.text_for_tests("PRAGMA journal_mode", &[]).await.as_deref(), Some("wal"));
    assert_eq!(db.int_for_tests("PRAGMA foreign_keys", &[]).await, 1);
}

#[tokio::test]
async fn a_fresh_file_migrates_to_the_current_schema_with_the_config_row() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Database::open(dir.path().join("models.db")).await.expect("open");
    let before = db.schema_status().await.expect("status");
    assert_eq!(before.applied, None);
    assert!(!before.is_current());

    let report = db.migrate().await.expect("migrate");

    assert_eq!(report.applied, SQLITE_MIGRATOR.iter().map(|m| m.version).collect::<Vec<_>>());
    assert!(report.adopted.is_none(), "a fresh file is not a Python file");
    assert!(db.schema_status().await.expect("status").is_current());
    let config = config::get(&db).await.expect("config row");
    assert_eq!(config.sync_interval_seconds, 300);
    assert_eq!(config.litellm_url(), None);
    assert!(config.litellm_api_key.is_none());
}

#[tokio::test]
async fn migrating_twice_is_a_no_op() {
    let (_dir, db) = migrated_db().await;
    let lab = ollama_provider(&db, "lab").await;
    let migrations = db.int_for_tests("SELECT COUNT(*) FROM _sqlx_migrations", &[]).await;

    let again = db.migrate().await.expect("second migrate");

    assert!(again.applied.is_empty(), "{:?}", again.applied);
    assert!(again.adopted.is_none());
    let after = db.int_for_tests("SELECT COUNT(*) FROM _sqlx_migrations", &[]).await;
    assert_eq!(after, migrations);
    assert_eq!(providers::list(&db).await.expect("list").iter().map(|p| p.id).collect::<Vec<_>>(), [lab.id]);
    assert!(db.schema_status().await.expect("status").is_current());
}

#[tokio::test]
async fn a_schema_newer_than_this_binary_is_refused() {
    let (_dir, db) = migrated_db().await;
    let known = SQLITE_MIGRATOR.iter().map(|m| m.version).max().expect("embedded migrations");
    let future = known + 1;
    db.execute_for_tests(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer release', TRUE, x'00', 0)",
        &shared::binds![future],
    )
    .await;

    let refused = db.migrate().await;

    assert!(
        matches!(refused, Err(DbError::NewerSchema { found, known: k }) if found == future && k == known),
        "{refused:?}"
    );
    assert_eq!(db.schema_status().await.expect("status").applied, Some(future), "nothing was rolled back");
}

// --- providers -----------------------------------------------------------------------------

shared::backend_test!(providers_are_inserted_read_listed_by_name_and_deleted, |db| async move {
    let zeta = NewProvider {
        api_key: Some("   ".into()),
        prefix: Some("  z ".into()),
        ..NewProvider::new("zeta", ProviderType::Ollama, " http://zeta:11434/ ")
    };
    let alpha = NewProvider {
        api_key: Some("sk-alpha-0123456789".into()),
        default_ollama_mode: OllamaMode::Openai,
        tags: ids(&["cloud", "paid"]),
        access_groups: ids(&["staff"]),
        sync_enabled: false,
        sync_interval_seconds: Some(900),
        model_filter: Some("gpt".into()),
        model_filter_exclude: Some("audio".into()),
        pricing_override: Some(Pricing { input_cost_per_token: Some(1e-6), output_cost_per_token: None }),
        ..NewProvider::new("alpha", ProviderType::Openai, "https://api.example.com/v1")
    };

    let zeta = providers::insert(&db, &zeta).await.expect("insert zeta");
    let alpha = providers::insert(&db, &alpha).await.expect("insert alpha");

    assert_eq!(zeta.base_url, "http://zeta:11434", "trimmed, no trailing slash");
    assert_eq!(zeta.api_key, None, "a blank key is no key");
    assert_eq!(zeta.prefix.as_deref(), Some("z"));
    assert_eq!(zeta.default_ollama_mode, OllamaMode::OllamaChat);
    assert!(zeta.sync_enabled && zeta.tags.is_empty() && zeta.access_groups.is_empty());

    let read = providers::get(&db, alpha.id).await.expect("get").expect("alpha exists");
    assert_eq!(read.name, "alpha");
    assert_eq!(read.kind, ProviderType::Openai);
    assert_eq!(read.api_key.as_ref().map(Secret::expose), Some("sk-alpha-0123456789"));
    assert_eq!(read.default_ollama_mode, OllamaMode::Openai);
    assert_eq!(read.tags, ids(&["cloud", "paid"]));
    assert_eq!(read.access_groups, ids(&["staff"]));
    assert!(!read.sync_enabled);
    assert_eq!(read.sync_interval_seconds, Some(900));
    assert_eq!((read.model_filter.as_deref(), read.model_filter_exclude.as_deref()), (Some("gpt"), Some("audio")));
    assert_eq!(read.pricing(), Some(Pricing { input_cost_per_token: Some(1e-6), output_cost_per_token: None }));

    let names: Vec<String> = providers::list(&db).await.expect("list").into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["alpha", "zeta"]);
    assert_eq!(providers::get_by_name(&db, "zeta").await.expect("by name").map(|p| p.id), Some(zeta.id));
    assert!(providers::insert(&db, &NewProvider::new("zeta", ProviderType::Ollama, "http://x")).await.is_err());

    assert!(providers::delete(&db, zeta.id).await.expect("delete"));
    assert!(!providers::delete(&db, zeta.id).await.expect("delete again"), "nothing left to delete");
    assert!(providers::get(&db, zeta.id).await.expect("get").is_none());
});

backend_test!(deleting_a_provider_deletes_its_models, |db| async move {
    let doomed = ollama_provider(&db, "doomed").await;
    let kept = ollama_provider(&db, "kept").await;
    let two = [fetched("llama3.2:3b", 131072), fetched("qwen3:8b", 40960)];
    models::record_fetch(&db, doomed.id, &two, &ids(&["llama3.2:3b", "qwen3:8b"])).await.expect("fetch");
    models::record_fetch(&db, kept.id, &[fetched("phi3:mini", 4096)], &ids(&["phi3:mini"])).await.expect("fetch");
    let doomed_row = model_named(&db, doomed.id, "qwen3:8b").await;

    assert!(providers::delete(&db, doomed.id).await.expect("delete"));

    let left: Vec<(i64, String)> =
        models::list_all(&db).await.expect("list").into_iter().map(|m| (m.provider_id, m.model_id)).collect();
    assert_eq!(left, [(kept.id, "phi3:mini".to_owned())]);
    assert!(models::get(&db, doomed_row.id).await.expect("get").is_none());
});

// --- models --------------------------------------------------------------------------------

backend_test!(record_fetch_counts_added_updated_orphaned_and_unorphaned_across_fetches, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    let pool = &db;

    let first = [fetched("a", 8192), fetched("b", 8192), fetched("c", 8192)];
    let counted = models::record_fetch(pool, lab.id, &first, &ids(&["a", "b", "c"])).await.expect("fetch 1");
    assert_eq!(counted, counts(3, 3, 0, 0, 0));
    let b_before = model_named(&db, lab.id, "b").await;
    assert_eq!(b_before.context_window, Some(8192));

    // `a` re-read unchanged, `b` changed, `c` no longer listed.
    let second = [fetched("a", 8192), fetched("b", 32768)];
    let counted = models::record_fetch(pool, lab.id, &second, &ids(&["a", "b"])).await.expect("fetch 2");
    assert_eq!(counted, counts(2, 0, 1, 1, 0), "only b's derived fields changed");
    let b_after = model_named(&db, lab.id, "b").await;
    assert_eq!(b_after.id, b_before.id, "an update keeps the row");
    assert_eq!(b_after.context_window, Some(32768));
    assert_eq!(b_after.derived_info.get("max_input_tokens"), Some(&json!(32768)));
    let c = model_named(&db, lab.id, "c").await;
    assert!(c.is_orphaned);
    assert!(c.orphaned_at.is_some());

    // `c` is back (unchanged), `d` is new.
    let third = [fetched("c", 8192), fetched("d", 4096)];
    let counted = models::record_fetch(pool, lab.id, &third, &ids(&["a", "b", "c", "d"])).await.expect("fetch 3");
    assert_eq!(counted, counts(4, 1, 0, 0, 1));
    let c = model_named(&db, lab.id, "c").await;
    assert!(!c.is_orphaned);
    assert_eq!(c.orphaned_at, None);
    let all = models::list_for_provider(pool, lab.id).await.expect("list");
    assert_eq!(all.iter().map(|m| m.model_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
    assert!(all.iter().all(|m| !m.is_orphaned));
});

backend_test!(a_fetch_never_touches_the_operators_overrides, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    models::record_fetch(&db, lab.id, &[fetched("qwen3:8b", 8192)], &ids(&["qwen3:8b"])).await.expect("fetch");
    let row = model_named(&db, lab.id, "qwen3:8b").await;
    let pricing = Pricing { input_cost_per_token: Some(2e-7), output_cost_per_token: Some(4e-7) };
    let overrides = Overrides {
        user_params: Some(Some(object(json!({"temperature": 0.3})))),
        user_tags: Some(Some(ids(&["pinned"]))),
        access_groups: Some(Some(ids(&["staff"]))),
        pricing_override: Some(Some(pricing)),
        ollama_mode: Some(Some(OllamaMode::Openai)),
        sync_enabled: Some(false),
    };
    assert!(models::set_overrides(&db, row.id, &overrides).await.expect("set overrides"));

    let counted = models::record_fetch(&db, lab.id, &[fetched("qwen3:8b", 40960)], &ids(&["qwen3:8b"]))
        .await
        .expect("fetch with new details");

    assert_eq!(counted.updated, 1);
    let after = model_named(&db, lab.id, "qwen3:8b").await;
    assert_eq!(after.context_window, Some(40960), "derived data is updated");
    assert_eq!(after.upstream_digest.as_deref(), Some("sha256:qwen3:8b-40960"));
    assert_eq!(after.user_params.map(Value::Object), Some(json!({"temperature": 0.3})));
    assert_eq!(after.user_tags, Some(ids(&["pinned"])));
    assert_eq!(after.access_groups, Some(ids(&["staff"])));
    assert_eq!(after.pricing_override, Some(pricing));
    assert_eq!(after.ollama_mode, Some(OllamaMode::Openai));
    assert!(!after.sync_enabled);
    assert!(after.user_modified);
});

backend_test!(set_overrides_changes_only_the_fields_it_is_given, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    models::record_fetch(&db, lab.id, &[fetched("qwen3:8b", 8192)], &ids(&["qwen3:8b"])).await.expect("fetch");
    let id = model_named(&db, lab.id, "qwen3:8b").await.id;
    let set = Overrides {
        user_tags: Some(Some(ids(&["pinned"]))),
        access_groups: Some(Some(ids(&["staff"]))),
        ..Overrides::default()
    };
    models::set_overrides(&db, id, &set).await.expect("set");

    let clear_tags = Overrides { user_tags: Some(None), ..Overrides::default() };
    assert!(models::set_overrides(&db, id, &clear_tags).await.expect("clear"));

    let after = model_named(&db, lab.id, "qwen3:8b").await;
    assert_eq!(after.user_tags, None, "Some(None) clears");
    assert_eq!(after.access_groups, Some(ids(&["staff"])), "None leaves as it is");
    assert!(after.sync_enabled);
    assert!(!models::set_overrides(&db, id + 1000, &clear_tags).await.expect("unknown id"));
});

backend_test!(record_refresh_writes_one_model_and_orphans_no_other, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    let both = [fetched("a", 8192), fetched("b", 8192)];
    models::record_fetch(&db, lab.id, &both, &ids(&["a", "b"])).await.expect("fetch");

    let counted = models::record_refresh(&db, lab.id, &fetched("a", 16384)).await.expect("refresh");

    assert_eq!(counted, counts(1, 0, 1, 0, 0));
    assert_eq!(model_named(&db, lab.id, "a").await.context_window, Some(16384));
    let b = model_named(&db, lab.id, "b").await;
    assert!(!b.is_orphaned, "a refresh of a must not orphan b");
    assert_eq!(b.context_window, Some(8192));
});

backend_test!(store_litellm_ids_assigns_ids_and_moves_an_id_to_its_new_owner, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    let both = [fetched("a", 8192), fetched("b", 8192)];
    models::record_fetch(&db, lab.id, &both, &ids(&["a", "b"])).await.expect("fetch");
    let (a, b) = (model_named(&db, lab.id, "a").await.id, model_named(&db, lab.id, "b").await.id);
    let store = |model_row_id: i64, litellm_id: &str| IdToStore {
        provider_id: lab.id,
        model_row_id,
        litellm_id: litellm_id.to_owned(),
    };

    models::store_litellm_ids(&db, &[store(a, "lid-1")]).await.expect("store");
    assert_eq!(model_named(&db, lab.id, "a").await.litellm_model_id.as_deref(), Some("lid-1"));

    models::store_litellm_ids(&db, &[store(b, "lid-1"), store(a, "lid-2")]).await.expect("store again");
    assert_eq!(model_named(&db, lab.id, "b").await.litellm_model_id.as_deref(), Some("lid-1"));
    assert_eq!(model_named(&db, lab.id, "a").await.litellm_model_id.as_deref(), Some("lid-2"));

    models::store_litellm_ids(&db, &[]).await.expect("nothing to store");
    assert_eq!(model_named(&db, lab.id, "b").await.litellm_model_id.as_deref(), Some("lid-1"));
});

// --- jobs ----------------------------------------------------------------------------------

#[tokio::test]
async fn jobs_are_claimed_oldest_first_and_finished_with_a_result_or_an_error() {
    let (_dir, db) = migrated_db().await;
    let pool = &db;
    assert!(jobs::claim_next(pool, "test-worker").await.expect("claim").is_none(), "empty queue");
    let first = jobs::enqueue(pool, &JobRequest::SyncProvider { provider_id: 3 }).await.expect("enqueue");
    let second = jobs::enqueue(pool, &JobRequest::FetchAll).await.expect("enqueue");
    assert_eq!(jobs::queue_depth(pool).await.expect("depth"), 2);

    let claimed = jobs::claim_next(pool, "test-worker").await.expect("claim").expect("a queued job");
    assert_eq!(claimed.id, first);
    assert_eq!(claimed.status, "running");
    assert_eq!(claimed.attempts, 1);
    assert!(claimed.started_at.is_some());
    assert_eq!(claimed.request().expect("request"), JobRequest::SyncProvider { provider_id: 3 });
    assert_eq!(jobs::queue_depth(pool).await.expect("depth"), 2, "running jobs count");

    jobs::set_progress(pool, first, "test-worker", "fetching lab (1/2)").await.expect("progress");
    let running = jobs::get(pool, first).await.expect("get").expect("job");
    assert_eq!(running.progress.as_deref(), Some("fetching lab (1/2)"));
    assert!(!running.is_finished());

    jobs::finish(pool, first, "test-worker", Some(&json!({"added": 2})), None).await.expect("finish");
    let done = jobs::get(pool, first).await.expect("get").expect("job");
    assert_eq!(done.status, "done");
    assert_eq!(done.result.as_ref().map(|r| &r.0), Some(&json!({"added": 2})));
    assert_eq!(done.error, None);
    assert!(done.finished_at.is_some() && done.is_finished());
    jobs::set_progress(pool, first, "test-worker", "late").await.expect("progress");
    assert_eq!(
        jobs::get(pool, first).await.expect("get").expect("job").progress.as_deref(),
        Some("fetching lab (1/2)"),
        "a finished job's progress is final"
    );

    let claimed = jobs::claim_next(pool, "test-worker").await.expect("claim").expect("second job");
    assert_eq!(claimed.id, second);
    jobs::finish(pool, second, "test-worker", None, Some("LiteLLM is unreachable")).await.expect("finish");
    let failed = jobs::get(pool, second).await.expect("get").expect("job");
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.error.as_deref(), Some("LiteLLM is unreachable"));
    assert!(failed.is_finished());

    assert_eq!(jobs::queue_depth(pool).await.expect("depth"), 0);
    assert!(jobs::claim_next(pool, "test-worker").await.expect("claim").is_none());
    let recent: Vec<i64> = jobs::recent(pool, 10).await.expect("recent").iter().map(|j| j.id).collect();
    assert_eq!(recent, [second, first]);
}

#[tokio::test]
async fn finishing_a_job_strips_an_inline_api_key_from_its_payload() {
    let (_dir, db) = migrated_db().await;
    let pool = &db;
    let test_connection = |api_key: &str| JobRequest::TestConnection {
        provider_id: None,
        base_url: Some("http://gpu-box:8000".into()),
        provider_type: Some(ProviderType::Openai),
        api_key: Some(api_key.into()),
    };
    let ok = jobs::enqueue(pool, &test_connection("sk-inline-secret-1")).await.expect("enqueue");
    let failing = jobs::enqueue(pool, &test_connection("sk-inline-secret-2")).await.expect("enqueue");
    let queued = jobs::get(pool, ok).await.expect("get").expect("job");
    assert_eq!(queued.payload.0["api_key"], "sk-inline-secret-1", "the worker needs the key until it runs");

    for (id, error) in [(ok, None), (failing, Some("connection refused"))] {
        jobs::claim_next(pool, "test-worker").await.expect("claim").expect("job");
        jobs::finish(pool, id, "test-worker", Some(&json!({"models": 3})), error).await.expect("finish");
        let finished = jobs::get(pool, id).await.expect("get").expect("job");
        assert!(finished.payload.0.get("api_key").is_none(), "key left in {}", finished.payload.0);
        assert_eq!(finished.payload.0["base_url"], "http://gpu-box:8000");
        let stored = pool
            .text_for_tests("SELECT payload FROM jobs WHERE id = $1", &shared::binds![id])
            .await
            .unwrap_or_default();
        assert!(!stored.contains("sk-inline-secret"), "{stored}");
    }
}

#[tokio::test]
async fn running_jobs_are_requeued_and_claimed_again() {
    let (_dir, db) = migrated_db().await;
    let pool = &db;
    let id = jobs::enqueue(pool, &JobRequest::PushAll).await.expect("enqueue");
    let queued_too = jobs::enqueue(pool, &JobRequest::FetchAll).await.expect("enqueue");
    jobs::claim_next(pool, "test-worker").await.expect("claim").expect("job");

    let requeued =
        jobs::requeue_running(pool, "test-worker", "interrupted: the worker restarted").await.expect("requeue");

    assert_eq!(requeued, 1, "only the running job");
    let job = jobs::get(pool, id).await.expect("get").expect("job");
    assert_eq!(job.status, "queued");
    assert_eq!(job.progress.as_deref(), Some("interrupted: the worker restarted"));
    assert_eq!(job.started_at, None);
    assert_eq!(jobs::get(pool, queued_too).await.expect("get").expect("job").status, "queued");
    assert_eq!(jobs::queue_depth(pool).await.expect("depth"), 2);

    let again = jobs::claim_next(pool, "test-worker").await.expect("claim").expect("requeued job");
    assert_eq!(again.id, id, "still the oldest");
    assert_eq!(again.attempts, 2);
    assert_eq!(again.progress, None);
}

// --- worker status -------------------------------------------------------------------------

fn beat(state: &str) -> Beat<'_> {
    Beat {
        instance_id: "test-worker",
        role: "active",
        pid: 4242,
        host: "worker-1",
        version: "0.1.0",
        started_at: "2025-01-01T00:00:00.000Z",
        state,
        current_job_id: Some(3),
        current_step: Some("fetching lab (1/2)"),
    }
}

#[tokio::test]
async fn a_heartbeat_shows_the_worker_online_until_it_stops_or_goes_quiet() {
    let (_dir, db) = migrated_db().await;
    let pool = &db;
    assert!(worker_status::get(pool).await.expect("get").is_none(), "no worker has ever run");

    worker_status::beat(pool, &beat("running"), true).await.expect("beat");
    let status = worker_status::get(pool).await.expect("get").expect("status");
    assert!(status.is_online(), "{status:?}");
    assert_eq!((status.pid, status.host.as_str(), status.version.as_str()), (4242, "worker-1", "0.1.0"));
    assert_eq!(status.started_at, "2025-01-01T00:00:00.000Z");
    assert_eq!((status.state.as_str(), status.current_job_id), ("running", Some(3)));
    assert_eq!(status.current_step.as_deref(), Some("fetching lab (1/2)"));
    assert!(status.seconds_since_beat < worker_status::OFFLINE_AFTER_SECONDS);

    worker_status::beat(pool, &beat("stopped"), true).await.expect("beat");
    assert!(!worker_status::get(pool).await.expect("get").expect("status").is_online(), "a stopped worker");

    worker_status::beat(pool, &beat("idle"), true).await.expect("beat");
    assert!(worker_status::get(pool).await.expect("get").expect("status").is_online());
    pool.execute_for_tests(
        "UPDATE worker_status SET last_beat = $1",
        &shared::binds![shared::db::timestamp_before(std::time::Duration::from_secs(120))],
    )
    .await;
    let quiet = worker_status::get(pool).await.expect("get").expect("status");
    assert!(!quiet.is_online(), "a worker silent for two minutes: {quiet:?}");
}

// --- config --------------------------------------------------------------------------------

shared::backend_test!(seed_litellm_fills_only_empty_values_and_never_overwrites, |db| async move {
    let pool = &db;
    let key = |k: &str| Secret::new(k);

    config::seed_litellm(pool, Some(" http://litellm:4000 "), Some(&key("sk-env-1"))).await.expect("seed");
    let seeded = config::get(pool).await.expect("config");
    assert_eq!(seeded.litellm_url(), Some("http://litellm:4000"));
    assert_eq!(seeded.litellm_api_key.as_ref().map(Secret::expose), Some("sk-env-1"));

    config::seed_litellm(pool, Some("http://other:4000"), Some(&key("sk-env-2"))).await.expect("seed again");
    let unchanged = config::get(pool).await.expect("config");
    assert_eq!(unchanged.litellm_url(), Some("http://litellm:4000"));
    assert_eq!(unchanged.litellm_api_key.as_ref().map(Secret::expose), Some("sk-env-1"));
    assert_eq!(unchanged.updated_at, seeded.updated_at, "nothing to fill, nothing written");

    // The operator sets a URL and removes the key in the UI; only the empty key is filled.
    config::set_litellm(pool, Some("http://ui-chosen:4000"), None).await.expect("set");
    config::seed_litellm(pool, Some("http://env:4000"), Some(&key("sk-env-3"))).await.expect("seed");
    let filled = config::get(pool).await.expect("config");
    assert_eq!(filled.litellm_url(), Some("http://ui-chosen:4000"));
    assert_eq!(filled.litellm_api_key.as_ref().map(Secret::expose), Some("sk-env-3"));

    config::seed_litellm(pool, None, None).await.expect("seed nothing");
    assert_eq!(config::get(pool).await.expect("config").litellm_url(), Some("http://ui-chosen:4000"));
});

shared::backend_test!(set_sync_interval_accepts_off_or_at_least_thirty_seconds, |db| async move {
    let pool = &db;

    for rejected in [1, 15, 29, -5] {
        let result = config::set_sync_interval(pool, rejected).await;
        assert!(matches!(result, Err(DbError::Invalid(_))), "{rejected}: {result:?}");
        assert_eq!(config::get(pool).await.expect("config").sync_interval_seconds, 300, "{rejected} was stored");
    }
    for accepted in [0, 30, 3600] {
        config::set_sync_interval(pool, accepted).await.expect("valid interval");
        assert_eq!(config::get(pool).await.expect("config").sync_interval_seconds, accepted);
    }
});

// --- compat aliases ------------------------------------------------------------------------

backend_test!(
    register_defaults_aliases_only_present_non_orphaned_candidates_and_keeps_existing_aliases,
    |db| async move {
        let pool = &db;
        let lab = ollama_provider(&db, "lab").await;
        let everything = ["llama3.2:3b", "qwen3:8b", "qwen3:32b", "nomic-embed-text:latest"];
        let details: Vec<FetchedModel> = everything.iter().map(|id| fetched(id, 8192)).collect();
        models::record_fetch(pool, lab.id, &details, &ids(&everything)).await.expect("fetch");
        // llama3.2:3b leaves the server: first choice for gpt-4o-mini and gpt-3.5-turbo, now orphaned.
        models::record_fetch(pool, lab.id, &[], &ids(&everything[1..])).await.expect("fetch");
        assert!(model_named(&db, lab.id, "llama3.2:3b").await.is_orphaned);
        let compat_provider = providers::compat_provider(pool).await.expect("compat provider");
        let chosen = models::upsert_alias(pool, compat_provider.id, "gpt-4o", lab.id, "qwen3:8b").await.expect("alias");
        let chosen_before = models::get(pool, chosen).await.expect("get").expect("alias");

        let registered = compat::register_defaults(pool).await.expect("register");

        let expected = |alias: &str, model_id: &str| Registered {
            alias: alias.to_owned(),
            provider: "lab".to_owned(),
            model_id: model_id.to_owned(),
        };
        assert_eq!(
            registered,
            [
                expected("gpt-4o-mini", "qwen3:8b"),
                expected("gpt-4-turbo", "qwen3:32b"),
                expected("o3-mini", "qwen3:8b"),
                expected("text-embedding-3-small", "nomic-embed-text:latest"),
                expected("text-embedding-3-large", "nomic-embed-text:latest"),
                expected("text-embedding-ada-002", "nomic-embed-text:latest"),
            ]
        );
        let aliases = models::list_for_provider(pool, compat_provider.id).await.expect("aliases");
        assert!(aliases.iter().all(|a| a.mapped_provider_id == Some(lab.id)), "{aliases:?}");
        let mapping: Vec<(&str, Option<&str>)> =
            aliases.iter().map(|a| (a.model_id.as_str(), a.mapped_model_id.as_deref())).collect();
        assert_eq!(
            mapping,
            [
                ("gpt-4-turbo", Some("qwen3:32b")),
                ("gpt-4o", Some("qwen3:8b")),
                ("gpt-4o-mini", Some("qwen3:8b")),
                ("o3-mini", Some("qwen3:8b")),
                ("text-embedding-3-large", Some("nomic-embed-text:latest")),
                ("text-embedding-3-small", Some("nomic-embed-text:latest")),
                ("text-embedding-ada-002", Some("nomic-embed-text:latest")),
            ],
            "no alias for gpt-3.5-turbo (only an orphaned candidate) or o1 (no candidate)"
        );
        let chosen_after = models::get(pool, chosen).await.expect("get").expect("alias");
        assert_eq!(chosen_after.mapped_model_id.as_deref(), Some("qwen3:8b"), "the operator's alias is kept");
        assert_eq!(chosen_after.updated_at, chosen_before.updated_at, "and not rewritten");

        let second = compat::register_defaults(pool).await.expect("register again");
        assert!(second.is_empty(), "{second:?}");
        assert_eq!(models::list_for_provider(pool, compat_provider.id).await.expect("aliases").len(), aliases.len());
    }
);

backend_test!(models_are_searched_filtered_and_paged_with_their_status, |db| async move {
    let pool = &db;
    let lab =
        providers::insert(pool, &NewProvider::new("lab", ProviderType::Ollama, "http://lab:11434")).await.unwrap();
    let other =
        providers::insert(pool, &NewProvider::new("other", ProviderType::Ollama, "http://o:11434")).await.unwrap();
    let names: Vec<String> = (0..7).map(|i| format!("qwen-{i}:7b")).collect();
    let seen: Vec<FetchedModel> = names.iter().map(|n| fetched(n, 4096)).collect();
    models::record_fetch(pool, lab.id, &seen, &names).await.unwrap();
    models::record_fetch(pool, other.id, &[fetched("llama:8b", 8192)], &["llama:8b".to_owned()]).await.unwrap();
    let ids: Vec<shared::model::Model> = models::list_for_provider(pool, lab.id).await.unwrap();
    models::set_overrides(pool, ids[1].id, &Overrides { sync_enabled: Some(false), ..Overrides::default() })
        .await
        .unwrap();
    models::record_fetch(pool, lab.id, &[], &names[1..]).await.unwrap(); // qwen-0 orphaned
    let store = [IdToStore { provider_id: lab.id, model_row_id: ids[2].id, litellm_id: "x-2".into() }];
    models::store_litellm_ids(pool, &store).await.unwrap();
    shared::db::snapshot::save(pool, &[serde_json::json!({"model_name": "qwen-2:7b", "model_info": {"id": "x-2"}})])
        .await
        .unwrap();

    let query = |q: ModelQuery| async move { models::search(pool, &q).await.unwrap() };
    let all = query(ModelQuery::default()).await;
    assert_eq!(all.total, 8);
    let page =
        query(ModelQuery { q: Some("QWEN".into()), per_page: Some(3), page: Some(3), ..Default::default() }).await;
    assert_eq!((page.total, page.items.len(), page.page), (7, 1, 3));
    assert_eq!(page.items[0].0.model_id, "qwen-6:7b");
    let statuses: Vec<(String, ModelStatus)> =
        query(ModelQuery { provider_id: Some(lab.id), per_page: Some(3), ..Default::default() })
            .await
            .items
            .into_iter()
            .map(|(m, s)| (m.model_id, s.status))
            .collect();
    assert_eq!(
        statuses,
        vec![
            ("qwen-0:7b".into(), ModelStatus::Orphaned),
            ("qwen-1:7b".into(), ModelStatus::Disabled),
            ("qwen-2:7b".into(), ModelStatus::Synced)
        ]
    );
    let pending = query(ModelQuery { status: Some(ModelStatus::Pending), ..Default::default() }).await;
    assert_eq!(pending.total, 5);
    assert_eq!(query(ModelQuery { capability: Some("Vision".into()), ..Default::default() }).await.total, 0);
    assert_eq!(query(ModelQuery { capability: Some("completion".into()), ..Default::default() }).await.total, 8);
    let counts = models::status_counts(pool).await.unwrap();
    assert_eq!((counts.total, counts.synced, counts.pending, counts.orphaned, counts.disabled), (8, 1, 5, 1, 1));
});

shared::backend_test!(provider_updates_are_validated_and_keep_secrets_unless_replaced, |db| async move {
    let pool = &db;
    let mut new = NewProvider::new("lab", ProviderType::Ollama, "http://lab:11434");
    new.api_key = Some("sk-old-secret".into());
    let lab = providers::insert(pool, &new).await.unwrap();
    providers::insert(pool, &NewProvider::new("taken", ProviderType::Openai, "http://t/v1")).await.unwrap();

    let keep = ProviderChanges {
        api_key: Some(Some(String::new())),
        prefix: Some(Some(" lab ".into())),
        ..Default::default()
    };
    let updated = providers::update(pool, lab.id, &keep).await.unwrap().unwrap();
    assert_eq!(updated.api_key.as_ref().map(Secret::expose), Some("sk-old-secret"));
    assert_eq!(updated.prefix.as_deref(), Some("lab"));
    let remove_key = ProviderChanges { api_key: Some(None), ..Default::default() };
    assert!(providers::update(pool, lab.id, &remove_key).await.unwrap().unwrap().api_key.is_none());

    let bad = [
        ProviderChanges { base_url: Some("not a url".into()), ..Default::default() },
        ProviderChanges { base_url: Some("ftp://x".into()), ..Default::default() },
        ProviderChanges { sync_interval_seconds: Some(Some(15)), ..Default::default() },
        ProviderChanges { name: Some("  ".into()), ..Default::default() },
        ProviderChanges { kind: Some(ProviderType::Compat), ..Default::default() },
    ];
    for changes in bad {
        assert!(matches!(providers::update(pool, lab.id, &changes).await, Err(DbError::Invalid(_))), "{changes:?}");
    }
    let clash = ProviderChanges { name: Some("taken".into()), ..Default::default() };
    assert!(matches!(providers::update(pool, lab.id, &clash).await, Err(DbError::Conflict(_))));
    assert!(providers::update(pool, 999, &ProviderChanges::default()).await.unwrap().is_none());
    assert_eq!(providers::get(pool, lab.id).await.unwrap().unwrap().name, "lab", "nothing changed by the failures");
});

#[tokio::test]
async fn identical_queued_jobs_are_one_job_and_a_running_one_gets_one_follow_up() {
    let (_dir, db) = migrated_db().await;
    let pool = &db;
    let mut ids = Vec::new();
    for _ in 0..300 {
        ids.push(jobs::enqueue(pool, &JobRequest::SyncAll).await.expect("enqueue"));
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "300 clicks, one job");
    let other = jobs::enqueue(pool, &JobRequest::SyncProvider { provider_id: 1 }).await.expect("enqueue");
    let another = jobs::enqueue(pool, &JobRequest::SyncProvider { provider_id: 2 }).await.expect("enqueue");
    assert!(other != ids[0] && another != other, "another kind or payload is another job");
    assert_eq!(jobs::queue_depth(pool).await.expect("depth"), 3);

    let running = jobs::claim_next(pool, "test-worker").await.expect("claim").expect("job");
    assert_eq!(running.id, ids[0]);
    let follow_up = jobs::enqueue(pool, &JobRequest::SyncAll).await.expect("enqueue");
    assert_ne!(follow_up, running.id, "a click while it runs queues one more");
    for _ in 0..10 {
        assert_eq!(jobs::enqueue(pool, &JobRequest::SyncAll).await.expect("enqueue"), follow_up);
    }
    jobs::finish(pool, running.id, "test-worker", None, None).await.expect("finish");
    assert_eq!(jobs::enqueue(pool, &JobRequest::SyncAll).await.expect("enqueue"), follow_up);
}

#[tokio::test]
async fn a_job_that_keeps_taking_the_worker_down_is_given_up_after_three_attempts() {
    let (_dir, db) = migrated_db().await;
    let pool = &db;
    let crashing = jobs::enqueue(pool, &JobRequest::PushAll).await.expect("enqueue");
    for attempt in 1..=3 {
        let dying = format!("worker-{attempt}");
        let job = jobs::claim_next(pool, &dying).await.expect("claim").expect("job");
        assert_eq!((job.id, job.attempts), (crashing, attempt));
        assert_eq!(job.claimed_by.as_deref(), Some(dying.as_str()));
        // The worker dies here; the next one takes the lease.
        let next = format!("worker-{}", attempt + 1);
        let untouched = jobs::recover_abandoned(pool, &dying, "not its own").await.expect("recover");
        assert_eq!(untouched, jobs::Recovered::default(), "a worker never recovers the jobs it runs itself");
        let recovered = jobs::recover_abandoned(pool, &next, "interrupted by a worker restart").await.expect("recover");
        let expected = if attempt < 3 {
            jobs::Recovered { requeued: 1, gave_up: 0 }
        } else {
            jobs::Recovered { requeued: 0, gave_up: 1 }
        };
        assert_eq!(recovered, expected, "after attempt {attempt}");
    }
    let job = jobs::get(pool, crashing).await.expect("get").expect("job");
    assert_eq!(job.status, "failed");
    assert_eq!(job.error.as_deref(), Some("gave up after 3 attempts; the last one stopped the worker"));
    assert!(job.finished_at.is_some());
    assert!(jobs::claim_next(pool, "test-worker").await.expect("claim").is_none());
}

backend_test!(the_compat_provider_is_created_once_when_many_ask_for_it_at_once, |db| async move {
    let asked: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { providers::compat_provider(&db).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in asked {
        ids.push(task.await.expect("task").expect("the compat provider, created or found").id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one provider for all: {ids:?}");
});

backend_test!(a_cut_off_worker_that_wakes_up_late_cannot_overwrite_the_job_another_worker_ran, |db| async move {
    let job = jobs::enqueue(&db, &JobRequest::SyncAll).await.expect("enqueue");
    let claimed = jobs::claim_next(&db, "worker-a").await.expect("claim").expect("job");
    assert_eq!(claimed.id, job);
    assert!(jobs::set_progress(&db, job, "worker-a", "pushing (1/2)").await.expect("progress"), "a's own job");
    // A is cut off from the database; B takes the lease and recovers A's job.
    let recovered = jobs::recover_abandoned(&db, "worker-b", "interrupted").await.expect("recover");
    assert_eq!(recovered, jobs::Recovered { requeued: 1, gave_up: 0 });
    // Re-queued but not yet claimed again: A's late word does not end it.
    assert!(!jobs::finish(&db, job, "worker-a", Some(&json!({"late": true})), None).await.expect("finish"));
    let queued = jobs::get(&db, job).await.expect("get").expect("job");
    assert_eq!((queued.status.as_str(), queued.result.is_none()), ("queued", true), "{queued:?}");

    let again = jobs::claim_next(&db, "worker-b").await.expect("claim").expect("job");
    assert_eq!((again.id, again.attempts), (job, 2));
    assert!(jobs::set_progress(&db, job, "worker-b", "pushing (2/2)").await.expect("progress"));
    assert!(!jobs::set_progress(&db, job, "worker-a", "pushing (1/2)").await.expect("progress"), "not a's any more");
    assert_eq!(jobs::get(&db, job).await.expect("get").expect("job").progress.as_deref(), Some("pushing (2/2)"));
    assert!(jobs::finish(&db, job, "worker-b", Some(&json!({"by": "b"})), None).await.expect("finish"));
    let done = jobs::get(&db, job).await.expect("get").expect("job");

    // A wakes up and reports how its cut-off run ended: nothing changes.
    assert!(!jobs::finish(&db, job, "worker-a", None, Some("LiteLLM writes stopped")).await.expect("finish"));
    assert!(!jobs::set_progress(&db, job, "worker-a", "late").await.expect("progress"));
    let after = jobs::get(&db, job).await.expect("get").expect("job");
    assert_eq!(after.status, "done");
    assert_eq!(after.result.as_ref().map(|r| &r.0), Some(&json!({"by": "b"})));
    assert_eq!(after.error, None);
    assert_eq!(after.claimed_by.as_deref(), Some("worker-b"));
    assert_eq!((after.finished_at, after.progress), (done.finished_at, done.progress));
});

#[tokio::test]
async fn the_worker_lease_has_one_holder_and_a_new_token_for_each_term() {
    use shared::db::lease;
    use std::time::Duration;
    let (_dir, db) = migrated_db().await;
    let term = Duration::from_secs(30);
    let first = lease::acquire(&db, "a", term).await.expect("acquire").expect("free lease");
    assert_eq!(lease::acquire(&db, "b", term).await.expect("acquire"), None, "held by a");
    assert_eq!(lease::acquire(&db, "a", term).await.expect("renew"), Some(first), "renewal keeps the token");
    assert!(lease::is_held(&db, "a", first).await.expect("held"));
    assert!(!lease::is_held(&db, "b", first).await.expect("held"));
    assert!(lease::release(&db, "a", first).await.expect("release"));
    let second = lease::acquire(&db, "b", Duration::from_millis(200)).await.expect("acquire").expect("released");
    assert!(second > first, "a new term, a new token: {second} > {first}");
    assert_eq!(lease::acquire(&db, "a", term).await.expect("acquire"), None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let third = lease::acquire(&db, "a", term).await.expect("acquire").expect("b's term ran out");
    assert!(third > second);
    assert!(!lease::is_held(&db, "b", second).await.expect("held"), "the old holder's token is void");
    assert!(!lease::release(&db, "b", second).await.expect("release"), "an old holder cannot release a new term");
}

// --- the file on disk ----------------------------------------------------------------------

#[tokio::test]
async fn the_database_file_is_the_owners_alone_and_its_loss_is_noticed() {
    use shared::db::OnDisk;
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, db) = migrated_db().await;
    let path = db.path().expect("a SQLite file").to_path_buf();
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777).ok();
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        assert_eq!(mode(&file), Some(0o600), "{}", file.display());
    }
    assert_eq!(db.check_on_disk(), OnDisk::Present);
    assert!(db.is_still_on_disk());

    // An existing 0644 file is narrowed when opened.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let again = Database::open(&path).await.expect("open");
    assert_eq!(mode(&path), Some(0o600));
    again.close().await;

    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).expect("copy");
    std::fs::remove_file(&path).expect("delete");
    assert_eq!(db.check_on_disk(), OnDisk::Missing(path.clone()));
    assert!(db.check_on_disk().lost().is_some_and(|m| m.contains("was deleted while in use")));
    std::fs::rename(&copy, &path).expect("replace");
    assert_eq!(db.check_on_disk(), OnDisk::Replaced(path.clone()));
    assert!(!db.is_still_on_disk());
}

backend_test!(stored_raw_metadata_is_capped_with_a_marker_and_derivation_sees_all_of_it, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    let raw = json!({
        "parameters": "p".repeat(200_000),
        "details": {"family": "llama"},
        "model_info": {"general.architecture": "llama", "llama.context_length": 8192},
    });
    let huge = FetchedModel::from_upstream(ProviderType::Ollama, "huge:7b", None, &raw);
    assert!(huge.raw_metadata.len() <= models::MAX_RAW_METADATA);
    assert_eq!(huge.derived.context_window, Some(8192));
    models::record_fetch(&db, lab.id, &[huge], &ids(&["huge:7b"])).await.expect("fetch");

    let model = models::get_by_model_id(&db, lab.id, "huge:7b").await.expect("query").expect("model");
    let stored = models::raw_metadata(&db, model.id).await.expect("query").expect("raw");
    assert_eq!(stored[models::RAW_TRUNCATED]["original_bytes"], raw.to_string().len());
    assert_eq!(stored["details"]["family"], "llama", "members that fit are kept");
    assert!(stored.get("parameters").is_none());

    let small = fetched("small:7b", 4096);
    assert!(!small.raw_metadata.contains(models::RAW_TRUNCATED));
});

backend_test!(a_staged_fetch_counts_like_record_fetch_and_writes_nothing_until_committed, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    models::record_fetch(&db, lab.id, &[fetched("a", 4096), fetched("b", 4096)], &ids(&["a", "b"]))
        .await
        .expect("fetch");

    let mut stage = models::FetchStage::open(&db).await.expect("stage");
    stage.add(&[fetched("a", 8192), fetched("c", 4096)]).await.expect("stage a batch");
    stage.add(&[fetched("d", 4096)]).await.expect("stage a batch");
    assert_eq!(stage.len(), 3);
    assert_eq!(models::list_for_provider(&db, lab.id).await.expect("list").len(), 2, "nothing written yet");
    drop(stage);
    assert_eq!(models::list_for_provider(&db, lab.id).await.expect("list").len(), 2, "a dropped stage");

    let mut stage = models::FetchStage::open(&db).await.expect("stage");
    stage.add(&[fetched("a", 8192), fetched("c", 4096)]).await.expect("stage a batch");
    let counted = stage.commit(lab.id, &ids(&["a", "c"])).await.expect("commit");
    assert_eq!(counted, counts(2, 1, 1, 1, 0));
    let a = models::get_by_model_id(&db, lab.id, "a").await.expect("query").expect("a");
    assert_eq!(a.context_window, Some(8192));
    let b = models::get_by_model_id(&db, lab.id, "b").await.expect("query").expect("b");
    assert!(b.is_orphaned);

    // New models get their rows in the order they were staged, a repeated id where it was staged last.
    let mut stage = models::FetchStage::open(&db).await.expect("stage");
    stage.add(&[fetched("z", 4096), fetched("y", 4096)]).await.expect("stage a batch");
    stage.add(&[fetched("z", 8192)]).await.expect("stage a batch");
    let counted = stage.commit(lab.id, &ids(&["a", "c", "y", "z"])).await.expect("commit");
    assert_eq!(counted, counts(4, 2, 0, 0, 0));
    let (y, z) = (model_named(&db, lab.id, "y").await, model_named(&db, lab.id, "z").await);
    assert!(y.id < z.id, "y {} before z {}", y.id, z.id);
    assert_eq!(z.context_window, Some(8192), "the later copy wins");
});

backend_test!(aliases_exclusions_parts_and_bulk_resets_keep_to_their_rows, |db| async move {
    let filtered = NewProvider {
        model_filter: Some("qwen".into()),
        ..NewProvider::new("lab", ProviderType::Ollama, "http://lab:11434")
    };
    let lab = providers::insert(&db, &filtered).await.expect("insert provider");
    let names = ["llama3:8b", "qwen3:32b", "qwen3:8b"];
    let details: Vec<FetchedModel> = names.iter().map(|id| fetched(id, 8192)).collect();
    models::record_fetch(&db, lab.id, &details, &ids(&names)).await.expect("fetch");
    let (llama, qwen) = (model_named(&db, lab.id, "llama3:8b").await, model_named(&db, lab.id, "qwen3:8b").await);

    let reason = exclusions::reason(&db, llama.id).await.expect("reason");
    assert!(reason.as_deref().is_some_and(|r| r.contains("lab")), "{reason:?}");
    assert_eq!(exclusions::reason(&db, qwen.id).await.expect("reason"), None);
    assert_eq!(models::status(&db, llama.id).await.expect("status"), Some(ModelStatus::Excluded));
    assert_eq!(models::status(&db, qwen.id).await.expect("status"), Some(ModelStatus::Pending));
    assert_eq!(models::status(&db, qwen.id + 1000).await.expect("status"), None);

    let first = models::list_part(&db, 0, 2).await.expect("part");
    let rest = models::list_part(&db, first[1].id, 10).await.expect("part");
    let mut seen: Vec<i64> = first.iter().chain(&rest).map(|m| m.id).collect();
    assert_eq!((first.len(), rest.len()), (2, 1));
    assert!(seen.is_sorted(), "{seen:?}");
    seen.dedup();
    assert_eq!(seen.len(), 3);

    let raw = models::raw_metadata(&db, qwen.id).await.expect("raw").expect("stored").to_string();
    let (head, total) = models::raw_metadata_head(&db, qwen.id, 10).await.expect("head").expect("stored");
    assert_eq!((head.as_str(), usize::try_from(total).ok()), (&raw[..10], Some(raw.len())));

    let compat_provider = providers::compat_provider(&db).await.expect("compat provider");
    let alias = models::upsert_alias(&db, compat_provider.id, " gpt-4o ", lab.id, "qwen3:8b").await.expect("alias");
    let again = models::upsert_alias(&db, compat_provider.id, "gpt-4o", lab.id, "qwen3:32b").await.expect("alias");
    assert_eq!(again, alias, "re-pointing keeps the row");
    let alias_row = models::get(&db, alias).await.expect("get").expect("alias");
    assert_eq!(alias_row.model_id, "gpt-4o");
    let targets = models::alias_targets(&db, std::slice::from_ref(&alias_row)).await.expect("targets");
    assert_eq!(targets.iter().map(|m| m.model_id.as_str()).collect::<Vec<_>>(), ["qwen3:32b"]);
    assert!(models::update_alias(&db, alias, "gpt-4.1", lab.id, "qwen3:8b").await.expect("rename"));
    assert!(!models::update_alias(&db, alias + 1000, "gpt-4.1", lab.id, "qwen3:8b").await.expect("unknown id"));
    let renamed = models::get(&db, alias).await.expect("get").expect("alias");
    assert_eq!((renamed.model_id.as_str(), renamed.mapped_model_id.as_deref()), ("gpt-4.1", Some("qwen3:8b")));

    let pinned = Overrides {
        user_tags: Some(Some(ids(&["pinned"]))),
        sync_enabled: Some(false),
        ollama_mode: Some(Some(OllamaMode::Ollama)),
        ..Overrides::default()
    };
    assert!(models::set_overrides(&db, qwen.id, &pinned).await.expect("set"));
    assert!(models::set_overrides(&db, alias, &pinned).await.expect("set"));
    assert_eq!(models::clear_all_overrides(&db).await.expect("clear"), 1, "only the discovered model");
    let cleared = model_named(&db, lab.id, "qwen3:8b").await;
    assert!(cleared.user_tags.is_none() && cleared.ollama_mode.is_none() && cleared.sync_enabled);
    assert!(!cleared.user_modified);
    let kept = models::get(&db, alias).await.expect("get").expect("alias");
    assert_eq!((kept.ollama_mode, kept.sync_enabled), (Some(OllamaMode::Ollama), false), "an alias keeps its own");

    assert_eq!(models::delete_discovered(&db).await.expect("delete discovered"), 3);
    let left: Vec<i64> = models::list_all(&db).await.expect("list").into_iter().map(|m| m.id).collect();
    assert_eq!(left, [alias], "aliases are settings and stay");
    assert!(models::delete(&db, alias).await.expect("delete"));
    assert!(!models::delete(&db, alias).await.expect("delete again"));
});

// --- the LiteLLM snapshot ------------------------------------------------------------------

backend_test!(a_staged_snapshot_follows_the_pushs_operations_and_is_read_only_once_published, |db| async move {
    let entry = |id: &str, name: &str| json!({"model_name": name, "model_info": {"id": id}});
    snapshot::save(&db, &[entry("old-1", "old")]).await.expect("save");
    let (first_taken, _) = snapshot::latest(&db).await.expect("latest").expect("a snapshot");
    assert!(shared::db::seconds_since(&first_taken).is_some_and(|s| (-5.0..60.0).contains(&s)), "{first_taken}");

    let staged = snapshot::Staged::begin(&db).await.expect("begin");
    staged.add(&[entry("x-1", "one"), entry("x-2", "two"), entry("x-3", "three")]).await.expect("add");
    staged.add(&[entry("x-2", "two again")]).await.expect("add a repeated id");
    let (_, before) = snapshot::latest(&db).await.expect("latest").expect("a snapshot");
    assert_eq!(before, [entry("old-1", "old")], "readers see the previous snapshot until it is published");
    let found = staged.entries(&["x-2", "x-9"]).await.expect("entries");
    assert_eq!(found.len(), 1);
    assert_eq!(found["x-2"]["model_name"], "two", "the first of a repeated id");

    let created = entry("x-4", "four");
    let patch = json!({"model_info": {"tier": "gold"}, "model_name": "one renamed"});
    let gone = Value::Null;
    staged
        .record([(Action::Create, "x-4", &created), (Action::Update, "x-1", &patch), (Action::Delete, "x-3", &gone)])
        .await
        .expect("record");
    staged.publish().await.expect("publish");

    let (_, entries) = snapshot::latest(&db).await.expect("latest").expect("a snapshot");
    let names: Vec<&str> = entries.iter().filter_map(|e| e["model_name"].as_str()).collect();
    assert_eq!(names, ["one renamed", "two", "two again", "four"], "LiteLLM's order, a created entry last");
    assert_eq!(entries[0]["model_info"], json!({"id": "x-1", "tier": "gold"}));
    assert_eq!(entries[3]["model_info"]["db_model"], true);

    snapshot::save(&db, &[]).await.expect("save an empty list");
    assert_eq!(snapshot::latest(&db).await.expect("latest").map(|(_, e)| e.len()), Some(0));
});

// --- raw SQL for tests ---------------------------------------------------------------------

shared::backend_test!(raw_test_sql_writes_and_reads_every_column_type_on_either_backend, |db| async move {
    let lab = ollama_provider(&db, "lab").await;
    let changed = db
        .execute_for_tests(
            "UPDATE providers SET api_key = NULL, prefix = $1, sync_enabled = FALSE WHERE id = $2",
            &shared::binds!["p|x", lab.id],
        )
        .await;
    assert_eq!(changed, 1);
    assert_eq!(
        db.execute_for_tests("UPDATE providers SET prefix = 'none' WHERE id = $1", &shared::binds![-1]).await,
        0
    );

    let rows = db
        .rows_for_tests(
            "SELECT id, name, api_key, prefix, sync_enabled, CAST(0.25 AS DOUBLE PRECISION) FROM providers \
             WHERE id = $1",
            &shared::binds![lab.id],
        )
        .await;
    let disabled = match db.backend() {
        shared::db::Backend::Sqlite => "0",
        shared::db::Backend::Postgres => "false",
    };
    let expected: Vec<Option<String>> = vec![
        Some(lab.id.to_string()),
        Some("lab".into()),
        None,
        Some("p|x".into()),
        Some(disabled.into()),
        Some("0.25".into()),
    ];
    assert_eq!(rows, vec![expected]);
    assert_eq!(db.int_for_tests("SELECT COUNT(*) FROM providers WHERE name = $1", &shared::binds!["lab"]).await, 1);
    assert_eq!(db.text_for_tests("SELECT api_key FROM providers", &[]).await, None);
});
