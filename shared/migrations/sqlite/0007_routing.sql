-- Routing groups: a name clients call, served by several targets (provider + model) with a
-- weight and a priority, pushed as LiteLLM deployments sharing that `model_name`.
--
-- These are our own tables. The Python tool's `routing_groups`/`routing_targets`, which an
-- adopted database still holds, stay as they are (never written): adoption converts their rows
-- into these tables once, so the Python tool's rows remain a faithful record for rollback.
CREATE TABLE route_groups (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
    description TEXT,
    -- JSON list of capabilities a candidate must have (`["chat", "tools"]`); `[]` proposes all.
    capabilities TEXT NOT NULL DEFAULT '[]',
    -- Whether a `context_window` fallback to the member with the largest context is pushed.
    auto_context_fallback INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE route_targets (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES route_groups (id) ON DELETE CASCADE,
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    -- A `models.model_id` of that provider; a target whose model is gone or orphaned is not pushed.
    model_id TEXT NOT NULL,
    weight INTEGER NOT NULL DEFAULT 1 CHECK (weight >= 1),
    -- LiteLLM's `order`: 1 is tried first, higher numbers only when the lower ones fail.
    priority INTEGER NOT NULL DEFAULT 1 CHECK (priority >= 1),
    enabled INTEGER NOT NULL DEFAULT 1,
    -- The `model_info.id` of this target's deployment in LiteLLM, once pushed or adopted.
    litellm_model_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (group_id, provider_id, model_id)
);
CREATE INDEX route_targets_provider ON route_targets (provider_id);

-- Fallbacks the operator defined: when `model_name` (a group or any model name) fails with an
-- error of `fallback_type`, LiteLLM tries `fallback_models` (a JSON list) in order.
CREATE TABLE route_fallbacks (
    id INTEGER PRIMARY KEY,
    model_name TEXT NOT NULL CHECK (length(trim(model_name)) > 0),
    fallback_type TEXT NOT NULL CHECK (fallback_type IN ('general', 'context_window', 'content_policy')),
    fallback_models TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (model_name, fallback_type)
);

-- The fallbacks the last push set in LiteLLM: LiteLLM has no "list all" call, and only what we
-- set may be removed when it is no longer wanted.
CREATE TABLE pushed_fallbacks (
    model_name TEXT NOT NULL,
    fallback_type TEXT NOT NULL,
    fallback_models TEXT NOT NULL,
    PRIMARY KEY (model_name, fallback_type)
);
