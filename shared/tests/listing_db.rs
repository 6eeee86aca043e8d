//! The listings, page views, run history and LiteLLM health of the store, on SQLite and on
//! PostgreSQL: the same calls, the same answers. Rows the worker would write (models, the
//! LiteLLM snapshot, jobs) are arranged in SQL both backends accept.

use shared::backend_test;
use shared::db::listing::{self, EntryList, EntrySort, ModelList, ModelSort, Owner};
use shared::db::litellm_health::{self, Failure};
use shared::db::models::ModelStatus;
use shared::db::sync_runs;
use shared::db::{Location, views};
use shared::listing::Direction;
use shared::runs::{RunCounts, RunKind, RunStatus};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

/// A pool of sqlx's own on the test database, for arranging rows no store function writes here.
enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Raw {
    async fn open(location: &Location) -> Self {
        match location {
            Location::Sqlite(_) => Self::Sqlite(SqlitePool::connect(&location.to_url()).await.expect("sqlite pool")),
            Location::Postgres(_) => Self::Postgres(PgPool::connect(&location.to_url()).await.expect("postgres pool")),
        }
    }

    /// The id of the provider called `name`.
    async fn provider_id(&self, name: &str) -> i64 {
        const SQL: &str = "SELECT id FROM providers WHERE name = $1";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(SQL).bind(name).fetch_one(pool).await.expect(SQL),
            Self::Postgres(pool) => sqlx::query_scalar(SQL).bind(name).fetch_one(pool).await.expect(SQL),
        }
    }

    async fn execute(&self, sql: &'static str) {
        match self {
            Self::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop).expect(sql),
            Self::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(drop).expect(sql),
        }
    }
}

const PROVIDERS: &str = "INSERT INTO providers (name, base_url, type) VALUES \
     ('lab', 'http://lab:11434', 'ollama'), ('gpu', 'http://gpu:11434', 'ollama'), \
     ('aliases', 'http://unused', 'compat')";

/// Five models of two providers (synced, pending, orphaned, disabled, pending) and one alias.
const MODELS: &str = "INSERT INTO models \
       (provider_id, model_id, model_type, context_window, capabilities, litellm_model_id, is_orphaned, sync_enabled) \
     SELECT p.id, v.model_id, v.model_type, v.context_window, v.capabilities, v.litellm_model_id, v.is_orphaned, \
       v.sync_enabled \
     FROM providers p JOIN (SELECT 'lab' AS provider, 'llama3:8b' AS model_id, 'chat' AS model_type, \
         8192 AS context_window, '[\"tools\"]' AS capabilities, 'lit-llama' AS litellm_model_id, \
         FALSE AS is_orphaned, TRUE AS sync_enabled \
       UNION ALL SELECT 'lab', 'Llama3:70b', 'chat', 131072, '[\"tools\",\"vision\"]', NULL, FALSE, TRUE \
       UNION ALL SELECT 'lab', 'nomic-embed', 'embedding', 2048, '[\"embedding\"]', 'lit-nomic', TRUE, TRUE \
       UNION ALL SELECT 'gpu', 'qwen2:7b', 'chat', NULL, '[]', 'lit-qwen', FALSE, FALSE \
       UNION ALL SELECT 'gpu', 'llama3:8b', 'chat', 32768, '[\"tools\"]', 'lit-gpu', FALSE, TRUE) v \
     ON v.provider = p.name";

const ALIAS: &str = "INSERT INTO models (provider_id, model_id, mapped_provider_id, mapped_model_id, litellm_model_id) \
     SELECT a.id, 'gpt-4o', t.id, 'llama3:8b', 'lit-alias' FROM providers a, providers t \
     WHERE a.name = 'aliases' AND t.name = 'lab'";

