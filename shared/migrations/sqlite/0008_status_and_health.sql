-- Why the provider's own settings keep a model out of LiteLLM (the provider is disabled, or a
-- filter leaves it out), NULL when they admit it. Kept current whenever those settings or the
-- provider's models change, so the lists can show and sort by "excluded" without re-applying
-- the filters per row.
ALTER TABLE models ADD COLUMN excluded_reason TEXT;

-- The worker's latest read of LiteLLM (a push, a plan, a connection test): whether it worked,
-- and if not why (`reason` in a few plain words, `detail` the whole message), without secrets. One row; the top bar shows it.
CREATE TABLE litellm_health (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    ok INTEGER NOT NULL,
    reason TEXT,
    detail TEXT,
    checked_at TEXT NOT NULL
);
