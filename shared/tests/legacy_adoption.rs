//! Adopting a database file created by the Python litellm-updater (SPEC §3): every provider,
//! model, override, tag, access group, compat alias and the config row survive, nothing is
//! dropped, a backup of the untouched file is written, and adoption happens exactly once.

#[path = "legacy_adoption/python_db.rs"]
mod python_db;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use shared::db::{MigrationReport, SQLITE_MIGRATOR, config, models, providers, routing};
use shared::types::{OllamaMode, Pricing, ProviderType};
use shared::{Database, Secret};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use tempfile::TempDir;

use python_db::{PythonDb, Schema};

// Python ids, deliberately not 1..n, so a renumbering would show.
const OLLAMA: i64 = 1;
const OPENAI: i64 = 2;
const COMPAT: i64 = 7;
const LLAMA: i64 = 101;
const QWEN_EDITED: i64 = 102;
const MISTRAL_ORPHANED: i64 = 103;
const DUPLICATE_EDITED: i64 = 104;
const DUPLICATE_NEWER: i64 = 105;
const GPT_MINI: i64 = 106;
const ALIAS: i64 = 107;

const PYTHON_MODEL_ROWS: i64 = 7;
const CHAT_POOL: i64 = 3;
/// A provider the Python file no longer has (SQLAlchemy left foreign keys unenforced).
const GONE_PROVIDER: i64 = 99;