/// LiteLLM's list: ours (two, one of them the alias), one the Python tool wrote, one someone
/// added to LiteLLM's database, one from LiteLLM's config file.
const SNAPSHOT: &str = "INSERT INTO litellm_snapshot (id, taken_at) VALUES (1, '2026-01-02T03:04:05.678Z'); \
     INSERT INTO litellm_entries (litellm_id, model_name, owned, entry) VALUES \
     ('lit-llama', 'llama3:8b', TRUE, '{\"model_name\":\"llama3:8b\",\"litellm_params\":{\"model\":\"ollama_chat/llama3:8b\"},\"model_info\":{\"id\":\"lit-llama\",\"managed_by\":\"litellm-updater\"}}'), \
     ('py-1', 'Old-Python', TRUE, '{\"model_name\":\"Old-Python\",\"litellm_params\":{\"model\":\"openai/zeta\"},\"model_info\":{\"id\":\"py-1\"}}'), \
     ('db-1', 'someone10', FALSE, '{\"model_name\":\"someone10\",\"litellm_params\":{\"model\":\"azure/b\"},\"model_info\":{\"id\":\"db-1\",\"db_model\":true}}'), \
     (NULL, 'someone9', FALSE, '{\"model_name\":\"someone9\",\"litellm_params\":{\"model\":\"a/x\"}}'), \
     ('lit-alias', 'gpt-4o', TRUE, '{\"model_name\":\"gpt-4o\",\"litellm_params\":{\"model\":\"ollama_chat/llama3:8b\"},\"model_info\":{\"id\":\"lit-alias\",\"managed_by\":\"litellm-updater\"}}')";

/// The providers, models and snapshot above, written through a pool of the test's own.
async fn arranged(location: &Location) -> Raw {
    let raw = Raw::open(location).await;
    raw.execute(PROVIDERS).await;
    raw.execute(MODELS).await;
    raw.execute(ALIAS).await;
    raw.execute(SNAPSHOT).await;
    raw
}

fn model_ids(listed: &listing::Listed<listing::ListedModel>) -> Vec<String> {
    listed.items.iter().map(|m| format!("{}/{}", m.model.provider_id, m.model.model_id)).collect()
}

fn names(listed: &listing::Listed<listing::ListedModel>) -> Vec<&str> {
    listed.items.iter().map(|m| m.model.model_id.as_str()).collect()
}

backend_test!(
    models_are_listed_filtered_sorted_and_paged_the_same_on_both_backends,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let raw = arranged(test_db.location()).await;
            let (lab, gpu) = (raw.provider_id("lab").await, raw.provider_id("gpu").await);
            let list = |query: ModelList| {
                let db = db.clone();
                async move { listing::models(&db, &query).await.expect("list") }
            };

            // By provider (natural order of names), then model id naturally (8b before 70b).
            let all = list(ModelList::default()).await;
            assert_eq!(all.total, 6);
            assert_eq!(
                names(&all),
                ["gpt-4o", "llama3:8b", "qwen2:7b", "llama3:8b", "Llama3:70b", "nomic-embed"],
                "{:?}",
                model_ids(&all)
            );
            let statuses: Vec<(&str, ModelStatus)> =
                all.items.iter().map(|m| (m.model.model_id.as_str(), m.status)).collect();
            assert!(statuses.contains(&("nomic-embed", ModelStatus::Orphaned)), "{statuses:?}");
            assert!(statuses.contains(&("qwen2:7b", ModelStatus::Disabled)), "{statuses:?}");
            assert!(statuses.contains(&("Llama3:70b", ModelStatus::Pending)), "{statuses:?}");
            assert!(statuses.contains(&("gpt-4o", ModelStatus::Synced)), "{statuses:?}");

            // Case-insensitive search, a provider, a capability, a status.
            let found = list(ModelList { q: Some(" LLAMA3 ".into()), ..ModelList::default() }).await;
            assert_eq!(names(&found), ["llama3:8b", "llama3:8b", "Llama3:70b"]);
            let of_lab = list(ModelList { provider_id: Some(lab), ..ModelList::default() }).await;
            assert_eq!(names(&of_lab), ["llama3:8b", "Llama3:70b", "nomic-embed"]);
            let vision = list(ModelList { capability: Some("Vision".into()), ..ModelList::default() }).await;
            assert_eq!(names(&vision), ["Llama3:70b"]);
            let tools_of_gpu =
                list(ModelList { capability: Some("tools".into()), provider_id: Some(gpu), ..ModelList::default() })
                    .await;
            assert_eq!(names(&tools_of_gpu), ["llama3:8b"]);
            let synced = list(ModelList { status: Some(ModelStatus::Synced), ..ModelList::default() }).await;
            assert_eq!(names(&synced), ["gpt-4o", "llama3:8b"]);
            let none = list(ModelList { q: Some("nothing-like-it".into()), ..ModelList::default() }).await;
            assert_eq!((none.total, none.items.len()), (0, 0));

            // Sorted by context, largest first (no context sorts as the smallest), and paged.
            let by_context =
                ModelList { sort: ModelSort::Context, direction: Direction::Descending, ..ModelList::default() };
            let first = list(ModelList { per_page: Some(2), ..by_context.clone() }).await;
            assert_eq!(names(&first), ["Llama3:70b", "llama3:8b"]);
            assert_eq!(first.items[1].model.provider_id, gpu);
            let last = list(ModelList { per_page: Some(2), page: Some(3), ..by_context }).await;
            assert_eq!((last.total, last.window.pages), (6, 3));
            assert_eq!(names(&last), ["qwen2:7b", "gpt-4o"]);

            // By status, then model id.
            let by_status = list(ModelList { sort: ModelSort::Status, ..ModelList::default() }).await;
            assert_eq!(
                names(&by_status),
                ["qwen2:7b", "nomic-embed", "llama3:8b", "Llama3:70b", "gpt-4o", "llama3:8b"]
            );
            // By mode: chat before embedding; the alias has none and comes first.
            let by_mode = list(ModelList { sort: ModelSort::Mode, ..ModelList::default() }).await;
            assert_eq!(names(&by_mode).first(), Some(&"gpt-4o"));
            assert_eq!(names(&by_mode).last(), Some(&"nomic-embed"));
        }
);

