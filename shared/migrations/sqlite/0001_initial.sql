-- litellm-updater schema v1.
-- Timestamps are UTC text 'YYYY-MM-DDTHH:MM:SS.sssZ'; lists and objects are JSON text; booleans 0/1.

CREATE TABLE config (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    litellm_base_url        TEXT,
    litellm_api_key         TEXT,
    sync_interval_seconds   INTEGER NOT NULL DEFAULT 300
                            CHECK (sync_interval_seconds = 0 OR sync_interval_seconds >= 30),
    default_pricing         TEXT,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO config (id) VALUES (1);

CREATE TABLE providers (
    id                      INTEGER PRIMARY KEY,
    name                    TEXT NOT NULL UNIQUE,
    base_url                TEXT NOT NULL,
    type                    TEXT NOT NULL CHECK (type IN ('ollama', 'openai', 'compat')),
    api_key                 TEXT,
    prefix                  TEXT,
    default_ollama_mode     TEXT NOT NULL DEFAULT 'ollama_chat'
                            CHECK (default_ollama_mode IN ('ollama_chat', 'ollama', 'openai')),
    tags                    TEXT NOT NULL DEFAULT '[]',
    access_groups           TEXT NOT NULL DEFAULT '[]',
    sync_enabled            INTEGER NOT NULL DEFAULT 1,
    sync_interval_seconds   INTEGER CHECK (sync_interval_seconds IS NULL OR sync_interval_seconds >= 30),
    model_filter            TEXT,
    model_filter_exclude    TEXT,
    pricing_override        TEXT,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE models (
    id                      INTEGER PRIMARY KEY,
    provider_id             INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    model_id                TEXT NOT NULL,
    -- system-derived (written by fetch)
    model_type              TEXT,
    context_window          INTEGER,
    max_input_tokens        INTEGER,
    max_output_tokens       INTEGER,
    max_tokens              INTEGER,
    capabilities            TEXT NOT NULL DEFAULT '[]',
    derived_info            TEXT NOT NULL DEFAULT '{}',
    raw_metadata            TEXT NOT NULL DEFAULT '{}',
    upstream_pricing        TEXT,
    upstream_digest         TEXT,
    system_tags             TEXT NOT NULL DEFAULT '[]',
    -- user-owned (never written by a sync)
    user_params             TEXT,
    user_tags               TEXT,
    access_groups           TEXT,
    pricing_override        TEXT,
    ollama_mode             TEXT CHECK (ollama_mode IS NULL OR ollama_mode IN ('ollama_chat', 'ollama', 'openai')),
    sync_enabled            INTEGER NOT NULL DEFAULT 1,
    user_modified           INTEGER NOT NULL DEFAULT 0,
    -- compat alias target (rows under a provider of type 'compat')
    mapped_provider_id      INTEGER REFERENCES providers (id) ON DELETE SET NULL,
    mapped_model_id         TEXT,
    -- LiteLLM ownership: the model_info.id this model's deployment carries
    litellm_model_id        TEXT UNIQUE,
    first_seen              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen               TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    is_orphaned             INTEGER NOT NULL DEFAULT 0,
    orphaned_at             TEXT,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (provider_id, model_id)
);
CREATE INDEX models_mapped ON models (mapped_provider_id, mapped_model_id);

CREATE TABLE jobs (
    id                      INTEGER PRIMARY KEY,
    kind                    TEXT NOT NULL,
    payload                 TEXT NOT NULL DEFAULT '{}',
    status                  TEXT NOT NULL DEFAULT 'queued'
                            CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress                TEXT,
    result                  TEXT,
    error                   TEXT,
    attempts                INTEGER NOT NULL DEFAULT 0,
    created_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_at              TEXT,
    finished_at             TEXT
);
CREATE INDEX jobs_status ON jobs (status, id);

CREATE TABLE sync_runs (
    id                      INTEGER PRIMARY KEY,
    provider_id             INTEGER REFERENCES providers (id) ON DELETE SET NULL,
    provider_name           TEXT,
    kind                    TEXT NOT NULL CHECK (kind IN ('fetch', 'push', 'sync')),
    trigger                 TEXT NOT NULL,
    job_id                  INTEGER,
    status                  TEXT NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'ok', 'warning', 'failed')),
    started_at              TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    finished_at             TEXT,
    models_seen             INTEGER NOT NULL DEFAULT 0,
    added                   INTEGER NOT NULL DEFAULT 0,
    updated                 INTEGER NOT NULL DEFAULT 0,
    orphaned                INTEGER NOT NULL DEFAULT 0,
    unorphaned              INTEGER NOT NULL DEFAULT 0,
    litellm_created         INTEGER NOT NULL DEFAULT 0,
    litellm_updated         INTEGER NOT NULL DEFAULT 0,
    litellm_deleted         INTEGER NOT NULL DEFAULT 0,
    litellm_failed          INTEGER NOT NULL DEFAULT 0,
    message                 TEXT
);
CREATE INDEX sync_runs_provider ON sync_runs (provider_id, id);

CREATE TABLE worker_status (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    pid                     INTEGER NOT NULL,
    host                    TEXT NOT NULL,
    version                 TEXT NOT NULL,
    started_at              TEXT NOT NULL,
    last_beat               TEXT NOT NULL,
    state                   TEXT NOT NULL,
    current_job_id          INTEGER,
    current_step            TEXT
);

-- The backend's latest view of LiteLLM (GET /model/info, null fields dropped), one row per
-- deployment, for the frontend's LiteLLM page.
CREATE TABLE litellm_snapshot (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    taken_at                TEXT NOT NULL
);
CREATE TABLE litellm_entries (
    position                INTEGER PRIMARY KEY,
    litellm_id              TEXT,
    model_name              TEXT NOT NULL,
    owned                   INTEGER NOT NULL,
    entry                   TEXT NOT NULL
);

-- Set when a Python litellm-updater database was adopted (see shared::db::legacy).
CREATE TABLE legacy_adoption (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    adopted_at              TEXT,
    backup_path             TEXT,
    providers               INTEGER NOT NULL DEFAULT 0,
    models                  INTEGER NOT NULL DEFAULT 0,
    duplicates_merged       INTEGER NOT NULL DEFAULT 0
);
