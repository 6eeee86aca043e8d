//! Database files as the Python litellm-updater leaves them (SPEC §3, "Adopting an existing Python
//! litellm-updater database"): SQLAlchemy `create_all` DDL, no migration table, booleans 0/1, naive
//! UTC datetimes `YYYY-MM-DD HH:MM:SS.ffffff`, lists and objects as JSON text (as Python's
//! `json.dumps` writes them). Written with sqlx directly, never through `shared::Database`.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection, SqliteConnection};

/// Which version of the Python tool created the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// The last Python release: every column the SPEC lists, and the stray `providers_new`.
    Latest,
    /// An early release: only the base columns, none of the later ones.
    Early,
}

const LATEST_DDL: &str = r#"
CREATE TABLE providers (
	id INTEGER NOT NULL,
	name VARCHAR NOT NULL,
	base_url VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	api_key VARCHAR,
	prefix VARCHAR,
	default_ollama_mode VARCHAR,
	tags TEXT,
	access_groups TEXT,
	pricing_profile VARCHAR,
	pricing_override TEXT,
	sync_enabled BOOLEAN NOT NULL,
	sync_interval_seconds INTEGER,
	max_requests_per_hour INTEGER,
	auto_detect_fim BOOLEAN NOT NULL,
	model_filter VARCHAR,
	model_filter_exclude VARCHAR,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT check_provider_type CHECK (type IN ('ollama', 'openai', 'compat'))
);
CREATE UNIQUE INDEX ix_providers_name ON providers (name);

CREATE TABLE config (
	id INTEGER NOT NULL,
	litellm_base_url VARCHAR,
	litellm_api_key VARCHAR,
	sync_interval_seconds INTEGER NOT NULL,
	default_pricing_profile VARCHAR,
	default_pricing_override TEXT,
	last_sync_at DATETIME,
	last_sync_results TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT check_sync_interval CHECK (sync_interval_seconds >= 0)
);

CREATE TABLE models (
	id INTEGER NOT NULL,
	provider_id INTEGER NOT NULL,
	model_id VARCHAR NOT NULL,
	model_type VARCHAR,
	context_window INTEGER,
	max_input_tokens INTEGER,
	max_output_tokens INTEGER,
	max_tokens INTEGER,
	capabilities TEXT,
	litellm_params TEXT NOT NULL,
	raw_metadata TEXT NOT NULL,
	user_params TEXT,
	system_tags TEXT NOT NULL,
	user_tags TEXT,
	access_groups TEXT,
	pricing_profile VARCHAR,
	pricing_override TEXT,
	ollama_mode VARCHAR,
	mapped_provider_id INTEGER,
	mapped_model_id VARCHAR,
	first_seen DATETIME NOT NULL,
	last_seen DATETIME NOT NULL,
	is_orphaned BOOLEAN NOT NULL,
	orphaned_at DATETIME,
	user_modified BOOLEAN NOT NULL,
	sync_enabled BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT check_model_ollama_mode CHECK (ollama_mode IS NULL OR ollama_mode IN ('ollama', 'openai')),
	FOREIGN KEY(provider_id) REFERENCES providers (id) ON DELETE CASCADE
);
CREATE INDEX ix_models_provider_id ON models (provider_id);
CREATE INDEX ix_models_model_id ON models (model_id);
CREATE INDEX ix_models_is_orphaned ON models (is_orphaned);

CREATE TABLE routing_groups (
	id INTEGER NOT NULL,
	name VARCHAR NOT NULL,
	description TEXT,
	capabilities TEXT,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name)
);

CREATE TABLE routing_targets (
	id INTEGER NOT NULL,
	group_id INTEGER NOT NULL,
	provider_id INTEGER NOT NULL,
	model_id VARCHAR NOT NULL,
	weight INTEGER NOT NULL,
	priority INTEGER NOT NULL,
	enabled BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT uq_routing_target UNIQUE (group_id, provider_id, model_id),
	FOREIGN KEY(group_id) REFERENCES routing_groups (id) ON DELETE CASCADE,
	FOREIGN KEY(provider_id) REFERENCES providers (id) ON DELETE CASCADE
);

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO alembic_version (version_num) VALUES ('007');

CREATE TABLE providers_new (
	id INTEGER NOT NULL,
	name VARCHAR NOT NULL,
	base_url VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	api_key VARCHAR,
	prefix VARCHAR,
	default_ollama_mode VARCHAR,
	tags TEXT,
	access_groups TEXT,
	pricing_profile VARCHAR,
	pricing_override TEXT,
	sync_enabled BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	CONSTRAINT check_provider_type CHECK (type IN ('ollama', 'openai', 'compat'))
);
"#;