backend_test!(
    litellm_entries_are_listed_by_owner_searched_and_sorted_the_same_on_both_backends,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let raw = arranged(test_db.location()).await;
            let lab = raw.provider_id("lab").await;
            let list = |query: EntryList| {
                let db = db.clone();
                async move { listing::entries(&db, &query).await.expect("entries") }
            };
            let model_names = |listed: &listing::Listed<listing::ListedEntry>| -> Vec<String> {
                listed.items.iter().map(|e| e.model_name.clone()).collect()
            };

            assert_eq!(listing::entry_counts(&db).await.expect("counts"), (5, 3));
            let all = list(EntryList::default()).await;
            assert_eq!(model_names(&all), ["gpt-4o", "llama3:8b", "Old-Python", "someone9", "someone10"]);
            let owners: Vec<(String, Owner, bool)> =
                all.items.iter().map(|e| (e.model_name.clone(), e.owner(), e.deletable())).collect();
            assert_eq!(
                owners,
                [
                    ("gpt-4o".into(), Owner::Ours, true),
                    ("llama3:8b".into(), Owner::Ours, true),
                    ("Old-Python".into(), Owner::Python, true),
                    ("someone9".into(), Owner::ConfigFile, false),
                    ("someone10".into(), Owner::Others, false),
                ]
            );
            let llama = &all.items[1];
            assert_eq!(llama.provider_name.as_deref(), Some("lab"));
            assert!(llama.model_row_id.is_some());
            assert_eq!(llama.entry["litellm_params"]["model"], "ollama_chat/llama3:8b");
            assert_eq!((all.items[2].model_row_id, all.items[2].provider_name.as_deref()), (None, None));

            for (owner, expected) in [
                (Owner::Ours, vec!["gpt-4o", "llama3:8b"]),
                (Owner::Python, vec!["Old-Python"]),
                (Owner::ConfigFile, vec!["someone9"]),
                (Owner::Others, vec!["someone10"]),
            ] {
                let listed = list(EntryList { owner: Some(owner), ..EntryList::default() }).await;
                assert_eq!(model_names(&listed), expected, "{owner:?}");
            }
            // The search covers the name and the deployment id, ignoring case.
            assert_eq!(
                model_names(&list(EntryList { q: Some("OLD".into()), ..EntryList::default() }).await),
                ["Old-Python"]
            );
            assert_eq!(
                model_names(&list(EntryList { q: Some("DB-1".into()), ..EntryList::default() }).await),
                ["someone10"]
            );
            let of_lab = list(EntryList { provider_id: Some(lab), ..EntryList::default() }).await;
            assert_eq!(model_names(&of_lab), ["llama3:8b"]);

            let by_model = list(EntryList { sort: EntrySort::Model, ..EntryList::default() }).await;
            assert_eq!(model_names(&by_model), ["someone9", "someone10", "gpt-4o", "llama3:8b", "Old-Python"]);
            let by_owner =
                list(EntryList { sort: EntrySort::Owner, direction: Direction::Descending, ..EntryList::default() })
                    .await;
            assert_eq!(model_names(&by_owner), ["Old-Python", "llama3:8b", "gpt-4o", "someone10", "someone9"]);
            let by_provider =
                list(EntryList { sort: EntrySort::Provider, per_page: Some(2), page: Some(3), ..EntryList::default() })
                    .await;
            assert_eq!((by_provider.total, model_names(&by_provider)), (5, vec!["llama3:8b".to_owned()]));
        }
);