fn ollama_lab() -> python_db::Provider {
    python_db::Provider {
        api_key: Some("ollama-proxy-token-42"),
        prefix: Some("lab"),
        default_ollama_mode: Some("ollama_chat"),
        tags: Some(r#"["lab", "gpu"]"#),
        access_groups: Some(r#"["research"]"#),
        sync_enabled: true,
        created_at: "2024-12-01 09:30:00.250000",
        updated_at: "2025-02-28 17:45:12.999999",
        sync_interval_seconds: Some(600),
        max_requests_per_hour: Some(1200),
        model_filter: Some("llama, qwen, mistral"),
        model_filter_exclude: Some("embed"),
        ..python_db::Provider::new(OLLAMA, "ollama-lab", "ollama", "http://ollama.lab:11434")
    }
}

fn openai_cloud() -> python_db::Provider {
    python_db::Provider {
        api_key: Some("sk-proj-abcdefghijklmnopqrstuvwxyz"),
        prefix: Some("openai"),
        tags: Some(r#"["cloud"]"#),
        sync_enabled: false,
        pricing_profile: Some("gpt-4o-mini"),
        pricing_override: Some(r#"{"input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07}"#),
        auto_detect_fim: false,
        ..python_db::Provider::new(OPENAI, "openai-cloud", "openai", "https://api.openai.com/v1")
    }
}

/// The alias holder exactly as the Python `get_or_create_compat_provider` creates it.
fn compat_models() -> python_db::Provider {
    python_db::Provider {
        access_groups: Some(r#"["compat"]"#),
        sync_enabled: false,
        ..python_db::Provider::new(COMPAT, "compat_models", "compat", "http://localhost")
    }
}

fn python_config() -> python_db::Config {
    python_db::Config {
        litellm_base_url: Some("http://litellm.lab:4000"),
        litellm_api_key: Some("sk-litellm-master-0123456789"),
        sync_interval_seconds: 300,
        created_at: "2024-11-20 08:15:30.000000",
        updated_at: "2025-02-01 12:00:00.000000",
        default_pricing_profile: Some("gpt-4o"),
        default_pricing_override: Some(r#"{"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}"#),
        last_sync_at: Some("2025-03-04 05:06:08.000000"),
        last_sync_results: Some(r#"{"ollama-lab": {"added": 0, "updated": 5, "orphaned": 1}}"#),
    }
}

fn llama() -> python_db::Model {
    python_db::Model {
        context_window: Some(131072),
        max_input_tokens: Some(131072),
        max_tokens: Some(131072),
        capabilities: Some(r#"["completion", "tools"]"#),
        litellm_params: r#"{"mode": "chat", "max_tokens": 131072, "max_input_tokens": 131072, "supports_function_calling": true, "supports_vision": false}"#,
        raw_metadata: r#"{"details": {"family": "llama", "parameter_size": "3.2B"}, "model_info": {"general.architecture": "llama", "llama.context_length": 131072}}"#,
        system_tags: r#"["provider:ollama-lab", "type:ollama", "mode:chat", "capability:tools"]"#,
        last_seen: "2025-03-04 05:06:07.654321",
        updated_at: "2025-03-04 05:06:07.654321",
        ..python_db::Model::discovered(LLAMA, OLLAMA, "llama3.2:3b", "2025-01-02 03:04:05.123456")
    }
}

fn qwen_edited_by_the_operator() -> python_db::Model {
    python_db::Model {
        context_window: Some(40960),
        user_params: Some(r#"{"temperature": 0.2, "num_ctx": 32768}"#),
        user_tags: Some(r#"["favourite", "team:research"]"#),
        access_groups: Some(r#"["research", "staff"]"#),
        pricing_override: Some(r#"{"input_cost_per_token": 2e-07, "output_cost_per_token": 4e-07}"#),
        ollama_mode: Some("openai"),
        sync_enabled: false,
        user_modified: true,
        ..python_db::Model::discovered(QWEN_EDITED, OLLAMA, "qwen3:8b", "2025-01-05 10:20:30.000001")
    }
}

fn mistral_orphaned() -> python_db::Model {
    python_db::Model {
        is_orphaned: true,
        orphaned_at: Some("2025-02-03 04:05:06.789012"),
        ..python_db::Model::discovered(MISTRAL_ORPHANED, OLLAMA, "mistral:7b", "2024-12-24 18:00:00.500000")
    }
}

/// The older of two copies of `llama3.1:8b`: the one the operator edited.
fn duplicate_edited() -> python_db::Model {
    python_db::Model {
        context_window: Some(8192),
        user_params: Some(r#"{"temperature": 0.7}"#),
        user_tags: Some(r#"["pinned"]"#),
        access_groups: Some(r#"["staff"]"#),
        pricing_override: Some(r#"{"input_cost_per_token": 1e-07, "output_cost_per_token": 3e-07}"#),
        ollama_mode: Some("ollama"),
        sync_enabled: false,
        user_modified: true,
        last_seen: "2025-01-10 12:00:00.000000",
        updated_at: "2025-01-10 12:00:00.000000",
        ..python_db::Model::discovered(DUPLICATE_EDITED, OLLAMA, "llama3.1:8b", "2024-12-01 10:00:00.000000")
    }
}

/// The newer, unedited copy of `llama3.1:8b`.
fn duplicate_newer() -> python_db::Model {
    python_db::Model {
        context_window: Some(131072),
        last_seen: "2025-03-04 05:06:07.654321",
        updated_at: "2025-03-04 05:06:07.654321",
        ..python_db::Model::discovered(DUPLICATE_NEWER, OLLAMA, "llama3.1:8b", "2025-01-15 09:00:00.000000")
    }
}

fn gpt_mini() -> python_db::Model {
    python_db::Model {
        pricing_profile: Some("gpt-4o-mini"),
        litellm_params: r#"{"mode": "chat", "input_cost_per_token": 1.5e-07, "output_cost_per_token": 6e-07}"#,
        raw_metadata: r#"{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}"#,
        system_tags: r#"["provider:openai-cloud", "type:openai"]"#,
        ..python_db::Model::discovered(GPT_MINI, OPENAI, "gpt-4o-mini", "2025-01-20 00:00:00.000000")
    }
}

fn alias_to_qwen() -> python_db::Model {
    python_db::Model {
        user_params: Some(r#"{"mode": "chat"}"#),
        ..python_db::Model::compat_alias(ALIAS, COMPAT, "gpt-4o", (OLLAMA, "qwen3:8b"), "2025-02-10 11:11:11.111111")
    }
}

/// The last Python release's file, with every kind of row the adoption must keep.
async fn write_latest_python_file(path: &Path) {
    let mut file = PythonDb::create(path, Schema::Latest).await;
    for provider in [ollama_lab(), openai_cloud(), compat_models()] {
        file.insert_provider(&provider).await;
    }
    file.insert_config(&python_config()).await;
    let rows = [
        llama(),
        qwen_edited_by_the_operator(),
        mistral_orphaned(),
        duplicate_edited(),
        duplicate_newer(),
        gpt_mini(),
        alias_to_qwen(),
    ];
    assert_eq!(rows.len() as i64, PYTHON_MODEL_ROWS);
    for model in &rows {
        file.insert_model(model).await;
    }
    file.insert_routing_group(
        CHAT_POOL,
        "chat-pool",
        r#"["chat"]"#,
        &[
            (31, OLLAMA, "llama3.2:3b", 3, 0, true),
            (32, OPENAI, "gpt-4o-mini", 1, 1, true),
            (33, OLLAMA, "qwen3:8b", 2, 0, false),
            (34, GONE_PROVIDER, "ghost", 1, 0, true),
        ],
    )
    .await;
    file.close().await;
}

struct Adopted {
    dir: TempDir,
    path: PathBuf,
    db: Database,
    report: MigrationReport,
}

async fn adopt(schema: Schema) -> Adopted {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("models.db");
    match schema {
        Schema::Latest => write_latest_python_file(&path).await,
        Schema::Early => write_early_python_file(&path).await,
    }
    let db = Database::open(&path).await.expect("open the Python file");
    let report = db.migrate().await.expect("adopt the Python file");
    Adopted { dir, path, db, report }
}

async fn model(db: &Database, id: i64) -> shared::model::Model {
    models::get(db, id).await.expect("read model").unwrap_or_else(|| panic!("model {id} was not adopted"))
}

async fn provider(db: &Database, id: i64) -> shared::provider::Provider {
    providers::get(db, id).await.expect("read provider").unwrap_or_else(|| panic!("provider {id} missing"))
}

fn exposed(secret: &Option<Secret>) -> Option<&str> {
    secret.as_ref().map(Secret::expose)
}

fn pricing(input: f64, output: f64) -> Option<Pricing> {
    Some(Pricing { input_cost_per_token: Some(input), output_cost_per_token: Some(output) })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn table_names(conn: &mut SqliteConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(conn)
        .await
        .expect("list tables")
}

/// Every row of `table`, each value `quote()`d so types and bytes are compared, in rowid order.
async fn dump_table(conn: &mut SqliteConnection, table: &str) -> Vec<String> {
    let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .expect("table columns");
    let select = columns.iter().map(|c| format!("quote(\"{c}\")")).collect::<Vec<_>>().join(" || '|' || ");
    let sql = format!("SELECT {select} FROM \"{table}\" ORDER BY rowid");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(conn).await.expect("dump table")
}

/// The whole database, table by table.
async fn dump_all(db: &Database) -> BTreeMap<String, Vec<String>> {
    let mut conn = db.sqlite_file_pool_for_tests().acquire().await.expect("connection");
    let mut out = BTreeMap::new();
    for table in table_names(&mut conn).await {
        let rows = dump_table(&mut conn, &table).await;
        out.insert(table, rows);
    }
    out
}

async fn open_plain(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::new().filename(path).read_only(true).connect().await.expect("open file with sqlx")
}

fn backup_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains(".python-backup-")))
        .filter(|p| !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm"))
        .collect()
}

#[tokio::test]
async fn adoption_keeps_every_provider_setting_and_id() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let names: Vec<(i64, String)> =
        providers::list(db).await.expect("list").into_iter().map(|p| (p.id, p.name)).collect();
    assert_eq!(
        names,
        vec![
            (COMPAT, "compat_models".to_owned()),
            (OLLAMA, "ollama-lab".to_owned()),
            (OPENAI, "openai-cloud".to_owned())
        ]
    );

    let ollama = provider(db, OLLAMA).await;
    assert_eq!(ollama.base_url, "http://ollama.lab:11434");
    assert_eq!(ollama.kind, ProviderType::Ollama);
    assert_eq!(exposed(&ollama.api_key), Some("ollama-proxy-token-42"));
    assert_eq!(ollama.prefix.as_deref(), Some("lab"));
    assert_eq!(ollama.default_ollama_mode, OllamaMode::OllamaChat);
    assert_eq!(ollama.tags, strings(&["lab", "gpu"]));
    assert_eq!(ollama.access_groups, strings(&["research"]));
    assert!(ollama.sync_enabled);
    assert_eq!(ollama.sync_interval_seconds, Some(600));
    assert_eq!(ollama.model_filter.as_deref(), Some("llama, qwen, mistral"));
    assert_eq!(ollama.model_filter_exclude.as_deref(), Some("embed"));
    assert!(ollama.admits("qwen3:8b") && !ollama.admits("nomic-embed-text"));
    assert_eq!(ollama.pricing(), None);
    assert_eq!(ollama.created_at, "2024-12-01T09:30:00.250Z");
    assert_eq!(ollama.updated_at, "2025-02-28T17:45:12.999Z");

    let openai = provider(db, OPENAI).await;
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert_eq!(openai.kind, ProviderType::Openai);
    assert_eq!(exposed(&openai.api_key), Some("sk-proj-abcdefghijklmnopqrstuvwxyz"));
    assert_eq!(openai.prefix.as_deref(), Some("openai"));
    assert_eq!(openai.default_ollama_mode, OllamaMode::OllamaChat, "NULL mode becomes the default");
    assert_eq!(openai.tags, strings(&["cloud"]));
    assert!(openai.access_groups.is_empty());
    assert!(!openai.sync_enabled);
    assert_eq!(openai.sync_interval_seconds, None);
    assert_eq!((openai.model_filter.as_deref(), openai.model_filter_exclude.as_deref()), (None, None));
    assert_eq!(openai.pricing(), pricing(1.5e-7, 6e-7));
    assert_eq!(openai.created_at, "2024-11-20T08:15:30.000Z");

    let compat = provider(db, COMPAT).await;
    assert_eq!(compat.kind, ProviderType::Compat);
    assert_eq!(compat.base_url, "http://localhost");
    assert_eq!(compat.api_key, None);
    assert_eq!(compat.prefix, None);
    assert!(compat.tags.is_empty());
    assert_eq!(compat.access_groups, strings(&["compat"]));
    assert!(compat.sync_enabled, "its aliases were served by the Python tool's push-all, so they stay served");
    let by_name = providers::get_by_name(db, providers::COMPAT_PROVIDER_NAME).await.expect("by name");
    assert_eq!(by_name.map(|p| p.id), Some(COMPAT), "the adopted holder is the one new aliases go to");
}

#[tokio::test]
async fn adoption_keeps_the_config_row() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let config = config::get(db).await.expect("config");
    assert_eq!(config.litellm_url(), Some("http://litellm.lab:4000"));
    assert_eq!(exposed(&config.litellm_api_key), Some("sk-litellm-master-0123456789"));
    assert_eq!(config.sync_interval_seconds, 300);
    assert_eq!(config.default_pricing(), pricing(1e-6, 2e-6));
}

#[tokio::test]
async fn adoption_keeps_derived_model_fields_and_converts_timestamps() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let llama = model(db, LLAMA).await;
    assert_eq!((llama.provider_id, llama.model_id.as_str()), (OLLAMA, "llama3.2:3b"));
    assert_eq!(llama.model_type.as_deref(), Some("chat"));
    assert_eq!(
        (llama.context_window, llama.max_input_tokens, llama.max_output_tokens, llama.max_tokens),
        (Some(131072), Some(131072), None, Some(131072))
    );
    assert_eq!(llama.capabilities, strings(&["completion", "tools"]));
    assert_eq!(
        serde_json::Value::Object(llama.derived_info.clone()),
        json!({"mode": "chat", "max_tokens": 131072, "max_input_tokens": 131072,
               "supports_function_calling": true, "supports_vision": false}),
        "litellm_params becomes derived_info"
    );
    assert_eq!(
        models::raw_metadata(db, LLAMA).await.unwrap().unwrap(),
        json!({"details": {"family": "llama", "parameter_size": "3.2B"},
               "model_info": {"general.architecture": "llama", "llama.context_length": 131072}})
    );
    assert_eq!(llama.system_tags, strings(&["provider:ollama-lab", "type:ollama", "mode:chat", "capability:tools"]));
    assert_eq!(llama.first_seen, "2025-01-02T03:04:05.123Z");
    assert_eq!(llama.last_seen, "2025-03-04T05:06:07.654Z");
    assert_eq!(llama.created_at, "2025-01-02T03:04:05.123Z");
    assert_eq!(llama.updated_at, "2025-03-04T05:06:07.654Z");
    assert!(!llama.is_orphaned && llama.orphaned_at.is_none());
    assert!(llama.sync_enabled && !llama.user_modified);
    assert!(llama.user_params.is_none() && llama.user_tags.is_none() && llama.access_groups.is_none());
    assert_eq!((llama.pricing(), llama.ollama_mode), (None, None));
    assert_eq!((llama.mapped_provider_id, llama.mapped_model_id.as_deref()), (None, None));
    assert_eq!((llama.upstream_digest.as_deref(), llama.litellm_model_id.as_deref()), (None, None));

    let gpt = model(db, GPT_MINI).await;
    assert_eq!((gpt.provider_id, gpt.model_id.as_str()), (OPENAI, "gpt-4o-mini"));
    assert!(gpt.capabilities.is_empty(), "Python stores NULL for no capabilities");
    assert_eq!(models::raw_metadata(db, GPT_MINI).await.unwrap().unwrap()["owned_by"], "system");
    assert_eq!(gpt.derived_info.get("input_cost_per_token"), Some(&json!(1.5e-7)));
    assert_eq!(gpt.system_tags, strings(&["provider:openai-cloud", "type:openai"]));

    let orphan = model(db, MISTRAL_ORPHANED).await;
    assert_eq!(orphan.model_id, "mistral:7b");
    assert!(orphan.is_orphaned);
    assert_eq!(orphan.orphaned_at.as_deref(), Some("2025-02-03T04:05:06.789Z"));
    assert_eq!(orphan.first_seen, "2024-12-24T18:00:00.500Z");
}

#[tokio::test]
async fn adoption_keeps_the_operators_model_overrides() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let qwen = model(db, QWEN_EDITED).await;
    assert_eq!((qwen.provider_id, qwen.model_id.as_str()), (OLLAMA, "qwen3:8b"));
    assert_eq!(
        qwen.user_params.as_ref().map(|p| serde_json::Value::Object(p.clone())),
        Some(json!({"temperature": 0.2, "num_ctx": 32768}))
    );
    assert_eq!(qwen.user_tags(), strings(&["favourite", "team:research"]));
    assert_eq!(qwen.access_groups(), strings(&["research", "staff"]));
    assert_eq!(qwen.pricing(), pricing(2e-7, 4e-7));
    assert_eq!(qwen.ollama_mode, Some(OllamaMode::Openai));
    assert!(!qwen.sync_enabled);
    assert!(qwen.user_modified);
    assert_eq!(qwen.context_window, Some(40960));
    assert_eq!(qwen.first_seen, "2025-01-05T10:20:30.000Z");
}

#[tokio::test]
async fn adoption_merges_duplicate_models_into_one_row_keeping_the_operators_copy() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let copies: Vec<shared::model::Model> = models::list_for_provider(db, OLLAMA)
        .await
        .expect("list")
        .into_iter()
        .filter(|m| m.model_id == "llama3.1:8b")
        .collect();
    assert_eq!(copies.len(), 1, "duplicates must be merged into one row");
    let merged = &copies[0];
    assert_eq!(merged.id, DUPLICATE_EDITED, "the operator's row keeps its id");
    assert!(models::get(db, DUPLICATE_NEWER).await.expect("get").is_none());

    assert_eq!(
        merged.user_params.as_ref().map(|p| serde_json::Value::Object(p.clone())),
        Some(json!({"temperature": 0.7}))
    );
    assert_eq!(merged.user_tags(), strings(&["pinned"]));
    assert_eq!(merged.access_groups(), strings(&["staff"]));
    assert_eq!(merged.pricing(), pricing(1e-7, 3e-7));
    assert_eq!(merged.ollama_mode, Some(OllamaMode::Ollama));
    assert!(!merged.sync_enabled, "the operator disabled it");
    assert!(merged.user_modified);
    assert_eq!(merged.first_seen, "2024-12-01T10:00:00.000Z", "earliest sighting of either copy");
    assert_eq!(merged.last_seen, "2025-03-04T05:06:07.654Z", "latest sighting of either copy");
}

#[tokio::test]
async fn adoption_keeps_compat_aliases_and_their_mapping() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let alias = model(db, ALIAS).await;
    assert_eq!((alias.provider_id, alias.model_id.as_str()), (COMPAT, "gpt-4o"));
    assert_eq!(alias.mapped_provider_id, Some(OLLAMA));
    assert_eq!(alias.mapped_model_id.as_deref(), Some("qwen3:8b"));
    assert_eq!(alias.access_groups(), strings(&["compat"]));
    assert_eq!(alias.user_params.as_ref().map(|p| serde_json::Value::Object(p.clone())), Some(json!({"mode": "chat"})));
    assert_eq!(alias.model_type.as_deref(), Some("compat"));
    assert!(alias.user_modified && alias.sync_enabled && !alias.is_orphaned);
    assert_eq!(alias.first_seen, "2025-02-10T11:11:11.111Z");
}

#[tokio::test]
async fn adoption_reports_what_it_copied_and_writes_a_backup_of_the_untouched_file() {
    let Adopted { dir, path, db, report } = adopt(Schema::Latest).await;

    let known: Vec<i64> = SQLITE_MIGRATOR.iter().map(|m| m.version).collect();
    assert_eq!(report.applied, known);
    let adopted = report.adopted.expect("a Python file is adopted");
    assert_eq!(adopted.providers, 3);
    assert_eq!(adopted.models, 6, "seven Python rows, one of them a duplicate");
    assert_eq!(adopted.duplicates_merged, 1);
    assert_eq!(models::list_all(&db).await.expect("models").len(), 6);

    let backup = adopted.backup_path.expect("backup path reported");
    assert!(backup.is_file(), "backup {} must exist", backup.display());
    assert_eq!(backup.parent(), path.parent(), "backup is written next to the database");
    assert_eq!(backup_files(dir.path()), vec![backup.clone()]);

    let mut copy = open_plain(&backup).await;
    assert_eq!(
        table_names(&mut copy).await,
        ["alembic_version", "config", "models", "providers", "providers_new", "routing_groups", "routing_targets"]
    );
    let count = |table: &'static str| sqlx::query_scalar::<_, i64>(table);
    assert_eq!(count("SELECT COUNT(*) FROM providers").fetch_one(&mut copy).await.expect("count"), 3);
    assert_eq!(count("SELECT COUNT(*) FROM models").fetch_one(&mut copy).await.expect("count"), PYTHON_MODEL_ROWS);
    assert_eq!(count("SELECT COUNT(*) FROM config").fetch_one(&mut copy).await.expect("count"), 1);

    // The backup, and the kept legacy_* tables, hold the Python rows exactly as written, value
    // for value and type for type: compare them with a second, untouched copy of the same file.
    let pristine_path = dir.path().join("pristine").join("models.db");
    std::fs::create_dir_all(pristine_path.parent().expect("parent")).expect("pristine dir");
    write_latest_python_file(&pristine_path).await;
    let mut pristine = open_plain(&pristine_path).await;
    let mut live = db.sqlite_file_pool_for_tests().acquire().await.expect("connection");
    for table in ["providers", "models", "config", "providers_new"] {
        let original = dump_table(&mut pristine, table).await;
        assert_eq!(dump_table(&mut copy, table).await, original, "backup {table} differs from the Python file");
        if table != "providers_new" {
            let kept = dump_table(&mut live, &format!("legacy_{table}")).await;
            assert_eq!(kept, original, "legacy_{table} differs from the Python file");
        }
    }
    assert_eq!(dump_table(&mut pristine, "models").await.len() as i64, PYTHON_MODEL_ROWS);
    pristine.close().await.expect("close pristine copy");
    copy.close().await.expect("close backup");
}

#[tokio::test]
async fn adoption_keeps_the_python_tables_and_drops_only_the_empty_providers_new() {
    let adopted = adopt(Schema::Latest).await;
    let db = &adopted.db;

    let mut conn = db.sqlite_file_pool_for_tests().acquire().await.expect("connection");
    let tables = table_names(&mut conn).await;
    for legacy in ["legacy_providers", "legacy_models", "legacy_config"] {
        assert!(tables.iter().any(|t| t == legacy), "{legacy} must be kept; tables: {tables:?}");
    }
    assert!(!tables.iter().any(|t| t.contains("providers_new")), "the empty providers_new goes; tables: {tables:?}");

    let count = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql);
    assert_eq!(count("SELECT COUNT(*) FROM legacy_providers").fetch_one(&mut *conn).await.expect("count"), 3);
    assert_eq!(
        count("SELECT COUNT(*) FROM legacy_models").fetch_one(&mut *conn).await.expect("count"),
        PYTHON_MODEL_ROWS,
        "the Python duplicate is kept in legacy_models"
    );
    assert_eq!(count("SELECT COUNT(*) FROM legacy_config").fetch_one(&mut *conn).await.expect("count"), 1);
    let api_key: Option<String> = sqlx::query_scalar("SELECT api_key FROM legacy_providers WHERE id = ?")
        .bind(OLLAMA)
        .fetch_one(&mut *conn)
        .await
        .expect("legacy row");
    assert_eq!(api_key.as_deref(), Some("ollama-proxy-token-42"));
}

#[tokio::test]
async fn adoption_happens_once_and_later_migrations_change_nothing() {
    let Adopted { dir, path, db, .. } = adopt(Schema::Latest).await;
    let after_adoption = dump_all(&db).await;

    let again = db.migrate().await.expect("second migrate");
    assert!(again.applied.is_empty(), "nothing left to apply: {:?}", again.applied);
    assert!(again.adopted.is_none(), "adopted twice");
    assert_eq!(dump_all(&db).await, after_adoption, "a second migrate changed the database");
    db.close().await;

    let reopened = Database::open(&path).await.expect("reopen");
    let on_restart = reopened.migrate().await.expect("migrate on restart");
    assert!(on_restart.applied.is_empty() && on_restart.adopted.is_none());
    assert_eq!(dump_all(&reopened).await, after_adoption, "a restart changed the database");
    assert_eq!(backup_files(dir.path()).len(), 1, "no second backup");

    let status = reopened.schema_status().await.expect("status");
    assert!(status.is_current(), "{status:?}");
    assert_eq!(status.applied, SQLITE_MIGRATOR.iter().map(|m| m.version).max());
}

// --- An early Python release -------------------------------------------------------------

async fn write_early_python_file(path: &Path) {
    let mut file = PythonDb::create(path, Schema::Early).await;
    let ollama = python_db::Provider {
        api_key: Some("early-key"),
        default_ollama_mode: Some("ollama"),
        tags: Some(r#"["home"]"#),
        ..python_db::Provider::new(1, "home-ollama", "ollama", "http://192.168.1.20:11434")
    };
    file.insert_provider(&ollama).await;
    file.insert_config(&python_db::Config {
        litellm_base_url: Some("http://localhost:4000"),
        litellm_api_key: None,
        sync_interval_seconds: 0,
        created_at: "2024-06-01 00:00:00.000000",
        updated_at: "2024-06-01 00:00:00.000000",
        default_pricing_profile: None,
        default_pricing_override: None,
        last_sync_at: None,
        last_sync_results: None,
    })
    .await;
    let edited = python_db::Model {
        user_tags: Some(r#"["kids-safe"]"#),
        user_modified: true,
        ..python_db::Model::discovered(3, 1, "llama3:8b", "2024-06-02 08:00:00.000000")
    };
    file.insert_model(&python_db::Model::discovered(2, 1, "phi3:mini", "2024-06-02 08:00:00.000000")).await;
    file.insert_model(&edited).await;
    file.close().await;
}

#[tokio::test]
async fn early_python_files_without_the_later_columns_are_adopted() {
    let file = adopt(Schema::Early).await;
    let db = &file.db;

    let adopted = file.report.adopted.clone().expect("adopted");
    assert_eq!((adopted.providers, adopted.models, adopted.duplicates_merged), (1, 2, 0));
    assert!(adopted.backup_path.is_some_and(|p| p.is_file()));

    let home = provider(db, 1).await;
    assert_eq!(home.name, "home-ollama");
    assert_eq!(home.base_url, "http://192.168.1.20:11434");
    assert_eq!(exposed(&home.api_key), Some("early-key"));
    assert_eq!(home.default_ollama_mode, OllamaMode::Ollama);
    assert_eq!(home.tags, strings(&["home"]));
    assert!(home.sync_enabled);
    assert_eq!(home.sync_interval_seconds, None);
    assert_eq!((home.model_filter.as_deref(), home.model_filter_exclude.as_deref()), (None, None));
    assert_eq!(home.pricing(), None);

    let config = config::get(db).await.expect("config");
    assert_eq!(config.litellm_url(), Some("http://localhost:4000"));
    assert_eq!(config.litellm_api_key, None);
    assert_eq!(config.sync_interval_seconds, 0, "automatic sync stays off");
    assert_eq!(config.default_pricing(), None);

    let phi = model(db, 2).await;
    assert_eq!(phi.model_id, "phi3:mini");
    assert_eq!(phi.pricing(), None);
    let llama = model(db, 3).await;
    assert_eq!(llama.user_tags(), strings(&["kids-safe"]));
    assert!(llama.user_modified);
    assert_eq!(llama.first_seen, "2024-06-02T08:00:00.000Z");

    assert!(db.schema_status().await.expect("status").is_current());
}

// --- Aliases whose target provider the Python tool deleted ---------------------------------

/// Python's `mapped_provider_id` has no foreign key and deleting a provider there removes only
/// its own models, so an alias can point at a provider id that no longer exists.
#[tokio::test]
async fn an_alias_pointing_at_a_deleted_provider_does_not_block_adoption() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("models.db");
    let mut file = PythonDb::create(&path, Schema::Latest).await;
    file.insert_provider(&ollama_lab()).await;
    file.insert_provider(&compat_models()).await;
    file.insert_config(&python_config()).await;
    file.insert_model(&llama()).await;
    let deleted_provider = 42;
    file.insert_model(&python_db::Model::compat_alias(
        ALIAS,
        COMPAT,
        "gpt-4o-mini",
        (deleted_provider, "llama3.1:8b"),
        "2025-02-10 11:11:11.111111",
    ))
    .await;
    file.close().await;

    let db = Database::open(&path).await.expect("open");
    let report = db.migrate().await.expect("a dangling alias target must not make adoption fail");
    assert_eq!(report.adopted.map(|a| a.models), Some(2));

    let alias = model(&db, ALIAS).await;
    assert_eq!((alias.provider_id, alias.model_id.as_str()), (COMPAT, "gpt-4o-mini"));
    assert_eq!(alias.access_groups(), strings(&["compat"]));
    assert_eq!(alias.mapped_provider_id, None, "a target provider that no longer exists is no target");
}

#[tokio::test]
async fn adoption_keeps_the_latest_tools_pricing_profiles_rate_limits_and_served_aliases() {
    let file = adopt(Schema::Latest).await;
    let db = &file.db;
    let lab = provider(db, OLLAMA).await;
    assert_eq!((lab.rpm, lab.tpm), (Some(20), None), "1,200 requests an hour is 20 a minute");
    let cloud = provider(db, OPENAI).await;
    assert_eq!(cloud.pricing_profile.as_deref(), Some("gpt-4o-mini"));
    assert!(!cloud.auto_detect_fim && lab.auto_detect_fim);
    let compat = provider(db, COMPAT).await;
    assert!(compat.sync_enabled, "the Python tool served its aliases although the provider said disabled");
    let settings = config::get(db).await.expect("config");
    assert_eq!(settings.default_pricing_profile.as_deref(), Some("gpt-4o"));
    let mini = model(db, GPT_MINI).await;
    assert_eq!(mini.pricing_profile.as_deref(), Some("gpt-4o-mini"));

    // The prices LiteLLM gets are the ones the Python tool pushed (its litellm_params).
    let inputs = shared::desired::pricing_inputs(&settings, &cloud, &mini);
    let effective = shared::pricing::effective(&inputs, &shared::pricing::catalogue(&settings.pricing_profiles));
    assert_eq!(effective.pricing(), pricing(1.5e-7, 6e-7).unwrap_or_default());
    assert_eq!(effective.input.map(|r| r.source.to_string()).as_deref(), Some("the model's profile gpt-4o-mini"));

    let notes = file.report.adopted.as_ref().map(|a| a.notes.clone()).unwrap_or_default();
    let said = |outcome: &str, words: &str| notes.iter().any(|n| n.outcome == outcome && n.note.contains(words));
    assert!(said("converted", "max_requests_per_hour 1200 became rpm 20"), "{notes:?}");
    assert!(said("changed", "compat aliases were served"), "{notes:?}");
    assert!(said("kept", "pricing profile gpt-4o-mini"), "{notes:?}");
    assert!(said("kept", "global pricing profile gpt-4o"), "{notes:?}");
    assert!(said("kept", "fill-in-the-middle detection stays off"), "{notes:?}");
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM adoption_notes")
        .fetch_one(db.sqlite_file_pool_for_tests())
        .await
        .expect("notes table");
    assert_eq!(stored as usize, notes.len(), "every note is kept for the migration report");
}

#[tokio::test]
async fn adoption_converts_the_python_tools_routing_groups() {
    let file = adopt(Schema::Latest).await;
    let db = &file.db;
    let groups = routing::list_groups(db).await.expect("groups");
    assert_eq!(groups.len(), 1);
    let pool = &groups[0];
    assert_eq!((pool.id, pool.name.as_str()), (CHAT_POOL, "chat-pool"));
    assert_eq!(pool.description.as_deref(), Some("the lab's chat pool"));
    assert_eq!(pool.capabilities, strings(&["chat"]));
    assert!(
        !pool.auto_context_fallback,
        "the Python tool had no automatic fallback: not switched on behind the operator"
    );
    let targets: Vec<(i64, i64, &str, i64, i64, bool)> = pool
        .targets
        .iter()
        .map(|t| (t.id, t.provider_id, t.model_id.as_str(), t.weight, t.priority, t.enabled))
        .collect();
    assert_eq!(
        targets,
        vec![
            (31, OLLAMA, "llama3.2:3b", 3, 1, true),
            (33, OLLAMA, "qwen3:8b", 2, 1, false),
            (32, OPENAI, "gpt-4o-mini", 1, 2, true),
        ],
        "priorities 0 and 1 become orders 1 and 2; the target of a vanished provider cannot be kept"
    );

    let mut conn = db.sqlite_file_pool_for_tests().acquire().await.expect("connection");
    let tables = table_names(&mut conn).await;
    for kept in ["routing_groups", "routing_targets", "alembic_version"] {
        assert!(tables.iter().any(|t| t == kept), "{kept} stays for rollback; tables: {tables:?}");
    }
    let python_rows: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM routing_targets").fetch_one(&mut *conn).await.expect("count");
    assert_eq!(python_rows, 4, "the Python rows are untouched");

    let notes = file.report.adopted.as_ref().map(|a| a.notes.clone()).unwrap_or_default();
    let said = |outcome: &str, words: &str| {
        notes.iter().any(|n| n.outcome == outcome && n.subject == "routing group chat-pool" && n.note.contains(words))
    };
    assert!(said("converted", "3 targets kept"), "{notes:?}");
    assert!(said("converted", "ollama-lab/llama3.2:3b priority 0 became order 1"), "{notes:?}");
    assert!(said("changed", "target ollama-lab/qwen3:8b is disabled"), "{notes:?}");
    assert!(said("changed", "target ghost was left out: its provider (id 99) no longer exists"), "{notes:?}");
}

/// A database an earlier litellm-updater adopted: providers, models and settings copied, the
/// Python tool's newer fields left behind in `legacy_*` and the leftover routing tables.
async fn as_adopted_by_an_earlier_version(file: &Adopted) {
    let pool = file.db.sqlite_file_pool_for_tests();
    for sql in [
        "UPDATE providers SET pricing_profile = NULL, rpm = NULL, auto_detect_fim = 1",
        "UPDATE providers SET sync_enabled = 0 WHERE type = 'compat'",
        "UPDATE config SET default_pricing_profile = NULL",
        "UPDATE models SET pricing_profile = NULL",
        "DELETE FROM route_targets",
        "DELETE FROM route_groups",
        "DELETE FROM adoption_notes",
        "UPDATE legacy_adoption SET caught_up_at = NULL",
    ] {
        sqlx::query(sql).execute(pool).await.expect(sql);
    }
}

#[tokio::test]
async fn a_database_adopted_by_an_earlier_version_gets_the_newer_fields_converted_once() {
    let file = adopt(Schema::Latest).await;
    as_adopted_by_an_earlier_version(&file).await;
    // The operator's own choice made since stays: a profile set on the lab provider.
    sqlx::query("UPDATE providers SET pricing_profile = 'o1-mini' WHERE id = ?")
        .bind(OLLAMA)
        .execute(file.db.sqlite_file_pool_for_tests())
        .await
        .expect("operator's profile");
    file.db.close().await;

    let db = Database::open(&file.path).await.expect("reopen");
    db.migrate().await.expect("upgrade");
    let lab = provider(&db, OLLAMA).await;
    assert_eq!(lab.rpm, Some(20), "max_requests_per_hour converted");
    assert_eq!(lab.pricing_profile.as_deref(), Some("o1-mini"), "a value set since is not overwritten");
    let cloud = provider(&db, OPENAI).await;
    assert_eq!(cloud.pricing_profile.as_deref(), Some("gpt-4o-mini"));
    assert!(!cloud.auto_detect_fim);
    assert!(provider(&db, COMPAT).await.sync_enabled, "the aliases the Python tool served stay served");
    let settings = config::get(&db).await.expect("config");
    assert_eq!(settings.default_pricing_profile.as_deref(), Some("gpt-4o"));
    assert_eq!(model(&db, GPT_MINI).await.pricing_profile.as_deref(), Some("gpt-4o-mini"));
    let groups = routing::list_groups(&db).await.expect("groups");
    assert_eq!(groups.iter().map(|g| (g.name.as_str(), g.targets.len())).collect::<Vec<_>>(), vec![("chat-pool", 3)]);

    let notes: Vec<String> = sqlx::query_scalar("SELECT note FROM adoption_notes ORDER BY id")
        .fetch_all(db.sqlite_file_pool_for_tests())
        .await
        .expect("notes");
    assert!(notes.iter().any(|n| n.contains("adopted by an earlier litellm-updater")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("max_requests_per_hour 1200 became rpm 20")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("3 targets kept")), "{notes:?}");

    // Once: a later start converts nothing again, even after the operator removed a group.
    sqlx::query("DELETE FROM route_groups")
        .execute(db.sqlite_file_pool_for_tests())
        .await
        .expect("operator deletes the group");
    db.close().await;
    let db = Database::open(&file.path).await.expect("reopen");
    db.migrate().await.expect("start again");
    assert!(routing::list_groups(&db).await.expect("groups").is_empty(), "not converted twice");
    let again: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM adoption_notes")
        .fetch_one(db.sqlite_file_pool_for_tests())
        .await
        .expect("notes");
    assert_eq!(again as usize, notes.len());
}