const EARLY_DDL: &str = r#"
CREATE TABLE providers (
	id INTEGER NOT NULL,
	name VARCHAR NOT NULL,
	base_url VARCHAR NOT NULL,
	type VARCHAR NOT NULL,
	api_key VARCHAR,
	prefix VARCHAR,
	default_ollama_mode VARCHAR,
	tags TEXT,
	access_groups TEXT,
	sync_enabled BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (name),
	CONSTRAINT check_provider_type CHECK (type IN ('ollama', 'openai', 'compat'))
);

CREATE TABLE config (
	id INTEGER NOT NULL,
	litellm_base_url VARCHAR,
	litellm_api_key VARCHAR,
	sync_interval_seconds INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id)
);

CREATE TABLE models (
	id INTEGER NOT NULL,
	provider_id INTEGER NOT NULL,
	model_id VARCHAR NOT NULL,
	model_type VARCHAR,
	context_window INTEGER,
	max_input_tokens INTEGER,
	max_output_tokens INTEGER,
	max_tokens INTEGER,
	capabilities TEXT,
	litellm_params TEXT NOT NULL,
	raw_metadata TEXT NOT NULL,
	user_params TEXT,
	system_tags TEXT NOT NULL,
	user_tags TEXT,
	access_groups TEXT,
	ollama_mode VARCHAR,
	mapped_provider_id INTEGER,
	mapped_model_id VARCHAR,
	first_seen DATETIME NOT NULL,
	last_seen DATETIME NOT NULL,
	is_orphaned BOOLEAN NOT NULL,
	orphaned_at DATETIME,
	user_modified BOOLEAN NOT NULL,
	sync_enabled BOOLEAN NOT NULL,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(provider_id) REFERENCES providers (id) ON DELETE CASCADE
);
"#;

/// A `providers` row. The fields after `updated_at` exist only in [`Schema::Latest`].
#[derive(Debug, Clone)]
pub struct Provider {
    pub id: i64,
    pub name: &'static str,
    pub base_url: &'static str,
    pub kind: &'static str,
    pub api_key: Option<&'static str>,
    pub prefix: Option<&'static str>,
    pub default_ollama_mode: Option<&'static str>,
    pub tags: Option<&'static str>,
    pub access_groups: Option<&'static str>,
    pub sync_enabled: bool,
    pub created_at: &'static str,
    pub updated_at: &'static str,
    pub pricing_profile: Option<&'static str>,
    pub pricing_override: Option<&'static str>,
    pub sync_interval_seconds: Option<i64>,
    pub max_requests_per_hour: Option<i64>,
    pub auto_detect_fim: bool,
    pub model_filter: Option<&'static str>,
    pub model_filter_exclude: Option<&'static str>,
}

impl Provider {
    /// A provider as the Python UI creates it: enabled, everything optional left empty.
    pub fn new(id: i64, name: &'static str, kind: &'static str, base_url: &'static str) -> Self {
        Self {
            id,
            name,
            base_url,
            kind,
            api_key: None,
            prefix: None,
            default_ollama_mode: None,
            tags: None,
            access_groups: None,
            sync_enabled: true,
            created_at: "2024-11-20 08:15:30.000000",
            updated_at: "2024-11-20 08:15:30.000000",
            pricing_profile: None,
            pricing_override: None,
            sync_interval_seconds: None,
            max_requests_per_hour: None,
            auto_detect_fim: true,
            model_filter: None,
            model_filter_exclude: None,
        }
    }
}

/// The `config` row. The fields after `updated_at` exist only in [`Schema::Latest`].
#[derive(Debug, Clone)]
pub struct Config {
    pub litellm_base_url: Option<&'static str>,
    pub litellm_api_key: Option<&'static str>,
    pub sync_interval_seconds: i64,
    pub created_at: &'static str,
    pub updated_at: &'static str,
    pub default_pricing_profile: Option<&'static str>,
    pub default_pricing_override: Option<&'static str>,
    pub last_sync_at: Option<&'static str>,
    pub last_sync_results: Option<&'static str>,
}