backend_test!(
    the_page_views_count_join_and_find_the_same_on_both_backends,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            assert_eq!(views::snapshot_taken_at(&db).await.expect("taken at"), None);
            assert!(views::model_counts(&db).await.expect("counts").is_empty());
            assert!(views::latest_job(&db, "sync").await.expect("latest").is_none());
            let raw = arranged(test_db.location()).await;
            let (lab, gpu) = (raw.provider_id("lab").await, raw.provider_id("gpu").await);
            let aliases_id = raw.provider_id("aliases").await;

            let counts = views::model_counts(&db).await.expect("counts");
            assert_eq!((counts[&lab].total, counts[&lab].orphaned), (3, 1));
            assert_eq!((counts[&gpu].total, counts[&gpu].orphaned), (2, 0));
            let entries = views::litellm_entries_by_provider(&db).await.expect("by provider");
            assert_eq!((entries.get(&lab), entries.get(&gpu), entries.get(&aliases_id)), (Some(&1), None, Some(&1)));

            let mut owned = views::owned_litellm_ids(&db).await.expect("owned");
            owned.sort();
            assert_eq!(owned, ["lit-alias", "lit-llama", "py-1"]);
            assert!(views::in_litellm(&db, "db-1").await.expect("in"));
            assert!(!views::in_litellm(&db, "lit-qwen").await.expect("in"));
            assert_eq!(
                views::snapshot_taken_at(&db).await.expect("taken at").as_deref(),
                Some("2026-01-02T03:04:05.678Z")
            );

            let snapshot = views::litellm_entries(&db).await.expect("entries");
            let in_order: Vec<&str> = snapshot.iter().map(|e| e.model_name.as_str()).collect();
            assert_eq!(in_order, ["llama3:8b", "Old-Python", "someone10", "someone9", "gpt-4o"], "LiteLLM's order");
            assert_eq!((snapshot[0].provider_name.as_deref(), snapshot[0].owned), (Some("lab"), true));
            assert_eq!(snapshot[2].entry["model_info"]["db_model"], true);

            let aliases = views::aliases(&db).await.expect("aliases");
            assert_eq!(aliases.len(), 1);
            let alias = &aliases[0];
            assert_eq!((alias.alias.as_str(), alias.target_provider.as_deref()), ("gpt-4o", Some("lab")));
            assert_eq!((alias.target_model_id.as_deref(), alias.target_orphaned), (Some("llama3:8b"), Some(false)));
            assert!(alias.target_row_id.is_some() && alias.sync_enabled && alias.in_litellm);

            raw.execute(
                "INSERT INTO jobs (kind, status, result) VALUES ('sync', 'done', '{\"n\":1}'), ('sync', 'failed', NULL), \
                 ('push', 'done', NULL)",
            )
            .await;
            let latest = views::latest_job(&db, "sync").await.expect("latest").expect("a sync job");
            assert_eq!(latest.status, "failed");
            let done = views::latest_done_job(&db, "sync").await.expect("latest done").expect("a done sync job");
            assert_eq!(
                (done.status.as_str(), done.result.as_ref().map(|r| r["n"].clone())),
                ("done", Some(serde_json::json!(1)))
            );
            assert!(done.id < latest.id);
            assert_eq!(views::count_sync_runs(&db).await.expect("runs"), 0);
        }
);

