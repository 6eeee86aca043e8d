//! The status rule's SQL says what [`shared::status::status_of`] says, for every combination of
//! the facts it reads, on SQLite and on PostgreSQL; and the listing's status filter, the
//! counts and the one-model read agree.

use shared::backend_test;
use shared::db::listing::{self, ModelList};
use shared::db::models::{self, ModelStatus};
use shared::db::{Database, Location};
use shared::status::{Facts, Shown, SyncState, status_of};
use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;

async fn execute(location: &Location, sql: String) {
    match location {
        Location::Sqlite(_) => {
            let pool = SqlitePool::connect(&location.to_url()).await.expect("sqlite pool");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await.expect("arrange");
        }
        Location::Postgres(_) => {
            let pool = PgPool::connect(&location.to_url()).await.expect("postgres pool");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&pool).await.expect("arrange");
        }
    }
}

fn quoted(text: Option<&str>) -> String {
    text.map_or("NULL".into(), |t| format!("'{}'", t.replace('\'', "''")))
}

const REASON: &str = "excluded by lab's exclude filter term \"embed\"";

/// Every combination of the facts the rule reads.
fn every_case() -> Vec<Facts<'static>> {
    let mut cases = Vec::new();
    for excluded in [false, true] {
        for orphaned in [false, true] {
            for enabled in [false, true] {
                for in_litellm in [false, true] {
                    for state in [None, Some(SyncState::InSync), Some(SyncState::Pending), Some(SyncState::Error)] {
                        let sync_detail = match state {
                            Some(SyncState::Pending) => Some("litellm_params.rpm"),
                            Some(SyncState::Error) => Some("LiteLLM answered HTTP 500: it's broken"),
                            _ => None,
                        };
                        cases.push(Facts {
                            excluded_reason: excluded.then_some(REASON),
                            orphaned,
                            enabled,
                            in_litellm,
                            sync_state: state,
                            sync_detail,
                        });
                    }
                }
            }
        }
    }
    cases
}

async fn arranged(db: &Database, location: &Location) -> Vec<(i64, Facts<'static>)> {
    let cases = every_case();
    let mut sql =
        "INSERT INTO providers (name, base_url, type) VALUES ('lab', 'http://lab:11434', 'ollama');\n".to_owned();
    for (n, f) in cases.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO models (provider_id, model_id, litellm_model_id, is_orphaned, sync_enabled, excluded_reason, \
               sync_state, sync_detail) \
             SELECT id, 'm{n}', 'lit-{n}', {}, {}, {}, {}, {} FROM providers WHERE name = 'lab';\n",
            if f.orphaned { "TRUE" } else { "FALSE" },
            if f.enabled { "TRUE" } else { "FALSE" },
            quoted(f.excluded_reason),
            quoted(f.sync_state.map(SyncState::as_str)),
            quoted(f.sync_detail),
        ));
        if f.in_litellm {
            sql.push_str(&format!(
                "INSERT INTO litellm_entries (litellm_id, model_name, owned, entry) VALUES ('lit-{n}', 'm{n}', TRUE, '{{}}');\n"
            ));
        }
    }
    execute(location, sql).await;
    let listed = listing::models(db, &ModelList { per_page: Some(500), ..ModelList::default() }).await.expect("list");
    assert_eq!(listed.total, cases.len());
    listed
        .items
        .iter()
        .map(|m| {
            let n: usize = m.model.model_id.trim_start_matches('m').parse().expect("arranged id");
            (m.model.id, cases[n])
        })
        .collect()
}

backend_test!(
    the_sql_of_the_status_rule_agrees_with_the_rule_for_every_combination_of_facts,
    empty
        | test_db
        | async move {
            let db = test_db.open().await;
            let rows = arranged(&db, test_db.location()).await;
            let mut expected_counts = std::collections::HashMap::new();
            for (id, facts) in &rows {
                let stored = models::status_detail(&db, *id).await.expect("status").expect("model");
                assert_eq!(stored.shown(), status_of(facts), "{facts:?}");
                *expected_counts.entry(status_of(facts).status).or_insert(0usize) += 1;
            }

            let listed =
                listing::models(&db, &ModelList { per_page: Some(500), ..ModelList::default() }).await.expect("list");
            for item in &listed.items {
                let facts = rows.iter().find(|(id, _)| *id == item.model.id).map(|(_, f)| *f).expect("arranged");
                let shown = Shown { status: item.status, detail: item.status_detail.clone() };
                assert_eq!(shown, status_of(&facts), "{facts:?}");
            }

            let counts = models::status_counts(&db).await.expect("counts");
            assert_eq!(counts.total as usize, rows.len());
            for status in ModelStatus::ALL {
                let filtered = listing::models(
                    &db,
                    &ModelList { status: Some(status), per_page: Some(500), ..ModelList::default() },
                )
                .await
                .expect("filtered list");
                let expected = expected_counts.get(&status).copied().unwrap_or_default();
                assert!(expected > 0, "every status occurs: {status:?}");
                assert_eq!((filtered.total, counts.get(status) as usize), (expected, expected), "{status:?}");
                assert!(filtered.items.iter().all(|m| m.status == status));
            }
        }
);