/// A `models` row. `pricing_profile` and `pricing_override` exist only in [`Schema::Latest`].
#[derive(Debug, Clone)]
pub struct Model {
    pub id: i64,
    pub provider_id: i64,
    pub model_id: &'static str,
    pub model_type: Option<&'static str>,
    pub context_window: Option<i64>,
    pub max_input_tokens: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub max_tokens: Option<i64>,
    pub capabilities: Option<&'static str>,
    pub litellm_params: &'static str,
    pub raw_metadata: &'static str,
    pub user_params: Option<&'static str>,
    pub system_tags: &'static str,
    pub user_tags: Option<&'static str>,
    pub access_groups: Option<&'static str>,
    pub ollama_mode: Option<&'static str>,
    pub mapped_provider_id: Option<i64>,
    pub mapped_model_id: Option<&'static str>,
    pub first_seen: &'static str,
    pub last_seen: &'static str,
    pub is_orphaned: bool,
    pub orphaned_at: Option<&'static str>,
    pub user_modified: bool,
    pub sync_enabled: bool,
    pub created_at: &'static str,
    pub updated_at: &'static str,
    pub pricing_profile: Option<&'static str>,
    pub pricing_override: Option<&'static str>,
}

impl Model {
    /// A model as a Python sync discovers it: no operator edits, seen once.
    pub fn discovered(id: i64, provider_id: i64, model_id: &'static str, seen: &'static str) -> Self {
        Self {
            id,
            provider_id,
            model_id,
            model_type: Some("chat"),
            context_window: None,
            max_input_tokens: None,
            max_output_tokens: None,
            max_tokens: None,
            capabilities: None,
            litellm_params: r#"{"mode": "chat"}"#,
            raw_metadata: "{}",
            user_params: None,
            system_tags: "[]",
            user_tags: None,
            access_groups: None,
            ollama_mode: None,
            mapped_provider_id: None,
            mapped_model_id: None,
            first_seen: seen,
            last_seen: seen,
            is_orphaned: false,
            orphaned_at: None,
            user_modified: false,
            sync_enabled: true,
            created_at: seen,
            updated_at: seen,
            pricing_profile: None,
            pricing_override: None,
        }
    }