backend_test!(
    sync_runs_keep_history_and_the_last_finished_run_of_each_provider,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let raw = arranged(test_db.location()).await;
            let (lab, gpu) = (raw.provider_id("lab").await, raw.provider_id("gpu").await);
            let pool = &db;
            let lab_ref = Some((lab, "lab"));
            let gpu_ref = Some((gpu, "gpu"));

            let lab_fetch = sync_runs::start(pool, lab_ref, RunKind::Fetch, "schedule", None).await.expect("start");
            let fetched = RunCounts { models_seen: 3, added: 3, ..RunCounts::default() };
            sync_runs::finish(pool, lab_fetch, RunStatus::Ok, &fetched, None).await.expect("finish");
            let lab_sync = sync_runs::start(pool, lab_ref, RunKind::Sync, "job", Some(7)).await.expect("start");
            let synced =
                RunCounts { models_seen: 3, updated: 1, litellm_created: 2, litellm_failed: 1, ..RunCounts::default() };
            sync_runs::finish(
                pool,
                lab_sync,
                RunStatus::Warning,
                &synced,
                Some("push: 1 of 3 LiteLLM operations failed"),
            )
            .await
            .expect("finish");
            let gpu_fetch = sync_runs::start(pool, gpu_ref, RunKind::Fetch, "schedule", None).await.expect("start");
            sync_runs::finish(pool, gpu_fetch, RunStatus::Failed, &RunCounts::default(), Some("connection refused"))
                .await
                .expect("finish");
            let lab_running = sync_runs::start(pool, lab_ref, RunKind::Fetch, "schedule", None).await.expect("start");
            let push = sync_runs::start(pool, None, RunKind::Push, "schedule", None).await.expect("start");
            sync_runs::finish(pool, push, RunStatus::Ok, &RunCounts::default(), None).await.expect("finish");

            let recent: Vec<i64> = sync_runs::recent(pool, 10, 0).await.expect("recent").iter().map(|r| r.id).collect();
            assert_eq!(recent, [push, lab_running, gpu_fetch, lab_sync, lab_fetch]);
            let page: Vec<i64> = sync_runs::recent(pool, 2, 1).await.expect("page").iter().map(|r| r.id).collect();
            assert_eq!(page, [lab_running, gpu_fetch]);
            assert_eq!(views::count_sync_runs(pool).await.expect("count"), 5);

            let mut last = sync_runs::last_per_provider(pool).await.expect("last");
            last.sort_by_key(|r| r.provider_id == Some(gpu));
            assert_eq!(
                last.iter().map(|r| r.id).collect::<Vec<_>>(),
                [lab_sync, gpu_fetch],
                "running and push runs skipped"
            );
            let lab_last = &last[0];
            assert_eq!(lab_last.provider_name.as_deref(), Some("lab"));
            assert_eq!((lab_last.kind.as_str(), lab_last.trigger.as_str(), lab_last.job_id), ("sync", "job", Some(7)));
            assert_eq!(lab_last.status, "warning");
            assert_eq!(
                (lab_last.models_seen, lab_last.updated, lab_last.litellm_created, lab_last.litellm_failed),
                (3, 1, 2, 1)
            );
            assert_eq!(lab_last.message.as_deref(), Some("push: 1 of 3 LiteLLM operations failed"));
            let finished_at = lab_last.finished_at.as_deref().expect("finished");
            assert!(finished_at >= lab_last.started_at.as_str(), "{finished_at} before {}", lab_last.started_at);
            assert_eq!((last[1].status.as_str(), last[1].message.as_deref()), ("failed", Some("connection refused")));
            let newest = sync_runs::last_provider_sync_at(pool).await.expect("last sync at").expect("a finished run");
            assert!(newest.as_str() >= finished_at);

            // The scheduler's clock: seconds since each provider's latest start, running or not.
            let since = sync_runs::seconds_since_last_start(pool).await.expect("since");
            let mut providers: Vec<i64> = since.iter().map(|(id, _)| *id).collect();
            providers.sort();
            let mut expected = vec![lab, gpu];
            expected.sort();
            assert_eq!(providers, expected, "the push is no provider's");
            assert!(since.iter().all(|(_, s)| (-5.0..60.0).contains(s)), "{since:?}");
        }
);

backend_test!(
    the_scheduler_clock_counts_from_the_latest_start,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let raw = Raw::open(test_db.location()).await;
            raw.execute(PROVIDERS).await;
            raw.execute(
                "INSERT INTO sync_runs (provider_id, provider_name, kind, trigger, status, started_at) \
                 SELECT id, name, 'fetch', 'schedule', 'ok', '2020-01-01T00:00:00.000Z' FROM providers WHERE name = 'lab'",
            )
            .await;
            let since = sync_runs::seconds_since_last_start(&db).await.expect("since");
            assert_eq!(since.len(), 1);
            assert!(since[0].1 > 86_400.0 * 365.0 * 5.0, "{since:?}");

            let lab = since[0].0;
            sync_runs::start(&db, Some((lab, "lab")), RunKind::Fetch, "schedule", None).await.expect("start");
            let since = sync_runs::seconds_since_last_start(&db).await.expect("since");
            assert_eq!(since.len(), 1);
            assert!((-5.0..60.0).contains(&since[0].1), "the newer start counts: {since:?}");
        }
);

backend_test!(
    runs_a_crash_left_open_are_closed_as_failed,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let raw = arranged(test_db.location()).await;
            let lab = raw.provider_id("lab").await;
            let pool = &db;
            let finished =
                sync_runs::start(pool, Some((lab, "lab")), RunKind::Fetch, "schedule", None).await.expect("start");
            sync_runs::finish(pool, finished, RunStatus::Ok, &RunCounts::default(), None).await.expect("finish");
            let open =
                sync_runs::start(pool, Some((lab, "lab")), RunKind::Sync, "schedule", None).await.expect("start");

            assert_eq!(sync_runs::close_abandoned(pool).await.expect("close"), 1);
            assert_eq!(sync_runs::close_abandoned(pool).await.expect("close again"), 0);

            let runs = sync_runs::recent(pool, 10, 0).await.expect("recent");
            let closed = runs.iter().find(|r| r.id == open).expect("open run");
            assert_eq!(closed.status, "failed");
            assert!(closed.finished_at.is_some());
            assert!(closed.message.as_deref().is_some_and(|m| m.starts_with("interrupted")), "{:?}", closed.message);
            let untouched = runs.iter().find(|r| r.id == finished).expect("finished run");
            assert_eq!((untouched.status.as_str(), untouched.message.as_deref()), ("ok", None));
        }
);

backend_test!(litellm_health_keeps_the_latest_read, |db| async move {
    assert_eq!(litellm_health::latest(&db).await.expect("latest"), None);

    litellm_health::record(&db, Err(Failure { reason: "wrong key (HTTP 401)", detail: "LiteLLM answered 401" }))
        .await
        .expect("record");
    let failed = litellm_health::latest(&db).await.expect("latest").expect("a read");
    assert!(!failed.ok);
    assert_eq!(failed.reason.as_deref(), Some("wrong key (HTTP 401)"));
    assert_eq!(failed.detail.as_deref(), Some("LiteLLM answered 401"));
    assert!(shared::db::seconds_since(&failed.checked_at).is_some_and(|s| (-5.0..60.0).contains(&s)), "{failed:?}");

    litellm_health::record(&db, Ok(())).await.expect("record");
    let ok = litellm_health::latest(&db).await.expect("latest").expect("a read");
    assert_eq!((ok.ok, ok.reason, ok.detail), (true, None, None), "a good read clears the failure");
    assert!(ok.checked_at >= failed.checked_at);
});