    /// A compat alias as the Python compat page creates it, under the `compat_models` provider.
    pub fn compat_alias(
        id: i64,
        compat_provider_id: i64,
        alias: &'static str,
        target: (i64, &'static str),
        created: &'static str,
    ) -> Self {
        Self {
            model_type: Some("compat"),
            litellm_params: "{}",
            raw_metadata: r#"{"type": "compat"}"#,
            access_groups: Some(r#"["compat"]"#),
            mapped_provider_id: Some(target.0),
            mapped_model_id: Some(target.1),
            user_modified: true,
            ..Self::discovered(id, compat_provider_id, alias, created)
        }
    }
}

/// One SQL value as the Python tool stores it.
#[derive(Debug, Clone, Copy)]
enum Value {
    Null,
    Integer(i64),
    Text(&'static str),
}

fn text(value: Option<&'static str>) -> Value {
    value.map_or(Value::Null, Value::Text)
}

fn integer(value: Option<i64>) -> Value {
    value.map_or(Value::Null, Value::Integer)
}

fn boolean(value: bool) -> Value {
    Value::Integer(i64::from(value))
}

/// An open Python-created file being filled.
pub struct PythonDb {
    conn: SqliteConnection,
    schema: Schema,
}

impl PythonDb {
    /// Creates the file with the given version's tables, in SQLite's default (rollback) journal
    /// mode and without foreign-key enforcement, as SQLAlchemy's engine leaves it.
    pub async fn create(path: &Path, schema: Schema) -> Self {
        let mut conn = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Delete)
            .foreign_keys(false)
            .connect()
            .await
            .expect("create the Python database file");
        let ddl = match schema {
            Schema::Latest => LATEST_DDL,
            Schema::Early => EARLY_DDL,
        };
        sqlx::raw_sql(ddl).execute(&mut conn).await.expect("create the Python tables");
        Self { conn, schema }
    }

    pub async fn insert_provider(&mut self, p: &Provider) {
        let mut row = vec![
            ("id", Value::Integer(p.id)),
            ("name", Value::Text(p.name)),
            ("base_url", Value::Text(p.base_url)),
            ("type", Value::Text(p.kind)),
            ("api_key", text(p.api_key)),
            ("prefix", text(p.prefix)),
            ("default_ollama_mode", text(p.default_ollama_mode)),
            ("tags", text(p.tags)),
            ("access_groups", text(p.access_groups)),
            ("sync_enabled", boolean(p.sync_enabled)),
            ("created_at", Value::Text(p.created_at)),
            ("updated_at", Value::Text(p.updated_at)),
        ];
        if self.schema == Schema::Latest {
            row.extend([
                ("pricing_profile", text(p.pricing_profile)),
                ("pricing_override", text(p.pricing_override)),
                ("sync_interval_seconds", integer(p.sync_interval_seconds)),
                ("max_requests_per_hour", integer(p.max_requests_per_hour)),
                ("auto_detect_fim", boolean(p.auto_detect_fim)),
                ("model_filter", text(p.model_filter)),
                ("model_filter_exclude", text(p.model_filter_exclude)),
            ]);
        }
        self.insert("providers", &row).await;
    }

    pub async fn insert_config(&mut self, c: &Config) {
        let mut row = vec![
            ("id", Value::Integer(1)),
            ("litellm_base_url", text(c.litellm_base_url)),
            ("litellm_api_key", text(c.litellm_api_key)),
            ("sync_interval_seconds", Value::Integer(c.sync_interval_seconds)),
            ("created_at", Value::Text(c.created_at)),
            ("updated_at", Value::Text(c.updated_at)),
        ];
        if self.schema == Schema::Latest {
            row.extend([
                ("default_pricing_profile", text(c.default_pricing_profile)),
                ("default_pricing_override", text(c.default_pricing_override)),
                ("last_sync_at", text(c.last_sync_at)),
                ("last_sync_results", text(c.last_sync_results)),
            ]);
        }
        self.insert("config", &row).await;
    }

    pub async fn insert_model(&mut self, m: &Model) {
        let mut row = vec![
            ("id", Value::Integer(m.id)),
            ("provider_id", Value::Integer(m.provider_id)),
            ("model_id", Value::Text(m.model_id)),
            ("model_type", text(m.model_type)),
            ("context_window", integer(m.context_window)),
            ("max_input_tokens", integer(m.max_input_tokens)),
            ("max_output_tokens", integer(m.max_output_tokens)),
            ("max_tokens", integer(m.max_tokens)),
            ("capabilities", text(m.capabilities)),
            ("litellm_params", Value::Text(m.litellm_params)),
            ("raw_metadata", Value::Text(m.raw_metadata)),
            ("user_params", text(m.user_params)),
            ("system_tags", Value::Text(m.system_tags)),
            ("user_tags", text(m.user_tags)),
            ("access_groups", text(m.access_groups)),
            ("ollama_mode", text(m.ollama_mode)),
            ("mapped_provider_id", integer(m.mapped_provider_id)),
            ("mapped_model_id", text(m.mapped_model_id)),
            ("first_seen", Value::Text(m.first_seen)),
            ("last_seen", Value::Text(m.last_seen)),
            ("is_orphaned", boolean(m.is_orphaned)),
            ("orphaned_at", text(m.orphaned_at)),
            ("user_modified", boolean(m.user_modified)),
            ("sync_enabled", boolean(m.sync_enabled)),
            ("created_at", Value::Text(m.created_at)),
            ("updated_at", Value::Text(m.updated_at)),
        ];
        if self.schema == Schema::Latest {
            row.extend([("pricing_profile", text(m.pricing_profile)), ("pricing_override", text(m.pricing_override))]);
        }
        self.insert("models", &row).await;
    }

    /// A routing group (latest schema only) with its targets `(id, provider, model, weight,
    /// priority, enabled)`.
    pub async fn insert_routing_group(
        &mut self,
        id: i64,
        name: &'static str,
        capabilities: &'static str,
        targets: &[(i64, i64, &'static str, i64, i64, bool)],
    ) {
        let stamp = "2025-12-20 10:00:00.000000";
        self.insert(
            "routing_groups",
            &[
                ("id", Value::Integer(id)),
                ("name", Value::Text(name)),
                ("description", Value::Text("the lab's chat pool")),
                ("capabilities", Value::Text(capabilities)),
                ("created_at", Value::Text(stamp)),
                ("updated_at", Value::Text(stamp)),
            ],
        )
        .await;
        for &(target_id, provider_id, model_id, weight, priority, enabled) in targets {
            self.insert(
                "routing_targets",
                &[
                    ("id", Value::Integer(target_id)),
                    ("group_id", Value::Integer(id)),
                    ("provider_id", Value::Integer(provider_id)),
                    ("model_id", Value::Text(model_id)),
                    ("weight", Value::Integer(weight)),
                    ("priority", Value::Integer(priority)),
                    ("enabled", boolean(enabled)),
                    ("created_at", Value::Text(stamp)),
                    ("updated_at", Value::Text(stamp)),
                ],
            )
            .await;
        }
    }

    pub async fn close(self) {
        self.conn.close().await.expect("close the Python database file");
    }

    async fn insert(&mut self, table: &str, row: &[(&str, Value)]) {
        let columns = row.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
        let placeholders = vec!["?"; row.len()].join(", ");
        let sql = format!("INSERT INTO {table} ({columns}) VALUES ({placeholders})");
        let query = row.iter().fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |query, (_, value)| match *value {
            Value::Null => query.bind(None::<String>),
            Value::Integer(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
        });
        query.execute(&mut self.conn).await.unwrap_or_else(|e| panic!("insert into Python {table}: {e}"));
    }
}
